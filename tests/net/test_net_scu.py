"""C-ECHO, C-FIND, C-GET and C-MOVE against real servers: Orthanc and dcmtk's dcmqrscp.

Expected matches and files come from what the fixtures loaded (conftest.STUDIES
via dataset_dir), compared with the answers through pydicom.
"""

from __future__ import annotations

import copy
import fnmatch
import time

import numpy as np
import pydicom
import pytest
from dicom_servers import assert_same_instances, free_port, make_study, orthanc_instance_count, orthanc_upload, start_orthanc, store_folder
from pydicom.data import get_testdata_file

from viewer.core.dicom.charset import element_text
from viewer.core.dicom.io import ViewerError
from viewer.core.media.cache import COMPLETE_MARKER
from viewer.core.net.association import AssociationLog
from viewer.core.net.echo import echo
from viewer.core.net.find import find
from viewer.core.net.nodes import LocalAE, Node, Timeouts
from viewer.core.net.retrieve import retrieve
from viewer.core.runtime.tasks import CancelToken

pytestmark = pytest.mark.net


# ----------------------------------------------------------------------------- C-ECHO


def test_echo(server, local_ae):
    log = AssociationLog()
    seconds = echo(server.node(), local_ae, log)
    assert 0 < seconds < 5
    assert any("A-ASSOCIATE-AC" in line for line in log.lines)


def test_echo_wrong_called_ae_is_refused(server, local_ae):
    """Both servers check the called AE title and send A-ASSOCIATE-RJ (PS3.8 9.3.4).

    Now and then (measured: 1 in 100 against Orthanc, 1 in 10 against dcmqrscp)
    pynetdicom sees the connection close before it reads the RJ and reports an
    abort, without the reason; hence up to three tries, each a ViewerError.
    """
    node = Node("wrong", "NOT-THE-PACS", "127.0.0.1", server.port)
    messages = []
    for _ in range(3):
        with pytest.raises(ViewerError) as info:
            echo(node, local_ae)
        messages.append(str(info.value))
        assert messages[-1].startswith("NOT-THE-PACS@127.0.0.1")
        if "refused the association" in messages[-1]:
            break
    assert "refused the association: Called AE title not recognised" in messages[-1], messages


def test_echo_without_listener_fails_fast(local_ae):
    node = Node("nobody", "NOBODY", "127.0.0.1", free_port(), timeouts=Timeouts(connect=60, acse=60, dimse=60))
    start = time.monotonic()
    with pytest.raises(ViewerError) as info:
        echo(node, local_ae)
    # Not a speed check: only the time tells a refusal at once from the 60 s connect timeout waited out;
    # half of it leaves any load room (test_one_stack.py checks the message says the connection was refused).
    assert time.monotonic() - start < 30
    assert "NOBODY@127.0.0.1" in str(info.value)
    assert "Traceback" not in str(info.value)


@pytest.fixture
def stalling_peer(local_ae):
    """A DICOM peer that accepts a C-ECHO, C-FIND, C-GET or C-MOVE and then says nothing (a PACS stuck on a slow query).

    The one place a test peer is ours rather than Orthanc or dcmtk: neither can
    be told to stall. Released when the test ends. ``node.asked`` (a
    threading.Event) is set once a request has reached it. Its C-MOVE
    associates with the viewer's Storage SCP (``local_ae``), then sends nothing.
    """
    import threading

    from pynetdicom import AE, evt
    from pynetdicom.sop_class import (
        CTImageStorage,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelMove,
        Verification,
    )

    release = threading.Event()
    asked = threading.Event()

    def on_echo(event):
        asked.set()
        release.wait(60)
        return 0x0000

    def on_find(event):
        asked.set()
        release.wait(60)
        yield 0x0000, None

    def on_get(event):
        asked.set()
        yield 1  # one sub-operation to come...
        release.wait(60)  # ...that never does
        yield 0x0000, None

    def on_move(event):
        asked.set()
        yield "127.0.0.1", local_ae.move_port
        yield 1  # one sub-operation to come...
        release.wait(60)  # ...that never does

    ae = AE(ae_title="STALLING")
    for model in (
        Verification,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelMove,
    ):
        ae.add_supported_context(model)
    ae.add_requested_context(CTImageStorage)  # for the C-MOVE's association with the move destination
    port = free_port()
    handlers = [(evt.EVT_C_ECHO, on_echo), (evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get), (evt.EVT_C_MOVE, on_move)]
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=handlers)
    node = Node("stalling", "STALLING", "127.0.0.1", port, timeouts=Timeouts(connect=5, acse=5, dimse=60))
    node.asked = asked
    yield node
    release.set()
    server.shutdown()


def cancel_once_asked(peer) -> CancelToken:
    """A token the user cancels once the stalling peer has the request (whatever the machine's speed)."""
    import threading

    cancel = CancelToken()
    threading.Thread(target=lambda: peer.asked.wait(60) and cancel.cancel(), daemon=True).start()
    return cancel


def test_find_cancelled_while_the_peer_stalls_ends_within_the_grace(stalling_peer, local_ae):
    """Closing the window cancels a search: a peer that never answers must not hold it for the 60 s DIMSE timeout.

    Waiting that timeout out ends the same way (no matches, no error), so only
    the time tells them apart: the bound is half the timeout, not a speed (the
    grace is 2 s), and the cancel comes once the peer has the request.
    """
    start = time.monotonic()
    result = find(stalling_peer, local_ae, "study", {"PatientName": "*"}, cancel=cancel_once_asked(stalling_peer))
    assert stalling_peer.asked.is_set()
    assert result.matches == []
    assert time.monotonic() - start < stalling_peer.timeouts.dimse / 2


def test_get_from_a_peer_that_stops_sending_ends_after_the_inactivity_timeout(stalling_peer, local_ae, tmp_path):
    """Connected but silent mid-transfer: abandoned after the DIMSE inactivity time, with a plain message."""
    stalling_peer.timeouts = Timeouts(connect=5, acse=5, dimse=1.0)
    with pytest.raises(ViewerError, match="stopped sending for 1 s"):  # the inactivity limit, said as such
        retrieve(stalling_peer, local_ae, tmp_path, "1.2.3.4", None, sop_classes=[])  # [] : no C-FIND for them first
    assert not any(tmp_path.rglob("*.part"))


@pytest.mark.parametrize("sop_classes", [[], None], ids=["C-GET stalls", "C-FIND for the study's SOP classes stalls"])
def test_get_cancelled_while_the_peer_stalls_ends_within_the_grace(stalling_peer, local_ae, tmp_path, sop_classes):
    """As the search above: the grace, not the 60 s DIMSE timeout, ends a cancelled retrieve."""
    cancel = cancel_once_asked(stalling_peer)
    start = time.monotonic()
    result = retrieve(stalling_peer, local_ae, tmp_path, "1.2.3.4", None, None, cancel, sop_classes=sop_classes)
    assert stalling_peer.asked.is_set() and cancel.cancelled
    assert result.files == []
    assert time.monotonic() - start < stalling_peer.timeouts.dimse / 2


def test_echo_to_a_peer_that_never_answers_ends_after_the_inactivity_timeout(stalling_peer, local_ae):
    """C-ECHO waits as every service does: nothing for the node's inactivity time, and the association is aborted."""
    stalling_peer.timeouts = Timeouts(connect=5, acse=5, dimse=1.0)
    log = AssociationLog()
    with pytest.raises(ViewerError, match=r"STALLING@127\.0\.0\.1:\d+ did not answer the C-ECHO \(nothing for 1 s\)"):
        echo(stalling_peer, local_ae, log)
    assert stalling_peer.asked.is_set()
    assert any(line.endswith("-> A-ABORT") for line in log.lines), log.text()


def test_move_from_a_peer_that_stops_sending_ends_after_the_inactivity_timeout(stalling_peer, local_ae, tmp_path):
    """As C-GET: a C-MOVE whose responses stop, and whose Storage SCP receives nothing, is abandoned after the inactivity time."""
    stalling_peer.timeouts = Timeouts(connect=5, acse=5, dimse=1.0)
    with pytest.raises(ViewerError, match="stopped sending for 1 s"):
        retrieve(stalling_peer, local_ae, tmp_path, "1.2.3.4", None, method="move", sop_classes=[])
    assert stalling_peer.asked.is_set()
    assert not any(tmp_path.rglob("*.part"))


def test_move_cancelled_while_the_peer_stalls_ends_within_the_grace(stalling_peer, local_ae, tmp_path):
    """As C-GET and C-FIND: the cancel sends C-CANCEL, and the grace, not the 60 s inactivity time, ends it."""
    cancel = cancel_once_asked(stalling_peer)
    log = AssociationLog()
    start = time.monotonic()
    result = retrieve(stalling_peer, local_ae, tmp_path, "1.2.3.4", None, None, cancel, log, method="move", sop_classes=[])
    assert stalling_peer.asked.is_set() and cancel.cancelled
    assert result.files == [] and result.method == "move"
    assert time.monotonic() - start < stalling_peer.timeouts.dimse / 2
    lines = [line.split(" ", 1)[1] for line in log.lines]
    assert "-> C-CANCEL-RQ (for message 1)" in lines and "-> A-ABORT" in lines, lines


# ----------------------------------------------------------------------------- C-FIND


def _pn_matches(pattern: str, name: str) -> bool:
    """DICOM PN wildcard matching (PS3.4 C.2.2.2.4): * any run, ? one character."""
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


FILTER_CASES = {
    "name-star": ({"PatientName": "Doe^J*"}, lambda s: _pn_matches("Doe^J*", s.patient_name)),
    "name-question": ({"PatientName": "Doe^Ja?e"}, lambda s: _pn_matches("Doe^Ja?e", s.patient_name)),
    "name-star-middle": ({"PatientName": "*^Jo*"}, lambda s: _pn_matches("*^Jo*", s.patient_name)),
    "patient-id": ({"PatientID": "PID002"}, lambda s: s.patient_id == "PID002"),
    "accession": ({"AccessionNumber": "ACC001"}, lambda s: s.accession == "ACC001"),
    "date-range": ({"StudyDate": "20230101-20231231"}, lambda s: "20230101" <= s.date <= "20231231"),
    "date-from": ({"StudyDate": "20240101-"}, lambda s: s.date >= "20240101"),
    "modality": ({"ModalitiesInStudy": "MR"}, lambda s: "MR" in s.modalities),
    "description": ({"StudyDescription": "CT HEAD"}, lambda s: s.description == "CT HEAD"),
    "referring": ({"ReferringPhysicianName": "Wilson^James"}, lambda s: s.referring == "Wilson^James"),
}


@pytest.mark.parametrize("case", FILTER_CASES)
def test_find_study_filters(server, local_ae, studies, case):
    filters, predicate = FILTER_CASES[case]
    if server.kind == "dcmqrscp" and "ModalitiesInStudy" in filters:
        pytest.skip("dcmqrscp does not index (0008,0061) Modalities in Study")
    expected = {s.uid for s in studies if predicate(s)}
    assert expected, "the case must match something"
    result = find(server.node(), local_ae, "study", filters)
    assert {m.StudyInstanceUID for m in result.matches} == expected
    assert not result.more


def test_find_series_under_study(server, local_ae, ct_study):
    result = find(server.node(), local_ae, "series", {"StudyInstanceUID": ct_study.uid})
    found = {m.SeriesInstanceUID: m for m in result.matches}
    assert set(found) == {s.uid for s in ct_study.series}
    for series in ct_study.series:
        match = found[series.uid]
        assert match.Modality == series.modality
        assert int(match.SeriesNumber) == series.number
        if server.kind == "orthanc":  # dcmqrscp does not count instances
            assert int(match.NumberOfSeriesRelatedInstances) == len(series.files)


def test_patient_root_series_under_study(server, local_ae, ct_study):
    """Patient Root below STUDY needs the Patient ID (PS3.4 C.4.1.2.2.1; dcmqrscp answers 0xC000 without):
    looked up when the caller does not give it, or taken as given."""
    node = server.node(query_model="patient")
    for filters in ({"StudyInstanceUID": ct_study.uid}, {"StudyInstanceUID": ct_study.uid, "PatientID": ct_study.patient_id}):
        result = find(node, local_ae, "series", filters)
        assert {m.SeriesInstanceUID for m in result.matches} == {s.uid for s in ct_study.series}, filters


@pytest.mark.parametrize("method", ["get", "move"])
@pytest.mark.parametrize("patient_id", [None, "given"])
def test_patient_root_retrieve(server, local_ae, ct_study, tmp_path, method, patient_id):
    """Patient Root C-GET and C-MOVE identifiers carry the Patient ID (PS3.4 C.4.2.2.1): without it dcmqrscp
    matched nothing and answered success with no sub-operations."""
    series = ct_study.series[1]
    node = server.node(query_model="patient", retrieve=method)
    log = AssociationLog()
    result = retrieve(
        node, local_ae, tmp_path, ct_study.uid, series.uid, method=method, log=log, patient_id=ct_study.patient_id if patient_id else None
    )
    assert result.method == method, log.text()
    assert_same_instances(result.files, series.files)


@pytest.mark.parametrize("case", ["unknown series", "unknown patient"])
def test_a_retrieve_the_node_has_nothing_for_says_so(server, local_ae, ct_study, tmp_path, case):
    """Nothing to send (a series it does not hold; for dcmqrscp also a Patient ID it does not hold, which
    Orthanc ignores): a plain one-line message, not '0 files'."""
    if case == "unknown patient" and server.kind == "orthanc":
        pytest.skip("Orthanc does not match the Patient ID of a C-GET identifier")
    series_uid = "1.2.3.4.5.6.7.8.9" if case == "unknown series" else ct_study.series[1].uid
    patient_id = "NO-SUCH-PATIENT" if case == "unknown patient" else None
    node = server.node(query_model="patient" if patient_id else "study")
    with pytest.raises(ViewerError) as info:
        retrieve(node, local_ae, tmp_path, ct_study.uid, series_uid, method="get", patient_id=patient_id, sop_classes=[])
    message = str(info.value)
    assert server.address in message and "\n" not in message, message
    # dcmqrscp answers success with no sub-operations; Orthanc a bare 0xC000 for a series it does not know.
    assert ("nothing was sent" if server.kind == "dcmqrscp" else "0xC000: unable to process") in message, message
    if patient_id:
        assert patient_id in message
    assert not list(tmp_path.rglob("*.dcm"))


@pytest.mark.parametrize("pattern", ["Müller*", "王*", "Иванов*"])
def test_find_non_ascii_name(orthanc, local_ae, studies, pattern):
    expected = [s for s in studies if _pn_matches(pattern, s.patient_name)]
    assert len(expected) == 1
    result = find(orthanc.node(charset="ISO_IR 192"), local_ae, "study", {"PatientName": pattern})
    assert [m.StudyInstanceUID for m in result.matches] == [expected[0].uid]
    decoded = element_text(result.matches[0], 0x00100010)
    assert decoded.text == expected[0].patient_name
    assert not decoded.suspect


def test_find_cap(server, local_ae, studies):
    assert len(studies) > 2
    result = find(server.node(), local_ae, "study", {}, cap=2)
    assert len(result.matches) == 2
    assert result.more
    # The association ended cleanly: the next query works.
    assert len(find(server.node(), local_ae, "study", {}).matches) == len(studies)


# ----------------------------------------------------------------------------- C-GET


def _no_partials(root) -> None:
    assert not [p for p in root.rglob("*") if p.name.endswith(".part")]


def test_get_study(server, local_ae, ct_study, tmp_path):
    result = retrieve(server.node(retrieve="get"), local_ae, tmp_path, ct_study.uid)
    assert result.method == "get" and not result.cached and not result.failed_instances
    assert_same_instances(result.files, [f for s in ct_study.series for f in s.files])
    assert result.progress.done and result.progress.failed == 0
    for series in ct_study.series:
        assert (tmp_path / ct_study.uid / series.uid / COMPLETE_MARKER).exists()
    _no_partials(tmp_path)


def test_get_series_then_cached_unless_forced(server, local_ae, ct_study, tmp_path):
    series = ct_study.series[1]
    node = server.node(retrieve="get")
    first = retrieve(node, local_ae, tmp_path, ct_study.uid, series.uid)
    assert not first.cached
    assert_same_instances(first.files, series.files)
    assert all(f.parent == tmp_path / ct_study.uid / series.uid for f in first.files)

    log = AssociationLog()
    again = retrieve(node, local_ae, tmp_path, ct_study.uid, series.uid, log=log)
    assert again.cached and sorted(again.files) == sorted(first.files)
    assert log.lines == []  # no association at all

    forced = retrieve(node, local_ae, tmp_path, ct_study.uid, series.uid, force=True, log=log)
    assert not forced.cached and len(forced.files) == len(series.files)
    assert any("A-ASSOCIATE-AC" in line for line in log.lines)


def test_get_cancelled_after_first_file(server, local_ae, ct_study, tmp_path):
    series = ct_study.series[0]
    cancel = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if p.received >= 1:
            cancel.cancel()

    result = retrieve(server.node(retrieve="get"), local_ae, tmp_path, ct_study.uid, series.uid, progress, cancel)
    assert cancel.cancelled and seen
    _no_partials(tmp_path)
    files = sorted((tmp_path / ct_study.uid / series.uid).glob("*"))
    assert files == sorted(result.files)
    assert 1 <= len(files) < len(series.files)  # both servers honour C-CANCEL (measured: 2 of 10 arrive)
    originals = {pydicom.dcmread(f).SOPInstanceUID: f for f in series.files}
    for path in files:  # every file there is whole
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(ds.pixel_array, pydicom.dcmread(originals[ds.SOPInstanceUID]).pixel_array)
    # A cancelled series is not marked complete: the next retrieve fetches it.
    assert not (tmp_path / ct_study.uid / series.uid / COMPLETE_MARKER).exists()
    assert not retrieve(server.node(), local_ae, tmp_path, ct_study.uid, series.uid).cached


def test_get_server_killed_midway(tmp_path, tmp_path_factory, local_ae, dcmqrscp):
    """The PACS dies during a C-GET: a plain error, no half files, other nodes still work."""
    data = tmp_path / "data"
    study = make_study(data, "Kill^Me", "PID900", "ACC900", "20240301", "CT LONG", "Nobody^Doctor", [("CT_small.dcm", "CT", 40)])
    victim = start_orthanc(tmp_path_factory.mktemp("orthanc-victim"), local_ae)
    try:
        store_folder(victim.ae_title, victim.port, data)
        assert orthanc_instance_count(victim) == 40

        def progress(p):
            if p.received >= 1 and victim.process.poll() is None:
                victim.process.kill()
                victim.process.wait(10)

        cache = tmp_path / "cache"
        with pytest.raises(ViewerError) as info:
            retrieve(victim.node(retrieve="get"), local_ae, cache, study.uid, progress=progress)
    finally:
        victim.stop()
    message = str(info.value)
    assert "stopped sending" not in message  # the lost connection itself, not the DIMSE inactivity timeout
    assert victim.address in message and "\n" not in message and "Traceback" not in message
    _no_partials(cache)
    for path in cache.rglob("*.dcm"):
        pydicom.dcmread(path).pixel_array  # complete, decodable
    assert not list(cache.rglob(COMPLETE_MARKER))
    assert echo(dcmqrscp.node(), local_ae) > 0


# ----------------------------------------------------------------------------- C-MOVE


def test_move_series(server, local_ae, ct_study, tmp_path):
    series = ct_study.series[0]
    result = retrieve(server.node(retrieve="move"), local_ae, tmp_path, ct_study.uid, series.uid)
    assert result.method == "move" and not result.failed_instances
    assert_same_instances(result.files, series.files)
    assert result.progress.completed == len(series.files) and result.progress.failed == 0
    _no_partials(tmp_path)


def test_move_cancelled_after_first_file(server, local_ae, ct_study, tmp_path):
    """A cancel during a C-MOVE sends C-CANCEL on the same association as the request (PS3.4 C.4.2.2.2);
    both servers stop, answer 0xFE00, and what arrived is kept, whole, the series not marked complete."""
    series = ct_study.series[0]
    cancel = CancelToken()
    log = AssociationLog()

    def progress(p):
        if p.received >= 1:
            cancel.cancel()

    result = retrieve(server.node(retrieve="move"), local_ae, tmp_path, ct_study.uid, series.uid, progress, cancel, log, method="move")
    lines = [line.split(" ", 1)[1] for line in log.lines]
    assert cancel.cancelled and result.method == "move"
    assert "-> C-CANCEL-RQ (for message 1)" in lines and "<- C-MOVE-RSP status 0xFE00" in lines, lines
    _no_partials(tmp_path)
    files = sorted((tmp_path / ct_study.uid / series.uid).glob("*"))
    assert files == sorted(result.files)
    assert 1 <= len(files) < len(series.files)
    originals = {pydicom.dcmread(f).SOPInstanceUID: f for f in series.files}
    for path in files:  # every file there is whole
        ds = pydicom.dcmread(path)
        np.testing.assert_array_equal(ds.pixel_array, pydicom.dcmread(originals[ds.SOPInstanceUID]).pixel_array)
    assert not (tmp_path / ct_study.uid / series.uid / COMPLETE_MARKER).exists()


def test_move_study(orthanc, local_ae, ct_study, tmp_path):
    result = retrieve(orthanc.node(retrieve="move"), local_ae, tmp_path, ct_study.uid)
    assert result.method == "move"
    assert_same_instances(result.files, [f for s in ct_study.series for f in s.files])


def test_move_to_unknown_destination(dcmqrscp, local_ae, ct_study, tmp_path):
    """dcmqrscp answers 0xA801 (PS3.4 C.4.2.1.4.1): the user reads the plain meaning."""
    stranger = LocalAE("STRANGER", local_ae.move_port)
    with pytest.raises(ViewerError) as info:
        retrieve(dcmqrscp.node(retrieve="move"), stranger, tmp_path, ct_study.uid, ct_study.series[1].uid, method="move")
    message = str(info.value)
    assert "move destination unknown" in message and "\n" not in message
    assert not list(tmp_path.rglob("*.dcm"))


def test_move_refused_by_orthanc_falls_back_to_get(orthanc, local_ae, ct_study, tmp_path):
    """Orthanc answers an unknown destination with a bare 0xC000 (its log: 'Unknown modality
    for AET'), which cannot be told from 'unable to process': the viewer falls back to C-GET."""
    stranger = LocalAE("STRANGER", local_ae.move_port)
    log = AssociationLog()
    series = ct_study.series[1]
    result = retrieve(orthanc.node(retrieve="move"), stranger, tmp_path, ct_study.uid, series.uid, log=log)
    assert any("MOVE refused: failure 0xC000" in line for line in log.lines)
    assert result.method == "get"
    assert_same_instances(result.files, series.files)


def test_get_refused_falls_back_to_move(dcmqrscp_without_get, local_ae, ct_study, tmp_path):
    series = ct_study.series[1]
    log = AssociationLog()
    result = retrieve(dcmqrscp_without_get.node(retrieve="get"), local_ae, tmp_path, ct_study.uid, series.uid, log=log)
    assert result.method == "move"
    assert_same_instances(result.files, series.files)
    assert any("GET refused" in line for line in log.lines)


def test_both_methods_refused_names_both(dcmqrscp_without_get, local_ae, ct_study, tmp_path):
    """C-GET refused, then C-MOVE to a destination the server does not know."""
    stranger = LocalAE("STRANGER", local_ae.move_port)
    with pytest.raises(ViewerError) as info:
        retrieve(dcmqrscp_without_get.node(retrieve="get"), stranger, tmp_path, ct_study.uid, ct_study.series[1].uid)
    message = str(info.value)
    assert "move destination unknown" in message
    assert "C-GET" in message, message


# ----------------------------------------------------------------------------- a study with a vendor's private SOP class

#: Siemens CSA Non-Image Storage: a private SOP class found in real CT and MR studies.
PRIVATE_SOP_CLASS = "1.3.12.2.1107.5.9.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


@pytest.fixture(scope="module")
def private_class_pacs(tmp_path_factory, local_ae):
    """An Orthanc holding one study: 3 CT images and, in a second series, one instance of a private SOP class.

    Its own Orthanc, so the session servers' study counts stay as the other tests expect.
    """
    data = tmp_path_factory.mktemp("private-class-data")
    study = make_study(
        data,
        "Vendor^Private",
        "PID800",
        "ACC800",
        "20240401",
        "CT WITH CSA",
        "Nobody^Doctor",
        [("CT_small.dcm", "CT", 3), ("CT_small.dcm", "OT", 1)],
    )
    private = study.series[1].files[0]
    ds = pydicom.dcmread(private)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = PRIVATE_SOP_CLASS
    ds.save_as(private)
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-private"), local_ae)
    try:
        store_folder(server.ae_title, server.port, data)
        orthanc_upload(server, private)  # storescu proposes no context for a class it does not know
        assert orthanc_instance_count(server) == 4, server.log()
        yield server, study
    finally:
        server.stop()


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieve_a_study_with_a_private_sop_class(private_class_pacs, local_ae, tmp_path, method):
    """Without SOP classes from a search (the command line), the study's own are asked for first:
    C-GET proposes the private class, the C-MOVE Storage SCP accepts it; all four instances arrive."""
    server, study = private_class_pacs
    log = AssociationLog()
    result = retrieve(server.node(retrieve=method), local_ae, tmp_path, study.uid, log=log, method=method)
    assert result.method == method and not result.failed_instances, (result.failed_instances, log.text())
    assert_same_instances(result.files, [f for s in study.series for f in s.files])
    assert pydicom.dcmread(next(f for f in result.files if f.parent.name == study.series[1].uid)).SOPClassUID == PRIVATE_SOP_CLASS
    assert result.progress.failed == 0 and result.progress.remaining == 0
    for series in study.series:
        assert (tmp_path / study.uid / series.uid / COMPLETE_MARKER).exists()


def test_retrieve_names_the_instances_the_pacs_could_not_send(private_class_pacs, local_ae, tmp_path):
    """Told the study holds CT images only, C-GET does not propose the private class: Orthanc fails
    that sub-operation and lists it (0008,0058), and the user reads which instance it was."""
    server, study = private_class_pacs
    private_uid = study.series[1].sop_uids[0]
    with pytest.raises(ViewerError) as info:
        retrieve(server.node(retrieve="get"), local_ae, tmp_path, study.uid, sop_classes=[CT_IMAGE_STORAGE])
    message = str(info.value)
    assert private_uid in message and "could not be sent" in message, message
    assert "\n" not in message and "protocol" not in message
    _no_partials(tmp_path)
    assert not list(tmp_path.rglob(COMPLETE_MARKER))


@pytest.fixture
def partial_get_peer():
    """pynetdicom's C-GET SCP sending a series of two CT images and one instance of a private class.

    The private class has no accepted context (the retrieve says the study holds CT images only), so
    pynetdicom fails that sub-operation and ends with 0xB000 and the identifier that lists it
    (PS3.4 C.4.3.1.3.1): the spec's way, where Orthanc puts the list into the command set.
    """
    from pynetdicom import AE, StoragePresentationContexts, evt
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet

    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    study_uid, series_uid = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    instances = []
    for sop_class in (CT_IMAGE_STORAGE, CT_IMAGE_STORAGE, PRIVATE_SOP_CLASS):
        ds = copy.deepcopy(source)
        ds.SOPClassUID, ds.SOPInstanceUID = sop_class, pydicom.uid.generate_uid()
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        instances.append(ds)

    def on_get(event):
        yield len(instances)
        for ds in instances:
            yield 0xFF00, ds

    ae = AE(ae_title="PARTIAL")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, scu_role=False, scp_role=True)
    port = free_port()
    server = ae.start_server(("127.0.0.1", port), block=False, evt_handlers=[(evt.EVT_C_GET, on_get)])
    yield Node("partial", "PARTIAL", "127.0.0.1", port, timeouts=Timeouts(connect=5, acse=5, dimse=20)), instances
    server.shutdown()


def test_get_with_a_failed_sub_operation_lists_it_and_keeps_the_series_incomplete(partial_get_peer, local_ae, tmp_path):
    node, instances = partial_get_peer
    study_uid, series_uid = instances[0].StudyInstanceUID, instances[0].SeriesInstanceUID
    result = retrieve(node, local_ae, tmp_path, study_uid, series_uid, method="get", sop_classes=[CT_IMAGE_STORAGE])
    assert sorted(f.stem for f in result.files) == sorted(ds.SOPInstanceUID for ds in instances[:2])
    assert result.progress.completed == 2 and result.progress.failed == 1
    assert len(result.failed_instances) == 1 and result.failed_instances[0].startswith(instances[2].SOPInstanceUID), result.failed_instances
    _no_partials(tmp_path)
    # Not complete: asking again fetches it, instead of answering "already in the cache".
    assert not (tmp_path / study_uid / series_uid / COMPLETE_MARKER).exists()
    assert not retrieve(node, local_ae, tmp_path, study_uid, series_uid, method="get", sop_classes=[CT_IMAGE_STORAGE]).cached


# ----------------------------------------------------------------------------- compressed transfer syntaxes

#: pydicom's test files, one per transfer syntax a PACS may store (each its own series).
STORED_SYNTAXES = {
    "JPEG2000.dcm": "1.2.840.10008.1.2.4.91",
    "emri_small_jpeg_2k_lossless.dcm": "1.2.840.10008.1.2.4.90",
    "MR_small_RLE.dcm": "1.2.840.10008.1.2.5",
    "JPEG-LL.dcm": "1.2.840.10008.1.2.4.70",
    "SC_rgb_small_odd_jpeg.dcm": "1.2.840.10008.1.2.4.50",
    "JPEG-lossy.dcm": "1.2.840.10008.1.2.4.51",
    "MR_small_jpeg_ls_lossless.dcm": "1.2.840.10008.1.2.4.80",
    "image_dfl.dcm": "1.2.840.10008.1.2.1.99",
    "MR_small_bigendian.dcm": "1.2.840.10008.1.2.2",
}


@pytest.fixture(scope="module")
def compressed_pacs(tmp_path_factory, local_ae):
    """An Orthanc holding one study whose series are each stored in another transfer syntax
    (loaded through its REST API: storescu proposes uncompressed syntaxes only)."""
    data = tmp_path_factory.mktemp("compressed-data")
    study = make_study(
        data,
        "Packed^Pixels",
        "PID700",
        "ACC700",
        "20240501",
        "MIXED SYNTAXES",
        "Nobody^Doctor",
        [(name, "OT", 1) for name in STORED_SYNTAXES],
    )
    for series, syntax in zip(study.series, STORED_SYNTAXES.values()):
        assert pydicom.dcmread(series.files[0]).file_meta.TransferSyntaxUID == syntax
    server = start_orthanc(tmp_path_factory.mktemp("orthanc-compressed"), local_ae)
    try:
        for series in study.series:
            orthanc_upload(server, series.files[0])
        yield server, study
    finally:
        server.stop()


@pytest.mark.parametrize("method", ["get", "move"])
def test_retrieved_instances_keep_their_stored_transfer_syntax(compressed_pacs, local_ae, tmp_path, method):
    """Each instance arrives as it is stored, pixel data byte for byte: over C-GET that needs a context per
    transfer syntax (Orthanc fails a C-GET whose instance it cannot transcode to the one accepted)."""
    server, study = compressed_pacs
    log = AssociationLog()
    result = retrieve(server.node(retrieve=method), local_ae, tmp_path, study.uid, method=method, log=log)
    assert result.method == method and not result.failed_instances, log.text()
    received = {pydicom.dcmread(path).SeriesInstanceUID: path for path in result.files}
    assert set(received) == {s.uid for s in study.series}
    for series, syntax in zip(study.series, STORED_SYNTAXES.values()):
        original, copy_ = pydicom.dcmread(series.files[0]), pydicom.dcmread(received[series.uid])
        assert copy_.file_meta.TransferSyntaxUID == syntax, received[series.uid].name
        assert copy_.SOPInstanceUID == original.SOPInstanceUID and copy_.PixelData == original.PixelData, syntax
