"""Headers kept small: what a catalog of 100,000 files can afford to hold.

A pydicom Dataset of the ~50 indexing attributes costs about 20 kB in
memory; a folder of 100,000 files would hold 2 GB of them. A
:class:`CompactHeader` keeps only the indexing attributes, as one bytes
blob of the elements exactly as the file encodes them (PS3.5 7.1; about
1 kB), and rebuilds a Dataset of raw elements when something needs it (the
browser's first row of a series, the annotations of the image shown).
Values keep their original bytes, so character sets and byte order are
decoded exactly as before.

Most of those bytes are the same in every file of a series (patient, study
and series attributes, the image pixel module): they are kept once, shared
by every header whose elements are byte for byte the same
(:data:`PER_INSTANCE_TAGS` apart), and only what differs from file to file
(the SOP Instance UID, instance number, position...) is kept per file; the
File Meta Information's copy of the SOP Instance UID is not kept twice. A
catalog of small files then holds a few hundred bytes a file.

From a header the walker read whole (:attr:`RawHeader.complete`) it also
keeps the rest of what displaying a single frame reads (group 0028 beyond
the index, (2050,0020)), a few dozen bytes for most files, so that showing
the image does not read its header again (:meth:`CompactHeader.display_dataset`).
"""

from __future__ import annotations

import os
import struct

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag, Tag

from viewer.core.dicom.elements import LONG_LENGTH_VRS, elements_in
from viewer.core.dicom.header import INDEX_TAGS, RawHeader

_META_KEEP = (0x00020002, 0x00020003, 0x00020010)  # SOP class, instance, transfer syntax
_META_INSTANCE, _SOP_INSTANCE = 0x00020003, 0x00080018
#: Attributes that usually differ from one file of a series to the next: kept per file. The
#: others are kept in one blob shared by every file whose blob is the same (see the module).
PER_INSTANCE_TAGS = frozenset(
    int(Tag(keyword))
    for keyword in (
        "SOPInstanceUID",
        "InstanceNumber",
        "ImagePositionPatient",
        "SliceLocation",
        "AcquisitionNumber",
        "AcquisitionDate",
        "ContentDate",
        "ContentTime",
        "InstanceCreationDate",
        "ImageType",
        "WindowCenter",
        "WindowWidth",
        "RescaleIntercept",
        "RescaleSlope",
        "SmallestImagePixelValue",
        "LargestImagePixelValue",
        "NumberOfFrames",
        "SliceThickness",
    )
)
#: Shared blobs, each kept once (bounded: a tree whose files share nothing must not grow it for ever).
_SHARED: dict[bytes, bytes] = {}
_SHARED_MAX = 20_000


def _shared(blob: bytes) -> bytes:
    """The one kept copy of `blob` (this one, the first time)."""
    kept = _SHARED.get(blob)
    if kept is None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        kept = _SHARED[blob] = blob
    return kept


#: The display attributes beyond the index are kept up to this many bytes a
#: file: a 16-bit palette's tables (384 kB) stay in the file, read when shown.
DISPLAY_BYTES_KEPT = 4096


def _unpack(blob: bytes, implicit: bool, little: bool) -> dict:
    elements = {}
    for tag, vr, value in elements_in(blob, implicit, little):
        btag = BaseTag(tag)
        vr_text = _dictionary_vr(tag) if vr is None else vr.decode("ascii")
        elements[btag] = RawDataElement(btag, vr_text, len(value), value, 0, implicit, little)
    return elements


def _dictionary_vr(tag: int) -> str | None:
    """An implicit VR element's VR from the dictionary (the text decoders need
    'PN' to be PN); None for 'US or SS' and the like, which pydicom resolves
    from the dataset, and for unknown tags."""
    vr = _IMPLICIT_VRS.get(tag, "")
    if vr == "":
        try:
            vr = dictionary_VR(tag)
        except KeyError:
            vr = None
        vr = _IMPLICIT_VRS[tag] = vr if vr and len(vr) == 2 else None
    return vr


_IMPLICIT_VRS: dict[int, str | None] = {}


class CompactHeader:
    """The indexing attributes of one file, packed; :meth:`dataset` rebuilds them.

    ``own`` holds the file's own elements (:data:`PER_INSTANCE_TAGS`, but
    (0008,0018) *SOP Instance UID* when the caller keeps it as text, see
    :meth:`dataset`); one tuple shared by every header alike holds the rest:
    the other elements of :data:`~viewer.core.dicom.header.INDEX_TAGS`
    (``shared``), those of the File Meta Information kept (``meta``, without
    (0002,0003) when it repeats (0008,0018)), the encoding and the preamble's
    warning; ``display``: see the module (shared too).
    """

    __slots__ = ("_context", "own", "display")

    def __init__(self, header: Dataset | RawHeader, sop_instance_uid: str | None = None):
        raw = header if isinstance(header, RawHeader) else RawHeader.from_dataset(header)
        elements = raw.elements
        index = [tag for tag in elements if tag in INDEX_TAGS]
        own = [tag for tag in index if tag in PER_INSTANCE_TAGS]
        # The UID apart when the caller keeps its text and the value is that text as PS3.5 9.1 pads it.
        uid_apart = sop_instance_uid is not None and raw.value(_SOP_INSTANCE) == _padded_uid(sop_instance_uid)
        if uid_apart:
            own.remove(_SOP_INSTANCE)
        meta, meta_instance = raw.meta, True
        if meta is not None:
            kept = [tag for tag in _META_KEEP if tag in meta]
            if _META_INSTANCE in meta and raw.value(_SOP_INSTANCE) == _meta_value(meta[_META_INSTANCE]):
                kept.remove(_META_INSTANCE)  # the same UID: made again from (0008,0018) when rebuilt
                meta_instance = False
            meta = b"".join([meta[tag] for tag in kept])
        shared = b"".join([elements[tag] for tag in index if tag not in PER_INSTANCE_TAGS])
        self._context = _shared((shared, meta, (raw.implicit, raw.little), meta_instance, uid_apart, raw.preamble_warning))
        self.own = b"".join([elements[tag] for tag in own])
        display = _display_rest(raw)
        self.display = _shared(display) if display is not None else None

    @property
    def shared(self) -> bytes:
        return self._context[0]

    @property
    def meta(self) -> bytes | None:
        return self._context[1]

    @property
    def encoding(self) -> tuple[bool, bool]:
        return self._context[2]

    @property
    def preamble_warning(self) -> str:
        return self._context[5]

    @property
    def blob(self) -> bytes:
        """The indexing attributes' elements, one after another (without a SOP Instance UID kept apart)."""
        return self.shared + self.own

    def encoded(self, sop_instance_uid: str = "") -> tuple[bytes, bytes | None]:
        """The indexing attributes' elements and the File Meta elements kept, as the file encodes them, with
        the SOP Instance UID kept apart (`sop_instance_uid`, the text given when made) put back in both:
        (0008,0018) after the others, (0002,0003) after the meta's. Not in tag order (``shared`` then ``own``)."""
        _shared_blob, meta_blob, (implicit, little), meta_instance, uid_apart, _warning = self._context
        blob = self.blob
        uid = _padded_uid(sop_instance_uid)
        if uid_apart:
            blob += _element(_SOP_INSTANCE, b"UI", uid, implicit, little)
        if meta_blob is not None and not meta_instance:
            meta_blob += _element(_META_INSTANCE, b"UI", uid, False, True)  # File Meta: Explicit VR Little Endian
        return blob, meta_blob

    def dataset(self, sop_instance_uid: str = "") -> Dataset:
        """The indexing attributes (`sop_instance_uid`: the text given when made, if any)."""
        return self._dataset(self.blob, sop_instance_uid)

    def display_dataset(self, path: str | os.PathLike[str], sop_instance_uid: str = "") -> Dataset | None:
        """Every attribute the walker read from `path` (what ``read_index_header(path)`` gives, for
        the display of a single frame); None when they were not kept."""
        if self.display is None:
            return None
        ds = self._dataset(self.blob + self.display, sop_instance_uid)
        ds.filename = str(path)
        return ds

    def _dataset(self, blob: bytes, sop_instance_uid: str) -> Dataset:
        _shared_blob, meta_blob, (implicit, little), meta_instance, uid_apart, warning = self._context
        elements = _unpack(blob, implicit, little)
        if uid_apart:
            value = _padded_uid(sop_instance_uid)
            elements[_SOP_INSTANCE_TAG] = RawDataElement(_SOP_INSTANCE_TAG, "UI", len(value), value, 0, implicit, little)
        ds = Dataset(elements)
        if meta_blob is not None:
            meta = FileMetaDataset()
            meta._dict.update(_unpack(meta_blob, False, True))
            instance = elements.get(_SOP_INSTANCE_TAG)
            if not meta_instance and instance is not None:
                value = instance.value
                meta._dict[_META_INSTANCE_TAG] = RawDataElement(_META_INSTANCE_TAG, "UI", len(value), value, 0, False, True)
                meta._dict = dict(sorted(meta._dict.items()))
            ds.file_meta = meta
        ds.set_original_encoding(implicit, little, None)
        ds.preamble_warning = warning
        return ds

    @property
    def nbytes(self) -> int:
        """Bytes of the elements kept (shared ones included)."""
        return len(self.shared) + len(self.own) + len(self.meta or b"") + len(self.display or b"")


def _padded_uid(uid: str) -> bytes:
    """A UID's value as PS3.5 9.1 encodes it: ASCII, a NUL added to an odd length."""
    value = uid.encode("ascii", "replace")
    return value + b"\x00" if len(value) % 2 else value


_SOP_INSTANCE_TAG, _META_INSTANCE_TAG = BaseTag(_SOP_INSTANCE), BaseTag(_META_INSTANCE)


def _element(tag: int, vr: bytes, value: bytes, implicit: bool, little: bool) -> bytes:
    """One element with a short-length VR (PS3.5 7.1.2, or 7.1.3 when `implicit`), in the byte order given."""
    order = "<" if little else ">"
    head = struct.pack(order + "HH", tag >> 16, tag & 0xFFFF)
    if implicit:
        return head + struct.pack(order + "I", len(value)) + value
    return head + vr + struct.pack(order + "H", len(value)) + value


def _meta_value(element: bytes) -> bytes:
    """The value of a File Meta element (Explicit VR Little Endian, PS3.10 7.1)."""
    return element[12:] if element[4:6] in LONG_LENGTH_VRS else element[8:]


def _display_rest(raw: RawHeader) -> bytes | None:
    """The walked elements beyond the index, packed; None when not kept (not walked, or too large)."""
    if not raw.complete:
        return None
    rest = b"".join([element for tag, element in raw.elements.items() if tag not in INDEX_TAGS])
    return rest if len(rest) <= DISPLAY_BYTES_KEPT else None
