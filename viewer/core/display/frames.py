"""The frames of a series, read once and kept: the frame source.

:class:`FrameSource` turns an :class:`~viewer.core.media.model.ImageRef` into
a :class:`~viewer.core.display.pixels.pipeline.FrameDisplay`. Prepared frames
are kept in one least-recently-used cache bounded by bytes, so scrolling back
is instant and a long series does not fill memory; whole files that must be
read whole (deflated, compressed single frames) and full headers are kept in
small caches by count.

A single-frame native image is read straight from its pixel offset, with
the header the catalog kept from the scan as its context: the file is opened
once, for its pixels (:meth:`Instance.display_header
<viewer.core.media.model.Instance.display_header>`). Everything else goes
through pydicom. The viewer fills the cache ahead of the user with
:func:`viewer.core.display.prefetch.prefetch`.

A file may hold another number of frames than its catalog entry says (a
media record need not say how many): the source reports the number it found
through ``on_frames_found(instance, frames)`` and changes nothing itself; the
series applies it (:meth:`Series.frames_found <viewer.core.media.model.Series.frames_found>`).

Thread-safe: the prefetcher and the viewports share one source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID

from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError, read_header, read_image_dataset
from viewer.core.display.lru import LRU
from viewer.core.display.pixels.auto_window import percentile_window, pixel_value_range_window
from viewer.core.display.pixels.decoders import decode_file_frame, decode_frame, number_of_frames
from viewer.core.display.pixels.native import read_native_frame
from viewer.core.display.pixels.pipeline import FrameDisplay, Window, frame_context
from viewer.core.media.model import ImageRef, Instance

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024
#: Full headers kept (the multi-frame path, the series' window, the cine's rate).
HEADERS_KEPT = 64
#: Seconds one frame may take to decode before the viewer gives up on it
#: (a pathological JPEG 2000 code stream must not hold the image hostage).
DECODE_TIME_LIMIT = 20.0


class FrameSource:
    """Decoded, display-ready frames by image reference (see the module's docstring).

    `on_frames_found(instance, frames)` is called, in whichever thread read
    it, when frame 0 of a file shows that it holds `frames` frames where its
    instance says otherwise.
    """

    def __init__(
        self,
        max_bytes: int = DEFAULT_CACHE_BYTES,
        max_datasets: int = 8,
        on_frames_found: Callable[[Instance, int], None] | None = None,
    ):
        self._frames: LRU[tuple[Path, int], FrameDisplay] = LRU(max_weight=max_bytes, weight=lambda frame: frame.nbytes)
        self._datasets: LRU[Path, Dataset] = LRU(max_items=max_datasets)
        self._headers: LRU[Path, Dataset] = LRU(max_items=HEADERS_KEPT)
        self.on_frames_found = on_frames_found

    @property
    def max_bytes(self) -> int:
        """The budget of the frame cache (the user's "memory for images")."""
        return self._frames.max_weight or 0

    @max_bytes.setter
    def max_bytes(self, value: int) -> None:
        self._frames.max_weight = value

    @property
    def cached_bytes(self) -> int:
        return self._frames.weight

    def cached(self, ref: ImageRef) -> bool:
        return (ref.instance.path, ref.frame) in self._frames

    def all_cached(self, refs: Sequence[ImageRef]) -> bool:
        """Whether every one of `refs` is decoded and kept: then decoding ahead has nothing to do."""
        return all((ref.instance.path, ref.frame) in self._frames for ref in refs)

    @property
    def frames_dropped(self) -> int:
        """Frames dropped from the cache so far: while it stays, every frame seen cached is still cached."""
        return self._frames.dropped

    def clear(self) -> None:
        for cache in (self._frames, self._datasets, self._headers):
            cache.clear()

    # ------------------------------------------------------------------ whole files

    def dataset(self, path: Path) -> Dataset:
        """The whole dataset of `path`, pixel data included (raises ViewerError)."""
        return _kept(self._datasets, path, read_image_dataset)

    def header(self, path: Path) -> Dataset:
        """The whole header of `path` without pixel data (functional groups included)."""
        return _kept(self._headers, path, read_header)

    # ------------------------------------------------------------------ frames

    def frame(self, ref: ImageRef) -> FrameDisplay:
        """Frame `ref.frame` of `ref.instance`, decoded and prepared (raises ViewerError)."""
        path = ref.instance.path
        key = (path, ref.frame)
        display = self._frames.get(key)
        if display is None:
            display = _prepared(lambda: self._build(ref), path)
            self._frames.add(key, display)
        return display

    def _build(self, ref: ImageRef) -> FrameDisplay:
        path = ref.instance.path
        if ref.frame == 0:
            header = ref.instance.display_header()
            if header is None:  # not kept from a scan (media records, files read by pydicom)
                header = read_index_header(path)
            frames = number_of_frames(header)
            if frames != ref.instance.frames and self.on_frames_found is not None:
                self.on_frames_found(ref.instance, frames)
            if frames == 1:
                stored = read_native_frame(path, header)
                if stored is not None:
                    return FrameDisplay(stored, header)
        header = self.header(path)
        if number_of_frames(header) > 1 and not is_deflated(header):
            # Multi-frame: read only the frame asked for, never the whole file.
            return FrameDisplay(decode_file_frame(path, header, ref.frame), frame_context(header, ref.frame))
        ds = self.dataset(path)
        return FrameDisplay(decode_frame(ds, ref.frame, path), frame_context(ds, ref.frame))

    def insert(self, ref: ImageRef, stored: np.ndarray) -> FrameDisplay:
        """Cache a frame decoded elsewhere (a worker process), prepared for display here."""
        path = ref.instance.path
        header = self.header(path)
        display = _prepared(lambda: FrameDisplay(stored, frame_context(header, ref.frame)), path)
        self._frames.add((path, ref.frame), display)
        return display

    def decoding_is_work(self, ref: ImageRef) -> bool:
        """Compressed or deflated pixel data: decode away from the asking (GUI) thread, with a time limit."""
        header = ref.instance.header
        if getattr(header, "file_meta", None) is None:
            try:
                header = self.header(ref.instance.path)
            except ViewerError:
                return False
        return is_compressed(header) or is_deflated(header)

    def request(
        self,
        ref: ImageRef,
        on_ready: Callable[[FrameDisplay], None],
        on_error: Callable[[BaseException], None],
        background: Callable[[Callable[[], FrameDisplay], Callable, Callable], object],
    ) -> bool:
        """Frame `ref` for `on_ready(frame)`, or the reason it cannot be had for `on_error`; True if answered now.

        A cached frame, or one cheap to make, is answered at once in this
        thread. Compressed (or deflated) pixels go to ``background(task,
        on_ready, on_error)``, the caller's way of running `task` off its
        thread and answering on it: the task is :func:`frame_with_time_limit`,
        so a damaged code stream can neither take the app down nor hold it.
        """
        if self.cached(ref) or not self.decoding_is_work(ref):
            try:
                frame = self.frame(ref)
            except ViewerError as error:
                on_error(error)
                return True
            on_ready(frame)
            return True
        background(lambda: frame_with_time_limit(self, ref), on_ready, on_error)
        return False


def _kept(cache: LRU, path: Path, read: Callable[[Path], Dataset]) -> Dataset:
    value = cache.get(path)
    if value is None:
        value = read(path)
        cache.add(path, value)
    return value


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


# ----------------------------------------------------------------------------- transfer syntax


def _file_syntax(header: Dataset) -> UID | None:
    """(0002,0010) *Transfer Syntax UID* of the file's meta information; None when there is none."""
    meta = getattr(header, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    return UID(str(uid).rstrip("\x00 ")) if uid else None


def is_compressed(header: Dataset) -> bool:
    """Whether decoding this file is real work (encapsulated pixel data, PS3.5 A.4)."""
    uid = _file_syntax(header)
    try:
        return uid is not None and uid.is_encapsulated
    except ValueError:
        return False  # a syntax pydicom does not know (JPEG XL): nothing can decode it


def is_deflated(header: Dataset) -> bool:
    """Whether the dataset is deflated (PS3.5 A.5): it must be inflated whole to reach any frame."""
    uid = _file_syntax(header)
    try:
        return uid is not None and uid.is_deflated
    except ValueError:
        return False


# ----------------------------------------------------------------------------- decoding in processes


def decode_stored(path: str, frame: int) -> np.ndarray:
    """Worker-process entry point: the stored values of one frame (raises ViewerError)."""
    header = read_header(path)
    if number_of_frames(header) > 1 and not is_deflated(header):
        return decode_file_frame(path, header, frame)
    return decode_frame(read_image_dataset(path), frame, path)


def frame_with_time_limit(source: FrameSource, ref: ImageRef, limit: float = DECODE_TIME_LIMIT) -> FrameDisplay:
    """Decode `ref` in a worker process, giving up after `limit` seconds.

    The worker is killed on time-out (threads cannot be stopped; processes
    can), and the error says so. Without a pool (one core) it decodes here.
    """
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    from viewer.core.runtime.processes import discard_pool, kill_pool, process_pool

    if source.cached(ref):
        return source.frame(ref)
    if is_video(ref.instance.header):
        return _video_frame_with_time_limit(source, ref, limit)
    pool = process_pool()
    if pool is None:
        return source.frame(ref)
    try:
        future = pool.submit(decode_stored, str(ref.instance.path), ref.frame)
        stored = future.result(timeout=limit)
    except FutureTimeout:
        kill_pool()
        raise ViewerError(f"frame {ref.frame + 1} took more than {limit:g} s to decode; stopped", ref.instance.path) from None
    except BrokenProcessPool:
        discard_pool()
        raise ViewerError(f"frame {ref.frame + 1}: the decoder crashed", ref.instance.path) from None
    return source.insert(ref, stored)


#: Frames a direct request for a video frame brings back (sent through the worker's pipe).
DIRECT_VIDEO_FRAMES = 2


def is_video(header: Dataset) -> bool:
    """Whether the file's pixel data is a video stream (PS3.5 8.2.5-8.2.8): decoded in the video worker."""
    from viewer.core.display.pixels.video import is_video as is_video_syntax

    return is_video_syntax(_file_syntax(header))


def insert_video_frames(source: FrameSource, ref: ImageRef, decoded: list[tuple[int, np.ndarray]]) -> FrameDisplay | None:
    """Frames (index, stored values) of `ref`'s video decoded in the worker, into `source`; `ref`'s own, if among them."""
    wanted = None
    for index, stored in decoded:
        image = ImageRef(ref.instance, index)
        display = source.frame(image) if source.cached(image) else source.insert(image, stored)
        if index == ref.frame:
            wanted = display
    return wanted


def _video_frame_with_time_limit(source: FrameSource, ref: ImageRef, limit: float) -> FrameDisplay:
    """:func:`frame_with_time_limit` for video: the video worker decodes from `ref` on, a few frames ahead.

    A video is decoded sequentially, so its decoder stays in one process
    (:func:`~viewer.core.runtime.processes.video_pool`) and each call brings
    back the frame after the one asked for too (the next one a user sees);
    the prefetcher brings the rest, through shared memory.
    """
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    from viewer.core.display.pixels.video import decode_video_frames
    from viewer.core.runtime.processes import kill_video_pool, video_pool

    pool = video_pool()
    if pool is None:  # the app is quitting
        return source.frame(ref)
    try:
        future = pool.submit(decode_video_frames, str(ref.instance.path), ref.frame, DIRECT_VIDEO_FRAMES)
        decoded = future.result(timeout=limit)
    except FutureTimeout:
        kill_video_pool()
        raise ViewerError(f"frame {ref.frame + 1} took more than {limit:g} s to decode; stopped", ref.instance.path) from None
    except (BrokenProcessPool, RuntimeError):  # RuntimeError: submitted as the pool shut down
        kill_video_pool()
        raise ViewerError(f"frame {ref.frame + 1}: the video decoder crashed", ref.instance.path) from None
    display = insert_video_frames(source, ref, decoded)
    return display if display is not None else source.frame(ref)


# ----------------------------------------------------------------------------- the series' window


def series_window(source: FrameSource, images: Sequence[ImageRef], decode: Callable[[ImageRef], FrameDisplay] | None = None) -> Window:
    """The automatic window of the series `images` (:mod:`viewer.core.display.pixels.auto_window`).

    From the pixel value ranges the headers declare when every instance has
    one (no decoding); otherwise from the percentiles of the middle image,
    decoded with `decode` (default :meth:`FrameSource.frame`; pass
    :func:`frame_with_time_limit` for compressed images). The middle image
    may have to be decoded: call this off the GUI thread. Raises ViewerError
    when that image cannot be read.
    """
    middle_index = len(images) // 2
    middle = images[middle_index]
    window = pixel_value_range_window(_range_contexts(source, images, middle))
    if window is None:
        window = percentile_window((decode or source.frame)(middle), middle_index + 1)
    return window


def _range_contexts(source: FrameSource, images: Sequence[ImageRef], middle: ImageRef) -> list[Dataset]:
    """The attributes of each instance that :func:`pixel_value_range_window` reads.

    The middle instance's whole header decides first: without the range
    attributes there, the thousands of other headers are not looked at.
    Other instances are read from the catalog's indexing headers, which
    keep the range, padding and rescale attributes but no sequences: a
    series with a Modality LUT Sequence is then left to the percentiles.
    """
    instances = list(dict.fromkeys(ref.instance for ref in images))
    try:
        ctx = frame_context(source.header(middle.instance.path), middle.frame)
    except ViewerError:
        return []
    declares = any(keyword in ctx for keyword in ("SmallestImagePixelValue", "SmallestPixelValueInSeries"))
    if len(instances) == 1 or not declares:
        return [ctx]
    if ctx.get("ModalityLUTSequence"):
        return []
    return [ctx if instance is middle.instance else instance.header for instance in instances]
