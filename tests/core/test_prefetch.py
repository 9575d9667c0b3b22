"""Background decoding: nearest first, bounded by the cache, in threads or processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.dicom.header import read_index_header
from viewer.core.display.frames import FrameSource
from viewer.core.display.prefetch import InThisThread, InWorkerProcesses, PlayHead, ahead_first, nearest_first, prefetch
from viewer.core.media.model import ImageRef, Instance
from viewer.core.runtime.processes import process_pool, shutdown_pool
from viewer.core.runtime.tasks import CancelToken


@pytest.fixture(scope="module", autouse=True)
def _pool():
    yield
    shutdown_pool()


def refs_of(name: str) -> list[ImageRef]:
    path = Path(get_testdata_file(name, download=False))
    header = read_index_header(path)
    frames = int(header.get("NumberOfFrames") or 1)
    instance = Instance(path, header, frames)
    return [ImageRef(instance, f) for f in range(frames)]


def test_orders():
    assert list(nearest_first(3, 7)) == [3, 4, 2, 5, 1, 6, 0]
    assert list(nearest_first(0, 3)) == [0, 1, 2]
    assert list(ahead_first(5, 7)) == [5, 6, 0, 1, 2, 3, 4]


def test_prefetch_stops_at_the_cache_budget():
    images = refs_of("emri_small.dcm")  # 10 frames of 64x64 uint16
    store = FrameSource(max_bytes=6 * 64 * 64 * 2 * 2)  # room for about six prepared frames
    decoded = prefetch(store, images, 5, nearest_first, InThisThread(), lambda: False, fill=0.5)
    assert 0 < decoded < 10
    cached = [i for i, ref in enumerate(images) if store.cached(ref)]
    assert cached == sorted(nearest_first(5, 10))[: len(cached)] or set(cached) <= {3, 4, 5, 6, 7}


def test_prefetch_in_processes_gives_the_same_pixels_as_pydicom():
    images = refs_of("emri_small_jpeg_2k_lossless.dcm")
    reference = pydicom.dcmread(get_testdata_file("emri_small.dcm", download=False)).pixel_array
    store = FrameSource()
    pool = process_pool()
    assert pool is not None
    decoded = prefetch(store, images, 4, nearest_first, InWorkerProcesses(pool), lambda: False)
    assert decoded == 10
    for i, ref in enumerate(images):
        assert store.cached(ref)
        assert np.array_equal(store.frame(ref).stored, reference[i])


def test_cancel_stops_prefetch_in_processes():
    images = refs_of("emri_small_jpeg_2k_lossless.dcm")
    store = FrameSource()
    token = CancelToken()
    token.cancel()
    assert prefetch(store, images, 0, nearest_first, InWorkerProcesses(process_pool()), token) == 0


def test_follow_play_head_keeps_ahead_and_skips_unreadable(tmp_path):
    images = refs_of("emri_small_RLE.dcm")
    store = FrameSource()
    head = {"index": 2}
    token = CancelToken()
    import threading

    order = PlayHead(lambda: head["index"], 4)
    worker = threading.Thread(target=prefetch, args=(store, images, 2, order, InThisThread(), token, None))
    worker.start()
    try:
        assert _wait_cached(store, images, (2, 3, 4, 5))
        head["index"] = 8  # the play head moves on: 8, 9, 0, 1 are due
        assert _wait_cached(store, images, (8, 9, 0, 1))
    finally:
        token.cancel()
        worker.join(5)
    assert not worker.is_alive()


def test_decode_time_limit_stops_the_worker_and_the_next_decode_works():
    from viewer.core.dicom.io import ViewerError
    from viewer.core.display.frames import frame_with_time_limit

    images = refs_of("MR2_J2KR.dcm")  # 1024x1024 JPEG 2000: far more than a millisecond
    store = FrameSource()
    with pytest.raises(ViewerError, match="took more than"):
        frame_with_time_limit(store, images[0], limit=0.001)
    assert not store.cached(images[0])
    frame = frame_with_time_limit(store, images[0], limit=60)  # a fresh pool
    reference = pydicom.dcmread(get_testdata_file("MR2_UNCR.dcm", download=False)).pixel_array
    assert np.array_equal(frame.stored, reference)


def _play(store, images, head, token, ahead):
    """The prefetcher following a play head in worker processes, as a playing cine runs it."""
    import threading

    order = PlayHead(lambda: head["index"], ahead)
    worker = threading.Thread(target=prefetch, args=(store, images, head["index"], order, InWorkerProcesses(), token, None))
    worker.start()
    return worker


def _wait_cached(store, images, indexes, seconds=60):
    """Until those images are decoded; `seconds` only bounds a hang (a loaded machine is slow, not wrong)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not all(store.cached(images[i]) for i in indexes):
        time.sleep(0.01)
    return all(store.cached(images[i]) for i in indexes)


def test_follow_play_head_in_processes_keeps_ahead_with_the_right_pixels():
    images = refs_of("emri_small_jpeg_2k_lossless.dcm")
    reference = pydicom.dcmread(get_testdata_file("emri_small.dcm", download=False)).pixel_array
    store, head, token = FrameSource(), {"index": 2}, CancelToken()
    worker = _play(store, images, head, token, 4)
    try:
        assert _wait_cached(store, images, (2, 3, 4, 5))
        head["index"] = 8  # the play head moves on: 8, 9, 0, 1 are due
        assert _wait_cached(store, images, (8, 9, 0, 1))
    finally:
        token.cancel()
        worker.join(5)
    assert not worker.is_alive()
    for i in (0, 1, 2, 3, 4, 5, 8, 9):
        assert np.array_equal(store.frame(images[i]).stored, reference[i])


def test_follow_play_head_in_processes_skips_a_frame_that_cannot_decode():
    """A damaged code stream among good ones: that frame is skipped (the pane says why), the rest play."""
    crash = Path(__file__).parent.parent / "robustness" / "crashes" / "j2k_photometric_mismatch.dcm"
    bad = ImageRef(Instance(crash, read_index_header(crash), 1), 0)
    good = refs_of("emri_small_jpeg_2k_lossless.dcm")[:4]
    images = [good[0], good[1], bad, good[2], good[3]]
    store, head, token = FrameSource(), {"index": 0}, CancelToken()
    worker = _play(store, images, head, token, 5)
    try:
        assert _wait_cached(store, images, (0, 1, 3, 4))
    finally:
        token.cancel()
        worker.join(5)
    assert not worker.is_alive() and not store.cached(bad)


def test_play_head_keeps_the_images_ahead_and_lets_those_behind_go():
    """Images decoded before Play (browsing) must outlive the ones just shown when the cache is full."""
    images = refs_of("emri_small.dcm")  # 10 frames
    source = FrameSource()
    for index in (5, 6, 7, 0, 1):  # 5-7 decoded while browsing, then 0 and 1 shown
        source.frame(images[index])
    source.max_bytes = source.cached_bytes  # full: each new image evicts one
    PlayHead(lambda: 2, ahead=7).keep_ahead(source, images)
    for index in (2, 3):
        source.frame(images[index])
    assert [i for i in range(10) if source.cached(images[i])] == [2, 3, 5, 6, 7]
