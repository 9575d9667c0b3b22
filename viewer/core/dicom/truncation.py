"""Files cut short: where a file ends inside an element, and what can still be read.

A copy interrupted, a disk full, a download stopped: the file ends inside
an element (PS3.5 7.1), possibly inside a sequence item (PS3.5 7.5) or a
fragment of encapsulated pixel data (PS3.5 A.4). The header before the cut
is intact and worth showing (dcmdump ``+E`` shows it too); the element the
file ends in is not, and must be said to be damaged rather than shown with a
partial value.

:func:`find_truncation` walks element headers only (a few bytes each, never
a value), so a length field claiming 4 GB in a 1 kB file costs nothing; it
says where the file ends, level by level. :func:`read_readable` then has
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

#: Explicit VRs with a 4-byte length after 2 reserved bytes (PS3.5 Table 7.1-1).
_LONG_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"}
_KNOWN_VRS = _LONG_VRS | set("AE AS AT CS DA DS DT FL FD IS LO LT PN SH SL SS ST TM UI UL US".split())
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_IMPLICIT_LE, _EXPLICIT_BE, _DEFLATED = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"
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
                text += f", item {cut.item + 1}" if cut.tag != _PIXEL_DATA else fragment
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
    """Element headers of an open file, read a few bytes at a time (never a value)."""

    def __init__(self, f, size: int):
        self.f, self.size = f, size

    def header(self, pos: int, little: bool, implicit: bool):
        """(tag, VR or '', length, value position) at `pos`, or None if the file ends inside it."""
        if pos + 8 > self.size:
            return None
        self.f.seek(pos)
        head = self.f.read(min(12, self.size - pos))
        group, element = struct.unpack_from("<HH" if little else ">HH", head)
        tag = (group << 16) | element
        u32 = "<L" if little else ">L"
        if implicit or group == 0xFFFE:  # items and delimiters have no VR (PS3.5 7.5)
            return tag, "", struct.unpack_from(u32, head, 4)[0], pos + 8
        vr = head[4:6].decode("latin-1")
        if vr not in _KNOWN_VRS:
            raise _NoVerdict
        if vr in _LONG_VRS:
            if len(head) < 12:
                return None
            return tag, vr, struct.unpack_from(u32, head, 8)[0], pos + 12
        return tag, vr, struct.unpack_from("<H" if little else ">H", head, 6)[0], pos + 8

    def dataset(self, pos: int, end: int | None, little: bool, implicit: bool, depth: int, delimited: bool = False):
        """Walk a dataset's elements from `pos` to `end` (or to its item delimiter).

        Returns the position after it when it is whole, an :class:`_Ends` when the file ends in it.
        """
        if depth > _MAX_DEPTH:
            raise _NoVerdict
        last = None
        while True:
            if end is not None and pos >= end:
                return pos
            if end is None and not delimited and pos >= self.size:
                return pos  # the top level ends cleanly with the file
            head = self.header(pos, little, implicit)
            if head is None:
                return _Ends((), last, pos)
            tag, vr, length, value_pos = head
            if delimited and tag == _ITEM_END:
                return value_pos
            if tag >> 16 == 0xFFFE:
                raise _NoVerdict  # a stray item or delimiter: not a cut
            vr = vr or _dictionary_vr(tag)
            undefined = length == _UNDEFINED
            sequence = vr == "SQ" or (undefined and vr in ("", "UN"))
            fragments = tag == _PIXEL_DATA and undefined
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
                    if fragments:  # no dataset inside: read up to the element, not into it
                        cut = Cut(tag, vr, None if undefined else length, present, item, pos, length_at, None, little)
                        return _Ends((cut,), None, pos)
                    cut = Cut(tag, vr, None if undefined else length, present, item, pos, length_at, item_at, inner_little, True)
                    return _Ends((cut, *below.cuts), below.after, below.resume)
                pos = found
            elif value_pos + length > self.size:
                return _Ends((Cut(tag, vr, length, max(0, self.size - value_pos), None, pos, None, None, little),), None, pos)
            else:
                pos = value_pos + length
            last = tag

    def items(self, pos: int, end: int | None, little: bool, implicit: bool, depth: int, fragments: bool):
        """Walk the items of a sequence (or the fragments of encapsulated pixel data).

        Returns the position after it when whole, or (item index or None, item header position, _Ends).
        """
        index = 0
        while True:
            if end is not None and pos >= end:
                return pos
            head = self.header(pos, little, True)
            if head is None:
                return None, None, _Ends((), None, pos)  # between items, or inside an item's header
            tag, _, length, value_pos = head
            if tag == _SEQUENCE_END:
                return value_pos
            if tag != _ITEM:
                raise _NoVerdict
            if fragments:
                if length == _UNDEFINED:
                    raise _NoVerdict
                if value_pos + length > self.size:
                    return index, pos, _Ends((), None, pos)
                pos = value_pos + length
            elif length == _UNDEFINED or value_pos + length > self.size:
                limit = None if length == _UNDEFINED else value_pos + length
                found = self.dataset(value_pos, limit, little, implicit, depth + 1, delimited=length == _UNDEFINED)
                if isinstance(found, _Ends):
                    return index, pos, found
                pos = found
            else:
                pos = value_pos + length
            index += 1


def _dictionary_vr(tag: int) -> str:
    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return ""


def _syntax(walker: _Walker) -> tuple[int, bool, bool, _Ends | None]:
    """Where the dataset starts and its encoding, after the meta group (PS3.10 7.1);
    an :class:`_Ends` when the file ends inside the meta group."""
    f = walker.f
    f.seek(0)
    head = f.read(132)
    if len(head) >= 132 and head[128:132] == b"DICM":
        pos, syntax, last = 132, None, None
        while True:
            f.seek(pos)
            group = f.read(2)
            if len(group) == 2 and group != b"\x02\x00":
                break  # the dataset starts, in its own encoding
            found = walker.header(pos, True, False)
            if found is None:
                if pos >= walker.size:
                    break  # a meta group alone (the dataset walk finds nothing more)
                return pos, True, False, _Ends((), last, pos)
            tag, vr, length, value_pos = found
            if value_pos + length > walker.size:
                return pos, True, False, _Ends((Cut(tag, vr, length, walker.size - value_pos, None, pos),), None, pos)
            if tag == 0x00020010:
                f.seek(value_pos)
                syntax = f.read(min(length, 64)).decode("ascii", "replace").strip("\x00 ")
            pos, last = value_pos + length, tag
        if syntax is None or syntax == _DEFLATED:
            raise _NoVerdict  # no syntax, or a deflated stream: pydicom decides
        # Every other syntax (the encapsulated ones included) is explicit VR little endian (PS3.5 A.4).
        return pos, syntax != _EXPLICIT_BE, syntax == _IMPLICIT_LE, None
    # No preamble (ACR-NEMA style): a group 0008 element first, whose bytes say the encoding.
    if len(head) < 8 or head[:2] not in (b"\x08\x00", b"\x00\x08"):
        raise _NoVerdict
    little = head[:2] != b"\x00\x08"
    implicit = head[4:6].decode("latin-1") not in _KNOWN_VRS
    return 0, little, implicit, None


def find_truncation(path: str | os.PathLike[str]) -> Truncation | None:
    """Where `path` ends inside an element, or None when it does not (or the walk cannot tell).

    Reads element headers only: sizes come from the file, never from a
    length field, so a hostile length costs nothing.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            walker = _Walker(f, size)
            pos, little, implicit, ends = _syntax(walker)
            if ends is None:
                ends = walker.dataset(pos, None, little, implicit, 0)
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
    if cut.tag == _PIXEL_DATA:
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
            length = cut.declared if cut.declared is not None else _UNDEFINED
            level._dict[tag] = RawDataElement(tag, cut.vr or "UN", length, b"", 0, False, cut.little)
        break
