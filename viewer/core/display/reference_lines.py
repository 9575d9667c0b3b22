"""Reference lines and the cross-reference cursor: one image's plane seen on another.

A **reference line** shows, on a target image, where the image of the active
viewport cuts it: an axial CT slice as a line across a sagittal reformat, an
axial slice as a line across its scout (localizer). It is the part of the
line where the two planes meet that lies on both images: on the active
image (so a small field of view gives a short line, as on the scout of a
CT) and on the target image (clipped to its edges). Both images must be in
one frame of reference ((0020,0052) *Frame of Reference UID*, PS3.3
C.7.4.1.1.1): positions in different ones do not compare, so they get no
line, by design. Planes within :data:`PARALLEL_DEGREES` of parallel get none
either: they do not cross in any useful place, and where they meet moves by
metres for a hundredth of a millimetre of position.

This is the approach of David Clunie's ``LocalizerPoster`` as Weasis uses it
(``IntersectSlice``: the active image's outline cut by the target's plane),
done here as one clipping of the planes' common line to both rectangles.

The **cross-reference cursor** takes a point of one image (Shift+click) to
the patient's coordinates and finds, in another series, the slice nearest
to it and the point's place on that slice (:func:`cursor_target`).

Image points are (column, row), pixel centres at whole numbers; an image
covers -0.5 to columns - 0.5 and -0.5 to rows - 0.5 (see
:mod:`viewer.core.display.image_plane`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.core.display.image_plane import ImagePlane

#: Planes closer than this to parallel have no reference line (see the module's description).
PARALLEL_DEGREES = 1.0

#: A segment shorter than this (mm) is a corner touching a corner, not a line to draw.
_SHORTEST_MM = 1e-6


@dataclass(frozen=True)
class ReferenceLine:
    """A segment on the target image, from ``start`` to ``end``, each (column, row)."""

    start: tuple[float, float]
    end: tuple[float, float]


def same_frame_of_reference(first: ImagePlane, second: ImagePlane) -> bool:
    """Whether two images' positions compare: one (0020,0052) *Frame of Reference UID*, stated in both."""
    return bool(first.frame_of_reference) and first.frame_of_reference == second.frame_of_reference


def _clip(interval: list[float], start: float, rate: float, low: float, high: float) -> bool:
    """Narrow `interval` [t0, t1] to where start + rate * t lies in [low, high]; False when nothing is left."""
    if abs(rate) < 1e-12:
        return low <= start <= high
    ends = sorted(((low - start) / rate, (high - start) / rate))
    interval[0], interval[1] = max(interval[0], ends[0]), min(interval[1], ends[1])
    return interval[0] <= interval[1]


def _within(plane: ImagePlane, point: np.ndarray, direction: np.ndarray, interval: list[float]) -> bool:
    """Narrow the line point + t * direction (t in `interval`, mm) to the part on `plane`'s image."""
    offset = point - plane.origin
    row_spacing, column_spacing = plane.spacing
    # Column and row index along the line: where they start (t = 0) and how fast they change per mm.
    column_at = (offset @ plane.row_direction / column_spacing, direction @ plane.row_direction / column_spacing)
    row_at = (offset @ plane.column_direction / row_spacing, direction @ plane.column_direction / row_spacing)
    return _clip(interval, *column_at, -0.5, plane.columns - 0.5) and _clip(interval, *row_at, -0.5, plane.rows - 0.5)


def reference_line(active: ImagePlane, target: ImagePlane) -> ReferenceLine | None:
    """Where the `active` image crosses the `target` image, in the target's image points; None if nowhere.

    None when the two are not in one frame of reference
    (:func:`same_frame_of_reference`), when they are within
    :data:`PARALLEL_DEGREES` of parallel, or when the line where their
    planes meet misses either image.
    """
    if not same_frame_of_reference(active, target):
        return None
    active_normal, target_normal = active.normal, target.normal
    direction = np.cross(active_normal, target_normal)
    sine = float(np.linalg.norm(direction))
    if sine < math.sin(math.radians(PARALLEL_DEGREES)):
        return None
    # The point of the common line nearest the origin: on both planes and perpendicular to the line.
    active_offset, target_offset = float(active_normal @ active.origin), float(target_normal @ target.origin)
    point = (active_offset * np.cross(target_normal, direction) + target_offset * np.cross(direction, active_normal)) / sine**2
    direction = direction / sine
    interval = [-math.inf, math.inf]
    if not (_within(active, point, direction, interval) and _within(target, point, direction, interval)):
        return None
    if interval[1] - interval[0] < _SHORTEST_MM:
        return None
    start, end = (target.image_point(point + t * direction) for t in interval)
    return ReferenceLine(start, end)


def first_and_last_lines(planes: Sequence[ImagePlane | None], target: ImagePlane) -> tuple[ReferenceLine | None, ReferenceLine | None]:
    """The reference lines on `target` of the first and of the last image of a series (planes in series order).

    Images without a known plane are passed over; a series of one image
    gives its line twice.
    """
    known = [plane for plane in planes if plane is not None]
    if not known:
        return None, None
    return reference_line(known[0], target), reference_line(known[-1], target)


@dataclass(frozen=True)
class CursorTarget:
    """Where a patient point falls in a series: the nearest image, the point projected onto it, and how far it is."""

    index: int  # the image's index in the series
    column: float
    row: float
    distance_mm: float  # from the point to that image's plane (absolute)
    on_image: bool  # whether (column, row) lies on the image


def cursor_target(point: np.ndarray, frame_of_reference: str, planes: Sequence[ImagePlane | None]) -> CursorTarget | None:
    """The image of a series nearest to a patient point, and the point's (column, row) on it.

    `point` is in the patient's coordinates (mm; from
    :meth:`ImagePlane.patient_point` of the clicked image) of
    `frame_of_reference`; `planes` the series' images
    (:func:`~viewer.core.display.image_plane.series_planes`). The nearest
    image is the one whose plane is nearest to the point along its own
    normal (the first of equals); the point is projected onto it. None when
    no image of the series is in that frame of reference.
    """
    point = np.asarray(point, dtype=np.float64)
    best: tuple[float, int, ImagePlane] | None = None
    for index, plane in enumerate(planes):
        if plane is None or not frame_of_reference or plane.frame_of_reference != frame_of_reference:
            continue
        distance = abs(plane.distance(point))
        if best is None or distance < best[0]:
            best = (distance, index, plane)
    if best is None:
        return None
    distance, index, plane = best
    column, row = plane.image_point(point)
    return CursorTarget(index, column, row, distance, plane.contains(column, row))
