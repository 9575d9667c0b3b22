"""Replacement values: dummies consistent with the VR (action D), shifted dates (Modified Dates option),
free text with the patient's identifiers taken out (action C)."""

from __future__ import annotations

import datetime as dt
import re

#: Action D: "replace with a non-zero length value that may be a dummy value and consistent with the VR"
#: (PS3.15 E.1.1). Binary VRs get zero bytes; UI is never dummied (U replaces it).
DUMMY_TEXT = "ANONYMIZED"
DUMMY_BY_VR: dict[str, object] = {
    "AE": "ANONYMIZED",
    "AS": "000D",
    "CS": "ANONYMIZED",
    "DA": "19000101",
    "DS": "0",
    "DT": "19000101000000",
    "IS": "0",
    "LO": DUMMY_TEXT,
    "LT": DUMMY_TEXT,
    "PN": "ANONYMIZED",
    "SH": DUMMY_TEXT,
    "ST": DUMMY_TEXT,
    "TM": "000000",
    "UC": DUMMY_TEXT,
    "UR": "",
    "UT": DUMMY_TEXT,
    "FL": 0.0,
    "FD": 0.0,
    "SL": 0,
    "SS": 0,
    "UL": 0,
    "US": 0,
    "SV": 0,
    "UV": 0,
    "AT": 0,
    "OB": b"\0\0",
    "OD": b"\0" * 8,
    "OF": b"\0" * 4,
    "OL": b"\0" * 4,
    "OV": b"\0" * 8,
    "OW": b"\0\0",
    "UN": b"\0\0",
}
#: PS3.5 Table 6.2-1: the longest value each text VR holds (characters).
MAX_LENGTH = {"AE": 16, "CS": 16, "LO": 64, "SH": 16, "PN": 64, "LT": 10240, "ST": 1024, "UC": 0, "UT": 0}
FREE_TEXT_VRS = frozenset({"LT", "ST", "UT", "UC"})
TEXT_VRS = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UT"})


def dummy(vr: str) -> object:
    return DUMMY_BY_VR.get(vr, b"")


# ---------------------------------------------------------------------------- dates


def shift_date(value: str, days: int) -> str:
    """A DA value (or a range, PS3.5 6.2 "YYYYMMDD-YYYYMMDD") moved by `days`; '' when it is not a date."""
    if "-" in value:
        return "-".join(shift_date(part, days) if part else "" for part in value.split("-", 1))
    text = value.strip()
    if len(text) != 8 or not text.isdigit():
        return ""
    try:
        day = dt.date(int(text[:4]), int(text[4:6]), int(text[6:8])) + dt.timedelta(days=days)
    except (ValueError, OverflowError):
        return ""
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def shift_datetime(value: str, days: int) -> str:
    """A DT value moved by `days`: its date part moves, the time and offset stay; '' for less than a whole date."""
    if "-" in value[1:8]:  # a range; a '-' after the date is a UTC offset
        left, right = value.split("-", 1)
        return shift_datetime(left, days) + "-" + (shift_datetime(right, days) if right else "")
    text = value.strip()
    if len(text) < 8:
        return ""  # YYYY or YYYYMM alone cannot be moved by days without inventing a day
    date = shift_date(text[:8], days)
    return date + text[8:] if date else ""


def shift_value(vr: str, value, days: int):
    """A DA, DT or TM element's value (one string or several) moved by `days`; times do not move."""
    if vr == "TM":
        return value
    shift = shift_date if vr == "DA" else shift_datetime
    if isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and not isinstance(value, (str, bytes))):
        return [shift(str(v), days) for v in value]
    return shift(str(value), days) if value not in (None, "") else value


# ---------------------------------------------------------------------------- clean (action C) for text


class Scrubber:
    """Takes a patient's identifiers out of free text: Clean Descriptors and Clean Structured Content (E.3.4,
    E.3.5: "replace with values of similar meaning known not to contain identifying information").

    The identifiers are the values of the instance's identifying attributes (names and their components,
    IDs, accession number, birth date, addresses, telephone numbers, institution and staff names); each
    occurrence in a text, in any case, becomes ``***``. Words shorter than 3 characters (initials) are left.
    """

    def __init__(self, identifiers: list[str]):
        words = set()
        for identifier in identifiers:
            identifier = identifier.strip()
            if len(identifier) >= 3:
                words.add(identifier)
            for part in re.split(r"[\^=\\,\s]+", identifier):
                if len(part) >= 3:
                    words.add(part)
        ordered = sorted(words, key=len, reverse=True)  # longest first: a whole name before its parts
        self.pattern = re.compile("|".join(re.escape(w) for w in ordered), re.IGNORECASE) if ordered else None

    def __call__(self, text: str) -> str:
        if self.pattern is None or not text:
            return text
        return self.pattern.sub("***", text)
