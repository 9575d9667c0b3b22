"""``dicom-viewer export SERIES --plane ... --slice N``: the PNG is the windowed numpy reslice.

The series are phantoms with known geometry (tests/mpr_phantom.py); the
expected PNG is the phantom resliced by the radiological convention and
windowed by PS3.3 C.11.2.1.2.1 (LINEAR), both computed here.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from mpr_phantom import MARKER, SPACING, phantom, write_phantom
from PIL import Image

from viewer.app import main

PLANE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 with ymin 0, ymax 255, rounded to the nearest grey level."""
    x = np.asarray(x, dtype=np.float64)
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    y = np.where(x <= center - 0.5 - (width - 1) / 2, 0, np.where(x > center - 0.5 + (width - 1) / 2, 255, y))
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def reslice(values: np.ndarray, plane: str, index: int) -> np.ndarray:
    if plane == "axial":
        return values[index]
    return values[::-1, index, :] if plane == "coronal" else values[::-1, :, index]


def read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.fixture(scope="module")
def values():
    return phantom((7, 8, 9))


@pytest.fixture(scope="module")
def series(values, tmp_path_factory):
    """The phantom as three CT acquisitions with the file window W 400 L 40, each in its folder."""
    root = tmp_path_factory.mktemp("series")
    for number, name in enumerate(("axial", "coronal", "sagittal"), 10):
        uid = f"1.2.826.0.1.3680043.8.498.{number}"
        write_phantom(root / name, values, name, SeriesInstanceUID=uid, WindowCenter="40", WindowWidth="400")
    return root


@pytest.mark.parametrize("acquired", ("axial", "coronal", "sagittal"))
@pytest.mark.parametrize("plane", ("axial", "coronal", "sagittal"))
def test_each_plane_is_the_windowed_reslice(tmp_path, series, values, acquired, plane):
    for number in (1, values.shape[PLANE_AXIS[plane]]):
        out = tmp_path / f"{plane}{number}.png"
        assert main(["export", str(series / acquired), "--plane", plane, "--slice", str(number), "-o", str(out)]) == 0
        expected = linear_window(reslice(values, plane, number - 1), 40, 400)  # the file's window
        assert np.array_equal(read_png(out), expected)


def test_the_marker_is_at_the_top_left_of_the_first_coronal_slice(tmp_path, series):
    out = tmp_path / "coronal.png"
    window = ["--window", str(MARKER), "2"]  # white only at the marker's value
    assert main(["export", str(series / "sagittal"), "--plane", "coronal", "--slice", "1", "-o", str(out), *window]) == 0
    png = read_png(out)
    assert png[0, 0] == 255 and np.count_nonzero(png == 255) == 1


@pytest.mark.parametrize(
    "args, center, width",
    [(["--window", "-600", "1500"], -600, 1500), (["--preset", "bone"], 400, 1800), (["--preset", "Lung"], -600, 1500)],
)
def test_window_and_presets_apply_as_in_export(tmp_path, series, values, args, center, width):
    out = tmp_path / "out.png"
    assert main(["export", str(series / "sagittal"), "--plane", "axial", "--slice", "3", "-o", str(out), *args]) == 0
    assert np.array_equal(read_png(out), linear_window(values[2], center, width))


@pytest.mark.parametrize("mode, reduce", [("mip", np.max), ("minip", np.min), ("avg", np.mean)])
def test_slabs(tmp_path, series, values, mode, reduce):
    # Coronal slices are 0.8 mm apart: 2 mm is round(2.5) = 3 slices (halves round up), centred on slice 4 (index 3).
    assert SPACING[1] == 0.8
    out = tmp_path / "slab.png"
    assert main(["export", str(series / "axial"), "--plane", "coronal", "--slice", "4", "--slab", "2", "--mode", mode, "-o", str(out)]) == 0
    expected = linear_window(reduce(values[:, 2:5, :].astype(np.float64), axis=1)[::-1], 40, 400)
    difference = np.abs(read_png(out).astype(int) - expected.astype(int))
    assert difference.max() <= (1 if mode == "avg" else 0)  # a float32 mean may round the other way at .5


def test_a_file_names_its_own_series_among_others(tmp_path, values):
    write_phantom(tmp_path / "a", values, "axial", WindowCenter="40", WindowWidth="400")
    other = phantom((7, 8, 9), seed=3)
    paths = write_phantom(
        tmp_path / "a", other, "axial", SeriesInstanceUID="1.2.826.0.1.3680043.8.498.99", WindowCenter="40", WindowWidth="400"
    )
    out = tmp_path / "out.png"
    assert main(["export", str(paths[0]), "--plane", "sagittal", "--slice", "5", "-o", str(out)]) == 0
    assert np.array_equal(read_png(out), linear_window(other[::-1, :, 4], 40, 400))


def test_without_a_window_an_mr_opens_with_the_series_automatic_window(tmp_path, values):
    # No window, not HU: the 0.5-99.5 percentiles of the middle image of the acquisition (x index 4 of 9).
    write_phantom(tmp_path / "mr", values, "sagittal", Modality="MR", slope=1, intercept=0)
    out = tmp_path / "mr.png"
    assert main(["export", str(tmp_path / "mr"), "--plane", "axial", "--slice", "2", "-o", str(out)]) == 0
    lo, hi = np.percentile(values[:, :, 4].astype(np.float64), [0.5, 99.5])
    assert np.abs(read_png(out).astype(int) - linear_window(values[1], (lo + hi) / 2, hi - lo).astype(int)).max() <= 1


@pytest.mark.parametrize(
    "make_args, fragment",
    [
        (lambda s: [str(s / "axial"), "--plane", "oblique", "--slice", "1"], "unknown plane 'oblique': choose axial, coronal or sagittal"),
        (lambda s: [str(s / "axial"), "--plane", "axial", "--slice", "8"], "--slice 8 is out of range: the axial plane has 7 slices"),
        (lambda s: [str(s / "axial"), "--plane", "sagittal", "--slice", "0"], "--slice 0 is out of range: the sagittal plane has 9 slices"),
        (lambda s: [str(s / "axial"), "--plane", "axial"], "--plane needs --slice N"),
        (lambda s: [str(s / "axial"), "--slab", "3"], "give --plane axial, coronal or sagittal"),
        (lambda s: [str(s / "axial"), "--plane", "axial", "--slice", "1", "--mode", "avg"], "--mode combines the slices of a slab"),
        (lambda s: [str(s / "axial"), "--plane", "axial", "--slice", "1", "--slab", "3", "--mode", "sum"], "unknown slab mode 'sum'"),
        (lambda s: [str(s / "axial"), "--plane", "axial", "--slice", "1", "--frame", "2"], "--frame is for one image"),
        (lambda s: [str(s), "--plane", "axial", "--slice", "1"], "the folder holds 3 series"),
        (lambda s: [str(s / "nothing"), "--plane", "axial", "--slice", "1"], "no such file or folder"),
        (lambda s: [str(s / "axial"), "--plane", "axial", "--slice", "1", "--preset", "nonsense"], "unknown preset 'nonsense'"),
    ],
)
def test_bad_requests_exit_2_with_one_line(tmp_path, series, capsys, make_args, fragment):
    out = tmp_path / "out.png"
    assert main(["export", *make_args(series), "-o", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], captured.err
    assert not out.exists()


def test_a_series_that_is_not_a_volume_is_refused_in_one_line_by_the_process(tmp_path, values):
    paths = write_phantom(tmp_path / "gap", values, "axial")
    paths[3].unlink()  # one slice missing
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "viewer",
            "export",
            str(tmp_path / "gap"),
            "--plane",
            "coronal",
            "--slice",
            "1",
            "-o",
            str(tmp_path / "o.png"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        "dicom-viewer: gap: uneven slice spacing: 4 mm between slices 3 and 4 where the others are 2 mm (a missing slice, or two stacks in one series?)"
    )
    assert not (tmp_path / "o.png").exists()


def test_a_corrected_gantry_tilt_is_said_in_a_note(tmp_path, values, capsys):
    from mpr_phantom import ORIGIN, grid_sampler, write_series

    dz, dy, dx = SPACING
    positions = [ORIGIN + (0, k * dy, k * dz) for k in range(values.shape[0])]  # one row further back per slice
    write_series(tmp_path / "tilt", grid_sampler(values), (1, 0, 0), (0, 1, 0), 8, 9, (dy, dx), positions)
    assert main(["export", str(tmp_path / "tilt"), "--plane", "sagittal", "--slice", "2", "-o", str(tmp_path / "t.png")]) == 0
    assert capsys.readouterr().err == "dicom-viewer: note: gantry tilt 21.8° corrected: slices moved onto an orthogonal grid\n"
    assert read_png(tmp_path / "t.png").shape == (7, 8 + 6)  # z by y, the grid grown by the 6 rows the slices moved


def test_a_preset_in_hu_on_an_mr_is_refused(tmp_path, values):
    write_phantom(tmp_path / "mr", values, "axial", Modality="MR", slope=1, intercept=0)
    assert (
        main(["export", str(tmp_path / "mr"), "--plane", "axial", "--slice", "1", "--preset", "lung", "-o", str(tmp_path / "x.png")]) == 2
    )


def test_the_help_documents_the_planes(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    text = capsys.readouterr().out
    for word in ("--plane", "--slice", "--slab", "--mode", "seen as a radiologist reads it", "axial from the feet up"):
        assert word in " ".join(text.split())


def test_a_real_ct_axial_reformat_is_the_exported_image_itself(tmp_path):
    # pydicom-data's 693_UNCI.dcm (real CT, 512x512, W 100 L 40 in the file) as a 3-slice series, 5 mm apart:
    # each axial reformat is the file's own export, pixel for pixel; the coronal is the windowed reslice of the stack.
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    template = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False))
    z = float(template.ImagePositionPatient[2])
    folder = tmp_path / "ct"
    folder.mkdir()
    pixels = template.pixel_array
    for k in range(3):
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.ImagePositionPatient = [template.ImagePositionPatient[0], template.ImagePositionPatient[1], f"{z + 5 * k:.3f}"]
        template.PixelData = np.roll(pixels, 40 * k, axis=1).tobytes()  # slices differ
        template.save_as(folder / f"{k}.dcm", enforce_file_format=True)
    stack = np.stack([np.roll(pixels, 40 * k, axis=1) for k in range(3)]).astype(np.float64) - 1024
    for k in range(3):
        # --overwrite: export never replaces a file unless asked
        assert main(["export", str(folder / f"{k}.dcm"), "-o", str(tmp_path / "image.png"), "--overwrite"]) == 0
        assert (
            main(["export", str(folder), "--plane", "axial", "--slice", str(k + 1), "-o", str(tmp_path / "axial.png"), "--overwrite"]) == 0
        )
        assert np.array_equal(read_png(tmp_path / "axial.png"), read_png(tmp_path / "image.png"))
    assert main(["export", str(folder / "1.dcm"), "--plane", "coronal", "--slice", "300", "-o", str(tmp_path / "coronal.png")]) == 0
    assert np.array_equal(read_png(tmp_path / "coronal.png"), linear_window(stack[::-1, 299, :], 40, 100))
