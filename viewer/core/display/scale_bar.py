"""The scale bar: a round length in mm and how long it is on the screen.

The bar shows the longest round length (1, 2 or 5 times a power of ten mm)
that fits in the room the viewport gives it, drawn along the screen's
horizontal (or vertical) axis. Its length comes from the spacing of the
image along that axis (pixels need not be square; after a quarter turn the
screen's horizontal runs along the image's columns) and the zoom. The
spacing and its label come from
:func:`~viewer.core.display.calibration.pixel_spacing_basis`: no spacing, no
bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from viewer.core.display.spatial_transform import SpatialTransform

#: The round lengths of each decade, largest first.
_STEPS = (5.0, 2.0, 1.0)


@dataclass(frozen=True)
class ScaleBar:
    """A bar of ``length_mm`` millimetres, ``length_pixels`` screen pixels long; ``basis`` the spacing's label."""

    length_mm: float
    length_pixels: float
    basis: str = ""

    @property
    def text(self) -> str:
        """'50 mm', '0.5 mm', '10 mm (at detector)'."""
        text = f"{self.length_mm:g} mm"
        return f"{text} ({self.basis})" if self.basis else text


def round_length(longest: float) -> float:
    """The largest of 1, 2 or 5 times a power of ten not above `longest` (> 0)."""
    # A relative margin, so that 19.999999999999996 (a product of floats) still gives 20.
    longest *= 1 + 1e-9
    decade = 10.0 ** math.floor(math.log10(longest))
    return next(step * decade for step in _STEPS if step * decade <= longest)


def screen_spacing(spacing: tuple[float, float], transform: SpatialTransform | None = None, vertical: bool = False) -> float:
    """The image's spacing in mm along the screen's horizontal (or vertical) axis.

    `spacing` is (between rows, between columns) as in (0028,0030) *Pixel
    Spacing* (PS3.3 10.7.1.3): the screen's horizontal runs between columns
    unless the image is turned by a quarter turn.
    """
    along_columns, _ = (transform or SpatialTransform()).image_direction((0, 1) if vertical else (1, 0))
    return float(spacing[1] if abs(along_columns) > 0.5 else spacing[0])


def scale_bar(
    spacing: tuple[float, float] | None,
    zoom: float,
    longest_pixels: float,
    transform: SpatialTransform | None = None,
    basis: str = "",
    vertical: bool = False,
) -> ScaleBar | None:
    """The scale bar for an image shown at `zoom` screen pixels per image pixel, at most `longest_pixels` long.

    `spacing` is the image's (rows, columns) spacing in mm or None (no bar);
    `transform` how the image is turned on the screen; `basis` the
    spacing's calibration label, repeated in the bar's text. None also when
    the zoom or the room is not a positive number.
    """
    if spacing is None or not (zoom > 0 and longest_pixels > 0) or not all(math.isfinite(v) and v > 0 for v in spacing):
        return None
    mm_per_screen_pixel = screen_spacing(spacing, transform, vertical) / zoom
    length_mm = round_length(longest_pixels * mm_per_screen_pixel)
    return ScaleBar(length_mm, length_mm / mm_per_screen_pixel, basis)
