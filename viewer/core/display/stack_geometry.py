"""Whether the images of a series form a volume, and the geometry of that volume.

An image's place in the patient comes from the *Image Plane* module (PS3.3
C.7.6.2): (0020,0032) *Image Position (Patient)*, the centre of its first
pixel in mm; (0020,0037) *Image Orientation (Patient)*, the direction
cosines of its first row (towards increasing column index) and of its
first column (towards increasing row index); and (0028,0030) *Pixel
Spacing*, the distance between row centres, then between column centres.
The coordinates are the patient's LPS axes: x towards the patient's left,
y towards posterior, z towards the head (PS3.3 C.7.6.2.1.1). Enhanced
multi-frame images carry the same attributes per frame in the *Plane
Position (Patient)*, *Plane Orientation (Patient)* and *Pixel Measures*
functional group macros (PS3.3 C.7.6.16.2.3-1, -4, -1), which
:func:`~viewer.core.display.pixels.pipeline.frame_context` lifts to the top level.

:func:`stack_geometry` decides whether a stack of such images is a volume
(parallel slices of one size and spacing, evenly spaced along their common
normal, in one frame of reference) and refuses anything else with a
one-line reason (:class:`NotAVolume`). A stack whose slices are offset in
their own plane from one slice to the next, as a CT acquired with a tilted
gantry is (a sheared stack), is accepted with the per-slice shift that puts
it back on an orthogonal grid: :mod:`viewer.core.display.volume` resamples it.
:func:`patient_axes` then says how to turn the acquisition's axes into the
patient's, so that an axial plane is the patient's axial plane whichever
way the series was acquired.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.media.model import raw_numbers
from viewer.core.runtime.wording import count

#: Two orientations are the same when no direction cosine differs by more
#: than this (about 0.06 degrees): DS values of one series are written from
#: the same numbers, so any real difference is a different stack.
ORIENTATION_TOLERANCE = 1e-3

#: Slices are evenly spaced when every gap between neighbours along the
#: normal is within 1 % of the typical (median) gap, or within 0.02 mm
#: (positions written to 0.01 mm make gaps that differ by up to 0.01 mm).
SPACING_TOLERANCE = 0.01
SPACING_TOLERANCE_MM = 0.02

#: A stack is sheared (gantry tilt) when the in-plane offset of its last
#: slice from its first exceeds a tenth of a pixel; below that, resampling
#: would move no value by more than a tenth of a pixel, so nothing is done.
SHEAR_TOLERANCE_PIXELS = 0.1

#: Shifts within this many pixels of a whole number are taken as that number.
SHIFT_ROUNDING = 1e-6

#: Planes are called oblique when an acquisition axis is further than this
#: from the patient axis nearest to it.
OBLIQUE_DEGREES = 1.0

_PATIENT_AXIS_NAMES = ("sagittal", "coronal", "axial")  # the plane whose normal is x, y, z


class NotAVolume(ViewerError):
    """Why a series cannot be reformatted, in one line (shown in the viewport, or by the CLI)."""


@dataclass(frozen=True)
class StackGeometry:
    """The acquisition grid of a stack that is a volume.

    ``order`` lists the images by position along ``normal``, the first
    nearest the normal's negative end. Voxel ``(k, i, j)`` (slice, row,
    column) of the grid lies at
    ``origin + k * spacing[2] * normal + i * spacing[1] * column_direction + j * spacing[0] * row_direction``
    once each slice ``k`` has been moved by ``shifts[k]`` (rows, columns;
    fractions of a pixel allowed) and the grid grown by ``margins``
    (rows, columns) to hold the moved slices; both are zero unless the
    stack is sheared (``tilt_degrees`` > 0).
    """

    order: tuple[int, ...]
    rows: int
    columns: int
    row_direction: np.ndarray  # unit vector along a row: increasing column index
    column_direction: np.ndarray  # unit vector along a column: increasing row index
    normal: np.ndarray  # row_direction x column_direction
    spacing: tuple[float, float, float]  # (between columns, between rows, between slices) in mm
    origin: np.ndarray  # centre of voxel (0, 0, 0) of the grown grid
    shifts: np.ndarray  # (slices, 2) rows and columns each slice moves by
    margins: tuple[int, int]  # rows and columns the grid grows by
    tilt_degrees: float
    frame_of_reference: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return len(self.order), self.rows + self.margins[0], self.columns + self.margins[1]


def decimals(ctx: Dataset, keyword: str, length: int) -> np.ndarray | None:
    """A numeric attribute (DS, FD, US...) of `length` finite values as float64, or None when absent or malformed."""
    try:
        value = ctx.get(keyword)
        values = [float(value)] if value is None or isinstance(value, (int, float, str, bytes)) else [float(v) for v in value]
    except (TypeError, ValueError, AttributeError, KeyError):
        return None
    if len(values) != length or not all(math.isfinite(v) for v in values):
        return None
    return np.asarray(values, dtype=np.float64)


def integer(ctx: Dataset, keyword: str) -> int | None:
    """An IS or US attribute as an int, or None when absent or malformed."""
    try:
        return int(ctx.get(keyword))
    except (TypeError, ValueError, AttributeError, KeyError):
        return None


def plane_name(normal: np.ndarray) -> str:
    """'axial', 'coronal' or 'sagittal': the patient plane nearest to a plane of this normal."""
    return _PATIENT_AXIS_NAMES[int(np.argmax(np.abs(normal)))]


def _orientation(ctx: Dataset, number: int) -> tuple[np.ndarray, np.ndarray]:
    cosines = decimals(ctx, "ImageOrientationPatient", 6)
    if cosines is None:
        raise NotAVolume(f"image {number} has no usable (0020,0037) Image Orientation (Patient)")
    directions = unit_cosines(cosines)
    if directions is None:
        raise NotAVolume(f"image {number} has an invalid (0020,0037) Image Orientation (Patient): not two perpendicular unit vectors")
    return directions


def unit_cosines(cosines: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The row and column directions of six (0020,0037) *Image Orientation (Patient)* values, made exactly unit length.

    None unless they are two perpendicular unit vectors (PS3.3 C.7.6.2.1.1),
    within ten times :data:`ORIENTATION_TOLERANCE`: values written to a few
    decimals are not exactly either.
    """
    row, column = cosines[:3], cosines[3:]
    tol = ORIENTATION_TOLERANCE * 10
    if abs(np.linalg.norm(row) - 1) > tol or abs(np.linalg.norm(column) - 1) > tol or abs(float(row @ column)) > tol:
        return None
    return row / np.linalg.norm(row), column / np.linalg.norm(column)


#: The key object under which each tag was last found (see raw_value).
_KEYS: dict[int, int] = {}


def raw_value(ctx: Dataset, tag: int) -> object:
    """An element's value as the file encodes it (bytes, not yet converted), for telling equal values apart cheaply."""
    # Dataset.get_item without its Tag() conversion (a BaseTag hashes as its number): a volume
    # looks up some 20 elements per slice, and this was a tenth of a 1,000-slice volume's build.
    # The lookup is by the key object last found for this tag: the headers of a series read by
    # comparison share their keys, and a dict compares an identical key without calling
    # BaseTag.__eq__ (Python code); any other key is still found by equality.
    element = ctx._dict.get(_KEYS.get(tag, tag))
    if element is None:
        return None
    _KEYS[tag] = element.tag
    value = element.value
    return value if isinstance(value, bytes) else str(value)


def distinct(contexts: Sequence[Dataset], tags: Sequence[int]) -> list[tuple[int, Dataset]]:
    """The first image (number from 1, attributes) of each distinct encoding of `tags`.

    The images of a series share most attributes byte for byte: reading
    them once per distinct encoding, not once per image, saves most of the
    cost of pydicom's conversions on a stack of 500 slices.
    """
    seen: dict[tuple, tuple[int, Dataset]] = {}
    for number, ctx in enumerate(contexts, 1):
        seen.setdefault(tuple(raw_value(ctx, tag) for tag in tags), (number, ctx))
    return list(seen.values())


#: (0028,0002) Samples per Pixel, (0028,0004) Photometric Interpretation, (0028,0010) Rows, (0028,0011) Columns,
#: (0020,0037) Image Orientation (Patient), (0028,0030) Pixel Spacing, (0020,0052) Frame of Reference UID.
_SHARED_TAGS = (0x00280002, 0x00280004, 0x00280010, 0x00280011, 0x00200037, 0x00280030, 0x00200052)


def _check_images(contexts: Sequence[Dataset]) -> tuple[int, int, np.ndarray, np.ndarray, tuple[float, float], str]:
    """Size, orientation, pixel spacing and frame of reference, the same for every image."""
    numbered = distinct(contexts, _SHARED_TAGS)
    contexts = [ctx for _, ctx in numbered]
    for _, ctx in numbered:
        samples = integer(ctx, "SamplesPerPixel") or 1
        photometric = str(ctx.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").strip().upper()
        if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
            raise NotAVolume(f"colour images ({photometric}) have no grey values to reformat")
    row, column = _orientation(contexts[0], 1)
    planes = set()
    for number, ctx in numbered[1:]:
        other_row, other_column = _orientation(ctx, number)
        if max(np.abs(other_row - row).max(), np.abs(other_column - column).max()) > ORIENTATION_TOLERANCE:
            planes.add(plane_name(np.cross(other_row, other_column)))
    if planes:
        planes.add(plane_name(np.cross(row, column)))
        kinds = ", ".join(sorted(planes)) if len(planes) > 1 else f"all {planes.pop()} but tilted differently"
        raise NotAVolume(f"the images have different orientations ({kinds}): a localizer or several stacks, not one volume")
    sizes = {(integer(ctx, "Rows"), integer(ctx, "Columns")) for ctx in contexts}
    if len(sizes) > 1:
        listed = " and ".join(f"{c}x{r}" for r, c in sorted(sizes, key=str)[:2])
        raise NotAVolume(f"the images differ in size ({listed}): not one volume")
    rows, columns = sizes.pop()
    if not rows or not columns or rows < 1 or columns < 1:
        raise NotAVolume("the images have no (0028,0010) Rows or (0028,0011) Columns")
    spacing = decimals(contexts[0], "PixelSpacing", 2)
    if spacing is None or (spacing <= 0).any():
        raise NotAVolume("the images have no usable (0028,0030) Pixel Spacing: their size in mm is unknown")
    for ctx in contexts[1:]:
        other = decimals(ctx, "PixelSpacing", 2)
        if other is None or (np.abs(other - spacing) > 1e-3 * spacing).any():
            shown = "missing" if other is None else f"{other[0]:g} x {other[1]:g} mm"
            raise NotAVolume(f"the images differ in pixel spacing ({spacing[0]:g} x {spacing[1]:g} mm and {shown})")
    frames = {str(ctx.get("FrameOfReferenceUID", "") or "").strip() for ctx in contexts}
    if len(frames) > 1:
        raise NotAVolume("the images are in different frames of reference ((0020,0052) Frame of Reference UID)")
    # PS3.3 C.7.6.2.1.1: Pixel Spacing is (between rows, between columns).
    return rows, columns, row, column, (float(spacing[1]), float(spacing[0])), frames.pop()


def stack_geometry(contexts: Sequence[Dataset]) -> StackGeometry:
    """Decide whether images form a volume; its acquisition grid if they do.

    `contexts` are the attributes of each image (a single-frame header, or
    a frame's :func:`~viewer.core.display.pixels.pipeline.frame_context`), in any order.
    Reads (0020,0032) *Image Position (Patient)*, (0020,0037) *Image
    Orientation (Patient)*, (0028,0030) *Pixel Spacing*, (0028,0010)
    *Rows*, (0028,0011) *Columns*, (0028,0002) *Samples per Pixel*,
    (0028,0004) *Photometric Interpretation* and (0020,0052) *Frame of
    Reference UID* (PS3.3 C.7.6.2, C.7.6.3, C.7.4.1).

    A volume is at least two greyscale images of one size, one pixel
    spacing and one orientation (:data:`ORIENTATION_TOLERANCE`), in one
    frame of reference (or none stated), at distinct positions along their
    normal, evenly spaced (:data:`SPACING_TOLERANCE`,
    :data:`SPACING_TOLERANCE_MM`). Their positions must lie on one
    straight line; when that line is not the normal (gantry tilt), the
    shear is returned as per-slice ``shifts`` for the caller to resample.

    Raises :class:`NotAVolume` with the first reason found.
    """
    if len(contexts) < 2:
        raise NotAVolume("a single image is not a volume: reformats need a stack of parallel slices")
    rows, columns, row, column, (dx, dy), frame_of_reference = _check_images(contexts)
    normal = np.cross(row, column)
    positions = []
    for number, ctx in enumerate(contexts, 1):
        position = raw_numbers(ctx, 0x00200032)  # from the raw bytes: one per image, pydicom's conversion costs more
        if position is None or len(position) != 3 or not all(math.isfinite(v) for v in position):
            raise NotAVolume(f"image {number} has no usable (0020,0032) Image Position (Patient)")
        positions.append(np.asarray(position, dtype=np.float64))
    along = np.array([p @ normal for p in positions])
    order = np.argsort(along, kind="stable")
    along, points = along[order], np.array(positions)[order]
    gaps = np.diff(along)
    typical = float(np.median(gaps))
    tolerance = max(SPACING_TOLERANCE * typical, SPACING_TOLERANCE_MM)
    duplicates = np.flatnonzero(gaps < SPACING_TOLERANCE_MM)
    if duplicates.size:
        where = along[duplicates[0]]
        same = int(np.count_nonzero(np.abs(along - where) < SPACING_TOLERANCE_MM))
        raise NotAVolume(
            f"{count(same, 'image')} at one position ({where:.2f} mm along the normal): "
            "duplicates or several acquisitions in one series, not one volume"
        )
    uneven = np.flatnonzero(np.abs(gaps - typical) > tolerance)
    if uneven.size:
        worst = int(uneven[np.argmax(np.abs(gaps[uneven] - typical))])
        raise NotAVolume(
            f"uneven slice spacing: {gaps[worst]:.3g} mm between slices {worst + 1} and {worst + 2} where the others are "
            f"{typical:.3g} mm (a missing slice, or two stacks in one series?)"
        )
    dz = float((along[-1] - along[0]) / (len(along) - 1))
    shifts, margins, origin, tilt = _shear(points, along, row, column, normal, (dx, dy, dz))
    return StackGeometry(
        order=tuple(int(i) for i in order),
        rows=rows,
        columns=columns,
        row_direction=row,
        column_direction=column,
        normal=normal,
        spacing=(dx, dy, dz),
        origin=origin,
        shifts=shifts,
        margins=margins,
        tilt_degrees=tilt,
        frame_of_reference=frame_of_reference,
    )


def _shear(points, along, row, column, normal, spacing) -> tuple[np.ndarray, tuple[int, int], np.ndarray, float]:
    """Per-slice shifts (rows, columns) that undo an in-plane drift along the stack (gantry tilt).

    Each slice's position minus the first's, less its component along the
    normal, is its in-plane offset; offsets must grow linearly with the
    distance along the normal (one tilt angle), else the stack is refused.
    """
    dx, dy, _ = spacing
    height = along - along[0]
    offsets = points - points[0] - np.outer(height, normal)
    in_plane = np.stack([offsets @ column / dy, offsets @ row / dx], axis=1)  # in pixels: rows, columns
    slope = in_plane[-1] / height[-1]
    fitted = np.outer(height, slope)
    # As for the spacing: the positions' own precision, or 1 % of the whole drift.
    tolerance = np.maximum(SPACING_TOLERANCE_MM / np.array([dy, dx]), SPACING_TOLERANCE * np.abs(fitted[-1]))
    if (np.abs(in_plane - fitted).max(axis=0) > tolerance).any():
        worst = float((np.abs(in_plane - fitted) * (dy, dx)).max())
        raise NotAVolume(f"the slices are not on one straight line (one is {worst:.2f} mm off it in its own plane): not one volume")
    zero = np.zeros((len(points), 2))
    if np.abs(fitted[-1]).max() <= SHEAR_TOLERANCE_PIXELS:
        return zero, (0, 0), points[0].copy(), 0.0
    # Grid rows and columns start at the most negative shift.
    # A millionth of a pixel is rounding of the positions' arithmetic, not a shift (as in the resampling).
    base = np.floor(fitted.min(axis=0) + SHIFT_ROUNDING)
    shifts = fitted - base
    margins = (int(math.ceil(shifts[:, 0].max() - SHIFT_ROUNDING)), int(math.ceil(shifts[:, 1].max() - SHIFT_ROUNDING)))
    origin = points[0] + base[0] * dy * column + base[1] * dx * row
    tilt = math.degrees(math.atan(math.hypot(slope[0] * dy, slope[1] * dx)))
    return shifts, margins, origin, tilt


@dataclass(frozen=True)
class PatientAxes:
    """How the acquisition grid's axes (slice, row, column) become the patient's (z, y, x).

    ``order[q]`` is the acquisition axis that becomes patient axis ``q``
    (0: z towards the head, 1: y towards posterior, 2: x towards the left);
    ``flip[q]`` says whether it runs the other way. ``directions[q]`` is
    the unit vector of increasing index along patient axis ``q`` and
    ``obliquity`` the largest angle (degrees) between such a vector and the
    patient axis it stands for.
    """

    order: tuple[int, int, int]
    flip: tuple[bool, bool, bool]
    directions: np.ndarray
    obliquity: float


def patient_axes(geometry: StackGeometry) -> PatientAxes:
    """Map the acquisition's axes onto the patient's nearest axes (PS3.3 C.7.6.2.1.1: LPS).

    Each acquisition axis (the normal, the column direction, the row
    direction) stands for the patient axis it has the largest component
    along, flipped when it points the other way. An acquisition whose axes
    are the patient's (up to flips and swaps) keeps every voxel as is; an
    oblique one keeps its own planes, each standing for the patient plane
    nearest to it (``obliquity`` says how far). Raises NotAVolume when two
    acquisition axes are nearest to one patient axis (an acquisition at
    about 45 degrees to the patient: no plane would be the patient's).
    """
    vectors = (geometry.normal, geometry.column_direction, geometry.row_direction)
    nearest = [int(np.argmax(np.abs(v))) for v in vectors]  # 0: x, 1: y, 2: z
    if len(set(nearest)) != 3:
        raise NotAVolume(
            "the slices are at about 45 degrees to the patient's axes: no reformat would be an axial, coronal or sagittal plane"
        )
    order, flip, directions, angles = [], [], [], []
    for patient in (2, 1, 0):  # z, y, x
        axis = nearest.index(patient)
        vector = vectors[axis]
        flipped = bool(vector[patient] < 0)
        order.append(axis)
        flip.append(flipped)
        directions.append(-vector if flipped else vector)
        angles.append(math.degrees(math.acos(min(1.0, abs(float(vector[patient]))))))
    return PatientAxes(tuple(order), tuple(flip), np.array(directions), max(angles))
