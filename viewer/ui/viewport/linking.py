"""Linking between viewports: scroll, window/level, zoom/pan, reference lines and the cross-reference cursor.

A :class:`LinkController` is a listener between the viewports' display
states (STYLE.md: "Linking is a listener between viewports' states, not
code inside a viewport"). It is given the window's
:class:`~viewer.ui.viewport.viewport_layout.ViewportLayout` (or any iterable of
viewports and a way to tell the active one) and finds the viewports in it
as they come, so layouts may add and remove them.

* **Linked scrolling**: when a viewport moves to another image, every other
  viewport whose series is parallel to it moves to the image at the same
  position along the slice normal (:func:`~viewer.core.display.linking.linked_index`):
  as they are for series of one Frame of Reference, by the offset recorded
  with :meth:`LinkController.link_with_offset` for series of different ones.
  Where that series has no image within half its spacing, the viewport keeps
  its image and says "No linked slice here". A series newly shown in another
  viewport starts at the active viewport's position.
* **Linked window/level** gives the window set in one viewport to every
  other showing the same modality (a CT window means nothing on an MR);
  **linked zoom/pan** gives the others the active viewport's magnification
  (screen pixels per millimetre where the pixel spacing is known) and
  centre, as a fraction of the image.
* **Reference lines**: the active viewport's image plane drawn on every other
  viewport's image it crosses (:func:`~viewer.core.display.reference_lines.reference_line`),
  and, as an option, the active series' first and last slices.
* **Cross-reference cursor**: Shift+click a point of an image; every other
  viewport in its Frame of Reference (or linked by an offset) shows the image
  nearest that point (:func:`~viewer.core.display.reference_lines.cursor_target`),
  and the point is marked there for :data:`MARK_SECONDS`.

Changes made by the controller itself are not passed on again (one guard),
so linking never loops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, QTimer

from viewer.core.display.image_plane import ImagePlane, series_planes
from viewer.core.display.linking import LINK_COSINE, SliceStack, link_offset, linked_index, slice_stack
from viewer.core.display.reference_lines import ReferenceLine, cursor_target, first_and_last_lines, reference_line
from viewer.core.display.view_state import DisplayState
from viewer.core.media.model import Series
from viewer.ui.viewport.reference_overlay import ReferenceOverlay
from viewer.ui.viewport.viewport import Viewport

#: How long the cross-reference cursor's mark stays.
MARK_SECONDS = 1.5
#: Reference lines kept for pairs of images met again (a few series scrolled through).
LINES_KEPT = 20_000


@dataclass
class _Geometry:
    """The planes and slice stack of the series a viewport shows (read once per series and image count)."""

    series: Series
    count: int
    planes: list[ImagePlane | None]
    stack: SliceStack | None


class LinkController(QObject):
    """Links the viewports of `viewports` (a ViewportLayout, or an iterable of Viewports).

    `active` tells the active viewport; by default the layout's ``active``
    attribute, else the first viewport. Each link is switched by an
    attribute's setter (``set_scroll_linked`` and so on); see the module's
    description for what each does.
    """

    def __init__(self, viewports: Iterable[Viewport], active: Callable[[], Viewport] | None = None, parent: QObject | None = None):
        # With the layout as parent by default: the controller, its timer and its marks go with the viewports.
        super().__init__(parent if parent is not None or not isinstance(viewports, QObject) else viewports)
        self._source = viewports
        if active is None:
            active = (lambda: viewports.active) if hasattr(viewports, "active") else (lambda: next(iter(self._source), None))
        self._active_of = active
        self.scroll_linked = True
        self.window_linked = False
        self.zoom_linked = False
        self.reference_lines = True
        self.first_last_lines = False
        #: (series of the viewport moved, series of the one following) -> offset in mm (link_offset).
        self.offsets: dict[tuple[Series, Series], float] = {}
        self.overlays: dict[Viewport, ReferenceOverlay] = {}
        self._geometry: dict[Viewport, _Geometry] = {}
        self._lines: dict[tuple[ImagePlane, ImagePlane], ReferenceLine | None] = {}
        self._busy = False  # the controller is moving viewports itself: nothing is passed on
        self._last_active: Viewport | None = None
        self._clicks_heard: set[Viewport] = set()
        self.mark_timer = QTimer(self)
        self.mark_timer.setSingleShot(True)
        self.mark_timer.setInterval(int(MARK_SECONDS * 1000))
        self.mark_timer.timeout.connect(self.clear_marks)
        changed = getattr(viewports, "active_changed", None)
        if changed is not None:  # a layout that says when another viewport becomes active
            changed.connect(lambda *_args: self.refresh_lines())
        reshaped = getattr(viewports, "shape_changed", None)
        if reshaped is not None:  # a new layout: follow its viewports at once
            reshaped.connect(lambda *_args: self.discover())
        self.discover()

    # ------------------------------------------------------------------ the viewports
    def viewports(self) -> list[Viewport]:
        """The viewports now in the layout, following any new ones."""
        found = list(self._source)
        for viewport in found:
            if viewport not in self.overlays:
                self._attach(viewport)
        return found

    @property
    def active(self) -> Viewport | None:
        return self._active_of()

    def discover(self) -> None:
        """Follow viewports added since (a new layout): call when the layout changes (or any image is shown)."""
        before = len(self.overlays)
        self.viewports()
        if len(self.overlays) != before:
            self.refresh_lines()

    def _attach(self, viewport: Viewport) -> None:
        self.overlays[viewport] = ReferenceOverlay(viewport.pane)
        viewport.display.subscribe(lambda state, changed, viewport=viewport: self._display_changed(viewport, state, changed))
        viewport.image_shown.connect(lambda viewport=viewport: self._image_shown(viewport))
        viewport.pane.view_changed.connect(lambda viewport=viewport: self._view_changed(viewport))
        viewport.pane.rendered.connect(lambda viewport=viewport: self._hook_clicks(viewport))
        self._hook_clicks(viewport)

    def _hook_clicks(self, viewport: Viewport) -> None:
        """Listen to clicks on the viewport's image once its pyqtgraph view exists."""
        view_box = viewport.pane.built_view_box()
        if view_box is None or viewport in self._clicks_heard:
            return
        self._clicks_heard.add(viewport)
        view_box.scene().sigMouseClicked.connect(lambda event, viewport=viewport: self._clicked(viewport, event))
        viewport.pane.image_surface().installEventFilter(self)

    def eventFilter(self, watched, event):
        # A press in a viewport may make it the active one (the layout decides): redraw the lines after it has.
        if event.type() == QEvent.Type.MouseButtonPress:
            QTimer.singleShot(0, self._check_active)
        return False

    def _check_active(self) -> None:
        if self.active is not self._last_active:
            self.refresh_lines()

    def geometry(self, viewport: Viewport) -> _Geometry | None:
        """The planes and stack of the viewport's series (None when it shows none)."""
        series = viewport.current_series
        if series is None or not viewport.images:
            return None
        known = self._geometry.get(viewport)
        if known is None or known.series is not series or known.count != len(viewport.images):
            planes = series_planes(series)
            known = _Geometry(series, len(viewport.images), planes, slice_stack(planes))
            self._geometry[viewport] = known
        return known

    def plane(self, viewport: Viewport) -> ImagePlane | None:
        """The plane of the image the viewport shows (None when unknown)."""
        geometry = self.geometry(viewport)
        index = viewport.display.state.index
        return geometry.planes[index] if geometry is not None and 0 <= index < len(geometry.planes) else None

    # ------------------------------------------------------------------ switches
    def set_scroll_linked(self, on: bool) -> None:
        """Linked scrolling on or off; switched on, the others follow the active viewport at once."""
        self.scroll_linked = on
        if on and self.active is not None:
            self.follow(self.active)
        elif not on:
            for overlay in (self.overlays[viewport] for viewport in self.viewports()):
                overlay.set_unlinked(False)

    def set_window_linked(self, on: bool) -> None:
        """Linked window/level on or off; switched on, the others take the active viewport's window."""
        self.window_linked = on
        if on and self.active is not None:
            self._share_window(self.active)

    def set_zoom_linked(self, on: bool) -> None:
        """Linked zoom and pan on or off; switched on, the others take the active viewport's."""
        self.zoom_linked = on
        if on and self.active is not None:
            self._share_view(self.active)

    def set_reference_lines(self, on: bool) -> None:
        self.reference_lines = on
        self.refresh_lines()

    def set_first_last_lines(self, on: bool) -> None:
        self.first_last_lines = on
        self.refresh_lines()

    def link_with_offset(self) -> int:
        """Link series of different Frames of Reference as they are shown now; switches linked scrolling on.

        For every two viewports whose series are in different (or unstated)
        Frames of Reference, the offset between their images' centres along
        the moved one's normal (:func:`~viewer.core.display.linking.link_offset`)
        is kept, for these two series, until the offset is set again. Returns
        how many pairs of series got an offset.
        """
        shown = [(viewport, self.plane(viewport)) for viewport in self.viewports()]
        shown = [(viewport, plane) for viewport, plane in shown if plane is not None]
        pairs = 0
        for moved, moved_plane in shown:
            for other, other_plane in shown:
                if other is moved or _same_frame(moved_plane.frame_of_reference, other_plane.frame_of_reference):
                    continue
                self.offsets[(moved.current_series, other.current_series)] = link_offset(moved_plane, other_plane)
                pairs += 1
        self.scroll_linked = True
        return pairs // 2

    # ------------------------------------------------------------------ what the viewports tell
    def _display_changed(self, viewport: Viewport, state: DisplayState, changed: set[str]) -> None:
        if self._busy or viewport not in self.viewports():
            return
        if len(changed) == len(DisplayState.__dataclass_fields__):
            # Another series shown (a reset): it does not move the others, but joins the active one's position and window.
            active = self.active
            if active is not None and active is not viewport:
                self._busy = True
                try:
                    if self.scroll_linked:
                        self._move(active, viewport)
                    if self.window_linked and _same_modality(active, viewport):
                        viewport.display.update(voi=active.display.state.voi)
                finally:
                    self._busy = False
            return
        if "index" in changed and self.scroll_linked:
            self.follow(viewport)
        if "voi" in changed and self.window_linked:
            self._share_window(viewport)

    def _image_shown(self, viewport: Viewport) -> None:
        if viewport is self.active:
            self.refresh_lines()
        elif self.reference_lines or self.first_last_lines:
            self._draw_lines(viewport, self.active)

    def _view_changed(self, viewport: Viewport) -> None:
        # From the active viewport only: another one's view also changes when a new series in it is fitted.
        if not self._busy and self.zoom_linked and viewport is self.active:
            self._share_view(viewport)

    def _clicked(self, viewport: Viewport, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return
        if viewport.frame is None:
            return
        point = viewport.pane.image_point_at(event.scenePos())  # the image's pixel there, however a state turns it
        self.cross_reference(viewport, point.x() - 0.5, point.y() - 0.5)  # pixel square to image point (reference_overlay)

    # ------------------------------------------------------------------ linked scrolling
    def linked_image(self, moved: Viewport, other: Viewport) -> tuple[bool, int | None]:
        """(whether `other` links to `moved` at all, the image it should show or None for "no slice here")."""
        mine, theirs = self.geometry(moved), self.geometry(other)
        if mine is None or theirs is None or mine.stack is None or theirs.stack is None:
            return False, None
        offset = self.offsets.get((mine.series, theirs.series))
        same = _same_frame(mine.stack.frame_of_reference, theirs.stack.frame_of_reference)
        if not same and offset is None:
            return False, None
        if abs(float(mine.stack.normal @ theirs.stack.normal)) < LINK_COSINE:
            return False, None  # an axial and a sagittal: the reference line shows where they cross
        return True, linked_index(mine.stack, moved.display.state.index, theirs.stack, None if same else offset)

    def follow(self, moved: Viewport) -> None:
        """Move every other viewport to the image at `moved`'s position (linked scrolling)."""
        self._busy = True
        try:
            for other in self.viewports():
                if other is not moved:
                    self._move(moved, other)
            self.overlays[moved].set_unlinked(False)
        finally:
            self._busy = False

    def _move(self, moved: Viewport, other: Viewport) -> None:
        linked, index = self.linked_image(moved, other)
        self.overlays[other].set_unlinked(linked and index is None)
        if index is not None:
            other.go_to(index)

    # ------------------------------------------------------------------ window and zoom
    def _share_window(self, moved: Viewport) -> None:
        voi = moved.display.state.voi
        self._busy = True
        try:
            for other in self.viewports():
                if other is not moved and _same_modality(moved, other):
                    other.display.update(voi=voi)
        finally:
            self._busy = False

    def _share_view(self, moved: Viewport) -> None:
        """The others at `moved`'s magnification (per mm where known) and centre (as a fraction of the image)."""
        frame = moved.frame
        view_box = moved.pane.built_view_box()
        if frame is None or view_box is None:
            return
        rect = view_box.viewRect()
        rows, columns = frame.shape
        shown = moved.pane.image_parent().mapFromParent(rect.center())  # in the image, however a presentation state turns it
        centre = (shown.x() / columns, shown.y() / rows)
        mm_per_screen_pixel = rect.width() / max(1.0, view_box.width()) * self._column_spacing(moved)
        self._busy = True
        try:
            for other in self.viewports():
                if other is moved or other.frame is None or other.pane.built_view_box() is None:
                    continue
                if moved.pane.fitted:
                    other.pane.fit()
                    continue
                other_box = other.pane.built_view_box()
                other_rows, other_columns = other.frame.shape
                per_pixel = mm_per_screen_pixel / self._column_spacing(other)
                width, height = per_pixel * other_box.width(), per_pixel * other_box.height()
                at = other.pane.image_parent().mapToParent(QPointF(centre[0] * other_columns, centre[1] * other_rows))
                x, y = at.x(), at.y()
                other.pane.fitted = False
                other_box.setRange(QRectF(x - width / 2, y - height / 2, width, height), padding=0.0)
        finally:
            self._busy = False

    def _column_spacing(self, viewport: Viewport) -> float:
        """Millimetres between columns of the viewport's image; 1 when not known (zoom is then linked per pixel)."""
        plane = self.plane(viewport)
        return plane.spacing[1] if plane is not None else 1.0

    # ------------------------------------------------------------------ reference lines
    def refresh_lines(self) -> None:
        """Draw the active viewport's reference lines on every other viewport (and none on it)."""
        active = self.active
        self._last_active = active
        for viewport in self.viewports():
            if viewport is active:
                self.overlays[viewport].show_lines(None)
            else:
                self._draw_lines(viewport, active)

    def _draw_lines(self, viewport: Viewport, active: Viewport | None) -> None:
        target = self.plane(viewport) if viewport.frame is not None else None
        source = self.plane(active) if active is not None and active is not viewport else None
        if target is None or source is None:
            self.overlays[viewport].show_lines(None)
            return
        line = self._line(source, target) if self.reference_lines else None
        first = last = None
        if self.first_last_lines:
            geometry = self.geometry(active)
            first, last = first_and_last_lines(geometry.planes, target) if geometry is not None else (None, None)
        self.overlays[viewport].show_lines(line, first, last)

    def _line(self, source: ImagePlane, target: ImagePlane):
        """:func:`reference_line`, kept per pair of planes: scrolling back and forth meets the same pairs again."""
        key = (source, target)  # planes compare by identity, and are kept as long as their series is shown
        if key not in self._lines:
            if len(self._lines) >= LINES_KEPT:
                self._lines.clear()
            self._lines[key] = reference_line(source, target)
        return self._lines[key]

    # ------------------------------------------------------------------ cross-reference cursor
    def cross_reference(self, clicked: Viewport, column: float, row: float) -> dict[Viewport, int]:
        """Take image point (column, row) of `clicked` to every other viewport; returns where each went.

        Each other viewport shows its image nearest the point (in its Frame of
        Reference, or moved by the offset of :meth:`link_with_offset`) and the
        point is marked on it, where it falls on the image, and on `clicked`.
        """
        plane = self.plane(clicked)
        if plane is None:
            return {}
        point = plane.patient_point(column, row)
        moved_to: dict[Viewport, int] = {}
        self._busy = True
        try:
            self.overlays[clicked].set_mark((column, row))
            for other in self.viewports():
                geometry = self.geometry(other) if other is not clicked else None
                if geometry is None:
                    continue
                target = self._cursor_target(clicked, geometry, point, plane)
                if target is None:
                    continue
                other.go_to(target.index)
                moved_to[other] = target.index
                self.overlays[other].set_mark((target.column, target.row) if target.on_image else None)
        finally:
            self._busy = False
        self.mark_timer.start()
        return moved_to

    def _cursor_target(self, clicked: Viewport, geometry: _Geometry, point: np.ndarray, plane: ImagePlane):
        offset = self.offsets.get((clicked.current_series, geometry.series))
        frame = plane.frame_of_reference
        if offset is not None and geometry.stack is not None and not _same_frame(frame, geometry.stack.frame_of_reference):
            # Linked by an offset: the same anatomy lies `offset` mm further along the clicked image's normal.
            point, frame = point + offset * plane.normal, geometry.stack.frame_of_reference
        return cursor_target(point, frame, geometry.planes)

    def clear_marks(self) -> None:
        """The cross-reference marks go (the timer's end)."""
        for overlay in (self.overlays[viewport] for viewport in self.viewports()):
            overlay.set_mark(None)


def _same_modality(first: Viewport, second: Viewport) -> bool:
    """Whether both show a series of one (0008,0060) *Modality*: a window in HU means nothing on an MR."""
    return (
        first.current_series is not None
        and second.current_series is not None
        and first.current_series.modality == second.current_series.modality
    )


def _same_frame(first: str, second: str) -> bool:
    """One (0020,0052) *Frame of Reference UID*, stated in both (PS3.3 C.7.4.1.1.1)."""
    return bool(first) and first == second
