"""Long exports on a worker thread: a progress dialog that leaves the window usable, Cancel, all or nothing.

The work runs on the window's :class:`~viewer.ui.window.workers.BackgroundRunner`; its progress and its end come
back to the GUI thread as queued calls, so the work never touches a widget.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QProgressDialog

from viewer.core.dicom.io import ViewerError
from viewer.core.export.sequence import prepare_folder, remove_written
from viewer.core.runtime.tasks import Cancelled, CancelToken, ProgressThrottle

if TYPE_CHECKING:
    from viewer.ui.sharing.export_actions import ExportController


@contextmanager
def all_or_nothing(folder: Path | None) -> Iterator[list[tuple[list[Path], Path | None]]]:
    """An export of several series is kept whole or not at all: `folder` (made when missing) holds them.

    Each finished part is appended as (its files, the folder it made or None); on
    cancel or failure they are removed again, and `folder` too if this made it.
    """
    made = prepare_folder(folder) if folder is not None else False
    kept: list[tuple[list[Path], Path | None]] = []
    try:
        yield kept
    except BaseException:
        for files, part_folder in kept:
            remove_written(files, part_folder)
        remove_written([], folder if made else None)
        raise


class ExportJob(QObject):
    """One export on a worker thread: a progress dialog that leaves the window usable, with Cancel.

    `work(cancel, progress)` runs on the window's :class:`~viewer.ui.window.workers.BackgroundRunner`
    and returns a one-line summary; ``progress(done, total)`` may be called as often as it likes.
    """

    _numbers = itertools.count()

    def __init__(self, controller: ExportController, title: str, work: Callable[[CancelToken, Callable[[int, int], None]], str]):
        super().__init__(controller)
        self.controller, self.title = controller, title
        self.cancel = CancelToken()
        self.done = False
        self.result: str | None = None
        self.error: str | None = None
        window = controller.window
        self.dialog = QProgressDialog(title, "Cancel", 0, 0, window)
        self.dialog.setWindowTitle("Export")
        self.dialog.setWindowModality(Qt.WindowModality.NonModal)  # the window stays usable meanwhile
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.setMinimumDuration(0)
        self.dialog.canceled.connect(self.cancel.cancel)
        throttle = ProgressThrottle(lambda done, total: window.runner.post(self._progress, (done, total)))
        window.runner.submit(f"export-{next(self._numbers)}", lambda: work(self.cancel, throttle), self._finished, self._failed)
        self.dialog.show()

    def _progress(self, numbers: tuple[int, int]) -> None:
        if self.done:
            return
        done, total = numbers
        self.dialog.setMaximum(total)
        self.dialog.setValue(done)
        self.dialog.setLabelText(f"{self.title}\n{done} of {total}")

    def _finished(self, summary: str) -> None:
        self.result = summary
        self._end()
        self.controller.say(summary)

    def _failed(self, error: BaseException) -> None:
        self._end()
        if isinstance(error, Cancelled):
            self.error = "cancelled: nothing was kept"
            self.controller.say(f"{self.title}: {self.error}")
            return
        self.error = str(error) if isinstance(error, ViewerError) else f"{error.__class__.__name__}: {error}"
        self.controller.fail(f"{self.title}: {self.error}")

    def _end(self) -> None:
        self.done = True
        self.dialog.canceled.disconnect(self.cancel.cancel)
        self.dialog.close()
        self.dialog.deleteLater()
        self.controller.jobs.remove(self)
        self.controller.job_ended(self)
