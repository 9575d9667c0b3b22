"""Files cut short: where a file ends inside an element, and what can still be read.

A copy interrupted, a disk full, a download stopped: the file ends inside
an element (PS3.5 7.1), possibly inside a sequence item (PS3.5 7.5) or a
fragment of encapsulated pixel data (PS3.5 A.4). The header before the cut
is intact and worth showing (dcmdump ``+E`` shows it too); the element the
file ends in is not, and must be said to be damaged rather than shown with a
partial value.

:func:`find_truncation` walks element headers only (a few bytes each, never
a value; :mod:`viewer.core.dicom.elements`), so a length field claiming 4 GB
in a 1 kB file costs nothing; it says where the file ends, level by level. :func:`read_readable` then has
pydicom read the file through a view that never hands out more bytes than
the file holds, and marks the elements the cut damaged.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from pydicom.datadict import dictionary_description, dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from pydicom.uid import DeflatedExplicitVRLittleEndian

from viewer.core.dicom.elements import (
    ITEM,
    ITEM_DELIMITER,
    KNOWN_VRS,
    PIXEL_DATA,
    UNDEFINED_LENGTH,
    ElementWalk,
    EndOfData,
    ItemWalk,
    Source,
    Unwalkable,
    encoding_of,
)

#: Nesting deeper than this is not a real file (a hostile one): no verdict.
_MAX_DEPTH = 64

#: Attribute set on each dataset (and sequence item) holding damaged elements: tag -> what is wrong.
DAMAGED = "damaged_elements"


@dataclass(frozen=True)
class Cut:
    """One level of where a file ends: inside element `tag`, which holds `present` of its `declared` bytes.

    `declared` is None for an undefined length. For a sequence (or
    encapsulated pixel data), `item` is the 0-based item the file ends in,
    None when it ends between items. The positions say where the element's
    header starts, where its 32-bit length is and where the item's header
    starts, for :func:`read_readable` to close the sequence there.
    """

    tag: int
    vr: str
    declared: int | None
    present: int
    item: int | None = None
    start: int = 0
    length_at: int | None = None
    item_at: int | None = None
    little: bool = True
    sequence: bool = False


@dataclass(frozen=True)
class Truncation:
    """Where a file ends: `cuts` from the top level down; `after`, the last
    complete element at the innermost level when the file ends between
    elements or inside an element's header; `resume`, where the readable
    bytes stop (the start of what the file ends in)."""

    cuts: tuple[Cut, ...]
    after: int | None = None
    resume: int = 0

    def reason(self) -> str:
        """One line: 'the file is truncated: it ends inside (0018,0060) KVP (2 of 4 bytes)'."""
        parts = []
        for cut in self.cuts:
            text = _tag_name(cut.tag)
            if cut.item is not None:
                # Item 0 of encapsulated pixel data is the Basic Offset Table (PS3.5 A.4).
                fragment = f", fragment {cut.item}" if cut.item else ", its offset table"
                text += f", item {cut.item + 1}" if cut.tag != PIXEL_DATA else fragment
            elif cut.declared is not None and not cut.sequence:
                text += f" ({cut.present:,} of {cut.declared:,} bytes)"
            parts.append(text)
        where = " > ".join(parts)
        if self.cuts and (self.cuts[-1].item is None or self.after is None):
            return f"the file is truncated: it ends inside {where}"
        after = f"after {_tag_name(self.after)}" if self.after is not None else "at its first element"
        inside = f"inside {where}, " if where else ""
        return f"the file is truncated: it ends {inside}{after}"


def _tag_name(tag: int) -> str:
    text = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
    try:
        return f"{text} {dictionary_description(tag)}"
    except KeyError:
        return text


# ----------------------------------------------------------------------------- the walk


class _NoVerdict(Exception):
    """The structure is damaged in some other way than a cut: pydicom's reader decides."""


@dataclass(frozen=True)
class _Ends:
    """The file ends in the walked part: `cuts` below this level, the last whole element, where reading stops."""

    cuts: tuple[Cut, ...]
    after: int | None
    resume: int


class _Walker:
    """Where a file ends, level by level, from its element headers (never a value)."""

    def __init__(self, source: Source):
        self.source, self.size = source, source.size

    def dataset(self, pos: int, end: int | None, little: bool, implicit: bool, depth: int, delimited: bool = False):
        """Walk a dataset's elements from `pos` to `end` (or to its item delimiter).

        Returns the position after it when it is whole, an :class:`_Ends` when the file ends in it.
        """
        if depth > _MAX_DEPTH:
            raise _NoVerdict
        last = None
        walk = ElementWalk(self.source, pos, little, implicit, end)
        try:
            for tag, code, length, start, value_pos in walk:
                if delimited and tag == ITEM_DELIMITER:
                    return value_pos
                if tag >> 16 == 0xFFFE:
                    raise _NoVerdict  # a stray item or delimiter: not a cut
                vr = code.decode("ascii") if code else _dictionary_vr(tag)
                undefined = length == UNDEFINED_LENGTH
                sequence = vr == "SQ" or (undefined and vr in ("", "UN"))
                fragments = tag == PIXEL_DATA and undefined
                if undefined and not (sequence or fragments):
                    raise _NoVerdict
                length_at = value_pos - 4
                if sequence or fragments:
                    # An undefined-length UN is a sequence in implicit VR little endian (PS3.5 6.2.2).
                    inner_little, inner_implicit = (True, True) if vr == "UN" else (little, implicit)
                    limit = None if undefined else value_pos + length
                    found = self.items(value_pos, limit, inner_little, inner_implicit, depth, fragments)
                    if isinstance(found, tuple):
                        item, item_at, below = found
                        present = max(0, self.size - value_pos)
                        declared = None if undefined else length
                        if fragments:  # no dataset inside: read up to the element, not into it
                            return _Ends((Cut(tag, vr, declared, present, item, start, length_at, None, little),), None, start)
                        cut = Cut(tag, vr, declared, present, item, start, length_at, item_at, inner_little, True)
                        return _Ends((cut, *below.cuts), below.after, below.resume)
                    walk.resume(found)
                elif value_pos + length > self.size:
                    return _Ends((Cut(tag, vr, length, max(0, self.size - value_pos), None, start, None, None, little),), None, start)
                last = tag
        except EndOfData:
            return _Ends((), last, walk.pos)  # inside an element's header
        except Unwalkable:
            raise _NoVerdict from None
        if walk.end < self.size or (end is None and not delimited and walk.pos >= self.size):
            return walk.pos  # at its end (or the top level's, with the file)
        return _Ends((), last, walk.pos)  # inside an element's header, or before the item's delimiter

    def items(self, pos: int, end: int | None, little: bool, implicit: bool, depth: int, fragments: bool):
        """Walk the items of a sequence (or the fragments of encapsulated pixel data).

        Returns the position after it when whole, or (item index or None, item header position, _Ends).
        """
        index = 0
        walk = ItemWalk(self.source, pos, little, implicit, end)
        try:
            for tag, _, length, start, value_pos in walk:
                if tag != ITEM:
                    raise _NoVerdict
                if fragments:
                    if length == UNDEFINED_LENGTH:
                        raise _NoVerdict
                    if value_pos + length > self.size:
                        return index, start, _Ends((), None, start)
                elif length == UNDEFINED_LENGTH or value_pos + length > self.size:
                    limit = None if length == UNDEFINED_LENGTH else value_pos + length
                    found = self.dataset(value_pos, limit, little, implicit, depth + 1, delimited=length == UNDEFINED_LENGTH)
                    if isinstance(found, _Ends):
                        return index, start, found
                    walk.resume(found)
                index += 1
        except EndOfData:
            return None, None, _Ends((), None, walk.pos)  # inside an item's header
        except Unwalkable:
            raise _NoVerdict from None
        if walk.delimited or (end is not None and walk.pos >= end):
            return walk.pos
        if walk.end < self.size:
            raise _NoVerdict  # stray bytes before the sequence's end: damaged, not cut
        return None, None, _Ends((), None, walk.pos)  # between items


def _dictionary_vr(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return ""


def _syntax(source: Source) -> tuple[int, bool, bool, _Ends | None]:
    """Where the dataset starts and its encoding, after the meta group (PS3.10 7.1);
    an :class:`_Ends` when the file ends inside the meta group."""
    head = source.at(0, 132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        syntax, last = None, None
        walk = ElementWalk(source, 132, True, False, group=0x0002)  # the meta group: explicit VR little endian
        try:
            for tag, code, length, start, value_pos in walk:
                if value_pos + length > source.size:
                    return (
                        start,
                        True,
                        False,
                        _Ends((Cut(tag, code.decode("ascii"), length, source.size - value_pos, None, start),), None, start),
                    )
                if tag == 0x00020010:
                    syntax = bytes(source.at(value_pos, min(length, 64))).decode("ascii", "replace").strip("\x00 ")
                last = tag
        except EndOfData:
            return walk.pos, True, False, _Ends((), last, walk.pos)
        pos = walk.pos
        if walk.pos < source.size and (len(source.at(pos, 2)) < 2 or source.at(pos, 2) == b"\x02\x00"):
            return pos, True, False, _Ends((), last, pos)  # inside the header of a meta element
        if syntax is None or syntax == DeflatedExplicitVRLittleEndian:
            raise _NoVerdict  # no syntax, or a deflated stream: pydicom decides
        implicit, little = encoding_of(syntax)  # the encapsulated syntaxes are explicit VR little endian (PS3.5 A.4)
        return pos, little, implicit, None
    # No preamble (ACR-NEMA style): a group 0008 element first, whose bytes say the encoding.
    if len(head) < 8 or head[:2] not in (b"\x08\x00", b"\x00\x08"):
        raise _NoVerdict
    little = head[:2] != b"\x00\x08"
    implicit = bytes(head[4:6]) not in KNOWN_VRS
    return 0, little, implicit, None


def find_truncation(path: str | os.PathLike[str]) -> Truncation | None:
    """Where `path` ends inside an element, or None when it does not (or the walk cannot tell).

    Reads element headers only: sizes come from the file, never from a
    length field, so a hostile length costs nothing.
    """
    try:
        with open(path, "rb") as f:
            source = Source.from_file(f, 1 << 16)
            pos, little, implicit, ends = _syntax(source)
            if ends is None:
                ends = _Walker(source).dataset(pos, None, little, implicit, 0)
    except (_NoVerdict, OSError, struct.error, UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(ends, _Ends):
        return None
    return Truncation(ends.cuts, ends.after, ends.resume)


# ----------------------------------------------------------------------------- reading what is there


class _RepairedView:
    """The file as far as it can be read, closed as if it had been written whole.

    Reads never return (or allocate) more than the file holds. Up to
    `resume` the bytes are the file's, except that the lengths of the
    sequences and items the file ends in read as undefined; then come the
    item and sequence delimiters (PS3.5 7.5.2) that close them. pydicom
    reads this without meeting the cut; every value keeps its file position.
    """

    def __init__(self, path: Path, truncation: Truncation):
        self._f = open(path, "rb")
        self._limit = truncation.resume
        self._patches: list[tuple[int, bytes]] = []
        tail = b""
        sequences = [cut for cut in truncation.cuts if cut.sequence]
        for cut in sequences:
            if cut.length_at is not None:
                self._patches.append((cut.length_at, b"\xff\xff\xff\xff"))
            if cut.item_at is not None:
                self._patches.append((cut.item_at + 4, b"\xff\xff\xff\xff"))
        for cut in reversed(sequences):
            tag = "<HH" if cut.little else ">HH"
            if cut.item_at is not None:
                tail += struct.pack(tag, 0xFFFE, 0xE00D) + b"\0\0\0\0"
            tail += struct.pack(tag, 0xFFFE, 0xE0DD) + b"\0\0\0\0"
        self._tail = tail
        self.name = str(path)

    def read(self, n: int | None = -1) -> bytes:
        pos = self._f.tell()
        total = self._limit + len(self._tail)
        n = max(0, total - pos) if n is None or n < 0 else max(0, min(n, total - pos))
        data = self._f.read(max(0, min(n, self._limit - pos)))
        for at, patch in self._patches:
            if pos < at + len(patch) and at < pos + len(data):
                buffer = bytearray(data)
                for i, byte in enumerate(patch):
                    if 0 <= at + i - pos < len(buffer):
                        buffer[at + i - pos] = byte
                data = bytes(buffer)
        if len(data) < n:  # into the tail
            start = max(0, pos + len(data) - self._limit)
            data += self._tail[start : start + n - len(data)]
        self._f.seek(pos + len(data))
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 2:
            return self._f.seek(self._limit + len(self._tail) + offset)
        return self._f.seek(offset, whence)

    def tell(self) -> int:
        return self._f.tell()

    def close(self) -> None:
        self._f.close()

    @property
    def closed(self) -> bool:
        return self._f.closed


def read_readable(path: Path, truncation: Truncation):
    """Every element of the truncated file `path` before the cut, with the damaged ones marked.

    pydicom reads the file through a :class:`_RepairedView` (bulk values
    over 1 kB deferred, as for any inspection). Each element the file ends
    in keeps its row but not its partial value; each dataset on the way down
    gets ``damaged_elements`` {tag: what is wrong}. Raises whatever pydicom
    raises when even that fails.
    """
    import pydicom

    view = _RepairedView(path, truncation)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the damage is reported once, as the one-line reason
            ds = pydicom.dcmread(view, defer_size=1024, force=True)
    finally:
        view.close()
    ds.filename, ds.fileobj_type = str(path), open  # deferred values are read from the file itself
    _mark(ds, truncation)
    return ds


def _damage(cut: Cut) -> str:
    if cut.declared is not None and not cut.sequence and cut.item is None:
        return f"truncated: the file holds {cut.present:,} of its {cut.declared:,} bytes"
    if cut.tag == PIXEL_DATA:
        return "truncated: the file ends inside the encapsulated pixel data"
    return "truncated: the file ends inside this sequence"


def _mark(ds: Dataset, truncation: Truncation) -> None:
    """Record the damage on each level; put back the element the file ends in, without its value."""
    level = ds
    cuts = truncation.cuts
    if cuts and cuts[0].tag >> 16 == 0x0002 and getattr(ds, "file_meta", None) is not None:
        level = ds.file_meta
    for cut in cuts:
        tag = Tag(cut.tag)
        setattr(level, DAMAGED, {**(getattr(level, DAMAGED, None) or {}), int(tag): _damage(cut)})
        if cut.sequence and cut.item is not None and tag in level:
            items = level[tag].value
            if cut.item < len(items):
                level = items[cut.item]
                continue
            break
        if tag not in level:
            # Its partial value is not the attribute's value: a row, without the bytes.
            length = cut.declared if cut.declared is not None else UNDEFINED_LENGTH
            level._dict[tag] = RawDataElement(tag, cut.vr or "UN", length, b"", 0, False, cut.little)
        break
