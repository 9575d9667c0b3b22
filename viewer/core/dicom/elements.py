"""The one element walker: the structure of an encoded dataset, read without decoding it.

Every reader of the core that looks at a file's elements itself (the index
header, DICOMDIR records, where a file is cut, claimed lengths, where native
pixel data lies, datasets received over the network) walks them with this
module; none reads an element header itself:

- :func:`element_header` reads one element's tag, VR and length in any
  transfer syntax (PS3.5 7.1: implicit VR, explicit VR, either byte order;
  items and delimiters have no VR in any syntax, PS3.5 7.5);
- :class:`ElementWalk` iterates over the elements of one dataset (the top
  level, or an item's), stepping over each value without reading it;
  :class:`ItemWalk` over the items of a sequence (PS3.5 7.5) or the fragments
  of encapsulated pixel data (PS3.5 A.4); :func:`skip_sequence` and
  :func:`skip_item` step over values of undefined length;
- :func:`read_file_meta` reads the File Meta Information (PS3.10 7.1);
- :func:`keep_top_level` is the indexing hot loop: one pass over the top
  level keeping the elements wanted, as encoded; :func:`element_spans` the
  rewriting one (de-identification): every element's place, in one pass.

:mod:`viewer.core.dicom.structure` answers questions about a file's
structure with these walks (where native pixel data lies, which element
claims more than the file holds).

Values are read only when a caller asks (:meth:`Source.value`), and never
sized from a length field: a :class:`Source` knows how many bytes there are
(fstat, or the buffer's length), so a 32-bit length claiming 4 GB in a 1 kB
file raises :class:`EndOfData` before anything is allocated. A large value
(pixel data, a private blob) is stepped over by seeking: only the element
headers around it are read.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pydicom.dataelem import RawDataElement

# pydicom is imported where it is used, not here: the byte-level readers and writers (de-identification
# of a folder, PS3.15) run without it, and importing it (with numpy) is most of a headless command's start.
#: PS3.5 A.1 and A.3: the Transfer Syntax UIDs whose encoding differs from Explicit VR Little Endian.
ImplicitVRLittleEndian = "1.2.840.10008.1.2"
ExplicitVRBigEndian = "1.2.840.10008.1.2.2"

#: The length of a value delimited by an item or sequence delimiter instead (PS3.5 7.1.1).
UNDEFINED_LENGTH = 0xFFFFFFFF
#: (FFFE,E000) *Item*, (FFFE,E00D) *Item Delimitation Item*, (FFFE,E0DD) *Sequence Delimitation Item* (PS3.5 7.5).
ITEM, ITEM_DELIMITER, SEQUENCE_DELIMITER = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
#: (7FE0,0010) *Pixel Data*.
PIXEL_DATA = 0x7FE00010
#: Explicit VRs whose length is 32 bits, after 2 reserved bytes (PS3.5 Table 7.1-1).
LONG_LENGTH_VRS = frozenset(v.encode() for v in "OB OD OF OL OV OW SQ UC UN UR UT SV UV".split())
#: Every VR of PS3.5 6.2. pydicom raises NotImplementedError for any other code wherever the value
#: is first read, so a walk meeting one gives up and leaves the file to pydicom's reader, which takes
#: the element as implicit VR (tests/robustness/crashes/unknown_vr_rows.dcm).
KNOWN_VRS = frozenset(
    v.encode() for v in "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split()
)

#: Bytes read at a time past the start of a file a walk has read (a few element headers, a page).
_WINDOW = 1 << 13
_ITEM_GROUP = 0xFFFE
_TAG_LE, _TAG_BE = struct.Struct("<HH"), struct.Struct(">HH")
_U16_LE, _U16_BE = struct.Struct("<H"), struct.Struct(">H")
_U32_LE, _U32_BE = struct.Struct("<L"), struct.Struct(">L")
_EXPLICIT_LE_HEAD = struct.Struct("<HH2sH")  # group, element, VR, 16-bit length
_IMPLICIT_LE_HEAD = struct.Struct("<HHL")  # group, element, 32-bit length
#: Element header size by VR in explicit VR (PS3.5 7.1.2); a code missing here is no VR.
_HEADER_SIZE = {vr: 12 if vr in LONG_LENGTH_VRS else 8 for vr in KNOWN_VRS}
_LONG_VR_CODES = {(v[0] << 8) | v[1] for v in LONG_LENGTH_VRS}
_SHORT_VR_CODES = {(v[0] << 8) | v[1] for v in KNOWN_VRS} - _LONG_VR_CODES


class Unwalkable(ValueError):
    """The bytes are not a dataset this walker reads (an unknown VR code, a damaged
    sequence, a deflated stream): pydicom's reader, or the caller, decides."""


class EndOfData(Unwalkable):
    """The data ends before what an element needs: its header, or the value its length claims."""


class ElementHeader(NamedTuple):
    """One element's header (PS3.5 7.1): its tag as one number, its VR code (None in
    implicit VR and for items and delimiters), its value's length (:data:`UNDEFINED_LENGTH`
    when delimited), where the element starts and where its value starts."""

    tag: int
    vr: bytes | None
    length: int
    offset: int
    value_offset: int


class FileMeta(NamedTuple):
    """The File Meta Information (group 0002, PS3.10 7.1): each element's bytes as
    encoded by tag, where the dataset starts, and (0002,0010) *Transfer Syntax UID*."""

    elements: dict[int, bytes]
    end: int
    transfer_syntax: str


class Source:
    """The bytes of an encoded dataset by position: a file, read as a walk needs it, or bytes in memory.

    ``data`` holds the bytes from position 0 read so far; :meth:`need` reads
    further. ``size`` is how many bytes there are (the file's size from
    fstat, never a length field). :meth:`at` reads a few bytes anywhere, far
    past ``data`` by seeking, so a walk steps over a large value unread.
    """

    __slots__ = ("data", "size", "_read_at", "_window", "_window_at")

    def __init__(self, data, size: int, read_at=None):
        self.data = data
        self.size = size
        self._read_at = read_at  # (position, count) -> bytes; None: all of it is in `data`
        self._window, self._window_at = b"", 0

    @classmethod
    def from_descriptor(cls, fd: int, first: int) -> Source:
        """The file open as `fd` (at its start), its first `first` bytes read with
        os.read: no Python file object, and no stat when that read already reached the end."""
        data = os.read(fd, first)
        size = len(data) if len(data) < first else os.fstat(fd).st_size
        if hasattr(os, "pread"):
            return cls(data, size, lambda pos, count: os.pread(fd, count, pos))

        def read_at(pos: int, count: int) -> bytes:  # Windows: no pread
            os.lseek(fd, pos, os.SEEK_SET)
            return os.read(fd, count)

        return cls(data, size, read_at)

    @classmethod
    def from_file(cls, f, first: int) -> Source:
        """The binary file object `f` (at its start), its first `first` bytes read."""
        data = f.read(first)
        size = os.fstat(f.fileno()).st_size

        def read_at(pos: int, count: int) -> bytes:
            f.seek(pos)
            return f.read(count)

        return cls(data, size, read_at)

    @classmethod
    def from_bytes(cls, data) -> Source:
        """Bytes-like `data` already in memory: nothing more to read."""
        return cls(data, len(data))

    def need(self, end: int) -> None:
        """Make ``data`` hold the first `end` bytes (reading at least as much again as it
        holds); raises :class:`EndOfData` beyond the data.

        Never allocates for more than there is: a 32-bit length in a 1 kB file
        may claim 4 GB, and f.read(n) allocates n bytes first (MemoryError, or
        gigabytes held; tests/robustness/crashes/huge_length_in_sequence.dcm).
        """
        if end > len(self.data):
            if end > self.size or self._read_at is None:
                raise EndOfData("truncated")
            want = max(end - len(self.data), len(self.data))
            while len(self.data) < end:
                more = self._read_at(len(self.data), want)
                if not more:
                    raise EndOfData("truncated")
                self.data += more

    def at(self, pos: int, count: int):
        """Up to `count` bytes at `pos` (fewer where the data ends): from ``data``, else
        from a small window read at `pos`, so a value between two headers is never read
        and memory stays bounded whatever the file's size."""
        end = pos + count
        data = self.data
        if end <= len(data) or len(data) >= self.size or self._read_at is None:
            return data[pos:end]
        window, start = self._window, pos - self._window_at
        if start < 0 or (start + count > len(window) and self._window_at + len(window) < self.size):
            window = self._read_at(pos, max(count, _WINDOW))
            self._window, self._window_at, start = window, pos, 0
        return window[start : start + count]

    def value(self, element: ElementHeader) -> bytes:
        """The value of `element` (of defined length); raises :class:`EndOfData` when the data ends first."""
        end = element.value_offset + element.length
        self.need(end)
        return bytes(self.data[element.value_offset : end])


def encoding_of(transfer_syntax: str) -> tuple[bool, bool]:
    """(implicit VR, little endian) of a dataset in `transfer_syntax` (PS3.5 A): every
    syntax but the two below is explicit VR little endian (deflate aside: its stream
    is not walked)."""
    return transfer_syntax == ImplicitVRLittleEndian, transfer_syntax != ExplicitVRBigEndian


def element_header(source: Source, pos: int, little: bool, implicit: bool, tolerant: bool = False) -> ElementHeader:
    """The header of the element at `pos` (PS3.5 7.1.1-7.1.3, 7.5).

    Raises :class:`EndOfData` when the data ends inside it, :class:`Unwalkable`
    for a VR code PS3.5 6.2 does not know (in explicit VR), unless `tolerant`:
    then that element is read as one with a 16-bit length.
    """
    head, at = source.data, pos
    if pos + 12 > len(head):
        head, at = source.at(pos, 12), 0
        if len(head) < 8:
            raise EndOfData("truncated")
    implicit_head, explicit_head, u32 = _LITTLE if little else _BIG
    if implicit:
        group, elem, length = implicit_head(head, at)
        return _new_header(ElementHeader, ((group << 16) | elem, None, length, pos, pos + 8))
    group, elem, vr, length = explicit_head(head, at)
    if group == _ITEM_GROUP:  # items and delimiters have no VR in any syntax
        return _new_header(ElementHeader, ((group << 16) | elem, None, u32(head, at + 4)[0], pos, pos + 8))
    size = _HEADER_SIZE.get(vr)
    if size == 12:
        if len(head) < at + 12:
            raise EndOfData("truncated")
        return _new_header(ElementHeader, ((group << 16) | elem, vr, u32(head, at + 8)[0], pos, pos + 12))
    if size is None and not tolerant:
        raise Unwalkable("not explicit VR")
    return _new_header(ElementHeader, ((group << 16) | elem, vr, length, pos, pos + 8))


#: Header readers by byte order: implicit VR (tag, 32-bit length), explicit VR (tag, VR, 16-bit length), a 32-bit length.
_LITTLE = (struct.Struct("<HHL").unpack_from, struct.Struct("<HH2sH").unpack_from, _U32_LE.unpack_from)
_BIG = (struct.Struct(">HHL").unpack_from, struct.Struct(">HH2sH").unpack_from, _U32_BE.unpack_from)
_new_header = tuple.__new__  # an ElementHeader without NamedTuple's Python-level __new__: the walk's inner loop


_IN_SEQUENCE, _IN_ITEM = 0, 1


def _skip_delimited(source: Source, pos: int, little: bool, implicit: bool, inside: int) -> int:
    """Position after the delimiter closing what `pos` is inside: a sequence's items
    (to its Sequence Delimitation Item) or an item's elements (to its Item
    Delimitation Item), with whatever they nest. Iterative: hostile nesting costs
    memory for a list, not the interpreter's stack."""
    open_values = [inside]
    while True:
        tag, _vr, length, _offset, value_pos = element_header(source, pos, little, implicit)
        if open_values[-1] == _IN_SEQUENCE:
            if tag == SEQUENCE_DELIMITER:
                open_values.pop()
            elif tag != ITEM:
                raise Unwalkable("bad sequence")
            elif length == UNDEFINED_LENGTH:
                open_values.append(_IN_ITEM)
            else:
                value_pos += length
        elif tag == ITEM_DELIMITER:
            open_values.pop()
        elif length == UNDEFINED_LENGTH:
            open_values.append(_IN_SEQUENCE)  # a sequence, or encapsulated pixel data (an icon's)
        else:
            value_pos += length
        pos = value_pos
        if not open_values:
            return pos


def skip_sequence(source: Source, pos: int, little: bool, implicit: bool) -> int:
    """Position after the Sequence Delimitation Item of an undefined-length sequence (or
    encapsulated pixel data) whose items start at `pos` (PS3.5 7.5.2, A.4)."""
    return _skip_delimited(source, pos, little, implicit, _IN_SEQUENCE)


def skip_item(source: Source, pos: int, little: bool, implicit: bool) -> int:
    """Position after the Item Delimitation Item of an undefined-length item whose elements start at `pos` (PS3.5 7.5.2)."""
    return _skip_delimited(source, pos, little, implicit, _IN_ITEM)


class _Walk:
    """What both walks hold: the data, where the walk stands, its encoding, where it
    ends, and the value of undefined length it steps over next unless resumed."""

    __slots__ = ("source", "pos", "little", "implicit", "end", "_skip_from")

    def __init__(self, source: Source, pos: int, little: bool, implicit: bool, end: int | None):
        self.source, self.pos, self.little, self.implicit = source, pos, little, implicit
        self.end = source.size if end is None else min(end, source.size)
        self._skip_from: int | None = None

    def resume(self, pos: int) -> None:
        """Go on at `pos`: after a value the caller walked itself (a sequence or an item it descended into)."""
        self.pos, self._skip_from = pos, None


class ElementWalk(_Walk):
    """The elements of one dataset, in order: iterate for each one's :class:`ElementHeader`.

    From `pos` while an element header (8 bytes) fits before `end` (the
    dataset's end; None, or beyond the data: the data's end). After each
    element the walk moves past its value without reading it: past a value of
    undefined length (a sequence, encapsulated pixel data) with
    :func:`skip_sequence`, unless the caller walked it itself and said where
    it ended (:meth:`resume`). ``pos`` is where the walk stands: after the
    last element (at the value of one of undefined length, until the walk
    goes on), or at the element whose header the data ends in
    (:class:`EndOfData`). Items and delimiters are yielded like any element:
    an item's dataset ends at its (FFFE,E00D) *Item Delimitation Item*, which
    the caller recognises.

    `group`, if given, ends the walk at the first element of another group,
    before its VR is read: the File Meta Information (group 0002, PS3.10 7.1)
    is followed by a dataset that may be encoded otherwise. `tolerant`: see
    :func:`element_header` (the elements of one level only; what it nests is
    walked strictly).
    """

    __slots__ = ("tolerant", "_group")

    def __init__(
        self,
        source: Source,
        pos: int,
        little: bool,
        implicit: bool,
        end: int | None = None,
        *,
        group: int | None = None,
        tolerant: bool = False,
    ):
        super().__init__(source, pos, little, implicit, end)
        self.tolerant = tolerant
        self._group = None if group is None else (_U16_LE if little else _U16_BE).pack(group)

    def __iter__(self) -> Iterator[ElementHeader]:
        # A generator, its state in locals, reading explicit VR headers inline where the
        # data holds them: the inner loop of reading media (DICOMDIR records).
        source, little, implicit, tolerant, end, group = self.source, self.little, self.implicit, self.tolerant, self.end, self._group
        explicit_head, u32 = (_LITTLE if little else _BIG)[1:]
        header_size, new, header_type, item_group, undefined = _HEADER_SIZE.get, _new_header, ElementHeader, _ITEM_GROUP, UNDEFINED_LENGTH
        while True:
            if self._skip_from is not None:
                self.pos = skip_sequence(source, self._skip_from, little, implicit)
                self._skip_from = None
            pos = self.pos
            if pos + 8 > end or (group is not None and source.at(pos, 2) != group):
                return
            data = source.data
            size = None
            if not implicit and pos + 12 <= len(data):
                tag_group, elem, vr, length = explicit_head(data, pos)
                if tag_group != item_group:
                    size = header_size(vr)
            if size is None:  # implicit VR, an item, an unknown VR code, the end of what was read
                element = element_header(source, pos, little, implicit, tolerant)
                length, value_pos = element[2], element[4]
            else:
                if size == 12:
                    length = u32(data, pos + 8)[0]
                value_pos = pos + size
                element = new(header_type, ((tag_group << 16) | elem, vr, length, pos, value_pos))
            if length == undefined:
                self.pos = self._skip_from = value_pos
            else:
                self.pos = value_pos + length
            yield element


class ItemWalk(_Walk):
    """The items of a sequence (PS3.5 7.5) or the fragments of encapsulated pixel data
    (PS3.5 A.4), in order: iterate for each one's :class:`ElementHeader`.

    From `pos` up to the (FFFE,E0DD) *Sequence Delimitation Item* (then
    ``delimited`` is True and ``pos`` after it), or while an item header fits
    before `end` (a sequence of defined length; None: the data's end). The
    walk moves past each item: one of undefined length with
    :func:`skip_item` (`implicit` is the encoding of the items' datasets),
    unless the caller walked its dataset itself (:meth:`resume`). Whatever
    else stands there is yielded too, for the caller to refuse: a sequence
    holding anything but items is damaged.
    """

    __slots__ = ("delimited",)

    def __init__(self, source: Source, pos: int, little: bool, implicit: bool, end: int | None = None):
        super().__init__(source, pos, little, implicit, end)
        self.delimited = False

    def __iter__(self) -> Iterator[ElementHeader]:
        source, little, implicit, end = self.source, self.little, self.implicit, self.end
        while not self.delimited:
            if self._skip_from is not None:
                self.pos = skip_item(source, self._skip_from, little, implicit)
                self._skip_from = None
            if self.pos + 8 > end:
                return
            item = element_header(source, self.pos, little, True)  # item headers: no VR (PS3.5 7.5)
            tag, _, length, _, value_pos = item
            if tag == SEQUENCE_DELIMITER:
                self.delimited, self.pos = True, value_pos
                return
            self.pos = value_pos if length == UNDEFINED_LENGTH else value_pos + length
            self._skip_from = value_pos if length == UNDEFINED_LENGTH else None
            yield item


def read_file_meta(source: Source) -> FileMeta:
    """The File Meta Information after the preamble and 'DICM' (PS3.10 7.1; always
    explicit VR little endian).

    The Transfer Syntax UID is read from the raw bytes: pydicom's conversion
    of that one value costs more than the rest of the group. Raises
    :class:`Unwalkable` for a file without the preamble or a meta group
    pydicom's reader must judge.
    """
    source.need(132)
    if source.data[128:132] != b"DICM":
        raise Unwalkable("no preamble")
    meta: dict[int, bytes] = {}
    syntax = ""
    pos = 132
    head, u32, header_size = _EXPLICIT_LE_HEAD.unpack_from, _U32_LE.unpack_from, _HEADER_SIZE.get
    data = source.data
    while True:
        if pos + 8 > len(data):
            source.need(pos + 8)
            data = source.data
        group, elem, vr, length = head(data, pos)
        if group != 0x0002:
            break
        hsize = header_size(vr)
        if hsize is None:
            raise Unwalkable("unknown VR in the meta group")
        if hsize == 12:
            if pos + 12 > len(data):
                source.need(pos + 12)
                data = source.data
            length = u32(data, pos + 8)[0]
            if length == UNDEFINED_LENGTH:
                raise Unwalkable("odd meta")
        start, value_pos = pos, pos + hsize
        if elem in (0x0002, 0x0003, 0x0010, 0x0012) and vr != b"UI":
            # PS3.10 Table 7.1-1 fixes these as UI; pydicom's conversion of
            # another VR raised BytesLengthException wherever the transfer
            # syntax was first read. pydicom's reader says what is wrong.
            raise Unwalkable("meta UID with another VR")
        pos = value_pos + length
        if pos > len(data):
            source.need(pos)
            data = source.data
        if elem == 0x0010:
            syntax = data[value_pos:pos].decode("ascii", "replace").rstrip("\x00 ")
        meta[0x00020000 | elem] = data[start:pos]
    return FileMeta(meta, pos, syntax)


def _header_fits(source: Source, pos: int) -> bool:
    """Make the element header at `pos` readable in ``data``; False if the data ends cleanly there."""
    try:
        source.need(pos + 12)
    except EndOfData:
        if len(source.data) <= pos + 8:
            return False  # a header that ends cleanly before any pixel data
        source.data += b"\x00" * 4  # an 8-byte element header at the very end
    return True


def keep_top_level(source: Source, pos: int, little: bool, implicit: bool, tags: frozenset[int], group: int, last: int) -> dict[int, bytes]:
    """The top-level elements from `pos` up to tag `last` whose tag is in `tags` or whose
    group is `group`, each as encoded (header and value) by tag: the hot loop of indexing.

    Element headers are unpacked inline with precompiled structs; values are
    sliced only for the elements kept. Raises :class:`Unwalkable` for a kept
    element of undefined length (pydicom's reader then reads the file).
    `last` must sort before the item tags (FFFE,xxxx).
    """
    keep: dict[int, bytes] = {}
    if little and not implicit:
        _keep_explicit_le(source, pos, keep, tags, group, last)
        return keep
    tag_s, u16, u32 = (_TAG_LE, _U16_LE, _U32_LE) if little else (_TAG_BE, _U16_BE, _U32_BE)
    while True:
        data = source.data
        if pos + 12 > len(data):
            if not _header_fits(source, pos):
                return keep
            data = source.data
        tag_group, elem = tag_s.unpack_from(data, pos)
        tag = (tag_group << 16) | elem
        if tag > last:
            return keep
        if implicit or tag_group == _ITEM_GROUP:
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
                raise Unwalkable("not explicit VR")
        wanted = tag in tags or tag_group == group
        if length == UNDEFINED_LENGTH:
            if wanted:
                raise Unwalkable("wanted element of undefined length")
            pos = skip_sequence(source, value_pos, little, implicit)
            continue
        if wanted:
            end = value_pos + length
            if end > len(data):
                source.need(end)
                data = source.data
            keep[tag] = data[pos:end]
        pos = value_pos + length


def _keep_explicit_le(source: Source, pos: int, keep: dict, tags: frozenset[int], group: int, last: int) -> None:
    """:func:`keep_top_level` for Explicit VR Little Endian, nearly every file: one
    unpack per element header. Item tags (FFFE,xxxx) need no test: they sort after
    `last`, where the walk ends."""
    head = _EXPLICIT_LE_HEAD.unpack_from
    u32 = _U32_LE.unpack_from
    header_size = _HEADER_SIZE.get
    data = source.data
    size = len(data)
    while True:
        if pos + 12 > size:
            if not _header_fits(source, pos):
                return
            data = source.data
            size = len(data)
        tag_group, elem, vr, length = head(data, pos)
        tag = (tag_group << 16) | elem
        if tag > last:
            return
        hsize = header_size(vr)
        if hsize == 8:
            value_pos = pos + 8
        elif hsize == 12:
            length = u32(data, pos + 8)[0]
            value_pos = pos + 12
            if length == UNDEFINED_LENGTH:
                if tag in tags or tag_group == group:
                    raise Unwalkable("wanted element of undefined length")
                pos = skip_sequence(source, value_pos, True, False)
                data = source.data
                size = len(data)
                continue
        else:
            raise Unwalkable("not explicit VR")
        if tag in tags or tag_group == group:
            end = value_pos + length
            if end > size:
                source.need(end)
                data = source.data
                size = len(data)
            keep[tag] = data[pos:end]
        pos = value_pos + length


def element_spans(
    source: Source, pos: int, end: int | None, implicit: bool
) -> tuple[list[tuple[int, bytes | None, int, int, int, int]], int]:
    """The elements of one little endian dataset in memory, in one pass: a list of (tag, VR code or None,
    where the element starts, where its value starts, its length as encoded, where it ends), and where
    the dataset ended: `end` (None: the data's end), or just after an (FFFE,E00D) *Item Delimitation Item*.

    The hot loop of rewriting (de-identification learns a layout from it): one unpack per header, no
    generator. A value of undefined length (a sequence, encapsulated pixel data) ends after its delimiter
    (:func:`skip_sequence`). Raises :class:`EndOfData` for a value running past the data,
    :class:`Unwalkable` for an unknown VR code or an item tag where an element belongs.
    """
    data = source.data
    size = len(data) if end is None else min(end, len(data))
    u32 = _U32_LE.unpack_from
    listed = []
    append = listed.append
    head = _IMPLICIT_LE_HEAD.unpack_from if implicit else _EXPLICIT_LE_HEAD.unpack_from
    header_size = _HEADER_SIZE.get
    while pos + 8 <= size:
        if implicit:
            group, elem, length = head(data, pos)
            vr = None
            value_pos = pos + 8
        else:
            group, elem, vr, length = head(data, pos)
        tag = (group << 16) | elem
        if group == _ITEM_GROUP:
            if tag == ITEM_DELIMITER:
                return listed, pos + 8
            raise Unwalkable("an item where an element belongs")
        if not implicit:
            hsize = header_size(vr)
            if hsize == 12:
                if pos + 12 > size:
                    raise EndOfData("truncated")
                length = u32(data, pos + 8)[0]
                value_pos = pos + 12
            elif hsize == 8:
                value_pos = pos + 8
            else:
                raise Unwalkable("not explicit VR")
        if length == UNDEFINED_LENGTH:
            value_end = skip_sequence(source, value_pos, True, implicit)
        else:
            value_end = value_pos + length
            if value_end > size:
                raise EndOfData("truncated")
        append((tag, vr, pos, value_pos, length, value_end))
        pos = value_end
    return listed, pos


def elements_in(data: bytes, implicit: bool, little: bool):
    """(tag, VR or None, value) of each element of `data`: elements encoded one after
    another (those of an index header, joined)."""
    source = Source.from_bytes(data)
    for element in ElementWalk(source, 0, little, implicit):
        yield element.tag, element.vr, data[element.value_offset : element.value_offset + element.length]


def implicit_vr(tag: int) -> str:
    """The VR of an element in implicit VR: the data dictionary's ('US or SS' and the like
    as pydicom's reader gives them), 'UN' for a tag it does not know (PS3.5 6.2.2)."""
    from pydicom.datadict import dictionary_VR

    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


def raw_element(source: Source, element: ElementHeader, little: bool, implicit: bool) -> RawDataElement:
    """A pydicom raw element of `element` (of defined length), converted lazily by pydicom."""
    from pydicom.dataelem import RawDataElement
    from pydicom.tag import Tag

    vr = element.vr.decode("ascii") if element.vr else implicit_vr(element.tag)
    return RawDataElement(Tag(element.tag), vr, element.length, source.value(element), element.value_offset, implicit, little)
