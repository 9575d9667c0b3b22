"""File > Send to...: the dialog driven offscreen against a Storage SCP on loopback that drops the
connection, then comes back (tests/net/fake_scp.py: what it received is written to a folder)."""

from __future__ import annotations

import copy
import hashlib

import pydicom
from fake_scp import DroppingSCP
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from viewer.core.net.nodes import LocalAE, save_network_settings
from viewer.core.net.send import NOT_SENT, STORED


def _ct_series(folder, count=4):
    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    study, series = generate_uid(), generate_uid()
    folder.mkdir()
    paths = []
    for i in range(count):
        ds = copy.deepcopy(original)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = i + 1
        ds.PatientID = "OUTSIDE-1"
        path = folder / f"CT{i}.dcm"
        ds.save_as(path)
        paths.append(path)
    return paths


def test_send_to_offered_in_the_file_menu_and_the_browser(main_window):
    file_menu = next(a.menu() for a in main_window.menuBar().actions() if a.text().replace("&", "") == "File")
    assert main_window.send_action in file_menu.actions()
    assert main_window.send_action in main_window.browser.selection_actions


def test_send_dialog_sends_reconciled_copies_reports_fates_and_retries(main_window, open_in, qtbot, tmp_path):
    from viewer.ui.sharing.send_dialog import open_send_dialog

    paths = _ct_series(tmp_path / "disc")
    before = {p: hashlib.sha256(p.read_bytes()).digest() for p in paths}
    open_in(main_window, [str(tmp_path / "disc")])
    scp = DroppingSCP(tmp_path / "received", drops=[2], accept_after=1)  # drops the 2nd C-STORE, then stops listening
    port = scp.port
    save_network_settings([scp.node()], LocalAE("VIEWERTEST"))
    try:
        dialog = open_send_dialog(main_window)  # nothing chosen in the browser: the series shown
        qtbot.addWidget(dialog)
        assert len(dialog.instances) == 4 and dialog.node_box.currentText() == "fake"
        dialog.reconcile_box.setChecked(True)
        dialog.field_edits["patient_id"].setText("H-77")
        dialog.send_button.click()
        qtbot.waitUntil(lambda: dialog.finished_runs == 1, timeout=30000)
    finally:
        scp.stop()
    fates = [f.fate for f in dialog.result.fates]
    assert fates.count(STORED) == 1 and fates.count(NOT_SENT) == 3
    assert dialog.table.rowCount() == 4 and dialog.retry_button.isEnabled()
    shown = [dialog.table.item(row, 1).text() for row in range(4)]
    assert shown == [NOT_SENT] * 3 + [STORED]  # what needs the user's attention first
    assert all(dialog.table.item(row, 3).text() for row in range(3))  # each with its reason
    assert "1 stored, 3 not sent" in dialog.status.text()
    dialog.log_button.setChecked(True)
    assert "A-ASSOCIATE-RQ" in dialog.log_view.toPlainText() and "C-STORE-RQ" in dialog.log_view.toPlainText()

    scp = DroppingSCP(tmp_path / "received", drops=[], port=port)  # the node is back
    try:
        dialog.retry_button.click()
        qtbot.waitUntil(lambda: dialog.finished_runs == 2, timeout=30000)
    finally:
        scp.stop()
    assert [f.fate for f in dialog.result.fates] == [STORED] * 4
    assert not dialog.retry_button.isEnabled() and "4 stored" in dialog.status.text()
    statuses = {dialog.table.item(row, 1).text() for row in range(dialog.table.rowCount())}
    assert statuses == {STORED} and dialog.table.rowCount() == 4
    received = [pydicom.dcmread(p) for p in scp.writer.written]
    assert received and all(ds.PatientID == "H-77" for ds in received)  # the retry kept the reconciliation
    assert {p: hashlib.sha256(p.read_bytes()).digest() for p in paths} == before


def test_cancel_and_bad_node_in_the_dialog(main_window, open_in, qtbot, tmp_path):
    from viewer.ui.sharing.send_dialog import open_send_dialog

    _ct_series(tmp_path / "disc", 2)
    open_in(main_window, [str(tmp_path / "disc")])
    dialog = open_send_dialog(main_window)
    qtbot.addWidget(dialog)
    dialog.node_box.setEditText("not a node")
    dialog.send_button.click()
    assert "neither AET@HOST:PORT nor a saved node" in dialog.status.text() and not dialog.running
    dialog.node_box.setEditText("NOBODY@127.0.0.1:1")
    dialog.send_button.click()
    qtbot.waitUntil(lambda: dialog.finished_runs == 1, timeout=30000)
    assert [f.fate for f in dialog.result.fates] == [NOT_SENT, NOT_SENT]
    assert "cannot connect" in dialog.table.item(0, 3).text()


def test_closing_the_window_cancels_a_send_that_hangs(main_window, open_in, qtbot, tmp_path):
    """A node that never answers: closing the window cancels the send instead of waiting for the node."""
    import socket

    from viewer.ui.sharing.send_dialog import open_send_dialog

    _ct_series(tmp_path / "disc", 2)
    open_in(main_window, [str(tmp_path / "disc")])
    silent = socket.create_server(("127.0.0.1", 0))  # accepts the connection, never answers the association
    try:
        dialog = open_send_dialog(main_window)
        qtbot.addWidget(dialog)
        dialog.node_box.setEditText(f"SILENT@127.0.0.1:{silent.getsockname()[1]}")
        dialog.send_button.click()
        qtbot.waitUntil(lambda: "A-ASSOCIATE-RQ" in dialog.log.text(), timeout=10000)  # waiting for an answer
        main_window.close()  # returns once the send has ended: the runner waits for it
        assert dialog.cancel_token.cancelled
        # The window's runner has ended (close waits for it), so the send has: the log says how.
        assert "stopped by the cancel" in dialog.log.text()
        assert dialog.log.text().count("cancelled before it was sent") == 2 and "0 stored, 2 not sent" in dialog.log.text()
    finally:
        silent.close()


def test_reconciliation_is_offered_for_one_patient_only(main_window, open_in, qtbot, tmp_path):
    from viewer.ui.sharing.send_dialog import open_send_dialog

    paths = _ct_series(tmp_path / "disc", 2)
    other = pydicom.dcmread(paths[1])
    other.PatientID, other.PatientName = "SOMEONE-ELSE", "Roe^Richard"
    other.StudyInstanceUID, other.SeriesInstanceUID = generate_uid(), generate_uid()
    other.save_as(paths[1])
    open_in(main_window, [str(tmp_path / "disc")])
    main_window.browser.strip.selectAll()
    dialog = open_send_dialog(main_window)
    qtbot.addWidget(dialog)
    assert len(dialog.instances) == 2 and not dialog.reconcile_box.isEnabled()
    assert "2 patients" in dialog.reconcile_box.title()


def test_the_dialog_sends_de_identified_copies_and_a_retry_keeps_their_new_uids(main_window, open_in, qtbot, tmp_path):
    from viewer.ui.sharing.send_dialog import open_send_dialog

    paths = _ct_series(tmp_path / "disc", count=3)
    originals = {str(pydicom.dcmread(p).SOPInstanceUID) for p in paths}
    open_in(main_window, [str(tmp_path / "disc")])
    scp = DroppingSCP(tmp_path / "received", drops=[2], accept_after=1)  # the 2nd C-STORE dropped, then gone
    port = scp.port
    save_network_settings([scp.node()], LocalAE("VIEWERTEST"))
    try:
        dialog = open_send_dialog(main_window)
        qtbot.addWidget(dialog)
        dialog.deidentify_box.setChecked(True)
        dialog.send_button.click()
        assert not dialog.deidentify_box.isEnabled()  # not changed in the middle of a run
        qtbot.waitUntil(lambda: dialog.finished_runs == 1, timeout=30000)
    finally:
        scp.stop()
    first = [pydicom.dcmread(p) for p in scp.writer.written]
    scp = DroppingSCP(tmp_path / "received", drops=[], port=port)
    try:
        dialog.retry_button.click()
        qtbot.waitUntil(lambda: dialog.finished_runs == 2, timeout=30000)
    finally:
        scp.stop()
    received = first + [pydicom.dcmread(p) for p in scp.writer.written]
    assert len(received) == 3 and dialog.deidentify_box.isEnabled()
    assert all(ds.PatientIdentityRemoved == "YES" and ds.PatientID != "OUTSIDE-1" for ds in received)
    assert not {str(ds.SOPInstanceUID) for ds in received} & originals
    assert len({ds.StudyInstanceUID for ds in received}) == 1  # one de-identifier for the run and its retry
    assert len({ds.PatientID for ds in received}) == 1
