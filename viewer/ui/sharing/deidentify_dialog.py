"""File > De-identify...: de-identified copies of what the user chose, into a folder (issue #17).

The dialog offers the PS3.15 E.3 options as check boxes, the output folder and an optional key file, lists
the chosen images whose pixels may show identifying text (read in the background before anything is
written) with the option to black out rectangles in them, and runs the copy in a worker with progress and
Cancel. All DICOM knowledge is in :mod:`viewer.core.deidentify`; this module only adapts it to widgets.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from viewer.ui.window.window_menus import add_to_file_menu

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.workers import BackgroundRunner

MENU_TEXT = "De-&identify..."


def install(window: MainWindow) -> QAction:
    """ "De-identify..." in the File menu (with Export, Send to, Write media) and in the browser's right-click menu."""
    action = window._action(MENU_TEXT, lambda: open_dialog(window))
    add_to_file_menu(window, action)
    if getattr(window, "browser", None) is not None:
        window.browser.add_selection_action(action)
    return action


def open_dialog(window: MainWindow) -> DeidentifyDialog:
    from viewer.ui.browsing.selection import chosen_instances

    paths = [Path(i.path) for i in chosen_instances(window)]
    dialog = DeidentifyDialog(paths, window.runner, window)
    window.deidentify_dialog = dialog
    dialog.show()
    return dialog


def parse_rectangles(text: str) -> list:
    """'X Y W H; X Y W H' -> rectangles (ValueError with a readable message)."""
    from viewer.core.deidentify.burned_in import Rectangle

    rectangles = []
    for part in text.replace(",", " ").split(";"):
        numbers = part.split()
        if not numbers:
            continue
        if len(numbers) != 4 or not all(n.isdigit() for n in numbers):
            raise ValueError(f"'{part.strip()}' is not four whole numbers X Y W H")
        rectangles.append(Rectangle(*map(int, numbers)))
    return rectangles


class DeidentifyDialog(QDialog):
    """Options, output folder, burned-in warnings, then progress; the work runs on the window's runner."""

    def __init__(self, paths: list[Path], runner: BackgroundRunner, parent: QWidget | None = None):
        super().__init__(parent)
        from viewer.core.deidentify.options import OPTION_LABELS
        from viewer.core.runtime.wording import count

        self.setWindowTitle("De-identify")
        self.paths = paths
        self.runner = runner
        self.token = None
        self.result = None
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"{count(len(paths), 'file')} chosen. Copies follow the PS3.15 Basic Application Level Confidentiality Profile; the files themselves are not changed."
            )
        )
        self.option_boxes: dict[str, QCheckBox] = {}
        for name, label in OPTION_LABELS.items():
            box = QCheckBox(label)
            self.option_boxes[name] = box
            layout.addWidget(box)
        self.option_boxes["retain_modified_dates"].toggled.connect(
            lambda on: on and self.option_boxes["retain_full_dates"].setChecked(False)
        )
        self.option_boxes["retain_full_dates"].toggled.connect(
            lambda on: on and self.option_boxes["retain_modified_dates"].setChecked(False)
        )
        form = QFormLayout()
        self.shift = QSpinBox()
        self.shift.setRange(-36500, 36500)
        self.shift.setSpecialValueText("each patient by their own amount")
        self.shift.setValue(0)
        form.addRow("Shift dates by (days):", self.shift)
        self.output = QLineEdit()
        form.addRow("Output folder:", self._with_browse(self.output, self._choose_output))
        self.key = QLineEdit()
        self.key.setPlaceholderText("optional: the same UIDs as in earlier runs")
        form.addRow("Key file:", self._with_browse(self.key, self._choose_key))
        layout.addLayout(form)
        self.burned_label = QLabel("Looking for images with burned-in text...")
        layout.addWidget(self.burned_label)
        self.burned_list = QListWidget()
        self.burned_list.setMaximumHeight(120)
        layout.addWidget(self.burned_list)
        self.blackout = QCheckBox("Black out these rectangles in the listed images (X Y W H; ...):")
        self.rectangles = QLineEdit()
        self.rectangles.setPlaceholderText("0 0 640 40")
        layout.addWidget(self.blackout)
        layout.addWidget(self.rectangles)
        self.progress = QProgressBar()
        self.progress.setRange(0, max(1, len(paths)))
        self.progress.setValue(0)
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("De-identify", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.close)
        self.cancel_button.setEnabled(False)
        self.start_button.setEnabled(bool(paths))
        layout.addWidget(self.buttons)
        if not paths:
            self.status.setText("Nothing is chosen: choose patients, studies or series in the browser first.")
        self._find_burned_in()

    def _with_browse(self, edit: QLineEdit, choose) -> QWidget:
        row = QWidget()
        box = QHBoxLayout(row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(edit)
        button = QPushButton("Browse...")
        button.clicked.connect(choose)
        box.addWidget(button)
        return row

    def _choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder for the de-identified copies")
        if folder:
            self.output.setText(folder)

    def _choose_key(self) -> None:
        name, _ = QFileDialog.getSaveFileName(
            self, "Key file", "", "Key (*.json);;All files (*)", options=QFileDialog.Option.DontConfirmOverwrite
        )
        if name:
            self.key.setText(name)

    # ---------------------------------------------------------------- before: which images need a look

    def _find_burned_in(self) -> None:
        paths = list(self.paths)

        def task():
            from viewer.core.deidentify.burned_in import burned_in_reason
            from viewer.core.dicom.io import ViewerError, read_header

            found = []
            for path in paths:
                try:
                    reason = burned_in_reason(read_header(path), header_only=True)
                except ViewerError:
                    continue
                if reason:
                    found.append((path, reason))
            return found

        self.runner.submit("deidentify-burned-in", task, self._show_burned_in)

    def _show_burned_in(self, found) -> None:
        from viewer.core.runtime.wording import count

        self.burned_list.clear()
        for path, reason in found:
            self.burned_list.addItem(f"{path.name}: {reason}")
        if found:
            self.burned_label.setText(
                f"{count(len(found), 'image')} may show identifying text burned into the pixels: check them, or black out rectangles."
            )
        else:
            self.burned_label.setText("No image is marked as, or usually has, text burned into its pixels.")

    # ---------------------------------------------------------------- the run

    def options(self):
        from viewer.core.deidentify.options import DeidentifyOptions

        chosen = {name: box.isChecked() for name, box in self.option_boxes.items()}
        shift = self.shift.value() if chosen["retain_modified_dates"] and self.shift.value() != 0 else None
        return DeidentifyOptions(shift_days=shift, **chosen)

    def start(self) -> None:
        from viewer.core.deidentify.folder import deidentify_files
        from viewer.core.deidentify.key import DeidentificationKey
        from viewer.core.dicom.io import ViewerError
        from viewer.core.runtime.tasks import CancelToken

        if not self.output.text().strip():
            self.status.setText("Choose the output folder first.")
            return
        try:
            rectangles = parse_rectangles(self.rectangles.text()) if self.blackout.isChecked() else []
            key_path = self.key.text().strip()
            key = DeidentificationKey.load_or_create(key_path) if key_path else DeidentificationKey()
        except (ValueError, ViewerError) as exc:
            self.status.setText(str(exc))
            return
        options, output, paths = self.options(), self.output.text().strip(), list(self.paths)
        self.token = token = CancelToken()
        runner = self.runner

        def progress(done: int, total: int) -> None:
            runner.post(self._progress, (done, total))

        def task():
            result = deidentify_files(paths, output, options, key, rectangles, cancel=token, progress=progress)
            if key_path:
                key.save(key_path)
            return result

        self.start_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("De-identifying...")
        runner.submit("deidentify", task, self._finished, self._failed)

    def _progress(self, payload) -> None:
        done, total = payload
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()
            self.status.setText("Cancelling after the files in hand...")

    def _finished(self, result) -> None:
        from viewer.core.runtime.wording import count

        self.result = result
        self.cancel_button.setEnabled(False)
        self.start_button.setEnabled(True)
        text = f"{count(len(result.written), 'file')} written to {self.output.text().strip()}"
        if result.blacked_out:
            text += f"; {count(result.blacked_out, 'image')} blacked out"
        if result.cancelled:
            text += " (cancelled)"
        if result.problems:
            text += f". {count(len(result.problems), 'file')} could not be copied: " + "; ".join(result.problems[:5])
        self.status.setText(text + ".")

    def _failed(self, error: BaseException) -> None:
        self.cancel_button.setEnabled(False)
        self.start_button.setEnabled(True)
        self.status.setText(f"De-identification failed: {error}")
