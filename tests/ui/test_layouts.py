"""Layouts of viewports as a user drives them: shapes, the active viewport, hanging, drops, maximise, priors.

Real files (pydicom's CT and multi-frame MR) and files generated here with
pydicom for what no real file covers (a study of four series, two studies of
one patient on different dates).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from PySide6.QtCore import QByteArray, QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from viewer.core.display.hanging import GridShape, HangingProtocol
from viewer.core.display.pixels.pipeline import Window
from viewer.ui.browsing.browser import SERIES_ROLE
from viewer.ui.browsing.series_strip import SERIES_MIME
from viewer.ui.viewport.viewport_layout import ACTIVE_BORDER

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)


def write_ct(folder, name, *, patient="P-14", issuer="HOSP-A", study_uid, series_uid, number, description, date, time="120000", slices=3):
    """A small CT series (8x8, values = slice index * 10 + series number) of one study, written with pydicom."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(slices):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.IssuerOfPatientID, ds.PatientBirthDate = "Layout^Test", patient, issuer, "19700101"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.StudyDate, ds.StudyTime, ds.StudyDescription = date, time, f"Chest {date}"
        ds.Modality, ds.SeriesNumber, ds.SeriesDescription, ds.InstanceNumber = "CT", number, description, k + 1
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(k)]
        ds.PixelSpacing, ds.SliceThickness = [0.5, 0.5], 1.0
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = np.full((8, 8), 1024 + k * 10 + int(number), dtype=np.uint16).tobytes()
        ds.save_as(folder / f"{name}_{k:02d}.dcm", enforce_file_format=True)


def four_series_study(folder):
    """One CT study with series 1 to 4 (names sort in series order)."""
    study = generate_uid()
    for number, description in ((1, "Scout"), (2, "Axial 5mm"), (3, "Axial 1mm"), (4, "Coronal")):
        write_ct(folder, f"s{number}", study_uid=study, series_uid=generate_uid(), number=number, description=description, date="20240610")
    return folder


def open_and_wait(qtbot, window, paths):
    with qtbot.waitSignal(window.series_opened, timeout=30000):
        window.open_paths([str(p) for p in paths])


def wait_shown(qtbot, *viewports):
    qtbot.waitUntil(lambda: all(v.frame is not None for v in viewports), timeout=30000)


@pytest.fixture
def window(main_window):
    main_window.settings.hanging = {}  # each test starts from no layout kept
    return main_window


# ------------------------------------------------------------------ bullet 1: shapes
def test_each_named_layout_and_a_custom_one_give_that_many_viewports_and_keep_the_first(qtbot, window):
    open_and_wait(qtbot, window, [CT])
    grid = window.viewports
    first = grid.viewports[0]
    wait_shown(qtbot, first)
    first.set_window(100, 300)
    first.pane.set_zoom(2.0)
    centre = first.pane.view_box.viewRect().center()
    for text, count in (("1x2", 2), ("2x1", 2), ("2x2", 4), ("1x3", 3), ("3x3", 9), ("1x1", 1)):
        next(a for a in window.layouts.shape_actions if a.text() == text).trigger()
        assert len(grid.viewports) == count
        assert sum(1 for v in grid.viewports if v.isVisible()) == count
        # The first viewport keeps its series, window and zoom (the part of the image in view, centred
        # where it was; a smaller cell shows less of it) through every change.
        assert grid.viewports[0] is first and first.current_series is not None
        assert first.display.state.voi.center == 100 and not first.pane.fitted
        now = first.pane.view_box.viewRect().center()
        assert (now.x(), now.y()) == pytest.approx((centre.x(), centre.y()), abs=0.5)
    # A custom 3 rows x 4 columns from the chooser's grid of squares.
    picker = window.layouts.chooser.picker
    picker.resize(picker.sizeHint())
    from PySide6.QtTest import QTest

    QTest.mouseClick(picker, Qt.MouseButton.LeftButton, pos=picker.square_centre(GridShape(3, 4)))
    assert grid.shape == GridShape(3, 4) and len(grid.viewports) == 12
    rows = {v.parentWidget().geometry().top() for v in grid.viewports}
    columns = {v.parentWidget().geometry().left() for v in grid.viewports}
    assert len(rows) == 3 and len(columns) == 4
    # The largest, 4x4, from the keyboard: arrows in the grid of squares, Return.
    for key in (Qt.Key.Key_Down, Qt.Key.Key_Right, Qt.Key.Key_Down):
        QTest.keyClick(picker, key)
    QTest.keyClick(picker, Qt.Key.Key_Return)
    assert grid.shape == GridShape(4, 4) and len(grid.viewports) == 16 and grid.viewports[0] is first


def test_a_viewport_that_no_longer_fits_is_emptied_and_a_larger_grid_reuses_it(qtbot, window):
    window.layouts.choose(GridShape(1, 2))
    open_and_wait(qtbot, window, [CT])
    grid = window.viewports
    second = grid.viewports[1]
    second.show_series(window.series[0])
    wait_shown(qtbot, second)
    grid.set_active(second)
    window.layouts.choose(GridShape(1, 1))
    assert window.viewport is grid.viewports[0]  # the active one went: the first is active
    assert second.current_series is None and not second.isVisible()
    window.layouts.choose(GridShape(2, 2))
    assert grid.viewports[1] is second and second.isVisible()


# ------------------------------------------------------------------ bullet 2: the active viewport
def test_a_click_makes_a_viewport_active_its_border_shows_it_and_the_window_follows(qtbot, window, tmp_path):
    from PySide6.QtTest import QTest

    window.layouts.choose(GridShape(1, 2))
    open_and_wait(qtbot, window, [CT, MR_MULTIFRAME])
    grid = window.viewports
    left, right = grid.viewports
    ct = next(s for s in window.series if s.modality == "CT")
    mr = next(s for s in window.series if s.modality == "MR")
    left.show_series(ct)
    right.show_series(mr)
    wait_shown(qtbot, left, right)
    grid.set_active(left)
    window.pipeline_dock.refresh()
    ct_pipeline = window.pipeline_label.text()
    hu_offers = [window.preset_combo.itemText(i) for i in range(window.preset_combo.count())]
    assert any("Brain" in t or "Lung" in t for t in hu_offers)  # the CT's HU presets

    QTest.mouseClick(right.pane.image_surface(), Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    assert window.viewport is right and window.current_series is mr
    qtbot.waitUntil(lambda: grid.cell_of(right).grab().toImage().pixelColor(0, 0) == ACTIVE_BORDER)
    assert grid.cell_of(left).grab().toImage().pixelColor(0, 0) != ACTIVE_BORDER
    # The Window box offers the MR's windows (no HU presets), the pipeline dock shows the MR.
    mr_offers = [window.preset_combo.itemText(i) for i in range(window.preset_combo.count())]
    assert mr_offers != hu_offers and not any("Lung" in t for t in mr_offers)
    assert window.pipeline_label.text() not in ("", ct_pipeline)
    assert window.pipeline_label.text() == window.pipeline_dock.label.text()
    selected = window.browser.tree.currentIndex()
    assert window.browser.proxy.mapToSource(selected.siblingAtColumn(0)).data(SERIES_ROLE) is mr
    # Keys act on the active viewport only.
    before, right_before = left.display.state.index, right.display.state.index
    window.step(1)
    assert right.display.state.index == right_before + 1 and left.display.state.index == before
    window.layouts.next_action.trigger()
    assert window.viewport is left


# ------------------------------------------------------------------ bullet 3: hanging
def test_a_study_of_four_series_fills_a_2x2_in_series_order(qtbot, window, tmp_path):
    window.layouts.choose(GridShape(2, 2))
    open_and_wait(qtbot, window, [four_series_study(tmp_path / "study")])
    numbers = [v.current_series.number if v.current_series else None for v in window.viewports]
    first = window.viewports.viewports[0].current_series.number
    # The series shown at once keeps the top left; the others follow in series order.
    assert numbers == [first] + [n for n in ("1", "2", "3", "4") if n != first]
    assert first == "1", "the scan met series 1 first (its files' names sort first)"
    assert window.viewport is window.viewports.viewports[0]


def test_a_single_series_goes_to_the_first_viewport_and_the_others_are_emptied(qtbot, window):
    window.layouts.choose(GridShape(2, 2))
    grid = window.viewports
    grid.set_active(grid.viewports[3])
    open_and_wait(qtbot, window, [CT])
    assert grid.viewports[0].current_series is not None
    assert [v.current_series for v in grid.viewports[1:]] == [None, None, None]
    assert window.viewport is grid.viewports[0]


# ------------------------------------------------------------------ bullet 4: per viewport state
def test_window_frame_zoom_and_cine_are_each_viewports_own(qtbot, window):
    window.layouts.choose(GridShape(1, 2))
    open_and_wait(qtbot, window, [MR_MULTIFRAME])
    left, right = window.viewports.viewports
    mr = window.series[0]
    right.show_series(mr)
    wait_shown(qtbot, left, right)
    right_state, right_zoom = right.display.state, right.pane.zoom()
    left.set_window(500, 200)
    left.go_to(3)
    left.pane.set_zoom(3.0)
    qtbot.waitUntil(lambda: left.current is not None and left.frame is not None and left._ref == left.current)
    assert left.display.state.voi == Window(500, 200) and left.display.state.index == 3
    assert right.display.state == right_state and right.pane.zoom() == pytest.approx(right_zoom)
    left.cine.play()
    assert left.cine.playing and not right.cine.playing
    left.cine.stop()


# ------------------------------------------------------------------ bullet 5: maximise
def test_double_click_maximises_a_viewport_and_again_brings_the_grid_back(qtbot, window):
    from PySide6.QtTest import QTest

    window.layouts.choose(GridShape(2, 2))
    open_and_wait(qtbot, window, [CT])
    grid = window.viewports
    target = grid.viewports[2]
    QTest.mouseDClick(target.pane.image_surface(), Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert grid.maximised is target and window.viewport is target
    assert [v.isVisible() for v in grid.viewports] == [False, False, True, False]
    qtbot.waitUntil(lambda: target.width() > grid.width() * 0.9)
    QTest.mouseDClick(target.pane.image_surface(), Qt.MouseButton.LeftButton, pos=QPoint(10, 10))
    assert grid.maximised is None and all(v.isVisible() for v in grid.viewports)
    qtbot.waitUntil(lambda: target.width() < grid.width() * 0.6)
    # From the keyboard (View > Layout > Maximise viewport), and going to a hidden viewport brings the grid back.
    window.layouts.maximise_action.trigger()
    assert grid.maximised is target and window.layouts.maximise_action.isChecked()
    window.layouts.next_action.trigger()
    assert grid.maximised is None and window.viewport is grid.viewports[3]
    assert not window.layouts.maximise_action.isChecked()


# ------------------------------------------------------------------ bullet 6: per modality in the settings
def test_the_layout_chosen_for_ct_is_kept_and_a_ct_opens_in_it(qtbot, window, tmp_path):
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import SettingsStore

    open_and_wait(qtbot, window, [CT])
    window.layouts.choose(GridShape(1, 3))
    kept = SettingsStore().load().hanging
    assert kept["CT"].shape == GridShape(1, 3)

    other = MainWindow()
    qtbot.addWidget(other)
    other.show()
    try:
        assert other.settings.hanging["CT"].shape == GridShape(1, 3)
        open_and_wait(qtbot, other, [four_series_study(tmp_path / "study")])
        assert other.viewports.shape == GridShape(1, 3)
        assert [v.current_series.number for v in other.viewports] == ["1", "2", "3"]
        # An MR opens in the layout the window has: nothing was kept for MR.
        assert "MR" not in other.settings.hanging
    finally:
        other.close()
        SettingsStore().save_hanging({})


def test_a_series_dropped_in_a_cell_is_kept_in_that_cell_for_the_modality(qtbot, window, tmp_path):
    window.layouts.choose(GridShape(1, 2))
    open_and_wait(qtbot, window, [four_series_study(tmp_path / "study")])
    coronal = next(s for s in window.series if s.description == "Coronal")
    window.viewports.drop_series(window.viewports.viewports[1], coronal.uid)
    try:
        assert window.settings.hanging["CT"] == HangingProtocol(GridShape(1, 2), ("Scout", "Coronal"))
        window.close_all()
        open_and_wait(qtbot, window, [tmp_path / "study"])
        assert [v.current_series.description for v in window.viewports] == ["Scout", "Coronal"]
    finally:
        window.settings_store.save_hanging({})


# ------------------------------------------------------------------ bullet 7: drops
def drop(widget, mime: QMimeData, point=QPoint(15, 15)):
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    enter = QDragEnterEvent(point, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    event = QDropEvent(QPointF(point), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return enter.isAccepted(), event.isAccepted()


def test_a_series_dropped_on_any_viewport_is_shown_there(qtbot, window):
    window.layouts.choose(GridShape(2, 2))
    open_and_wait(qtbot, window, [CT, MR_MULTIFRAME])
    grid = window.viewports
    mr = next(s for s in window.series if s.modality == "MR")
    target = grid.viewports[3]
    mime = QMimeData()
    mime.setData(SERIES_MIME, QByteArray(mr.uid.encode("utf-8")))
    assert drop(target.pane.image_surface(), mime) == (True, True)
    assert target.current_series is mr and window.viewport is target
    wait_shown(qtbot, target)
    # Something else dragged (text) is not taken; an unknown UID says so.
    other = QMimeData()
    other.setText("hello")
    assert drop(grid.viewports[1].pane.image_surface(), other) == (False, False)
    unknown = QMimeData()
    unknown.setData(SERIES_MIME, QByteArray(b"1.2.3.4"))
    with qtbot.waitSignal(grid.viewports[1].status) as said:
        drop(grid.viewports[1].pane.image_surface(), unknown)
    assert "no longer open" in said.args[0]
    assert grid.viewports[1].current_series is None


# ------------------------------------------------------------------ bullet 8: compare with prior
def test_compare_with_prior_puts_the_latest_prior_ct_beside_the_current(qtbot, window, tmp_path):
    study_uids = {date: generate_uid() for date in ("20220301", "20230301", "20240610")}
    for date, study in study_uids.items():
        write_ct(tmp_path / date, "ct", study_uid=study, series_uid=generate_uid(), number=2, description="Axial", date=date)
    # Another patient's later-but-earlier study (same ID, other issuer) is not a prior.
    write_ct(
        tmp_path / "other",
        "ct",
        issuer="HOSP-B",
        study_uid=generate_uid(),
        series_uid=generate_uid(),
        number=2,
        description="Axial",
        date="20240101",
    )
    open_and_wait(qtbot, window, [tmp_path / "20240610"])
    open_and_wait(qtbot, window, [tmp_path / d for d in ("20220301", "20230301", "other")])
    grid = window.viewports
    current = next(s for s in window.series if window.opener.catalog.study_of(s).uid == study_uids["20240610"])
    grid.viewports[0].show_series(current)
    grid.set_active(grid.viewports[0])
    window.layouts.compare_action.trigger()
    assert grid.shape == GridShape(1, 2)
    left, right = grid.viewports
    assert left.current_series is current
    assert window.opener.catalog.study_of(right.current_series).uid == study_uids["20230301"]
    assert "2023-03-01" in window.statusBar().currentMessage()


def test_compare_with_prior_says_so_when_there_is_none(qtbot, window, tmp_path):
    write_ct(tmp_path / "only", "ct", study_uid=generate_uid(), series_uid=generate_uid(), number=1, description="Axial", date="20240610")
    open_and_wait(qtbot, window, [tmp_path / "only"])
    assert window.layouts.compare_with_prior() is False
    assert window.viewports.shape == GridShape(1, 1)
    assert "No prior CT of this patient is open" in window.statusBar().currentMessage()


def test_viewports_of_a_copy_of_the_ct_open_side_by_side(qtbot, window, tmp_path):
    """A smoke check of the 2x2 the benchmark measures: four CT viewports, each with its image."""
    window.layouts.choose(GridShape(2, 2))
    copies = []
    for k in range(4):
        copy = tmp_path / f"ct{k}.dcm"
        shutil.copy(CT, copy)
        copies.append(copy)
    open_and_wait(qtbot, window, copies)
    series = window.series[0]
    for viewport in window.viewports:
        viewport.show_series(series)
    wait_shown(qtbot, *window.viewports)


def test_two_viewports_background_work_of_one_kind_does_not_supersede_each_other(qtbot):
    """Each viewport decodes its current image and computes its series' window: neither result is dropped."""
    from viewer.ui.window.workers import BackgroundRunner, ScopedRunner

    runner = BackgroundRunner()
    results = []
    first, second = ScopedRunner(runner, "one"), ScopedRunner(runner, "two")
    first.submit("series-window", lambda: 1, results.append)
    second.submit("series-window", lambda: 2, results.append)
    qtbot.waitUntil(lambda: len(results) == 2)
    assert sorted(results) == [1, 2]
    # Within one owner the newest still wins.
    first.submit("decode-current", lambda: 3, results.append).result()
    first.submit("decode-current", lambda: 4, results.append).result()
    qtbot.waitUntil(lambda: 4 in results)
    assert 3 not in results
    runner.shutdown()


def test_what_a_viewport_that_is_not_active_does_leaves_the_window_showing_the_active_one(qtbot, window):
    window.layouts.choose(GridShape(1, 2))
    open_and_wait(qtbot, window, [MR_MULTIFRAME])
    left, right = window.viewports.viewports
    right.show_series(window.series[0])
    wait_shown(qtbot, left, right)
    window.viewports.set_active(right)
    right.toggle_invert()
    assert window.invert_action.isChecked()
    window.viewports.set_active(left)
    assert not window.invert_action.isChecked()  # the actions show the active viewport
    right.step(1)  # as its cine would, while the left one is active
    right.set_window(300, 100)
    assert not window.invert_action.isChecked() and window.viewport is left
    assert window.preset_combo.currentText() != "Custom"


def test_a_narrow_viewport_keeps_only_play_beside_its_slider(main_window, open_in, qtbot):
    open_in(main_window, [CT])
    bar = main_window.viewport.cine_bar
    assert bar.rate_spin.isVisible() and bar.mode_combo.isVisible()  # 1x1 in a 1200 px window: room for all
    main_window.layouts.choose(GridShape(2, 2))
    qtbot.waitUntil(lambda: main_window.viewports.viewports[0].width() < 720)
    for viewport in main_window.viewports.viewports:
        qtbot.waitUntil(lambda viewport=viewport: not viewport.cine_bar.rate_spin.isVisible() or not viewport.isVisible())
        assert not viewport.cine_bar.mode_combo.isVisible() and not viewport.cine_bar.speed_label.isVisible()
    main_window.layouts.choose(GridShape(1, 1))
    qtbot.waitUntil(lambda: bar.rate_spin.isVisible() and bar.mode_combo.isVisible())
