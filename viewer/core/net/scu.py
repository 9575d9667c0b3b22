"""C-ECHO, C-FIND, C-GET and C-MOVE against a remote node.

C-ECHO and the C-MOVE request go through pynetdicom, like its own apps: one
AE and one association per task, explicit timeouts, handlers passed with
``evt_handlers``. C-FIND and C-GET run on the association of
:mod:`~viewer.core.net.upper_layer`, in the calling thread, and the C-MOVE
Storage SCP (:mod:`~viewer.core.net.storage_scp`) on the same upper layer,
because their rate is set by the cost of each message (pynetdicom hands
every one between threads that poll). Every socket gets
TCP_NODELAY (on loopback, without it each message waits for a delayed ACK).
Failures end in a :class:`~viewer.core.dicom.io.ViewerError` with a plain
sentence: refused and why, no answer, a failure status and what it means.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.media.cache import COMPLETE_MARKER, series_folder, valid_uid
from viewer.core.net.nodes import LocalAE, Node, Timeouts
from viewer.core.net.storage import TRANSFER_SYNTAXES, UNCOMPRESSED_SYNTAXES, InstanceWriter
from viewer.core.net.upper_layer import Unreachable, uid_list
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count

MAX_PDU = 256 * 1024

#: Return keys asked for at each level (empty values = "send me this").
STUDY_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "StudyInstanceUID",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "SOPClassesInStudy",
)
SERIES_KEYS = (
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesInstanceUID",
    "StudyInstanceUID",
    "NumberOfSeriesRelatedInstances",
    "SeriesDate",
    "SeriesTime",
)
PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")


@dataclass
class AssociationLog:
    """What happened on the associations with one node, for a user to read."""

    lines: list[str] = field(default_factory=list)
    limit: int = 2000

    def add(self, text: str) -> None:
        self.lines.append(f"{time.strftime('%H:%M:%S')} {text}")
        del self.lines[: max(0, len(self.lines) - self.limit)]

    def text(self) -> str:
        return "\n".join(self.lines)


#: Seconds pynetdicom's DUL reactor sleeps when it finds nothing to do (its default is 1 ms).
#: A C-STORE sub-operation waits for it twice (our response out, the next
#: instance in): a C-GET of 500 CT instances from Orthanc took 1.94 s with
#: 1 ms, 1.63 s with 0.5 ms, the same with 0.2 ms; shorter polls only burn CPU.
REACTOR_POLL = 0.0005


def _tune_connection(event) -> None:
    """EVT_CONN_OPEN: TCP_NODELAY on the socket, and a shorter DUL poll (both sides of every association)."""
    assoc = event.assoc
    try:
        assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):
        pass
    if hasattr(assoc.dul, "_run_loop_delay"):  # a private attribute: leave it alone if pynetdicom drops it
        assoc.dul._run_loop_delay = REACTOR_POLL


def _log_handlers(log: AssociationLog | None):
    from pynetdicom import evt

    handlers = [(evt.EVT_CONN_OPEN, _tune_connection)]
    if log is None:
        return handlers

    def acse_sent(event):
        primitive = event.primitive
        name = type(primitive).__name__
        if name == "A_ASSOCIATE" and primitive.result is None:
            contexts = ", ".join(
                sorted(
                    {str(getattr(c.abstract_syntax, "name", c.abstract_syntax)) for c in primitive.presentation_context_definition_list}
                )[:8]
            )
            log.add(
                f"-> A-ASSOCIATE-RQ to {primitive.called_ae_title} ({len(primitive.presentation_context_definition_list)} contexts: {contexts}...)"
            )
        else:
            log.add(f"-> {name.replace('_', '-')}")

    def acse_recv(event):
        primitive = event.primitive
        name = type(primitive).__name__
        if name == "A_ASSOCIATE":
            if primitive.result == 0x00:
                accepted = [c for c in primitive.presentation_context_definition_results_list if c.result == 0]
                log.add(f"<- A-ASSOCIATE-AC: {len(accepted)} context(s) accepted, max PDU {primitive.maximum_length_received}")
            else:
                log.add(f"<- A-ASSOCIATE-RJ: {primitive.result_str}, {primitive.source_str}: {primitive.reason_str}")
        else:
            log.add(f"<- {name.replace('_', '-')}")

    def dimse_sent(event):
        message = event.message
        log.add(f"-> {type(message).__name__.replace('_', '-')} (message {getattr(message.command_set, 'MessageID', '')})")

    def dimse_recv(event):
        message = event.message
        status = getattr(message.command_set, "Status", None)
        text = f" status 0x{int(status):04X}" if status is not None else ""
        log.add(f"<- {type(message).__name__.replace('_', '-')}{text}")

    handlers += [
        (evt.EVT_ACSE_SENT, acse_sent),
        (evt.EVT_ACSE_RECV, acse_recv),
        (evt.EVT_DIMSE_SENT, dimse_sent),
        (evt.EVT_DIMSE_RECV, dimse_recv),
        (evt.EVT_ABORTED, lambda event: log.add("association aborted")),
        (evt.EVT_CONN_CLOSE, lambda event: log.add("connection closed")),
    ]
    return handlers


def _application_entity(local: LocalAE, timeouts: Timeouts):
    from pynetdicom import AE, _config

    # pynetdicom's standard handlers describe every PDU and message for its
    # debug log whether or not anything logs it (C-FIND of 1000 studies:
    # 0.70 -> 0.59 s without them), and it formats every C-FIND answer's
    # identifier for its log, which also decodes each of its values (about a
    # third of the C-FIND's time here). The AssociationLog is ours.
    _config.LOG_HANDLER_LEVEL = "none"
    _config.LOG_RESPONSE_IDENTIFIERS = False
    _config.LOG_REQUEST_IDENTIFIERS = False
    from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

    ae = AE(ae_title=local.ae_title)
    ae.implementation_class_uid = IMPLEMENTATION_CLASS_UID  # the peer sees this program, not pynetdicom (PS3.7 D.3.3.2)
    ae.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    ae.network_timeout = timeouts.dimse
    ae.acse_timeout = timeouts.acse
    ae.dimse_timeout = timeouts.dimse
    ae.connection_timeout = timeouts.connect
    ae.maximum_pdu_size = MAX_PDU
    return ae


def _tls(node: Node):
    """(SSL context, server host name) for a TLS node, or None; ViewerError naming a file that cannot be used."""
    if not node.tls_ca_file:
        return None
    import ssl

    files = [("CA", node.tls_ca_file), ("client certificate", node.tls_cert_file), ("client key", node.tls_key_file)]
    for what, path in files:
        if path and not Path(path).is_file():
            raise ViewerError(f"{node.address}: the TLS {what} file {path} does not exist")
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=node.tls_ca_file)
        if node.tls_cert_file:
            context.load_cert_chain(node.tls_cert_file, node.tls_key_file or None)
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        raise ViewerError(f"{node.address}: cannot use the TLS files ({getattr(exc, 'reason', None) or exc})") from None
    return context, node.host


def _tls_diagnosis(node: Node, tls) -> str | None:
    """Why a TLS association failed, found by a handshake of our own (None when TLS is not the reason).

    pynetdicom logs a TLS failure and reports the association as aborted.
    A server that wants a client certificate says so only after the
    handshake (TLS 1.3), hence the short read after it.
    """
    import ssl

    from viewer.core.net.upper_layer import tls_error_text

    context, hostname = tls
    try:
        with socket.create_connection((node.host, node.port), timeout=node.timeouts.connect or 5) as raw:
            with context.wrap_socket(raw, server_hostname=hostname) as tls_socket:
                tls_socket.settimeout(0.5)
                with contextlib.suppress(TimeoutError):  # the server waits for an association request: TLS is fine
                    tls_socket.recv(1)
                return None
    except ssl.SSLError as exc:
        return tls_error_text(exc)
    except OSError:
        return None


def _associate(ae, node: Node, log: AssociationLog | None, handlers=(), ext_neg=None):
    """An established association, or ViewerError saying why not."""
    rejection: list[str] = []

    def note_rejection(event):
        primitive = event.primitive
        if type(primitive).__name__ == "A_ASSOCIATE" and primitive.result not in (None, 0x00):
            rejection.append(f"{primitive.reason_str} ({primitive.source_str})")

    from pynetdicom import evt

    all_handlers = list(_log_handlers(log)) + [(evt.EVT_ACSE_RECV, note_rejection)] + list(handlers)
    tls = _tls(node)
    try:
        assoc = ae.associate(
            node.host,
            node.port,
            ae_title=node.ae_title,
            evt_handlers=all_handlers,
            ext_neg=ext_neg,
            max_pdu=MAX_PDU,
            **({"tls_args": tls} if tls else {}),
        )
    except (OSError, ValueError) as exc:
        raise Unreachable(f"{node.address}: cannot connect ({exc})") from None
    if assoc.is_established:
        return assoc
    if assoc.is_rejected:
        raise ViewerError(f"{node.address} refused the association: {rejection[0] if rejection else 'no reason given'}")
    diagnosis = _tls_diagnosis(node, tls) if tls else None
    if diagnosis:
        raise ViewerError(f"{node.address}: {diagnosis}")
    if assoc.is_aborted:
        raise ViewerError(f"{node.address} aborted the association")
    raise Unreachable(f"{node.address} did not answer (no DICOM listener there, or it timed out)")


def _status_text(status: int) -> str:
    from pynetdicom.status import code_to_category

    category = code_to_category(status)
    meanings = {
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
    return f"{category.lower()} 0x{status:04X}" + (f": {meanings[status]}" if status in meanings else "")


# ----------------------------------------------------------------------------- C-ECHO


def echo(node: Node, local: LocalAE, log: AssociationLog | None = None) -> float:
    """Verify the node answers; returns the round trip in seconds (raises ViewerError)."""
    from pynetdicom.sop_class import Verification

    ae = _application_entity(local, node.timeouts)
    ae.add_requested_context(Verification)
    start = time.monotonic()
    assoc = _associate(ae, node, log)
    try:
        status = assoc.send_c_echo()
    finally:
        _release(assoc)
    if not status or "Status" not in status:
        raise ViewerError(f"{node.address} did not answer the C-ECHO")
    if status.Status != 0x0000:
        raise ViewerError(f"{node.address} answered the C-ECHO with {_status_text(int(status.Status))}")
    return time.monotonic() - start


def _release(assoc) -> None:
    try:
        if assoc.is_established:
            assoc.release()
    except Exception:  # the peer may be gone already
        assoc.abort()


# ----------------------------------------------------------------------------- C-FIND


@dataclass
class FindResult:
    """Matches of a C-FIND (pydicom datasets, text still raw), and whether more exist."""

    matches: list[Dataset]
    more: bool = False
    charset: list[str] = field(default_factory=list)


def query_dataset(level: str, filters: dict[str, str], charset: str) -> Dataset:
    """The identifier of a C-FIND (PS3.4 C.4.1.1.3): filters as given, the other return keys empty.

    A filter with an empty value is a return key (universal matching); see :func:`query_element`.
    """
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    if charset:
        ds.SpecificCharacterSet = charset  # else servers answer in ASCII with '?' (PS3.4 C.4.1.1.3.2)
    keys = {"STUDY": STUDY_KEYS, "SERIES": SERIES_KEYS, "PATIENT": PATIENT_KEYS, "IMAGE": ("SOPInstanceUID", "InstanceNumber")}[
        level.upper()
    ]
    for keyword in keys:
        setattr(ds, keyword, "")
    for keyword, value in filters.items():
        element = query_element(keyword, value)
        ds[element.tag] = element
    return ds


#: VRs whose values are binary numbers: a matching value is converted, an empty one sent with length 0.
_BINARY_NUMBERS = {"US": int, "SS": int, "UL": int, "SL": int, "UV": int, "SV": int, "FL": float, "FD": float}


def query_element(keyword: str, value: str):
    """The identifier's element for `keyword` with matching value `value` ('' = return key).

    Its VR is the data dictionary's. Text is sent as typed, unchecked: a
    matching key may hold what no stored value may, wildcards ``*``/``?``
    (PS3.4 C.2.2.2.4) or a range ``20240101-20240131`` (C.2.2.2.5), and the
    peer judges it, as with dcmtk's findscu. One exception: wildcards do not
    apply to dates (C.2.2.2.4; Orthanc fails such a C-FIND with 0xC000), so a
    date typed as a year, month or day then ``*`` (``2020*``) is sent as the
    range it means (:func:`date_prefix_range`). Binary numbers are converted; a
    sequence is asked for empty (universal sequence matching, C.2.2.2.6).
    Raises ViewerError for a keyword not in the dictionary or a value its VR cannot hold.
    """
    from pydicom import config
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import DataElement
    from pydicom.sequence import Sequence

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ViewerError(f"'{keyword}' is not a DICOM keyword")
    vr = dictionary_VR(tag).split(" or ")[0]  # "US or SS": either length works for an empty key
    if vr == "SQ" or vr in ("OB", "OD", "OF", "OL", "OV", "OW", "UN", "AT"):
        if value:
            raise ViewerError(f"{keyword} ({vr}) can only be asked for, without a value")
        return DataElement(tag, vr, Sequence() if vr == "SQ" else None)
    if vr in _BINARY_NUMBERS:
        try:
            number = [_BINARY_NUMBERS[vr](part) for part in value.split("\\")] if value else None
        except ValueError:
            raise ViewerError(f"{keyword}={value}: {keyword} holds numbers ({vr})") from None
        return DataElement(tag, vr, number[0] if number and len(number) == 1 else number)
    if vr == "DA":
        value = date_prefix_range(value) or value
    try:
        return DataElement(tag, vr, value, validation_mode=config.IGNORE)
    except ValueError:  # IS and DS are converted to numbers even unchecked
        raise ViewerError(f"{keyword}={value}: not a valid {vr} value") from None


def date_prefix_range(value: str) -> str | None:
    """The DA range (PS3.4 C.2.2.2.5) meant by ``YYYY*``, ``YYYYMM*`` or ``YYYYMMDD*``, else None.

    ``2020*`` -> ``20200101-20201231``, ``202402*`` -> ``20240201-20240229``.
    """
    import calendar
    import re

    prefix = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?\*", value)
    if prefix is None:
        return None
    year, month, day = prefix.groups()
    if day is not None:
        return f"{year}{month}{day}"
    if month is None:
        return f"{year}0101-{year}1231"
    if not 1 <= int(month) <= 12:
        return None
    return f"{year}{month}01-{year}{month}{calendar.monthrange(int(year), int(month))[1]:02d}"


def with_return_keys(match: Dataset, filters: dict[str, str]) -> Dataset:
    """`match` with every key of `filters` it lacks added empty (zero length: the peer has no value for it).

    A peer may leave out a key it does not support (PS3.4 C.4.1.1.3.2); the
    user who asked for it still sees it, empty, in every answer.
    """
    for keyword in filters:
        if keyword not in match:
            element = query_element(keyword, "")
            match[element.tag] = element
    return match


def parse_query_key(text: str) -> tuple[str, str]:
    """One key as dcmtk's findscu ``-k`` takes it: ``Keyword``, ``gggg,eeee`` or ``(gggg,eeee)``, then ``=VALUE`` or nothing.

    Returns (keyword, value); no value (or an empty one) makes a return key.
    Raises ViewerError, naming the key, for anything that is not a tag of the data dictionary.
    """
    import re

    from pydicom.datadict import keyword_for_tag, tag_for_keyword

    key, _, value = text.partition("=")
    key = key.strip()
    number = re.fullmatch(r"\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?", key)
    if number:
        tag = int(number.group(1) + number.group(2), 16)
        keyword = keyword_for_tag(tag)
        if not keyword:
            raise ViewerError(f"-k {text}: ({tag >> 16:04X},{tag & 0xFFFF:04X}) is not in the DICOM data dictionary")
        return keyword, value
    if tag_for_keyword(key) is None:
        raise ViewerError(f"-k {text}: '{key}' is neither a DICOM keyword (e.g. PatientName) nor a tag (e.g. 0010,0010)")
    return key, value


def find(
    node: Node,
    local: LocalAE,
    level: str = "study",
    filters: dict[str, str] | None = None,
    cap: int = 500,
    cancel: CancelToken | None = None,
    log: AssociationLog | None = None,
) -> FindResult:
    """C-FIND at `level` with `filters` (keyword -> value, DICOM matching rules).

    Stops at `cap` matches (sending C-CANCEL) and says there were more.
    Raises ViewerError on any failure.
    """
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelFind

    model = StudyRootQueryRetrieveInformationModelFind if node.query_model == "study" else PatientRootQueryRetrieveInformationModelFind
    filters = dict(filters or {})
    if (
        node.query_model == "patient"
        and level.lower() in ("series", "image")
        and not filters.get("PatientID")
        and filters.get("StudyInstanceUID")
    ):
        # Below STUDY, Patient Root needs the unique keys above (PS3.4 C.4.1.2.2.1): a strict PACS answers 0xC000 without.
        study = lookup_study(node, local, filters["StudyInstanceUID"], log, cancel)
        if study is not None and study.get("PatientID"):
            filters["PatientID"] = str(study.PatientID)
    identifier = query_dataset(level, filters, node.charset)
    return _FindExchange(node, local, str(model), cancel, log).run(identifier, cap)


class _Exchange:
    """What a C-FIND and a C-GET on the viewer's own association (:mod:`~viewer.core.net.upper_layer`) share:
    one request (message ID 1), its C-CANCEL, and the two ways of giving up while waiting.

    A peer that ignores the C-CANCEL for :data:`CANCEL_GRACE` seconds is
    aborted (:class:`_CancelIgnored`, what arrived is kept); one that sends
    nothing for the DIMSE timeout (inactivity, not total time) ends in
    :attr:`SILENT`. Set ``assoc`` and ``context_id`` before waiting.
    """

    MESSAGE_ID = 1
    #: The message for a peer silent for the DIMSE timeout ({address}, {timeout} in seconds).
    SILENT = "{address} stopped answering for {timeout} s"

    def __init__(self, node: Node, cancel: CancelToken | None):
        self.node, self.cancel = node, cancel
        self.assoc = None
        self.context_id: int | None = None
        self.cancel_sent_at: float | None = None
        self.last_activity = time.monotonic()

    def send_cancel(self) -> None:
        """C-CANCEL-RQ (PS3.7 9.3.2.3), once."""
        from viewer.core.net.upper_layer import C_CANCEL_RQ, NO_DATASET, encode_command

        if self.cancel_sent_at is None:
            self.cancel_sent_at = time.monotonic()
            command = encode_command(CommandField=C_CANCEL_RQ, MessageIDBeingRespondedTo=self.MESSAGE_ID, CommandDataSetType=NO_DATASET)
            self.assoc.send(self.context_id, command, name="C-CANCEL-RQ")

    def _check(self) -> None:
        """While waiting, and after each message: the cancel, its grace, and inactivity."""
        now = time.monotonic()
        if self.cancel is not None and self.cancel.cancelled:
            self.send_cancel()
        if self.cancel_sent_at is not None and now - self.cancel_sent_at > CANCEL_GRACE:
            raise _CancelIgnored
        timeout = self.node.timeouts.dimse
        if timeout and now - self.last_activity > timeout:
            raise ViewerError(self.SILENT.format(address=self.node.address, timeout=f"{timeout:g}"))

    def _identifier(self, message) -> Dataset:
        """A response's dataset (a match, or the failed-instance list), in its context's transfer syntax."""
        import io

        from pydicom.filereader import read_dataset
        from pydicom.uid import ImplicitVRLittleEndian

        implicit = self.assoc.accepted[message.context_id][1] == ImplicitVRLittleEndian
        return read_dataset(io.BytesIO(b"".join(message.dataset)), implicit, True)


class _FindExchange(_Exchange):
    """One C-FIND (PS3.4 C.4.1): the request, the pending answers each with a match, the final status.

    At the cap, or on a cancel, a C-CANCEL goes out and answers still on their
    way are dropped.
    """

    SILENT = "{address} stopped answering the C-FIND (nothing for {timeout} s)"

    def __init__(self, node: Node, local: LocalAE, model: str, cancel: CancelToken | None, log: AssociationLog | None):
        super().__init__(node, cancel)
        self.local, self.model, self.log = local, model, log

    def run(self, identifier: Dataset, cap: int) -> FindResult:
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
        from pynetdicom.dsutils import encode

        from viewer.core.net.upper_layer import C_FIND_RQ, C_FIND_RSP, MEDIUM, Association, Proposal, encode_command

        node = self.node
        assoc = self.assoc = Association(node.address, node.ae_title, self.local.ae_title, self.log.add if self.log is not None else None)
        assoc.request(
            node.host,
            node.port,
            Proposal([(self.model, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])], max_pdu=MAX_PDU),
            node.timeouts.connect,
            node.timeouts.acse,
            _tls(node),
        )
        result = FindResult([])
        try:
            context_id = self.context_id = assoc.context_for(self.model)
            if context_id is None:
                raise ViewerError(
                    f"{node.address} does not answer C-FIND in the {'Study' if node.query_model == 'study' else 'Patient'} Root model"
                )
            implicit = assoc.accepted[context_id][1] == ImplicitVRLittleEndian
            assoc.on_idle = self._check
            command = encode_command(
                AffectedSOPClassUID=self.model,
                CommandField=C_FIND_RQ,
                MessageID=self.MESSAGE_ID,
                Priority=MEDIUM,
                CommandDataSetType=0x0000,
            )
            assoc.send(context_id, command, encode(identifier, implicit, True), name=f"C-FIND-RQ (message {self.MESSAGE_ID})")
            while True:
                message = assoc.receive()
                self.last_activity = time.monotonic()
                status = message.command.get("Status")
                if message.command.get("CommandField") != C_FIND_RSP or not isinstance(status, int):
                    assoc.recycle(message.buffers)
                    continue
                if status in (0xFF00, 0xFF01):
                    if self.cancel_sent_at is None and message.dataset:  # after a C-CANCEL: answers beyond the cap
                        match = self._identifier(message)
                        if node.assume_charset and "SpecificCharacterSet" not in match:
                            match.SpecificCharacterSet = node.assume_charset
                        result.matches.append(match)
                    assoc.recycle(message.buffers)
                    if self.cancel_sent_at is None and (len(result.matches) >= cap or (self.cancel is not None and self.cancel.cancelled)):
                        result.more = len(result.matches) >= cap
                        self.send_cancel()
                    self._check()
                    continue
                assoc.recycle(message.buffers)
                if status not in (0x0000, 0xFE00):
                    raise ViewerError(f"{node.address} answered the C-FIND with {_status_text(status)}")
                break
            assoc.release()
        except _CancelIgnored:
            assoc.abort()  # cancelled, and the peer did not stop: what arrived is kept
        except BaseException:
            assoc.abort()
            raise
        return result


# ----------------------------------------------------------------------------- C-GET and C-MOVE


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


def _storage_contexts(sop_classes: list[str] | None) -> list[tuple[str, list[str]]]:
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
            result = (_get if attempt == "get" else _move)(node, local, cache, request, progress, cancel or CancelToken(), log)
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


def lookup_study(
    node: Node, local: LocalAE, study_uid: str, log: AssociationLog | None = None, cancel: CancelToken | None = None
) -> Dataset | None:
    """The node's STUDY level C-FIND answer for one study (its Patient ID, SOP Classes in Study...), or None.

    C-GET can only receive SOP classes it proposed, within 128 contexts, and a
    C-MOVE Storage SCP only those it accepts: a study with a private class
    (a vendor's non-image storage, say) loses those instances without
    (0008,0062) *SOP Classes in Study*. A node that does not answer is
    reported at once; one that refuses the C-FIND gives None.
    """
    try:
        answer = find(
            node, local, "study", {"StudyInstanceUID": study_uid, "PatientID": "", "SOPClassesInStudy": ""}, cap=10, cancel=cancel, log=log
        )
    except Unreachable:
        raise  # the retrieve would wait for it once more
    except ViewerError as exc:
        if log is not None:
            log.add(f"study {study_uid} not looked up ({exc})")
        return None
    return next((match for match in answer.matches if str(match.get("StudyInstanceUID", "")).strip("\x00 ") == study_uid), None)


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


#: Seconds a peer has to end an operation after our C-CANCEL before the association is aborted.
CANCEL_GRACE = 2.0


def _abort_from_watcher(assoc) -> None:
    """Abort from another thread, and wake the thread waiting for the peer's next message.

    pynetdicom wakes that wait (with an empty response) when the *peer*
    aborts or the connection drops, not when we abort; without the wake-up it
    would wait out its DIMSE timeout, or for ever with none.
    """
    assoc.abort()
    pending = getattr(getattr(assoc, "dimse", None), "msg_queue", None)
    if pending is not None:
        pending.put((None, None))


def _watch_association(assoc, state: dict, cancel: CancelToken, timeout: float | None = None, last_activity=lambda: 0.0):
    """Abort the association :data:`CANCEL_GRACE` seconds after a cancel the
    peer ignores (sets ``state["cancel_abort"]``), or after `timeout` seconds
    without a response or any other activity (``state["timed_out"]``).

    ``state["finished"]`` (an Event) ends the watch; ``state["last_response"]``
    is the time of the last response, kept by the caller.
    """
    finished: threading.Event = state["finished"]

    def watch():
        # Waits on the event rather than sleeping, so the caller's join returns at once.
        cancelled_at = None
        while assoc.is_established and not finished.wait(0.1):
            now = time.monotonic()
            if cancel is not None and cancel.cancelled:
                cancelled_at = cancelled_at or now
                if now - cancelled_at > CANCEL_GRACE:
                    state["cancel_abort"] = True
                    _abort_from_watcher(assoc)
                    return
            idle = now - max(last_activity(), state["last_response"])
            if timeout and idle > timeout:
                state["timed_out"] = True
                _abort_from_watcher(assoc)
                return

    thread = threading.Thread(target=watch, name="viewer-net-watchdog", daemon=True)
    thread.start()
    return thread


_COUNTS = (
    ("remaining", "NumberOfRemainingSuboperations"),
    ("completed", "NumberOfCompletedSuboperations"),
    ("failed", "NumberOfFailedSuboperations"),
    ("warning", "NumberOfWarningSuboperations"),
)


def _run_retrieve(responses, send_cancel: Callable[[], None], writer, progress_cb, cancel, node) -> tuple[RetrieveProgress, list[str]]:
    """Follow the C-GET or C-MOVE responses (command sets as {keyword: value}) to the final one.

    Pending responses give the progress (PS3.4 C.4.2.1.5); on a cancel,
    `send_cancel` is called once. The iterable ends early when a cancelled
    peer did not stop in time, and raises ViewerError when the transfer broke.
    Returns the progress and the final response's (0008,0058) *Failed SOP
    Instance UID List* (PS3.4 C.4.2.1.4.2, C.4.3.1.3.1).
    """
    report = RetrieveProgress()
    failed_uids: list[str] = []
    cancelled_sent = False
    for status in responses:
        code = int(status["Status"])
        for attr, name in _COUNTS:
            if name in status:
                setattr(report, attr, int(status[name]))
        if code in (0x0000, 0xB000) and "NumberOfRemainingSuboperations" not in status:
            report.remaining = 0  # a final response leaves it out (PS3.4 C.4.3.1.3.1): none are left
        failed_uids = uid_values(status.get("FailedSOPInstanceUIDList")) or failed_uids
        report.received = len(writer.written)
        if progress_cb:
            progress_cb(RetrieveProgress(**vars(report)))
        if code in (0xFF00, 0xFF01):
            if cancel.cancelled and not cancelled_sent:
                send_cancel()
                cancelled_sent = True
            continue
        if code in (0x0000, 0xB000, 0xFE00):
            break
        unsent = f"; {count(len(failed_uids), 'instance')} could not be sent, {_listed(failed_uids)}" if failed_uids else ""
        if code in (0x0122, 0xA900, 0xC000) and not writer.written:
            raise _Refused(_status_text(code) + unsent)
        raise ViewerError(f"{node.address} answered with {_status_text(code)}{unsent}")
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


def _pynetdicom_responses(responses, state: dict, node):
    """pynetdicom's (status, identifier) pairs as command sets; an empty status says why it came."""
    for status, identifier in responses:
        state["last_response"] = time.monotonic()
        if not status or "Status" not in status:
            if state.get("cancel_abort"):
                return  # cancelled, and the peer did not stop: what arrived is kept
            if state.get("timed_out"):
                raise ViewerError(f"{node.address} stopped sending for {node.timeouts.dimse:g} s: transfer abandoned")
            raise ViewerError(f"{node.address} broke off the transfer (association aborted or connection lost)")
        command = {element.keyword: element.value for element in status}
        if identifier is not None and "FailedSOPInstanceUIDList" in identifier:
            command["FailedSOPInstanceUIDList"] = identifier.FailedSOPInstanceUIDList
        yield command


def _get(node, local, cache, request: RetrieveRequest, progress_cb, cancel, log) -> RetrieveResult:
    """C-GET on our own association (:mod:`~viewer.core.net.upper_layer`): the C-STORE sub-operations
    are answered in this thread, each instance written as its fragments came."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelGet, StudyRootQueryRetrieveInformationModelGet

    from viewer.core.net.upper_layer import Association, Proposal

    model = str(StudyRootQueryRetrieveInformationModelGet if node.query_model == "study" else PatientRootQueryRetrieveInformationModelGet)
    storage = _storage_contexts(request.sop_classes)
    proposal = Proposal(
        [(model, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])] + storage, list(dict.fromkeys(uid for uid, _ in storage)), MAX_PDU
    )
    assoc = Association(node.address, node.ae_title, local.ae_title, log.add if log is not None else None)
    assoc.request(node.host, node.port, proposal, node.timeouts.connect, node.timeouts.acse, _tls(node))
    writer = InstanceWriter(cache, {(request.study_uid, request.series_uid)})
    try:
        context_id = assoc.context_for(model)
        if context_id is None:
            raise _Refused("C-GET is not supported")
        exchange = _GetExchange(assoc, context_id, model, writer, cancel, node)
        report, failed_uids = _run_retrieve(
            exchange.responses(request.identifier()), exchange.send_cancel, writer, progress_cb, cancel, node
        )
        assoc.release()
    except _Refused:
        assoc.release()
        raise
    except BaseException:
        assoc.abort()
        raise
    finally:
        writer.remove_partials()
    return RetrieveResult(sorted(writer.written), report, _failed_instances(writer, failed_uids, report, node), "get")


class _GetExchange(_Exchange):
    """The messages of one C-GET (PS3.4 C.4.3): the request, then C-STORE sub-operations answered
    as they come, until the final C-GET response."""

    SILENT = "{address} stopped sending for {timeout} s: transfer abandoned"

    def __init__(self, assoc, context_id: int, model: str, writer: InstanceWriter, cancel: CancelToken, node: Node):
        super().__init__(node, cancel)
        self.assoc, self.context_id, self.model, self.writer = assoc, context_id, model, writer
        assoc.on_idle = self._check

    def responses(self, identifier: Dataset):
        """Send the C-GET request; yield each C-GET response's command set."""
        from pydicom.uid import ImplicitVRLittleEndian
        from pynetdicom.dsutils import encode

        from viewer.core.net.storage_scp import answer_store, store_sink
        from viewer.core.net.upper_layer import C_GET_RQ, C_GET_RSP, C_STORE_RQ, MEDIUM, encode_command

        implicit = self.assoc.accepted[self.context_id][1] == ImplicitVRLittleEndian
        command = encode_command(
            AffectedSOPClassUID=self.model, CommandField=C_GET_RQ, MessageID=self.MESSAGE_ID, Priority=MEDIUM, CommandDataSetType=0x0000
        )
        self.assoc.send(self.context_id, command, encode(identifier, implicit, True), name=f"C-GET-RQ (message {self.MESSAGE_ID})")
        try:
            while True:
                message = self.assoc.receive(lambda message: store_sink(self.assoc, message, self.writer))
                self.last_activity = time.monotonic()
                kind = message.command.get("CommandField")
                if kind == C_STORE_RQ:
                    answer_store(self.assoc, message, self.writer)
                    self.last_activity = time.monotonic()
                    self.writer.prepare()  # the next instance's file, made while the peer reads our response
                elif kind == C_GET_RSP and "Status" in message.command:
                    yield self._with_identifier(message)
                self._check()
        except _CancelIgnored:
            self.assoc.abort()  # cancelled, and the peer did not stop: what arrived is kept

    def _with_identifier(self, message) -> dict:
        """A C-GET response's command set, with the Failed SOP Instance UID List of its identifier if it has one."""
        command = message.command
        if message.dataset:
            try:
                identifier = self._identifier(message)
                if "FailedSOPInstanceUIDList" in identifier:
                    command = {**command, "FailedSOPInstanceUIDList": identifier.FailedSOPInstanceUIDList}
            except Exception:  # the list only names failures the counts already give
                pass
        self.assoc.recycle(message.buffers)
        return command


class _CancelIgnored(Exception):
    """The peer went on after our C-CANCEL for longer than CANCEL_GRACE."""


def start_storage_scp(
    local: LocalAE,
    writer: InstanceWriter,
    timeouts: Timeouts | None = None,
    sop_classes: list[str] | None = None,
    log: AssociationLog | None = None,
):
    """The Storage SCP that receives a C-MOVE (:class:`~viewer.core.net.storage_scp.StorageSCP`): listens
    on ``local.move_port`` until ``.shutdown()``; the study's own `sop_classes` are accepted besides every
    standard storage class. Raises ViewerError when the port cannot be opened."""
    from viewer.core.net.storage_scp import StorageSCP

    return StorageSCP(local, writer, timeouts, sop_classes, log.add if log is not None else None).start()


def _move(node, local, cache, request: RetrieveRequest, progress_cb, cancel, log) -> RetrieveResult:
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelMove

    model = StudyRootQueryRetrieveInformationModelMove if node.query_model == "study" else PatientRootQueryRetrieveInformationModelMove
    writer = InstanceWriter(cache, {(request.study_uid, request.series_uid)})
    server = start_storage_scp(local, writer, node.timeouts, request.sop_classes, log)
    try:
        ae = _application_entity(local, node.timeouts)
        ae.add_requested_context(model)
        assoc = _associate(ae, node, log)
        state = {"last_response": time.monotonic(), "finished": threading.Event()}
        if not any(str(cx.abstract_syntax) == str(model) for cx in assoc.accepted_contexts):
            _release(assoc)
            raise _Refused("C-MOVE is not supported")
        assoc.dimse_timeout = None
        watchdog = _watch_association(assoc, state, cancel, node.timeouts.dimse, lambda: writer.last_activity)
        try:
            responses = assoc.send_c_move(request.identifier(), local.ae_title, model, msg_id=1)
            report, failed_uids = _run_retrieve(
                _pynetdicom_responses(responses, state, node),
                lambda: assoc.send_c_cancel(1, query_model=model),
                writer,
                progress_cb,
                cancel,
                node,
            )
        finally:
            state["finished"].set()
            _release(assoc)
            if watchdog:
                watchdog.join(1)
    finally:
        server.shutdown()
        writer.remove_partials()
    return RetrieveResult(sorted(writer.written), report, _failed_instances(writer, failed_uids, report, node), "move")
