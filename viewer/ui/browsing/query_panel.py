"""The remote query panel: nodes, Test (C-ECHO), search (C-FIND), retrieve (C-GET/C-MOVE).

Every network operation runs on a worker thread through the window's
:class:`~viewer.ui.window.workers.BackgroundRunner`; results and progress come back
on the GUI thread. The panel holds no DICOM knowledge: it drives
:mod:`viewer.core.net` and shows its answers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.core.dicom.charset import CHOICES
from viewer.core.dicom.io import ViewerError
from viewer.core.display.annotations import format_date, format_person_name, format_time
from viewer.core.media.cache import default_cache_dir, series_folder
from viewer.core.media.model import text
from viewer.core.net.association import AssociationLog
from viewer.core.net.echo import echo
from viewer.core.net.find import find
from viewer.core.net.nodes import LocalAE, Node, Timeouts, check_ae_title, load_network_settings, save_network_settings
from viewer.core.net.retrieve import RetrieveProgress, retrieve, uid_values
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count


@dataclass(frozen=True)
class RemoteStudy:
    """A study row of the results: where it is, and the keys a series query and a retrieve need from its answer."""

    node_name: str
    study_uid: str
    sop_classes: list[str]
    patient_id: str


@dataclass(frozen=True)
class RemoteSeries:
    study: RemoteStudy
    series_uid: str


COLUMNS = ("Name", "Patient ID", "Birth date", "Sex", "Study date", "Accession", "Description", "Modality", "Series", "Images")
STUDY_ROLE = Qt.ItemDataRole.UserRole + 10
SERIES_ROLE = Qt.ItemDataRole.UserRole + 11
RESULT_CAP = 500


def _cell(value: str) -> QStandardItem:
    item = QStandardItem(value)
    item.setEditable(False)
    return item


def _seconds_box(value: float | None, suffix: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0, 86400)
    box.setDecimals(1)
    box.setSuffix(suffix)
    box.setSpecialValueText("never (wait for ever)")
    box.setValue(value or 0)
    return box


def _seconds(box: QDoubleSpinBox) -> float | None:
    return float(box.value()) or None


def _typed_charset(box: QComboBox) -> str:
    """The code of the listed choice shown, else the text as typed (normalised by Node)."""
    index = box.findText(box.currentText())
    return (box.itemData(index) or "") if index >= 0 else box.currentText()


def _show_charset(box: QComboBox, code: str) -> None:
    index = box.findData(code)
    if index >= 0:
        box.setCurrentIndex(index)
    else:
        box.setEditText(code)  # a codec not in the list ('euc_jp')


class NodeDialog(QDialog):
    """Add or edit a remote node (and see the local AE)."""

    def __init__(self, node: Node | None, local: LocalAE, parent=None):
        super().__init__(parent)
        self.setWindowTitle("DICOM node")
        self.name = QLineEdit(node.name if node else "")
        self.ae_title = QLineEdit(node.ae_title if node else "")
        self.ae_title.setMaxLength(16)
        self.host = QLineEdit(node.host if node else "")
        self.port = QSpinBox()
        self.port.setRange(1, 65535)
        self.port.setValue(node.port if node else 104)
        self.retrieve = QComboBox()
        self.retrieve.addItem("C-GET", "get")
        self.retrieve.addItem("C-MOVE", "move")
        self.retrieve.setCurrentIndex(0 if not node or node.retrieve == "get" else 1)
        self.model = QComboBox()
        self.model.addItem("Study Root", "study")
        self.model.addItem("Patient Root", "patient")
        self.model.setCurrentIndex(0 if not node or node.query_model == "study" else 1)
        self.charset = QComboBox()
        self.assume = QComboBox()
        for label, code in CHOICES.items():
            if code and not code.startswith("\\") and code not in ("shift_jis", "euc_kr", "cp1251"):
                self.charset.addItem(label, code)
            self.assume.addItem(label if code else "Nothing (answers declare their own)", code)
        # Editable: a user may type any spelling ('utf8', 'Latin-1', 'EUC-KR'); Node normalises it.
        for box in (self.charset, self.assume):
            box.setEditable(True)
            box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        _show_charset(self.charset, node.charset if node else "ISO_IR 192")
        _show_charset(self.assume, node.assume_charset if node else "")
        self.tls_ca = QLineEdit(node.tls_ca_file if node else "")
        self.tls_cert = QLineEdit(node.tls_cert_file if node else "")
        self.tls_key = QLineEdit(node.tls_key_file if node else "")
        timeouts = node.timeouts if node else Timeouts()
        # Each is how long nothing may happen, never the length of a transfer (0 = wait for ever).
        self.connect_timeout = _seconds_box(timeouts.connect, " s to connect")
        self.acse_timeout = _seconds_box(timeouts.acse, " s for the association")
        self.timeout = _seconds_box(timeouts.dimse, " s without activity")
        self.local_aet = QLineEdit(local.ae_title)
        self.local_aet.setMaxLength(16)
        self.move_port = QSpinBox()
        self.move_port.setRange(1, 65535)
        self.move_port.setValue(local.move_port)
        self.warning = QLabel("")
        self.warning.setStyleSheet("color: #b35900")
        self.warning.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("AE title", self.ae_title)
        form.addRow("Host", self.host)
        form.addRow("Port", self.port)
        form.addRow("Retrieve with", self.retrieve)
        form.addRow("Query model", self.model)
        form.addRow("Character set sent", self.charset)
        form.addRow("Assume for answers", self.assume)
        form.addRow("Connection timeout", self.connect_timeout)
        form.addRow("Association timeout", self.acse_timeout)
        form.addRow("Inactivity timeout", self.timeout)
        for label, edit in (("TLS CA file", self.tls_ca), ("TLS client certificate", self.tls_cert), ("TLS client key", self.tls_key)):
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            browse = QPushButton("...")
            browse.clicked.connect(lambda _=False, e=edit: self._browse(e))
            row.addWidget(browse)
            form.addRow(label, row)
        form.addRow(QLabel("<b>This application</b>"))
        form.addRow("Local AE title", self.local_aet)
        form.addRow("Port for C-MOVE", self.move_port)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.warning)
        layout.addWidget(buttons)
        self.ae_title.textChanged.connect(self._check)
        self.local_aet.textChanged.connect(self._check)
        self.result_node: Node | None = None
        self.result_local: LocalAE | None = None

    def _browse(self, edit: QLineEdit) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file")
        if path:
            edit.setText(path)

    def _check(self) -> None:
        warnings = []
        for title in (self.ae_title.text(), self.local_aet.text()):
            try:
                _, warning = check_ae_title(title)
            except ViewerError as exc:
                warning = exc.reason
            if warning:
                warnings.append(warning)
        self.warning.setText("\n".join(warnings))

    def values(self) -> tuple[Node, LocalAE]:
        """The node and local AE as entered (raises ViewerError when invalid)."""
        node = Node(
            name=self.name.text().strip() or f"{self.ae_title.text().strip()}@{self.host.text().strip()}",
            ae_title=self.ae_title.text(),
            host=self.host.text().strip(),
            port=self.port.value(),
            retrieve=self.retrieve.currentData(),
            query_model=self.model.currentData(),
            charset=_typed_charset(self.charset),
            assume_charset=_typed_charset(self.assume),
            tls_ca_file=self.tls_ca.text().strip(),
            tls_cert_file=self.tls_cert.text().strip(),
            tls_key_file=self.tls_key.text().strip(),
            timeouts=Timeouts(connect=_seconds(self.connect_timeout), acse=_seconds(self.acse_timeout), dimse=_seconds(self.timeout)),
        )
        return node, LocalAE(self.local_aet.text(), self.move_port.value())

    def _accept(self) -> None:
        try:
            self.result_node, self.result_local = self.values()
        except ViewerError as exc:
            self.warning.setText(exc.reason)
            return
        self.accept()


class QueryPanel(QWidget):
    """Search a PACS and retrieve into the local cache. Emits ``retrieved(list[str])`` (folders)."""

    retrieved = Signal(object)
    problems = Signal(object)

    def __init__(self, runner, parent: QWidget | None = None, cache: Path | None = None):
        super().__init__(parent)
        self.runner = runner
        self.cache = Path(cache) if cache else default_cache_dir()
        self.nodes, self.local = load_network_settings()
        self.logs: dict[str, AssociationLog] = {}
        self._cancel = CancelToken()  # the retrieve running
        self._find_cancel = CancelToken()  # the searches running (a new search or closing cancels them)
        self._search_generation = 0
        self._rows_generation = 0  # bumped when result rows are replaced (their items deleted)

        self.node_combo = QComboBox()
        self.node_combo.setMinimumWidth(160)
        add, edit, remove = QPushButton("Add..."), QPushButton("Edit..."), QPushButton("Remove")
        self.test_button = QPushButton("Test")
        self.log_button = QPushButton("Log")
        add.clicked.connect(lambda: self.edit_node(None))
        edit.clicked.connect(lambda: self.edit_node(self.current_node()))
        remove.clicked.connect(self.remove_node)
        self.test_button.clicked.connect(self.test_node)
        self.log_button.clicked.connect(self.show_log)
        node_row = QHBoxLayout()
        node_row.addWidget(self.node_combo, 1)
        for button in (add, edit, remove, self.test_button, self.log_button):
            node_row.addWidget(button)

        self.patient_name = QLineEdit()
        self.patient_name.setPlaceholderText("e.g. DOE* or ?ANG")
        self.patient_id = QLineEdit()
        self.accession = QLineEdit()
        self.modalities = QLineEdit()
        self.modalities.setPlaceholderText("e.g. CT or CT\\MR")
        self.description = QLineEdit()
        self.referring = QLineEdit()
        self.date_from = QDateEdit()
        self.date_to = QDateEdit()
        for edit_ in (self.date_from, self.date_to):
            edit_.setCalendarPopup(True)
            edit_.setDisplayFormat("yyyy-MM-dd")
            edit_.setSpecialValueText("any")
            edit_.setMinimumDate(QDate(1900, 1, 1))
            edit_.setDate(edit_.minimumDate())
        date_row = QHBoxLayout()
        date_row.addWidget(self.date_from)
        date_row.addWidget(QLabel("to"))
        date_row.addWidget(self.date_to)
        shortcuts = QHBoxLayout()
        for label, days in (("Any date", None), ("Today", 0), ("Yesterday", 1), ("Last 7 days", 7)):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, d=days: self.set_date_range(d))
            shortcuts.addWidget(button)
        form = QGridLayout()
        fields = (
            ("Patient name", self.patient_name),
            ("Patient ID", self.patient_id),
            ("Accession", self.accession),
            ("Modalities", self.modalities),
            ("Description", self.description),
            ("Referring", self.referring),
        )
        for i, (label, widget) in enumerate(fields):
            form.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            form.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        form.addWidget(QLabel("Study date"), 3, 0)
        form.addLayout(date_row, 3, 1, 1, 3)
        form.addLayout(shortcuts, 4, 1, 1, 3)
        self.search_button = QPushButton("Search")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        for edit_ in (self.patient_name, self.patient_id, self.accession, self.modalities, self.description, self.referring):
            edit_.returnPressed.connect(self.search)

        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.results = QTreeView()
        self.results.setModel(self.model)
        self.results.setSortingEnabled(True)
        self.results.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.results.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.results.expanded.connect(self._expanded)
        self.results.doubleClicked.connect(lambda _index: self.retrieve_selected())

        self.retrieve_button = QPushButton("Retrieve")
        self.retrieve_button.clicked.connect(lambda: self.retrieve_selected())
        self.refetch_button = QPushButton("Retrieve again")
        self.refetch_button.clicked.connect(lambda: self.retrieve_selected(force=True))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress_bar = QProgressBar()
        self.progress_bar.setMaximumHeight(14)
        self.progress_bar.hide()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        actions = QHBoxLayout()
        actions.addWidget(self.retrieve_button)
        actions.addWidget(self.refetch_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.progress_bar, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(node_row)
        layout.addLayout(form)
        layout.addWidget(self.search_button)
        layout.addWidget(self.results, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        self._fill_nodes()

    # ------------------------------------------------------------------ nodes
    def _fill_nodes(self, select: str | None = None) -> None:
        self.node_combo.clear()
        for node in self.nodes:
            self.node_combo.addItem(f"{node.name} ({node.address})", node.name)
        if select:
            self.node_combo.setCurrentIndex(max(0, self.node_combo.findData(select)))

    def current_node(self) -> Node | None:
        name = self.node_combo.currentData()
        return next((n for n in self.nodes if n.name == name), None)

    def add_node(self, node: Node, local: LocalAE | None = None) -> None:
        """Add or replace a node (by name) and save (the dialog and tests use this)."""
        self.nodes = [n for n in self.nodes if n.name != node.name] + [node]
        if local is not None:
            self.local = local
        save_network_settings(self.nodes, self.local)
        self._fill_nodes(node.name)

    def edit_node(self, node: Node | None) -> None:
        dialog = NodeDialog(node, self.local, self)
        if dialog.exec() and dialog.result_node is not None:
            if node is not None and node.name != dialog.result_node.name:
                self.nodes = [n for n in self.nodes if n.name != node.name]
            self.add_node(dialog.result_node, dialog.result_local)

    def remove_node(self) -> None:
        node = self.current_node()
        if node is None:
            return
        self.nodes = [n for n in self.nodes if n.name != node.name]
        save_network_settings(self.nodes, self.local)
        self._fill_nodes()

    def _log(self, node: Node) -> AssociationLog:
        return self.logs.setdefault(node.name, AssociationLog())

    def show_log(self) -> None:
        node = self.current_node()
        if node is None:
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Association log: {node.name}")
        view = QPlainTextEdit(self._log(node).text() or "(nothing yet)")
        view.setReadOnly(True)
        layout = QVBoxLayout(dialog)
        layout.addWidget(view)
        dialog.resize(720, 480)
        dialog.show()
        self._log_dialog = dialog

    def test_node(self) -> None:
        node = self._need_node()
        if node is None:
            return
        self.status.setText(f"Testing {node.address}...")
        log, local = self._log(node), self.local
        self.runner.submit(
            "net-echo",
            lambda: echo(node, local, log),
            lambda seconds: self._say(f"{node.address} answered (C-ECHO in {seconds * 1000:.0f} ms)."),
            lambda error: self._say(_message(error)),
        )

    def _need_node(self) -> Node | None:
        node = self.current_node()
        if node is None:
            self._say("Add a node first (its AE title, host and port).")
        return node

    # ------------------------------------------------------------------ search
    def set_date_range(self, days: int | None) -> None:
        if days is None:
            self.date_from.setDate(self.date_from.minimumDate())
            self.date_to.setDate(self.date_to.minimumDate())
            return
        today = date.today()
        if days == 1:  # yesterday
            start = end = today - timedelta(days=1)
        else:  # the last `days` days, today included (0: today)
            start, end = today - timedelta(days=max(days - 1, 0)), today
        self.date_from.setDate(QDate(start.year, start.month, start.day))
        self.date_to.setDate(QDate(end.year, end.month, end.day))

    def filters(self) -> dict[str, str]:
        """The C-FIND matching keys from the form (DICOM wildcard and range syntax)."""
        out = {}
        for keyword, edit in (
            ("PatientName", self.patient_name),
            ("PatientID", self.patient_id),
            ("AccessionNumber", self.accession),
            ("ModalitiesInStudy", self.modalities),
            ("StudyDescription", self.description),
            ("ReferringPhysicianName", self.referring),
        ):
            value = edit.text().strip()
            if value:
                out[keyword] = value
        start, end = self.date_from.date(), self.date_to.date()
        low = "" if start == self.date_from.minimumDate() else start.toString("yyyyMMdd")
        high = "" if end == self.date_to.minimumDate() else end.toString("yyyyMMdd")
        if low or high:
            out["StudyDate"] = low if low == high else f"{low}-{high}"
        return out

    def search(self) -> None:
        node = self._need_node()
        if node is None:
            return
        filters = self.filters()
        self._search_generation += 1
        generation = self._search_generation
        self.status.setText(f"Searching {node.address}...")
        log, local = self._log(node), self.local
        self._find_cancel.cancel()  # its answer would be dropped anyway
        cancel = self._find_cancel = CancelToken()
        self.runner.submit(
            "net-find",
            lambda: find(node, local, "study", filters, cap=RESULT_CAP, cancel=cancel, log=log),
            lambda result: self._show_studies(generation, node, result),
            lambda error: self._say(_message(error)),
        )

    def _show_studies(self, generation: int, node: Node, result) -> None:
        if generation != self._search_generation:
            return
        self._rows_generation += 1
        self.model.removeRows(0, self.model.rowCount())
        self.results.setSortingEnabled(False)
        for match in result.matches:
            birth = text(match, "PatientBirthDate")
            study_date, study_time = text(match, "StudyDate"), text(match, "StudyTime")
            row = [
                _cell(format_person_name(text(match, "PatientName")) or "(no name)"),
                _cell(text(match, "PatientID")),
                _cell(format_date(birth)),
                _cell(text(match, "PatientSex")),
                _cell(" ".join(p for p in (format_date(study_date), format_time(study_time)) if p)),
                _cell(text(match, "AccessionNumber")),
                _cell(text(match, "StudyDescription")),
                _cell(text(match, "ModalitiesInStudy")),
                _cell(text(match, "NumberOfStudyRelatedSeries")),
                _cell(text(match, "NumberOfStudyRelatedInstances")),
            ]
            study = RemoteStudy(
                node.name, text(match, "StudyInstanceUID"), uid_values(match.get("SOPClassesInStudy")), text(match, "PatientID")
            )
            row[0].setData(study, STUDY_ROLE)
            row[0].appendRow([_cell("(searching series...)")] + [_cell("") for _ in COLUMNS[1:]])
            self.model.appendRow(row)
        self.results.setSortingEnabled(True)
        more = f" The server has more: showing the first {len(result.matches)}; narrow the search." if result.more else ""
        self._say(f"{count(len(result.matches), 'study')} found on {node.address}.{more}")

    def _expanded(self, index) -> None:
        item = self.model.itemFromIndex(index.siblingAtColumn(0))
        study = item.data(STUDY_ROLE) if item else None
        if study is None or item.data(SERIES_ROLE) == "loaded":
            return
        item.setData("loaded", SERIES_ROLE)
        node = next((n for n in self.nodes if n.name == study.node_name), None)
        if node is None:
            return
        log, local, rows, cancel = self._log(node), self.local, self._rows_generation, self._find_cancel
        filters = {"StudyInstanceUID": study.study_uid}
        if node.query_model == "patient" and study.patient_id:
            filters["PatientID"] = study.patient_id  # a unique key above SERIES in Patient Root (PS3.4 C.4.1.2.2.1)
        self.runner.submit(
            f"net-series:{study.study_uid}",
            lambda: find(node, local, "series", filters, cap=RESULT_CAP, cancel=cancel, log=log),
            lambda result: self._show_series(rows, item, node, study, result),
            lambda error: self._series_failed(rows, item, error),
        )

    def _series_failed(self, rows: int, item: QStandardItem, error: BaseException) -> None:
        if rows != self._rows_generation:
            return  # a new search replaced the study (its item is deleted)
        item.setData(None, SERIES_ROLE)
        self._say(_message(error))

    def _show_series(self, rows: int, item: QStandardItem, node: Node, study, result) -> None:
        if rows != self._rows_generation:
            return  # a new search replaced the study (its item is deleted)
        item.removeRows(0, item.rowCount())
        for match in result.matches:
            series_uid = text(match, "SeriesInstanceUID")
            cached = self._cached(study.study_uid, series_uid)
            row = (
                [_cell(text(match, "SeriesDescription") or "(no description)")]
                + [_cell("") for _ in COLUMNS[1:6]]
                + [
                    _cell(text(match, "SeriesDescription")),
                    _cell(text(match, "Modality")),
                    _cell(text(match, "SeriesNumber")),
                    _cell(text(match, "NumberOfSeriesRelatedInstances") + (" (cached)" if cached else "")),
                ]
            )
            row[0].setData(RemoteSeries(study, series_uid), SERIES_ROLE)
            item.appendRow(row)
        if not result.matches:
            item.appendRow([_cell("(no series)")] + [_cell("") for _ in COLUMNS[1:]])

    def _cached(self, study_uid: str, series_uid: str) -> bool:
        try:
            return (series_folder(self.cache, study_uid, series_uid) / ".complete").exists()
        except ValueError:
            return False

    # ------------------------------------------------------------------ retrieve
    def selected(self) -> tuple[Node, RemoteStudy, str | None] | None:
        """The node, study and series UID (None for a whole study) of the selected row."""
        index = self.results.currentIndex()
        if not index.isValid():
            return None
        item = self.model.itemFromIndex(index.siblingAtColumn(0))
        series = item.data(SERIES_ROLE)
        if isinstance(series, RemoteSeries):
            study, series_uid = series.study, series.series_uid
        else:
            study, series_uid = item.data(STUDY_ROLE), None
            if not isinstance(study, RemoteStudy):
                return None
        node = next((n for n in self.nodes if n.name == study.node_name), None)
        return (node, study, series_uid) if node else None

    def retrieve_selected(self, force: bool = False) -> None:
        chosen = self.selected()
        if chosen is None:
            self._say("Choose a study or a series in the results first.")
            return
        node, study, series_uid = chosen
        study_uid = study.study_uid
        self._cancel.cancel()
        cancel = self._cancel = CancelToken()
        log, local, cache = self._log(node), self.local, self.cache
        what = "series" if series_uid else "study"
        self._say(f"Retrieving the {what} from {node.address}...")
        self.progress_bar.setRange(0, 0)
        self.progress_bar.show()
        self.cancel_button.setEnabled(True)

        def progress(report: RetrieveProgress) -> None:
            self.runner.post(self._progress, replace(report))

        self.runner.submit(
            "net-retrieve",
            lambda: retrieve(
                node,
                local,
                cache,
                study_uid,
                series_uid,
                progress,
                cancel,
                log,
                force=force,
                sop_classes=study.sop_classes,
                patient_id=study.patient_id or None,
            ),
            lambda result: self._retrieved(result, cancel, study_uid),
            lambda error: self._retrieve_failed(error),
        )

    def cancel(self) -> None:
        self._cancel.cancel()
        self._say("Cancelling (C-CANCEL sent)...")

    def shutdown(self) -> None:
        """The window is closing: cancel the retrieve and the searches (C-CANCEL), so it closes at once."""
        self._cancel.cancel()
        self._find_cancel.cancel()

    def _progress(self, report: RetrieveProgress) -> None:
        total = report.completed + report.failed + report.warning + (report.remaining or 0)
        if total:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(report.completed + report.failed + report.warning)
        left = "" if report.remaining is None else f", {report.remaining} remaining"
        warnings = f", {count(report.warning, 'warning')}" if report.warning else ""
        self.status.setText(f"{report.received} received, {report.completed} completed, {report.failed} failed{warnings}{left}")

    def _retrieved(self, result, cancel: CancelToken, study_uid: str) -> None:
        self.progress_bar.hide()
        self.cancel_button.setEnabled(False)
        if result.failed_instances:
            self.problems.emit(list(result.failed_instances))
        failed = f", {result.progress.failed} failed" if result.progress.failed else ""
        how = "already in the cache" if result.cached else f"by C-{result.method.upper()}"
        self._say(("Cancelled: " if cancel.cancelled else "") + f"{count(len(result.files), 'file')} {how}{failed}.")
        folders = sorted({str(f.parent) for f in result.files})
        if folders:
            self.retrieved.emit(folders)

    def _retrieve_failed(self, error) -> None:
        self.progress_bar.hide()
        self.cancel_button.setEnabled(False)
        self._say(_message(error))
        self.problems.emit([_message(error)])

    def _say(self, message: str) -> None:
        self.status.setText(message)


def _message(error: BaseException) -> str:
    return str(error) if isinstance(error, ViewerError) else f"{type(error).__name__}: {error}"
