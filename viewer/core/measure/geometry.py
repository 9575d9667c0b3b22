"""Shapes in image coordinates and what they measure: lengths, angles, areas.

A point is (column, row), floats, pixel centres at whole numbers; positions
are kept at sub-pixel precision, so zooming and panning never move them. A
distance uses the spacing between columns for column steps and the one
between rows for row steps ((0028,0030) *Pixel Spacing* is row spacing \\
column spacing, PS3.3 10.7.1.3), so non-square pixels measure right. Angles
are measured in the patient's plane too: on non-square pixels the angle seen
in pixels is not the angle in the patient. Without a spacing, everything is
in pixels (square).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from viewer.core.display.calibration import Calibration

Point = tuple[float, float]

LINE = "line"
POLYLINE = "polyline"
ANGLE = "angle"
COBB = "cobb"
POINT = "point"
ELLIPSE = "ellipse"
RECTANGLE = "rectangle"
POLYGON = "polygon"
FREEHAND = "freehand"
ARROW = "arrow"

#: Tool -> (least points, most points or None); ellipse and rectangle are given by two opposite corners of their box.
POINT_COUNTS = {
    LINE: (2, 2),
    POLYLINE: (2, None),
    ANGLE: (3, 3),
    COBB: (4, 4),
    POINT: (1, 1),
    ELLIPSE: (2, 2),
    RECTANGLE: (2, 2),
    POLYGON: (3, None),
    FREEHAND: (3, None),
    ARROW: (2, 2),
}
#: Tools whose pixels are counted (:mod:`viewer.core.measure.roi`).
ROI_TOOLS = frozenset({ELLIPSE, RECTANGLE, POLYGON, FREEHAND})


@dataclass(frozen=True)
class Shape:
    """A drawn shape: its tool, its points (column, row) and, for an arrow, its text.

    Ellipse and rectangle: two opposite corners of the (axis-aligned) box;
    angle: first arm's end, vertex, second arm's end; Cobb: two lines, two
    points each; polygon and freehand: the vertices of a closed polygon.
    """

    tool: str
    points: tuple[Point, ...]
    text: str = field(default="")

    def __post_init__(self) -> None:
        if self.tool not in POINT_COUNTS:
            raise ValueError(f"unknown measurement tool '{self.tool}'")
        least, most = POINT_COUNTS[self.tool]
        if len(self.points) < least or (most is not None and len(self.points) > most):
            wanted = str(least) if least == most else f"at least {least}"
            raise ValueError(f"a {self.tool} needs {wanted} points, not {len(self.points)}")
        for x, y in self.points:
            if not (math.isfinite(x) and math.isfinite(y)):
                raise ValueError(f"a {self.tool}'s points must be finite numbers")
        object.__setattr__(self, "points", tuple((float(x), float(y)) for x, y in self.points))

    @staticmethod
    def ellipse(cx: float, cy: float, rx: float, ry: float) -> Shape:
        """The ellipse of centre (cx, cy) and semi-axes rx (along rows: in columns) and ry (in rows)."""
        return Shape(ELLIPSE, ((cx - abs(rx), cy - abs(ry)), (cx + abs(rx), cy + abs(ry))))

    def box(self) -> tuple[float, float, float, float]:
        """The bounding box: min column, min row, max column, max row."""
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)

    def to_json(self) -> dict:
        item = {"tool": self.tool, "points": [list(p) for p in self.points]}
        if self.text:
            item["text"] = self.text
        return item

    @staticmethod
    def from_json(item: dict) -> Shape:
        return Shape(str(item["tool"]), tuple((float(p[0]), float(p[1])) for p in item["points"]), str(item.get("text", "")))


def _scale(calibration: Calibration) -> tuple[float, float]:
    """mm per column step and per row step; (1, 1) in pixels."""
    if calibration.spacing is None:
        return 1.0, 1.0
    return calibration.spacing[1], calibration.spacing[0]


def length_unit(calibration: Calibration) -> str:
    return "mm" if calibration.spacing is not None else "px"


def area_unit(calibration: Calibration) -> str:
    return "mm²" if calibration.spacing is not None else "px²"


def distance(a: Point, b: Point, calibration: Calibration) -> float:
    """The distance from `a` to `b`: sqrt((dx * column spacing)² + (dy * row spacing)²), mm or pixels."""
    sx, sy = _scale(calibration)
    return math.hypot((b[0] - a[0]) * sx, (b[1] - a[1]) * sy)


def path_length(points: Sequence[Point], calibration: Calibration, closed: bool = False) -> float:
    """The total length of a polyline (closed: back to its first point too)."""
    ends = list(points) + ([points[0]] if closed and len(points) > 2 else [])
    return sum(distance(a, b, calibration) for a, b in zip(ends, ends[1:]))


def angle_at(first: Point, vertex: Point, second: Point, calibration: Calibration) -> float:
    """The angle first-vertex-second in degrees, 0 to 180, in the patient's plane. NaN when an arm has no length."""
    sx, sy = _scale(calibration)
    ux, uy = (first[0] - vertex[0]) * sx, (first[1] - vertex[1]) * sy
    vx, vy = (second[0] - vertex[0]) * sx, (second[1] - vertex[1]) * sy
    if (ux == 0 and uy == 0) or (vx == 0 and vy == 0):
        return math.nan
    return math.degrees(abs(math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)))


def cobb_angle(line1: tuple[Point, Point], line2: tuple[Point, Point], calibration: Calibration) -> float:
    """The Cobb angle: the angle between two lines (e.g. along two vertebral end plates), 0 to 90 degrees.

    Lines have no direction, so this is the acute angle between them
    whichever way each was drawn. NaN when a line has no length.
    """
    sx, sy = _scale(calibration)
    (a, b), (c, d) = line1, line2
    ux, uy = (b[0] - a[0]) * sx, (b[1] - a[1]) * sy
    vx, vy = (d[0] - c[0]) * sx, (d[1] - c[1]) * sy
    if (ux == 0 and uy == 0) or (vx == 0 and vy == 0):
        return math.nan
    between = math.degrees(abs(math.atan2(ux * vy - uy * vx, ux * vx + uy * vy)))
    return min(between, 180.0 - between)


def polygon_area(points: Sequence[Point], calibration: Calibration) -> float:
    """The area of a simple polygon (shoelace formula), mm² or px²."""
    sx, sy = _scale(calibration)
    twice = 0.0
    for (x0, y0), (x1, y1) in zip(points, list(points[1:]) + [points[0]]):
        twice += x0 * y1 - x1 * y0
    return abs(twice) / 2 * sx * sy


def shape_area(shape: Shape, calibration: Calibration) -> float:
    """The geometric area of an ROI shape (ellipse: pi * a * b; rectangle; polygon by the shoelace formula).

    The shape's own area, not its pixel count times the pixel's area: the two
    differ by the pixels the outline cuts through.
    """
    sx, sy = _scale(calibration)
    x0, y0, x1, y1 = shape.box()
    if shape.tool == ELLIPSE:
        return math.pi * (x1 - x0) / 2 * (y1 - y0) / 2 * sx * sy
    if shape.tool == RECTANGLE:
        return (x1 - x0) * (y1 - y0) * sx * sy
    return polygon_area(shape.points, calibration)


def measured_points(shape: Shape) -> list[Point]:
    """The points that decide an ultrasound region: the shape's own points, a rectangle's four corners and an
    ellipse's four ends of its axes (a shape lies within a region, a rectangle, exactly when these do)."""
    x0, y0, x1, y1 = shape.box()
    if shape.tool == RECTANGLE:
        return [(x0, y0), (x1, y0), (x0, y1), (x1, y1)]
    if shape.tool == ELLIPSE:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return [(x0, cy), (x1, cy), (cx, y0), (cx, y1)]
    return list(shape.points)
