"""``dicom-viewer export IMAGE --pstate PR.dcm -o OUT.png``: the image as the presentation state shows it.

Grey levels against dcmtk's ``dcmp2pgm -p PR.dcm IMAGE`` (within 1) for a state made by ``dcmpsmk`` and one
with rotation, flip and a window made with pydicom; bad input exits 2 with one line and writes nothing.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.app import main

# The presentation-state helper of the core tests (tests/core/pstate_files.py).
sys.path.insert(0, str(Path(__file__).parent / "core"))
_files = importlib.import_module("pstate_files")

CT = Path(get_testdata_file("CT_small.dcm", download=False))
MULTIFRAME = Path(get_testdata_file("emri_small.dcm", download=False))

needs_dcmtk = pytest.mark.skipif(not _files.dcmtk("dcmp2pgm") or not _files.dcmtk("dcmpsmk"), reason="dcmtk is not installed")


def header(path: Path):
    import pydicom

    return pydicom.dcmread(path, stop_before_pixels=True)


@needs_dcmtk
@pytest.mark.parametrize("image, frame", [(CT, 1), (MULTIFRAME, 4)], ids=["CT", "multiframe"])
def test_export_through_a_dcmpsmk_state(image, frame, tmp_path):
    pr = tmp_path / "pr.dcm"
    subprocess.run([_files.dcmtk("dcmpsmk"), str(image), str(pr)], check=True, capture_output=True, timeout=60)
    out = tmp_path / "out.png"
    assert main(["export", str(image), "--pstate", str(pr), "--frame", str(frame), "-o", str(out)]) == 0
    ours = np.asarray(Image.open(out)).astype(int)
    theirs = _files.dcmp2pgm(image, pr, tmp_path / "dcmtk.pgm", frame).astype(int)
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 1


@needs_dcmtk
def test_export_with_rotation_flip_window_and_a_graphic(tmp_path):
    pr = tmp_path / "pr.dcm"
    line = _files.annotation([_files.graphic("PIXEL", "POLYLINE", [(10.5, 5.5), (60.5, 5.5)])])
    _files.make_state(header(CT), window=(100, 400), rotation=90, flip=True, annotations=[line]).save_as(pr, enforce_file_format=True)
    out = tmp_path / "out.png"
    assert main(["export", str(CT), "--pstate", str(pr), "-o", str(out)]) == 0
    ours = np.asarray(Image.open(out)).astype(int)
    assert ours.ndim == 3  # graphics burned in: RGB
    theirs = _files.dcmp2pgm(CT, pr, tmp_path / "dcmtk.pgm").astype(int)
    # The white line: row 5 of the image becomes column 128 - 6 after a quarter turn, column 5 after the flip.
    drawn = (ours[..., 0] == 255) & (theirs < 250)
    rows, columns = np.nonzero(drawn)
    assert len(rows) > 20 and set(columns) <= {4, 5, 6} and rows.min() <= 11 and rows.max() >= 59
    rest = ~drawn
    assert np.abs(ours[..., 0][rest] - theirs[rest]).max() <= 1


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "viewer", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "make_state, fragment",
    [
        (lambda tmp: CT, "is not a Grayscale Softcopy Presentation State"),
        (lambda tmp: tmp / "missing.dcm", "missing.dcm"),
        (lambda tmp: _damaged(tmp), "the presentation state is damaged"),
        (lambda tmp: _for_another_image(tmp), "does not reference this image"),
    ],
    ids=["an-image", "missing", "damaged", "another-image"],
)
def test_bad_states_exit_2_with_one_line(make_state, fragment, tmp_path):
    state = make_state(tmp_path)
    out = tmp_path / "out.png"
    result = run(["export", str(CT), "--pstate", str(state), "-o", str(out)])
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.stderr
    assert not out.exists()


def _damaged(tmp: Path) -> Path:
    ds = _files.make_state(header(CT), window=(40, 400))
    ds.ImageRotation = 33
    ds.ImageHorizontalFlip = "N"
    ds.save_as(tmp / "bad.dcm", enforce_file_format=True)
    return tmp / "bad.dcm"


def _for_another_image(tmp: Path) -> Path:
    _files.make_state(header(MULTIFRAME)).save_as(tmp / "other.dcm", enforce_file_format=True)
    return tmp / "other.dcm"


def test_window_and_pstate_do_not_mix(tmp_path, capsys):
    pr = tmp_path / "pr.dcm"
    _files.make_state(header(CT)).save_as(pr, enforce_file_format=True)
    assert main(["export", str(CT), "--pstate", str(pr), "--window", "40", "400", "-o", str(tmp_path / "x.png")]) == 2
    assert "--pstate shows the image as the presentation state says" in capsys.readouterr().err


def test_a_reformat_has_no_presentation_state(tmp_path, capsys):
    pr = tmp_path / "pr.dcm"
    _files.make_state(header(CT)).save_as(pr, enforce_file_format=True)
    assert main(["export", str(CT), "--pstate", str(pr), "--plane", "axial", "--slice", "1", "-o", str(tmp_path / "x.png")]) == 2
    assert "a reformat (--plane) has no presentation state" in capsys.readouterr().err


@needs_dcmtk
def test_export_through_a_highdicom_state_with_graphics_as_dcmp2pgm(tmp_path):
    """A GSPS written by highdicom (window, a polyline and an ellipse in PIXEL units, a line and a text box in DISPLAY
    units, a text at a PIXEL anchor): grey levels as dcmp2pgm renders them (within 1) wherever nothing is drawn;
    dcmp2pgm draws no graphics, so they are checked against the positions the state gives (PS3.3 C.10.5)."""
    objects = pytest.importorskip("highdicom_objects")
    pr = objects.annotated_state(CT, tmp_path / "pr.dcm")
    out = tmp_path / "out.png"
    assert main(["export", str(CT), "--pstate", str(pr), "-o", str(out)]) == 0
    ours = np.asarray(Image.open(out)).astype(int)
    theirs = _files.dcmp2pgm(CT, pr, tmp_path / "dcmtk.pgm").astype(int)
    assert ours.shape == theirs.shape + (3,)
    drawn = (ours[..., 0] != ours[..., 1]) | (ours[..., 1] != ours[..., 2])  # touched by the layer's red (grey is R = G = B)
    assert np.abs(ours[..., 0][~drawn] - theirs[~drawn]).max() <= 1
    rows, columns = np.nonzero(drawn)
    x, y = columns + 0.5, rows + 0.5
    (ax, ay), (bx, _) = objects.STATE_LINE
    on_line = (np.abs(y - ay) <= 1.5) & (x >= ax - 1.5) & (x <= bx + 1.5)
    on_ellipse = np.abs(np.hypot((x - 64) / 30, (y - 64) / 15) - 1) <= 1.5 / 15
    (dx0, dy), (dx1, _) = objects.STATE_DISPLAY_LINE
    on_display_line = (np.abs(y - dy * 128) <= 1.5) & (x >= dx0 * 128 - 1.5) & (x <= dx1 * 128 + 1.5)
    in_r_box = (x >= 0.05 * 128 - 1) & (x <= 0.3 * 128 + 1) & (y >= 0.05 * 128 - 1) & (y <= 0.3 * 128 + 1)
    near_anchor = (x >= 70 - 1) & (x <= 128) & (y >= 100 - 16) & (y <= 100 + 16)
    assert (on_line | on_ellipse | on_display_line | in_r_box | near_anchor).all()
    # Each is drawn whole: both ends of the lines, the ellipse all round, the two texts.
    assert on_line[x <= ax + 2].any() and on_line[x >= bx - 2].any()
    assert on_display_line[x <= dx0 * 128 + 2].any() and on_display_line[x >= dx1 * 128 - 2].any()
    angles = np.degrees(np.arctan2((y[on_ellipse] - 64) / 15, (x[on_ellipse] - 64) / 30))
    assert len(np.unique((angles // 30).astype(int))) == 12
    assert (in_r_box & ~on_line).sum() > 5 and (near_anchor & ~on_ellipse & ~on_display_line).sum() > 10
