"""C-GET and C-MOVE (PS3.4 C.4.2, C.4.3): a study or a series into the cache, on our association.

:func:`retrieve` asks the node's way first (C-GET or C-MOVE) and the other
when it is refused. Both send one request and follow its responses
(sub-operations remaining, completed, failed); C-GET receives the instances
on the same association, as C-STORE sub-operations answered in this thread,
C-MOVE on the Storage SCP (:mod:`~viewer.core.net.storage_scp`) it starts
for the while. Instances are written as their fragments arrive
(:class:`~viewer.core.net.storage.InstanceWriter`), only inside the cache.
A cancel sends C-CANCEL (PS3.4 C.4.2.2.2) and keeps what arrived.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.media.cache import COMPLETE_MARKER, series_folder, valid_uid
from viewer.core.net.association import Association, AssociationLog, CancelIgnored, open_association
from viewer.core.net.dimse import (
    C_GET_RQ,
    C_MOVE_RQ,
    C_STORE_RQ,
    CANCELLED,
    DATASET_FOLLOWS,
    MEDIUM,
    PENDING,
    SUB_OPERATIONS_WARNING,
    SUCCESS,
    Message,
    encode_identifier,
    read_identifier,
    status_text,
    uid_list,
)
from viewer.core.net.find import lookup_study
from viewer.core.net.nodes import LocalAE, Node
from viewer.core.net.pdu import Proposal
from viewer.core.net.storage import TRANSFER_SYNTAXES, UNCOMPRESSED_SYNTAXES, InstanceWriter
from viewer.core.net.storage_scp import answer_store, start_storage_scp, store_sink
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count


@dataclass
class RetrieveProgress:
    """From the pending responses (PS3.4 C.4.2.1.5) and what has been written."""

    remaining: int | None = None
    completed: int = 0
    failed: int = 0
    warning: int = 0
    received: int = 0
    done: bool = False


@dataclass
class RetrieveResult:
    files: list[Path]
    progress: RetrieveProgress
    failed_instances: list[str] = field(default_factory=list)
    method: str = "get"
    cached: bool = False
    message: str = ""


@dataclass
class RetrieveRequest:
    """What one C-GET or C-MOVE asks for, and what the proposal needs to know."""

    study_uid: str
    series_uid: str | None = None
    #: (0010,0020): a unique key above the STUDY level in the Patient Root model (PS3.4 C.4.2.2.1); None for Study Root
    patient_id: str | None = None
    sop_classes: list[str] = field(default_factory=list)

    def identifier(self) -> Dataset:
        ds = Dataset()
        ds.QueryRetrieveLevel = "SERIES" if self.series_uid else "STUDY"
        if self.patient_id is not None:
            ds.PatientID = self.patient_id
        ds.StudyInstanceUID = self.study_uid
        if self.series_uid:
            ds.SeriesInstanceUID = self.series_uid
        return ds

    @property
    def what(self) -> str:
        return "series" if self.series_uid else "study"


class _Refused(Exception):
    """The node will not do this kind of retrieve (try the other)."""


#: SOP classes proposed for C-GET storage when the study does not list its own.
_COMMON_STORAGE = (
    "1.2.840.10008.5.1.4.1.1.2",
    "1.2.840.10008.5.1.4.1.1.2.1",
    "1.2.840.10008.5.1.4.1.1.4",
    "1.2.840.10008.5.1.4.1.1.4.1",
    "1.2.840.10008.5.1.4.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.1",
    "1.2.840.10008.5.1.4.1.1.1.2",
    "1.2.840.10008.5.1.4.1.1.6.1",
    "1.2.840.10008.5.1.4.1.1.3.1",
    "1.2.840.10008.5.1.4.1.1.7",
    "1.2.840.10008.5.1.4.1.1.12.1",
    "1.2.840.10008.5.1.4.1.1.20",
    "1.2.840.10008.5.1.4.1.1.128",
    "1.2.840.10008.5.1.4.1.1.481.1",
    "1.2.840.10008.5.1.4.1.1.88.11",
    "1.2.840.10008.5.1.4.1.1.88.22",
    "1.2.840.10008.5.1.4.1.1.11.1",
    "1.2.840.10008.5.1.4.1.1.66.4",
)


#: Presentation contexts a C-GET may propose for storage: DICOM allows 128 (PS3.8 9.3.2.2), one is the query/retrieve model's.
_STORAGE_CONTEXTS = 127


def storage_contexts(sop_classes: list[str] | None) -> list[tuple[str, list[str]]]:
    """(SOP class, [transfer syntaxes]) contexts to receive C-GET's C-STORE sub-operations on, at most 127.

    The acceptor takes one transfer syntax per context, and a PACS sends an
    instance only in an accepted one (Orthanc fails the whole C-GET when it
    cannot transcode, JPEG 2000 to Explicit VR for one). So each of the
    study's own (0008,0062) *SOP Classes in Study* gets one context for the
    uncompressed syntaxes and one for every other syntax the viewer reads,
    and the instance arrives as it is stored. Common image classes, then
    pynetdicom's whole storage list, fill what is left with one context
    each listing every syntax.
    """
    from pynetdicom import StoragePresentationContexts

    contexts: list[tuple[str, list[str]]] = []
    own = list(dict.fromkeys(uid for uid in sop_classes or [] if uid))[:_STORAGE_CONTEXTS]
    one_each = 1 + len(TRANSFER_SYNTAXES) - len(UNCOMPRESSED_SYNTAXES)
    for position, uid in enumerate(own):
        # Each class after this one still needs at least its one context.
        if len(contexts) + one_each <= _STORAGE_CONTEXTS - (len(own) - position - 1):
            contexts.append((uid, list(UNCOMPRESSED_SYNTAXES)))
            contexts += [(uid, [syntax]) for syntax in TRANSFER_SYNTAXES if syntax not in UNCOMPRESSED_SYNTAXES]
        else:  # too many classes for a context each: whatever the acceptor picks
            contexts.append((uid, list(TRANSFER_SYNTAXES)))
    others = [*_COMMON_STORAGE, *(str(c.abstract_syntax) for c in StoragePresentationContexts)]
    for uid in dict.fromkeys(others):
        if len(contexts) >= _STORAGE_CONTEXTS:
            break
        if uid not in own:
            contexts.append((uid, list(TRANSFER_SYNTAXES)))
    return contexts


def retrieve(
    node: Node,
    local: LocalAE,
    cache: Path,
    study_uid: str,
    series_uid: str | None = None,
    progress: Callable[[RetrieveProgress], None] | None = None,
    cancel: CancelToken | None = None,
    log: AssociationLog | None = None,
    method: str | None = None,
    force: bool = False,
    sop_classes: list[str] | None = None,
    patient_id: str | None = None,
) -> RetrieveResult:
    """Fetch a study or a series into `cache` by C-GET or C-MOVE (node's choice by default).

    Falls back to the other method when the node refuses the first. A
    series already complete in the cache is not fetched again unless
    `force`. `sop_classes` (the study's (0008,0062)) and `patient_id` (which
    a Patient Root node needs, PS3.4 C.4.2.2.1) come from a search; when
    not given they are asked for first. Raises ViewerError when nothing
    could be retrieved.
    """
    if not valid_uid(study_uid) or (series_uid and not valid_uid(series_uid)):
        raise ViewerError("retrieve needs valid Study (and Series) Instance UIDs")
    cache = Path(cache)
    if series_uid and not force:
        folder = series_folder(cache, study_uid, series_uid)
        if (folder / COMPLETE_MARKER).exists():
            files = sorted(folder.glob("*.dcm"))
            return RetrieveResult(
                files, RetrieveProgress(completed=len(files), received=len(files), done=True), cached=True, message="already in the cache"
            )
    if sop_classes is None or (node.query_model == "patient" and not patient_id):
        study = lookup_study(node, local, study_uid, log, cancel)
        if cancel is not None and cancel.cancelled:
            return RetrieveResult([], RetrieveProgress(done=True), method=method or node.retrieve, message="cancelled")
        if sop_classes is None:
            sop_classes = uid_values(study.get("SOPClassesInStudy")) if study is not None else []
        if not patient_id and study is not None:
            patient_id = str(study.get("PatientID") or "")
    request = RetrieveRequest(study_uid, series_uid, patient_id if node.query_model == "patient" else None, sop_classes)
    first = method or node.retrieve
    order = [first, "move" if first == "get" else "get"]
    errors = []
    for attempt in order:
        try:
            result = (_get if attempt == "get" else _move)(node, local, cache, request, progress, cancel, log)
        except _Refused as refused:
            errors.append(str(refused))
            if log is not None:
                log.add(f"{attempt.upper()} refused: {refused}; trying the other method")
            continue
        except ViewerError as exc:
            if not errors:
                raise
            # Say why the method the user chose was not used, or the error reads as if they chose this one.
            raise ViewerError(f"{exc} (C-{attempt.upper()} was tried because C-{first.upper()} was refused: {'; '.join(errors)})") from None
        report = result.progress
        if not (result.files or report.completed or report.failed or report.warning or (cancel and cancel.cancelled)):
            # Success without sub-operations: the node matched nothing (for Patient Root, often a Patient ID it does not hold).
            keys = f" (Patient ID '{request.patient_id}')" if request.patient_id is not None else ""
            raise ViewerError(f"{node.address} has no instances of that {request.what}{keys}: nothing was sent")
        # Complete only when nothing failed on either side: a series missing instances is fetched again.
        whole = not result.failed_instances and not report.failed and not (cancel and cancel.cancelled)
        if whole and series_uid and result.files:
            (series_folder(cache, study_uid, series_uid) / COMPLETE_MARKER).touch()
        elif whole and not series_uid:
            for series_dir in {f.parent for f in result.files}:
                (series_dir / COMPLETE_MARKER).touch()
        return result
    raise ViewerError(f"{node.address} refused to send: " + "; ".join(errors))


def _get(node, local, cache, request: RetrieveRequest, progress_cb, cancel, log) -> RetrieveResult:
    """C-GET: the C-STORE sub-operations come on the same association, each answered as its instance is written."""
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelGet, StudyRootQueryRetrieveInformationModelGet

    model = str(StudyRootQueryRetrieveInformationModelGet if node.query_model == "study" else PatientRootQueryRetrieveInformationModelGet)
    storage = storage_contexts(request.sop_classes)
    proposal = Proposal.service(model)
    proposal.contexts += storage
    proposal.scp_roles = list(dict.fromkeys(uid for uid, _ in storage))
    writer = InstanceWriter(cache, {(request.study_uid, request.series_uid)})
    try:
        return _retrieve(
            node, local, proposal, {"AffectedSOPClassUID": model, "CommandField": C_GET_RQ}, request, writer, progress_cb, cancel, log
        )
    finally:
        writer.remove_partials()


def _move(node, local, cache, request: RetrieveRequest, progress_cb, cancel, log) -> RetrieveResult:
    """C-MOVE to this program's AE title: the instances come to the Storage SCP started for the while on ``local.move_port``."""
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelMove

    model = str(StudyRootQueryRetrieveInformationModelMove if node.query_model == "study" else PatientRootQueryRetrieveInformationModelMove)
    writer = InstanceWriter(cache, {(request.study_uid, request.series_uid)})
    server = start_storage_scp(local, writer, node.timeouts, request.sop_classes, log)
    try:
        proposal = Proposal.service(model)
        command = {"AffectedSOPClassUID": model, "CommandField": C_MOVE_RQ, "MoveDestination": local.ae_title}
        return _retrieve(node, local, proposal, command, request, writer, progress_cb, cancel, log)
    finally:
        server.shutdown()
        writer.remove_partials()


def _retrieve(node, local, proposal: Proposal, command: dict, request: RetrieveRequest, writer, progress_cb, cancel, log) -> RetrieveResult:
    """One C-GET or C-MOVE (`command` says which) on a new association, followed to its final response.

    Inactivity counts the Storage SCP's writing too: a C-MOVE's responses
    may be far apart while the instances arrive on the other association.
    """
    get = command["CommandField"] == C_GET_RQ
    assoc = open_association(node, local, proposal, log, cancel, silence="{address} stopped sending for {timeout} s: transfer abandoned")
    assoc.other_activity = lambda: writer.last_activity
    try:
        model = command["AffectedSOPClassUID"]
        context_id = assoc.context_for(model)
        if context_id is None:
            raise _Refused(f"C-{'GET' if get else 'MOVE'} is not supported")
        syntax = assoc.accepted[context_id][1]
        command = {**command, "MessageID": 1, "Priority": MEDIUM, "CommandDataSetType": DATASET_FOLLOWS}
        responses = assoc.ask(
            context_id,
            command,
            encode_identifier(request.identifier(), syntax),
            sink_for=(lambda message: store_sink(assoc, message, writer)) if get else None,
            serve=(lambda message: _store(assoc, message, writer)) if get else None,
        )
        report, failed_uids = _follow(_commands(assoc, responses), writer, progress_cb, node)
        assoc.release()
    except BaseException:
        assoc.end()
        raise
    return RetrieveResult(sorted(writer.written), report, _failed_instances(writer, failed_uids, report, node), "get" if get else "move")


def _store(assoc: Association, message: Message, writer: InstanceWriter) -> None:
    """A C-GET's C-STORE sub-operation: answered once written, the next instance's file made while the peer reads that.

    Any other request from the peer is dropped, unanswered (it proposed no context for one).
    """
    if message.command.get("CommandField") != C_STORE_RQ:
        assoc.recycle(message.buffers)
        return
    answer_store(assoc, message, writer)
    writer.prepare()


def _commands(assoc: Association, responses: Iterator[Message]) -> Iterator[dict]:
    """The responses' command sets, with the (0008,0058) *Failed SOP Instance UID List* of an identifier if one came."""
    for message in responses:
        command = message.command
        if message.dataset:
            try:
                identifier = read_identifier(message.dataset, assoc.accepted[message.context_id][1])
                if "FailedSOPInstanceUIDList" in identifier:
                    command = {**command, "FailedSOPInstanceUIDList": identifier.FailedSOPInstanceUIDList}
            except Exception:  # the list only names failures the counts already give
                pass
        assoc.recycle(message.buffers)
        yield command


_COUNTS = (
    ("remaining", "NumberOfRemainingSuboperations"),
    ("completed", "NumberOfCompletedSuboperations"),
    ("failed", "NumberOfFailedSuboperations"),
    ("warning", "NumberOfWarningSuboperations"),
)


def _follow(responses: Iterator[dict], writer: InstanceWriter, progress_cb, node: Node) -> tuple[RetrieveProgress, list[str]]:
    """Follow the C-GET or C-MOVE responses (command sets as {keyword: value}) to the final one.

    Pending responses give the progress (PS3.4 C.4.2.1.5). A cancelled peer
    that did not stop within the grace was aborted: what arrived is kept.
    Raises ViewerError when the transfer broke or ended in a failure (_Refused
    when nothing came and the other method may do). Returns the progress and
    the final response's (0008,0058) *Failed SOP Instance UID List* (PS3.4
    C.4.2.1.4.2, C.4.3.1.3.1).
    """
    report = RetrieveProgress()
    failed_uids: list[str] = []
    try:
        for status in responses:
            code = int(status["Status"])
            for attr, name in _COUNTS:
                if name in status:
                    setattr(report, attr, int(status[name]))
            if code in (SUCCESS, SUB_OPERATIONS_WARNING) and "NumberOfRemainingSuboperations" not in status:
                report.remaining = 0  # a final response leaves it out (PS3.4 C.4.3.1.3.1): none are left
            failed_uids = uid_values(status.get("FailedSOPInstanceUIDList")) or failed_uids
            report.received = len(writer.written)
            if progress_cb:
                progress_cb(RetrieveProgress(**vars(report)))
            if code in PENDING or code in (SUCCESS, SUB_OPERATIONS_WARNING, CANCELLED):
                continue
            unsent = f"; {count(len(failed_uids), 'instance')} could not be sent, {_listed(failed_uids)}" if failed_uids else ""
            if code in (0x0122, 0xA900, 0xC000) and not writer.written:
                raise _Refused(status_text(code) + unsent)
            raise ViewerError(f"{node.address} answered with {status_text(code)}{unsent}")
    except CancelIgnored:
        pass  # cancelled, and the peer did not stop: aborted, what arrived is kept
    report.received = len(writer.written)
    report.done = True
    return report, failed_uids


def uid_values(value) -> list[str]:
    """The valid UIDs of a UI value with multiplicity: pydicom's str (one) or MultiValue (more), or the
    list decode_command made."""
    if not value:
        return []
    values = uid_list(value) if isinstance(value, (str, bytes)) else list(value)
    return [uid for uid in map(valid_uid, values) if uid]


def _listed(uids: list[str], shown: int = 3) -> str:
    return ", ".join(uids[:shown]) + (f" and {len(uids) - shown} more" if len(uids) > shown else "")


def _failed_instances(writer: InstanceWriter, failed_uids: list[str], report: RetrieveProgress, node: Node) -> list[str]:
    """One line per instance that did not arrive: refused by us (with why), or failed on the node."""
    lines = list(writer.refused)
    ours = " ".join(writer.refused)
    lines += [f"{uid}: {node.address} could not send it (sub-operation failed)" for uid in failed_uids if uid not in ours]
    if report.failed and not failed_uids and not writer.refused:
        lines.append(f"{count(report.failed, 'instance')} could not be sent by {node.address} (it did not say which)")
    return lines
