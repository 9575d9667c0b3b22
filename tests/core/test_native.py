"""Reading native pixel data straight from the file equals pydicom's decoding."""

from __future__ import annotations

import glob
import os

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from viewer.core.dicom.header import read_index_header
from viewer.core.display.pixels.native import load_volume, read_native_frame

DATA = [os.path.dirname(get_testdata_file("CT_small.dcm")), os.path.dirname(get_testdata_file("693_UNCI.dcm", download=False))]


def native_files():
    for folder in DATA:
        for path in sorted(glob.glob(os.path.join(folder, "*.dcm"))):
            try:
                header = read_index_header(path)
                pydicom.dcmread(path).pixel_array  # the reference must exist
            except Exception:
                continue
            if read_native_frame(path, header) is not None:
                yield path


@pytest.mark.parametrize("path", list(native_files()), ids=os.path.basename)
def test_native_read_equals_pydicom(path):
    header = read_index_header(path)
    ours = read_native_frame(path, header)
    reference = pydicom.dcmread(path).pixel_array
    assert ours.dtype == reference.dtype
    assert np.array_equal(ours, reference)


def test_garbage_above_bits_stored_is_cleared_as_pydicom_does(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))  # 16 allocated, 16 stored, signed
    ds.BitsStored = 12
    ds.HighBit = 11
    values = ds.pixel_array.astype(np.int16)
    values[0, :4] = [0x7FFF, -0x8000, 0x1234, -1]  # bits above 12 set
    ds.PixelData = values.tobytes()
    path = tmp_path / "bits.dcm"  # CT_small's trailing padding stays: the walker finds the pixels
    ds.save_as(path)
    ours = read_native_frame(path, read_index_header(path))
    assert np.array_equal(ours, pydicom.dcmread(path).pixel_array)


def test_load_volume_equals_stacked_pydicom(tmp_path):
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    paths = []
    for i in range(12):
        ds = src.copy()
        ds.SOPInstanceUID = generate_uid()
        ds.PixelData = (src.pixel_array + i).astype(src.pixel_array.dtype).tobytes()
        path = tmp_path / f"s{i:02d}.dcm"
        ds.save_as(path)
        paths.append(path)
    # One slice compressed: it goes through pydicom, the rest through the fast path.
    rle = pydicom.dcmread(paths[5])
    rle.compress(pydicom.uid.RLELossless)
    rle.save_as(paths[5])
    headers = [read_index_header(p) for p in paths]
    for header, path in zip(headers, paths):
        if path != paths[5]:
            assert read_native_frame(path, header) is not None  # the fast path is the one tested
    volume = load_volume(paths, headers)
    expected = np.stack([pydicom.dcmread(p).pixel_array for p in paths])
    assert volume.dtype == expected.dtype and np.array_equal(volume, expected)
