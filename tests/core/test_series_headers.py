"""read_series_headers: each file's index header, as read_index_header gives it, read by comparison.

The series are pydicom's CT_small.dcm written again by pydicom with per-slice
values whose lengths differ (Instance Number "9" and "10", positions, UIDs),
a different rescale per slice, an element more in one file, in each native
encoding; expected values come from read_index_header on each file alone and
from pydicom's own reading of the pixels.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.filewriter import dcmwrite
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid

from viewer.core.dicom import series_headers
from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError
from viewer.core.dicom.series_headers import read_series_headers
from viewer.core.display.volume import volume_from_files

SLICES = 12


def write_series(folder: Path, syntax=ExplicitVRLittleEndian, extra_in: int | None = None) -> list[Path]:
    """SLICES axial slices 2.5 mm apart, each with its own rescale intercept, in `syntax`."""
    folder.mkdir(parents=True, exist_ok=True)
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    template.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    paths = []
    for k in range(SLICES):
        ds = copy.deepcopy(template)  # Dataset.copy() shares the elements: an edit would reach the next slices
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = k + 1  # "9 " then "10": lengths change within the series
        ds.ImagePositionPatient = [-158.135803, -179.035797, -75.7 + 2.5 * k]
        ds.RescaleIntercept = -1024 + 7 * k
        ds.RescaleSlope = 1
        if k == extra_in:
            ds.WindowCenterWidthExplanation = "an element the other slices lack"
        ds.file_meta.TransferSyntaxUID = syntax
        path = folder / f"IM{k:04d}"
        dcmwrite(path, ds, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=syntax != ExplicitVRBigEndian, force_encoding=True)
        paths.append(path)
    return paths


def described(ds) -> tuple:
    """Every element as pydicom gives it (tag, VR, value), the file meta's, and the file's name."""
    elements = [(e.tag, e.VR, e.value) for e in ds]
    meta = [(e.tag, e.VR, e.value) for e in ds.file_meta]
    return elements, meta, ds.filename, getattr(ds, "preamble_warning", ""), ds.is_little_endian, ds.is_implicit_VR


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian])
def test_each_header_is_what_read_index_header_gives(tmp_path, syntax, monkeypatch):
    paths = write_series(tmp_path, syntax, extra_in=5)
    expected = [described(read_index_header(path)) for path in paths]
    alone = []
    monkeypatch.setattr(series_headers, "read_index_header", lambda path: alone.append(path) or read_index_header(path))
    got = [described(header) for header in read_series_headers(paths)]
    assert got == expected
    if syntax == ExplicitVRBigEndian:
        assert len(alone) == SLICES  # refused by the comparison: each read alone, as before
    else:
        assert len(alone) < SLICES // 2  # most were read by comparison
    # The values that differ from slice to slice really are each file's own.
    headers = read_series_headers(paths)
    assert [int(h.InstanceNumber) for h in headers] == list(range(1, SLICES + 1))
    assert [float(h.RescaleIntercept) for h in headers] == [-1024 + 7 * k for k in range(SLICES)]
    assert len({h.SOPInstanceUID for h in headers}) == SLICES
    assert headers[5].WindowCenterWidthExplanation == "an element the other slices lack"
    assert "WindowCenterWidthExplanation" not in headers[6]


def test_a_missing_or_foreign_file_fails_as_read_index_header_does(tmp_path):
    paths = write_series(tmp_path / "s")
    missing = tmp_path / "s" / "gone"
    with pytest.raises(ViewerError) as alone:
        read_index_header(missing)
    with pytest.raises(ViewerError) as series:
        read_series_headers([*paths[:3], missing, *paths[3:]])
    assert str(series.value) == str(alone.value)
    foreign = tmp_path / "notes.txt"
    foreign.write_bytes(b"not DICOM" * 300)
    with pytest.raises(ViewerError):
        read_series_headers([*paths, foreign])


def test_a_file_changed_in_a_value_only_keeps_its_own_value(tmp_path):
    """Same lengths, another value: the comparison takes the value from the file itself."""
    paths = write_series(tmp_path)
    ds = pydicom.dcmread(paths[4])
    ds.RescaleIntercept = -1000  # "-1000" as long as "-1024" and the others'
    ds.InstanceNumber = 9  # "9 " in place of "5 "
    ds.save_as(paths[4])
    assert [described(h) for h in read_series_headers(paths)] == [described(read_index_header(p)) for p in paths]
    assert float(read_series_headers(paths)[4].RescaleIntercept) == -1000


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian])
def test_the_volume_equals_pydicoms_stack_with_each_slices_rescale(tmp_path, syntax):
    paths = write_series(tmp_path, syntax, extra_in=3)
    datasets = sorted((pydicom.dcmread(p) for p in paths), key=lambda ds: float(ds.ImagePositionPatient[2]))
    expected = np.stack([ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept) for ds in datasets])
    volume = volume_from_files(paths)
    if syntax != ExplicitVRBigEndian:  # pydicom wrote the pixel bytes unswapped: values beyond int16, kept in float32
        assert volume.voxels.dtype == np.int16
    assert np.array_equal(volume.voxels, expected)


def test_headers_read_by_comparison_carry_pydicoms_instance_attributes_unshared(tmp_path):
    """Not only the elements: every instance attribute a Dataset built by read_index_header has, with no container shared."""
    paths = write_series(tmp_path)

    def attributes(ds) -> dict:
        return {name: value for name, value in vars(ds).items() if name not in ("_dict", "file_meta")}

    headers = read_series_headers(paths)
    for path, header in zip(paths, headers):
        alone = read_index_header(path)
        assert attributes(header) == attributes(alone)
        assert attributes(header.file_meta) == attributes(alone.file_meta)
        assert type(header) is type(alone) and type(header.file_meta) is type(alone.file_meta)
    for name, value in vars(headers[3]).items():
        if isinstance(value, (dict, list, set)):
            assert value is not vars(headers[4])[name], name
    headers[3].PatientName = "changed in one header only"
    assert headers[4].PatientName != "changed in one header only"
