"""The Storage SCP's writer: only what was asked for, only inside the cache, never half a file.

Unit-level: a C-STORE's UIDs and encoded dataset from a real file
(pydicom's CT_small.dcm), as the writer gets them during a C-GET or C-MOVE;
whole associations are in test_storage_scp.py and test_net_scu.py.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import UID, generate_uid
from pynetdicom.dsutils import create_file_meta, encode, encode_file_meta

from viewer.core.net.storage import CANNOT_UNDERSTAND, NOT_AUTHORISED, SUCCESS, InstanceWriter, file_meta_bytes

pytestmark = pytest.mark.net


def store(writer: InstanceWriter, ds: pydicom.Dataset, sop_uid: str | None = None) -> int:
    """One C-STORE as the Storage SCP and C-GET hand it to the writer: the request's UIDs, the dataset
    encoded as it was sent, the context's transfer syntax."""
    syntax = ds.file_meta.TransferSyntaxUID
    encoded = encode(ds, syntax.is_implicit_VR, syntax.is_little_endian, syntax.is_deflated)
    return writer.store(ds.SOPClassUID, sop_uid or ds.SOPInstanceUID, syntax, [encoded])


@pytest.fixture
def ct():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    return ds


def files_under(root):
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_writes_what_was_asked_for(tmp_path, ct):
    cache = tmp_path / "cache"
    writer = InstanceWriter(cache, {(ct.StudyInstanceUID, ct.SeriesInstanceUID)})
    assert store(writer, ct) == SUCCESS
    target = cache / ct.StudyInstanceUID / ct.SeriesInstanceUID / f"{ct.SOPInstanceUID}.dcm"
    assert files_under(tmp_path) == [target] and writer.written == [target]
    written = pydicom.dcmread(target)
    assert written.SOPInstanceUID == ct.SOPInstanceUID
    assert (written.pixel_array == ct.pixel_array).all()


def test_refuses_instances_not_asked_for(tmp_path, ct):
    cache = tmp_path / "cache"
    writer = InstanceWriter(cache, {(ct.StudyInstanceUID, ct.SeriesInstanceUID)})
    other = pydicom.Dataset()
    other.update(ct)
    other.file_meta = ct.file_meta
    other.SeriesInstanceUID = generate_uid()  # same study, another series
    assert store(writer, other) == NOT_AUTHORISED
    other.StudyInstanceUID = generate_uid()
    assert store(writer, other) == NOT_AUTHORISED
    assert files_under(tmp_path) == [] and len(writer.refused) == 2


def test_whole_study_accepts_its_series(tmp_path, ct):
    writer = InstanceWriter(tmp_path, {(ct.StudyInstanceUID, None)})
    assert store(writer, ct) == SUCCESS


@pytest.mark.parametrize(
    "field, value",
    [
        ("SOPInstanceUID", "../../escaped"),
        ("SOPInstanceUID", "1.2/../../3"),
        ("StudyInstanceUID", ".."),
        ("StudyInstanceUID", "/tmp/escaped"),
        ("SeriesInstanceUID", "1.2.3/../../.."),
        ("SeriesInstanceUID", "1." + "2" * 70),  # longer than 64 characters (PS3.5 9.1)
    ],
)
@pytest.mark.filterwarnings("ignore:Invalid value for VR UI", "ignore:The value length")  # on purpose
def test_never_writes_outside_the_cache(tmp_path, ct, field, value):
    cache = tmp_path / "cache"
    cache.mkdir()
    writer = InstanceWriter(cache)  # accepts any study: only the UID check protects the cache
    sop_uid = value if field == "SOPInstanceUID" else None
    if field != "SOPInstanceUID":
        setattr(ct, field, value)
    assert store(writer, ct, sop_uid) == CANNOT_UNDERSTAND
    assert files_under(tmp_path) == [] and writer.written == []
    assert writer.refused and "invalid UIDs" in writer.refused[0]


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.1.99"])
def test_file_meta_is_what_pynetdicom_writes(syntax):
    """The hand-encoded File Meta Information equals pynetdicom's (pydicom's writer) byte for byte, naming this program."""
    from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

    sop_class, sop_instance = "1.2.840.10008.5.1.4.1.1.2", generate_uid()
    expected = encode_file_meta(
        create_file_meta(
            sop_class_uid=UID(sop_class),
            sop_instance_uid=UID(sop_instance),
            transfer_syntax=UID(syntax),
            implementation_uid=UID(IMPLEMENTATION_CLASS_UID),
            implementation_version=IMPLEMENTATION_VERSION_NAME,
        )
    )
    assert file_meta_bytes(sop_class, sop_instance, syntax) == expected


def test_deflated_and_implicit_instances_are_read(tmp_path, ct):
    """UIDs found in Implicit VR and in deflated datasets; the file reads back the same."""
    for syntax in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99"):
        ct.SOPInstanceUID = ct.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ct.file_meta.TransferSyntaxUID = UID(syntax)
        writer = InstanceWriter(tmp_path, {(ct.StudyInstanceUID, ct.SeriesInstanceUID)})
        assert store(writer, ct) == SUCCESS, writer.refused
        written = pydicom.dcmread(writer.written[0])
        assert written.file_meta.TransferSyntaxUID == syntax
        assert (written.pixel_array == ct.pixel_array).all()
