"""The study browser as a user drives it: open a folder or media, pick a series, cancel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from PySide6.QtCore import Qt

MEDIA = Path(get_testdata_file("CT_small.dcm")).parent / "dicomdirtests"


def make_study(folder: Path, patients=2, series_per_patient=2, slices=3) -> dict[str, int]:
    """Real images (pydicom's CT_small) rewritten as several patients and series."""
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    counts = {}
    for p in range(patients):
        study_uid = generate_uid()
        for s in range(series_per_patient):
            series_uid = generate_uid()
            counts[series_uid] = slices
            for i in range(slices):
                ds = src.copy()
                ds.PatientName = f"Patient^{p}"
                ds.PatientID = f"ID{p}"
                ds.StudyInstanceUID = study_uid
                ds.SeriesInstanceUID = series_uid
                ds.SeriesNumber = s + 1
                ds.SeriesDescription = f"series {s + 1}"
                ds.SOPInstanceUID = generate_uid()
                ds.InstanceNumber = i + 1
                ds.ImagePositionPatient = [0, 0, float(i)]
                out = folder / f"p{p}" / f"s{s}" / f"im{i}.dcm"
                out.parent.mkdir(parents=True, exist_ok=True)
                ds.save_as(out)
    return counts


def series_rows(window):
    return window.browser.series_items()


def test_open_folder_tree_and_double_click(main_window, qtbot, tmp_path):
    counts = make_study(tmp_path)
    (tmp_path / "readme.txt").write_text("not DICOM")
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path])
    browser = main_window.browser
    assert browser.model.rowCount() == 2  # two patients
    assert set(series_rows(main_window)) == set(counts)
    for uid, row in series_rows(main_window).items():
        assert row[9].text() == str(counts[uid])
    assert ", 1 other file skipped" in browser.summary_label.text()  # readme.txt
    # Double-click the last series in the full tree (the series strip is the default view since #14): its image shows at once.
    browser.show_tree(True)
    uid, row = list(series_rows(main_window).items())[-1]
    index = browser.proxy.mapFromSource(row[0].index())
    browser.tree.scrollTo(index)
    rect = browser.tree.visualRect(index)
    assert rect.isValid() and browser.tree.viewport().rect().contains(rect.center())
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        # A real double-click: press, release, then the double-click event.
        qtbot.mouseClick(browser.tree.viewport(), qtbot_left(), pos=rect.center())
        qtbot.mouseDClick(browser.tree.viewport(), qtbot_left(), pos=rect.center())
    assert main_window.current_series.uid == uid
    assert len(main_window.images) == counts[uid]
    assert main_window.pane.displayed_pixels() is not None
    # Thumbnails arrive in the background.
    qtbot.waitUntil(lambda: not row[0].icon().isNull(), timeout=30000)


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_filter_box(main_window, qtbot, tmp_path):
    make_study(tmp_path)
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path])
    browser = main_window.browser
    browser.filter_edit.setText("Patient, 1")  # displayed as 'Patient, 1'
    assert browser.proxy.rowCount() == 1
    browser.filter_edit.setText("no such thing")
    assert browser.proxy.rowCount() == 0
    browser.filter_edit.clear()
    assert browser.proxy.rowCount() == 2


def test_dicomdir_media_tree_from_records(main_window, qtbot):
    reference = pydicom.dcmread(MEDIA / "DICOMDIR")
    records = reference.DirectoryRecordSequence
    patients = {r.PatientID for r in records if r.DirectoryRecordType == "PATIENT"}
    series = {r.SeriesInstanceUID for r in records if r.DirectoryRecordType == "SERIES"}
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([MEDIA])  # the media root: DICOMDIR found there
    assert main_window.browser.model.rowCount() == len(patients)
    assert set(series_rows(main_window)) == series


def test_cancel_stops_a_scan(main_window, qtbot, tmp_path):
    src = get_testdata_file("MR_small.dcm")
    data = Path(src).read_bytes()
    for i in range(1500):
        folder = tmp_path / f"d{i // 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i}.dcm").write_bytes(data)
    with qtbot.waitSignal(main_window.opener.finished, timeout=30000) as blocker:
        main_window.open_paths([tmp_path])
        # The user presses Cancel while the scan runs (it reads 1500 files in the background).
        main_window.browser.cancel_button.click()
    final = blocker.args[0]
    assert final.cancelled
    assert final.files_seen < 1500
    assert "Cancelled" in main_window.browser.summary_label.text()


def test_recent_locations_are_remembered(main_window, qtbot, tmp_path):
    make_study(tmp_path, patients=1, series_per_patient=1, slices=1)
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path])
    main_window._fill_recent_menu()
    texts = [a.text() for a in main_window.recent_menu.actions()]
    assert str(tmp_path) in texts


def test_series_loads_in_the_background_nearest_first(main_window, qtbot, tmp_path):
    make_study(tmp_path, patients=1, series_per_patient=1, slices=12)
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path])
    qtbot.waitUntil(lambda: main_window.frame is not None, timeout=30000)
    # Every image of the series ends up decoded without the user scrolling.
    qtbot.waitUntil(lambda: all(main_window.frame_source.cached(ref) for ref in main_window.images), timeout=30000)
    first = main_window.frame_source.frame(main_window.images[0])
    expected = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array
    assert np.array_equal(first.stored, expected)


def test_multiframe_file_on_media_shows_every_frame(main_window, qtbot, tmp_path):
    # pydicom's FileSet writes IMAGE records without Number of Frames: the
    # viewer must learn the frame count from the file itself.
    from pydicom.fileset import FileSet

    ds = pydicom.dcmread(get_testdata_file("emri_small.dcm"))
    # pydicom's record creators require these (PS3.3 F.5 Type 1 keys).
    ds.PatientID = ds.get("PatientID") or "EMRI"
    ds.StudyID = ds.get("StudyID") or "1"
    ds.StudyDate = ds.get("StudyDate") or "20000101"
    ds.StudyTime = ds.get("StudyTime") or "000000"
    ds.SeriesNumber = ds.get("SeriesNumber") or 1
    ds.InstanceNumber = ds.get("InstanceNumber") or 1
    fs = FileSet()
    fs.add(ds)
    fs.write(tmp_path / "media")
    record = pydicom.dcmread(tmp_path / "media" / "DICOMDIR").DirectoryRecordSequence[-1]
    assert "NumberOfFrames" not in record
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path / "media"])
    qtbot.waitUntil(lambda: main_window.frame is not None, timeout=30000)
    assert len(main_window.images) == 10
    assert main_window.slider.maximum() == 9
    qtbot.keyClick(main_window, Qt.Key.Key_End)
    assert "Fr 10/10" in main_window.pane.corner_labels["bottom_left"].text()


def test_drag_and_drop_a_folder(main_window, qtbot, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    counts = make_study(tmp_path, patients=1, series_per_patient=2, slices=2)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path))])
    enter = QDragEnterEvent(
        main_window.rect().center(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.instance().sendEvent(main_window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(main_window.rect().center()), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        QApplication.instance().sendEvent(main_window, drop)
    assert set(series_rows(main_window)) == set(counts)
