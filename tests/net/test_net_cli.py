"""dicom-viewer echo / find / get against Orthanc: output, exit status, saved nodes."""

from __future__ import annotations

import json

import pydicom
import pytest

from viewer.app import main
from viewer.core.net.nodes import LocalAE, Node, save_network_settings

pytestmark = pytest.mark.net


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """An empty settings folder, so the user's own saved nodes never leak in."""
    folder = tmp_path / "config"
    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(folder))
    return folder


def test_echo(orthanc, config_dir, capsys):
    assert main(["echo", orthanc.address, "--aet", "VIEWERTEST"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{orthanc.address} answered in ") and out.rstrip().endswith(" ms")


def test_echo_refused_exits_2_with_one_line(orthanc, config_dir, capsys):
    # See test_net_scu.test_echo_wrong_called_ae_is_refused: the reason is sometimes lost.
    for _ in range(3):
        assert main(["echo", f"WRONG-AET@127.0.0.1:{orthanc.port}"]) == 2
        captured = capsys.readouterr()
        if "refused" in captured.err:
            break
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("dicom-viewer: WRONG-AET@127.0.0.1")
    assert "refused the association" in captured.err


def test_unknown_saved_node_exits_2(config_dir, capsys):
    save_network_settings([Node("pacs", "ORTHANC", "127.0.0.1", 104)], LocalAE())
    assert main(["echo", "no-such-node"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert "'no-such-node'" in captured.err and "pacs" in captured.err


def test_saved_node_found_by_name(orthanc, config_dir, capsys, ct_study):
    save_network_settings([orthanc.node(name="hospital pacs")], LocalAE("VIEWERTEST", 11119))
    assert main(["echo", "hospital pacs"]) == 0
    assert orthanc.address in capsys.readouterr().out
    assert main(["find", "hospital pacs", "-k", "PatientID=PID001"]) == 0
    assert ct_study.uid in capsys.readouterr().out


def test_find_text(orthanc, config_dir, capsys, ct_study):
    assert main(["find", orthanc.address, "-k", "PatientName=Doe^Jo*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].split(" | ")[0] == ct_study.patient_name and ct_study.uid in lines[0]


def test_find_json(orthanc, config_dir, capsys, studies):
    assert main(["find", orthanc.address, "--json", "-k", "StudyDate=20230101-20231231"]) == 0
    answer = json.loads(capsys.readouterr().out)
    expected = {s.uid: s for s in studies if "20230101" <= s.date <= "20231231"}
    assert isinstance(answer, list) and len(answer) == len(expected) == 2
    for item in answer:
        assert item["0020000D"]["vr"] == "UI"
        study = expected[item["0020000D"]["Value"][0]]
        assert item["00100010"]["vr"] == "PN"
        assert item["00100010"]["Value"][0]["Alphabetic"] == study.patient_name  # UTF-8 names, decoded


def test_find_series_level_and_max(orthanc, config_dir, capsys, ct_study):
    assert main(["find", orthanc.address, "--level", "series", "-k", f"StudyInstanceUID={ct_study.uid}"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == len(ct_study.series)
    assert main(["find", orthanc.address, "--max", "1"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1 and "more than 1 match; showing the first 1" in captured.err


def test_find_bad_key_exits_2(orthanc, config_dir, capsys):
    assert main(["find", orthanc.address, "-k", "NotAKeyword=1"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_get_writes_into_output(orthanc, config_dir, capsys, ct_study, tmp_path):
    series = ct_study.series[1]
    out = tmp_path / "out"
    assert main(["get", orthanc.address, "--study", ct_study.uid, "--series", series.uid, "-o", str(out)]) == 0
    assert f"{len(series.files)} files in {out} by C-GET" in capsys.readouterr().out
    written = sorted(out.rglob("*.dcm"))
    assert {pydicom.dcmread(p).SOPInstanceUID for p in written} == set(series.sop_uids)
    assert all(p.parent == out / ct_study.uid / series.uid for p in written)
    # Again: already there.
    assert main(["get", orthanc.address, "--study", ct_study.uid, "--series", series.uid, "-o", str(out)]) == 0
    assert "already in the cache" in capsys.readouterr().out


def test_get_by_move(orthanc, config_dir, capsys, ct_study, local_ae, tmp_path):
    series = ct_study.series[1]
    out = tmp_path / "out"
    args = ["get", orthanc.address, "--move", "--aet", local_ae.ae_title, "--port", str(local_ae.move_port)]
    assert main([*args, "--study", ct_study.uid, "--series", series.uid, "-o", str(out)]) == 0
    assert "by C-MOVE" in capsys.readouterr().out
    assert {pydicom.dcmread(p).SOPInstanceUID for p in out.rglob("*.dcm")} == set(series.sop_uids)
