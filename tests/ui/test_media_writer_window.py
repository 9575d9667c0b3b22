"""File > Write media (CD/DVD/USB folder)... in the window: the chosen series written in the background,
with progress, Cancel, and the end said in the status bar (#17)."""

from __future__ import annotations

import pydicom
from PySide6.QtCore import QItemSelectionModel

from tests.ui.test_browser import make_study
from viewer.core.media.sources import open_paths
from viewer.ui.browsing.selection import chosen_instances
from viewer.ui.sharing.media_writer import WRITE_TEXT


def _open(window, qtbot, folder):
    with qtbot.waitSignal(window.series_opened, timeout=20000):
        window.open_paths([folder])


def _file_action(window, text):
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File")
    return next(a for a in file_menu.actions() if a.text() == text)


def test_the_chosen_patient_is_written_as_media_from_the_file_menu(main_window, qtbot, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    counts = make_study(sources, patients=2, series_per_patient=2, slices=3)
    _open(main_window, qtbot, sources)
    qtbot.waitUntil(lambda: len(main_window.browser.series_items()) == len(counts), timeout=20000)
    browser = main_window.browser
    browser.show_tree(True)
    flags = QItemSelectionModel.SelectionFlag
    browser.tree.selectionModel().select(browser.proxy.index(0, 0), flags.ClearAndSelect | flags.Rows)  # the first patient
    writer = main_window.media_writer
    target = tmp_path / "cd"
    writer.choose_target = lambda: str(target)
    assert any(a.text() == WRITE_TEXT for a in browser.selection_actions)
    _file_action(main_window, WRITE_TEXT).trigger()
    qtbot.waitUntil(lambda: not writer.running, timeout=30000)
    assert writer.last_result is not None and writer.last_result.written == 6, writer.last_error
    assert str(target) in main_window.statusBar().currentMessage() and "6 instances" in main_window.statusBar().currentMessage()
    box = writer.done_box  # where and how many, in a box that does not block the window
    assert box is not None and str(target) in box.text() and box.informativeText().startswith("6 instances (1 patient, 1 study, 2 series")
    box.close()
    # what the viewer reads back from the DICOMDIR: the first patient's two series, three instances each
    read_back = open_paths([target])
    assert sorted(len(s.instances) for s in read_back.series) == [3, 3]
    patient_ids = {str(pydicom.dcmread(i.path, stop_before_pixels=True).PatientID) for s in read_back.series for i in s.instances}
    assert len(patient_ids) == 1


def test_a_folder_holding_media_is_replaced_only_when_the_user_says_so_and_cancel_leaves_nothing(main_window, qtbot, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    make_study(sources, patients=1, series_per_patient=1, slices=2)
    _open(main_window, qtbot, sources)
    writer = main_window.media_writer
    target = tmp_path / "usb"
    target.mkdir()
    (target / "DICOMDIR").write_bytes(b"someone else's")
    asked = []
    writer.confirm_replace = lambda folder, existing: asked.append(existing) or False
    assert not writer.write(target=str(target))
    assert asked == [["DICOMDIR"]] and (target / "DICOMDIR").read_bytes() == b"someone else's"
    # Cancelled before the worker starts its first file: the folder stays as it was.
    other = tmp_path / "other"
    runner = main_window.runner
    submitted = runner.submit

    def submit_cancelled(kind, task, on_done, on_error=None):
        writer.cancel()
        return submitted(kind, task, on_done, on_error)

    runner.submit = submit_cancelled
    try:
        assert writer.write(target=str(other))
        qtbot.waitUntil(lambda: not writer.running, timeout=30000)
    finally:
        runner.submit = submitted
    assert writer.last_result is not None and writer.last_result.cancelled and not other.exists()
    assert "cancelled" in main_window.statusBar().currentMessage()


def test_a_target_that_cannot_take_media_is_one_line_in_the_status_bar(main_window, qtbot, tmp_path):
    sources = tmp_path / "sources"
    sources.mkdir()
    make_study(sources, patients=1, series_per_patient=1, slices=1)
    _open(main_window, qtbot, sources)
    writer = main_window.media_writer
    inside = chosen_instances(main_window)[0].path.parent / "inside"  # never into a folder of the files written
    assert not writer.write(target=str(inside))
    message = main_window.statusBar().currentMessage()
    assert message.startswith("Write media: ") and "which holds files to write" in message and "\n" not in message
    assert not inside.exists()
