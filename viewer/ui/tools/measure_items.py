"""What a measurement looks like on a viewport: its strokes, its label and its handles, as items over the image.

The strokes are one path item under the pane's image parent
(:meth:`ImagePane.image_parent`), in image coordinates (pixel (c, r) on the
square (c, r)-(c + 1, r + 1), so an image point lies half a pixel further
on, as :mod:`viewer.ui.viewport.reference_overlay` explains), drawn with a cosmetic
pen: zoom and pan move them with the image and never rebuild them, and a
presentation state's turn and flip (PS3.3 C.10.6) carry them with the image's
pixels. The label and the handles ignore the view's scale, turn and flip
(``ItemIgnoresTransformations``): they stay upright and the same size on the
screen whatever the zoom. Moving a handle rebuilds one
path and one label, nothing else (bench_measure.py, the UI case).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QGraphicsRectItem

from viewer.core.measure import geometry as g
from viewer.core.measure.editing import handles, outline

#: A measurement's colour; the selected one's; one being drawn.
COLOUR = QColor(255, 210, 60)
SELECTED_COLOUR = QColor(80, 220, 255)
DRAWING_COLOUR = QColor(120, 255, 120)
#: Above the image item and the reference lines (reference_overlay.OVERLAY_Z is 50).
MEASURE_Z = 60
#: Half a handle's side, in screen pixels.
HANDLE_HALF = 4


def view_point(point: g.Point) -> QPointF:
    """Where image point (column, row) lies under the pane's image parent (pixel (c, r) covers (c, r) to (c + 1, r + 1))."""
    return QPointF(point[0] + 0.5, point[1] + 0.5)


def image_point(view: QPointF) -> g.Point:
    """The image point (column, row) of a point under the image parent (the inverse of :func:`view_point`)."""
    return (view.x() - 0.5, view.y() - 0.5)


def _pen(colour: QColor, width: float = 1.5, style: Qt.PenStyle = Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(colour)
    pen.setWidthF(width)
    pen.setStyle(style)
    pen.setCosmetic(True)  # screen pixels, whatever the zoom
    return pen


def strokes(tool: str, points: list[g.Point] | tuple[g.Point, ...], text: str = "") -> list[list[g.Point]]:
    """The polylines a shape (or one being drawn, with fewer points) is drawn with, in image points; an arrow gets its head."""
    try:
        shape = g.Shape(tool, tuple(points), text)
    except ValueError:  # being drawn: not enough points yet
        if tool == g.COBB:
            return [list(points[:2]), list(points[2:])]
        if tool in (g.ELLIPSE, g.RECTANGLE) and len(points) == 2:
            return outline(g.Shape(tool, tuple(points)))
        return [list(points)]
    lines = outline(shape)
    if tool == g.ARROW:
        (tx, ty), (ex, ey) = shape.points  # the tip first
        length = math.hypot(ex - tx, ey - ty)
        if length > 0:
            head = min(0.25 * length, 12.0)
            ux, uy = (ex - tx) / length, (ey - ty) / length
            left = (tx + head * (ux * 0.87 - uy * 0.5), ty + head * (uy * 0.87 + ux * 0.5))
            right = (tx + head * (ux * 0.87 + uy * 0.5), ty + head * (uy * 0.87 - ux * 0.5))
            lines.append([left, (tx, ty), right])
    return lines


def path_of(lines: list[list[g.Point]]) -> QPainterPath:
    path = QPainterPath()
    for line in lines:
        if not line:
            continue
        path.moveTo(view_point(line[0]))
        if len(line) == 1:  # a point: drawn by the item's screen-sized marker
            continue
        for point in line[1:]:
            path.lineTo(view_point(point))
    return path


class LabelItem(QGraphicsItem):
    """A measurement's text, screen-sized, on a translucent dark box beside its anchor."""

    FLAGS = int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)

    def __init__(self, parent: QGraphicsItem | None = None):
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
        self.setZValue(MEASURE_Z + 1)
        self.font = QFont()
        self.font.setPixelSize(13)  # screen pixels: the box measured here fits the text painted on any screen
        self._metrics = QFontMetricsF(self.font)
        self.text = ""
        self.colour = COLOUR
        self._rect = QRectF()

    def set_text(self, text: str, colour: QColor) -> None:
        if text == self.text and colour == self.colour:
            return
        self.prepareGeometryChange()
        self.text, self.colour = text, colour
        if text:
            # Laid out as drawText lays it out (a glyph from a fallback font, such as "²", may make its line taller).
            size = self._metrics.boundingRect(QRectF(0, 0, 4000, 4000), self.FLAGS, text).size()
            self._rect = QRectF(10, -math.ceil(size.height()) - 12, math.ceil(size.width()) + 10, math.ceil(size.height()) + 6)
        else:
            self._rect = QRectF()
        self.update()

    def boundingRect(self) -> QRectF:
        return self._rect

    def paint(self, painter, option, widget=None):
        if not self.text:
            return
        painter.fillRect(self._rect, QColor(0, 0, 0, 150))
        painter.setFont(self.font)
        painter.setPen(self.colour)
        painter.drawText(self._rect.adjusted(5, 3, -5, -3), self.FLAGS, self.text)


class MeasurementItem:
    """One measurement drawn over an image: a path, a label and (when selected) handles.

    `parent` is the pane's image parent for measurements (``pane.image_parent(MEASURE_Z)``): the items are its
    children, in image coordinates, and follow a presentation state's turn and flip.
    """

    def __init__(self, parent: QGraphicsItem, drawing: bool = False):
        self.parent = parent
        self.path = QGraphicsPathItem(parent)
        self.path.setZValue(MEASURE_Z)
        self.path.setPen(_pen(DRAWING_COLOUR, 1.5, Qt.PenStyle.DashLine) if drawing else _pen(COLOUR))
        self.label = LabelItem(parent)
        self.marker: QGraphicsPathItem | None = None  # a point value's cross, screen-sized
        self.handles: list[QGraphicsRectItem] = []
        self.selected = False
        self.drawing = drawing

    def show(self, tool: str, points, text: str, label: str, selected: bool = False) -> None:
        """Draw the shape `tool` through `points` with `label`; `selected` shows its handles."""
        self.path.setPath(path_of(strokes(tool, points, text)))
        if selected != self.selected and not self.drawing:
            self.selected = selected
            self.path.setPen(_pen(SELECTED_COLOUR if selected else COLOUR))
            if self.marker is not None:
                self.marker.setPen(self.path.pen())
        if tool == g.POINT and points:
            self._show_marker(points[0])
        colour = DRAWING_COLOUR if self.drawing else SELECTED_COLOUR if selected else COLOUR
        if tool == g.ARROW and points:
            anchor = view_point(points[-1])  # the text at the arrow's tail
        elif points:
            # Right of the shape as it is seen: the point furthest right on the screen (the highest of those),
            # which on a turned or flipped image is not the one of the largest column.
            turn = self.parent.transform()
            anchor = max((view_point(p) for p in points), key=lambda v: (turn.map(v).x(), -turn.map(v).y()))
        else:
            anchor = view_point((0.0, 0.0))
        self.label.setPos(anchor)
        self.label.set_text(label, colour)
        self._show_handles(tool, points, text, selected)

    def _show_marker(self, point: g.Point) -> None:
        if self.marker is None:
            cross = QPainterPath()
            for a, b in (((-6, 0), (-2, 0)), ((2, 0), (6, 0)), ((0, -6), (0, -2)), ((0, 2), (0, 6))):
                cross.moveTo(*a)
                cross.lineTo(*b)
            self.marker = QGraphicsPathItem(cross, self.parent)
            self.marker.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            self.marker.setPen(self.path.pen())
            self.marker.setZValue(MEASURE_Z)
        self.marker.setPos(view_point(point))

    def _show_handles(self, tool: str, points, text: str, selected: bool) -> None:
        wanted: list[g.Point] = []
        if selected:
            try:
                wanted = handles(g.Shape(tool, tuple(points), text))
            except ValueError:
                wanted = []
        while len(self.handles) < len(wanted):
            handle = QGraphicsRectItem(-HANDLE_HALF, -HANDLE_HALF, 2 * HANDLE_HALF, 2 * HANDLE_HALF, self.parent)
            handle.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations, True)
            handle.setPen(_pen(QColor("black"), 1.0))
            handle.setBrush(SELECTED_COLOUR)
            handle.setZValue(MEASURE_Z + 2)
            self.handles.append(handle)
        for index, handle in enumerate(self.handles):
            if index < len(wanted):
                handle.setPos(view_point(wanted[index]))
                handle.show()
            else:
                handle.hide()

    def remove(self) -> None:
        for item in [self.path, self.label, *self.handles, *([self.marker] if self.marker is not None else [])]:
            scene = item.scene()
            if scene is not None:
                scene.removeItem(item)  # no longer the parent's child either
            else:
                item.setParentItem(None)
        self.handles = []
