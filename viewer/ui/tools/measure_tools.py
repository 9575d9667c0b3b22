"""The measurement tools of issue #15 on the viewports: drawing, editing, labels, keeping, the Measure menu.

:func:`install` puts the tools on the image toolbar (mouse tools, each with a
key), adds the **Measure** menu and watches every viewport. The numbers come
from :func:`viewer.core.measure.measure.measure`, the one entry point the
``measure`` command uses too, with the frame's context built from the file's
whole header (:meth:`FrameSource.header`): the catalog's compact header has
no Imager Pixel Spacing, ultrasound regions or calibration type, and a length
measured without them would be silently wrong.

**Drawing** (left mouse, in image coordinates, sub-pixel): a length, arrow,
ellipse or rectangle by a drag (or two clicks); an angle by a drag and a
click (or three clicks); a Cobb angle by two drags (or four clicks); a point
value by a click; a polyline or polygon by clicks, a double-click ends it;
a freehand ROI by a drag. Esc drops the shape being drawn. With a
measurement tool chosen, pressing on a measurement's handle moves the handle,
on its stroke selects and moves it; Delete removes the selected one. Every
change is one undo step (a drag is one), Ctrl+Z / Ctrl+Y.

**Where they are kept**: per image (SOP Instance UID and frame) in the app's
data folder (:func:`data_folder`: the one the ``measure`` and ``export``
commands use, or ``$DICOM_VIEWER_DATA``/measurements: the tests' folder), through
:class:`~viewer.core.measure.store.MeasurementStore`; every viewport showing
the same image shows them, and they come back when the image is shown again.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu

from viewer.core.dicom.io import ViewerError
from viewer.core.display.calibration import Calibration, user_calibration
from viewer.core.display.pixels.pipeline import Window, frame_context
from viewer.core.measure import geometry as g
from viewer.core.measure.editing import EditHistory, distance_to, nearest_handle, translated, with_handle_moved
from viewer.core.measure.measure import Measurement, measure
from viewer.core.measure.roi_tracker import RoiTracker
from viewer.core.measure.store import ImageIdentity, MeasurementStore, default_data_dir
from viewer.core.media.cache import valid_uid
from viewer.ui.tools.measure_items import MEASURE_Z, MeasurementItem, image_point

if TYPE_CHECKING:
    from concurrent.futures import Future

    from viewer.ui.viewport.viewport import Viewport
    from viewer.ui.window.main_window import MainWindow

#: The tools: (geometry tool, the action's text, its key, what a left drag does, icon). Keys no other action uses.
TOOLS = (
    (g.LINE, "&Length", "L", "drag a line: its length", "length"),
    (g.POLYLINE, "Pol&yline", "Y", "click points, double-click the last: the total length", "polyline"),
    (g.ANGLE, "An&gle", "G", "drag one arm, click the end of the other: the angle", "angle"),
    (g.COBB, "&Cobb angle", "C", "drag two lines (e.g. end plates): the angle between them", "cobb"),
    (g.POINT, "Point &value", "V", "click a pixel: its value", "point_value"),
    (g.ELLIPSE, "&Ellipse ROI", "E", "drag an ellipse: the statistics of the pixels inside", "ellipse_roi"),
    (g.RECTANGLE, "Rectangle R&OI", "B", "drag a rectangle: the statistics of the pixels inside", "rectangle_roi"),
    (g.POLYGON, "&Polygon ROI", "D", "click corners, double-click the last: the statistics inside", "polygon_roi"),
    (g.FREEHAND, "&Freehand ROI", "H", "draw around a region: the statistics inside", "freehand_roi"),
    (g.ARROW, "&Arrow with text", "T", "drag from the point shown to the text", "arrow"),
)
TOOL_NAMES = frozenset(tool for tool, *_ in TOOLS)
#: The keys of the Measure menu.
UNDO_KEY, REDO_KEY, DELETE_KEY, CANCEL_KEY = "Ctrl+Z", "Ctrl+Y", "Del", "Esc"
#: How near (screen pixels) a press must be to a handle or a stroke to take it.
PICK_PIXELS = 6
#: A press and release further apart than this (screen pixels) is a drag.
DRAG_PIXELS = 4
#: Freehand: a new point once the mouse has moved this far (screen pixels).
FREEHAND_STEP_PIXELS = 3
#: Frames of at least this many pixels get their RoiTracker made in the background as soon as an ROI tool is chosen
#: (about 30-40 ms for 4096x5120), so that the first ROI's statistics need not wait for it.
BACKGROUND_TRACKER_PIXELS = 2_000_000

ImageKey = tuple[str, int]  # (SOP Instance UID, frame from 1)


def data_folder() -> Path:
    """Where measurements are kept: ``$DICOM_VIEWER_DATA``/measurements (the tests' folder), else the folder the
    ``measure --save`` and ``export --annotations`` commands use (:func:`~viewer.core.measure.store.default_data_dir`:
    the platform's per-user data folder, as Qt's AppDataLocation places it), so the window and the commands share them.

    Not ``QStandardPaths.AppDataLocation`` itself: with the application's organisation and name both
    "dicom-viewer" it is ``~/.local/share/dicom-viewer/dicom-viewer`` on Linux, a folder the commands do not read.
    """
    base = os.environ.get("DICOM_VIEWER_DATA")
    return Path(base) / "measurements" if base else default_data_dir()


@dataclass
class ImageMeasurements:
    """The measurements of one frame of one image: its shapes with undo, and what they are measured on.

    The file's whole header, its identity and the frame's context are read
    when first needed (an image scrolled past without measurements costs a
    look in the store only); the stored values are held only while a
    viewport shows the image (:meth:`MeasureController.release`).
    """

    key: ImageKey
    path: Path
    frame_index: int  # from 0
    read_header: Callable[[], object]
    history: EditHistory
    stored: object = None  # the frame's stored values (numpy) while shown
    user: Calibration | None = None
    tracker: RoiTracker | None = None
    tracker_pending: Future | None = None  # the tracker being made in the background (MeasureController.prepare_roi)
    cache: dict = field(default_factory=dict)
    unsaved: bool = False  # measured again while not shown (a calibration changed): kept when next shown
    _header: object = None
    _ctx: object = None

    @property
    def header(self):
        """The file's whole header (the catalog's compact one lacks Imager Pixel Spacing, ultrasound regions, ...)."""
        if self._header is None:
            self._header = self.read_header()
        return self._header

    @property
    def ctx(self):
        if self._ctx is None:
            self._ctx = frame_context(self.header, self.frame_index)
        return self._ctx

    @property
    def identity(self) -> ImageIdentity:
        return ImageIdentity.of(self.header)

    def measurement(self, shape: g.Shape) -> Measurement:
        """The shape measured with :func:`measure` (kept until the shape or the calibration changes).

        ViewerError for colour pixels; ValueError for pixel values when the image is not shown (no stored values).
        """
        known = self.cache.get(shape)
        if known is not None:
            return known
        tracker = self.roi_tracker() if shape.tool in g.ROI_TOOLS and self.stored is not None else None
        result = measure(shape, self.ctx, self.stored, self.user, tracker)
        if len(self.cache) > 256:
            self.cache.clear()
        self.cache[shape] = result
        return result

    def roi_tracker(self) -> RoiTracker:
        """The shown frame's RoiTracker: the one made in the background (waited for if not done), else made now."""
        if self.tracker is None:
            pending, self.tracker_pending = self.tracker_pending, None
            self.tracker = pending.result() if pending is not None else RoiTracker(self.stored, self.ctx)
        return self.tracker

    def show_frame(self, stored) -> None:
        """`stored`, the frame's values, are shown (None: no longer): a tracker of other values is dropped."""
        if stored is not self.stored:
            if self.tracker_pending is not None:
                self.tracker_pending.cancel()  # not started yet (frames scrolled past): never made
            self.stored, self.tracker, self.tracker_pending = stored, None, None

    def measurements(self) -> list[Measurement]:
        return [self.measurement(shape) for shape in self.history.shapes]


class MeasureController(QObject):
    """The window's measurements: per image, kept in the store; the Measure menu's actions act on the active viewport.

    ``changed(key, index)``: the measurements of image `key` changed (index:
    the one shape that changed, or -1 for all). The ``ask_*`` attributes are
    the dialogs (replaced by tests).
    """

    changed = Signal(object, int)

    def __init__(self, window: MainWindow, folder: Path | None = None):
        super().__init__(window)
        self.window = window
        self.store = MeasurementStore(folder or data_folder())
        self.images: dict[ImageKey, ImageMeasurements] = {}
        self.layers: dict[Viewport, MeasureLayer] = {}
        self.selected: tuple[ImageKey, int] | None = None
        self.calibrating = False
        self._user: dict[str, Calibration | None] = {}
        self.ask_text: Callable[[], str | None] = self._ask_text
        self.ask_length: Callable[[float], float | None] = self._ask_length
        self.ask_csv_path: Callable[[], str | None] = self._ask_csv_path
        self.ask_folder: Callable[[], str | None] = self._ask_folder

    # ------------------------------------------------------------------ images
    def image_of(self, viewport: Viewport) -> ImageMeasurements | None:
        """The measurements of the image `viewport` shows (read from the store the first time); None when none is shown."""
        ref, frame = viewport.current, viewport.frame
        if ref is None or frame is None:
            return None
        catalog = ref.instance.header
        uid = valid_uid(catalog.get("SOPInstanceUID"))
        if uid is None:
            viewport.status.emit("The image has no valid SOP Instance UID: its measurements cannot be kept.")
            return None
        key = (uid, ref.frame + 1)
        image = self.images.get(key)
        if image is None:
            try:
                shapes = [kept.shape for kept in self.store.load(uid, ref.frame + 1)]
            except ViewerError as exc:
                viewport.status.emit(str(exc))
                return None

            def read_header(source=viewport.source, path=ref.instance.path, catalog=catalog):
                try:
                    return source.header(path)
                except ViewerError:
                    return catalog  # the file cannot be read again: what the catalog kept

            image = ImageMeasurements(key, ref.instance.path, ref.frame, read_header, EditHistory(shapes))
            image.user = self.user_calibration(str(catalog.get("SeriesInstanceUID", "") or ""))
            self.images[key] = image
        image.show_frame(frame.stored)
        self.prepare_roi(image)
        if image.unsaved:
            self._save(image)
        return image

    def prepare_roi(self, image: ImageMeasurements | None) -> None:
        """While an ROI tool is chosen, a large frame shown gets its RoiTracker made in the background."""
        if image is None or image.stored is None or image.tracker is not None or image.tracker_pending is not None:
            return
        if image.stored.size < BACKGROUND_TRACKER_PIXELS or self.window.image_toolbar.tool not in g.ROI_TOOLS:
            return
        try:
            stored, ctx = image.stored, image.ctx  # the header read here, on the GUI thread, as a measurement would
        except (ViewerError, ValueError):
            return  # measured (and the error said) when an ROI is drawn
        image.tracker_pending = self.window.runner.submit("roi-tracker", lambda: RoiTracker(stored, ctx), lambda _: None)

    def release(self, key: ImageKey | None) -> None:
        """No viewport shows image `key` any more: its pixels are let go, and the image too when it has nothing to undo."""
        if key is None or any(layer.key == key for layer in self.layers.values()):
            return
        image = self.images.get(key)
        if image is None:
            return
        if not image.history.shapes and not image.history.can_undo():
            del self.images[key]
        else:
            image.show_frame(None)

    def user_calibration(self, series_uid: str) -> Calibration | None:
        if series_uid not in self._user:
            try:
                self._user[series_uid] = self.store.user_calibration(series_uid) if series_uid else None
            except ViewerError:
                self._user[series_uid] = None
        return self._user[series_uid]

    def set_user_calibration(self, series_uid: str, calibration: Calibration | None) -> bool:
        """The user's calibration of a series (None clears it): kept, and every measurement of the series measured again.
        False (and a message) when it cannot be kept."""
        try:
            self.store.set_user_calibration(series_uid, calibration)
        except ViewerError as exc:
            self.window.statusBar().showMessage(f"Not calibrated: {exc}")
            return False
        self._user[series_uid] = calibration
        for image in self.images.values():
            if str(image.header.get("SeriesInstanceUID", "") or "") == series_uid:
                image.user = calibration
                image.cache.clear()
                if image.history.shapes:
                    self._save(image)
                self.changed.emit(image.key, -1)
        return True

    def _save(self, image: ImageMeasurements) -> None:
        try:
            self.store.save(image.identity, image.key[1], image.measurements())
            image.unsaved = False
        except ValueError:
            image.unsaved = True  # ROI statistics need the pixels: kept when the image is shown again
        except ViewerError as exc:
            self.window.statusBar().showMessage(str(exc))

    # ------------------------------------------------------------------ edits (each one undo step)
    def add(self, image: ImageMeasurements, shape: g.Shape) -> int | None:
        """Measure and keep a new shape; None (and a message) when it cannot be measured (colour pixels)."""
        try:
            image.measurement(shape)
        except ViewerError as exc:
            self.window.statusBar().showMessage(str(exc))
            return None
        index = image.history.add(shape)
        self.selected = (image.key, index)
        self._save(image)
        self.changed.emit(image.key, -1)
        return index

    def replace(self, image: ImageMeasurements, index: int, shape: g.Shape, first: bool = False) -> None:
        """One step of a drag (handle or move): the `first` is an undo step, the others join it; kept when the drag
        ends (:meth:`drag_ended`)."""
        image.history.replace(index, shape, continuing=not first)
        self.changed.emit(image.key, index)

    def drag_ended(self, image: ImageMeasurements) -> None:
        self._save(image)

    def select(self, key: ImageKey | None, index: int = -1) -> None:
        old, self.selected = self.selected, (key, index) if key is not None else None
        for changed in {old[0] if old else None, key} - {None}:
            self.changed.emit(changed, -1)

    def active_image(self) -> ImageMeasurements | None:
        viewport = self.window.viewport
        return self.image_of(viewport) if viewport is not None else None

    def delete_selected(self) -> None:
        image = self.active_image()
        if image is None or self.selected is None or self.selected[0] != image.key:
            return
        index = self.selected[1]
        if 0 <= index < len(image.history.shapes):
            image.history.remove(index)
            self.selected = None
            self._save(image)
            self.changed.emit(image.key, -1)

    def delete_all(self) -> None:
        image = self.active_image()
        if image is not None and image.history.shapes:
            image.history.clear()
            self.selected = None
            self._save(image)
            self.changed.emit(image.key, -1)

    def undo(self) -> None:
        self._undo_redo(lambda history: history.undo())

    def redo(self) -> None:
        self._undo_redo(lambda history: history.redo())

    def _undo_redo(self, step: Callable[[EditHistory], bool]) -> None:
        image = self.active_image()
        if image is not None and step(image.history):
            self.selected = None
            self._save(image)
            self.changed.emit(image.key, -1)

    def cancel_drawing(self) -> None:
        self._end_calibration()
        for layer in self.layers.values():
            layer.cancel()

    # ------------------------------------------------------------------ calibration
    def start_calibration(self) -> None:
        """The next line drawn is the calibration line: its length is asked for."""
        self.calibrating = True
        for layer in self.layers.values():
            layer.follow_tool()
        self.window.statusBar().showMessage("Calibrate: draw a line of known length on the image")

    def _end_calibration(self) -> None:
        self.calibrating = False
        for layer in self.layers.values():
            layer.follow_tool()

    def calibrate(self, image: ImageMeasurements, start: g.Point, end: g.Point) -> None:
        self._end_calibration()
        shown = measure(g.Shape(g.LINE, (start, end)), image.ctx, None, image.user).readings[0]
        length = self.ask_length(shown.value if shown.unit == "mm" and shown.value else 10.0)
        if length is None:
            self.window.statusBar().clearMessage()
            return
        try:
            calibration = user_calibration(image.ctx, start, end, length)
        except ValueError as exc:
            self.window.statusBar().showMessage(f"Not calibrated: {exc}")
            return
        if self.set_user_calibration(image.identity.series_instance_uid, calibration):
            self.window.statusBar().showMessage(f"This series is user calibrated: {length:g} mm for the line drawn")

    def clear_calibration(self) -> None:
        image = self.active_image()
        if image is not None and self.user_calibration(image.identity.series_instance_uid) is not None:
            if self.set_user_calibration(image.identity.series_instance_uid, None):
                self.window.statusBar().showMessage("The user calibration of this series is cleared")

    # ------------------------------------------------------------------ export
    def export_csv(self, path: str | Path | None = None) -> int | None:
        """The kept measurements of the images open (all kept ones when none is open), as CSV; the rows written."""
        path = path or self.ask_csv_path()
        if not path:
            return None
        uids = sorted(
            {
                str(image.instance.header.get("SOPInstanceUID", ""))
                for series in self.window.series
                for image in series.images
                if image.instance.header.get("SOPInstanceUID")
            }
        )
        try:
            rows = self.store.export_csv(Path(path), uids or None)
        except ViewerError as exc:
            self.window.statusBar().showMessage(str(exc))
            return None
        self.window.statusBar().showMessage(f"{rows} measurement values written to {path}")
        return rows

    def save_presentation_state(self, folder: str | Path | None = None, choose: bool = False) -> Path | None:
        """A Grayscale Softcopy Presentation State of the active image's measurements and window: in `folder`,
        one the user chooses, or presentation-states/ beside the measurements."""
        from viewer.core.measure.presentation_state import presentation_state, write_presentation_state

        viewport = self.window.viewport
        image = self.active_image()
        if image is None:
            return None
        if folder is None and choose:
            folder = self.ask_folder()
            if not folder:
                return None
        target = Path(folder) if folder else self.store.folder.parent / "presentation-states"
        voi = viewport.effective_voi()
        try:
            ds = presentation_state(image.header, image.measurements(), voi if isinstance(voi, Window) else None, image.key[1])
            path = write_presentation_state(ds, target)
        except ViewerError as exc:
            self.window.statusBar().showMessage(str(exc))
            return None
        self.window.statusBar().showMessage(f"Presentation state saved: {path}")
        return path

    # ------------------------------------------------------------------ dialogs
    def _ask_text(self) -> str | None:
        text, ok = QInputDialog.getText(self.window, "Arrow", "Text beside the arrow:")
        return text if ok else None

    def _ask_length(self, suggested: float) -> float | None:
        value, ok = QInputDialog.getDouble(self.window, "Calibrate", "Known length of the line drawn (mm):", suggested, 0.001, 1e6, 3)
        return value if ok else None

    def _ask_csv_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.window, "Export measurements as CSV", "measurements.csv", "CSV (*.csv)")
        return path or None

    def _ask_folder(self) -> str | None:
        return QFileDialog.getExistingDirectory(self.window, "Save the presentation state in") or None


class MeasureLayer(QObject):
    """The measurements drawn on one viewport, and its mouse while a measurement tool is chosen."""

    def __init__(self, viewport: Viewport, controller: MeasureController):
        super().__init__(viewport)
        self.viewport, self.controller = viewport, controller
        self.key: ImageKey | None = None
        self.items: list[MeasurementItem] = []
        self.preview: MeasurementItem | None = None
        self.drawing: list[g.Point] | None = None  # the points of the shape being drawn; the last one follows the mouse
        self.drawing_tool = ""
        self._press_screen: QPointF | None = None
        self._dragged = False
        self._drag: tuple[str, int, int, g.Point, g.Shape] | None = None  # ("handle"/"move", shape index, handle, start, shape)
        self._drag_steps = 0
        self._surface = None
        viewport.image_shown.connect(self.refresh)
        viewport.series_shown.connect(lambda _series: self.clear())
        viewport.pane.rendered.connect(self._hook)
        controller.changed.connect(self._changed)
        # The pane says something in place of the image (closed, failed, another series loading): no measurements then.
        viewport.pane.message_label.installEventFilter(self)
        viewport.pane.loading_label.installEventFilter(self)
        self._hook()

    # ------------------------------------------------------------------ drawing the kept measurements
    def _hook(self) -> None:
        view_box = self.viewport.pane.built_view_box()
        if view_box is None or self._surface is not None:
            return
        self._surface = self.viewport.pane.image_surface()
        self._surface.installEventFilter(self)
        self.follow_tool()
        self.refresh()  # the image shown before the view existed (painted by the pane's poster) gets its measurements now

    def follow_tool(self) -> None:
        """A cross-hair over the image while a measurement tool is chosen; an ROI tool readies the image's statistics."""
        if self._surface is not None:
            if self._tool() is not None:
                self._surface.setCursor(Qt.CursorShape.CrossCursor)
            else:
                self._surface.unsetCursor()
        if self.key is not None:
            self.controller.prepare_roi(self.controller.images.get(self.key))

    def clear(self) -> None:
        self.cancel()
        for item in self.items:
            item.remove()
        self.items = []
        old, self.key = self.key, None
        self.controller.release(old)

    def refresh(self) -> None:
        """Draw the measurements of the image shown (another image: its own)."""
        image = self.controller.image_of(self.viewport) if self.viewport.pane.built_view_box() is not None else None
        key = image.key if image is not None else None
        old, self.key = self.key, key
        if key != old:
            self.cancel()
            self.controller.release(old)
        self._draw_all(image)

    def _changed(self, key, index: int) -> None:
        if key != self.key or key is None:
            return
        image = self.controller.images.get(key)
        if image is None:
            return
        if 0 <= index < len(self.items) and len(self.items) == len(image.history.shapes):
            self._draw_one(image, index)
        else:
            self._draw_all(image)

    def _draw_all(self, image: ImageMeasurements | None) -> None:
        shapes = image.history.shapes if image is not None else ()
        parent = self.viewport.pane.image_parent(MEASURE_Z)  # image coordinates: turned with the image
        while len(self.items) > len(shapes):
            self.items.pop().remove()
        while len(self.items) < len(shapes) and parent is not None:
            self.items.append(MeasurementItem(parent))
        for index in range(len(self.items)):
            self._draw_one(image, index)

    def _draw_one(self, image: ImageMeasurements, index: int) -> None:
        shape = image.history.shapes[index]
        try:
            text = image.measurement(shape).label()
        except (ViewerError, ValueError) as exc:
            text = str(exc)
        selected = self.controller.selected == (image.key, index)
        self.items[index].show(shape.tool, shape.points, shape.text, text, selected)

    def label_texts(self) -> list[str]:
        """The labels shown, in drawing order (for tests and scripts)."""
        return [item.label.text for item in self.items]

    # ------------------------------------------------------------------ the mouse
    def _tool(self) -> str | None:
        if self.controller.calibrating:
            return g.LINE
        tool = self.viewport.pane.left_drag_tool
        return tool if tool in TOOL_NAMES else None

    def _image_point(self, event) -> g.Point:
        pane = self.viewport.pane
        inverse, _ = pane.view.viewportTransform().inverted()
        scene = inverse.map(event.position())  # the mouse's position as given, fractions of a screen pixel included
        return image_point(pane.image_point_at(scene))  # the image's pixel there, however a presentation state turns it

    def _tolerance(self) -> float:
        return PICK_PIXELS / max(self.viewport.pane.zoom(), 1e-6)

    def eventFilter(self, watched, event):
        kind = event.type()
        if kind == QEvent.Type.Show and watched is not self._surface:
            if self.viewport.pane.frame is None:
                self.clear()
            return False
        if kind not in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
        ):
            return False
        tool = self._tool()
        if tool is None or self.viewport.frame is None:
            return False
        if kind == QEvent.Type.MouseMove:
            return self._moved(event)
        if event.button() != Qt.MouseButton.LeftButton:
            return False
        if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return False  # Shift+click is the cross-reference cursor
        if kind == QEvent.Type.MouseButtonPress:
            return self._pressed(event, tool)
        if kind == QEvent.Type.MouseButtonDblClick:
            self._finish_open_shape()
            return True
        return self._released(event)

    def _pressed(self, event, tool: str) -> bool:
        layout = getattr(self.controller.window, "viewports", None)
        if layout is not None and self.viewport in layout.viewports:
            layout.set_active(self.viewport)  # the press is eaten here: the layout would have made it active
        image = self.controller.image_of(self.viewport)
        if image is None:
            return True
        if self.key != image.key:
            self.refresh()
        point = self._image_point(event)
        self._press_screen, self._dragged = event.position(), False
        if self.drawing is None:
            if not self.controller.calibrating and self._pick(image, point):
                return True
            self.controller.select(None)
            self.drawing_tool = tool
            self.drawing = [point]
            if tool == g.FREEHAND:
                self._show_preview(image)
                return True
        else:
            self.drawing[-1] = point
        self._commit_point(image)
        return True

    def _pick(self, image: ImageMeasurements, point: g.Point) -> bool:
        """A press on a handle (of the selected measurement first) or a stroke: drag it."""
        shapes = image.history.shapes
        tolerance = self._tolerance()
        order = list(range(len(shapes) - 1, -1, -1))
        if self.controller.selected is not None and self.controller.selected[0] == image.key and self.controller.selected[1] in order:
            order.remove(self.controller.selected[1])
            order.insert(0, self.controller.selected[1])
        for index in order:
            handle = nearest_handle(shapes[index], point, tolerance)
            if handle is not None:
                self._drag, self._drag_steps = ("handle", index, handle, point, shapes[index]), 0
                self.controller.select(image.key, index)
                return True
        for index in order:
            if distance_to(shapes[index], point) <= tolerance:
                self._drag, self._drag_steps = ("move", index, -1, point, shapes[index]), 0
                self.controller.select(image.key, index)
                return True
        return False

    def _moved(self, event) -> bool:
        if self._press_screen is not None and not self._dragged:
            moved = event.position() - self._press_screen
            self._dragged = math.hypot(moved.x(), moved.y()) > DRAG_PIXELS
        image = self.controller.images.get(self.key) if self.key is not None else None
        if image is None:
            return False
        point = self._image_point(event)
        if self._drag is not None:
            self.drag_to(image, point)
            return True
        if self.drawing is None:
            self._hover(image, point)
            return False
        if self.drawing_tool == g.FREEHAND:
            if event.buttons() & Qt.MouseButton.LeftButton:
                last = self.drawing[-1]
                if math.hypot(point[0] - last[0], point[1] - last[1]) * self.viewport.pane.zoom() >= FREEHAND_STEP_PIXELS:
                    self.drawing.append(point)
                    self._show_preview(image)
            return True
        self.drawing[-1] = point
        self._show_preview(image)
        # With no button held the view hears the move too: the value under the cursor stays in the status bar.
        return bool(event.buttons() & Qt.MouseButton.LeftButton)

    def _hover(self, image: ImageMeasurements, point: g.Point) -> None:
        """The cursor says what a press does here: a pointing hand on a handle, a move cross on a stroke, else a cross-hair."""
        if self._surface is None or self.controller.calibrating:
            return
        shape = Qt.CursorShape.CrossCursor
        tolerance = self._tolerance()
        for kept in image.history.shapes:
            if nearest_handle(kept, point, tolerance) is not None:
                shape = Qt.CursorShape.PointingHandCursor
                break
            if distance_to(kept, point) <= tolerance:
                shape = Qt.CursorShape.SizeAllCursor
        if self._surface.cursor().shape() != shape:
            self._surface.setCursor(shape)

    def drag_to(self, image: ImageMeasurements, point: g.Point) -> None:
        """One step of a handle or move drag: the shape, its label and those of every viewport of the image follow."""
        what, index, handle, start, shape = self._drag
        if what == "handle":
            moved = with_handle_moved(shape, handle, point)
        else:
            moved = translated(shape, point[0] - start[0], point[1] - start[1])
        self.controller.replace(image, index, moved, first=self._drag_steps == 0)
        self._drag_steps += 1

    def _released(self, event) -> bool:
        image = self.controller.images.get(self.key) if self.key is not None else None
        self._press_screen = None
        if self._drag is not None:
            self._drag, steps = None, self._drag_steps
            if image is not None and steps:
                self.controller.drag_ended(image)
            return True
        if self.drawing is None or image is None:
            return self.drawing is not None
        if self.drawing_tool == g.FREEHAND:
            self._finish(image, self.drawing)
        elif self._dragged:
            self.drawing[-1] = self._image_point(event)
            self._commit_point(image)
        return True

    def _commit_point(self, image: ImageMeasurements) -> None:
        """The last point is placed: the shape is done when it has all its points, else the next one follows the mouse."""
        assert self.drawing is not None
        most = g.POINT_COUNTS[self.drawing_tool][1]
        if most is not None and len(self.drawing) >= most:
            self._finish(image, self.drawing)
            return
        self.drawing.append(self.drawing[-1])
        self._show_preview(image)

    def _finish_open_shape(self) -> None:
        """A double-click ends a polyline or polygon (the point following the mouse, and repeats, dropped)."""
        image = self.controller.images.get(self.key) if self.key is not None else None
        if self.drawing is None or image is None or self.drawing_tool not in (g.POLYLINE, g.POLYGON):
            return
        points: list[g.Point] = []
        for point in self.drawing[:-1]:
            if not points or math.hypot(point[0] - points[-1][0], point[1] - points[-1][1]) > 1e-9:
                points.append(point)
        self._finish(image, points)

    def _finish(self, image: ImageMeasurements, points: list[g.Point]) -> None:
        tool = self.drawing_tool
        self.cancel()
        if len(set(points)) < min(2, len(points)) or len(points) < g.POINT_COUNTS[tool][0]:
            return  # a click with no extent, or too few points: nothing drawn
        if self.controller.calibrating:
            self.controller.calibrate(image, points[0], points[1])
            return
        text = ""
        if tool == g.ARROW:
            text = self.controller.ask_text()
            if text is None:
                return
        self.controller.add(image, g.Shape(tool, tuple(points), text))

    def _show_preview(self, image: ImageMeasurements) -> None:
        parent = self.viewport.pane.image_parent(MEASURE_Z)
        if parent is None or self.drawing is None:
            return
        if self.preview is None:
            self.preview = MeasurementItem(parent, drawing=True)
        label = ""
        try:
            shape = g.Shape(self.drawing_tool, tuple(self.drawing))
            if shape.tool != g.ARROW and len(set(shape.points)) > 1:
                tracker = image.roi_tracker() if shape.tool in g.ROI_TOOLS and image.stored is not None else None
                label = measure(shape, image.ctx, image.stored, image.user, tracker).label()
        except (ValueError, ViewerError):
            pass
        self.preview.show(self.drawing_tool, self.drawing, "", label)

    def cancel(self) -> None:
        """Drop the shape being drawn."""
        self.drawing = None
        self._drag = None
        if self.preview is not None:
            self.preview.remove()
            self.preview = None


def install(window: MainWindow) -> MeasureController:
    """The measurement tools on the toolbar, the Measure menu, and a layer on every viewport (new ones too)."""
    controller = MeasureController(window)
    window.measure_controller = controller
    for tool, text, key, what, icon_name in TOOLS:
        window.image_toolbar.add_mouse_tool(tool, text, key, what, icon_name)
    menu = QMenu("&Measure", window)

    def add(text: str, slot, key: str | None = None) -> QAction:
        action = window._action(text, slot, key)
        menu.addAction(action)
        return action

    add("&Undo", controller.undo, UNDO_KEY)
    add("&Redo", controller.redo, REDO_KEY)
    add("&Delete the selected measurement", controller.delete_selected, DELETE_KEY)
    add("Stop &drawing", controller.cancel_drawing, CANCEL_KEY)
    menu.addSeparator()
    add("Delete &all measurements on this image", controller.delete_all)
    menu.addSeparator()
    add("&Calibrate with a line of known length...", controller.start_calibration)
    add("C&lear calibration", controller.clear_calibration)
    menu.addSeparator()
    add("&Export measurements as CSV...", lambda: controller.export_csv())
    add("&Save as presentation state", lambda: controller.save_presentation_state())
    add("Save as presentation state &in...", lambda: controller.save_presentation_state(choose=True))
    help_menu = next((a for a in window.menuBar().actions() if a.text().replace("&", "") == "Help"), None)
    if help_menu is not None:
        window.menuBar().insertMenu(help_menu, menu)
    else:
        window.menuBar().addMenu(menu)
    window.measure_menu = menu

    def watch(viewport: Viewport) -> None:
        if viewport not in controller.layers:
            controller.layers[viewport] = MeasureLayer(viewport, controller)

    for viewport in window.viewports:
        watch(viewport)
    window.viewports.viewport_added.connect(watch)
    window.image_toolbar.mouse_tools.triggered.connect(lambda _action: [layer.follow_tool() for layer in controller.layers.values()])
    return controller


def layer_of(window: MainWindow, viewport: Viewport) -> MeasureLayer:
    return window.measure_controller.layers[viewport]
