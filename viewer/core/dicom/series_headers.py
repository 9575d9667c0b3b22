"""The index headers of a series' files, read as fast as their likeness allows.

The slices of one series are written by one program, one after another: their
headers usually hold the same elements, with the same lengths, at the same
offsets, and differ only in a few values (SOP Instance UID, Instance Number,
Image Position (Patient), Slice Location...). :func:`read_series_headers`
walks the first file once (PS3.5 7.1: every top-level element's header, up to
(7FE0,0010) *Pixel Data*), then reads each other file's header bytes with one
``pread`` and compares them with the first's in one numpy operation: when no
byte of any element's tag, VR or length (nor of the preamble, nor inside a
value of undefined length) differs, the file has exactly the first's
structure, and its header is the first's with the values that differ taken
from its own bytes. The result is what :func:`~viewer.core.dicom.header.read_index_header`
gives for each file, value for value; any file laid out otherwise (other
lengths, another element, big endian, a file missing or unreadable) is read
by ``read_index_header`` itself, so its result or its error is the same.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset

from viewer.core.dicom.elements import PIXEL_DATA, UNDEFINED_LENGTH, Source, Unwalkable, element_spans, read_file_meta
from viewer.core.dicom.header import raw_data_elements, read_index_header, walk_raw_header

#: Files larger than this are not read whole to learn the layout (the header walk reads them in pieces).
_TEMPLATE_LIMIT = 64 << 20
_O_BINARY = getattr(os, "O_BINARY", 0)


class _Layout:
    """The first file's header bytes, where its elements are, and its index header's raw elements."""

    def __init__(self, data: bytes, spans: list[tuple], raw, path: Path):
        self.length = spans[-1][3]  # up to the value of Pixel Data (its header included)
        self.bytes = np.frombuffer(data, np.uint8, self.length)
        structural = np.zeros(self.length, bool)
        structural[:132] = True  # preamble and 'DICM': the preamble warning depends on them
        for _tag, _vr, start, value_pos, length, end in spans:
            structural[start:value_pos] = True
            if length == UNDEFINED_LENGTH:  # items inside could be laid out otherwise
                structural[start:end] = True
        self.structural = structural
        self.starts = np.array([span[2] for span in spans], np.int64)
        self.spans = spans
        self.implicit, self.little = raw.implicit, raw.little
        self.elements = raw_data_elements(raw.elements, raw.implicit, raw.little)
        self.meta = raw_data_elements(raw.meta, False, True)
        self.kept = {i for i, span in enumerate(spans) if span[0] in raw.elements or span[0] in raw.meta}
        self.preamble_warning = raw.preamble_warning
        # Every header read by comparison is this one's instance attributes with its own elements (_like).
        template = Dataset({})
        template.file_meta = FileMetaDataset({})
        template.set_original_encoding(self.implicit, self.little, None)
        template.preamble_warning = self.preamble_warning
        self.template = template

    @classmethod
    def of(cls, path: Path) -> _Layout | None:
        """The layout of `path`, None when siblings cannot be read by comparison (then each is read alone)."""
        try:
            raw = walk_raw_header(path)
            if not raw.little or raw.meta is None or os.path.getsize(path) > _TEMPLATE_LIMIT:
                return None
            with open(path, "rb") as f:
                data = f.read()
            source = Source(data, len(data))
            meta = read_file_meta(source)
            spans, _end = element_spans(source, 132, meta.end, False)
            body, _end = element_spans(source, meta.end, None, raw.implicit)
        except (Unwalkable, struct.error, ValueError, KeyError, OSError):
            return None
        pixel = next((i for i, span in enumerate(body) if span[0] == PIXEL_DATA), None)
        if pixel is None:
            return None
        spans += body[: pixel + 1]
        layout = cls(data, spans, raw, path)
        # The walk and the header reader must agree on every element kept, else trust neither.
        for _tag, _vr, start, _value, _length, end in spans[:-1]:
            if (raw.elements.get(_tag) or raw.meta.get(_tag)) not in (None, data[start:end]):
                return None
        if len(layout.kept) != len(raw.elements) + len(raw.meta):
            return None
        return layout

    def header(self, path: Path, data: bytes) -> Dataset | None:
        """The index header of `path`, whose first bytes are `data`, if laid out as this one, else None."""
        if len(data) < self.length:
            return None
        differ = np.flatnonzero(np.frombuffer(data, np.uint8, self.length) != self.bytes)
        if differ.size and self.structural[differ].any():
            return None
        elements, meta = dict(self.elements), dict(self.meta)
        if differ.size:
            changed: dict[int, bytes] = {}
            # Each element in which a byte differs, once (a dict keeps them in order, cheaper than np.unique).
            for i in dict.fromkeys(np.searchsorted(self.starts, differ, side="right").tolist()):
                if i - 1 in self.kept:
                    tag, _vr, start, _value, _length, end = self.spans[i - 1]
                    changed[tag] = data[start:end]
            if changed:
                own = {tag: element for tag, element in changed.items() if tag >> 16 == 0x0002}
                if own:
                    meta.update(raw_data_elements(own, False, True))
                if len(own) < len(changed):
                    body = {tag: element for tag, element in changed.items() if tag >> 16 != 0x0002}
                    elements.update(raw_data_elements(body, self.implicit, self.little))
        ds = _like(self.template, elements)
        ds.__dict__["file_meta"] = _like(self.template.file_meta, meta)
        ds.__dict__["filename"] = str(path)
        return ds


def _like(template: Dataset, elements: dict) -> Dataset:
    """A dataset of `elements` with every instance attribute of `template` (containers copied, none shared).

    What ``Dataset(elements)`` and the attributes set after it give, without
    running pydicom's ``__setattr__`` a dozen times per dataset: a third of
    reading a thousand headers (cProfile).
    """
    ds = object.__new__(type(template))
    attributes = {name: value.copy() if isinstance(value, (dict, list, set)) else value for name, value in template.__dict__.items()}
    attributes["_dict"] = elements
    ds.__dict__.update(attributes)
    return ds


def _head(path: Path, length: int) -> bytes | None:
    """The first `length` bytes of `path` (fewer if it is shorter), None if it cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_BINARY)
    except OSError:
        return None
    try:
        return os.pread(fd, length, 0) if hasattr(os, "pread") else os.read(fd, length)
    except OSError:
        return None
    finally:
        os.close(fd)


#: How many layouts are remembered: a series' slices vary in a few lengths (Instance Number "9" or "10",
#: a position's digits), so a handful of layouts covers a series; a file matching none is read alone.
_LAYOUTS = 32


def read_series_headers(paths: Sequence[str | os.PathLike[str]], pixel_offset: Callable[[int, int], None] | None = None) -> list[Dataset]:
    """``read_index_header`` of each of `paths` (same values, same errors), faster for files laid out alike.

    `pixel_offset`, if given, is told (index in `paths`, offset) where the
    value of (7FE0,0010) *Pixel Data* starts in each file whose structure is
    a known layout's up to that value (tag, VR and length included): a
    reader of the pixels then needs neither the file's size nor a walk.
    """
    headers = []
    layouts: list[_Layout] = []
    failed = 0
    for index, path in enumerate(p if isinstance(p, Path) else Path(p) for p in paths):
        header = None
        offset = None
        data = _head(path, max(layout.length for layout in layouts) + 256) if layouts else None
        if data is not None:
            for n, layout in enumerate(layouts):
                header = layout.header(path, data)
                if header is not None:
                    offset = layout.length
                    if n:  # the last one matched first: neighbours share lengths
                        layouts.insert(0, layouts.pop(n))
                    break
        if header is None:
            header = read_index_header(path)  # its value or its error, as before
            if len(layouts) < _LAYOUTS and failed < _LAYOUTS:
                layout = _Layout.of(path)
                if layout is not None:
                    layouts.insert(0, layout)
                    offset = layout.length
                else:
                    failed += 1
        headers.append(header)
        if pixel_offset is not None and offset is not None:
            pixel_offset(index, offset)
    return headers


__all__ = ["read_series_headers"]
