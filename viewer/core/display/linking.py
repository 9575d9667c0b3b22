"""Linked scrolling: the slice of another series at the active slice's position.

When viewports are linked, scrolling one shows in every other the slice at
the same place along the slice normal. A series' slices are the planes of
its images (:func:`~viewer.core.display.image_plane.series_planes`); a
:class:`SliceStack` holds their positions along the series' normal. The
active slice's position is the position of its centre, so that slightly
tilted stacks (a gantry-tilted CT beside an MR) still link where they
overlap.

* Series in one frame of reference ((0020,0052) *Frame of Reference UID*,
  PS3.3 C.7.4.1.1.1) link as they are; series in different ones (another
  visit, another scanner) only once the user has set an offset
  (:func:`link_offset` computes it from two slices the user has put side by
  side), since their coordinates do not compare.
* The other series' nearest slice is shown when it lies within half that
  series' slice spacing of the position; beyond its ends or in a gap,
  nothing ("no slice here").
* Only series whose normals are within :data:`LINK_COSINE` of parallel
  link: an axial with a sagittal has no common "position along the normal"
  (the reference line shows where they cross instead). 0.95 (about 18
  degrees) is the tolerance Weasis uses for two oblique series to count as
  one orientation (``ImageOrientation.hasSameOrientation``): enough for
  gantry tilt, far from the 90 degrees between planes of different names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from viewer.core.display.image_plane import ImagePlane

#: Two series scroll together when the cosine of the angle between their normals is at least this.
LINK_COSINE = 0.95

#: The images of one stack are parallel when their normals are within this cosine (about 1 degree).
STACK_COSINE = 0.9998

#: Positions this close (mm) count as equal when comparing with half a spacing (DS values keep a few decimals).
POSITION_TOLERANCE_MM = 1e-3


@dataclass(frozen=True, eq=False)
class SliceStack:
    """Where the images of a series lie along their common normal.

    ``positions[i]`` is image ``i``'s centre along ``normal`` (mm; NaN where
    the image has no known plane); ``spacing`` the typical distance between
    neighbouring positions (the median; 0 for a single position).
    """

    planes: tuple[ImagePlane | None, ...]
    normal: np.ndarray
    positions: np.ndarray
    spacing: float
    frame_of_reference: str


def slice_stack(planes: Sequence[ImagePlane | None]) -> SliceStack | None:
    """The stack of a series' images (in series order); None when they are not parallel slices.

    None when no image has a known plane, or when the images are not all
    parallel (:data:`STACK_COSINE`): a localizer series of axial, coronal and
    sagittal images has no single position to scroll by. The frame of
    reference is the first image's; a series spanning several has none.
    """
    known = [plane for plane in planes if plane is not None]
    if not known:
        return None
    normal = known[0].normal
    if any(abs(float(plane.normal @ normal)) < STACK_COSINE for plane in known):
        return None
    positions = np.array([np.nan if plane is None else float(plane.centre @ normal) for plane in planes])
    distinct = np.unique(positions[~np.isnan(positions)])
    spacing = float(np.median(np.diff(distinct))) if len(distinct) > 1 else 0.0
    frames = {plane.frame_of_reference for plane in known}
    return SliceStack(tuple(planes), normal, positions, spacing, frames.pop() if len(frames) == 1 else "")


def link_offset(active: ImagePlane, other: ImagePlane) -> float:
    """The offset (mm along the active image's normal) that makes `other` the linked slice of `active`.

    For series in different frames of reference: the user shows the same
    anatomy in both viewports, then links them; this is the offset
    :func:`linked_index` then applies.
    """
    return float((other.centre - active.centre) @ active.normal)


def linked_index(active: SliceStack, index: int, other: SliceStack, offset_mm: float | None = None) -> int | None:
    """The image of `other` to show when the active series shows its image `index`; None for "no slice here".

    The active image's centre, moved by `offset_mm` along the active
    normal, is taken to `other`'s normal; the nearest of `other`'s images
    (the first of equals) is the answer when within half of `other`'s
    spacing (the active series' spacing when `other` has a single image).
    None also when the normals are further apart than :data:`LINK_COSINE`
    allows, or when the series are in different (or unstated) frames of
    reference and no offset is given.
    """
    if not 0 <= index < len(active.planes) or active.planes[index] is None:
        return None
    same_frame = bool(active.frame_of_reference) and active.frame_of_reference == other.frame_of_reference
    if not same_frame and offset_mm is None:
        return None
    if abs(float(active.normal @ other.normal)) < LINK_COSINE:
        return None
    plane = active.planes[index]
    position = float((plane.centre + (offset_mm or 0.0) * active.normal) @ other.normal)
    distances = np.abs(other.positions - position)
    nearest = int(np.nanargmin(distances))
    spacing = other.spacing or active.spacing
    if distances[nearest] > spacing / 2 + POSITION_TOLERANCE_MM:
        return None
    return nearest
