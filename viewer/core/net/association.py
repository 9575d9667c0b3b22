"""One association on one socket, driven from the calling thread: the DICOM upper layer (PS3.8 9)
for every service, as requestor (:meth:`Association.request`, :func:`open_association`) and as
acceptor (:meth:`Association.answer`, the C-MOVE Storage SCP).

Every service (C-ECHO, C-FIND, C-GET, C-MOVE, C-STORE as SCU and SCP) runs on
this class, with one model for the rest:

* TLS: :func:`~viewer.core.net.tls.client_context` wraps the socket (PS3.15 B.1).
* Timeouts, from the node (:class:`~viewer.core.net.nodes.Timeouts`): connect,
  the association's answer (ACSE), and inactivity: nothing either way for
  that long ends the association (:class:`Silent`). None or 0: wait for ever.
* Cancel: a :class:`~viewer.core.runtime.tasks.CancelToken` read while
  waiting (:meth:`Association.check`). An outstanding C-FIND, C-GET or C-MOVE
  gets its C-CANCEL and :data:`CANCEL_GRACE` seconds to end before the
  association is aborted (:class:`CancelIgnored`, what arrived is kept);
  anything else is aborted at once (:class:`Stopped`).
* Log: one line per PDU and per message (:func:`~viewer.core.net.dimse.describe`)
  into the node's :class:`AssociationLog`, the same lines for every service.

Why not pynetdicom's ``Association``: a C-GET (or a C-MOVE's Storage SCP)
receives one C-STORE per instance, and the rate is set by what each one
costs. pynetdicom passes every message between its DUL thread, its DIMSE
queue and the association's thread, and decodes and encodes each command set
through pydicom: about 2.7 ms of CPU per instance, against 0.8 ms for dcmtk's
``getscu``. Here an instance costs a socket read into one buffer per PDU, a
command set parsed with :mod:`struct`, the received fragments handed on
without joining them, and a C-STORE response of about a hundred bytes.
pynetdicom still encodes and decodes the negotiation PDUs (:mod:`~viewer.core.net.pdu`)
and the datasets (:mod:`~viewer.core.net.dimse`).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from viewer.core.dicom.io import ViewerError
from viewer.core.net.connection import Connection, PeerGone, ProtocolError
from viewer.core.net.dimse import C_CANCEL_RQ, CANCELLABLE, NO_DATASET, PENDING, Message, describe, encode_command
from viewer.core.net.nodes import LocalAE, Node
from viewer.core.net.pdu import (
    A_ABORT,
    A_ASSOCIATE_AC,
    A_ASSOCIATE_RJ,
    A_ASSOCIATE_RQ,
    A_RELEASE_RP,
    PDU_HEADER,
    RELEASE_RQ,
    Proposal,
    associate_ac,
    associate_rj_busy,
    associate_rq,
    read_associate_ac,
    read_associate_rj,
    read_associate_rq,
    uid_name,
)
from viewer.core.net.tls import client_context, tls_error_text
from viewer.core.runtime.tasks import CancelToken

#: Seconds a peer has to end an operation after our C-CANCEL before the association is aborted.
CANCEL_GRACE = 2.0
#: What a peer silent for the inactivity time is told it did ({address}, {timeout} in seconds); each service words its own.
SILENCE = "{address} stopped answering for {timeout} s"


@dataclass
class AssociationLog:
    """What happened on the associations with one node, for a user to read (the query panel's Log button)."""

    lines: list[str] = field(default_factory=list)
    limit: int = 2000

    def add(self, text: str) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')} {text}")
        del self.lines[: max(0, len(self.lines) - self.limit)]

    def text(self) -> str:
        return "\n".join(self.lines)


class Unreachable(ViewerError):
    """No association: nothing listens there, or it did not answer in time."""


class GaveUp(PeerGone):
    """We aborted the association, and its log says why."""


class Silent(GaveUp):
    """Nothing came or went for the inactivity time."""


class CancelIgnored(GaveUp):
    """The peer went on for :data:`CANCEL_GRACE` seconds after our C-CANCEL."""


class Stopped(GaveUp):
    """Cancelled with nothing a C-CANCEL could end (a C-ECHO, a Storage SCP's association at shutdown)."""


class Association(Connection):
    """An association we requested (:meth:`request`) or accepted (:meth:`answer`), read and written from one thread.

    ``log`` takes one line per PDU or message. Waiting for the peer polls
    the socket every ``poll`` seconds; between polls :meth:`check` applies
    `cancel` and `inactivity` (seconds; `silence` words the error), then
    ``on_idle`` is called, which may raise to give up. While the
    association is negotiated or released only that phase's limit applies.
    """

    def __init__(
        self,
        address: str,
        called_ae: str,
        calling_ae: str,
        log: Callable[[str], None] | None = None,
        poll: float = 0.1,
        *,
        cancel: CancelToken | None = None,
        inactivity: float | None = None,
        silence: str = SILENCE,
    ):
        super().__init__(address, log, poll)
        self.called_ae = called_ae
        self.calling_ae = calling_ae
        self.cancel = cancel
        self.inactivity = inactivity or None
        self.silence = silence
        #: when activity elsewhere that counts as this association's happened last (a C-MOVE's Storage SCP writing)
        self.other_activity: Callable[[], float] | None = None
        self.accepted: dict[int, tuple[str, str]] = {}  # context ID -> (abstract syntax, transfer syntax)
        self.cancel_sent_at: float | None = None
        self._outstanding: tuple[int, int] | None = None  # (context ID, message ID) of a request a C-CANCEL may end
        self._phase: tuple[float | None, Callable[[], Exception]] | None = None  # negotiating or releasing: (deadline, error)

    # -- opening

    def request(
        self, host: str, port: int, proposal: Proposal, connect_timeout: float | None, acse_timeout: float | None, tls=None
    ) -> None:
        """Connect, propose, and wait for the answer; raises ViewerError when refused or unanswered.

        `tls` is (SSL context, server host name) from :func:`~viewer.core.net.tls.client_context`, or None.
        """
        try:
            raw = socket.create_connection((host, port), timeout=connect_timeout or None)
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
        self.sock.setblocking(False)  # reads and writes wait in _wait(), which checks the time and the cancel
        self._buffer_size = max(proposal.max_pdu, 16384)
        self.log(
            f"-> A-ASSOCIATE-RQ to {self.called_ae} ({len(proposal.contexts)} contexts: "
            f"{', '.join(sorted({uid_name(a) for a, _ in proposal.contexts})[:8])}...)"
        )

        def unanswered() -> Unreachable:
            return Unreachable(f"{self.address} did not answer (no DICOM listener there, or it timed out)")

        try:
            with self._negotiating(acse_timeout, unanswered):
                self.send_raw(associate_rq(self.calling_ae, self.called_ae, proposal))
                pdu_type, buffer, length = self.read_pdu()
        except PeerGone as exc:
            if isinstance(self.last_error, ssl.SSLError):  # e.g. a TLS 1.3 server refusing our client certificate
                raise ViewerError(f"{self.address}: {tls_error_text(self.last_error)}") from None
            if isinstance(exc, ProtocolError):
                raise ViewerError(str(exc)) from None
            raise unanswered() from None
        raw_pdu = PDU_HEADER.pack(pdu_type, length) + bytes(buffer[:length])
        if pdu_type == A_ASSOCIATE_AC:
            self.accepted, self.peer_max_pdu = read_associate_ac(raw_pdu, proposal)
            self.established = True
            self.log(f"<- A-ASSOCIATE-AC: {len(self.accepted)} context(s) accepted, max PDU {self.peer_max_pdu}")
            return
        self.close()
        if pdu_type == A_ASSOCIATE_RJ:
            primitive = read_associate_rj(raw_pdu)
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
        (PS3.8 9.3.3.2: result 3, abstract syntax not supported); see
        :func:`~viewer.core.net.pdu.associate_ac`. Raises PeerGone when the
        peer sends no request in `acse_timeout` seconds.
        """
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self.sock = sock
        self._buffer_size = max(max_pdu, 16384)
        with self._negotiating(acse_timeout, lambda: PeerGone(f"{self.address} sent no association request")):
            pdu_type, buffer, length = self.read_pdu()
        if pdu_type != A_ASSOCIATE_RQ:
            raise self.protocol_error(f"a PDU of type {pdu_type} instead of an association request")
        try:
            asked = read_associate_rq(PDU_HEADER.pack(pdu_type, length) + bytes(buffer[:length]))
        except Exception as exc:  # whatever pynetdicom cannot read is the peer's protocol error
            raise self.protocol_error(f"an association request that cannot be read ({exc})") from None
        self.calling_ae = str(asked.calling_ae_title).strip()
        self.address = f"{self.calling_ae}@{self.address}"
        self.log(f"<- A-ASSOCIATE-RQ from {self.calling_ae} ({len(asked.presentation_context_definition_list)} contexts)")
        if busy:
            self.log("-> A-ASSOCIATE-RJ (too many associations at once)")
            self.send_raw(associate_rj_busy(asked))
            self.close()
            return False
        accept, self.accepted, proposed, self.peer_max_pdu = associate_ac(asked, choose, max_pdu)
        self.send_raw(accept)
        self.established = True
        self.log(f"-> A-ASSOCIATE-AC: {len(self.accepted)} of {proposed} context(s) accepted")
        return True

    def context_for(self, abstract_syntax: str) -> int | None:
        """The ID of an accepted context for `abstract_syntax`, or None."""
        for context_id, (abstract, _) in self.accepted.items():
            if abstract == abstract_syntax:
                return context_id
        return None

    # -- DIMSE messages

    def send_message(self, context_id: int, command: dict, dataset: bytes | None = None) -> None:
        """A DIMSE message from its command set's values (keywords of :data:`~viewer.core.net.dimse.COMMAND_ELEMENTS`), logged.

        A C-FIND, C-GET or C-MOVE request becomes the outstanding one, which a cancel ends with a C-CANCEL.
        """
        self.log(f"-> {describe(command)}")
        if command.get("CommandField") in CANCELLABLE:
            self._outstanding, self.cancel_sent_at = (context_id, command["MessageID"]), None
        self.send(context_id, encode_command(**command), dataset)

    def receive(self, sink_for: Callable[[Message], object] | None = None) -> Message:
        """The next DIMSE message (see :meth:`Connection.receive`), after :meth:`check`; logged.

        The final response to the outstanding request ends it, and its cancel's grace.
        """
        self.check()
        message = super().receive(sink_for)
        command = message.command
        self.log(f"<- {describe(command)}")
        if self._outstanding is not None and command.get("Status") not in (None, *PENDING):
            if command.get("MessageIDBeingRespondedTo") == self._outstanding[1]:
                self._outstanding = self.cancel_sent_at = None
        return message

    def ask(
        self,
        context_id: int,
        command: dict,
        dataset: bytes | None = None,
        sink_for: Callable[[Message], object] | None = None,
        serve: Callable[[Message], None] | None = None,
    ) -> Iterator[Message]:
        """Send one request; yield each response to it, up to the final one (its status not pending, PS3.7 9.3).

        Requests from the peer meanwhile (a C-GET's C-STORE sub-operations)
        go to `serve`, their datasets to `sink_for` (see :meth:`receive`);
        anything else is dropped. The caller recycles the responses' buffers.
        """
        response = command["CommandField"] | 0x8000
        self.send_message(context_id, command, dataset)
        while True:
            message = self.receive(sink_for)
            kind, status = message.command.get("CommandField"), message.command.get("Status")
            if kind == response and isinstance(status, int):
                yield message
                if status not in PENDING:
                    return
            elif serve is not None and isinstance(kind, int) and not kind & 0x8000:
                serve(message)
            else:
                self.recycle(message.buffers)

    def send_cancel(self) -> None:
        """C-CANCEL-RQ for the outstanding C-FIND, C-GET or C-MOVE (PS3.7 9.3.2.3), once; its grace starts."""
        if self._outstanding is None or self.cancel_sent_at is not None:
            return
        self.cancel_sent_at = time.monotonic()
        context_id, message_id = self._outstanding
        self.send_message(
            context_id, {"CommandField": C_CANCEL_RQ, "MessageIDBeingRespondedTo": message_id, "CommandDataSetType": NO_DATASET}
        )

    def check(self) -> None:
        """The cancel and the inactivity time, the same for every service: at every quiet poll and before each message.

        A cancel while a C-FIND, C-GET or C-MOVE is outstanding sends its
        C-CANCEL; a peer still going :data:`CANCEL_GRACE` seconds after it is
        aborted (:class:`CancelIgnored`). A cancel with nothing to C-CANCEL
        aborts at once (:class:`Stopped`). Nothing either way, nor from
        ``other_activity``, for `inactivity` seconds aborts (:class:`Silent`).
        """
        now = time.monotonic()
        if self.cancel is not None and self.cancel.cancelled:
            if self._outstanding is None:
                raise self._give_up(Stopped(f"{self.address}: stopped before the peer finished"))
            self.send_cancel()
        if self.cancel_sent_at is not None and now - self.cancel_sent_at > CANCEL_GRACE:
            raise self._give_up(CancelIgnored(f"{self.address} went on for {CANCEL_GRACE:g} s after C-CANCEL"))
        if self.inactivity:
            last = self.last_activity if self.other_activity is None else max(self.last_activity, self.other_activity())
            if now - last > self.inactivity:
                raise self._give_up(Silent(self.silence.format(address=self.address, timeout=f"{self.inactivity:g}")))

    # -- closing

    def release(self, timeout: float = 5.0) -> None:
        """A-RELEASE: ask, wait up to `timeout` s for the answer, close (PS3.8 7.2)."""
        if not self.established:
            self.close()
            return
        self.established = False
        self._outstanding = None
        try:
            self.log("-> A-RELEASE")
            with self._negotiating(timeout, lambda: PeerGone("no release answer")):
                self.send_raw(RELEASE_RQ)
                while True:
                    pdu_type, _, _ = self.read_pdu()
                    if pdu_type in (A_RELEASE_RP, A_ABORT):
                        self.log("<- A-RELEASE" if pdu_type == A_RELEASE_RP else "<- A-ABORT")
                        break
        except (OSError, ViewerError):
            pass
        finally:
            self.close()

    def abort(self) -> None:
        self._outstanding = None
        super().abort()

    def end(self) -> None:
        """End after an error: released when no request is outstanding (its final response came), else aborted."""
        if self._outstanding is None:
            self.release()
        else:
            self.abort()

    # -- waiting

    @contextlib.contextmanager
    def _negotiating(self, seconds: float | None, error: Callable[[], Exception]) -> Iterator[None]:
        """Association or release under way: only its limit applies (0 or None: none); past it, close and raise error()."""
        self._phase = (time.monotonic() + seconds if seconds else None, error)
        try:
            yield
        finally:
            self._phase = None

    def idle(self) -> None:
        """A quiet poll: the phase's limit while negotiating or releasing, else :meth:`check`; then ``on_idle``."""
        if self._phase is None:
            self.check()
        elif self._phase[0] is not None and time.monotonic() > self._phase[0]:
            self.close()
            raise self._phase[1]()
        self.on_idle()

    def _give_up(self, reason: GaveUp) -> GaveUp:
        self.log(str(reason))
        self.abort()
        return reason


def open_association(
    node: Node,
    local: LocalAE,
    proposal: Proposal,
    log: AssociationLog | None = None,
    cancel: CancelToken | None = None,
    silence: str = SILENCE,
) -> Association:
    """An established association with `node`, as requestor: its TLS files, its timeouts, `cancel` while waiting.

    Raises :class:`Unreachable` when nothing answers, ViewerError when the node refuses (saying why) or TLS fails
    (saying whose certificate).
    """
    tls = client_context(node)
    assoc = Association(
        node.address,
        node.ae_title,
        local.ae_title,
        log.add if log is not None else None,
        cancel=cancel,
        inactivity=node.timeouts.dimse,
        silence=silence,
    )
    assoc.request(node.host, node.port, proposal, node.timeouts.connect, node.timeouts.acse, tls)
    return assoc
