"""The report view: every object listed in the browser with its kind, a report opened as a document,
its image links opening that image and frame in the active viewport."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from PySide6.QtCore import QUrl

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
from sr_reports import code, content_item, dose_report, sr_file  # noqa: E402  (the core tests' helper)

from viewer.core.documents.sr import read_report  # noqa: E402
from viewer.ui.documents.report_view import ReportView, parse_image_link, report_html  # noqa: E402

MULTI_FRAME = "emri_small.dcm"  # 10 frames


def report_on(path: Path, image: Path, frame: int) -> Path:
    """A Comprehensive SR whose finding points at frame `frame` of `image` (written with pydicom)."""
    target = pydicom.dcmread(image, stop_before_pixels=True)
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = target.SOPClassUID, target.SOPInstanceUID
    ref.ReferencedFrameNumber = frame
    scoord = content_item("CONTAINS", "SCOORD", code("111030", "DCM", "Image Region"), GraphicType="POLYLINE")
    scoord.GraphicData = [10.5, 20.0, 40.0, 20.0, 40.0, 50.25, 10.5, 20.0]
    scoord.ContentSequence = Sequence([content_item("SELECTED FROM", "IMAGE", None, ReferencedSOPSequence=Sequence([ref]))])
    root = Dataset()
    root.ValueType = "CONTAINER"
    root.ContinuityOfContent = "SEPARATE"
    root.ConceptNameCodeSequence = Sequence([code("18748-4", "LN", "Diagnostic Imaging Report")])
    findings = content_item("CONTAINS", "CONTAINER", code("121070", "DCM", "Findings"), ContinuityOfContent="SEPARATE")
    findings.ContentSequence = Sequence(
        [
            content_item("CONTAINS", "TEXT", code("121071", "DCM", "Finding"), TextValue="Bright spot"),
            content_item("CONTAINS", "IMAGE", code("121112", "DCM", "Source of Measurement"), ReferencedSOPSequence=Sequence([ref])),
            scoord,
        ]
    )
    root.ContentSequence = Sequence([findings])
    return sr_file(
        path,
        root,
        "1.2.840.10008.5.1.4.1.1.88.33",
        StudyInstanceUID=target.StudyInstanceUID,
        PatientName=str(target.PatientName),
        PatientID=str(target.get("PatientID", "")),
    )


def test_report_html_holds_the_document():
    report = read_report(get_testdata_file("test-SR.dcm"))
    text = report_html(report)
    assert "<h1>Diagnosis</h1>" in text
    for words in ("COMPLETE — This document is completed!", "VERIFIED", "Riesmeier, Jörg", "Sample Code 1", "3 cm", "2000-12-06"):
        assert words in text
    assert 'href="image:1.2.3.4.5.0?frame=5"' in text  # the CT image's frame 5, as the file says
    assert parse_image_link("image:1.2.3.4.5.0?frame=5") == ("1.2.3.4.5.0", 4)
    assert parse_image_link("https://example.org") is None


def test_view_emits_the_image_of_a_link(qtbot):
    view = ReportView()
    qtbot.addWidget(view)
    view.show_report(read_report(get_testdata_file("test-SR.dcm")))
    assert "Diagnosis" in view.toPlainText()
    with qtbot.waitSignal(view.image_requested) as signal:
        view.anchorClicked.emit(QUrl("image:1.2.3.4.5.0?frame=5"))
    assert signal.args == ["1.2.3.4.5.0", 4]


@pytest.fixture
def study(tmp_path):
    """A multi-frame image, a report pointing at its frame 3, an RT plan and an ECG."""
    folder = tmp_path / "disc"
    folder.mkdir()
    image = Path(shutil.copy(get_testdata_file(MULTI_FRAME), folder / "mr.dcm"))
    report_on(folder / "report.dcm", image, 3)
    shutil.copy(get_testdata_file("rtplan.dcm"), folder / "plan.dcm")
    shutil.copy(get_testdata_file("waveform_ecg.dcm"), folder / "ecg.dcm")
    return folder


def test_every_object_listed_with_its_kind_and_a_report_opens_with_working_links(main_window, open_in, study, qtbot):
    open_in(main_window, [study])
    qtbot.waitUntil(lambda: main_window.opener.catalog.series and not main_window.opener.busy, timeout=30000)
    browser = main_window.browser
    by_kind = {s.kind: s for s in main_window.opener.catalog.all_series()}
    assert set(by_kind) == {"image series", "report", "other", "ECG"}
    rows = {uid: item.text() for uid, item in browser.strip.series_items().items()}
    assert "Report" in rows[by_kind["report"].uid]
    assert "Other: RT Plan" in rows[by_kind["other"].uid]
    assert "ECG" in rows[by_kind["ECG"].uid]
    assert browser.series_items()[by_kind["report"].uid][9].text() == "Report"  # the tree's Images column
    assert not browser.series_items()[by_kind["report"].uid][0].icon().isNull()  # the icon of its kind, in the tree too

    shown = main_window.current_series
    with qtbot.assertNotEmitted(browser.series_activated):
        browser.activate(by_kind["report"])
    assert main_window.report_dock.isVisible()
    assert "Bright spot" in main_window.report_view.toPlainText()
    assert main_window.current_series is shown  # a report never replaces the image shown

    main_window.viewport.clear()
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        main_window.report_view.anchorClicked.emit(QUrl(main_window.report_view.toHtml().split('href="')[1].split('"')[0]))
    assert main_window.current_series is by_kind["image series"]
    assert main_window.viewport.current.frame == 2  # frame 3 of the report, 0-based

    # The region's link: the same image and frame, the polyline drawn on it where the file says.
    scoord_link = next(part.split('"')[0] for part in main_window.report_view.toHtml().split('href="') if "scoord=" in part.split('"')[0])
    main_window.report_view.anchorClicked.emit(QUrl(scoord_link.replace("&amp;", "&")))
    qtbot.waitUntil(lambda: main_window.report_controller.drawn is not None, timeout=30000)
    drawn = main_window.report_controller.drawn
    data = [float(v) for v in pydicom.dcmread(study / "report.dcm").ContentSequence[0].ContentSequence[2].GraphicData]
    box = drawn.path().boundingRect()
    assert (box.left(), box.top(), box.right(), box.bottom()) == (min(data[0::2]), min(data[1::2]), max(data[0::2]), max(data[1::2]))
    assert drawn.parentItem() is main_window.pane.image_parent() and main_window.viewport.current.frame == 2
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        main_window.viewport.go_to(0)
    assert main_window.report_controller.drawn is None  # another image: the region is not drawn on it

    browser.activate(by_kind["other"])
    assert "plan.dcm: has no image to show (it is an RT Plan Storage object)" in main_window.pane.message_label.text()


def test_a_report_opened_alone_is_shown(main_window, study, qtbot):
    main_window.open_paths([study / "report.dcm"])
    qtbot.waitUntil(lambda: main_window.report_dock.isVisible(), timeout=30000)
    assert "Diagnostic Imaging Report" in main_window.report_view.toPlainText()


def key_object_selection(path: Path, image: Path, frames: list[int]) -> Path:
    """A Key Object Selection flagging `frames` of `image` (written with pydicom, TID 2010's shape)."""
    target = pydicom.dcmread(image, stop_before_pixels=True)
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = target.SOPClassUID, target.SOPInstanceUID
    ref.ReferencedFrameNumber = frames
    root = Dataset()
    root.ValueType = "CONTAINER"
    root.ContinuityOfContent = "SEPARATE"
    root.ConceptNameCodeSequence = Sequence([code("113000", "DCM", "Of Interest")])
    root.ContentSequence = Sequence(
        [
            content_item("CONTAINS", "TEXT", code("113012", "DCM", "Key Object Description"), TextValue="Two frames of the lesion"),
            content_item("CONTAINS", "IMAGE", None, ReferencedSOPSequence=Sequence([ref])),
        ]
    )
    return sr_file(
        path,
        root,
        "1.2.840.10008.5.1.4.1.1.88.59",
        StudyInstanceUID=target.StudyInstanceUID,
        PatientName=str(target.PatientName),
        PatientID=str(target.get("PatientID", "")),
        Modality="KO",
    )


def test_key_images_marked_and_shown_alone(main_window, open_in, study, qtbot):
    key_object_selection(study / "ko.dcm", study / "mr.dcm", [2, 5])
    with qtbot.waitSignal(main_window.series_opened, timeout=30000):
        open_in(main_window, [study])
    browser = main_window.browser
    by_kind = {s.kind: s for s in main_window.opener.catalog.all_series()}
    mr = by_kind["image series"]
    row = browser.strip.series_items()[mr.uid]
    assert "★ 2 key images" in row.text()
    assert "Of Interest: Two frames of the lesion" in row.toolTip()
    assert browser.key_button.isVisibleTo(browser)

    browser.key_button.setChecked(True)  # key images only
    shown = {uid for uid, item in browser.strip.series_items().items() if not item.isHidden()}
    assert shown == {mr.uid, by_kind["key images"].uid}
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        browser.activate(mr)
    assert [ref.frame for ref in main_window.viewport.images] == [1, 4]  # frames 2 and 5, 0-based
    browser.key_button.setChecked(False)
    assert all(not item.isHidden() for item in browser.strip.series_items().values())

    browser.activate(by_kind["key images"])  # the KO itself: its title and description in the report view
    assert "Of Interest" in main_window.report_view.toPlainText()
    assert "Two frames of the lesion" in main_window.report_view.toPlainText()


def test_a_tid_1500_report_made_by_highdicom_in_the_report_dock(main_window, open_in, qtbot, tmp_path):
    """highdicom's Comprehensive 3D SR: its measurements, evaluations and regions read as dsrdump lists them
    (tests/core/test_sr.py), shown in the dock; a region's link opens the CT with the ellipse drawn where the file says."""
    from highdicom_objects import measurement_report

    folder = tmp_path / "study"
    folder.mkdir()
    ct = Path(shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm"))
    measurement_report(ct, folder / "tid1500.dcm")
    open_in(main_window, [folder])
    qtbot.waitUntil(lambda: not main_window.opener.busy, timeout=30000)
    report = next(s for s in main_window.opener.catalog.all_series() if s.kind == "report")
    main_window.browser.activate(report)
    text = main_window.report_view.toPlainText()
    for words in ("Imaging Measurement Report", "Lesion 1", "Lesion 3", "Clinically significant", "Yes", "No", "12.5", "13.5", "140"):
        assert words in text, words
    assert "Müller" in text and "mm2" in text
    links = [part.split('"')[0].replace("&amp;", "&") for part in main_window.report_view.toHtml().split('href="')[1:]]
    scoords = [link for link in links if "scoord=" in link]
    assert len(scoords) == 2  # the two SCOORD regions on the image (the SCOORD3D one names no image)
    main_window.viewport.clear()
    main_window.report_view.anchorClicked.emit(QUrl(scoords[1]))
    qtbot.waitUntil(lambda: main_window.report_controller.drawn is not None, timeout=30000)
    box = main_window.report_controller.drawn.path().boundingRect()
    # The ellipse's axes end at (60, 64), (90, 64), (75, 54), (75, 74): its box is 60-90 across, 54-74 down.
    assert [round(v, 3) for v in (box.left(), box.right(), box.top(), box.bottom())] == [60, 90, 54, 74]

    # The SCOORD3D polygon (mm, in the CT's frame of reference) through the centres of pixels (20, 90), (50, 90),
    # (50, 110), (20, 110) (column, row; tests/core/highdicom_objects.py places them by PS3.3 C.7.6.2.1.1):
    # projected onto the CT's plane, it is drawn from 20.5 to 50.5 across and 90.5 to 110.5 down (pixel edges at
    # whole numbers).
    regions = [part.split('"')[0] for part in main_window.report_view.toHtml().split('href="')[1:] if part.startswith("scoord3d:")]
    assert len(regions) == 1
    main_window.viewport.clear()
    main_window.report_view.anchorClicked.emit(QUrl(regions[0]))
    qtbot.waitUntil(lambda: main_window.report_controller.drawn is not None, timeout=30000)
    assert main_window.viewport.current.instance.path == ct
    box = main_window.report_controller.drawn.path().boundingRect()
    assert [round(v, 2) for v in (box.left(), box.right(), box.top(), box.bottom())] == [20.5, 50.5, 90.5, 110.5]


def test_spatial_coordinates_of_another_frame_of_reference_are_not_drawn(main_window, open_in, qtbot, tmp_path):
    """A SCOORD3D whose frame of reference no opened image shares: one line in the status bar, nothing drawn."""
    from highdicom_objects import measurement_report

    folder = tmp_path / "study"
    folder.mkdir()
    ct = Path(shutil.copy(get_testdata_file("CT_small.dcm"), folder / "ct.dcm"))
    report = pydicom.dcmread(measurement_report(ct, tmp_path / "tid1500.dcm"))
    other = pydicom.uid.generate_uid()
    for item in report.ContentSequence[-1].ContentSequence[-1].ContentSequence:
        if item.ValueType == "SCOORD3D":
            item.ReferencedFrameOfReferenceUID = other
    report.save_as(folder / "tid1500.dcm")
    open_in(main_window, [folder])
    qtbot.waitUntil(lambda: not main_window.opener.busy, timeout=30000)
    main_window.browser.activate(next(s for s in main_window.opener.catalog.all_series() if s.kind == "report"))
    region = next(part.split('"')[0] for part in main_window.report_view.toHtml().split('href="')[1:] if part.startswith("scoord3d:"))
    main_window.report_view.anchorClicked.emit(QUrl(region))
    assert main_window.report_controller.drawn is None
    assert (
        "No image opened lies in the plane" in main_window.statusBar().currentMessage()
        and other in main_window.statusBar().currentMessage()
    )


def gold_pixels(icon, size: int) -> int:
    """How many pixels of `icon` at `size` are the key-image star's gold (a thumbnail of grey MR has none)."""
    image = icon.pixmap(size, size).toImage()
    found = 0
    for y in range(image.height()):
        for x in range(image.width()):
            colour = image.pixelColor(x, y)
            found += colour.red() > 200 and 150 < colour.green() < 230 and colour.blue() < 80
    return found


def test_key_images_starred_in_the_tree_on_thumbnails_and_in_the_viewport(main_window, open_in, study, qtbot):
    key_object_selection(study / "ko.dcm", study / "mr.dcm", [2, 5])
    shutil.copy(get_testdata_file("CT_small.dcm"), study / "ct.dcm")  # an image series without key images
    with qtbot.waitSignal(main_window.series_opened, timeout=30000):
        open_in(main_window, [study])
    browser = main_window.browser
    catalog = main_window.opener.catalog
    mr = next(s for s in catalog.all_series() if s.modality == "MR")
    ct = next(s for s in catalog.all_series() if s.modality == "CT")
    # The tree: a star before the series' name, the KO's title and description in its tooltip; not on the CT.
    name = browser.series_items()[mr.uid][0]
    assert name.text().startswith("★ ") and "Of Interest: Two frames of the lesion" in name.toolTip()
    assert not browser.series_items()[ct.uid][0].text().startswith("★")
    # The thumbnails, in the strip and the tree: a gold star on the MR's, none on the CT's.
    qtbot.waitUntil(lambda: mr.uid in browser._icons and ct.uid in browser._icons, timeout=30000)
    assert gold_pixels(browser.strip.series_items()[mr.uid].icon(), 56) > 20
    assert gold_pixels(browser.series_items()[mr.uid][0].icon(), 48) > 20
    assert gold_pixels(browser.strip.series_items()[ct.uid].icon(), 56) == 0
    assert gold_pixels(browser.series_items()[ct.uid][0].icon(), 48) == 0
    # A rebuild (another character set chosen...) keeps the marks.
    browser.rebuild(catalog)
    assert browser.series_items()[mr.uid][0].text().startswith("★ ")
    assert gold_pixels(browser.strip.series_items()[mr.uid].icon(), 56) > 20

    # The viewport: "★ Key image" in the corner text on frames 2 and 5 only.
    viewport = main_window.viewport
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        browser.activate(mr)
    corner = main_window.pane.corner_labels["bottom_left"]
    for index, key in ((0, False), (1, True), (2, False), (4, True)):
        if viewport.display.state.index != index:
            with qtbot.waitSignal(viewport.image_shown, timeout=30000):
                viewport.go_to(index)
        assert ("★ Key image" in corner.text()) is key, (index, corner.text())


def test_a_long_report_is_shown_whole(qtbot, tmp_path):
    """A 2,000-item dose report: its first items at once, every item once the event loop has turned."""
    path = dose_report(tmp_path / "dose.dcm", 2000)
    view = ReportView()
    qtbot.addWidget(view)
    view.show_report(read_report(path))
    qtbot.waitUntil(lambda: view.complete)
    text = view.toPlainText()
    last = pydicom.dcmread(path).ContentSequence[-1].ContentSequence[0].TextValue
    assert text.count("Acquisition Protocol:") == len(pydicom.dcmread(path).ContentSequence) - 1
    assert text.rstrip().splitlines()[-1].startswith("DLP:") and last in text
