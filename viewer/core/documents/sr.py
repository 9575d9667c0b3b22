"""Structured Reports as a document: the content tree of any SR storage class, read once, Qt-free.

A Structured Report (PS3.3 C.17.3 *SR Document Content Module*) is a tree
of content items: the root is a CONTAINER whose (0040,A043) *Concept Name
Code Sequence* is the document's title, and each item's (0040,A730)
*Content Sequence* holds its children, each tied to its parent by a
(0040,A010) *Relationship Type* (CONTAINS, HAS PROPERTIES, INFERRED FROM,
...). An item's (0040,A040) *Value Type* says where its value is (PS3.3
Table C.17.3-7): TEXT, CODE, NUM, DATE, TIME, DATETIME, PNAME, UIDREF,
COMPOSITE, IMAGE, WAVEFORM, SCOORD, SCOORD3D, TCOORD, CONTAINER. A child
given only a (0040,DB73) *Referenced Content Item Identifier* is a
relationship *by reference* to another item of the tree (PS3.3 C.17.3.2.5).

:func:`read_report` reads a file into a :class:`Report` (the document
header: completion and verification flags, observers, dates; the content
tree as :class:`ContentItem`); :func:`report_lines` writes it as text whose
content lines follow dcmtk's ``dsrdump`` item for item, in the same order and
depth; :func:`report_json` as a JSON tree. Every text value is decoded with
the character set code the tag inspector uses (:mod:`viewer.core.dicom.charset`),
the enclosing (0008,0005) *Specific Character Set* applying to nested items
(PS3.5 7.5.3). This covers every SR storage class (Basic Text, Enhanced,
Comprehensive, Comprehensive 3D, Extensible, Key Object Selection, X-Ray
Radiation Dose, Mammography/Chest/Colon CAD, Procedure Log, ...): they
share this module (PS3.3 A.35).
"""

from __future__ import annotations

import os
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID, UID_dictionary

from viewer.core.dicom.charset import declared_charsets, decode_text, decode_with, element_text
from viewer.core.dicom.elements import (
    ITEM,
    ITEM_DELIMITER,
    LONG_LENGTH_VRS,
    SEQUENCE_DELIMITER,
    UNDEFINED_LENGTH,
    ElementWalk,
    EndOfData,
    ItemWalk,
    Source,
    Unwalkable,
    encoding_of,
    implicit_vr,
    read_file_meta,
)
from viewer.core.dicom.io import ViewerError, sop_class_name
from viewer.core.display.annotations import format_date, format_person_name, format_time

# Tags of the SR Document Content and General Modules (PS3.3 C.17.2, C.17.3), by number: read often.
RELATIONSHIP_TYPE = 0x0040A010
VALUE_TYPE = 0x0040A040
CONCEPT_NAME = 0x0040A043
CONTENT_SEQUENCE = 0x0040A730
REFERENCED_CONTENT_ITEM = 0x0040DB73
TEXT_VALUE = 0x0040A160
CONCEPT_CODE = 0x0040A168
MEASURED_VALUE = 0x0040A300
NUMERIC_VALUE = 0x0040A30A
UNITS = 0x004008EA
NUMERIC_QUALIFIER = 0x0040A301
DATE, TIME, DATETIME = 0x0040A121, 0x0040A122, 0x0040A120
PERSON_NAME = 0x0040A123
UID_VALUE = 0x0040A124
CONTINUITY = 0x0040A050
REFERENCED_SOP = 0x00081199
OBSERVATION_DATETIME = 0x0040A032


@dataclass(frozen=True)
class Code:
    """A coded entry (PS3.3 8.8): (0008,0100) *Code Value* (or its long/URN forms), (0008,0102)
    *Coding Scheme Designator*, (0008,0104) *Code Meaning*."""

    value: str
    scheme: str
    meaning: str

    def text(self) -> str:
        """The meaning, for a reader; the value when there is no meaning."""
        return self.meaning or self.value

    def to_json(self) -> dict:
        return {"value": self.value, "scheme": self.scheme, "meaning": self.meaning}


@dataclass(frozen=True)
class ObjectReference:
    """A COMPOSITE, IMAGE or WAVEFORM value (PS3.3 C.18.3-C.18.5): the referenced object, the
    frames (1-based (0008,1160) *Referenced Frame Number*), and for an image the presentation
    state to show it through (the nested (0008,1199) *Referenced SOP Sequence*)."""

    sop_class_uid: str
    sop_instance_uid: str
    frames: tuple[int, ...] = ()
    segments: tuple[int, ...] = ()
    channels: tuple[int, ...] = ()
    presentation_state_uid: str = ""

    @property
    def sop_class_name(self) -> str:
        known = UID_dictionary.get(self.sop_class_uid)  # not UID(): it warns of a damaged value, shown as it is
        return known[0] if known else ""

    def to_json(self) -> dict:
        entry = {"sop_class_uid": self.sop_class_uid, "sop_class": self.sop_class_name, "sop_instance_uid": self.sop_instance_uid}
        for name in ("frames", "segments", "channels"):
            if getattr(self, name):
                entry[name] = list(getattr(self, name))
        if self.presentation_state_uid:
            entry["presentation_state_uid"] = self.presentation_state_uid
        return entry


@dataclass
class ContentItem:
    """One content item: how it relates to its parent, its concept name, its value.

    `value` is the value as a reader sees it (a code's meaning, a number with its
    unit, a formatted date, a decoded name); the typed fields beside it keep
    what a program needs (the code, the number and unit, the referenced objects,
    the coordinates). A by-reference item has no value type and names the
    item it points at in `reference` ("1.2.1", the position dsrdump prints).
    """

    position: str
    relationship: str
    value_type: str
    concept: Code | None = None
    value: str = ""
    code: Code | None = None
    number: str = ""
    unit: Code | None = None
    qualifier: Code | None = None
    references: tuple[ObjectReference, ...] = ()
    graphic_type: str = ""
    graphic_data: tuple[float, ...] = ()
    frame_of_reference_uid: str = ""
    reference: str = ""
    continuity: str = ""
    observed: str = ""
    problem: str = ""
    children: list[ContentItem] = field(default_factory=list)

    def walk(self, depth: int = 0) -> Iterator[tuple[int, ContentItem]]:
        """This item and its descendants, depth first, in document order, with their depth (root 0)."""
        stack = [(depth, self)]
        while stack:
            level, item = stack.pop()
            yield level, item
            stack.extend((level + 1, child) for child in reversed(item.children))

    def image_references(self) -> list[ObjectReference]:
        """The images this item points at: its own IMAGE value, or for spatial coordinates
        the images they were SELECTED FROM (PS3.3 C.18.6.1: the SCOORD's IMAGE child)."""
        if self.value_type == "IMAGE":
            return list(self.references)
        if self.value_type in ("SCOORD", "TCOORD"):
            return [ref for child in self.children if child.value_type == "IMAGE" for ref in child.references]
        return []

    def to_json(self) -> dict:
        entry: dict = {"position": self.position, "relationship": self.relationship, "value_type": self.value_type}
        if self.concept is not None:
            entry["concept"] = self.concept.to_json()
        if self.value:
            entry["value"] = self.value
        if self.code is not None:
            entry["code"] = self.code.to_json()
        if self.number:
            entry["number"] = self.number
        if self.unit is not None:
            entry["unit"] = self.unit.to_json()
        if self.qualifier is not None:
            entry["qualifier"] = self.qualifier.to_json()
        if self.references:
            entry["references"] = [ref.to_json() for ref in self.references]
        if self.graphic_type:
            entry["graphic_type"] = self.graphic_type
            entry["graphic_data"] = list(self.graphic_data)
        if self.frame_of_reference_uid:
            entry["frame_of_reference_uid"] = self.frame_of_reference_uid
        if self.reference:
            entry["reference"] = self.reference
        if self.continuity:
            entry["continuity"] = self.continuity
        if self.observed:
            entry["observation_datetime"] = self.observed
        if self.problem:
            entry["problem"] = self.problem
        if self.children:
            entry["children"] = [child.to_json() for child in self.children]
        return entry


@dataclass(frozen=True)
class Observer:
    """A verifying observer ((0040,A073) *Verifying Observer Sequence*) or an author
    ((0040,A078) *Author Observer Sequence*): when, who, for which organisation."""

    name: str
    organisation: str = ""
    when: str = ""

    def text(self) -> str:
        return ", ".join(part for part in (self.when, self.name, self.organisation) if part)


@dataclass
class Report:
    """A Structured Report: the document's header and its content tree (:attr:`root`)."""

    sop_class_uid: str
    sop_instance_uid: str
    kind: str
    patient: str = ""
    patient_id: str = ""
    study: str = ""
    series: str = ""
    completion: str = ""
    completion_description: str = ""
    verification: str = ""
    verifying_observers: list[Observer] = field(default_factory=list)
    authors: list[Observer] = field(default_factory=list)
    content_datetime: str = ""
    predecessors: int = 0
    root: ContentItem = field(default_factory=lambda: ContentItem("1", "", "CONTAINER"))

    @property
    def title(self) -> str:
        """The document title: the root container's concept name (PS3.3 C.17.3.2.1)."""
        return self.root.concept.text() if self.root.concept is not None else self.kind

    def items(self) -> Iterator[tuple[int, ContentItem]]:
        """Every content item with its depth, in document order (as dsrdump lists them)."""
        return self.root.walk()

    def item_at(self, position: str) -> ContentItem | None:
        """The item at a position ("1.2.1"), as a by-reference item names it."""
        item = self.root
        parts = position.split(".")
        if parts[:1] != ["1"]:
            return None
        for part in parts[1:]:
            try:
                item = item.children[int(part) - 1]
            except (ValueError, IndexError):
                return None
        return item


# ----------------------------------------------------------------------------- reading


def is_structured_report(sop_class_uid: str) -> bool:
    """Whether a SOP Class UID is a Structured Report storage class (PS3.4 Annex B.5, its SR classes:
    the 1.2.840.10008.5.1.4.1.1.88.* family, Key Object Selection included)."""
    return str(sop_class_uid).startswith("1.2.840.10008.5.1.4.1.1.88.")


def read_report(path: str | os.PathLike[str]) -> Report:
    """The Structured Report in the file at `path`; :class:`ViewerError` (one line) for a file that
    cannot be read, is not an SR, or whose content tree is damaged."""
    from viewer.core.dicom.io import read_header

    path = Path(path)
    ds = read_header(path)  # the document's own attributes; SRs have no Pixel Data
    for message in getattr(ds, "read_warnings", []):
        if "End of file reached" in message:
            raise ViewerError("the file is truncated (it ends in the middle of an element)", path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a damaged UID value: not a known SR class, and said so below
        try:
            sop_class = str(ds.get("SOPClassUID", "") or "")
        except Exception:  # a damaged UID value
            sop_class = ""
        if not is_structured_report(sop_class):
            raise ViewerError(f"is not a Structured Report (it is {sop_class_name(ds)})", path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ViewerError(f"cannot be read ({exc.__class__.__name__}: {exc})", path) from None
    try:
        return report_of(ds, data, str(path))
    except ViewerError as exc:
        raise ViewerError(exc.reason, path) from None
    except Exception as exc:  # a damaged encoding anywhere in the content tree
        raise ViewerError(f"damaged Structured Report content ({exc.__class__.__name__}: {exc})", path) from None


def report_of(ds: Dataset, data: bytes, path: str | None = None) -> Report:
    """The :class:`Report` of a file: `ds` its attributes as pydicom read them (the document's header),
    `data` its bytes, whose content tree is walked here (:func:`content_tree`)."""
    root_node, little = content_tree(data, ds)
    if VALUE_TYPE not in root_node:
        raise ViewerError("damaged Structured Report: the document has no (0040,A040) Value Type")
    declared = declared_charsets(ds)
    reader = _Reader(declared, little)

    def text(item: Dataset, tag: int) -> str:
        decoded = element_text(item, tag, path, None, declared)
        return "" if decoded is None else decoded.text.strip()

    def observers(tag: int) -> list[Dataset]:
        return list(ds[tag].value or []) if tag in ds else []

    report = Report(
        sop_class_uid=text(ds, 0x00080016),
        sop_instance_uid=text(ds, 0x00080018),
        kind=UID(str(ds.get("SOPClassUID", ""))).name.removesuffix(" Storage"),
        patient=format_person_name(text(ds, 0x00100010)),
        patient_id=text(ds, 0x00100020),
        study=text(ds, 0x00081030),
        series=_series_label(text(ds, 0x0008103E), text(ds, 0x00200011)),
        completion=text(ds, 0x0040A491),
        completion_description=text(ds, 0x0040A492),
        verification=text(ds, 0x0040A493),
        verifying_observers=[
            Observer(format_person_name(text(o, 0x0040A075)), text(o, 0x0040A027), _datetime(text(o, 0x0040A030)))
            for o in observers(0x0040A073)
        ],
        authors=[_author(text, o) for o in observers(0x0040A078)],
        content_datetime=" ".join(p for p in (format_date(text(ds, 0x00080023)), format_time(text(ds, 0x00080033))) if p),
        predecessors=sum(
            len(series.get("ReferencedSOPSequence", []))
            for study in observers(0x0040A360)
            for series in study.get("ReferencedSeriesSequence", [])
        ),
    )
    report.root = reader.item(root_node, "1", "")
    return report


def _series_label(description: str, number: str) -> str:
    if not number:
        return description
    return f"{description} (#{number})" if description else f"#{number}"


def _author(text, item: Dataset) -> Observer:
    """An author: a person ((0040,A123) *Person Name*) or a device ((0018,1002) *Device UID*, its
    (0008,0070) *Manufacturer*), with (0008,0080) *Institution Name*."""
    name = format_person_name(text(item, PERSON_NAME))
    if not name:
        name = " ".join(p for p in (text(item, 0x00080070), text(item, 0x00181002)) if p)
    return Observer(name, text(item, 0x00080080))


def _datetime(dt: str) -> str:
    """A DT value (PS3.5 6.2) as 'YYYY-MM-DD HH:MM:SS'."""
    return " ".join(p for p in (format_date(dt[:8]), format_time(dt[8:])) if p) if dt else ""


# ----------------------------------------------------------------------------- the content tree, walked

#: The attributes of content items read here, with their VRs (PS3.6), so that values are decoded
#: without pydicom's per-element conversion: a 2,000-item dose report is read in tens of milliseconds.
_VRS = {
    RELATIONSHIP_TYPE: "CS",
    VALUE_TYPE: "CS",
    CONTINUITY: "CS",
    0x00080100: "SH",  # Code Value
    0x00080102: "SH",  # Coding Scheme Designator
    0x00080104: "LO",  # Code Meaning
    0x00080119: "UC",  # Long Code Value
    0x00080120: "UR",  # URN Code Value
    TEXT_VALUE: "UT",
    NUMERIC_VALUE: "DS",
    DATE: "DA",
    TIME: "TM",
    DATETIME: "DT",
    PERSON_NAME: "PN",
    UID_VALUE: "UI",
    OBSERVATION_DATETIME: "DT",
    0x00081150: "UI",  # Referenced SOP Class UID
    0x00081155: "UI",  # Referenced SOP Instance UID
    0x00081160: "IS",  # Referenced Frame Number
    0x0062000B: "US",  # Referenced Segment Number
    0x0040A0B0: "US",  # Referenced Waveform Channels
    0x00700023: "CS",  # Graphic Type
    0x00700022: "FL",  # Graphic Data
    0x30060024: "UI",  # Referenced Frame of Reference UID
    0x0040A130: "CS",  # Temporal Range Type
    0x0040A132: "UL",  # Referenced Sample Positions
    0x0040A138: "DS",  # Referenced Time Offsets
    0x0040A13A: "DT",  # Referenced DateTime
    REFERENCED_CONTENT_ITEM: "UL",
}
_BINARY = {"US": "H", "UL": "I", "FL": "f"}
#: Every VR of PS3.5 6.2 (an unknown code leaves the file to the shared walker's judgement).
_KNOWN_VRS = frozenset(
    v.encode() for v in "AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SS ST SV TM UC UI UL UN UR US UT UV".split()
)


#: One dataset of the tree: tag -> value bytes, or -> list of datasets for a sequence.
_Node = dict


def content_tree(data: bytes, ds: Dataset) -> tuple[_Node, bool]:
    """The document's top level as a dict (tag -> value bytes, or -> list of items for a sequence),
    its sequences walked into (PS3.5 7.5); and whether its numbers are little endian.

    Walked with :mod:`viewer.core.dicom.elements` over the file's bytes
    (`ds`, pydicom's reading, gives the encoding of a file without a meta
    header); a deflated dataset (PS3.5 A.5) is inflated first.
    """
    import zlib

    source = Source.from_bytes(data)
    try:
        meta = read_file_meta(source)
        start, syntax = meta.end, meta.transfer_syntax
    except Unwalkable:  # no preamble (an old file): the dataset starts at once, encoded as pydicom found
        start, syntax = 0, ""
    if syntax == "1.2.840.10008.1.2.1.99":  # Deflated Explicit VR Little Endian
        source, start = Source.from_bytes(zlib.decompress(data[start:], -zlib.MAX_WBITS)), 0
    if syntax:
        implicit, little = encoding_of(syntax)
    else:
        implicit, little = bool(ds.is_implicit_VR), bool(ds.is_little_endian)
    if little and not implicit:  # nearly every report: the walk below, in one tight loop
        node, _ = _walk_explicit_le(source.data, start, len(source.data))
    else:
        node, _ = _walk_dataset(source, start, None, little, implicit)
    return node, little


_HEAD = struct.Struct("<HHI")  # group, element, item length
_EXPLICIT = struct.Struct("<HH2sH")  # group, element, VR, 16-bit length
_U32 = struct.Struct("<I")


def _walk_explicit_le(data: bytes, pos: int, end: int) -> tuple[_Node, int]:
    """One dataset in Explicit VR Little Endian (PS3.5 7.1.2) from `pos`: up to `end` or its
    (FFFE,E00D) *Item Delimitation Item*; the wanted values kept, sequences walked into. The same
    result as :func:`_walk_dataset` (the shared walker), four times faster: it reads the bytes itself."""
    node: dict = {}
    size = len(data)
    wanted = _VRS
    unpack, long_vrs = _EXPLICIT.unpack_from, LONG_LENGTH_VRS
    while pos + 8 <= end:
        group, element, vr, length = unpack(data, pos)
        tag = (group << 16) | element
        if group == 0xFFFE:
            if tag == ITEM_DELIMITER:
                return node, pos + 8
            raise Unwalkable(f"({group:04X},{element:04X}) inside a dataset")
        if vr in long_vrs:
            if pos + 12 > size:
                raise EndOfData("truncated")
            length = _U32.unpack_from(data, pos + 8)[0]
            value = pos + 12
        else:
            value = pos + 8
        if vr == b"SQ":
            if length == UNDEFINED_LENGTH:
                node[tag], pos = _items_explicit_le(data, value, end, True)
            else:
                node[tag], _ = _items_explicit_le(data, value, value + length, False)
                pos = value + length
            continue
        if length == UNDEFINED_LENGTH or vr not in _KNOWN_VRS:
            raise Unwalkable(f"({group:04X},{element:04X}) of undefined length or VR {vr!r}: left to the shared walker")
        if value + length > size:
            raise EndOfData("truncated")
        if tag in wanted:
            node[tag] = data[value : value + length]
        pos = value + length
    if pos != end and end != size:
        raise EndOfData("an item ends inside an element")
    return node, pos


def _items_explicit_le(data: bytes, pos: int, end: int, delimited: bool) -> tuple[list[_Node], int]:
    """The items of a sequence (PS3.5 7.5): up to its (FFFE,E0DD) *Sequence Delimitation Item*
    (`delimited`) or to `end`."""
    items = []
    while pos + 8 <= end:
        group, element, length = _HEAD.unpack_from(data, pos)
        tag = (group << 16) | element
        if tag == SEQUENCE_DELIMITER:
            return items, pos + 8
        if tag != ITEM:
            raise Unwalkable(f"a sequence holds ({group:04X},{element:04X}), not items")
        if length == UNDEFINED_LENGTH:
            node, pos = _walk_explicit_le(data, pos + 8, end)
        else:
            if pos + 8 + length > end:
                raise EndOfData("an item claims more than its sequence holds")
            node, _ = _walk_explicit_le(data, pos + 8, pos + 8 + length)
            pos += 8 + length
        items.append(node)
    if delimited:
        raise EndOfData("a sequence ends before its delimiter (truncated?)")
    return items, pos


def _walk_dataset(source, pos: int, end: int | None, little: bool, implicit: bool) -> tuple[_Node, int]:
    node: dict = {}
    walk = ElementWalk(source, pos, little, implicit, end)
    for element in walk:
        tag = element.tag
        if tag == ITEM_DELIMITER:
            return node, walk.pos
        vr = element.vr.decode("ascii") if element.vr is not None else implicit_vr(tag)
        if vr == "SQ" or (vr == "UN" and element.length == UNDEFINED_LENGTH):
            nested_implicit = implicit or vr == "UN"  # UN of undefined length: implicit VR inside (PS3.5 6.2.2)
            if element.length == UNDEFINED_LENGTH:
                node[tag], after = _walk_items(source, element.value_offset, None, little, nested_implicit)
                walk.resume(after)
            else:
                node[tag], _ = _walk_items(source, element.value_offset, element.value_offset + element.length, little, nested_implicit)
        elif tag in _VRS:
            node[tag] = source.value(element)
    return node, walk.pos


def _walk_items(source, pos: int, end: int | None, little: bool, implicit: bool) -> tuple[list[_Node], int]:
    items = []
    walk = ItemWalk(source, pos, little, implicit, end)
    for item in walk:
        if item.tag != ITEM:
            raise Unwalkable(f"a sequence holds ({item.tag >> 16:04X},{item.tag & 0xFFFF:04X}), not items")
        if item.length == UNDEFINED_LENGTH:
            node, after = _walk_dataset(source, item.value_offset, None, little, implicit)
            walk.resume(after)
        else:
            node, _ = _walk_dataset(source, item.value_offset, item.value_offset + item.length, little, implicit)
        items.append(node)
    return items, walk.pos


def _items(node: _Node, tag: int) -> list[_Node]:
    value = node.get(tag)
    return value if value.__class__ is list else []


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split("\\") if v.strip())


def _integers(text: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in text.split("\\") if v.strip())


class _Reader:
    """Values of the walked tree, decoded: the root's character sets apply to every nested item
    (PS3.5 7.5.3), through the tag inspector's :func:`~viewer.core.dicom.charset.decode_text`."""

    def __init__(self, declared: list[str], little: bool = True):
        self.declared = declared
        self.little = little
        self._decoded: dict[tuple[bytes, int], str] = {}  # code meanings and values repeat: each decoded once

    def text(self, node: _Node, tag: int) -> str:
        raw = node.get(tag)
        if raw is None or raw.__class__ is list:
            return ""
        key = (raw, tag)
        text = self._decoded.get(key)
        if text is None:
            text = self._decoded[key] = self._decode(raw, _VRS[tag])
        return text

    def _decode(self, raw: bytes, vr: str) -> str:
        if vr in _BINARY:
            size = struct.calcsize(_BINARY[vr])
            fmt = ("<" if self.little else ">") + _BINARY[vr] * (len(raw) // size)
            values = struct.unpack(fmt, raw[: size * (len(raw) // size)])
            # FL: nine significant digits give back the very float32 (as dsrdump prints them); six lost up to 1e-4 mm.
            return "\\".join(f"{v:.9g}" if vr == "FL" else str(v) for v in values)
        if vr not in ("SH", "LO", "UC", "UT", "PN"):
            return raw.decode("ascii", "replace").strip(" \x00")
        if raw.isascii() and b"\x1b" not in raw:  # ASCII reads the same in every character set but ISO 2022's escapes
            text = raw.decode("ascii")
            return _lines(text.rstrip("\x00")) if vr == "UT" else text.strip(" \x00")
        if vr == "UT":
            # A report's prose is decoded in its declared character set when it decodes in it: the
            # inspector's guesses are made for names, and a lone '§' in Latin-1 prose reads as
            # Shift_JIS to them (test-SR.dcm); with no declaration, or bytes that do not fit, they apply.
            if any(self.declared):
                try:
                    return _lines(decode_with(raw.rstrip(b"\x00"), self.declared, "UT"))
                except Exception:  # not in the declared set: the inspector's guesses
                    pass
            return _lines(decode_text(raw, vr, self.declared).text)
        return decode_text(raw, vr, self.declared).text.strip()

    def code(self, node: _Node, tag: int) -> Code | None:
        """The first item of a code sequence as a :class:`Code` (None when absent)."""
        items = _items(node, tag)
        if not items:
            return None
        item = items[0]
        value = self.text(item, 0x00080100) or self.text(item, 0x00080119) or self.text(item, 0x00080120)
        return Code(value, self.text(item, 0x00080102), self.text(item, 0x00080104))

    def item(self, node: _Node, position: str, relationship: str) -> ContentItem:
        value_type = self.text(node, VALUE_TYPE)
        item = ContentItem(position, relationship, value_type, self.code(node, CONCEPT_NAME))
        if not value_type:
            if REFERENCED_CONTENT_ITEM in node:  # by reference (PS3.3 C.17.3.2.5)
                item.reference = ".".join(self.text(node, REFERENCED_CONTENT_ITEM).split("\\"))
            else:
                item.problem = "no (0040,A040) Value Type"
        else:
            try:
                self._value(node, item)
            except Exception as exc:  # one damaged value: said on its item, the rest of the report is shown
                item.problem = f"damaged value ({exc.__class__.__name__})"
        item.observed = _datetime(self.text(node, OBSERVATION_DATETIME))
        for number, child in enumerate(_items(node, CONTENT_SEQUENCE), 1):
            item.children.append(self.item(child, f"{position}.{number}", self.text(child, RELATIONSHIP_TYPE)))
        return item

    def _value(self, node: _Node, item: ContentItem) -> None:
        kind = item.value_type
        if kind == "CONTAINER":
            item.continuity = self.text(node, CONTINUITY)
        elif kind == "TEXT":
            item.value = self.text(node, TEXT_VALUE)
        elif kind == "CODE":
            item.code = self.code(node, CONCEPT_CODE)
            item.value = item.code.text() if item.code else ""
        elif kind == "NUM":
            measured = _items(node, MEASURED_VALUE)
            if measured:
                item.number = self.text(measured[0], NUMERIC_VALUE)
                item.unit = self.code(measured[0], UNITS)
                item.value = " ".join(p for p in (item.number, _unit_text(item.unit)) if p)
            item.qualifier = self.code(node, NUMERIC_QUALIFIER)
            if item.qualifier is not None and not item.value:
                item.value = item.qualifier.text()  # no value, and why (PS3.3 C.18.1: e.g. "Not a number")
        elif kind == "DATE":
            item.value = format_date(self.text(node, DATE))
        elif kind == "TIME":
            item.value = format_time(self.text(node, TIME))
        elif kind == "DATETIME":
            item.value = _datetime(self.text(node, DATETIME))
        elif kind == "PNAME":
            item.value = format_person_name(self.text(node, PERSON_NAME))
        elif kind == "UIDREF":
            item.value = self.text(node, UID_VALUE)
        elif kind in ("COMPOSITE", "IMAGE", "WAVEFORM"):
            item.references = tuple(self._reference(ref) for ref in _items(node, REFERENCED_SOP))
            item.value = "; ".join(_reference_text(ref) for ref in item.references)
        elif kind in ("SCOORD", "SCOORD3D"):
            item.graphic_type = self.text(node, 0x00700023)
            item.graphic_data = _numbers(self.text(node, 0x00700022))
            item.frame_of_reference_uid = self.text(node, 0x30060024)
            item.value = _coordinates_text(item.graphic_type, item.graphic_data, 3 if kind == "SCOORD3D" else 2)
        elif kind == "TCOORD":
            item.graphic_type = self.text(node, 0x0040A130)
            for tag, label in ((0x0040A132, "sample positions"), (0x0040A138, "time offsets"), (0x0040A13A, "times")):
                values = self.text(node, tag)
                if values:
                    item.value = f"{item.graphic_type} {label} {values.replace(chr(92), ', ')}"
                    break
            else:
                item.value = item.graphic_type

    def _reference(self, ref: _Node) -> ObjectReference:
        presentation = _items(ref, REFERENCED_SOP)
        return ObjectReference(
            self.text(ref, 0x00081150),
            self.text(ref, 0x00081155),
            _integers(self.text(ref, 0x00081160)),
            _integers(self.text(ref, 0x0062000B)),
            _integers(self.text(ref, 0x0040A0B0)),
            self.text(presentation[0], 0x00081155) if presentation else "",
        )


def _lines(text: str) -> str:
    """UT line breaks (PS3.5 6.2) as '\\n', trailing ones and spaces dropped."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip(" \n")


def _unit_text(unit: Code | None) -> str:
    """A unit as written: the UCUM code ('mm', 'mGy'), its meaning where the code says nothing
    ('1' for no unit: PS3.16 CID 82)."""
    if unit is None:
        return ""
    if unit.scheme == "UCUM" and unit.value and unit.value != "1":
        return unit.value
    return unit.meaning if unit.value in ("1", "") else unit.value


def _reference_text(ref: ObjectReference) -> str:
    parts = [ref.sop_class_name or ref.sop_class_uid, ref.sop_instance_uid]
    if ref.frames:
        parts.append(f"frame{'s' if len(ref.frames) > 1 else ''} {', '.join(map(str, ref.frames))}")
    if ref.segments:
        parts.append(f"segments {', '.join(map(str, ref.segments))}")
    if ref.channels:
        parts.append(f"channels {', '.join(map(str, ref.channels))}")
    if ref.presentation_state_uid:
        parts.append(f"presentation state {ref.presentation_state_uid}")
    return " ".join(p for p in parts if p)


def _coordinates_text(graphic_type: str, data: tuple[float, ...], dimensions: int) -> str:
    points = [data[i : i + dimensions] for i in range(0, len(data) - dimensions + 1, dimensions)]
    return " ".join([graphic_type] + ["(" + ", ".join(f"{v:g}" for v in point) + ")" for point in points])


# ----------------------------------------------------------------------------- writing


def item_line(item: ContentItem) -> str:
    """One content item as one line: relationship, value type, "concept name", = value.

    The same parts, in the same order, as a line of dcmtk's ``dsrdump`` (its
    ``<contains NUM:(,,"Diameter")="3" (cm,...)>`` reads here
    ``contains NUM "Diameter" = 3 cm``); a by-reference item reads
    ``inferred from 1.2.2.1`` as there. Line breaks in a value are written
    ``\\n`` so that an item stays one line.
    """
    relationship = item.relationship.lower()
    if not item.value_type:
        return " ".join(p for p in (relationship, item.reference or "(invalid item)") if p)
    parts = [relationship, item.value_type] if relationship else [item.value_type]
    if item.concept is not None:
        parts.append(f'"{item.concept.text()}"')
    if item.continuity:
        parts.append(f"({item.continuity})")
    line = " ".join(parts)
    if item.value:
        line += " = " + item.value.replace("\n", "\\n")
    if item.observed:
        line += f" {{{item.observed}}}"
    if item.problem:
        line += f" [{item.problem}]"
    return line


def header_lines(report: Report) -> list[str]:
    """The document's header, as dsrdump's: kind, patient, study, series, flags, observers, dates."""
    rows = [
        ("Title", report.title),
        ("Patient", " ".join(p for p in (report.patient, f"({report.patient_id})" if report.patient_id else "") if p)),
        ("Study", report.study),
        ("Series", report.series),
        ("Completion Flag", report.completion),
        ("", report.completion_description),
        ("Predecessor Docs", str(report.predecessors) if report.predecessors else ""),
        ("Verification Flag", report.verification),
    ]
    rows += [("Verifying Observers" if i == 0 else "", o.text()) for i, o in enumerate(report.verifying_observers)]
    rows += [("Author" if i == 0 else "", o.text()) for i, o in enumerate(report.authors)]
    rows.append(("Content Date/Time", report.content_datetime))
    return [report.kind, ""] + [f"{name:<20}: {value}" if name else f"{'':<22}{value}" for name, value in rows if value]


def report_lines(report: Report) -> list[str]:
    """The report as text: :func:`header_lines`, a blank line, then each content item
    (:func:`item_line`) indented two spaces per level, in dsrdump's order."""
    return header_lines(report) + [""] + ["  " * depth + item_line(item) for depth, item in report.items()]


def report_json(report: Report) -> dict:
    """The report as a JSON tree: the header's fields and ``content``, the root item with its children."""
    return {
        "sop_class_uid": report.sop_class_uid,
        "sop_instance_uid": report.sop_instance_uid,
        "kind": report.kind,
        "title": report.title,
        "patient": report.patient,
        "patient_id": report.patient_id,
        "study": report.study,
        "series": report.series,
        "completion": report.completion,
        "completion_description": report.completion_description,
        "verification": report.verification,
        "verifying_observers": [{"name": o.name, "organisation": o.organisation, "datetime": o.when} for o in report.verifying_observers],
        "authors": [{"name": o.name, "organisation": o.organisation} for o in report.authors],
        "content_datetime": report.content_datetime,
        "predecessors": report.predecessors,
        "content": report.root.to_json(),
    }
