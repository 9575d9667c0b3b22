"""Orientation markers and display transforms, against what a radiologist reads off the images.

Expected labels are stated per file with the reasoning (PS3.3 C.7.6.2.1.1:
x towards the patient's left, y towards posterior, z towards the head; the
right edge of an image lies along its row direction, the bottom edge along
its column direction); where a file states its own (0020,0020) Patient
Orientation beside its Image Orientation, the scanner's letters are the
expected ones. Turned and flipped images are checked against numpy's
rot90/fliplr of an array with the labels written at its edges.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from viewer.core.display.orientation import OrientationMarkers, direction_label, orientation_markers
from viewer.core.display.pixels.pipeline import frame_context
from viewer.core.display.spatial_transform import SpatialTransform, presentation_transform

DICOMDIR_TESTS = Path(get_testdata_file("DICOMDIR", download=False)).parent
ALL_TRANSFORMS = [SpatialTransform(rotation, flip) for rotation, flip in itertools.product(range(4), (False, True))]


def header(name: str) -> Dataset:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return pydicom.dcmread(path, stop_before_pixels=True)


def shown(array: np.ndarray, transform: SpatialTransform) -> np.ndarray:
    """numpy's picture of PS3.3 C.10.6: turn clockwise by the rotation, then mirror left to right."""
    turned = np.rot90(array, k=-transform.rotation)
    return np.fliplr(turned) if transform.flip_horizontal else turned


# --------------------------------------------------------------------------- the spatial transform


@pytest.mark.parametrize("transform", ALL_TRANSFORMS)
def test_to_screen_puts_each_pixel_where_numpy_puts_it(transform):
    rows, columns = 3, 5
    image = np.arange(rows * columns).reshape(rows, columns)
    picture = shown(image, transform)
    assert transform.shown_size(rows, columns) == (picture.shape[1], picture.shape[0])
    for row, column in itertools.product(range(rows), range(columns)):
        x, y = transform.to_screen(column, row, rows, columns)
        assert picture[round(y), round(x)] == image[row, column]
        assert transform.to_image(x, y, rows, columns) == pytest.approx((column, row))


def test_a_quarter_turn_clockwise_takes_the_top_left_corner_to_the_top_right():
    # 2 rows x 3 columns; turned clockwise it is 2 wide and 3 high, the first pixel at its top right.
    assert SpatialTransform(1).to_screen(0, 0, rows=2, columns=3) == (1, 0)
    assert SpatialTransform(1).to_screen(0, 1, rows=2, columns=3) == (0, 0)  # bottom-left -> top-left
    # C.10.6: the flip comes after the rotation, so the first pixel ends at the top left.
    assert SpatialTransform(1, flip_horizontal=True).to_screen(0, 0, rows=2, columns=3) == (0, 0)


def test_every_way_of_laying_an_image_has_one_value():
    identity = SpatialTransform()
    assert identity.flipped_vertically() == SpatialTransform(2, True)  # C.10.6 note: 180 degrees and a horizontal flip
    assert identity.flipped_vertically().flipped_vertically() == identity
    assert identity.flipped_horizontally().flipped_horizontally() == identity
    assert identity.rotated().rotated().rotated().rotated() == identity
    assert identity.rotated(-1) == SpatialTransform(3)
    assert SpatialTransform(5) == SpatialTransform(1)
    # Turning a mirrored picture clockwise: numpy says which of the eight it is.
    image = np.arange(6).reshape(2, 3)
    mirrored_then_turned = np.rot90(np.fliplr(image), k=-1)
    result = identity.flipped_horizontally().rotated()
    assert np.array_equal(shown(image, result), mirrored_then_turned)
    assert len({(t.rotation, t.flip_horizontal) for t in ALL_TRANSFORMS}) == 8


def test_presentation_state_spatial_transformation_is_read():
    ds = Dataset()
    ds.ImageRotation, ds.ImageHorizontalFlip = 270, "Y"
    assert presentation_transform(ds) == SpatialTransform(3, True)
    ds.ImageRotation = 45  # not an enumerated value: no turn
    assert presentation_transform(ds) == SpatialTransform(0, True)
    assert presentation_transform(Dataset()) == SpatialTransform()


# --------------------------------------------------------------------------- labels of directions


def test_direction_labels_keep_components_from_a_quarter():
    assert direction_label(np.array([1.0, 0, 0])) == "L"
    assert direction_label(np.array([-1.0, 0, 0])) == "R"
    assert direction_label(np.array([0, 0, -1.0])) == "F"
    tilt = np.radians(10)  # 0.17 towards the feet: below the threshold
    assert direction_label(np.array([0, np.cos(tilt), -np.sin(tilt)])) == "P"
    tilt = np.radians(20)  # 0.34 towards the feet
    assert direction_label(np.array([0, np.cos(tilt), -np.sin(tilt)])) == "PF"
    assert direction_label(np.array([-0.6, -0.8, 0])) == "AR"  # mostly anterior, then right
    assert direction_label(np.ones(3) / np.sqrt(3)) == "LPH"
    assert direction_label(np.array([1.0, 0, 0]), quadruped=True) == "LE"
    assert direction_label(np.array([0, 0, -1.0]), quadruped=True) == "CD"


# --------------------------------------------------------------------------- real files


def test_axial_ct_and_mr_read_from_the_feet():
    # IOP 1\0\0\0\1\0: rows run to the patient's left, columns to posterior: the patient's right on the
    # screen's left, anterior at the top, as every axial is read (from the feet).
    expected = OrientationMarkers(left="R", right="L", top="A", bottom="P")
    assert orientation_markers(header("CT_small.dcm")) == expected
    assert orientation_markers(header("MR_small.dcm")) == expected


def test_enhanced_ct_frame_uses_its_plane_orientation_group():
    # eCT_Supplemental: Plane Orientation (Patient) -1\0\0\0\1\0 in the shared functional groups:
    # rows run to the patient's right, so the right edge is R: an axial seen from the head.
    ds = header("eCT_Supplemental.dcm")
    assert "ImageOrientationPatient" not in ds
    markers = orientation_markers(frame_context(ds, 1))
    assert markers == OrientationMarkers(left="L", right="R", top="A", bottom="P")


def test_tilted_ct_agrees_with_the_scanners_own_patient_orientation():
    # A CT with a gantry tilt of 22 degrees: columns run 0.927 posterior and 0.375 towards the feet.
    # The scanner wrote (0020,0020) Patient Orientation L\PF beside it: the right and bottom edges.
    ds = header("J2K_pixelrep_mismatch.dcm")
    row_label, column_label = ds.PatientOrientation
    markers = orientation_markers(ds)
    assert (markers.right, markers.bottom) == (row_label, column_label) == ("L", "PF")
    assert (markers.left, markers.top) == ("R", "AH")


def test_oblique_mr_names_both_axes_dominant_first():
    # MR2 (pydicom-data): rows run 0.569 to the left and 0.822 posterior, columns to the feet: an oblique
    # sagittal, mostly posterior on the right edge ("PL"), anterior-right on the left edge.
    markers = orientation_markers(header("MR2_UNCI.dcm"))
    assert markers == OrientationMarkers(left="AR", right="PL", top="H", bottom="F")


def test_localizers_sagittal_and_coronal():
    # MR1 localizer 0\1\0\0\0\-1: a sagittal seen from the patient's left: anterior on the left, head up.
    sagittal = pydicom.dcmread(DICOMDIR_TESTS / "98892003/MR1/15820", stop_before_pixels=True)
    assert orientation_markers(sagittal) == OrientationMarkers(left="A", right="P", top="H", bottom="F")
    # CT scout 1\0\0\0\0\-1: a coronal seen from the front: the patient's right on the left, head up.
    coronal = pydicom.dcmread(DICOMDIR_TESTS / "98892001/CT2N/6924", stop_before_pixels=True)
    assert orientation_markers(coronal) == OrientationMarkers(left="R", right="L", top="H", bottom="F")
    # CT scout 0\-1\0\0\0\-1: a lateral scout seen from the patient's right: anterior on the right.
    lateral = pydicom.dcmread(DICOMDIR_TESTS / "98892001/CT2N/6293", stop_before_pixels=True)
    assert orientation_markers(lateral) == OrientationMarkers(left="P", right="A", top="H", bottom="F")


def test_projection_radiographs_use_patient_orientation():
    # RG1 (pydicom-data CR): no IOP, Patient Orientation L\F: rows run to the patient's left, columns
    # to the feet: L on the right edge, R on the left, H at the top, F at the bottom.
    assert orientation_markers(header("RG1_UNCI.dcm")) == OrientationMarkers(left="R", right="L", top="H", bottom="F")
    # RG3: R\F, a frontal film hung with the patient's right on the screen's right.
    assert orientation_markers(header("RG3_UNCI.dcm")) == OrientationMarkers(left="L", right="R", top="H", bottom="F")
    cr = pydicom.dcmread(DICOMDIR_TESTS / "77654033/CR1/6154", stop_before_pixels=True)
    assert orientation_markers(cr) == OrientationMarkers(left="R", right="L", top="H", bottom="F")


def test_nothing_known_no_markers():
    assert orientation_markers(header("OBXXXX1A.dcm")) is None  # ultrasound: neither attribute has a value
    ds = Dataset()
    assert orientation_markers(ds) is None
    ds.ImageOrientationPatient = [1, 0, 0, 0.5, 0.5, 0]  # not perpendicular unit vectors, and no Patient Orientation
    assert orientation_markers(ds) is None
    ds.PatientOrientation = ["L", "X"]  # X is no direction
    assert orientation_markers(ds) is None
    ds.PatientOrientation = ["A", "FR"]  # a mammography MLO view's row and column directions
    assert orientation_markers(ds) == OrientationMarkers(left="P", right="A", top="HL", bottom="FR")


def test_quadrupeds_get_the_quadruped_terms():
    ds = Dataset()
    ds.AnatomicalOrientationType = "QUADRUPED"
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    assert orientation_markers(ds) == OrientationMarkers(left="RT", right="LE", top="V", bottom="D")
    del ds.ImageOrientationPatient
    ds.PatientOrientation = ["LE", "CDV"]
    assert orientation_markers(ds) == OrientationMarkers(left="RT", right="LE", top="CRD", bottom="CDV")


# --------------------------------------------------------------------------- under display transforms


def test_turned_and_flipped_axial_as_a_radiologist_reads_it():
    ds = header("CT_small.dcm")
    # Turned clockwise: what was at the top (anterior) is now on the right.
    assert orientation_markers(ds, SpatialTransform(1)) == OrientationMarkers(left="P", right="A", top="R", bottom="L")
    # Mirrored: the patient's right on the screen's right (as seen from the head).
    assert orientation_markers(ds, SpatialTransform(flip_horizontal=True)) == OrientationMarkers(left="L", right="R", top="A", bottom="P")
    # Flipped top to bottom: posterior at the top.
    flipped = SpatialTransform().flipped_vertically()
    assert orientation_markers(ds, flipped) == OrientationMarkers(left="R", right="L", top="P", bottom="A")


@pytest.mark.parametrize("transform", ALL_TRANSFORMS)
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR2_UNCI.dcm", "RG1_UNCI.dcm", "J2K_pixelrep_mismatch.dcm"])
def test_markers_follow_the_picture_under_every_transform(name, transform):
    ds = header(name)
    plain = orientation_markers(ds)
    # The labels written at the middle of each edge of a 3x3 picture, moved by numpy as the pixels are.
    picture = np.full((3, 3), "", dtype=object)
    picture[0, 1], picture[2, 1], picture[1, 0], picture[1, 2] = plain.top, plain.bottom, plain.left, plain.right
    moved = shown(picture, transform)
    expected = OrientationMarkers(left=moved[1, 0], right=moved[1, 2], top=moved[0, 1], bottom=moved[2, 1])
    assert orientation_markers(ds, transform) == expected
