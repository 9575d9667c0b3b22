"""Opening: what the user asks to open, what is shown as it arrives, thumbnails.

The scan itself runs in :class:`~viewer.ui.browsing.loader.OpenController`; here its
batches become browser rows and thumbnails, and the first series found (or
the file the user named) is shown in the active viewport at once, unless
the user picks a series first. A file named directly that holds an object
without images (a PDF, an ECG...) is announced by ``named_object_found`` as
soon as the scan has put it in the catalog: nothing is read on the GUI thread
to find out what a named file is, the scan says it (``Instance.kind``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QStatusBar

from viewer.core.dicom.sop_classes import SHOWN_AS_IMAGES
from viewer.core.display.thumbnails import series_thumbnail
from viewer.core.media.model import ImageRef, Instance, Series
from viewer.core.media.scan import ScanProgress
from viewer.core.runtime.wording import count
from viewer.ui.browsing.browser import StudyBrowser
from viewer.ui.browsing.loader import OpenController
from viewer.ui.documents.problems_dock import ProblemsDock
from viewer.ui.viewport.viewport_layout import ViewportLayout


def named_files(paths: list[str]) -> set[str]:
    """The real paths (as ``Path.resolve`` gives them) of the files among `paths`, the folders left out.

    Looked up, not read: a stat per path, and each folder resolved once, not
    each file's every folder (a thousand files dropped from one folder).
    """
    real_folders: dict[str, str] = {}
    found = set()
    for path in paths:
        if not os.path.isfile(path):
            continue
        if os.path.islink(path):
            found.add(os.path.realpath(path))
            continue
        folder, name = os.path.split(path)
        real = real_folders.get(folder)
        if real is None:
            real = real_folders[folder] = os.path.realpath(folder)
        found.add(os.path.join(real, name))
    return found


class Opening(QObject):
    """Signals: ``opened()`` when an open (scan, media, files) has finished; ``named_object_found(Series, Instance)``
    once for each file named directly (not found in a folder) that holds no image to show, as soon as it is in the
    catalog (at the latest when the open ends, before ``opened``: a file the catalog held already)."""

    opened = Signal()
    named_object_found = Signal(object, object)

    def __init__(
        self, opener: OpenController, browser: StudyBrowser, viewports: ViewportLayout, status_bar: QStatusBar, problems: ProblemsDock
    ):
        super().__init__(opener)
        self.opener, self.browser, self.viewports, self.status_bar, self.problems = opener, browser, viewports, status_bar, problems
        self._show_first_found = False
        self._requested_files: set[str] = set()
        #: The files named directly, by name then real path, whose object is not yet announced.
        self._named_files: dict[str, set[str]] = {}
        self._thumbnails_requested: set[str] = set()
        self._thumbnails_waiting: dict[str, Series] = {}
        # The series shown at once and the image asked for, until the open ends: then the rest of its
        # study is hung in the other viewports by `hang_study` (viewer.ui.viewport.layouts), unless the user picked another.
        self._hang_from: tuple[Series, ImageRef | None] | None = None
        self.hang_study: Callable[[Series, ImageRef | None], None] | None = None
        viewports.viewport_added.connect(lambda viewport: viewport.series_shown.connect(self._picked))
        opener.series_changed.connect(self._series_changed)
        opener.finished.connect(self._finished)
        for viewport in viewports:
            viewport.series_shown.connect(self._picked)

    def open(self, paths: list[str | Path]) -> None:
        """Read the headers at `paths` in the background; the browser fills as they come.

        The first series found is shown at once, unless the user picks one first.
        """
        paths = [str(p) for p in paths]
        self.status_bar.showMessage(f"Reading {count(len(paths), 'location')}...")
        self._show_first_found = True
        # A file named explicitly is the image the user wants to see first, or an object to open in its own window.
        self._requested_files = named_files(paths)
        self._named_files = {}
        for real in self._requested_files:
            self._named_files.setdefault(os.path.basename(real), set()).add(real)
        self._hang_from = None
        self.opener.open(paths)

    def close_all(self) -> None:
        self._named_files = {}
        self.opener.clear()
        self.browser.clear()
        self._thumbnails_requested.clear()
        for viewport in self.viewports:
            viewport.clear()

    def _picked(self, series: Series) -> None:
        """A series is shown (the user's pick, or the first found): no other replaces it."""
        if self._hang_from is not None and series is not self._hang_from[0]:
            self._hang_from = None  # the user's pick: nothing is hung around it
        self._show_first_found = False
        self._requested_files = set()

    def _series_changed(self, changed: list[Series]) -> None:
        self.browser.update_series(self.opener.catalog, changed)
        # Series of objects only (a few files each): a named object in a series of images is found when the open ends.
        self._announce_named_objects(s for s in changed if not s.shows_images)
        for series in changed:
            self._request_thumbnail(series)
        first = next((s for s in changed if s.image_count), None) if self._show_first_found else None
        if first is not None:
            wanted = self._requested_image(changed)
            if wanted is not None:
                first = next(s for s in changed if wanted.instance in s.instances)
            self._hang_from = (first, wanted)
            top_left = self.viewports.viewports[0]  # where the study is hung when the open ends
            self.viewports.set_active(top_left)
            top_left.show_series(first, wanted)
            return
        for viewport in self.viewports:
            if viewport.current_series is not None and viewport.current_series in changed:
                viewport.refresh_images()

    def frames_found(self, instance: Instance, frames: int) -> None:
        """A file holds another number of frames than its record said: its series, and whoever shows it, learn it."""
        series = self.opener.catalog.series_of(instance)
        if series is not None and series.frames_found(instance, frames):
            for viewport in self.viewports:
                if viewport.current_series is series:
                    viewport.refresh_images()

    def _requested_image(self, changed: list[Series]) -> ImageRef | None:
        if not self._requested_files:
            return None
        # By name first: resolving the path of each of 5,000 images costs 0.2 s.
        names = {Path(p).name for p in self._requested_files}
        return next(
            (
                ref
                for s in changed
                for ref in s.images
                if ref.instance.path is not None
                and ref.instance.path.name in names
                and str(ref.instance.path.resolve()) in self._requested_files
            ),
            None,
        )

    def _announce_named_objects(self, series: Iterable[Series]) -> None:
        """Emit ``named_object_found`` for each object without images in `series` whose file was named directly (once)."""
        if not self._named_files:
            return
        for each in series:
            for instance in each.instances:
                if instance.kind in SHOWN_AS_IMAGES or instance.file_name not in self._named_files:
                    continue  # by name first: resolving a path costs a system call
                real, same_name = str(instance.path.resolve()), self._named_files[instance.file_name]
                if real in same_name:
                    same_name.discard(real)
                    if not same_name:
                        del self._named_files[instance.file_name]
                    self.named_object_found.emit(each, instance)
                    if not self._named_files:
                        return

    def _finished(self, progress: ScanProgress) -> None:
        catalog = self.opener.catalog
        # What is left: objects in series of images, and files the catalog held already (listed once).
        self._announce_named_objects(catalog.all_series())
        self._named_files = {}
        self.status_bar.showMessage(
            f"{count(len(catalog.series), 'series')}, {count(progress.images_found, 'image file')}"
            + (f", {count(progress.skipped, 'other file')} skipped" if progress.skipped else "")
            + (" (cancelled)" if progress.cancelled else ""),
            8000,
        )
        viewport = self.viewports.active
        if viewport.current_series is None:
            if self.problems.problems and not catalog.series:
                viewport.pane.show_message(self.problems.problems[-1])
            elif not catalog.series:
                viewport.pane.show_message("No DICOM images found there.")
        waiting, self._thumbnails_waiting = self._thumbnails_waiting, {}
        for series in waiting.values():
            self._request_thumbnail(series)
        hang_from, self._hang_from = self._hang_from, None
        if hang_from is not None and self.hang_study is not None and not progress.cancelled:
            self.hang_study(*hang_from)
        self.opened.emit()

    def _request_thumbnail(self, series: Series) -> None:
        if series.uid in self._thumbnails_requested or not series.image_count:
            return
        if self.opener.busy:
            # Not while the scan runs: decoding thumbnails would compete with it.
            self._thumbnails_waiting[series.uid] = series
            return
        self._thumbnails_requested.add(series.uid)
        self.opener.runner.submit(
            f"thumbnail:{series.uid}",
            lambda: series_thumbnail(series),
            lambda pixels: self.browser.set_thumbnail(series, pixels),
            lambda _error: None,
        )
