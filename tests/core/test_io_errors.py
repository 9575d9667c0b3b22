"""Files that cannot be shown end in one readable line, never a traceback.

Every :class:`ViewerError` here must be a single line starting with the
file's name, so the GUI can show it in the pane and the CLI can print it.
Broken files are made as copies in ``tmp_path``; the installed sample files
are only read.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import get_decoder
from pydicom.uid import MPEG4HP41, JPEGExtended12Bit

from viewer.core.dicom.io import ViewerError, read_header, read_image_dataset
from viewer.core.display.pixels.decoders import decode_frame
from viewer.core.display.pixels.pipeline import FrameDisplay, Window, frame_context


def open_and_decode(path: Path, index: int = 0) -> np.ndarray:
    """What the viewer does to show a file: read it whole, decode one frame."""
    ds = read_image_dataset(path)
    return decode_frame(ds, index, path)


def one_line_error(error: ViewerError, path: Path) -> str:
    """The error's reason, checked to be one line that starts with the file's name."""
    text = str(error)
    assert "\n" not in text and "\r" not in text, repr(text)
    assert text.startswith(f"{path.name}: "), repr(text)
    assert "Traceback" not in text
    return text[len(path.name) + 2 :]


def truncated_copy(source: Path, size: int, tmp_path: Path) -> Path:
    path = tmp_path / f"cut-{size}-{source.name}"
    path.write_bytes(source.read_bytes()[:size])
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- not DICOM, not there


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Patient called back on Tuesday.\nNothing to report.\n")
    with pytest.raises(ViewerError) as excinfo:
        read_image_dataset(path)
    assert one_line_error(excinfo.value, path) == "not a DICOM file"
    with pytest.raises(ViewerError):
        read_header(path)


def test_missing_file(tmp_path):
    path = tmp_path / "gone.dcm"
    with pytest.raises(ViewerError) as excinfo:
        read_image_dataset(path)
    assert one_line_error(excinfo.value, path) == "no such file"


def test_folder(tmp_path):
    folder = tmp_path / "SERIES1"
    folder.mkdir()
    with pytest.raises(ViewerError) as excinfo:
        read_header(folder)
    assert one_line_error(excinfo.value, folder) == "is a folder, not a file"


# --------------------------------------------------------------------------- cut short


def test_truncated_before_pixel_data(sample, tmp_path):
    """The first 2000 bytes of 693_UNCI.dcm hold Rows and Columns but no Pixel Data."""
    source = sample("693_UNCI.dcm")
    path = truncated_copy(source, 2000, tmp_path)
    header = read_header(path)  # the header alone is still readable
    assert "Rows" in header and "PixelData" not in header
    with pytest.raises(ViewerError) as excinfo:
        open_and_decode(path)
    assert "truncated" in one_line_error(excinfo.value, path)


def test_truncated_inside_pixel_data(sample, tmp_path):
    """300000 of 693_UNCI.dcm's 526324 bytes: the Pixel Data element is cut in half."""
    source = sample("693_UNCI.dcm")
    assert source.stat().st_size > 300000
    path = truncated_copy(source, 300000, tmp_path)
    with pytest.raises(ViewerError) as excinfo:
        open_and_decode(path)
    assert "truncated" in one_line_error(excinfo.value, path)


def test_mr_truncated(sample):
    """pydicom's MR_truncated.dcm: Pixel Data shorter than Rows x Columns x 2 bytes."""
    path = sample("MR_truncated.dcm")
    with pytest.raises(ViewerError) as excinfo:
        open_and_decode(path)
    assert "truncated" in one_line_error(excinfo.value, path)


# --------------------------------------------------------------------------- valid DICOM, nothing to show


def test_rt_plan_has_no_image(sample):
    path = sample("rtplan.dcm")
    assert read_header(path).SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.5"
    with pytest.raises(ViewerError) as excinfo:
        read_image_dataset(path)
    assert one_line_error(excinfo.value, path) == "has no image to show (it is an RT Plan Storage object)"


def test_frame_out_of_range(sample):
    """emri_small.dcm has 10 frames: index 10 (the 11th) does not exist, nor does -1."""
    path = sample("emri_small.dcm")
    ds = read_image_dataset(path)
    assert int(ds.NumberOfFrames) == 10
    assert decode_frame(ds, 9, path).shape == (64, 64)
    for index in (10, -1):
        with pytest.raises(ViewerError) as excinfo:
            decode_frame(ds, index, path)
        assert "does not exist (the image has 10)" in one_line_error(excinfo.value, path)


# --------------------------------------------------------------------------- decoders


def test_jpeg_12_bit(sample):
    """JPEG Extended 12-bit: decoded if a capable plugin is installed, otherwise one line."""
    path = sample("JPEG-lossy.dcm")
    ds = read_image_dataset(path)
    assert ds.file_meta.TransferSyntaxUID == JPEGExtended12Bit
    try:
        frame = decode_frame(ds, 0, path)
    except ViewerError as error:
        reason = one_line_error(error, path)
        if not get_decoder(JPEGExtended12Bit).is_available:
            # No plugin at all: the message names the packages to install.
            assert reason.startswith("no decoder for JPEG Extended")
            assert "install" in reason and "pylibjpeg-libjpeg" in reason
        else:
            # A plugin is installed but refuses this variant (Pillow: no 12-bit JPEG).
            assert "JPEG Extended" in reason or "12-bit" in reason, reason
    else:
        assert frame.shape == (int(ds.Rows), int(ds.Columns))


def test_transfer_syntax_names_video_but_holds_jpeg(sample):
    """MPEG-4 video declared in memory over a JPEG stream: PyAV (#16) finds a JPEG, not H.264, and says so."""
    pytest.importorskip("av")
    path = sample("JPEG-lossy.dcm")  # encapsulated, so the fragments look plausible
    ds = read_image_dataset(path)
    ds.file_meta.TransferSyntaxUID = MPEG4HP41
    with pytest.raises(ViewerError) as excinfo:
        decode_frame(ds, 0, path)
    assert one_line_error(excinfo.value, path) == "its pixel data holds a mjpeg stream, not the MPEG-4 AVC/H.264 its transfer syntax names"


# --------------------------------------------------------------------------- files without a meta header


def dataset_bytes_after_meta(path: Path) -> bytes:
    """PS3.10 7.1: 128-byte preamble, 'DICM', then group 0002 whose length is
    given by (0002,0000), always Explicit VR Little Endian; the dataset follows."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM"
    tag, vr, length = struct.unpack("<4s2sH", data[132:140])
    assert tag == b"\x02\x00\x00\x00" and vr == b"UL" and length == 4
    (group_length,) = struct.unpack("<I", data[140:144])
    return data[144 + group_length :]


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"])
def test_dataset_without_meta_header_opens(sample, tmp_path, name):
    """A bare dataset (no preamble, no group 0002), as old ACR-NEMA style files are."""
    source = sample(name)
    path = tmp_path / "BARE0001"
    path.write_bytes(dataset_bytes_after_meta(source))
    expected = pydicom.dcmread(source).pixel_array
    np.testing.assert_array_equal(open_and_decode(path), expected)


def test_explicit_big_endian_without_meta_header_opens(sample):
    """pydicom's ExplVR_BigEndNoMeta.dcm: a bare big endian RT Ion Plan."""
    path = sample("ExplVR_BigEndNoMeta.dcm")
    header = read_header(path)
    assert header.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.8"  # RT Ion Plan Storage
    assert header.original_encoding == (False, False)  # explicit VR, big endian
    with pytest.raises(ViewerError) as excinfo:
        read_image_dataset(path)
    assert one_line_error(excinfo.value, path).startswith("has no image to show (it is an RT Ion Plan")


def test_no_meta_dcm_with_stray_leading_byte_is_refused_cleanly(sample):
    """pydicom's no_meta.dcm is CT_small.dcm's dataset preceded by one stray byte
    (0x20), so no element starts where one should; dcmtk's dcmdump refuses it
    too. The viewer says so in one line rather than showing garbage."""
    path = sample("no_meta.dcm")
    data = path.read_bytes()
    if data[:1] != b" ":
        pytest.skip("this no_meta.dcm does not start with the stray byte")
    with pytest.raises(ViewerError) as excinfo:
        read_image_dataset(path)
    assert one_line_error(excinfo.value, path) == "not a DICOM file"


# --------------------------------------------------------------------------- read only


def test_source_file_is_never_modified(sample):
    path = sample("693_UNCI.dcm")
    before = sha256(path), path.stat().st_mtime_ns
    header = read_header(path)
    ds = read_image_dataset(path)
    FrameDisplay(decode_frame(ds, 0, path), frame_context(ds, 0)).render(Window(40, 400))
    assert header.Modality == "CT"
    assert (sha256(path), path.stat().st_mtime_ns) == before
