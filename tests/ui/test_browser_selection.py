"""Choosing patients, studies and series in the browser: what Send to, De-identify, Export and Write media act on."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QAction

from tests.ui.test_browser import make_study
from viewer.ui.browsing.selection import chosen_instances, chosen_series
from viewer.ui.browsing.series_strip import CHOSEN_ROLE


def _open(window, qtbot, folder):
    with qtbot.waitSignal(window.series_opened, timeout=20000):
        window.open_paths([folder])


def test_a_patient_row_stands_for_all_its_series(main_window, qtbot, tmp_path):
    counts = make_study(tmp_path, patients=2, series_per_patient=2, slices=3)
    _open(main_window, qtbot, tmp_path)
    qtbot.waitUntil(lambda: len(main_window.browser.series_items()) == len(counts), timeout=20000)
    browser = main_window.browser
    browser.show_tree(True)
    # Nothing chosen: the series in the viewport.
    browser.tree.clearSelection()
    assert chosen_series(main_window) == [main_window.current_series]
    # The first patient's row: both its series, six files.
    patient_index = browser.proxy.index(0, 0)
    browser.tree.selectionModel().select(
        patient_index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
    )
    chosen = chosen_series(main_window)
    assert len(chosen) == 2 and all(s.instances[0].header.PatientID == chosen[0].instances[0].header.PatientID for s in chosen)
    assert len(chosen_instances(main_window)) == 6
    # The patient and one of its series chosen together: each series once.
    series_index = browser.proxy.index(0, 0, browser.proxy.index(0, 0, patient_index))
    browser.tree.selectionModel().select(series_index, QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)
    assert len(chosen_series(main_window)) == 2
    # Both patients: every series.
    browser.tree.selectAll()
    assert len(chosen_series(main_window)) == 4 and len(chosen_instances(main_window)) == 12


def test_a_right_click_on_a_heading_of_the_strip_chooses_its_series(main_window, qtbot, tmp_path):
    counts = make_study(tmp_path, patients=2, series_per_patient=2, slices=1)
    _open(main_window, qtbot, tmp_path)
    qtbot.waitUntil(lambda: len(main_window.browser.series_items()) == len(counts), timeout=20000)
    browser = main_window.browser
    browser.show_tree(False)
    strip = browser.strip
    heading = strip.item(0)  # the first patient
    triggered = []
    action = QAction("Act", main_window)
    action.triggered.connect(lambda: triggered.append(chosen_series(main_window)))
    browser.add_selection_action(action)
    strip.choose_heading(heading)
    chosen = chosen_series(main_window)
    assert len(chosen) == 2
    assert {s.instances[0].header.PatientID for s in chosen} == {heading.data(CHOSEN_ROLE).header.PatientID}
    assert action in browser.selection_actions
    action.trigger()
    assert triggered == [chosen]
