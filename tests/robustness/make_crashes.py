"""Rebuild tests/robustness/crashes/ from pydicom's test files.

Each file is the smallest form found of one crash the fuzzer
(tests/robustness/fuzz.py) produced: one or two changes to a small real file.
Every one ended in an exception other than ViewerError, or killed the
process, before the fix named in CRASHES; test_cases.py checks that each
now ends in success or ViewerError. Run from the repository root::

    .venv/bin/python -m tests.robustness.make_crashes
"""

from __future__ import annotations

import io
import struct
import sys
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

HERE = Path(__file__).parent / "crashes"


def _seed(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def _element(data: bytes, tag: int, little: bool = True, start: int = 132) -> int:
    """Offset of the first element header with `tag` (explicit VR) from `start`."""
    needle = struct.pack("<HH" if little else ">HH", tag >> 16, tag & 0xFFFF)
    return data.index(needle, start)


def _insert(data: bytes, tag: int, vr: bytes, value: bytes) -> bytes:
    """`data` (explicit VR little endian) with a new top-level element, in tag order."""
    from fuzz import walk

    at = next(e.offset for e in walk(data).elements if not e.in_meta and e.tag > tag)
    header = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr + struct.pack("<H", len(value))
    return data[:at] + header + value + data[at:]


def _write(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=False)
    return out.getvalue()


def deflate_corrupt_stream() -> bytes:
    """image_dfl.dcm with bytes of its deflate stream changed: zlib.error from every reader."""
    data = bytearray(_seed("image_dfl.dcm"))
    group_length = struct.unpack_from("<L", data, 140)[0]
    start = 144 + group_length
    data[start + 10 : start + 14] = b"\xff\xff\xff\xff"
    return bytes(data)


def stray_item_tag() -> bytes:
    """MR_small.dcm with a stray (FFFE,E000) item tag of length 0 at the top level:
    the inspector's dump raised NotImplementedError (VR 'NONE')."""
    data = _seed("MR_small.dcm")
    at = _element(data, 0x00280030)  # before Pixel Spacing
    return data[:at] + b"\xfe\xff\x00\xe0\x00\x00\x00\x00" + data[at:]


def voi_lut_256_bits() -> bytes:
    """MR_small.dcm with a VOI LUT whose descriptor says 256 bits per entry: render raised NotImplementedError."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    item = Dataset()
    item.LUTDescriptor = [4, 0, 256]
    item.add(DataElement(0x00283006, "US", [0, 1, 2, 3]))
    ds.VOILUTSequence = [item]
    return _write(ds)


def huge_length() -> bytes:
    """MR_small.dcm whose (0008,0005)-free header has an OB element claiming 0xFFFFFFF0 bytes:
    the indexing walker asked f.read() for 4 GB (MemoryError under a 2 GB cap)."""
    data = bytearray(_seed("MR_small.dcm"))
    at = _element(bytes(data), 0x00080008)  # Image Type, the first element after the meta group
    # Turn it into an OB element (12-byte header) claiming 4 GB: same bytes otherwise.
    data[at + 4 : at + 8] = b"OB\x00\x00"
    data[at + 8 : at + 8] = struct.pack("<L", 0xFFFFFFF0)
    return bytes(data)


def unknown_vr_rows() -> bytes:
    """MR_small.dcm with Rows' VR code damaged to b'U\\x80': NotImplementedError while sizing the frame."""
    data = bytearray(_seed("MR_small.dcm"))
    at = _element(bytes(data), 0x00280010)
    data[at + 5] = 0x80
    return bytes(data)


def meta_unknown_vr() -> bytes:
    """MR_small.dcm with the Transfer Syntax UID's VR changed to 'ZZ': NotImplementedError in the header walkers."""
    data = bytearray(_seed("MR_small.dcm"))
    at = _element(bytes(data), 0x00020010)
    data[at + 4 : at + 6] = b"ZZ"
    return bytes(data)


def number_of_frames_inf() -> bytes:
    """MR_small.dcm with Number of Frames 'inf': OverflowError in number_of_frames."""
    return _insert(_seed("MR_small.dcm"), 0x00280008, b"IS", b"inf ")


def dicomdir_offset_cut_short() -> bytes:
    """DICOMDIR cut two bytes into a record's Offset of the Next Directory Record: struct.error."""
    data = _seed("DICOMDIR")
    at = _element(data, 0x00041400, start=400)  # the first record's, not the root offsets
    return data[: at + 8 + 2]


def charset_numeric_vr() -> bytes:
    """MR_small.dcm with (0008,0005) Specific Character Set of VR US: TypeError in the inspector."""
    return _insert(_seed("MR_small.dcm"), 0x00080005, b"US", struct.pack("<H", 100))


def sequence_of_text() -> bytes:
    """DICOMDIR-implicit with (0008,0005) claiming 2 GB: pydicom reads the rest as a sequence
    whose values are not items; to_json_model raised TypeError."""
    data = bytearray(_seed("DICOMDIR-implicit"))
    meta_end = 144 + struct.unpack_from("<L", data, 140)[0]
    at = _element(bytes(data), 0x00080005, start=meta_end)
    struct.pack_into("<L", data, at + 4, 0x80000000)
    return bytes(data)


def at_value_nested() -> bytes:
    """MR_small_jpeg_ls_lossless.dcm with (0028,0107)'s VR changed to AT (then (0028,0011) set to 12):
    to_json_model raised TypeError on a nested AT value."""
    data = bytearray(_seed("MR_small_jpeg_ls_lossless.dcm"))
    at = _element(bytes(data), 0x00280107)
    data[at + 4 : at + 6] = b"AT"
    at = _element(bytes(data), 0x00280011)
    data[at + 8 : at + 10] = struct.pack("<H", 12)
    return bytes(data)


def charset_embedded_null() -> bytes:
    """MR_small.dcm without Rows and Columns, with (0008,0005) 'ISO_IR\\x00100': the scan's
    image-class test and open's message raised ValueError (embedded null character)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del ds.Rows, ds.Columns, ds.PixelData
    return _insert(_write(ds), 0x00080005, b"CS", b"ISO_IR\x00100")


def meta_sop_class_vr_sl() -> bytes:
    """MR_small.dcm with (0002,0002)'s VR changed to SL: BytesLengthException when opening the file."""
    data = bytearray(_seed("MR_small.dcm"))
    at = _element(bytes(data), 0x00020002)
    data[at + 4 : at + 6] = b"SL"
    return bytes(data)


def palette_33_bits() -> bytes:
    """OBXXXX1A_rle.dcm (palette colour) with the red descriptor's bits set to 33: TypeError in apply_color_lut."""
    data = bytearray(_seed("OBXXXX1A_rle.dcm"))
    at = _element(bytes(data), 0x00281101)
    struct.pack_into("<H", data, at + 8 + 4, 33)
    return bytes(data)


def j2k_photometric_mismatch() -> bytes:
    """MR_small_jp2klossless.dcm (one component) labelled YBR_FULL_422: gdcm aborted the process (SIGABRT)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small_jp2klossless.dcm"))
    ds.PhotometricInterpretation = "YBR_FULL_422"
    return _write(ds)


def jpeg_baseline_bytes_missing() -> bytes:
    """SC_rgb_small_odd_jpeg.dcm with 3 bytes of its JPEG stream deleted: gdcm aborted the process (SIGABRT)."""
    data = _seed("SC_rgb_small_odd_jpeg.dcm")
    return data[:1725] + data[1728:]


def jpeg_lossless_not_jpeg() -> bytes:
    """rtdose_rle.dcm (RLE, 15 frames) relabelled JPEG Lossless: gdcm aborted the process (SIGABRT)."""
    ds = pydicom.dcmread(get_testdata_file("rtdose_rle.dcm"))
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.57"
    return _write(ds)


def functional_groups_not_sequence() -> bytes:
    """emri_small_jpeg_2k_lossless.dcm (10 frames) with a Shared Functional Groups 'sequence'
    of VR LO: AttributeError in frame_context."""
    return _insert(_seed("emri_small_jpeg_2k_lossless.dcm"), 0x52009229, b"LO", b"abc ")


def zero_columns() -> bytes:
    """CT_small.dcm (no window of its own) with Columns 0: an empty frame read natively,
    then ValueError (zero-size minimum) for the automatic window."""
    data = bytearray(_seed("CT_small.dcm"))
    at = _element(bytes(data), 0x00280011)
    data[at + 8 : at + 10] = b"\x00\x00"
    return bytes(data)


def bits_allocated_three_bytes() -> bytes:
    """MR_small.dcm whose Bits Allocated (US) value is 3 bytes long: BytesLengthException in the native reader."""
    data = bytearray(_seed("MR_small.dcm"))
    at = _element(bytes(data), 0x00280100)
    data[at + 6 : at + 8] = struct.pack("<H", 3)
    data[at + 8 : at + 10] = b"\x10\x00\x00"
    return bytes(data)


#: file name -> (builder, where it was fixed)
CRASHES = {
    "deflate_corrupt_stream.dcm": (deflate_corrupt_stream, "viewer/core/dicom/io.py: _check_inflated_size"),
    "stray_item_tag.dcm": (stray_item_tag, "viewer/core/dicom/inspect.py: _raw_of, to_json_model"),
    "voi_lut_256_bits.dcm": (voi_lut_256_bits, "viewer/core/display/pixels/pipeline.py: file_voi_luts, _usable_lut"),
    "huge_length.dcm": (huge_length, "viewer/core/dicom/header.py: _Buffer.need"),
    "unknown_vr_rows.dcm": (unknown_vr_rows, "viewer/core/dicom/header.py: _walk (_SHORT_VR_CODES); io.py: _unknown_vrs_as_un"),
    "meta_unknown_vr.dcm": (meta_unknown_vr, "viewer/core/dicom/header.py: _read_meta"),
    "number_of_frames_inf.dcm": (number_of_frames_inf, "viewer/core/display/pixels/decoders.py: number_of_frames"),
    "dicomdir_offset_cut_short.DICOMDIR": (dicomdir_offset_cut_short, "viewer/core/media/dicomdir.py: read_dicomdir"),
    "charset_numeric_vr.dcm": (charset_numeric_vr, "viewer/core/dicom/charset.py: declared_charsets"),
    "sequence_of_text.DICOMDIR": (sequence_of_text, "viewer/core/dicom/inspect.py: to_json_model"),
    "at_value_nested.dcm": (at_value_nested, "viewer/core/dicom/inspect.py: to_json_model"),
    "charset_embedded_null.dcm": (charset_embedded_null, "viewer/core/media/scan.py: is_image_storage; io.py: sop_class_name"),
    "meta_sop_class_vr_sl.dcm": (meta_sop_class_vr_sl, "viewer/core/media/sources.py: _explicit_file; header.py: _read_meta"),
    "palette_33_bits.dcm": (palette_33_bits, "viewer/core/display/frames.py: _prepared"),
    "j2k_photometric_mismatch.dcm": (j2k_photometric_mismatch, "viewer/core/display/pixels/decoders.py: UNSAFE_FALLBACKS; gdcm_guard.py"),
    "jpeg_baseline_bytes_missing.dcm": (jpeg_baseline_bytes_missing, "viewer/core/display/pixels/decoders.py: UNSAFE_FALLBACKS"),
    "jpeg_lossless_not_jpeg.dcm": (jpeg_lossless_not_jpeg, "viewer/core/display/pixels/gdcm_guard.py"),
    "functional_groups_not_sequence.dcm": (functional_groups_not_sequence, "viewer/core/display/frames.py: _prepared"),
    "zero_columns.dcm": (zero_columns, "viewer/core/display/pixels/native.py: native_layout"),
    "bits_allocated_three_bytes.dcm": (bits_allocated_three_bytes, "viewer/core/display/frames.py: _prepared"),
}


def main() -> int:
    sys.path.insert(0, str(Path(__file__).parent))  # for fuzz.walk
    HERE.mkdir(exist_ok=True)
    for name, (build, _fix) in CRASHES.items():
        data = build()
        (HERE / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
