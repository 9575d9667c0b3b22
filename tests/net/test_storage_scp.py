"""The C-MOVE Storage SCP (viewer/core/net/storage_scp.py) as peers talk to it.

Senders: dcmtk's storescu and echoscu, pynetdicom's AE as an SCU, and, for
what neither will do (break off in the middle of an instance), the viewer's
own requestor (association.Association). Whole C-MOVEs from Orthanc and
dcmqrscp are in test_net_scu.py. Expected files come from the files sent.
"""

from __future__ import annotations

import copy
import subprocess
import threading
import time

import pydicom
import pytest
from dicom_servers import DCMTK_ENV, dcmtk, free_port
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from viewer.core.net.association import Association
from viewer.core.net.dimse import C_STORE_RQ, encode_command
from viewer.core.net.nodes import LocalAE, Timeouts
from viewer.core.net.pdu import Proposal
from viewer.core.net.storage import CANNOT_UNDERSTAND, InstanceWriter
from viewer.core.net.storage_scp import StorageSCP

pytestmark = pytest.mark.net

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PRIVATE_SOP_CLASS = "1.3.12.2.1107.5.9.1"  # Siemens CSA Non-Image Storage
#: pydicom's test files, one per transfer syntax.
SENT = (
    "CT_small.dcm",
    "JPEG2000.dcm",
    "MR_small_RLE.dcm",
    "JPEG-LL.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "SC_rgb_small_odd_jpeg.dcm",
    "image_dfl.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_implicit.dcm",
)


@pytest.fixture
def study_files(tmp_path):
    """The SENT files as one study and series, each with its own SOP Instance UID."""
    study_uid, series_uid = generate_uid(), generate_uid()
    folder = tmp_path / "send"
    folder.mkdir()
    paths = []
    for index, name in enumerate(SENT):
        ds = pydicom.dcmread(get_testdata_file(name))
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        path = folder / f"IM{index:04d}.dcm"
        ds.save_as(path)
        paths.append(path)
    return study_uid, series_uid, paths


@pytest.fixture
def scp(tmp_path):
    """Start a Storage SCP writing into tmp_path/cache; stopped (and its threads checked gone) at the end."""
    started = []

    def start(expected=None, **kwargs) -> tuple[StorageSCP, InstanceWriter]:
        writer = InstanceWriter(tmp_path / "cache", expected)
        server = StorageSCP(LocalAE("VIEWERSCP", free_port()), writer, **kwargs).start()
        started.append(server)
        return server, writer

    yield start
    for server in started:
        server.shutdown()
    assert not [t for t in threading.enumerate() if t.name.startswith("viewer-storage")]


def wait_for(condition, seconds: float = 60) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False): a limit for a hang, not a speed."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def storescu(port: int, *paths, extra=()) -> subprocess.CompletedProcess:
    return subprocess.run(
        [dcmtk("storescu"), *extra, "-aet", "SENDER", "-aec", "VIEWERSCP", "127.0.0.1", str(port), *map(str, paths)],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_every_transfer_syntax_arrives_as_sent(scp, study_files):
    """pynetdicom's SCU proposes each file's own syntax (dcmtk's storescu proposes one compressed syntax per run)."""
    from pynetdicom import AE

    study_uid, series_uid, paths = study_files
    server, writer = scp({(study_uid, series_uid)})
    datasets = [pydicom.dcmread(path) for path in paths]
    ae = AE(ae_title="SENDER")
    for ds in datasets:
        ae.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")
    try:
        assert assoc.is_established
        statuses = [assoc.send_c_store(ds).Status for ds in datasets]
    finally:
        assoc.release()
    assert statuses == [0x0000] * len(paths) and not writer.refused
    received = {pydicom.dcmread(p).SOPInstanceUID: p for p in writer.written}
    for path in paths:
        original = pydicom.dcmread(path)
        copy_ = pydicom.dcmread(received[original.SOPInstanceUID])
        assert copy_.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID, path.name
        assert copy_.PixelData == original.PixelData, path.name
        assert received[original.SOPInstanceUID] == writer.root / study_uid / series_uid / f"{original.SOPInstanceUID}.dcm"


def test_echoscu_is_answered(scp):
    server, _ = scp()
    done = subprocess.run(
        [dcmtk("echoscu"), "-aec", "VIEWERSCP", "127.0.0.1", str(server.local.move_port)],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr


def test_only_storage_and_verification_are_accepted(scp):
    """pynetdicom's SCU proposes a query model and a private class besides CT: those are refused in the
    answer (result 3, PS3.8 9.3.3.2); the study's private class is accepted once the SCP is told of it."""
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind

    for sop_classes, private_accepted in (([], False), ([PRIVATE_SOP_CLASS], True)):
        server, _ = scp(sop_classes=sop_classes)
        ae = AE(ae_title="SENDER")
        for uid in (CT_IMAGE_STORAGE, StudyRootQueryRetrieveInformationModelFind, PRIVATE_SOP_CLASS):
            ae.add_requested_context(uid)
        assoc = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")
        try:
            assert assoc.is_established
            accepted = {str(cx.abstract_syntax) for cx in assoc.accepted_contexts}
            rejected = {str(cx.abstract_syntax): cx.result for cx in assoc.rejected_contexts}
        finally:
            assoc.release()
        assert CT_IMAGE_STORAGE in accepted
        assert rejected[str(StudyRootQueryRetrieveInformationModelFind)] == 0x03
        assert (PRIVATE_SOP_CLASS in accepted) == private_accepted


def test_a_path_like_uid_sent_over_a_real_association_is_refused(scp, tmp_path):
    from pynetdicom import AE

    server, writer = scp()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.SOPInstanceUID = "1.2.3/../../../escape"
    ae = AE(ae_title="SENDER")
    ae.add_requested_context(CT_IMAGE_STORAGE, ds.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")
    try:
        status = assoc.send_c_store(ds)
    finally:
        assoc.release()
    assert status.Status == CANNOT_UNDERSTAND
    assert writer.written == [] and writer.refused
    assert [p for p in tmp_path.rglob("*.dcm") if "cache" in p.parts] == []


def test_more_associations_than_allowed_are_rejected_as_transient(scp):
    from pynetdicom import AE

    server, _ = scp(max_associations=1)
    ae = AE(ae_title="SENDER")
    ae.add_requested_context(CT_IMAGE_STORAGE)
    first = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")
    try:
        assert first.is_established
        second = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")
        assert second.is_rejected
        assert second.acceptor.primitive.result == 0x02 and second.acceptor.primitive.diagnostic == 0x02  # transient, local limit
    finally:
        first.release()
    third = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")  # the first is gone: room again
    assert third.is_established
    third.release()


def test_a_sender_broken_off_mid_instance_leaves_no_file(scp, tmp_path):
    """The peer sends the command and half of the dataset, then drops the connection."""
    server, writer = scp()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    from pynetdicom.dsutils import encode

    dataset = encode(ds, False, True)
    peer = Association("VIEWERSCP@127.0.0.1", "VIEWERSCP", "SENDER")
    peer.request("127.0.0.1", server.local.move_port, Proposal([(CT_IMAGE_STORAGE, ["1.2.840.10008.1.2.1"])]), 5, 5)
    command = encode_command(
        AffectedSOPClassUID=CT_IMAGE_STORAGE,
        CommandField=C_STORE_RQ,
        MessageID=1,
        Priority=0,
        CommandDataSetType=0x0000,
        AffectedSOPInstanceUID=ds.SOPInstanceUID,
    )
    peer.send(1, command)
    # Half the dataset in one PDV that is not the last fragment (control 0x00).
    import struct

    half = dataset[: len(dataset) // 2]
    peer.send_raw(struct.pack(">BxI", 4, len(half) + 6) + struct.pack(">IBB", len(half) + 2, 1, 0x00) + half)
    # Broken off once the half has been written (not after a fixed pause: on a busy machine it may not be yet).
    assert wait_for(lambda: any(p.stat().st_size >= len(half) for p in (tmp_path / "cache").rglob("*.part")))
    peer.sock.close()
    peer.sock = None
    assert wait_for(lambda: not server._associations)
    writer.remove_partials()  # what the C-MOVE does once it ends
    assert writer.written == []
    assert [p for p in tmp_path.rglob("*") if p.is_file() and "cache" in p.parts] == []


def test_a_silent_association_is_ended_after_the_inactivity_timeout_and_shutdown_is_prompt(scp):
    from pynetdicom import AE

    server, _ = scp(timeouts=Timeouts(connect=5, acse=5, dimse=1.0))
    ae = AE(ae_title="SENDER")
    ae.add_requested_context(CT_IMAGE_STORAGE)
    assoc = ae.associate("127.0.0.1", server.local.move_port, ae_title="VIEWERSCP")
    assert assoc.is_established
    assert wait_for(lambda: not assoc.is_established)
    assert assoc.is_aborted  # we aborted it: nothing came for 1 s

    patient = scp(timeouts=Timeouts(connect=5, acse=5, dimse=None))[0]
    held = ae.associate("127.0.0.1", patient.local.move_port, ae_title="VIEWERSCP")
    assert held.is_established
    # The C-MOVE is over while a peer still holds an association (with no DIMSE timeout: it would hold it
    # for ever). Shutdown ends it rather than waiting for the peer: it returns, and the peer is let go.
    stopping = threading.Thread(target=patient.shutdown, name="test-shutdown")
    stopping.start()
    stopping.join(60)
    assert not stopping.is_alive()
    assert wait_for(lambda: not held.is_established)


def test_the_port_in_use_is_a_plain_message(scp):
    from viewer.core.dicom.io import ViewerError

    server, _ = scp()
    with pytest.raises(ViewerError, match=f"cannot listen on port {server.local.move_port} for C-MOVE"):
        StorageSCP(LocalAE("OTHER", server.local.move_port), InstanceWriter(server.writer.root)).start()


def test_many_instances_in_one_association_all_arrive_whole(scp, tmp_path):
    """Fifty copies of a CT slice through one storescu association (the C-MOVE case)."""
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    study_uid, series_uid = generate_uid(), generate_uid()
    folder = tmp_path / "many"
    folder.mkdir()
    uids = []
    for index in range(50):
        ds = copy.deepcopy(source)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.save_as(folder / f"IM{index:04d}.dcm")
        uids.append(ds.SOPInstanceUID)
    server, writer = scp({(study_uid, None)})
    done = storescu(server.local.move_port, folder, extra=("+sd",))
    assert done.returncode == 0, done.stderr
    assert sorted(p.stem for p in writer.written) == sorted(uids)
    for path in writer.written[:5]:
        assert (pydicom.dcmread(path).pixel_array == source.pixel_array).all()
