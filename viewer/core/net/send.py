"""C-STORE SCU (PS3.4 B.2, PS3.7 9.1.1): send instances to a node, each one's fate reported.

:func:`send` opens one association for the whole run (a new one when the
peer drops it: the instance in flight is sent again, and the loss counted),
proposes for each SOP class a context in each stored transfer syntax and one
in Explicit/Implicit VR Little Endian (PS3.8 9.3.2.2), and sends each file:

* in its stored syntax when the node accepted it, the file's own bytes
  (:mod:`~viewer.core.net.outgoing`: no decode, no re-encode);
* else decompressed, or re-encoded, to the little-endian syntax the node
  accepted, when that is lossless;
* else not at all: refused, with the reason (the node refused the SOP class,
  or only a lossy instance's decompression would do).

Each instance ends :data:`STORED`, :data:`WARNING` (stored, with the status),
:data:`FAILED` (the status code and its meaning, or why it could not be read
or sent), :data:`REFUSED` or :data:`NOT_SENT` (cancelled, or the connection
lost and not regained). A cancel lets the C-STORE in flight finish for
:data:`~viewer.core.net.association.CANCEL_GRACE` seconds (C-STORE has no
C-CANCEL, PS3.7 9.3.1), then aborts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.net.association import CANCEL_GRACE, Association, AssociationLog, Stopped
from viewer.core.net.connection import PeerGone
from viewer.core.net.dimse import C_STORE_RQ, C_STORE_RSP, DATASET_FOLLOWS, MEDIUM, SUCCESS, Message
from viewer.core.net.fates import (
    FAILED,
    NOT_SENT,
    REFUSED,
    STORED,
    WARNING,
    InstanceFate,
    SendProgress,
    SendResult,
    store_status_text,
)
from viewer.core.net.nodes import LocalAE, Node
from viewer.core.net.outgoing import LITTLE_ENDIAN, Outgoing, StoredDataset, payload, survey, uid_name
from viewer.core.net.pdu import P_DATA_TF, PDU_HEADER, PDV_HEADER, Proposal, numbered
from viewer.core.net.tls import client_context
from viewer.core.runtime.tasks import CancelToken

# The fates are named where send is: callers import them from here.
__all__ = [
    "FAILED",
    "NOT_SENT",
    "REFUSED",
    "STORED",
    "WARNING",
    "InstanceFate",
    "Refusal",
    "SendProgress",
    "SendResult",
    "send",
    "store_status_text",
]

#: The most contexts one association may propose (PS3.8 9.3.2.2: IDs 1 to 255, odd).
MAX_CONTEXTS = 128
#: Times the same instance may be in flight when the association breaks before it counts as failed.
TRIES_PER_INSTANCE = 2


def proposal_for(items: Sequence[Outgoing]) -> list[tuple[str, list[str]]]:
    """Per SOP class: a context for each stored syntax other than little endian, then one for Explicit and Implicit VR LE."""
    contexts: list[tuple[str, list[str]]] = []
    for sop_class in dict.fromkeys(item.sop_class_uid for item in items):
        stored = dict.fromkeys(item.transfer_syntax for item in items if item.sop_class_uid == sop_class)
        contexts += [(sop_class, [syntax]) for syntax in stored if syntax not in LITTLE_ENDIAN]
        contexts.append((sop_class, list(LITTLE_ENDIAN)))
    return contexts


def _groups(items: list[tuple[int, Outgoing]]) -> list[list[tuple[int, Outgoing]]]:
    """Instances in runs whose contexts fit one association (at most 128), SOP class by SOP class."""
    by_class: dict[str, list[tuple[int, Outgoing]]] = {}
    for entry in items:
        by_class.setdefault(entry[1].sop_class_uid, []).append(entry)
    groups: list[list[tuple[int, Outgoing]]] = [[]]
    used = 0
    for entries in by_class.values():
        needed = len(proposal_for([o for _, o in entries]))
        if used and used + needed > MAX_CONTEXTS:
            groups.append([])
            used = 0
        groups[-1] += entries
        used += needed
    return [g for g in groups if g]


def choose_context(assoc: Association, item: Outgoing) -> tuple[int, str]:
    """(context ID, transfer syntax) to send `item` on; raises :class:`Refusal` saying why there is none.

    Its stored syntax first (its own bytes; a prepared copy keeps its
    compression), else the accepted little-endian one, when the stored data
    may be decompressed or re-encoded without loss (PS3.5 8.2, 10).
    """
    own = little = None
    for context_id, (abstract, syntax) in assoc.accepted.items():
        if abstract != item.sop_class_uid:
            continue
        if syntax == item.transfer_syntax:
            own = own or (context_id, syntax)
        elif syntax in LITTLE_ENDIAN:
            little = little or (context_id, syntax)
    if own is not None:
        return own
    if little is None:
        raise Refusal(f"{assoc.called_ae} does not accept {uid_name(item.sop_class_uid)} (presentation context refused)")
    if not item.decompresses_losslessly():
        raise Refusal(
            f"stored as {item.syntax_name} (lossy), which {assoc.called_ae} does not accept; "
            "a decompressed copy of a lossy image is not sent (it would pass for the original)"
        )
    return little


class Refusal(ViewerError):
    """The instance cannot go to this node: no accepted context it may be sent in."""


def chained(*steps: Callable[[Dataset], Dataset] | None) -> Callable[[Dataset], Dataset] | None:
    """One ``prepare`` hook for :func:`send` doing `steps` in order (None steps left out; None if none is left):
    e.g. de-identify a copy, then reconcile it to the receiving site's patient."""
    done = [step for step in steps if step is not None]
    if not done:
        return None

    def prepare(ds: Dataset) -> Dataset:
        for step in done:
            ds = step(ds)
        return ds

    return prepare


def send(
    node: Node,
    local: LocalAE,
    files: Sequence[str | Path],
    *,
    prepare: Callable[[Dataset], Dataset] | None = None,
    progress: Callable[[SendProgress], None] | None = None,
    cancel: CancelToken | None = None,
    log: AssociationLog | None = None,
) -> SendResult:
    """C-STORE every file to `node`; never raises for what happens to an instance or the association.

    `prepare` gets a copy of each dataset and returns what to send (patient
    reconciliation, de-identification); the files are only read.
    """
    started = time.monotonic()
    cancel = cancel or CancelToken()
    result = SendResult([InstanceFate(str(path)) for path in files])
    readable: list[tuple[int, Outgoing]] = []
    done = 0

    def finish(index: int, fate: str, reason: str = "", status: int | None = None) -> None:
        nonlocal done
        entry = result.fates[index]
        entry.fate, entry.reason, entry.status = fate, reason, status
        done += 1
        if log is not None and fate != STORED:  # the log says what became of each instance that was not simply stored
            log.add(f"{fate}: {Path(entry.path).name} ({entry.sop_instance_uid or 'no UID'}): {reason}")
        if progress is not None:
            progress(SendProgress(done, len(result.fates), entry))

    for index, path in enumerate(files):
        if cancel.cancelled:
            finish(index, NOT_SENT, "cancelled before it was sent")
            continue
        try:
            item = survey(path)
        except ViewerError as exc:
            finish(index, FAILED, _reason(exc))
            continue
        entry = result.fates[index]
        entry.sop_instance_uid, entry.sop_class_uid, entry.stored_syntax = item.sop_instance_uid, item.sop_class_uid, item.transfer_syntax
        readable.append((index, item))
    for group in _groups(readable):
        _send_group(node, local, group, prepare, cancel, log, result, finish)
    result.cancelled = cancel.cancelled
    result.seconds = time.monotonic() - started
    if log is not None:
        log.add(f"send to {node.address}: {result.summary()}")
    return result


def _send_group(node, local, group, prepare, cancel: CancelToken, log, result: SendResult, finish) -> None:
    """Send one run of instances on one association (again after a break), each instance's fate recorded."""
    queue = deque(group)
    tries: dict[int, int] = {}
    proposal = Proposal(proposal_for([item for _, item in group]))
    assoc: Association | None = None
    message_id = 0
    try:
        while queue:
            if cancel.cancelled:
                for index, _ in queue:
                    finish(index, NOT_SENT, "cancelled before it was sent")
                return
            if assoc is None:
                try:
                    assoc = _associate(node, local, proposal, log, cancel)
                except ViewerError as exc:
                    lost = result.associations_lost > 0
                    why = f"the association was lost and could not be opened again ({exc})" if lost else str(exc)
                    if cancel.cancelled:
                        why = "cancelled before it was sent"
                    for index, _ in queue:
                        uncertain = "; it was being sent when the association broke: the node may or may not have it"
                        finish(index, NOT_SENT, why + (uncertain if tries.get(index) and not cancel.cancelled else ""))
                    return
            index, item = queue[0]
            try:
                context_id, syntax = choose_context(assoc, item)
                data, sop_class, sop_instance, transcoded = payload(item, syntax, prepare)
            except ViewerError as exc:
                queue.popleft()
                finish(index, REFUSED if isinstance(exc, Refusal) else FAILED, _reason(exc))
                continue
            except Exception as exc:  # a caller's prepare hook failed on this dataset: the others still go
                queue.popleft()
                finish(index, FAILED, f"could not be prepared for sending ({type(exc).__name__}: {exc})")
                continue
            entry = result.fates[index]
            entry.sent_syntax, entry.transcoded = syntax, transcoded
            entry.sop_instance_uid, entry.sop_class_uid = sop_instance, sop_class
            message_id = message_id % 0xFFFF + 1  # (0000,0110) is US: 1 to 65535
            command = {
                "AffectedSOPClassUID": sop_class,
                "CommandField": C_STORE_RQ,
                "MessageID": message_id,
                "Priority": MEDIUM,
                "CommandDataSetType": DATASET_FOLLOWS,
                "AffectedSOPInstanceUID": sop_instance,
            }
            try:
                response = _store(assoc, context_id, command, data)
            except PeerGone as exc:
                assoc = None
                if cancel.cancelled:
                    queue.popleft()
                    finish(index, NOT_SENT, f"cancelled while it was being sent ({exc}); the node may or may not have stored it")
                    continue
                result.associations_lost += 1
                tries[index] = tries.get(index, 0) + 1
                if log is not None:
                    log.add(f"association lost while sending {sop_instance}: {exc}; opening a new one")
                if tries[index] >= TRIES_PER_INSTANCE:
                    queue.popleft()
                    finish(index, FAILED, f"the association broke each time it was sent ({exc})")
                continue  # the same instance again, on a new association
            except ViewerError as exc:  # the file failed while being streamed: that association was aborted
                assoc = None
                queue.popleft()
                finish(index, FAILED, _reason(exc))
                continue
            queue.popleft()
            status = response.command.get("Status")
            assoc.recycle(response.buffers)
            comment = response.command.get("ErrorComment")
            suffix = f" ({comment})" if comment else ""
            if status == SUCCESS:
                finish(index, STORED, "", status)
            elif isinstance(status, int) and (status & 0xF000 == 0xB000 or status == 0x0001):
                finish(index, WARNING, store_status_text(status) + suffix, status)
            else:
                code = status if isinstance(status, int) else None
                finish(index, FAILED, (store_status_text(code) if code is not None else "no status in the response") + suffix, code)
    finally:
        if assoc is not None:
            if cancel.cancelled:
                assoc.abort()
            else:
                assoc.release()


#: Bytes read from a file at a time when its dataset is streamed (a whole number of PDUs).
_STREAM_READ = 1024 * 1024


def _store(assoc: Association, context_id: int, command: dict, data: bytes | StoredDataset) -> Message:
    """One C-STORE request and its response; a large dataset is read from its file as it goes (PS3.8 9.3.5: P-DATA-TF PDUs)."""
    if not isinstance(data, StoredDataset):
        (response,) = assoc.ask(context_id, command, data)
        return response
    assoc.send_message(context_id, command)  # the command set alone: (0000,0800) says a dataset follows
    room = assoc.peer_max_pdu - 6 if assoc.peer_max_pdu else _STREAM_READ  # a PDV item's header is 6 bytes
    per_read = max(1, _STREAM_READ // room) * room
    remaining = data.size
    try:
        with open(data.path, "rb") as f:
            f.seek(data.offset)
            while remaining > 0:
                chunk = memoryview(f.read(min(per_read, remaining)))
                if not chunk:
                    raise OSError("the file got shorter while it was being sent")
                remaining -= len(chunk)
                pdus = []
                for start in range(0, len(chunk), room):
                    piece = chunk[start : start + room]
                    last = 0x02 if remaining == 0 and start + room >= len(chunk) else 0x00
                    pdv = PDV_HEADER.pack(len(piece) + 2, context_id, last) + piece
                    pdus.append(PDU_HEADER.pack(P_DATA_TF, len(pdv)) + pdv)
                assoc.send_raw(b"".join(pdus))
    except OSError as exc:  # half a dataset is on its way: only an abort ends it (PS3.8 7.3)
        assoc.abort()
        raise ViewerError(f"cannot be read while being sent ({exc.strerror or exc})", data.path) from None
    while True:
        message = assoc.receive()
        if message.command.get("CommandField") == C_STORE_RSP and message.command.get("MessageIDBeingRespondedTo") == command["MessageID"]:
            return message
        assoc.recycle(message.buffers)


def _associate(node: Node, local: LocalAE, proposal: Proposal, log, cancel: CancelToken) -> Association:
    """An association for sending (as :func:`~viewer.core.net.association.open_association` opens one), watching `cancel`.

    A cancel while negotiating stops at once; during a C-STORE it waits
    :data:`CANCEL_GRACE` s for the response (C-STORE has no C-CANCEL), then aborts.
    """
    assoc = Association(
        node.address,
        node.ae_title,
        local.ae_title,
        log.add if log is not None else None,
        inactivity=node.timeouts.dimse,
        silence="{address} did not answer a C-STORE for {timeout} s",
    )
    cancelled_at: list[float] = []

    def watch() -> None:
        if not cancel.cancelled:
            return
        cancelled_at[:1] = cancelled_at[:1] or [time.monotonic()]
        if not assoc.established or time.monotonic() - cancelled_at[0] > CANCEL_GRACE:
            assoc.log(f"{assoc.address}: stopped by the cancel" + (" (the C-STORE still unanswered)" if assoc.established else ""))
            assoc.abort()
            raise Stopped(f"{assoc.address}: stopped before the node answered")

    assoc.on_idle = watch
    assoc.request(node.host, node.port, proposal, node.timeouts.connect, node.timeouts.acse, client_context(node))
    for context_id, (abstract, syntaxes) in numbered(proposal.contexts):
        if context_id not in assoc.accepted:  # PS3.8 9.3.3.2: the acceptor refused this context
            assoc.log(f"context {context_id} refused: {uid_name(abstract)} in {' or '.join(map(uid_name, syntaxes))}")
    return assoc


def _reason(exc: ViewerError) -> str:
    """The error's line without the file's name (the table shows the file beside it)."""
    return getattr(exc, "reason", None) or str(exc)
