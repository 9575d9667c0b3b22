"""C-ECHO (PS3.7 9.1.5, the Verification SOP Class PS3.4 A.4): does the node answer, and how fast; and our answer as SCP."""

from __future__ import annotations

import time

from viewer.core.dicom.io import ViewerError
from viewer.core.net.association import Association, AssociationLog, open_association
from viewer.core.net.dimse import C_ECHO_RQ, C_ECHO_RSP, NO_DATASET, SUCCESS, Message, status_text
from viewer.core.net.nodes import LocalAE, Node
from viewer.core.net.pdu import Proposal
from viewer.core.runtime.tasks import CancelToken

#: The Verification SOP Class (PS3.4 A.4; PS3.6 Annex A).
VERIFICATION = "1.2.840.10008.1.1"


def echo(node: Node, local: LocalAE, log: AssociationLog | None = None, cancel: CancelToken | None = None) -> float:
    """Verify the node answers: associate, C-ECHO, release. Returns the seconds that took.

    Raises ViewerError saying why not: nothing listens (unreachable), the
    node refused the association (and its reason), TLS failed (and whose
    certificate), no answer within the node's inactivity time, or a status
    other than success.
    """
    start = time.monotonic()
    assoc = open_association(
        node,
        local,
        Proposal.service(VERIFICATION),
        log,
        cancel,
        silence="{address} did not answer the C-ECHO (nothing for {timeout} s)",
    )
    try:
        context_id = assoc.context_for(VERIFICATION)
        if context_id is None:
            raise ViewerError(f"{node.address} does not answer C-ECHO (it refused the Verification context)")
        command = {"AffectedSOPClassUID": VERIFICATION, "CommandField": C_ECHO_RQ, "MessageID": 1, "CommandDataSetType": NO_DATASET}
        (response,) = assoc.ask(context_id, command)
        assoc.release()
    except BaseException:
        assoc.abort()
        raise
    status = response.command["Status"]
    if status != SUCCESS:
        raise ViewerError(f"{node.address} answered the C-ECHO with {status_text(status)}")
    return time.monotonic() - start


def answer_echo(assoc: Association, message: Message) -> None:
    """Answer a C-ECHO request with success (PS3.7 9.3.5.2): the Storage SCP's verification."""
    response = {
        "AffectedSOPClassUID": VERIFICATION,
        "CommandField": C_ECHO_RSP,
        "MessageIDBeingRespondedTo": message.command.get("MessageID", 0),
        "CommandDataSetType": NO_DATASET,
        "Status": SUCCESS,
    }
    assoc.send_message(message.context_id, response)
