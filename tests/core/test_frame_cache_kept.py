"""What the frame source says about the frames it keeps: all of a series cached, and frames dropped since.

A viewport decodes ahead after every image it shows; when the whole series is
cached and no frame has been dropped since it looked, there is nothing to
decode (:meth:`Viewport._everything_cached <viewer.ui.viewport.viewport.Viewport>`).
"""

from __future__ import annotations

from pathlib import Path

from pydicom.data import get_testdata_file

from viewer.core.dicom.header import read_raw_header
from viewer.core.display.frames import FrameSource
from viewer.core.display.pixels.decoders import number_of_frames
from viewer.core.media.model import ImageRef, Instance

NAMES = ("CT_small.dcm", "MR_small.dcm", "693_UNCI.dcm")


def refs() -> list[ImageRef]:
    found = []
    for name in NAMES:
        path = Path(get_testdata_file(name, download=False))
        header = read_raw_header(path)
        found.append(ImageRef(Instance(path, header, number_of_frames(header)), 0))
    return found


def test_all_cached_and_frames_dropped():
    images = refs()
    source = FrameSource()
    assert not source.all_cached(images) and source.frames_dropped == 0
    for ref in images:
        source.frame(ref)
    assert source.all_cached(images) and source.frames_dropped == 0
    source.clear()
    assert not source.all_cached(images) and source.frames_dropped == len(images)


def test_a_frame_pushed_out_of_the_budget_counts_as_dropped():
    images = refs()
    first = FrameSource().frame(images[0])
    source = FrameSource(max_bytes=first.nbytes)  # room for one frame of this size: the next one pushes it out
    source.frame(images[0])
    assert source.frames_dropped == 0
    source.frame(images[1])
    assert source.frames_dropped == 1 and not source.cached(images[0]) and source.cached(images[1])
    assert not source.all_cached(images[:2])
