"""The Storage SCP that receives a C-MOVE's instances, on the viewer's own upper layer.

Why not pynetdicom's server: its acceptor passes every message between a
DUL thread and an association thread that each poll (a fixed 1 ms sleep per
turn), and decodes and encodes each command set through pydicom: about
2.5 ms of CPU per instance, 300 512x512 CT images/s where dcmtk's storescp
takes 1000 to 1800. Here, as in C-GET (:mod:`~viewer.core.net.association`),
one thread per association reads each PDU into a reused buffer, writes the
instance's fragments to its file as they arrive (:class:`InstanceWriter`)
and answers with a command set of about a hundred bytes.

Accepted: every storage SOP class pynetdicom knows, the study's own classes
(private ones too), and Verification (C-ECHO), in each transfer syntax the
viewer reads, the requestor's first choice among them. Anything else is
refused in the association's answer (PS3.8 9.3.3.2).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from viewer.core.dicom.io import ViewerError
from viewer.core.media.cache import valid_uid
from viewer.core.net.association import Association, AssociationLog, GaveUp, PeerGone
from viewer.core.net.dimse import C_ECHO_RQ, C_STORE_RQ, C_STORE_RSP, NO_DATASET, Message
from viewer.core.net.echo import VERIFICATION, answer_echo
from viewer.core.net.nodes import LocalAE, Timeouts
from viewer.core.net.storage import CANNOT_UNDERSTAND, TRANSFER_SYNTAXES, InstanceWriter
from viewer.core.runtime.tasks import CancelToken


def store_sink(assoc: Association, message: Message, writer: InstanceWriter):
    """Where a C-STORE request's dataset goes as it arrives (``Association.receive``'s `sink_for`):
    a file being written, or None for anything else."""
    accepted = assoc.accepted.get(message.context_id)
    if message.command.get("CommandField") != C_STORE_RQ or accepted is None:
        return None
    request = message.command
    return writer.begin(request.get("AffectedSOPClassUID", ""), request.get("AffectedSOPInstanceUID", ""), accepted[1])


def answer_store(assoc: Association, message: Message, writer: InstanceWriter) -> int:
    """Finish a C-STORE sub-operation or request: move the instance into place, send the response
    (PS3.7 9.3.1.2) with its status (PS3.4 B.2.3); returns the status."""
    request = message.command
    if message.sink is not None:
        status = writer.finish(message.sink)
    else:  # without a dataset, or on a context that was not accepted
        writer.refuse(f"{request.get('AffectedSOPInstanceUID', '')!s:.70}: sent without a dataset or on a context that was not accepted")
        status = CANNOT_UNDERSTAND
    assoc.recycle(message.buffers)
    response = {
        "AffectedSOPClassUID": request.get("AffectedSOPClassUID", ""),
        "CommandField": C_STORE_RSP,
        "MessageIDBeingRespondedTo": request.get("MessageID", 0),
        "CommandDataSetType": NO_DATASET,
        "Status": status,
        "AffectedSOPInstanceUID": request.get("AffectedSOPInstanceUID", ""),
    }
    assoc.send_message(message.context_id, response)
    return status


class StorageSCP:
    """Listens on ``local.move_port`` from :meth:`start` until :meth:`shutdown`, writing what arrives with `writer`.

    At most `max_associations` at once (more are rejected as transient,
    local limit exceeded); each waits `timeouts.acse` s for the request and
    is aborted after `timeouts.dimse` s without a message (inactivity), or
    at :meth:`shutdown` (the cancel of every association it holds).
    """

    MAX_PDU = 256 * 1024

    def __init__(
        self,
        local: LocalAE,
        writer: InstanceWriter,
        timeouts: Timeouts | None = None,
        sop_classes: list[str] | None = None,
        log: Callable[[str], None] | None = None,
        max_associations: int = 4,
    ):
        from pynetdicom import AllStoragePresentationContexts

        self.local, self.writer, self.timeouts = local, writer, timeouts or Timeouts()
        self.log = log or (lambda text: None)
        self.max_associations = max_associations
        self.abstract_syntaxes = {str(context.abstract_syntax) for context in AllStoragePresentationContexts}
        self.abstract_syntaxes.update(uid for uid in sop_classes or [] if valid_uid(uid))
        self.transfer_syntaxes = TRANSFER_SYNTAXES
        self._listener: socket.socket | None = None
        self._stopping = CancelToken()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._associations: set[Association] = set()

    def start(self) -> StorageSCP:
        """Open the port (ViewerError when it cannot be) and accept associations in the background."""
        try:
            listener = socket.create_server(("", self.local.move_port), reuse_port=False)
        except OSError as exc:
            raise ViewerError(f"cannot listen on port {self.local.move_port} for C-MOVE ({exc.strerror or exc})") from None
        listener.settimeout(0.1)  # the accept loop looks at the stop flag this often
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, name="viewer-storage-scp", daemon=True)
        self._threads.append(thread)
        thread.start()
        return self

    def shutdown(self) -> None:
        """Stop listening, abort associations still open, and wait for their threads."""
        self._stopping.cancel()
        # The accept loop first: once it has ended, no association thread can be added behind this list's back.
        if self._threads:
            self._threads[0].join(5)
        for thread in list(self._threads[1:]):
            thread.join(5)
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    # -- negotiation

    def choose(self, abstract_syntax: str, transfer_syntaxes: list[str]) -> str | None:
        """The transfer syntax to accept a proposed context with: the requestor's first that the viewer reads."""
        if abstract_syntax == VERIFICATION:
            return next((uid for uid in transfer_syntaxes if uid in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)), None)
        if abstract_syntax not in self.abstract_syntaxes:
            return None
        return next((uid for uid in transfer_syntaxes if uid in self.transfer_syntaxes), None)

    # -- threads

    def _accept_loop(self) -> None:
        # Associations still open at shutdown end themselves within a poll (their on_idle sees the stop flag).
        listener = self._listener
        while not self._stopping.cancelled:
            try:
                connection, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._threads[1:] = [t for t in self._threads[1:] if t.is_alive()]  # [0] is this loop's own thread
            thread = threading.Thread(target=self._serve, args=(connection, peer), name="viewer-storage-association", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, connection: socket.socket, peer: tuple) -> None:
        assoc = Association(
            f"{peer[0]}:{peer[1]}",
            self.local.ae_title,
            "",
            self.log,
            cancel=self._stopping,
            inactivity=self.timeouts.dimse,
            silence="{address} sent nothing for {timeout} s",
        )
        with self._lock:
            busy = len(self._associations) >= self.max_associations
            self._associations.add(assoc)
        try:
            if not assoc.answer(connection, self.choose, self.MAX_PDU, self.timeouts.acse, busy=busy):
                return
            while True:
                message = assoc.receive(lambda message: store_sink(assoc, message, self.writer))
                kind = message.command.get("CommandField")
                if kind == C_STORE_RQ:
                    answer_store(assoc, message, self.writer)
                elif kind == C_ECHO_RQ:
                    answer_echo(assoc, message)
                else:  # only storage and verification contexts were accepted: nothing else may come
                    raise assoc.protocol_error(f"a {message.command.get('CommandField')} request on a storage association")
        except PeerGone as exc:
            if not exc.released and not isinstance(exc, GaveUp):  # GaveUp: the association logged why already
                self.log(str(exc))
        except OSError as exc:
            self.log(f"{assoc.address}: {exc}")
        finally:
            if assoc.established:
                assoc.abort()
            assoc.close()
            with self._lock:
                self._associations.discard(assoc)


def start_storage_scp(
    local: LocalAE,
    writer: InstanceWriter,
    timeouts: Timeouts | None = None,
    sop_classes: list[str] | None = None,
    log: AssociationLog | None = None,
) -> StorageSCP:
    """The Storage SCP that receives a C-MOVE: listens on ``local.move_port`` until ``.shutdown()``; the
    study's own `sop_classes` are accepted besides every standard storage class. Raises ViewerError when
    the port cannot be opened."""
    return StorageSCP(local, writer, timeouts, sop_classes, log.add if log is not None else None).start()
