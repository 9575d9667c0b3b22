"""The toolbar's icons, drawn with QPainter: no image files to find, no new dependency.

Each icon is a few strokes on a transparent square, in a light grey that
reads on the dark theme and a darker one that reads on the light theme (Qt
picks the variant for the disabled and checked states itself). Drawn at two
sizes so that high-DPI screens get sharp lines. :func:`icon` draws them on
first use and keeps them; it costs well under a millisecond in all.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QApplication

#: Sizes drawn, in device pixels.
SIZES = (24, 48)


def _window_level(p: QPainter, s: float) -> None:
    """A circle half black, half white: contrast (window width and level)."""
    rect = QRectF(0.15 * s, 0.15 * s, 0.7 * s, 0.7 * s)
    p.drawEllipse(rect)
    path = QPainterPath()
    path.moveTo(rect.center())
    path.arcTo(rect, 90, 180)
    path.closeSubpath()
    p.fillPath(path, p.pen().color())


def _pan(p: QPainter, s: float) -> None:
    """Four arrows out from the middle: move the image."""
    c, r, h = 0.5 * s, 0.38 * s, 0.1 * s
    p.drawLine(QPointF(c - r, c), QPointF(c + r, c))
    p.drawLine(QPointF(c, c - r), QPointF(c, c + r))
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        tip = QPointF(c + dx * r, c + dy * r)
        side = QPointF(dy * h, dx * h)
        back = QPointF(-dx * h, -dy * h)
        p.drawPolyline(QPolygonF([tip + back + side, tip, tip + back - side]))


def _zoom(p: QPainter, s: float) -> None:
    """A magnifying glass with a plus."""
    p.drawEllipse(QRectF(0.12 * s, 0.12 * s, 0.52 * s, 0.52 * s))
    p.drawLine(QPointF(0.58 * s, 0.58 * s), QPointF(0.88 * s, 0.88 * s))
    p.drawLine(QPointF(0.26 * s, 0.38 * s), QPointF(0.5 * s, 0.38 * s))
    p.drawLine(QPointF(0.38 * s, 0.26 * s), QPointF(0.38 * s, 0.5 * s))


def _scroll(p: QPainter, s: float) -> None:
    """A stack of slices with an up and a down arrow: through the images."""
    for i in range(3):
        y = (0.3 + 0.17 * i) * s
        p.drawPolygon(QPolygonF([QPointF(0.1 * s, y), QPointF(0.4 * s, y - 0.08 * s), QPointF(0.6 * s, y), QPointF(0.3 * s, y + 0.08 * s)]))
    x = 0.8 * s
    p.drawLine(QPointF(x, 0.12 * s), QPointF(x, 0.88 * s))
    p.drawPolyline(QPolygonF([QPointF(x - 0.1 * s, 0.24 * s), QPointF(x, 0.12 * s), QPointF(x + 0.1 * s, 0.24 * s)]))
    p.drawPolyline(QPolygonF([QPointF(x - 0.1 * s, 0.76 * s), QPointF(x, 0.88 * s), QPointF(x + 0.1 * s, 0.76 * s)]))


def _invert(p: QPainter, s: float) -> None:
    """A square half filled: black and white swapped."""
    rect = QRectF(0.15 * s, 0.15 * s, 0.7 * s, 0.7 * s)
    p.drawRect(rect)
    p.fillRect(QRectF(rect.left(), rect.top(), rect.width() / 2, rect.height()), p.pen().color())


def _reset(p: QPainter, s: float) -> None:
    """A circular arrow: back to the first window and zoom."""
    rect = QRectF(0.18 * s, 0.18 * s, 0.64 * s, 0.64 * s)
    p.drawArc(rect, 60 * 16, 280 * 16)
    tip = QPointF(0.5 * s + 0.32 * s * 0.5, 0.5 * s - 0.32 * s * 0.866)
    p.drawPolyline(QPolygonF([tip + QPointF(-0.16 * s, -0.04 * s), tip, tip + QPointF(-0.02 * s, 0.16 * s)]))


def _fit(p: QPainter, s: float) -> None:
    """Four corners pointing out: the whole image in the viewport."""
    a, b, k = 0.14 * s, 0.86 * s, 0.22 * s
    for x, y, dx, dy in ((a, a, 1, 1), (b, a, -1, 1), (a, b, 1, -1), (b, b, -1, -1)):
        p.drawPolyline(QPolygonF([QPointF(x + dx * k, y), QPointF(x, y), QPointF(x, y + dy * k)]))
    p.drawRect(QRectF(0.34 * s, 0.34 * s, 0.32 * s, 0.32 * s))


def _one_to_one(p: QPainter, s: float) -> None:
    """'1:1' written small."""
    font = p.font()
    font.setPixelSize(int(0.46 * s))
    font.setBold(True)
    p.setFont(font)
    p.drawText(QRectF(0, 0, s, s), Qt.AlignmentFlag.AlignCenter, "1:1")


def _annotations(p: QPainter, s: float) -> None:
    """Text in the corners of a frame: the corner annotations."""
    p.drawRect(QRectF(0.1 * s, 0.16 * s, 0.8 * s, 0.68 * s))
    for x in (0.18 * s, 0.56 * s):
        for y in (0.28 * s, 0.7 * s):
            p.drawLine(QPointF(x, y), QPointF(x + 0.26 * s, y))


def _measurement(points: tuple[tuple[float, float], ...], closed: bool = False, ends: bool = True) -> Callable[[QPainter, float], None]:
    """A measurement tool's icon: its strokes through `points` (fractions of the size), with dots at the ends."""

    def draw(p: QPainter, s: float) -> None:
        polygon = QPolygonF([QPointF(x * s, y * s) for x, y in points])
        if closed:
            p.drawPolygon(polygon)
        else:
            p.drawPolyline(polygon)
        if ends:
            for x, y in (points[0], points[-1]):
                p.drawEllipse(QPointF(x * s, y * s), 0.05 * s, 0.05 * s)

    return draw


def _cobb(p: QPainter, s: float) -> None:
    """Two tilted lines (end plates) and the angle between them."""
    p.drawLine(QPointF(0.12 * s, 0.3 * s), QPointF(0.88 * s, 0.15 * s))
    p.drawLine(QPointF(0.12 * s, 0.7 * s), QPointF(0.88 * s, 0.88 * s))
    p.drawArc(QRectF(0.05 * s, 0.2 * s, 0.4 * s, 0.6 * s), -60 * 16, 120 * 16)


def _point_value(p: QPainter, s: float) -> None:
    """Cross hairs on a pixel: the value of one point."""
    p.drawRect(QRectF(0.38 * s, 0.38 * s, 0.24 * s, 0.24 * s))
    for a, b in (((0.5, 0.08), (0.5, 0.3)), ((0.5, 0.7), (0.5, 0.92)), ((0.08, 0.5), (0.3, 0.5)), ((0.7, 0.5), (0.92, 0.5))):
        p.drawLine(QPointF(a[0] * s, a[1] * s), QPointF(b[0] * s, b[1] * s))


def _ellipse_roi(p: QPainter, s: float) -> None:
    p.drawEllipse(QRectF(0.1 * s, 0.22 * s, 0.8 * s, 0.56 * s))


def _rectangle_roi(p: QPainter, s: float) -> None:
    p.drawRect(QRectF(0.12 * s, 0.22 * s, 0.76 * s, 0.56 * s))


def _freehand(p: QPainter, s: float) -> None:
    """A closed curve drawn by hand."""
    path = QPainterPath(QPointF(0.2 * s, 0.5 * s))
    path.cubicTo(QPointF(0.1 * s, 0.1 * s), QPointF(0.6 * s, 0.05 * s), QPointF(0.8 * s, 0.35 * s))
    path.cubicTo(QPointF(1.0 * s, 0.7 * s), QPointF(0.5 * s, 0.95 * s), QPointF(0.2 * s, 0.5 * s))
    p.drawPath(path)


def _arrow(p: QPainter, s: float) -> None:
    """An arrow and a line of text: an annotation."""
    p.drawLine(QPointF(0.85 * s, 0.85 * s), QPointF(0.3 * s, 0.3 * s))
    p.drawPolyline(QPolygonF([QPointF(0.3 * s, 0.55 * s), QPointF(0.3 * s, 0.3 * s), QPointF(0.55 * s, 0.3 * s)]))
    p.drawLine(QPointF(0.1 * s, 0.12 * s), QPointF(0.6 * s, 0.12 * s))


_DRAWINGS: dict[str, Callable[[QPainter, float], None]] = {
    "window": _window_level,
    "pan": _pan,
    "zoom": _zoom,
    "scroll": _scroll,
    "invert": _invert,
    "reset": _reset,
    "fit": _fit,
    "one_to_one": _one_to_one,
    "annotations": _annotations,
    # The measurement tools (viewer.ui.tools.measure_tools).
    "length": _measurement(((0.12, 0.82), (0.88, 0.18))),
    "polyline": _measurement(((0.1, 0.8), (0.35, 0.3), (0.62, 0.62), (0.9, 0.2))),
    "angle": _measurement(((0.85, 0.2), (0.15, 0.8), (0.9, 0.8))),
    "cobb": _cobb,
    "point_value": _point_value,
    "ellipse_roi": _ellipse_roi,
    "rectangle_roi": _rectangle_roi,
    "polygon_roi": _measurement(((0.15, 0.3), (0.6, 0.12), (0.88, 0.55), (0.45, 0.88), (0.12, 0.7)), closed=True, ends=False),
    "freehand_roi": _freehand,
    "arrow": _arrow,
}
NAMES = tuple(_DRAWINGS)


def _pixmap(name: str, size: int, colour: QColor) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(colour, max(1.5, size / 14))
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(QBrush(Qt.BrushStyle.NoBrush))
    _DRAWINGS[name](painter, float(size))
    painter.end()
    return pixmap


def icon(name: str) -> QIcon:
    """The icon `name` (one of :data:`NAMES`) in the colour of the application's window text."""
    app = QApplication.instance()
    colour = app.palette().windowText().color() if app is not None else QColor("#d6d6d6")
    result = QIcon()
    for size in SIZES:
        result.addPixmap(_pixmap(name, size, colour))
    return result


#: The key-image star's fill: gold, read on grey thumbnails of any brightness thanks to its dark outline.
KEY_STAR_COLOUR = QColor(255, 200, 0)


def key_star(icon: QIcon, size: int) -> QIcon:
    """`icon` at `size` pixels with a gold five-pointed star in its top right corner: a series holding key images."""
    source = icon.pixmap(size, size)
    pixmap = QPixmap(source.size() if not source.isNull() else QPixmap(size, size).size())
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.drawPixmap(0, 0, source)
    side = max(10.0, pixmap.width() * 0.4)
    cx, cy, outer = pixmap.width() - side / 2 - 1, side / 2 + 1, side / 2
    points = []
    for i in range(10):  # alternate outer and inner corners, the first pointing up
        radius = outer if i % 2 == 0 else outer * 0.45
        angle = math.radians(-90 + 36 * i)
        points.append(QPointF(cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    painter.setPen(QPen(QColor(40, 30, 0), 1.2))
    painter.setBrush(QBrush(KEY_STAR_COLOUR))
    painter.drawPolygon(QPolygonF(points))
    painter.end()
    return QIcon(pixmap)
