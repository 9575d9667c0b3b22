"""Measurements drawn into exported pixels (``export --annotations``), with Pillow, no Qt.

The pixels are the export's, at 1:1, so an image point (column, row) with
pixel centres at whole numbers is where Pillow draws it (Pillow's
coordinates also put pixel centres at whole numbers for lines). Shapes are
drawn as the presentation state describes them
(:mod:`viewer.core.measure.presentation_state`), in yellow one pixel wide,
their labels in Pillow's built-in font (12 pixels) beside them, on a dark outline so
they read on bright and dark images alike. A grey image becomes RGB.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from viewer.core.measure import geometry as g
from viewer.core.measure.editing import outline
from viewer.core.measure.measure import Reading, label

COLOUR = (255, 230, 0)
OUTLINE = (0, 0, 0)
#: Label text height in image pixels.
LABEL_SIZE = 12


def _shape_lines(shape: g.Shape) -> list[list[g.Point]]:
    """The strokes drawn: the outline, with an arrow's head and a cross for a point."""
    points = list(shape.points)
    if shape.tool == g.ARROW:
        tip, tail = points
        length = math.hypot(tail[0] - tip[0], tail[1] - tip[1]) or 1.0
        size = min(10.0, length / 3)
        ux, uy = (tail[0] - tip[0]) / length * size, (tail[1] - tip[1]) / length * size
        heads = []
        for turn in (math.radians(25), -math.radians(25)):
            c, s = math.cos(turn), math.sin(turn)
            heads.append([tip, (tip[0] + ux * c - uy * s, tip[1] + ux * s + uy * c)])
        return [points, *heads]
    if shape.tool == g.POINT:
        (x, y) = points[0]
        return [[(x - 4, y), (x + 4, y)], [(x, y - 4), (x, y + 4)]]
    return outline(shape)


def burn_measurements(pixels: np.ndarray, measurements: Sequence[tuple[g.Shape, tuple[Reading, ...]]]) -> np.ndarray:
    """`pixels` (uint8 grey or RGB) with each (shape, readings) drawn and labelled; uint8 RGB, a new array."""
    from PIL import Image, ImageDraw, ImageFont

    rgb = np.repeat(pixels[:, :, None], 3, axis=2) if pixels.ndim == 2 else pixels[:, :, :3]
    canvas = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    # Pillow's own font (scalable with FreeType, else its small bitmap font); neither has "²": written "mm2".
    font = ImageFont.load_default(size=LABEL_SIZE)
    scalable = isinstance(font, ImageFont.FreeTypeFont)
    for shape, readings in measurements:
        for line in _shape_lines(shape):
            draw.line([(float(x), float(y)) for x, y in line], fill=COLOUR, width=1)
        text = label(shape, readings)
        text = text.replace("²", "2") if scalable else text.replace("²", "2").replace("°", " deg")
        if text:
            _, y0, x1, _ = shape.box()
            draw.multiline_text((x1 + 4, y0), text, fill=COLOUR, font=font, stroke_width=1, stroke_fill=OUTLINE)
    return np.asarray(canvas)
