"""Headers kept small: what a catalog of 100,000 files can afford to hold.

A pydicom Dataset of the ~50 indexing attributes costs about 20 kB in
memory; a folder of 100,000 files would hold 2 GB of them. A
:class:`CompactHeader` keeps only the indexing attributes, as one bytes
blob of the elements exactly as the file encodes them (PS3.5 7.1; about
1 kB), and rebuilds a Dataset of raw elements when something needs it (the
browser's first row of a series, the annotations of the image shown).
Values keep their original bytes, so character sets and byte order are
decoded exactly as before.

From a header the walker read whole (:attr:`RawHeader.complete`) it also
keeps the rest of what displaying a single frame reads (group 0028 beyond
the index, (2050,0020)), a few dozen bytes for most files, so that showing
the image does not read its header again (:meth:`CompactHeader.display_dataset`).
"""

from __future__ import annotations

import os

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.tag import BaseTag

from viewer.core.dicom.elements import elements_in
from viewer.core.dicom.header import INDEX_TAGS, RawHeader

_META_KEEP = (0x00020002, 0x00020003, 0x00020010)  # SOP class, instance, transfer syntax
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
#: (implicit VR, little endian): one tuple shared by every header.
_ENCODINGS = {(implicit, little): (implicit, little) for implicit in (False, True) for little in (False, True)}


class CompactHeader:
    """The indexing attributes of one file, packed; :meth:`dataset` rebuilds them."""

    __slots__ = ("blob", "meta", "encoding", "preamble_warning", "display")

    def __init__(self, header: Dataset | RawHeader):
        raw = header if isinstance(header, RawHeader) else RawHeader.from_dataset(header)
        self.encoding = _ENCODINGS[raw.implicit, raw.little]
        self.blob = b"".join([element for tag, element in raw.elements.items() if tag in INDEX_TAGS])
        meta = raw.meta
        self.meta = b"".join([meta[tag] for tag in _META_KEEP if tag in meta]) if meta is not None else None
        self.preamble_warning = raw.preamble_warning
        self.display = _display_rest(raw)

    def dataset(self) -> Dataset:
        """The indexing attributes."""
        return self._dataset(self.blob)

    def display_dataset(self, path: str | os.PathLike[str]) -> Dataset | None:
        """Every attribute the walker read from `path` (what ``read_index_header(path)`` gives, for
        the display of a single frame); None when they were not kept."""
        if self.display is None:
            return None
        ds = self._dataset(self.blob + self.display)
        ds.filename = str(path)
        return ds

    def _dataset(self, blob: bytes) -> Dataset:
        implicit, little = self.encoding
        ds = Dataset(_unpack(blob, implicit, little))
        if self.meta is not None:
            meta = FileMetaDataset()
            meta._dict.update(_unpack(self.meta, False, True))
            ds.file_meta = meta
        ds.set_original_encoding(implicit, little, None)
        ds.preamble_warning = self.preamble_warning
        return ds

    @property
    def nbytes(self) -> int:
        return len(self.blob) + len(self.meta or b"") + len(self.display or b"")


def _display_rest(raw: RawHeader) -> bytes | None:
    """The walked elements beyond the index, packed; None when not kept (not walked, or too large)."""
    if not raw.complete:
        return None
    rest = b"".join([element for tag, element in raw.elements.items() if tag not in INDEX_TAGS])
    return rest if len(rest) <= DISPLAY_BYTES_KEPT else None
