"""The de-identifier on encoded bytes: a file in, the de-identified file out, without building a pydicom Dataset.

The same profile as :class:`~viewer.core.deidentify.deidentifier.Deidentifier` (its action table, key and
options), applied while walking the elements with the core's one walker (:mod:`viewer.core.dicom.elements`):
an element kept is copied as encoded, one replaced is encoded anew, a sequence cleaned inside is rewritten
item by item with defined lengths (PS3.5 7.5.1). Pixel Data is copied as it is, compressed or not.

It covers what nearly every file is: Explicit or Implicit VR Little Endian datasets (any compressed transfer
syntax included) and the options that replace values by rule. Whatever needs the decoded text (Clean
Descriptors and Clean Structured Content: identifiers taken out of free text), big endian or deflated data, a
sequence stored as UN, or anything the walker refuses, raises :class:`NotHere`, and the caller uses the
Dataset path, which gives the same result (tests/core/test_deidentify_encoded.py compares the two).
"""

from __future__ import annotations

import struct

from viewer.core.deidentify.deidentifier import CLEAN, DUMMY, KEEP, Deidentifier
from viewer.core.deidentify.profile import repeating_group_removed
from viewer.core.deidentify.values import FREE_TEXT_VRS, shift_date, shift_datetime
from viewer.core.dicom.elements import (
    ITEM,
    LONG_LENGTH_VRS,
    RUN,
    UNDEFINED_LENGTH,
    ItemWalk,
    Source,
    Unwalkable,
    element_runs,
    implicit_vr,
    keep_top_level,
    read_file_meta,
)
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

IMPLICIT_LE = "1.2.840.10008.1.2"
#: Not walked here: Explicit VR Big Endian (retired) and Deflated Explicit VR Little Endian (a compressed stream).
NOT_WALKED = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
_U32 = struct.Struct("<L")
_TAG = struct.Struct("<HH")
_SHORT = struct.Struct("<HH2sH")
_LONG = struct.Struct("<HH2s2xL")
_IMPLICIT = struct.Struct("<HHL")
_ITEM_HEAD = struct.Struct("<HHL")
_BINARY_DUMMY = {"FL": 4, "FD": 8, "SL": 4, "SS": 2, "UL": 4, "US": 2, "SV": 8, "UV": 8, "AT": 4}
_TEXT_DUMMY = {
    "AE": b"ANONYMIZED",
    "AS": b"000D",
    "CS": b"ANONYMIZED",
    "DA": b"19000101",
    "DS": b"0 ",
    "DT": b"19000101000000",
    "IS": b"0 ",
    "TM": b"000000",
    "UR": b"",
}
_BYTES_DUMMY = {"OB": b"\0\0", "OD": b"\0" * 8, "OF": b"\0" * 4, "OL": b"\0" * 4, "OV": b"\0" * 8, "OW": b"\0\0", "UN": b"\0\0"}
_LONG_VRS = frozenset(v.decode() for v in LONG_LENGTH_VRS)
_VR_NAMES = {}  # b"PN" -> "PN", filled as met
PATIENT_NAME, PATIENT_ID = 0x00100010, 0x00100020
PATIENT_TAGS = frozenset({PATIENT_NAME, PATIENT_ID})
_NO_TAG = 1 << 32  # after every tag: no mark left to put in
#: The tags of what every copy gets (:meth:`EncodedDeidentifier._marks`), in tag order.
MARKED = (PATIENT_NAME, PATIENT_ID, 0x00120062, 0x00120063, 0x00120064, 0x00280303)
#: Read while walking the top level: what the burned-in check and the marks need.
WATCHED = {
    0x00080016: "SOPClassUID",
    0x00080018: "SOPInstanceUID",
    0x00080060: "Modality",
    0x0020000D: "StudyInstanceUID",
    0x0020000E: "SeriesInstanceUID",
    0x00280301: "BurnedInAnnotation",
    0x7FE00010: "PixelData",
}


class NotHere(Exception):
    """This file needs the Dataset path (see the module docstring)."""


def dummy_value(vr: str) -> bytes:
    """Action D's value for `vr`, encoded (little endian), of even length."""
    if vr in _BINARY_DUMMY:
        return b"\0" * _BINARY_DUMMY[vr]
    if vr in _BYTES_DUMMY:
        return _BYTES_DUMMY[vr]
    return _TEXT_DUMMY.get(vr, b"ANONYMIZED")


def _even(value: bytes, pad: bytes = b" ") -> bytes:
    return value + pad if len(value) % 2 else value


class EncodedDeidentifier:
    """Rewrites one encoded file at a time with `deidentifier`'s profile; see the module docstring."""

    def __init__(self, deidentifier: Deidentifier):
        self.d = deidentifier
        options = deidentifier.options
        if options.clean_descriptors or options.clean_structured_content:
            self.refused = "text cleaning needs the decoded text"
        else:
            self.refused = ""
        #: Per sequence mode: tag -> (VR code, action, VR), worked out on first meeting (:meth:`_decide`).
        self._decisions: dict[int, dict] = {KEEP: {}, DUMMY: {}, CLEAN: {}}
        self._marks_made: dict[tuple[str, bool], list] = {}
        #: Per sequence mode, and for the top level: tag -> VR code of the elements copied as they are.
        self._copied: dict[int, dict] = {KEEP: {}, DUMMY: {}, CLEAN: {}}
        self._copied_top: dict = {}

    def __call__(self, data: bytes) -> tuple[bytes, dict[str, str]]:
        """The de-identified file (preamble, new meta, dataset), and facts as text: the original's watched values
        (:data:`WATCHED`), its MediaStorageSOPClassUID, and the copy's new Study, Series and SOP Instance UIDs."""
        if self.refused:
            raise NotHere(self.refused)
        source = Source.from_bytes(data)
        try:
            meta = read_file_meta(source)
        except Unwalkable:
            raise NotHere("no PS3.10 preamble and meta group") from None
        syntax = meta.transfer_syntax
        if syntax in NOT_WALKED or not syntax:
            raise NotHere("big endian or deflated")
        implicit = syntax == IMPLICIT_LE
        self.source, self.data, self.implicit = source, data, implicit
        self.view = memoryview(data)  # runs of kept elements are sliced from it without a copy (the pixels are most of a file)
        watched: dict[str, str] = {}
        try:
            # The patient first: their dates (group 0008) come before their name and ID (group 0010).
            top = keep_top_level(source, meta.end, True, implicit, PATIENT_TAGS, -1, PATIENT_ID)
            patient = _text(top.get(PATIENT_ID, b"")[8:]) + "\0" + _text(top.get(PATIENT_NAME, b"")[8:])
            options = self.d.options
            self._days = options.shift_days if options.shift_days is not None else self.d.key.shift_days(patient)
            marks = self._marks_made.get((patient, implicit))
            if marks is None:  # the same for every instance of the patient: made once
                marks = self._marks_made[(patient, implicit)] = self._marks(patient)
            chunks, _end = self._dataset(meta.end, None, KEEP, watched, marks)
        except Unwalkable as exc:
            raise NotHere(f"the walker stops: {exc}") from None
        facts = dict(watched)
        facts["MediaStorageSOPClassUID"] = _text(meta.elements.get(0x00020002, b"")[8:])
        for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            original = watched.get(name, "")
            facts["new " + name] = (original if self.d.options.retain_uids else self.d.key.uid(original)) if original else ""
        head = self._file_meta(watched.get("SOPClassUID", ""), facts["new SOPInstanceUID"], syntax)
        return head + b"".join(chunks), facts

    # ---------------------------------------------------------------- elements

    def _encode(self, tag: int, vr: str, value: bytes) -> bytes:
        group, element = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return _IMPLICIT.pack(group, element, len(value)) + value
        if vr in _LONG_VRS:
            return _LONG.pack(group, element, vr.encode(), len(value)) + value
        if len(value) > 0xFFFF:
            raise NotHere("a value too long for its VR")
        return _SHORT.pack(group, element, vr.encode(), len(value)) + value

    def _dataset(self, pos: int, end: int | None, mode: int, watched: dict | None, marks: list | None) -> tuple[list[bytes], int]:
        """The encoded pieces of the dataset from `pos` to `end` (None: the data's end, or an Item Delimitation
        Item), rewritten, and where it ended. Elements kept are copied in runs: an unbroken stretch of kept
        elements is one slice. `marks`: (tag, encoded element) to put in, in tag order, replacing any there."""
        view, options = self.view, self.d.options
        decisions = self._decisions[mode]
        top = watched is not None
        copied = self._copied_top if top else self._copied[mode]
        marks = marks or []
        listed, after = element_runs(
            self.source, pos, end, self.implicit, copied, tuple(m[0] for m in marks), drop_private=not options.retain_safe_private
        )
        out: list = []
        mark = 0
        next_mark = marks[0][0] if marks else _NO_TAG
        private: list = []
        for tag, vr_code, offset, value_pos, length, value_end in listed:
            if tag >= next_mark:
                while mark < len(marks) and marks[mark][0] < tag:
                    out.append(marks[mark][1])
                    mark += 1
                replaced = mark < len(marks) and marks[mark][0] == tag and vr_code is not RUN
                if replaced:
                    out.append(marks[mark][1])
                    mark += 1
                next_mark = marks[mark][0] if mark < len(marks) else _NO_TAG
                if replaced:
                    continue
            if vr_code is RUN:  # elements copied as they are, found so by element_runs
                out.append(view[offset:value_end])
                continue
            if top and tag in WATCHED:
                watched[WATCHED[tag]] = "yes" if tag == 0x7FE00010 else _text(self.data[value_pos:value_end])
            if tag & 0x10000:  # an odd group: private (PS3.5 7.8), listed only with Retain Safe Private
                if private and private[-1][0] >> 16 != tag >> 16:
                    out.extend(self._safe_private(private))
                    private = []
                private.append((tag, vr_code, length, offset, value_pos, value_end))
                continue
            if private:
                out.extend(self._safe_private(private))
                private = []
            decision = decisions.get(tag)
            if decision is None or decision[0] != vr_code:
                decision = decisions[tag] = (vr_code, *self._decide(tag, vr_code, mode))
            action = decision[1]
            if action == "R":  # kept as it is; from the next file on, part of a run
                out.append(view[offset:value_end])
                if not top or (tag not in WATCHED and tag not in MARKED):
                    copied[tag] = vr_code
                continue
            if action != "X":
                out.append(self._apply(tag, decision[2], action, offset, value_pos, length, value_end, mode))
        if private:
            out.extend(self._safe_private(private))
        while mark < len(marks):
            out.append(marks[mark][1])
            mark += 1
        return out, after

    def _decide(self, tag: int, vr_code: bytes | None, mode: int) -> tuple[str, str]:
        """(action, VR) for an even-group element: the table's, else the VR's (profile.py); "R" for one kept as
        encoded. The same for every element with this tag and VR code in this mode, so it is worked out once."""
        d = self.d
        vr = _vr(vr_code, tag)
        action = d.actions.get(tag)
        if action is None:
            if not tag & 0xFFFF or repeating_group_removed(tag):
                return "X", vr  # group lengths (retired, PS3.5 7.2), curves and overlays
            action = d._by_vr.get(vr)
            if action is None:
                action = d._by_vr[vr] = _action_for_vr(d, vr)
            if action == "K" and mode and vr in FREE_TEXT_VRS:
                action = "D" if mode == DUMMY else "C"
            if vr == "UN" and vr_code is not None and implicit_vr(tag) != "UN":
                raise NotHere("a standard attribute stored as UN")
        elif vr == "UN" and vr_code is not None and action != "X":
            raise NotHere("a standard attribute stored as UN")
        if action == "K" and vr != "SQ":
            return "R", vr
        return action, vr

    def _apply(self, tag: int, vr: str, action: str, offset: int, value_pos: int, length: int, value_end: int, mode: int) -> bytes:
        if vr == "SQ":
            if action == "Z":
                return self._encode(tag, "SQ", b"")
            inner = {"D": DUMMY, "C": CLEAN}.get(action, mode)
            return self._encode(tag, "SQ", self._items(value_pos, None if length == UNDEFINED_LENGTH else value_end, inner))
        value = self.data[value_pos:value_end]
        if action == "U" or (action == "D" and vr == "UI"):
            return self._encode(tag, vr, self._uids(value))
        if action == "Z":
            return self._encode(tag, vr, b"")
        if action == "D":
            return self._encode(tag, vr, dummy_value(vr))
        if action == "C":
            if vr in ("DA", "DT", "TM"):
                if not self.d.options.retain_modified_dates:
                    return self._encode(tag, vr, b"")
                return self._encode(tag, vr, self._shift(vr, value))
            if vr == "UI":
                return self._encode(tag, vr, self._uids(value))
            raise NotHere("cleaning text needs the decoded text")
        return self.data[offset:value_end]  # K, and any code the table may add one day: kept

    def _items(self, pos: int, end: int | None, mode: int) -> bytes:
        out = []
        items = ItemWalk(self.source, pos, True, self.implicit, end)
        for tag, _vr, length, _offset, value_pos in items:
            if tag != ITEM:
                raise NotHere("a sequence holding something other than items")
            item_end = None if length == UNDEFINED_LENGTH else value_pos + length
            chunks, after = self._dataset(value_pos, item_end, mode, None, None)
            if item_end is None:
                items.resume(after)
            body = b"".join(chunks)
            out.append(_ITEM_HEAD.pack(0xFFFE, 0xE000, len(body)) + body)
        return b"".join(out)

    # ---------------------------------------------------------------- values

    def _uids(self, value: bytes) -> bytes:
        text = value.decode("ascii", "replace").rstrip("\0 ")
        if not text:
            return b""
        return _even("\\".join(self.d.key.uid(uid.strip()) for uid in text.split("\\")).encode("ascii"), b"\0")

    def _shift(self, vr: str, value: bytes) -> bytes:
        if vr == "TM":
            return value
        days = self._days
        shift = shift_date if vr == "DA" else shift_datetime
        text = value.decode("ascii", "replace").rstrip("\0 ")
        return _even("\\".join(shift(v, days) for v in text.split("\\")).encode("ascii")) if text else b""

    def _safe_private(self, private: list) -> list[bytes]:
        """Retain Safe Private (E.3.10): of one odd group's elements, those of Table E.3.10-1 and their creators."""
        from viewer.core.deidentify.profile import SAFE_PRIVATE_KEYS

        data = self.data
        creators = {}
        for tag, _vr, _length, _offset, value_pos, value_end in private:
            if 0x10 <= tag & 0xFFFF <= 0xFF:
                creators[(tag >> 16, tag & 0xFF)] = (_text(data[value_pos:value_end]), tag)
        kept = {}
        for tag, vr_code, _length, offset, value_pos, value_end in private:
            element = tag & 0xFFFF
            if element < 0x1000:
                continue
            creator = creators.get((tag >> 16, element >> 8))
            if creator is None or (tag >> 16, creator[0], element & 0xFF) not in SAFE_PRIVATE_KEYS:
                continue
            if vr_code == b"UI" and not self.d.options.retain_uids:
                kept[tag] = self._encode(tag, "UI", self._uids(data[value_pos:value_end]))
            else:
                kept[tag] = data[offset:value_end]
            creator_tag = creator[1]
            if creator_tag not in kept:
                for c_tag, _c_vr, _l, c_offset, _vp, c_end in private:
                    if c_tag == creator_tag:
                        kept[c_tag] = data[c_offset:c_end]
        return [kept[tag] for tag in sorted(kept)]

    # ---------------------------------------------------------------- what is added

    def _marks(self, patient: str) -> list[tuple[int, bytes]]:
        """What every copy gets (E.1.1 step 6, as Deidentifier._mark): the patient's pseudonym, Patient Identity
        Removed, the method and its codes, Longitudinal Temporal Information Modified; in tag order."""
        options, d = self.d.options, self.d
        pseudonym = d.key.pseudonym(patient)
        patient_id = options.patient_id if options.patient_id is not None else pseudonym
        patient_name = options.patient_name if options.patient_name is not None else pseudonym
        try:
            name_value, id_value = _even(patient_name.encode("ascii")), _even(patient_id.encode("ascii"))
        except UnicodeEncodeError:
            raise NotHere("a patient name or ID outside ASCII needs the character set") from None
        codes = options.method_codes(False)
        items = []
        for value, meaning in codes:
            body = (
                self._encode(0x00080100, "SH", _even(value.encode()))
                + self._encode(0x00080102, "SH", b"DCM ")
                + self._encode(0x00080104, "LO", _even(meaning.encode()))
            )
            items.append(_ITEM_HEAD.pack(0xFFFE, 0xE000, len(body)) + body)
        modified = "UNMODIFIED" if options.retain_full_dates else "MODIFIED" if options.retain_modified_dates else "REMOVED"
        return [
            (PATIENT_NAME, self._encode(PATIENT_NAME, "PN", name_value)),
            (PATIENT_ID, self._encode(PATIENT_ID, "LO", id_value)),
            (0x00120062, self._encode(0x00120062, "CS", b"YES ")),
            (0x00120063, self._encode(0x00120063, "LO", _even("\\".join(m for _v, m in codes).encode("ascii")))),
            (0x00120064, self._encode(0x00120064, "SQ", b"".join(items))),
            (0x00280303, self._encode(0x00280303, "CS", _even(modified.encode()))),
        ]

    def _file_meta(self, sop_class: str, sop_instance: str, syntax: str) -> bytes:
        """PS3.10 7.1: preamble of zeros, 'DICM', a new meta group naming this application (E.1.1 step 7)."""

        def element(elem: int, vr: bytes, value: bytes) -> bytes:
            if vr == b"OB":
                return _LONG.pack(2, elem, vr, len(value)) + value
            return _SHORT.pack(2, elem, vr, len(value)) + value

        uid = lambda text: _even(text.encode("ascii"), b"\0")  # noqa: E731
        body = (
            element(0x0001, b"OB", b"\0\1")
            + element(0x0002, b"UI", uid(sop_class))
            + element(0x0003, b"UI", uid(sop_instance))
            + element(0x0010, b"UI", uid(syntax))
            + element(0x0012, b"UI", uid(IMPLEMENTATION_CLASS_UID))
            + element(0x0013, b"SH", _even(IMPLEMENTATION_VERSION_NAME.encode("ascii")))
        )
        return b"\0" * 128 + b"DICM" + element(0x0000, b"UL", _U32.pack(len(body))) + body


def _text(value: bytes) -> str:
    return value.decode("latin-1").strip(" \0")


def _vr(code: bytes | None, tag: int) -> str:
    if code is None:
        return implicit_vr(tag)
    name = _VR_NAMES.get(code)
    if name is None:
        name = _VR_NAMES[code] = code.decode("ascii")
    return name


def _action_for_vr(d: Deidentifier, vr: str) -> str:
    from viewer.core.deidentify.profile import action_for_vr

    return action_for_vr(vr, d.options)
