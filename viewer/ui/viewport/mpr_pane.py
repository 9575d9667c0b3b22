"""One plane of the MPR workspace: an :class:`~viewer.ui.viewport.image_view.ImagePane` with a crosshair.

The pane shows a reformatted plane (:func:`viewer.core.display.mpr.reformat`)
on the volume's own voxel grid, drawn with the physical aspect of its pixels:
the view box's aspect is locked to (column spacing / row spacing), so a
coronal plane of 0.5 mm pixels and 2 mm slices is four times as tall per row
as it is wide per column, as the patient is (the grid is never resampled).

The crosshair marks the workspace's 3-D point: a horizontal and a vertical
line through the voxel shown, each in the colour of the plane it is (axial
red, coronal green, sagittal blue, as the panes' titles). A left click puts
the point where it is; a left drag that starts on a line drags the point;
any other left drag windows, as in the viewports (the view box gets it),
the wheel moves along the plane's normal, middle drag pans, right drag zooms.
The edge letters are :data:`~viewer.core.display.mpr.PLANE_EDGES`.
"""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from viewer.core.display.mpr import PLANE_EDGES
from viewer.core.display.pixels.pipeline import VOI, FrameDisplay
from viewer.ui.viewport.image_view import ImagePane

#: Each plane's colour: its pane's title and its line on the other planes.
PLANE_COLORS = {"axial": "#ff5050", "coronal": "#50d050", "sagittal": "#5a9cff"}
#: Screen pixels from a crosshair line within which a left drag takes the line along.
GRAB_PIXELS = 8
#: Screen pixels left open around the point, so the voxel itself stays visible.
GAP_PIXELS = 6


class CrosshairItem(pg.GraphicsObject):
    """Two lines across the image through voxel (row, column), in image coordinates."""

    def __init__(self, pane: MprPane, horizontal: str, vertical: str):
        super().__init__()
        self._pane = pane
        self.grid_shape = (0, 0)
        self.row = self.column = 0
        self._pens = [QPen(QColor(PLANE_COLORS[name])) for name in (horizontal, vertical)]
        for pen in self._pens:
            pen.setCosmetic(True)
            pen.setWidthF(1.0)
        self._dragging = False
        self.setZValue(10)  # above the image
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_shape(self, rows: int, columns: int) -> None:
        self.prepareGeometryChange()
        self.grid_shape = (rows, columns)
        self.update()

    def set_point(self, row: int, column: int) -> None:
        self.row, self.column = row, column
        self.update()

    def boundingRect(self) -> QRectF:
        rows, columns = self.grid_shape
        return QRectF(0, 0, columns, rows)

    def paint(self, painter, option, widget=None):
        rows, columns = self.grid_shape
        if not rows or not columns:
            return
        y, x = self.row + 0.5, self.column + 0.5
        gap_x = GAP_PIXELS * (self.pixelWidth() or 0.0)
        gap_y = GAP_PIXELS * (self.pixelHeight() or 0.0)
        horizontal, vertical = self._pens
        painter.setPen(horizontal)
        painter.drawLine(QPointF(0, y), QPointF(max(0.0, x - gap_x), y))
        painter.drawLine(QPointF(min(columns, x + gap_x), y), QPointF(columns, y))
        painter.setPen(vertical)
        painter.drawLine(QPointF(x, 0), QPointF(x, max(0.0, y - gap_y)))
        painter.drawLine(QPointF(x, min(rows, y + gap_y)), QPointF(x, rows))

    # -- the mouse: pyqtgraph's scene events (an ignored event goes on to the view box) ----------
    def _near_a_line(self, position: QPointF) -> bool:
        width, height = self.pixelWidth() or 1.0, self.pixelHeight() or 1.0
        return (
            abs(position.x() - (self.column + 0.5)) / width <= GRAB_PIXELS or abs(position.y() - (self.row + 0.5)) / height <= GRAB_PIXELS
        )

    def _pick(self, position: QPointF) -> None:
        rows, columns = self.grid_shape
        row = min(rows - 1, max(0, math.floor(position.y())))
        column = min(columns - 1, max(0, math.floor(position.x())))
        self._pane.point_picked.emit(self._pane.plane, int(row), int(column))

    def mouseClickEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        self._pick(ev.pos())

    def mouseDragEvent(self, ev):
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        if ev.isStart():
            self._dragging = self._near_a_line(ev.buttonDownPos())
        if not self._dragging:
            ev.ignore()  # the view box windows
            return
        ev.accept()
        self._pick(ev.pos())
        if ev.isFinish():
            self._dragging = False


class MprPane(QWidget):
    """One plane: image, crosshair, title, edge letters.

    Signals: ``point_picked(plane, row, column)`` (a click, or a drag of the
    crosshair), ``step_requested(plane, n)`` (the wheel), ``window_dragged(dx, dy)``,
    ``hovered(plane)`` (the mouse is over it: the pane the keys act on), ``activated(plane)``
    (a press or the wheel in it: the keys come to the workspace, for this pane).
    """

    point_picked = Signal(str, int, int)
    step_requested = Signal(str, int)
    window_dragged = Signal(float, float)
    hovered = Signal(str)
    cursor_moved = Signal(str, int, int)  # plane, row, column of the image under the mouse (-1, -1 outside)
    activated = Signal(str)

    def __init__(self, plane: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.plane = plane
        self.setObjectName(f"mpr_{plane}")
        self.image = ImagePane()
        self.image.step_requested.connect(lambda n: self.step_requested.emit(self.plane, n))
        self.image.window_dragged.connect(self.window_dragged)
        self.image.cursor_moved.connect(self._cursor_moved)
        column = QVBoxLayout(self)
        column.setContentsMargins(1, 1, 1, 1)
        column.addWidget(self.image)
        # The view at once (not after a first paint, as for the start-up viewport): the crosshair lives in it.
        view_box = self.image.view_box
        # Horizontal line: the plane whose slices are this plane's rows (axial on coronal and sagittal).
        horizontal, vertical = {"axial": ("coronal", "sagittal"), "coronal": ("axial", "sagittal"), "sagittal": ("axial", "coronal")}[plane]
        self.crosshair = CrosshairItem(self, horizontal, vertical)
        view_box.addItem(self.crosshair, ignoreBounds=True)
        self._aspect = 1.0
        self.edge_labels: dict[str, QLabel] = {}
        font = QFont()
        font.setPointSize(12)
        font.setBold(True)
        for edge, letter in zip(("left", "right", "top", "bottom"), PLANE_EDGES[plane]):
            label = QLabel(letter, self.image)
            label.setFont(font)
            label.setStyleSheet("color: #f0f0a0; background: transparent;")
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            label.adjustSize()
            self.edge_labels[edge] = label
        self.image.installEventFilter(self)
        self.image.view.viewport().installEventFilter(self)
        self._active: bool | None = None
        self.set_active(False)

    def _cursor_moved(self, row: int, column: int) -> None:
        if row >= 0:
            self.hovered.emit(self.plane)
        self.cursor_moved.emit(self.plane, row, column)

    def set_active(self, active: bool) -> None:
        """The pane the keys act on has a frame in its plane's colour."""
        if active == self._active:
            return  # the mouse moves over it: no new style sheet each time
        self._active = active
        color = PLANE_COLORS[self.plane] if active else "#303030"
        self.setStyleSheet(f"MprPane#{self.objectName()} {{ background: {color}; }}")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

    def set_pixel_spacing(self, spacing: tuple[float, float]) -> None:
        """Draw rows `spacing[0]` mm and columns `spacing[1]` mm apart: screen pixels per mm equal both ways."""
        row_mm, column_mm = spacing
        ratio = column_mm / row_mm if row_mm > 0 and column_mm > 0 else 1.0
        if ratio != self._aspect:
            self._aspect = ratio
            # pyqtgraph's ratio is x scale / y scale (screen pixels per image unit).
            self.image.view_box.setAspectLocked(True, ratio=ratio)
            if self.image.fitted:
                self.image.fit()

    def show_frame(self, frame: FrameDisplay, voi: VOI, invert: bool, row: int, column: int) -> None:
        if self.crosshair.grid_shape != frame.shape:
            self.crosshair.set_shape(*frame.shape)
        self.crosshair.set_point(row, column)
        self.image.show_frame(frame, voi, invert)

    def set_point(self, row: int, column: int) -> None:
        self.crosshair.set_point(row, column)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.image and event.type() == QEvent.Type.Resize:
            self._place_edges()
        elif event.type() in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel):
            self.activated.emit(self.plane)  # before the view acts on it
        return False

    def _place_edges(self) -> None:
        width, height = self.image.width(), self.image.height()
        margin = 6
        for edge, label in self.edge_labels.items():
            label.raise_()
            w, h = label.width(), label.height()
            x = {"left": margin, "right": width - w - margin}.get(edge, (width - w) // 2)
            y = {"top": margin, "bottom": height - h - margin}.get(edge, (height - h) // 2)
            label.move(max(0, x), max(0, y))
