"""The window as a user drives it: open, window by dragging, scroll, read values.

Expected grey levels come from the standard's equations (PS3.3 C.11.1 and
C.11.2.1.2.1) computed here from the stored values, not from the viewer.
"""

from __future__ import annotations

import math
import shutil

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)
CR_MONOCHROME1 = get_testdata_file("RG3_UNCI.dcm", download=False)


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 with ymin 0, ymax 255."""
    x = np.asarray(x, dtype=float)
    lo = center - 0.5 - (width - 1) / 2
    hi = center - 0.5 + (width - 1) / 2
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    return np.where(x <= lo, 0, np.where(x > hi, 255, y))


def ct_hu() -> np.ndarray:
    ds = pydicom.dcmread(CT)
    return ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def shown_whole_image(window) -> np.ndarray:
    """The pane's pixels, checked to be the whole image at stride 1."""
    region, stride = window.pane.last_render
    rows, cols = window.frame.shape
    assert region == (0, rows, 0, cols) and stride == 1, (region, stride)
    return window.pane.displayed_pixels()


def drag(widget, start: QPoint, end: QPoint, button=Qt.MouseButton.LeftButton, steps: int = 5) -> None:
    """A real press-move-release with the button held (QTest cannot hold buttons on move)."""
    app = QApplication.instance()
    app.sendEvent(
        widget,
        QMouseEvent(
            QEvent.Type.MouseButtonPress, QPointF(start), QPointF(widget.mapToGlobal(start)), button, button, Qt.KeyboardModifier.NoModifier
        ),
    )
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        app.sendEvent(
            widget,
            QMouseEvent(
                QEvent.Type.MouseMove,
                QPointF(p),
                QPointF(widget.mapToGlobal(p)),
                Qt.MouseButton.NoButton,
                button,
                Qt.KeyboardModifier.NoModifier,
            ),
        )
    app.sendEvent(
        widget,
        QMouseEvent(
            QEvent.Type.MouseButtonRelease,
            QPointF(end),
            QPointF(widget.mapToGlobal(end)),
            button,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )


def test_ct_opens_with_the_files_window(main_window, open_in):
    open_in(main_window, [CT])
    shown = shown_whole_image(main_window).astype(int)
    expected = linear_window(ct_hu(), 40, 100)  # the file's (0028,1050/1051)
    assert np.abs(shown - expected).max() <= 1
    corners = {k: v.text() for k, v in main_window.pane.corner_labels.items()}
    assert "W 100 L 40" in corners["bottom_right"]
    assert "Im 1/1" in corners["bottom_left"]
    assert "CQ500-CT-310" in corners["top_left"]  # Patient ID


def test_dragging_changes_the_window_as_the_standard_says(main_window, open_in, qtbot):
    open_in(main_window, [CT])
    viewport = main_window.pane.view.viewport()
    center = viewport.rect().center()
    before = main_window.effective_voi()
    drag(viewport, center, center + QPoint(120, -40))
    after = main_window.effective_voi()
    assert after.source == "user"
    assert after.width > before.width and after.center < before.center  # right widens, up lowers the level
    shown = shown_whole_image(main_window).astype(int)
    expected = linear_window(ct_hu(), after.center, after.width)
    assert np.abs(shown - expected).max() <= 1
    assert main_window.preset_combo.currentText() == "Custom"
    # Whole numbers in the corner (#14); the exact window is the one applied above.
    assert f"W {math.floor(after.width + 0.5)} L {math.floor(after.center + 0.5)}" in main_window.pane.corner_labels["bottom_right"].text()


def test_presets_and_reset(main_window, open_in):
    open_in(main_window, [CT])
    main_window.choose_preset("Lung")
    shown = shown_whole_image(main_window).astype(int)
    assert np.abs(shown - linear_window(ct_hu(), -600, 1500)).max() <= 1
    main_window.choose_preset("Bone")
    assert np.abs(shown_whole_image(main_window).astype(int) - linear_window(ct_hu(), 400, 1800)).max() <= 1
    main_window.reset_action.trigger()
    assert np.abs(shown_whole_image(main_window).astype(int) - linear_window(ct_hu(), 40, 100)).max() <= 1


def test_invert_and_monochrome1(main_window, open_in, qtbot):
    open_in(main_window, [CR_MONOCHROME1])
    ds = pydicom.dcmread(CR_MONOCHROME1)
    center, width = float(ds.WindowCenter), float(ds.WindowWidth)
    # MONOCHROME1: the lowest values are white (PS3.3 C.7.6.3.1.2).
    expected = 255 - linear_window(ds.pixel_array, center, width)
    main_window.pane.set_zoom(1.0)
    main_window.pane.view_box.setRange(xRange=(0, 200), yRange=(0, 200), padding=0)
    (r0, r1, c0, c1), stride = main_window.pane.last_render
    assert stride == 1
    shown = main_window.pane.displayed_pixels().astype(int)
    assert np.abs(shown - expected[r0:r1, c0:c1]).max() <= 1
    main_window.invert_action.trigger()
    shown = main_window.pane.displayed_pixels().astype(int)
    assert np.abs(shown - (255 - expected[r0:r1, c0:c1])).max() <= 1
    qtbot.waitUntil(lambda: "inverted back" in main_window.pipeline_label.text(), timeout=30000)
    assert "MONOCHROME1" in main_window.pipeline_label.text()


def test_large_image_is_rendered_at_screen_resolution(main_window, open_in, qtbot):
    open_in(main_window, [CR_MONOCHROME1])  # 1760 x 1760 in a smaller view
    # The view is about 800 px tall since #14 gave the image the width (the docks at the right open on demand): a first
    # render may come before the new view's layout is done; the one after it is at screen resolution.
    qtbot.waitUntil(lambda: main_window.pane.last_render[1] >= 2, timeout=5000)
    region, stride = main_window.pane.last_render
    assert stride >= 2
    shown = main_window.pane.displayed_pixels()
    assert shown.shape[0] <= 1760 // stride + 1


def test_scrolling_a_multiframe_image(main_window, open_in, qtbot):
    open_in(main_window, [MR_MULTIFRAME])
    ds = pydicom.dcmread(MR_MULTIFRAME)
    frames = ds.pixel_array
    assert len(main_window.images) == 10
    first = main_window.display.state.index
    viewport = main_window.pane.view.viewport()
    pos = QPointF(viewport.rect().center())
    wheel = QWheelEvent(
        pos,
        QPointF(viewport.mapToGlobal(pos.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.instance().sendEvent(viewport, wheel)
    assert main_window.display.state.index == first + 1
    qtbot.keyClick(main_window, Qt.Key.Key_End)
    assert main_window.display.state.index == 9
    assert main_window.slider.value() == 9
    # Frame 10 shown with its own stored values; the file has no window, so
    # the series' automatic window: the 0.5-99.5 percentile of the middle
    # frame (6 of 10), the same for every frame (issue #12: not per frame).
    assert "WindowCenter" not in ds
    lo, hi = np.percentile(frames[5].astype(float), [0.5, 99.5])
    center, width = (lo + hi) / 2, hi - lo
    shown = main_window.pane.displayed_pixels().astype(int)
    region, stride = main_window.pane.last_render
    r0, r1, c0, c1 = region
    expected = linear_window(frames[9], center, width)[r0:r1:stride, c0:c1:stride]
    assert np.abs(shown - expected).max() <= 1
    assert "Fr 10/10" in main_window.pane.corner_labels["bottom_left"].text()


def test_series_of_single_files_is_sorted_by_position(main_window, open_in, tmp_path):
    # Three slices written in the wrong order: positions along the normal
    # decide, not file names or instance numbers.
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for name, z, number in (("a.dcm", 30.0, 1), ("b.dcm", 10.0, 2), ("c.dcm", 20.0, 3)):
        ds = src.copy()
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, z]
        ds.InstanceNumber = number
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.save_as(tmp_path / name)
    open_in(main_window, [tmp_path])
    names = [ref.instance.path.name for ref in main_window.images]
    assert names == ["b.dcm", "c.dcm", "a.dcm"]


def test_readout_under_the_cursor_in_hu(main_window, open_in, qtbot):
    open_in(main_window, [CT])
    ds = pydicom.dcmread(CT)
    main_window.pane.cursor_moved.emit(100, 200)
    stored = int(ds.pixel_array[100, 200])
    hu = stored * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    text = main_window.readout.text()
    assert f"stored {stored}" in text and f"{hu:.6g} HU" in text and "x 200 y 100" in text
    # And from a real mouse move over the image's centre.
    view_box = main_window.pane.view_box
    scene_point = view_box.mapViewToScene(QPointF(256.5, 256.5))
    main_window.pane.view.scene().sigMouseMoved.emit(scene_point)
    assert "x 256 y 256" in main_window.readout.text()


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make, message, problem",
    [
        (lambda tmp: _write(tmp / "notes.txt", b"not an image"), "not a DICOM file", True),
        (lambda tmp: _write(tmp / "cut.dcm", open(CT, "rb").read()[:300000]), "shorter than its size says", True),
        # An object without an image by design is listed in the browser with its kind, not a problem (#16).
        (lambda tmp: get_testdata_file("rtplan.dcm"), "has no image", False),
    ],
)
def test_bad_input_gives_a_message_and_the_app_keeps_running(main_window, open_in, tmp_path, qtbot, make, message, problem):
    path = make(tmp_path)
    open_in(main_window, [path], expect_image=False)
    assert message in main_window.pane.message_label.text()
    assert main_window.pane.message_label.isVisible()
    assert any(message in p for p in main_window.problems) == problem
    open_in(main_window, [CT])  # still alive and usable
    assert not main_window.pane.message_label.isVisible()


def test_source_files_are_not_modified(main_window, open_in, tmp_path):
    copy = tmp_path / "ct.dcm"
    shutil.copy(CT, copy)
    before = copy.read_bytes()
    open_in(main_window, [copy])
    main_window.choose_preset("Lung")
    main_window.toggle_invert()
    assert copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.dcm"]


def test_pixels_reach_qt_as_rgb32_and_are_what_the_viewport_shows(main_window, open_in):
    """The pane hands Qt its fastest format (RGB32, no copy), and the screen shows those pixels."""
    from PySide6.QtGui import QImage

    open_in(main_window, [CT])
    main_window.pane.set_zoom(1.0)
    QApplication.processEvents()
    # grab() paints now; pyqtgraph makes the item's QImage only when it is painted
    # (one processEvents() need not reach the paint on a loaded machine).
    grab = main_window.pane.view.viewport().grab().toImage()
    qimage = main_window.pane.image_item.qimage
    assert qimage is not None and qimage.format() == QImage.Format.Format_RGB32
    shown = main_window.pane.displayed_pixels()
    # The screen pixel under an image pixel, at 1:1, is that pixel's grey.
    view_box = main_window.pane.view_box
    (r0, r1, c0, c1), stride = main_window.pane.last_render
    assert stride == 1
    for row, col in ((r0 + 5, c0 + 5), ((r0 + r1) // 2, (c0 + c1) // 2 + 7), (r1 - 9, c0 + 40)):
        point = view_box.mapViewToDevice(QPointF(col + 0.5, row + 0.5))
        colour = grab.pixelColor(int(point.x()), int(point.y()))
        assert colour.red() == colour.green() == colour.blue() == shown[row - r0, col - c0], (row, col)


def test_view_around_the_image_is_black_after_zooming_out_and_panning(main_window, open_in):
    """The view paints black only around the (opaque) image: nothing stale may show where the image was."""
    from PySide6.QtCore import QRectF

    open_in(main_window, [CR_MONOCHROME1])
    pane = main_window.pane
    pane.set_zoom(3.0)  # the image covers the whole view
    QApplication.processEvents()
    pane.view.viewport().repaint()
    pane.set_zoom(0.25)  # now a small image in the middle of a large black field
    rect = pane.view_box.viewRect()
    pane.view_box.setRange(QRectF(rect.left() - rect.width() / 3, rect.top(), rect.width(), rect.height()), padding=0.0)  # and panned
    QApplication.processEvents()
    grab = pane.view.viewport().grab().toImage()
    image_area = pane.image_item.sceneBoundingRect()
    outside, inside = 0, 0
    for x in range(0, grab.width(), 7):
        for y in range(0, grab.height(), 7):
            colour = grab.pixelColor(x, y)
            if not image_area.adjusted(-2, -2, 2, 2).contains(x, y):
                assert (colour.red(), colour.green(), colour.blue()) == (0, 0, 0), (x, y, colour.name())
                outside += 1
            elif image_area.adjusted(2, 2, -2, -2).contains(x, y):
                inside += colour.red() > 0
    assert outside > 1000 and inside > 100  # both parts really looked at; the image is there


# --------------------------------------------------------------------------- one automatic window per series


def test_the_automatic_window_stays_the_same_across_every_frame(main_window, open_in, qtbot):
    """emri_small: no window in the file. Per-frame min-max made brightness jump
    (W 425/415/424/434...); the series has one window, kept on every frame."""
    open_in(main_window, [MR_MULTIFRAME])
    frames = pydicom.dcmread(MR_MULTIFRAME).pixel_array.astype(float)
    lo, hi = np.percentile(frames[5], [0.5, 99.5])  # the middle frame, 6 of 10
    label = f"W {math.floor(hi - lo + 0.5)} L {math.floor((lo + hi) / 2 + 0.5)}"  # whole numbers in the corner (#14)
    seen = set()
    for index in range(10):
        main_window.go_to(index)
        qtbot.waitUntil(lambda: f"Fr {index + 1}/10" in main_window.pane.corner_labels["bottom_left"].text())
        voi = main_window.effective_voi()
        seen.add((voi.center, voi.width))
        assert label in main_window.pane.corner_labels["bottom_right"].text()
        region, stride = main_window.pane.last_render
        r0, r1, c0, c1 = region
        expected = linear_window(frames[index], (lo + hi) / 2, hi - lo)[r0:r1:stride, c0:c1:stride]
        assert np.abs(main_window.pane.displayed_pixels().astype(int) - expected).max() <= 1
    assert len(seen) == 1
    assert "automatic for the series, from the 0.5-99.5 percentile of image 6" in main_window.pipeline_label.text()
    # The Window box offers it by name; choosing it keeps the same window.
    main_window.choose_preset("Automatic for the series")
    assert (main_window.effective_voi().center, main_window.effective_voi().width) == seen.pop()
    assert not any(label.startswith("Lung") for label, _ in main_window.window_presets.choices)  # MR: no HU presets


def test_a_compressed_series_waits_for_its_window_instead_of_jumping(main_window, open_in, qtbot):
    """JPEG 2000 frames: the middle frame is decoded in the background; the first image is
    shown once, with the series' window, never first with another one."""
    path = get_testdata_file("emri_small_jpeg_2k_lossless.dcm", download=False)
    frames = pydicom.dcmread(MR_MULTIFRAME).pixel_array.astype(float)  # the same pixels, uncompressed
    lo, hi = np.percentile(frames[5], [0.5, 99.5])
    shown = []
    main_window.image_shown.connect(lambda: shown.append(main_window.effective_voi()))
    open_in(main_window, [path])
    qtbot.waitUntil(lambda: main_window.automatic_window is not None, timeout=20000)
    assert shown and all((v.center, v.width) == pytest.approx(((lo + hi) / 2, hi - lo)) for v in shown)


def write_ct_series_without_window(folder) -> list:
    """Three CT slices (pydicom's CT_small) with no window: Rescale Intercept -1024, no Rescale Type."""
    src = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert "WindowCenter" not in src
    paths = []
    for i in range(3):
        ds = src.copy()
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0, 0, float(i)]
        ds.InstanceNumber = i + 1
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.PixelData = (ds.pixel_array + 40 * i).astype(ds.pixel_array.dtype).tobytes()
        paths.append(folder / f"ct{i}.dcm")
        ds.save_as(paths[-1])
    return paths


def test_ct_without_a_window_opens_with_soft_tissue_and_says_so(main_window, open_in, qtbot, tmp_path):
    paths = write_ct_series_without_window(tmp_path)
    open_in(main_window, [tmp_path])
    ds = pydicom.dcmread(paths[main_window.display.state.index])
    hu = ds.pixel_array.astype(float) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert np.abs(shown_whole_image(main_window).astype(int) - linear_window(hu, 40, 400)).max() <= 1
    assert "W 400 L 40" in main_window.pane.corner_labels["bottom_right"].text()
    assert "no window in the file: soft-tissue preset" in main_window.pipeline_label.text()
    assert main_window.preset_combo.currentText().startswith("As the file says (no window: soft tissue")
    for index in range(3):  # every slice: the same soft-tissue window
        main_window.go_to(index)
        assert "W 400 L 40" in main_window.pane.corner_labels["bottom_right"].text()
    # The series' automatic window is in the Window box too, as are the HU presets.
    qtbot.waitUntil(
        lambda: any(label.startswith("Automatic for the series") for label, _ in main_window.window_presets.choices), timeout=10000
    )
    main_window.choose_preset("Automatic for the series")
    assert main_window.effective_voi().source == "auto"
    main_window.choose_preset("Lung")
    assert "W 1500 L -600" in main_window.pane.corner_labels["bottom_right"].text()


def test_hu_presets_are_not_offered_for_a_radiograph(main_window, open_in):
    open_in(main_window, [CR_MONOCHROME1])
    labels = [label for label, _ in main_window.window_presets.choices]
    assert not any(label.startswith(("Lung", "Bone", "Abdomen")) for label in labels), labels
    with pytest.raises(KeyError):
        main_window.choose_preset("Lung")
    open_in(main_window, [CT])
    assert any(label.startswith("Lung") for label, _ in main_window.window_presets.choices)
