"""On every image (#14): orientation markers, the scale bar, W/L as integers, smoothing when zoomed, "Loading...".

Real files: pydicom's CT_small (axial), MR2_UNCI (oblique), emri_small (no geometry, fractional automatic
window), RG3_UNCI (CR with Patient Orientation only), the DICOMDIR test set's CR 6154 (Imager Pixel Spacing
and Patient Orientation), a JPEG 2000 CR (decoded in a worker). Expected letters are worked out by hand
from each file's direction cosines, which the tests read with pydicom first.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from transfer_syntax_files import corrupt_third_frame

CT_SMALL = get_testdata_file("CT_small.dcm", download=False)
MR_SMALL = get_testdata_file("MR_small.dcm", download=False)
MR_OBLIQUE = get_testdata_file("MR2_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)
CR_ORIENTATION_ONLY = get_testdata_file("RG3_UNCI.dcm", download=False)
CR_IMAGER_SPACING = get_testdata_file("dicomdirtests/77654033/CR1/6154", download=False)
CR_JPEG2000 = get_testdata_file("RG3_J2KR.dcm", download=False)


def markers(pane) -> dict[str, str]:
    """The marker text shown at each edge ('' where none is shown)."""
    return {edge: (label.text() if label.isVisible() else "") for edge, label in pane.marker_labels.items()}


def screen_zoom(pane) -> float:
    """Screen pixels per image pixel, measured on the view's own mapping (not the pane's zoom())."""
    view_box = pane.view_box
    a, b = view_box.mapViewToDevice(QPointF(0, 0)), view_box.mapViewToDevice(QPointF(0, 100))
    return math.hypot(b.x() - a.x(), b.y() - a.y()) / 100


def drawn_bar_length(pane) -> int:
    """The bar's length in screen pixels as painted: the run of overlay-coloured pixels in its column."""
    overlay = pane.scale_bar_overlay
    image = overlay.grab().toImage()
    x = round(overlay.bar_line().x1() * image.devicePixelRatio())
    colour = {(0xF0, 0xF0, 0xA0)}
    rows = [
        y
        for y in range(image.height())
        if (image.pixelColor(x, y).red(), image.pixelColor(x, y).green(), image.pixelColor(x, y).blue()) in colour
    ]
    assert rows, "no bar drawn"
    assert rows == list(range(rows[0], rows[-1] + 1)), "the bar has a gap"
    return len(rows)


# --------------------------------------------------------------------------- orientation markers


def test_axial_ct_markers_and_they_stay_through_zoom_and_pan(main_window, open_in):
    # CT_small: rows run along +x (towards the patient's left), columns along +y (posterior).
    assert [float(v) for v in pydicom.dcmread(CT_SMALL, stop_before_pixels=True).ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    open_in(main_window, [CT_SMALL])
    pane = main_window.pane
    expected = {"right": "L", "left": "R", "bottom": "P", "top": "A"}
    assert markers(pane) == expected
    pane.set_zoom(3.0)
    pane.view_box.translateBy(x=10, y=-7)
    assert markers(pane) == expected  # pan and zoom change nothing
    # Placed at the middle of each edge.
    left, top = pane.marker_labels["left"].geometry(), pane.marker_labels["top"].geometry()
    assert abs(left.center().y() - pane.height() / 2) <= 2 and left.left() < 20
    assert abs(top.center().x() - pane.width() / 2) <= 2 and top.top() < 20


def test_markers_follow_the_display_transform(main_window, open_in):
    """The pane turns no image yet; what it will turn by is the viewport's spatial transform, which the markers follow."""
    from viewer.core.display.spatial_transform import SpatialTransform

    open_in(main_window, [CT_SMALL])
    viewport = main_window.viewport
    # Turned a quarter clockwise, the image's top edge (A) comes to the right, its left (R) to the top.
    viewport.spatial_transform = SpatialTransform(rotation=1)
    viewport.update_annotations()
    assert markers(main_window.pane) == {"right": "A", "bottom": "L", "left": "P", "top": "R"}
    # Mirrored left to right (not turned): R and L change sides, A and P stay.
    viewport.spatial_transform = SpatialTransform(flip_horizontal=True)
    viewport.update_annotations()
    assert markers(main_window.pane) == {"right": "R", "left": "L", "top": "A", "bottom": "P"}


def test_oblique_mr_markers_combine_letters(main_window, open_in):
    # MR2_UNCI: rows along (0.569, 0.822, 0): mostly posterior (+y), partly left (+x) -> "PL", the
    # opposite "AR"; columns along (0, 0, -1): towards the feet -> "F", the opposite "H".
    cosines = [float(v) for v in pydicom.dcmread(MR_OBLIQUE, stop_before_pixels=True).ImageOrientationPatient]
    assert cosines[:3] == pytest.approx([0.569486, 0.822001, 0.0]) and cosines[3:] == pytest.approx([0, 0, -1])
    open_in(main_window, [MR_OBLIQUE])
    assert markers(main_window.pane) == {"right": "PL", "left": "AR", "bottom": "F", "top": "H"}


def test_projection_image_markers_from_patient_orientation(main_window, open_in):
    # RG3_UNCI: no Image Orientation (Patient); Patient Orientation R\F: rows towards the patient's
    # right, columns towards the feet. Its header in the catalog does not keep (0020,0020).
    ds = pydicom.dcmread(CR_ORIENTATION_ONLY, stop_before_pixels=True)
    assert "ImageOrientationPatient" not in ds and list(ds.PatientOrientation) == ["R", "F"]
    open_in(main_window, [CR_ORIENTATION_ONLY])
    pane = main_window.pane
    assert markers(pane) == {"right": "R", "left": "L", "bottom": "F", "top": "H"}
    assert pane.scale_bar is None and not pane.scale_bar_overlay.isVisible()  # no spacing: no bar


def test_no_geometry_no_markers_no_bar(main_window, open_in):
    open_in(main_window, [MR_MULTIFRAME])  # emri_small: neither orientation nor spacing at any level
    pane = main_window.pane
    assert markers(pane) == {"left": "", "right": "", "top": "", "bottom": ""}
    assert pane.scale_bar is None and not pane.scale_bar_overlay.isVisible()


def test_annotations_off_hides_markers_and_bar(main_window, open_in):
    open_in(main_window, [CT_SMALL])
    main_window.viewport.toggle_annotations()
    assert not any(markers(main_window.pane).values()) and not main_window.pane.scale_bar_overlay.isVisible()
    main_window.viewport.toggle_annotations()
    assert markers(main_window.pane)["right"] == "L" and main_window.pane.scale_bar_overlay.isVisible()


# --------------------------------------------------------------------------- scale bar


@pytest.mark.parametrize("zoom", [None, 1.0, 3.0, 0.5])
def test_scale_bar_length_is_mm_over_spacing_times_zoom(main_window, open_in, zoom):
    spacing = float(pydicom.dcmread(CT_SMALL, stop_before_pixels=True).PixelSpacing[1])  # 0.661468 mm
    open_in(main_window, [CT_SMALL])
    pane = main_window.pane
    if zoom is not None:
        pane.set_zoom(zoom)
    bar = pane.scale_bar
    assert bar is not None and bar.basis == "" and bar.text == f"{bar.length_mm:g} mm"
    assert bar.length_mm in {m * 10.0**e for m in (1, 2, 5) for e in range(-1, 4)}  # a round length
    expected = bar.length_mm / spacing * screen_zoom(pane)
    assert abs(bar.length_pixels - expected) <= 1
    assert abs(drawn_bar_length(pane) - expected) <= 1
    # It fits its room: along the right edge, below the middle, above the bottom-right text.
    geometry = pane.scale_bar_overlay.geometry()
    assert geometry.right() < pane.width() and geometry.top() > pane.height() / 2
    assert geometry.bottom() < pane.corner_labels["bottom_right"].geometry().top()


def test_scale_bar_follows_zoom(main_window, open_in):
    open_in(main_window, [MR_SMALL])  # 0.3125 mm pixels
    pane = main_window.pane
    pane.set_zoom(1.0)
    at_one = pane.scale_bar
    pane.set_zoom(8.0)
    at_eight = pane.scale_bar
    assert at_eight.length_mm < at_one.length_mm
    assert abs(at_eight.length_pixels - at_eight.length_mm / 0.3125 * screen_zoom(pane)) <= 1


def test_scale_bar_of_a_radiograph_says_at_detector(main_window, open_in):
    # CR 6154: Imager Pixel Spacing 0.1 mm, no Pixel Spacing, Patient Orientation L\F (not kept by the catalog).
    ds = pydicom.dcmread(CR_IMAGER_SPACING, stop_before_pixels=True)
    assert "PixelSpacing" not in ds and [float(v) for v in ds.ImagerPixelSpacing] == [0.1, 0.1]
    open_in(main_window, [CR_IMAGER_SPACING])
    pane = main_window.pane
    bar = pane.scale_bar
    assert bar is not None and bar.basis == "at detector" and bar.text.endswith(" mm (at detector)")
    assert abs(bar.length_pixels - bar.length_mm / 0.1 * screen_zoom(pane)) <= 1
    assert abs(drawn_bar_length(pane) - bar.length_pixels) <= 1
    assert markers(pane) == {"right": "L", "left": "R", "bottom": "F", "top": "H"}


# --------------------------------------------------------------------------- W/L as integers


def test_fractional_window_is_shown_as_integers(main_window, open_in):
    open_in(main_window, [MR_MULTIFRAME])
    frames = pydicom.dcmread(MR_MULTIFRAME).pixel_array.astype(float)
    lo, hi = np.percentile(frames[5], [0.5, 99.5])  # the series' automatic window (the middle frame's percentiles)
    width, center = hi - lo, (lo + hi) / 2
    assert width != round(width)  # fractional: W 349.525 L 177.763
    voi = main_window.effective_voi()
    assert (voi.width, voi.center) == pytest.approx((width, center))  # the exact values are kept
    text = main_window.pane.corner_labels["bottom_right"].text()
    assert f"W {math.floor(width + 0.5)} L {math.floor(center + 0.5)}" in text.splitlines()
    assert f"center {center:g}, width {width:g}" in main_window.pipeline_label.text()  # the dock keeps them exact


# --------------------------------------------------------------------------- smoothing when zoomed


def horizontal_repeats(pane) -> float:
    """Fraction of horizontally adjacent screen pixels inside the image that are equal."""
    image = pane.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint32).reshape(image.height(), image.bytesPerLine() // 4)[:, : image.width()]
    h, w = pixels.shape
    middle = pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4]
    return float((middle[:, 1:] == middle[:, :-1]).mean())


def test_smooth_when_zoomed_in_nearest_at_one_to_one_and_when_off(main_window, open_in, qtbot):
    open_in(main_window, [CT_SMALL])
    pane, viewport = main_window.pane, main_window.viewport
    assert viewport.smooth_zoom and main_window.smooth_action.isChecked()
    pane.set_zoom(1.0)
    pane.smooth_timer.timeout.emit()  # settled (the timer is driven here, not waited for)
    assert not pane.smoothing() and not pane.smoothed()
    pane.set_zoom(6.0)
    assert pane.smoothing() and not pane.smoothed() and pane.smooth_timer.isActive()  # square pixels while it changes
    nearest_while_zooming = horizontal_repeats(pane)
    pane.smooth_timer.timeout.emit()
    assert pane.smoothed()
    smooth = horizontal_repeats(pane)
    # A window step: square pixels again until the image settles.
    viewport.set_window(40, 300)
    assert not pane.smoothed() and pane.smooth_timer.isActive()
    pane.smooth_timer.timeout.emit()
    assert pane.smoothed()
    main_window.smooth_action.trigger()  # off: square pixels (nearest neighbour) at once, and after settling
    assert not viewport.smooth_zoom and not pane.smoothing() and not pane.smoothed()
    pane.smooth_timer.timeout.emit()
    assert not pane.smoothed()
    nearest = horizontal_repeats(pane)
    # At 6x nearest, 5 of 6 neighbours repeat the same image pixel; smoothed, they blend.
    assert nearest > 0.75 and nearest_while_zooming > 0.75 and smooth < 0.5
    main_window.smooth_action.trigger()
    assert viewport.smooth_zoom and pane.smoothed()


def test_smoothing_key_is_free_and_in_the_view_menu(main_window):
    keys = [a.shortcut().toString() for a in main_window.actions() if a is not main_window.smooth_action]
    assert main_window.smooth_action.shortcut().toString() == "N" and "N" not in keys
    view_menu = next(m.menu() for m in main_window.menuBar().actions() if m.text() == "&View")
    assert main_window.smooth_action in view_menu.actions()


# --------------------------------------------------------------------------- "Loading..."


def test_loading_shows_calmly_after_a_moment_then_the_image(main_window, open_in, qtbot):
    open_in(main_window, [CR_JPEG2000])
    viewport, pane = main_window.viewport, main_window.pane
    series = main_window.current_series
    main_window.frame_source.clear()  # decoded again, in a worker
    viewport.show_series(series)
    # Nothing yet: the text waits for the timer (driven here, not waited for).
    assert viewport.loading_timer.isActive() and not pane.loading
    viewport.loading_timer.timeout.emit()
    assert pane.loading and pane.loading_label.text() == "Loading\u2026"
    assert "#9a9a9a" in pane.loading_label.styleSheet()  # grey, not the problem's red
    assert not pane.message_label.isVisible()
    assert pane.displayed_pixels() is None  # another series' image does not stand in
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        pass
    assert not pane.loading and not viewport.loading_timer.isActive()
    assert pane.displayed_pixels() is not None


def test_loading_while_the_series_window_is_computed(main_window, open_in, qtbot):
    """emri_small has no window: its first image waits for the series' automatic window; meanwhile 'Loading...'."""
    open_in(main_window, [MR_MULTIFRAME])
    viewport, pane = main_window.viewport, main_window.pane
    viewport.show_series(main_window.current_series)  # the frame is cached; the window is computed again
    assert viewport.frame is None and viewport.loading_timer.isActive() and not pane.loading
    viewport.loading_timer.timeout.emit()
    assert pane.loading and not pane.message_label.isVisible()
    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        pass
    assert not pane.loading and pane.displayed_pixels() is not None


def test_an_image_that_fails_while_loading_keeps_the_error_look(main_window, open_in, qtbot, tmp_path):
    corrupt = corrupt_third_frame(tmp_path / "corrupt_frame3.dcm")
    open_in(main_window, [corrupt])
    viewport, pane = main_window.viewport, main_window.pane
    with qtbot.waitSignal(viewport.image_failed, timeout=30000):
        main_window.go_to(2)
        assert viewport.loading_timer.isActive()
        viewport.loading_timer.timeout.emit()
        assert pane.loading and pane.displayed_pixels() is not None  # the previous frame stays under "Loading..."
    assert not pane.loading and not viewport.loading_timer.isActive()
    assert pane.message_label.isVisible() and "cannot be decoded" in pane.message_label.text()
    assert "#ff9090" in pane.message_label.styleSheet()
