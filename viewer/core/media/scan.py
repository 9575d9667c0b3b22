"""Scanning folders for DICOM files: headers only, in the background, cancellable.

The walk lists regular files only (fifos and devices are never opened),
survives symbolic-link loops and unreadable folders, and reads each file's
indexing attributes with :func:`viewer.core.dicom.header.read_raw_header` (no
pixel data, no pydicom object per file). Large scans use worker processes, since header parsing is
Python work that threads cannot spread over cores (the GIL).

Results arrive in batches through a callback, with progress at most about
ten times a second; the caller's :class:`~viewer.core.runtime.tasks.CancelToken`
stops the scan between files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.dicom.header import RawHeader, number_of_frames, read_raw_header
from viewer.core.dicom.io import Problem, ViewerError
from viewer.core.dicom.sop_classes import IMAGE, NOT_AN_IMAGE, PASSED_OVER, classify
from viewer.core.runtime.processes import discard_pool, process_pool
from viewer.core.runtime.tasks import CancelToken, ProgressThrottle, rare_garbage_collection

#: Below this many files a scan stays in one thread (starting processes costs more).
PROCESS_THRESHOLD = 400
CHUNK = 64


@dataclass
class ScanProgress:
    """Counts so far: files looked at, DICOM images found, other objects found (reports, key images,
    presentation states, ECGs, PDFs...), others skipped, problems."""

    files_seen: int = 0
    images_found: int = 0
    skipped: int = 0  # not DICOM, or a DICOMDIR
    problems: int = 0
    objects_found: int = 0
    done: bool = False
    cancelled: bool = False


@dataclass
class ScanBatch:
    """Found since the last batch: image files with their headers as read, the
    objects without an image by design (reports, presentation states, ECGs...)
    with theirs, problem lines, and the files passed over with the reason (not
    DICOM, a DICOMDIR) as :class:`~viewer.core.dicom.io.Problem` lines too."""

    headers: list[tuple[Path, RawHeader]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    objects: list[tuple[Path, RawHeader]] = field(default_factory=list)

    @property
    def images(self) -> list[tuple[Path, Dataset]]:
        """(path, pydicom dataset) of each image file (made on each call)."""
        return [(path, raw.dataset(path)) for path, raw in self.headers]


def iter_regular_files(paths: Iterable[str | os.PathLike[str]], cancel: Callable[[], bool] = lambda: False) -> Iterator[Path]:
    """Regular files named in `paths` or found below the folders among them.

    Each folder is entered once (symbolic-link loops end there); folders
    that cannot be listed are skipped; fifos, sockets and devices are never
    yielded, so never opened. The retrieve cache's own bookkeeping (a
    series' completion marker, the folder of transfers in progress) is not
    the user's and is passed over.
    """
    from viewer.core.media.cache import COMPLETE_MARKER, STAGING

    seen: set[tuple[int, int]] = set()

    def walk(folder: Path) -> Iterator[Path]:
        try:
            st = os.stat(folder)
        except OSError:
            return
        if (st.st_dev, st.st_ino) in seen:
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        subfolders = []
        for entry in entries:
            if cancel():
                return
            try:
                if entry.is_dir():
                    if entry.name != STAGING:
                        subfolders.append(Path(entry.path))
                elif entry.is_file() and entry.name != COMPLETE_MARKER:
                    yield Path(entry.path)
            except OSError:
                continue
        for sub in subfolders:
            yield from walk(sub)

    for raw in paths:
        path = Path(raw)
        try:
            mode = os.stat(path).st_mode
        except OSError:
            yield path  # let the reader say what is wrong with it
            continue
        if stat.S_ISDIR(mode):
            yield from walk(path)
        elif stat.S_ISREG(mode):
            yield path


# ----------------------------------------------------------------------------- one file


def _classify(path: Path, fd: int | None = None) -> tuple[str, object]:
    """('image', RawHeader) | ('object', RawHeader) | ('skip', reason) | ('problem', Problem)
    for one file (`fd`: the file already open, see :func:`_will_need`)."""
    try:
        header = read_raw_header(path, fd)
    except ViewerError as exc:
        if exc.reason == "not a DICOM file":
            return "skip", exc.reason
        return "problem", Problem.from_error(exc)
    verdict = classify(header, path)
    if verdict.kind == IMAGE:
        return "image", header
    if verdict.kind == NOT_AN_IMAGE:  # a report, a presentation state, an ECG...: listed with its kind
        return "object", header
    if verdict.kind in PASSED_OVER:
        return "skip", verdict.reason
    return "problem", Problem(verdict.reason, path)


#: Files asked of the OS ahead of the one being read: their first pages load
#: from disk (or CD) while this one is parsed (cold folders: about 1.2x).
READ_AHEAD = 16


def _will_need(path: Path) -> int | None:
    """Tell the OS the start of `path` will be read soon (POSIX; elsewhere
    nothing); the open descriptor, which the read then uses (one open per file)."""
    if not hasattr(os, "posix_fadvise"):
        return None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # non-blocking: a fifo put there since the listing
    except OSError:
        return None
    try:
        os.posix_fadvise(fd, 0, 65536, os.POSIX_FADV_WILLNEED)
    except OSError:
        pass
    return fd


def _classify_chunk(paths: list[str]) -> list[tuple[str, str, object]]:
    """Worker-process entry point: classify a chunk of files."""
    return [(p, *_classify(Path(p))) for p in paths]


def _process_pool():
    return process_pool()


# ----------------------------------------------------------------------------- the scan


def scan(
    paths: Iterable[str | os.PathLike[str]],
    on_batch: Callable[[ScanBatch, ScanProgress], None],
    cancel: CancelToken | None = None,
    report_interval: float = 0.1,
    processes: bool | None = None,
) -> ScanProgress:
    """Index every image file at `paths`; report batches; return the final counts.

    `on_batch` is called at most once per `report_interval` seconds with what
    was found since the last call (and once at the end with ``done`` set).
    `processes`: None decides by the number of files, False never uses them.
    """
    cancel = cancel or CancelToken()
    progress = ScanProgress()
    batch = ScanBatch()
    throttle = ProgressThrottle(lambda: _flush(), report_interval)

    def _flush() -> None:
        nonlocal batch
        sent, batch = batch, ScanBatch()
        on_batch(sent, progress)

    def record(path: Path, kind: str, value) -> None:
        progress.files_seen += 1
        if kind == "image":
            progress.images_found += 1
            batch.headers.append((path, value))
        elif kind == "object":
            progress.objects_found += 1
            batch.objects.append((path, value))
        elif kind == "skip":
            progress.skipped += 1
            batch.skipped.append(Problem(value, path))
        else:
            progress.problems += 1
            batch.problems.append(value)

    files = list(iter_regular_files(paths, cancel))
    # Worker processes pay for pickling every header both ways: on two cores
    # that costs more than it gains (benchmarks/RESULTS.md), so they start at four.
    use_processes = processes if processes is not None else (len(files) >= PROCESS_THRESHOLD and (os.cpu_count() or 1) >= 4)
    with rare_garbage_collection():  # thousands of headers kept alive: nothing for it to free
        return _scan_files(files, use_processes, record, throttle, progress, cancel, report_interval)


def _scan_files(files, use_processes, record, throttle, progress, cancel, report_interval) -> ScanProgress:
    pool = _process_pool() if use_processes else None
    if pool is None:
        opened: dict[int, int] = {}  # index in `files` -> its descriptor, opened ahead
        try:
            for i, path in enumerate(files):
                if cancel.cancelled:
                    break
                if i + READ_AHEAD < len(files):
                    fd = _will_need(files[i + READ_AHEAD])
                    if fd is not None:
                        opened[i + READ_AHEAD] = fd
                fd = opened.pop(i, None)
                try:
                    record(path, *_classify(path, fd))
                finally:
                    if fd is not None:
                        os.close(fd)
                throttle()
        finally:
            for fd in opened.values():  # cancelled: those never read
                os.close(fd)
    else:
        # Here, not at the top: a scan in one thread (a few files, the viewer's
        # first image at start-up) does without multiprocessing's modules.
        from concurrent.futures.process import BrokenProcessPool

        chunks = [[str(p) for p in files[i : i + CHUNK]] for i in range(0, len(files), CHUNK)]
        pending: set[Future] = set()
        future_chunks: dict[Future, list[str]] = {}
        next_chunk = 0
        in_flight = (os.cpu_count() or 2) * 3  # bounded, so Cancel is quick
        while (next_chunk < len(chunks) or pending) and not cancel.cancelled:
            while next_chunk < len(chunks) and len(pending) < in_flight:
                chunk = chunks[next_chunk]
                try:
                    future = pool.submit(_classify_chunk, chunk)
                except (BrokenProcessPool, RuntimeError):
                    pool = _process_pool() or pool
                    future = Future()
                    future.set_exception(BrokenProcessPool("pool unusable"))
                future_chunks[future] = chunk
                pending.add(future)
                next_chunk += 1
            done, pending = wait(pending, timeout=report_interval, return_when=FIRST_COMPLETED)
            for future in done:
                try:
                    results = future.result()
                except BrokenProcessPool:
                    # A worker died (killed, out of memory): finish in this thread.
                    discard_pool()
                    results = _classify_chunk(future_chunks[future])
                for p, kind, value in results:
                    record(Path(p), kind, value)
            throttle()
        for future in pending:
            future.cancel()
    progress.cancelled = cancel.cancelled
    progress.done = True
    throttle(final=True)
    return progress


def headers_to_instances(images: list[tuple[Path, Dataset | RawHeader]]):
    """Instances for the model from scanned (path, header) pairs."""
    from viewer.core.media.model import Instance

    return [
        Instance(path, header, number_of_frames(header), warning=getattr(header, "preamble_warning", "") or "") for path, header in images
    ]
