"""A report's spatial coordinates in the patient (SCOORD3D) drawn on an image whose plane holds them.

A SCOORD3D content item (PS3.3 C.18.9) gives points in millimetres in the
patient coordinate system of (3006,0024) *Referenced Frame of Reference
UID*, not in an image's pixels: (x, y, z) triplets of (0070,0022) *Graphic
Data*, with the Graphic Type POINT, MULTIPOINT, POLYLINE, POLYGON, ELLIPSE
or ELLIPSOID (C.18.9.1.2). They can be shown on an image of the same frame
of reference (C.7.4.1.1.1: only then do positions compare) whose plane the
points lie in, within half its slice thickness (or :data:`IN_PLANE_MM`):
each point is projected onto the plane and given as image coordinates
through the image plane's equation (C.7.6.2.1.1, :class:`ImagePlane`).

The result is a 2D SCOORD's graphic type and data (C.18.6.1.2): (column,
row) with (0, 0) the top left corner of the top left pixel, so a pixel's
centre is at + 0.5 of the image plane's whole-number centres.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np

from viewer.core.display.image_plane import ImagePlane

Key = TypeVar("Key")

#: How far (mm) a point may lie from an image's plane to be drawn on it, for an image without (0018,0050) *Slice Thickness*.
IN_PLANE_MM = 1.0
#: SCOORD3D graphic types (C.18.9.1.2) as drawn on an image: a POLYGON as a closed POLYLINE, an ELLIPSOID's six
#: axis ends as points (its outline on a plane is not one of them).
AS_DRAWN = {
    "POINT": "POINT",
    "MULTIPOINT": "MULTIPOINT",
    "POLYLINE": "POLYLINE",
    "POLYGON": "POLYLINE",
    "ELLIPSE": "ELLIPSE",
    "ELLIPSOID": "MULTIPOINT",
}


def patient_points(graphic_data: Iterable[float]) -> np.ndarray:
    """(n, 3) points in mm from a SCOORD3D's (0070,0022) *Graphic Data* (x, y, z triplets; a trailing remainder dropped)."""
    data = np.asarray(list(graphic_data), dtype=np.float64)
    return data[: len(data) // 3 * 3].reshape(-1, 3)


def off_plane(points: np.ndarray, plane: ImagePlane) -> float:
    """The farthest any point lies from `plane`, in mm."""
    return float(np.max(np.abs((points - plane.origin) @ plane.normal))) if len(points) else float("inf")


def plane_holding(
    points: np.ndarray, frame_of_reference: str, candidates: Iterable[tuple[Key, ImagePlane | None, float | None]]
) -> tuple[Key, ImagePlane] | None:
    """The candidate whose plane holds `points` best: same frame of reference, every point within its tolerance
    (the candidate's half slice thickness, else :data:`IN_PLANE_MM`) of the plane and inside the image once projected.

    `candidates`: (key, plane or None, slice thickness in mm or None). None when no candidate holds them.
    """
    best: tuple[float, Key, ImagePlane] | None = None
    for key, plane, thickness in candidates:
        if plane is None or not frame_of_reference or plane.frame_of_reference != frame_of_reference:
            continue
        distance = off_plane(points, plane)
        if distance > (thickness / 2 if thickness else IN_PLANE_MM) + 1e-6:
            continue
        if not all(plane.contains(*plane.image_point(p), margin=0.5) for p in points):
            continue
        if best is None or distance < best[0]:
            best = (distance, key, plane)
    return (best[1], best[2]) if best is not None else None


def on_image(graphic_type: str, points: np.ndarray, plane: ImagePlane) -> tuple[str, tuple[float, ...]]:
    """The SCOORD (graphic type, graphic data) drawing these patient points on the image of `plane`."""
    image = [plane.image_point(p) for p in points]
    if graphic_type == "POLYGON" and image and image[0] != image[-1]:
        image.append(image[0])  # a POLYGON is closed (C.18.9.1.2): joined back to its first point where the data do not repeat it
    return AS_DRAWN.get(graphic_type, "MULTIPOINT"), tuple(v + 0.5 for point in image for v in point)
