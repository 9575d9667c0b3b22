"""Every service on one association of the viewer's own: one log format, one way to fail, no pynetdicom internals.

The services run against the session's Orthanc and dcmqrscp (expected UIDs
from the files they were loaded with); the log lines are checked against the
formats the query panel's Log button shows, the same for every service.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from dicom_servers import free_port

import viewer
from viewer.core.dicom.io import ViewerError
from viewer.core.net.association import AssociationLog
from viewer.core.net.echo import echo
from viewer.core.net.find import find
from viewer.core.net.nodes import Node, Timeouts
from viewer.core.net.retrieve import retrieve

pytestmark = pytest.mark.net

#: What a line of the association log may say, after its time (HH:MM:SS).
LINE_FORMATS = [
    r"-> A-ASSOCIATE-RQ to \S+ \(\d+ contexts: .+\.\.\.\)",
    r"<- A-ASSOCIATE-AC: \d+ context\(s\) accepted, max PDU \d+",
    r"<- A-ASSOCIATE-RQ from \S+ \(\d+ contexts\)",  # the C-MOVE's Storage SCP
    r"-> A-ASSOCIATE-AC: \d+ of \d+ context\(s\) accepted",
    r"(->|<-) C-(ECHO|FIND|GET|MOVE|STORE)-RQ \(message \d+\)",
    r"(->|<-) C-(ECHO|FIND|GET|MOVE|STORE)-RSP status 0x[0-9A-F]{4}",
    r"-> A-RELEASE",
    r"<- A-RELEASE( \(requested by the peer\))?",
    r"connection closed",
]


def _run(service: str, server, local_ae, study, cache) -> AssociationLog:
    node = server.node(retrieve=service if service in ("get", "move") else "get")
    log = AssociationLog()
    if service == "echo":
        echo(node, local_ae, log)
    elif service == "find":
        assert [m.StudyInstanceUID for m in find(node, local_ae, "study", {"PatientID": study.patient_id}, log=log).matches] == [study.uid]
    else:
        series = study.series[1]
        result = retrieve(node, local_ae, cache, study.uid, series.uid, log=log, method=service, sop_classes=[])
        assert sorted(f.stem for f in result.files) == sorted(series.sop_uids)
    return log


@pytest.mark.parametrize("service", ["echo", "find", "get", "move"])
def test_every_service_logs_the_same_lines(server, local_ae, ct_study, tmp_path, service):
    """Proposed and accepted contexts, each request and status, the release: one format, whichever the service."""
    log = _run(service, server, local_ae, ct_study, tmp_path)
    lines = []
    for line in log.lines:
        time_, _, text = line.partition(" ")
        assert re.fullmatch(r"\d\d:\d\d:\d\d", time_), line
        assert any(re.fullmatch(form, text) for form in LINE_FORMATS), f"{text!r} has a format of its own:\n{log.text()}"
        lines.append(text)
    name = "C-" + service.upper()
    ours = [
        text
        for text in lines
        if text.startswith(("-> A-ASSOCIATE-RQ", "<- A-ASSOCIATE-AC", f"-> {name}-RQ", f"<- {name}-RSP"))
        or text in ("-> A-RELEASE", "<- A-RELEASE")
    ]
    assert ours[0].startswith(f"-> A-ASSOCIATE-RQ to {server.ae_title} ("), log.text()
    assert ours[1].startswith("<- A-ASSOCIATE-AC: "), log.text()
    assert ours[2] == f"-> {name}-RQ (message 1)", log.text()
    assert ours[-3:] == [f"<- {name}-RSP status 0x0000", "-> A-RELEASE", "<- A-RELEASE"], log.text()
    assert lines[-1] == "connection closed"


@pytest.mark.parametrize("service", ["echo", "find"])
def test_a_closed_port_says_the_connection_was_refused(local_ae, service):
    """Nothing listens: C-ECHO says so as C-FIND does (it used to say the node 'aborted the association')."""
    node = Node("nobody", "NOBODY", "127.0.0.1", free_port(), timeouts=Timeouts(connect=60, acse=60, dimse=60))
    with pytest.raises(ViewerError) as info:
        echo(node, local_ae) if service == "echo" else find(node, local_ae, "study", {})
    message = str(info.value)
    assert message.startswith(f"{node.address}: cannot connect (") and "refused" in message.lower(), message
    assert "aborted" not in message and "\n" not in message


def test_the_viewer_uses_no_pynetdicom_internals():
    """pynetdicom serves for its PDU classes, dataset codecs, SOP class constants and status categories,
    never for its AE, associations, DUL or DIMSE threads, events or process-wide _config."""
    allowed_modules = {
        "pynetdicom.pdu",
        "pynetdicom.pdu_primitives",
        "pynetdicom.presentation",
        "pynetdicom.dsutils",
        "pynetdicom.sop_class",
        "pynetdicom.status",
    }
    allowed_names = {"StoragePresentationContexts", "AllStoragePresentationContexts"}
    internals = {"_config", "_run_loop_delay", "msg_queue", "dul", "evt"}
    for path in Path(viewer.__file__).parent.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{path.relative_to(Path(viewer.__file__).parent)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "pynetdicom":
                if node.module == "pynetdicom":
                    assert {alias.name for alias in node.names} <= allowed_names, where
                else:
                    assert node.module in allowed_modules, where
            elif isinstance(node, ast.Import):
                assert not any(alias.name.split(".")[0] == "pynetdicom" for alias in node.names), where
            elif isinstance(node, ast.Attribute):
                assert node.attr not in internals, where
