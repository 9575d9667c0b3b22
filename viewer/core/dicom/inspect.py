"""Every attribute of a dataset as rows for the tag inspector and ``dump``.

Rows carry the tag, keyword and name (private tags with their private
creator and, where pydicom's private dictionary knows it, a name), VR, VM,
length and the value as shown: text through :mod:`viewer.core.dicom.charset`,
numbers and dates through pydicom, bulk data summarised, never dumped.
Values pydicom finds invalid (a DS that is not a number, a date that is
not a date, an odd length) are shown raw with a warning; nothing here
raises on a malformed value.
"""

from __future__ import annotations

import datetime
import re
import warnings
from dataclasses import dataclass, field

from pydicom.datadict import dictionary_description, dictionary_has_tag, dictionary_VR, keyword_for_tag, private_dictionary_description
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from viewer.core.dicom.charset import TEXT_VRS, CharsetOverrides, declared_charsets, element_text, value_text
from viewer.core.dicom.truncation import DAMAGED
from viewer.core.runtime.wording import count

BULK_VRS = {"OB", "OD", "OF", "OL", "OV", "OW", "UN"}
PIXEL_KEYWORDS = {"PixelData", "FloatPixelData", "DoubleFloatPixelData"}
ELIDE_AT = 160


@dataclass
class TagRow:
    """One element (or one sequence item) as the inspector shows it."""

    tag: str  # "(0010,0010)", or "Item 3" for a sequence item
    keyword: str
    name: str
    vr: str
    vm: int
    length: int | None
    value: str  # as shown (elided when long)
    full_value: str  # the whole text, for copy and "show all"
    suspect: bool = False
    guess: str | None = None
    warning: str = ""
    children: list[TagRow] = field(default_factory=list)
    tag_value: int | None = None

    def line(self) -> str:
        """One row as text, for copying."""
        flags = f" [guess: {self.guess}]" if self.guess else (" [suspect]" if self.suspect else "")
        if self.warning:
            flags += f" [{self.warning}]" if self.warning.startswith("truncated") else f" [invalid: {self.warning}]"
        length = "" if self.length is None else f" #{self.length}"
        return f"{self.tag} {self.vr} {self.keyword or self.name} = {self.full_value}{flags}{length}".rstrip()


def _dictionary_vr(tag: int) -> str:
    """The VR of an implicit-VR element, from the data dictionary ('' if unknown)."""
    try:
        vr = dictionary_VR(tag)
    except KeyError:
        return ""
    return vr if vr in TEXT_VRS or "or" not in vr else ""


def _tag_text(tag: int) -> str:
    return f"({tag >> 16:04X},{tag & 0xFFFF:04X})"


def _name(ds: Dataset, tag: int) -> tuple[str, str]:
    """(keyword, name), private tags with their creator (PS3.5 7.8.1)."""
    group, element = tag >> 16, tag & 0xFFFF
    if group % 2 == 1:
        if element == 0x0000:
            return "", "Private Group Length"
        if 0x0010 <= element <= 0x00FF:
            return "", "Private Creator"
        creator_tag = (group << 16) | (element >> 8)
        creator = ""
        if creator_tag in ds:
            creator_elem = ds.get_item(creator_tag)
            raw = creator_elem.value
            creator = raw.decode("latin-1", "replace").strip(" \x00") if isinstance(raw, bytes) else str(raw).strip()
        try:
            description = private_dictionary_description(tag, creator) if creator else ""
        except KeyError:
            description = ""
        return "", f"[{creator or 'unknown creator'}] {description or 'private'}"
    if dictionary_has_tag(tag):
        return keyword_for_tag(tag), dictionary_description(tag)
    return "", "Unknown"


def _convert(ds: Dataset, tag: int) -> tuple[DataElement | None, str]:
    """pydicom's element, and the reason if pydicom found its value invalid."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            elem = ds[tag]
        except Exception as exc:  # a malformed value is shown raw
            return None, " ".join(str(exc).split())[:200]
    reasons = [" ".join(str(w.message).split())[:200] for w in caught]
    return elem, "; ".join(reasons)


def _raw_of(ds: Dataset, tag: int) -> RawDataElement | DataElement:
    # keep_deferred: pydicom takes a raw value of None for "not read yet" and
    # converts it on get_item, which raises for a stray (FFFE,E000) item or
    # delimiter tag at the top level (VR 'NONE'; found by tests/robustness).
    # Nothing here is read deferred, so the raw element is what we want.
    return ds.get_item(tag, keep_deferred=True)


def _length(item) -> int | None:
    if isinstance(item, RawDataElement):
        return None if item.length == 0xFFFFFFFF else item.length
    value = item.value
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return None


def _summary_of_bulk(ds: Dataset, keyword: str, length: int | None, vr: str) -> str:
    size = f"{length} bytes" if length is not None else "undefined length (encapsulated)"
    if keyword in PIXEL_KEYWORDS:
        frames = _plain(ds, "NumberOfFrames", None) or 1
        meta = getattr(ds, "file_meta", None)
        syntax = _plain(meta, "TransferSyntaxUID", None) if meta is not None else None
        name = getattr(syntax, "name", str(syntax or "unknown transfer syntax"))
        frames = count(int(frames), "frame") if str(frames).strip().isdigit() else f"{frames} frames"
        return f"<pixel data: {size}, {frames}, {_plain(ds, 'Rows', '?')}x{_plain(ds, 'Columns', '?')}, {name}>"
    return f"<{vr} {size}>"


def _plain(ds: Dataset, keyword: str, default):
    """An attribute for a summary line; `default` when pydicom cannot convert it.

    'inf' in (0028,0008) or an unknown VR code on (0028,0010) made the
    summary of the pixel data raise (tests/robustness: number_of_frames_inf,
    unknown_vr_rows); the element's own row shows the raw value.
    """
    try:
        return ds.get(keyword, default)
    except Exception:  # see above
        return default


def _vm(text: str, vr: str) -> int:
    if not text:
        return 0
    if vr in ("LT", "ST", "UT", "SQ") or vr in BULK_VRS:
        return 1
    return text.count("\\") + 1


def dataset_rows(
    ds: Dataset,
    path: str | None = None,
    overrides: CharsetOverrides | None = None,
    declared: list[str] | None = None,
    include_meta: bool = True,
) -> list[TagRow]:
    """Rows for every element of `ds`, file meta first, sequences as children."""
    rows: list[TagRow] = []
    meta = getattr(ds, "file_meta", None) if include_meta else None
    if meta is not None:
        rows.extend(dataset_rows(meta, None, overrides, [""], include_meta=False))
    charsets = declared_charsets(ds) if 0x00080005 in ds or declared is None else declared
    first = len(rows)
    for tag in sorted(ds.keys()):
        tag = int(tag)
        item = _raw_of(ds, tag)
        keyword, name = _name(ds, tag)
        vr = str(item.VR or _dictionary_vr(tag))
        length = _length(item)
        if vr == "SQ":
            rows.append(_sequence_row(ds, tag, keyword, name, length, path, overrides, charsets))
            continue
        if vr in BULK_VRS and (length is None or length > 64 or keyword in PIXEL_KEYWORDS):
            summary = _summary_of_bulk(ds, keyword, length, vr)
            rows.append(TagRow(_tag_text(tag), keyword, name, vr, 1, length, summary, summary, tag_value=tag))
            continue
        if vr in TEXT_VRS:
            decoded = element_text(ds, tag, path, overrides, charsets)
            text = decoded.text if decoded is not None else ""
            rows.append(
                TagRow(
                    _tag_text(tag),
                    keyword,
                    name,
                    vr,
                    _vm(text, vr),
                    length,
                    _elide(text),
                    text,
                    decoded.suspect if decoded else False,
                    decoded.guess if decoded else None,
                    warning=f"odd value length {length}" if length is not None and length % 2 == 1 else "",
                    tag_value=tag,
                )
            )
            continue
        elem, problem = _convert(ds, tag)
        if elem is not None and elem.VR == "SQ":
            rows.append(_sequence_row(ds, tag, keyword, name, length, path, overrides, charsets))
            continue
        if elem is None:
            raw = item.value if isinstance(item.value, (bytes, bytearray)) else b""
            text = bytes(raw).decode("latin-1", "replace")
        else:
            text = value_text(elem)
            vr = str(elem.VR)
            problem = problem or _check_value(elem, length)
            if problem and isinstance(item, RawDataElement) and isinstance(item.value, (bytes, bytearray)):
                text = bytes(item.value).decode("latin-1", "replace").rstrip("\x00 ")  # shown raw
        rows.append(TagRow(_tag_text(tag), keyword, name, vr, _vm(text, vr), length, _elide(text), text, warning=problem, tag_value=tag))
    damaged = getattr(ds, DAMAGED, None) or {}
    for row in rows[first:]:
        if row.tag_value in damaged:
            row.warning = damaged[row.tag_value]  # the file ends inside it (viewer.core.dicom.truncation)
    return rows


def _check_value(elem: DataElement, length: int | None, text: str | None = None) -> str:
    """Faults pydicom lets through: odd lengths (PS3.5 7.1.1), and DS, IS, DA,
    TM, DT values that are not what PS3.5 Table 6.2-1 allows (pydicom keeps
    them as strings without a warning)."""
    if length is not None and length % 2 == 1:
        return f"odd value length {length}"
    vr = str(elem.VR)
    if vr not in _FORMATS:
        return ""
    text = value_text(elem) if text is None else text
    for value in text.split("\\"):
        value = value.strip(" \x00")
        if value and not _FORMATS[vr](value):
            return f"not a valid {vr} value: {value!r}"
    return ""


def _is_ds(value: str) -> bool:
    return len(value) <= 16 and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", value) is not None


def _is_is(value: str) -> bool:
    return len(value) <= 12 and re.fullmatch(r"[+-]?\d+", value) is not None and -(2**31) <= int(value) < 2**31


def _is_da(value: str) -> bool:
    if re.fullmatch(r"\d{8}", value) is None:
        return False
    try:
        datetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return False
    return True


def _is_tm(value: str) -> bool:
    match = re.fullmatch(r"(\d\d)(\d\d)?(\d\d)?(\.\d{1,6})?", value)
    if match is None or (match.group(4) and not match.group(3)):
        return False
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups()[:3])
    return hours < 24 and minutes < 60 and seconds <= 60  # 60: a leap second


def _is_dt(value: str) -> bool:
    match = re.fullmatch(r"(\d{4})(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\d\d)?(\.\d{1,6})?([+-]\d{4})?", value)
    if match is None:
        return False
    month, day = int(match.group(2) or 1), int(match.group(3) or 1)
    try:
        datetime.date(int(match.group(1)), month, day)
    except ValueError:
        return False
    time = "".join(g or "" for g in match.groups()[3:7])
    return not time or _is_tm(time)


_FORMATS = {"DS": _is_ds, "IS": _is_is, "DA": _is_da, "TM": _is_tm, "DT": _is_dt}


def _sequence_row(ds, tag, keyword, name, length, path, overrides, charsets) -> TagRow:
    elem, problem = _convert(ds, tag)
    items = list(elem.value) if elem is not None and elem.value is not None else []
    items_text = count(len(items), "item")
    row = TagRow(_tag_text(tag), keyword, name, "SQ", len(items), length, items_text, items_text, warning=problem, tag_value=tag)
    for i, item in enumerate(items, start=1):
        children = dataset_rows(item, path, overrides, charsets, include_meta=False)
        elements_text = count(len(children), "element")
        row.children.append(TagRow(f"Item {i}", "", "Item", "", len(children), None, elements_text, elements_text, children=children))
    return row


def _elide(text: str) -> str:
    return text if len(text) <= ELIDE_AT else text[: ELIDE_AT - 1] + "…"


def preamble_row(path) -> TagRow | None:
    """A warning row when the file's preamble is a program (PS3.10 7.1, CVE-2019-11687)."""
    from viewer.core.dicom.io import executable_preamble

    warning = executable_preamble(path)
    if not warning:
        return None
    return TagRow("Preamble", "", "File Preamble", "", 1, 128, "executable code", "executable code", warning=warning)


def iter_rows(rows: list[TagRow], depth: int = 0):
    """(depth, row) for every row, depth-first."""
    for row in rows:
        yield depth, row
        yield from iter_rows(row.children, depth + 1)


def dump_text(rows: list[TagRow]) -> str:
    """The whole tree as text, indented like dcmdump's."""
    return "\n".join("  " * depth + row.line() for depth, row in iter_rows(rows))


# ----------------------------------------------------------------------------- DICOM JSON (PS3.18 F)

_NUMBER_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "IS", "DS"}
_BINARY_VRS = {"US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "AT"}


def to_json_model(
    ds: Dataset, path: str | None = None, overrides: CharsetOverrides | None = None, declared: list[str] | None = None
) -> dict:
    """The DICOM JSON model of `ds` (PS3.18 F.2), values decoded as the inspector shows them.

    Keys are 'ggggeeee'; Person Names are {'Alphabetic', 'Ideographic',
    'Phonetic'}; bulk data (OB, OW, UN ..., pixel data) is left out (its
    'vr' kept, no value), as F.2.7 allows with no BulkDataURI.
    """
    out: dict = {}
    charsets = declared_charsets(ds) if 0x00080005 in ds or declared is None else declared
    for tag in sorted(ds.keys()):
        tag = int(tag)
        key = f"{tag:08X}"
        item = _raw_of(ds, tag)
        vr = str(item.VR or _dictionary_vr(tag))
        if vr in TEXT_VRS:
            decoded = element_text(ds, tag, path, overrides, charsets)
            text = decoded.text if decoded is not None else ""
            entry: dict = {"vr": vr}
            if text:
                values = text.split("\\") if vr not in ("LT", "ST", "UT") else [text]
                if vr == "PN":
                    entry["Value"] = [_pn_json(v) for v in values]
                else:
                    entry["Value"] = [v.rstrip(" ") for v in values]
            out[key] = entry
            continue
        if vr in BULK_VRS:
            out[key] = {"vr": vr}
            continue
        elem, problem = _convert(ds, tag)
        if elem is None:
            out[key] = {"vr": vr or "UN"}
            continue
        vr = str(elem.VR)
        entry = {"vr": vr}
        if vr not in ("SQ", *BULK_VRS):
            problem = problem or _check_value(elem, _length(item))
        if vr == "SQ":
            # isinstance: a damaged SQ may hold a value that is not a list of items (tests/robustness)
            items = elem.value if isinstance(elem.value, (list, tuple, Sequence)) else []  # pydicom's Sequence is no list
            entry["Value"] = [to_json_model(i, path, overrides, charsets) for i in items if isinstance(i, Dataset)]
        elif vr in BULK_VRS:
            pass
        elif problem and isinstance(item, RawDataElement):
            # An invalid value (e.g. an AT of 3 bytes) has no JSON form: string
            # VRs keep their raw text, binary ones their VR only.
            if isinstance(item.value, (bytes, bytearray)) and vr not in _BINARY_VRS:
                entry["Value"] = [bytes(item.value).decode("latin-1").rstrip("\x00 ")]
        elif elem.value not in (None, "", b""):
            values = list(elem.value) if elem.VM > 1 else [elem.value]
            if vr in _NUMBER_VRS:
                entry["Value"] = [_number(v) for v in values]
            elif vr == "AT":
                # An AT value pydicom could not split evenly comes as a nested list (tests/robustness).
                tags = [t for v in values for t in (v if isinstance(v, (list, tuple, MultiValue)) else [v])]
                entry["Value"] = [f"{int(t):08X}" for t in tags]
            else:
                entry["Value"] = [str(v) for v in values]
        out[key] = entry
    return out


def _number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return int(number) if number.is_integer() and not isinstance(value, float) else number


def _pn_json(value: str) -> dict:
    groups = value.split("=")
    out = {}
    for label, group in zip(("Alphabetic", "Ideographic", "Phonetic"), groups):
        if group:
            out[label] = group
    return out
