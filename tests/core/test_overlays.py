"""Overlay planes (60xx) against dcmtk's dcmj2pnm, overlays on, and pydicom's ``overlay_array``.

Where dcmtk puts an overlay pixel is read from its rendering with a window
that keeps every image pixel below 255 (``+Ww C W`` with C the largest stored
value and W twice the range): dcmtk draws graphics in "Replace" mode at full
foreground density (255), so the overlay is exactly where its output is 255.
For regions of interest (Overlay Type R) dcmtk darkens the outside instead;
``+Omr`` asks it to draw them in Replace mode too, which shows where it puts
their bits. The window, frame and mode are dcmj2pnm's options; the expected
bits never come from the code under test.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.core.conftest import sample_path
from tests.core.overlay_files import add_legacy_plane, add_plane, image, random_bits, save
from viewer.cli import main
from viewer.core.display.frames import FrameSource
from viewer.core.display.overlays import (
    OVERLAY_RGB,
    ROI_OPACITY,
    OverlayPlane,
    draw_overlay,
    image_frame_overlay,
    overlay_planes,
    place,
    unpack_plane,
)
from viewer.core.media.model import ImageRef, Instance

pytestmark = pytest.mark.dcmtk


def dcmtk_overlay_mask(tmp_path: Path, path: Path, frame: int = 1, *options: str) -> np.ndarray:
    """Where dcmj2pnm draws overlay pixels on frame `frame` (from 1), see the module's docstring."""
    if shutil.which("dcmj2pnm") is None:
        pytest.skip("dcmtk's dcmj2pnm is not installed")
    values = pydicom.dcmread(path).pixel_array
    lo, hi = int(values.min()), int(values.max())
    out = tmp_path / f"dcmtk-{path.stem}-{frame}.png"
    command = ["dcmj2pnm", "+on", "+F", str(frame), "+Ww", str(hi), str(2 * (hi - lo) + 2), *options, str(path), str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return np.asarray(Image.open(out)) == 255


def overlay_of(path: Path, frame: int = 0):
    header = pydicom.dcmread(path, stop_before_pixels=True)
    return image_frame_overlay(header, frame, (int(header.Rows), int(header.Columns)), path)


def real_overlay_files() -> list[Path]:
    paths = [sample_path("examples_overlay.dcm")]
    siemens = pydicom.data.get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    if siemens is not None:  # pydicom-data
        paths.append(Path(siemens))
    return paths


@pytest.mark.parametrize("path", real_overlay_files(), ids=lambda p: p.name)
def test_real_overlays_are_where_dcmtk_draws_them(tmp_path, path):
    overlay = overlay_of(path)
    assert overlay.roi is None and not overlay.notes
    expected = dcmtk_overlay_mask(tmp_path, path)
    assert expected.any()
    assert np.array_equal(overlay.graphics, expected)
    # pydicom's reading of the same plane agrees (its origin is 1\1 in both files).
    assert np.array_equal(overlay.graphics, pydicom.dcmread(path).overlay_array(0x6000).astype(bool))


@pytest.mark.parametrize("path", real_overlay_files(), ids=lambda p: p.name)
def test_export_draws_overlays_in_the_overlay_colour_unless_told_not_to(tmp_path, path):
    with_overlays, without = tmp_path / "with.png", tmp_path / "without.png"
    assert main(["export", str(path), "-o", str(with_overlays)]) == 0
    assert main(["export", str(path), "-o", str(without), "--no-overlays"]) == 0
    drawn, plain = np.asarray(Image.open(with_overlays)), np.asarray(Image.open(without))
    assert plain.ndim == 2 and drawn.shape == (*plain.shape, 3)
    mask = dcmtk_overlay_mask(tmp_path, path)
    assert (drawn[mask] == OVERLAY_RGB).all()
    assert (drawn[~mask] == plain[~mask][:, None]).all()  # the rest is the grey image, untouched


def multi_frame_file(tmp_path: Path) -> tuple[Path, np.ndarray, np.ndarray]:
    """Four frames; plane 6000: two frames of 41 x 50 (not a whole number of bytes each) from frame 2,
    at origin (5, -3); plane 6002: one 30 x 20 frame, no frame attributes, hanging off the bottom right."""
    rng = np.random.default_rng(5)
    ds, _ = image(frames=4)
    moving = random_bits(rng, (2, 41, 50))
    add_plane(ds, 0x6000, moving, origin=(5, -3), frame_origin=2)
    still = random_bits(rng, (30, 20))
    add_plane(ds, 0x6002, still, origin=(40, 55))
    return save(ds, tmp_path / "multi.dcm"), moving, still


@pytest.mark.parametrize("frame", [1, 2, 3, 4])
def test_multi_frame_overlays_follow_the_frame_origin_as_dcmtk_does(tmp_path, frame):
    path, moving, still = multi_frame_file(tmp_path)
    overlay = overlay_of(path, frame - 1)
    assert np.array_equal(overlay.graphics, dcmtk_overlay_mask(tmp_path, path, frame))
    # Built by hand from the bits written: the moving plane on frames 2 and 3 only; the still one on all.
    expected = np.zeros((48, 64), dtype=bool)
    if frame in (2, 3):
        expected[4:45, 0:46] |= moving[frame - 2][:, 4:]  # origin column -3: overlay column 4 on image column 0
    expected[39:48, 54:64] |= still[:9, :10]
    assert np.array_equal(overlay.graphics, expected)


def test_multi_frame_overlay_data_unpacks_as_pydicom_reads_it(tmp_path):
    path, moving, _ = multi_frame_file(tmp_path)
    reference = pydicom.dcmread(path).overlay_array(0x6000)
    plane = next(p for p in overlay_planes(pydicom.dcmread(path, stop_before_pixels=True)).planes if p.group == 0x6000)
    for k in range(2):
        assert np.array_equal(unpack_plane(plane, k), reference[k].astype(bool))
        assert np.array_equal(unpack_plane(plane, k), moving[k])


def test_an_overlay_is_cut_where_it_leaves_the_image():
    bits = np.ones((3, 3), dtype=bool)
    assert place(bits, (-5, -5), (4, 4)).sum() == 0
    assert np.argwhere(place(bits, (4, 4), (4, 4))).tolist() == [[3, 3]]
    assert place(bits, (0, 2), (4, 4)).sum() == 6  # row 0 of the overlay is above the image


def legacy_file(tmp_path: Path, signed: bool = False) -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(9)
    ds, values = image()
    if signed:
        ds.PixelRepresentation = 1
        values = values.astype(np.int16) - 2048  # -2048..2047 in 12 bits, two's complement in 16
        ds.PixelData = (values.astype(np.int16).view(np.uint16) & 0x0FFF).astype("<u2").tobytes()
        ds.WindowCenter, ds.WindowWidth = 0, 4096
    bits = random_bits(rng, (48, 64))
    add_legacy_plane(ds, 0x6000, 13, bits)
    return save(ds, tmp_path / ("legacy-signed.dcm" if signed else "legacy.dcm")), values[0] if values.ndim == 3 else values, bits


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_a_legacy_overlay_in_high_bits_is_drawn_and_kept_out_of_the_grey_levels(tmp_path, signed):
    path, values, bits = legacy_file(tmp_path, signed)
    overlay = overlay_of(path)
    assert not overlay.notes
    assert np.array_equal(overlay.graphics, bits)
    if not signed:
        assert np.array_equal(overlay.graphics, dcmtk_overlay_mask(tmp_path, path))
    # The grey levels: the stored values without the overlay bit, as the viewer decodes them.
    header = pydicom.dcmread(path, stop_before_pixels=True)
    frame = FrameSource().frame(ImageRef(Instance(path, header)))
    assert np.array_equal(frame.stored, values.reshape(48, 64))


def test_a_legacy_overlay_exports_over_dcmtks_grey_levels(tmp_path):
    path, _, bits = legacy_file(tmp_path)
    out = tmp_path / "legacy.png"
    assert main(["export", str(path), "-o", str(out)]) == 0
    drawn = np.asarray(Image.open(out)).astype(int)
    reference = tmp_path / "dcmtk.png"
    subprocess.run(["dcmj2pnm", "+on", "-O", "+Wi", "1", str(path), str(reference)], check=True, capture_output=True, timeout=60)
    grey = np.asarray(Image.open(reference)).astype(int)
    assert (drawn[bits] == OVERLAY_RGB).all()
    assert np.abs(drawn[~bits] - grey[~bits][:, None]).max() <= 1


def test_a_region_of_interest_is_tinted_where_dcmtk_puts_it(tmp_path):
    source = sample_path("examples_overlay.dcm")
    ds = pydicom.dcmread(source)
    ds[0x6000, 0x0040].value = "R"
    path = tmp_path / "roi.dcm"
    ds.save_as(path)
    overlay = overlay_of(path)
    assert overlay.graphics is None
    assert np.array_equal(overlay.roi, dcmtk_overlay_mask(tmp_path, path, 1, "+Omr"))
    display = np.full(overlay.roi.shape, 100, dtype=np.uint8)
    drawn = draw_overlay(display, overlay)
    tinted = np.rint(100 * (1 - ROI_OPACITY) + np.array(OVERLAY_RGB) * ROI_OPACITY)
    assert (drawn[overlay.roi] == tinted).all() and (drawn[~overlay.roi] == 100).all()


# --------------------------------------------------------------------------- damaged planes


def damaged_file(tmp_path: Path, damage: str) -> Path:
    rng = np.random.default_rng(3)
    ds, _ = image()
    bits = random_bits(rng, (48, 64))
    if damage == "short":
        add_plane(ds, 0x6000, bits, data=b"\xff" * 10)
    elif damage == "rows":
        add_plane(ds, 0x6000, bits)
        ds[0x6000, 0x0010].value = 480  # ten times the rows the data holds
    elif damage == "no rows":
        add_plane(ds, 0x6000, bits)
        ds[0x6000, 0x0010].value = 0
    elif damage == "legacy size":
        add_legacy_plane(ds, 0x6000, 13, bits)
        ds[0x6000, 0x0011].value = 60
    elif damage == "legacy bit in image":
        add_legacy_plane(ds, 0x6000, 13, bits)
        ds[0x6000, 0x0102].value = 5
    elif damage == "rows of 3 bytes":
        add_plane(ds, 0x6000, bits)
        del ds[0x6000, 0x0010]
        path = save(ds, tmp_path / "three.dcm")
        # (6000,0010) US written by hand with a length of 3, just before (6000,0011).
        data = path.read_bytes()
        at = data.index(b"\x00\x60\x11\x00US")
        path.write_bytes(data[:at] + b"\x00\x60\x10\x00US\x03\x00\x30\x00\x00" + data[at:])
        return path
    return save(ds, tmp_path / f"{damage.replace(' ', '-')}.dcm")


DAMAGES = ["short", "rows", "no rows", "legacy size", "legacy bit in image", "rows of 3 bytes"]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_plane_is_left_out_with_a_note(tmp_path, damage):
    overlay = overlay_of(damaged_file(tmp_path, damage))
    assert overlay.empty
    assert len(overlay.notes) == 1 and overlay.note().startswith("overlay 6000") and " not drawn: " in overlay.note(), overlay.notes


@pytest.mark.parametrize("damage", DAMAGES)
def test_export_of_a_damaged_plane_writes_the_image_and_one_line(tmp_path, damage):
    path = damaged_file(tmp_path, damage)
    out = tmp_path / "out.png"
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "export", str(path), "-o", str(out)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and "dicom-viewer: note: overlay 6000" in result.stderr
    assert np.asarray(Image.open(out)).shape == (48, 64)  # grey: nothing drawn


def test_a_plane_without_frame_attributes_is_on_every_frame_and_one_with_an_origin_on_its_frames():
    plane = OverlayPlane(0x6000, 2, 2, data=b"\x0f", every_frame=True)
    assert [plane.overlay_frame(f) for f in range(3)] == [0, 0, 0]
    plane = OverlayPlane(0x6000, 2, 2, data=b"\x0f", frame_origin=3, frames=2)
    assert [plane.overlay_frame(f) for f in range(5)] == [None, None, 0, 1, None]
