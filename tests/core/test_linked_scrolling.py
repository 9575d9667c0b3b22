"""Linked scrolling picks the slice at the active slice's position, or none.

Series are built by hand (axial stacks 1 mm and 2.5 mm apart, offset,
reversed, turned over, tilted) and the expected slice is worked out beside
each case; files written with pydicom and pydicom's own series check the
path from the catalog (single-frame files, a DICOMDIR, an enhanced
multi-frame file) to the positions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from mpr_phantom import dataset
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from viewer.core.display.image_plane import ImagePlane, image_plane, series_planes
from viewer.core.display.linking import link_offset, linked_index, slice_stack
from viewer.core.media.sources import open_paths

DICOMDIR_TESTS = Path(get_testdata_file("DICOMDIR", download=False)).parent
FRAME = "1.2.826.0.1.3680043.8.498.90"
AXIAL = ((1, 0, 0), (0, 1, 0))


def axial(z: float, frame: str = FRAME, orientation=AXIAL, x: float = -100, y: float = -100) -> ImagePlane:
    ds = Dataset()
    ds.ImagePositionPatient = [x, y, z]
    ds.ImageOrientationPatient = [*orientation[0], *orientation[1]]
    ds.PixelSpacing = [1, 1]
    ds.Rows = ds.Columns = 200
    ds.FrameOfReferenceUID = frame
    return image_plane(ds)


def stack(positions, **kwargs):
    return slice_stack([axial(z, **kwargs) for z in positions])


ONE_MM = [float(z) for z in range(0, 100)]  # 100 slices, z = 0..99
TWO_AND_A_HALF = [10 + 2.5 * k for k in range(21)]  # z = 10..60


def test_stack_positions_and_spacing():
    two = stack(TWO_AND_A_HALF)
    assert two.positions == pytest.approx(TWO_AND_A_HALF)  # centres along +z
    assert two.spacing == pytest.approx(2.5)
    assert two.frame_of_reference == FRAME
    assert slice_stack([]) is None
    assert slice_stack([None]) is None


def test_one_millimetre_to_two_and_a_half():
    fine, coarse = stack(ONE_MM), stack(TWO_AND_A_HALF)
    # z = 10 is coarse slice 0; z = 11 is 1 mm from it (within 1.25); z = 12 is 0.5 mm from 12.5 (slice 1).
    assert [linked_index(fine, z, coarse) for z in (10, 11, 12, 13, 14, 15)] == [0, 0, 1, 1, 2, 2]
    # z = 60 is the last (20); 61 is 1 mm beyond it (shown); 62 is 2 mm beyond: no slice here.
    assert [linked_index(fine, z, coarse) for z in (60, 61, 62)] == [20, 20, None]
    assert [linked_index(fine, z, coarse) for z in (8, 9)] == [None, 0]
    # Every fine slice, by hand: coarse slice round((z - 10) / 2.5) when within 1.25 mm of the stack's ends.
    for z in range(100):
        expected = min(max(int(np.floor((z - 10) / 2.5 + 0.5)), 0), 20) if 8.75 <= z <= 61.25 else None
        if expected is not None and abs(TWO_AND_A_HALF[expected] - z) == 1.25:  # halfway: the first of equals
            expected = int(np.floor((z - 10) / 2.5))
        assert linked_index(fine, z, coarse) == expected, z


def test_two_and_a_half_to_one_millimetre():
    fine, coarse = stack(ONE_MM), stack(TWO_AND_A_HALF)
    # z = 10, 12.5, 15, 17.5: 12.5 lies halfway between 12 and 13: the first of equals (12).
    assert [linked_index(coarse, k, fine) for k in range(4)] == [10, 12, 15, 17]


def test_half_spacing_edges():
    coarse = stack(TWO_AND_A_HALF)
    # A single image at these positions; exactly half a spacing (1.25 mm) beyond the ends still shows the end slice.
    assert linked_index(stack([8.75]), 0, coarse) == 0
    assert linked_index(stack([61.25]), 0, coarse) == 20
    assert linked_index(stack([8.74]), 0, coarse) is None
    assert linked_index(stack([61.26]), 0, coarse) is None
    # Halfway between two slices (11.25: 1.25 mm from 10 and from 12.5): the first in series order.
    assert linked_index(stack([11.25]), 0, coarse) == 0
    assert linked_index(stack([11.25]), 0, stack(TWO_AND_A_HALF[::-1])) == 19  # reversed: 12.5 comes first


def test_reversed_order_and_turned_over_series():
    fine = stack(ONE_MM)
    reversed_coarse = stack(TWO_AND_A_HALF[::-1])  # z = 60 first
    assert [linked_index(fine, z, reversed_coarse) for z in (10, 12, 60, 62)] == [20, 19, 0, None]
    # Rows to the left, columns to anterior: the normal points to the feet; the same positions, the same slices.
    turned = stack(TWO_AND_A_HALF, orientation=((1, 0, 0), (0, -1, 0)), y=100)
    assert turned.positions == pytest.approx([-z for z in TWO_AND_A_HALF])
    assert [linked_index(fine, z, turned) for z in (10, 12, 60, 62)] == [0, 1, 20, None]
    assert [linked_index(turned, k, fine) for k in (0, 1)] == [10, 12]


def test_a_gap_in_a_series_has_no_slice():
    gappy = stack([0, 1, 2, 3, 10, 11, 12])  # spacing 1 mm; 4..9 missing
    probe = stack(ONE_MM)
    assert [linked_index(probe, z, gappy) for z in (3, 4, 5, 9, 10)] == [3, None, None, None, 4]


def test_other_frames_of_reference_need_an_offset():
    fine = stack(ONE_MM)
    prior = stack(TWO_AND_A_HALF, frame="1.2.826.0.1.3680043.8.498.91")
    assert linked_index(fine, 20, prior) is None
    # The user lined up fine slice 15 (z = 15) with prior slice 4 (z = 20): offset 5 mm.
    assert link_offset(fine.planes[15], prior.planes[4]) == pytest.approx(5)
    assert [linked_index(fine, z, prior, offset_mm=5) for z in (15, 16, 17, 56, 57)] == [4, 4, 5, 20, None]
    # Within one frame of reference an offset applies too (a user's correction).
    assert linked_index(fine, 15, stack(TWO_AND_A_HALF), offset_mm=5) == 4
    # Frames of reference not stated: as different ones.
    assert linked_index(stack(ONE_MM, frame=""), 20, stack(TWO_AND_A_HALF, frame="")) is None


def test_only_near_parallel_series_link():
    fine = stack(ONE_MM)
    sagittal = slice_stack([axial(0, orientation=((0, 1, 0), (0, 0, -1)), x=x) for x in range(-10, 10)])
    assert linked_index(fine, 20, sagittal) is None
    # A stack tilted by 10 degrees about x (a gantry tilt): links, by the active slice's centre.
    tilt = np.radians(10)
    tilted_orientation = ((1, 0, 0), (0, np.cos(tilt), np.sin(tilt)))
    tilted = slice_stack([axial(z, orientation=tilted_orientation) for z in TWO_AND_A_HALF])
    normal = np.array([0, -np.sin(tilt), np.cos(tilt)])
    # Fine slice z = 30: centre (-0.5, -0.5, 30); each tilted slice's centre lies on its plane, position c . n.
    centre = np.array([-0.5, -0.5, 30])
    positions = [float((np.array([-0.5, -100, z]) + 99.5 * np.array([0, np.cos(tilt), np.sin(tilt)])) @ normal) for z in TWO_AND_A_HALF]
    expected = int(np.argmin([abs(p - centre @ normal) for p in positions]))
    assert linked_index(fine, 30, tilted) == expected
    # Tilted by 25 degrees: past the 0.95 cosine (18.2 degrees), no link.
    tilt = np.radians(25)
    steep = slice_stack([axial(z, orientation=((1, 0, 0), (0, np.cos(tilt), np.sin(tilt)))) for z in TWO_AND_A_HALF])
    assert linked_index(fine, 30, steep) is None


def test_localizer_series_are_not_stacks():
    folder = DICOMDIR_TESTS / "98892003/MR2"
    planes = [image_plane(pydicom.dcmread(folder / name)) for name in ("4950", "4981", "5011")]
    assert slice_stack(planes) is None


def test_unknown_images_are_skipped():
    partial = slice_stack([axial(0), None, axial(2)])
    assert np.isnan(partial.positions[1])
    assert linked_index(stack([1.6]), 0, partial) == 2
    assert linked_index(partial, 1, stack(ONE_MM)) is None  # the active image has no plane
    assert linked_index(partial, 7, stack(ONE_MM)) is None


# --------------------------------------------------------------------------- from the catalog


def write_axial_series(folder: Path, positions, series_uid: str, frame: str = FRAME) -> None:
    folder.mkdir(parents=True)
    for number, z in enumerate(positions, 1):
        position = (-1, -1, z)
        attributes = {"SeriesInstanceUID": series_uid, "FrameOfReferenceUID": frame, "InstanceNumber": number}
        ds = dataset(4, 4, (0.5, 0.5), (1, 0, 0), (0, 1, 0), position, np.zeros((4, 4)), **attributes)
        ds.save_as(folder / f"IM{number:03d}.dcm", enforce_file_format=True)


def test_catalog_series_link(tmp_path):
    write_axial_series(tmp_path / "fine", [0.5 * k for k in range(40)], "1.2.826.0.1.3680043.8.498.101")
    write_axial_series(tmp_path / "coarse", [2.5 * k for k in range(8)], "1.2.826.0.1.3680043.8.498.102")
    series = {s.uid[-3:]: s for s in open_paths([tmp_path]).series}
    fine, coarse = (slice_stack(series_planes(series[key])) for key in ("101", "102"))
    assert fine.spacing == pytest.approx(0.5)
    assert coarse.positions == pytest.approx([2.5 * k for k in range(8)])  # the catalog's order: along the normal
    # Fine image 11 (z = 5.5) -> coarse z = 5 (index 2); fine image 13 (z = 6.5) -> 7.5 (index 3).
    assert [linked_index(fine, 11, coarse), linked_index(fine, 13, coarse)] == [2, 3]


def test_dicomdir_catalog_reads_positions_from_the_files():
    # A catalog read through a DICOMDIR holds the directory records only: no positions.
    series = {s.label(): s for s in open_paths([DICOMDIR_TESTS]).series}
    ct = next(s for label, s in series.items() if label.startswith("CT 5"))
    planes = series_planes(ct)
    assert all(plane is not None for plane in planes)
    by_file = {image.instance.path.name: plane for image, plane in zip(ct.images, planes)}
    assert by_file["2062"].origin == pytest.approx((-72.199997, -143.0, 8.7625))  # as the file says
    assert slice_stack(planes).spacing == pytest.approx(2.5)
    cr = next(s for label, s in series.items() if label.startswith("CR 1"))
    assert series_planes(cr) == [None]  # a radiograph has no plane


def test_enhanced_multi_frame_positions_from_functional_groups(tmp_path):
    shutil.copy(get_testdata_file("eCT_Supplemental.dcm", download=False), tmp_path / "ect.dcm")
    (series,) = open_paths([tmp_path]).series
    planes = series_planes(series)
    assert [plane.origin[2] for plane in planes] == pytest.approx([-159.0, -149.0])  # per-frame Plane Position
    frames = slice_stack(planes)
    assert frames.spacing == pytest.approx(10)
    # Its normal is (-1, 0, 0) x (0, 1, 0) = (0, 0, -1): positions along it are 159 and 149.
    assert frames.positions == pytest.approx([159.0, 149.0])
    probe = slice_stack([axial(-150.0, frame=planes[0].frame_of_reference)])
    assert linked_index(probe, 0, frames) == 1
    assert linked_index(frames, 0, frames) == 0
