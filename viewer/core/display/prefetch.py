"""Decoding ahead of the user: one prefetcher, given an order and an executor.

:func:`prefetch` fills a :class:`~viewer.core.display.frames.FrameSource`
with the images of a series, in an *order* and on an *executor*:

- orders: :func:`nearest_first` around the image shown (browsing),
  :func:`ahead_first` (a loop's order), each one pass over the series; or a
  :class:`PlayHead`, the images just after a playing cine's play head, looked
  at again and again until the cine stops;
- executors: :class:`InThisThread` (native pixels: decoding is a copy) or
  :class:`InWorkerProcesses` (compressed pixels: the decoders hold the GIL,
  and a damaged code stream may crash its process or spin; in a worker that
  costs the frame, never the app). :func:`executor_for` makes the choice for
  every caller in the viewer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from viewer.core.dicom.io import ViewerError
from viewer.core.display.frames import DECODE_TIME_LIMIT, FrameSource, decode_stored, insert_video_frames, is_compressed, is_video
from viewer.core.media.model import ImageRef, Instance
from viewer.core.runtime.processes import discard_pool, kill_pool, process_pool, worker_count

#: Seconds between looks at a play head that has nothing new to decode.
IDLE = 0.005
#: Seconds a one-pass prefetch waits on its workers between looks at `cancel`.
POLL = 0.2


def nearest_first(start: int, count: int) -> Iterator[int]:
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


def ahead_first(start: int, count: int) -> Iterator[int]:
    """start, start+1, ... to the end, then from the beginning (a playing loop's order)."""
    for step in range(count):
        yield (start + step) % count


class PlayHead:
    """The order of a playing cine: the `ahead` images from the one on screen.

    `head()` gives the index on screen now (read from the prefetching
    thread: a plain int). Images behind the head age out of the cache, so a
    loop longer than the cache still plays.
    """

    endless = True
    poll = IDLE

    def __init__(self, head: Callable[[], int], ahead: int):
        self.head = head
        self.ahead = ahead

    def due(self, count: int) -> Iterator[int]:
        start = self.head()
        return ((start + k) % count for k in range(max(1, min(self.ahead, count))))

    def keep_ahead(self, source: FrameSource, images: Sequence[ImageRef]) -> None:
        """Whenever the head has moved: mark the images ahead of it, already decoded, as just used, nearest last.

        The cache evicts the least recently used image first. Images decoded
        long before the head reaches them (while browsing, before Play) would
        otherwise be the first to go when newer ones come in, ahead of the
        images just shown behind the head, and be decoded again.
        """
        head = self.head()
        if head == getattr(self, "_kept_at", None):
            return
        self._kept_at = head
        count = len(images)
        for k in reversed(range(max(1, min(self.ahead, count)))):
            ref = images[(head + k) % count]
            if source.cached(ref):
                source.frame(ref)  # a cache hit: moves it to the most recently used end


class _OnePass:
    """An order of the series taken once: what was looked at is not looked at again."""

    endless = False
    poll = POLL

    def __init__(self, indexes: Iterable[int]):
        self._indexes = iter(indexes)

    def due(self, _count: int) -> Iterator[int]:
        return self._indexes


class WorkerLost(Exception):
    """A worker process died with a frame in hand (its decoder crashed)."""


class Executor:
    """What :func:`prefetch` asks of an executor: frames started, finished, and what to do when workers fail."""

    capacity = 1  # frames in flight at most
    time_limit: float | None = None  # seconds a frame may take, if the executor can stop it

    def start(self, source: FrameSource, ref: ImageRef) -> Future | None:
        """The decoding of `ref`, under way or done; None when this executor cannot take it."""
        raise NotImplementedError

    def finish(self, source: FrameSource, ref: ImageRef, future: Future) -> None:
        """`future` is done: its frame into `source` (raises what the decoding raised, or :class:`WorkerLost`)."""
        raise NotImplementedError

    def too_slow(self) -> None:
        """A frame ran past :attr:`time_limit`: stop its worker."""


class InThisThread(Executor):
    """Decodes in the prefetching thread, one image at a time."""

    def start(self, source: FrameSource, ref: ImageRef) -> Future | None:
        future: Future = Future()
        try:
            future.set_result(source.frame(ref))
        except ViewerError as error:
            future.set_exception(error)
        return future

    def finish(self, _source: FrameSource, _ref: ImageRef, future: Future) -> None:
        future.result()


class InWorkerProcesses(Executor):
    """Decodes in worker processes: the shared pool, or `pool` of `workers` processes.

    Two frames per worker are in flight, the first due first; the stored
    values come back and are prepared for display in the prefetching thread
    (:meth:`FrameSource.insert`). A frame slower than :data:`DECODE_TIME_LIMIT`
    is given up (the workers are killed: the only way to stop a decoder that
    spins), and a crash costs its frame; the shared pool starts again.
    """

    time_limit: float | None = DECODE_TIME_LIMIT

    def __init__(self, pool=None, workers: int | None = None):
        self._pool = pool
        self.capacity = 2 * (workers or worker_count())

    def start(self, _source: FrameSource, ref: ImageRef) -> Future | None:
        """The frame's decoding, under way; None when no worker can be had (one core, the app quitting, a broken pool)."""
        from concurrent.futures.process import BrokenProcessPool

        pool = self._pool or process_pool()
        if pool is None:
            return None
        try:
            return pool.submit(decode_stored, str(ref.instance.path), ref.frame)
        except (BrokenProcessPool, RuntimeError):
            discard_pool()
            return None

    def finish(self, source: FrameSource, ref: ImageRef, future: Future) -> None:
        from concurrent.futures.process import BrokenProcessPool  # here: it imports multiprocessing, which start-up never needs

        try:
            stored = future.result()
        except BrokenProcessPool:
            discard_pool()  # the next frame starts a new pool
            raise WorkerLost from None
        source.insert(ref, stored)

    def too_slow(self) -> None:
        kill_pool()


class InVideoWorker(Executor):
    """Decodes a video in its one worker process (:func:`~viewer.core.runtime.processes.video_pool`), a chunk at a time.

    A video is decoded sequentially (:mod:`viewer.core.display.pixels.video`):
    the worker keeps its decoder between calls, and each call decodes
    `chunk` consecutive frames, so a playing loop costs one decoding per
    frame and one round trip per chunk. Two chunks are in flight, so the
    worker never waits for this thread to take the frames in.
    """

    time_limit: float | None = DECODE_TIME_LIMIT

    def __init__(self, pool=None, chunk: int | None = None, chunks_ahead: int = 2):
        from viewer.core.display.pixels.video import CHUNK_FRAMES

        self._pool = pool
        self.chunk = chunk or CHUNK_FRAMES
        self.capacity = self.chunk * chunks_ahead
        self._in_flight: dict[int, Future] = {}  # frame index -> the chunk decoding it
        self._chunks_ahead = chunks_ahead
        self._ring = None  # the memory the worker writes the frames into (FrameRing), made with the first chunk
        self._slots: dict[Future, tuple[str, int, int] | None] = {}  # chunk -> its slot, until its frames are taken

    def start(self, source: FrameSource, ref: ImageRef) -> Future | None:
        """A future for `ref`'s frame, settled with its chunk's frames; None when the worker cannot be had.

        A chunk stops before the first frame already in `source`: browsing
        back from the frame shown (the nearest-first order) then asks for one
        frame at a time, which the worker still holds in its window.
        """
        from concurrent.futures.process import BrokenProcessPool

        from viewer.core.display.pixels.video import decode_video_frames
        from viewer.core.runtime.processes import kill_video_pool, video_pool

        chunk = self._in_flight.get(ref.frame)
        if chunk is None or chunk.done():  # a chunk already taken in says nothing about this frame now (evicted since?)
            pool = self._pool or video_pool()
            if pool is None:
                return None
            count = 1
            while count < min(self.chunk, ref.instance.frames - ref.frame) and not source.cached(ImageRef(ref.instance, ref.frame + count)):
                count += 1
            slot = self._slot(ref)
            try:
                chunk = pool.submit(decode_video_frames, str(ref.instance.path), ref.frame, count, slot)
            except (BrokenProcessPool, RuntimeError):
                kill_video_pool()
                return None
            self._slots[chunk] = slot
            for index in range(ref.frame, ref.frame + count):
                self._in_flight[index] = chunk
        mine: Future = Future()
        mine.chunk = chunk  # type: ignore[attr-defined]  # finish() frees the chunk's slot
        chunk.add_done_callback(lambda done: _settle(mine, done))
        return mine

    def finish(self, source: FrameSource, ref: ImageRef, future: Future) -> None:
        from concurrent.futures.process import BrokenProcessPool

        from viewer.core.runtime.processes import kill_video_pool

        self._in_flight.pop(ref.frame, None)
        chunk = future.chunk  # type: ignore[attr-defined]
        try:
            placed = future.result()
        except BrokenProcessPool:
            kill_video_pool()
            raise WorkerLost from None
        except BaseException:
            self._free_slot(chunk)
            raise
        if chunk not in self._slots:
            return  # another frame of the same chunk brought them all in
        insert_video_frames(source, ref, self._ring.take(placed) if self._ring is not None else placed)
        self._free_slot(chunk)

    def _free_slot(self, chunk: Future) -> None:
        for index in [i for i, c in self._in_flight.items() if c is chunk]:
            del self._in_flight[index]
        slot = self._slots.pop(chunk, None)
        if self._ring is not None:
            self._ring.release(slot)

    def _slot(self, ref: ImageRef) -> tuple[str, int, int] | None:
        """Where the worker writes the chunk: a slot of the ring (one per chunk in flight, and one spare)."""
        from viewer.core.display.pixels.video import FrameRing

        if self._ring is None:
            header = ref.instance.header
            try:
                samples = 1 if str(header.get("PhotometricInterpretation", "")).startswith("MONOCHROME") else 3
                depth = 2 if int(header.get("BitsStored") or 8) > 8 else 1
                frame_bytes = int(header.Rows) * int(header.Columns) * samples * depth
            except (AttributeError, TypeError, ValueError):
                return None  # the worker sends the frames through its pipe
            self._ring = FrameRing(frame_bytes * self.chunk, self._chunks_ahead + 1)
        return self._ring.slot()

    def too_slow(self) -> None:
        from viewer.core.runtime.processes import kill_video_pool

        self._in_flight.clear()
        kill_video_pool()


def _settle(mine: Future, chunk: Future) -> None:
    """`mine` ends as the `chunk` it waits for did (result, error or cancellation)."""
    from concurrent.futures import InvalidStateError

    try:
        if chunk.cancelled():
            mine.cancel()
        elif chunk.exception() is not None:
            mine.set_exception(chunk.exception())
        else:
            mine.set_result(chunk.result())
    except InvalidStateError:  # `mine` was cancelled meanwhile (the prefetch stopped)
        pass


def executor_for(ref: ImageRef, known: dict[Instance, str] | None = None) -> Executor:
    """Where the images of a series like `ref`'s are decoded ahead: video in its worker, compressed images in
    worker processes, the rest in this thread.

    `known` remembers, per instance, which of those it is ((0002,0010) *Transfer Syntax UID*, PS3.5 A.4): a
    viewport decodes ahead after every image it shows, and reading the syntax rebuilds the instance's header
    each time.
    """
    instance = ref.instance
    where = known.get(instance) if known is not None else None
    if where is None:
        header = instance.header
        where = "video" if is_video(header) else "processes" if is_compressed(header) else "thread"
        if known is not None:
            known[instance] = where
    if where == "video":
        return InVideoWorker()
    return InWorkerProcesses() if where == "processes" else InThisThread()


def prefetch(
    source: FrameSource,
    images: Sequence[ImageRef],
    start: int,
    order: Callable[[int, int], Iterable[int]] | PlayHead,
    executor: Executor,
    cancel: Callable[[], bool],
    fill: float | None = 0.8,
) -> int:
    """Decode `images` into `source` in `order` from `start`, on `executor`, until `cancel()` is true.

    `order` is :func:`nearest_first` or :func:`ahead_first` (one pass, then
    done) or a :class:`PlayHead` (until cancelled). Nothing more is started
    once the cache holds `fill` of its budget (None: no limit), so a
    prefetch never evicts the images next to the one shown. An unreadable
    image is skipped (the viewport says why when it is shown). When the
    worker processes cannot be had (one core, the app quitting) the rest is
    decoded in this thread. Returns how many images were decoded.
    """
    count = len(images)
    plan = order if isinstance(order, PlayHead) else _OnePass(order(start, count))
    pending: dict[Future, tuple[int, float]] = {}  # future -> (index, started at)
    failed: set[int] = set()
    decoded = 0
    full = False
    try:
        while not cancel():
            for future in [f for f in pending if f.done()]:
                index, _ = pending.pop(future)
                try:
                    executor.finish(source, images[index], future)
                    decoded += 1
                except ViewerError:
                    failed.add(index)
                except WorkerLost:  # a decoder took its worker down: that frame is lost, not the rest
                    failed.add(index)
                    _drop(pending)
                    break
            if executor.time_limit is not None:
                now = time.monotonic()
                late = {index for index, started in pending.values() if now - started > executor.time_limit}
                if late:
                    failed.update(late)
                    executor.too_slow()
                    _drop(pending)
            if isinstance(plan, PlayHead):
                plan.keep_ahead(source, images)
            in_hand = {index for index, _ in pending.values()}
            due = plan.due(count)
            while not full and len(pending) < executor.capacity:
                index = next(due, None)
                if index is None:
                    break
                if index in failed or index in in_hand or source.cached(images[index]):
                    continue
                if fill is not None and source.cached_bytes >= source.max_bytes * fill:
                    full = True
                    break
                future = executor.start(source, images[index])
                if future is None:  # no workers to be had: this thread, from now on
                    executor = InThisThread()
                    future = executor.start(source, images[index])
                pending[future] = (index, time.monotonic())
                in_hand.add(index)
            if pending:
                wait(list(pending), timeout=plan.poll, return_when=FIRST_COMPLETED)
            elif plan.endless and not full:
                time.sleep(plan.poll)
            else:
                break
    finally:
        _drop(pending)
    return decoded


def _drop(pending: dict[Future, tuple[int, float]]) -> None:
    for future in pending:
        future.cancel()
    pending.clear()
