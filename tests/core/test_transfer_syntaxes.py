"""Every transfer syntax the viewer claims, decoded from real files.

Each case is a real file (pydicom's test files, pydicom-data) or one made
here from an uncompressed original with dcmtk, gdcm or OpenJPH. Lossless
syntaxes must give the original's stored values exactly, through
``decode_frame`` and through ``FrameSource.frame(...).stored`` (one frame at a
time, as the viewer reads multi-frame files). Lossy syntaxes are held to an
independent decoder of the same bytes (see the tolerances below) and must
be no further from the original than that decoder is.

Encapsulated video (MPEG-2, MPEG-4 AVC, HEVC) is not decoded: the viewer
says so in one line, which is tested here; playing video is out of scope.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian
from transfer_syntax_files import (
    TOOLS,
    all_frames,
    corrupt_third_frame,
    decoded_frames,
    eight_bit_original,
    htj2k_file,
    native_frames,
    read_pnm,
    require,
    run,
    sample_file,
    store_frames,
)

from viewer.core.dicom.io import ViewerError
from viewer.core.display.frames import FrameSource
from viewer.core.display.pixels import decoders
from viewer.core.display.pixels.decoders import DECODER_PACKAGES, decode_file_frame, decode_frame
from viewer.core.media.model import ImageRef, Instance

# Tolerances for lossy syntaxes, in stored-value units, against an independent decoder of the same bytes:
#: JPEG DCT (ISO/IEC 10918-1): the inverse DCT, chroma upsampling and YCbCr->RGB are
#: implementation-defined in their rounding (10918-2 tests IDCT accuracy, not bit-exactness).
JPEG_DCT_TOLERANCE = 1
#: Subsampled chroma (YBR_FULL_422): 10918-1 leaves the upsampling filter to the decoder.
#: IJG-family decoders (dcmtk, Pillow/libjpeg-turbo, gdcm) agree to 1; allow 2. pylibjpeg-libjpeg
#: upsamples differently (up to 5 off on color3d, 28 at US1's sharp edges): this check flags it
#: should it become the viewer's JPEG baseline decoder. A missing or wrong YBR->RGB conversion
#: is off by tens everywhere and also fails the mean-error check against the original.
JPEG_CHROMA_TOLERANCE = 2
#: JPEG 2000 irreversible (ISO/IEC 15444-1 Annex F, G): the 9/7 wavelet and the ICT are
#: real-valued; decoders round differently by at most one unit.
J2K_IRREVERSIBLE_TOLERANCE = 1
#: How much larger than the reference decoder's own mean error against the original ours may be.
MEAN_ERROR_SLACK = 0.1


@dataclass
class Case:
    """A file in one transfer syntax and what it must decode to."""

    path: Path
    uid: str
    expected: np.ndarray  # (frames, rows, cols[, 3])
    tolerance: int = 0  # largest |decoded - expected|
    original: np.ndarray | None = None  # for lossy cases: the image before compression


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("transfer-syntaxes")


# --------------------------------------------------------------------------- the cases

CASES: dict[str, Callable[[Path], Case]] = {}


def case(name: str):
    def register(make):
        CASES[name] = make
        return make

    return register


def _emri() -> np.ndarray:
    return native_frames(sample_file("emri_small.dcm"))


@functools.cache
def _eight_bit(workdir: Path) -> Path:
    return eight_bit_original(workdir / "emri8.dcm")


def _tool_made(workdir: Path, name: str, tool: str, args: list[str], source: Path) -> Path:
    dst = workdir / f"{name}.dcm"
    if not dst.exists():
        require(tool)
        run(TOOLS[tool], *args, source, dst)
    return dst


def _reference_decoded(workdir: Path, name: str, tool: str, args: list[str], source: Path) -> np.ndarray:
    """`source` decompressed by an independent tool, read by hand."""
    require(tool)
    dst = workdir / f"{name}-reference.dcm"
    if not dst.exists():
        run(TOOLS[tool], *args, source, dst)
    return native_frames(dst)


# Native and deflated ----------------------------------------------------------------------------
@case("implicit VR little endian (MR_small_implicit)")
def _(workdir):
    return Case(sample_file("MR_small_implicit.dcm"), "1.2.840.10008.1.2", native_frames(sample_file("MR_small.dcm")))


@case("explicit VR little endian (emri_small, 10 frames)")
def _(workdir):
    return Case(sample_file("emri_small.dcm"), "1.2.840.10008.1.2.1", _emri())


@case("explicit VR big endian (MR_small_bigendian)")
def _(workdir):
    return Case(sample_file("MR_small_bigendian.dcm"), "1.2.840.10008.1.2.2", native_frames(sample_file("MR_small.dcm")))


@case("explicit VR big endian (emri_small_big_endian, 10 frames)")
def _(workdir):
    return Case(sample_file("emri_small_big_endian.dcm"), "1.2.840.10008.1.2.2", _emri())


@case("deflated (image_dfl)")
def _(workdir):
    # dcmtk's dcmconv inflates it to explicit little endian: the reference.
    source = sample_file("image_dfl.dcm")
    return Case(source, "1.2.840.10008.1.2.1.99", _reference_decoded(workdir, "image_dfl", "dcmconv", ["+te"], source))


@case("deflated (emri_small written by pydicom, 10 frames)")
def _(workdir):
    dst = workdir / "emri_deflated.dcm"
    ds = pydicom.dcmread(sample_file("emri_small.dcm"))
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    ds.save_as(dst, enforce_file_format=True)
    return Case(dst, "1.2.840.10008.1.2.1.99", _emri())


@case("deflated (MR_small by gdcmconv -d)")
def _(workdir):
    return Case(
        _tool_made(workdir, "MR_small_gdcm_deflated", "gdcmconv", ["-d"], sample_file("MR_small.dcm")),
        "1.2.840.10008.1.2.1.99",
        native_frames(sample_file("MR_small.dcm")),
    )


# RLE -------------------------------------------------------------------------------------------
@case("RLE (MR_small_RLE)")
def _(workdir):
    return Case(sample_file("MR_small_RLE.dcm"), "1.2.840.10008.1.2.5", native_frames(sample_file("MR_small.dcm")))


@case("RLE (emri_small_RLE, 10 frames)")
def _(workdir):
    return Case(sample_file("emri_small_RLE.dcm"), "1.2.840.10008.1.2.5", _emri())


@case("RLE (SC_rgb_rle, RGB)")
def _(workdir):
    return Case(sample_file("SC_rgb_rle.dcm"), "1.2.840.10008.1.2.5", native_frames(sample_file("SC_rgb.dcm")))


@case("RLE (US1_UNCR by dcmcrle, RGB)")
def _(workdir):
    return Case(
        _tool_made(workdir, "US1_rle", "dcmcrle", [], sample_file("US1_UNCR.dcm")),
        "1.2.840.10008.1.2.5",
        native_frames(sample_file("US1_UNCR.dcm")),
    )


# JPEG baseline and extended (lossy) ------------------------------------------------------------
def _jpeg_lossy(workdir, name, uid, compressed: Path, original: np.ndarray | None) -> Case:
    reference = _reference_decoded(workdir, name, "dcmdjpeg", [], compressed)
    subsampled = pydicom.dcmread(compressed, stop_before_pixels=True).PhotometricInterpretation == "YBR_FULL_422"
    return Case(compressed, uid, reference, JPEG_CHROMA_TOLERANCE if subsampled else JPEG_DCT_TOLERANCE, original)


@case("JPEG baseline (SC_rgb_dcmtk_+eb+cy+np, YBR_FULL_422)")
def _(workdir):
    return _jpeg_lossy(
        workdir, "SC_rgb_eb", "1.2.840.10008.1.2.4.50", sample_file("SC_rgb_dcmtk_+eb+cy+np.dcm"), native_frames(sample_file("SC_rgb.dcm"))
    )


@case("JPEG baseline (US1_UNCR by dcmcjpeg +eb, YBR_FULL_422)")
def _(workdir):
    made = _tool_made(workdir, "US1_eb", "dcmcjpeg", ["+eb"], sample_file("US1_UNCR.dcm"))
    assert pydicom.dcmread(made, stop_before_pixels=True).PhotometricInterpretation == "YBR_FULL_422"
    return _jpeg_lossy(workdir, "US1_eb", "1.2.840.10008.1.2.4.50", made, native_frames(sample_file("US1_UNCR.dcm")))


@case("JPEG baseline (8-bit emri by dcmcjpeg +eb, 10 frames)")
def _(workdir):
    original = _eight_bit(workdir)
    made = _tool_made(workdir, "emri8_eb", "dcmcjpeg", ["+eb"], original)
    return _jpeg_lossy(workdir, "emri8_eb", "1.2.840.10008.1.2.4.50", made, native_frames(original))


@case("JPEG extended process 2 (8-bit emri by dcmcjpeg +ee, 10 frames)")
def _(workdir):
    original = _eight_bit(workdir)
    made = _tool_made(workdir, "emri8_ee", "dcmcjpeg", ["+ee"], original)
    return _jpeg_lossy(workdir, "emri8_ee", "1.2.840.10008.1.2.4.51", made, native_frames(original))


@case("JPEG extended process 4 (12-bit emri by dcmcjpeg +ee, 10 frames)")
def _(workdir):
    made = _tool_made(workdir, "emri_ee", "dcmcjpeg", ["+ee"], sample_file("emri_small.dcm"))
    assert pydicom.dcmread(made, stop_before_pixels=True).BitsStored == 12
    return _jpeg_lossy(workdir, "emri_ee", "1.2.840.10008.1.2.4.51", made, _emri())


@case("JPEG extended process 4 (JPGExtended, 12-bit)")
def _(workdir):
    return _jpeg_lossy(workdir, "JPGExtended", "1.2.840.10008.1.2.4.51", sample_file("JPGExtended.dcm"), None)


# JPEG lossless ---------------------------------------------------------------------------------
@case("JPEG lossless process 14 (emri by dcmcjpeg +el, selection value 6, 10 frames)")
def _(workdir):
    return Case(_tool_made(workdir, "emri_el", "dcmcjpeg", ["+el"], sample_file("emri_small.dcm")), "1.2.840.10008.1.2.4.57", _emri())


@case("JPEG lossless process 14 (US1_UNCR by dcmcjpeg +el +sv 3, RGB)")
def _(workdir):
    return Case(
        _tool_made(workdir, "US1_el", "dcmcjpeg", ["+el", "+sv", "3"], sample_file("US1_UNCR.dcm")),
        "1.2.840.10008.1.2.4.57",
        native_frames(sample_file("US1_UNCR.dcm")),
    )


@case("JPEG lossless SV1 (emri by dcmcjpeg +e1, 10 frames)")
def _(workdir):
    return Case(_tool_made(workdir, "emri_e1", "dcmcjpeg", ["+e1"], sample_file("emri_small.dcm")), "1.2.840.10008.1.2.4.70", _emri())


@case("JPEG lossless SV1 (SC_rgb_jpeg_gdcm, RGB)")
def _(workdir):
    return Case(sample_file("SC_rgb_jpeg_gdcm.dcm"), "1.2.840.10008.1.2.4.70", native_frames(sample_file("SC_rgb.dcm")))


@case("JPEG lossless SV1 (JPGLosslessP14SV1_1s_1f_8b)")
def _(workdir):
    source = sample_file("JPGLosslessP14SV1_1s_1f_8b.dcm")
    return Case(source, "1.2.840.10008.1.2.4.70", _reference_decoded(workdir, "P14SV1_8b", "dcmdjpeg", [], source))


# JPEG-LS ---------------------------------------------------------------------------------------
@case("JPEG-LS lossless (MR_small_jpeg_ls_lossless)")
def _(workdir):
    return Case(sample_file("MR_small_jpeg_ls_lossless.dcm"), "1.2.840.10008.1.2.4.80", native_frames(sample_file("MR_small.dcm")))


@case("JPEG-LS lossless (emri_small_jpeg_ls_lossless, 10 frames)")
def _(workdir):
    return Case(sample_file("emri_small_jpeg_ls_lossless.dcm"), "1.2.840.10008.1.2.4.80", _emri())


@case("JPEG-LS lossless (US1_UNCR by dcmcjpls, RGB)")
def _(workdir):
    return Case(
        _tool_made(workdir, "US1_jls", "dcmcjpls", [], sample_file("US1_UNCR.dcm")),
        "1.2.840.10008.1.2.4.80",
        native_frames(sample_file("US1_UNCR.dcm")),
    )


@case("JPEG-LS near-lossless NEAR=2 (emri by dcmcjpls +en, 10 frames)")
def _(workdir):
    # ISO/IEC 14495-1: near-lossless coding bounds every sample's error by NEAR.
    made = _tool_made(workdir, "emri_jlsn", "dcmcjpls", ["+en", "+md", "2"], sample_file("emri_small.dcm"))
    return Case(made, "1.2.840.10008.1.2.4.81", _emri(), tolerance=2)


@case("JPEG-LS near-lossless (JPEGLSNearLossless_16)")
def _(workdir):
    # JPEG-LS decoding is integer-exact: dcmtk's decoder must agree to the unit.
    source = sample_file("JPEGLSNearLossless_16.dcm")
    return Case(source, "1.2.840.10008.1.2.4.81", _reference_decoded(workdir, "JLSN16", "dcmdjpls", [], source))


# JPEG 2000 -------------------------------------------------------------------------------------
@case("JPEG 2000 lossless (MR_small_jp2klossless)")
def _(workdir):
    return Case(sample_file("MR_small_jp2klossless.dcm"), "1.2.840.10008.1.2.4.90", native_frames(sample_file("MR_small.dcm")))


@case("JPEG 2000 lossless (emri_small_jpeg_2k_lossless, 10 frames)")
def _(workdir):
    return Case(sample_file("emri_small_jpeg_2k_lossless.dcm"), "1.2.840.10008.1.2.4.90", _emri())


@case("JPEG 2000 lossless (US1_J2KR, YBR_RCT)")
def _(workdir):
    return Case(sample_file("US1_J2KR.dcm"), "1.2.840.10008.1.2.4.90", native_frames(sample_file("US1_UNCR.dcm")))


@case("JPEG 2000 lossless (emri by gdcmconv -K, 10 frames)")
def _(workdir):
    return Case(_tool_made(workdir, "emri_j2k", "gdcmconv", ["-K"], sample_file("emri_small.dcm")), "1.2.840.10008.1.2.4.90", _emri())


@case("JPEG 2000 lossy (US1_J2KI, YBR_ICT)")
def _(workdir):
    # US1_UNCI is the WG4 reference decompression of US1_J2KI.
    return Case(
        sample_file("US1_J2KI.dcm"), "1.2.840.10008.1.2.4.91", native_frames(sample_file("US1_UNCI.dcm")), J2K_IRREVERSIBLE_TOLERANCE
    )


@case("JPEG 2000 lossy (693_J2KI, 14-bit)")
def _(workdir):
    return Case(
        sample_file("693_J2KI.dcm"), "1.2.840.10008.1.2.4.91", native_frames(sample_file("693_UNCI.dcm")), J2K_IRREVERSIBLE_TOLERANCE
    )


@case("JPEG 2000 lossy (emri by gdcmconv -K -Y, 10 frames)")
def _(workdir):
    made = _tool_made(workdir, "emri_j2ki", "gdcmconv", ["-K", "-Y"], sample_file("emri_small.dcm"))
    reference = _reference_decoded(workdir, "emri_j2ki", "gdcmconv", ["--raw"], made)
    return Case(made, "1.2.840.10008.1.2.4.91", reference, J2K_IRREVERSIBLE_TOLERANCE, _emri())


# HTJ2K (no real files: pydicom-data has none; made with OpenJPH) -------------------------------
def _htj2k(workdir, name, uid, original: Path, options, photometric=None, lossy=False) -> Case:
    require("ojph_compress")
    dst = workdir / f"{name}.dcm"
    made, streams = htj2k_file(original, dst, uid, options, photometric)
    before = native_frames(original)
    if not lossy:
        return Case(made, uid, before)
    require("ojph_expand")
    decoded = []
    for stream in streams:
        out = stream.with_suffix(".ppm" if before.ndim == 4 else ".pgm")
        run(TOOLS["ojph_expand"], "-i", stream, "-o", out)
        decoded.append(read_pnm(out))
    return Case(made, uid, np.stack(decoded), J2K_IRREVERSIBLE_TOLERANCE, before)


@case("HTJ2K lossless .201 (emri, LRCP, 10 frames)")
def _(workdir):
    return _htj2k(
        workdir, "emri_ht201", "1.2.840.10008.1.2.4.201", sample_file("emri_small.dcm"), ["-reversible", "true", "-prog_order", "LRCP"]
    )


@case("HTJ2K lossless RPCL .202 (emri, 10 frames)")
def _(workdir):
    return _htj2k(
        workdir, "emri_ht202", "1.2.840.10008.1.2.4.202", sample_file("emri_small.dcm"), ["-reversible", "true", "-prog_order", "RPCL"]
    )


@case("HTJ2K .203 lossy (emri, 10 frames)")
def _(workdir):
    return _htj2k(
        workdir,
        "emri_ht203",
        "1.2.840.10008.1.2.4.203",
        sample_file("emri_small.dcm"),
        ["-reversible", "false", "-qstep", "0.002"],
        lossy=True,
    )


@case("HTJ2K lossless .201 (US1_UNCR, YBR_RCT)")
def _(workdir):
    return _htj2k(
        workdir,
        "US1_ht201",
        "1.2.840.10008.1.2.4.201",
        sample_file("US1_UNCR.dcm"),
        ["-reversible", "true", "-colour_trans", "true"],
        "YBR_RCT",
    )


@case("HTJ2K .203 lossy (US1_UNCR, YBR_ICT)")
def _(workdir):
    return _htj2k(
        workdir,
        "US1_ht203",
        "1.2.840.10008.1.2.4.203",
        sample_file("US1_UNCR.dcm"),
        ["-reversible", "false", "-colour_trans", "true", "-qstep", "0.004"],
        "YBR_ICT",
        lossy=True,
    )


# --------------------------------------------------------------------------- the tests


def _largest_difference(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape, f"shape {a.shape} != expected {b.shape}"
    return int(np.abs(a.astype(np.int64) - b.astype(np.int64)).max())


@pytest.mark.parametrize("name", list(CASES))
def test_transfer_syntax_decodes_to_the_original(name, workdir):
    made = CASES[name](workdir)
    assert str(pydicom.dcmread(made.path, stop_before_pixels=True).file_meta.TransferSyntaxUID) == made.uid
    for how, decoded in (("decode_frame", decoded_frames(made.path)), ("FrameSource", store_frames(made.path))):
        difference = _largest_difference(decoded, made.expected)
        assert difference <= made.tolerance, f"{how}: largest difference {difference} > {made.tolerance}"
    if made.original is not None:
        # No further from the image before compression than the independent decoder is.
        ours = np.abs(decoded.astype(np.int64) - made.original).mean()
        theirs = np.abs(made.expected.astype(np.int64) - made.original).mean()
        assert ours <= theirs + MEAN_ERROR_SLACK, f"mean error {ours:.3f} against the original, reference decoder {theirs:.3f}"


def test_twelve_bit_jpeg_with_invalid_scan_header_fails_in_one_line(workdir):
    """JPEG-lossy.dcm has an invalid SOS for a sequential process (dcmdjpeg warns, decodes anyway).

    The installed plugins refuse it (libjpeg: error -1038; gdcm's plugin is
    limited to 8 bits); then the viewer must say so in one line. If a plugin
    learns to read it, it must agree with dcmtk.
    """
    source = sample_file("JPEG-lossy.dcm")
    try:
        decoded = decode_frame(pydicom.dcmread(source), 0, source)
    except ViewerError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("JPEG-lossy.dcm: ") and "cannot be decoded" in str(exc)
    else:
        reference = _reference_decoded(workdir, "JPEG-lossy", "dcmdjpeg", [], source)[0]
        assert _largest_difference(decoded, reference) <= JPEG_DCT_TOLERANCE


# --------------------------------------------------------------------------- multi-frame


@pytest.fixture(scope="session")
def color3d():
    path = sample_file("color3d_jpeg_baseline.dcm")
    return path, all_frames(path)


MULTI_FRAME = ["emri_small_RLE.dcm", "emri_small_jpeg_ls_lossless.dcm", "emri_small_jpeg_2k_lossless.dcm"]


@pytest.mark.parametrize("name", MULTI_FRAME)
def test_frames_one_at_a_time_equal_the_whole_file(name):
    path = sample_file(name)
    whole = all_frames(path)
    assert whole.shape[0] == 10
    np.testing.assert_array_equal(store_frames(path), whole)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    for index in (0, 4, 9):
        np.testing.assert_array_equal(decode_file_frame(path, header, index), whole[index])


def test_dcmcjpeg_multi_frame_one_at_a_time_equals_the_whole_file(workdir):
    path = _tool_made(workdir, "emri_e1", "dcmcjpeg", ["+e1"], sample_file("emri_small.dcm"))
    np.testing.assert_array_equal(store_frames(path), all_frames(path))


def test_color3d_frames_1_60_120_equal_the_whole_file(color3d, workdir):
    path, whole = color3d
    assert whole.shape == (120, 480, 640, 3)
    frames = [0, 59, 119]
    by_frame = store_frames(path, frames)
    # Exact: reading one frame must not change which decoder (and so which pixels) the user gets.
    np.testing.assert_array_equal(by_frame, whole[frames])
    # And dcmtk, decoding YBR_FULL_422 to RGB with libijg, agrees.
    assert pydicom.dcmread(path, stop_before_pixels=True).PhotometricInterpretation == "YBR_FULL_422"
    reference = _reference_decoded(workdir, "color3d", "dcmdjpeg", [], path)
    assert _largest_difference(by_frame, reference[frames]) <= JPEG_CHROMA_TOLERANCE


# --------------------------------------------------------------------------- what cannot be decoded


def _with_syntax(src: Path, dst: Path, uid: str) -> Path:
    """`src` (encapsulated) relabelled with transfer syntax `uid`, even one pydicom cannot write."""
    ds = pydicom.dcmread(src)
    placeholder = "1.2.840.10008.1.2.4.102"
    ds.file_meta.TransferSyntaxUID = UID(placeholder)
    ds.save_as(dst, enforce_file_format=True)
    if uid != placeholder:
        assert len(uid) == len(placeholder)
        dst.write_bytes(dst.read_bytes().replace(placeholder.encode(), uid.encode(), 1))
    return dst


VIDEO = {
    "1.2.840.10008.1.2.4.100": "MPEG-2",
    "1.2.840.10008.1.2.4.102": "MPEG-4",
    "1.2.840.10008.1.2.4.107": "HEVC",
}


@pytest.mark.parametrize("uid", list(VIDEO))
@pytest.mark.parametrize("source", ["MR_small_RLE.dcm", "emri_small_RLE.dcm"])
def test_rle_labelled_as_video_fails_in_one_line(uid, source, tmp_path):
    """RLE segments under a video syntax: PyAV (#16: video plays) finds no such video stream in them, in one line."""
    path = _with_syntax(sample_file(source), tmp_path / "video.dcm", uid)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    frames = decoders.number_of_frames(header)
    for attempt in (
        lambda: decode_frame(pydicom.dcmread(path), 0, path),
        lambda: FrameSource().frame(ImageRef(Instance(path, header, frames), frames - 1)),
    ):
        with pytest.raises(ViewerError) as caught:
            attempt()
        message = str(caught.value)
        assert "\n" not in message and message.startswith("video.dcm: ")
        assert f"its pixel data is not a {VIDEO[uid]}" in message and "stream FFmpeg can read" in message, message


@pytest.mark.parametrize("uid", ["1.2.840.10008.1.2.4.110", "1.2.840.10008.1.2.4.112"])
def test_jpeg_xl_is_not_called_video_and_fails_in_one_line(uid, tmp_path):
    """JPEG XL (PS3.5 A.4.13, 2024) is unknown to this pydicom and has no installed decoder."""
    path = _with_syntax(sample_file("emri_small_RLE.dcm"), tmp_path / "jxl.dcm", uid)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    with pytest.raises(ViewerError) as caught:
        FrameSource().frame(ImageRef(Instance(path, header, 10), 1))
    assert "video" not in str(caught.value) and uid in str(caught.value)
    with pytest.raises(ViewerError):
        decode_frame(pydicom.dcmread(path), 0, path)


class _Unavailable:
    is_available = False
    available_plugins = ()


@pytest.mark.parametrize("uid", sorted(DECODER_PACKAGES))
def test_missing_decoder_names_the_packages(uid, monkeypatch, tmp_path):
    monkeypatch.setattr(decoders, "get_decoder", lambda _uid: _Unavailable())
    path = _with_syntax(sample_file("MR_small_RLE.dcm"), tmp_path / "missing.dcm", "1.2.840.10008.1.2.4.102")
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = UID(uid)
    with pytest.raises(ViewerError) as caught:
        decode_frame(ds, 0, path)
    message = str(caught.value)
    assert "\n" not in message and "install" in message
    for package in DECODER_PACKAGES[uid]:
        assert package in message
    header = pydicom.dcmread(path, stop_before_pixels=True)
    header.file_meta.TransferSyntaxUID = UID(uid)
    with pytest.raises(ViewerError) as caught:
        decode_file_frame(path, header, 0)
    assert all(package in str(caught.value) for package in DECODER_PACKAGES[uid])


# --------------------------------------------------------------------------- a corrupt frame


@pytest.fixture(scope="session")
def corrupt_file(tmp_path_factory) -> Path:
    return corrupt_third_frame(tmp_path_factory.mktemp("corrupt") / "corrupt_frame3.dcm")


def test_corrupt_third_frame_fails_alone_in_one_line(corrupt_file):
    original = _emri()
    header = pydicom.dcmread(corrupt_file, stop_before_pixels=True)
    instance = Instance(corrupt_file, header, 10)
    store = FrameSource()
    for index in range(10):
        ref = ImageRef(instance, index)
        if index == 2:
            with pytest.raises(ViewerError) as caught:
                store.frame(ref)
            message = str(caught.value)
            assert "\n" not in message and "Traceback" not in message
            assert message.startswith("corrupt_frame3.dcm: frame 3: ")
        else:
            np.testing.assert_array_equal(store.frame(ref).stored, original[index])


def test_rle_decoder_panic_is_caught(corrupt_file):
    """pylibjpeg-rle signals this corruption with a Rust panic, a BaseException."""
    rle = pytest.importorskip("rle.rle")
    frame = _third_frame_bytes(corrupt_file)
    with pytest.raises(BaseException) as caught:
        rle.decode_frame(frame, 64 * 64, 16, "<")
    assert not isinstance(caught.value, Exception), "pylibjpeg-rle now raises an ordinary exception"
    assert type(caught.value).__name__ == "PanicException"
    # ...which decode_file_frame and decode_frame turn into a ViewerError.
    with pytest.raises(ViewerError):
        decode_file_frame(corrupt_file, pydicom.dcmread(corrupt_file, stop_before_pixels=True), 2)
    with pytest.raises(ViewerError):
        decode_frame(pydicom.dcmread(corrupt_file), 2, corrupt_file)


def _third_frame_bytes(path: Path) -> bytes:
    from pydicom.encaps import generate_fragmented_frames

    ds = pydicom.dcmread(path)
    return b"".join(list(generate_fragmented_frames(ds.PixelData, number_of_frames=10))[2])


def test_corrupt_jpeg_ls_frame_fails_alone(workdir, tmp_path):
    """The same with JPEG-LS from dcmcjpls: frame 3's scan bytes overwritten (markers and lengths kept)."""
    from pydicom.encaps import encapsulate, generate_fragmented_frames

    made = _tool_made(workdir, "emri_jls", "dcmcjpls", [], sample_file("emri_small.dcm"))
    ds = pydicom.dcmread(made)
    frames = [b"".join(f) for f in generate_fragmented_frames(ds.PixelData, number_of_frames=10)]
    # Keep SOI and the headers up to the scan; fill the rest with 0xFF (a run of fill bytes, no EOI).
    scan = frames[2].index(b"\xff\xda")
    frames[2] = frames[2][: scan + 2] + b"\xff" * (len(frames[2]) - scan - 2)
    ds.PixelData = encapsulate(frames, has_bot=True)
    path = tmp_path / "corrupt_jls.dcm"
    ds.save_as(path, enforce_file_format=True)
    decoded = [None] * 10
    header = pydicom.dcmread(path, stop_before_pixels=True)
    store = FrameSource()
    for index in range(10):
        try:
            decoded[index] = store.frame(ImageRef(Instance(path, header, 10), index)).stored
        except ViewerError as exc:
            assert index == 2 and "\n" not in str(exc) and "frame 3" in str(exc)
    assert decoded[2] is None
    np.testing.assert_array_equal(np.stack([d for i, d in enumerate(decoded) if i != 2]), np.delete(_emri(), 2, axis=0))
