"""The upper layer's PDUs (PS3.8 9.3): association negotiation as bytes, both ways.

The A-ASSOCIATE-RQ we send is encoded here (quicker than pynetdicom's
classes, see :func:`associate_rq`); the answers we read and the requests we
answer as a Storage SCP go through pynetdicom's own PDU classes
(:mod:`pynetdicom.pdu`, :mod:`pynetdicom.pdu_primitives`), so negotiation,
and the wording of a rejection, are pynetdicom's. P-DATA-TF is read and
written by :class:`~viewer.core.net.association.Association` itself.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

#: PDU types (PS3.8 9.3.1)
A_ASSOCIATE_RQ, A_ASSOCIATE_AC, A_ASSOCIATE_RJ, P_DATA_TF, A_RELEASE_RQ, A_RELEASE_RP, A_ABORT = 1, 2, 3, 4, 5, 6, 7
PDU_HEADER = struct.Struct(">BxI")
PDV_HEADER = struct.Struct(">IBB")
#: Largest PDU accepted from a peer whatever it claims (a length beyond is refused, not allocated).
LARGEST_PDU = 64 * 1024 * 1024
#: The DICOM application context (PS3.7 A.2.1).
APPLICATION_CONTEXT = "1.2.840.10008.3.1.1.1"

#: A-RELEASE-RQ, A-RELEASE-RP and A-ABORT from the service user: four reserved (or source, reason) bytes each.
RELEASE_RQ = PDU_HEADER.pack(A_RELEASE_RQ, 4) + b"\x00" * 4
RELEASE_RP = PDU_HEADER.pack(A_RELEASE_RP, 4) + b"\x00" * 4
ABORT = PDU_HEADER.pack(A_ABORT, 4) + b"\x00" * 4


#: Transfer syntaxes proposed for a service's own context (an identifier, a match): Explicit, then Implicit VR Little Endian.
LITTLE_ENDIAN = [ExplicitVRLittleEndian, ImplicitVRLittleEndian]


@dataclass
class Proposal:
    """What to propose: (abstract syntax, [transfer syntaxes]) contexts, and the SOP classes we offer to be SCP of."""

    contexts: list[tuple[str, list[str]]]
    scp_roles: list[str] = field(default_factory=list)
    max_pdu: int = 256 * 1024

    @classmethod
    def service(cls, abstract_syntax: str) -> Proposal:
        """One context: a service's SOP class (Verification, a query/retrieve model) in :data:`LITTLE_ENDIAN`."""
        return cls([(abstract_syntax, list(LITTLE_ENDIAN))])


def numbered(contexts: Iterable[tuple[str, list[str]]]) -> list[tuple[int, tuple[str, list[str]]]]:
    """Presentation context IDs are odd, 1 to 255 (PS3.8 9.3.2.2)."""
    return [(2 * index + 1, context) for index, context in enumerate(contexts)]


def uid_name(uid: str) -> str:
    """A UID's name in pydicom's dictionary ("CT Image Storage"), else the UID."""
    from pydicom.uid import UID

    return str(getattr(UID(uid), "name", uid) or uid)


def _item(item_type: int, value: bytes) -> bytes:
    """An A-ASSOCIATE item or sub-item: type, reserved, 16-bit big-endian length, value (PS3.8 9.3.2)."""
    return struct.pack(">BxH", item_type, len(value)) + value


def associate_rq(calling_ae: str, called_ae: str, proposal: Proposal) -> bytes:
    """The A-ASSOCIATE-RQ PDU (PS3.8 9.3.2; user information PS3.7 D.3.3).

    Encoded here rather than by pynetdicom's classes, which validate every
    UID on the way: 121 contexts with 15 transfer syntaxes each took 31 ms
    there, about one instance's worth of a C-GET at dcmtk's rate per 30.
    tests/net/test_upper_layer.py checks the bytes against pynetdicom's.
    """
    if len(proposal.contexts) > 128:
        raise ValueError("at most 128 presentation contexts (PS3.8 9.3.2.2)")
    items = [_item(0x10, APPLICATION_CONTEXT.encode("ascii"))]
    for context_id, (abstract, syntaxes) in numbered(proposal.contexts):
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
    return PDU_HEADER.pack(A_ASSOCIATE_RQ, len(body)) + body


def read_associate_ac(raw_pdu: bytes, proposal: Proposal) -> tuple[dict[int, tuple[str, str]], int]:
    """The acceptor's answer: {context ID: (abstract syntax, transfer syntax)} accepted, and its maximum PDU (0: none)."""
    from pynetdicom.pdu import A_ASSOCIATE_AC as AC

    pdu = AC()
    pdu.decode(raw_pdu)
    primitive = pdu.to_primitive()
    proposed = {context_id: abstract for context_id, (abstract, _) in numbered(proposal.contexts)}
    accepted = {}
    for result in primitive.presentation_context_definition_results_list:
        if result.result == 0 and result.context_id in proposed and result.transfer_syntax:
            accepted[result.context_id] = (proposed[result.context_id], str(result.transfer_syntax[0]))
    return accepted, primitive.maximum_length_received or 0


def read_associate_rj(raw_pdu: bytes):
    """A rejection as pynetdicom's A-ASSOCIATE primitive: ``result_str``, ``source_str``, ``reason_str`` in words (PS3.8 9.3.4)."""
    from pynetdicom.pdu import A_ASSOCIATE_RJ as RJ

    pdu = RJ()
    pdu.decode(raw_pdu)
    return pdu.to_primitive()


def read_associate_rq(raw_pdu: bytes):
    """A requestor's A-ASSOCIATE-RQ as pynetdicom's primitive; raises what pynetdicom raises on a PDU it cannot read."""
    from pynetdicom.pdu import A_ASSOCIATE_RQ as RQ

    request = RQ()
    request.decode(raw_pdu)
    return request.to_primitive()


def associate_rj_busy(asked) -> bytes:
    """A-ASSOCIATE-RJ, rejected transient, service provider (presentation), local limit exceeded (PS3.8 9.3.4)."""
    from pynetdicom.pdu import A_ASSOCIATE_RJ as RJ
    from pynetdicom.pdu_primitives import A_ASSOCIATE

    answer = A_ASSOCIATE()
    answer.result, answer.result_source, answer.diagnostic = 0x02, 0x03, 0x02
    reject = RJ()
    reject.from_primitive(answer)
    return reject.encode()


def associate_ac(asked, choose: Callable[[str, list[str]], str | None], max_pdu: int) -> tuple[bytes, dict[int, tuple[str, str]], int, int]:
    """The acceptor's A-ASSOCIATE-AC for the request `asked` (PS3.8 9.3.3), with this program's implementation.

    ``choose(abstract_syntax, transfer_syntaxes)`` gives the transfer syntax
    to accept a proposed context with, or None to refuse it (result 3,
    abstract syntax not supported). We are SCP only: a role selection lets
    the peer stay SCU (PS3.7 D.3.3.4). Returns the PDU, the accepted
    contexts, how many were proposed, and the requestor's maximum PDU (0: none).
    """
    from pynetdicom.pdu import A_ASSOCIATE_AC as AC
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
        SCP_SCU_RoleSelectionNegotiation,
    )
    from pynetdicom.presentation import PresentationContext

    answer = A_ASSOCIATE()
    answer.application_context_name = APPLICATION_CONTEXT
    answer.calling_ae_title, answer.called_ae_title = asked.calling_ae_title, asked.called_ae_title
    answer.result, answer.result_source = 0x00, 0x01
    accepted, results = {}, []
    for proposed in asked.presentation_context_definition_list:
        syntaxes = [str(uid) for uid in proposed.transfer_syntax]
        chosen = choose(str(proposed.abstract_syntax), syntaxes)
        result = PresentationContext()
        result.context_id = proposed.context_id
        result.abstract_syntax = proposed.abstract_syntax
        result.transfer_syntax = [chosen or syntaxes[0]]
        result.result = 0x00 if chosen else 0x03
        if chosen:
            accepted[proposed.context_id] = (str(proposed.abstract_syntax), chosen)
        results.append(result)
    answer.presentation_context_definition_results_list = results
    maximum = MaximumLengthNotification()
    maximum.maximum_length_received = max_pdu
    implementation = ImplementationClassUIDNotification()
    implementation.implementation_class_uid = IMPLEMENTATION_CLASS_UID
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    items = [maximum, implementation, version]
    peer_max_pdu = 0
    for item in asked.user_information:
        if isinstance(item, MaximumLengthNotification):
            peer_max_pdu = item.maximum_length_received or 0
        elif isinstance(item, SCP_SCU_RoleSelectionNegotiation):
            role = SCP_SCU_RoleSelectionNegotiation()
            role.sop_class_uid, role.scu_role, role.scp_role = item.sop_class_uid, bool(item.scu_role), False
            items.append(role)
    answer.user_information = items
    accept = AC()
    accept.from_primitive(answer)
    return accept.encode(), accepted, len(results), peer_max_pdu
