"""Real DICOM peers on loopback for the network tests: Orthanc and dcmtk's dcmqrscp.

Each server runs as an ordinary child process on free ports (bind to port 0,
as pynetdicom's tests/utils.py:get_port does), with its storage in a
temporary folder, and is loaded with real files by dcmtk's storescu.
Generated studies (:class:`Study`) record what was loaded; they are the
source of every expected value, nothing is derived from the code under test.

A missing server binary skips the tests that need it, with the reason, unless
DICOM_VIEWER_REQUIRE_SERVERS=1 (CI), where it fails them instead.

DICOM over TLS (PS3.15 B.1): :func:`make_tls_files` makes a throw-away CA and
certificates with the openssl command line, and ``start_orthanc(..., tls=...)``
starts an Orthanc that accepts only TLS connections.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from viewer.core.net.nodes import LocalAE, Node, Timeouts

VIEWER_AET = "VIEWERTEST"
REQUIRE_SERVERS = os.environ.get("DICOM_VIEWER_REQUIRE_SERVERS") == "1"
# dcmtk's own transfers stall on delayed ACKs on loopback without it.
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


# ----------------------------------------------------------------------------- binaries and ports


def server_binary(name: str, where: tuple[str, ...]) -> str:
    """Full path of a server tool; skips (or fails under DICOM_VIEWER_REQUIRE_SERVERS=1) when absent.

    dcmtk's tools are looked up in the system folders only: pynetdicom puts
    its own 'storescu', 'findscu'... into the virtual environment.
    """
    for folder in where:
        path = Path(folder) / name
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    package = {"Orthanc": "orthanc", "openssl": "openssl"}.get(name, "dcmtk")
    reason = f"{name} is not installed (looked in {', '.join(where)}); install the Debian package {package}"
    if REQUIRE_SERVERS:
        pytest.fail(reason + " - DICOM_VIEWER_REQUIRE_SERVERS=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


def dcmtk(name: str) -> str:
    return server_binary(name, ("/usr/bin", "/usr/local/bin"))


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def echoscu_answers(ae_title: str, port: int, tls: TlsFiles | None = None) -> bool:
    done = subprocess.run(
        [dcmtk("echoscu"), "-to", "2", *_dcmtk_tls(tls), "-aec", ae_title, "127.0.0.1", str(port)],
        env=DCMTK_ENV,
        capture_output=True,
        timeout=10,
    )
    return done.returncode == 0


def store_folder(ae_title: str, port: int, folder: Path, tls: TlsFiles | None = None) -> None:
    """Send every file under `folder` with dcmtk's storescu (over TLS, with the client certificate, when `tls`)."""
    done = subprocess.run(
        [dcmtk("storescu"), "-nh", "+sd", "+r", *_dcmtk_tls(tls), "-aet", "LOADER", "-aec", ae_title, "127.0.0.1", str(port), str(folder)],
        env=DCMTK_ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"storescu to {ae_title}:{port} failed: {done.stderr[-2000:]}")


def assert_same_instances(files, originals) -> None:
    """Retrieved files hold the originals: each named by its SOP Instance UID, the same UIDs, the same pixels."""
    import numpy as np

    by_uid = {ds.SOPInstanceUID: ds for ds in map(pydicom.dcmread, originals)}
    received = {}
    for path in files:
        ds = pydicom.dcmread(path)
        assert path.name == f"{ds.SOPInstanceUID}.dcm"
        received[ds.SOPInstanceUID] = ds
    assert set(received) == set(by_uid)
    for uid, ds in received.items():
        np.testing.assert_array_equal(ds.pixel_array, by_uid[uid].pixel_array)


# ----------------------------------------------------------------------------- TLS


@dataclass
class TlsFiles:
    """A throw-away public key infrastructure, PEM files: a CA, a server certificate for
    localhost and 127.0.0.1, and a client certificate, both signed by the CA."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(folder: Path, *args: str) -> None:
    done = subprocess.run(
        [server_binary("openssl", ("/usr/bin", "/usr/local/bin")), *args], cwd=folder, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {done.stderr[-2000:]}")


def _signed_certificate(folder: Path, name: str, subject: str, extensions: str, ca: str) -> tuple[Path, Path]:
    """A new RSA key and its certificate, signed by the CA `ca` ({ca}.crt and {ca}.key in `folder`)."""
    (folder / f"{name}.ext").write_text(extensions)
    _openssl(folder, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
    _openssl(
        folder,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        f"{ca}.crt",
        "-CAkey",
        f"{ca}.key",
        "-set_serial",
        str(int.from_bytes(os.urandom(8), "big")),
        "-days",
        "2",
        "-sha256",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.crt",
    )
    return folder / f"{name}.crt", folder / f"{name}.key"


def make_ca(folder: Path, name: str = "ca", common_name: str = "Viewer Test CA") -> Path:
    """A self-signed CA certificate ({name}.crt) and its key ({name}.key) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl(
        folder,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-out",
        f"{name}.crt",
        "-days",
        "2",
        "-sha256",
        "-subj",
        f"/CN={common_name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-addext",
        "subjectKeyIdentifier=hash",
    )
    return folder / f"{name}.crt"


def make_tls_files(folder: Path, ca_name: str = "ca", client_name: str = VIEWER_AET) -> TlsFiles:
    """A CA, a server certificate (DNS:localhost, IP:127.0.0.1) and a client certificate, in `folder`.

    Extensions as strict verifiers want them (Python 3.13's VERIFY_X509_STRICT:
    key identifiers, key usage); keys unencrypted, valid for two days.
    """
    ca = make_ca(folder, ca_name, f"Viewer Test CA {ca_name}")
    common = (
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )
    server_cert, server_key = _signed_certificate(
        folder,
        f"{ca_name}-server",
        "/CN=localhost",
        common + "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        ca_name,
    )
    client_cert, client_key = _signed_certificate(
        folder, f"{ca_name}-client", f"/CN={client_name}", common + "extendedKeyUsage=clientAuth\n", ca_name
    )
    return TlsFiles(ca, server_cert, server_key, client_cert, client_key)


def _dcmtk_tls(tls: TlsFiles | None) -> list[str]:
    """dcmtk tool options for TLS with the client certificate, trusting the CA (none without `tls`)."""
    if tls is None:
        return []
    return ["+tls", str(tls.client_key), str(tls.client_cert), "-pw", "+cf", str(tls.ca)]


# ----------------------------------------------------------------------------- test data


@dataclass
class Series:
    uid: str
    number: int
    modality: str
    files: list[Path] = field(default_factory=list)
    sop_uids: list[str] = field(default_factory=list)


@dataclass
class Study:
    """One loaded study and the attributes the C-FIND tests match against."""

    uid: str
    patient_name: str
    patient_id: str
    accession: str
    date: str
    description: str
    referring: str
    charset: str
    series: list[Series] = field(default_factory=list)

    @property
    def modalities(self) -> set[str]:
        return {s.modality for s in self.series}

    @property
    def instance_count(self) -> int:
        return sum(len(s.files) for s in self.series)


def _write_copies(folder: Path, source: str, study: Study, series: Series, count: int) -> None:
    original = pydicom.dcmread(get_testdata_file(source))
    for i in range(count):
        ds = copy.deepcopy(original)
        sop_uid = generate_uid()
        ds.SOPInstanceUID = sop_uid
        ds.file_meta.MediaStorageSOPInstanceUID = sop_uid
        ds.StudyInstanceUID = study.uid
        ds.SeriesInstanceUID = series.uid
        ds.SeriesNumber = series.number
        ds.InstanceNumber = i + 1
        ds.Modality = series.modality
        if study.charset:
            ds.SpecificCharacterSet = study.charset
        elif "SpecificCharacterSet" in ds:
            del ds.SpecificCharacterSet
        ds.PatientName = study.patient_name
        ds.PatientID = study.patient_id
        ds.AccessionNumber = study.accession
        ds.StudyDate = study.date
        ds.StudyDescription = study.description
        ds.ReferringPhysicianName = study.referring
        ds.StudyID = study.accession
        path = folder / f"{study.patient_id}_{series.number}_{i:03d}.dcm"
        ds.save_as(path)
        series.files.append(path)
        series.sop_uids.append(sop_uid)


def make_study(
    folder: Path,
    patient_name: str,
    patient_id: str,
    accession: str,
    date: str,
    description: str,
    referring: str,
    series: list[tuple[str, str, int]],
    charset: str = "ISO_IR 100",
) -> Study:
    """Copies of pydicom's test files as one study; `series` is [(source file, modality, count)]."""
    folder.mkdir(parents=True, exist_ok=True)
    study = Study(generate_uid(), patient_name, patient_id, accession, date, description, referring, charset)
    for number, (source, modality, count) in enumerate(series, start=1):
        item = Series(generate_uid(), number, modality)
        _write_copies(folder, source, study, item, count)
        study.series.append(item)
    return study


# ----------------------------------------------------------------------------- servers


@dataclass
class Server:
    kind: str  # 'orthanc' or 'dcmqrscp'
    ae_title: str
    port: int
    process: subprocess.Popen
    workdir: Path
    http_port: int | None = None
    tls: TlsFiles | None = None  # the server accepts TLS connections only

    def node(self, **kwargs) -> Node:
        kwargs.setdefault("name", self.kind)
        kwargs.setdefault("host", "127.0.0.1")
        kwargs.setdefault("timeouts", Timeouts(connect=5, acse=10, dimse=20))
        return Node(ae_title=self.ae_title, port=self.port, **kwargs)

    @property
    def address(self) -> str:
        return f"{self.ae_title}@127.0.0.1:{self.port}"

    def log(self) -> str:
        path = self.workdir / "server.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        """End the server and anything it forked (dcmqrscp forks per association)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # forked children, or a server that ignored SIGTERM
        except ProcessLookupError:
            pass
        self.process.wait(10)


def _wait_until_answering(server: Server, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.kind} exited with {server.process.returncode}:\n{server.log()}")
        if echoscu_answers(server.ae_title, server.port, server.tls):
            return
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{server.kind} did not answer C-ECHO within {timeout} s:\n{server.log()}")


def start_orthanc(
    workdir: Path,
    local: LocalAE,
    ae_title: str = "ORTHANC",
    *,
    tls: TlsFiles | None = None,
    require_client_cert: bool = False,
    config: dict | None = None,
) -> Server:
    """Orthanc on free ports; with `tls`, its DICOM port speaks TLS only (server certificate
    tls.server_cert, trusting tls.ca for client certificates, which it demands only when
    `require_client_cert`; Orthanc >= 1.9.0, DicomTlsRemoteCertificateRequired >= 1.9.3). `config`
    adds or replaces configuration keys (e.g. "Jpeg2000TransferSyntaxAccepted": false)."""
    binary = server_binary("Orthanc", ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"))
    workdir.mkdir(parents=True, exist_ok=True)
    port, http_port = free_port(), free_port()
    settings = {
        "Name": "viewer-tests",
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "index"),
        "DicomAet": ae_title,
        "DicomPort": port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "DicomAlwaysAllowEcho": True,
        "DicomAlwaysAllowStore": True,
        "DicomAlwaysAllowFind": True,
        "DicomAlwaysAllowGet": True,
        "DicomAlwaysAllowMove": True,
        "UnknownSopClassAccepted": True,
        "DefaultEncoding": "Utf8",
        "DicomModalities": {"viewer": [local.ae_title, "127.0.0.1", local.move_port]},
        "Plugins": [],
        "SaveJobs": False,
        "StorageCompression": False,
    }
    if tls is not None:
        settings.update(
            {
                "DicomTlsEnabled": True,
                "DicomTlsCertificate": str(tls.server_cert),
                "DicomTlsPrivateKey": str(tls.server_key),
                "DicomTlsTrustedCertificates": str(tls.ca),
                "DicomTlsRemoteCertificateRequired": require_client_cert,
            }
        )
    settings.update(config or {})
    (workdir / "config.json").write_text(json.dumps(settings, indent=1))
    log = open(workdir / "server.log", "wb")
    # Orthanc's DICOM side is dcmtk: without TCP_NODELAY each C-STORE response waits
    # for a delayed ACK (loading 1000 small instances: 44 s instead of 2 s).
    process = subprocess.Popen(
        [binary, "config.json"], cwd=workdir, env=DCMTK_ENV, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    log.close()
    server = Server("orthanc", ae_title, port, process, workdir, http_port, tls)
    _wait_until_answering(server)
    return server


def orthanc_upload(server: Server, path: Path) -> None:
    """Store one file through Orthanc's REST API (for SOP classes dcmtk's storescu will not propose)."""
    request = urllib.request.Request(f"http://127.0.0.1:{server.http_port}/instances", data=Path(path).read_bytes(), method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert json.load(answer).get("Status") in ("Success", "AlreadyStored")


def orthanc_instance_count(server: Server) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/statistics", timeout=10) as answer:
        return int(json.load(answer)["CountInstances"])


def start_dcmqrscp(
    workdir: Path, local: LocalAE, ae_title: str = "QRSCP", storage: Path | None = None, extra: tuple[str, ...] = ()
) -> Server:
    binary = dcmtk("dcmqrscp")
    workdir.mkdir(parents=True, exist_ok=True)
    storage = storage or workdir / "storage"
    storage.mkdir(parents=True, exist_ok=True)
    port = free_port()
    # dcmqrscp.cfg(5): the AE, its storage area, quotas; the viewer as a known move destination.
    (workdir / "dcmqrscp.cfg").write_text(
        f"NetworkTCPPort = {port}\nMaxPDUSize = 16384\nMaxAssociations = 16\n"
        f"HostTable BEGIN\nviewer = ({local.ae_title}, 127.0.0.1, {local.move_port})\nHostTable END\n"
        "VendorTable BEGIN\nVendorTable END\n"
        f"AETable BEGIN\n{ae_title} {storage} RW (200, 1024mb) ANY\nAETable END\n"
    )
    log = open(workdir / "server.log", "wb")
    process = subprocess.Popen(
        [binary, "-c", str(workdir / "dcmqrscp.cfg"), *extra],
        cwd=workdir,
        env=DCMTK_ENV,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = Server("dcmqrscp", ae_title, port, process, workdir)
    _wait_until_answering(server)
    return server
