"""The remote query panel driven as a user drives it, against a real Orthanc on loopback.

Nodes are added through the panel's dialog, searches typed into its fields,
studies expanded and series retrieved with its buttons; the window's study
browser and viewer then show what arrived. Expected rows, series and files
come from what the session fixtures loaded into the server (tests/net/
server_fixtures.py, dicom_servers.py), never from the code under test.
Everything networked runs in the background: the tests check that the
event loop keeps turning while the panel waits for a peer.
"""

from __future__ import annotations

import fnmatch
import json
import re
import socket
from datetime import date, timedelta

import numpy as np
import pydicom
import pytest
from dicom_servers import free_port, make_study, orthanc_instance_count, start_orthanc, store_folder
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QPlainTextEdit, QPushButton

from viewer.core.media.cache import COMPLETE_MARKER

pytestmark = pytest.mark.net

NAME, PATIENT_ID, STUDY_DATE, ACCESSION, DESCRIPTION, MODALITY, NUMBER, IMAGES = 0, 1, 4, 5, 6, 7, 8, 9
WAIT = 30_000  # ms: generous, for a loaded machine
BIG_STUDY_SIZE = 300  # instances: measured ~0.8 s to retrieve here, time enough to press Cancel


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def window(request, tmp_path, monkeypatch, qtbot):
    """A main window whose saved nodes and retrieve cache are this test's own, with the PACS dock in front."""
    monkeypatch.setenv("DICOM_VIEWER_CONFIG", str(tmp_path / "config"))  # before the panel loads its nodes
    window = request.getfixturevalue("main_window")
    window.query_panel.cache = tmp_path / "cache"
    window.query_dock.show()
    window.query_dock.raise_()
    qtbot.waitUntil(window.query_panel.isVisible, timeout=WAIT)
    return window


@pytest.fixture(scope="module")
def dated_studies() -> dict[str, str]:
    """Patient ID -> study date, relative to today, for the date shortcuts."""
    today = date.today()
    return {f"PIDDAY{days}": (today - timedelta(days=days)).strftime("%Y%m%d") for days in (0, 1, 3, 30)}


@pytest.fixture(scope="module")
def panel_orthanc(tmp_path_factory, local_ae, dated_studies):
    """A second Orthanc for what would change the session one's answers to tests/net:
    studies dated relative to today, and a study large enough to cancel."""
    data = tmp_path_factory.mktemp("panel-data")
    studies = [
        make_study(data / pid, f"Recent^{pid}", pid, f"ACC{pid[-4:]}", day, "CT RECENT", "Nobody^Doctor", [("CT_small.dcm", "CT", 1)])
        for pid, day in dated_studies.items()
    ]
    big = make_study(
        data / "big", "Big^Study", "PID100", "ACC100", "20240301", "CT MANY", "Nobody^Doctor", [("CT_small.dcm", "CT", BIG_STUDY_SIZE)]
    )
    server = start_orthanc(tmp_path_factory.mktemp("panel-orthanc"), local_ae)
    try:
        store_folder(server.ae_title, server.port, data)
        assert orthanc_instance_count(server) == len(studies) + BIG_STUDY_SIZE, server.log()
        server.big_study = big
        yield server
    finally:
        server.stop()


# ----------------------------------------------------------------------------- driving the panel


def button(panel, label: str) -> QPushButton:
    """The panel's button with this label (not one of its dialogs')."""
    found = [b for b in panel.findChildren(QPushButton) if b.text() == label and b.window() is panel.window()]
    assert len(found) == 1, f"{label!r}: {found}"
    return found[0]


def click(qtbot, widget) -> None:
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)


def type_into(qtbot, field, text: str) -> None:
    """Replace the field's text as typed: key presses, or for non-ASCII text the
    commit of an input method (QTest's key clicks abort on characters beyond Latin-1)."""
    field.selectAll()
    if text.isascii():
        qtbot.keyClicks(field, text)
    else:
        event = QInputMethodEvent()
        event.setCommitString(text)
        QApplication.sendEvent(field, event)
    assert text in field.text(), (text, field.text())


def add_node(
    qtbot,
    panel,
    name: str,
    ae_title: str,
    port: int,
    host: str = "127.0.0.1",
    timeout_s: int | None = None,
    opener: str = "Add...",
    query_model: str | None = None,
) -> None:
    """Add... (or Edit...), fill the node dialog by typing, OK."""
    from viewer.ui.browsing.query_panel import NodeDialog

    outcome: dict[str, object] = {"tries": 0}

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        if not isinstance(dialog, NodeDialog):
            outcome["tries"] += 1
            if outcome["tries"] < 200:  # the dialog is not up yet
                QTimer.singleShot(20, fill)
            return
        try:
            type_into(qtbot, dialog.name, name)
            type_into(qtbot, dialog.ae_title, ae_title)
            type_into(qtbot, dialog.host, host)
            type_into(qtbot, dialog.port, str(port))
            if timeout_s is not None:
                for box in (dialog.connect_timeout, dialog.acse_timeout, dialog.timeout):
                    type_into(qtbot, box, str(timeout_s))
            if query_model is not None:  # the "Query model" box, chosen from the keyboard
                dialog.model.setFocus()
                while dialog.model.currentData() != query_model and dialog.model.currentIndex() < dialog.model.count() - 1:
                    qtbot.keyClick(dialog.model, Qt.Key.Key_Down)
                assert dialog.model.currentData() == query_model
            click(qtbot, dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok))
        except BaseException as exc:  # reported after exec() returns
            outcome["error"] = exc
        if dialog.isVisible():  # refused: say why, and never leave a modal loop running
            outcome["refused"] = dialog.warning.text()
            dialog.reject()

    QTimer.singleShot(0, fill)
    click(qtbot, button(panel, opener))
    if "error" in outcome:
        raise outcome["error"]
    assert "refused" not in outcome, f"the dialog refused the node: {outcome['refused']}"
    assert outcome["tries"] < 200, "the node dialog never opened"


def add_server(qtbot, panel, server, name: str = "Test PACS") -> None:
    add_node(qtbot, panel, name, server.ae_title, server.port)
    assert panel.node_combo.currentText() == f"{name} ({server.ae_title}@127.0.0.1:{server.port})"


def rows(panel, parent=None) -> list[list[str]]:
    model = panel.model
    parent_index = parent.index() if parent is not None else model.index(-1, -1)
    return [[model.index(r, c, parent_index).data() or "" for c in range(model.columnCount())] for r in range(model.rowCount(parent_index))]


def search(qtbot, panel, **fields) -> None:
    """Type into the named fields, press Return, wait for the answer."""
    for field, value in fields.items():
        type_into(qtbot, getattr(panel, field), value)
    qtbot.keyClick(panel.patient_name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not panel.status.text().startswith("Searching"), timeout=WAIT)


def click_row(qtbot, view, index) -> None:
    view.scrollTo(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.visualRect(index).center())
    assert view.currentIndex().siblingAtColumn(0) == index.siblingAtColumn(0)


class Ticker:
    """A timer on the GUI thread counting its ticks: it only ticks while the event loop runs."""

    def __init__(self, parent, interval_ms: int = 10):
        self.ticks = 0
        self.timer = QTimer(parent)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks += 1

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.stop()


def pn_matches(pattern: str, name: str) -> bool:
    """DICOM PN wildcard matching (PS3.4 C.2.2.2.4): * any run, ? one character."""
    return fnmatch.fnmatchcase(name, pattern.replace("[", "[[]"))


def dashed(da: str) -> str:
    return f"{da[:4]}-{da[4:6]}-{da[6:]}"


# ----------------------------------------------------------------------------- nodes and C-ECHO


def test_add_node_and_test_it(window, orthanc, qtbot, tmp_path):
    panel = window.query_panel
    add_server(qtbot, panel, orthanc)
    saved = json.loads((tmp_path / "config" / "network.json").read_text(encoding="utf-8"))
    assert [(n["name"], n["ae_title"], n["host"], n["port"]) for n in saved["nodes"]] == [
        ("Test PACS", orthanc.ae_title, "127.0.0.1", orthanc.port)
    ]

    click(qtbot, panel.test_button)
    assert panel.status.text() == f"Testing {orthanc.address}..."
    qtbot.waitUntil(lambda: not panel.status.text().startswith("Testing"), timeout=WAIT)
    assert re.fullmatch(rf"{re.escape(orthanc.address)} answered \(C-ECHO in \d+ ms\)\.", panel.status.text()), panel.status.text()


@pytest.mark.parametrize("peer", ["no listener", "silent listener"])
def test_unreachable_node_fails_plainly_and_window_stays_responsive(window, qtbot, peer):
    """Nothing on the port (refused at once), or a port that accepts TCP and never
    speaks DICOM (the panel waits its 1 s timeout): a one-line message, and the
    GUI thread keeps running its event loop all the while."""
    panel = window.query_panel
    silent = socket.create_server(("127.0.0.1", 0)) if peer == "silent listener" else None  # the kernel accepts; nobody reads
    try:
        port = silent.getsockname()[1] if silent else free_port()
        add_node(qtbot, panel, "Nobody", "NOBODY", port, timeout_s=1)
        with Ticker(window) as ticker:
            click(qtbot, panel.test_button)
            assert panel.status.text() == f"Testing NOBODY@127.0.0.1:{port}..."  # the click returned before any answer
            qtbot.waitUntil(lambda: not panel.status.text().startswith("Testing"), timeout=WAIT)
        message = panel.status.text()
        assert message.startswith(f"NOBODY@127.0.0.1:{port}"), message
        assert "answered" not in message and "\n" not in message and "Traceback" not in message and "Error:" not in message, message
        if silent:
            assert ticker.ticks >= 20, f"the event loop stalled during the 1 s wait ({ticker.ticks} ticks of 10 ms)"
        # Still usable: the same button works again (the same peer: a closed port would say the connection was refused).
        click(qtbot, panel.test_button)
        qtbot.waitUntil(lambda: panel.status.text() == message, timeout=WAIT)
    finally:
        if silent:
            silent.close()


def test_association_log_opens(window, orthanc, qtbot):
    panel = window.query_panel
    add_server(qtbot, panel, orthanc)
    click(qtbot, panel.test_button)
    qtbot.waitUntil(lambda: "answered" in panel.status.text(), timeout=WAIT)
    click(qtbot, button(panel, "Log"))
    dialogs = [d for d in panel.findChildren(QDialog) if d.isVisible() and d.windowTitle() == "Association log: Test PACS"]
    assert len(dialogs) == 1
    text = dialogs[0].findChild(QPlainTextEdit).toPlainText()
    dialogs[0].close()
    for expected in (f"A-ASSOCIATE-RQ to {orthanc.ae_title}", "A-ASSOCIATE-AC", "C-ECHO-RQ", "C-ECHO-RSP status 0x0000", "A-RELEASE"):
        assert expected in text, text


# ----------------------------------------------------------------------------- C-FIND


@pytest.mark.parametrize("pattern", ["Doe^J*", "doe^ja?e", "Müller*", "王*"])
def test_search_by_patient_name_with_wildcard(window, orthanc, studies, qtbot, pattern):
    panel = window.query_panel
    add_server(qtbot, panel, orthanc)
    # Orthanc matches names regardless of case (its "CaseSensitivePN" defaults to false).
    expected = {s.patient_id: s for s in studies if pn_matches(pattern.lower(), s.patient_name.lower())}
    assert expected

    type_into(qtbot, panel.patient_name, pattern)
    qtbot.keyClick(panel.patient_name, Qt.Key.Key_Return)
    # The key press returned before any answer was shown: the search is out on
    # another thread, and answers reach the GUI thread only through its event loop.
    # (Counting timer ticks while it was out depended on how fast Orthanc answered.)
    assert panel.status.text() == f"Searching {orthanc.address}..." and panel.model.rowCount() == 0
    qtbot.waitUntil(lambda: not panel.status.text().startswith("Searching"), timeout=WAIT)

    found = {row[PATIENT_ID]: row for row in rows(panel)}
    assert set(found) == set(expected), rows(panel)
    for pid, study in expected.items():
        row = found[pid]
        family = study.patient_name.split("^")[0]
        assert family in row[NAME]
        assert row[ACCESSION] == study.accession
        assert row[DESCRIPTION] == study.description
        assert row[STUDY_DATE].startswith(dashed(study.date))
    n = len(expected)
    assert panel.status.text() == f"{n} stud{'y' if n == 1 else 'ies'} found on {orthanc.address}."


def test_date_range_shortcuts(window, panel_orthanc, dated_studies, qtbot):
    panel = window.query_panel
    add_server(qtbot, panel, panel_orthanc)
    today = date.today()
    if today.strftime("%Y%m%d") != dated_studies["PIDDAY0"]:
        pytest.skip("the date changed since the studies were made")
    day = {n: today - timedelta(days=n) for n in (0, 1, 6)}
    cases = {  # shortcut: (From, To) shown, patient IDs found
        "Yesterday": ((day[1], day[1]), {"PIDDAY1"}),
        "Today": ((day[0], day[0]), {"PIDDAY0"}),
        "Last 7 days": ((day[6], day[0]), {"PIDDAY0", "PIDDAY1", "PIDDAY3"}),  # today and the 6 days before
        "Any date": (("any", "any"), {*dated_studies, "PID100"}),
    }
    for shortcut, ((start, end), expected) in cases.items():
        click(qtbot, button(panel, shortcut))
        shown = (panel.date_from.text(), panel.date_to.text())
        assert shown == tuple(d if d == "any" else d.isoformat() for d in (start, end)), shortcut
        search(qtbot, panel)
        assert {row[PATIENT_ID] for row in rows(panel)} == expected, (shortcut, panel.status.text())


# ----------------------------------------------------------------------------- series and C-GET


def test_new_search_while_series_are_looked_up(window, orthanc, ct_study, qtbot):
    """Regression: the answer to an expanded study arriving after a new search had
    replaced the rows raised RuntimeError (its QStandardItem was deleted)."""
    panel = window.query_panel
    add_server(qtbot, panel, orthanc, "Other")
    add_server(qtbot, panel, orthanc, "PACS")
    search(qtbot, panel, patient_id=ct_study.patient_id)
    assert [row[PATIENT_ID] for row in rows(panel)] == [ct_study.patient_id]
    silent = socket.create_server(("127.0.0.1", 0))
    try:
        # The node these rows came from stops answering; the series C-FIND waits its 1 s.
        add_node(qtbot, panel, "PACS", orthanc.ae_title, silent.getsockname()[1], timeout_s=1, opener="Edit...")
        panel.node_combo.setCurrentIndex(panel.node_combo.findData("Other"))
        click_row(qtbot, panel.results, panel.model.index(0, 0))
        qtbot.keyClick(panel.results, Qt.Key.Key_Right)
        search(qtbot, panel)  # answered by "Other" at once: the rows are replaced
        assert panel.status.text() == f"1 study found on {orthanc.address}."
        # Every result comes back through the runner's one queued signal: wait for the late series answer.
        with qtbot.waitSignal(panel.runner._delivered, timeout=WAIT):
            pass
    finally:
        silent.close()
    assert panel.status.text() == f"1 study found on {orthanc.address}."  # a stale failure is not news
    assert [row[PATIENT_ID] for row in rows(panel)] == [ct_study.patient_id]


def test_expand_study_shows_series_then_retrieve_one_into_the_viewer(window, orthanc, ct_study, qtbot):
    panel = window.query_panel
    add_server(qtbot, panel, orthanc)
    search(qtbot, panel, patient_id=ct_study.patient_id)
    assert [row[PATIENT_ID] for row in rows(panel)] == [ct_study.patient_id]

    # Expand the study from the keyboard: a SERIES-level C-FIND fills it.
    study_item = panel.model.item(0, 0)
    click_row(qtbot, panel.results, study_item.index())
    qtbot.keyClick(panel.results, Qt.Key.Key_Right)
    assert panel.results.isExpanded(study_item.index())
    qtbot.waitUntil(lambda: all(row[NUMBER] for row in rows(panel, study_item)), timeout=WAIT)  # the placeholder row has none
    series_rows = {row[NUMBER]: row for row in rows(panel, study_item)}
    assert set(series_rows) == {str(s.number) for s in ct_study.series}
    for series in ct_study.series:
        assert series_rows[str(series.number)][MODALITY] == series.modality
        assert series_rows[str(series.number)][IMAGES] == str(len(series.files))  # Orthanc counts them

    # Retrieve the second series (C-GET): it arrives, the browser lists it, the viewer shows it.
    series = ct_study.series[1]
    row = next(r for r in range(study_item.rowCount()) if study_item.child(r, NUMBER).text() == str(series.number))
    click_row(qtbot, panel.results, study_item.child(row, 0).index())
    with qtbot.waitSignal(window.image_shown, timeout=WAIT):
        click(qtbot, panel.retrieve_button)
        assert panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: not panel.cancel_button.isEnabled(), timeout=WAIT)
    assert panel.status.text() == f"{len(series.files)} files by C-GET."
    folder = panel.cache / ct_study.uid / series.uid
    assert sorted(p.name for p in folder.iterdir()) == sorted([COMPLETE_MARKER] + [f"{uid}.dcm" for uid in series.sop_uids])
    assert series.uid in window.browser.series_items()
    assert window.current_series is not None and window.current_series.uid == series.uid

    original = pydicom.dcmread(series.files[0])  # every copy has the same pixels
    np.testing.assert_array_equal(window.frame.stored, original.pixel_array)
    shown = window.pane.displayed_pixels()
    assert shown.shape == original.pixel_array.shape
    # Whatever the window, MONOCHROME2 greys never fall as the stored value rises.
    order = np.argsort(original.pixel_array, axis=None, kind="stable")
    assert np.all(np.diff(shown.ravel()[order].astype(int)) >= 0)
    assert shown.max() > shown.min()

    # Retrieve again: served from the cache, no association.
    log_before = list(panel.logs["Test PACS"].lines)
    click(qtbot, panel.retrieve_button)
    qtbot.waitUntil(lambda: "already in the cache" in panel.status.text(), timeout=WAIT)
    assert panel.status.text() == f"{len(series.files)} files already in the cache."
    assert panel.logs["Test PACS"].lines == log_before
    qtbot.waitUntil(lambda: "Reading" not in window.statusBar().currentMessage(), timeout=WAIT)


def test_patient_root_node_expands_and_retrieves_from_a_strict_pacs(window, dcmqrscp, ct_study, qtbot):
    """dcmqrscp checks Patient Root's hierarchy: series and retrieve carry the study's Patient ID."""
    panel = window.query_panel
    add_node(qtbot, panel, "Strict PACS", dcmqrscp.ae_title, dcmqrscp.port, query_model="patient")
    assert panel.current_node().query_model == "patient"
    search(qtbot, panel, patient_id=ct_study.patient_id)
    assert [row[PATIENT_ID] for row in rows(panel)] == [ct_study.patient_id]
    study_item = panel.model.item(0, 0)
    click_row(qtbot, panel.results, study_item.index())
    qtbot.keyClick(panel.results, Qt.Key.Key_Right)
    qtbot.waitUntil(lambda: all(row[NUMBER] for row in rows(panel, study_item)), timeout=WAIT)
    assert {row[NUMBER] for row in rows(panel, study_item)} == {str(s.number) for s in ct_study.series}

    series = ct_study.series[1]
    row = next(r for r in range(study_item.rowCount()) if study_item.child(r, NUMBER).text() == str(series.number))
    click_row(qtbot, panel.results, study_item.child(row, 0).index())
    with qtbot.waitSignal(window.image_shown, timeout=WAIT):
        click(qtbot, panel.retrieve_button)
    qtbot.waitUntil(lambda: not panel.cancel_button.isEnabled(), timeout=WAIT)
    assert panel.status.text() == f"{len(series.files)} files by C-GET."
    assert sorted(p.stem for p in (panel.cache / ct_study.uid / series.uid).glob("*.dcm")) == sorted(series.sop_uids)
    assert window.current_series is not None and window.current_series.uid == series.uid
    qtbot.waitUntil(lambda: "Reading" not in window.statusBar().currentMessage(), timeout=WAIT)


def test_cancel_during_retrieve_leaves_only_whole_files(window, panel_orthanc, qtbot):
    panel = window.query_panel
    big = panel_orthanc.big_study
    add_server(qtbot, panel, panel_orthanc)
    search(qtbot, panel, patient_id=big.patient_id)
    assert [row[IMAGES] for row in rows(panel)] == [str(BIG_STUDY_SIZE)]
    click_row(qtbot, panel.results, panel.model.index(0, 0))

    def received() -> int:
        match = re.match(r"(\d+) received", panel.status.text())
        return int(match[1]) if match else 0

    click(qtbot, panel.retrieve_button)
    qtbot.waitUntil(lambda: received() >= 1, timeout=WAIT)
    click(qtbot, panel.cancel_button)
    qtbot.waitUntil(lambda: not panel.cancel_button.isEnabled(), timeout=WAIT)
    assert panel.progress_bar.isHidden()
    message = panel.status.text()
    match = re.fullmatch(r"Cancelled: (\d+) files? by C-GET\.", message)
    assert match, message

    folder = panel.cache / big.uid / big.series[0].uid
    leftovers = [p.name for p in panel.cache.rglob("*") if p.is_file() and p.suffix != ".dcm"]
    assert leftovers == [], "half files or a completion marker left behind"
    files = sorted(folder.glob("*.dcm"))
    assert len(files) == int(match[1])
    assert 1 <= len(files) < BIG_STUDY_SIZE
    assert {p.stem for p in files} <= set(big.series[0].sop_uids)
    expected = pydicom.dcmread(big.series[0].files[0]).pixel_array
    for path in files:  # each one whole
        np.testing.assert_array_equal(pydicom.dcmread(path).pixel_array, expected)
    qtbot.waitUntil(lambda: "Reading" not in window.statusBar().currentMessage(), timeout=WAIT)
