"""C-FIND (PS3.4 C.4.1, PS3.7 9.1.2): matches of a query, up to a cap, on our association.

The identifier is built by :mod:`~viewer.core.net.query`; the matches come
back as pydicom Datasets with their text still raw (decoded for display by
:mod:`viewer.core.dicom.charset`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.net.association import AssociationLog, CancelIgnored, Unreachable, open_association
from viewer.core.net.dimse import (
    C_FIND_RQ,
    CANCELLED,
    DATASET_FOLLOWS,
    MEDIUM,
    PENDING,
    SUCCESS,
    encode_identifier,
    read_identifier,
    status_text,
)
from viewer.core.net.nodes import LocalAE, Node
from viewer.core.net.pdu import Proposal
from viewer.core.net.query import query_dataset
from viewer.core.runtime.tasks import CancelToken


@dataclass
class FindResult:
    """Matches of a C-FIND (pydicom datasets, text still raw), and whether more exist."""

    matches: list[Dataset]
    more: bool = False
    charset: list[str] = field(default_factory=list)


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

    Stops at `cap` matches (sending C-CANCEL) and says there were more; a
    cancel keeps the matches that came before it. Raises ViewerError on any
    failure.
    """
    from pynetdicom.sop_class import PatientRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelFind

    model = str(StudyRootQueryRetrieveInformationModelFind if node.query_model == "study" else PatientRootQueryRetrieveInformationModelFind)
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
    assoc = open_association(
        node,
        local,
        Proposal.service(model),
        log,
        cancel,
        silence="{address} stopped answering the C-FIND (nothing for {timeout} s)",
    )
    result = FindResult([])
    try:
        context_id = assoc.context_for(model)
        if context_id is None:
            raise ViewerError(
                f"{node.address} does not answer C-FIND in the {'Study' if node.query_model == 'study' else 'Patient'} Root model"
            )
        syntax = assoc.accepted[context_id][1]
        command = {
            "AffectedSOPClassUID": model,
            "CommandField": C_FIND_RQ,
            "MessageID": 1,
            "Priority": MEDIUM,
            "CommandDataSetType": DATASET_FOLLOWS,
        }
        for response in assoc.ask(context_id, command, encode_identifier(identifier, syntax)):
            status = response.command["Status"]
            if status in PENDING and assoc.cancel_sent_at is None:  # after a C-CANCEL: answers beyond the cap, or cancelled
                if response.dataset:
                    match = read_identifier(response.dataset, syntax)
                    if node.assume_charset and "SpecificCharacterSet" not in match:
                        match.SpecificCharacterSet = node.assume_charset
                    result.matches.append(match)
                if len(result.matches) >= cap:
                    result.more = True
                    assoc.send_cancel()
            assoc.recycle(response.buffers)
            if status not in (*PENDING, SUCCESS, CANCELLED):
                raise ViewerError(f"{node.address} answered the C-FIND with {status_text(status)}")
        assoc.release()
    except CancelIgnored:
        pass  # cancelled, and the peer did not stop: aborted, what arrived is kept
    except BaseException:
        assoc.end()
        raise
    return result


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
