"""The rendering pane: one image on pyqtgraph, with mouse tools and corner text.

The pane asks the core's :class:`FrameDisplay` for display pixels of the
visible region only, at about screen resolution, packed as 0xFFRRGGBB (Qt's
RGB32, its fastest format to scale onto the screen; wrapped without a copy).
Re-windowing is a new lookup table and one ``take`` over at most the visible
screen pixels.

pyqtgraph takes longer to import than the rest of the window to build (it
creates Python types for most of Qt's classes), so at start-up the first
image is painted by a plain widget, fitted as the view would fit it, and the
pyqtgraph view takes its place right after it is on screen (or as soon as
anything asks for the view: zoom, pan, a test).
"""

from __future__ import annotations

import math
import unicodedata

import numpy as np
from PySide6.QtCore import QCoreApplication, QEvent, QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsRectItem, QLabel, QStyle, QVBoxLayout, QWidget

from viewer.core.display.calibration import Calibration
from viewer.core.display.orientation import OrientationMarkers
from viewer.core.display.pixels.pipeline import VOI, FrameDisplay
from viewer.core.display.scale_bar import ScaleBar, scale_bar
from viewer.core.display.spatial_transform import SpatialTransform

#: Corners and their text alignment.
_CORNERS = {
    "top_left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
    "top_right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop,
    "bottom_left": Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom,
    "bottom_right": Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
}
#: The edges that carry an orientation marker.
EDGES = ("left", "right", "top", "bottom")
#: The colour of the overlay text (corner text, markers, scale bar): pale yellow, with a black shadow.
OVERLAY_COLOUR = "#f0f0a0"
#: The scale bar takes at most this fraction of the pane's height.
SCALE_BAR_SHARE = 0.3
#: Zoom above which images are drawn smoothed (when smoothing is on): a little over 1:1, so that 1:1 stays exact.
SMOOTH_ABOVE_ZOOM = 1.0 + 1e-3
#: Milliseconds an image must stay unchanged (no window step, scroll, zoom or pan) before it is smoothed:
#: smoothing a 1024x1024 view costs several ms a paint, which window drags and cine must not pay.
SMOOTH_AFTER_MS = 150


def visible_region(
    view: tuple[float, float, float, float], shape: tuple[int, int], data_per_screen_pixel: float
) -> tuple[tuple[int, int, int, int], int]:
    """The part of an image worth rendering, and the stride to render it at.

    `view` is ``(left, top, right, bottom)`` in image coordinates (columns,
    rows); returns ``((r0, r1, c0, c1), stride)`` clipped to the image, with
    r0 and c0 aligned to the stride so panning does not shimmer.
    """
    rows, cols = shape
    stride = max(1, int(data_per_screen_pixel)) if math.isfinite(data_per_screen_pixel) else 1
    left, top, right, bottom = view
    c0 = max(0, min(cols, int(math.floor(left))))
    c1 = max(0, min(cols, int(math.ceil(right))))
    r0 = max(0, min(rows, int(math.floor(top))))
    r1 = max(0, min(rows, int(math.ceil(bottom))))
    c0 -= c0 % stride
    r0 -= r0 % stride
    if c1 <= c0 or r1 <= r0:
        return (0, 0, 0, 0), stride
    return (r0, r1, c0, c1), stride


def outside(rect: QRectF, covered: QRectF) -> list[QRectF]:
    """The parts of `rect` not in `covered` (which intersects it): at most four bands."""
    bands = []
    top, bottom = max(rect.top(), covered.top()), min(rect.bottom(), covered.bottom())
    if covered.top() > rect.top():
        bands.append(QRectF(rect.left(), rect.top(), rect.width(), covered.top() - rect.top()))
    if covered.bottom() < rect.bottom():
        bands.append(QRectF(rect.left(), covered.bottom(), rect.width(), rect.bottom() - covered.bottom()))
    if covered.left() > rect.left():
        bands.append(QRectF(rect.left(), top, covered.left() - rect.left(), bottom - top))
    if covered.right() < rect.right():
        bands.append(QRectF(covered.right(), top, rect.right() - covered.right(), bottom - top))
    return bands


class _Poster(QWidget):
    """The frame shown, fitted and centred, painted with QPainter until the pyqtgraph view exists.

    It renders what :meth:`ImagePane.render` would for a fitted view: the
    whole frame at the stride of its screen size, drawn without smoothing,
    as pyqtgraph's image item draws it.
    """

    def __init__(self, pane: ImagePane):
        super().__init__(pane)
        self._pane = pane
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def fitted_scale(self) -> float:
        """Screen pixels per image pixel of the fitted frame (1.0 when there is none)."""
        frame = self._pane.frame
        if frame is None or self.width() <= 0 or self.height() <= 0:
            return 1.0
        rows, cols = frame.shape
        return min(self.width() / cols, self.height() / rows)

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        frame, voi, invert = self._pane.frame, self._pane._voi, self._pane._invert
        if frame is not None and voi is not None and self.width() > 0 and self.height() > 0:
            rows, cols = frame.shape
            scale = self.fitted_scale()
            region, stride = visible_region((0, 0, cols, rows), frame.shape, 1.0 / scale)
            pixels = np.ascontiguousarray(frame.render_packed(voi, invert, region, stride))
            image = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0], QImage.Format.Format_RGB32)
            target = QRectF(
                (self.width() - cols * scale) / 2,
                (self.height() - rows * scale) / 2,
                pixels.shape[1] * stride * scale,
                pixels.shape[0] * stride * scale,
            )
            painter.drawImage(target, image)
            self._pane.last_render = (region, stride)
            QTimer.singleShot(0, self._pane._build_view)  # the image is on screen: now the view
        painter.end()


class OverlayLabel(QLabel):
    """Overlay text (corner text, orientation markers): pale yellow on a one-pixel black shadow, transparent to the mouse.

    The text and its shadow are drawn once into an image, kept while the text stays, and each repaint of the
    image under the label draws that image. A ``QGraphicsDropShadowEffect`` looked the same but rendered the
    label into a pixmap and filtered it on every repaint (about a quarter of a linked scroll step of four
    viewports, benchmarks/bench_linking.py). The label is :attr:`SHADOW` pixels larger than its text to the
    right and below, where the shadow falls (:func:`text_extent` gives the text's own size). Plain text
    always: what a file says is never read as markup.
    """

    #: The shadow's offset, right and down, in pixels.
    SHADOW = 1

    def __init__(self, parent: QWidget, point_size: int, bold: bool = False):
        super().__init__(parent)
        font = QFont()
        font.setPointSize(point_size)
        font.setBold(bold)
        self.setFont(font)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setContentsMargins(0, 0, self.SHADOW, self.SHADOW)
        # The text and shadow drawn, at a device pixel ratio; dropped when the text, size, font or alignment change.
        self._drawn: tuple[float, QImage] | None = None

    def setText(self, text: str) -> None:
        if text != self.text():
            self._drawn = None
        super().setText(text)

    def setAlignment(self, alignment) -> None:
        self._drawn = None
        super().setAlignment(alignment)

    def resizeEvent(self, event):
        self._drawn = None
        super().resizeEvent(event)

    def changeEvent(self, event):
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.LayoutDirectionChange):
            self._drawn = None
        super().changeEvent(event)

    def paintEvent(self, event):
        # Called for each repaint of the image under the label (each image and window step): kept short.
        ratio = self.devicePixelRatioF()
        drawn = self._drawn
        if drawn is None or drawn[0] != ratio:
            text = self.text()
            if not text:
                return
            drawn = self._drawn = (ratio, self._draw_text(text, ratio))
        painter = QPainter(self)
        painter.drawImage(0, 0, drawn[1])
        painter.end()

    def _draw_text(self, text: str, ratio: float) -> QImage:
        """The text over its shadow on a transparent image of the label's size, laid out as QLabel lays out plain text."""
        image = QImage(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)), QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(Qt.GlobalColor.transparent)
        direction = Qt.LayoutDirection.RightToLeft if _right_to_left(text) else Qt.LayoutDirection.LeftToRight
        flags = QStyle.visualAlignment(direction, self.alignment())
        flags |= Qt.TextFlag.TextForceRightToLeft if direction == Qt.LayoutDirection.RightToLeft else Qt.TextFlag.TextForceLeftToRight
        rect = self.contentsRect()
        painter = QPainter(image)
        painter.setFont(self.font())
        for colour, offset in ((QColor("black"), self.SHADOW), (QColor(OVERLAY_COLOUR), 0)):
            painter.setPen(colour)
            painter.drawText(rect.translated(offset, offset), int(flags.value), text)
        painter.end()
        return image


def _right_to_left(text: str) -> bool:
    """Whether the first strongly directional character of `text` is right-to-left (as QString::isRightToLeft)."""
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def text_extent(label: QLabel) -> tuple[int, int]:
    """The width and height of a label's text, without the shadow's margin of an :class:`OverlayLabel`."""
    shadow = label.SHADOW if isinstance(label, OverlayLabel) else 0
    return label.width() - shadow, label.height() - shadow


class ScaleBarOverlay(QWidget):
    """A vertical scale bar with end ticks and its length ('50 mm', '10 mm (at detector)') to its left.

    Only as large as what it draws, so that changing it repaints little of the image under it.
    """

    #: Room right of the bar (its pen and shadow), and the ticks' length.
    PAD, TICK = 3, 6

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.bar: ScaleBar | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        font = QFont()
        font.setPointSize(9)
        self.setFont(font)
        self.hide()

    def set_bar(self, bar: ScaleBar | None) -> None:
        self.bar = bar
        if bar is None:
            self.hide()
            return
        metrics = QFontMetrics(self.font())
        length = round(bar.length_pixels)
        self.resize(metrics.horizontalAdvance(bar.text) + self.TICK + 2 * self.PAD + 4, max(length + 2 * self.PAD, metrics.height()))
        self.show()
        self.update()

    def bar_line(self) -> QLineF:
        """The bar as drawn, in this widget's coordinates: from (x, top) to (x, top + length - 1) (both ends drawn)."""
        assert self.bar is not None
        length = round(self.bar.length_pixels)
        top = (self.height() - length) // 2
        x = self.width() - self.PAD - 1
        return QLineF(x, top, x, top + length - 1)

    def paintEvent(self, event):
        if self.bar is None:
            return
        painter = QPainter(self)
        line = self.bar_line()
        x, top, bottom = line.x1(), line.y1(), line.y2()
        for colour, offset in ((QColor("black"), 1), (QColor(OVERLAY_COLOUR), 0)):
            painter.setPen(QPen(colour, 1))
            shift = QPointF(offset, offset)
            painter.drawLine(line.translated(shift))
            for y in (top, bottom):
                painter.drawLine(QLineF(x - self.TICK, y, x, y).translated(shift))
            text_rect = QRectF(0, 0, x - self.TICK - 3, self.height()).translated(shift)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, self.bar.text)
        painter.end()


def quarter_and_mirrors(turn: QTransform) -> tuple[bool, bool, bool]:
    """A transform from image to view coordinates that turns by a multiple of 90 degrees and may mirror (a
    presentation state's, PS3.3 C.10.6) as :func:`~viewer.core.display.pixels.pipeline.turned_array` takes it.

    With x the column and y the row, the view's x' = m11 x + m21 y + dx and y' = m12 x + m22 y + dy: a quarter
    turn (m11 = m22 = 0) makes image rows view columns (a transpose); a negative factor mirrors that axis.
    """
    if turn.m11() == 0 and turn.m22() == 0:
        return True, turn.m12() < 0, turn.m21() < 0
    return False, turn.m22() < 0, turn.m11() < 0


class ImagePane(QWidget):
    """Shows one :class:`FrameDisplay`; emits what the mouse asks for.

    Signals: ``window_dragged(dx, dy)`` in screen pixels, ``step_requested(n)``
    (images to move by), ``cursor_moved(row, col)`` (-1, -1 outside the image).
    """

    window_dragged = Signal(float, float)
    step_requested = Signal(int)
    cursor_moved = Signal(int, int)
    rendered = Signal()
    view_changed = Signal()  # zoom or pan
    context_menu_requested = Signal(object)  # a right click (not a zoom drag), at this global QPoint

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._frame: FrameDisplay | None = None
        self._voi: VOI | None = None
        self._invert = False
        self.last_render: tuple[tuple[int, int, int, int], int] | None = None
        self.fitted = True  # until the user zooms or pans, resizing keeps the image fitted
        self.smooth_zoom = True  # smooth when zoomed in (the user's toggle); nearest at 1:1 and below
        self.smooth_timer = QTimer(self)  # smooths the image once it has settled (SMOOTH_AFTER_MS)
        self.smooth_timer.setSingleShot(True)
        self.smooth_timer.setInterval(SMOOTH_AFTER_MS)
        self.smooth_timer.timeout.connect(self._apply_smoothing)
        self._calibration: Calibration | None = None
        self._transform = SpatialTransform()
        self.scale_bar: ScaleBar | None = None  # the bar shown, if any
        self._scale_bar_for: tuple | None = None  # what the bar shown was made from

        self._view = None
        self._image_holder = None  # the image's parent when a presentation state turns or flips it (set_image_transform)
        self._image_layers: dict[float, QGraphicsRectItem] = {}  # parents at their own heights (image_parent(z))
        self._turned: tuple | None = None  # (frame, quarter and mirrors, the frame turned) while a state turns the image
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), QColor("black"))
        self.setPalette(palette)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        # Before the overlays, so that they stay above it; shown only at start-up.
        self._poster: _Poster | None = _Poster(self)
        self._poster.hide()
        self._layout.addWidget(self._poster)
        self._view_waits_for_image = False

        self.corner_labels: dict[str, OverlayLabel] = {}
        for corner, alignment in _CORNERS.items():
            label = OverlayLabel(self, 10)
            label.setAlignment(alignment)
            self.corner_labels[corner] = label
        # Orientation markers at the middle of each edge (set_orientation) and the scale bar (set_calibration).
        self.marker_labels: dict[str, OverlayLabel] = {edge: OverlayLabel(self, 12, bold=True) for edge in EDGES}
        for label in self.marker_labels.values():
            label.hide()
        self.scale_bar_overlay = ScaleBarOverlay(self)
        # While an image is being decoded or waits for its window: calm grey text, not the problem's red.
        self.loading_label = QLabel("Loading\u2026", self)
        self.loading_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.loading_label.setStyleSheet("color: #9a9a9a; background: transparent; font-size: 12px;")
        self.loading_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.loading_label.hide()
        self.message_label = QLabel(self)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #ff9090; background: transparent; font-size: 14px;")
        self.message_label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.message_label.hide()

    # -- the pyqtgraph view, built after the first paint ---------------------------------
    def build_view_after_first_image(self) -> None:
        """Files are being opened: build the pyqtgraph view once their first image is on screen.

        Until then the pane's first paint does not build it (see the module's docstring).
        """
        self._view_waits_for_image = self._view is None
        if self._view_waits_for_image:
            self._poster.show()

    @property
    def _on_poster(self) -> bool:
        """Whether images go to the plain widget: at start-up, until the view is built."""
        return self._view is None and self._view_waits_for_image

    def image_surface(self) -> QWidget:
        """The widget the image is painted on now: the view's viewport, or the plain widget before it."""
        return self._view.viewport() if self._view is not None else self._poster

    def _build_view(self) -> None:
        if self._view is not None:
            return

        from viewer.ui.viewport import graphics_view  # pyqtgraph: after the first image (see the module's docstring)

        view = graphics_view.ImageGraphicsView(background="k")
        view_box = graphics_view.ImageViewBox(self)
        view.setCentralItem(view_box)
        image_item = graphics_view.PackedImageItem(axisOrder="row-major")
        image_item.setAutoDownsample(False)
        view_box.addItem(image_item)
        # The view paints its background itself, around the opaque image only.
        view.opaque_item = image_item
        view.setCacheMode(view.CacheModeFlag.CacheNone)
        view.viewport().setAutoFillBackground(False)
        view.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._view, self._view_box, self._image_item = view, view_box, image_item
        view_box.sigRangeChanged.connect(self._view_changed)
        view.scene().sigMouseMoved.connect(self._mouse_moved)
        self._layout.addWidget(view)
        # Laid out now, not at the next event loop turn: fitting below, and the zoom and scale bar, need its real size.
        view.show()
        self._layout.activate()
        for label in self._overlays():
            label.raise_()  # the overlays stay above the view
        self._apply_smoothing()
        if self._poster is not None:
            self._layout.removeWidget(self._poster)
            self._poster.deleteLater()
            self._poster = None
        self._place_overlays()
        if self._frame is not None:  # shown by the poster until now: the view takes over, fitted as it was
            self.fitted = True
            self.fit()
            self.render()

    @property
    def view(self):
        self._build_view()
        return self._view

    def built_view_box(self):
        """The view box if the pyqtgraph view exists, else None (never builds it: overlays wait for :attr:`rendered`)."""
        return self._view_box if self._view is not None else None

    @property
    def view_box(self):
        self._build_view()
        return self._view_box

    def image_parent(self, z: float | None = None):
        """The item in image coordinates in the view box (pixel (c, r) on the square (c, r)-(c+1, r+1)).

        Items added under it follow the image's turn and flip (:meth:`set_image_transform`). None until the view is built.
        The image item itself is not under it: the frame's pixels are turned before they are rendered (:meth:`render`).

        `z`: a parent of its own at that height among the view box's items, with the same transform. Children stack
        only among their siblings, so a layer that must stay above or below items of the view box itself (the
        presentation state's shutters and graphics) asks for its own height: the 60xx overlays, the reference lines
        and the measurements keep the order their heights gave them before the image could turn.
        """
        if self._view is None:
            return None
        if self._image_holder is None:
            self._image_holder = self._new_holder(None)
        if z is None:
            return self._image_holder
        holder = self._image_layers.get(z)
        if holder is None:
            holder = self._image_layers[z] = self._new_holder(z)
            holder.setTransform(self._image_holder.transform())
        return holder

    def _new_holder(self, z: float | None) -> QGraphicsRectItem:
        holder = QGraphicsRectItem()  # an empty rectangle, no pen: draws nothing, only carries the transform
        holder.setPen(Qt.PenStyle.NoPen)
        self._view_box.addItem(holder, ignoreBounds=True)
        if z is not None:
            holder.setZValue(z)
        return holder

    def set_image_transform(self, transform) -> None:
        """Turn and mirror the image in the view (a QTransform from image to view coordinates; None: as stored)."""
        holder = self.image_parent()
        if holder is None:
            return
        turn = transform if transform is not None else QTransform()
        for item in (holder, *self._image_layers.values()):
            item.setTransform(turn)
        if transform is None or transform.isIdentity():
            self._turned = None  # the turned copy of the frame is let go
        if self.fitted:
            self.fit()
        self.render()

    def image_point_at(self, scene_pos: QPointF) -> QPointF:
        """The image coordinates (pixel (c, r) on the square (c, r)-(c+1, r+1)) of a scene point: under the mouse."""
        if self._image_holder is None:
            return self.view_box.mapSceneToView(scene_pos)
        return self._image_holder.mapFromScene(scene_pos)

    def _image_rect(self, rect: QRectF) -> QRectF:
        """A rectangle of the view box in image coordinates (they differ while a presentation state turns the image)."""
        return rect if self._image_holder is None else self._image_holder.mapRectFromParent(rect)

    @property
    def image_item(self):
        self._build_view()
        return self._image_item

    def paintEvent(self, event):
        super().paintEvent(event)
        if self._view is None and (self._frame is not None or not self._view_waits_for_image):
            QTimer.singleShot(0, self._build_view)  # right after the window (or the first image) is on screen

    # -- what is shown -------------------------------------------------------------------
    @property
    def frame(self) -> FrameDisplay | None:
        return self._frame

    def show_frame(self, frame: FrameDisplay, voi: VOI, invert: bool, fit: bool = False) -> None:
        """Show `frame` with `voi` and `invert`; `fit` resets zoom to the window."""
        new_shape = self._frame is None or self._frame.shape != frame.shape
        self._frame, self._voi, self._invert = frame, voi, invert
        self.message_label.hide()
        self.loading_label.hide()
        if self._on_poster:
            self.fitted = True
            self._poster.update()
            return
        if fit or new_shape:
            self.fit()
        self.render()

    def set_display(self, voi: VOI, invert: bool) -> None:
        """New VOI or inversion for the frame shown: only the LUT changes."""
        self._voi, self._invert = voi, invert
        if self._on_poster:
            self._poster.update()
            return
        self.render()

    def show_message(self, text: str, calm: bool = False) -> None:
        """A one-line problem in the middle of the pane (the image is cleared); `calm`: a fact, not a problem
        (e.g. where a report is shown), in grey rather than the red of an error."""
        self._frame = None
        if self._view is not None:
            self._image_item.clear()
        elif self._poster is not None:
            self._poster.hide()  # no image is coming: the pane's next paint builds the view
        self._view_waits_for_image = False
        self.loading_label.hide()
        self.set_orientation(None)
        self.set_calibration(None)
        self.message_label.setStyleSheet(f"color: {'#c8c8c8' if calm else '#ff9090'}; background: transparent; font-size: 14px;")
        self.message_label.setText(text)
        self.message_label.show()
        self._place_overlays()

    def show_loading(self, clear: bool) -> None:
        """Say calmly that an image is on its way; `clear` removes the image shown (another series')."""
        if clear:
            self._frame = None
            if self._view is not None:
                self._image_item.clear()
            self.set_annotations(None)
            self.set_orientation(None)
            self.set_calibration(None)
        self.message_label.hide()
        self.loading_label.show()
        self._place_overlays()

    def hide_loading(self) -> None:
        self.loading_label.hide()

    @property
    def loading(self) -> bool:
        """Whether the pane says an image is loading."""
        return not self.loading_label.isHidden()

    # -- orientation markers, scale bar, smoothing -----------------------------------------
    def set_orientation(self, markers: OrientationMarkers | None) -> None:
        """The patient directions at the middle of each edge (None: no markers)."""
        changed = False
        for edge, label in self.marker_labels.items():
            text = getattr(markers, edge) if markers is not None else ""
            if label.text() != text or label.isHidden() == bool(text):
                label.setText(text)
                label.setVisible(bool(text))
                changed = True
        if changed:
            self._place_overlays()

    def set_calibration(self, calibration: Calibration | None, transform: SpatialTransform | None = None) -> None:
        """The spacing the scale bar is drawn from, and how the image is turned on the screen (None: no bar)."""
        self._calibration = calibration
        self._transform = transform or SpatialTransform()
        self._update_scale_bar()

    def _update_scale_bar(self) -> None:
        calibration = self._calibration
        bar = None
        if calibration is not None and calibration.spacing is not None and self._frame is not None:
            top, bottom = self._scale_bar_room()
            made_from = (calibration.spacing, self.zoom(), bottom - top, self._transform, calibration.basis)
            if made_from == self._scale_bar_for:
                return  # the same bar (scrolling a series of one spacing)
            self._scale_bar_for = made_from
            bar = scale_bar(*made_from, vertical=True)
        else:
            self._scale_bar_for = None
        if bar != self.scale_bar:
            self.scale_bar = bar
            self.scale_bar_overlay.set_bar(bar)
            self._place_scale_bar()

    def _scale_bar_room(self) -> tuple[int, int]:
        """Where the bar may go along the right edge: below the right marker, above the bottom-right text."""
        height, margin = self.height(), 6
        right = self.marker_labels["right"]
        top = height // 2 + max(right.sizeHint().height() - OverlayLabel.SHADOW, 16) // 2 + margin
        corner = self.corner_labels["bottom_right"]
        bottom = height - margin - (text_extent(corner)[1] + margin if corner.isVisible() else 0)
        bottom = min(bottom, top + int(height * SCALE_BAR_SHARE))
        return top, max(top, bottom)

    def _place_scale_bar(self) -> None:
        if self.scale_bar is None:
            return
        top, bottom = self._scale_bar_room()
        overlay = self.scale_bar_overlay
        overlay.move(self.width() - overlay.width() - 4, top + max(0, (bottom - top - overlay.height()) // 2))

    def set_smooth_zoom(self, smooth: bool) -> None:
        """Smooth the image when zoomed in beyond 1:1 (True, the default) or always show its pixels as squares."""
        self.smooth_zoom = smooth
        self._apply_smoothing()

    def smoothing(self) -> bool:
        """Whether the image is to be smoothed at this zoom: the toggle is on and it is zoomed in beyond 1:1.

        While the image changes (window drag, scroll, cine, zoom, pan) it is drawn with square
        pixels, and smoothed once it has stayed :data:`SMOOTH_AFTER_MS` (:attr:`smooth_timer`).
        """
        return self.smooth_zoom and self._frame is not None and self.zoom() > SMOOTH_ABOVE_ZOOM

    def smoothed(self) -> bool:
        """Whether the image is drawn smoothed now."""
        return self._view is not None and bool(self._view.renderHints() & QPainter.RenderHint.SmoothPixmapTransform)

    def _apply_smoothing(self) -> None:
        self.smooth_timer.stop()
        if self._view is None:
            return  # the poster draws without smoothing, fitted (never above 1:1 for images larger than the pane)
        smooth = self.smoothing()
        if self.smoothed() != smooth:
            self._view.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            self._view.viewport().update()

    def _image_changing(self) -> None:
        """A new image, window, zoom or pan: square pixels now, smoothed once it settles."""
        if self.smoothed():
            self._view.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if self.smooth_zoom and self._view is not None:
            self.smooth_timer.start()  # restarted on each change

    def set_annotations(self, corners: dict[str, list[str]] | None) -> None:
        resized = False
        for corner, label in self.corner_labels.items():
            text = "\n".join((corners or {}).get(corner, []))
            if label.text() != text or label.isVisible() != bool(corners):
                # Only labels whose text changed are touched: during cine each
                # touched label means another repaint of the image under it.
                size, visible = label.size(), label.isVisible()
                label.setText(text)
                label.setVisible(bool(corners))
                label.adjustSize()
                resized = resized or label.size() != size or label.isVisible() != visible
        if resized:  # where a label (and the scale bar beside it) goes depends on its size only: the same size stays
            self._place_overlays()

    # -- zoom ------------------------------------------------------------------------------
    def fit(self) -> None:
        """Show the whole image, as large as the pane allows; stays fitted on resize."""
        self.fitted = True
        if self._frame is None:
            return
        if self._on_poster:
            self._poster.update()
            return
        rows, cols = self._frame.shape
        image = QRectF(0, 0, cols, rows)
        self.view_box.setRange(image if self._image_holder is None else self._image_holder.mapRectToParent(image), padding=0.0)

    def set_zoom(self, zoom: float) -> None:
        """Screen pixels per image pixel (1.0 = 1:1), centred on the view."""
        if self._frame is None or zoom <= 0:
            return
        self.fitted = False
        center = self.view_box.viewRect().center()
        size = self.view_box.size()
        width, height = size.width() / zoom, size.height() / zoom
        self.view_box.setRange(QRectF(center.x() - width / 2, center.y() - height / 2, width, height), padding=0.0)

    def zoom(self) -> float:
        """Screen pixels per image pixel now."""
        if self._on_poster:
            return self._poster.fitted_scale()
        return self._view_scale()

    def _view_scale(self) -> float:
        """Screen pixels per image pixel in the view, from its size and range: not pyqtgraph's viewPixelSize,
        which is cached from the transform of the last paint and stale right after a resize or a new range."""
        rect, shown = self.view_box.rect(), self.view_box.viewRect()
        if rect.width() <= 0 or rect.height() <= 0 or shown.width() <= 0 or shown.height() <= 0:
            return 1.0
        return min(rect.width() / shown.width(), rect.height() / shown.height())

    # -- rendering -------------------------------------------------------------------------
    def render(self) -> None:
        """Turn the visible part of the frame into display pixels and show them."""
        if self._frame is None or self._voi is None:
            return
        rect = self._image_rect(self.view_box.viewRect())
        region, stride = visible_region((rect.left(), rect.top(), rect.right(), rect.bottom()), self._frame.shape, 1.0 / self._view_scale())
        r0, r1, c0, c1 = region
        if r1 <= r0 or c1 <= c0:
            self.image_item.clear()
            self.last_render = (region, stride)
            return
        self._image_changing()
        turn = self._image_holder.transform() if self._image_holder is not None else None
        if turn is None or turn.isIdentity():
            pixels = self._frame.render_packed(self._voi, self._invert, region, stride)
            placed = QRectF(c0, r0, pixels.shape[1] * stride, pixels.shape[0] * stride)
        else:
            # The frame turned once (its arrays copied), then rendered upright: Qt would paint a turned image
            # through its slow transformed path on every window step, and turning each render costs a copy.
            frame, origin = self._turned_frame(turn)
            area = turn.mapRect(QRectF(c0, r0, c1 - c0, r1 - r0)).translated(-origin)  # the region in the turned frame
            top, left = round(area.top()), round(area.left())
            pixels = frame.render_packed(self._voi, self._invert, (top, round(area.bottom()), left, round(area.right())), stride)
            placed = QRectF(origin.x() + left, origin.y() + top, pixels.shape[1] * stride, pixels.shape[0] * stride)
        # Final display values, shown as they are (an RGB32 QImage, no copy).
        self.image_item.setImage(pixels, autoLevels=False, levels=None)
        self.image_item.setRect(placed)
        self.last_render = (region, stride)
        self.rendered.emit()

    def _turned_frame(self, turn: QTransform) -> tuple[FrameDisplay, QPointF]:
        """The frame shown, turned as `turn` turns it (made once per frame and turn), and where its top left lands."""
        how = quarter_and_mirrors(turn)
        if self._turned is None or self._turned[0] is not self._frame or self._turned[1] != how:
            self._turned = (self._frame, how, self._frame.turned(*how))
        rows, columns = self._frame.shape
        return self._turned[2], turn.mapRect(QRectF(0, 0, columns, rows)).topLeft()

    def paint_now(self) -> None:
        """Let the view take in its scene's changes (a new image, lines) now, rather than at the next event-loop pass.

        Qt repaints the window's changed widgets as soon as one scene takes in its changes. With several panes
        changed in one pass (linked scrolling), the first scene's turn painted every changed pane, and each other
        scene's turn then painted its view a second time. Called once a pane is complete (image, corner text,
        lines), each pane is painted once.
        """
        if self._view is not None:
            QCoreApplication.sendPostedEvents(self._view.scene(), QEvent.Type.MetaCall.value)

    def _view_changed(self, *_args) -> None:
        self.render()
        self._update_scale_bar()
        self.view_changed.emit()

    # -- the mouse tools (the toolbar's: what a left drag does) ---------------------------
    #: What a left drag does: "window" (width and level), "pan", "zoom" or "scroll" (through the images).
    left_drag_tool = "window"
    #: Screen pixels of vertical drag per image with the scroll tool.
    SCROLL_DRAG_PIXELS = 8
    _scroll_drag = 0.0  # pixels dragged towards the next image

    def drag_action(self, button: Qt.MouseButton) -> str:
        """What a drag with `button` does: the left button's tool; the middle one pans, the right one zooms."""
        if button == Qt.MouseButton.LeftButton:
            return self.left_drag_tool
        return {Qt.MouseButton.MiddleButton: "pan", Qt.MouseButton.RightButton: "zoom"}.get(button, "")

    def scroll_dragged(self, dy: float, start: bool = False) -> None:
        """A scroll-tool drag moved `dy` screen pixels down: one image on per :data:`SCROLL_DRAG_PIXELS`."""
        self._scroll_drag = (0.0 if start else self._scroll_drag) + dy
        steps = int(self._scroll_drag / self.SCROLL_DRAG_PIXELS)
        if steps:
            self._scroll_drag -= steps * self.SCROLL_DRAG_PIXELS
            self.step_requested.emit(steps)

    # -- mouse and layout ------------------------------------------------------------------
    def _mouse_moved(self, scene_pos) -> None:
        if self._frame is None:
            return
        point = self.image_point_at(scene_pos)
        row, col = int(math.floor(point.y())), int(math.floor(point.x()))
        rows, cols = self._frame.shape
        if 0 <= row < rows and 0 <= col < cols:
            self.cursor_moved.emit(row, col)
        else:
            self.cursor_moved.emit(-1, -1)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._place_overlays()
        if self.fitted:
            self.fit()
        self._update_scale_bar()

    def _overlays(self) -> list[QWidget]:
        return [*self.corner_labels.values(), *self.marker_labels.values(), self.scale_bar_overlay, self.message_label, self.loading_label]

    def _place_overlays(self) -> None:
        width, height = self.width(), self.height()
        margin = 6
        # Placed by their text's size: the shadow's margin falls outside (as the effect's shadow did).
        for corner, label in self.corner_labels.items():
            label.adjustSize()
            text_width, text_height = text_extent(label)
            x = margin if corner.endswith("left") else width - text_width - margin
            y = margin if corner.startswith("top") else height - text_height - margin
            label.move(max(0, x), max(0, y))
        for edge, label in self.marker_labels.items():
            label.adjustSize()
            text_width, text_height = text_extent(label)
            x = {"left": margin, "right": width - text_width - margin}.get(edge, (width - text_width) // 2)
            y = {"top": margin, "bottom": height - text_height - margin}.get(edge, (height - text_height) // 2)
            label.move(max(0, x), max(0, y))
        self.message_label.setGeometry(20, 0, max(10, width - 40), height)
        self.loading_label.setGeometry(20, 0, max(10, width - 40), height)
        self._place_scale_bar()

    def displayed_pixels(self) -> np.ndarray | None:
        """The display pixels currently shown (turned as on the screen), as uint8: grey ``(h, w)`` or RGB ``(h, w, 3)``."""
        if self._view is None or self._image_item.image is None:
            return None
        packed = np.asarray(self._image_item.image)
        rgb = np.stack([(packed >> shift).astype(np.uint8) for shift in (16, 8, 0)], axis=-1)
        grey = self._frame is not None and not self._frame.is_color and self._frame.photometric != "PALETTE COLOR"
        return np.ascontiguousarray(rgb[..., 0]) if grey else rgb
