"""The command line: export writes what the pane shows; bad input exits 2 with one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.app import main

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)
RGB = get_testdata_file("US1_UNCI.dcm", download=False)


def hu_window(center, width):
    ds = pydicom.dcmread(CT)
    x = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255  # PS3.3 C.11.2.1.2.1
    return np.clip(np.where(x <= center - 0.5 - (width - 1) / 2, 0, np.where(x > center - 0.5 + (width - 1) / 2, 255, y)), 0, 255)


def read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path))


@pytest.mark.parametrize(
    "args, center, width",
    [([], 40, 100), (["--window", "-600", "1500"], -600, 1500), (["--preset", "bone"], 400, 1800)],
)
def test_export_ct(tmp_path, args, center, width):
    out = tmp_path / "ct.png"
    assert main(["export", CT, "-o", str(out), *args]) == 0
    png = read_png(out)
    assert png.dtype == np.uint8 and png.shape == (512, 512)
    assert np.abs(png.astype(int) - hu_window(center, width)).max() <= 1


def test_export_frame_and_rgb(tmp_path):
    out = tmp_path / "mr.png"
    assert main(["export", MR_MULTIFRAME, "-o", str(out), "--frame", "3"]) == 0
    # No window in the file: the window the pane opens the file with, the same
    # for every frame: the 0.5-99.5 percentile of the middle frame (6 of 10).
    frames = pydicom.dcmread(MR_MULTIFRAME).pixel_array.astype(float)
    lo, hi = np.percentile(frames[5], [0.5, 99.5])
    frame = frames[2]
    expected = ((frame - ((lo + hi) / 2 - 0.5)) / (hi - lo - 1) + 0.5) * 255
    assert np.abs(read_png(out).astype(int) - np.clip(expected, 0, 255)).max() <= 1
    out = tmp_path / "us.png"
    assert main(["export", RGB, "-o", str(out)]) == 0
    assert np.array_equal(read_png(out), pydicom.dcmread(RGB).pixel_array)


def test_export_matches_the_pane_at_one_to_one(tmp_path, qtbot):
    from viewer.ui.window.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 1000)
    window.show()
    with qtbot.waitSignal(window.image_shown, timeout=10000):
        window.open_paths([CT])
    for dock in (window.browser_dock, window.pipeline_dock, window.inspector_dock):
        dock.hide()  # room for the whole 512x512 image at 1:1
    # Until the layout has given the pane that room (not a fixed wait: a loaded machine is slower).
    qtbot.waitUntil(lambda: min(window.pane.view_box.size().width(), window.pane.view_box.size().height()) >= 512, timeout=10000)
    window.choose_preset("Lung")
    window.pane.set_zoom(1.0)
    assert window.pane.last_render == ((0, 512, 0, 512), 1)
    out = tmp_path / "ct.png"
    assert main(["export", CT, "-o", str(out), "--preset", "lung"]) == 0
    assert np.array_equal(read_png(out), window.pane.displayed_pixels())
    window.close()


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda tmp: _write(tmp / "a.txt", b"hello"), "not a DICOM file"),
        (lambda tmp: _write(tmp / "cut.dcm", open(CT, "rb").read()[:2000]), "ends before its pixel data"),
        (lambda tmp: _write(tmp / "cut2.dcm", open(CT, "rb").read()[:300000]), "shorter than its size says"),
        (lambda tmp: get_testdata_file("rtplan.dcm"), "has no image to show"),
        (lambda tmp: tmp / "missing.dcm", "no such file"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path, make, fragment):
    path = make(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "export", str(path), "-o", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "out.png").exists()


def test_frame_out_of_range(tmp_path, capsys):
    assert main(["export", MR_MULTIFRAME, "-o", str(tmp_path / "x.png"), "--frame", "11"]) == 2
    assert "has 10 frames" in capsys.readouterr().err


def test_help_documents_everything(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("--demo", "export", "--frame", "--window", "--preset", "exit status"):
        assert word in text
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "--frame" in capsys.readouterr().out


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


CRASHES = Path(__file__).parent / "robustness" / "crashes"


@pytest.mark.parametrize(
    "name", ["jpeg_lossless_not_jpeg.dcm", "j2k_photometric_mismatch.dcm", "jpeg_baseline_bytes_missing.dcm", "deflate_corrupt_stream.dcm"]
)
def test_export_of_a_damaged_code_stream_ends_in_one_line(tmp_path, name):
    """Files that once killed a decoder's process: export decodes them in a worker and says what failed."""
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "export", str(CRASHES / name), "-o", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dicom-viewer: ") and "Traceback" not in result.stderr
        assert not (tmp_path / "out.png").exists()


# --------------------------------------------------------------------------- presets in HU, CT without a window


def _variant(tmp_path, source: str, name: str, **changes) -> str:
    """A copy of a pydicom test file with attributes changed (None removes one)."""
    ds = pydicom.dcmread(get_testdata_file(source, download=False))
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    path = tmp_path / name
    ds.save_as(path)
    return str(path)


NOT_HU = {
    "CR": lambda tmp: (get_testdata_file("RG3_UNCI.dcm", download=False), "this CR image's values are not"),
    "CR, Rescale Type OD": lambda tmp: (get_testdata_file("dicomdirtests/77654033/CR1/6154", download=False), "(they are OD)"),
    "DX": lambda tmp: (_variant(tmp, "RG3_UNCI.dcm", "dx.dcm", Modality="DX"), "this DX image's values are not"),
    "MR": lambda tmp: (get_testdata_file("MR_small.dcm", download=False), "this MR image's values are not"),
    "US": lambda tmp: (RGB, "this US image's values are not"),
    "CT, Rescale Type OD": lambda tmp: (_variant(tmp, "CT_small.dcm", "od.dcm", RescaleType="OD"), "this CT image's values are not"),
}


@pytest.mark.parametrize("make", NOT_HU.values(), ids=NOT_HU.keys())
def test_a_hu_preset_on_values_not_in_hu_exits_2_with_one_line(tmp_path, make):
    path, fragment = make(tmp_path)
    out = tmp_path / "out.png"
    command = [sys.executable, "-m", "viewer", "export", path, "-o", str(out), "--preset", "lung"]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the 'lung' preset is in Hounsfield units" in lines[0] and fragment in lines[0], lines
    assert not out.exists()


def dcmtk_png(tmp_path, path, *args) -> np.ndarray:
    """dcmtk's rendering (dcmj2pnm, overlays off) as an array: the reference."""
    import shutil

    if shutil.which("dcmj2pnm") is None:
        pytest.skip("dcmtk's dcmj2pnm is not installed")
    out = tmp_path / "dcmtk.png"
    subprocess.run(["dcmj2pnm", "-O", "+on", *args, str(path), str(out)], check=True, capture_output=True, timeout=60)
    return read_png(out)


@pytest.mark.dcmtk
def test_export_lung_preset_on_ct_matches_dcmtk(tmp_path):
    out = tmp_path / "lung.png"
    assert main(["export", CT, "-o", str(out), "--preset", "lung"]) == 0
    reference = dcmtk_png(tmp_path, CT, "+Ww", "-600", "1500")  # the Lung preset: L -600 W 1500
    assert np.abs(read_png(out).astype(int) - reference.astype(int)).max() <= 1


@pytest.mark.dcmtk
def test_export_of_a_ct_without_a_window_is_soft_tissue(tmp_path):
    ct = get_testdata_file("CT_small.dcm", download=False)
    assert "WindowCenter" not in pydicom.dcmread(ct, stop_before_pixels=True)
    out = tmp_path / "ct.png"
    assert main(["export", ct, "-o", str(out)]) == 0
    reference = dcmtk_png(tmp_path, ct, "+Ww", "40", "400")
    assert np.abs(read_png(out).astype(int) - reference.astype(int)).max() <= 1
