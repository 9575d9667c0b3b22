"""File > Send to...: C-STORE what the user chose to a saved node, with patient reconciliation, progress and a summary.

Acts on :func:`viewer.ui.browsing.selection.chosen_instances` (the browser's chosen
patients, studies or series, else the series shown). The send runs on the
window's background runner (:func:`viewer.core.net.send.send`); its progress
comes back to the GUI thread one instance at a time. The dialog keeps the
result: a table of every instance's fate with its status code, "Retry
failures" (the instances not stored, sent again with the same node and
reconciliation), and the association log.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from viewer.core.deidentify.deidentifier import Deidentifier
from viewer.core.dicom.io import ViewerError
from viewer.core.media.model import Instance, patient_key, text
from viewer.core.net.association import AssociationLog
from viewer.core.net.nodes import LocalAE, Node, load_network_settings, parse_node
from viewer.core.net.outgoing import uid_name
from viewer.core.net.reconcile import PatientFields, reconciler, scope_problem
from viewer.core.net.send import InstanceFate, SendProgress, SendResult, chained, send
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count
from viewer.ui.window.window_menus import add_to_file_menu

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow

#: The patient fields a user may reconcile: (PatientFields attribute, DICOM keyword, label).
FIELDS = (
    ("patient_id", "PatientID", "Patient ID"),
    ("issuer", "IssuerOfPatientID", "Issuer of Patient ID"),
    ("patient_name", "PatientName", "Patient's Name"),
    ("accession", "AccessionNumber", "Accession Number"),
)
COLUMNS = ("File", "Fate", "Status", "Details", "SOP Instance UID")


class SendDialog(QDialog):
    """Choose a node, optionally reconcile the patient, send; then the summary, Retry failures, the log."""

    def __init__(self, runner, instances: list[Instance], nodes: list[Node], local: LocalAE, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Send to")
        self.runner = runner
        self.instances = instances
        self.nodes, self.local = nodes, local
        self.log = AssociationLog()
        self.cancel_token = CancelToken()
        self.result: SendResult | None = None
        self.running = False
        self.finished_runs = 0  # how many sends have ended (tests wait on it)
        self._rows: dict[str, int] = {}
        self._node: Node | None = None
        self._prepare = None
        self._shown_lines = 0

        studies = {i.study_uid for i in instances}
        self.what = QLabel(f"{count(len(instances), 'instance')} of {count(len(studies), 'study')}")
        self.node_box = QComboBox()
        self.node_box.setEditable(True)  # a saved node's name, or AET@HOST:PORT typed in
        self.node_box.addItems([n.name for n in nodes])
        self.node_box.lineEdit().setPlaceholderText("a saved node, or AET@HOST:PORT")
        if not nodes:
            self.node_box.setToolTip("No node saved yet: add one in the Remote (PACS) panel, or type AET@HOST:PORT")

        self.reconcile_box = QGroupBox("Reconcile the patient before sending (the copies sent change; the files never do)")
        self.reconcile_box.setCheckable(True)
        self.reconcile_box.setChecked(False)
        form = QFormLayout(self.reconcile_box)
        header = instances[0].header if instances else None
        self.field_edits: dict[str, QLineEdit] = {}
        for name, keyword, label in FIELDS:
            edit = QLineEdit(text(header, keyword) if header is not None else "")
            self.field_edits[name] = edit
            form.addRow(label, edit)
        patients = {patient_key(i.header) for i in instances}
        self.scope = (len(studies), len(patients))
        self.reconcilable = len(patients) == 1  # the new identifiers are one patient's
        if not self.reconcilable:
            self.reconcile_box.setEnabled(False)
            self.reconcile_box.setTitle(f"Reconcile the patient: the instances belong to {len(patients)} patients; choose one")
        elif len(studies) > 1:  # an accession number is one study's
            self.field_edits["accession"].setEnabled(False)
            self.field_edits["accession"].setToolTip(f"An Accession Number is one study's; these are {len(studies)} studies")

        self.deidentify_box = QCheckBox(
            "De-identify before sending (PS3.15 Basic Profile: new UIDs, the patient as a pseudonym; the files never change)"
        )
        self.deidentify_box.setToolTip(
            "The copies sent are de-identified as File > De-identify does with no option chosen; "
            "a reconciliation above then sets the receiving site's patient on them"
        )

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, max(1, len(instances)))
        self.progress_bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.horizontalHeader().setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setVisible(False)

        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.retry_button = QPushButton("Retry failures")
        self.retry_button.setEnabled(False)
        self.retry_button.clicked.connect(self.retry_failures)
        self.log_button = QPushButton("Association log")
        self.log_button.setCheckable(True)
        self.log_button.toggled.connect(self._show_log)
        close = QPushButton("Close")
        close.setToolTip("Closing cancels a send still running")
        close.clicked.connect(self.close)

        top = QFormLayout()
        top.addRow("Send", self.what)
        top.addRow("To", self.node_box)
        buttons = QHBoxLayout()
        for button in (self.send_button, self.cancel_button, self.retry_button, self.log_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.reconcile_box)
        layout.addWidget(self.deidentify_box)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.log_view, 1)
        layout.addLayout(buttons)
        self.resize(900, 720)

    # -- sending

    def chosen_node(self) -> Node:
        """The node chosen or typed (raises ViewerError saying what is wrong)."""
        return parse_node(self.node_box.currentText().strip(), self.nodes)

    def patient_fields(self) -> PatientFields | None:
        """The reconciliation asked for: only the fields the user changed, or None."""
        if not (self.reconcile_box.isEnabled() and self.reconcile_box.isChecked()):
            return None
        header = self.instances[0].header if self.instances else None
        changed = {}
        for name, keyword, _ in FIELDS:
            if not self.field_edits[name].isEnabled():
                continue
            value = self.field_edits[name].text().strip()
            if header is None or value != text(header, keyword):
                changed[name] = value
        return PatientFields(**changed) if changed else None

    def start(self) -> None:
        """Send every chosen instance (the button Send)."""
        if self.running or not self.instances:
            return
        try:
            self._node = self.chosen_node()
            fields = self.patient_fields()
            if fields and (problem := scope_problem(fields, *self.scope)):
                raise ViewerError(problem)
            # One de-identifier for the run: a retry of the failures gives them the same new UIDs.
            deidentify = Deidentifier() if self.deidentify_box.isChecked() else None
            self._prepare = chained(deidentify, reconciler(fields) if fields else None)
        except ViewerError as exc:
            self.status.setText(str(exc))
            return
        self.table.setRowCount(0)
        self._rows.clear()
        self._run([str(i.path) for i in self.instances])

    def retry_failures(self) -> None:
        """Send again the instances not stored, to the same node with the same reconciliation."""
        if self.running or self.result is None or self._node is None:
            return
        failures = self.result.failures()
        if failures:
            self._run(failures)

    def _run(self, files: list[str]) -> None:
        self.running = True
        self.cancel_token = cancel = CancelToken()
        node, local, prepare, log = self._node, self.local, self._prepare, self.log
        self.progress_bar.setRange(0, len(files))
        self.progress_bar.setValue(0)
        self.status.setText(f"Sending {count(len(files), 'instance')} to {node.address}...")
        for button, enabled in ((self.send_button, False), (self.retry_button, False), (self.cancel_button, True)):
            button.setEnabled(enabled)
        self.node_box.setEnabled(False)
        self.reconcile_box.setEnabled(False)
        self.deidentify_box.setEnabled(False)

        def progress(report: SendProgress) -> None:  # on the worker thread: only post
            self.runner.post(self._progress, SendProgress(report.done, report.total, replace(report.last)))

        self.runner.submit(
            f"send-{id(self)}",
            lambda: send(node, local, files, prepare=prepare, progress=progress, cancel=cancel, log=log),
            lambda result: self._done(result, files),
            self._failed,
        )

    def cancel(self) -> None:
        self.cancel_token.cancel()
        self.status.setText("Cancelling: the instance being sent may finish...")

    def _progress(self, report: SendProgress) -> None:
        self.progress_bar.setRange(0, report.total)
        self.progress_bar.setValue(report.done)
        self._show_fate(report.last)
        self.status.setText(f"{report.done} of {report.total}: {report.last.fate}, {report.last.path}")
        self._refresh_log()

    def _done(self, result: SendResult, files: list[str]) -> None:
        previous = {f.path: f for f in self.result.fates} if self.result is not None else {}
        previous.update({f.path: f for f in result.fates})  # a retry's fates replace the earlier ones
        merged = SendResult([previous[p] for p in dict.fromkeys([*previous])], result.associations_lost, result.cancelled, result.seconds)
        self.result = merged
        # The table again, what was not stored first: those are what the user has to act on.
        self.table.setRowCount(0)
        self._rows.clear()
        for fate in sorted(merged.fates, key=lambda f: f.stored):
            self._show_fate(fate)
        self._finish(("Cancelled. " if result.cancelled else "") + f"{merged.summary()} ({self._node.address}).")

    def _failed(self, error: BaseException) -> None:
        message = str(error) if isinstance(error, ViewerError) else f"{type(error).__name__}: {error}"
        self._finish(f"The send stopped: {message}")

    def _finish(self, message: str) -> None:
        self.running = False
        self.finished_runs += 1
        self.status.setText(message)
        self.cancel_button.setEnabled(False)
        self.send_button.setEnabled(True)
        self.node_box.setEnabled(True)
        self.reconcile_box.setEnabled(self.reconcilable)
        self.deidentify_box.setEnabled(True)
        self.retry_button.setEnabled(self.result is not None and bool(self.result.failures()))
        self._refresh_log()

    def _show_fate(self, fate: InstanceFate) -> None:
        row = self._rows.get(fate.path)
        if row is None:
            row = self._rows[fate.path] = self.table.rowCount()
            self.table.insertRow(row)
        status = "" if fate.status is None else f"0x{fate.status:04X}"
        details = fate.reason
        if fate.transcoded:
            details = f"sent as {uid_name(fate.sent_syntax)} (stored as {uid_name(fate.stored_syntax)})" + (
                f"; {details}" if details else ""
            )
        cells = ((Path(fate.path).name, fate.path), (fate.fate, None), (status, None), (details, None), (fate.sop_instance_uid, None))
        for column, (value, tip) in enumerate(cells):
            item = QTableWidgetItem(value)
            item.setToolTip(tip or value)  # the file's whole path, the whole reason
            self.table.setItem(row, column, item)

    def closeEvent(self, event) -> None:
        """Closing the dialog cancels a send still running: no transfer goes on where nobody sees its fate."""
        if self.running:
            self.cancel()
        super().closeEvent(event)

    # -- the association log

    def _show_log(self, shown: bool) -> None:
        self.log_view.setVisible(shown)
        self._shown_lines = 0
        self.log_view.clear()
        self._refresh_log()

    def _refresh_log(self) -> None:
        if not self.log_view.isVisible():
            return
        lines = list(self.log.lines)
        if self._shown_lines > len(lines):  # the log dropped its oldest lines: show it again whole
            self.log_view.clear()
            self._shown_lines = 0
        for line in lines[self._shown_lines :]:
            self.log_view.appendPlainText(line)
        self._shown_lines = len(lines)


def open_send_dialog(window: MainWindow) -> SendDialog | None:
    """The dialog for what the user chose, shown (not modal: viewing goes on meanwhile); None with nothing chosen."""
    from viewer.ui.browsing.selection import chosen_instances

    instances = chosen_instances(window)
    if not instances:
        window.statusBar().showMessage("Choose patients, studies or series in the browser to send them", 5000)
        return None
    nodes, local = load_network_settings()
    dialog = SendDialog(window.runner, instances, nodes, local, window)
    window.send_dialogs = [d for d in getattr(window, "send_dialogs", []) if d.running] + [dialog]
    dialog.show()
    return dialog


class _CancelSendsOnClose(QObject):
    """The window closing cancels the sends still running (the runner waits for its tasks: it would hold the window open)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched, event) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            for dialog in getattr(self.window, "send_dialogs", []):
                dialog.cancel_token.cancel()
        return False


def install(window: MainWindow) -> QAction:
    """File > Send to..., and the same in the browser's right-click menu."""
    action = window._action("&Send to...", lambda: open_send_dialog(window))
    add_to_file_menu(window, action)
    window.browser.add_selection_action(action)
    window.send_action = action
    window.installEventFilter(_CancelSendsOnClose(window))
    return action
