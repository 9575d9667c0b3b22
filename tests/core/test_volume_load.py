"""Loading a volume fast changes no value: stray high bits, per-slice rescales, the touched memory, ``preadv``.

Expected values are pydicom's: each slice's ``pixel_array`` (bits above
(0028,0101) *Bits Stored* cleared or sign-extended, PS3.5 8.1.1) with its own
Rescale Slope and Intercept applied (PS3.3 C.11.1.1.2).
"""

from __future__ import annotations

import struct
import threading

import numpy as np
import pydicom
import pytest
from mpr_phantom import dataset
from pydicom.data import get_testdata_file

import viewer.core.display.pixels.native as native
from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError
from viewer.core.display.volume import _Memory, volume_from_files


def _pydicom_modality(paths) -> np.ndarray:
    datasets = sorted((pydicom.dcmread(p) for p in paths), key=lambda ds: float(ds.ImagePositionPatient[2]))
    return np.stack([ds.pixel_array.astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in datasets])


def _series(tmp_path, slopes, intercepts, bits_stored=12, rows=6, columns=7):
    """Axial slices, signed, `bits_stored` of 16, garbage above Bits Stored in some values, each its own rescale."""
    rng = np.random.default_rng(18)
    paths = []
    for k, (slope, intercept) in enumerate(zip(slopes, intercepts)):
        stored = rng.integers(-(1 << (bits_stored - 1)), 1 << (bits_stored - 1), (rows, columns)).astype(np.int16)
        if k % 2:
            stored[0, :4] = [0x7FFF, -0x8000, 0x1234, -1]  # bits above Bits Stored set: pydicom sign-extends
        ds = dataset(rows, columns, (1, 1), (1, 0, 0), (0, 1, 0), (0, 0, 3.0 * k), stored, InstanceNumber=k + 1)
        ds.BitsStored, ds.HighBit = bits_stored, bits_stored - 1
        ds.RescaleSlope, ds.RescaleIntercept = str(slope), str(intercept)
        paths.append(tmp_path / f"{k:02}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    return paths


def test_stray_bits_and_a_rescale_per_slice_give_pydicoms_values_in_int16(tmp_path):
    paths = _series(tmp_path, [1, 1, 2, 1, 3, 1], [-1024, 0, -1000, 7, 0, -3])
    volume = volume_from_files(paths)
    assert volume.voxels.dtype == np.int16
    assert np.array_equal(volume.voxels, _pydicom_modality(paths))


def test_stray_bits_with_a_fractional_rescale_give_pydicoms_values_in_float32(tmp_path):
    paths = _series(tmp_path, [1, 0.5, 1, 0.25], [-1024, 0.5, 0, 10])
    volume = volume_from_files(paths)
    assert volume.voxels.dtype == np.float32
    assert np.array_equal(volume.voxels, _pydicom_modality(paths).astype(np.float32))


def test_the_touched_memory_is_handed_over_only_when_it_fits(tmp_path):
    paths = _series(tmp_path, [1] * 3, [0] * 3, rows=4, columns=5)
    memory = _Memory(paths[0], 3)
    taken = memory.take((3, 4, 5), np.dtype(np.int16))
    assert taken is not None and taken.shape == (3, 4, 5) and taken.dtype == np.int16
    assert memory.take((3, 4, 5), np.dtype(np.int16)) is None  # handed over once
    assert _Memory(paths[0], 3).take((3, 4, 5), np.dtype(np.float32)) is None
    assert _Memory(paths[0], 3).take((3, 5, 5), np.dtype(np.int16)) is None
    assert _Memory(tmp_path / "missing.dcm", 3).take((3, 4, 5), np.dtype(np.int16)) is None


def test_a_missing_first_file_is_refused_and_leaves_no_thread(tmp_path):
    paths = _series(tmp_path, [1] * 3, [0] * 3)
    paths[0].unlink()
    with pytest.raises(ViewerError):
        volume_from_files(paths)
    assert not [t for t in threading.enumerate() if t.name == "viewer-mpr-memory"]


@pytest.mark.parametrize("preadv", [True, False], ids=["preadv", "no-preadv"])
@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "693_UNCI.dcm"])
def test_a_native_frame_reads_as_pydicom_with_or_without_preadv(monkeypatch, preadv, name):
    monkeypatch.setattr(native, "_HAS_PREADV", preadv)
    path = get_testdata_file(name, download=False)  # CT_small has trailing padding: found by the walker
    ours = native.read_native_frame(path, read_index_header(path))
    assert ours is not None and np.array_equal(ours, pydicom.dcmread(path).pixel_array)


def test_a_slice_stored_otherwise_inside_a_run_gives_pydicoms_values(tmp_path):
    from pydicom.uid import RLELossless

    paths = _series(tmp_path, [1, 1, 1, 2, 1, 1, 1], [-1024, -1024, -1024, -1024, -5, -5, -5])
    ds = pydicom.dcmread(paths[2])  # no stray bits (even index): RLE keeps the values
    ds.compress(RLELossless)
    ds.save_as(paths[2], enforce_file_format=True)
    volume = volume_from_files(paths)
    assert volume.voxels.dtype == np.int16
    assert np.array_equal(volume.voxels, _pydicom_modality(paths))


def _trailing_padding(path) -> None:
    """Add (FFFC,FFFC) Data Set Trailing Padding after Pixel Data (PS3.10 7.2): the values are no longer the file's end."""
    ds = pydicom.dcmread(path)
    ds.add_new(0xFFFCFFFC, "OB", b"\0" * 64)
    ds.save_as(path, enforce_file_format=True)


def test_the_pixel_offsets_found_with_the_headers_are_pydicoms(tmp_path):
    from viewer.core.dicom.series_headers import read_series_headers

    paths = _series(tmp_path, [1] * 6, [-1024, -1024, -7, -1024, -1024, -1024])
    ds = pydicom.dcmread(paths[3])
    ds.ImageComments = "an element the other slices lack: another layout"
    ds.save_as(paths[3], enforce_file_format=True)
    _trailing_padding(paths[4])
    offsets: dict[int, int] = {}
    read_series_headers(paths, offsets.__setitem__)
    assert offsets, "files laid out alike report where their pixels are"
    for index, offset in offsets.items():
        ds = pydicom.dcmread(paths[index])
        element = ds["PixelData"]  # explicit VR little endian (PS3.5 7.1.2): tag, VR, 2 reserved bytes, 4-byte length
        encoded = b"\xe0\x7f\x10\x00" + element.VR.encode() + b"\0\0" + struct.pack("<L", len(element.value)) + element.value
        data = paths[index].read_bytes()
        assert data.count(encoded) == 1 and offset == data.index(encoded) + 12


def test_slices_laid_out_otherwise_mid_series_give_pydicoms_values(tmp_path):
    """Another layout (an element more), values not at the file's end, another rescale: each slice read where it is."""
    paths = _series(tmp_path, [1, 1, 1, 2, 1, 1, 1, 1], [-1024, -1024, -1024, -1000, -1024, -3, -1024, -1024])
    ds = pydicom.dcmread(paths[3])
    ds.ImageComments = "an element the other slices lack"
    ds.save_as(paths[3], enforce_file_format=True)
    _trailing_padding(paths[5])
    volume = volume_from_files(paths)
    assert volume.voxels.dtype == np.int16
    assert np.array_equal(volume.voxels, _pydicom_modality(paths))


@pytest.mark.parametrize("damage", ["truncated", "missing"])
def test_a_truncated_or_missing_slice_mid_series_is_refused_in_one_line(tmp_path, damage):
    paths = _series(tmp_path, [1] * 6, [-1024] * 6)
    if damage == "truncated":
        data = paths[3].read_bytes()
        paths[3].write_bytes(data[:-40])  # the header intact, the pixel data 40 bytes short
        with pytest.raises(Exception) as pydicoms:
            pydicom.dcmread(paths[3]).pixel_array  # noqa: B018 (pydicom refuses it too)
        assert pydicoms.value is not None
    else:
        paths[3].unlink()
    with pytest.raises(ViewerError) as refused:
        volume_from_files(paths)
    assert "\n" not in str(refused.value)
