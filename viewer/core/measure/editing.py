"""Editing measurements without Qt: handles, moving, hit-testing, and undo/redo of a frame's measurements.

The viewport's tools (a later step) turn mouse events into calls here; the
positions are image coordinates (column, row; pixel centres at whole
numbers), so zoom and pan never move a measurement. A tolerance given in
screen pixels is divided by the zoom by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from viewer.core.measure import geometry as g

#: Tools given by their box: their handles are its four corners.
_BOX_TOOLS = (g.ELLIPSE, g.RECTANGLE)


def handles(shape: g.Shape) -> list[g.Point]:
    """The points a user can drag: an ellipse's or rectangle's four box corners (clockwise from top left), else the shape's points."""
    if shape.tool in _BOX_TOOLS:
        x0, y0, x1, y1 = shape.box()
        return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return list(shape.points)


def with_handle_moved(shape: g.Shape, index: int, point: g.Point) -> g.Shape:
    """`shape` with handle `index` (of :func:`handles`) at `point`; a box's opposite corner stays where it is."""
    if shape.tool in _BOX_TOOLS:
        opposite = handles(shape)[(index + 2) % 4]
        return g.Shape(shape.tool, (opposite, (float(point[0]), float(point[1]))), shape.text)
    points = list(shape.points)
    points[index] = (float(point[0]), float(point[1]))
    return g.Shape(shape.tool, tuple(points), shape.text)


def translated(shape: g.Shape, dx: float, dy: float) -> g.Shape:
    """`shape` moved by (dx, dy) image pixels."""
    return g.Shape(shape.tool, tuple((x + dx, y + dy) for x, y in shape.points), shape.text)


def nearest_handle(shape: g.Shape, point: g.Point, tolerance: float) -> int | None:
    """The handle of `shape` nearest `point` within `tolerance` image pixels, or None."""
    best, best_distance = None, tolerance
    for index, (x, y) in enumerate(handles(shape)):
        distance = math.hypot(x - point[0], y - point[1])
        if distance <= best_distance:
            best, best_distance = index, distance
    return best


def _segment_distance(p: g.Point, a: g.Point, b: g.Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def outline(shape: g.Shape) -> list[list[g.Point]]:
    """The shape's strokes as polylines (an ellipse as 72 segments), in image coordinates."""
    points = list(shape.points)
    x0, y0, x1, y1 = shape.box()
    if shape.tool == g.RECTANGLE:
        return [[(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]]
    if shape.tool == g.ELLIPSE:
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        return [[(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in (2 * math.pi * k / 72 for k in range(73))]]
    if shape.tool in (g.POLYGON, g.FREEHAND):
        return [points + [points[0]]]
    if shape.tool == g.COBB:
        return [points[:2], points[2:]]
    return [points]


def distance_to(shape: g.Shape, point: g.Point) -> float:
    """How far `point` is from the shape's strokes, in image pixels (0 on them); for picking a measurement by clicking it."""
    best = math.inf
    for line in outline(shape):
        if len(line) == 1:
            best = min(best, math.hypot(line[0][0] - point[0], line[0][1] - point[1]))
        for a, b in zip(line, line[1:]):
            best = min(best, _segment_distance(point, a, b))
    return best


class EditHistory:
    """The shapes of one frame as the user edits them, with undo and redo.

    Every change is one step; a drag's many moves of the same shape are one
    step when made with ``replace(..., continuing=True)`` after the first.
    """

    def __init__(self, shapes: Sequence[g.Shape] = ()):
        self._shapes: list[g.Shape] = list(shapes)
        self._undo: list[list[g.Shape]] = []
        self._redo: list[list[g.Shape]] = []
        self._continuing: int | None = None

    @property
    def shapes(self) -> tuple[g.Shape, ...]:
        return tuple(self._shapes)

    def _step(self) -> None:
        self._undo.append(list(self._shapes))
        self._redo.clear()
        self._continuing = None

    def add(self, shape: g.Shape) -> int:
        """Add a shape; its index."""
        self._step()
        self._shapes.append(shape)
        return len(self._shapes) - 1

    def replace(self, index: int, shape: g.Shape, continuing: bool = False) -> None:
        """Put `shape` in place of shape `index` (a handle moved, the shape moved); `continuing` joins the last step's drag."""
        if not (continuing and self._continuing == index):
            self._step()
            self._continuing = index
        self._shapes[index] = shape

    def remove(self, index: int) -> g.Shape:
        self._step()
        return self._shapes.pop(index)

    def clear(self) -> None:
        if self._shapes:
            self._step()
            self._shapes.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> bool:
        """Back one step; False when there is none."""
        if not self._undo:
            return False
        self._redo.append(self._shapes)
        self._shapes = self._undo.pop()
        self._continuing = None
        return True

    def redo(self) -> bool:
        """Forward one step; False when there is none."""
        if not self._redo:
            return False
        self._undo.append(self._shapes)
        self._shapes = self._redo.pop()
        self._continuing = None
        return True
