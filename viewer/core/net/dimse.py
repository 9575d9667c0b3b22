"""DIMSE messages (PS3.7 9.3, Annex E): command sets encoded and decoded, statuses in words, log lines.

A command set is a handful of group 0000 elements in Implicit VR Little
Endian; it is encoded and parsed here with :mod:`struct` rather than
through pydicom (a C-GET answers one C-STORE per instance: the command set's
cost is part of each instance's). Datasets (identifiers, instances) stay
pydicom's (:func:`read_identifier`) and pynetdicom's ``dsutils.encode``.
Every message is written to the association log by :func:`describe`, so the
lines read the same for every service.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

#: DIMSE Command Field values (PS3.7 E.1)
C_STORE_RQ, C_STORE_RSP = 0x0001, 0x8001
C_GET_RQ, C_GET_RSP = 0x0010, 0x8010
C_FIND_RQ, C_FIND_RSP = 0x0020, 0x8020
C_MOVE_RQ, C_MOVE_RSP = 0x0021, 0x8021
C_ECHO_RQ, C_ECHO_RSP = 0x0030, 0x8030
C_CANCEL_RQ = 0x0FFF
COMMAND_NAMES = {
    C_STORE_RQ: "C-STORE-RQ",
    C_STORE_RSP: "C-STORE-RSP",
    C_GET_RQ: "C-GET-RQ",
    C_GET_RSP: "C-GET-RSP",
    C_MOVE_RQ: "C-MOVE-RQ",
    C_MOVE_RSP: "C-MOVE-RSP",
    C_FIND_RQ: "C-FIND-RQ",
    C_FIND_RSP: "C-FIND-RSP",
    C_ECHO_RQ: "C-ECHO-RQ",
    C_ECHO_RSP: "C-ECHO-RSP",
    C_CANCEL_RQ: "C-CANCEL-RQ",
}
#: Requests a C-CANCEL may end (PS3.7 9.3.2.3, 9.3.3.3, 9.3.4.3).
CANCELLABLE = {C_FIND_RQ, C_GET_RQ, C_MOVE_RQ}

#: (0000,0800) *Command Data Set Type*: "no dataset follows", and a value saying one does (any other)
NO_DATASET = 0x0101
DATASET_FOLLOWS = 0x0000
#: Priority MEDIUM (PS3.7 9.1.1.1.8)
MEDIUM = 0x0000

#: Statuses (PS3.7 Annex C, PS3.4 C.4): success, pending (with or without optional keys), cancelled, warning.
SUCCESS = 0x0000
PENDING = (0xFF00, 0xFF01)
CANCELLED = 0xFE00
SUB_OPERATIONS_WARNING = 0xB000

#: Command set elements (group 0000) by element number, with their VR (PS3.7 E.1).
COMMAND_ELEMENTS = {
    0x0000: ("CommandGroupLength", "UL"),
    0x0002: ("AffectedSOPClassUID", "UI"),
    0x0003: ("RequestedSOPClassUID", "UI"),
    0x0100: ("CommandField", "US"),
    0x0110: ("MessageID", "US"),
    0x0120: ("MessageIDBeingRespondedTo", "US"),
    0x0600: ("MoveDestination", "AE"),
    0x0700: ("Priority", "US"),
    0x0800: ("CommandDataSetType", "US"),
    0x0900: ("Status", "US"),
    0x0901: ("OffendingElement", "AT"),
    0x0902: ("ErrorComment", "LO"),
    0x0903: ("ErrorID", "US"),
    0x1000: ("AffectedSOPInstanceUID", "UI"),
    0x1001: ("RequestedSOPInstanceUID", "UI"),
    0x1020: ("NumberOfRemainingSuboperations", "US"),
    0x1021: ("NumberOfCompletedSuboperations", "US"),
    0x1022: ("NumberOfFailedSuboperations", "US"),
    0x1023: ("NumberOfWarningSuboperations", "US"),
    0x1030: ("MoveOriginatorApplicationEntityTitle", "AE"),
    0x1031: ("MoveOriginatorMessageID", "US"),
}
_ELEMENT_BY_KEYWORD = {keyword: (element, vr) for element, (keyword, vr) in COMMAND_ELEMENTS.items()}
_ELEMENT_HEADER = struct.Struct("<HHI")

#: (0008,0058) *Failed SOP Instance UID List*: the one element outside group 0000 read from a command set.
FAILED_SOP_INSTANCE_UID_LIST = (0x0008, 0x0058)


def encode_command(**values) -> bytes:
    """A command set in Implicit VR Little Endian, group length first (PS3.7 6.3.1).

    Keywords as in :data:`COMMAND_ELEMENTS`; elements are written in tag order.
    """
    body = []
    for element, vr, value in sorted((*_ELEMENT_BY_KEYWORD[keyword], value) for keyword, value in values.items()):
        if vr == "US":
            data = struct.pack("<H", value)
        elif vr == "UL":
            data = struct.pack("<I", value)
        elif vr == "AT":
            data = struct.pack("<HH", value >> 16, value & 0xFFFF)
        else:
            data = str(value).encode("ascii")
            if len(data) % 2:
                data += b"\x00" if vr == "UI" else b" "  # UI pads with NULL, the others with a space (PS3.5 6.2)
        body.append(_ELEMENT_HEADER.pack(0x0000, element, len(data)) + data)
    encoded = b"".join(body)
    return _ELEMENT_HEADER.pack(0x0000, 0x0000, 4) + struct.pack("<I", len(encoded)) + encoded


def decode_command(data: bytes) -> dict[str, object]:
    """A command set (Implicit VR Little Endian) as {keyword: value}; unknown elements are kept by tag.

    Elements of other groups after the command's own are tolerated: Orthanc
    1.10 sends a final C-GET response with failures as a command set that
    says no dataset follows and ends in (0008,0000) and (0008,0058) *Failed
    SOP Instance UID List* (seen on the wire; PS3.4 C.4.3.1.3.1 puts that
    list in an identifier). pynetdicom reads it the same way. The list is
    kept as ``FailedSOPInstanceUIDList``; other such elements are skipped.

    Raises ValueError on a malformed command set.
    """
    values: dict[str, object] = {}
    pos, end = 0, len(data)
    while pos < end:
        if pos + 8 > end:
            raise ValueError("command set ends inside an element header")
        group, element, length = _ELEMENT_HEADER.unpack_from(data, pos)
        pos += 8
        if (group != 0x0000 and not values) or pos + length > end:
            raise ValueError(f"element ({group:04X},{element:04X}) does not belong in a command set")
        value = bytes(data[pos : pos + length])
        pos += length
        if group != 0x0000:
            if (group, element) == FAILED_SOP_INSTANCE_UID_LIST:
                values["FailedSOPInstanceUIDList"] = uid_list(value)
            continue
        keyword, vr = COMMAND_ELEMENTS.get(element, (f"(0000,{element:04X})", "OB"))
        if vr == "US" and length == 2:
            values[keyword] = struct.unpack("<H", value)[0]
        elif vr == "UL" and length == 4:
            values[keyword] = struct.unpack("<I", value)[0]
        elif vr in ("UI", "AE", "LO"):
            values[keyword] = value.decode("ascii", "replace").strip("\x00 ")
        else:
            values[keyword] = value
    return values


def uid_list(value: bytes | str) -> list[str]:
    """A UI value with multiplicity (PS3.5 6.4: backslash-separated, NULL-padded) as a list of UIDs."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    return [uid.strip("\x00 ") for uid in text.split("\\") if uid.strip("\x00 ")]


def command_name(command: dict) -> str:
    """ "C-FIND-RQ" and so on, from (0000,0100) *Command Field*."""
    field_ = command.get("CommandField")
    return COMMAND_NAMES.get(field_, f"DIMSE 0x{field_:04X}" if isinstance(field_, int) else "DIMSE message")


def describe(command: dict) -> str:
    """A message as the association log shows it, sent or received, whatever the service.

    A request with its (0000,0110) *Message ID* ("C-FIND-RQ (message 1)"),
    a C-CANCEL with the message it cancels, a response with its (0000,0900)
    *Status* ("C-FIND-RSP status 0xFF00").
    """
    name = command_name(command)
    status = command.get("Status")
    if isinstance(status, int):
        return f"{name} status 0x{status:04X}"
    if command.get("CommandField") == C_CANCEL_RQ:
        return f"{name} (for message {command.get('MessageIDBeingRespondedTo')})"
    if "MessageID" in command:
        return f"{name} (message {command['MessageID']})"
    return name


#: Plain meanings of failure statuses (PS3.4 C.4.1.1.4, C.4.2.1.5, C.4.3.1.5; PS3.7 C).
_MEANINGS = {
    0xA700: "out of resources",
    0xA701: "out of resources: unable to calculate number of matches",
    0xA702: "out of resources: unable to perform sub-operations",
    0xA801: "move destination unknown (the PACS does not know this app's AE title)",
    0xA900: "identifier does not match SOP class",
    0xC000: "unable to process",
    0xFE00: "cancelled",
    0xB000: "sub-operations complete with failures or warnings",
    0x0122: "SOP class not supported",
    0x0124: "not authorised",
}


def status_text(status: int) -> str:
    """A status as a user reads it: its category (pynetdicom's ``code_to_category``), the code, its meaning."""
    from pynetdicom.status import code_to_category

    return f"{code_to_category(status).lower()} 0x{status:04X}" + (f": {_MEANINGS[status]}" if status in _MEANINGS else "")


@dataclass
class Message:
    """A DIMSE message as received: its context, command set and encoded dataset in pieces."""

    context_id: int
    command: dict
    dataset: list = field(default_factory=list)
    #: receive buffers the dataset pieces point into: give them back with Association.recycle
    buffers: list = field(default_factory=list)
    #: where the dataset's fragments went instead, as they arrived (see Association.receive)
    sink: object = None

    @property
    def has_dataset(self) -> bool:
        return self.command.get("CommandDataSetType", NO_DATASET) != NO_DATASET


def read_identifier(pieces: list, transfer_syntax: str):
    """A dataset that came in a message (a C-FIND match, a failed-instance list) as a pydicom Dataset.

    `pieces` are the encoded dataset's fragments as received; the transfer
    syntax is the presentation context's (PS3.7 9.3: a DIMSE dataset has no
    File Meta Information).
    """
    import io

    from pydicom.filereader import read_dataset
    from pydicom.uid import UID

    syntax = UID(transfer_syntax)
    return read_dataset(io.BytesIO(b"".join(pieces)), syntax.is_implicit_VR, syntax.is_little_endian)


def encode_identifier(identifier, transfer_syntax: str) -> bytes:
    """A request's identifier encoded in the accepted context's transfer syntax (pynetdicom's ``dsutils.encode``)."""
    from pydicom.uid import UID
    from pynetdicom.dsutils import encode

    syntax = UID(transfer_syntax)
    return encode(identifier, syntax.is_implicit_VR, syntax.is_little_endian)
