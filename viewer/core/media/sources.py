"""Opening what a user points at: files, folders, DICOMDIR media.

:func:`open_sources` decides, per path, how to read it: a DICOMDIR (or a
media root holding one, whatever its case) is read from its records without
opening the images; folders are scanned (headers only); files named
explicitly are read; objects without an image by design (reports, key
images, presentation states, ECGs, PDFs...) are listed with their kind
(:attr:`~viewer.core.media.model.Instance.kind`), and a file that is not
DICOM gets a problem line rather than being skipped silently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from viewer.core.dicom.header import number_of_frames, read_raw_header
from viewer.core.dicom.io import Problem, ViewerError
from viewer.core.dicom.sop_classes import IMAGE, MEDIA_DIRECTORY, NOT_AN_IMAGE, SHOWN_AS_IMAGES, classify, object_kind
from viewer.core.media.dicomdir import find_dicomdir, read_dicomdir
from viewer.core.media.model import Catalog, Instance, Series
from viewer.core.media.scan import ScanBatch, ScanProgress, scan
from viewer.core.runtime.tasks import CancelToken, rare_garbage_collection

#: on_batch(instances, problems, progress); problems are one-line strings
#: (:class:`~viewer.core.dicom.io.Problem`, which also carry path and reason).
BatchListener = Callable[[list[Instance], list[Problem], ScanProgress], None]
#: on_skipped(files): files of a folder passed over (not DICOM, no image, a
#: DICOMDIR), each with the reason.
SkipListener = Callable[[list[Problem]], None]


def _explicit_file(path: Path) -> tuple[list[Instance], list[Problem]]:
    # Only regular files are read, as in a folder scan: opening a fifo blocks
    # until a writer appears (for ever, in the GUI's worker), a device may never end.
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # the reader below says what is wrong ("no such file", ...)
    if mode is not None and not stat.S_ISREG(mode):
        return [], [Problem("is not a regular file (a fifo, socket or device), not opened", path)]
    try:
        header = read_raw_header(path)
    except ViewerError as exc:
        return [], [Problem.from_error(exc)]
    # The folder scan's rule; named explicitly, a file without an image is a problem, not passed over.
    verdict = classify(header, path)
    if verdict.kind == MEDIA_DIRECTORY:
        return [], [Problem("is a DICOMDIR but could not be read as one", path)]
    if verdict.kind == NOT_AN_IMAGE:  # a report, a presentation state...: listed with its kind, never dropped
        return [Instance(path, header, 0, warning=header.preamble_warning)], []
    if verdict.kind != IMAGE:
        return [], [Problem(verdict.reason, path)]
    return [Instance(path, header, number_of_frames(header), warning=header.preamble_warning)], []


def _media_instance(record) -> Instance:
    """A DICOMDIR record's instance: its record says its SOP Class, so a report or a presentation
    state is listed as one (no frames), not as an image that cannot be opened."""
    header = record.raw_header
    try:
        kind = object_kind(header.uid(0x00080016))
    except Exception:  # a damaged UID value in the record: shown as an image, as before, and its file says
        kind = object_kind("", True)
    frames = number_of_frames(header) if kind in SHOWN_AS_IMAGES else 0
    return Instance(record.path, header, frames, record.problem, kind=kind)


def open_sources(
    paths: Iterable[str | os.PathLike[str]],
    on_batch: BatchListener,
    cancel: CancelToken | None = None,
    report_interval: float = 0.1,
    on_skipped: SkipListener | None = None,
) -> ScanProgress:
    """Read every path's headers and hand instances to `on_batch` as they come.

    `on_skipped`, if given, hears of every file of a folder that was passed
    over (the window only counts them).
    """
    with rare_garbage_collection():
        return _open_sources(paths, on_batch, cancel or CancelToken(), report_interval, on_skipped)


def _open_sources(paths, on_batch: BatchListener, cancel: CancelToken, report_interval: float, on_skipped) -> ScanProgress:
    total = ScanProgress()
    folders: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if cancel.cancelled:
            break
        dicomdir = find_dicomdir(path)
        if dicomdir is not None:
            try:
                media = read_dicomdir(dicomdir)
            except ViewerError as exc:
                total.problems += 1
                on_batch([], [Problem.from_error(exc)], total)
                if path.is_dir():
                    folders.append(path)  # unreadable DICOMDIR: scan the folder instead
                continue
            instances = [_media_instance(image) for image in media.images]
            total.files_seen += len(instances)
            total.images_found += sum(1 for i in instances if i.available and i.frames)
            total.objects_found += sum(1 for i in instances if i.available and not i.frames)
            total.problems += len(media.problems)
            on_batch(instances, media.problems, total)
        elif path.is_dir():
            folders.append(path)
        else:
            instances, problems = _explicit_file(path)
            total.files_seen += 1
            total.images_found += sum(1 for i in instances if i.frames)
            total.objects_found += sum(1 for i in instances if not i.frames)
            total.problems += len(problems)
            on_batch(instances, problems, total)
    if folders and not cancel.cancelled:
        base = ScanProgress(**vars(total))

        def forward(batch: ScanBatch, progress: ScanProgress) -> None:
            for name in ("files_seen", "images_found", "skipped", "problems", "objects_found"):
                setattr(total, name, getattr(base, name) + getattr(progress, name))
            instances = [Instance(p, h, number_of_frames(h), warning=h.preamble_warning) for p, h in batch.headers]
            instances += [Instance(p, h, 0, warning=h.preamble_warning) for p, h in batch.objects]
            if on_skipped is not None and batch.skipped:
                on_skipped(batch.skipped)
            on_batch(instances, batch.problems, total)

        scan(folders, forward, cancel, report_interval)
    total.cancelled = cancel.cancelled
    total.done = True
    return total


@dataclass
class OpenResult:
    """Everything found at some paths, at once (for scripts, tests and ``dicom-viewer index``):
    the catalog, the problem lines, and the files of folders passed over."""

    catalog: Catalog
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)
    progress: ScanProgress = field(default_factory=ScanProgress)

    @property
    def series(self) -> list[Series]:
        return self.catalog.all_series()


def open_paths(paths: Iterable[str | os.PathLike[str]], cancel: CancelToken | None = None) -> OpenResult:
    """:func:`open_sources` collected into one :class:`Catalog`."""
    result = OpenResult(Catalog())

    def collect(instances: list[Instance], problems: list[Problem], progress: ScanProgress) -> None:
        result.catalog.add(instances)
        result.problems.extend(problems)

    result.progress = open_sources(paths, collect, cancel, on_skipped=result.skipped.extend)
    for series in result.catalog.all_series():
        series.sort()
    return result
