"""The association's own upper layer (viewer/core/net/association.py, connection.py, pdu.py, dimse.py) against exact bytes.

What it encodes is checked against pynetdicom's and pydicom's encoders; what
it receives is crafted PDU by PDU (PS3.8 9.3) and written into one end of a
connected socket pair, the Association reading the other end: the cases
real servers rarely produce (two messages in one PDU, a dataset streamed to
a sink, a peer that aborts, releases, disconnects or breaks the protocol).
Whole transfers against Orthanc and dcmqrscp are in test_net_scu.py; the
acceptor side (the C-MOVE Storage SCP) against real senders in test_storage_scp.py.
"""

from __future__ import annotations

import io
import socket
import struct

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom.dsutils import encode

from viewer.core.net import association
from viewer.core.net.association import Association, CancelIgnored, PeerGone, Silent, Stopped
from viewer.core.net.dimse import C_CANCEL_RQ, C_FIND_RQ, C_FIND_RSP, C_GET_RSP, C_STORE_RQ, NO_DATASET, decode_command, encode_command
from viewer.core.net.pdu import LARGEST_PDU, Proposal, associate_rq
from viewer.core.net.retrieve import storage_contexts
from viewer.core.net.storage import SUCCESS, TRANSFER_SYNTAXES, InstanceWriter
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME
from viewer.core.runtime.tasks import CancelToken

pytestmark = pytest.mark.net


# ----------------------------------------------------------------------------- encoding


def test_associate_rq_is_what_pynetdicom_encodes():
    """Contexts, transfer syntaxes, maximum PDU, implementation and SCP roles: byte for byte pynetdicom's PDU."""
    from pynetdicom.pdu import A_ASSOCIATE_RQ
    from pynetdicom.pdu_primitives import (
        A_ASSOCIATE,
        ImplementationClassUIDNotification,
        ImplementationVersionNameNotification,
        MaximumLengthNotification,
        SCP_SCU_RoleSelectionNegotiation,
    )
    from pynetdicom.presentation import PresentationContext
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

    contexts = storage_contexts(["1.2.840.10008.5.1.4.1.1.4"])
    storage = list(dict.fromkeys(uid for uid, _ in contexts))
    proposal = Proposal(
        [(str(StudyRootQueryRetrieveInformationModelGet), [ExplicitVRLittleEndian, ImplicitVRLittleEndian])] + contexts, storage, 262144
    )
    assert len(proposal.contexts) == 128

    primitive = A_ASSOCIATE()
    primitive.application_context_name = UID("1.2.840.10008.3.1.1.1")
    primitive.calling_ae_title, primitive.called_ae_title = "VIEWER", "PACS-1"
    contexts = []
    for index, (abstract, syntaxes) in enumerate(proposal.contexts):
        context = PresentationContext()
        context.context_id = 2 * index + 1
        context.abstract_syntax = UID(abstract)
        context.transfer_syntax = [UID(uid) for uid in syntaxes]
        contexts.append(context)
    primitive.presentation_context_definition_list = contexts
    maximum = MaximumLengthNotification()
    maximum.maximum_length_received = 262144
    implementation = ImplementationClassUIDNotification()
    implementation.implementation_class_uid = UID(IMPLEMENTATION_CLASS_UID)  # this program's, not pynetdicom's
    version = ImplementationVersionNameNotification()
    version.implementation_version_name = IMPLEMENTATION_VERSION_NAME
    items = [maximum, implementation, version]
    for uid in storage:
        role = SCP_SCU_RoleSelectionNegotiation()
        role.sop_class_uid, role.scu_role, role.scp_role = UID(uid), False, True
        items.append(role)
    primitive.user_information = items
    pdu = A_ASSOCIATE_RQ()
    pdu.from_primitive(primitive)

    assert associate_rq("VIEWER", "PACS-1", proposal) == pdu.encode()


def test_the_studys_classes_get_a_context_per_transfer_syntax_within_128():
    """The acceptor picks one transfer syntax per context (PS3.8 9.3.2.2.1): the study's own classes get
    the uncompressed pair and each other syntax alone, so a JPEG 2000 instance can come as it is stored."""
    mr, private = "1.2.840.10008.5.1.4.1.1.4", "1.3.12.2.1107.5.9.1"
    for own in ([], [mr], [mr, private], [f"1.2.3.{i}" for i in range(9)], [f"1.2.3.{i}" for i in range(200)]):
        contexts = storage_contexts(own)
        assert len(contexts) <= 127 and len(set(map(str, contexts))) == len(contexts)
        classes = [uid for uid, _ in contexts]
        assert classes[: len(set(own))][:1] == own[:1]  # the study's own come first
        if len(own) <= 8:
            for uid in own:
                syntaxes = [tuple(ts) for c, ts in contexts if c == uid]
                assert syntaxes[0] == ("1.2.840.10008.1.2.1", "1.2.840.10008.1.2")  # Explicit, then Implicit VR Little Endian
                assert {s for ts in syntaxes[1:] for s in ts} == set(TRANSFER_SYNTAXES) - set(syntaxes[0])
                assert all(len(ts) == 1 for ts in syntaxes[1:])
        assert set(own[:127]) <= set(classes)


def test_more_than_128_contexts_are_refused():
    with pytest.raises(ValueError, match="128"):
        associate_rq("A", "B", Proposal([(f"1.2.3.{i}", ["1.2.840.10008.1.2"]) for i in range(129)]))


def command_dataset(**values) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def test_command_sets_match_pydicom():
    """Ours decoded by pydicom, and pydicom's decoded by ours: group length, UIDs padded, US values."""
    values = dict(
        AffectedSOPClassUID="1.2.840.10008.5.1.4.1.1.2",
        CommandField=C_STORE_RQ,
        MessageID=7,
        Priority=0,
        CommandDataSetType=0x0000,
        AffectedSOPInstanceUID="1.2.3.45",
        MoveOriginatorApplicationEntityTitle="MOVER",
    )
    ours = encode_command(**values)
    decoded = read_dataset(io.BytesIO(ours), True, True)
    assert decoded.CommandGroupLength == len(ours) - 12
    for keyword, value in values.items():
        assert decoded[keyword].value == value, keyword

    response = command_dataset(
        CommandGroupLength=0,
        AffectedSOPClassUID="1.2.840.10008.5.1.4.1.2.2.3",
        CommandField=C_GET_RSP,
        MessageIDBeingRespondedTo=1,
        CommandDataSetType=NO_DATASET,
        Status=0xFF00,
        NumberOfRemainingSuboperations=499,
        NumberOfCompletedSuboperations=1,
        NumberOfFailedSuboperations=0,
        NumberOfWarningSuboperations=0,
        ErrorComment="odd",
    )
    theirs = decode_command(encode(response, True, True))
    for element in response:
        if element.keyword != "CommandGroupLength":
            assert theirs[element.keyword] == element.value, element.keyword


def test_a_malformed_command_set_is_a_value_error():
    with pytest.raises(ValueError):
        decode_command(encode_command(CommandField=1)[:-1])
    with pytest.raises(ValueError):
        decode_command(struct.pack("<HHI", 0x0008, 0x0016, 2) + b"12")  # not group 0000


def test_a_failed_sop_instance_list_after_the_command_group_is_read():
    """Orthanc 1.10's final C-GET response when a sub-operation failed, as captured on loopback: the
    command set says no dataset follows, then (0008,0000) and (0008,0058) follow in the same PDV.
    pydicom reads it as one dataset; so must we, and keep the list."""
    failed = "1.2.826.0.1.3680043.8.498.8747622239773515942694695906837206827"
    command = encode_command(
        AffectedSOPClassUID="1.2.840.10008.5.1.4.1.2.2.3",
        CommandField=C_GET_RSP,
        MessageIDBeingRespondedTo=1,
        CommandDataSetType=NO_DATASET,
        Status=0xC000,
        NumberOfRemainingSuboperations=0,
        NumberOfCompletedSuboperations=0,
        NumberOfFailedSuboperations=1,
        NumberOfWarningSuboperations=0,
    )
    value = failed.encode() + b"\x00"
    trailing = struct.pack("<HHII", 0x0008, 0x0000, 4, 8 + len(value)) + struct.pack("<HHI", 0x0008, 0x0058, len(value)) + value
    theirs = read_dataset(io.BytesIO(command + trailing), True, True)
    assert theirs.FailedSOPInstanceUIDList == failed and theirs.Status == 0xC000
    ours = decode_command(command + trailing)
    assert ours["FailedSOPInstanceUIDList"] == [failed]
    assert ours["Status"] == 0xC000 and ours["NumberOfFailedSuboperations"] == 1 and ours["CommandDataSetType"] == NO_DATASET
    two = b"1.2.3\\1.2.4\x00"
    assert decode_command(command + struct.pack("<HHI", 0x0008, 0x0058, len(two)) + two)["FailedSOPInstanceUIDList"] == ["1.2.3", "1.2.4"]


# ----------------------------------------------------------------------------- receiving


def pdu(pdu_type: int, body: bytes) -> bytes:
    return struct.pack(">BxI", pdu_type, len(body)) + body


def pdv(context_id: int, control: int, data: bytes) -> bytes:
    """A PDV item: control bit 0 = command, bit 1 = last fragment (PS3.8 E.2)."""
    return struct.pack(">IBB", len(data) + 2, context_id, control) + data


@pytest.fixture
def connected():
    """An established Association reading one end of a socket pair, and the peer's end."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    assoc = Association("PEER@test", "PEER", "VIEWER", poll=0.02)
    assoc.sock, assoc.established, assoc.peer_max_pdu = ours, True, 16384
    assoc.accepted = {1: ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1")}
    peer.settimeout(5)
    yield assoc, peer
    assoc.close()
    peer.close()


def store_rq(message_id: int = 5) -> bytes:
    return encode_command(
        AffectedSOPClassUID="1.2.840.10008.5.1.4.1.1.2",
        CommandField=C_STORE_RQ,
        MessageID=message_id,
        Priority=0,
        CommandDataSetType=0x0000,
        AffectedSOPInstanceUID="1.2.3.4",
    )


def get_rsp(status: int = 0xFF00) -> bytes:
    return encode_command(CommandField=C_GET_RSP, MessageIDBeingRespondedTo=1, CommandDataSetType=NO_DATASET, Status=status)


def test_two_messages_in_one_pdu_and_a_dataset_over_two(connected):
    """PDVs of consecutive messages may share a PDU; the first message's dataset stays intact after the second is read."""
    assoc, peer = connected
    data = bytes(range(256)) * 40
    peer.sendall(pdu(4, pdv(1, 0x03, store_rq()) + pdv(1, 0x00, data[:5000])) + pdu(4, pdv(1, 0x02, data[5000:]) + pdv(1, 0x03, get_rsp())))
    store = assoc.receive()
    assert store.command["CommandField"] == C_STORE_RQ and store.command["AffectedSOPInstanceUID"] == "1.2.3.4"
    response = assoc.receive()
    assert response.command["CommandField"] == C_GET_RSP and response.command["Status"] == 0xFF00
    assert b"".join(bytes(piece) for piece in store.dataset) == data
    assoc.recycle(store.buffers)


def test_a_dataset_goes_to_its_sink_as_it_arrives(connected):
    assoc, peer = connected
    data = b"\x01\x02" * 30000
    seen = []

    class Sink:
        def write(self, fragment):
            seen.append(bytes(fragment))

    peer.sendall(pdu(4, pdv(1, 0x03, store_rq())) + pdu(4, pdv(1, 0x00, data[:20000])) + pdu(4, pdv(1, 0x02, data[20000:])))
    message = assoc.receive(lambda message: Sink())
    assert b"".join(seen) == data and len(seen) == 2
    assert message.dataset == [] and message.buffers == []


def test_the_peer_aborting_is_peer_gone(connected):
    assoc, peer = connected
    peer.sendall(pdu(7, b"\x00\x00\x02\x00"))
    with pytest.raises(PeerGone, match="aborted"):
        assoc.receive()
    assert not assoc.established


def test_the_peer_releasing_mid_operation_is_answered_then_peer_gone(connected):
    assoc, peer = connected
    peer.sendall(pdu(5, b"\x00" * 4))
    with pytest.raises(PeerGone, match="released"):
        assoc.receive()
    assert peer.recv(10) == pdu(6, b"\x00" * 4)  # A-RELEASE-RP


def test_the_peer_disconnecting_is_peer_gone(connected):
    assoc, peer = connected
    peer.sendall(pdu(4, pdv(1, 0x03, store_rq()))[:10])
    peer.close()
    with pytest.raises(PeerGone, match="broke off"):
        assoc.receive()


@pytest.mark.parametrize(
    "stream, what",
    [
        (pdu(4, struct.pack(">IBB", 500, 1, 0x03) + b"x" * 10), "length runs past"),
        (struct.pack(">BxI", 4, LARGEST_PDU + 1), "bytes"),
        (pdu(9, b"\x00" * 4), "type 9"),
        (pdu(4, pdv(1, 0x03, b"\x08\x00\x16\x00\x02\x00\x00\x0012")), "command set"),
    ],
)
def test_a_protocol_error_aborts_with_one_line(connected, stream, what):
    """A broken stream ends the association with A-ABORT and a one-line message; nothing is allocated from a claimed length."""
    assoc, peer = connected
    peer.sendall(stream)
    with pytest.raises(PeerGone, match="broke the DICOM protocol") as error:
        assoc.receive()
    assert what in str(error.value) and "\n" not in str(error.value)
    assert peer.recv(10) == pdu(7, b"\x00" * 4)  # our A-ABORT


def test_waiting_calls_on_idle_which_may_give_up(connected):
    assoc, peer = connected
    calls = []

    def idle():
        calls.append(1)
        if len(calls) == 3:
            raise TimeoutError("given up")

    assoc.on_idle = idle
    with pytest.raises(TimeoutError):
        assoc.receive()
    assert len(calls) == 3


def test_sending_fragments_to_the_peers_maximum_pdu(connected):
    """Every PDU fits the maximum the peer announced; the last fragment of each part is marked (PS3.8 E.2)."""
    assoc, peer = connected
    command, dataset = get_rsp(), bytes(50000)
    assoc.send(1, command, dataset)
    received = b""
    peer.settimeout(0.2)
    while True:
        try:
            received += peer.recv(65536)
        except TimeoutError:
            break
    pos, parts = 0, {0: b"", 1: b""}
    lasts = []
    while pos < len(received):
        pdu_type, length = struct.unpack_from(">BxI", received, pos)
        assert pdu_type == 4 and length <= 16384  # the maximum counts the PDU's variable field (PS3.8 D.1)
        item_length, context_id, control = struct.unpack_from(">IBB", received, pos + 6)
        assert context_id == 1 and item_length == length - 4
        parts[control & 1] += received[pos + 12 : pos + 6 + length]
        lasts.append(control)
        pos += 6 + length
    assert parts[1] == command and parts[0] == dataset
    assert lasts[0] == 0x03 and lasts[-1] == 0x02 and all(c == 0x00 for c in lasts[1:-1])


# ----------------------------------------------------------------------------- one cancel model


def read_pdus(peer) -> list[tuple[int, bytes]]:
    """Whatever PDUs the association sent, as (type, body), until it has been quiet for a moment."""
    data = b""
    peer.settimeout(0.2)
    try:
        while chunk := peer.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):  # reset: closed by us with a PDU of the peer's unread
        pass
    pdus, pos = [], 0
    while pos < len(data):
        pdu_type, length = struct.unpack_from(">BxI", data, pos)
        pdus.append((pdu_type, data[pos + 6 : pos + 6 + length]))
        pos += 6 + length
    return pdus


def find_rq() -> dict:
    return {
        "AffectedSOPClassUID": "1.2.840.10008.5.1.4.1.2.2.1",
        "CommandField": C_FIND_RQ,
        "MessageID": 1,
        "Priority": 0,
        "CommandDataSetType": NO_DATASET,
    }


def find_rsp(status: int) -> bytes:
    return encode_command(CommandField=C_FIND_RSP, MessageIDBeingRespondedTo=1, CommandDataSetType=NO_DATASET, Status=status)


def test_a_cancel_sends_c_cancel_for_the_outstanding_request_then_aborts_after_the_grace(connected, monkeypatch):
    """PS3.7 9.3.2.3: a C-CANCEL names the request it ends; a peer that goes on past the grace is aborted,
    the same for C-FIND, C-GET and C-MOVE (the grace is set to nothing here rather than waited out)."""
    assoc, peer = connected
    assoc.cancel = CancelToken()
    assoc.send_message(1, find_rq())
    assert decode_command(read_pdus(peer)[0][1][6:])["CommandField"] == C_FIND_RQ
    assoc.cancel.cancel()
    peer.sendall(pdu(4, pdv(1, 0x03, find_rsp(0xFF00))))
    assert assoc.receive().command["Status"] == 0xFF00  # the answer on its way is still read...
    (sent,) = read_pdus(peer)  # ...after the C-CANCEL went out, once
    cancel = decode_command(sent[1][6:])
    assert sent[0] == 4 and cancel["CommandField"] == C_CANCEL_RQ and cancel["MessageIDBeingRespondedTo"] == 1
    monkeypatch.setattr(association, "CANCEL_GRACE", -1.0)
    with pytest.raises(CancelIgnored):
        assoc.receive()
    assert read_pdus(peer) == [(7, b"\x00" * 4)]  # A-ABORT, no second C-CANCEL
    assert not assoc.established


def test_the_final_response_ends_the_cancel_grace(connected, monkeypatch):
    """Cancelled, and the peer answers 0xFE00 in time: the operation is over, the association is released, not aborted."""
    assoc, peer = connected
    assoc.cancel = CancelToken()
    assoc.send_message(1, find_rq())
    assoc.cancel.cancel()
    peer.sendall(pdu(4, pdv(1, 0x03, find_rsp(0xFE00))) + pdu(6, b"\x00" * 4))  # the final response, then A-RELEASE-RP
    assert assoc.receive().command["Status"] == 0xFE00
    assert assoc.cancel_sent_at is None
    monkeypatch.setattr(association, "CANCEL_GRACE", -1.0)
    assoc.release()
    sent = read_pdus(peer)
    assert [pdu_type for pdu_type, _ in sent] == [4, 4, 5]  # C-FIND-RQ, C-CANCEL-RQ, A-RELEASE-RQ
    assert decode_command(sent[1][1][6:])["CommandField"] == C_CANCEL_RQ


def test_a_cancel_with_nothing_to_c_cancel_aborts_at_once(connected):
    """A C-ECHO, or a Storage SCP's association at shutdown: no C-CANCEL exists for them (PS3.7 9.1.5)."""
    assoc, peer = connected
    assoc.cancel = CancelToken()
    assoc.cancel.cancel()
    with pytest.raises(Stopped):
        assoc.receive()
    assert read_pdus(peer) == [(7, b"\x00" * 4)]


def test_nothing_for_the_inactivity_time_aborts_in_the_services_words(connected):
    """The inactivity clock is the association's own last activity (here set back rather than waited for)."""
    assoc, peer = connected
    assoc.inactivity, assoc.silence = 30, "{address} went quiet for {timeout} s"
    assoc.last_activity -= 31
    with pytest.raises(Silent, match="PEER@test went quiet for 30 s"):
        assoc.receive()
    assert read_pdus(peer) == [(7, b"\x00" * 4)]


# ----------------------------------------------------------------------------- writing as it arrives


def test_uids_after_a_large_element_are_found_in_the_file(tmp_path):
    """Study and Series UIDs beyond the 64 kB kept in memory: read back from the file being written."""
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.add_new(0x00090010, "LO", "VIEWER TEST")
    ds.add_new(0x00091000, "OB", bytes(200_000))  # a private element before group 0020
    encoded = encode(ds, False, True)
    writer = InstanceWriter(tmp_path, {(ds.StudyInstanceUID, ds.SeriesInstanceUID)})
    pieces = [encoded[i : i + 16378] for i in range(0, len(encoded), 16378)]
    assert writer.store(str(ds.SOPClassUID), ds.SOPInstanceUID, "1.2.840.10008.1.2.1", pieces) == SUCCESS, writer.refused
    written = pydicom.dcmread(writer.written[0])
    assert written.SeriesInstanceUID == ds.SeriesInstanceUID
    assert written[0x00091000].value == bytes(200_000)
    writer.remove_partials()
    assert sorted(p.name for p in tmp_path.iterdir()) == [ds.StudyInstanceUID]  # no staging folder left


def test_a_prepared_file_that_is_not_used_is_removed(tmp_path):
    writer = InstanceWriter(tmp_path)
    writer.prepare()
    assert list((tmp_path / ".incoming").iterdir())
    writer.remove_partials()
    assert list(tmp_path.iterdir()) == []


def test_random_streams_end_in_peer_gone_only(connected):
    """Whatever bytes a peer sends, receive() returns a message or raises PeerGone: no other exception, no hang."""
    import random

    rng = random.Random(20261122)
    valid = pdu(4, pdv(1, 0x03, store_rq()) + pdv(1, 0x02, b"\x08\x00\x18\x00UI\x04\x001.2\x00"))
    for _case in range(300):
        ours, peer = socket.socketpair()
        ours.setblocking(False)
        assoc = Association("PEER@fuzz", "PEER", "VIEWER", poll=0.01)
        assoc.sock, assoc.established, assoc.peer_max_pdu = ours, True, 16384
        assoc.accepted = {1: ("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1")}
        stream = bytearray(valid * 2)
        for _ in range(rng.randint(1, 6)):  # damage a few bytes, or cut the stream short
            stream[rng.randrange(len(stream))] = rng.randrange(256)
        if rng.random() < 0.3:
            del stream[rng.randrange(len(stream)) :]
        peer.sendall(bytes(stream))
        peer.shutdown(socket.SHUT_WR)  # then the peer's end closes: a short stream cannot wait for ever
        try:
            for _ in range(3):
                assoc.receive()
        except PeerGone:
            pass
        finally:
            assoc.close()
            peer.close()
