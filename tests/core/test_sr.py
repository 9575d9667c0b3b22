"""Structured Reports read into a document: item for item as dcmtk's dsrdump lists them.

Reports: pydicom's test-SR.dcm (Comprehensive SR, every value type, by-reference items, Latin-1),
reports made with dcmtk's xml2dsr from sr_files/*.xml (UTF-8 names and text, SCOORD on an image frame,
a Key Object Selection), and an X-Ray Radiation Dose SR written with pydicom. Expected values are
dsrdump's, or the pydicom dataset's.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from sr_reports import DSRDUMP, XML2DSR, XML_REPORTS, dose_report, dsrdump_items, xml2dsr

from viewer.core.dicom.io import ViewerError
from viewer.core.documents.sr import is_structured_report, read_report

pytestmark = pytest.mark.skipif(not (DSRDUMP and XML2DSR), reason="dcmtk's dsrdump and xml2dsr are the reference")


def _unquoted(value: str) -> str:
    return value[1:-1] if value.startswith('"') and value.endswith('"') else value


def expected_value(entry: dict) -> str | None:
    """What the document should read for a dsrdump value (None: checked another way)."""
    kind, value = entry["type"], entry["value"]
    text = _unquoted(value)
    if kind == "TEXT":
        return text.replace("\\r\\n", "\n").replace("\\r", "\n").replace("\\n", "\n").rstrip("\n ")
    if kind == "UIDREF":
        return text
    if kind == "DATE":
        return f"{text[:4]}-{text[4:6]}-{text[6:8]}"
    if kind == "TIME":
        return ":".join(text[i : i + 2] for i in range(0, 6, 2))
    if kind == "DATETIME":
        return f"{text[:4]}-{text[4:6]}-{text[6:8]} " + ":".join(text[8:14][i : i + 2] for i in range(0, 6, 2))
    if kind == "PNAME":
        family, _, given = text.partition("^")
        return f"{family}, {given}" if given else family
    if kind == "CODE":
        return re.search(r',"(.*)"\)$', value).group(1)
    return None


def check_against_dsrdump(path) -> list:
    report = read_report(path)
    expected = dsrdump_items(path)
    items = list(report.items())
    assert len(items) == len(expected)
    for (depth, item), entry in zip(items, expected):
        where = f"{item.position}: {entry}"
        assert depth == entry["depth"], where
        assert item.relationship.lower() == entry["relationship"], where
        assert item.value_type == entry["type"], where
        if not entry["type"]:
            assert item.reference == entry["target"], where
            continue
        assert (item.concept.meaning if item.concept else "") == entry["concept"], where
        value = expected_value(entry)
        if value is not None:
            assert item.value == value, where
        if entry["type"] == "NUM":
            number, unit = re.match(r'^"(.*)" \(([^,]*),', entry["value"]).groups()
            assert (item.number, item.unit.value) == (number, unit), where
            assert item.value.startswith(number), where
        if entry["type"] == "CONTAINER":
            assert item.continuity == entry["value"], where
        if entry["type"] in ("IMAGE", "COMPOSITE", "WAVEFORM"):
            uids = re.findall(r'"([0-9.]+)"', entry["value"])
            assert uids and uids[0] == item.references[0].sop_instance_uid, where
            assert uids[0] in item.value, where
        if entry["type"] in ("SCOORD", "SCOORD3D"):
            graphic_type, points = re.match(r"^\(([A-Z]+),(.*)\)$", entry["value"]).groups()
            if entry["type"] == "SCOORD3D":  # dsrdump puts the Referenced Frame of Reference UID first
                frame_of_reference, points = re.match(r'^"([0-9.]+)",(.*)$', points).groups()
                assert item.frame_of_reference_uid == frame_of_reference, where
            assert item.graphic_type == graphic_type, where
            # (0070,0022) Graphic Data is FL: the same float32 values (dsrdump prints 9 or 10 digits).
            expected = [float(v) for v in re.split(r"[/,]", points) if v]
            assert np.float32(list(item.graphic_data)).tolist() == np.float32(expected).tolist(), where
        if entry["type"] == "TCOORD":
            assert entry["value"].startswith(f"({item.graphic_type},"), where
    return items


def test_pydicom_test_sr_item_for_item():
    path = get_testdata_file("test-SR.dcm")
    items = check_against_dsrdump(path)
    types = {item.value_type for _, item in items}
    # The file has every value type but PNAME and SCOORD3D, and two by-reference items.
    assert types >= {"CONTAINER", "TEXT", "CODE", "NUM", "DATE", "TIME", "DATETIME", "UIDREF", "COMPOSITE", "IMAGE", "WAVEFORM"}
    assert types >= {"SCOORD", "TCOORD", ""}


def test_pydicom_test_sr_header():
    ds = pydicom.dcmread(get_testdata_file("test-SR.dcm"))
    report = read_report(get_testdata_file("test-SR.dcm"))
    assert report.title == ds.ConceptNameCodeSequence[0].CodeMeaning
    assert (report.completion, report.completion_description) == (ds.CompletionFlag, ds.CompletionFlagDescription)
    assert report.verification == ds.VerificationFlag
    observers = ds.VerifyingObserverSequence
    assert [o.name for o in report.verifying_observers] == [
        f"{o.VerifyingObserverName.family_name}, {o.VerifyingObserverName.given_name}" for o in observers
    ]
    assert report.verifying_observers[0].name == "Riesmeier, Jörg"  # ISO_IR 100 decoded, as dsrdump +U8 shows it
    assert [o.organisation for o in report.verifying_observers] == [o.VerifyingOrganization for o in observers]
    # The image reference: instance, frames and the presentation state to show it through, as in the file.
    image = next(item for _, item in report.items() if item.value_type == "IMAGE" and item.relationship == "CONTAINS")
    ref = ds.ContentSequence[4].ReferencedSOPSequence[0]
    assert image.references[0].sop_instance_uid == ref.ReferencedSOPInstanceUID
    assert list(image.references[0].frames) == [int(f) for f in ref.ReferencedFrameNumber]
    assert image.references[0].presentation_state_uid == ref.ReferencedSOPSequence[0].ReferencedSOPInstanceUID


@pytest.mark.parametrize("name", XML_REPORTS)
def test_reports_made_by_xml2dsr_item_for_item(tmp_path, name):
    check_against_dsrdump(xml2dsr(name, tmp_path))


def test_a_tid_1500_report_made_by_highdicom_item_for_item(tmp_path):
    """A Comprehensive 3D SR written by highdicom: measurements, qualitative evaluations, SCOORD and SCOORD3D regions."""
    from highdicom_objects import measurement_report

    path = measurement_report(Path(get_testdata_file("CT_small.dcm")), tmp_path / "tid1500.dcm")
    items = check_against_dsrdump(path)
    types = [item.value_type for _, item in items]
    assert types.count("NUM") == 3 and types.count("SCOORD") == 2 and types.count("SCOORD3D") == 1
    report = read_report(path)
    assert report.title == "Imaging Measurement Report"
    regions = [item for _, item in items if item.value_type == "SCOORD"]
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    assert all(ref.sop_instance_uid == ct.SOPInstanceUID for region in regions for ref in region.image_references())


def test_spatial_coordinates_lead_to_their_image_and_frame(tmp_path):
    path = xml2dsr("findings.xml", tmp_path)
    report = read_report(path)
    scoord = next(item for _, item in report.items() if item.value_type == "SCOORD")
    ds = pydicom.dcmread(path)
    image = ds.ContentSequence[1].ContentSequence[2].ContentSequence[0].ReferencedSOPSequence[0]
    (ref,) = scoord.image_references()
    assert (ref.sop_instance_uid, list(ref.frames)) == (image.ReferencedSOPInstanceUID, [int(image.ReferencedFrameNumber)])
    assert report.patient == "Müller, Jörg"


def test_dose_report_of_two_thousand_items(tmp_path):
    path = dose_report(tmp_path / "dose.dcm", 2000)
    items = check_against_dsrdump(path)
    assert 1990 <= len(items) <= 2000
    assert read_report(path).kind == "X-Ray Radiation Dose SR"


def test_every_sr_storage_class_is_a_report():
    from pydicom.uid import UID_dictionary

    sr = [
        uid
        for uid, entry in UID_dictionary.items()
        if entry[1] == "SOP Class" and entry[0].endswith("Storage") and " SR " in entry[0] + " "
    ]
    assert sr and all(is_structured_report(uid) for uid in sr)
    assert is_structured_report("1.2.840.10008.5.1.4.1.1.88.59")  # Key Object Selection Document
    assert not is_structured_report(pydicom.dcmread(get_testdata_file("CT_small.dcm")).SOPClassUID)


def test_not_a_report_and_damaged_reports_say_so_in_one_line(tmp_path):
    with pytest.raises(ViewerError, match="is not a Structured Report"):
        read_report(get_testdata_file("CT_small.dcm"))
    whole = open(get_testdata_file("test-SR.dcm"), "rb").read()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with pytest.raises(ViewerError) as excinfo:
        read_report(cut)
    assert "\n" not in str(excinfo.value)
    ds = pydicom.dcmread(get_testdata_file("test-SR.dcm"))
    del ds.ValueType
    ds.save_as(tmp_path / "no-type.dcm")
    with pytest.raises(ViewerError, match="Value Type"):
        read_report(tmp_path / "no-type.dcm")


@pytest.mark.parametrize("option", ["+ti", "+tb", "+td"], ids=["implicit-little", "explicit-big", "deflated"])
def test_every_encoding_item_for_item(tmp_path, option):
    """test-SR.dcm written by dcmtk's dcmconv in another transfer syntax: the same tree as dsrdump reads it."""
    path = tmp_path / "converted.dcm"
    subprocess.run([shutil.which("dcmconv"), option, get_testdata_file("test-SR.dcm"), str(path)], check=True, timeout=60)
    assert len(check_against_dsrdump(path)) == len(list(read_report(get_testdata_file("test-SR.dcm")).items()))


def test_a_report_cut_anywhere_is_read_or_refused_in_one_line(tmp_path):
    """test-SR.dcm cut at every 53rd byte, and with bytes of its content tree flipped: a report or a
    ViewerError of one line, never another exception."""
    whole = open(get_testdata_file("test-SR.dcm"), "rb").read()
    path = tmp_path / "damaged.dcm"
    damaged = [whole[:end] for end in range(200, len(whole), 53)]
    damaged += [whole[:at] + bytes([whole[at] ^ 0xFF]) + whole[at + 1 :] for at in range(1200, len(whole), 97)]
    for data in damaged:
        path.write_bytes(data)
        try:
            read_report(path)
        except ViewerError as exc:
            assert "\n" not in str(exc) and str(exc)
