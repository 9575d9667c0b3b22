"""File > De-identify... offscreen: the menu entries, the burned-in list, a run in the background."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

from tests.core.deid_corpus import PLANTED, write_corpus
from viewer.ui.sharing.deidentify_dialog import MENU_TEXT, DeidentifyDialog, parse_rectangles


def test_offered_in_the_file_menu_and_the_browser(main_window):
    file_menu = next(a.menu() for a in main_window.menuBar().actions() if a.text().replace("&", "") == "File")
    assert MENU_TEXT in [a.text() for a in file_menu.actions()]
    assert MENU_TEXT in [a.text() for a in main_window.browser.selection_actions]


def test_a_run_writes_copies_and_lists_burned_in_images(main_window, qtbot, tmp_path):
    sources = write_corpus(tmp_path / "src")
    us = tmp_path / "src" / "us.dcm"
    shutil.copy(get_testdata_file("US1_J2KR.dcm"), us)
    dialog = DeidentifyDialog([*sources, us], main_window.runner, main_window)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.burned_list.count() == 1, timeout=10_000)
    assert "us.dcm: US image without Burned In Annotation" == dialog.burned_list.item(0).text()
    dialog.start()
    assert "output folder" in dialog.status.text()  # nothing starts without one
    dialog.output.setText(str(tmp_path / "out"))
    dialog.option_boxes["retain_modified_dates"].setChecked(True)
    dialog.shift.setValue(-30)
    dialog.blackout.setChecked(True)
    dialog.rectangles.setText("0 0 20 10")
    dialog.start()
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=30_000)
    assert dialog.result.blacked_out == 1 and len(dialog.result.written) == 3
    assert "3 files written" in dialog.status.text()
    assert dialog.progress.value() == 3
    for path in dialog.result.written:
        assert PLANTED["LO Patient ID"].encode() not in Path(path).read_bytes()
    copy = next(pydicom.dcmread(p) for p in dialog.result.written if pydicom.dcmread(p).Modality == "CT")
    assert copy.StudyDate == "20110718"  # 2011-08-17 moved 30 days back


def test_rectangles_are_checked():
    assert [(r.x, r.y, r.width, r.height) for r in parse_rectangles("1 2 3 4; 5,6,7,8")] == [(1, 2, 3, 4), (5, 6, 7, 8)]
    try:
        parse_rectangles("1 2 3")
    except ValueError as exc:
        assert "four whole numbers" in str(exc)
    else:
        raise AssertionError("three numbers accepted")
