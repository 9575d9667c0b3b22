"""Reading and decoding the images of a series, with bounded caches.

:class:`FrameStore` turns an :class:`~viewer.core.media.model.ImageRef` into a
:class:`~viewer.core.display.pixels.pipeline.FrameDisplay`. Datasets and prepared
frames are kept in least-recently-used caches bounded by count and bytes, so
scrolling back is instant and a long series does not fill memory.
Thread-safe: a background prefetch may call :meth:`FrameStore.frame` too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError, read_header, read_image_dataset
from viewer.core.display.pixels.auto_window import percentile_window, pixel_value_range_window
from viewer.core.display.pixels.decoders import DEFLATED, decode_file_frame, decode_frame, number_of_frames, transfer_syntax
from viewer.core.display.pixels.native import read_native_frame
from viewer.core.display.pixels.pipeline import FrameDisplay, Window, frame_context
from viewer.core.media.model import ImageRef

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


class FrameStore:
    """Decoded, display-ready frames by image reference."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, max_datasets: int = 8):
        self.max_bytes = max_bytes
        self.max_datasets = max_datasets
        self._datasets: OrderedDict[Path, Dataset] = OrderedDict()
        self._headers: OrderedDict[Path, Dataset] = OrderedDict()
        self._frames: OrderedDict[tuple[Path, int], FrameDisplay] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()

    def dataset(self, path: Path) -> Dataset:
        """The whole dataset of `path` (raises ViewerError)."""
        with self._lock:
            if path in self._datasets:
                self._datasets.move_to_end(path)
                return self._datasets[path]
        ds = read_image_dataset(path)
        with self._lock:
            self._datasets[path] = ds
            while len(self._datasets) > self.max_datasets:
                self._datasets.popitem(last=False)
        return ds

    def header(self, path: Path) -> Dataset:
        """The whole header of `path` without pixel data (functional groups included)."""
        with self._lock:
            if path in self._headers:
                self._headers.move_to_end(path)
                return self._headers[path]
        header = read_header(path)
        with self._lock:
            self._headers[path] = header
            while len(self._headers) > 64:
                self._headers.popitem(last=False)
        return header

    def frame(self, ref: ImageRef) -> FrameDisplay:
        """Frame `ref.frame` of `ref.instance`, decoded and prepared (raises ViewerError).

        Single-frame native files are read straight from their pixel offset
        with their indexing header as context (no pydicom parse); everything
        else is read whole and decoded by pydicom.
        """
        path = ref.instance.path
        key = (path, ref.frame)
        with self._lock:
            if key in self._frames:
                self._frames.move_to_end(key)
                return self._frames[key]
        display = _prepared(lambda: self._build(ref), path)
        self._remember(key, display)
        return display

    def _build(self, ref: ImageRef) -> FrameDisplay:
        path = ref.instance.path
        display = None
        if ref.frame == 0:
            header = read_index_header(path)
            frames = number_of_frames(header)
            if ref.instance.frames != frames:
                # Media records need not say how many frames a file has; the file does.
                ref.instance.frames = frames
            if frames == 1:
                stored = read_native_frame(path, header)
                if stored is not None:
                    display = FrameDisplay(stored, header)
        if display is None:
            header = self.header(path)
            if number_of_frames(header) > 1 and str(transfer_syntax(header)) != DEFLATED:
                # Multi-frame: read only the frame asked for, never the whole file.
                stored = decode_file_frame(path, header, ref.frame)
                display = FrameDisplay(stored, frame_context(header, ref.frame))
            else:
                ds = self.dataset(path)
                stored = decode_frame(ds, ref.frame, path)
                display = FrameDisplay(stored, frame_context(ds, ref.frame))
        return display

    def insert(self, ref: ImageRef, stored: np.ndarray) -> FrameDisplay:
        """Cache a frame decoded elsewhere (a worker process), prepared for display here."""
        path = ref.instance.path
        header = self.header(path)
        display = _prepared(lambda: FrameDisplay(stored, frame_context(header, ref.frame)), path)
        self._remember((path, ref.frame), display)
        return display

    def _remember(self, key, display: FrameDisplay) -> None:
        with self._lock:
            if key in self._frames:
                return
            self._frames[key] = display
            self._bytes += display.nbytes
            while self._bytes > self.max_bytes and len(self._frames) > 1:
                _, old = self._frames.popitem(last=False)
                self._bytes -= old.nbytes

    def cached(self, ref: ImageRef) -> bool:
        with self._lock:
            return (ref.instance.path, ref.frame) in self._frames

    @property
    def cached_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._datasets.clear()
            self._headers.clear()
            self._frames.clear()
            self._bytes = 0


def _prepared(build, path) -> FrameDisplay:
    """`build()`'s FrameDisplay with its default VOI's lookup table computed.

    Damaged headers give attributes of the wrong type or size (an SQ where a
    number belongs, a Rows element of 3 bytes, a palette descriptor of 33
    bits): pydicom's lazy conversion, its transforms and ours then raise
    TypeError, AttributeError, NotImplementedError, BytesLengthException
    and the like, from wherever the value is first read. Found by
    tests/robustness (crashes/*.dcm); each is the file's fault, so it becomes
    the one-line ViewerError, here, rather than a traceback while painting.
    """
    try:
        display = build()
        display.display_lut(display.default_voi())
        return display
    except (ViewerError, MemoryError):
        raise
    except Exception as exc:  # see above
        text = " ".join(str(exc).split())[:160]
        raise ViewerError(f"its image attributes are malformed ({exc.__class__.__name__}: {text})", path) from None


def series_window(store: FrameStore, images: Sequence[ImageRef], decode: Callable[[ImageRef], FrameDisplay] | None = None) -> Window:
    """The automatic window of the series `images` (:mod:`viewer.core.display.pixels.auto_window`).

    From the pixel value ranges the headers declare when every instance has
    one (no decoding); otherwise from the percentiles of the middle image,
    decoded with `decode` (default :meth:`FrameStore.frame`; pass
    :func:`frame_with_time_limit` for compressed images). The middle image
    may have to be decoded: call this off the GUI thread. Raises ViewerError
    when that image cannot be read.
    """
    middle_index = len(images) // 2
    middle = images[middle_index]
    window = pixel_value_range_window(_range_contexts(store, images, middle))
    if window is None:
        window = percentile_window((decode or store.frame)(middle), middle_index + 1)
    return window


def _range_contexts(store: FrameStore, images: Sequence[ImageRef], middle: ImageRef) -> list[Dataset]:
    """The attributes of each instance that :func:`pixel_value_range_window` reads.

    The middle instance's whole header decides first: without the range
    attributes there, the thousands of other headers are not looked at.
    Other instances are read from the catalog's indexing headers, which
    keep the range, padding and rescale attributes but no sequences: a
    series with a Modality LUT Sequence is then left to the percentiles.
    """
    instances = list(dict.fromkeys(ref.instance for ref in images))
    try:
        ctx = frame_context(store.header(middle.instance.path), middle.frame)
    except ViewerError:
        return []
    declares = any(keyword in ctx for keyword in ("SmallestImagePixelValue", "SmallestPixelValueInSeries"))
    if len(instances) == 1 or not declares:
        return [ctx]
    if ctx.get("ModalityLUTSequence"):
        return []
    return [ctx if instance is middle.instance else instance.header for instance in instances]


def nearest_first(start: int, count: int):
    """start, start+1, start-1, start+2, start-2, ... within 0..count-1."""
    if not 0 <= start < count:
        return
    yield start
    for step in range(1, count):
        ahead, behind = start + step, start - step
        if ahead < count:
            yield ahead
        if behind >= 0:
            yield behind
        if ahead >= count and behind < 0:
            return


def ahead_first(start: int, count: int):
    """start, start+1, ... to the end, then from the beginning (a playing loop's order)."""
    for step in range(count):
        yield (start + step) % count


def prefetch(store: FrameStore, images: list[ImageRef], start: int, cancel, fill: float = 0.8, order=nearest_first) -> int:
    """Decode the images around `start`, nearest first, in the caller's thread.

    `order` is :func:`nearest_first` for browsing, :func:`ahead_first` for cine.
    Stops when `cancel()` is true (the user switched series or moved far) or
    when the cache holds `fill` of its budget, so prefetching never evicts
    the images next to the one shown. Unreadable images are skipped (the
    pane reports them when shown). Returns how many images were decoded.
    """
    from viewer.core.dicom.io import ViewerError

    done = 0
    for i in order(start, len(images)):
        if cancel():
            break
        if store.cached(images[i]):
            continue
        if store.cached_bytes >= store.max_bytes * fill:
            break
        try:
            store.frame(images[i])
            done += 1
        except ViewerError:
            continue
    return done


def follow_play_head(store: FrameStore, images: list[ImageRef], head, cancel, ahead: int, idle: float = 0.005) -> int:
    """Keep the `ahead` images after the play head decoded while a cine plays.

    `head()` gives the index on screen now (read from another thread: it
    is a plain int). Images behind the head age out of the cache (LRU), so a
    loop longer than the cache still plays. Runs until `cancel()`.
    Returns how many images were decoded.
    """
    import time

    from viewer.core.dicom.io import ViewerError

    count = len(images)
    ahead = max(1, min(ahead, count))
    done = 0
    failed: set[int] = set()  # unreadable images: the pane says why when they are due
    while not cancel():
        start = head()
        due = ((start + k) % count for k in range(ahead))
        missing = next((i for i in due if i not in failed and not store.cached(images[i])), None)
        if missing is None:
            time.sleep(idle)
            continue
        try:
            store.frame(images[missing])
            done += 1
        except ViewerError:
            failed.add(missing)
    return done


# ----------------------------------------------------------------------------- decoding in processes


def decode_stored(path: str, frame: int) -> np.ndarray:
    """Worker-process entry point: the stored values of one frame (raises ViewerError)."""
    header = read_header(path)
    if number_of_frames(header) > 1 and str(transfer_syntax(header)) != DEFLATED:
        return decode_file_frame(path, header, frame)
    return decode_frame(read_image_dataset(path), frame, path)


def is_compressed(header: Dataset) -> bool:
    """Whether decoding this file is real work (encapsulated pixel data)."""
    meta = getattr(header, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    try:
        return bool(uid) and UID(str(uid).rstrip("\x00 ")).is_encapsulated
    except ValueError:
        return False  # a syntax pydicom does not know (JPEG XL): nothing can decode it


def prefetch_in_processes(store: FrameStore, images: list[ImageRef], start: int, cancel, pool, fill: float = 0.8) -> int:
    """Like :func:`prefetch`, with the decoding spread over worker processes.

    For compressed series: JPEG 2000 and the other decoders hold the GIL, so
    threads would take turns. Stored values come back from the workers; the
    display preparation (cheap) happens here. Falls back to this thread if
    the pool breaks. Returns how many images were decoded.
    """
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    from viewer.core.dicom.io import ViewerError

    order = [i for i in nearest_first(start, len(images))]
    pending: dict = {}
    done = 0
    in_flight = 2 * (getattr(pool, "_max_workers", 2) or 2)
    position = 0
    while (position < len(order) or pending) and not cancel():
        while position < len(order) and len(pending) < in_flight and store.cached_bytes < store.max_bytes * fill:
            ref = images[order[position]]
            position += 1
            if store.cached(ref):
                continue
            try:
                pending[pool.submit(decode_stored, str(ref.instance.path), ref.frame)] = ref
            except (BrokenProcessPool, RuntimeError):
                return done + prefetch(store, images, start, cancel, fill)
        if not pending:
            break
        finished, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
        for future in finished:
            ref = pending.pop(future)
            try:
                store.insert(ref, future.result())
                done += 1
            except ViewerError:
                continue  # the pane reports it when the image is shown
            except BrokenProcessPool:
                from viewer.core.runtime.processes import discard_pool

                discard_pool()
                return done + prefetch(store, images, start, cancel, fill)
    for future in pending:
        future.cancel()
    return done


def follow_play_head_in_processes(store: FrameStore, images: list[ImageRef], head, cancel, ahead: int, pool, idle: float = 0.005) -> int:
    """:func:`follow_play_head` for compressed images, decoded by worker processes.

    The decoders hold the GIL, and a damaged code stream may take a decoder's
    whole process down (gdcm aborts) or spin: in workers, a crash costs a
    worker and the frame (shown as unreadable when due), a frame slower than
    :data:`DECODE_TIME_LIMIT` is given up, and the cine goes on. At most two
    frames per worker are in flight, the nearest due first.
    """
    import time
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    from viewer.core.dicom.io import ViewerError
    from viewer.core.runtime.processes import discard_pool, kill_pool, process_pool

    count = len(images)
    ahead = max(1, min(ahead, count))
    in_flight = 2 * (getattr(pool, "_max_workers", 2) or 2)
    pending: dict = {}  # future -> (index, submitted at)
    failed: set[int] = set()
    done = 0
    while not cancel():
        for future in [f for f in pending if f.done()]:
            index, _ = pending.pop(future)
            try:
                store.insert(images[index], future.result())
                done += 1
            except ViewerError:
                failed.add(index)
            except BrokenProcessPool:  # a decoder took its worker down: that frame is lost, not the cine
                failed.add(index)
                discard_pool()
                pending.clear()
                break
        now = time.monotonic()
        late = {index for index, started in pending.values() if now - started > DECODE_TIME_LIMIT}
        if late:
            failed.update(late)
            kill_pool()  # the only way to stop a decoder that spins
            pending.clear()
        if not pending:
            pool = process_pool()  # the same pool, or a new one after a crash or a kill
            if pool is None:
                return done + follow_play_head(store, images, head, cancel, ahead, idle)
        start = head()
        in_hand = {index for index, _ in pending.values()}
        for k in range(ahead):
            if len(pending) >= in_flight:
                break
            i = (start + k) % count
            if i in failed or i in in_hand or store.cached(images[i]):
                continue
            try:
                pending[pool.submit(decode_stored, str(images[i].instance.path), images[i].frame)] = (i, now)
            except (BrokenProcessPool, RuntimeError):
                discard_pool()
                return done + follow_play_head(store, images, head, cancel, ahead, idle)
        if pending:
            wait(list(pending), timeout=idle, return_when=FIRST_COMPLETED)
        else:
            time.sleep(idle)
    for future in pending:
        future.cancel()
    return done


#: Seconds one frame may take to decode before the viewer gives up on it
#: (a pathological JPEG 2000 code stream must not hold the image hostage).
DECODE_TIME_LIMIT = 20.0


def frame_with_time_limit(store: FrameStore, ref: ImageRef, limit: float = DECODE_TIME_LIMIT) -> FrameDisplay:
    """Decode `ref` in a worker process, giving up after `limit` seconds.

    The worker is killed on time-out (threads cannot be stopped; processes
    can), and the error says so. Without a pool (one core) it decodes here.
    """
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    from viewer.core.dicom.io import ViewerError
    from viewer.core.runtime.processes import discard_pool, kill_pool, process_pool

    if store.cached(ref):
        return store.frame(ref)
    pool = process_pool()
    if pool is None:
        return store.frame(ref)
    try:
        future = pool.submit(decode_stored, str(ref.instance.path), ref.frame)
        stored = future.result(timeout=limit)
    except FutureTimeout:
        kill_pool()
        raise ViewerError(f"frame {ref.frame + 1} took more than {limit:g} s to decode; stopped", ref.instance.path) from None
    except BrokenProcessPool:
        discard_pool()
        raise ViewerError(f"frame {ref.frame + 1}: the decoder crashed", ref.instance.path) from None
    return store.insert(ref, stored)
