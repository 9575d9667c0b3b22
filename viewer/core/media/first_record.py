"""The image a disc shows first, found from its DICOMDIR with the standard library only.

A CD opened at start-up (``dicom-viewer /media/cdrom``) is painted right
after the window's frame, as one double-clicked file is
(:mod:`viewer.core.display.first_image`): before numpy and pydicom are
imported and before the 5,000 records of its DICOMDIR are read. Here, a
small walker follows the record offsets of PS3.3 F.3.2.1 from
(0004,1200) *Offset of the First Directory Record of the Root Directory
Entity* down to the first series with image records, in the order
:func:`viewer.core.media.dicomdir.read_dicomdir` visits them, and picks the
image the window then shows (:data:`STACK_MODALITIES`: the middle image of
a CT, MR or PET stack, else the first) in the order of
:func:`viewer.core.media.model.sort_instances`. The viewport's own image
replaces it once the records are read: the same image
(tests/core/test_first_record.py checks it against the catalog).

Only the plain case is accepted; anything doubtful gives None and the normal
path shows the media: a DICOMDIR in Explicit VR Little Endian (PS3.10 8.6
requires it), usable offsets, records in use, a first series of IMAGE records
of one frame each whose files are all on the media (case-insensitively, no
link), inside the media folder.

Importing this module imports the standard library only (a test checks it).
"""

from __future__ import annotations

import math
import os
import struct

#: Modalities whose series open at their middle image (viewer.ui.viewport.viewport.ImageViewport.show_series).
STACK_MODALITIES = ("CT", "MR", "PT")

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
#: Largest DICOMDIR walked for the quick image (a 5,000-record one is about 2 MB).
MAX_DICOMDIR_BYTES = 64 << 20
#: Most records followed: a loop of offsets (a damaged disc) ends the walk, as does this.
MAX_RECORDS = 100_000

_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LEVELS = ("PATIENT", "STUDY", "SERIES")
_HEADER = struct.Struct("<HH2sH")
_U32 = struct.Struct("<L")


class _Declined(Exception):
    """Not the plain case (or not sure): the normal path reads the whole DICOMDIR."""


def first_media_image(path: str | os.PathLike[str]) -> str | None:
    """The file the window shows first when `path` (a media folder, or its DICOMDIR) is opened; None when not sure."""
    try:
        dicomdir = _dicomdir(os.fspath(path))
        if dicomdir is None or os.path.getsize(dicomdir) > MAX_DICOMDIR_BYTES:
            return None
        with open(dicomdir, "rb") as f:
            data = f.read()
        return _first_image(data, os.path.dirname(dicomdir))
    except Exception:  # _Declined, or any doubt (a damaged DICOMDIR): read_dicomdir says what is wrong
        return None


def _dicomdir(path: str) -> str | None:
    """The DICOMDIR at `path`, or at the root of folder `path`, in any case (as find_dicomdir, by name only)."""
    if os.path.isfile(path):
        return path if os.path.basename(path).upper() == "DICOMDIR" else None
    if not os.path.isdir(path):
        return None
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.upper() == "DICOMDIR" and entry.is_file():
                return entry.path
    return None


# --------------------------------------------------------------------------- elements (Explicit VR Little Endian)


def _element(data: bytes, pos: int) -> tuple[int, bytes | None, int, int]:
    """(tag, VR, value length, value position) of the element at `pos` (PS3.5 7.1.2)."""
    group, number, vr, short = _HEADER.unpack_from(data, pos)
    tag = group << 16 | number
    if group == 0xFFFE:  # items and delimiters have no VR (PS3.5 7.5)
        return tag, None, _U32.unpack_from(data, pos + 4)[0], pos + 8
    if vr in _LONG_VRS:
        return tag, vr, _U32.unpack_from(data, pos + 8)[0], pos + 12
    if not vr.isalpha() or not vr.isupper():
        raise _Declined("not Explicit VR")
    return tag, vr, short, pos + 8


def _elements(data: bytes, pos: int, end: int):
    """(tag, value position, length) of each element from `pos` up to `end` or an Item Delimitation Item."""
    while pos < end:
        tag, vr, length, value = _element(data, pos)
        if tag == _ITEM_END:
            return
        if length == _UNDEFINED:
            if vr != b"SQ" and vr != b"UN":
                raise _Declined("undefined length outside a sequence")
            pos = _skip_undefined(data, value)
            continue
        if value + length > len(data):
            raise _Declined("cut short")
        yield tag, value, length
        pos = value + length


def _skip_undefined(data: bytes, pos: int) -> int:
    """The position after the Sequence Delimitation Item closing the sequence whose items start at `pos`."""
    while True:
        tag, _vr, length, value = _element(data, pos)
        if tag == _SEQUENCE_END:
            return value
        if tag != _ITEM:
            raise _Declined("not an item")
        if length == _UNDEFINED:
            for _ in _elements(data, value, len(data)):
                pass
            pos = _after_item(data, value)
        else:
            pos = value + length


def _after_item(data: bytes, pos: int) -> int:
    """The position after the Item Delimitation Item of an undefined-length item whose elements start at `pos`."""
    while True:
        tag, vr, length, value = _element(data, pos)
        if tag == _ITEM_END:
            return value
        pos = _skip_undefined(data, value) if length == _UNDEFINED else value + length


def _transfer_syntax(data: bytes) -> tuple[str, int]:
    """(0002,0010) and the position after the File Meta Information (PS3.10 7.1)."""
    if data[128:132] != b"DICM":
        raise _Declined("no DICM")
    tag, _vr, length, value = _element(data, 132)
    if tag != 0x00020000 or length != 4:
        raise _Declined("no group length")
    end = value + 4 + _U32.unpack_from(data, value)[0]
    syntax = ""
    for tag, at, length in _elements(data, 132, end):
        if tag == 0x00020010:
            syntax = data[at : at + length].decode("ascii").strip("\x00 ")
    return syntax, end


# --------------------------------------------------------------------------- records


class _Record:
    """What the walk needs of one directory record (PS3.3 F.3.2.2)."""

    __slots__ = ("type", "next", "lower", "file_id", "values")

    def __init__(self, data: bytes, offset: int):
        tag, _vr, length, value = _element(data, offset)
        if tag != _ITEM:
            raise _Declined("an offset points at no record")
        end = len(data) if length == _UNDEFINED else value + length
        self.type, self.next, self.lower, self.file_id = "", 0, 0, ()
        self.values: dict[int, bytes] = {}
        for tag, at, length in _elements(data, value, end):
            raw = data[at : at + length]
            if tag == 0x00041430:
                self.type = raw.decode("ascii").strip("\x00 ").upper()
            elif tag == 0x00041400 and length == 4:
                self.next = _U32.unpack(raw)[0]
            elif tag == 0x00041420 and length == 4:
                self.lower = _U32.unpack(raw)[0]
            elif tag == 0x00041410 and raw == b"\x00\x00":
                raise _Declined("a record not in use")  # read_dicomdir may then link by order
            elif tag == 0x00041500:
                self.file_id = tuple(p.strip() for p in raw.decode("ascii").strip("\x00 ").split("\\"))
            else:
                self.values[tag] = raw


def _first_image(data: bytes, root: str) -> str | None:
    syntax, pos = _transfer_syntax(data)
    if syntax != EXPLICIT_VR_LITTLE_ENDIAN:
        raise _Declined("not Explicit VR Little Endian")
    root_offset = 0
    while pos < len(data):  # the elements before (0004,1220) Directory Record Sequence, not the records
        tag, _vr, length, value = _element(data, pos)
        if tag >= 0x00041220 or length == _UNDEFINED:
            break
        if tag == 0x00041200 and length == 4:
            root_offset = _U32.unpack_from(data, value)[0]
        pos = value + length
    if not root_offset:
        raise _Declined("no root offset")
    found = _first_series(data, root_offset)
    if found is None:
        return None
    chain, images = found
    return _shown_image(chain, images, _Resolver(root))


def _first_series(data: bytes, root_offset: int) -> tuple[list[_Record], list[_Record]] | None:
    """The records above the first image record met depth first (patient, study, series), and its siblings.

    The order of read_dicomdir's visit: the entities at the root offset and
    their next offsets, each one's lower-level entities before the next.
    """
    seen: set[int] = set()

    def chain(offset: int) -> list[_Record]:
        records = []
        while offset:
            if offset in seen or len(seen) >= MAX_RECORDS:
                raise _Declined("a loop of offsets")
            seen.add(offset)
            record = _Record(data, offset)
            records.append(record)
            offset = record.next
        return records

    def search(records: list[_Record], above: list[_Record]):
        for record in records:
            if record.type not in _LEVELS and record.file_id:
                return above, records
            if record.lower:
                found = search(chain(record.lower), [*above, record])
                if found is not None:
                    return found
        return None

    return search(chain(root_offset), [])


def _shown_image(above: list[_Record], siblings: list[_Record], resolver: _Resolver) -> str:
    """The file of the image the viewport shows first among the series' image records (see the module)."""
    instances = []
    for record in siblings:
        if record.type in _LEVELS or not record.file_id:
            continue
        if record.type != "IMAGE":
            raise _Declined("not only images in the series")
        merged: dict[int, bytes] = {}
        for level in (*above, record):
            merged.update(level.values)
        frames = _numbers(merged.get(0x00280008))
        if frames is not None and frames != [1.0]:
            raise _Declined("several frames")
        instances.append((resolver.file(record.file_id), merged))
    if not instances:
        raise _Declined("no image record")
    ordered = _slice_order(instances)
    modality = ordered[0][1].get(0x00080060, b"").decode("ascii").strip("\x00 ")
    index = len(ordered) // 2 if len(ordered) > 1 and modality in STACK_MODALITIES else 0
    return ordered[index][0]


def _numbers(raw: bytes | None) -> list[float] | None:
    """A DS or IS value as numbers, as RawHeader.numbers reads it."""
    if raw is None:
        return None
    try:
        parts = raw.decode("ascii").strip("\x00 ").split("\\")
        return [float(p) for p in parts] if parts != [""] else None
    except (ValueError, UnicodeDecodeError):
        return None


def _slice_order(instances: list[tuple[str, dict[int, bytes]]]) -> list[tuple[str, dict[int, bytes]]]:
    """viewer.core.media.model.sort_instances over the records: along the slice normal when every image has a
    position and all share one orientation, else by (0020,0013) *Instance Number*; the file name breaks ties."""
    keyed = []
    for path, values in instances:
        numbers = _numbers(values.get(0x00200013))
        try:
            number = int(numbers[0]) if numbers else 1 << 31
        except (OverflowError, ValueError):
            number = 1 << 31
        orientation_values = _numbers(values.get(0x00200037))
        normal = slice_normal(orientation_values)
        orientation = tuple(round(v, 3) for v in orientation_values or ()) if values.get(0x00200037) is not None else ()
        position = _numbers(values.get(0x00200032)) if normal is not None else None
        along = None
        if position and len(position) == 3 and normal is not None:
            along = float(position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2])
        keyed.append((along, orientation, number, os.path.basename(path), path, values))
    positions = [k[0] for k in keyed]
    if None not in positions and len({k[1] for k in keyed}) == 1 and len(set(positions)) > 1:
        keyed.sort(key=lambda k: (k[0], k[2], k[3]))
    else:
        keyed.sort(key=lambda k: (k[2], k[3]))
    return [(k[4], k[5]) for k in keyed]


def slice_normal(orientation: list[float] | None) -> tuple[float, float, float] | None:
    """Row cosines x column cosines of (0020,0037) *Image Orientation (Patient)*, in plain floats (the standard
    library only: this module runs before numpy is imported; numpy's cross product would cost more than the
    rest of an instance anyway); None if not a usable orientation. The catalog sorts slices with it too."""
    if not orientation or len(orientation) != 6:
        return None
    rx, ry, rz, cx, cy, cz = orientation
    nx, ny, nz = ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    if not math.isfinite(length) or length < 1e-6:
        return None
    return nx, ny, nz


class _Resolver:
    """Referenced File IDs to files on the media, whatever the case of their names; each folder listed once."""

    def __init__(self, root: str):
        self.root = root
        self._listings: dict[str, dict[str, tuple[str, bool, bool]]] = {}

    def _listing(self, folder: str) -> dict[str, tuple[str, bool, bool]]:
        listing = self._listings.get(folder)
        if listing is None:
            listing = {}
            with os.scandir(folder) as entries:
                for entry in entries:
                    found = (entry.name, entry.is_dir(follow_symlinks=False), entry.is_symlink())
                    listing.setdefault(entry.name.upper(), found)
                    listing[entry.name] = found
            self._listings[folder] = listing
        return listing

    def file(self, parts: tuple[str, ...]) -> str:
        if not parts or any(p in ("", ".", "..") or "/" in p or ":" in p for p in parts):
            raise _Declined("a file ID leaving the media")
        folder = self.root
        for depth, part in enumerate(parts):
            listing = self._listing(folder)
            found = listing.get(part) or listing.get(part.upper())
            last = depth == len(parts) - 1
            if found is None or found[2] or found[1] == last:  # missing, a link, or a file where a folder is due
                raise _Declined("a file not on the media")
            folder = folder + os.sep + found[0]
        return folder
