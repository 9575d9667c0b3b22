"""Compact headers: a catalog's files keep their indexing attributes in a few hundred bytes, and lose nothing.

The reference is pydicom's reading of each file (``pydicom.dcmread``): the
header a catalog instance rebuilds holds the same values for every indexing
attribute, its File Meta Information included, whatever was kept shared or
apart. Files: pydicom's test files in every encoding, and copies made here.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.uid import generate_uid

from tests.core.conftest import sample_path
from viewer.core.dicom.header import INDEX_TAGS, read_raw_header
from viewer.core.media.model import Instance

FILES = [
    "CT_small.dcm",  # explicit VR little endian
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "JPEG2000.dcm",
    "693_UNCI.dcm",
    "rtplan.dcm",
]


def _values(ds, tags) -> dict[int, object]:
    return {int(tag): ds[tag].value for tag in tags if tag in ds and ds[tag].VR != "SQ"}


@pytest.mark.parametrize("name", FILES)
def test_the_header_rebuilt_holds_what_pydicom_reads(name):
    path = sample_path(name)
    reference = pydicom.dcmread(path, stop_before_pixels=True)
    instance = Instance(path, read_raw_header(path))
    header = instance.header
    kept = [tag for tag in INDEX_TAGS if tag in reference]
    assert _values(header, kept) == _values(reference, kept)
    assert str(header.SOPInstanceUID) == str(reference.SOPInstanceUID) == instance.sop_instance_uid
    for keyword in ("MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID"):
        assert header.file_meta.get(keyword) == reference.file_meta.get(keyword)
    shown = instance.display_header()
    if shown is not None:
        assert _values(shown, kept) == _values(reference, kept)
        assert shown.file_meta.MediaStorageSOPInstanceUID == reference.file_meta.MediaStorageSOPInstanceUID


def test_what_the_files_of_a_series_share_is_kept_once(tmp_path, make_instance):
    series = generate_uid()
    paths = [make_instance(tmp_path / f"IM{i}", SeriesInstanceUID=series, InstanceNumber=i + 1) for i in range(3)]
    first, *others = [Instance(p, read_raw_header(p))._compact for p in paths]
    for other in others:
        assert other.shared is first.shared and other.meta is first.meta  # one object for all three
        assert other.own != first.own  # the instance number
    numbers = [int(Instance(p, read_raw_header(p)).header.InstanceNumber) for p in paths]
    assert numbers == [1, 2, 3]


def test_a_uid_padded_otherwise_is_kept_as_the_file_has_it(tmp_path, make_instance):
    """A trailing space (not the NUL of PS3.5 9.1): the element is kept byte for byte, not rebuilt from the text."""
    path = make_instance(tmp_path / "IM0", SOPInstanceUID="1.2.345")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"1.2.345\x00", b"1.2.345 "))  # in the meta and the dataset
    assert read_raw_header(path).value(0x00080018) == b"1.2.345 "
    instance = Instance(path, read_raw_header(path))
    assert instance.sop_instance_uid == "1.2.345"
    assert instance.header.get_item(0x00080018).value == b"1.2.345 "
    assert instance.header.SOPInstanceUID == pydicom.dcmread(path).SOPInstanceUID


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"])
def test_the_elements_given_back_are_the_files_own_bytes(name):
    """What the media writer takes instead of walking the file again: each indexing element and each File
    Meta element kept, byte for byte as the walker read it from the file, the SOP Instance UID included."""
    from viewer.core.dicom.elements import elements_in

    path = sample_path(name)
    raw = read_raw_header(path)
    instance = Instance(path, raw)
    blob, meta = instance._compact.encoded(instance.sop_instance_uid)
    implicit, little = raw.implicit, raw.little
    given = {tag: value for tag, _vr, value in elements_in(blob, implicit, little)}
    assert given == {
        tag: value for tag, _vr, value in elements_in(b"".join(e for t, e in raw.elements.items() if t in INDEX_TAGS), implicit, little)
    }
    assert 0x00080018 in given
    meta_given = {tag: value for tag, _vr, value in elements_in(meta, False, True)}
    assert meta_given == {
        tag: value
        for tag, _vr, value in elements_in(
            b"".join(raw.meta[t] for t in (0x00020002, 0x00020003, 0x00020010) if t in raw.meta), False, True
        )
    }
