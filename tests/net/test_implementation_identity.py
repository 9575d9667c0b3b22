"""Files this program writes, and its associations, name this program (PS3.10 7.1, PS3.7 D.3.3.2), not pynetdicom.

(0002,0012) *Implementation Class UID* and (0002,0013) *Implementation
Version Name* of files written by C-GET and by the C-MOVE Storage SCP are read
back with pydicom; what the associations carry is read from the peer's side:
a pynetdicom SCP's EVT_REQUESTED handler (the requests) and dcmtk's storescu
debug output (the Storage SCP's answer).
"""

from __future__ import annotations

import re
import subprocess
import threading

import pydicom
import pytest
from dicom_servers import DCMTK_ENV, dcmtk, free_port
from pydicom.data import get_testdata_file

from viewer import __version__
from viewer.core.net.echo import echo
from viewer.core.net.find import find
from viewer.core.net.nodes import LocalAE, Node, Timeouts
from viewer.core.net.retrieve import retrieve
from viewer.core.net.storage import InstanceWriter
from viewer.core.net.storage_scp import StorageSCP
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

pytestmark = pytest.mark.net


def test_the_identity_is_valid_and_not_pynetdicoms():
    from pynetdicom import PYNETDICOM_IMPLEMENTATION_UID, PYNETDICOM_IMPLEMENTATION_VERSION

    # PS3.5 B.2: a UUID-derived UID is 2.25 and the UUID as one decimal integer (at most 39 digits); UIDs at most 64 characters.
    assert re.fullmatch(r"2\.25\.[1-9][0-9]{0,38}", IMPLEMENTATION_CLASS_UID) and int(IMPLEMENTATION_CLASS_UID[5:]) < 2**128
    # SH: at most 16 characters of the default repertoire, no backslash (PS3.5 6.2).
    assert len(IMPLEMENTATION_VERSION_NAME) <= 16 and re.fullmatch(r"[ -\[\]-~]+", IMPLEMENTATION_VERSION_NAME)
    assert IMPLEMENTATION_VERSION_NAME == "DICOMVIEWER_" + ".".join(__version__.split(".")[:2])
    assert IMPLEMENTATION_CLASS_UID != str(PYNETDICOM_IMPLEMENTATION_UID)
    assert IMPLEMENTATION_VERSION_NAME != PYNETDICOM_IMPLEMENTATION_VERSION


def _assert_ours(files) -> None:
    assert files
    for path in files:
        meta = pydicom.dcmread(path, stop_before_pixels=True).file_meta
        assert meta.ImplementationClassUID == IMPLEMENTATION_CLASS_UID, path
        assert meta.ImplementationVersionName == IMPLEMENTATION_VERSION_NAME, path


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieved_files_name_this_program(orthanc, local_ae, ct_study, tmp_path, method):
    series = ct_study.series[1]
    result = retrieve(orthanc.node(retrieve=method), local_ae, tmp_path, ct_study.uid, series.uid, method=method)
    assert result.method == method and len(result.files) == len(series.files)
    _assert_ours(result.files)


def test_storage_scp_answer_and_files_name_this_program(tmp_path):
    """storescu sends to the C-MOVE Storage SCP; its debug output shows the A-ASSOCIATE-AC's user information."""
    writer = InstanceWriter(tmp_path / "cache")
    server = StorageSCP(LocalAE("VIEWERSCP", free_port()), writer).start()
    try:
        sent = subprocess.run(
            [
                dcmtk("storescu"),
                "-d",
                "-aet",
                "SENDER",
                "-aec",
                "VIEWERSCP",
                "127.0.0.1",
                str(server.local.move_port),
                get_testdata_file("CT_small.dcm"),
            ],
            env=DCMTK_ENV,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        server.shutdown()
    assert sent.returncode == 0, sent.stderr
    output = sent.stdout + sent.stderr
    assert re.search(rf"Their Implementation Class UID:\s+{re.escape(IMPLEMENTATION_CLASS_UID)}\s", output), output[-3000:]
    assert re.search(rf"Their Implementation Version Name:\s+{re.escape(IMPLEMENTATION_VERSION_NAME)}\s", output), output[-3000:]
    _assert_ours(writer.written)


@pytest.fixture
def listening_peer():
    """A pynetdicom SCP (Verification, Study Root C-FIND with no matches) noting each requestor's identity."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind, Verification

    seen: list[tuple[str, str]] = []
    lock = threading.Lock()

    def requested(event):
        with lock:
            seen.append((str(event.assoc.requestor.implementation_class_uid), event.assoc.requestor.implementation_version_name))

    def no_matches(event):
        yield from ()

    ae = AE(ae_title="PEER")
    ae.add_supported_context(Verification)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_REQUESTED, requested), (evt.EVT_C_FIND, no_matches)])
    try:
        yield Node("peer", "PEER", "127.0.0.1", port, timeouts=Timeouts(connect=5, acse=10, dimse=20)), seen
    finally:
        server.shutdown()


def test_association_requests_name_this_program(listening_peer):
    """C-ECHO and C-FIND (and C-GET, C-MOVE): all on the viewer's own association."""
    node, seen = listening_peer
    local = LocalAE("VIEWERTEST", free_port())
    echo(node, local)
    assert find(node, local, "study", {"PatientID": "NOBODY"}).matches == []
    assert seen == [(IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME)] * 2
