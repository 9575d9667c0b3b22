"""DICOM over TLS (PS3.15 B.1) against a real peer: Orthanc with DicomTlsEnabled.

A throw-away CA signs Orthanc's certificate (DNS:localhost, IP:127.0.0.1) and
a client certificate (dicom_servers.make_tls_files, openssl command line); a
second, unrelated CA stands for "somebody else's PKI". Two Orthancs speak TLS
only: one accepts clients without a certificate, one demands one
(DicomTlsRemoteCertificateRequired). Each is loaded over TLS by dcmtk's
storescu, and the expected UIDs come from the files loaded.

C-ECHO, C-FIND and C-GET all go through the app's own association
(association.open_association, tls.client_context): each operation is tried
for every failure case.
"""

from __future__ import annotations

import pydicom
import pytest
from dicom_servers import (
    Server,
    Study,
    TlsFiles,
    assert_same_instances,
    echoscu_answers,
    make_study,
    make_tls_files,
    orthanc_instance_count,
    start_orthanc,
    store_folder,
)

from viewer.core.dicom.io import ViewerError
from viewer.core.media.cache import COMPLETE_MARKER
from viewer.core.net.association import AssociationLog
from viewer.core.net.echo import echo
from viewer.core.net.find import find
from viewer.core.net.nodes import Node
from viewer.core.net.retrieve import retrieve

pytestmark = pytest.mark.net


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> TlsFiles:
    """The CA Orthanc's certificate and the viewer's client certificate come from."""
    return make_tls_files(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory) -> TlsFiles:
    """An unrelated CA, with its own client certificate: trusted by nobody here."""
    return make_tls_files(tmp_path_factory.mktemp("pki-other"), ca_name="other")


@pytest.fixture(scope="module")
def tls_study(tmp_path_factory) -> Study:
    return make_study(
        tmp_path_factory.mktemp("tls-data"),
        "Secure^Sam",
        "PIDTLS01",
        "ACCTLS01",
        "20240410",
        "CT TLS",
        "Crypto^Carl",
        [("CT_small.dcm", "CT", 4), ("CT_small.dcm", "CT", 2)],
    )


def _loaded_tls_orthanc(workdir, local_ae, pki: TlsFiles, study: Study, require_client_cert: bool):
    server = start_orthanc(workdir, local_ae, "ORTHANCTLS", tls=pki, require_client_cert=require_client_cert)
    try:
        store_folder(server.ae_title, server.port, study.series[0].files[0].parent, tls=pki)
        assert orthanc_instance_count(server) == study.instance_count, server.log()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="module")
def tls_orthanc(tmp_path_factory, local_ae, pki, tls_study):
    """Orthanc speaking TLS only; a client certificate is checked if sent, not required."""
    server = _loaded_tls_orthanc(tmp_path_factory.mktemp("orthanc-tls"), local_ae, pki, tls_study, require_client_cert=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tls_orthanc_cert_required(tmp_path_factory, local_ae, pki, tls_study):
    """Orthanc speaking TLS only, refusing clients without a certificate signed by the CA."""
    server = _loaded_tls_orthanc(tmp_path_factory.mktemp("orthanc-tls-mutual"), local_ae, pki, tls_study, require_client_cert=True)
    try:
        yield server
    finally:
        server.stop()


def _tls_node(server: Server, pki: TlsFiles, host: str = "localhost", client_cert: TlsFiles | None = None, **kwargs) -> Node:
    """A node trusting `pki`'s CA; with `client_cert`, presenting that PKI's client certificate."""
    if client_cert is not None:
        kwargs.update(tls_cert_file=str(client_cert.client_cert), tls_key_file=str(client_cert.client_key))
    return server.node(host=host, tls_ca_file=str(pki.ca), **kwargs)


def _operation(name: str, node: Node, local_ae, study: Study, cache):
    """One DICOM operation: 'echo', 'find' or 'get' (all on the app's own association)."""
    if name == "echo":
        return echo(node, local_ae)
    if name == "find":
        return find(node, local_ae, "study", {"PatientID": study.patient_id})
    return retrieve(node, local_ae, cache, study.uid, study.series[1].uid, method="get", force=True)


OPERATIONS = ["echo", "find", "get"]


def _assert_user_message(info, node: Node) -> str:
    """A ViewerError a user can read: one line, naming the node, no traceback."""
    message = str(info.value)
    assert node.address in message, message
    assert "\n" not in message and "Traceback" not in message, message
    return message


# ----------------------------------------------------------------------------- the servers really speak TLS


def test_tls_orthanc_refuses_plain_dicom(tls_orthanc, local_ae):
    """Without this, every test below could pass over plain TCP."""
    assert not echoscu_answers(tls_orthanc.ae_title, tls_orthanc.port)
    assert echoscu_answers(tls_orthanc.ae_title, tls_orthanc.port, tls_orthanc.tls)
    node = tls_orthanc.node(host="localhost")  # no CA file: plain DICOM
    with pytest.raises(ViewerError) as info:
        echo(node, local_ae)
    _assert_user_message(info, node)


# ----------------------------------------------------------------------------- server authenticated by the CA


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])  # the certificate's DNS and IP subjectAltNames
def test_echo_over_tls(tls_orthanc, pki, local_ae, host):
    log = AssociationLog()
    seconds = echo(_tls_node(tls_orthanc, pki, host), local_ae, log)
    assert 0 < seconds < 5
    assert any("A-ASSOCIATE-AC" in line for line in log.lines)


def test_find_over_tls(tls_orthanc, pki, local_ae, tls_study):
    node = _tls_node(tls_orthanc, pki)
    result = find(node, local_ae, "study", {"PatientID": tls_study.patient_id})
    assert [m.StudyInstanceUID for m in result.matches] == [tls_study.uid]
    assert str(result.matches[0].PatientName) == tls_study.patient_name
    series = find(node, local_ae, "series", {"StudyInstanceUID": tls_study.uid})
    assert {m.SeriesInstanceUID for m in series.matches} == {s.uid for s in tls_study.series}


def test_get_series_over_tls(tls_orthanc, pki, local_ae, tls_study, tmp_path):
    series = tls_study.series[0]
    log = AssociationLog()
    result = retrieve(_tls_node(tls_orthanc, pki), local_ae, tmp_path, tls_study.uid, series.uid, method="get", log=log)
    assert result.method == "get" and not result.cached and not result.failed_instances
    assert sorted(pydicom.dcmread(f).SOPInstanceUID for f in result.files) == sorted(series.sop_uids)
    assert_same_instances(result.files, series.files)
    assert all(f.parent == tmp_path / tls_study.uid / series.uid for f in result.files)
    assert (tmp_path / tls_study.uid / series.uid / COMPLETE_MARKER).exists()
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    assert any("A-ASSOCIATE-AC" in line for line in log.lines)


def test_get_study_over_tls(tls_orthanc, pki, local_ae, tls_study, tmp_path):
    result = retrieve(_tls_node(tls_orthanc, pki), local_ae, tmp_path, tls_study.uid, method="get")
    assert_same_instances(result.files, [f for s in tls_study.series for f in s.files])


# ----------------------------------------------------------------------------- client certificate required


@pytest.mark.parametrize("operation", OPERATIONS)
def test_client_certificate_accepted_when_required(tls_orthanc_cert_required, pki, local_ae, tls_study, tmp_path, operation):
    node = _tls_node(tls_orthanc_cert_required, pki, client_cert=pki)
    result = _operation(operation, node, local_ae, tls_study, tmp_path)
    if operation == "find":
        assert [m.StudyInstanceUID for m in result.matches] == [tls_study.uid]
    elif operation == "get":
        assert_same_instances(result.files, tls_study.series[1].files)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("client", ["no certificate", "certificate of another CA"])
def test_client_without_trusted_certificate_refused(
    tls_orthanc_cert_required, pki, other_pki, local_ae, tls_study, tmp_path, operation, client
):
    """Orthanc ends the TLS handshake; the user reads one line, not a traceback, and nothing is written."""
    node = _tls_node(tls_orthanc_cert_required, pki, client_cert=None if client == "no certificate" else other_pki)
    with pytest.raises(ViewerError) as info:
        _operation(operation, node, local_ae, tls_study, tmp_path)
    _assert_user_message(info, node)
    assert not list(tmp_path.rglob("*.dcm"))
    # The server is fine afterwards: the same operation with the right certificate works.
    _operation(operation, _tls_node(tls_orthanc_cert_required, pki, client_cert=pki), local_ae, tls_study, tmp_path)


# ----------------------------------------------------------------------------- server not trusted


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("case", ["CA file of another CA", "host not in the certificate"])
def test_untrusted_server_refused_with_a_clear_message(tls_orthanc, pki, other_pki, local_ae, tls_study, tmp_path, operation, case):
    """The viewer will not talk to a server its CA file does not vouch for, and says it is the certificate.

    'host not in the certificate': 127.0.0.2 reaches the same Orthanc on
    Linux's loopback, but the certificate names only localhost and 127.0.0.1.
    """
    if case == "CA file of another CA":
        node = _tls_node(tls_orthanc, other_pki)
    else:
        node = _tls_node(tls_orthanc, pki, host="127.0.0.2")
    with pytest.raises(ViewerError) as info:
        _operation(operation, node, local_ae, tls_study, tmp_path)
    message = _assert_user_message(info, node)
    assert "certificate" in message.lower(), f"the message does not say the server's certificate was not trusted: {message!r}"
    assert not list(tmp_path.rglob("*.dcm"))


@pytest.mark.parametrize("operation", OPERATIONS)
def test_missing_ca_file_is_a_viewer_error(tls_orthanc, local_ae, tls_study, tmp_path, operation):
    """A CA file path that does not exist (a typo in the node settings) is a plain error, not an exception."""
    node = tls_orthanc.node(host="localhost", tls_ca_file=str(tmp_path / "no-such-ca.pem"))
    with pytest.raises(ViewerError) as info:
        _operation(operation, node, local_ae, tls_study, tmp_path / "cache")
    _assert_user_message(info, node)


def test_send_over_tls(tls_orthanc_cert_required, pki, local_ae, tmp_path):
    """C-STORE SCU (viewer.core.net.send) on the same TLS path: stored with the client certificate;
    without one, each instance is reported not sent, the reason naming the certificate problem."""
    from viewer.core.net.send import NOT_SENT, STORED, send

    study = make_study(tmp_path / "send", "Tls^Send", "PIDTLS02", "ACCTLS02", "20240411", "CT TLS SEND", "", [("CT_small.dcm", "CT", 3)])
    files = study.series[0].files
    before = orthanc_instance_count(tls_orthanc_cert_required)
    result = send(_tls_node(tls_orthanc_cert_required, pki, client_cert=pki), local_ae, files)
    assert [f.fate for f in result.fates] == [STORED] * 3
    assert orthanc_instance_count(tls_orthanc_cert_required) == before + 3
    refused = send(_tls_node(tls_orthanc_cert_required, pki), local_ae, files)
    assert [f.fate for f in refused.fates] == [NOT_SENT] * 3
    # Orthanc ends the handshake; how that reads depends on when it does (as in the tests above): one line naming the node.
    assert all(f.reason.startswith(f"{tls_orthanc_cert_required.ae_title}@localhost") and "\n" not in f.reason for f in refused.fates)
