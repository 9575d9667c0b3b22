"""The image's overlay planes (60xx) over a viewport's image, and View > Overlays (O).

An :class:`OverlayLayer` belongs to one :class:`~viewer.ui.viewport.viewport.Viewport`.
The overlay bits of each image it shows are worked out by the core
(:mod:`viewer.core.display.overlays`): a file's planes are read once, in the
background, from its whole header (the catalog's compact header has no 60xx
groups); each frame's overlay is then made at once (retired planes in the
high bits of Pixel Data, which need the frame's raw words, in the background
each time). The last images' overlays are kept. It is drawn as one pyqtgraph
image item under the pane's image parent (:meth:`ImagePane.image_parent`), in
image coordinates, so zoom, pan and a presentation state's turn and flip
(PS3.3 C.10.6) move it with the image; a window/level step repaints it from a copy at screen
resolution but never recomputes it. Pixels stay square at every zoom
(nearest neighbour), as a bitmap should.

Planes that cannot be drawn (short Overlay Data, wrong rows) are named in a
one-line note at the top of the pane; the image is shown all the same.

Overlays are on by default, as dcmtk draws them; View > Overlays (O) turns
them off and on in every viewport of the window.

This module imports only Qt at load (the window's menus are built before
numpy and pyqtgraph are imported); the rest comes when an image is shown.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QRectF, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel

if TYPE_CHECKING:
    from pathlib import Path

    import numpy as np
    from PySide6.QtWidgets import QMainWindow, QMenu

    from viewer.core.display.overlays import OverlayPlanes
    from viewer.ui.viewport.viewport import Viewport

#: The key of View > Overlays.
OVERLAYS_KEY = "O"
#: Above the image, below linking's reference lines and mark (viewer.ui.viewport.reference_overlay.OVERLAY_Z = 50).
OVERLAY_PLANES_Z = 40
#: Overlays kept, by (file, frame): scrolling back shows them at once.
KEPT = 32


def _packed_premultiplied(rgba: np.ndarray) -> np.ndarray:
    """RGBA uint8 (h, w, 4) as uint32 0xAARRGGBB with the colour premultiplied by alpha: Qt's
    ARGB32_Premultiplied, the format it draws translucent images fastest in (no conversion per paint)."""
    import numpy as np

    alpha = rgba[..., 3].astype(np.uint32)
    packed = alpha << 24
    for channel, shift in ((0, 16), (1, 8), (2, 0)):
        packed |= ((rgba[..., channel].astype(np.uint32) * alpha + 127) // 255) << shift
    return packed


#: Largest visible overlay, in screen pixels, drawn through the screen-resolution copy (beyond it: Qt scales it).
SCREEN_COPY_LIMIT = 16 * 1024 * 1024


def screen_samples(start: int, stop: int, offset: float, scale: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """For screen pixels start..stop-1 along one axis: the overlay pixel under each one's centre, and whether
    it is inside the overlay. An overlay pixel k covers screen [offset + k x scale, offset + (k + 1) x scale):
    Qt's nearest-neighbour scaling samples it at pixel centres the same way."""
    import numpy as np

    source = np.floor((np.arange(start, stop) + 0.5 - offset) / scale).astype(np.int64)
    inside = (source >= 0) & (source < size)
    return np.clip(source, 0, size - 1), inside


@functools.cache
def _overlay_item_class():
    """The pyqtgraph image item the layer draws with (made on first use: pyqtgraph is imported after the
    first image, see viewer.ui.viewport.image_view).

    Its pixels are premultiplied ARGB32 (0xAARRGGBB). It keeps a copy scaled to the screen, nearest
    neighbour, made again only when zoom or pan change: a window step then blends it unscaled (Qt's
    fast path, some 0.4 ns a pixel here) rather than scaling a translucent image on every repaint
    (about ten times that; benchmarks/bench_window.py).
    """
    import numpy as np
    from PySide6.QtGui import QImage, QPainter

    from viewer.core.display.pixels.pipeline import turned_array
    from viewer.ui.viewport.graphics_view import PackedImageItem
    from viewer.ui.viewport.image_view import quarter_and_mirrors

    class OverlayImageItem(PackedImageItem):
        packed_format = QImage.Format.Format_ARGB32_Premultiplied
        _screen_copy = None  # (key, QImage, its pixels, (x, y) on the screen)
        _turned_copy = None  # (the item's pixels, how they are turned, the turned copy)

        def render(self):
            super().render()
            self._screen_copy = None

        def paint(self, painter, *args):
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # a bitmap: square pixels
            copy = self._screen(painter)
            if copy is None:
                super().paint(painter, *args)
                return
            _key, qimage, _pixels, (x, y) = copy
            painter.save()
            painter.resetTransform()
            painter.drawImage(x, y, qimage)
            painter.restore()

        def _screen(self, painter):
            """The overlay's visible part at screen resolution, made again when the mapping changed; None: draw as usual."""
            image = self.image
            if image is None or image.size == 0 or image.dtype != np.uint32:
                return None
            t = painter.combinedTransform()  # the item's pixels to the screen's
            turned = self._turned(image, t)
            if turned is None:
                return None
            image, how = turned
            device = painter.device()
            rows, columns = image.shape
            if any(how):  # a presentation state's quarter turn or flip: the turned pixels, placed upright
                area = t.mapRect(QRectF(0, 0, columns if not how[0] else rows, rows if not how[0] else columns))
                sx, sy, dx, dy = area.width() / columns, area.height() / rows, area.left(), area.top()
            else:
                sx, sy, dx, dy = t.m11(), t.m22(), t.dx(), t.dy()
            x0, x1 = max(0, int(np.floor(dx))), min(device.width(), int(np.ceil(dx + columns * sx)))
            y0, y1 = max(0, int(np.floor(dy))), min(device.height(), int(np.ceil(dy + rows * sy)))
            if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) > SCREEN_COPY_LIMIT:
                return None
            key = (id(image), how, sx, sy, dx, dy, x0, x1, y0, y1)
            if self._screen_copy is not None and self._screen_copy[0] == key:
                return self._screen_copy
            source_columns, inside_columns = screen_samples(x0, x1, dx, sx, columns)
            source_rows, inside_rows = screen_samples(y0, y1, dy, sy, rows)
            pixels = image[source_rows[:, None], source_columns[None, :]]
            pixels[~inside_rows, :] = 0
            pixels[:, ~inside_columns] = 0
            pixels = np.ascontiguousarray(pixels)
            qimage = QImage(pixels.data, pixels.shape[1], pixels.shape[0], pixels.strides[0], QImage.Format.Format_ARGB32_Premultiplied)
            self._screen_copy = (key, qimage, pixels, (x0, y0))
            return self._screen_copy

        def _turned(self, image, t):
            """The item's pixels as the screen shows them, and how they were turned (quarter, mirror rows, mirror
            columns): under a presentation state's turn or flip (PS3.3 C.10.6), a turned copy (made once per image
            and turn), so that a window step still blends an upright copy. None for a turn that is not a quarter."""
            quarter = t.m11() == 0 and t.m22() == 0
            if not quarter and (t.m12() != 0 or t.m21() != 0):
                return None
            how = quarter_and_mirrors(t)
            if not any(how):
                return image, how
            if self._turned_copy is None or self._turned_copy[0] is not image or self._turned_copy[1] != how:
                self._turned_copy = (image, how, turned_array(image, *how))
            return self._turned_copy[2], how

    return OverlayImageItem


class OverlayLayer(QObject):
    """The overlay planes of the image a viewport shows (see the module's docstring)."""

    def __init__(self, viewport: Viewport):
        super().__init__(viewport)
        self.viewport = viewport
        self.pane = viewport.pane
        self.shown = True  # View > Overlays
        self.item = None  # the pyqtgraph item, once the pane's view exists
        self.key: tuple | None = None  # (file, frame) of the image shown
        # (file, frame) -> (packed pixels or None, (row, column) of their first pixel, note)
        self._kept: OrderedDict[tuple, tuple[np.ndarray | None, tuple[int, int], str]] = OrderedDict()
        self._planes: OrderedDict[Path, OverlayPlanes] = OrderedDict()  # each file's planes, read from its whole header
        self.note = QLabel("", self.pane)
        self.note.setStyleSheet("color: #ffb060; background: rgba(0, 0, 0, 150); padding: 2px 6px;")
        self.note.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.note.hide()
        viewport.image_shown.connect(self._image_shown)
        viewport.image_failed.connect(lambda _message: self._show(None))
        viewport.series_shown.connect(lambda _series: self._show(None))
        self.pane.rendered.connect(self._install)
        # The pane clears its image when it shows a message or a "loading" without one: so does the layer.
        for label in (self.pane.message_label, self.pane.loading_label):
            label.installEventFilter(self)
        self.pane.installEventFilter(self)

    # -- what is shown ------------------------------------------------------------------------
    def set_shown(self, shown: bool) -> None:
        """Overlays on (the default) or off."""
        self.shown = shown
        self._update()

    @property
    def drawn(self) -> bool:
        """Whether an overlay is on the screen now."""
        return self.item is not None and self.item.isVisible()

    def drawn_pixels(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """The overlay on the screen: its premultiplied ARGB32 pixels and the image pixel (row, column) of the first."""
        if not self.drawn or self.key not in self._kept:
            return None
        pixels, corner, _note = self._kept[self.key]
        return (pixels, corner) if pixels is not None else None

    def _image_shown(self) -> None:
        action = getattr(self.viewport.window(), "overlays_action", None)
        if action is not None:
            self.shown = action.isChecked()  # a viewport made after the user turned overlays off
        ref, frame = self.viewport.current, self.viewport.frame
        if ref is None or frame is None:
            self._show(None)
            return
        key = (ref.instance.path, ref.frame)
        if key in self._kept:
            self._kept.move_to_end(key)
            self._show(key)
            return
        shape = frame.shape
        planes = self._planes.get(ref.instance.path)
        if planes is not None and not any(plane.in_pixel_data for plane in planes.planes):
            # The file's planes are known and hold their own bits: a frame's masks take a millisecond or so,
            # here, so the cine and scrolling never show a frame without its overlay.
            self._keep(key, _frame_result(planes, ref.frame, shape))
            self._show(key)
            return
        self._show(None)  # not the last image's overlay over this one while it is worked out
        source, path = self.viewport.source, ref.instance.path

        def work():
            from viewer.core.display.overlays import overlay_planes

            found = overlay_planes(source.header(path))
            return found, _frame_result(found, ref.frame, shape, path)

        def done(answer) -> None:
            found, result = answer
            self._planes[path] = found
            while len(self._planes) > KEPT:
                self._planes.popitem(last=False)
            self._keep(key, result)
            if self.viewport.current == ref and self.viewport.frame is frame:
                self._show(key)

        def failed(error: BaseException) -> None:
            # The header cannot be read again (the file went away): no overlay, one line saying why.
            self._keep(key, (None, (0, 0), f"overlays not drawn: {error}"))
            if self.viewport.current == ref:
                self._show(key)

        self.viewport.runner.submit("overlays", work, done, failed)

    def _keep(self, key: tuple, result) -> None:
        self._kept[key] = result
        while len(self._kept) > KEPT:
            self._kept.popitem(last=False)

    def _show(self, key: tuple | None) -> None:
        self.key = key
        self._update()

    def _update(self) -> None:
        pixels, corner, note = self._kept.get(self.key, (None, (0, 0), "")) if self.key is not None else (None, (0, 0), "")
        self._set_note(note if self.shown else "")
        if self.item is None:
            if pixels is None or not self.shown:
                return
            self._install()
            if self.item is None:
                return  # put up when the view is built
        if pixels is None or not self.shown:
            self.item.hide()
            return
        if self.item.image is not pixels:
            self.item.setImage(pixels, autoLevels=False, levels=None)
            self.item.setRect(QRectF(corner[1], corner[0], pixels.shape[1], pixels.shape[0]))
        self.item.show()

    def _set_note(self, note: str) -> None:
        if note != self.note.text() or self.note.isVisible() != bool(note):
            self.note.setText(note)
            self.note.setVisible(bool(note))
            if note:
                self._place_note()
                self.note.raise_()

    def _place_note(self) -> None:
        self.note.setMaximumWidth(max(40, self.pane.width() - 20))
        self.note.adjustSize()
        self.note.move(max(0, (self.pane.width() - self.note.width()) // 2), 28)

    # -- the pyqtgraph item -----------------------------------------------------------------------
    def _install(self) -> None:
        """Create the item once the pane's view exists (its first render)."""
        if self.item is not None:
            return
        parent = self.pane.image_parent(OVERLAY_PLANES_Z)  # image coordinates: turned and flipped with the image
        if parent is None:
            return
        self.item = _overlay_item_class()(axisOrder="row-major")
        self.item.hide()
        self.item.setParentItem(parent)
        self.note.raise_()  # the view is built after the first image (viewer.ui.viewport.image_view): above it
        self._update()

    def eventFilter(self, watched, event):
        if watched is self.pane:
            if event.type() == QEvent.Type.Resize and self.note.isVisible():
                self._place_note()
        elif event.type() == QEvent.Type.Show and self.pane.frame is None:
            self._show(None)  # a message or "loading" in place of the image
        return False


def _frame_result(planes: OverlayPlanes, frame: int, shape: tuple[int, int], path: Path | None = None):
    """What the layer keeps for frame `frame` (0-based) of a file with `planes`: see :func:`_cropped`."""
    from viewer.core.display.overlays import frame_overlay, overlay_rgba, raw_frame_words

    overlay = frame_overlay(planes, frame, shape, (lambda: raw_frame_words(path, frame)) if path is not None else None, planes.bits_stored)
    return _cropped(overlay_rgba(overlay, shape), overlay.note())


def _cropped(rgba: np.ndarray | None, note: str) -> tuple[np.ndarray | None, tuple[int, int], str]:
    """The overlay cut to the rows and columns it covers, packed for Qt: drawing it on each repaint
    (every window step) costs what it covers, not the whole image."""
    if rgba is None:
        return None, (0, 0), note
    import numpy as np

    covered = rgba[..., 3] > 0
    rows, columns = np.flatnonzero(covered.any(axis=1)), np.flatnonzero(covered.any(axis=0))
    if not rows.size:
        return None, (0, 0), note
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    return np.ascontiguousarray(_packed_premultiplied(rgba[r0:r1, c0:c1])), (int(r0), int(c0)), note


def overlays_action(window: QMainWindow, menu: QMenu | None = None) -> QAction:
    """The checkable View > Overlays action of `window` (key :data:`OVERLAYS_KEY`), on by default.

    It shows or hides the overlay planes in every viewport of the window
    (``window.viewports``, each with its ``overlay_layer``); viewports made
    later follow it. The window's attribute ``overlays_action`` holds it.
    """
    action = QAction("&Overlays", window)
    action.setCheckable(True)
    action.setChecked(True)
    action.setShortcut(QKeySequence(OVERLAYS_KEY))
    action.setToolTip(f"Show the image's overlay planes (60xx): graphics and regions drawn by the sender ({OVERLAYS_KEY})")

    def toggled(checked: bool) -> None:
        for viewport in getattr(window, "viewports", None) or ():
            layer = getattr(viewport, "overlay_layer", None)
            if layer is not None:
                layer.set_shown(checked)

    action.toggled.connect(toggled)
    window.addAction(action)
    if menu is not None:
        menu.addAction(action)
    window.overlays_action = action
    return action
