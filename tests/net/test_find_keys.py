"""dicom-viewer find -k as dcmtk's findscu takes it, against Orthanc: return keys, tags, values, errors.

Expected values come from the studies the session's Orthanc was loaded with
(tests/net/server_fixtures.py), never from the code under test.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from viewer.app import main
from viewer.core.net.query import date_prefix_range, parse_query_key

pytestmark = pytest.mark.net


@pytest.fixture
def config_dir(tmp_path, monkeypatch):
    """An empty settings folder, so the user's own saved nodes never leak in."""
    folder = tmp_path / "config"
    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(folder))
    return folder


def _find_json(capsys, orthanc, *keys: str) -> dict[str, dict]:
    """The JSON answer, by Study Instance UID."""
    argv = ["find", orthanc.address, "--json"]
    for key in keys:
        argv += ["-k", key]
    assert main(argv) == 0, capsys.readouterr().err
    answer = json.loads(capsys.readouterr().out)
    return {item["0020000D"]["Value"][0]: item for item in answer}


def _value(item: dict, tag: str):
    values = item[tag].get("Value", [])
    return values[0]["Alphabetic"] if item[tag]["vr"] == "PN" and values else (values[0] if values else None)


def test_a_keyword_without_value_is_a_return_key(orthanc, config_dir, capsys, studies):
    answer = _find_json(capsys, orthanc, "PatientName", "StudyID")
    assert set(answer) == {s.uid for s in studies}
    for study in studies:
        assert _value(answer[study.uid], "00100010") == study.patient_name
        assert _value(answer[study.uid], "00200010") == study.accession  # the fixture's Study ID


def test_a_tag_without_value_is_a_return_key(orthanc, config_dir, capsys, studies):
    answer = _find_json(capsys, orthanc, "0010,0020", "(0008,1030)")
    assert set(answer) == {s.uid for s in studies}
    for study in studies:
        assert _value(answer[study.uid], "00100020") == study.patient_id
        assert _value(answer[study.uid], "00081030") == study.description


@pytest.mark.parametrize("key", ["0008,0020=2023*", "StudyDate=20230101-20231231", "(0008,0020)=2023*"])
def test_a_tag_with_a_value_matches(orthanc, config_dir, capsys, studies, key):
    answer = _find_json(capsys, orthanc, key)
    assert set(answer) == {s.uid for s in studies if s.date.startswith("2023")}
    assert len(answer) == 2


def test_a_parenthesised_tag_with_a_wildcard(orthanc, config_dir, capsys, studies):
    answer = _find_json(capsys, orthanc, "(0010,0010)=Doe^Ja*")
    assert [_value(item, "00100010") for item in answer.values()] == ["Doe^Jane"]


def test_every_requested_key_is_in_every_answer(orthanc, config_dir, capsys, studies):
    """Keys the studies have no value for (Orthanc leaves them out) are there, empty."""
    keys = ["AdmittingDiagnosesDescription", "0008,1110", "StudyID", "0008,0080"]
    answer = _find_json(capsys, orthanc, "PatientID=PID00*", *keys)
    assert len(answer) == len(studies)
    for item in answer.values():
        for tag in ("00081080", "00081110", "00200010", "00080080"):
            assert tag in item, (tag, sorted(item))
        assert item["00081080"] == {"vr": "LO"}  # no value: none of the studies has one
        assert item["00081110"]["vr"] == "SQ" and not item["00081110"].get("Value")


def test_text_output_has_a_column_per_extra_key(orthanc, config_dir, capsys, ct_study):
    keys = [f"PatientID={ct_study.patient_id}", "0020,0010", "AdmittingDiagnosesDescription"]
    assert main(["find", orthanc.address, *(arg for key in keys for arg in ("-k", key))]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    columns = lines[0].split(" | ")
    assert columns[-2:] == [ct_study.accession, ""]


@pytest.mark.parametrize(
    "key, fragment",
    [
        ("NoSuchKeyword", "'NoSuchKeyword' is neither a DICOM keyword"),
        ("NoSuchKeyword=X", "'NoSuchKeyword' is neither a DICOM keyword"),
        ("0009,0010", "(0009,0010) is not in the DICOM data dictionary"),
        ("patientname=X", "'patientname' is neither"),
        ("Rows=abc", "Rows holds numbers"),
        ("ReferencedStudySequence=X", "without a value"),
    ],
)
def test_a_bad_key_exits_2_with_one_line(orthanc, config_dir, key, fragment):
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "find", orthanc.address, "-k", key], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dicom-viewer: ") and fragment in lines[0], result.stderr


@pytest.mark.parametrize(
    "text, expected",
    [
        ("PatientName", ("PatientName", "")),
        ("PatientName=", ("PatientName", "")),
        ("PatientName=Doe^J*", ("PatientName", "Doe^J*")),
        ("0010,0020", ("PatientID", "")),
        ("0010,0020=A=B", ("PatientID", "A=B")),
        ("(0008,0020)=20240101-", ("StudyDate", "20240101-")),
        ("0008,103e=CHEST", ("SeriesDescription", "CHEST")),
    ],
)
def test_keys_parse_as_findscu_reads_them(text, expected):
    assert parse_query_key(text) == expected


@pytest.mark.parametrize(
    "typed, meant",
    [
        ("2020*", "20200101-20201231"),
        ("202402*", "20240201-20240229"),
        ("202302*", "20230201-20230228"),
        ("20240105*", "20240105"),
        ("2020", None),
        ("20*", None),
        ("202013*", None),
        ("20200101-20201231", None),
    ],
)
def test_a_date_prefix_is_the_range_it_means(typed, meant):
    """PS3.4 C.2.2.2.4: no wildcards in dates; the calendar gives the last days of the months."""
    assert date_prefix_range(typed) == meant
