"""Image planes, reference lines and the cross-reference cursor, against the analytic intersection.

Expected lines come from a hand calculation for planes on the patient's
axes, and otherwise from an independent numpy computation written here:
the active plane's equation evaluated on the target image gives a straight
line a*column + b*row + c = 0, cut by the target's edges and sampled
densely to keep the part whose points also lie on the active image. Issue
#14 asks for agreement within 1 pixel.

Real geometry: pydicom's dicomdirtests hold a three-plane MR localizer (axial,
coronal and sagittal in one frame of reference) and a CT's scouts with its
axial slices (again one frame of reference). Their files were cut down to
16 x 16 pixels with the positions, orientations and spacings of the
acquisition left as they were; the tests use those as written, with a
256 x 256 (MR, 300 mm field) and 512 x 512 (CT) matrix, the size at which
the localizer's three planes cross at their centres.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from viewer.core.display.image_plane import ImagePlane, image_plane
from viewer.core.display.pixels.pipeline import frame_context
from viewer.core.display.reference_lines import cursor_target, first_and_last_lines, reference_line

DICOMDIR_TESTS = Path(get_testdata_file("DICOMDIR", download=False)).parent
FRAME = "1.2.826.0.1.3680043.8.498.77"

AXIAL = ((1, 0, 0), (0, 1, 0))
CORONAL = ((1, 0, 0), (0, 0, -1))
SAGITTAL = ((0, 1, 0), (0, 0, -1))


def header(position, orientation, spacing=(1.0, 1.0), rows=200, columns=200, frame=FRAME) -> Dataset:
    ds = Dataset()
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*orientation[0], *orientation[1])]
    ds.PixelSpacing = [f"{v:g}" for v in spacing]
    ds.Rows, ds.Columns = rows, columns
    if frame:
        ds.FrameOfReferenceUID = frame
    return ds


def plane(*args, **kwargs) -> ImagePlane:
    result = image_plane(header(*args, **kwargs))
    assert result is not None
    return result


def rotation(axis, degrees) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    angle = np.radians(degrees)
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def analytic_segment(active: ImagePlane, target: ImagePlane, samples: int = 200_001):
    """The expected segment, independently: implicit line on the target, clipped to both images by sampling."""
    normal = np.cross(active.row_direction, active.column_direction)
    # n . (P(c, r) - o_A) = 0 with P(c, r) = o_B + c dc u + r dr v: a c + b r + k = 0.
    a = normal @ target.row_direction * target.spacing[1]
    b = normal @ target.column_direction * target.spacing[0]
    k = normal @ (target.origin - active.origin)
    low_c, high_c, low_r, high_r = -0.5, target.columns - 0.5, -0.5, target.rows - 0.5
    if abs(a) > abs(b):  # solve for the column along rows
        rows = np.linspace(low_r, high_r, samples)
        columns = -(b * rows + k) / a
    else:
        columns = np.linspace(low_c, high_c, samples)
        rows = -(a * columns + k) / b
    on_target = (columns >= low_c) & (columns <= high_c) & (rows >= low_r) & (rows <= high_r)
    points = (
        target.origin
        + np.outer(columns * target.spacing[1], target.row_direction)
        + np.outer(rows * target.spacing[0], target.column_direction)
    )
    offsets = points - active.origin
    active_columns = offsets @ active.row_direction / active.spacing[1]
    active_rows = offsets @ active.column_direction / active.spacing[0]
    on_active = (
        (active_columns >= -0.5) & (active_columns <= active.columns - 0.5) & (active_rows >= -0.5) & (active_rows <= active.rows - 0.5)
    )
    kept = np.flatnonzero(on_target & on_active)
    if kept.size == 0:
        return None
    return (columns[kept[0]], rows[kept[0]]), (columns[kept[-1]], rows[kept[-1]])


def assert_same_segment(line, expected, tolerance=1.0):
    assert line is not None and expected is not None
    got = [np.array(line.start), np.array(line.end)]
    want = [np.array(expected[0]), np.array(expected[1])]
    if np.linalg.norm(got[0] - want[0]) > np.linalg.norm(got[0] - want[1]):
        got.reverse()
    for g, w in zip(got, want):
        assert np.linalg.norm(g - w) <= tolerance, (line, expected)


# --------------------------------------------------------------------------- image planes


def test_pixel_to_patient_is_the_matrix_of_ps3_3_c7_6_2_1_1():
    ds = header((-12.5, 30.25, 7.0), (rotation((1, 2, 3), 25) @ (1, 0, 0), rotation((1, 2, 3), 25) @ (0, 1, 0)), (0.7, 0.4), 300, 256)
    result = image_plane(ds)
    position = np.array([float(v) for v in ds.ImagePositionPatient])
    cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
    delta_i, delta_j = 0.4, 0.7  # column spacing (between columns), row spacing: PixelSpacing is (rows, columns)
    matrix = np.zeros((4, 4))
    matrix[:3, 0] = cosines[:3] * delta_i
    matrix[:3, 1] = cosines[3:] * delta_j
    matrix[:3, 3] = position
    matrix[3, 3] = 1
    for column, row in [(0, 0), (255, 0), (0, 299), (100.5, 33.25)]:
        expected = matrix @ np.array([column, row, 0, 1])
        # The cosines as written (8 decimals) are not exactly unit length; the plane's are: 1e-4 mm apart at most.
        assert result.patient_point(column, row) == pytest.approx(expected[:3], abs=1e-4)
        assert result.image_point(expected[:3]) == pytest.approx((column, row), abs=1e-4)


def test_planes_need_every_attribute():
    good = header((0, 0, 0), AXIAL)
    assert image_plane(good) is not None
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns"):
        ds = header((0, 0, 0), AXIAL)
        delattr(ds, keyword)
        assert image_plane(ds) is None, keyword
    assert image_plane(header((0, 0, 0), ((1, 0, 0), (0.5, 0.5, 0)))) is None  # not perpendicular
    assert image_plane(header((0, 0, 0), AXIAL, spacing=(0, 1))) is None
    # A CR has no plane: Patient Orientation and Imager Pixel Spacing say nothing of where it lies.
    cr = pydicom.dcmread(DICOMDIR_TESTS / "77654033/CR1/6154", stop_before_pixels=True)
    assert image_plane(cr) is None


def test_enhanced_frames_have_their_own_positions():
    ds = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm", download=False), stop_before_pixels=True)
    first, second = (image_plane(frame_context(ds, index)) for index in (0, 1))
    assert first.origin == pytest.approx((99.5, -301.5, -159.0))  # its per-frame Plane Position (Patient)
    assert second.origin == pytest.approx((99.5, -301.5, -149.0))
    assert first.spacing == pytest.approx((0.388672, 0.388672))  # the shared Pixel Measures
    assert first.frame_of_reference == "1.3.6.1.4.1.5962.1.4.10.1.1166562673.14401"


# --------------------------------------------------------------------------- reference lines on the patient's axes


def test_axial_on_sagittal_and_coronal_by_hand():
    # Sagittal at x = 0: first pixel at y = -100, z = 100; columns to posterior, rows to the feet, 1 mm.
    sagittal = plane((0, -100, 100), SAGITTAL)
    # Coronal at y = 10: first pixel at x = -100, z = 100.
    coronal = plane((-100, 10, 100), CORONAL)
    # Axial at z = 20 covering x, y in -100..99 (pixel edges -100.5..99.5).
    axial = plane((-100, -100, 20), AXIAL)
    # On the sagittal: row = 100 - z = 80, across y -100.5..99.5 -> columns -0.5..199.5.
    assert_same_segment(reference_line(axial, sagittal), ((-0.5, 80), (199.5, 80)), tolerance=1e-6)
    # On the coronal: row 80 too, across x -100.5..99.5.
    assert_same_segment(reference_line(axial, coronal), ((-0.5, 80), (199.5, 80)), tolerance=1e-6)
    # The sagittal (x = 0) on the axial: column 100; along y -100.5..99.5 -> rows -0.5..199.5.
    assert_same_segment(reference_line(sagittal, axial), ((100, -0.5), (100, 199.5)), tolerance=1e-6)
    # The coronal (y = 10) on the axial: row 110, the whole width.
    assert_same_segment(reference_line(coronal, axial), ((-0.5, 110), (199.5, 110)), tolerance=1e-6)


def test_a_small_field_of_view_gives_a_short_line():
    sagittal = plane((0, -100, 100), SAGITTAL)
    # A 50 x 50 mm axial at z = -30 over y = 20..69: on the sagittal, row 130, columns 119.5..169.5.
    small = plane((-25, 20, -30), AXIAL, rows=50, columns=50)
    assert_same_segment(reference_line(small, sagittal), ((119.5, 130), (169.5, 130)), tolerance=1e-6)


def test_no_line_where_the_images_do_not_meet():
    sagittal = plane((0, -100, 100), SAGITTAL)
    assert reference_line(plane((-100, -100, 150), AXIAL), sagittal) is None  # above the sagittal's top (z 100.5)
    assert reference_line(plane((10, -100, 20), AXIAL, columns=50), sagittal) is None  # the axial lies at x >= 9.5 only
    assert reference_line(plane((-100, -100, 20), AXIAL), plane((-100, -100, 40), AXIAL)) is None  # parallel
    tilted = rotation((1, 0, 0), 0.5)
    assert reference_line(plane((-100, -100, 20), (tilted @ (1, 0, 0), tilted @ (0, 1, 0))), plane((-100, -100, 20), AXIAL)) is None
    tilted = rotation((1, 0, 0), 5)
    assert reference_line(plane((-100, -100, 20), (tilted @ (1, 0, 0), tilted @ (0, 1, 0))), plane((-100, -100, 20), AXIAL)) is not None


def test_different_or_unstated_frames_of_reference_get_no_line():
    sagittal = plane((0, -100, 100), SAGITTAL)
    assert reference_line(plane((-100, -100, 20), AXIAL, frame="1.2.3.4"), sagittal) is None
    assert reference_line(plane((-100, -100, 20), AXIAL, frame=None), plane((0, -100, 100), SAGITTAL, frame=None)) is None


# --------------------------------------------------------------------------- oblique planes, against the analytic segment


@pytest.mark.parametrize(
    ("axis", "degrees", "target_name"),
    [
        ((1, 0, 0), 30, "sagittal"),
        ((1, 1, 0), 40, "sagittal"),
        ((0, 1, 1), 25, "coronal"),
        ((1, 2, 3), 60, "axial"),
        ((2, -1, 1), 75, "sagittal"),
    ],
)
def test_oblique_planes_against_the_analytic_intersection(axis, degrees, target_name):
    turn = rotation(axis, degrees)
    # An oblique 256 x 256 plane of 0.9 x 0.7 mm pixels centred near the origin.
    oblique = plane(turn @ np.array([-90.0, -115.0, 5.0]), (turn @ (1, 0, 0), turn @ (0, 1, 0)), spacing=(0.9, 0.7), rows=256, columns=256)
    targets = {
        "sagittal": plane((3, -120, 110), SAGITTAL, spacing=(0.8, 0.6), rows=300, columns=400),
        "coronal": plane((-130, -4, 120), CORONAL, spacing=(1.1, 1.0), rows=240, columns=260),
        "axial": plane((-125, -125, 1.5), AXIAL, spacing=(0.5, 0.5), rows=512, columns=512),
    }
    target = targets[target_name]
    # Every pair here crosses (the analytic segment exists), both ways round.
    assert_same_segment(reference_line(oblique, target), analytic_segment(oblique, target))
    assert_same_segment(reference_line(target, oblique), analytic_segment(target, oblique))


def test_scout_lines_of_a_ct_on_its_localizers():
    # CT5N axial slices and the CT2N coronal scout share one frame of reference (dicomdirtests, one study).
    scout = dataclasses.replace(image_plane(pydicom.dcmread(DICOMDIR_TESTS / "98892001/CT2N/6924")), rows=512, columns=512)
    lateral = dataclasses.replace(image_plane(pydicom.dcmread(DICOMDIR_TESTS / "98892001/CT2N/6293")), rows=512, columns=512)
    slices = [
        dataclasses.replace(image_plane(pydicom.dcmread(DICOMDIR_TESTS / "98892001/CT5N" / name)), rows=512, columns=512)
        for name in ("2062", "2392", "2693", "3023", "3353")
    ]
    # The scout: first pixel (-265, 0, 50), rows to the left 0.596847 mm apart, columns to the feet 0.545455 mm apart.
    # An axial slice at z covers x from -72.2 - 0.244 to -72.2 + 511.5 x 0.488281 (= 177.556), the scout
    # x from -265 - 0.298 to -265 + 511.5 x 0.596847 (= 40.29): the line runs from column 322.6 to the scout's edge.
    for axial in slices:
        z = axial.origin[2]
        row = (50 - z) / 0.545455
        left, right = (-72.199997 - 0.5 * 0.488281 + 265) / 0.596847, 511.5
        assert_same_segment(reference_line(axial, scout), ((left, row), (right, row)))
        assert_same_segment(reference_line(axial, lateral), analytic_segment(axial, lateral))
    # First and last slice lines: 8.7625 and -1.2375 mm, rows 75.6 and 93.9.
    first, last = first_and_last_lines(slices, scout)
    assert first.start[1] == pytest.approx((50 - 8.7625) / 0.545455)
    assert last.start[1] == pytest.approx((50 + 1.2375) / 0.545455)
    assert first_and_last_lines([None, slices[2], None], scout)[0] == reference_line(slices[2], scout)
    assert first_and_last_lines([], scout) == (None, None)


def test_three_plane_mr_localizer_crosses_at_the_centres():
    folder = DICOMDIR_TESTS / "98892003/MR2"
    planes = {
        name: dataclasses.replace(image_plane(pydicom.dcmread(folder / name)), rows=256, columns=256) for name in ("4950", "4981", "5011")
    }
    for active_name, target_name in [(a, t) for a in planes for t in planes if a != t]:
        active, target = planes[active_name], planes[target_name]
        line = reference_line(active, target)
        assert_same_segment(line, analytic_segment(active, target))
        # A tri-plane localizer: every line passes near the target's middle (127.5): within 4 pixels (4.7 mm).
        middle = np.array([127.5, 127.5])
        start, end = np.array(line.start), np.array(line.end)
        direction = (end - start) / np.linalg.norm(end - start)
        offset = middle - start
        assert abs(offset[0] * direction[1] - offset[1] * direction[0]) < 4
    # As written (16 x 16, 19 mm across) the three images do not reach each other.
    small = {name: image_plane(pydicom.dcmread(folder / name)) for name in planes}
    assert reference_line(small["4981"], small["5011"]) is None


# --------------------------------------------------------------------------- the cross-reference cursor


def test_cursor_on_a_sagittal_finds_the_axial_slice_and_the_point():
    sagittal = plane((0, -100, 100), SAGITTAL)
    # An axial stack 2.5 mm apart from z = 0 to 50 (21 slices), 0.5 mm pixels from (-64, -64).
    stack = [plane((-64, -64, 2.5 * k), AXIAL, spacing=(0.5, 0.5), rows=256, columns=256) for k in range(21)]
    # Sagittal pixel (column 90, row 71) is y = -10, z = 29: the slice at 30 mm (index 12), 1 mm away;
    # on it x = 0 -> column 128, y = -10 -> row 108.
    point = sagittal.patient_point(90, 71)
    assert point == pytest.approx((0, -10, 29))
    target = cursor_target(point, FRAME, stack)
    assert (target.index, target.column, target.row) == (12, pytest.approx(128), pytest.approx(108))
    assert target.distance_mm == pytest.approx(1)
    assert target.on_image
    # z = 28.75 lies halfway between the slices at 27.5 and 30: the first of equals, index 11.
    assert cursor_target((0, -10, 28.75), FRAME, stack).index == 11
    # Off the axial field (x = 100 > 63.75): the slice is found, the point is not on it.
    assert not cursor_target((100, -10, 29), FRAME, stack).on_image
    # Beyond the stack: the nearest (last) slice, 20 mm away.
    assert (cursor_target((0, 0, 70), FRAME, stack).index, cursor_target((0, 0, 70), FRAME, stack).distance_mm) == (20, pytest.approx(20))
    assert cursor_target(point, "1.2.3.4", stack) is None
    assert cursor_target(point, FRAME, [None, None]) is None


def test_cursor_in_a_localizer_series_picks_the_plane_through_the_point():
    folder = DICOMDIR_TESTS / "98892003/MR2"
    planes = [dataclasses.replace(image_plane(pydicom.dcmread(folder / name)), rows=256, columns=256) for name in ("4950", "4981", "5011")]
    coronal, axial, sagittal = planes
    # A point of the axial image (z = 18.75) well away from the other two planes: the axial is nearest.
    point = axial.patient_point(20, 30)
    target = cursor_target(point, axial.frame_of_reference, planes)
    assert (target.index, target.column, target.row, target.distance_mm) == (1, pytest.approx(20), pytest.approx(30), pytest.approx(0))
