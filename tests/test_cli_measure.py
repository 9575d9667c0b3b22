"""``dicom-viewer measure``: the JSON the issue names, the same numbers as the core, one line and exit 2 for bad input;
``export --annotations`` draws the measurements kept with ``measure --save``."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels.processing import apply_modality_lut

from viewer.app import main

# The generated-file helper of the core tests (tests/core/measure_files.py).
sys.path.insert(0, str(Path(__file__).parent / "core"))
_files = importlib.import_module("measure_files")
ultrasound_region, write_image = _files.ultrasound_region, _files.write_image

CT = get_testdata_file("CT_small.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)
RGB = get_testdata_file("US1_UNCI.dcm", download=False)


def run_json(capsys, *args) -> dict:
    assert main(["measure", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_line_and_angle_json(capsys):
    spacing = [float(v) for v in pydicom.dcmread(CT).PixelSpacing]
    line = run_json(capsys, CT, "--line", 10, 20, 70.5, 52.25)
    assert set(line) == {"value", "unit", "basis"}
    assert line["unit"] == "mm" and line["basis"] == "pixel spacing"
    assert abs(line["value"] - math.hypot(60.5 * spacing[1], 32.25 * spacing[0])) <= 0.5 * min(spacing)
    angle = run_json(capsys, CT, "--angle", 10, 0, 0, 0, 0, 10)
    assert angle == {"value": pytest.approx(90.0), "unit": "°", "basis": "pixel spacing"}
    cobb = run_json(capsys, CT, "--cobb", 0, 0, 10, 0, 0, 5, 10, 15)
    assert cobb["value"] == pytest.approx(45.0)


def test_roi_json_matches_numpy(capsys):
    ds = pydicom.dcmread(CT)
    hu = np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=float)
    rows, columns = np.mgrid[0:128, 0:128].astype(float)
    mask = ((columns - 60.5) / 30.2) ** 2 + ((rows - 64.25) / 20.1) ** 2 <= 1.0
    result = run_json(capsys, CT, "--ellipse", 60.5, 64.25, 30.2, 20.1)
    assert set(result) == {"mean", "sd", "min", "max", "count", "area", "unit", "area_unit", "basis"}
    assert result["count"] == mask.sum() and result["unit"] == "HU" and result["area_unit"] == "mm²"
    assert result["mean"] == pytest.approx(hu[mask].mean()) and result["sd"] == pytest.approx(hu[mask].std())
    assert (result["min"], result["max"]) == (hu[mask].min(), hu[mask].max())
    rect = run_json(capsys, CT, "--rect", 5, 6, 20, 30)
    assert rect["count"] == 16 * 25 and rect["mean"] == pytest.approx(hu[6:31, 5:21].mean())
    triangle = run_json(capsys, CT, "--polygon", 10, 10, 100, 10, 10, 100)
    assert triangle["count"] == sum(100 - r + 1 for r in range(10, 101))  # columns 10..110-r on row r, hand-counted
    spacing = [float(v) for v in ds.PixelSpacing]
    assert triangle["area"] == pytest.approx(90 * 90 / 2 * spacing[0] * spacing[1])


def test_frame_of_a_multiframe(capsys):
    ds = pydicom.dcmread(MR_MULTIFRAME)
    frame = ds.pixel_array[4].astype(float)
    result = run_json(capsys, MR_MULTIFRAME, "--frame", 5, "--rect", 0, 0, 9, 9)
    assert result["mean"] == pytest.approx(frame[:10, :10].mean()) and result["unit"] == ""


def test_text_output_names_the_basis_and_the_sd(capsys):
    assert main(["measure", CT, "--ellipse", "60", "60", "10", "10"]) == 0
    out = capsys.readouterr().out
    assert "SD (population)" in out and "basis: pixel spacing" in out and "HU" in out


def test_ultrasound_and_uncalibrated_files(tmp_path, capsys):
    us = write_image(tmp_path / "us.dcm", "US", SequenceOfUltrasoundRegions=[ultrasound_region(0, 0, 39, 63, 0.02, 0.02)])
    assert run_json(capsys, us, "--line", 0, 0, 30, 40) == {"value": pytest.approx(10.0), "unit": "mm", "basis": "ultrasound region"}
    across = run_json(capsys, us, "--line", 0, 0, 60, 40)
    assert across["unit"] == "px" and across["basis"] == "outside ultrasound regions"
    roi = run_json(capsys, us, "--ellipse", 20, 30, 10, 5)
    assert roi["area"] == pytest.approx(math.pi * 10 * 0.2 * 5 * 0.2) and roi["basis"] == "ultrasound region"
    dx = write_image(tmp_path / "dx.dcm", "DX", ImagerPixelSpacing=[0.2, 0.2], EstimatedRadiographicMagnificationFactor=1.25)
    for args in (["--line", 0, 0, 30, 40], ["--rect", 0, 0, 10, 10], ["--point", 3, 3]):
        assert run_json(capsys, dx, *args)["basis"] == "magnified-corrected"  # ROI and point values too
    plain = write_image(tmp_path / "ot.dcm", "OT")
    assert run_json(capsys, plain, "--line", 0, 0, 3, 4) == {"value": 5.0, "unit": "px", "basis": "uncalibrated"}
    user = run_json(capsys, plain, "--line", 0, 0, 3, 4, "--calibrate", 0, 0, 10, 0, 20)
    assert user == {"value": pytest.approx(10.0), "unit": "mm", "basis": "user calibrated"}


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--polygon", "1", "2", "3", "4", "5"], "three or more X Y pairs"),
        (["--ellipse", "10", "10", "0", "5"], "RX and RY must be greater than 0"),
        (["--frame", "2", "--line", "0", "0", "1", "1"], "out of range"),
        (["--calibrate", "0", "0", "0", "0", "5", "--line", "0", "0", "1", "1"], "no length"),
        (["--line", "0", "0", "128", "3"], "outside the image (128 columns x 128 rows"),
        (["--ellipse", "-3", "10", "5", "5"], "outside the image"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, fragment):
    assert main(["measure", CT, *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_colour_roi_and_missing_file_exit_2_with_one_line(tmp_path):
    cases = ((RGB, "greyscale images only"), (tmp_path / "missing.dcm", "no such file"), (get_testdata_file("rtplan.dcm"), "has no image"))
    for path, fragment in cases:
        result = subprocess.run(
            [sys.executable, "-m", "viewer", "measure", str(path), "--ellipse", "50", "50", "10", "10"], capture_output=True, text=True
        )
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr


def test_saved_measurements_are_burnt_into_the_export(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["measure", CT, "--line", "10", "100", "110", "100", "--save", "--data-dir", str(data)]) == 0
    assert main(["measure", CT, "--rect", "20", "20", "40", "40", "--save", "--data-dir", str(data)]) == 0
    capsys.readouterr()
    uid = pydicom.dcmread(CT).SOPInstanceUID
    assert [p.name for p in data.iterdir()] == [f"{uid}.json"]
    plain, burnt = tmp_path / "plain.png", tmp_path / "burnt.png"
    assert main(["export", CT, "-o", str(plain)]) == 0
    assert main(["export", CT, "-o", str(burnt), "--annotations", "--data-dir", str(data)]) == 0
    grey, rgb = np.asarray(Image.open(plain)), np.asarray(Image.open(burnt))
    assert rgb.shape == (128, 128, 3)
    assert tuple(rgb[100, 20]) == (255, 230, 0) and tuple(rgb[30, 20]) == (255, 230, 0)  # on the line, on the rectangle's edge
    assert np.array_equal(rgb[103:, :40, 0], grey[103:, :40])  # away from shapes and labels: the image as exported
    # No measurements kept: the export is the image alone (in RGB).
    assert main(["export", CT, "-o", str(burnt), "--annotations", "--data-dir", str(tmp_path / "empty"), "--overwrite"]) == 0
    assert np.array_equal(np.asarray(Image.open(burnt))[:, :, 1], grey)


def test_presentation_state_from_the_command_line(tmp_path, capsys):
    """The kept measurements and a new one, with the CT's own window, in a GSPS that dcmtk accepts."""
    data, folder = tmp_path / "data", tmp_path / "pr"
    assert main(["measure", CT, "--line", "10", "100", "110", "100", "--save", "--data-dir", str(data)]) == 0
    args = ["measure", CT, "--ellipse", "60", "60", "20", "10", "--data-dir", str(data), "--presentation-state", str(folder)]
    assert main(args) == 0
    assert "presentation state" in capsys.readouterr().err
    (written,) = folder.iterdir()
    check = subprocess.run(["dcmpschk", str(written)], capture_output=True, text=True, timeout=60)
    assert "Test passed" in check.stdout + check.stderr
    ds = pydicom.dcmread(written)
    assert len(ds.GraphicAnnotationSequence) == 2
    voi = ds.SoftcopyVOILUTSequence[0]
    # CT_small.dcm has no window: a CT in HU opens with soft tissue, 40/400 (as export shows it, tests/test_cli.py).
    assert (float(voi.WindowCenter), float(voi.WindowWidth)) == (40, 400)


def test_save_goes_to_the_data_folder_never_beside_the_image(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    (tmp_path / "images").mkdir()
    image = write_image(tmp_path / "images" / "ct.dcm", "CT", PixelSpacing=[0.5, 0.5])
    assert main(["measure", str(image), "--line", "0", "0", "10", "0", "--save"]) == 0
    uid = pydicom.dcmread(image).SOPInstanceUID
    assert (tmp_path / "xdg" / "dicom-viewer" / "measurements" / f"{uid}.json").is_file()
    assert [p.name for p in (tmp_path / "images").iterdir()] == ["ct.dcm"]
