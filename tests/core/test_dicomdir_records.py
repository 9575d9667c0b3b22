"""DICOMDIR records read on the plain path (defined lengths, Explicit VR Little Endian: one struct call per
element) are the records the element walker reads, element for element; the walker's reading is checked
against pydicom's in tests/core/test_dicomdir.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

import viewer.core.media.dicomdir as dicomdir

PYDICOM_MEDIA = Path(get_testdata_file("DICOMDIR")).parent


def _records(path: Path) -> tuple:
    _by_offset, records, root, cut = dicomdir._parse_records(path)
    return [(r.offset, r.type, r.elements, r.next_offset, r.lower_offset, r.file_id) for r in records], root, cut


@pytest.mark.parametrize("name", ["DICOMDIR", "DICOMDIR-reordered", "DICOMDIR-nooffset", "DICOMDIR-implicit", "DICOMDIR-bigEnd"])
def test_the_plain_path_reads_what_the_walker_reads(name, monkeypatch):
    path = PYDICOM_MEDIA / name
    plain = []
    real = dicomdir._plain_elements
    monkeypatch.setattr(dicomdir, "_plain_elements", lambda *a: plain.append(1) or real(*a))
    fast = _records(path)
    if name in ("DICOMDIR", "DICOMDIR-reordered", "DICOMDIR-nooffset"):
        assert plain  # explicit VR little endian: the plain path was taken
    monkeypatch.setattr(dicomdir, "_plain_elements", lambda *a: None)  # the walker alone
    assert fast == _records(path)


def test_a_record_the_plain_path_cannot_read_is_walked(tmp_path, monkeypatch):
    """A damaged VR code in one record: that record goes to the tolerant walker, the others stay plain."""
    data = bytearray((PYDICOM_MEDIA / "DICOMDIR").read_bytes())
    at = data.index(b"\x10\x00\x10\x00PN")  # the first Patient's Name
    data[at + 4 : at + 6] = b"Q\x01"
    damaged = tmp_path / "DICOMDIR"
    damaged.write_bytes(bytes(data))
    fast = _records(damaged)
    monkeypatch.setattr(dicomdir, "_plain_elements", lambda *a: None)
    assert fast == _records(damaged)
