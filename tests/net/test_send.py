"""C-STORE SCU (viewer.core.net.send, dicom-viewer send) against real peers on loopback.

Orthanc is started for this module with JPEG 2000 and JPEG refused and
unknown SOP classes refused, so transcoding and refused contexts happen for
real; dcmqrscp (the session's) accepts only uncompressed syntaxes. What
arrives is read back from the peer (Orthanc's REST API, dcmqrscp's storage
folder) and compared with the files sent: byte for byte where the syntax was
kept, pixel for pixel against gdcm's decompression (gdcmconv --raw, an
independent decoder) where it was transcoded. The source files are hashed
before and after. Network faults come from a small Storage SCP of our own
that drops the connection in the middle of a C-STORE.
"""

from __future__ import annotations

import copy
import hashlib
import json
import socket
import subprocess
import urllib.request
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_servers import VIEWER_AET, server_binary, start_orthanc
from fake_scp import DroppingSCP
from pydicom.data import get_testdata_file
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.core.net.association import AssociationLog
from viewer.core.net.nodes import LocalAE, Node, Timeouts
from viewer.core.net.reconcile import PatientFields, reconciler
from viewer.core.net.send import FAILED, NOT_SENT, REFUSED, STORED, send
from viewer.core.runtime.tasks import CancelToken

pytestmark = pytest.mark.net

PRIVATE_SOP_CLASS = "1.2.826.0.1.3680043.9.7433.9.1"  # a class no PACS knows: Orthanc refuses it here
LOCAL = LocalAE(VIEWER_AET)


def _copy(source: str, folder: Path, name: str, study_uid: str, series_uid: str, sop_class: str | None = None) -> Path:
    """A copy of one of pydicom's test files with new instance UIDs, in its own transfer syntax."""
    ds = pydicom.dcmread(get_testdata_file(source))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
    ds.PatientID, ds.PatientName, ds.AccessionNumber = "OUTSIDE-7", "Doe^Jane", "EXT123"
    if sop_class:
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = sop_class
    path = folder / name
    ds.save_as(path)
    return path


@pytest.fixture(scope="module")
def disc(tmp_path_factory) -> dict[str, list[Path]]:
    """An "outside CD": CT slices (Explicit VR LE), an RLE MR, a lossless and a lossy JPEG 2000, a lossy JPEG, a private class."""
    folder = tmp_path_factory.mktemp("disc")
    study = generate_uid()
    files = {
        "ct": [_copy("CT_small.dcm", folder, f"CT{i}.dcm", study, generate_uid()) for i in range(4)],
        "rle": [_copy("MR_small_RLE.dcm", folder, "RLE.dcm", study, generate_uid())],
        "j2k_lossless": [_copy("MR_small_jp2klossless.dcm", folder, "J2KLL.dcm", study, generate_uid())],
        "j2k_lossy": [_copy("JPEG2000.dcm", folder, "J2K.dcm", study, generate_uid())],
        "jpeg_lossy": [_copy("JPEG-lossy.dcm", folder, "JPEG.dcm", study, generate_uid())],
        "private": [_copy("CT_small.dcm", folder, "PRIV.dcm", study, generate_uid(), PRIVATE_SOP_CLASS)],
    }
    return files


def _hashes(paths) -> dict[Path, str]:
    return {Path(p): hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths}


@pytest.fixture(scope="module")
def refusing_orthanc(tmp_path_factory):
    """An Orthanc that refuses JPEG 2000 and JPEG (baseline, extended, lossless) and SOP classes it does not know."""
    server = start_orthanc(
        tmp_path_factory.mktemp("orthanc-send"),
        LOCAL,
        "PACS",
        config={
            "Jpeg2000TransferSyntaxAccepted": False,
            "JpegTransferSyntaxAccepted": False,
            "UnknownSopClassAccepted": False,
            "OverwriteInstances": True,  # a second send of an instance replaces the first (reconciled copies)
        },
    )
    try:
        yield server
    finally:
        server.stop()


def orthanc_file(server, sop_instance_uid: str) -> bytes:
    """The file Orthanc stored for an instance (REST: /tools/lookup, then /instances/ID/file)."""
    lookup = urllib.request.Request(f"http://127.0.0.1:{server.http_port}/tools/lookup", data=sop_instance_uid.encode(), method="POST")
    with urllib.request.urlopen(lookup, timeout=10) as answer:
        found = [m for m in json.load(answer) if m["Type"] == "Instance"]
    assert found, f"Orthanc holds no instance {sop_instance_uid}"
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/instances/{found[0]['ID']}/file", timeout=10) as answer:
        return answer.read()


def dataset_bytes(data: bytes) -> bytes:
    """The encoded dataset of a Part 10 file: what follows the File Meta Information."""
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(data), stop_before_pixels=True)
    meta_length = 132 + 12 + int(ds.file_meta.FileMetaInformationGroupLength)
    return data[meta_length:]


def gdcm_pixels(path: Path, tmp_path: Path) -> np.ndarray:
    """The pixels as gdcm decompresses them (gdcmconv --raw): the reference for a transcoded instance."""
    out = tmp_path / f"raw-{path.name}"
    subprocess.run([server_binary("gdcmconv", ("/usr/bin", "/usr/local/bin")), "--raw", str(path), str(out)], check=True, timeout=60)
    return pydicom.dcmread(out).pixel_array


def test_send_to_orthanc_keeps_syntax_transcodes_lossless_and_refuses_the_rest(refusing_orthanc, disc, tmp_path):
    files = [p for group in disc.values() for p in group]
    before = _hashes(files)
    log = AssociationLog()
    seen = []
    result = send(refusing_orthanc.node(), LOCAL, files, log=log, progress=seen.append)
    fates = {Path(f.path).name: f for f in result.fates}
    assert [p.done for p in seen] == list(range(1, len(files) + 1))  # progress per instance

    # Stored as they are: the same dataset bytes arrive (Orthanc keeps what it receives).
    for path in disc["ct"] + disc["rle"]:
        fate = fates[path.name]
        assert (fate.fate, fate.status, fate.transcoded) == (STORED, 0x0000, False)
        assert dataset_bytes(orthanc_file(refusing_orthanc, fate.sop_instance_uid)) == dataset_bytes(path.read_bytes())
    # JPEG 2000 Lossless refused by the node: decompressed to Explicit VR LE, the same pixels as gdcm's decoding.
    lossless = fates["J2KLL.dcm"]
    assert (lossless.fate, lossless.sent_syntax, lossless.transcoded) == (STORED, ExplicitVRLittleEndian, True)
    arrived = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc_file(refusing_orthanc, lossless.sop_instance_uid)))
    assert arrived.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    np.testing.assert_array_equal(arrived.pixel_array, gdcm_pixels(disc["j2k_lossless"][0], tmp_path))
    assert arrived.PatientID == "OUTSIDE-7" and arrived.SOPInstanceUID == lossless.sop_instance_uid
    # Lossy JPEG 2000 and JPEG: refused, with the reason; the private class: refused context.
    for name in ("J2K.dcm", "JPEG.dcm"):
        assert fates[name].fate == REFUSED and "lossy" in fates[name].reason
    assert fates["PRIV.dcm"].fate == REFUSED and "does not accept" in fates["PRIV.dcm"].reason
    assert not result.all_stored and set(result.failures()) == {str(disc[k][0]) for k in ("j2k_lossy", "jpeg_lossy", "private")}
    assert result.associations_lost == 0 and log.text().count("A-ASSOCIATE-RQ") == 1  # one association for the run
    assert "refused: MR Image Storage in JPEG 2000 Image Compression (Lossless Only)" in log.text()  # the refused contexts
    assert _hashes(files) == before  # the source files are never written


def test_send_to_dcmqrscp_decompresses_for_an_uncompressed_only_node(dcmqrscp, disc, tmp_path):
    files = disc["ct"][:2] + disc["rle"] + disc["j2k_lossless"]
    result = send(dcmqrscp.node(), LOCAL, [*files, *disc["jpeg_lossy"]])
    lossy = result.fates.pop()
    assert lossy.fate == REFUSED and "lossy" in lossy.reason  # dcmqrscp refused its JPEG context too
    assert [f.fate for f in result.fates] == [STORED] * 4, [f.reason for f in result.fates]
    stored = {}
    for path in (dcmqrscp.workdir / "storage").rglob("*"):
        if path.is_file() and path.name != "index.dat":
            ds = pydicom.dcmread(path)
            stored[ds.SOPInstanceUID] = ds
    for path, fate in zip(files, result.fates):
        arrived = stored[fate.sop_instance_uid]
        original = pydicom.dcmread(path)
        if fate.transcoded:
            reference = gdcm_pixels(path, tmp_path)
        else:  # dcmqrscp accepts Explicit VR LE: the CT as stored
            assert fate.sent_syntax == original.file_meta.TransferSyntaxUID
            reference = original.pixel_array
        np.testing.assert_array_equal(arrived.pixel_array, reference)
        for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPClassUID", "Rows", "Columns"):
            assert arrived[keyword].value == original[keyword].value
    assert [f.transcoded for f in result.fates] == [False, False, True, True]  # RLE and JPEG 2000 decompressed


def test_reconciled_copies_are_sent_and_the_files_stay(refusing_orthanc, tmp_path):
    study = generate_uid()
    files = [_copy("CT_small.dcm", tmp_path, f"R{i}.dcm", study, generate_uid()) for i in range(2)]
    before = _hashes(files)
    fields = PatientFields(patient_id="H-0042", issuer="OUR-HOSPITAL", patient_name="王^小明", accession="A-99")
    result = send(refusing_orthanc.node(), LOCAL, files, prepare=reconciler(fields))
    assert result.all_stored
    for path, fate in zip(files, result.fates):
        arrived = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc_file(refusing_orthanc, fate.sop_instance_uid)))
        original = pydicom.dcmread(path)
        assert (arrived.PatientID, arrived.IssuerOfPatientID, arrived.PatientName, arrived.AccessionNumber) == (
            "H-0042",
            "OUR-HOSPITAL",
            "王^小明",
            "A-99",
        )
        assert arrived.SpecificCharacterSet == "ISO_IR 192"  # CT_small.dcm's ISO_IR 100 cannot hold it
        changed = {"PatientID", "IssuerOfPatientID", "PatientName", "AccessionNumber", "SpecificCharacterSet"}
        for element in original:
            if element.keyword not in changed:
                assert arrived[element.tag].value == element.value, element.keyword
    assert _hashes(files) == before


def test_patient_fields_are_checked():
    with pytest.raises(Exception, match="longer than 16"):
        PatientFields(accession="X" * 17).changes()
    with pytest.raises(Exception, match="backslash"):
        PatientFields(patient_id="A\\B").changes()
    assert not PatientFields() and PatientFields(issuer="")


def test_cancel_stops_after_the_instance_in_flight(refusing_orthanc, disc):
    cancel = CancelToken()

    def progress(report):
        if report.done == 2:
            cancel.cancel()

    result = send(refusing_orthanc.node(), LOCAL, disc["ct"], progress=progress, cancel=cancel)
    assert [f.fate for f in result.fates] == [STORED, STORED, NOT_SENT, NOT_SENT]
    assert result.cancelled and all("cancelled" in f.reason for f in result.fates[2:])


def test_unreachable_node_reports_every_instance(disc):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there once closed
    node = Node("gone", "NOBODY", "127.0.0.1", port, timeouts=Timeouts(connect=2, acse=2, dimse=2))
    result = send(node, LOCAL, disc["ct"][:2])
    assert [f.fate for f in result.fates] == [NOT_SENT, NOT_SENT]
    assert all("cannot connect" in f.reason for f in result.fates)


# ----------------------------------------------------------------------------- network faults


def _arrived(scp: DroppingSCP) -> dict[str, bytes]:
    return {path.stem: dataset_bytes(path.read_bytes()) for path in scp.writer.written}


def test_a_dropped_connection_is_reopened_and_nothing_is_lost(disc, tmp_path):
    scp = DroppingSCP(tmp_path / "received", drops=[3, None])
    try:
        files = disc["ct"] + disc["rle"]
        before = _hashes(files)
        log = AssociationLog()
        result = send(scp.node(), LOCAL, files, log=log)
    finally:
        scp.stop()
    assert [f.fate for f in result.fates] == [STORED] * 5, [f.reason for f in result.fates]
    assert result.associations_lost == 1 and scp.connections == 2
    arrived = _arrived(scp)
    for path, fate in zip(files, result.fates):  # the instance in flight went again, whole
        assert arrived[fate.sop_instance_uid] == dataset_bytes(path.read_bytes())
    assert "association lost" in log.text()
    assert _hashes(files) == before


def test_a_node_that_goes_away_leaves_each_instance_with_its_fate(disc, tmp_path):
    scp = DroppingSCP(tmp_path / "received", drops=[2], accept_after=1)
    try:
        result = send(scp.node(), LOCAL, disc["ct"])
    finally:
        scp.stop()
    assert [f.fate for f in result.fates] == [STORED, NOT_SENT, NOT_SENT, NOT_SENT]
    assert all("could not be opened again" in f.reason for f in result.fates[1:])
    assert "may or may not have it" in result.fates[1].reason  # the one in flight when the node went
    assert not any("may or may not" in f.reason for f in result.fates[2:])
    assert set(_arrived(scp)) == {result.fates[0].sop_instance_uid}


def test_an_instance_the_node_drops_every_time_fails_and_the_rest_go(disc, tmp_path):
    scp = DroppingSCP(tmp_path / "received", drops=[1, 1, None])
    try:
        result = send(scp.node(), LOCAL, disc["ct"][:3])
    finally:
        scp.stop()
    assert [f.fate for f in result.fates] == [FAILED, STORED, STORED]
    assert "broke each time" in result.fates[0].reason and result.associations_lost == 2


# ----------------------------------------------------------------------------- command line


def test_cli_send_exit_codes_and_json(refusing_orthanc, disc, capsys, monkeypatch, tmp_path):
    from viewer.cli import main

    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))
    folder = disc["ct"][0].parent
    good = tmp_path / "good"
    good.mkdir()
    for path in disc["ct"]:
        (good / path.name).write_bytes(path.read_bytes())
    assert main(["send", refusing_orthanc.address, str(good), "--json", "--aet", VIEWER_AET]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["stored"] == summary["total"] == 4
    assert {i["fate"] for i in summary["instances"]} == {"stored"} and summary["instances"][0]["status"] == "0x0000"

    assert main(["send", refusing_orthanc.address, str(folder), "--json"]) == 2
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert (summary["stored"], summary["refused"], summary["total"]) == (6, 3, 9)
    refused = [i for i in summary["instances"] if i["fate"] == "refused"]
    assert all(i["reason"] for i in refused)
    assert captured.err.strip().count("\n") == 0 and "3 of 9 instances not stored" in captured.err

    fresh = _copy("CT_small.dcm", tmp_path, "fresh.dcm", generate_uid(), generate_uid())
    assert main(["send", refusing_orthanc.address, str(fresh), "--patient-id", "NEW-1"]) == 0
    out = capsys.readouterr().out
    assert "1 instance of 1 stored" in out
    arrived = pydicom.dcmread(pydicom.filebase.DicomBytesIO(orthanc_file(refusing_orthanc, pydicom.dcmread(fresh).SOPInstanceUID)))
    assert arrived.PatientID == "NEW-1"


def test_cli_send_bad_input_is_one_line(capsys, monkeypatch, tmp_path):
    from viewer.cli import main

    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["send", "PACS@127.0.0.1:104", str(empty)]) == 2
    assert "no DICOM instances found" in capsys.readouterr().err
    assert main(["send", "PACS@127.0.0.1:104", str(empty), "--accession", "X" * 40]) == 2
    assert "longer than 16" in capsys.readouterr().err
    assert main(["send", "not-a-node", str(empty)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_transcoded_copy_is_not_the_file(disc):
    """A copy made for a transcode never touches the file it came from (the decoder works on memory)."""
    from viewer.core.net.outgoing import payload, survey

    path = disc["j2k_lossless"][0]
    before = path.read_bytes()
    item = survey(path)
    data, _, uid, transcoded = payload(item, ExplicitVRLittleEndian, None)
    assert transcoded and uid == item.sop_instance_uid and path.read_bytes() == before
    ds = pydicom.filereader.read_dataset(pydicom.filebase.DicomBytesIO(data), False, True)
    original = pydicom.dcmread(path)
    assert ds.PixelData == copy.deepcopy(original).pixel_array.astype("<u2" if original.PixelRepresentation == 0 else "<i2").tobytes()


def test_large_datasets_are_streamed_from_the_file(disc, tmp_path, monkeypatch):
    """Above STREAM_ABOVE the dataset is read in pieces as it is sent: the same bytes arrive."""
    from viewer.core.net import outgoing
    from viewer.core.net import send as send_module

    monkeypatch.setattr(outgoing, "STREAM_ABOVE", 1000)  # every test file is larger
    monkeypatch.setattr(send_module, "_STREAM_READ", 20000)  # one PDU's worth per read: several reads per file
    scp = DroppingSCP(tmp_path / "received", drops=[])
    try:
        files = disc["ct"][:2] + disc["rle"]
        result = send(scp.node(), LOCAL, files)
    finally:
        scp.stop()
    assert [f.fate for f in result.fates] == [STORED] * 3
    arrived = _arrived(scp)
    for path, fate in zip(files, result.fates):
        assert arrived[fate.sop_instance_uid] == dataset_bytes(path.read_bytes())


@pytest.mark.parametrize("name", ["MR_small_bigendian.dcm", "image_dfl.dcm", "MR_small_implicit.dcm", "SC_rgb_rle.dcm"])
@pytest.mark.parametrize("target", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2"])
def test_lossless_re_encoding_keeps_every_value(name, target):
    """Big endian, deflated, implicit and RLE instances re-encoded for a little-endian context: pydicom reading
    the original file (the reference) and reading what would be sent see the same values and pixels."""
    from viewer.core.net.outgoing import payload, survey

    path = get_testdata_file(name)
    data, _, _, transcoded = payload(survey(path), target, None)
    sent = pydicom.filereader.read_dataset(pydicom.filebase.DicomBytesIO(data), target == "1.2.840.10008.1.2", True)
    sent.file_meta = pydicom.dataset.FileMetaDataset()
    sent.file_meta.TransferSyntaxUID = target
    original = pydicom.dcmread(path)
    assert transcoded == (original.file_meta.TransferSyntaxUID != target)
    np.testing.assert_array_equal(sent.pixel_array, original.pixel_array)
    for element in original:
        if element.keyword not in ("PixelData", "PhotometricInterpretation", "PlanarConfiguration") and element.VR != "SQ":
            assert sent[element.tag].value == element.value, element.keyword


def test_statuses_warning_and_failure_are_reported_with_their_codes(disc, tmp_path, capsys, monkeypatch):
    """A node answering 0xB000 (coercion: stored, warning) and 0xA700 (out of resources: failed, PS3.4 B.2.3)."""
    from viewer.cli import main

    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))
    scp = DroppingSCP(tmp_path / "received", drops=[], answers={2: 0xB000, 3: 0xA700})
    try:
        code = main(["send", f"FAKE@127.0.0.1:{scp.port}", *map(str, disc["ct"]), "--json"])
    finally:
        scp.stop()
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    fates = [(i["fate"], i["status"]) for i in summary["instances"]]
    assert fates == [("stored", "0x0000"), ("warning", "0xB000"), ("failed", "0xA700"), ("stored", "0x0000")]
    assert "out of resources" in summary["instances"][2]["reason"] and "test refusal" in summary["instances"][2]["reason"]
    assert "coercion" in summary["instances"][1]["reason"]
    assert code == 2 and "1 of 4 instances not stored" in captured.err and "1 failed" in captured.err  # a warning is stored


def test_a_prepare_hook_that_fails_costs_only_its_instance(disc, tmp_path):
    bad = pydicom.dcmread(disc["ct"][1]).SOPInstanceUID

    def prepare(ds):
        if ds.SOPInstanceUID == bad:
            raise RuntimeError("cannot handle this one")
        return ds

    scp = DroppingSCP(tmp_path / "received", drops=[])
    try:
        result = send(scp.node(), LOCAL, disc["ct"], prepare=prepare)
    finally:
        scp.stop()
    assert [f.fate for f in result.fates] == [STORED, FAILED, STORED, STORED]
    assert "could not be prepared" in result.fates[1].reason and "cannot handle this one" in result.fates[1].reason


def test_cli_sends_dicomdir_media(disc, tmp_path, capsys, monkeypatch):
    """A media root with a DICOMDIR made by dcmtk's dcmmkdir: its records' files are what is sent."""
    from viewer.cli import main

    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))
    media = tmp_path / "media"
    (media / "DICOM").mkdir(parents=True)
    for number, path in enumerate(disc["ct"]):
        (media / "DICOM" / f"IM{number:06d}").write_bytes(path.read_bytes())
    subprocess.run(
        [
            server_binary("dcmmkdir", ("/usr/bin", "/usr/local/bin")),
            "+r",
            "+id",
            str(media),
            "-Pgp",
            "+D",
            str(media / "DICOMDIR"),
            "DICOM",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    scp = DroppingSCP(tmp_path / "received", drops=[])
    try:
        assert main(["send", f"FAKE@127.0.0.1:{scp.port}", str(media / "DICOMDIR"), "--json"]) == 0
    finally:
        scp.stop()
    summary = json.loads(capsys.readouterr().out)
    assert summary["stored"] == summary["total"] == 4
    assert set(_arrived(scp)) == {pydicom.dcmread(p).SOPInstanceUID for p in disc["ct"]}


def test_cli_reconciles_one_patient_only(tmp_path, capsys, monkeypatch):
    """New identifiers are one patient's; an Accession Number one study's (PS3.3 C.7.2.1)."""
    from viewer.cli import main

    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))
    first, second = generate_uid(), generate_uid()
    a = _copy("CT_small.dcm", tmp_path, "A.dcm", first, generate_uid())
    b = _copy("CT_small.dcm", tmp_path, "B.dcm", second, generate_uid())  # the same patient, another study
    other = pydicom.dcmread(b)
    other.PatientID, other.PatientName = "SOMEONE-ELSE", "Roe^Richard"
    other.SOPInstanceUID = other.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    other.save_as(tmp_path / "C.dcm")
    scp = DroppingSCP(tmp_path / "received", drops=[])
    node = f"FAKE@127.0.0.1:{scp.port}"
    try:
        assert main(["send", node, str(a), str(tmp_path / "C.dcm"), "--patient-id", "H-1"]) == 2
        assert "2 patients" in capsys.readouterr().err
        assert main(["send", node, str(a), str(b), "--accession", "A-1"]) == 2
        assert "2 studies" in capsys.readouterr().err
        assert scp.stores == 0  # refused before any association
        assert main(["send", node, str(a), str(b), "--patient-id", "H-1", "--json"]) == 0  # one patient's two studies
    finally:
        scp.stop()
    assert sorted(pydicom.dcmread(p).PatientID for p in scp.writer.written) == ["H-1", "H-1"]


def test_a_real_pacs_that_stops_answering_mid_send_loses_nothing(refusing_orthanc, tmp_path):
    """Orthanc frozen (SIGSTOP) after the second instance: the third C-STORE goes unanswered, the association
    is given up after the node's inactivity time, Orthanc resumes (SIGCONT, when the log says so: no clock
    in the test), a new association sends that instance again and the rest; every instance arrives whole."""
    import os
    import signal

    study = generate_uid()
    files = [_copy("CT_small.dcm", tmp_path, f"F{i}.dcm", study, generate_uid()) for i in range(5)]
    pid = refusing_orthanc.process.pid

    class ResumingLog(AssociationLog):
        def add(self, text: str) -> None:
            super().add(text)
            if "did not answer a C-STORE" in text:
                os.kill(pid, signal.SIGCONT)

    def progress(report) -> None:
        if report.done == 2:
            os.kill(pid, signal.SIGSTOP)

    node = refusing_orthanc.node(timeouts=Timeouts(connect=5, acse=10, dimse=1))
    try:
        result = send(node, LOCAL, files, progress=progress, log=ResumingLog())
    finally:
        os.kill(pid, signal.SIGCONT)  # whatever happened, the server runs on for the other tests
    assert [f.fate for f in result.fates] == [STORED] * 5, [f.reason for f in result.fates]
    assert result.associations_lost == 1
    for path, fate in zip(files, result.fates):
        assert dataset_bytes(orthanc_file(refusing_orthanc, fate.sop_instance_uid)) == dataset_bytes(path.read_bytes())


def test_de_identified_copies_are_sent_with_the_same_new_uids_again(tmp_path, capsys, monkeypatch):
    """``send --deidentify --key K``: what arrives is the PS3.15 Basic Profile's copy (no name, ID or UID of
    the source), the files never change, and a second send with the same key gives the same new UIDs, so the
    receiving PACS holds the study once; reconciliation applies after it."""
    from viewer.cli import main

    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))
    study = generate_uid()
    (tmp_path / "disc").mkdir()
    files = [_copy("CT_small.dcm", tmp_path / "disc", f"D{i}.dcm", study, generate_uid()) for i in range(2)]
    before = _hashes(files)
    originals = [pydicom.dcmread(p) for p in files]
    key = tmp_path / "key.json"
    received = []
    for run in range(2):
        scp = DroppingSCP(tmp_path / f"received{run}", drops=[])
        try:
            node = f"FAKE@127.0.0.1:{scp.port}"
            args = ["send", node, str(tmp_path / "disc"), "--deidentify", "--key", str(key), "--aet", VIEWER_AET]
            assert main(args + (["--patient-name", "STUDY^BOARD"] if run else [])) == 0, capsys.readouterr().err
        finally:
            scp.stop()
        received.append(sorted((pydicom.dcmread(p) for p in scp.writer.written), key=lambda ds: ds.SOPInstanceUID))
    assert key.exists() and _hashes(files) == before
    first, second = received
    assert len(first) == len(second) == 2
    for ds in first:
        assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethodCodeSequence
        for original in originals:
            assert ds.SOPInstanceUID != original.SOPInstanceUID and ds.StudyInstanceUID != original.StudyInstanceUID
            assert str(ds.PatientName) != str(original.PatientName) and ds.PatientID != original.PatientID
        texts = [str(e.value) for e in ds.iterall() if e.VR in ("PN", "LO", "SH", "LT", "ST")]
        assert not any(str(originals[0].PatientName) in t or originals[0].PatientID in t for t in texts if t)
    assert [ds.SOPInstanceUID for ds in first] == [ds.SOPInstanceUID for ds in second]  # the key: the same new UIDs
    assert {ds.StudyInstanceUID for ds in first} == {ds.StudyInstanceUID for ds in second}
    assert all(str(ds.PatientName) == "STUDY^BOARD" for ds in second)  # reconciled after de-identification


def test_a_key_without_deidentify_is_refused_in_one_line(tmp_path, capsys):
    from viewer.cli import main

    path = _copy("CT_small.dcm", tmp_path, "k.dcm", generate_uid(), generate_uid())
    assert main(["send", "FAKE@127.0.0.1:9", str(path), "--key", str(tmp_path / "k.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--deidentify" in err
