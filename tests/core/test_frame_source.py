"""The frame source: a header read once per file, and a file's real frame count reported, not written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.dicom.header import read_raw_header
from viewer.core.display import frames
from viewer.core.display.frames import FrameSource
from viewer.core.display.pixels.decoders import number_of_frames
from viewer.core.media.model import Catalog, ImageRef, Instance


@pytest.mark.parametrize("name", ["693_UNCI.dcm", "CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm", "OBXXXX1A.dcm"])
def test_a_scanned_single_frame_is_shown_with_the_header_the_scan_read(monkeypatch, name):
    path = Path(get_testdata_file(name, download=False))
    scanned = read_raw_header(path)  # what a folder scan keeps of the file
    instance = Instance(path, scanned, number_of_frames(scanned))

    def read_again(_path):
        raise AssertionError("the header was read a second time")

    monkeypatch.setattr(frames, "read_index_header", read_again)
    frame = FrameSource().frame(ImageRef(instance, 0))
    assert np.array_equal(frame.stored, pydicom.dcmread(path).pixel_array)


def test_the_frames_a_file_holds_are_reported_and_applied_by_its_series():
    """A media record need not say how many frames its file holds (here: none, so 1); the file says 10."""
    path = Path(get_testdata_file("emri_small.dcm", download=False))
    record = pydicom.dcmread(path, stop_before_pixels=True)
    del record.NumberOfFrames
    instance = Instance(path, record, 1)
    (series,) = Catalog().add([instance])
    found = []
    FrameSource(on_frames_found=lambda inst, count: found.append((inst, count))).frame(series.images[0])
    assert found == [(instance, 10)] and instance.frames == 1  # reported; the source changes nothing
    assert series.frames_found(instance, 10) and len(series.images) == 10
    assert not series.frames_found(instance, 10)  # already known: nothing changes
