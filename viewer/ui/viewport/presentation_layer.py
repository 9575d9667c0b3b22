"""Grayscale Softcopy Presentation States on the viewports: chosen per viewport, shown on the images they reference.

When the files opened hold presentation states (PS3.3 A.33.1), a viewport
showing an image that one of them references offers a small selector at
the top of its pane: the newest state applies by default, another can be
chosen, and the "PS" button turns them off with one click. The state then
gives, for its referenced images and frames only:

- the grey levels: the frame is shown through the state's Modality LUT
  (C.11.1) in place of the image's (the viewport's ``frame_view``, the
  same attributes as ``export --pstate``:
  :class:`~viewer.core.documents.presentation_render.StateFrame`, its
  Presentation LUT Sequence too), its
  window or VOI LUT (Softcopy VOI LUT, C.11.8; none: the whole range) and
  polarity (Presentation LUT Shape, C.11.6) through the viewport's display
  state, so a drag starts from it; the user's own window wins once set, and
  turning the state off shows the image through its own LUTs again;
- the rotation and flip (C.10.6), as the transform of the item the image
  hangs under (:meth:`ImagePane.image_parent`), so the pane still renders
  only what is visible and the mouse still reads image pixels; the
  orientation markers follow through the viewport's spatial transform;
- the displayed area (C.10.4): shown fitted, at true size or magnified;
- shutters (C.7.6.11, C.7.6.15) as opaque items in the shutter's grey;
- graphic annotations and text (C.10.5) in their layer's colour (C.10.7),
  PIXEL and DISPLAY units, lines one screen pixel wide at any zoom, text
  upright at its screen size.

Everything drawn is a QGraphicsItem of the view box, made once per image
shown, placed through the image's transform but itself upright (items
under a turned parent cost a window step more), graphics and text kept as
pixmaps of their look on the screen: a window step only blits them
(benchmarks/bench_pstate.py). The geometry and the LUT choice
come from :mod:`viewer.core.documents.presentation_render`.

The states come from the files a folder scan passes over as holding no
image (:attr:`OpenController.others_found`) and from files opened by name
(their "no image" line); each is read in the background, a damaged one
gives one line in the Problems dock.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QComboBox,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsSimpleTextItem,
    QHBoxLayout,
    QToolButton,
    QWidget,
)

from viewer.core.dicom.io import ViewerError
from viewer.core.dicom.sop_classes import PRESENTATION_STATE
from viewer.core.display.pixels.pipeline import VOI, FrameDisplay, VOILut, Window
from viewer.core.display.spatial_transform import SpatialTransform
from viewer.core.documents.presentation_render import (
    StateGeometry,
    outline_points,
    shutter_grey,
    spatial_affine,
    state_frame,
    state_geometry,
)
from viewer.core.documents.presentation_state import (
    PresentationState,
    PresentationStateIndex,
    read_presentation_states,
)

#: Above the image (pyqtgraph's z for items of the view box is 0 and up); shutters under the graphics.
SHUTTER_Z = 40
GRAPHICS_Z = 45
#: Text of annotations, in screen points.
TEXT_POINT_SIZE = 11
#: Frames kept as a state shows them (per viewport): stepping back and forth does not prepare them again.
STATE_FRAMES_KEPT = 4


class PresentationStates(QObject):
    """The window's presentation states (:class:`PresentationStateIndex`), filled in the background.

    Signals: ``changed()`` when states were added; ``problems(list[str])`` for damaged ones.
    """

    changed = Signal()
    problems = Signal(object)

    def __init__(self, runner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.index = PresentationStateIndex()
        self._batches = itertools.count()
        self._seen: set[Path] = set()  # state files already read

    def add_found(self, found: list) -> None:
        """Lines about files passed over (:class:`~viewer.core.dicom.io.Problem`): those that may be states are read."""
        paths = [line.path for line in found if getattr(line, "path", None) is not None and "Presentation State" in str(line)]
        if paths:
            kind = f"presentation-states-{next(self._batches)}"  # each batch its own kind: none supersedes another
            self.runner.submit(kind, lambda: read_presentation_states(paths), self._read, lambda _e: None)

    def add_series(self, changed) -> None:
        """Series the catalog added or grew (:attr:`OpenController.series_changed`): their presentation-state
        objects, listed with that kind since #16 lists every object, are read once each, in the background."""
        paths = []
        for series in changed:
            for instance in series.instances:
                if instance.kind == PRESENTATION_STATE and instance.path is not None and instance.path not in self._seen:
                    self._seen.add(instance.path)
                    paths.append(instance.path)
        if paths:
            kind = f"presentation-states-{next(self._batches)}"  # each batch its own kind: none supersedes another
            self.runner.submit(kind, lambda: read_presentation_states(paths), self._read, lambda _e: None)

    def add_paths(self, paths: list[Path]) -> None:
        """Read these files as states now (tests, and files named on purpose)."""
        self._read(read_presentation_states(paths))

    def _read(self, result) -> None:
        states, problems = result
        added = [state for state in states if self.index.add(state)]
        if problems:
            self.problems.emit([str(problem) for problem in problems])
        if added:
            self.changed.emit()

    def clear(self) -> None:
        self.index.clear()
        self._seen.clear()
        self.changed.emit()


def _colour(rgb: tuple[int, int, int]) -> QColor:
    return QColor(*rgb)


def _pen(colour: QColor) -> QPen:
    pen = QPen(colour)
    pen.setWidthF(1.0)
    pen.setCosmetic(True)  # one screen pixel at any zoom
    return pen


def image_transform(state: PresentationState, rows: int, columns: int) -> QTransform:
    """The state's rotation and flip as a map from image to view coordinates (:func:`spatial_affine`)."""
    return QTransform(*spatial_affine(state.rotation, state.flip, columns, rows))


def shutter_items(state: PresentationState, rows: int, columns: int, to_view: QTransform) -> list[QGraphicsItem]:
    """Opaque items hiding what the shutters hide, in the (0018,1622) *Shutter Presentation Value* grey, in view coordinates.

    `to_view` maps image to view coordinates (:func:`image_transform`): the items are drawn upright, not turned
    with the image, which costs a window step less (benchmarks/bench_pstate.py).
    """
    shutters = state.shutters
    if not shutters.any():
        return []
    grey = shutter_grey(shutters)
    colour = QColor(grey, grey, grey)
    items: list[QGraphicsItem] = []
    image = QRectF(0, 0, columns, rows)
    shown = QPainterPath()
    shown.addRect(image)
    if shutters.rectangle is not None:
        left, right, upper, lower = shutters.rectangle
        inside = QPainterPath()
        inside.addRect(QRectF(left - 1, upper - 1, right - left + 1, lower - upper + 1))
        shown = shown.intersected(inside)
    if shutters.circle is not None:
        row, column, radius = shutters.circle
        inside = QPainterPath()
        inside.addEllipse(QPointF(column - 0.5, row - 0.5), radius, radius)
        shown = shown.intersected(inside)
    if shutters.polygon is not None:
        inside = QPainterPath()
        first, *rest = [QPointF(column - 0.5, row - 0.5) for row, column in shutters.polygon]
        inside.moveTo(first)
        for point in rest:
            inside.lineTo(point)
        inside.closeSubpath()
        shown = shown.intersected(inside)
    if shutters.rectangle is not None or shutters.circle is not None or shutters.polygon is not None:
        hidden = QPainterPath()
        hidden.addRect(image)
        item = QGraphicsPathItem(to_view.map(hidden.subtracted(shown)))
        item.setPen(QPen(Qt.PenStyle.NoPen))
        item.setBrush(QBrush(colour))
        item.setZValue(SHUTTER_Z)
        items.append(item)
    if shutters.bitmap is not None:
        item = QGraphicsPixmapItem(_mask_pixmap(shutters.bitmap, colour))
        item.setOffset(shutters.bitmap_origin[1] - 1, shutters.bitmap_origin[0] - 1)
        item.setTransform(to_view)
        item.setZValue(SHUTTER_Z)
        items.append(item)
    return items


def _mask_pixmap(mask, colour: QColor) -> QPixmap:
    import numpy as np

    rgba = np.zeros(mask.shape + (4,), dtype=np.uint8)
    rgba[mask] = (colour.red(), colour.green(), colour.blue(), 255)
    image = QImage(rgba.data, mask.shape[1], mask.shape[0], mask.shape[1] * 4, QImage.Format.Format_RGBA8888)
    return QPixmap.fromImage(image.copy())


def overlay_items(state: PresentationState, to_view: QTransform) -> list[QGraphicsItem]:
    """The state's activated overlay planes (C.11.7) in their layers' colours, placed at their origins."""
    items: list[QGraphicsItem] = []
    for order, (layer, overlay) in enumerate(state.overlays_by_layer()):
        item = QGraphicsPixmapItem(_mask_pixmap(overlay.bitmap, _colour(layer.rgb())))
        item.setOffset(overlay.origin[1] - 1, overlay.origin[0] - 1)
        item.setTransform(to_view)
        item.setZValue(GRAPHICS_Z - 1 + order * 0.01)
        items.append(item)
    return items


def graphic_items(state: PresentationState, geometry: StateGeometry, uid: str, frame: int, to_view: QTransform) -> list[QGraphicsItem]:
    """One path item per annotation's graphics, one text item per text object, in the layer's colour, in view coordinates.

    Each is kept as a pixmap of its look on the screen (a device coordinate cache): a window step, which
    changes only the image under them, blits them instead of stroking the paths and shaping the text again.
    """
    items: list[QGraphicsItem] = []
    for order, (layer, annotation) in enumerate(state.annotations_for(uid, frame)):
        colour = _colour(layer.rgb())
        lines, filled = QPainterPath(), QPainterPath()
        for graphic in annotation.graphics:
            points = outline_points(graphic, lambda p, units=graphic.units: geometry.to_pixel(p, units))
            if graphic.kind == "POINT":
                for x, y in points:
                    lines.moveTo(x - 1.5, y)
                    lines.lineTo(x + 1.5, y)
                    lines.moveTo(x, y - 1.5)
                    lines.lineTo(x, y + 1.5)
                continue
            target = filled if graphic.filled and len(points) >= 3 else lines
            target.moveTo(*points[0])
            for point in points[1:]:
                target.lineTo(*point)
            if target is filled:
                target.closeSubpath()
        for path, brush in ((lines, None), (filled, colour)):
            if path.isEmpty():
                continue
            item = QGraphicsPathItem(to_view.map(path))
            item.setPen(_pen(colour))
            item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
            if brush is not None:
                item.setBrush(QBrush(brush))
            item.setZValue(GRAPHICS_Z + order)
            items.append(item)
        for text in annotation.texts:
            items.append(text_item(text, geometry, colour, to_view, GRAPHICS_Z + order))
    return items


def text_item(text, geometry: StateGeometry, colour: QColor, to_view: QTransform, z: float) -> QGraphicsItem:
    """Text at the corner of its box that is top left on the screen (else at its anchor), upright, screen-sized."""
    if text.box is not None:
        corners = [(text.box[0], text.box[1]), (text.box[2], text.box[1]), (text.box[0], text.box[3]), (text.box[2], text.box[3])]
        on_screen = [geometry.to_output(c, text.box_units) for c in corners]
        top_left = min(range(4), key=lambda i: on_screen[i][1] + on_screen[i][0])
        x, y = geometry.to_pixel(corners[top_left], text.box_units)
    else:
        x, y = geometry.to_pixel(text.anchor, text.anchor_units)
    item = QGraphicsSimpleTextItem(text.text)
    item.setBrush(QBrush(colour))
    font = item.font()
    font.setPointSize(TEXT_POINT_SIZE)
    item.setFont(font)
    item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
    item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
    item.setPos(to_view.map(QPointF(x, y)))
    item.setZValue(z)
    return item


class PresentationLayer(QObject):
    """One viewport's presentation state: its selector, and what the chosen state puts on the image shown."""

    def __init__(self, viewport, states: PresentationStates):
        super().__init__(viewport)
        self.viewport, self.states = viewport, states
        self.enabled = True
        self.chosen_uid: str | None = None  # the state picked in the selector; None: the newest
        self.applied: PresentationState | None = None  # the state shown on the image now
        self._key: tuple | None = None  # (state, image, frame) the items were made for
        self._items: list[QGraphicsItem] = []
        self._voi_set = None  # the VOI and inversion this layer put in the display state (replaced only if still there)
        self._invert_set: bool | None = None
        self._transform_key: tuple | None = None
        self._area_for: tuple | None = None
        self._offered: list[PresentationState] = []
        # (state, image) -> (the frame as decoded, as the state shows it, the state's VOI): the newest last.
        self._state_frames: dict[tuple, tuple[FrameDisplay, FrameDisplay, VOI]] = {}

        pane = viewport.pane
        self.selector = QWidget(pane)
        row = QHBoxLayout(self.selector)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.toggle = QToolButton(self.selector)
        self.toggle.setText("PS")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setToolTip("Show the image through a presentation state (on/off)")
        self.toggle.toggled.connect(self.set_enabled)
        self.combo = QComboBox(self.selector)
        self.combo.setToolTip("The presentation state shown (newest first)")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.activated.connect(self._picked)
        row.addWidget(self.toggle)
        row.addWidget(self.combo)
        self.selector.setStyleSheet("QToolButton, QComboBox { background: rgba(20, 20, 20, 200); color: #e0e0e0; }")
        self.selector.hide()
        pane.installEventFilter(self)

        viewport.image_shown.connect(self.update)
        viewport.image_failed.connect(lambda _message: self._hide_all())
        states.changed.connect(self.update)
        if pane.built_view_box() is None:
            # The pane's pyqtgraph view is built after the first image is painted: the turn, the area and the
            # items wait for it, and the selector goes back on top of it.
            pane.rendered.connect(self._view_built)

    def _view_built(self) -> None:
        pane = self.viewport.pane
        if pane.built_view_box() is None:
            return
        pane.rendered.disconnect(self._view_built)
        self._transform_key = self._key = self._area_for = None
        self.update()
        self.selector.raise_()

    # -- the selector ---------------------------------------------------------------------
    def offered(self) -> list[PresentationState]:
        """The states referencing the image shown, newest first (what the selector lists)."""
        ref = self.viewport.current
        if ref is None or self.viewport.frame is None:
            return []
        return self.states.index.states_for(ref.instance.sop_instance_uid)

    def _chosen(self, offered: list[PresentationState]) -> PresentationState | None:
        return next((s for s in offered if s.sop_instance_uid == self.chosen_uid), offered[0] if offered else None)

    def _state_for(self, ref) -> PresentationState | None:
        """The state shown on image `ref`: the chosen one (or the newest) where it references this image and frame."""
        if not self.enabled or ref is None:
            return None
        uid = ref.instance.sop_instance_uid
        chosen = self._chosen(self.states.index.states_for(uid))
        return chosen if chosen is not None and chosen.applies_to(uid, ref.frame + 1) else None

    def frame_view(self, ref, frame: FrameDisplay) -> FrameDisplay:
        """The viewport's ``frame_view``: `frame` through the state's Modality LUT where a state applies (PS3.4 N.2),
        as ``export --pstate`` renders it; the frame itself elsewhere (and for colour, which a GSPS does not apply to)."""
        state = self._state_for(ref)
        kept = self._state_frame(state, ref, frame) if state is not None else None
        return kept[1] if kept is not None else frame

    def _state_frame(self, state: PresentationState, ref, frame: FrameDisplay) -> tuple[FrameDisplay, FrameDisplay, VOI] | None:
        if frame.is_color:
            return None
        key = (state.sop_instance_uid, ref)
        kept = self._state_frames.pop(key, None)
        if kept is None or kept[0] is not frame:
            uid, number = ref.instance.sop_instance_uid, ref.frame + 1
            try:
                shown, voi, _inverse = state_frame(frame.stored, frame.ctx, state, uid, number)
            except ViewerError:
                return None  # LUTs that cannot be applied (export --pstate says why): the image's own
            kept = (frame, shown, _labelled(voi))
        self._state_frames[key] = kept
        while len(self._state_frames) > STATE_FRAMES_KEPT:
            self._state_frames.pop(next(iter(self._state_frames)))
        return kept

    def choose(self, state: PresentationState | None) -> None:
        """Show `state` (None: the newest) on the images it references."""
        self.chosen_uid = state.sop_instance_uid if state is not None else None
        self.update()

    def set_enabled(self, enabled: bool) -> None:
        """Presentation states on or off in this viewport (the "PS" button)."""
        self.enabled = enabled
        if self.toggle.isChecked() != enabled:
            self.toggle.setChecked(enabled)
        self.combo.setEnabled(enabled)
        self.update()

    def _picked(self, index: int) -> None:
        if 0 <= index < len(self._offered):
            self.choose(self._offered[index])

    def _fill_selector(self, offered: list[PresentationState], current: PresentationState | None) -> None:
        if [s.sop_instance_uid for s in offered] != [s.sop_instance_uid for s in self._offered]:
            self.combo.blockSignals(True)
            self.combo.clear()
            for state in offered:
                self.combo.addItem(state.title())
            self.combo.blockSignals(False)
            self._offered = offered
        if current is not None and current in offered:
            self.combo.setCurrentIndex(offered.index(current))
        self.selector.setVisible(bool(offered))
        if offered:
            self.selector.adjustSize()
            self._place_selector()
            self.selector.raise_()

    def _place_selector(self) -> None:
        """At the top, just right of the middle: the top orientation marker keeps the middle itself."""
        pane = self.viewport.pane
        marker = pane.marker_labels["top"]
        gap = (marker.width() // 2 + 8) if marker.isVisible() else -self.selector.width() // 2
        self.selector.move(max(0, min(pane.width() // 2 + gap, pane.width() - self.selector.width() - 4)), 4)

    def eventFilter(self, watched, event):
        if event.type() == event.Type.Resize and self.selector.isVisible():
            self._place_selector()
        return False

    # -- applying -------------------------------------------------------------------------
    def update(self) -> None:
        """Follow the image shown: offer its states and apply the chosen one where it references the image and frame."""
        offered = self.offered()
        self._fill_selector(offered, self._chosen(offered))
        ref = self.viewport.current
        chosen = self._state_for(ref) if offered else None
        if chosen is None:
            self._clear()
            return
        self._apply(chosen, ref)

    def _apply(self, state: PresentationState, ref) -> None:
        self.viewport.show_again()  # through this state's Modality LUT (another was chosen, or it was off)
        viewport, pane, frame = self.viewport, self.viewport.pane, self.viewport.frame
        self._apply_display(state, ref)
        if pane.built_view_box() is None:
            return  # the rest once the view is built (_view_built)
        uid, number = ref.instance.sop_instance_uid, ref.frame + 1
        rows, columns = frame.shape
        # The turn and flip, then the displayed area.
        transform_key = (state.rotation, state.flip, rows, columns)
        if transform_key != self._transform_key:
            self._transform_key = transform_key
            pane.set_image_transform(image_transform(state, rows, columns))
            viewport.spatial_transform = SpatialTransform(state.rotation // 90, state.flip)
            viewport.update_annotations()
        geometry = state_geometry(state, rows, columns, uid, number)
        if self._area_for != (state.sop_instance_uid, rows, columns):
            self._area_for = (state.sop_instance_uid, rows, columns)
            self._show_area(state, geometry, uid, number)
        # Shutters and graphics: items made once per image and state.
        key = (state.sop_instance_uid, uid, number, rows, columns)
        if key != self._key:
            self._remove_items()
            self._key = key
            view_box = pane.built_view_box()
            to_view = image_transform(state, rows, columns)
            self._items = shutter_items(state, rows, columns, to_view) + overlay_items(state, to_view)
            self._items += graphic_items(state, geometry, uid, number, to_view)
            for item in self._items:
                view_box.addItem(item, ignoreBounds=True)

    def _apply_display(self, state: PresentationState, ref) -> None:
        """The grey levels: through the display state, unless the user has chosen a window since."""
        viewport = self.viewport
        self.applied = state
        kept = self._state_frame(state, ref, viewport.stored_frame) if viewport.stored_frame is not None else None
        if kept is None:
            return  # colour, or LUTs that cannot be applied: the image's own grey levels
        voi = kept[2]
        invert = state.presentation_lut_shape == "INVERSE"  # the frame shown is MONOCHROME2 (state_context)
        display = viewport.display.state
        changes = {}
        if voi is not None and display.voi in (None, self._voi_set) and display.voi != voi:
            changes["voi"] = voi
        if display.invert != invert and (self._invert_set is None or display.invert == self._invert_set):
            changes["invert"] = invert
        self._voi_set = voi if voi is not None else self._voi_set
        self._invert_set = invert
        if changes:
            viewport.display.update(**changes)

    def _show_area(self, state: PresentationState, geometry: StateGeometry, uid: str, frame: int) -> None:
        """The displayed area (C.10.4): fitted to the pane, at true size, or magnified, centred."""
        pane = self.viewport.pane
        area = state.area_for(uid, frame)
        parent = pane.image_parent()
        if area is None or parent is None:
            return
        x0, y0, x1, y1 = geometry.bounds
        rows, columns = self.viewport.frame.shape
        whole = (x0, y0, x1, y1) == (0, 0, columns, rows)
        if area.mode == "SCALE TO FIT" and whole:
            pane.fit()
            return
        rect = parent.mapRectToParent(QRectF(x0, y0, x1 - x0, y1 - y0))
        pane.view_box.setRange(rect, padding=0.0)
        pane.fitted = False
        if area.mode == "MAGNIFY":
            pane.set_zoom(area.magnification)
        elif area.mode == "TRUE SIZE" and area.pixel_spacing:
            screen = pane.screen()
            dpi = screen.physicalDotsPerInchX() if screen is not None else 96.0
            pane.set_zoom(area.pixel_spacing[1] / (25.4 / max(dpi, 1.0)) / max(pane.devicePixelRatioF(), 1.0))

    # -- taking it off --------------------------------------------------------------------
    def _remove_items(self) -> None:
        view_box = self.viewport.pane.built_view_box()
        for item in self._items:
            if view_box is not None and item.scene() is not None:
                view_box.removeItem(item)
        self._items = []
        self._key = None

    def _clear(self) -> None:
        """No state on this image: the image's own window, polarity and geometry again (unless the user changed them)."""
        self._remove_items()
        self.applied = None
        viewport = self.viewport
        viewport.show_again()  # through the image's own Modality LUT
        display = viewport.display.state
        changes = {}
        if self._voi_set is not None and display.voi == self._voi_set:
            changes["voi"] = None
        if self._invert_set is not None and display.invert == self._invert_set and viewport.frame is not None:
            changes["invert"] = False
        self._voi_set = self._invert_set = None
        if changes:
            viewport.display.update(**changes)
        if self._transform_key is not None:
            self._transform_key = None
            viewport.pane.set_image_transform(None)
            viewport.spatial_transform = SpatialTransform()
            viewport.update_annotations()
        if self._area_for is not None:
            self._area_for = None
            viewport.pane.fit()

    def _hide_all(self) -> None:
        self._clear()
        self.selector.hide()

    # -- for tests and tools --------------------------------------------------------------
    @property
    def items(self) -> list[QGraphicsItem]:
        """The items drawn for the state on the image shown."""
        return list(self._items)


def _labelled(voi: VOI) -> VOI:
    """The state's VOI named as the Window box and the Display pipeline dock say it ("presentation state" unnamed)."""
    if isinstance(voi, Window) and not voi.explanation:
        return Window(voi.center, voi.width, voi.function, "presentation state", voi.source)
    if isinstance(voi, VOILut) and not voi.explanation:
        return VOILut(voi.index, "presentation state")
    return voi


def attach(viewport, states: PresentationStates) -> PresentationLayer:
    """Give `viewport` its presentation-state layer (kept as ``viewport.presentation``)."""
    layer = PresentationLayer(viewport, states)
    viewport.presentation = layer
    viewport.frame_view = layer.frame_view
    return layer


def install(window) -> PresentationStates:
    """Presentation states for the whole window: found while opening, a layer on every viewport (now and later)."""
    states = PresentationStates(window.runner, window)
    window.presentation_states = states
    window.opener.series_changed.connect(states.add_series)
    window.opener.others_found.connect(states.add_found)
    window.opener.problems_found.connect(states.add_found)  # files opened by name: their "no image" line
    states.problems.connect(window.problems_dock.add)
    for viewport in window.viewports:
        attach(viewport, states)
    window.viewports.viewport_added.connect(lambda viewport: attach(viewport, states))
    return states
