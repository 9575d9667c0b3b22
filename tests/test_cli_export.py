"""``dicom-viewer export``: JPEG, --series (PNGs), MP4, --dicom copies, --corner-text; bad input in one line.

The pictures themselves are checked against dcmtk in tests/core/test_export.py;
here, what the command line does with its options and where it refuses.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.app import main

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)


def alone(tmp_path: Path, source: str, name: str = "in") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    return Path(shutil.copy(source, folder))


def one_line_error(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "viewer", "export", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_jpeg_by_extension_or_format(tmp_path):
    assert main(["export", CT, "-o", str(tmp_path / "ct.jpg"), "--quality", "95"]) == 0
    assert Image.open(tmp_path / "ct.jpg").format == "JPEG"
    assert main(["export", CT, "-o", str(tmp_path / "ct.png")]) == 0
    assert main(["export", CT, "-o", str(tmp_path / "ct.picture"), "--format", "jpeg"]) == 0
    assert Image.open(tmp_path / "ct.picture").format == "JPEG"
    png = np.asarray(Image.open(tmp_path / "ct.png")).astype(float)
    jpeg = np.asarray(Image.open(tmp_path / "ct.jpg")).astype(float)
    assert 10 * np.log10(255**2 / np.mean((png - jpeg) ** 2)) > 38


def test_an_existing_picture_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "ct.png"
    out.write_bytes(b"mine")
    line = one_line_error(CT, "-o", str(out))
    assert "exists already: not overwritten (--overwrite replaces it)" in line
    assert out.read_bytes() == b"mine"
    assert main(["export", CT, "-o", str(out), "--overwrite"]) == 0
    assert Image.open(out).size == (512, 512)


def test_corner_text_is_drawn_in_the_corners_only(tmp_path):
    plain, text = tmp_path / "plain.png", tmp_path / "text.png"
    assert main(["export", CT, "-o", str(plain)]) == 0
    assert main(["export", CT, "-o", str(text), "--corner-text"]) == 0
    grey, rgb = np.asarray(Image.open(plain)), np.asarray(Image.open(text))
    assert rgb.shape == (512, 512, 3)
    changed = np.any(rgb != grey[:, :, None], axis=2)
    yellow = np.all(np.abs(rgb.astype(int) - (0xF0, 0xF0, 0xA0)) <= 4, axis=2)
    for rows, cols in ((slice(0, 60), slice(0, 150)), (slice(420, 512), slice(0, 150)), (slice(470, 512), slice(400, 512))):
        assert yellow[rows, cols].sum() > 30  # patient; series and image; window and zoom
    assert not changed[150:350, 150:350].any()  # the middle of the image is untouched


def test_a_series_as_pngs(tmp_path, capsys):
    source = alone(tmp_path, MR_MULTIFRAME)
    out = tmp_path / "pngs"
    assert main(["export", str(source), "--series", "-o", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"IMG{n:04d}.png" for n in range(1, 11)]
    assert capsys.readouterr().out.strip() == f"10 pictures written to {out}"
    assert main(["export", str(source.parent), "--series", "-o", str(tmp_path / "jpegs"), "--format", "jpeg"]) == 0
    assert sorted(p.name for p in (tmp_path / "jpegs").iterdir())[0] == "IMG0001.jpg"
    line = one_line_error(str(source), "--series", "-o", str(out))
    assert "holds 10 pictures of these names already (IMG0001.png...): not overwritten" in line
    assert "the folder the images are read from" in one_line_error(str(source), "--series", "-o", str(source.parent))
    assert "give --series" in one_line_error(str(source.parent), "-o", str(tmp_path / "x.mp4"))


def test_a_cine_and_a_series_as_mp4(tmp_path, capsys):
    source = alone(tmp_path, MR_MULTIFRAME)
    assert main(["export", str(source), "-o", str(tmp_path / "cine.mp4")]) == 0
    assert capsys.readouterr().out.strip() == f"10 frames at 10 fps (libx264, 64x64) written to {tmp_path / 'cine.mp4'}"
    assert main(["export", str(source), "--series", "-o", str(tmp_path / "fast.mp4"), "--fps", "30"]) == 0
    with av.open(str(tmp_path / "fast.mp4")) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) == 10 and stream.average_rate == 30
    assert "frame rate 0 is out of range" in one_line_error(str(source), "-o", str(tmp_path / "x.mp4"), "--fps", "0")
    assert "--fps is for an MP4" in one_line_error(str(source), "-o", str(tmp_path / "x.png"), "--fps", "5")
    assert "--frame is for one picture" in one_line_error(str(source), "--series", "-o", str(tmp_path / "y"), "--frame", "2")


def test_a_dicom_copy(tmp_path, capsys):
    source = alone(tmp_path, CT)
    assert main(["export", str(source), "--dicom", "-o", str(tmp_path / "copy")]) == 0
    assert (tmp_path / "copy" / source.name).read_bytes() == source.read_bytes()
    assert capsys.readouterr().out.strip() == f"1 file copied to {tmp_path / 'copy'}"
    assert main(["export", str(source.parent), "--dicom", "--media-names", "-o", str(tmp_path / "media")]) == 0
    assert [p.name for p in (tmp_path / "media").iterdir()] == ["IM000001"]
    assert "nothing copied" in one_line_error(str(source), "--dicom", "-o", str(tmp_path / "copy"))
    (tmp_path / "notes.txt").write_text("not DICOM")
    assert "not a DICOM file" in one_line_error(str(tmp_path / "notes.txt"), "--dicom", "-o", str(tmp_path / "c2"))
    assert "--dicom copies the files as they are" in one_line_error(str(source), "--dicom", "-o", str(tmp_path / "c.mp4"))


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a folder nobody may write into")
def test_an_unwritable_folder_is_one_line(tmp_path):
    source = alone(tmp_path, MR_MULTIFRAME)
    assert "cannot write /sys/x.png" in one_line_error(str(source), "-o", "/sys/x.png")
    assert "cannot make the folder /sys/pngs" in one_line_error(str(source), "--series", "-o", "/sys/pngs")
    assert "/sys/x.mp4" in one_line_error(str(source), "-o", "/sys/x.mp4")


def test_a_waveform_is_drawn_as_png_only(tmp_path):
    ecg = get_testdata_file("waveform_ecg.dcm", download=False)
    assert "written as PNG" in one_line_error(ecg, "-o", str(tmp_path / "ecg.jpg"))
    assert not (tmp_path / "ecg.jpg").exists()
