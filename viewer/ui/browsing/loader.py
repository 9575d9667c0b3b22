"""Opening locations in the background and feeding the catalog on the GUI thread.

:class:`OpenController` runs the core's :func:`~viewer.core.media.sources.open_sources`
on a worker thread; its batches come back on the GUI thread, where they are
added to the :class:`~viewer.core.media.model.Catalog` and announced by signals.
One open at a time: a new one (or Cancel) stops the previous scan.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from viewer.core.media.model import Catalog, Instance
from viewer.core.media.scan import ScanProgress
from viewer.core.media.sources import open_sources
from viewer.core.runtime.tasks import CancelToken, rare_garbage_collection
from viewer.ui.window.workers import BackgroundRunner


class OpenController(QObject):
    """Signals: series_changed(list[Series]), problems_found(list[str]),
    progress(ScanProgress), finished(ScanProgress), others_found(list[Problem]): files of a folder passed over
    (no image: presentation states, reports... with the reason), for whoever shows them."""

    series_changed = Signal(object)
    others_found = Signal(object)
    problems_found = Signal(object)
    progress = Signal(object)
    finished = Signal(object)

    def __init__(self, runner: BackgroundRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.catalog = Catalog()
        self._cancel: CancelToken | None = None
        self._generation = 0
        self.busy = False

    def open(self, paths: list[str]) -> None:
        """Read `paths` into the catalog; batches arrive as signals."""
        self.cancel()
        self._generation += 1
        generation = self._generation
        cancel = self._cancel = CancelToken()
        self.busy = True

        def on_batch(instances: list[Instance], problems: list[str], progress: ScanProgress) -> None:
            # Worker thread: only hand the batch over, never touch the catalog or widgets.
            self.runner.post(self._batch, (generation, instances, problems, replace(progress)))

        def on_skipped(others: list) -> None:
            # Worker thread too: handed over as the batches are.
            self.runner.post(self._others, (generation, list(others)))

        def task() -> ScanProgress:
            return open_sources(paths, on_batch, cancel, on_skipped=on_skipped)

        self.runner.submit("open", task, lambda result: self._done(generation, result), lambda error: self._failed(generation, error))

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def clear(self) -> None:
        self.cancel()
        self._generation += 1
        self.catalog = Catalog()
        self.busy = False

    def _batch(self, payload) -> None:
        generation, instances, problems, progress = payload
        if generation != self._generation:
            return
        with rare_garbage_collection():  # thousands of rows and series objects made at once
            changed = self.catalog.add(instances)
            if problems:
                self.problems_found.emit(problems)
            if changed:
                self.series_changed.emit(changed)
        self.progress.emit(progress)

    def _others(self, payload) -> None:
        generation, others = payload
        if generation == self._generation:
            self.others_found.emit(others)

    def _done(self, generation: int, result: ScanProgress) -> None:
        if generation != self._generation:
            return
        self.busy = False
        self.progress.emit(result)
        self.finished.emit(result)

    def _failed(self, generation: int, error: BaseException) -> None:
        if generation != self._generation:
            return
        self.busy = False
        self.problems_found.emit([f"cannot open: {error}"])
        done = ScanProgress(done=True)
        self.progress.emit(done)
        self.finished.emit(done)
