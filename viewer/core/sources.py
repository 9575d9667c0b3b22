"""Opening what a user points at: files, folders, DICOMDIR media.

:func:`open_sources` decides, per path, how to read it: a DICOMDIR (or a
media root holding one, whatever its case) is read from its records without
opening the images; folders are scanned (headers only); files named
explicitly are read, and a file that is not a DICOM image gets a problem
line rather than being skipped silently.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from viewer.core.dicomdir import find_dicomdir, read_dicomdir
from viewer.core.io import ViewerError, sop_class_name
from viewer.core.model import Catalog, Instance, Series
from viewer.core.pixels.decoders import number_of_frames
from viewer.core.scan import MEDIA_DIRECTORY_SOP_CLASS, ScanBatch, ScanProgress, _media_storage_class, is_image_storage, scan
from viewer.core.tasks import CancelToken, rare_garbage_collection
from viewer.core.header import read_index_header

#: on_batch(instances, problems, progress)
BatchListener = Callable[[list[Instance], list[str], ScanProgress], None]


def _explicit_file(path: Path) -> tuple[list[Instance], list[str]]:
    # Only regular files are read, as in a folder scan: opening a fifo blocks
    # until a writer appears (for ever, in the GUI's worker), a device may never end.
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # the reader below says what is wrong ("no such file", ...)
    if mode is not None and not stat.S_ISREG(mode):
        return [], [str(ViewerError("is not a regular file (a fifo, socket or device), not opened", path))]
    try:
        header = read_index_header(path)
    except ViewerError as exc:
        return [], [str(exc)]
    # From the raw bytes, as the folder scan does: a damaged (0002,0002) VR made
    # pydicom's conversion raise NotImplementedError here (tests/robustness).
    sop_class = _media_storage_class(header)
    if sop_class == MEDIA_DIRECTORY_SOP_CLASS:
        return [], [f"{path.name}: is a DICOMDIR but could not be read as one"]
    if "Rows" not in header or "Columns" not in header:
        if is_image_storage(header):
            return [], [f"{path.name}: the file ends before its image attributes (truncated?)"]
        return [], [f"{path.name}: has no image to show (it is {sop_class_name(header)})"]
    from viewer.core.io import executable_preamble

    return [Instance(path, header, number_of_frames(header), warning=executable_preamble(path) or "")], []


def open_sources(
    paths: Iterable[str | os.PathLike[str]],
    on_batch: BatchListener,
    cancel: CancelToken | None = None,
    report_interval: float = 0.1,
) -> ScanProgress:
    """Read every path's headers and hand instances to `on_batch` as they come."""
    with rare_garbage_collection():
        return _open_sources(paths, on_batch, cancel or CancelToken(), report_interval)


def _open_sources(paths, on_batch: BatchListener, cancel: CancelToken, report_interval: float) -> ScanProgress:
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
                on_batch([], [str(exc)], total)
                if path.is_dir():
                    folders.append(path)  # unreadable DICOMDIR: scan the folder instead
                continue
            instances = [
                Instance(image.path, image.header, number_of_frames(image.header), image.problem)
                for image in media.images
            ]
            total.files_seen += len(instances)
            total.images_found += sum(1 for i in instances if i.available)
            total.problems += len(media.problems)
            on_batch(instances, media.problems, total)
        elif path.is_dir():
            folders.append(path)
        else:
            instances, problems = _explicit_file(path)
            total.files_seen += 1
            total.images_found += len(instances)
            total.problems += len(problems)
            on_batch(instances, problems, total)
    if folders and not cancel.cancelled:
        base = ScanProgress(**vars(total))

        def forward(batch: ScanBatch, progress: ScanProgress) -> None:
            for name in ("files_seen", "images_found", "skipped", "problems"):
                setattr(total, name, getattr(base, name) + getattr(progress, name))
            instances = [Instance(p, h, number_of_frames(h), warning=getattr(h, "preamble_warning", "") or "") for p, h in batch.images]
            on_batch(instances, batch.problems, total)

        scan(folders, forward, cancel, report_interval)
    total.cancelled = cancel.cancelled
    total.done = True
    return total


@dataclass
class OpenResult:
    """Everything found at some paths, at once (for scripts and tests)."""

    catalog: Catalog
    problems: list[str] = field(default_factory=list)
    progress: ScanProgress = field(default_factory=ScanProgress)

    @property
    def series(self) -> list[Series]:
        return self.catalog.all_series()


def open_paths(paths: Iterable[str | os.PathLike[str]], cancel: CancelToken | None = None) -> OpenResult:
    """:func:`open_sources` collected into one :class:`Catalog`."""
    result = OpenResult(Catalog())

    def collect(instances: list[Instance], problems: list[str], progress: ScanProgress) -> None:
        result.catalog.add(instances)
        result.problems.extend(problems)

    result.progress = open_sources(paths, collect, cancel)
    for series in result.catalog.all_series():
        series.sort()
    return result
