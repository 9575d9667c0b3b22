"""The de-identifier on encoded bytes: a file in, the de-identified file out, without building a pydicom Dataset.

The same profile as :class:`~viewer.core.deidentify.deidentifier.Deidentifier` (its action table, key and
options), applied while walking the elements with the core's one walker (:mod:`viewer.core.dicom.elements`):
an element kept is copied as encoded, one replaced is encoded anew, a sequence cleaned inside is rewritten
item by item with defined lengths (PS3.5 7.5.1). Pixel Data is copied as it is, compressed or not.

The files of a series are laid out alike: the same elements with the same lengths at the same places, only
values differ. The walk of the first file of a layout is kept as a :class:`Layout`: where the structure lies
(every header; compared with a later file's bytes in one step) and the steps that rewrite it (copy these bytes,
put in these, replace the UIDs of that value...). A later file whose structure bytes are the same is rewritten by
those steps without a walk; any other is walked and teaches a layout of its own. Both give the same bytes
(tests/core/test_deidentify_encoded.py).

It covers what nearly every file is: Explicit or Implicit VR Little Endian datasets (any compressed transfer
syntax included) and the options that replace values by rule. Whatever needs the decoded text (Clean
Descriptors and Clean Structured Content: identifiers taken out of free text), big endian or deflated data, a
sequence stored as UN, or anything the walker refuses, raises :class:`NotHere`, and the caller uses the
Dataset path, which gives the same result (tests/core/test_deidentify_encoded.py compares the two).
"""

from __future__ import annotations

import struct
from operator import itemgetter

from viewer.core.deidentify.deidentifier import CLEAN, DUMMY, KEEP, Deidentifier
from viewer.core.deidentify.profile import repeating_group_removed
from viewer.core.deidentify.values import FREE_TEXT_VRS, shift_date, shift_datetime
from viewer.core.dicom.elements import (
    ITEM,
    LONG_LENGTH_VRS,
    PIXEL_DATA,
    UNDEFINED_LENGTH,
    ItemWalk,
    Source,
    Unwalkable,
    element_spans,
    implicit_vr,
    read_file_meta,
    skip_sequence,
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


#: The steps a :class:`Layout` rewrites a file with: copy bytes of the file, put in bytes made once, put in a
#: mark (:data:`MARKED`, made per patient), replace the UIDs of a value, shift the dates of a value, rewrite a
#: sequence item by item.
COPY, CONST, MARK, UIDS, SHIFT, SEQUENCE = range(6)
#: How many layouts are remembered: a series' files differ in a few lengths (Instance Number "9" or "10", a
#: position's digits), so a handful covers a series; the one used last is tried first.
LAYOUTS = 32
#: The action codes of PS3.15 Table E.1-1 that take an element out or write it anew; any other keeps it.
_REPLACING = frozenset("XZUDC")


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


class Layout:
    """What every file laid out alike shares, learnt from the first of them (:meth:`EncodedDeidentifier._learn`).

    `pinned` are the byte ranges of the structure: 'DICM', every element, item and delimiter header at every
    depth the rewrite looks into, the Transfer Syntax UID, the private creators' values (they decide which
    private elements are safe), and the whole of any value of undefined length the rewrite does not look into.
    A file whose bytes in these ranges equal the first's (and of the same size) has the same elements, with the
    same tags, VRs and lengths, at the same places, so the profile's actions on it are the same: only values
    differ, and the steps read them from the file itself. Encapsulated pixel data ending the file may have any
    length (compressed frames differ): its fragments are walked instead (`open_from`).
    """

    __slots__ = ("size", "open_from", "pick", "structure", "steps", "watched", "patient", "sop_class", "syntax", "implicit")

    def __init__(self, data: bytes, learnt: _Learning, syntax: str, implicit: bool, sop_class: tuple[int, int]):
        ranges: list[list[int]] = []
        for start, end in sorted(learnt.pinned):
            if ranges and start <= ranges[-1][1]:
                ranges[-1][1] = max(ranges[-1][1], end)
            else:
                ranges.append([start, end])
        slices = [slice(start, end) for start, end in ranges] + [slice(0, 0)]  # two at least: itemgetter gives a tuple
        self.pick = itemgetter(*slices)
        self.structure = b"".join(self.pick(data))
        self.size, self.open_from = len(data), learnt.open_from
        self.steps, self.watched, self.patient = learnt.steps, learnt.watched, tuple(learnt.patient)
        self.sop_class, self.syntax, self.implicit = sop_class, syntax, implicit


class _Learning:
    """What the walk of a layout's first file gathers (see :class:`Layout`)."""

    def __init__(self):
        self.pinned: list[tuple[int, int]] = []
        self.steps: list = []
        self.watched: list[tuple[str, int, int]] = []
        self.patient = [(-1, -1), (-1, -1)]  # where Patient ID's and Patient's Name's values lie
        self.open_from = 0

    def pin_undefined(self, length: int, offset: int, value_end: int) -> None:
        """A value of undefined length the rewrite does not look into is pinned whole: where it ends depends on it."""
        if length == UNDEFINED_LENGTH:
            self.pinned.append((offset, value_end))


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
        #: The layouts learnt, the one used last first.
        self._layouts: list[Layout] = []

    def __call__(self, data: bytes) -> tuple[bytes, dict[str, str]]:
        """The de-identified file (preamble, new meta, dataset), and facts as text: the original's watched values
        (:data:`WATCHED`), its MediaStorageSOPClassUID, and the copy's new Study, Series and SOP Instance UIDs."""
        if self.refused:
            raise NotHere(self.refused)
        self.data, self.view = data, memoryview(data)  # kept stretches are sliced from the view without a copy
        layout = self._layout_of(data)
        if layout is None:
            layout = self._learn(data)
            self._layouts.insert(0, layout)
            del self._layouts[LAYOUTS:]
        self.implicit = layout.implicit
        watched = {name: ("yes" if name == "PixelData" else _text(data[start:end])) for name, start, end in layout.watched}
        patient = "\0".join(_text(data[start:end]) if start >= 0 else "" for start, end in layout.patient)
        options = self.d.options
        self._days = options.shift_days if options.shift_days is not None else self.d.key.shift_days(patient)
        marks = self._marks_made.get((patient, layout.implicit))
        if marks is None:  # the same for every instance of the patient: made once
            marks = self._marks_made[(patient, layout.implicit)] = self._marks(patient)
        body = self._rewrite(layout.steps, marks)
        facts = dict(watched)
        start, end = layout.sop_class
        facts["MediaStorageSOPClassUID"] = _text(data[start:end]) if start >= 0 else ""
        for name in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            original = watched.get(name, "")
            facts["new " + name] = (original if options.retain_uids else self.d.key.uid(original)) if original else ""
        head = self._file_meta(watched.get("SOPClassUID", ""), facts["new SOPInstanceUID"], layout.syntax)
        return head + body, facts

    # ---------------------------------------------------------------- layouts

    def _layout_of(self, data: bytes) -> Layout | None:
        """The layout learnt before that `data` has (the same bytes wherever the structure lies), or None."""
        size = len(data)
        for n, layout in enumerate(self._layouts):
            if layout.size != size and not (layout.open_from and size > layout.open_from):
                continue
            if b"".join(layout.pick(data)) != layout.structure:
                continue
            if layout.open_from:  # encapsulated pixel data to the end: its fragments are walked, not compared
                try:
                    if skip_sequence(Source.from_bytes(data), layout.open_from, True, layout.implicit) != size:
                        continue
                except Unwalkable:
                    continue
            if n:  # the last one matched first: neighbours share lengths
                self._layouts.insert(0, self._layouts.pop(n))
            return layout
        return None

    def _learn(self, data: bytes) -> Layout:
        """Walk `data` once: where its structure lies, and the steps that rewrite it (see :class:`Layout`)."""
        source = Source.from_bytes(data)
        try:
            meta = read_file_meta(source)
        except Unwalkable:
            raise NotHere("no PS3.10 preamble and meta group") from None
        syntax = meta.transfer_syntax
        if syntax in NOT_WALKED or not syntax:
            raise NotHere("big endian or deflated")
        self.source, self.implicit = source, syntax == IMPLICIT_LE
        learnt = _Learning()
        learnt.pinned.append((128, 132))  # 'DICM'
        sop_class = (-1, -1)
        try:
            # The meta group (always explicit VR little endian): every header, and the transfer syntax whole.
            for tag, _vr, offset, value_pos, _length, end in element_spans(source, 132, meta.end, False)[0]:
                learnt.pinned.append((offset, end if tag == 0x00020010 else value_pos))
                if tag == 0x00020002:
                    sop_class = (value_pos, end)
            learnt.steps, _end = self._plan(meta.end, None, KEEP, learnt)
        except Unwalkable as exc:
            raise NotHere(f"the walker stops: {exc}") from None
        return Layout(data, learnt, syntax, self.implicit, sop_class)

    def _plan(self, pos: int, end: int | None, mode: int, learnt: _Learning, top: bool = True) -> tuple[list, int]:
        """The steps rewriting the dataset from `pos` to `end` (None: the data's end, or an Item Delimitation
        Item), and where it ended; every element header is pinned in `learnt`. At the top level, the marks
        (:data:`MARKED`) go in in tag order, replacing any element there, and the watched values are noted."""
        options = self.d.options
        decisions = self._decisions[mode]
        listed, after = element_spans(self.source, pos, end, self.implicit)
        steps: list = []
        mark = 0 if top else len(MARKED)
        private: list = []
        drop_private = not options.retain_safe_private
        for n, (tag, vr_code, offset, value_pos, length, value_end) in enumerate(listed):
            learnt.pinned.append((offset, value_pos))
            if private and private[-1][0] >> 16 != tag >> 16:  # a private group ends: its safe elements first
                steps.extend(self._safe_private(private, learnt))
                private = []
            if mark < len(MARKED) and MARKED[mark] <= tag:
                while mark < len(MARKED) and MARKED[mark] < tag:
                    steps.append((MARK, mark))
                    mark += 1
                if mark < len(MARKED) and MARKED[mark] == tag:
                    if tag in PATIENT_TAGS:
                        learnt.patient[tag == PATIENT_NAME] = (value_pos, value_end)
                    learnt.pin_undefined(length, offset, value_end)
                    steps.append((MARK, mark))
                    mark += 1
                    continue
            if top and tag in WATCHED:
                learnt.watched.append((WATCHED[tag], value_pos, value_end))
            if tag & 0x10000:  # an odd group: private (PS3.5 7.8)
                learnt.pin_undefined(length, offset, value_end)
                if not drop_private:
                    private.append((tag, vr_code, length, offset, value_pos, value_end))
                continue
            decision = decisions.get(tag)
            if decision is None or decision[0] != vr_code:
                decision = decisions[tag] = (vr_code, *self._decide(tag, vr_code, mode))
            action, vr = decision[1], decision[2]
            if action not in _REPLACING and vr != "SQ":  # K, and any code the table may add one day: kept as it is
                if length == UNDEFINED_LENGTH and top and tag == PIXEL_DATA and n == len(listed) - 1 and value_end == len(self.data):
                    learnt.open_from = value_pos  # encapsulated pixel data to the end: any length (compressed frames)
                    steps.append((COPY, offset, None))
                    continue
                learnt.pin_undefined(length, offset, value_end)
                steps.append((COPY, offset, value_end))
            elif action == "X":
                learnt.pin_undefined(length, offset, value_end)
            elif vr == "SQ" and action != "Z":
                inner = {"D": DUMMY, "C": CLEAN}.get(action, mode)
                undefined = length == UNDEFINED_LENGTH
                items = self._plan_items(value_pos, None if undefined else value_end, inner, learnt)
                if undefined:
                    learnt.pinned.append((value_end - 8, value_end))  # its Sequence Delimitation Item
                steps.append((SEQUENCE, tag, items))
            else:
                learnt.pin_undefined(length, offset, value_end)
                steps.append(self._value_step(tag, vr, action, value_pos, value_end))
        if private:
            steps.extend(self._safe_private(private, learnt))
        steps.extend((MARK, m) for m in range(mark, len(MARKED)))
        return _joined(steps), after

    def _encode(self, tag: int, vr: str, value: bytes) -> bytes:
        group, element = tag >> 16, tag & 0xFFFF
        if self.implicit:
            return _IMPLICIT.pack(group, element, len(value)) + value
        if vr in _LONG_VRS:
            return _LONG.pack(group, element, vr.encode(), len(value)) + value
        if len(value) > 0xFFFF:
            raise NotHere("a value too long for its VR")
        return _SHORT.pack(group, element, vr.encode(), len(value)) + value

    def _decide(self, tag: int, vr_code: bytes | None, mode: int) -> tuple[str, str]:
        """(action, VR) for an even-group element: the table's, else the VR's (profile.py). The same for every
        element with this tag and VR code in this mode, so it is worked out once."""
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
        return action, vr

    def _value_step(self, tag: int, vr: str, action: str, value_pos: int, value_end: int) -> tuple:
        """The step for an element the profile replaces (PS3.15 Table E.1-1's action codes)."""
        if vr == "SQ":  # Z
            return (CONST, self._encode(tag, "SQ", b""))
        if action == "U" or (action == "D" and vr == "UI"):
            return (UIDS, tag, vr, value_pos, value_end)
        if action == "Z":
            return (CONST, self._encode(tag, vr, b""))
        if action == "D":
            return (CONST, self._encode(tag, vr, dummy_value(vr)))
        # C
        if vr in ("DA", "DT", "TM"):
            if not self.d.options.retain_modified_dates:
                return (CONST, self._encode(tag, vr, b""))
            return (SHIFT, tag, vr, value_pos, value_end)
        if vr == "UI":
            return (UIDS, tag, vr, value_pos, value_end)
        raise NotHere("cleaning text needs the decoded text")

    def _plan_items(self, pos: int, end: int | None, mode: int, learnt: _Learning) -> list[list]:
        """The steps of each item of a sequence whose items start at `pos`; the item headers pinned."""
        planned = []
        items = ItemWalk(self.source, pos, True, self.implicit, end)
        for tag, _vr, length, offset, value_pos in items:
            if tag != ITEM:
                raise NotHere("a sequence holding something other than items")
            learnt.pinned.append((offset, value_pos))
            item_end = None if length == UNDEFINED_LENGTH else value_pos + length
            steps, after = self._plan(value_pos, item_end, mode, learnt, top=False)
            if item_end is None:
                learnt.pinned.append((after - 8, after))  # its Item Delimitation Item
                items.resume(after)
            planned.append(steps)
        return planned

    def _rewrite(self, steps: list, marks: list) -> bytes:
        """The encoded dataset the steps make of ``self.data``."""
        data, view = self.data, self.view
        out = []
        for step in steps:
            kind = step[0]
            if kind == COPY:
                out.append(view[step[1] : step[2]])
            elif kind == CONST:
                out.append(step[1])
            elif kind == MARK:
                out.append(marks[step[1]][1])
            elif kind == UIDS:
                out.append(self._encode(step[1], step[2], self._uids(data[step[3] : step[4]])))
            elif kind == SHIFT:
                out.append(self._encode(step[1], step[2], self._shift(step[2], data[step[3] : step[4]])))
            else:  # SEQUENCE: items with defined lengths (PS3.5 7.5.1)
                items = []
                for item in step[2]:
                    body = self._rewrite(item, marks)
                    items.append(_ITEM_HEAD.pack(0xFFFE, 0xE000, len(body)) + body)
                out.append(self._encode(step[1], "SQ", b"".join(items)))
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

    def _safe_private(self, private: list, learnt: _Learning) -> list[tuple]:
        """Retain Safe Private (E.3.10): of one odd group's elements, those of Table E.3.10-1 and their creators,
        in tag order. Which are kept depends on the creators' values: they are pinned with the structure."""
        from viewer.core.deidentify.profile import SAFE_PRIVATE_KEYS

        data = self.data
        creators = {}
        for tag, _vr, _length, _offset, value_pos, value_end in private:
            if 0x10 <= tag & 0xFFFF <= 0xFF:
                creators[(tag >> 16, tag & 0xFF)] = (_text(data[value_pos:value_end]), tag)
                learnt.pinned.append((value_pos, value_end))
        kept = {}
        for tag, vr_code, _length, offset, value_pos, value_end in private:
            element = tag & 0xFFFF
            if element < 0x1000:
                continue
            creator = creators.get((tag >> 16, element >> 8))
            if creator is None or (tag >> 16, creator[0], element & 0xFF) not in SAFE_PRIVATE_KEYS:
                continue
            if vr_code == b"UI" and not self.d.options.retain_uids:
                kept[tag] = (UIDS, tag, "UI", value_pos, value_end)
            else:
                kept[tag] = (COPY, offset, value_end)
            creator_tag = creator[1]
            if creator_tag not in kept:
                for c_tag, _c_vr, _l, c_offset, _vp, c_end in private:
                    if c_tag == creator_tag:
                        kept[c_tag] = (COPY, c_offset, c_end)
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


def _joined(steps: list) -> list:
    """`steps` with each stretch of neighbouring copies made one copy."""
    joined: list = []
    for step in steps:
        if step[0] == COPY and joined and joined[-1][0] == COPY and joined[-1][2] == step[1]:
            joined[-1] = (COPY, joined[-1][1], step[2])
        else:
            joined.append(step)
    return joined


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
