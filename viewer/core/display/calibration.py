"""Which pixel spacing a distance on an image may be measured with, and what it is based on.

A length in mm is only as right as the spacing it is computed from, and the
files offer several that mean different things. :func:`pixel_spacing_basis`
picks the one that applies and says which it is; the scale bar and every
measurement show that label, and nothing ever falls back silently from one
spacing to another (issue #15, "Units and calibration").

The rules, in order:

1. **Ultrasound regions.** (0018,6011) *Sequence of Ultrasound Regions*
   (PS3.3 C.8.5.5, the ultrasound images' own calibration) gives a spacing
   per region: (0018,602C) *Physical Delta X* and (0018,602E) *Physical
   Delta Y* in the units of (0018,6024) / (0018,6026) *Physical Units X/Y
   Direction* (3: cm). One 2D region in cm covering the whole image gives
   the image a spacing ("ultrasound region"); otherwise none does ("ultrasound
   regions": only points inside one region can be measured,
   :func:`ultrasound_region_spacing`).
2. **Pixel Spacing** (0028,0030), or the *Pixel Measures* functional group
   of an enhanced multi-frame frame (PS3.3 C.7.6.16.2.1, lifted by
   :func:`~viewer.core.display.pixels.pipeline.frame_context`): the
   spacing in the patient. On cross-sectional images (CT, MR, PET...) it
   needs no label. On projection radiographs (PS3.3 10.7.1.3 *Basic Pixel
   Spacing Calibration Macro*):

   - with (0028,0A02) *Pixel Spacing Calibration Type* or (0028,0A04)
     *Pixel Spacing Calibration Description*: "calibrated (geometry)",
     "calibrated (fiducial)" or "calibrated (<description>)";
   - equal to (0018,1164) *Imager Pixel Spacing*: it is the detector's
     spacing, handled as in rule 3;
   - different from Imager Pixel Spacing, without a calibration type: the
     modality corrected it somehow, "calibrated (method not stated)";
   - without Imager Pixel Spacing: "calibration unknown" (it may be the
     detector's spacing or the patient's; the file does not say).
3. **Imager Pixel Spacing** (0018,1164) alone (projection radiography,
   PS3.3 C.8.11.4): the spacing at the detector's front plane, larger than
   in the patient by the beam's divergence. Divided by (0018,1114)
   *Estimated Radiographic Magnification Factor* where present:
   "magnified-corrected"; else used as is: "at detector".
4. Nothing: no spacing, "uncalibrated" (measure in pixels).

A measurement (:func:`measurement_calibration`) follows the same rules with
two more: the user's own calibration (a line of known length,
:func:`user_calibration`), which wins and is labelled "user calibrated";
and on an image with ultrasound regions, the region holding every point of
the measurement, or pixels ("outside ultrasound regions") when none does.

Spacings are (between rows, between columns) in mm, the order of (0028,0030)
(PS3.3 10.7.1.3); pixels need not be square.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from pydicom.dataset import Dataset

from viewer.core.display.stack_geometry import decimals, integer

#: Basis labels, as shown next to a scale bar or a measurement.
NO_LABEL = ""
AT_DETECTOR = "at detector"
MAGNIFICATION_CORRECTED = "magnified-corrected"
CALIBRATION_UNKNOWN = "calibration unknown"
CALIBRATION_NOT_STATED = "calibrated (method not stated)"
ULTRASOUND_REGION = "ultrasound region"
ULTRASOUND_REGIONS = "ultrasound regions"
UNCALIBRATED = "uncalibrated"
USER_CALIBRATED = "user calibrated"
OUTSIDE_ULTRASOUND_REGIONS = "outside ultrasound regions"

#: (0008,0060) Modality values of projection radiography (PS3.3 C.7.3.1.1.1): their Pixel Spacing needs a calibration label.
PROJECTION_MODALITIES = frozenset({"CR", "DX", "DF", "IO", "MG", "PX", "RF", "RG", "XA"})

#: Two spacings are the same when they differ by less than this fraction (DS values written to a few decimals).
SAME_SPACING = 1e-4

#: (0018,6012) Region Spatial Format 1: a 2D image (tissue or flow), the only kind measured in cm on both axes.
_US_REGION_2D = 1
#: (0018,6024)/(0018,6026) Physical Units 3: cm.
_US_UNITS_CM = 3


class Calibration(NamedTuple):
    """A pixel spacing (between rows, between columns; mm) or None, and what it is based on (a label, '' for plain Pixel Spacing)."""

    spacing: tuple[float, float] | None
    basis: str


def _spacing(ctx: Dataset, keyword: str) -> tuple[float, float] | None:
    values = decimals(ctx, keyword, 2)
    if values is None or (values <= 0).any():
        return None
    return float(values[0]), float(values[1])


def _same(first: tuple[float, float], second: tuple[float, float]) -> bool:
    return all(abs(a - b) <= SAME_SPACING * max(a, b) for a, b in zip(first, second))


def _calibration_label(ctx: Dataset) -> str | None:
    kind = str(ctx.get("PixelSpacingCalibrationType", "") or "").strip()
    description = str(ctx.get("PixelSpacingCalibrationDescription", "") or "").strip()
    if kind:
        return f"calibrated ({kind.lower()})"
    if description:
        return f"calibrated ({description})"
    return None


def _at_detector(ctx: Dataset, imager: tuple[float, float]) -> Calibration:
    magnification = decimals(ctx, "EstimatedRadiographicMagnificationFactor", 1)
    if magnification is not None and magnification[0] > 0:
        factor = float(magnification[0])
        return Calibration((imager[0] / factor, imager[1] / factor), MAGNIFICATION_CORRECTED)
    return Calibration(imager, AT_DETECTOR)


def _regions(ctx: Dataset) -> list[tuple[tuple[float, float, float, float], tuple[float, float]]]:
    """The 2D regions in cm: bounds (min x, min y, max x, max y; pixels, inclusive) and spacing (rows, columns; mm)."""
    regions = []
    for region in ctx.get("SequenceOfUltrasoundRegions") or []:
        bounds = [
            integer(region, keyword)
            for keyword in ("RegionLocationMinX0", "RegionLocationMinY0", "RegionLocationMaxX1", "RegionLocationMaxY1")
        ]
        units = (integer(region, "PhysicalUnitsXDirection"), integer(region, "PhysicalUnitsYDirection"))
        deltas = [decimals(region, keyword, 1) for keyword in ("PhysicalDeltaY", "PhysicalDeltaX")]
        if integer(region, "RegionSpatialFormat") != _US_REGION_2D or units != (_US_UNITS_CM, _US_UNITS_CM):
            continue
        if None in bounds or any(delta is None for delta in deltas):
            continue
        # Some scanners write a negative delta for a region shown mirrored; the distance between pixels is its size.
        row_mm, column_mm = (abs(float(delta[0])) * 10 for delta in deltas)
        if row_mm > 0 and column_mm > 0:
            regions.append((tuple(float(b) for b in bounds), (row_mm, column_mm)))
    return regions


def ultrasound_region_spacing(ctx: Dataset, points: Iterable[tuple[float, float]]) -> tuple[float, float] | None:
    """The spacing (rows, columns; mm) of the one 2D ultrasound region in cm holding every point; None otherwise.

    `points` are image points (column, row), pixel centres at whole
    numbers. A region holds a point when it lies within its (0018,6018)
    *Region Location Min X0* ... (0018,601E) *Max Y1* (PS3.3 C.8.5.5.1,
    inclusive pixel bounds, widened by half a pixel to the pixels' edges).
    Points across regions, or outside them, have no spacing: measure in pixels.
    """
    points = list(points)
    for (min_x, min_y, max_x, max_y), spacing in _regions(ctx):
        if points and all(min_x - 0.5 <= x <= max_x + 0.5 and min_y - 0.5 <= y <= max_y + 0.5 for x, y in points):
            return spacing
    return None


def _covering_region(ctx: Dataset) -> tuple[float, float] | None:
    rows, columns = integer(ctx, "Rows"), integer(ctx, "Columns")
    if not rows or not columns:
        return None
    return ultrasound_region_spacing(ctx, [(0, 0), (columns - 1, rows - 1)])


def is_projection(ctx: Dataset) -> bool:
    """Whether an image is a projection radiograph: it has (0018,1164) *Imager Pixel Spacing* or a projection (0008,0060) Modality."""
    return "ImagerPixelSpacing" in ctx or str(ctx.get("Modality", "") or "").strip().upper() in PROJECTION_MODALITIES


def pixel_spacing_basis(ctx: Dataset) -> Calibration:
    """The spacing to measure an image with, and its basis label (the rules in the module's description).

    `ctx` is the image's header or, for a frame of an enhanced multi-frame
    image, its :func:`~viewer.core.display.pixels.pipeline.frame_context`.
    Reads (0018,6011) *Sequence of Ultrasound Regions*, (0028,0030) *Pixel
    Spacing*, (0028,0A02) *Pixel Spacing Calibration Type*, (0028,0A04)
    *Pixel Spacing Calibration Description*, (0018,1164) *Imager Pixel
    Spacing*, (0018,1114) *Estimated Radiographic Magnification Factor*,
    (0008,0060) *Modality*, (0028,0010) *Rows* and (0028,0011) *Columns*.
    Returns ``Calibration(spacing, basis)``; ``spacing`` is None when no
    single spacing applies to the whole image.
    """
    if ctx.get("SequenceOfUltrasoundRegions"):
        covering = _covering_region(ctx)
        return Calibration(covering, ULTRASOUND_REGION) if covering is not None else Calibration(None, ULTRASOUND_REGIONS)
    pixel_spacing = _spacing(ctx, "PixelSpacing")
    imager = _spacing(ctx, "ImagerPixelSpacing")
    if pixel_spacing is not None:
        if not is_projection(ctx):
            return Calibration(pixel_spacing, NO_LABEL)
        label = _calibration_label(ctx)
        if label is not None:
            return Calibration(pixel_spacing, label)
        if imager is None:
            return Calibration(pixel_spacing, CALIBRATION_UNKNOWN)
        if _same(pixel_spacing, imager):
            return _at_detector(ctx, imager)
        return Calibration(pixel_spacing, CALIBRATION_NOT_STATED)
    if imager is not None:
        return _at_detector(ctx, imager)
    return Calibration(None, UNCALIBRATED)


def measurement_calibration(ctx: Dataset, points: Iterable[tuple[float, float]], user: Calibration | None = None) -> Calibration:
    """The spacing a measurement through `points` (column, row) is computed with, and its basis label.

    `user` (from :func:`user_calibration`) wins: the user drew a line of
    known length on this series. Otherwise :func:`pixel_spacing_basis`,
    except on an image with (0018,6011) *Sequence of Ultrasound Regions*:
    there the region holding every point decides (:func:`ultrasound_region_spacing`,
    labelled "ultrasound region"); points across regions or outside them are
    measured in pixels, labelled "outside ultrasound regions". Never another
    spacing in its place.
    """
    if user is not None:
        return user
    if ctx.get("SequenceOfUltrasoundRegions"):
        spacing = ultrasound_region_spacing(ctx, points)
        return Calibration(spacing, ULTRASOUND_REGION) if spacing is not None else Calibration(None, OUTSIDE_ULTRASOUND_REGIONS)
    return pixel_spacing_basis(ctx)


def user_calibration(ctx: Dataset, start: tuple[float, float], end: tuple[float, float], length_mm: float) -> Calibration:
    """The spacing that makes the line `start`-`end` (column, row) `length_mm` long: "user calibrated".

    Pixels keep the shape the file gives them: the ratio of its spacing
    (:func:`pixel_spacing_basis`) or of (0028,0034) *Pixel Aspect Ratio*
    (row/column, PS3.3 C.7.6.3.1.7); square when it gives neither.
    ValueError for a line of no length or a length that is not positive.
    """
    if not length_mm > 0:
        raise ValueError("the known length must be greater than 0 mm")
    spacing = pixel_spacing_basis(ctx).spacing
    if spacing is not None:
        aspect = spacing[0] / spacing[1]
    else:
        ratio = ctx.get("PixelAspectRatio")
        try:
            aspect = float(ratio[0]) / float(ratio[1]) if ratio and float(ratio[1]) > 0 and float(ratio[0]) > 0 else 1.0
        except (TypeError, ValueError, IndexError):
            aspect = 1.0
    dx, dy = end[0] - start[0], end[1] - start[1]
    pixels = (dx * dx + (dy * aspect) ** 2) ** 0.5  # the line's length in column spacings
    if pixels <= 0:
        raise ValueError("the calibration line has no length")
    column = length_mm / pixels
    return Calibration((column * aspect, column), USER_CALIBRATED)
