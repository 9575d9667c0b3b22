"""A character set spelt as a user types it: DICOM terms, Python codecs and their aliases, any case.

Each spelling must decode a character-set file exactly as its canonical name
does, and as the reference name says. Files and names: pydicom's charset
test files with pydicom's own reference list (tests/test_charset.py,
FILE_PATIENT_NAMES); for the codecs no DICOM file uses (Shift_JIS, EUC-KR,
EUC-JP, Windows-1252), a copy of one of those files whose (0010,0010) holds the
same reference name encoded by Python's codec, and no (0008,0005).
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.app import main
from viewer.core.dicom.charset import CharsetOverrides, element_text, normalise_charset, sendable_charset
from viewer.core.dicom.io import ViewerError
from viewer.core.net.nodes import Node

PATIENT_NAME = 0x00100010

#: pydicom's reference names (tests/test_charset.py FILE_PATIENT_NAMES) for the files used here.
REFERENCE = {
    "chrX1.dcm": "Wang^XiaoDong=王^小東",  # ISO_IR 192
    "chrX2.dcm": "Wang^XiaoDong=王^小东",  # GB18030
    "chrFren.dcm": "Buc^Jérôme",  # ISO_IR 100
    "chrH31.dcm": "Yamada^Tarou=山田^太郎=やまだ^たろう",  # ISO 2022 IR 87
    "chrKoreanMulti.dcm": "김희중",  # ISO 2022 IR 149
}

#: (spelling, canonical choice, file, name the file holds, codec that wrote the copy or None for the file as it is).
SPELLINGS = [
    ("UTF-8", "ISO_IR 192", "chrX1.dcm", REFERENCE["chrX1.dcm"], None),
    ("utf8", "ISO_IR 192", "chrX1.dcm", REFERENCE["chrX1.dcm"], None),
    ("gb18030", "GB18030", "chrX2.dcm", REFERENCE["chrX2.dcm"], None),
    ("latin1", "ISO_IR 100", "chrFren.dcm", REFERENCE["chrFren.dcm"], None),
    ("Latin-1", "ISO_IR 100", "chrFren.dcm", REFERENCE["chrFren.dcm"], None),
    ("ISO_IR 100", "ISO_IR 100", "chrFren.dcm", REFERENCE["chrFren.dcm"], None),
    ("iso-ir-100", "ISO_IR 100", "chrFren.dcm", REFERENCE["chrFren.dcm"], None),
    ("cp1252", "cp1252", "chrFren.dcm", REFERENCE["chrFren.dcm"], "cp1252"),
    ("ISO 2022 IR 87", "\\ISO 2022 IR 87", "chrH31.dcm", REFERENCE["chrH31.dcm"], None),
    ("Shift_JIS", "shift_jis", "chrH31.dcm", "山田^太郎", "shift_jis"),
    ("SJIS", "shift_jis", "chrH31.dcm", "山田^太郎", "shift_jis"),
    ("eucjp", "euc_jp", "chrH31.dcm", "やまだ^たろう", "euc_jp"),
    ("EUC-KR", "euc_kr", "chrKoreanMulti.dcm", REFERENCE["chrKoreanMulti.dcm"], "euc_kr"),
]
IDS = [spelling for spelling, *_ in SPELLINGS]


def charset_file(name: str) -> Path:
    found = get_charset_files(name)
    if not found:
        pytest.skip(f"pydicom's charset file {name} is not installed")
    return Path(found[0])


def file_holding(tmp_path: Path, name: str, text: str, codec: str | None) -> Path:
    """The charset file itself, or a copy whose Patient's Name is `text` in `codec`, declaring nothing."""
    source = charset_file(name)
    if codec is None:
        assert str(pydicom.dcmread(source).PatientName) == text
        return source
    original = pydicom.dcmread(source)
    ds = Dataset()  # the file's identity and this one name: its other text is in the declared set
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = original.get("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7")
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = original.get("SOPInstanceUID") or generate_uid()
    raw = text.encode(codec)
    ds.add_new(PATIENT_NAME, "PN", raw)
    path = tmp_path / f"{codec}-{name}"
    ds.save_as(path, enforce_file_format=True)
    assert raw in path.read_bytes()
    return path


def decoded(path: Path, code: str) -> str:
    ds = pydicom.dcmread(path)
    return element_text(ds, PATIENT_NAME, str(path), CharsetOverrides(files={str(path): code})).text


@pytest.mark.parametrize(("spelling", "canonical", "name", "text", "codec"), SPELLINGS, ids=IDS)
def test_each_spelling_decodes_as_its_canonical_name(tmp_path, spelling, canonical, name, text, codec):
    path = file_holding(tmp_path, name, text, codec)
    assert normalise_charset(spelling) == canonical
    assert normalise_charset(spelling.upper()) == canonical and normalise_charset(spelling.lower()) == canonical
    assert decoded(path, normalise_charset(spelling)) == decoded(path, canonical) == text


@pytest.mark.parametrize(("spelling", "canonical", "name", "text", "codec"), SPELLINGS, ids=IDS)
def test_dump_accepts_each_spelling(tmp_path, capsys, spelling, canonical, name, text, codec):
    path = file_holding(tmp_path, name, text, codec)
    assert main(["dump", str(path), "--charset", spelling]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("(0010,0010)"))
    assert f"PatientName = {text}" in line and "[guess" not in line and "[suspect]" not in line


def test_an_unknown_spelling_is_one_line_naming_valid_ones(capsys):
    path = charset_file("chrX1.dcm")
    for spelling in ("KLINGON", "base64", "utf-9"):  # base64 is a Python codec, but not a text encoding
        with pytest.raises(ViewerError) as excinfo:
            normalise_charset(spelling)
        assert spelling in str(excinfo.value) and "ISO_IR 192" in str(excinfo.value) and "Shift_JIS" in str(excinfo.value)
        assert main(["dump", str(path), "--charset", spelling]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and "ISO_IR 192" in captured.err


@pytest.mark.parametrize(("spelling", "canonical", "name", "text", "codec"), SPELLINGS, ids=IDS)
def test_a_node_takes_each_spelling(spelling, canonical, name, text, codec):
    """Answers that declare nothing are read in the node's assumed set, spelt any way."""
    node = Node("pacs", "PACS", "127.0.0.1", 104, assume_charset=spelling)
    assert node.assume_charset == canonical
    if canonical.startswith("\\") or canonical in ("shift_jis", "euc_jp", "euc_kr", "cp1252"):
        with pytest.raises(ViewerError, match="not a character set a query can declare"):
            Node("pacs", "PACS", "127.0.0.1", 104, charset=spelling)
    else:
        assert Node("pacs", "PACS", "127.0.0.1", 104, charset=spelling).charset == canonical == sendable_charset(spelling)
    assert Node.from_dict(node.to_dict()) == node
