"""The MPR workspace: axial, coronal and sagittal reformats of one series, with a crosshair.

It takes the place of the viewports (:mod:`viewer.ui.viewport.mpr_mode` swaps them)
and shows the series of the active viewport as a volume
(:func:`~viewer.core.display.volume.volume_from_files`, built in the
background; "Building volume..." meanwhile) in three
:class:`~viewer.ui.viewport.mpr_pane.MprPane`, laid out 1x3 or 2x2 (the fourth
cell then says what the volume is and where the point is).

One 3-D point, a voxel ``(k, i, j)`` of the volume, is the workspace's
state: each plane shows the slice through it
(:func:`~viewer.core.display.mpr.crosshair`) with its crosshair on it; a
click or a crosshair drag in a plane moves it there
(:func:`~viewer.core.display.mpr.voxel_at`) and the other planes follow;
the wheel and the arrow keys move it along the plane's normal. The slab
(thickness in mm, MIP, MinIP or average) applies to all three planes.

The window is the viewport's (its display model's VOI and inversion, as the
viewport shows them): dragging in any plane sets the viewport's window, and
every change of it (a drag, a preset, Invert, Reset) repaints the three planes,
so the series keeps its window when the workspace is left. A series that is not a
volume gets :class:`~viewer.core.display.stack_geometry.NotAVolume`'s
one line where the planes would be.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedLayout,
    QVBoxLayout,
    QWidget,
)

from viewer.core.dicom.io import ViewerError
from viewer.core.display.frames import frame_with_time_limit
from viewer.core.display.mpr import (
    PLANE_AXIS,
    PLANES,
    automatic_window,
    crosshair,
    display_context,
    pixel_spacing,
    plane_label,
    reformat,
    slab_range,
    slice_count,
    voxel_at,
)
from viewer.core.display.pixels.pipeline import VOI, FrameDisplay, FullRange, Window, describe_voi, modality_unit
from viewer.core.display.series_volume import series_files
from viewer.core.display.volume import Volume, VolumeImage, stored_values, volume_from_files
from viewer.core.media.model import ImageRef, Series
from viewer.core.runtime.tasks import Cancelled, CancelToken
from viewer.core.runtime.wording import count
from viewer.ui.viewport.mpr_pane import PLANE_COLORS, MprPane
from viewer.ui.viewport.viewport import DRAG_SENSITIVITY, Viewport
from viewer.ui.window.settings_store import settings
from viewer.ui.window.workers import BackgroundRunner

LAYOUTS = ("1x3", "2x2")
#: Where each plane goes in each layout (row, column); the 2x2's fourth cell holds the facts.
_CELLS = {
    "1x3": {"axial": (0, 0), "coronal": (0, 1), "sagittal": (0, 2)},
    "2x2": {"axial": (0, 0), "coronal": (0, 1), "sagittal": (1, 0)},
}
MODE_NAMES = {"mip": "MIP", "minip": "MinIP", "avg": "Average"}
#: Slab thickness the spin box allows (mm); 0 is "off", the slice alone.
MAX_SLAB_MM = 200.0
#: The keys the workspace takes from the window's shortcuts while it has the focus.
_KEYS = {
    Qt.Key.Key_Up: -1,
    Qt.Key.Key_Left: -1,
    Qt.Key.Key_Down: 1,
    Qt.Key.Key_Right: 1,
    Qt.Key.Key_PageUp: -10,
    Qt.Key.Key_PageDown: 10,
}
#: Keys the workspace answers itself: Fit (F) and Reset (R) act on its three planes, not on the hidden viewport's.
_OWN_KEYS = (Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_Escape, Qt.Key.Key_F, Qt.Key.Key_R)
BUILDING = "Building volume…"


def _caption(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #d0d0d0;")  # on the workspace's black, whatever the theme
    return label


class MprWorkspace(QWidget):
    """Three planes of one series' volume (see the module's description).

    Signals: ``leave_requested()`` (Escape, the Back button), ``ready()`` once
    the planes are shown, ``refused(message)`` when the series is not a volume
    (or cannot be read), ``point_changed()`` after the 3-D point moved.
    """

    leave_requested = Signal()
    ready = Signal()
    refused = Signal(str)
    point_changed = Signal()
    readout = Signal(str)  # the voxel under the mouse and its value, for the status bar ('' outside the planes)

    def __init__(self, runner: BackgroundRunner, series: Series, viewport: Viewport, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner, self.series, self.viewport = runner, series, viewport
        self.image_count = series.image_count  # the images the volume is built of (more may arrive while files are read)
        self.volume: Volume | None = None
        self.point: tuple[int, int, int] = (0, 0, 0)
        self.slab_mm = 0.0
        self.mode = "mip"
        self.active_plane = "axial"
        self.message = ""
        self._cancel = CancelToken()
        self._ctx = None
        self._unit = ""
        self._default_voi: VOI | None = None
        self._range = (0.0, 1.0)
        self._shown_index: dict[str, int] = {}
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet("MprWorkspace { background: black; }")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

        bar = QHBoxLayout()
        bar.setContentsMargins(6, 3, 6, 3)
        self._series_label = series.label()  # rebuilt from the headers on each call: once here
        self.title = QLabel(f"MPR  {self._series_label}")
        self.title.setStyleSheet("color: #d0d0d0;")
        self.layout_combo = QComboBox()
        self.layout_combo.addItems(LAYOUTS)
        self.layout_combo.setToolTip("Layout of the three planes")
        self.slab_spin = QDoubleSpinBox()
        self.slab_spin.setRange(0.0, MAX_SLAB_MM)
        self.slab_spin.setDecimals(1)
        self.slab_spin.setSingleStep(1.0)
        self.slab_spin.setSuffix(" mm")
        self.slab_spin.setSpecialValueText("off")
        self.slab_spin.setToolTip("Slab thickness (mm) on all three planes; 'off' shows the slice alone")
        self.mode_combo = QComboBox()
        for mode, name in MODE_NAMES.items():
            self.mode_combo.addItem(name, mode)
        self.mode_combo.setToolTip("How the slab's slices combine: maximum (MIP), minimum (MinIP) or mean")
        self.back_button = QPushButton("Back to images (Esc)")
        self.mode_combo.setEnabled(False)  # until there is a slab
        bar.addWidget(self.title, 1)
        bar.addWidget(_caption("Layout"))
        bar.addWidget(self.layout_combo)
        bar.addSpacing(12)
        bar.addWidget(_caption("Slab"))
        bar.addWidget(self.slab_spin)
        bar.addWidget(self.mode_combo)
        bar.addSpacing(12)
        bar.addWidget(self.back_button)
        for widget in (self.layout_combo, self.slab_spin, self.mode_combo, self.back_button):
            widget.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

        self.message_label = QLabel(BUILDING)
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #c8c8c8; background: black; font-size: 14px;")
        self.panes = {plane: MprPane(plane) for plane in PLANES}
        self.facts = QLabel("")
        self.facts.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: #d0d0d0; background: black; padding: 12px;")
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        grid_widget = QWidget()
        self.grid = QGridLayout(grid_widget)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(2)
        pages = QWidget()
        self.stack = QStackedLayout(pages)  # with its widget at once: a page added to a lone stack shows as a window
        self.stack.addWidget(self.message_label)
        self.stack.addWidget(grid_widget)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addLayout(bar)
        column.addWidget(pages, 1)

        for pane in self.panes.values():
            pane.point_picked.connect(self.pick)
            pane.step_requested.connect(self.step)
            pane.window_dragged.connect(self._window_dragged)
            pane.hovered.connect(self.set_active_plane)
            pane.cursor_moved.connect(self._cursor_moved)
            pane.activated.connect(lambda plane: (self.set_active_plane(plane), self._take_keys()))
        saved = str(settings().value("mpr/layout", "1x3"))
        self.set_layout(saved if saved in LAYOUTS else "1x3")
        self.layout_combo.currentTextChanged.connect(self.set_layout)
        self.slab_spin.valueChanged.connect(lambda value: self.set_slab(value, self.mode))
        self.mode_combo.currentIndexChanged.connect(lambda _i: self.set_slab(self.slab_spin.value(), self.mode_combo.currentData()))
        self.back_button.clicked.connect(self.leave_requested)
        self.set_active_plane("axial")

    # ------------------------------------------------------------------ the volume, in the background
    def start(self) -> None:
        """Build the volume in the background; the planes show when it is done."""
        self._show_message(BUILDING)
        try:
            files = series_files(self.series)  # sorts the series: here, on the GUI thread
        except ViewerError as exc:
            self._refuse(str(exc))
            return
        cancel = self._cancel
        load = self._frame_loader()

        def build() -> tuple[Volume, tuple[float, float]]:
            # Uncompressed: read straight into the volume, while the headers are read (the core's fastest path);
            # compressed: the window's frames.
            volume = volume_from_files(files, cancel=cancel, load=load)
            cancel.check()
            # The value range, for the window drag's step (as the viewport's: a fraction of it).
            return volume, (float(np.min(volume.voxels)), float(np.max(volume.voxels)))

        def failed(error: BaseException) -> None:
            if cancel.cancelled or isinstance(error, Cancelled):
                return
            self._refuse(str(error) if isinstance(error, ViewerError) else f"the volume cannot be built: {error}")

        self.runner.submit("mpr-volume", build, lambda result: None if cancel.cancelled else self.set_volume(*result), failed)

    def _frame_loader(self) -> Callable[[VolumeImage], np.ndarray]:
        """Stored values of an image through the window's frame source: compressed frames the viewport has
        decoded already come from its cache, the others are decoded in a worker process with a time limit,
        as the viewport's own (several at once: the volume is read by a few threads)."""
        source = self.viewport.source
        instances = {instance.path: instance for instance in self.series.instances if instance.available}

        def load(image: VolumeImage) -> np.ndarray:
            instance = instances.get(image.path)
            if instance is None:
                return stored_values(image)
            ref = ImageRef(instance, image.frame)
            return frame_with_time_limit(source, ref).stored

        return load

    def stop(self) -> None:
        """Cancel the build (leaving, closing) and let go of the volume."""
        self._cancel.cancel()
        self.volume = None

    def _refuse(self, message: str) -> None:
        self.message = f"MPR is not possible for this series: {message}"
        self._show_message(self.message)
        self.refused.emit(self.message)

    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.stack.setCurrentIndex(0)

    def set_volume(self, volume: Volume, value_range: tuple[float, float] = (0.0, 1.0)) -> None:
        """Show `volume`, its point at the viewport's image (the middle of the other two axes)."""
        self.volume = volume
        self._range = value_range
        self._ctx = display_context(volume)
        self._unit = modality_unit(volume.context)
        self.point = self._start_point(volume)
        # Said where every layout shows it: the planes were resampled (tilt) or are the acquisition's own (oblique).
        self.title.setText("  ·  ".join([f"MPR  {self._series_label}", *volume.notes]))
        self.title.setToolTip("\n".join(volume.notes))
        first, _ = reformat(volume, "axial", self.point[0])
        frame = FrameDisplay(first, self._ctx)
        self._default_voi = frame.default_voi(automatic_window(volume) if frame.uses_automatic_window() else None)
        for plane, pane in self.panes.items():
            rows_mm, columns_mm = self._spacing(plane)
            pane.set_pixel_spacing((rows_mm, columns_mm))
        self.stack.setCurrentIndex(1)
        self._shown_index = {}
        self._update(set(PLANES))
        self._take_keys()
        self.ready.emit()

    def _spacing(self, plane: str) -> tuple[float, float]:
        assert self.volume is not None
        return pixel_spacing(self.volume, plane)

    def _start_point(self, volume: Volume) -> tuple[int, int, int]:
        """The middle of the volume, at the slice of the viewport's image along the acquisition's axis."""
        point = [n // 2 for n in volume.voxels.shape]
        ref = self.viewport.current
        try:
            position = ref.instance.header.ImagePositionPatient if ref is not None and ref.instance.frames == 1 else None
            if position is not None:
                axis = volume.acquisition_axis
                index = int(round(float(volume.index_of([float(v) for v in position])[axis])))
                point[axis] = min(volume.voxels.shape[axis] - 1, max(0, index))
        except (AttributeError, TypeError, ValueError, np.linalg.LinAlgError):
            pass  # no usable position: the middle
        return tuple(point)

    # ------------------------------------------------------------------ the point
    def plane_index(self, plane: str) -> int:
        """The slice of `plane` shown (from 0)."""
        return self.point[PLANE_AXIS[plane]]

    def set_point(self, voxel: tuple[int, int, int]) -> None:
        """Move the 3-D point to `voxel` (clipped to the volume): the planes through it, the crosshairs on it."""
        if self.volume is None:
            return
        shape = self.volume.voxels.shape
        voxel = tuple(int(min(n - 1, max(0, v))) for v, n in zip(voxel, shape))
        if voxel == self.point:
            return
        self.point = voxel
        self._update({plane for plane in PLANES if self._shown_index.get(plane) != self.plane_index(plane)})
        self.point_changed.emit()

    def pick(self, plane: str, row: int, column: int) -> None:
        """The point at (row, column) of `plane`'s image (a click or a crosshair drag)."""
        if self.volume is not None:
            self.set_point(voxel_at(self.volume, plane, self.plane_index(plane), row, column))

    def step(self, plane: str, delta: int) -> None:
        """Move the point `delta` slices along `plane`'s normal."""
        if self.volume is None:
            return
        voxel = list(self.point)
        voxel[PLANE_AXIS[plane]] += delta
        self.set_active_plane(plane)
        self.set_point(tuple(voxel))

    def go_to(self, plane: str, index: int) -> None:
        """Slice `index` (from 0) of `plane`."""
        voxel = list(self.point)
        voxel[PLANE_AXIS[plane]] = index
        self.set_point(tuple(voxel))

    def set_active_plane(self, plane: str) -> None:
        self.active_plane = plane
        for name, pane in self.panes.items():
            pane.set_active(name == plane)

    # ------------------------------------------------------------------ slab and layout
    def set_slab(self, slab_mm: float, mode: str) -> None:
        """A slab `slab_mm` thick (0: none) combined by `mode` ('mip', 'minip', 'avg') on all three planes."""
        self.slab_mm, self.mode = float(slab_mm), mode
        for widget, value in ((self.slab_spin, float(slab_mm)), (self.mode_combo, self.mode_combo.findData(mode))):
            widget.blockSignals(True)
            widget.setValue(value) if widget is self.slab_spin else widget.setCurrentIndex(value)
            widget.blockSignals(False)
        self.mode_combo.setEnabled(self.slab_mm > 0)  # nothing to combine without a slab
        self._shown_index = {}
        self._update(set(PLANES))
        self._take_keys()

    def set_layout(self, name: str) -> None:
        """'1x3' (three planes side by side) or '2x2' (the fourth cell: the volume's facts)."""
        for widget in (*self.panes.values(), self.facts):
            self.grid.removeWidget(widget)
        for plane, (row, column) in _CELLS[name].items():
            self.grid.addWidget(self.panes[plane], row, column)
        if name == "2x2":
            self.grid.addWidget(self.facts, 1, 1)
        self.facts.setVisible(name == "2x2")  # after adding: a widget shown with no parent would be a window of its own
        self._annotate()
        for index in range(3):
            self.grid.setColumnStretch(index, 1 if index < (3 if name == "1x3" else 2) else 0)
            self.grid.setRowStretch(index, 1 if index < (1 if name == "1x3" else 2) else 0)
        if self.layout_combo.currentText() != name:
            self.layout_combo.blockSignals(True)
            self.layout_combo.setCurrentText(name)
            self.layout_combo.blockSignals(False)
        settings().setValue("mpr/layout", name)
        self._take_keys()

    # ------------------------------------------------------------------ the window: the viewport's
    def voi(self) -> VOI:
        """The viewport's window as it shows it, for the modality values of the reformats."""
        state = self.viewport.display.state
        if state.voi is not None:
            return state.voi
        if self.viewport.frame is not None:
            voi = self.viewport.effective_voi()
            if not isinstance(voi, FullRange):
                return voi
        return self._default_voi if self._default_voi is not None else FullRange()

    def display_changed(self, changed: set[str]) -> None:
        """The viewport's window or inversion changed: all three planes take it."""
        if self.volume is None or not changed & {"voi", "invert"}:
            return
        voi, invert = self.voi(), self.viewport.display.state.invert
        for pane in self.panes.values():
            pane.image.set_display(voi, invert)
        self._annotate()

    def _window_dragged(self, dx: float, dy: float) -> None:
        """As in a viewport: right widens, left narrows; down raises the level, up lowers it."""
        if self.volume is None:
            return
        current = self.voi()
        if not isinstance(current, Window):
            lo, hi = self._range
            current = Window((lo + hi) / 2, max(hi - lo, 1.0))
        lo, hi = self._range
        step = max((hi - lo) * DRAG_SENSITIVITY, 0.05)
        center, width = current.center + dy * step, max(1.0, current.width + dx * step)
        self.viewport.display.update(voi=current.with_center_width(center, width))

    # ------------------------------------------------------------------ painting
    def _update(self, planes: set[str]) -> None:
        """Reformat `planes` at the point (with the slab), and put every crosshair on it."""
        volume = self.volume
        if volume is None:
            return
        voi, invert = self.voi(), self.viewport.display.state.invert
        where = crosshair(volume, self.point)
        for plane in PLANES:
            index, row, column = where[plane]
            pane = self.panes[plane]
            if plane in planes:
                image, _spacing = reformat(volume, plane, index, self.slab_mm, self.mode)
                pane.show_frame(FrameDisplay(image, self._ctx), voi, invert, row, column)
                self._shown_index[plane] = index
            else:
                pane.set_point(row, column)
        self._annotate()

    def _annotate(self) -> None:
        volume = self.volume
        if volume is None:
            return
        voi = self.voi()
        for plane, pane in self.panes.items():
            index, total = self.plane_index(plane), slice_count(volume, plane)
            top = [plane_label(volume, plane).capitalize(), f"{index + 1} / {total}"]
            slab = slab_range(volume, plane, index, self.slab_mm)
            if len(slab) > 1:
                top.append(f"{MODE_NAMES[self.mode]} {self.slab_mm:g} mm ({count(len(slab), 'slice')})")
            rows_mm, columns_mm = self._spacing(plane)
            pane.image.set_annotations(
                {"top_left": top, "bottom_left": [describe_voi(voi)], "bottom_right": [f"{columns_mm:.2f} x {rows_mm:.2f} mm"]}
            )
            pane.image.corner_labels["top_left"].setStyleSheet(f"color: {PLANE_COLORS[plane]}; background: transparent;")
        if self.facts.isVisibleTo(self):  # the 2x2 layout's fourth cell
            self.facts.setText(self._facts_text(volume))

    def _facts_text(self, volume: Volume) -> str:
        z, y, x = volume.voxels.shape
        dz, dy, dx = volume.spacing
        k, i, j = self.point
        position = volume.position(self.point)
        value = volume.voxels[k, i, j]
        lines = [
            self._series_label,
            f"{x} x {y} x {z} voxels, {dx:.2f} x {dy:.2f} x {dz:.2f} mm",
            f"Point: ({position[0]:.1f}, {position[1]:.1f}, {position[2]:.1f}) mm, value {value:g}",
            *volume.notes,
            "",
            "Click or drag the crosshair: move the point; wheel or arrow keys: scroll the plane; "
            "drag elsewhere: window; middle drag: pan; right drag: zoom; F: fit; R: reset; Esc: back to the images.",
        ]
        return "\n".join(lines)

    def fit(self) -> None:
        """Each plane whole, as large as its pane allows (after a zoom or a pan)."""
        for pane in self.panes.values():
            pane.image.fit()

    def _cursor_moved(self, plane: str, row: int, column: int) -> None:
        volume = self.volume
        if volume is None or row < 0:
            self.readout.emit("")
            return
        voxel = voxel_at(volume, plane, self.plane_index(plane), row, column)
        self.readout.emit(readout_text(volume, voxel, self._unit))

    # ------------------------------------------------------------------ keys
    def _take_keys(self) -> None:
        """The keys come here again (after a click in the spin box or a combo), once the workspace is on screen."""
        if self.isVisible():
            self.setFocus(Qt.FocusReason.OtherFocusReason)

    def event(self, event) -> bool:
        # The window's shortcuts (arrows, Page Up/Down, Home, End: the viewport's images) give way to the planes here.
        if event.type() == QEvent.Type.ShortcutOverride and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            if event.key() in _KEYS or event.key() in _OWN_KEYS:
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.leave_requested.emit()
        elif key in _KEYS:
            self.step(self.active_plane, _KEYS[key])
        elif key == Qt.Key.Key_Home:
            self.go_to(self.active_plane, 0)
        elif key == Qt.Key.Key_End and self.volume is not None:
            self.go_to(self.active_plane, slice_count(self.volume, self.active_plane) - 1)
        elif key == Qt.Key.Key_F:
            self.fit()
        elif key == Qt.Key.Key_R:
            self.viewport.display.update(voi=None, invert=False)  # the series' own window again, on all three planes
            self.fit()
        else:
            super().keyPressEvent(event)


def readout_text(volume: Volume, voxel: tuple[int, int, int], unit: str) -> str:
    """'(-44.5, -8.5, 20.2) mm: 60 HU' for the voxel `voxel` (its centre in patient coordinates, its value)."""
    x, y, z = volume.position(voxel)
    value = volume.voxels[voxel]
    return f"({x:.1f}, {y:.1f}, {z:.1f}) mm: {value:.6g}" + (f" {unit}" if unit else "")


def listen(viewport: Viewport, workspace: Callable[[], MprWorkspace | None]) -> None:
    """Repaint the workspace `workspace()` returns (if any) when `viewport`'s window or inversion changes."""

    def changed(_state, changed: set[str]) -> None:
        current = workspace()
        if current is not None and current.viewport is viewport:
            current.display_changed(changed)

    viewport.display.subscribe(changed)
