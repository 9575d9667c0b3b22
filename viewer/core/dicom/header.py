"""Fast header reading for indexing: only the attributes a browser needs.

A folder scan reads thousands of headers. pydicom's ``dcmread`` builds an
element object for every attribute of a file; here the file is walked with
``struct`` and only what the viewer needs is kept: the attributes listed in
:data:`INDEX_TAGS`, all of group 0028 (the image pixel, modality LUT, VOI LUT
and palette modules) and (2050,0020) *Presentation LUT Shape* -- each as
its bytes in the file (:class:`RawHeader`, what the folder scan keeps), from
which :func:`read_index_header` makes pydicom raw elements, so values, VRs
and character sets are still decoded by pydicom, lazily, on access. That is
enough both to index a file and to display a single-frame image. Everything
else (private vendor headers, overlays, pixel data) is skipped without being
decoded.

Files this walker does not handle (deflated, malformed, odd encodings) fall
back to ``pydicom.dcmread(stop_before_pixels=True)``; results are the same.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag

from viewer.core.dicom.io import _EXECUTABLE_MAGIC, ViewerError, executable_preamble, read_header

#: Attributes kept for the study browser, slice ordering and annotations.
INDEX_KEYWORDS = (
    "SpecificCharacterSet",
    "ImageType",
    "InstanceCreationDate",
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyDate",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "StudyTime",
    "SeriesTime",
    "ContentTime",
    "AccessionNumber",
    "Modality",
    "Manufacturer",
    "InstitutionName",
    "ReferringPhysicianName",
    "StationName",
    "StudyDescription",
    "SeriesDescription",
    "InstitutionalDepartmentName",
    "ManufacturerModelName",
    "PatientName",
    "PatientID",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "BodyPartExamined",
    "SliceThickness",
    "ProtocolName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "StudyID",
    "SeriesNumber",
    "AcquisitionNumber",
    "InstanceNumber",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "FrameOfReferenceUID",
    "SliceLocation",
    "NumberOfFrames",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "PixelSpacing",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PlanarConfiguration",
    "WindowCenter",
    "WindowWidth",
    "RescaleIntercept",
    "RescaleSlope",
    "RescaleType",
    # The declared pixel value ranges and padding: a series' automatic window
    # is read from every instance's header (viewer.core.display.pixels.auto_window).
    "SmallestImagePixelValue",
    "LargestImagePixelValue",
    "SmallestPixelValueInSeries",
    "LargestPixelValueInSeries",
    "PixelPaddingValue",
    "PixelPaddingRangeLimit",
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


#: Element header size by VR in explicit VR (PS3.5 7.1.2); a code missing here is no VR.
_HEADER_SIZE = {vr: 12 if vr in _EXPLICIT_LONG else 8 for vr in _KNOWN_VRS}
#: Tags kept besides the whole of group 0028.
_KEPT = INDEX_TAGS | {_PRESENTATION_LUT_SHAPE}


def _walk_explicit_le(buf: _Buffer, pos: int, keep: dict) -> int:
    """:func:`_walk` for Explicit VR Little Endian, nearly every file: one
    unpack per element header (the indexing hot loop). Item tags (FFFE,xxxx)
    need no test: they sort after (2050,0020), where the walk ends."""
    head = _EXPLICIT_LE_HEAD.unpack_from
    u32 = _U32_LE.unpack_from
    header_size, kept = _HEADER_SIZE.get, _KEPT
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
        hsize = header_size(vr)
        if hsize == 8:
            value_pos = pos + 8
        elif hsize == 12:
            length = u32(data, pos + 8)[0]
            value_pos = pos + 12
            if length == _UNDEFINED:
                if tag in kept or group == _PIXEL_GROUP:
                    raise _Unsupported("wanted element of undefined length")
                pos = skip_undefined_sequence(buf, value_pos, True, False)
                data = buf.data
                size = len(data)
                continue
        else:
            raise _Unsupported("not explicit VR")
        if tag in kept or group == _PIXEL_GROUP:
            end = value_pos + length
            if end > size:
                buf.need(end)
                data = buf.data
                size = len(data)
            keep[tag] = data[pos:end]
        pos = value_pos + length


def _walk(buf: _Buffer, pos: int, little: bool, implicit: bool, keep: dict) -> int:
    """Keep the wanted elements of the top level, up to (2050,0020), as
    ``keep[tag] = element`` (its bytes as encoded: see :class:`RawHeader`).

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
            keep[tag] = data[pos:end]
        pos = value_pos + length


def _implicit_vr(tag: int) -> str:
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def _read_meta(buf: _Buffer) -> tuple[dict[int, bytes], int, str]:
    """Group 0002 (always explicit VR little endian, PS3.10 7.1) as
    ``{tag: element bytes}``, where it ends, and its Transfer Syntax UID (read
    from the raw bytes: pydicom's conversion of that one value costs more
    than the rest of the group)."""
    buf.need(132)
    if buf.data[128:132] != b"DICM":
        raise _Unsupported("no preamble")
    meta: dict[int, bytes] = {}
    syntax = ""
    pos = 132
    head, u32, header_size = _EXPLICIT_LE_HEAD.unpack_from, _U32_LE.unpack_from, _HEADER_SIZE.get
    data = buf.data
    while True:
        if pos + 8 > len(data):
            buf.need(pos + 8)
            data = buf.data
        group, elem, vr, length = head(data, pos)
        if group != 0x0002:
            break
        hsize = header_size(vr)
        if hsize is None:
            raise _Unsupported("unknown VR in the meta group")
        if hsize == 12:
            if pos + 12 > len(data):
                buf.need(pos + 12)
                data = buf.data
            length = u32(data, pos + 8)[0]
            if length == _UNDEFINED:
                raise _Unsupported("odd meta")
        start, value_pos = pos, pos + hsize
        if elem in (0x0002, 0x0003, 0x0010, 0x0012) and vr != b"UI":
            # PS3.10 Table 7.1-1 fixes these as UI; pydicom's conversion of
            # another VR raised BytesLengthException wherever the transfer
            # syntax was first read. pydicom's reader says what is wrong.
            raise _Unsupported("meta UID with another VR")
        pos = value_pos + length
        if pos > len(data):
            buf.need(pos)
            data = buf.data
        value = data[value_pos:pos]
        if elem == 0x0010:
            syntax = value.decode("ascii", "replace").rstrip("\x00 ")
        meta[0x00020000 | elem] = data[start:pos]
    return meta, pos, syntax


class RawHeader:
    """The indexing attributes of one file as the file encodes them, before
    any pydicom object is made: what a folder scan keeps per file.

    ``elements`` (the attributes of :data:`INDEX_TAGS`, all of group 0028
    and (2050,0020)) and ``meta`` (group 0002; None when the file has none)
    map a tag number to the element's bytes exactly as in the file: tag,
    VR (explicit VR only), length and value (PS3.5 7.1), in the file's byte
    order (``little``) and character set. One bytes object per element:
    cheap to make, to keep packed (:mod:`viewer.core.dicom.compact`) and to send
    between processes, and nothing the garbage collector has to walk.
    :meth:`dataset` makes the pydicom dataset of it, whose values pydicom
    decodes lazily, as it would the file's. ``complete`` is True for one
    made by the walker, which holds every attribute it keeps (enough to
    display a single frame); False for one made from a pydicom dataset
    (:meth:`from_dataset`: sequences are left out).
    """

    __slots__ = ("elements", "meta", "implicit", "little", "preamble_warning", "complete")

    def __init__(
        self,
        elements: dict[int, bytes],
        meta: dict[int, bytes] | None,
        implicit: bool,
        little: bool,
        preamble_warning: str = "",
        complete: bool = False,
    ):
        self.elements = elements
        self.meta = meta
        self.implicit = implicit
        self.little = little
        self.preamble_warning = preamble_warning
        self.complete = complete

    def value(self, tag: int) -> bytes | None:
        """The value bytes of element `tag`; None when absent."""
        element = self.elements.get(tag)
        return None if element is None else _value(element, self.implicit)

    def uid(self, tag: int) -> str:
        """A UI value (PS3.5 6.2: plain ASCII, padded with NUL) as text; '' when absent."""
        value = self.value(tag)
        return value.decode("ascii", "replace").strip("\x00 ") if value is not None else ""

    def media_storage_sop_class(self) -> str:
        """(0002,0002) *Media Storage SOP Class UID*; '' when absent."""
        element = self.meta.get(0x00020002) if self.meta else None
        return _value(element, False).decode("ascii", "replace").strip("\x00 ") if element is not None else ""

    def numbers(self, tag: int) -> list[float] | None:
        """A DS or IS value (ASCII decimal strings, PS3.5 6.2) as numbers; None
        when absent, empty or not numbers."""
        value = self.value(tag)
        if value is None:
            return None
        try:
            parts = value.decode("ascii").strip("\x00 ").split("\\")
            return [float(p) for p in parts] if parts != [""] else None
        except (ValueError, UnicodeDecodeError):
            return None

    def dataset(self, path: str | os.PathLike[str] | None = None) -> Dataset:
        """The attributes as a pydicom dataset of raw elements (what
        :func:`read_index_header` returns)."""
        implicit, little = self.implicit, self.little
        ds = Dataset(_raw_elements(self.elements, implicit, little))
        if self.meta is not None:
            ds.file_meta = FileMetaDataset(_raw_elements(self.meta, False, True))
        ds.set_original_encoding(implicit, little, None)
        if path is not None:
            ds.filename = str(path)
        ds.preamble_warning = self.preamble_warning
        return ds

    @classmethod
    def from_dataset(cls, ds: Dataset) -> RawHeader:
        """The top-level elements and the file meta of a pydicom dataset (one
        read by pydicom, a DICOMDIR's merged records, one made in memory).

        Raw elements keep their bytes; values pydicom has already converted
        are encoded again as pydicom would write them; sequences are left
        out (nothing indexed is one).
        """
        implicit, little = _encoding_of(ds)
        meta = getattr(ds, "file_meta", None)
        return cls(
            _encoded_elements(ds, implicit, little),
            _encoded_elements(meta, False, True) if meta is not None else None,
            implicit,
            little,
            getattr(ds, "preamble_warning", "") or "",
        )


def _value(element: bytes, implicit: bool) -> bytes:
    """The value of an encoded element: after a 12-byte header for the long
    VRs of explicit VR, 8 bytes otherwise (PS3.5 7.1.1-7.1.3)."""
    return element[12:] if not implicit and element[4:6] in _EXPLICIT_LONG else element[8:]


def elements_in(data: bytes, implicit: bool, little: bool) -> Iterator[tuple[int, bytes | None, bytes]]:
    """(tag, VR or None, value) of each element of `data`: elements encoded one
    after another (those of a :class:`RawHeader`, joined)."""
    buf = _InMemory(data)
    pos = 0
    while pos < len(data):
        tag, vr, length, value_pos = _element_header(buf, pos, little, implicit)
        pos = value_pos + length
        yield tag, vr, data[value_pos:pos]


def _raw_elements(elements: dict[int, bytes], implicit: bool, little: bool) -> dict[BaseTag, RawDataElement]:
    """pydicom raw elements of encoded elements (implicit VR: the dictionary's VR, as pydicom's reader gives)."""
    raw = {}
    for tag, element in elements.items():
        btag = BaseTag(tag)
        if implicit:
            value, vr = element[8:], _implicit_vr(tag)
        else:
            code = element[4:6]
            value, vr = element[12:] if code in _EXPLICIT_LONG else element[8:], _VR_TEXT.get(code) or code.decode("ascii", "replace")
        raw[btag] = RawDataElement(btag, vr, len(value), value, 0, implicit, little)
    return raw


_VR_TEXT = {code: code.decode("ascii") for code in _KNOWN_VRS}


def _encoding_of(ds: Dataset) -> tuple[bool, bool]:
    """(implicit VR, little endian) of a dataset's raw elements: its original
    encoding, else that of its first raw element (a DICOMDIR's merged records
    carry no encoding of their own), else explicit VR little endian."""
    encoding = tuple(getattr(ds, "original_encoding", (None, None))[:2])
    if None not in encoding:
        return encoding  # type: ignore[return-value]
    for element in ds._dict.values():
        if isinstance(element, RawDataElement):
            return bool(element.is_implicit_VR), bool(element.is_little_endian)
    return False, True


def encode_element(tag: int, vr: bytes | None, value: bytes, implicit: bool, little: bool) -> bytes | None:
    """One element as a file encodes it (PS3.5 7.1); None when `value` is too
    long for the VR's 16-bit length. `vr` None in explicit VR: the
    dictionary's; a code PS3.5 6.2 does not know: UN."""
    order = "<" if little else ">"
    head = struct.pack(order + "HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        return head + struct.pack(order + "L", len(value)) + value
    if vr is None:
        name = _implicit_vr(tag)
        vr = name.encode("ascii") if len(name) == 2 else b"UN"
    elif vr not in _KNOWN_VRS:
        vr = b"UN"  # a damaged code: pydicom could not convert it either (see io._unknown_vrs_as_un)
    if vr in _EXPLICIT_LONG:
        return head + vr + b"\x00\x00" + struct.pack(order + "L", len(value)) + value
    if len(value) > 0xFFFF:
        return None
    return head + vr + struct.pack(order + "H", len(value)) + value


def _encoded_elements(ds: Dataset, implicit: bool, little: bool) -> dict[int, bytes]:
    elements = {}
    for tag, element in ds._dict.items():
        if isinstance(element, RawDataElement):
            vr = element.VR.encode("ascii") if element.VR and len(element.VR) == 2 else None
            value = element.value if isinstance(element.value, bytes) else b""
            if element.is_little_endian != little and element.VR in (
                "US",
                "SS",
                "UL",
                "SL",
                "FL",
                "FD",
                "AT",
                "OW",
                "OF",
                "OD",
                "OL",
                "SV",
                "UV",
            ):
                continue  # binary in the other byte order (never in one file): left out rather than misread
            encoded = encode_element(int(tag), vr, value, implicit, little)
        elif element.VR != "SQ":
            encoded = _written(element, ds, implicit, little)
        else:
            encoded = None  # sequences: nothing indexed is one
        if encoded is not None:
            elements[int(tag)] = encoded
    return elements


def _written(element, ds: Dataset, implicit: bool, little: bool) -> bytes | None:
    """A converted element encoded as pydicom writes it; None if it cannot be."""
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_data_element

    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = little, implicit
    try:
        write_data_element(out, element, getattr(ds, "_character_set", None) or ["iso8859"])
    except (ValueError, TypeError, AttributeError, LookupError, OverflowError, struct.error):
        return None  # a value pydicom cannot write again is left out
    return out.getvalue()


class _FileBuffer(_Buffer):
    """The start of a file read with os.read: no Python file object, and no
    stat when the first read already reached the end (a small file)."""

    def __init__(self, fd: int, first: int):
        self.f = None
        self.fd = fd
        self.data = os.read(fd, first)
        self.size = len(self.data) if len(self.data) < first else os.fstat(fd).st_size

    def need(self, end: int) -> None:
        if end > len(self.data):
            if end > self.size:
                raise _Unsupported("truncated")  # never allocate what a damaged length claims
            want = max(end - len(self.data), len(self.data))
            while len(self.data) < end:
                more = os.read(self.fd, want)
                if not more:
                    raise _Unsupported("truncated")
                self.data += more


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows opens low-level files as text otherwise


def _fast_raw_header(path: str | os.PathLike[str], opened: int | None = None) -> RawHeader:
    fd = os.open(path, os.O_RDONLY | _O_BINARY) if opened is None else opened
    try:
        buf = _FileBuffer(fd, 65536)
        meta, pos, syntax = _read_meta(buf)
        if syntax == _IMPLICIT_LE:
            implicit, little = True, True
        elif syntax == _EXPLICIT_BE:
            implicit, little = False, False
        elif syntax and syntax != "1.2.840.10008.1.2.1.99":  # every other one is explicit LE (deflate aside)
            implicit, little = False, True
        else:
            raise _Unsupported("deflated or no transfer syntax")
        keep: dict[int, bytes] = {}
        if little and not implicit:
            _walk_explicit_le(buf, pos, keep)
        else:
            _walk(buf, pos, little, implicit, keep)
    finally:
        if opened is None:
            os.close(fd)
    return RawHeader(keep, meta, implicit, little, _preamble_warning(buf.data), complete=True)


#: First bytes of the programs a preamble may be (CVE-2019-11687).
_MAGIC_FIRST_BYTES = frozenset(magic[0] for magic, _ in _EXECUTABLE_MAGIC)


def _preamble_warning(head: bytes) -> str:
    if not head or head[0] not in _MAGIC_FIRST_BYTES:
        return ""  # nearly every preamble: zeros
    for magic, what in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return f"its preamble is {what}: do not run or rename this file"
    return ""


def read_raw_header(path: str | os.PathLike[str], fd: int | None = None) -> RawHeader:
    """The indexing attributes of one file, as encoded (raises ViewerError if
    not readable DICOM): the folder scan's reader.

    `fd`, if given, is `path` already open for reading at its start (left
    open). Files the walker does not handle (deflated, malformed, odd
    encodings) are read by pydicom (``read_header``) instead; the values
    are the same.
    """
    try:
        return _fast_raw_header(path, fd)
    except (_Unsupported, struct.error, ValueError, KeyError, OSError):
        header = read_header(path)
        raw = RawHeader.from_dataset(header)
        raw.preamble_warning = executable_preamble(path) or ""
        return raw


def read_index_header(path: str | os.PathLike[str]) -> Dataset:
    """The indexing attributes of one file (raises ViewerError if not readable DICOM).

    Same values as ``read_header`` for those attributes; much faster on
    files with large private headers.
    """
    try:
        return _fast_raw_header(path).dataset(path)
    except (_Unsupported, struct.error, ValueError, KeyError, OSError):
        header = read_header(path)
        header.preamble_warning = executable_preamble(path) or ""
        return header


def number_of_frames(header: Dataset | RawHeader) -> int:
    """(0028,0008) *Number of Frames*, 1 when absent, empty or invalid."""
    if isinstance(header, RawHeader):
        value = header.value(0x00280008)
        if value is None:
            return 1
    else:
        if 0x00280008 not in header:
            return 1
        value = header.get_item(0x00280008).value
    try:
        if isinstance(value, bytes):  # still raw: no pydicom conversion needed
            value = value.decode("ascii").strip("\x00 ")
        return max(1, int(float(value or 1)))
    except (TypeError, ValueError, UnicodeDecodeError, OverflowError):  # OverflowError: 'inf' (tests/robustness)
        return 1


__all__ = ["INDEX_KEYWORDS", "INDEX_TAGS", "RawHeader", "ViewerError", "number_of_frames", "read_index_header", "read_raw_header"]


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
                found[tag] = bytes(data[value_pos : value_pos + length])
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
