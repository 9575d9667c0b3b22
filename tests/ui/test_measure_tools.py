"""The measurement tools on the viewports (#15): drawn with real mouse events on the view, the same numbers as
``dicom-viewer measure``, shown in every viewport of the image, kept in the (test's) data folder, undo/redo,
calibration, CSV and presentation state."""

from __future__ import annotations

import csv
import importlib
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from viewer.app import main as cli_main
from viewer.core.display.hanging import GridShape
from viewer.ui.tools.measure_tools import data_folder, layer_of

sys.path.insert(0, str(Path(__file__).parents[1] / "core"))
_files = importlib.import_module("measure_files")

CT = Path(get_testdata_file("CT_small.dcm", download=False))
CR = Path(get_testdata_file("dicomdirtests/77654033/CR1/6154", download=False))
LEFT = Qt.MouseButton.LeftButton


# ---------------------------------------------------------------------- mouse
def screen_of(pane, point):
    """The view's widget position of image point (column, row)."""
    view, box = pane.view, pane.view_box
    return view.mapFromScene(box.mapViewToScene(QPointF(point[0] + 0.5, point[1] + 0.5)))


def send(pane, kind, point, button=LEFT, buttons=None):
    surface = pane.image_surface()
    pos = QPointF(screen_of(pane, point))
    if buttons is None:
        buttons = button if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonDblClick) else 0
    event = QMouseEvent(kind, pos, surface.mapToGlobal(pos), button, Qt.MouseButton(buttons), Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(surface, event)


def drag(pane, *points):
    """Press at the first point, move through the others holding the button, release at the last."""
    send(pane, QEvent.Type.MouseButtonPress, points[0])
    for point in points[1:]:
        send(pane, QEvent.Type.MouseMove, point, button=Qt.MouseButton.NoButton, buttons=LEFT)
    send(pane, QEvent.Type.MouseButtonRelease, points[-1], buttons=Qt.MouseButton.NoButton)


def click(pane, point):
    send(pane, QEvent.Type.MouseMove, point, button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton)
    send(pane, QEvent.Type.MouseButtonPress, point)
    send(pane, QEvent.Type.MouseButtonRelease, point, buttons=Qt.MouseButton.NoButton)


def double_click(pane, point):
    click(pane, point)
    send(pane, QEvent.Type.MouseButtonDblClick, point)
    send(pane, QEvent.Type.MouseButtonRelease, point, buttons=Qt.MouseButton.NoButton)


# ---------------------------------------------------------------------- helpers
@pytest.fixture
def window(main_window, open_in):
    shutil.rmtree(data_folder(), ignore_errors=True)
    main_window.measure_controller.store.folder = data_folder()
    return main_window


def shown(window, open_in, path):
    open_in(window, [path])
    window.pane.view  # the pyqtgraph view (built after the first paint): the measurements go up with it
    return window.viewport


def choose(window, tool):
    window.image_toolbar.tool_actions[tool].trigger()


def image(window):
    return window.measure_controller.image_of(window.viewport)


def cli(capsys, path, *args):
    capsys.readouterr()
    assert cli_main(["measure", str(path), *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def numbers(text):
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", text)]


def agrees(label_value: float, value: float) -> bool:
    """The label shows the value rounded to 1 or 2 decimals."""
    return abs(label_value - value) <= 0.0051 or (abs(value) >= 10 and abs(label_value - value) <= 0.051)


# ---------------------------------------------------------------------- CLI and GUI agree
def test_a_line_drawn_on_ct_reads_as_the_measure_command(window, open_in, capsys, qtbot):
    viewport = shown(window, open_in, CT)
    choose(window, "line")
    drag(viewport.pane, (10.3, 20.6), (40, 45), (70.5, 52.25))
    shapes = image(window).history.shapes
    assert len(shapes) == 1 and shapes[0].tool == "line"
    (x1, y1), (x2, y2) = shapes[0].points
    tolerance = 1 / viewport.pane.zoom()  # one screen pixel, in image pixels
    assert (x1, y1) == pytest.approx((10.3, 20.6), abs=tolerance) and (x2, y2) == pytest.approx((70.5, 52.25), abs=tolerance)
    expected = cli(capsys, CT, "--line", repr(x1), repr(y1), repr(x2), repr(y2))
    label = layer_of(window, viewport).label_texts()[0]
    assert expected["unit"] == "mm" and expected["basis"] == "pixel spacing"
    assert label.endswith(" mm") and "(" not in label  # plain Pixel Spacing: no basis label
    assert agrees(numbers(label)[0], expected["value"])


def ellipse_agrees(window, capsys, path, start, end) -> tuple[str, dict]:
    """Draw an ellipse from `start` to `end` (box corners, image points) on the image shown; its label holds the numbers
    ``measure --ellipse`` gives for the ellipse drawn. The label and the command's JSON."""
    viewport = window.viewport
    choose(window, "ellipse")
    drag(viewport.pane, start, ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2), end)
    (x0, y0), (x1, y1) = image(window).history.shapes[-1].points
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, abs(x1 - x0) / 2, abs(y1 - y0) / 2
    expected = cli(capsys, path, "--ellipse", repr(cx), repr(cy), repr(rx), repr(ry))
    label = layer_of(window, viewport).label_texts()[-1]
    text = {line.split(" ")[0] if not line.startswith("pop.") else "sd": line for line in label.splitlines()}
    for name in ("mean", "sd", "min", "max"):
        assert text[name].endswith(f" {expected['unit']}" if expected["unit"] else text[name]), label
        assert agrees(numbers(text[name])[0], expected[name]), (name, label, expected)
    assert numbers(text["n"])[0] == expected["count"]
    assert text["area"].endswith(expected["area_unit"]) and agrees(numbers(text["area"])[0], expected["area"])
    basis = "pixel spacing" if not label.splitlines()[-1].startswith("(") else label.splitlines()[-1][1:-1]
    assert basis == expected["basis"]
    return label, expected


def test_an_ellipse_on_ct_gives_the_commands_statistics_in_hu(window, open_in, capsys):
    shown(window, open_in, CT)
    label, expected = ellipse_agrees(window, capsys, CT, (30.2, 40.7), (90.4, 80.1))
    assert expected["unit"] == "HU" and expected["area_unit"] == "mm²" and expected["count"] > 1000


def test_a_cr_with_imager_pixel_spacing_says_at_detector(window, open_in, capsys):
    viewport = shown(window, open_in, CR)
    choose(window, "line")
    drag(viewport.pane, (1.2, 2.4), (8, 8), (13.7, 11.1))
    (x1, y1), (x2, y2) = image(window).history.shapes[0].points
    expected = cli(capsys, CR, "--line", repr(x1), repr(y1), repr(x2), repr(y2))
    label = layer_of(window, viewport).label_texts()[0]
    assert expected["basis"] == "at detector"  # the catalog's compact header lacks Imager Pixel Spacing: the file's is used
    assert label.splitlines()[1] == "(at detector)"
    assert agrees(numbers(label)[0], expected["value"])
    label, expected = ellipse_agrees(window, capsys, CR, (1.5, 8.5), (9.6, 14.7))
    assert expected["basis"] == "at detector" and expected["area_unit"] == "mm²" and expected["count"] > 20


def test_ultrasound_regions_decide_the_unit(window, open_in, capsys, tmp_path):
    us = _files.write_image(tmp_path / "us.dcm", "US", SequenceOfUltrasoundRegions=[_files.ultrasound_region(0, 0, 39, 63, 0.02, 0.02)])
    viewport = shown(window, open_in, us)
    choose(window, "line")
    drag(viewport.pane, (2, 3), (20, 30), (30.5, 40.5))  # inside the region
    drag(viewport.pane, (5, 5), (60, 30), (70, 50))  # across its edge
    inside, across = image(window).history.shapes
    labels = layer_of(window, viewport).label_texts()
    for shape, label in zip((inside, across), labels):
        (x1, y1), (x2, y2) = shape.points
        expected = cli(capsys, us, "--line", repr(x1), repr(y1), repr(x2), repr(y2))
        assert agrees(numbers(label)[0], expected["value"]) and label.splitlines()[0].endswith(expected["unit"])
        assert label.splitlines()[1] == f"({expected['basis']})"
    assert labels[0].splitlines()[1] == "(ultrasound region)" and labels[1].splitlines()[1] == "(outside ultrasound regions)"
    _label, expected = ellipse_agrees(window, capsys, us, (5.5, 6.5), (30.5, 50.5))
    assert expected["basis"] == "ultrasound region" and expected["area_unit"] == "mm²"
    _label, expected = ellipse_agrees(window, capsys, us, (35.5, 8.5), (60.5, 20.5))  # across the region's edge: pixels
    assert expected["basis"] == "outside ultrasound regions" and expected["area_unit"] == "px²"


def test_a_polygon_clicked_on_ct_reads_as_the_measure_command(window, open_in, capsys):
    viewport = shown(window, open_in, CT)
    choose(window, "polygon")
    for point in ((20.3, 30.1), (70.6, 25.2), (90.1, 80.4)):
        click(viewport.pane, point)
    double_click(viewport.pane, (30.2, 90.7))
    shape = image(window).history.shapes[0]
    assert shape.tool == "polygon" and len(shape.points) == 4
    expected = cli(capsys, CT, "--polygon", *(repr(v) for point in shape.points for v in point))
    label = layer_of(window, viewport).label_texts()[0]
    text = {line.split(" ")[0] if not line.startswith("pop.") else "sd": line for line in label.splitlines()}
    for name in ("mean", "sd", "min", "max", "area"):
        assert agrees(numbers(text[name])[0], expected[name]), (name, label, expected)
    assert numbers(text["n"])[0] == expected["count"]


# ---------------------------------------------------------------------- tools
def test_every_tool_draws_with_the_mouse(window, open_in):
    viewport = shown(window, open_in, CT)
    pane = viewport.pane
    choose(window, "polyline")
    for point in ((10, 10), (20, 15), (30, 10)):
        click(pane, point)
    double_click(pane, (40, 20))
    choose(window, "angle")
    drag(pane, (60, 10), (65, 20), (70, 30))
    click(pane, (90, 30))
    choose(window, "cobb")
    drag(pane, (10, 100), (50, 95))
    drag(pane, (10, 120), (50, 125))
    choose(window, "point")
    click(pane, (64, 64))
    choose(window, "rectangle")
    drag(pane, (80, 80), (100, 100))
    choose(window, "polygon")
    for point in ((20, 60), (40, 60), (40, 80)):
        click(pane, point)
    double_click(pane, (20, 80))
    choose(window, "freehand")
    drag(pane, (100, 40), (110, 42), (115, 50), (110, 58), (100, 60))
    window.measure_controller.ask_text = lambda: "nodule"
    choose(window, "arrow")
    drag(pane, (64, 70), (80, 90))
    shapes = image(window).history.shapes
    assert [s.tool for s in shapes] == ["polyline", "angle", "cobb", "point", "rectangle", "polygon", "freehand", "arrow"]
    assert len(shapes[0].points) == 4 and len(shapes[5].points) == 4 and len(shapes[6].points) >= 4
    labels = layer_of(window, viewport).label_texts()
    assert labels[0].endswith(" mm") and labels[1].endswith("°") and labels[2].endswith("°")
    assert labels[3].endswith(" HU") and "mean" in labels[4] and "mean" in labels[5] and "mean" in labels[6]
    assert labels[7] == "nodule" and shapes[7].text == "nodule"
    assert shapes[1].points[1] == pytest.approx((70, 30), abs=1) and shapes[1].points[2] == pytest.approx((90, 30), abs=1)


def test_handles_move_and_undo_is_one_step_per_drag(window, open_in):
    viewport = shown(window, open_in, CT)
    pane = viewport.pane
    choose(window, "line")
    drag(pane, (10, 10), (50, 10))
    first = layer_of(window, viewport).label_texts()[0]
    drag(pane, (50, 10), (60, 20), (70, 30), (80, 10))  # the end's handle
    history = image(window).history
    assert history.shapes[0].points[1] == pytest.approx((80, 10), abs=0.5)
    assert numbers(layer_of(window, viewport).label_texts()[0])[0] > numbers(first)[0]
    drag(pane, (30, 10), (35, 15), (40, 20))  # on the stroke: the whole line moves
    assert history.shapes[0].points[0] == pytest.approx((20, 20), abs=0.5)
    window.measure_controller.undo()
    assert image(window).history.shapes[0].points[1] == pytest.approx((80, 10), abs=0.5)
    window.measure_controller.undo()
    assert image(window).history.shapes[0].points[1] == pytest.approx((50, 10), abs=0.5)
    assert layer_of(window, viewport).label_texts()[0] == first
    window.measure_controller.redo()
    assert image(window).history.shapes[0].points[1] == pytest.approx((80, 10), abs=0.5)
    # Delete: the selected one (the last drawn or taken)
    drag(pane, (80, 10), (81, 11))
    window.measure_controller.delete_selected()
    assert image(window).history.shapes == () and layer_of(window, viewport).label_texts() == []


def test_the_cursor_says_what_a_press_does(window, open_in):
    viewport = shown(window, open_in, CT)
    surface = viewport.pane.image_surface()
    choose(window, "line")
    assert surface.cursor().shape() == Qt.CursorShape.CrossCursor
    drag(viewport.pane, (10, 10), (50, 10))
    send(viewport.pane, QEvent.Type.MouseMove, (50, 10), button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton)
    assert surface.cursor().shape() == Qt.CursorShape.PointingHandCursor  # a handle
    send(viewport.pane, QEvent.Type.MouseMove, (30, 10), button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton)
    assert surface.cursor().shape() == Qt.CursorShape.SizeAllCursor  # the stroke
    send(viewport.pane, QEvent.Type.MouseMove, (30, 60), button=Qt.MouseButton.NoButton, buttons=Qt.MouseButton.NoButton)
    assert surface.cursor().shape() == Qt.CursorShape.CrossCursor
    choose(window, "window")
    assert surface.cursor().shape() != Qt.CursorShape.CrossCursor


def test_zoom_and_pan_keep_the_measurement_on_the_image(window, open_in):
    viewport = shown(window, open_in, CT)
    choose(window, "line")
    drag(viewport.pane, (10, 10), (50, 40))
    before = image(window).history.shapes[0]
    viewport.pane.set_zoom(3.0)
    viewport.pane.view_box.translateBy(x=7, y=-5)
    item = layer_of(window, viewport).items[0]
    assert image(window).history.shapes[0] == before
    start = item.path.path().elementAt(0)
    assert (start.x - 0.5, start.y - 0.5) == pytest.approx(before.points[0])  # the path is in image coordinates


def test_every_viewport_showing_the_image_shows_it_and_it_comes_back(window, open_in, qtbot):
    viewport = shown(window, open_in, CT)
    window.viewports.set_shape(GridShape(1, 2))
    other = window.viewports.viewports[1]
    other.show_series(viewport.current_series)
    qtbot.waitUntil(lambda: other.frame is not None)
    other.pane.view
    choose(window, "line")
    drag(viewport.pane, (10, 10), (60, 60))
    assert layer_of(window, other).label_texts() == layer_of(window, viewport).label_texts() != []
    drag(viewport.pane, (60, 60), (70, 40))  # a handle drag reaches the other viewport at each step
    assert layer_of(window, other).items[0].path.path().elementAt(1).x == pytest.approx(
        layer_of(window, viewport).items[0].path.path().elementAt(1).x
    )
    kept = json.loads((data_folder() / f"{pydicom.dcmread(CT).SOPInstanceUID}.json").read_text())
    assert kept["frames"]["1"][0]["points"][1] == pytest.approx([70, 40], abs=0.5)
    labels = layer_of(window, other).label_texts()
    # Closed, forgotten and opened again: read back from the data folder when the image is shown
    window.close_all()
    window.measure_controller.images.clear()
    assert layer_of(window, viewport).label_texts() == []
    open_in(window, [CT])
    assert layer_of(window, window.viewport).label_texts() == labels


# ---------------------------------------------------------------------- calibration, CSV, presentation state
def test_calibration_by_a_line_of_known_length(window, open_in):
    viewport = shown(window, open_in, CT)
    controller = window.measure_controller
    choose(window, "line")
    drag(viewport.pane, (10, 10), (50, 10))
    controller.ask_length = lambda suggested: 100.0
    controller.start_calibration()
    drag(viewport.pane, (10, 30), (60, 30))  # 50 pixels are 100 mm
    assert len(image(window).history.shapes) == 1  # the calibration line is not a measurement
    label = layer_of(window, viewport).label_texts()[0]
    calibration = controller.user_calibration(pydicom.dcmread(CT).SeriesInstanceUID)
    assert calibration.spacing == pytest.approx((2.0, 2.0), rel=0.01)  # 100 mm over 50 pixels, drawn to a screen pixel
    (x1, y1), (x2, y2) = image(window).history.shapes[0].points
    assert label.splitlines() == [
        f"{math.hypot((x2 - x1) * calibration.spacing[1], (y2 - y1) * calibration.spacing[0]):.1f} mm",
        "(user calibrated)",
    ]
    assert window.measure_controller.store.user_calibration(pydicom.dcmread(CT).SeriesInstanceUID) == calibration  # kept
    controller.clear_calibration()
    label = layer_of(window, viewport).label_texts()[0]
    assert "user calibrated" not in label and numbers(label)[0] == pytest.approx(40 * 0.661468, abs=0.06)


def test_csv_and_presentation_state(window, open_in, tmp_path):
    viewport = shown(window, open_in, CT)
    choose(window, "line")
    drag(viewport.pane, (10, 10), (50, 10))
    choose(window, "rectangle")
    drag(viewport.pane, (60, 60), (80, 90))
    controller = window.measure_controller
    assert controller.export_csv(tmp_path / "m.csv") == 7  # one length, six ROI readings
    rows = list(csv.DictReader(open(tmp_path / "m.csv", encoding="utf-8")))
    assert rows[0]["tool"] == "line" and rows[0]["unit"] == "mm" and rows[0]["calibration basis"] == "pixel spacing"
    path = controller.save_presentation_state(tmp_path / "pr")
    ds = pydicom.dcmread(path)
    assert ds.Modality == "PR" and len(ds.GraphicAnnotationSequence) == 2
    assert ds.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == pydicom.dcmread(CT).SOPInstanceUID
    if shutil.which("dcmpschk"):  # dcmtk checks it against the GSPS IOD
        result = subprocess.run(["dcmpschk", "-v", str(path)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0 and "Test passed" in result.stdout + result.stderr, result.stdout + result.stderr
    default = controller.save_presentation_state()
    assert default.parent == data_folder().parent / "presentation-states"
    controller.delete_all()
    assert image(window).history.shapes == ()


def test_each_tool_has_its_own_key(window, qtbot):
    from viewer.ui.tools.measure_tools import TOOLS

    keys = [key.toString() for action in window.actions() for key in action.shortcuts() if not key.isEmpty()]
    assert len(keys) == len(set(keys)), sorted(keys)  # no key bound twice, the Measure menu's included
    assert {"Ctrl+Z", "Ctrl+Y", "Del", "Esc"} <= set(keys)
    for tool, _text, key, _what, _icon in TOOLS:
        assert window.image_toolbar.tool_actions[tool].shortcut().toString() == key
    window.activateWindow()
    window.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_E)
    assert window.image_toolbar.tool == "ellipse" and window.pane.left_drag_tool == "ellipse"


def test_pixel_values_of_a_colour_image_are_refused_with_a_message(window, open_in):
    viewport = shown(window, open_in, Path(get_testdata_file("US1_UNCR.dcm", download=False)))
    choose(window, "rectangle")
    drag(viewport.pane, (10, 10), (50, 50))
    assert image(window).history.shapes == ()
    assert "greyscale" in window.statusBar().currentMessage()
    choose(window, "line")
    drag(viewport.pane, (10, 10), (50, 50))  # a length needs no pixel values
    assert layer_of(window, viewport).label_texts()[0].splitlines()[-1] == "(uncalibrated)"


def test_escape_drops_the_shape_being_drawn(window, open_in):
    viewport = shown(window, open_in, CT)
    choose(window, "polygon")
    click(viewport.pane, (10, 10))
    click(viewport.pane, (30, 10))
    assert layer_of(window, viewport).preview is not None
    window.measure_controller.cancel_drawing()
    assert layer_of(window, viewport).preview is None and image(window).history.shapes == ()


def test_what_the_measure_command_keeps_the_window_shows(window, open_in, capsys):
    assert cli_main(["measure", str(CT), "--line", "10", "20", "70.5", "52.25", "--save", "--data-dir", str(data_folder())]) == 0
    expected = capsys.readouterr().out.strip().splitlines()[0]
    viewport = shown(window, open_in, CT)
    label = layer_of(window, viewport).label_texts()
    assert len(label) == 1 and numbers(label[0])[0] == pytest.approx(numbers(expected)[0], abs=0.051)


def test_measurements_belong_to_their_frame(window, open_in, qtbot):
    path = Path(get_testdata_file("emri_small.dcm", download=False))
    viewport = shown(window, open_in, path)
    first = viewport.display.state.index
    choose(window, "line")
    drag(viewport.pane, (5, 5), (40, 30))
    frame_number = viewport.current.frame + 1
    viewport.step(1)
    qtbot.waitUntil(lambda: viewport.frame is not None and viewport.current.frame + 1 != frame_number)
    qtbot.waitUntil(lambda: layer_of(window, viewport).key is not None and layer_of(window, viewport).key[1] != frame_number)
    assert layer_of(window, viewport).label_texts() == []
    viewport.go_to(first)
    qtbot.waitUntil(lambda: layer_of(window, viewport).label_texts() != [])
    kept = json.loads((data_folder() / f"{pydicom.dcmread(path).SOPInstanceUID}.json").read_text())
    assert list(kept["frames"]) == [str(frame_number)]


def test_an_roi_tool_on_a_large_frame_makes_its_statistics_ready_in_the_background(window, open_in, capsys, qtbot, monkeypatch):
    """Choosing an ROI tool starts the frame's RoiTracker in the background (frames of at least
    BACKGROUND_TRACKER_PIXELS; the test lowers it to the CT's size); the ellipse then drawn uses it, same numbers."""
    from viewer.ui.tools import measure_tools

    monkeypatch.setattr(measure_tools, "BACKGROUND_TRACKER_PIXELS", 128 * 128)
    shown(window, open_in, CT)
    choose(window, "line")
    assert image(window).tracker_pending is None and image(window).tracker is None  # not an ROI tool: nothing made
    choose(window, "ellipse")
    pending = image(window).tracker_pending
    assert pending is not None
    qtbot.waitUntil(pending.done, timeout=5000)
    made = pending.result()
    ellipse_agrees(window, capsys, CT, (30.2, 40.7), (90.4, 80.1))
    assert image(window).tracker is made and image(window).tracker_pending is None
    choose(window, "line")
    choose(window, "ellipse")  # the tracker exists: nothing made again
    assert image(window).tracker is made and image(window).tracker_pending is None
