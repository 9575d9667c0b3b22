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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import UID

from viewer.core.dicom.charset import declared_charsets, decode_with, element_text
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
        return UID(self.sop_class_uid).name if self.sop_class_uid else ""

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
    ds = read_header(path)  # SRs have no Pixel Data: this is the whole file
    for message in getattr(ds, "read_warnings", []):
        if "End of file reached" in message:
            raise ViewerError("the file is truncated (it ends in the middle of an element)", path)
    try:
        sop_class = str(ds.get("SOPClassUID", "") or "")
    except Exception:  # a damaged UID value
        sop_class = ""
    if not is_structured_report(sop_class):
        raise ViewerError(f"is not a Structured Report (it is {sop_class_name(ds)})", path)
    try:
        return report_of(ds, str(path))
    except ViewerError as exc:
        raise ViewerError(exc.reason, path) from None
    except Exception as exc:  # pydicom raises many kinds on malformed nested data
        raise ViewerError(f"damaged Structured Report content ({exc.__class__.__name__}: {exc})", path) from None


def report_of(ds: Dataset, path: str | None = None) -> Report:
    """The :class:`Report` of a dataset read whole (`path`: for the user's character-set overrides)."""
    reader = _Reader(ds, path)
    if VALUE_TYPE not in ds:
        raise ViewerError("damaged Structured Report: the document has no (0040,A040) Value Type")
    report = Report(
        sop_class_uid=reader.text(ds, 0x00080016),
        sop_instance_uid=reader.text(ds, 0x00080018),
        kind=UID(str(ds.get("SOPClassUID", ""))).name.removesuffix(" Storage"),
        patient=format_person_name(reader.text(ds, 0x00100010)),
        patient_id=reader.text(ds, 0x00100020),
        study=reader.text(ds, 0x00081030),
        series=_series_label(reader, ds),
        completion=reader.text(ds, 0x0040A491),
        completion_description=reader.text(ds, 0x0040A492),
        verification=reader.text(ds, 0x0040A493),
        verifying_observers=[
            Observer(format_person_name(reader.text(o, 0x0040A075)), reader.text(o, 0x0040A027), _datetime(reader.text(o, 0x0040A030)))
            for o in _items(ds, 0x0040A073)
        ],
        authors=[_author(reader, o) for o in _items(ds, 0x0040A078)],
        content_datetime=" ".join(p for p in (format_date(reader.text(ds, 0x00080023)), format_time(reader.text(ds, 0x00080033))) if p),
        predecessors=sum(len(_items(study, 0x00081115)) for study in _items(ds, 0x0040A360)),
    )
    report.root = reader.item(ds, "1", "")
    return report


def _series_label(reader: _Reader, ds: Dataset) -> str:
    description, number = reader.text(ds, 0x0008103E), reader.text(ds, 0x00200011)
    return " ".join(p for p in (description, f"(#{number})" if description else f"#{number}") if p) if number else description


def _author(reader: _Reader, item: Dataset) -> Observer:
    """An author: a person ((0040,A123) *Person Name*) or a device ((0018,1002) *Device UID*, its
    (0008,0070) *Manufacturer*), with (0008,0080) *Institution Name*."""
    name = format_person_name(reader.text(item, PERSON_NAME))
    if not name:
        name = " ".join(p for p in (reader.text(item, 0x00080070), reader.text(item, 0x00181002)) if p)
    return Observer(name, reader.text(item, 0x00080080))


def _items(ds: Dataset, tag: int) -> list[Dataset]:
    """The items of a sequence ([] when absent or empty)."""
    if tag not in ds:
        return []
    value = ds[tag].value
    return list(value) if value else []


def _datetime(dt: str) -> str:
    """A DT value (PS3.5 6.2) as 'YYYY-MM-DD HH:MM:SS'."""
    return " ".join(p for p in (format_date(dt[:8]), format_time(dt[8:])) if p) if dt else ""


def _numbers(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split("\\") if v.strip())


def _integers(text: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in text.split("\\") if v.strip())


class _Reader:
    """Decoding of one report's values: the root's character sets apply to every nested item."""

    def __init__(self, ds: Dataset, path: str | None):
        self.declared = declared_charsets(ds)
        self.path = path

    def text(self, ds: Dataset, tag: int) -> str:
        decoded = element_text(ds, tag, self.path, None, self.declared)
        return "" if decoded is None else decoded.text.strip()

    def long_text(self, ds: Dataset, tag: int) -> str:
        """UT/ST values keep their line breaks (PS3.5 6.2), normalised to '\\n'.

        A report's prose is decoded in its declared character set when it decodes in it: the
        inspector's guesses are made for names, and a lone '§' in Latin-1 prose reads as Shift_JIS
        to them (test-SR.dcm); with no declaration, or bytes that do not decode, they apply.
        """
        text = None
        if any(self.declared) and tag in ds:
            raw = ds.get_item(tag).value
            if isinstance(raw, (bytes, bytearray)):
                try:
                    text = decode_with(bytes(raw).rstrip(b"\x00"), self.declared, "UT")
                except Exception:  # not in the declared set: the inspector's guesses
                    text = None
            elif isinstance(raw, str):
                text = raw
        if text is None:
            decoded = element_text(ds, tag, self.path, None, self.declared)
            if decoded is None:
                return ""
            text = decoded.text
        return text.replace("\r\n", "\n").replace("\r", "\n").rstrip(" \n")

    def code(self, ds: Dataset, tag: int) -> Code | None:
        """The first item of a code sequence as a :class:`Code` (None when absent)."""
        items = _items(ds, tag)
        if not items:
            return None
        item = items[0]
        value = self.text(item, 0x00080100) or self.text(item, 0x00080119) or self.text(item, 0x00080120)
        return Code(value, self.text(item, 0x00080102), self.text(item, 0x00080104))

    def item(self, ds: Dataset, position: str, relationship: str) -> ContentItem:
        value_type = self.text(ds, VALUE_TYPE)
        item = ContentItem(position, relationship, value_type, self.code(ds, CONCEPT_NAME))
        if not value_type:
            if REFERENCED_CONTENT_ITEM in ds:  # by reference (PS3.3 C.17.3.2.5)
                item.reference = ".".join(str(n) for n in _integers(self.text(ds, REFERENCED_CONTENT_ITEM)))
            else:
                item.problem = "no (0040,A040) Value Type"
        else:
            try:
                self._value(ds, item)
            except Exception as exc:  # one damaged value: said on its item, the rest of the report is shown
                item.problem = f"damaged value ({exc.__class__.__name__})"
        observed = self.text(ds, OBSERVATION_DATETIME)
        item.observed = _datetime(observed)
        for number, child in enumerate(_items(ds, CONTENT_SEQUENCE), 1):
            item.children.append(self.item(child, f"{position}.{number}", self.text(child, RELATIONSHIP_TYPE)))
        return item

    def _value(self, ds: Dataset, item: ContentItem) -> None:
        kind = item.value_type
        if kind == "CONTAINER":
            item.continuity = self.text(ds, CONTINUITY)
        elif kind == "TEXT":
            item.value = self.long_text(ds, TEXT_VALUE)
        elif kind == "CODE":
            item.code = self.code(ds, CONCEPT_CODE)
            item.value = item.code.text() if item.code else ""
        elif kind == "NUM":
            measured = _items(ds, MEASURED_VALUE)
            if measured:
                item.number = self.text(measured[0], NUMERIC_VALUE)
                item.unit = self.code(measured[0], UNITS)
                item.value = " ".join(p for p in (item.number, _unit_text(item.unit)) if p)
            item.qualifier = self.code(ds, NUMERIC_QUALIFIER)
            if item.qualifier is not None and not item.value:
                item.value = item.qualifier.text()  # no value, and why (PS3.3 C.18.1: e.g. "Not a number")
        elif kind == "DATE":
            item.value = format_date(self.text(ds, DATE))
        elif kind == "TIME":
            item.value = format_time(self.text(ds, TIME))
        elif kind == "DATETIME":
            item.value = _datetime(self.text(ds, DATETIME))
        elif kind == "PNAME":
            item.value = format_person_name(self.text(ds, PERSON_NAME))
        elif kind == "UIDREF":
            item.value = self.text(ds, UID_VALUE)
        elif kind in ("COMPOSITE", "IMAGE", "WAVEFORM"):
            item.references = tuple(self._reference(ref) for ref in _items(ds, REFERENCED_SOP))
            item.value = "; ".join(_reference_text(ref) for ref in item.references)
        elif kind in ("SCOORD", "SCOORD3D"):
            item.graphic_type = self.text(ds, 0x00700023)
            item.graphic_data = _numbers(self.text(ds, 0x00700022))
            item.frame_of_reference_uid = self.text(ds, 0x30060024)
            item.value = _coordinates_text(item.graphic_type, item.graphic_data, 3 if kind == "SCOORD3D" else 2)
        elif kind == "TCOORD":
            item.graphic_type = self.text(ds, 0x0040A130)
            for tag, label in ((0x0040A132, "sample positions"), (0x0040A138, "time offsets"), (0x0040A13A, "times")):
                values = self.text(ds, tag)
                if values:
                    item.value = f"{item.graphic_type} {label} {values.replace(chr(92), ', ')}"
                    break
            else:
                item.value = item.graphic_type

    def _reference(self, ref: Dataset) -> ObjectReference:
        presentation = _items(ref, REFERENCED_SOP)
        return ObjectReference(
            self.text(ref, 0x00081150),
            self.text(ref, 0x00081155),
            _integers(self.text(ref, 0x00081160)),
            _integers(self.text(ref, 0x00620011)),
            _integers(self.text(ref, 0x0040A0B0)),
            self.text(presentation[0], 0x00081155) if presentation else "",
        )


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
