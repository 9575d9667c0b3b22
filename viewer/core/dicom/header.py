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

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from viewer.core.dicom.elements import (
    KNOWN_VRS,
    LONG_LENGTH_VRS,
    Source,
    Unwalkable,
    encoding_of,
    implicit_vr,
    keep_top_level,
    read_file_meta,
)
from viewer.core.dicom.io import ViewerError, executable_preamble, preamble_warning, read_header

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
#: Tags kept besides the whole of group 0028.
_KEPT = INDEX_TAGS | {_PRESENTATION_LUT_SHAPE}


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
        ds = Dataset(raw_data_elements(self.elements, implicit, little))
        if self.meta is not None:
            ds.file_meta = FileMetaDataset(raw_data_elements(self.meta, False, True))
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
    return element[12:] if not implicit and element[4:6] in LONG_LENGTH_VRS else element[8:]


def raw_data_elements(elements: dict[int, bytes], implicit: bool, little: bool) -> dict[BaseTag, RawDataElement]:
    """pydicom raw elements of encoded elements (implicit VR: the dictionary's VR, as pydicom's reader gives)."""
    raw = {}
    for tag, element in elements.items():
        btag = BaseTag(tag)
        if implicit:
            value, vr = element[8:], implicit_vr(tag)
        else:
            code = element[4:6]
            value, vr = element[12:] if code in LONG_LENGTH_VRS else element[8:], _VR_TEXT.get(code) or code.decode("ascii", "replace")
        raw[btag] = RawDataElement(btag, vr, len(value), value, 0, implicit, little)
    return raw


_VR_TEXT = {code: code.decode("ascii") for code in KNOWN_VRS}


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
        name = implicit_vr(tag)
        vr = name.encode("ascii") if len(name) == 2 else b"UN"
    elif vr not in KNOWN_VRS:
        vr = b"UN"  # a damaged code: pydicom could not convert it either (see io._unknown_vrs_as_un)
    if vr in LONG_LENGTH_VRS:
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


_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows opens low-level files as text otherwise


def walk_raw_header(path: str | os.PathLike[str], opened: int | None = None) -> RawHeader:
    """The walker's reading of `path` (`opened`: its descriptor, left open); raises
    :class:`~viewer.core.dicom.elements.Unwalkable` for what it leaves to pydicom."""
    fd = os.open(path, os.O_RDONLY | _O_BINARY) if opened is None else opened
    try:
        source = Source.from_descriptor(fd, 65536)
        meta = read_file_meta(source)
        syntax = meta.transfer_syntax
        if not syntax or syntax == DeflatedExplicitVRLittleEndian:  # a string comparison: once per file of a scan
            raise Unwalkable("deflated or no transfer syntax")
        implicit, little = encoding_of(syntax)
        keep = keep_top_level(source, meta.end, little, implicit, _KEPT, _PIXEL_GROUP, _LAST_TAG)
    finally:
        if opened is None:
            os.close(fd)
    return RawHeader(keep, meta.elements, implicit, little, preamble_warning(source.data) or "", complete=True)


def read_raw_header(path: str | os.PathLike[str], fd: int | None = None) -> RawHeader:
    """The indexing attributes of one file, as encoded (raises ViewerError if
    not readable DICOM): the folder scan's reader.

    `fd`, if given, is `path` already open for reading at its start (left
    open). Files the walker does not handle (deflated, malformed, odd
    encodings) are read by pydicom (``read_header``) instead; the values
    are the same.
    """
    try:
        return walk_raw_header(path, fd)
    except (Unwalkable, struct.error, ValueError, KeyError, OSError):
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
        return walk_raw_header(path).dataset(path)
    except (Unwalkable, struct.error, ValueError, KeyError, OSError):
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
