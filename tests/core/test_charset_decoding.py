"""Text in the right script: declared sets, ISO 2022 code extensions, guesses and overrides.

Expected names come from pydicom's own reference list for its charset test
files (``tests/test_charset.py``, FILE_PATIENT_NAMES), from Python's codecs,
or from bytes written by hand from PS3.3 C.12.1.1.2 (the escape sequences);
never from the code under test.
"""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.core.dicom.charset import CHOICES, CharsetOverrides, declared_charsets, decode_text, element_text, guess_charset
from viewer.core.dicom.inspect import dataset_rows, dump_text, iter_rows, to_json_model

#: pydicom's tests/test_charset.py FILE_PATIENT_NAMES: (0010,0010), every component group.
FILE_PATIENT_NAMES = {
    "chrArab.dcm": "قباني^لنزار",
    "chrFren.dcm": "Buc^Jérôme",
    "chrFrenMulti.dcm": "Buc^Jérôme",
    "chrGerm.dcm": "Äneas^Rüdiger",
    "chrGreek.dcm": "Διονυσιος",
    "chrH31.dcm": "Yamada^Tarou=山田^太郎=やまだ^たろう",
    "chrH32.dcm": "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう",
    "chrHbrw.dcm": "שרון^דבורה",
    "chrI2.dcm": "Hong^Gildong=洪^吉洞=홍^길동",
    "chrJapMulti.dcm": "やまだ^たろう",
    "chrJapMultiExplicitIR6.dcm": "やまだ^たろう",
    "chrKoreanMulti.dcm": "김희중",
    "chrRuss.dcm": "Люкceмбypг",
    "chrX1.dcm": "Wang^XiaoDong=王^小東",
    "chrX2.dcm": "Wang^XiaoDong=王^小东",
}
#: The same list: (0010,0010) of item 0 of (0032,1064) in the two sequence files.
SQ_PATIENT_NAME = "ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう"
PATIENT_NAME = 0x00100010
REQUESTED_PROCEDURE_CODES = 0x00321064


def charset_file(name: str) -> str:
    found = get_charset_files(name)
    if not found:
        pytest.skip(f"pydicom's charset file {name} is not installed")
    return found[0]


def pn_groups(name: str) -> dict:
    """A PN value in the PS3.18 F.2.2 form, split by hand from the reference text."""
    groups = name.split("=")
    return {label: group for label, group in zip(("Alphabetic", "Ideographic", "Phonetic"), groups) if group}


def row_for(rows, tag: str):
    return next(row for _depth, row in iter_rows(rows) if row.tag == tag)


# ----------------------------------------------------------------------------- pydicom's charset files


@pytest.mark.parametrize("name", sorted(FILE_PATIENT_NAMES))
def test_patient_name_of_pydicoms_charset_files(name):
    path = charset_file(name)
    ds = pydicom.dcmread(path)
    expected = FILE_PATIENT_NAMES[name]

    decoded = element_text(ds, PATIENT_NAME, path, CharsetOverrides())
    assert decoded.text == expected
    assert not decoded.suspect and decoded.guess is None

    rows = dataset_rows(ds, path, CharsetOverrides())
    row = row_for(rows, "(0010,0010)")
    assert row.full_value == expected and not row.suspect and not row.warning
    assert f"PatientName = {expected}" in dump_text(rows)

    model = to_json_model(ds, path, CharsetOverrides())
    assert model["00100010"] == {"vr": "PN", "Value": [pn_groups(expected)]}


@pytest.mark.parametrize("name", ["chrSQEncoding.dcm", "chrSQEncoding1.dcm"])
def test_patient_name_in_a_sequence_item(name):
    path = charset_file(name)
    ds = pydicom.dcmread(path)
    item = ds[REQUESTED_PROCEDURE_CODES].value[0]
    # chrSQEncoding1's item has no (0008,0005): it inherits the parent's (PS3.5 7.5.3).
    decoded = element_text(item, PATIENT_NAME, path, CharsetOverrides(), declared=declared_charsets(ds))
    assert decoded.text == SQ_PATIENT_NAME and not decoded.suspect

    rows = dataset_rows(ds, path, CharsetOverrides())
    sequence = row_for(rows, "(0032,1064)")
    assert sequence.vr == "SQ" and len(sequence.children) == 1
    nested = next(row for row in sequence.children[0].children if row.tag == "(0010,0010)")
    assert nested.full_value == SQ_PATIENT_NAME and not nested.suspect
    # dcmdump-like text: the item's element is indented under the sequence.
    lines = dump_text(rows).splitlines()
    line = next(line for line in lines if "PatientName" in line and SQ_PATIENT_NAME in line)
    assert line.startswith("    (0010,0010)")

    model = to_json_model(ds, path, CharsetOverrides())
    assert model["00321064"]["Value"][0]["00100010"] == {"vr": "PN", "Value": [pn_groups(SQ_PATIENT_NAME)]}


def test_sequence_item_without_own_charset_uses_the_parents():
    path = charset_file("chrSQEncoding1.dcm")
    ds = pydicom.dcmread(path)
    item = ds[REQUESTED_PROCEDURE_CODES].value[0]
    assert 0x00080005 not in item
    # Read alone (as if the item declared nothing) the ISO 2022 bytes are not ASCII.
    alone = element_text(item, PATIENT_NAME, path, CharsetOverrides(), declared=[""])
    assert alone.text != SQ_PATIENT_NAME or alone.suspect


# ----------------------------------------------------------------------------- generated files


def write_name(path: Path, raw: bytes, charset, extra: dict | None = None) -> Path:
    """A small file whose (0010,0010) holds exactly `raw`, under (0008,0005) `charset` (None: absent)."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    if charset is not None:
        ds.SpecificCharacterSet = charset
    ds.add_new(PATIENT_NAME, "PN", raw)
    for keyword, value in (extra or {}).items():
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    assert raw in data  # the bytes under test really are in the file
    path.write_bytes(data)
    return path


def read_name(path: Path, overrides: CharsetOverrides | None = None):
    ds = pydicom.dcmread(path)
    return element_text(ds, PATIENT_NAME, str(path), overrides or CharsetOverrides())


#: (defined term, Python codec, a name in that script).
SINGLE_BYTE = [
    ("ISO_IR 100", "iso8859_1", "Buc^Jérôme"),
    ("ISO_IR 101", "iso8859_2", "Wałęsa"),
    ("ISO_IR 109", "iso8859_3", "antaŭnomo"),
    ("ISO_IR 110", "iso8859_4", "vārds"),
    ("ISO_IR 144", "iso8859_5", "Иванов^Сергей"),
    ("ISO_IR 127", "iso8859_6", "قباني^لنزار"),
    ("ISO_IR 126", "iso8859_7", "Διονυσιος"),
    ("ISO_IR 138", "iso8859_8", "שרון^דבורה"),
    ("ISO_IR 148", "iso8859_9", "Çavuşoğlu"),
    ("ISO_IR 166", "tis_620", "นามสกุล"),
    ("ISO_IR 13", "shift_jis", "ﾔﾏﾀﾞ^ﾀﾛｳ"),  # JIS X 0201: half-width katakana are single bytes
]
#: PS3.3 Table C.12-3/C.12-4: the escape sequence designating each set to G1 (or G0 for IR 13's Romaji).
G1_ESCAPE = {
    "ISO 2022 IR 100": b"\x1b\x2d\x41",
    "ISO 2022 IR 101": b"\x1b\x2d\x42",
    "ISO 2022 IR 109": b"\x1b\x2d\x43",
    "ISO 2022 IR 110": b"\x1b\x2d\x44",
    "ISO 2022 IR 144": b"\x1b\x2d\x4c",
    "ISO 2022 IR 127": b"\x1b\x2d\x47",
    "ISO 2022 IR 126": b"\x1b\x2d\x46",
    "ISO 2022 IR 138": b"\x1b\x2d\x48",
    "ISO 2022 IR 148": b"\x1b\x2d\x4d",
    "ISO 2022 IR 166": b"\x1b\x2d\x54",
    "ISO 2022 IR 13": b"\x1b\x29\x49",
}


@pytest.mark.parametrize("term, codec, name", SINGLE_BYTE, ids=[t for t, _, _ in SINGLE_BYTE])
def test_single_byte_sets(tmp_path, term, codec, name):
    decoded = read_name(write_name(tmp_path / "a.dcm", name.encode(codec), term))
    assert decoded.text == name
    assert not decoded.suspect and decoded.guess is None


@pytest.mark.parametrize("term, codec, name", SINGLE_BYTE, ids=[t.replace("ISO_IR", "ISO 2022 IR") for t, _, _ in SINGLE_BYTE])
def test_single_byte_sets_with_code_extensions(tmp_path, term, codec, name):
    term = term.replace("ISO_IR", "ISO 2022 IR")
    raw = G1_ESCAPE[term] + name.encode(codec)
    for declared in ([term], ["", term]):
        decoded = read_name(write_name(tmp_path / "a.dcm", raw, declared if len(declared) > 1 else declared[0]))
        assert decoded.text == name, declared
        assert not decoded.suspect


#: pydicom's ENCODED_NAMES examples, bytes as given there.
HAND_MADE = [
    ("ISO 2022 IR 13", "ﾔﾏﾀﾞ^ﾀﾛｳ", b"\x1b\x29\x49\xd4\xcf\xc0\xde\x5e\x1b\x29\x49\xc0\xdb\xb3"),
    ("ISO 2022 IR 100", "Buc^Jérôme", b"\x1b\x2d\x41\x42\x75\x63\x5e\x4a\xe9\x72\xf4\x6d\x65"),
    ("ISO 2022 IR 101", "Wałęsa", b"\x1b\x2d\x42\x57\x61\xb3\xea\x73\x61"),
]


@pytest.mark.parametrize("term, name, raw", HAND_MADE, ids=[t for t, _, _ in HAND_MADE])
def test_hand_made_iso_2022_bytes(tmp_path, term, name, raw):
    decoded = read_name(write_name(tmp_path / "a.dcm", raw, ["", term]))
    assert decoded.text == name and not decoded.suspect


def _iso2022_group(text: str, escape: bytes, codec: str) -> bytes:
    """Multi-byte characters after `escape` (G1, GR bytes), delimiters in ASCII."""
    out = b""
    for part in text.split("^"):
        out += (escape + part.encode(codec) if any(ord(c) > 0x7F for c in part) else part.encode("ascii")) + b"^"
    return out[:-1]


def test_iso_2022_multi_byte_sets(tmp_path):
    # IR 87 (JIS X 0208) in G0: ESC $ B ... back to ASCII with ESC ( B, as Python's iso2022_jp writes it.
    ir87 = b"Yamada^Tarou=" + "山田^太郎".encode("iso2022_jp") + b"=" + "やまだ^たろう".encode("iso2022_jp")
    decoded = read_name(write_name(tmp_path / "87.dcm", ir87, ["", "ISO 2022 IR 87"]))
    assert decoded.text == "Yamada^Tarou=山田^太郎=やまだ^たろう" and not decoded.suspect

    # IR 159 (JIS X 0212, ESC $ ( D): 丂 is in JIS X 0212, not in JIS X 0208.
    ir159 = "丂".encode("iso2022_jp_2")
    assert ir159.startswith(b"\x1b$(D")
    decoded = read_name(write_name(tmp_path / "159.dcm", b"Sato^" + ir159, ["", "ISO 2022 IR 87", "ISO 2022 IR 159"]))
    assert decoded.text == "Sato^丂" and not decoded.suspect

    # IR 149 (KS X 1001 in G1: ESC $ ) C, then EUC-KR's GR bytes).
    ir149 = b"Kim^Minjun=" + _iso2022_group("김^민준", b"\x1b\x24\x29\x43", "euc_kr")
    decoded = read_name(write_name(tmp_path / "149.dcm", ir149, ["", "ISO 2022 IR 149"]))
    assert decoded.text == "Kim^Minjun=김^민준" and not decoded.suspect

    # IR 58 (GB 2312 in G1: ESC $ ) A, then GR bytes).
    ir58 = b"Wang^XiaoMing=" + _iso2022_group("王^小明", b"\x1b\x24\x29\x41", "gb2312")
    decoded = read_name(write_name(tmp_path / "58.dcm", ir58, ["", "ISO 2022 IR 58"]))
    assert decoded.text == "Wang^XiaoMing=王^小明" and not decoded.suspect


def test_iso_2022_ir_58_example_of_the_standard(tmp_path):
    """PS3.5 Annex K.2: 'Zhang^XiaoDong=张^小东=' with GB 2312 in G1, bytes as printed there."""
    raw = bytes.fromhex("5A 68 61 6E 67 5E 58 69 61 6F 44 6F 6E 67 3D 1B 24 29 41 D5 C5 5E 1B 24 29 41 D0 A1 B6 AB 3D 20")
    path = write_name(tmp_path / "k2.dcm", raw, ["", "ISO 2022 IR 58"])
    decoded = read_name(path)
    assert decoded.text == "Zhang^XiaoDong=张^小东=" and not decoded.suspect
    model = to_json_model(pydicom.dcmread(path), str(path), CharsetOverrides())
    assert model["00100010"]["Value"] == [{"Alphabetic": "Zhang^XiaoDong", "Ideographic": "张^小东"}]


def test_declared_multi_byte_sets_without_code_extensions(tmp_path):
    for term, codec, name in [("GB18030", "gb18030", "王^小明"), ("GBK", "gbk", "张^伟"), ("ISO_IR 192", "utf8", "Müller^Jürgen=王^小明")]:
        decoded = read_name(write_name(tmp_path / "a.dcm", name.encode(codec), term))
        assert decoded.text == name and not decoded.suspect, term


# ----------------------------------------------------------------------------- mis-encoded text

#: (name, Python codec it is written with, the override code that reads it).
MISENCODED = [
    ("王小明", "gb18030", "GB18030"),
    ("张^伟", "gb18030", "GB18030"),
    ("李^娜", "gbk", "GBK"),
    ("山田^太郎", "shift_jis", "shift_jis"),
    ("やまだ^たろう", "shift_jis", "shift_jis"),
    ("김민준", "euc_kr", "euc_kr"),
    ("이서연", "euc_kr", "euc_kr"),
    ("Müller^Jürgen", "utf8", "ISO_IR 192"),
    ("Иванов", "cp1251", "cp1251"),
]
#: Guesses: GBK is a subset of GB18030, so a GBK name is read right as GB18030.
SAME_TEXT = {"GBK": {"GBK", "GB18030"}}


@pytest.mark.parametrize("declared", [None, "ISO_IR 100", "ISO_IR 6"], ids=["absent", "latin1", "ascii"])
@pytest.mark.parametrize("name, codec, code", MISENCODED, ids=[f"{n}-{c}" for n, c, _ in MISENCODED])
def test_misencoded_names_are_suspect_with_a_right_guess(tmp_path, declared, name, codec, code):
    path = write_name(tmp_path / "a.dcm", name.encode(codec), declared)
    decoded = read_name(path)
    assert decoded.suspect
    assert decoded.text == name  # the best guess reads it right
    assert decoded.guess in SAME_TEXT.get(code, {code})

    overridden = read_name(path, CharsetOverrides(files={str(path): code}))
    assert overridden.text == name and not overridden.suspect and overridden.overridden


@pytest.mark.parametrize("name, codec, code", [m for m in MISENCODED if m[1] != "utf8"], ids=[n for n, c, _ in MISENCODED if c != "utf8"])
def test_non_utf8_bytes_declared_utf8_are_suspect(tmp_path, name, codec, code):
    path = write_name(tmp_path / "a.dcm", name.encode(codec), "ISO_IR 192")
    decoded = read_name(path)
    assert decoded.suspect and decoded.text == name
    assert read_name(path, CharsetOverrides(series={}, files={str(path): code})).text == name


def test_ascii_and_well_declared_text_is_not_suspect():
    assert decode_text(b"Doe^John", "PN", [""]).suspect is False
    assert decode_text("Jérôme".encode("latin-1"), "PN", ["ISO_IR 100"]).suspect is False
    assert guess_charset(b"Doe^John") is None


def test_every_choice_decodes_its_own_script():
    samples = {
        "ISO_IR 192": ("王^小明", "utf8"),
        "GB18030": ("王^小明", "gb18030"),
        "GBK": ("张^伟", "gbk"),
        "shift_jis": ("山田^太郎", "shift_jis"),
        "\\ISO 2022 IR 87": ("山田^太郎", "iso2022_jp"),
        "euc_kr": ("김^민준", "euc_kr"),
        "\\ISO 2022 IR 149": ("김^민준", None),
        "cp1251": ("Иванов", "cp1251"),
        "ISO_IR 144": ("Иванов", "iso8859_5"),
        "ISO_IR 100": ("Müller", "latin-1"),
        "ISO_IR 101": ("Wałęsa", "iso8859_2"),
        "ISO_IR 126": ("Διονυσιος", "iso8859_7"),
        "ISO_IR 127": ("قباني", "iso8859_6"),
        "ISO_IR 138": ("שרון", "iso8859_8"),
        "ISO_IR 148": ("Çavuşoğlu", "iso8859_9"),
        "ISO_IR 166": ("นามสกุล", "tis_620"),
    }
    assert set(samples) == {code for code in CHOICES.values() if code}
    for code, (name, codec) in samples.items():
        raw = name.encode(codec) if codec else _iso2022_group(name, b"\x1b\x24\x29\x43", "euc_kr")
        decoded = decode_text(raw, "PN", [""], override=code)
        assert decoded.text == name and not decoded.suspect, code


# ----------------------------------------------------------------------------- overrides


def test_override_order_file_series_station_institution_declared():
    ds = Dataset()
    ds.SeriesInstanceUID = "1.2.3"
    ds.StationName = "CT01"
    ds.InstitutionName = "Hospital"
    overrides = CharsetOverrides()
    assert overrides.lookup(ds, "/a.dcm") is None  # the file's own declaration applies
    overrides.set("institutions", "Hospital", "euc_kr")
    assert overrides.lookup(ds, "/a.dcm") == ("euc_kr", "institution")
    overrides.set("stations", "CT01", "shift_jis")
    assert overrides.lookup(ds, "/a.dcm") == ("shift_jis", "station")
    overrides.set("series", "1.2.3", "GBK")
    assert overrides.lookup(ds, "/a.dcm") == ("GBK", "series")
    overrides.set("files", "/a.dcm", "GB18030")
    assert overrides.lookup(ds, "/a.dcm") == ("GB18030", "file")
    assert overrides.lookup(ds, "/other.dcm") == ("GBK", "series")
    overrides.set("files", "/a.dcm", None)  # removing a choice uncovers the next one
    assert overrides.lookup(ds, "/a.dcm") == ("GBK", "series")
    assert CharsetOverrides.from_dict(overrides.to_dict()) == overrides


@pytest.mark.parametrize("scope, key", [("stations", "CT01"), ("institutions", "Hospital"), ("series", "SERIES")])
def test_station_and_institution_overrides_decode_a_file(tmp_path, scope, key):
    series_uid = generate_uid()
    path = write_name(
        tmp_path / "a.dcm",
        "王小明".encode("gb18030"),
        None,
        {"SeriesInstanceUID": series_uid, "StationName": "CT01", "InstitutionName": "Hospital"},
    )
    key = series_uid if key == "SERIES" else key
    # A wrong choice at a wider scope loses against the right one at a narrower scope.
    overrides = CharsetOverrides(institutions={"Hospital": "euc_kr"} if scope != "institutions" else {})
    overrides.set(scope, key, "GB18030")
    decoded = read_name(path, overrides)
    assert decoded.text == "王小明" and not decoded.suspect and decoded.overridden


def test_override_beats_a_declaration(tmp_path):
    path = write_name(tmp_path / "a.dcm", "김민준".encode("euc_kr"), "GB18030")  # valid GB18030 bytes, wrong declaration
    assert read_name(path).text != "김민준"
    assert read_name(path, CharsetOverrides(files={str(path): "euc_kr"})).text == "김민준"
