"""The Storage SCP's writer: only what was asked for, only inside the cache, never half a file.

Unit-level: a pynetdicom-like C-STORE event built from a real dataset
(pydicom's CT_small.dcm), as the handler sees it during a C-GET or C-MOVE.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from viewer.core.net.storage import CANNOT_UNDERSTAND, NOT_AUTHORISED, SUCCESS, InstanceWriter

pytestmark = pytest.mark.net


def store_event(ds: pydicom.Dataset, sop_uid: str | None = None):
    """What EVT_C_STORE hands the handler: the request, the dataset, the encoded bytes."""
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    request = SimpleNamespace(AffectedSOPInstanceUID=sop_uid or ds.SOPInstanceUID)
    return SimpleNamespace(request=request, dataset=ds, encoded_dataset=lambda include_meta=True: data)


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
    assert writer.handle_store(store_event(ct)) == SUCCESS
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
    assert writer.handle_store(store_event(other)) == NOT_AUTHORISED
    other.StudyInstanceUID = generate_uid()
    assert writer.handle_store(store_event(other)) == NOT_AUTHORISED
    assert files_under(tmp_path) == [] and len(writer.refused) == 2


def test_whole_study_accepts_its_series(tmp_path, ct):
    writer = InstanceWriter(tmp_path, {(ct.StudyInstanceUID, None)})
    assert writer.handle_store(store_event(ct)) == SUCCESS


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
    assert writer.handle_store(store_event(ct, sop_uid)) == CANNOT_UNDERSTAND
    assert files_under(tmp_path) == [] and writer.written == []
    assert writer.refused and "invalid UIDs" in writer.refused[0]
