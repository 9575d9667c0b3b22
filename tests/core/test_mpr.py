"""MPR: a series as a volume, and its reformats, against numpy reslices of known phantoms.

Expected values come from the phantom's own axes (tests/mpr_phantom.py writes
it with pydicom as axial, coronal and sagittal acquisitions, with non-square
pixels and a slice spacing unlike either), from the radiological convention
read off a marker at the patient's right, anterior and head, and from real
series among pydicom's test files read with pydicom.
"""

from __future__ import annotations

import glob
import math
from pathlib import Path

import numpy as np
import pydicom
import pytest
from mpr_phantom import MARKER, ORIENTATIONS, ORIGIN, SPACING, acquisition, dataset, grid_sampler, phantom, write_phantom, write_series
from pydicom.data import get_testdata_file

from viewer.core.dicom.io import ViewerError
from viewer.core.display.mpr import crosshair, pixel_spacing, reformat, slice_count, voxel_at
from viewer.core.display.volume import NotAVolume, build_volume, images_of_file, volume_from_files
from viewer.core.runtime.tasks import Cancelled

ACQUISITIONS = tuple(ORIENTATIONS)
DICOMDIR_TESTS = Path(get_testdata_file("DICOMDIR", download=False)).parent


@pytest.fixture(scope="module")
def values():
    return phantom()


@pytest.fixture(scope="module")
def volumes(values, tmp_path_factory):
    """The phantom as a volume, from each acquisition."""
    root = tmp_path_factory.mktemp("phantoms")
    return {name: volume_from_files(write_phantom(root / name, values, name)) for name in ACQUISITIONS}


def reslice(values: np.ndarray, plane: str, index: int) -> np.ndarray:
    """The numpy reslice of a phantom P[z, y, x] by the convention, from its axes alone."""
    if plane == "axial":  # seen from the feet: x (right -> left) across, y (anterior -> posterior) down
        return values[index]
    if plane == "coronal":  # seen from the front: x across, z down from the head
        return values[::-1, index, :]
    return values[::-1, :, index]  # seen from the left: y (anterior -> posterior) across, z down from the head


# ----------------------------------------------------------------------------- the volume


@pytest.mark.parametrize("name", ACQUISITIONS)
def test_every_acquisition_gives_the_phantom_on_the_patient_axes(volumes, values, name):
    volume = volumes[name]
    assert volume.voxels.dtype == np.int16  # rescale slope 1, intercept -1024: exact in int16
    assert np.array_equal(volume.voxels, values)
    assert np.allclose(volume.spacing, SPACING)
    assert np.allclose(volume.origin, ORIGIN)
    assert np.allclose(volume.directions, [[0, 0, 1], [0, 1, 0], [1, 0, 0]])  # z, y, x
    assert np.allclose(volume.position((2, 3, 4)), ORIGIN + (4 * SPACING[2], 3 * SPACING[1], 2 * SPACING[0]))
    assert np.allclose(volume.index_of(ORIGIN + (4 * SPACING[2], 3 * SPACING[1], 2 * SPACING[0])), (2, 3, 4))
    assert volume.notes == [] and volume.tilt_degrees == 0 and volume.obliquity < 1e-6


def test_non_integral_rescale_gives_float32_values(values, tmp_path):
    volume = volume_from_files(write_phantom(tmp_path, values, "coronal", slope=0.5, intercept=10))
    assert volume.voxels.dtype == np.float32
    assert np.array_equal(volume.voxels, values.astype(np.float32))


def test_values_beyond_int16_are_kept_in_float32(tmp_path):
    # Unsigned 16-bit stored values up to 60000 with slope 1: not an int16 range.
    stored = np.arange(3 * 4 * 5, dtype=np.uint16).reshape(3, 4, 5) * 1000
    paths = []
    for k in range(3):
        ds = dataset(4, 5, (1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 2.0 * k), stored[k].astype(np.int16), InstanceNumber=k + 1)
        ds.PixelRepresentation, ds.RescaleIntercept = 0, "0"
        ds.PixelData = stored[k].astype("<u2").tobytes()
        paths.append(tmp_path / f"{k}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    volume = volume_from_files(paths)
    assert volume.voxels.dtype == np.float32 and np.array_equal(volume.voxels, stored)


def test_a_loader_can_be_passed_and_cancelling_stops(values, tmp_path):
    paths = write_phantom(tmp_path, values, "sagittal")
    images = [image for path in paths for image in images_of_file(path)]
    volume = build_volume(images, load=lambda image: pydicom.dcmread(image.path).pixel_array)
    assert np.array_equal(volume.voxels, values)
    with pytest.raises(Cancelled):
        build_volume(images, cancel=lambda: True)


# ----------------------------------------------------------------------------- planes


@pytest.mark.parametrize("name", ACQUISITIONS)
def test_the_marker_lands_where_the_convention_puts_it(volumes, values, name):
    volume = volumes[name]
    nz, ny, nx = values.shape
    # The marker is at the patient's right, anterior, head: top left of the highest axial slice
    # (seen from the feet, right on the screen's left, anterior up), of the first coronal slice
    # (seen from the front, head up) and of the first sagittal slice (seen from the left, anterior on the left).
    expected = {"axial": (nz - 1, (ny, nx)), "coronal": (0, (nz, nx)), "sagittal": (0, (nz, ny))}
    for plane, (index, shape) in expected.items():
        image, _ = reformat(volume, plane, index)
        assert image.shape == shape
        assert image[0, 0] == MARKER and np.count_nonzero(image == MARKER) == 1, plane
    assert crosshair(volume, (nz - 1, 0, 0)) == {"axial": (nz - 1, 0, 0), "coronal": (0, 0, 0), "sagittal": (0, 0, 0)}


@pytest.mark.parametrize("name", ACQUISITIONS)
@pytest.mark.parametrize("plane", ("axial", "coronal", "sagittal"))
def test_each_plane_equals_a_numpy_reslice(volumes, values, name, plane):
    volume = volumes[name]
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}[plane]
    assert slice_count(volume, plane) == values.shape[axis]
    for index in range(values.shape[axis]):
        image, spacing = reformat(volume, plane, index)
        assert image.flags.c_contiguous
        assert np.array_equal(image, reslice(values, plane, index))
    dz, dy, dx = SPACING
    assert np.allclose(spacing, {"axial": (dy, dx), "coronal": (dz, dx), "sagittal": (dz, dy)}[plane])
    assert spacing == pixel_spacing(volume, plane)


@pytest.mark.parametrize("plane", ("axial", "coronal", "sagittal"))
@pytest.mark.parametrize("mode", ("mip", "minip", "avg"))
@pytest.mark.parametrize("slab_mm", (1.0, 2.0, 5.0, 100.0))
def test_slabs_combine_the_slices_around_the_slice(volumes, values, plane, mode, slab_mm):
    volume = volumes["sagittal"]
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}[plane]
    count = values.shape[axis]
    n = max(1, math.floor(slab_mm / SPACING[axis] + 0.5))  # round(slab / spacing), halves up
    reduce = {"mip": np.max, "minip": np.min, "avg": np.mean}[mode]
    for index in (0, count // 2, count - 1):
        lo, hi = max(0, index - (n - 1) // 2), min(count, index - (n - 1) // 2 + n)
        block = np.take(values, range(lo, hi), axis=axis)
        combined = reduce(block.astype(np.float64), axis=axis)
        expected = combined if plane == "axial" else combined[::-1]
        image, _ = reformat(volume, plane, index, slab_mm, mode)
        if mode == "avg" and hi - lo > 1:
            assert image.dtype == np.float32 and np.allclose(image, expected, atol=1e-3)
        else:
            assert image.dtype == np.int16 and np.array_equal(image, expected)


def test_out_of_range_slices_and_unknown_names_are_refused(volumes):
    volume = volumes["axial"]
    for call, fragment in (
        (lambda: reformat(volume, "axial", 6), "slice 7 is out of range: the axial plane has 6 slices"),
        (lambda: reformat(volume, "coronal", -1), "out of range"),
        (lambda: reformat(volume, "oblique", 0), "unknown plane"),
        (lambda: reformat(volume, "axial", 0, 4, "max"), "unknown slab mode"),
    ):
        with pytest.raises(ViewerError, match=fragment):
            call()


@pytest.mark.parametrize("plane", ("axial", "coronal", "sagittal"))
def test_crosshair_and_voxel_under_a_pixel_agree(volumes, values, plane):
    volume = volumes["axial"]
    index = 2
    image, _ = reformat(volume, plane, index)
    for row, column in ((0, 0), (1, 3), (image.shape[0] - 1, image.shape[1] - 1)):
        voxel = voxel_at(volume, plane, index, row, column)
        assert values[voxel] == image[row, column]
        assert crosshair(volume, voxel)[plane] == (index, row, column)


# ----------------------------------------------------------------------------- gantry tilt, oblique


def test_a_stack_tilted_by_whole_pixels_is_put_back_on_an_orthogonal_grid(tmp_path):
    # Each slice 1 row (0.8 mm) further posterior than the one below it: the gantry tilted
    # by atan(0.8 / 2.0) = 21.8 degrees. Slice k holds rows k..k+ny of a larger phantom Q.
    nz, ny, nx = 5, 6, 7
    dz, dy, dx = SPACING
    q = phantom((nz, ny + nz - 1, nx))
    x, y, z = np.eye(3)
    positions = [ORIGIN + k * dz * z + k * dy * y for k in range(nz)]
    paths = write_series(tmp_path, grid_sampler(q), x, y, ny, nx, (dy, dx), positions)
    volume = volume_from_files(paths)
    assert volume.tilt_degrees == pytest.approx(math.degrees(math.atan(0.8 / 2.0)), abs=0.01)
    assert "gantry tilt 21.8° corrected" in volume.notes[0]
    covered = [q[k, k : k + ny] for k in range(nz)]
    expected = np.full(q.shape, min(c.min() for c in covered), dtype=np.int16)  # uncovered: the smallest value
    for k in range(nz):
        expected[k, k : k + ny] = covered[k]
    assert np.array_equal(volume.voxels, expected)
    assert np.allclose(volume.origin, ORIGIN) and np.allclose(volume.spacing, SPACING)


def test_a_fractional_tilt_is_interpolated_without_distortion(tmp_path):
    # A linear phantom: linear interpolation of it is exact, so every voxel the
    # moved slices cover must hold the phantom's value at the voxel's centre.
    def linear(points):
        return 3 * points[..., 0] + 2 * points[..., 1] + points[..., 2] + 200  # about 120-160: stored / 0.01 fits int16

    nz, ny, nx = 6, 8, 9
    dz, dy, dx = SPACING
    x, y, z = np.eye(3)
    step = 0.3 * dy * y + 0.2 * dx * x  # in-plane drift per slice: 0.3 rows and 0.2 columns
    positions = [ORIGIN + k * (dz * z + step) for k in range(nz)]
    paths = write_series(tmp_path, linear, x, y, ny, nx, (dy, dx), positions, slope=0.01, intercept=0)
    volume = volume_from_files(paths)
    assert volume.voxels.dtype == np.float32 and volume.tilt_degrees > 0
    assert np.allclose(volume.origin, ORIGIN) and np.allclose(volume.spacing, SPACING)
    checked = 0
    for k in range(nz):
        for i in range(1 + math.ceil(0.3 * k), ny - 1):
            for j in range(1 + math.ceil(0.2 * k), nx - 1):
                centre = ORIGIN + np.array([j * dx, i * dy, k * dz])
                assert volume.voxels[k, i, j] == pytest.approx(linear(centre), abs=0.011)
                checked += 1
    assert checked > 150


def test_a_tilt_written_in_the_orientation_is_corrected_along_the_tilted_axes(tmp_path):
    # The other way scanners record gantry tilt: image planes tilted 15 degrees about x,
    # stacked straight along z (the table's travel). Corrected onto the acquisition's own
    # orthogonal axes (row, column, normal), which are then oblique to the patient's.
    def linear(points):
        return 3 * points[..., 0] + 2 * points[..., 1] + points[..., 2] + 200

    tilt = math.radians(15)
    row, column = np.array([1.0, 0, 0]), np.array([0, math.cos(tilt), math.sin(tilt)])
    normal = np.cross(row, column)
    nz, ny, nx, table, pixel = 6, 8, 5, 2.0, 0.7
    positions = [ORIGIN + (0, 0, table * k) for k in range(nz)]
    paths = write_series(tmp_path, linear, row, column, ny, nx, (pixel, pixel), positions, slope=0.01, intercept=0)
    volume = volume_from_files(paths)
    assert volume.tilt_degrees == pytest.approx(15, abs=0.01) and volume.obliquity == pytest.approx(15, abs=0.01)
    assert any("gantry tilt 15.0° corrected" in note for note in volume.notes)
    assert any("oblique acquisition (15°" in note for note in volume.notes)
    spacing = table * math.cos(tilt)  # between the tilted planes, along their normal
    assert np.allclose(volume.spacing, (spacing, pixel, pixel))
    assert np.allclose(volume.directions, [normal, column, row])
    assert np.allclose(volume.origin, ORIGIN)  # every slice moves towards +column: the grid starts at the first
    per_slice = table * math.sin(tilt) / pixel  # rows each slice is moved by
    checked = 0
    for k in range(nz):
        for i in range(1 + math.ceil(per_slice * k), ny - 1):
            for j in range(nx):
                centre = ORIGIN + k * spacing * normal + i * pixel * column + j * pixel * row
                assert volume.voxels[k, i, j] == pytest.approx(linear(centre), abs=0.011)
                checked += 1
    assert checked > 40


def test_an_oblique_acquisition_keeps_its_planes_and_says_so(tmp_path):
    angle = math.radians(10)
    row, column = (math.cos(angle), math.sin(angle), 0), (-math.sin(angle), math.cos(angle), 0)
    positions = [ORIGIN + (0, 0, 3.0 * k) for k in range(4)]
    paths = write_series(tmp_path, lambda p: np.rint(p[..., 0] * 7 + p[..., 1] * 3 + p[..., 2]), row, column, 5, 6, (1.0, 1.0), positions)
    volume = volume_from_files(paths)
    assert volume.obliquity == pytest.approx(10, abs=0.01)
    assert any("oblique acquisition (10°" in note for note in volume.notes)
    stored = [pydicom.dcmread(p) for p in paths]
    for k, ds in enumerate(stored):  # the acquisition's own planes, no resampling
        assert np.array_equal(reformat(volume, "axial", k)[0], ds.pixel_array.astype(int) - 1024)


# ----------------------------------------------------------------------------- refusals


def _axial(folder: Path, values, **kwargs) -> list[Path]:
    return write_phantom(folder, values, "axial", **kwargs)


def _drop_middle(tmp, values):
    paths = _axial(tmp, values)
    return paths[:2] + paths[3:]


def _duplicate(tmp, values):
    paths = _axial(tmp, values)
    ds = pydicom.dcmread(paths[2])
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.save_as(tmp / "copy.dcm")
    return [*paths, tmp / "copy.dcm"]


def _mixed_orientations(tmp, values):
    return _axial(tmp / "a", values) + write_phantom(tmp / "s", values, "sagittal")[:1]


def _edit(k: int, **changes):
    def make(tmp, values):
        paths = _axial(tmp, values)
        ds = pydicom.dcmread(paths[k])
        for keyword, value in changes.items():
            if value is None:
                delattr(ds, keyword)
            else:
                setattr(ds, keyword, value)
        ds.save_as(paths[k])
        return paths

    return make


def _off_the_line(tmp, values):
    row, column, rows, columns, spacing, positions = acquisition("axial", values.shape)
    positions[3] = positions[3] + (3.0, 0, 0)
    return write_series(tmp, grid_sampler(values), row, column, rows, columns, spacing, positions)


def _at_45_degrees(tmp, values):
    c = math.sqrt(0.5)
    return write_series(tmp, lambda p: p[..., 0] * 0, (c, c, 0), (-c, c, 0), 4, 4, (1, 1), [(0, 0, k) for k in range(3)])


@pytest.mark.parametrize(
    "make, fragment",
    [
        (_drop_middle, "uneven slice spacing: 4 mm between slices 2 and 3 where the others are 2 mm"),
        (_duplicate, "2 images at one position"),
        (_mixed_orientations, "different orientations (axial, sagittal)"),
        (lambda tmp, values: _axial(tmp, values)[:1], "a single image is not a volume"),
        (_edit(1, FrameOfReferenceUID="1.2.3.4"), "different frames of reference"),
        (_edit(2, ImagePositionPatient=None), "image 3 has no usable (0020,0037) Image Position".replace("0037", "0032")),
        (_edit(0, PixelSpacing=None), "no usable (0028,0030) Pixel Spacing"),
        (_edit(0, PixelSpacing=[0.8, 0.6]), "differ in pixel spacing"),
        (_edit(0, ImageOrientationPatient=[1, 0, 0, 0, 0.996195, 0.087156]), "different orientations (all axial but tilted differently)"),
        (_off_the_line, "not on one straight line"),
        (_at_45_degrees, "about 45 degrees"),
    ],
)
def test_what_is_not_a_volume_is_refused_in_one_line(tmp_path, values, make, fragment):
    paths = make(tmp_path, values)
    with pytest.raises(NotAVolume) as refusal:
        volume_from_files(paths)
    assert fragment in str(refusal.value)
    assert "\n" not in str(refusal.value) and isinstance(refusal.value, ViewerError)


def test_images_of_different_sizes_are_refused(tmp_path, values):
    paths = _axial(tmp_path, values)
    ds = pydicom.dcmread(paths[1])
    ds.Rows, ds.PixelData = 3, ds.PixelData[: 3 * 9 * 2]
    ds.save_as(paths[1])
    with pytest.raises(NotAVolume, match=r"differ in size \(9x3 and 9x7\)"):
        volume_from_files(paths)


# ----------------------------------------------------------------------------- real series


def _stacked_modality(paths) -> tuple[np.ndarray, list]:
    """pydicom's pixels * slope + intercept, sorted by position along z (the normal of an axial series)."""
    datasets = sorted((pydicom.dcmread(p) for p in paths), key=lambda ds: float(ds.ImagePositionPatient[2]))
    stack = np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in datasets])
    return stack, datasets


def test_a_real_ct_series_is_a_volume_as_pydicom_reads_it():
    paths = sorted(glob.glob(str(DICOMDIR_TESTS / "98892001" / "CT5N" / "*")))  # 5 axial slices, 2.5 mm apart
    stack, datasets = _stacked_modality(paths)
    volume = volume_from_files(paths)
    assert np.array_equal(volume.voxels, stack)
    spacing = [float(v) for v in datasets[0].PixelSpacing]
    assert np.allclose(volume.spacing, (2.5, spacing[0], spacing[1]))
    assert np.allclose(volume.origin, [float(v) for v in datasets[0].ImagePositionPatient])
    for j in range(stack.shape[1]):
        assert np.array_equal(reformat(volume, "coronal", j)[0], stack[::-1, j, :])
    for i in range(stack.shape[2]):
        assert np.array_equal(reformat(volume, "sagittal", i)[0], stack[::-1, :, i])
    assert np.array_equal(reformat(volume, "axial", 2, 7.5, "mip")[0], stack[1:4].max(axis=0))


def test_an_enhanced_ct_is_placed_by_its_functional_groups():
    path = get_testdata_file("eCT_Supplemental.dcm", download=False)  # 2 frames 10 mm apart, rows towards the right
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.astype(np.int32) - 1024
    volume = volume_from_files([path])
    assert volume.voxels.shape == (2, 512, 512)
    assert np.array_equal(volume.voxels, frames[:, :, ::-1])  # x now grows towards the left
    first = [float(v) for v in ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0].ImagePositionPatient]
    assert np.allclose(volume.origin, (first[0] - 511 * 0.388672, first[1], first[2]))
    assert np.allclose(volume.spacing, (10.0, 0.388672, 0.388672))


@pytest.mark.parametrize(
    "paths, fragment",
    [
        # Real series that are not volumes: a gap of 202 mm in four slices; radial slices; localizers; no positions.
        (lambda: glob.glob(str(DICOMDIR_TESTS / "77654033" / "CT2" / "*")), "uneven slice spacing: 202 mm"),
        (lambda: glob.glob(str(DICOMDIR_TESTS / "98892003" / "MR700" / "*")), "different orientations"),
        (lambda: [get_testdata_file("emri_small.dcm", download=False)], "without a position per frame"),
        (lambda: [get_testdata_file("CT_small.dcm", download=False)], "a single image is not a volume"),
        (lambda: [get_testdata_file("US1_UNCI.dcm", download=False)] * 2, "colour images (RGB)"),
    ],
)
def test_real_files_that_are_not_volumes_are_refused(paths, fragment):
    with pytest.raises(NotAVolume) as refusal:
        volume_from_files(sorted(paths()))
    assert fragment in str(refusal.value)
