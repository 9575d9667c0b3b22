"""Fast header reading for indexing: only the attributes a browser needs.

A folder scan reads thousands of headers. pydicom's ``dcmread`` builds an
element object for every attribute of a file; here the file is walked with
``struct`` and only what the viewer needs is kept: the attributes listed in
:data:`INDEX_TAGS`, all of group 0028 (the image pixel, modality LUT, VOI LUT
and palette modules) and (2050,0020) *Presentation LUT Shape* -- as pydicom
raw elements, so values, VRs and character sets are still decoded by pydicom,
lazily, on access. That is enough both to index a file and to display a
single-frame image. Everything else (private vendor headers, overlays,
pixel data) is skipped without being decoded.

Files this walker does not handle (deflated, malformed, odd encodings) fall
back to ``pydicom.dcmread(stop_before_pixels=True)``; results are the same.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from pydicom.dataelem import RawDataElement
from pydicom.datadict import dictionary_VR
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag

from viewer.core.io import ViewerError, read_header

#: Attributes kept for the study browser, slice ordering and annotations.
INDEX_KEYWORDS = (
    "SpecificCharacterSet", "ImageType", "InstanceCreationDate", "SOPClassUID", "SOPInstanceUID",
    "StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "StudyTime", "SeriesTime", "ContentTime",
    "AccessionNumber", "Modality", "Manufacturer", "InstitutionName", "ReferringPhysicianName",
    "StationName", "StudyDescription", "SeriesDescription", "InstitutionalDepartmentName",
    "ManufacturerModelName",
    "PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex", "PatientAge",
    "BodyPartExamined", "SliceThickness", "ProtocolName",
    "StudyInstanceUID", "SeriesInstanceUID", "StudyID", "SeriesNumber", "AcquisitionNumber",
    "InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient", "FrameOfReferenceUID",
    "SliceLocation", "NumberOfFrames",
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "PixelSpacing",
    "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation", "PlanarConfiguration",
    "WindowCenter", "WindowWidth", "RescaleIntercept", "RescaleSlope", "RescaleType",
    # The declared pixel value ranges and padding: a series' automatic window
    # is read from every instance's header (viewer.core.pixels.auto_window).
    "SmallestImagePixelValue", "LargestImagePixelValue", "SmallestPixelValueInSeries", "LargestPixelValueInSeries",
    "PixelPaddingValue", "PixelPaddingRangeLimit",
)
INDEX_TAGS = frozenset(int(Tag(k)) for k in INDEX_KEYWORDS)
_PIXEL_GROUP = 0x0028
_PRESENTATION_LUT_SHAPE = 0x20500020
_LAST_TAG = _PRESENTATION_LUT_SHAPE

_EXPLICIT_LONG = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD

_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_LE = "1.2.840.10008.1.2.1"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"


class _Unsupported(Exception):
    """The fast walker cannot read this file; pydicom will."""


class _Buffer:
    """The start of a file, read further only when the walk needs it."""

    def __init__(self, f, first: int = 16384):
        self.f = f
        self.data = f.read(first)
        try:
            self.size = os.fstat(f.fileno()).st_size
        except (AttributeError, OSError, ValueError):
            self.size = None

    def need(self, end: int) -> None:
        if end > len(self.data):
            if self.size is not None and end > self.size:
                # A 32-bit length in a 1 kB file may claim 4 GB: f.read(n)
                # allocates n bytes first (MemoryError, or gigabytes held).
                # Found by tests/robustness (crashes/huge_length_in_sequence.dcm).
                raise _Unsupported("truncated")
            more = self.f.read(max(end - len(self.data), len(self.data)))
            self.data += more
            if end > len(self.data):
                raise _Unsupported("truncated")


def _element_header(buf: _Buffer, pos: int, little: bool, implicit: bool) -> tuple[int, bytes | None, int, int]:
    """(tag, VR or None, length, value position) of the element at `pos`."""
    buf.need(pos + 8)
    group, elem = struct.unpack_from("<HH" if little else ">HH", buf.data, pos)
    tag = (group << 16) | elem
    if implicit or group == 0xFFFE:  # item tags have no VR in any syntax
        (length,) = struct.unpack_from("<L" if little else ">L", buf.data, pos + 4)
        return tag, None, length, pos + 8
    vr = bytes(buf.data[pos + 4 : pos + 6])
    if vr in _EXPLICIT_LONG:
        buf.need(pos + 12)
        (length,) = struct.unpack_from("<L" if little else ">L", buf.data, pos + 8)
        return tag, vr, length, pos + 12
    if vr not in _KNOWN_VRS:
        raise _Unsupported("not explicit VR")
    (length,) = struct.unpack_from("<H" if little else ">H", buf.data, pos + 6)
    return tag, vr, length, pos + 8


def skip_undefined_sequence(buf: _Buffer, pos: int, little: bool, implicit: bool) -> int:
    """Position after the items of an undefined-length sequence starting at `pos`."""
    while True:
        tag, _, length, value_pos = _element_header(buf, pos, little, implicit)
        if tag == _SEQ_END:
            return value_pos
        if tag != _ITEM:
            raise _Unsupported("bad sequence")
        pos = skip_item_elements(buf, value_pos, little, implicit) if length == _UNDEFINED else value_pos + length


def skip_item_elements(buf: _Buffer, pos: int, little: bool, implicit: bool) -> int:
    """Position after the item delimiter of an undefined-length item."""
    while True:
        tag, _, length, value_pos = _element_header(buf, pos, little, implicit)
        if tag == _ITEM_END:
            return value_pos
        pos = skip_undefined_sequence(buf, value_pos, little, implicit) if length == _UNDEFINED else value_pos + length


def raw_element(buf: _Buffer, tag: int, vr: bytes | None, length: int, value_pos: int, little: bool, implicit: bool) -> RawDataElement:
    """A pydicom raw element for the value at `value_pos` (converted lazily by pydicom)."""
    end = value_pos + length
    buf.need(end)
    vr_text = vr.decode("ascii") if vr else dictionary_VR(tag) if tag in INDEX_TAGS or _known(tag) else "UN"
    return RawDataElement(Tag(tag), vr_text, length, bytes(buf.data[value_pos:end]), value_pos, implicit, little)


def _known(tag: int) -> bool:
    try:
        dictionary_VR(tag)
        return True
    except KeyError:
        return False


_LONG_VR_CODES = {(v[0] << 8) | v[1] for v in _EXPLICIT_LONG}
#: Every VR of PS3.5 6.2. Raw elements are converted lazily by pydicom, which
#: raises NotImplementedError for any other code -- wherever the value is
#: first read (a scan, the pixel pipeline). So an unknown code sends the file
#: to pydicom's reader, which treats it as implicit VR (crashes/unknown_vr_rows.dcm).
_KNOWN_VRS = {
    v.encode() for v in "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
}
_SHORT_VR_CODES = {(v[0] << 8) | v[1] for v in _KNOWN_VRS} - _LONG_VR_CODES
_TAG_LE, _TAG_BE = struct.Struct("<HH"), struct.Struct(">HH")
_U16_LE, _U16_BE = struct.Struct("<H"), struct.Struct(">H")
_U32_LE, _U32_BE = struct.Struct("<L"), struct.Struct(">L")


def _next_header_in_buffer(buf: _Buffer, pos: int) -> bool:
    """Make the element header at `pos` readable; False if the file ends cleanly there."""
    try:
        buf.need(pos + 12)
    except _Unsupported:
        if len(buf.data) <= pos + 8:
            return False  # a header that ends cleanly before any pixel data
        buf.data += b"\x00" * 4  # an 8-byte element header at the very end
    return True


_EXPLICIT_LE_HEAD = struct.Struct("<HH2sH")  # group, element, VR, 16-bit length


def _walk_explicit_le(buf: _Buffer, pos: int, keep: dict) -> int:
    """:func:`_walk` for Explicit VR Little Endian, nearly every file: one
    unpack per element header (the indexing hot loop)."""
    head = _EXPLICIT_LE_HEAD.unpack_from
    u32 = _U32_LE.unpack_from
    long_vrs, known_vrs, index_tags = _EXPLICIT_LONG, _KNOWN_VRS, INDEX_TAGS
    data = buf.data
    size = len(data)
    while True:
        if pos + 12 > size:
            if not _next_header_in_buffer(buf, pos):
                return pos
            data = buf.data
            size = len(data)
        group, elem, vr, length = head(data, pos)
        tag = (group << 16) | elem
        if tag > _LAST_TAG:
            return pos
        if vr in long_vrs:
            length = u32(data, pos + 8)[0]
            value_pos = pos + 12
        elif vr in known_vrs and group != 0xFFFE:
            value_pos = pos + 8
        else:
            raise _Unsupported("not explicit VR")
        wanted = tag in index_tags or group == _PIXEL_GROUP or tag == _PRESENTATION_LUT_SHAPE
        if length == _UNDEFINED:
            if wanted:
                raise _Unsupported("wanted element of undefined length")
            pos = skip_undefined_sequence(buf, value_pos, True, False)
            data = buf.data
            size = len(data)
            continue
        if wanted:
            end = value_pos + length
            if end > size:
                buf.need(end)
                data = buf.data
                size = len(data)
            btag = BaseTag(tag)
            keep[btag] = RawDataElement(btag, vr.decode("ascii"), length, data[value_pos:end], value_pos, False, True)
        pos = value_pos + length


def _walk(buf: _Buffer, pos: int, little: bool, implicit: bool, keep: dict) -> int:
    """Keep the wanted elements of the top level, up to (2050,0020).

    The hot loop of indexing: element headers are unpacked inline with
    precompiled structs; values are sliced only for the elements kept.
    """
    tag_s, u16, u32 = (_TAG_LE, _U16_LE, _U32_LE) if little else (_TAG_BE, _U16_BE, _U32_BE)
    index_tags = INDEX_TAGS
    while True:
        data = buf.data
        if pos + 12 > len(data):
            if not _next_header_in_buffer(buf, pos):
                return pos
            data = buf.data
        group, elem = tag_s.unpack_from(data, pos)
        tag = (group << 16) | elem
        if tag > _LAST_TAG:
            return pos
        if implicit or group == 0xFFFE:
            vr = None
            length = u32.unpack_from(data, pos + 4)[0]
            value_pos = pos + 8
        else:
            code = (data[pos + 4] << 8) | data[pos + 5]
            if code in _LONG_VR_CODES:
                length = u32.unpack_from(data, pos + 8)[0]
                value_pos = pos + 12
            elif code in _SHORT_VR_CODES:
                length = u16.unpack_from(data, pos + 6)[0]
                value_pos = pos + 8
            else:
                raise _Unsupported("not explicit VR")
            vr = data[pos + 4 : pos + 6]
        wanted = tag in index_tags or group == _PIXEL_GROUP or tag == _PRESENTATION_LUT_SHAPE
        if length == _UNDEFINED:
            if wanted:
                raise _Unsupported("wanted element of undefined length")
            pos = skip_undefined_sequence(buf, value_pos, little, implicit)
            continue
        if wanted:
            end = value_pos + length
            if end > len(data):
                buf.need(end)
                data = buf.data
            vr_text = vr.decode("ascii") if vr is not None else _implicit_vr(tag)
            btag = BaseTag(tag)
            keep[btag] = RawDataElement(btag, vr_text, length, data[value_pos:end], value_pos, implicit, little)
        pos = value_pos + length


def _implicit_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _read_meta(buf: _Buffer) -> tuple[FileMetaDataset, int, str]:
    """Group 0002 (always explicit VR little endian, PS3.10 7.1), where it ends,
    and its Transfer Syntax UID (read from the raw bytes: pydicom's conversion
    of that one value costs more than the rest of the group)."""
    buf.need(132)
    if buf.data[128:132] != b"DICM":
        raise _Unsupported("no preamble")
    meta: dict[int, RawDataElement] = {}
    syntax = ""
    pos = 132
    while True:
        buf.need(pos + 8)
        data = buf.data
        group, elem = _TAG_LE.unpack_from(data, pos)
        if group != 0x0002:
            break
        vr = data[pos + 4 : pos + 6]
        if vr not in _KNOWN_VRS:
            raise _Unsupported("unknown VR in the meta group")
        if vr in _EXPLICIT_LONG:
            buf.need(pos + 12)
            length = _U32_LE.unpack_from(buf.data, pos + 8)[0]
            value_pos = pos + 12
        else:
            length = _U16_LE.unpack_from(data, pos + 6)[0]
            value_pos = pos + 8
        if length == _UNDEFINED:
            raise _Unsupported("odd meta")
        if elem in (0x0002, 0x0003, 0x0010, 0x0012) and vr != b"UI":
            # PS3.10 Table 7.1-1 fixes these as UI; pydicom's conversion of
            # another VR raised BytesLengthException wherever the transfer
            # syntax was first read. pydicom's reader says what is wrong.
            raise _Unsupported("meta UID with another VR")
        buf.need(value_pos + length)
        value = buf.data[value_pos : value_pos + length]
        if elem == 0x0010:
            syntax = value.decode("ascii", "replace").rstrip("\x00 ")
        tag = BaseTag(0x00020000 | elem)
        meta[tag] = RawDataElement(tag, vr.decode("ascii"), length, value, value_pos, False, True)
        pos = value_pos + length
    file_meta = FileMetaDataset(meta)
    return file_meta, pos, syntax


def _fast_header(path: Path) -> Dataset:
    with open(path, "rb") as f:
        buf = _Buffer(f, first=65536)
        file_meta, pos, syntax = _read_meta(buf)
        if syntax == _IMPLICIT_LE:
            implicit, little = True, True
        elif syntax == _EXPLICIT_BE:
            implicit, little = False, False
        elif syntax and syntax != "1.2.840.10008.1.2.1.99":  # every other one is explicit LE (deflate aside)
            implicit, little = False, True
        else:
            raise _Unsupported("deflated or no transfer syntax")
        keep: dict[int, RawDataElement] = {}
        if little and not implicit:
            _walk_explicit_le(buf, pos, keep)
        else:
            _walk(buf, pos, little, implicit, keep)
    ds = Dataset(keep)
    ds.file_meta = file_meta
    ds.preamble_warning = _preamble_warning(buf.data[:128])
    ds.set_original_encoding(implicit, little, None)
    ds.filename = str(path)
    return ds


def _preamble_warning(preamble: bytes) -> str:
    from viewer.core.io import _EXECUTABLE_MAGIC

    for magic, what in _EXECUTABLE_MAGIC:
        if preamble.startswith(magic):
            return f"its preamble is {what}: do not run or rename this file"
    return ""


def read_index_header(path: str | os.PathLike[str]) -> Dataset:
    """The indexing attributes of one file (raises ViewerError if not readable DICOM).

    Same values as ``read_header`` for those attributes; much faster on
    files with large private headers.
    """
    path = Path(path)
    try:
        return _fast_header(path)
    except (_Unsupported, struct.error, ValueError, KeyError, OSError):
        from viewer.core.io import executable_preamble

        header = read_header(path)
        header.preamble_warning = executable_preamble(path) or ""
        return header


__all__ = ["INDEX_KEYWORDS", "INDEX_TAGS", "ViewerError", "read_index_header"]


class _InMemory(_Buffer):
    """A _Buffer over bytes already read: nothing more to read."""

    def __init__(self, data):
        self.f, self.data, self.size = None, data, len(data)

    def need(self, end: int) -> None:
        if end > len(self.data):
            raise _Unsupported("truncated")


def top_level_values(data, transfer_syntax: str, tags: set[int]) -> dict[int, bytes]:
    """Raw values of the wanted top-level `tags` of an encoded dataset.

    `data` (bytes-like) holds a dataset without File Meta Information (as a
    C-STORE carries it) in `transfer_syntax` (not deflated), or its start.
    Elements come in tag order (PS3.5 7.1), so the walk stops after the
    largest wanted tag, or where `data` ends. Raises ValueError when an
    element cannot be walked.
    """
    little, implicit = transfer_syntax != _EXPLICIT_BE, transfer_syntax == _IMPLICIT_LE
    last = max(tags)
    found: dict[int, bytes] = {}
    buf = _InMemory(data)
    size = len(data)
    explicit_le = little and not implicit
    head, u32 = _EXPLICIT_LE_HEAD.unpack_from, _U32_LE.unpack_from
    pos = 0
    try:
        while pos + 8 <= size and len(found) < len(tags):
            if explicit_le and pos + 12 <= size:  # one unpack per element: the common case
                group, elem, vr, length = head(data, pos)
                tag = (group << 16) | elem
                if vr in _EXPLICIT_LONG:
                    length, value_pos = u32(data, pos + 8)[0], pos + 12
                elif vr in _KNOWN_VRS and group != 0xFFFE:
                    value_pos = pos + 8
                else:
                    raise _Unsupported("not explicit VR")
            else:
                tag, _, length, value_pos = _element_header(buf, pos, little, implicit)
            if tag > last:
                break
            if length == _UNDEFINED:
                pos = skip_undefined_sequence(buf, value_pos, little, implicit)
                continue
            if tag in tags:
                buf.need(value_pos + length)
                found[tag] = bytes(data[value_pos:value_pos + length])
            pos = value_pos + length
    except (_Unsupported, struct.error) as exc:
        raise ValueError(f"dataset cannot be walked: {exc}") from None
    return found


def pixel_data_position(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(offset, length) of the value of a native (7FE0,0010) *Pixel Data*, or None.

    Walks the top level without decoding anything; None for encapsulated
    (undefined length) or deflated data, or anything the walker cannot read.
    """
    try:
        with open(path, "rb") as f:
            buf = _Buffer(f, first=65536)
            _meta, pos, syntax = _read_meta(buf)
            if syntax not in (_IMPLICIT_LE, _EXPLICIT_LE, _EXPLICIT_BE):
                return None
            implicit, little = syntax == _IMPLICIT_LE, syntax != _EXPLICIT_BE
            while True:
                tag, _vr, length, value_pos = _element_header(buf, pos, little, implicit)
                if tag == 0x7FE00010:
                    return None if length == _UNDEFINED else (value_pos, length)
                if tag > 0x7FE00010:
                    return None
                if length == _UNDEFINED:
                    pos = skip_undefined_sequence(buf, value_pos, little, implicit)
                else:
                    pos = value_pos + length
                    if pos > len(buf.data) + (1 << 20):
                        # A large value (an overlay, a private blob): skip it without reading it.
                        return _seek_walk(f, pos, little, implicit)
    except (_Unsupported, struct.error, OSError, ValueError, KeyError):
        return None


def _seek_walk(f, pos: int, little: bool, implicit: bool) -> tuple[int, int] | None:
    """Continue the walk from `pos` reading only element headers (after a large value)."""
    tag_s = _TAG_LE if little else _TAG_BE
    u32 = _U32_LE if little else _U32_BE
    u16 = _U16_LE if little else _U16_BE
    while True:
        f.seek(pos)
        head = f.read(12)
        if len(head) < 8:
            return None
        group, elem = tag_s.unpack_from(head, 0)
        tag = (group << 16) | elem
        if implicit or group == 0xFFFE:
            length, value_pos = u32.unpack_from(head, 4)[0], pos + 8
        elif head[4:6] in _EXPLICIT_LONG:
            length, value_pos = u32.unpack_from(head, 8)[0], pos + 12
        else:
            length, value_pos = u16.unpack_from(head, 6)[0], pos + 8
        if tag == 0x7FE00010:
            return None if length == _UNDEFINED else (value_pos, length)
        if tag > 0x7FE00010 or length == _UNDEFINED:
            return None
        pos = value_pos + length


def first_oversized_element(path: str | os.PathLike[str]) -> tuple[int, int, int] | None:
    """(tag, declared length, bytes left) of the first top-level element that claims
    more bytes than the file holds, or None.

    A length field is 32 bits: a 1 kB file may claim a 2 GB value. pydicom
    reads what is there, but the viewer must say the file is damaged, and
    must never size anything from such a claim. Walks element headers only.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            buf = _Buffer(f, first=65536)
            _meta, pos, syntax = _read_meta(buf)
            if syntax not in (_IMPLICIT_LE, _EXPLICIT_LE, _EXPLICIT_BE):
                return None  # deflated or compressed pixel data: pydicom checks those
            implicit, little = syntax == _IMPLICIT_LE, syntax != _EXPLICIT_BE
            while pos + 8 <= size:
                tag, _vr, length, value_pos = _element_header(buf, pos, little, implicit)
                if length == _UNDEFINED:
                    if tag == 0x7FE00010:
                        return None
                    pos = skip_undefined_sequence(buf, value_pos, little, implicit)
                    continue
                if value_pos + length > size:
                    return tag, length, max(0, size - value_pos)
                pos = value_pos + length
                if pos > len(buf.data):
                    return _oversized_by_seek(f, pos, size, little, implicit)
    except (_Unsupported, struct.error, OSError, ValueError, KeyError):
        return None
    return None


def _oversized_by_seek(f, pos: int, size: int, little: bool, implicit: bool):
    tag_s = _TAG_LE if little else _TAG_BE
    u32 = _U32_LE if little else _U32_BE
    u16 = _U16_LE if little else _U16_BE
    while pos + 8 <= size:
        f.seek(pos)
        head = f.read(12)
        group, elem = tag_s.unpack_from(head, 0)
        tag = (group << 16) | elem
        if implicit or group == 0xFFFE:
            length, value_pos = u32.unpack_from(head, 4)[0], pos + 8
        elif head[4:6] in _EXPLICIT_LONG and len(head) >= 12:
            length, value_pos = u32.unpack_from(head, 8)[0], pos + 12
        else:
            length, value_pos = u16.unpack_from(head, 6)[0], pos + 8
        if length == _UNDEFINED:
            return None
        if value_pos + length > size:
            return tag, length, max(0, size - value_pos)
        pos = value_pos + length
    return None
