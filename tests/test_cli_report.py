"""``dicom-viewer report FILE [--json]``: a Structured Report as text, line for line with dcmtk's dsrdump, or as JSON.

The text's content lines are compared with dsrdump's own (same items, same order, same depth,
same relationships, value types, concept names and values); the JSON with the file read by pydicom.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

sys.path.insert(0, str(Path(__file__).parent / "core"))
from sr_reports import DSRDUMP, XML2DSR, XML_REPORTS, dose_report, dsrdump_items, xml2dsr  # noqa: E402  (the core tests' helper)

pytestmark = pytest.mark.skipif(not (DSRDUMP and XML2DSR), reason="dcmtk's dsrdump and xml2dsr are the reference")

_OURS = re.compile(
    r'^(?P<indent> *)(?:(?P<rel>[a-z][a-z ]*?) )?(?P<type>[A-Z0-9]+)(?: "(?P<concept>[^"]*)")?(?: \((?P<continuity>[A-Z]+)\))?'
    r"(?: = (?P<value>.*?))?(?: \{[^}]*\})?$"
)
_OURS_BY_REFERENCE = re.compile(r"^(?P<indent> *)(?P<rel>[a-z][a-z ]*?) (?P<target>\d+(?:\.\d+)*)$")


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "viewer", "report", *map(str, args)], capture_output=True, text=True, timeout=120)


def content_lines(out: str) -> list[str]:
    """The lines after the header (the header ends at the first blank line after the title block)."""
    lines = out.splitlines()
    blank = [i for i, line in enumerate(lines) if not line]
    return lines[blank[1] + 1 :]


def compare_with_dsrdump(path) -> list[str]:
    result = run(path)
    assert result.returncode == 0, result.stderr
    ours = content_lines(result.stdout)
    theirs = dsrdump_items(Path(path))
    assert len(ours) == len(theirs)
    for line, entry in zip(ours, theirs):
        by_reference = _OURS_BY_REFERENCE.match(line)
        if not entry["type"]:
            assert by_reference and by_reference["target"] == entry["target"], (line, entry)
            assert len(by_reference["indent"]) // 2 == entry["depth"]
            continue
        match = _OURS.match(line)
        assert match, line
        assert len(match["indent"]) // 2 == entry["depth"], (line, entry)
        assert (match["rel"] or "", match["type"], match["concept"] or "") == (entry["relationship"], entry["type"], entry["concept"]), (
            line,
            entry,
        )
        value = entry["value"]
        if entry["type"] in ("TEXT", "UIDREF"):
            expected = value[1:-1].replace("\\r\\n", "\\n").replace("\\r", "\\n").rstrip(" ")
            while expected.endswith("\\n"):  # trailing line breaks: the document ends its text there
                expected = expected[:-2].rstrip(" ")
            assert match["value"] == expected, (line, entry)
        elif entry["type"] == "NUM":
            number, unit = re.match(r'^"(.*)" \(([^,]*),', value).groups()
            assert match["value"] == f"{number} {unit}", (line, entry)
        elif entry["type"] == "CODE":
            assert match["value"] == re.search(r',"(.*)"\)$', value).group(1), (line, entry)
        elif entry["type"] == "CONTAINER":
            assert match["continuity"] == value, (line, entry)
        elif entry["type"] in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            assert re.findall(r'"([0-9.]+)"', value)[0] in match["value"], (line, entry)
        elif entry["type"] in ("SCOORD", "TCOORD"):
            assert match["value"].startswith(re.match(r"^\(([A-Z]+),", value).group(1)), (line, entry)
        elif entry["type"] in ("DATE", "TIME", "DATETIME"):
            assert re.sub(r"\D", "", match["value"]) == value.strip('"')[: len(re.sub(r"\D", "", match["value"]))], (line, entry)
    return ours


def test_test_sr_line_for_line_with_dsrdump():
    out = run(get_testdata_file("test-SR.dcm")).stdout
    compare_with_dsrdump(get_testdata_file("test-SR.dcm"))
    header = out.split("\n\n")[1]
    # dsrdump's header: the flags, the completion description and the verifying observers.
    assert "Completion Flag     : COMPLETE" in header and "This document is completed!" in header
    assert "Verification Flag   : VERIFIED" in header
    assert "Riesmeier, Jörg, OFFIS e.V." in header


@pytest.mark.parametrize("name", XML_REPORTS)
def test_xml2dsr_reports_line_for_line_with_dsrdump(tmp_path, name):
    compare_with_dsrdump(xml2dsr(name, tmp_path))


def test_dose_report_line_for_line_with_dsrdump(tmp_path):
    lines = compare_with_dsrdump(dose_report(tmp_path / "dose.dcm", 2000))
    assert len(lines) > 1990


def test_json_tree(tmp_path):
    path = xml2dsr("findings.xml", tmp_path)
    result = run(path, "--json")
    assert result.returncode == 0, result.stderr
    tree = json.loads(result.stdout)
    ds = pydicom.dcmread(path)
    assert tree["sop_class_uid"] == ds.SOPClassUID
    assert tree["title"] == ds.ConceptNameCodeSequence[0].CodeMeaning
    assert (tree["completion"], tree["verification"]) == (ds.CompletionFlag, ds.VerificationFlag)

    def walk(node, item, depth=0):
        assert node["value_type"] == item.ValueType
        assert node.get("concept", {}).get("meaning") == (
            item.ConceptNameCodeSequence[0].CodeMeaning if "ConceptNameCodeSequence" in item else None
        )
        if item.ValueType == "NUM":
            measured = item.MeasuredValueSequence[0]
            assert node["number"] == str(measured.NumericValue)
            assert node["unit"]["value"] == measured.MeasurementUnitsCodeSequence[0].CodeValue
        if item.ValueType == "SCOORD":
            assert node["graphic_data"] == [float(v) for v in item.GraphicData]
        children = item.get("ContentSequence", [])
        assert len(node.get("children", [])) == len(children)
        for child_node, child in zip(node.get("children", []), children):
            assert child_node["relationship"] == child.RelationshipType
            walk(child_node, child, depth + 1)

    walk(tree["content"], ds)


@pytest.mark.parametrize("flag", [[], ["--json"]])
def test_damaged_or_not_a_report_exits_2_with_one_line(tmp_path, flag):
    whole = Path(get_testdata_file("test-SR.dcm")).read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[: len(whole) // 2])
    (tmp_path / "notes.txt").write_text("hello")
    for path, fragment in (
        (cut, "cut.dcm: "),
        (tmp_path / "notes.txt", "not a DICOM file"),
        (get_testdata_file("CT_small.dcm"), "is not a Structured Report (it is a CT Image Storage object)"),
        (tmp_path / "missing.dcm", "missing.dcm"),
    ):
        result = run(path, *flag)
        assert result.returncode == 2 and result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dicom-viewer: ") and fragment in lines[0], result.stderr
