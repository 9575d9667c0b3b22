"""File > Write media (CD/DVD/USB folder)...: the chosen series as a folder ready to burn or copy to a USB stick.

Acts on what the user chose (:func:`viewer.ui.browsing.selection.chosen_instances`: the browser's patients,
studies and series, else the series shown), asks for the target folder, and writes it in the background
with :func:`viewer.core.media.writer.write_media` (DICOM files with PS3.10 names and a DICOMDIR, General
Purpose CD-R profile), with a progress dialog whose Cancel leaves the folder as it was. At the end the
status bar says where and how many; files that could not be written go to the Problems dock, one line
each. A folder that already holds a DICOMDIR is only replaced after the user says so.

Offered twice: in the File menu and in the browser's right-click menu; with the de-identification
step of ``viewer.core.deidentify`` (PS3.15 Basic Profile), a de-identified variant of each.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from viewer.core.deidentify.deidentifier import Deidentifier
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count
from viewer.ui.browsing.selection import chosen_instances
from viewer.ui.window.status import say
from viewer.ui.window.window_menus import add_to_file_menu

if TYPE_CHECKING:
    from viewer.core.media.writer import MediaResult
    from viewer.ui.window.main_window import MainWindow

WRITE_TEXT = "Write &media (CD/DVD/USB folder)..."
WRITE_DEIDENTIFIED_TEXT = "Write de-identified media (CD/DVD/USB folder)..."


class MediaWriter:
    """Writes the chosen instances as media; one run at a time."""

    def __init__(self, window: MainWindow):
        self.window = window
        self.cancel_token: CancelToken | None = None
        self.progress: QProgressDialog | None = None
        self.last_result: MediaResult | None = None
        self.last_error = ""
        self.done_box: QMessageBox | None = None

    # what the user is asked (methods, so that tests answer without a modal dialog)
    def choose_target(self) -> str | None:
        return QFileDialog.getExistingDirectory(self.window, "Write media into the folder (an empty folder, or a USB stick)") or None

    def confirm_replace(self, target: Path, existing: list[str]) -> bool:
        answer = QMessageBox.question(
            self.window,
            "Write media",
            f"{target} already holds {' and '.join(existing)}.\nReplace them with the chosen studies?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @property
    def running(self) -> bool:
        return self.cancel_token is not None

    def write(self, deidentify: bool = False, target: str | None = None) -> bool:
        """Ask for a folder (unless `target`) and start writing the chosen instances there; False when
        nothing was started (nothing chosen, no folder, a folder refused: the status bar says why)."""
        from viewer.core.media.writer import check_target, existing_media

        if self.running:
            say(self.window, "Media are being written already")
            return False
        instances = chosen_instances(self.window)
        if not instances:
            say(self.window, "Write media: choose studies or series in the browser first")
            return False
        target = target or self.choose_target()
        if not target:
            return False
        # The de-identified variant: the PS3.15 Basic Profile's copies are written (viewer.core.deidentify).
        prepare = Deidentifier() if deidentify else None
        existing = existing_media(Path(target)) if Path(target).is_dir() else []
        replace = bool(existing) and self.confirm_replace(Path(target), existing)
        if existing and not replace:
            return False
        try:
            check_target(target, [i.path for i in instances], replace)
        except ViewerError as exc:
            self.last_error = str(exc)
            say(self.window, f"Write media: {exc}")
            return False
        self._start(instances, target, prepare, replace)
        return True

    def _start(self, instances, target: str, prepare, replace: bool) -> None:
        from viewer.core.media.writer import write_media

        token = self.cancel_token = CancelToken()
        progress = self.progress = QProgressDialog(
            f"Writing {count(len(instances), 'file')} to {target}...", "Cancel", 0, len(instances), self.window
        )
        progress.setWindowTitle("Write media")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(300)
        progress.canceled.connect(token.cancel)
        runner = self.window.runner

        def report(done: int, total: int) -> None:  # on the worker thread: only posts
            runner.post(lambda _: self.progress is not None and self.progress.setValue(done), None)

        def task():
            return write_media(instances, target, prepare=prepare, replace=replace, cancel=token, on_progress=report)

        runner.submit("write-media", task, self._done, self._failed)

    def _finish(self) -> None:
        if self.progress is not None:
            self.progress.reset()
            self.progress.deleteLater()
        self.progress = None
        self.cancel_token = None

    def _done(self, result: MediaResult) -> None:
        self._finish()
        self.last_result, self.last_error = result, ""
        self.window.statusBar().showMessage(result.summary())
        if result.problems:
            self.window.problems_dock.add(list(result.problems))
        if not result.cancelled:  # said where a user looks after waiting: a box that does not block the window
            text = result.summary().replace(f" written to {result.target}", " written")
            box = self.done_box = QMessageBox(
                QMessageBox.Icon.Information, "Write media", f"Written to {result.target}", parent=self.window
            )
            box.setInformativeText(text[0].upper() + text[1:] + (" (see Problems)" if result.problems else "") + ".")
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()

    def _failed(self, error: BaseException) -> None:
        self._finish()
        self.last_result = None
        self.last_error = str(error) if isinstance(error, ViewerError) else f"{type(error).__name__}: {error}"
        say(self.window, f"Write media: {self.last_error}")

    def cancel(self) -> None:
        if self.cancel_token is not None:
            self.cancel_token.cancel()


def install(window: MainWindow) -> MediaWriter:
    """File > Write media... and the same in the browser's right-click menu, each with a de-identified variant."""
    writer = MediaWriter(window)
    window.media_writer = writer
    for text, deidentify in ((WRITE_TEXT, False), (WRITE_DEIDENTIFIED_TEXT, True)):
        action = QAction(text, window)
        action.triggered.connect(lambda _checked=False, d=deidentify: writer.write(d))
        add_to_file_menu(window, action)
        window.browser.add_selection_action(action)  # one action in both menus, as Send to... and De-identify...
    return writer
