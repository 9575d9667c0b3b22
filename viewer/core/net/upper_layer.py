"""One association on one socket, driven from the calling thread: the DICOM
upper layer (PS3.8 9) and the DIMSE messages (PS3.7 9.3, Annex E) a C-GET
needs, as requestor, and a Storage SCP needs, as acceptor.

Why C-GET does not use pynetdicom's ``Association``: a C-GET receives one
C-STORE sub-operation per instance, and the rate is set by what each one
costs. pynetdicom passes every message between its DUL thread, its DIMSE
queue and the association's thread, and decodes and encodes each command set
through pydicom: about 2.7 ms of CPU per instance, against 0.8 ms for dcmtk's
``getscu``. Here an instance costs a socket read into one buffer per PDU, a
command set parsed with :mod:`struct`, the received fragments handed on
without joining them, and a C-STORE response of about a hundred bytes.

The association PDUs (A-ASSOCIATE-RQ/AC/RJ, A-RELEASE, A-ABORT) are encoded
and decoded by pynetdicom's own classes (:mod:`pynetdicom.pdu`), so
negotiation, and the wording of a rejection, are pynetdicom's.
"""

from __future__ import annotations

import select
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

#: DIMSE Command Field values (PS3.7 E.1)
C_STORE_RQ, C_STORE_RSP = 0x0001, 0x8001
C_GET_RQ, C_GET_RSP = 0x0010, 0x8010
C_MOVE_RQ, C_MOVE_RSP = 0x0021, 0x8021
C_FIND_RQ, C_FIND_RSP = 0x0020, 0x8020
C_ECHO_RQ, C_ECHO_RSP = 0x0030, 0x8030
C_CANCEL_RQ = 0x0FFF
_COMMAND_NAMES = {
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

#: (0000,0800) *Command Data Set Type* meaning "no dataset follows"
NO_DATASET = 0x0101
#: Priority MEDIUM (PS3.7 9.1.1.1.8)
MEDIUM = 0x0000

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

#: PDU types (PS3.8 9.3.1)
A_ASSOCIATE_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, P_DATA_TF, A_RELEASE_RQ, A_RELEASE_RP, A_ABORT = 1, 2, 3, 4, 5, 6, 7
_PDU_HEADER = struct.Struct(">BxI")
_PDV_HEADER = struct.Struct(">IBB")
_ELEMENT_HEADER = struct.Struct("<HHI")
#: Largest PDU accepted from a peer whatever it claims (a length beyond is refused, not allocated).
LARGEST_PDU = 64 * 1024 * 1024


# ----------------------------------------------------------------------------- command sets (PS3.7 Annex E)


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


#: (0008,0058) *Failed SOP Instance UID List*: the one element outside group 0000 read from a command set.
FAILED_SOP_INSTANCE_UID_LIST = (0x0008, 0x0058)


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
    field_ = command.get("CommandField")
    return _COMMAND_NAMES.get(field_, f"DIMSE 0x{field_:04X}" if isinstance(field_, int) else "DIMSE message")


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


class PeerGone(ViewerError):
    """The peer aborted, released, or dropped the connection during the association."""

    #: True when the peer released the association in order (A-RELEASE), which ends a Storage SCP's work.
    released = False


class Unreachable(ViewerError):
    """No association: nothing listens there, or it did not answer in time."""


class ProtocolError(PeerGone):
    """The peer sent what the upper layer protocol does not allow; we aborted the association."""


# ----------------------------------------------------------------------------- the association


@dataclass
class Proposal:
    """What to propose: (abstract syntax, [transfer syntaxes]) contexts, and the SOP classes we offer to be SCP of."""

    contexts: list[tuple[str, list[str]]]
    scp_roles: list[str] = field(default_factory=list)
    max_pdu: int = 256 * 1024


class Association:
    """An association we requested (:meth:`request`) or accepted (:meth:`answer`), read and written from one thread.

    ``on_idle`` is called about every ``poll`` seconds while waiting for the
    peer; it may send (a C-CANCEL) or raise (to give up). ``log`` takes one
    line per PDU or message, for the user's association log.
    """

    def __init__(self, address: str, called_ae: str, calling_ae: str, log: Callable[[str], None] | None = None, poll: float = 0.1):
        self.address = address
        self.called_ae = called_ae
        self.calling_ae = calling_ae
        self.log = log or (lambda text: None)
        self.poll = poll
        self.on_idle: Callable[[], None] = lambda: None
        self.sock: socket.socket | None = None
        self.accepted: dict[int, tuple[str, str]] = {}  # context ID -> (abstract syntax, transfer syntax)
        self.peer_max_pdu = 0  # 0: no limit (PS3.8 D.1)
        self.established = False
        self.last_error: OSError | None = None  # what ended the connection, when the system said
        self._header = bytearray(6)
        self._buffer_size = 256 * 1024
        self._free: list[bytearray] = []  # receive buffers to reuse (a fresh large one costs page faults)
        self._leftover: list | None = None  # [buffer, view, position, end, owned]: a PDU not fully parsed

    # -- opening

    def request(
        self, host: str, port: int, proposal: Proposal, connect_timeout: float | None, acse_timeout: float | None, tls=None
    ) -> None:
        """Connect, propose, and wait for the answer; raises ViewerError when refused or unanswered."""
        try:
            raw = socket.create_connection((host, port), timeout=connect_timeout)
        except OSError as exc:
            raise Unreachable(f"{self.address}: cannot connect ({exc})") from None
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # else each message waits for a delayed ACK
        try:
            if tls is not None:
                context, hostname = tls
                raw = context.wrap_socket(raw, server_hostname=hostname)
        except ssl.SSLError as exc:
            raw.close()
            raise ViewerError(f"{self.address}: {tls_error_text(exc)}") from None
        except OSError as exc:
            raw.close()
            raise ViewerError(f"{self.address}: TLS handshake failed ({exc})") from None
        self.sock = raw
        self.sock.setblocking(False)  # reads and writes wait in _wait(), which lets on_idle run
        self._buffer_size = max(proposal.max_pdu, 16384)
        rq = _associate_rq(self.calling_ae, self.called_ae, proposal)
        self.log(
            f"-> A-ASSOCIATE-RQ to {self.called_ae} ({len(proposal.contexts)} contexts: "
            f"{', '.join(sorted({_uid_name(a) for a, _ in proposal.contexts})[:8])}...)"
        )
        deadline = None if acse_timeout is None else time.monotonic() + acse_timeout

        def acse_wait():
            if deadline is not None and time.monotonic() > deadline:
                self.close()
                raise Unreachable(f"{self.address} did not answer (no DICOM listener there, or it timed out)")

        self.on_idle = acse_wait
        try:
            self._send(rq)
            pdu_type, buffer, length = self._read_pdu()
        except PeerGone as exc:
            if isinstance(self.last_error, ssl.SSLError):  # e.g. a TLS 1.3 server refusing our client certificate
                raise ViewerError(f"{self.address}: {tls_error_text(self.last_error)}") from None
            if isinstance(exc, ProtocolError):
                raise ViewerError(str(exc)) from None
            raise Unreachable(f"{self.address} did not answer (no DICOM listener there, or it timed out)") from None
        finally:
            self.on_idle = lambda: None
        raw_pdu = _PDU_HEADER.pack(pdu_type, length) + bytes(buffer[:length])
        if pdu_type == A_ASSOCIATE_AC:
            from pynetdicom.pdu import A_ASSOCIATE_AC as AC

            pdu = AC()
            pdu.decode(raw_pdu)
            primitive = pdu.to_primitive()
            self.peer_max_pdu = primitive.maximum_length_received or 0
            proposed = {context_id: abstract for context_id, (abstract, _) in _numbered(proposal.contexts)}
            for result in primitive.presentation_context_definition_results_list:
                if result.result == 0 and result.context_id in proposed and result.transfer_syntax:
                    self.accepted[result.context_id] = (proposed[result.context_id], str(result.transfer_syntax[0]))
            self.established = True
            self.log(f"<- A-ASSOCIATE-AC: {len(self.accepted)} context(s) accepted, max PDU {self.peer_max_pdu}")
            return
        self.close()
        if pdu_type == A_ASSOCIATE_RJ:
            from pynetdicom.pdu import A_ASSOCIATE_RJ as RJ

            pdu = RJ()
            pdu.decode(raw_pdu)
            primitive = pdu.to_primitive()
            self.log(f"<- A-ASSOCIATE-RJ: {primitive.result_str}, {primitive.source_str}: {primitive.reason_str}")
            raise ViewerError(f"{self.address} refused the association: {primitive.reason_str} ({primitive.source_str})")
        if pdu_type == A_ABORT:
            self.log("<- A-ABORT")
            raise ViewerError(f"{self.address} aborted the association")
        raise ViewerError(f"{self.address} answered the association request with PDU type {pdu_type}")

    def answer(
        self,
        sock: socket.socket,
        choose: Callable[[str, list[str]], str | None],
        max_pdu: int,
        acse_timeout: float | None,
        busy: bool = False,
    ) -> bool:
        """Be the acceptor on `sock`: read the A-ASSOCIATE-RQ, answer AC (or RJ when `busy`); True when established.

        ``choose(abstract_syntax, transfer_syntaxes)`` gives the transfer
        syntax to accept a proposed context with, or None to refuse it
        (PS3.8 9.3.3.2: result 3, abstract syntax not supported). The
        requests are pynetdicom's PDU classes' to decode and encode. Raises
        PeerGone when the peer sends no request in `acse_timeout` seconds.
        """
        from pynetdicom.pdu import A_ASSOCIATE_AC as AC
        from pynetdicom.pdu import A_ASSOCIATE_RJ as RJ
        from pynetdicom.pdu import A_ASSOCIATE_RQ as RQ
        from pynetdicom.pdu_primitives import (
            A_ASSOCIATE,
            ImplementationClassUIDNotification,
            ImplementationVersionNameNotification,
            MaximumLengthNotification,
            SCP_SCU_RoleSelectionNegotiation,
        )
        from pynetdicom.presentation import PresentationContext

        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.sock = sock
        self._buffer_size = max(max_pdu, 16384)
        deadline = None if acse_timeout is None else time.monotonic() + acse_timeout

        def acse_wait():
            if deadline is not None and time.monotonic() > deadline:
                raise PeerGone(f"{self.address} sent no association request")

        self.on_idle = acse_wait
        try:
            pdu_type, buffer, length = self._read_pdu()
        finally:
            self.on_idle = lambda: None
        if pdu_type != A_ASSOCIATE_RQ:
            raise self._protocol_error(f"a PDU of type {pdu_type} instead of an association request")
        request = RQ()
        try:
            request.decode(_PDU_HEADER.pack(pdu_type, length) + bytes(buffer[:length]))
            asked = request.to_primitive()
        except Exception as exc:  # whatever pynetdicom cannot read is the peer's protocol error
            raise self._protocol_error(f"an association request that cannot be read ({exc})") from None
        self.calling_ae = str(asked.calling_ae_title).strip()
        self.address = f"{self.calling_ae}@{self.address}"
        self.log(f"<- A-ASSOCIATE-RQ from {self.calling_ae} ({len(asked.presentation_context_definition_list)} contexts)")
        answer = A_ASSOCIATE()
        if busy:
            answer.result, answer.result_source, answer.diagnostic = 0x02, 0x03, 0x02  # transient: local limit exceeded
            reject = RJ()
            reject.from_primitive(answer)
            self.log("-> A-ASSOCIATE-RJ (too many associations at once)")
            self._send(reject.encode())
            self.close()
            return False
        answer.application_context_name = "1.2.840.10008.3.1.1.1"
        answer.calling_ae_title, answer.called_ae_title = asked.calling_ae_title, asked.called_ae_title
        answer.result, answer.result_source = 0x00, 0x01
        results = []
        for proposed in asked.presentation_context_definition_list:
            syntaxes = [str(uid) for uid in proposed.transfer_syntax]
            chosen = choose(str(proposed.abstract_syntax), syntaxes)
            result = PresentationContext()
            result.context_id = proposed.context_id
            result.abstract_syntax = proposed.abstract_syntax
            result.transfer_syntax = [chosen or syntaxes[0]]
            result.result = 0x00 if chosen else 0x03
            if chosen:
                self.accepted[proposed.context_id] = (str(proposed.abstract_syntax), chosen)
            results.append(result)
        answer.presentation_context_definition_results_list = results
        maximum = MaximumLengthNotification()
        maximum.maximum_length_received = max_pdu
        implementation = ImplementationClassUIDNotification()
        implementation.implementation_class_uid = IMPLEMENTATION_CLASS_UID
        version = ImplementationVersionNameNotification()
        version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
        items = [maximum, implementation, version]
        for item in asked.user_information:
            if isinstance(item, MaximumLengthNotification):
                self.peer_max_pdu = item.maximum_length_received or 0
            elif isinstance(item, SCP_SCU_RoleSelectionNegotiation):  # we are SCP only: the peer may stay SCU
                role = SCP_SCU_RoleSelectionNegotiation()
                role.sop_class_uid, role.scu_role, role.scp_role = item.sop_class_uid, bool(item.scu_role), False
                items.append(role)
        answer.user_information = items
        accept = AC()
        accept.from_primitive(answer)
        self._send(accept.encode())
        self.established = True
        self.log(f"-> A-ASSOCIATE-AC: {len(self.accepted)} of {len(results)} context(s) accepted")
        return True

    def context_for(self, abstract_syntax: str) -> int | None:
        """The ID of an accepted context for `abstract_syntax`, or None."""
        for context_id, (abstract, _) in self.accepted.items():
            if abstract == abstract_syntax:
                return context_id
        return None

    # -- DIMSE messages

    def send(self, context_id: int, command: bytes, dataset: bytes | None = None, name: str = "") -> None:
        """One DIMSE message: the command set, then the dataset, each fragmented to the peer's maximum PDU."""
        if name:
            self.log(f"-> {name}")
        pdus = []
        for data, control in ((command, 0x01), (dataset, 0x00)):
            if data is None:
                continue
            room = (self.peer_max_pdu - 6) if self.peer_max_pdu else len(data) or 1  # a PDV item's header is 6 bytes
            pieces = [data[i : i + room] for i in range(0, len(data), room)] or [b""]
            for index, piece in enumerate(pieces):
                last = 0x02 if index == len(pieces) - 1 else 0x00
                pdv = _PDV_HEADER.pack(len(piece) + 2, context_id, control | last) + piece
                pdus.append(_PDU_HEADER.pack(P_DATA_TF, len(pdv)) + pdv)
        self._send(b"".join(pdus))

    def receive(self, sink_for: Callable[[Message], object] | None = None) -> Message:
        """The next DIMSE message from the peer; raises PeerGone when it releases, aborts or disconnects.

        ``sink_for(message)``, called once a command set that announces a
        dataset is complete, may return an object whose ``write(fragment)``
        takes each dataset fragment as it arrives (a view valid only during
        the call): a large dataset is then handled while the rest of it is
        still on its way. Without a sink the dataset's pieces are views into
        receive buffers, listed in the message's ``buffers``: pass them to
        :meth:`recycle` (from any thread) once used, and later messages
        reuse them.
        """
        command = bytearray()
        message: Message | None = None
        dataset: list = []
        buffers: list = []
        while True:
            if self._leftover is None:
                pdu_type, buffer, length = self._read_pdu()
                if pdu_type != P_DATA_TF:
                    self._not_data(pdu_type)
                self._leftover = [buffer, memoryview(buffer), 0, length, False]
            current = self._leftover
            buffer, view, pos, end, owned = current
            complete = False
            while pos < end and not complete:
                if pos + 6 > end:
                    raise self._protocol_error("a PDV item header runs past its PDU")
                length, context_id, control = _PDV_HEADER.unpack_from(view, pos)
                if length < 2 or pos + 4 + length > end:
                    raise self._protocol_error("a PDV item's length runs past its PDU")
                fragment = view[pos + 6 : pos + 4 + length]
                pos += 4 + length
                if control & 0x01:  # a command fragment (PS3.8 E.2)
                    command += fragment
                    if control & 0x02:
                        try:
                            message = Message(context_id, decode_command(command), dataset, buffers)
                        except ValueError as exc:
                            raise self._protocol_error(str(exc)) from None
                        complete = not message.has_dataset
                        if not complete and sink_for is not None:
                            message.sink = sink_for(message)
                            if message.sink is not None and dataset:  # fragments that came before the command
                                for piece in dataset:
                                    message.sink.write(piece)
                                dataset.clear()
                else:
                    if message is not None and message.sink is not None:
                        message.sink.write(fragment)
                        complete = bool(control & 0x02)
                        continue
                    if not owned:  # this message owns the buffer now
                        owned = current[4] = True
                        buffers.append(buffer)
                    elif not any(b is buffer for b in buffers):
                        fragment = bytes(fragment)  # an earlier message owns this PDU's buffer (PDVs of two messages in one PDU)
                    dataset.append(fragment)
                    complete = bool(control & 0x02) and message is not None
            current[2] = pos
            if pos >= end:
                self._leftover = None
                if not owned:
                    self.recycle([buffer])
            if complete:
                status = message.command.get("Status")
                self.log(f"<- {command_name(message.command)}" + (f" status 0x{status:04X}" if isinstance(status, int) else ""))
                return message

    def recycle(self, buffers: list) -> None:
        """Take receive buffers back for reuse (their views must no longer be used)."""
        for buffer in buffers:
            if len(buffer) == self._buffer_size and len(self._free) < 16:
                self._free.append(buffer)  # list.append is atomic: safe from a writer thread

    # -- closing

    def release(self, timeout: float = 5.0) -> None:
        """A-RELEASE: ask, wait up to `timeout` s for the answer, close (PS3.8 7.2)."""
        if not self.established:
            self.close()
            return
        self.established = False
        try:
            self.log("-> A-RELEASE")
            self._send(_PDU_HEADER.pack(A_RELEASE_RQ, 4) + b"\x00" * 4)
            deadline = time.monotonic() + timeout

            def give_up():
                if time.monotonic() > deadline:
                    raise PeerGone("no release answer")

            self.on_idle = give_up
            while True:
                pdu_type, _, _ = self._read_pdu()
                if pdu_type in (A_RELEASE_RP, A_ABORT):
                    self.log("<- A-RELEASE" if pdu_type == A_RELEASE_RP else "<- A-ABORT")
                    break
        except (OSError, ViewerError):
            pass
        finally:
            self.close()

    def abort(self) -> None:
        """A-ABORT from the service user (PS3.8 9.3.8), then close."""
        if self.sock is not None and self.established:
            self.established = False
            try:
                self.log("-> A-ABORT")
                self._send(_PDU_HEADER.pack(A_ABORT, 4) + b"\x00\x00\x00\x00")
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        self.established = False
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None
                self.log("connection closed")

    # -- PDUs

    def _send(self, data: bytes) -> None:
        view, sent = memoryview(data), 0
        while sent < len(view):
            if self.sock is None:
                raise PeerGone(f"{self.address}: the connection is closed")
            try:
                sent += self.sock.send(view[sent:])
            except ssl.SSLWantReadError:
                self._wait(read=True)
            except (BlockingIOError, ssl.SSLWantWriteError):
                self._wait(read=False)
            except OSError as exc:
                raise self._connection_lost(exc) from None

    def _wait(self, read: bool) -> None:
        """Until the socket can be read (or written), calling on_idle every `poll` seconds without.

        poll() where there is one: select() cannot watch a descriptor
        numbered 1024 or more, which a long-running app can reach.
        """
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(self.sock, select.POLLIN if read else select.POLLOUT)
            ready = poller.poll(self.poll * 1000)
        else:
            ready = any(select.select([self.sock] if read else [], [] if read else [self.sock], [], self.poll))
        if not ready:
            self.on_idle()

    def _read_pdu(self) -> tuple[int, bytearray, int]:
        """(type, buffer, length): the body of the next PDU is buffer[:length]."""
        self._read_into(memoryview(self._header))
        pdu_type, length = _PDU_HEADER.unpack(self._header)
        if length > LARGEST_PDU or pdu_type not in range(1, 8):
            raise self._protocol_error(f"a PDU of type {pdu_type} and {length} bytes")
        if length <= self._buffer_size:
            buffer = self._free.pop() if self._free else bytearray(self._buffer_size)
        else:
            buffer = bytearray(length)  # beyond the maximum we announced: not kept for reuse
        self._read_into(memoryview(buffer)[:length])
        return pdu_type, buffer, length

    def _read_into(self, view: memoryview) -> None:
        """Fill `view` from the socket (non-blocking: a read is one system call when data is there)."""
        got, count = 0, len(view)
        while got < count:
            if self.sock is None:
                raise PeerGone(f"{self.address}: the connection is closed")
            try:
                received = self.sock.recv_into(view[got:])
            except (BlockingIOError, ssl.SSLWantReadError):
                self._wait(read=True)
                continue
            except ssl.SSLWantWriteError:
                self._wait(read=False)
                continue
            except OSError as exc:
                raise self._connection_lost(exc) from None
            if not received:
                self.close()
                raise PeerGone(f"{self.address} broke off the transfer (connection closed)")
            got += received

    def _not_data(self, pdu_type: int):
        if pdu_type == A_RELEASE_RQ:
            self.log("<- A-RELEASE (requested by the peer)")
            try:
                self._send(_PDU_HEADER.pack(A_RELEASE_RP, 4) + b"\x00" * 4)
            finally:
                self.close()
            gone = PeerGone(f"{self.address} released the association before finishing")
            gone.released = True
            raise gone
        if pdu_type == A_ABORT:
            self.log("<- A-ABORT")
            self.close()
            raise PeerGone(f"{self.address} broke off the transfer (association aborted)")
        raise self._protocol_error(f"an unexpected PDU of type {pdu_type}")

    def _protocol_error(self, what: str) -> ProtocolError:
        self.log(f"protocol error: {what}")
        self.abort()
        return ProtocolError(f"{self.address} broke the DICOM protocol ({what}); association aborted")

    def _connection_lost(self, exc: OSError) -> PeerGone:
        self.last_error = exc
        self.close()
        return PeerGone(f"{self.address} broke off the transfer (connection lost: {exc.strerror or exc})")


#: OpenSSL's reasons for a failed TLS connection, in words (the alerts a server sends, PS3.15 B.1 uses TLS).
_TLS_REASONS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the server requires a TLS client certificate (set one in the node's settings)",
    "TLSV1_ALERT_UNKNOWN_CA": "the server does not trust our TLS client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the server refused our TLS client certificate",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the server says our TLS client certificate has expired",
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "TLS handshake failed (no protocol version or cipher in common)",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the TLS connection (it may require a client certificate)",
    "WRONG_VERSION_NUMBER": "the server does not speak TLS on this port",
}


def tls_error_text(exc: OSError) -> str:
    """A failed TLS connection in words, saying whose certificate was the problem."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"the server's TLS certificate is not trusted ({exc.verify_message})"
    reason = getattr(exc, "reason", None) or str(exc)
    if isinstance(exc, ssl.SSLEOFError):
        reason = "UNEXPECTED_EOF_WHILE_READING"
    return _TLS_REASONS.get(reason, f"TLS connection failed ({reason})")


def _numbered(contexts: Iterable[tuple[str, list[str]]]):
    """Presentation context IDs are odd, 1 to 255 (PS3.8 9.3.2.2)."""
    return [(2 * index + 1, context) for index, context in enumerate(contexts)]


def _uid_name(uid: str) -> str:
    from pydicom.uid import UID

    return str(getattr(UID(uid), "name", uid) or uid)


def _item(item_type: int, value: bytes) -> bytes:
    """An A-ASSOCIATE item or sub-item: type, reserved, 16-bit big-endian length, value (PS3.8 9.3.2)."""
    return struct.pack(">BxH", item_type, len(value)) + value


def _associate_rq(calling_ae: str, called_ae: str, proposal: Proposal) -> bytes:
    """The A-ASSOCIATE-RQ PDU (PS3.8 9.3.2; user information PS3.7 D.3.3).

    Encoded here rather than by pynetdicom's classes, which validate every
    UID on the way: 121 contexts with 15 transfer syntaxes each took 31 ms
    there, about one instance's worth of a C-GET at dcmtk's rate per 30.
    tests/net/test_upper_layer.py checks the bytes against pynetdicom's.
    """
    if len(proposal.contexts) > 128:
        raise ValueError("at most 128 presentation contexts (PS3.8 9.3.2.2)")
    items = [_item(0x10, b"1.2.840.10008.3.1.1.1")]  # the DICOM application context (PS3.7 A.2.1)
    for context_id, (abstract, syntaxes) in _numbered(proposal.contexts):
        sub_items = _item(0x30, abstract.encode("ascii")) + b"".join(_item(0x40, uid.encode("ascii")) for uid in syntaxes)
        items.append(_item(0x20, struct.pack(">B3x", context_id) + sub_items))
    user = [
        _item(0x51, struct.pack(">I", proposal.max_pdu)),
        _item(0x52, IMPLEMENTATION_CLASS_UID.encode("ascii")),
        _item(0x55, IMPLEMENTATION_VERSION_NAME.encode("ascii")),
    ]
    for uid in proposal.scp_roles:  # SCP/SCU role selection: we would be SCP of storage, not SCU (PS3.7 D.3.3.4)
        data = uid.encode("ascii")
        user.append(_item(0x54, struct.pack(">H", len(data)) + data + b"\x00\x01"))
    items.append(_item(0x50, b"".join(user)))
    body = (
        struct.pack(">H2x", 1)
        + called_ae.encode("ascii").ljust(16)[:16]
        + calling_ae.encode("ascii").ljust(16)[:16]
        + b"\x00" * 32
        + b"".join(items)
    )
    return struct.pack(">BxI", A_ASSOCIATE_RQ, len(body)) + body
