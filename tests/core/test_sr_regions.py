"""Spatial coordinates in the patient (SCOORD3D) on an image plane: which plane holds them, and where they fall.

Points are placed here with the image plane's equation written out from PS3.3 C.7.6.2.1.1 and CT_small's own
Image Position, Image Orientation and Pixel Spacing (read with pydicom), then moved off the plane along the normal.
"""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from viewer.core.display.image_plane import image_plane
from viewer.core.documents.sr_regions import on_image, plane_holding

CT = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)


def patient(column: float, row: float, off: float = 0.0) -> np.ndarray:
    origin = np.array([float(v) for v in CT.ImagePositionPatient])
    along_row, along_column = (np.array([float(v) for v in CT.ImageOrientationPatient[i : i + 3]]) for i in (0, 3))
    row_spacing, column_spacing = (float(v) for v in CT.PixelSpacing)
    normal = np.cross(along_row, along_column)
    return origin + column * column_spacing * along_row + row * row_spacing * along_column + off * normal


def test_points_in_the_plane_fall_on_their_pixels():
    plane = image_plane(CT)
    points = np.array([patient(10, 20), patient(40, 20), patient(25, 60)])
    assert plane_holding(points, CT.FrameOfReferenceUID, [("ct", plane, None)]) == ("ct", plane)
    kind, data = on_image("POLYGON", points, plane)
    assert kind == "POLYLINE"  # closed: back to the first point
    assert np.allclose(data, [10.5, 20.5, 40.5, 20.5, 25.5, 60.5, 10.5, 20.5], atol=1e-6)


def test_off_the_plane_beyond_half_the_slice_thickness_or_another_frame_of_reference():
    plane = image_plane(CT)
    near = np.array([patient(10, 20, 0.8), patient(40, 20, -0.8)])
    far = np.array([patient(10, 20, 2.0)])
    uid = CT.FrameOfReferenceUID
    assert plane_holding(near, uid, [("ct", plane, None)]) is not None  # within 1 mm
    assert plane_holding(far, uid, [("ct", plane, None)]) is None
    assert plane_holding(far, uid, [("ct", plane, 5.0)]) is not None  # within half of a 5 mm slice
    assert plane_holding(near, "1.2.3", [("ct", plane, None)]) is None
    outside = np.array([patient(-5, 20)])  # in the plane, left of the image
    assert plane_holding(outside, uid, [("ct", plane, None)]) is None
    # The nearest of two planes holding them.
    farther = image_plane(CT)
    object.__setattr__(farther, "origin", farther.origin + 0.6 * farther.normal)
    assert plane_holding(near[:1], uid, [("a", farther, None), ("b", plane, None)])[0] == "a"
