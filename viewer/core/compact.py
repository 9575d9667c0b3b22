"""Headers kept small: what a catalog of 100,000 files can afford to hold.

A pydicom Dataset of the ~50 indexing attributes costs about 20 kB in
memory; a folder of 100,000 files would hold 2 GB of them. A
:class:`CompactHeader` keeps only the indexing attributes, as one bytes
blob of (tag, VR, length, value) records (about 1 kB), and rebuilds a
Dataset of raw elements when something needs it (the browser's first row of
a series, the annotations of the image shown). Values keep their original
bytes, so character sets and byte order are decoded exactly as before.
"""

from __future__ import annotations

import struct

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag

from viewer.core.header import INDEX_TAGS

_RECORD = struct.Struct("<I2sI")  # tag, VR, value length
_META_KEEP = (0x00020002, 0x00020003, 0x00020010)  # SOP class, instance, transfer syntax


def _raw_items(ds: Dataset, wanted) -> list[tuple[int, bytes, bytes]]:
    items = []
    for tag, elem in ds._dict.items():
        tag = int(tag)
        if wanted is not None and tag not in wanted:
            continue
        if isinstance(elem, RawDataElement):
            value = elem.value if isinstance(elem.value, bytes) else b""
            vr = (elem.VR or "  ").encode("ascii")[:2]
        elif isinstance(elem, DataElement) and isinstance(elem.value, (bytes, str)) and elem.VR != "SQ":
            value = elem.value.encode("utf-8") if isinstance(elem.value, str) else elem.value
            vr = (elem.VR or "  ").encode("ascii")[:2]
        else:
            continue  # converted numbers, sequences: not needed for indexing
        items.append((tag, vr, value))
    return items


def _pack(items) -> bytes:
    return b"".join(_RECORD.pack(tag, vr, len(value)) + value for tag, vr, value in items)


def _unpack(blob: bytes, implicit: bool, little: bool) -> dict:
    elements = {}
    pos, end = 0, len(blob)
    while pos < end:
        tag, vr, length = _RECORD.unpack_from(blob, pos)
        pos += _RECORD.size
        value = blob[pos : pos + length]
        pos += length
        btag = BaseTag(tag)
        vr_text = vr.decode("ascii").strip() or None
        elements[btag] = RawDataElement(btag, vr_text, length, value, 0, implicit, little)
    return elements


class CompactHeader:
    """The indexing attributes of one file, packed; :meth:`dataset` rebuilds them."""

    __slots__ = ("blob", "meta", "encoding", "preamble_warning")

    def __init__(self, ds: Dataset):
        self.encoding = tuple(getattr(ds, "original_encoding", (False, True))[:2])
        if None in self.encoding:
            self.encoding = (False, True)
        self.blob = _pack(_raw_items(ds, INDEX_TAGS))
        meta = getattr(ds, "file_meta", None)
        self.meta = _pack(_raw_items(meta, set(_META_KEEP))) if meta is not None else None
        self.preamble_warning = getattr(ds, "preamble_warning", "") or ""

    def dataset(self) -> Dataset:
        implicit, little = self.encoding
        ds = Dataset(_unpack(self.blob, implicit, little))
        if self.meta is not None:
            meta = FileMetaDataset()
            meta._dict.update(_unpack(self.meta, False, True))
            ds.file_meta = meta
        ds.set_original_encoding(implicit, little, None)
        ds.preamble_warning = self.preamble_warning
        return ds

    @property
    def nbytes(self) -> int:
        return len(self.blob) + len(self.meta or b"")
