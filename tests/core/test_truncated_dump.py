"""``dump`` of a file cut short: every element that could be read, then one line saying where it ends.

Real files (pydicom's test files and pydicom-data) are cut at chosen points:
in the meta group, in a header value, in an element's header, inside a
sequence item (nested two deep), in a private bulk value, in native and in
encapsulated pixel data; pydicom's own truncated files are dumped as they
are. The elements expected are the ones dcmtk's ``dcmdump +E`` (print even
if the file is damaged) prints for the same file, level by level.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.app import main
from viewer.core.dicom.inspect import dataset_rows, iter_rows
from viewer.core.dicom.io import ViewerError, read_for_inspection
from viewer.core.dicom.truncation import find_truncation

DCMDUMP = shutil.which("dcmdump")
_LINE = re.compile(r"^( *)\(([0-9a-fA-F]{4}),([0-9a-fA-F]{4})\)")

#: (file, bytes kept (negative: from the end; None: the file as it is), where it ends, as the reason says).
CUTS = [
    ("CT_small.dcm", 200, "(0002,0003) Media Storage SOP Instance UID"),  # in the meta group
    ("CT_small.dcm", 404, "after (0008,0012) Instance Creation Date"),  # inside an element's header
    ("CT_small.dcm", 1030, "(0010,1002) Other Patient IDs Sequence"),  # inside a sequence
    ("CT_small.dcm", 1200, "(0018,0060) KVP (2 of 4 bytes)"),  # inside a value
    ("CT_small.dcm", 5000, "(0043,1029) (1,052 of 2,068 bytes)"),  # a private bulk value
    ("CT_small.dcm", 20000, "(7FE0,0010) Pixel Data (13,700 of 32,768 bytes)"),
    ("MR_small_bigendian.dcm", 700, "after (0008,1060)"),
    ("MR_small_bigendian.dcm", 3000, "(7FE0,0010) Pixel Data (1,484 of 8,192 bytes)"),
    ("MR_small_implicit.dcm", 700, "(0008,1070) Operators' Name (0 of 4 bytes)"),
    ("MR_small_implicit.dcm", 3000, "(7FE0,0010) Pixel Data (1,490 of 8,192 bytes)"),
    ("rtplan.dcm", 1500, "(300A,00B0) Beam Sequence, item 1, after (0008,1090)"),  # implicit VR, undefined lengths
    ("rtplan.dcm", 1900, "(300A,00B0) Beam Sequence, item 1 > (300A,0111) Control Point Sequence, item"),
    ("eCT_Supplemental.dcm", 4000, "(5200,9230) Per-Frame Functional Groups Sequence, item 1 >"),
    ("SC_rgb_rle.dcm", -100, "(7FE0,0010) Pixel Data, fragment 1"),  # encapsulated: in a fragment
    ("rtplan_truncated.dcm", None, "(300A,00B0) Beam Sequence, item 1 > (300A,0111) Control Point Sequence"),
    ("MR_truncated.dcm", None, "(7FE0,0010) Pixel Data (8,130 of 8,192 bytes)"),
    ("emri_small_jpeg_2k_lossless_too_short.dcm", None, "(7FE0,0010) Pixel Data"),
]


def cut_copy(tmp_path: Path, name: str, keep: int | None) -> Path:
    source = get_testdata_file(name, download=False)
    if source is None:
        pytest.skip(f"{name} is not installed")
    data = Path(source).read_bytes()
    path = tmp_path / f"cut-{keep}-{name}"
    path.write_bytes(data if keep is None else data[:keep])
    return path


def dcmdump_tags(path: Path) -> list[tuple[int, str]]:
    """(depth, 'ggggeeee') of each element dcmdump +E prints, items and delimiters left out."""
    if DCMDUMP is None:
        pytest.skip("dcmtk's dcmdump is not installed")
    result = subprocess.run([DCMDUMP, "+E", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 or "premature" in result.stderr or result.stdout, result.stderr  # dcmtk saw the damage too
    return tags_of(result.stdout)


def tags_of(text: str) -> list[tuple[int, str]]:
    found = []
    for line in text.splitlines():
        match = _LINE.match(line)
        if match and match.group(2).lower() != "fffe":
            found.append((len(match.group(1)) // 2, (match.group(2) + match.group(3)).lower()))
    return found


@pytest.mark.parametrize(("name", "keep", "where"), CUTS, ids=[f"{n}@{k}" for n, k, _ in CUTS])
def test_dump_prints_what_dcmdump_reads_then_one_line(tmp_path, capsys, name, keep, where):
    path = cut_copy(tmp_path, name, keep)
    assert main(["dump", str(path)]) == 2
    captured = capsys.readouterr()
    error = captured.err.strip().splitlines()
    assert len(error) == 1 and "Traceback" not in captured.err
    assert error[0].startswith(f"dicom-viewer: {path.name}: the file is truncated: it ends ") and where in error[0], error[0]
    expected = dcmdump_tags(path)
    assert len(expected) > 3
    assert tags_of(captured.out) == expected


@pytest.mark.parametrize(("name", "keep", "where"), CUTS, ids=[f"{n}@{k}" for n, k, _ in CUTS])
def test_dump_json_prints_what_was_read_then_the_error(tmp_path, capsys, name, keep, where):
    path = cut_copy(tmp_path, name, keep)
    assert main(["dump", "--json", str(path)]) == 2
    captured = capsys.readouterr()
    assert len(captured.err.strip().splitlines()) == 1 and where in captured.err
    model = json.loads(captured.out)
    top_level = [tag.upper() for depth, tag in dcmdump_tags(path) if depth == 0 and not tag.startswith("0002")]
    assert list(model) == top_level


def test_the_element_the_file_ends_in_is_listed_as_damaged_without_its_partial_value(tmp_path):
    path = cut_copy(tmp_path, "CT_small.dcm", 1200)
    header, problem = read_for_inspection(path)
    assert isinstance(problem, ViewerError) and str(problem).startswith(path.name)
    rows = {row.tag: row for _depth, row in iter_rows(dataset_rows(header, str(path)))}
    kvp = rows["(0018,0060)"]
    assert kvp.value == "" and kvp.warning == "truncated: the file holds 2 of its 4 bytes"
    assert rows["(0018,0050)"].full_value == "5.000000" and not rows["(0018,0050)"].warning  # the one before: whole

    nested = cut_copy(tmp_path, "rtplan.dcm", 1900)
    header, problem = read_for_inspection(nested)
    rows = dataset_rows(header, str(nested))
    beams = next(row for row in rows if row.tag == "(300A,00B0)")
    assert beams.warning == "truncated: the file ends inside this sequence"
    control_points = next(row for row in beams.children[0].children if row.tag == "(300A,0111)")
    assert control_points.warning == "truncated: the file ends inside this sequence"


def test_a_hostile_length_in_a_cut_file_allocates_nothing(tmp_path, capsys):
    """A private OB claiming 2 GB in a 5 kB file: the elements before it, one line, no 2 GB read."""
    path = cut_copy(tmp_path, "CT_small.dcm", 5000)
    data = bytearray(path.read_bytes())
    at = data.index(struct.pack("<HH", 0x0043, 0x1029) + b"OB")
    data[at + 8 : at + 12] = struct.pack("<L", 0x7FFFFFF0)
    path.write_bytes(bytes(data))
    truncation = find_truncation(path)
    assert truncation is not None and truncation.cuts[0].declared == 0x7FFFFFF0
    tracemalloc.start()
    try:
        assert main(["dump", str(path)]) == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20
    captured = capsys.readouterr()
    assert "(0043,1028)" in captured.out and "2,147,483,632 bytes" in captured.err


def test_whole_files_are_not_truncated():
    for name in ("CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "rtplan.dcm", "JPEG2000.dcm", "SC_rgb_rle.dcm"):
        path = get_testdata_file(name, download=False)
        assert find_truncation(path) is None, name
        _header, problem = read_for_inspection(path)
        assert problem is None, name
