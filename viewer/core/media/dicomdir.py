"""Reading DICOMDIR media (PS3.10 8.6, PS3.3 F.3) without opening the images.

The Directory Record Sequence is walked directly: each record's elements
are kept as the file encodes them (bytes sliced from the DICOMDIR, no object
per element; pydicom decodes them lazily, with the record's character set,
when something is shown) and records are linked by their offsets (PS3.3
F.3.2.1). An image's patient, study, series and image records merge into a
:class:`~viewer.core.dicom.header.RawHeader`, what a folder scan keeps of a
file: the catalog takes it as it is.
Real media are often imperfect, so:

- offsets that are missing, zero where they should not be, or point
  nowhere fall back to the order of the records in the sequence;
- media with no PATIENT level (or unknown record types) still show their
  studies, series and images;
- Referenced File IDs are resolved case-insensitively (media burned on one
  system and read on another) and refused when they would leave the media
  folder ('..', absolute paths, or a link pointing elsewhere);
- nothing is ever written to the media.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.dicom.elements import (
    ITEM,
    ITEM_DELIMITER,
    KNOWN_VRS,
    LONG_LENGTH_VRS,
    UNDEFINED_LENGTH,
    ElementHeader,
    ElementWalk,
    ItemWalk,
    Source,
    Unwalkable,
    encoding_of,
    raw_element,
    read_file_meta,
)
from viewer.core.dicom.header import RawHeader, encode_element
from viewer.core.dicom.io import Problem, ViewerError
from viewer.core.dicom.sop_classes import MEDIA_DIRECTORY_SOP_CLASS

_RECORD_SEQUENCE = 0x00041220
_ROOT_OFFSET = 0x00041200
_NEXT_OFFSET = 0x00041400
_LOWER_OFFSET = 0x00041420
_RECORD_TYPE = 0x00041430
_IN_USE = 0x00041410
_FILE_ID = 0x00041500
#: The record's own attributes, decoded while walking (PS3.3 F.3.2.2).
_BOOKKEEPING = frozenset({_RECORD_TYPE, _NEXT_OFFSET, _LOWER_OFFSET, _IN_USE, _FILE_ID})
_U32_LE, _U32_BE = struct.Struct("<L"), struct.Struct(">L")
_EXPLICIT_LE_HEAD = struct.Struct("<HH2sH").unpack_from
_HEADER_SIZE = {vr: 12 if vr in LONG_LENGTH_VRS else 8 for vr in KNOWN_VRS}


def _plain_elements(data, start: int, end: int) -> list[tuple] | None:
    """The elements of a record of defined length in Explicit VR Little Endian (what media
    writers make), as the walk gives them: (tag, VR, length, offset, value offset); None for
    anything else (a value of undefined length, an item or delimiter, an unknown VR code, a
    value past the record's end): the element walker then reads the record.

    The hot loop of reading media, one ``struct`` call per element.
    """
    head, u32, size_of = _EXPLICIT_LE_HEAD, _U32_LE.unpack_from, _HEADER_SIZE.get
    found = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            return None
        group, number, vr, length = head(data, pos)
        size = size_of(vr)
        if size is None or group == 0xFFFE:
            return None
        if size == 12:
            if pos + 12 > end:
                return None
            length = u32(data, pos + 8)[0]
        value = pos + size
        if length == UNDEFINED_LENGTH or value + length > end:
            return None
        found.append(((group << 16) | number, vr, length, pos, value))
        pos = value + length
    return found


#: Record types that stand for one image file (PS3.3 F.5): the viewer shows these.
IMAGE_RECORD_TYPES = {
    "IMAGE",
    "RT DOSE",
    "PRESENTATION",
    "WAVEFORM",
    "SR DOCUMENT",
    "KEY OBJECT DOC",
    "SPECTROSCOPY",
    "RAW DATA",
    "REGISTRATION",
    "FIDUCIAL",
    "HANGING PROTOCOL",
    "ENCAP DOC",
    "VALUE MAP",
    "STEREOMETRIC",
    "PALETTE",
    "IMPLANT",
    "MEASUREMENT",
    "SURFACE",
    "TRACT",
    "ASSESSMENT",
    "RADIOTHERAPY",
    "ANNOTATION",
    "SURFACE SCAN",
    "PLAN",
    "RT STRUCTURE SET",
    "RT PLAN",
    "RT TREAT RECORD",
}
_LEVEL = {"PATIENT": 0, "STUDY": 1, "SERIES": 2}


@dataclass
class Record:
    """One directory record: its type, its attributes as the file encodes them (tag number ->
    element bytes, sequences left out) and its children."""

    offset: int
    type: str
    elements: dict[int, bytes]
    children: list[Record] = field(default_factory=list)
    next_offset: int = 0
    lower_offset: int = 0
    file_id: tuple[str, ...] = ()
    _dataset: Dataset | None = None

    @property
    def dataset(self) -> Dataset:
        """The record's attributes as a dataset (decoded lazily by pydicom)."""
        if self._dataset is None:
            implicit, little = self.encoding
            self._dataset = RawHeader(self.elements, None, implicit, little).dataset()
        return self._dataset

    encoding: tuple = (False, True)


@dataclass
class MediaImage:
    """An image record merged with its patient, study and series records.

    ``raw_header`` holds the attributes of all four levels (image level
    wins) as the DICOMDIR encodes them, enough for the browser and for
    sorting; ``header`` is the same as a pydicom dataset (made when asked
    for); ``path`` is the resolved file, or None with ``problem`` saying why
    it cannot be opened.
    """

    raw_header: RawHeader
    path: Path | None
    problem: str = ""

    @property
    def header(self) -> Dataset:
        return self.raw_header.dataset()


@dataclass
class MediaDirectory:
    """What a DICOMDIR lists."""

    dicomdir: Path
    root: Path
    images: list[MediaImage]
    problems: list[Problem]  # "DICOMDIR: missing on the media: IMAGES\\IM1", with path and reason apart
    roots: list[Record]


def _is_media_directory(path: Path) -> bool:
    """A file whose meta header says Media Storage Directory Storage, whatever its name."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError:
        return False
    if head[128:132] != b"DICM":
        return False
    # The UID has an even length: it needs no NUL padding (PS3.5 9.1), and
    # the next element's tag may follow it at once.
    at = head.find(_MEDIA_DIRECTORY_UID, 132)
    return at >= 0 and head[at + len(_MEDIA_DIRECTORY_UID) : at + len(_MEDIA_DIRECTORY_UID) + 1] not in b"0123456789."


_MEDIA_DIRECTORY_UID = MEDIA_DIRECTORY_SOP_CLASS.encode("ascii")


def find_dicomdir(path: str | os.PathLike[str]) -> Path | None:
    """The DICOMDIR at `path` itself, or at the root of folder `path`, in any case."""
    path = Path(path)
    if path.is_file():
        return path if path.name.upper() == "DICOMDIR" or _is_media_directory(path) else None
    try:
        for entry in path.iterdir():
            if entry.name.upper() == "DICOMDIR" and entry.is_file():
                return entry
    except OSError:
        return None
    return None


def _ulong(raw, little: bool) -> int:
    if raw is None or len(raw.value) < 4:
        return 0
    return struct.unpack_from("<L" if little else ">L", raw.value)[0]


def _parse_records(data_file: Path) -> tuple[dict[int, Record], list[Record], int, bool]:
    """Every in-use record by offset, in sequence order, the root offset, and
    whether the file ends before the end of the Directory Record Sequence.

    Only the bytes of each record's elements are kept; record type,
    offsets and file ID are decoded here with struct, everything else by
    pydicom when (and if) it is shown.
    """
    with open(data_file, "rb") as f:
        source = Source.from_file(f, 1 << 22)
        meta = read_file_meta(source)
        implicit, little = encoding_of(meta.transfer_syntax)
        charset = None
        root_offset = 0
        for element in ElementWalk(source, meta.end, little, implicit):
            if element.tag == _RECORD_SEQUENCE:
                break
            if element.tag == _ROOT_OFFSET:
                root_offset = _ulong(raw_element(source, element, little, implicit), little)
            elif element.tag == 0x00080005:
                charset = element
        else:
            raise Unwalkable("truncated")  # no Directory Record Sequence
        source.need(source.size)  # a DICOMDIR is small: all of it, once
    if charset is not None:  # the file set's character set: each record's own, unless it states one
        charset = bytes(source.data[charset.offset : charset.value_offset + charset.length])
    length, value_pos = element.length, element.value_offset
    undefined = length == UNDEFINED_LENGTH
    cut = not undefined and value_pos + length > source.size  # or, undefined, no delimiter: below
    items = ItemWalk(source, value_pos, little, implicit, None if undefined else value_pos + length)
    records = [_record(source, item, items, charset, (implicit, little)) for item in items]
    if not items.delimited:
        cut = cut or undefined  # no Sequence Delimitation Item before the end
    in_use = [record for record in records if record is not None]
    return {r.offset: r for r in in_use}, in_use, root_offset, cut


def _record(source: Source, item: ElementHeader, items: ItemWalk, charset, encoding: tuple[bool, bool]) -> Record | None:
    """The directory record of `item` (None when it is not in use); `items` then goes on after it.

    The hot loop of reading media: the record's own bookkeeping (type,
    offsets, file ID, in-use flag) is decoded here, every element kept as
    the file encodes it (one slice of the DICOMDIR's bytes).
    """
    if item.tag != ITEM:
        raise Unwalkable("record sequence holds something other than items")
    implicit, little = encoding
    data, u32 = source.data, _U32_LE if little else _U32_BE
    kept: dict[int, bytes] = {}
    if charset is not None:
        kept[0x00080005] = charset
    item_end = None if item.length == UNDEFINED_LENGTH else item.value_offset + item.length
    record_type, next_offset, lower_offset, file_id, in_use = "", 0, 0, "", True
    plain = None
    if item_end is not None and little and not implicit and item_end <= len(data):
        plain = _plain_elements(data, item.value_offset, item_end)
    # Tolerant: an unknown VR code in one record (a damaged byte) leaves the other records readable.
    elements = ElementWalk(source, item.value_offset, little, implicit, item_end, tolerant=True)
    if plain is not None:
        elements.resume(item_end)  # read already: the walk stands at the record's end
    for etag, evr, elength, eoffset, evalue in plain if plain is not None else elements:
        if etag >> 16 == 0xFFFE:
            if etag == ITEM_DELIMITER:
                elements.resume(evalue)
                break
            if etag == ITEM:
                elements.resume(eoffset)  # a stale item length (elements were removed): the next record starts here
                break
        if elength == UNDEFINED_LENGTH:
            continue  # the walk steps over the sequence
        if etag in _BOOKKEEPING:
            value = data[evalue : evalue + elength]
            if etag == _RECORD_TYPE:
                record_type = value.decode("ascii", "replace").strip(" \x00").upper()
            elif etag == _NEXT_OFFSET and elength == 4:
                next_offset = u32.unpack(value)[0]
            elif etag == _LOWER_OFFSET and elength == 4:
                lower_offset = u32.unpack(value)[0]
            elif etag == _IN_USE and elength == 2:
                in_use = value != b"\x00\x00"  # 0000H: inactive (PS3.3 F.3.2.2)
            elif etag == _FILE_ID:
                file_id = value.decode("ascii", "replace").strip(" \x00")
        if evr != b"SQ":
            if evr is None or evr in KNOWN_VRS:
                kept[etag] = data[eoffset : evalue + elength]
            else:  # a damaged VR code (tolerant walk): kept as UN
                encoded = encode_element(etag, evr, data[evalue : evalue + elength], implicit, little)
                if encoded is not None:
                    kept[etag] = encoded
    else:
        elements.resume(max(elements.pos, elements.end))  # the item's end, or the file's
    items.resume(elements.pos)
    if not in_use:
        return None
    return Record(
        offset=item.offset,
        type=record_type,
        elements=kept,
        next_offset=next_offset,
        lower_offset=lower_offset,
        file_id=tuple(part.strip() for part in file_id.split("\\")) if file_id else (),
        encoding=encoding,
    )


def _link_by_offsets(by_offset: dict[int, Record], records: list[Record], root_offset: int) -> list[Record] | None:
    """The record tree from the offsets (PS3.3 F.3.2.1), or None if they are unusable.

    Top-level entities are the records no other record points at, the one
    at the root offset first; a broken root offset or chain therefore does
    not hide the records behind it. Records the offsets never reach are
    added as top-level entities of their own rather than dropped.
    """
    pointed_at = {r.next_offset for r in records} | {r.lower_offset for r in records}
    if not any(r.next_offset or r.lower_offset for r in records):
        return None
    if any(offset and offset not in by_offset for offset in pointed_at):
        return None
    seen: set[int] = set()

    def chain(offset: int) -> list[Record]:
        entities = []
        while offset and offset not in seen and offset in by_offset:
            seen.add(offset)
            record = by_offset[offset]
            entities.append(record)
            offset = record.next_offset
        return entities

    starts = [r.offset for r in records if r.offset not in pointed_at]
    if root_offset in starts:
        starts.remove(root_offset)
        starts.insert(0, root_offset)
    roots: list[Record] = []
    for start in starts:
        roots.extend(chain(start))
    stack = list(roots)
    while stack:
        record = stack.pop()
        record.children = chain(record.lower_offset)
        stack.extend(record.children)
    for record in records:  # unreachable (e.g. a cycle): keep them visible
        if record.offset not in seen:
            roots.extend(chain(record.offset))
            stack = [r for r in roots if not r.children]
    return roots


def _link_by_order(records: list[Record]) -> list[Record]:
    """The record tree from sequence order and record levels (no usable offsets)."""
    roots: list[Record] = []
    stack: list[tuple[int, Record]] = []
    for record in records:
        record.children = []
        level = _LEVEL.get(record.type, 3)
        while stack and stack[-1][0] >= level:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(record)
        stack.append((level, record))
    return roots


class _CaseInsensitiveResolver:
    """Finds media files whatever the case of their names on this system.

    Each folder is listed once (os.scandir), so resolving thousands of
    references costs a few directory reads rather than a stat per file.
    """

    def __init__(self, root: Path):
        self.root = root
        self.real_root = root.resolve()
        self._listings: dict[str, dict[str, tuple[str, bool, bool]]] = {}
        self._folders: dict[tuple[str, ...], tuple[str, str]] = {}

    def _listing(self, folder: str) -> dict[str, tuple[str, bool, bool]]:
        listing = self._listings.get(folder)
        if listing is None:
            listing = {}
            try:
                with os.scandir(folder) as entries:
                    for entry in entries:
                        try:
                            is_dir = entry.is_dir()
                        except OSError:
                            is_dir = False
                        listing.setdefault(entry.name.upper(), (entry.name, is_dir, entry.is_symlink()))
                        listing[entry.name] = (entry.name, is_dir, entry.is_symlink())
            except OSError:
                pass
            self._listings[folder] = listing
        return listing

    def resolve(self, parts: tuple[str, ...]) -> tuple[Path | None, str]:
        shown = "\\".join(parts)
        if not parts or any(p in ("", ".", "..") or "/" in p or "\\" in p or ":" in p for p in parts):
            return None, f"refused: Referenced File ID {shown!r} leaves the media folder"
        folder, problem = self._folder(parts[:-1])
        if problem:
            return None, problem.format(shown=shown)
        listing = self._listing(folder)
        found = listing.get(parts[-1]) or listing.get(parts[-1].upper())
        if found is None or found[1]:  # missing, or a folder where a file is due
            return None, f"missing on the media: {shown}"
        path = folder + os.sep + found[0]
        if found[2] and not self._inside(path):
            return None, f"refused: {shown} is a link that leaves the media folder"
        return Path(path), ""

    def _folder(self, parts: tuple[str, ...]) -> tuple[str, str]:
        """The real folder for the folder parts of a file ID, or a problem
        (with ``{shown}`` for the file ID); once per folder, not per file."""
        known = self._folders.get(parts)
        if known is not None:
            return known
        if not parts:
            result = (str(self.root), "")
        else:
            parent, problem = self._folder(parts[:-1])
            if problem:
                result = (parent, problem)
            else:
                listing = self._listing(parent)
                found = listing.get(parts[-1]) or listing.get(parts[-1].upper())
                if found is None or not found[1]:  # missing, or a file where a folder is due
                    result = (parent, "missing on the media: {shown}")
                else:
                    folder = os.path.join(parent, found[0])
                    # A link is checked where it is met, not after the walk: a folder link
                    # leaving the media must be refused before the folder behind it is listed.
                    if found[2] and not self._inside(folder):
                        result = (folder, "refused: {shown} is a link that leaves the media folder")
                    else:
                        result = (folder, "")
        self._folders[parts] = result
        return result

    def _inside(self, path: str) -> bool:
        resolved = Path(os.path.realpath(path))
        return resolved == self.real_root or self.real_root in resolved.parents


def read_dicomdir(path: str | os.PathLike[str]) -> MediaDirectory:
    """The images a DICOMDIR lists, with their patient/study/series attributes.

    Raises :class:`ViewerError` when the DICOMDIR itself cannot be read.
    """
    dicomdir = Path(path)
    try:
        by_offset, records, root_offset, cut = _parse_records(dicomdir)
    except (Unwalkable, ValueError, KeyError, OSError, struct.error) as exc:
        # struct.error: an offset element cut short by the end of the file (tests/robustness)
        raise ViewerError(f"is not a readable DICOMDIR ({exc})", dicomdir) from None
    roots = _link_by_offsets(by_offset, records, root_offset) or _link_by_order(records)
    encoding = records[0].encoding if records else (False, True)
    resolver = _CaseInsensitiveResolver(dicomdir.parent)
    images: list[MediaImage] = []
    problems: list[Problem] = []

    def visit(record: Record, inherited: list[Record]) -> None:
        chain = inherited + [record]
        for child in record.children:
            visit(child, chain)
        if record.type not in _LEVEL and record.file_id:
            file, problem = resolver.resolve(record.file_id)
            if problem:
                problems.append(Problem(problem, dicomdir))
            images.append(MediaImage(_merge(chain, encoding), file, problem))

    for root in roots:
        visit(root, [])
    if cut:
        problems.append(Problem(f"ends before the end of its directory records (truncated?): {len(images)} image records read", dicomdir))
    return MediaDirectory(dicomdir, dicomdir.parent, images, problems, roots)


_RECORD_TAGS = (0x00041400, 0x00041410, 0x00041420, 0x00041430, 0x00041500, 0x00041510, 0x00041511, 0x00041512)
_SOP_INSTANCE, _SOP_CLASS = 0x00080018, 0x00080016
_REF_SOP_INSTANCE, _REF_SOP_CLASS = 0x00041511, 0x00041510


def _merge(chain: list[Record], encoding: tuple[bool, bool]) -> RawHeader:
    """Patient, study, series and image attributes in one header (image wins).

    The elements' bytes as the DICOMDIR encodes them: nothing is decoded
    until it is shown. (0004,1511) *Referenced SOP Instance UID in File* and
    (0004,1510) *Referenced SOP Class UID in File* stand for the image's own
    (0008,0018) and (0008,0016) when the record has none (PS3.3 F.5).
    """
    merged: dict[int, bytes] = {}
    for record in chain:
        merged.update(record.elements)
    image = chain[-1].elements
    for tag in _RECORD_TAGS:
        merged.pop(tag, None)
    implicit, little = encoding
    for own, referenced in ((_SOP_INSTANCE, _REF_SOP_INSTANCE), (_SOP_CLASS, _REF_SOP_CLASS)):
        if own not in merged and referenced in image:
            value = RawHeader(image, None, implicit, little).value(referenced)
            encoded = encode_element(own, b"UI", value or b"", implicit, little)
            if encoded is not None:
                merged[own] = encoded
    return RawHeader(merged, None, implicit, little)
