"""Every attribute as rows and as ``dicom-viewer dump``: malformed values raw and flagged,
bulk data summarised, DICOM JSON (PS3.18 Annex F), exit status 2 for bad input.

The malformed file is written byte by byte (explicit VR little endian,
PS3.5 7.1.2) so that each value is exactly the fault under test.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataset import FileMetaDataset
from pydicom.filewriter import write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian

from viewer.app import main
from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.dicom.inspect import ELIDE_AT, dataset_rows, dump_text, iter_rows, to_json_model

ROOT = Path(__file__).resolve().parents[2]
CT = get_testdata_file("CT_small.dcm", download=False)
ENHANCED_CT = get_testdata_file("eCT_Supplemental.dcm", download=False)

LONG_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN", "UC", "UR", "OD", "OL", "OV", "SV", "UV"}


def element(tag: int, vr: str, value: bytes) -> bytes:
    """One explicit-VR little-endian element, `value` written as given (odd lengths too)."""
    group, number = tag >> 16, tag & 0xFFFF
    if vr in LONG_VRS:
        return struct.pack("<HH2sHI", group, number, vr.encode(), 0, len(value)) + value
    return struct.pack("<HH2sH", group, number, vr.encode(), len(value)) + value


#: tag -> (VR, bytes, the raw text the inspector must show). Each value is invalid
#: under PS3.5 Table 6.2-1 or 7.1.1 (odd length) or the VR's fixed size.
MALFORMED = {
    0x00080018: ("UI", b"1.2.abc.4\x00", "1.2.abc.4"),
    0x00080020: ("DA", b"2024-13-45", "2024-13-45"),
    0x00080021: ("DA", b"notadate", "notadate"),
    0x00080030: ("TM", b"25:61:99", "25:61:99"),
    0x00081160: ("IS", b"1A", "1A"),
    0x00101020: ("DS", b"1.2.3 ", "1.2.3"),
    0x00101030: ("DS", b"abcd", "abcd"),
    0x00200013: ("IS", b"12345678901234", "12345678901234"),  # more than 12 bytes and 2^31
    0x00209165: ("AT", b"\x10\x00\x10", "\x10\x00\x10"),  # 3 bytes, not a tag
    0x00280010: ("US", b"\x00\x02\x00", "\x00\x02\x00"),  # 3 bytes, not a US
    0x00321032: ("PN", b"Odd^Len", "Odd^Len"),  # odd length
}
VALID = {
    0x00080016: ("UI", b"1.2.840.10008.5.1.4.1.1.7\x00"),
    0x00100010: ("PN", b"Doe^John"),
    0x00280011: ("US", b"\x00\x02"),
    0x00281050: ("DS", b"40.5E+1 "),
    0x00080031: ("TM", b"235960.12345"),
    0x00080023: ("DA", b"20240229"),
}


@pytest.fixture
def malformed_file(tmp_path) -> Path:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    out = io.BytesIO()
    out.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(out, meta, enforce_standard=True)
    elements = {tag: (vr, raw) for tag, (vr, raw, _) in MALFORMED.items()} | VALID
    for tag in sorted(elements):
        out.write(element(tag, *elements[tag]))
    path = tmp_path / "malformed.dcm"
    path.write_bytes(out.getvalue())
    pydicom.dcmread(path)  # pydicom's reader copes with it
    return path


def test_malformed_values_are_shown_raw_and_flagged(malformed_file):
    rows = {row.tag_value: row for _, row in iter_rows(dataset_rows(pydicom.dcmread(malformed_file), str(malformed_file)))}
    for tag, (vr, _raw, shown) in MALFORMED.items():
        row = rows[tag]
        assert row.vr == vr
        assert row.full_value == shown, f"{tag:08X}"
        assert row.warning, f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {vr} {shown!r} is not flagged"
    for tag in VALID:
        assert not rows[tag].warning, (f"{tag:08X}", rows[tag].warning)
    assert rows[0x00280011].full_value == "512"


def test_dump_of_a_malformed_file_exits_0_and_marks_them(malformed_file, capsys):
    assert main(["dump", str(malformed_file)]) == 0
    out = capsys.readouterr().out
    for tag in MALFORMED:
        line = next(line for line in out.splitlines() if line.startswith(f"({tag >> 16:04X},{tag & 0xFFFF:04X})"))
        assert "[invalid:" in line, line
    assert main(["dump", "--json", str(malformed_file)]) == 0
    model = json.loads(capsys.readouterr().out)
    assert model["00101020"] == {"vr": "DS", "Value": ["1.2.3"]}  # raw, not a number it is not
    assert model["00209165"] == {"vr": "AT"}  # 3 bytes: no tag to show
    assert model["00280011"] == {"vr": "US", "Value": [512]}


def test_pixel_data_is_summarised_never_dumped():
    ds = pydicom.dcmread(CT)
    rows = dataset_rows(ds, CT)
    pixel = next(row for row in rows if row.tag == "(7FE0,0010)")
    assert pixel.value.startswith("<pixel data") and pixel.full_value == pixel.value
    assert str(ds.Rows) in pixel.value and len(pixel.value) < 200
    assert len(dump_text(rows)) < 20_000  # 128x128x2 bytes of pixels would be far longer


def test_long_values_are_elided_with_the_full_text_kept():
    ds = pydicom.dcmread(CT)
    long_text = "word " * 100
    ds.StudyDescription = long_text[:64]
    ds.ImageComments = long_text  # LT: up to 10240 characters
    rows = {row.tag: row for row in dataset_rows(ds, CT)}
    comments = rows["(0020,4000)"]
    assert comments.full_value.rstrip() == long_text.rstrip()
    assert len(comments.value) <= ELIDE_AT and comments.value.endswith("…")
    assert comments.full_value.startswith(comments.value[:-1])
    assert comments.full_value.rstrip() in comments.line()  # copying a row copies the whole value


def test_sequences_become_indented_items():
    ds = pydicom.dcmread(ENHANCED_CT)
    rows = dataset_rows(ds, ENHANCED_CT)
    per_frame = next(row for row in rows if row.keyword == "PerFrameFunctionalGroupsSequence")
    assert per_frame.vr == "SQ" and len(per_frame.children) == len(ds.PerFrameFunctionalGroupsSequence)
    assert per_frame.children[0].tag == "Item 1" and per_frame.children[0].children
    lines = dump_text(rows).splitlines()
    start = next(i for i, line in enumerate(lines) if "PerFrameFunctionalGroupsSequence" in line)
    assert lines[start + 1].startswith("  Item 1")
    assert lines[start + 2].startswith("    (")


def test_json_model_follows_ps3_18_annex_f():
    ds = pydicom.dcmread(CT)
    model = to_json_model(ds, CT, CharsetOverrides())
    assert all(len(key) == 8 and int(key, 16) >= 0x00080000 for key in model)
    assert all("vr" in entry for entry in model.values())
    assert model["7FE00010"] == {"vr": "OW"}  # bulk data: no value, no BulkDataURI
    assert model["00280010"] == {"vr": "US", "Value": [ds.Rows]}
    assert model["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": str(ds.PatientName)}]}
    assert model["00200032"]["Value"] == [float(v) for v in ds.ImagePositionPatient]
    assert model["00080008"]["Value"] == list(ds.ImageType)
    assert model["0020000E"]["Value"] == [ds.SeriesInstanceUID]
    json.dumps(model)


def test_dump_text_is_one_line_per_element(capsys):
    assert main(["dump", CT]) == 0
    out = capsys.readouterr().out.splitlines()
    ds = pydicom.dcmread(CT)
    element_lines = [line for line in out if line.startswith("(")]
    assert len(element_lines) == len(ds) + len(ds.file_meta)
    assert any(line.startswith("(0010,0010) PN PatientName = CompressedSamples^CT1") for line in out)


def test_dump_json_of_a_charset_file(capsys):
    path = get_charset_files("chrH31.dcm")[0]
    assert main(["dump", "--json", path]) == 0
    model = json.loads(capsys.readouterr().out)
    assert model["00100010"] == {
        "vr": "PN",
        "Value": [{"Alphabetic": "Yamada^Tarou", "Ideographic": "山田^太郎", "Phonetic": "やまだ^たろう"}],
    }
    assert model["7FE00010"] == {"vr": "OB"} or model["7FE00010"] == {"vr": "OW"}


def write_undeclared_gb18030(path: Path) -> Path:
    ds = pydicom.dcmread(CT)
    del ds.SpecificCharacterSet
    ds.add_new(0x00100010, "PN", "王^小明".encode("gb18030"))
    ds.save_as(path)
    return path


def test_dump_with_charset_overrides_the_declaration(tmp_path, capsys):
    path = write_undeclared_gb18030(tmp_path / "gb.dcm")
    assert main(["dump", str(path)]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("(0010,0010)"))
    assert "[guess: GB18030]" in line  # undeclared: flagged, with the best guess
    assert main(["dump", str(path), "--charset", "GB18030"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("(0010,0010)"))
    assert "王^小明" in line and "[guess" not in line and "[suspect]" not in line
    assert main(["dump", str(path), "--charset", "GB18030", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["00100010"]["Value"] == [{"Alphabetic": "王^小明"}]


def test_dump_errors_exit_2_with_one_line(tmp_path, capsys):
    not_dicom = tmp_path / "notes.dcm"
    not_dicom.write_text("not a DICOM file")
    for argv in (["dump", str(not_dicom)], ["dump", str(tmp_path / "missing.dcm")], ["dump", CT, "--charset", "KLINGON"]):
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        assert len(captured.err.strip().splitlines()) == 1 and "Traceback" not in captured.err


def test_dump_command_line_process(tmp_path):
    """The real command: exit status and stderr as a shell sees them."""
    bad = subprocess.run(
        [sys.executable, "-m", "viewer", "dump", CT, "--charset", "KLINGON"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "KLINGON" in bad.stderr
    good = subprocess.run([sys.executable, "-m", "viewer", "dump", "--json", CT], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert good.returncode == 0
    assert json.loads(good.stdout)["7FE00010"] == {"vr": "OW"}
