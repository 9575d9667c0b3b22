"""The layers over a viewport's image turn and flip with it when a presentation state turns it (PS3.3 C.10.6):
measurements (drawn and measured by mouse), the image's 60xx overlay planes, the value under the cursor and
reference lines; with the state off, all of them are back where they were.

Real files: pydicom's CT_small; a generated image with an overlay plane (tests/core/overlay_files.py); the
linking tests' phantom series (tests/mpr_phantom.py); presentation states written attribute by attribute
(tests/core/pstate_files.py). Where an image point shows on the screen is worked out here from the standard's
definition (rotation clockwise, then the horizontal flip), never from the viewer's own transform.
"""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QImage, QMouseEvent, QTransform
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from pstate_files import make_state

from tests.core.overlay_files import add_plane, image, random_bits, save
from viewer.core.display.overlays import OVERLAY_RGB
from viewer.ui.tools.measure_items import COLOUR, SELECTED_COLOUR
from viewer.ui.tools.measure_tools import data_folder, layer_of

CT = Path(get_testdata_file("CT_small.dcm", download=False))
LEFT = Qt.MouseButton.LeftButton
#: (rotation, flip) of the states: the brief's quarter turn with a flip (a transpose of the image), and a turn alone,
#: which is not its own inverse (a mapping used the wrong way round shows there).
TURNS = [(90, True), (270, False)]


# ---------------------------------------------------------------------- where an image point shows, by hand
def turned_point(point: tuple[float, float], rotation: int, flip: bool, rows: int, columns: int) -> tuple[float, float]:
    """Where image point (x, y) (pixel (c, r) on the square (c, r)-(c+1, r+1)) lies on the image as shown:
    turned `rotation` degrees clockwise, then flipped left to right (PS3.3 C.10.6.1.1), its new top left at (0, 0)."""
    x, y = point
    width = columns
    if rotation == 90:
        x, y, width = rows - y, x, rows
    elif rotation == 180:
        x, y = columns - x, rows - y
    elif rotation == 270:
        x, y, width = y, columns - x, rows
    if flip:
        x = width - x
    return x, y


def screen_of(pane, shown: tuple[float, float]) -> QPointF:
    """The view's widget position of a point of the image as shown (the view box's own coordinates)."""
    return QPointF(pane.view.mapFromScene(pane.view_box.mapViewToScene(QPointF(*shown))))


def screen_of_pixel(pane, column: float, row: float, turn) -> QPointF:
    """The screen position of the middle of image pixel (column, row); `turn` = (rotation, flip) or None (upright)."""
    rows, columns = pane.frame.shape
    middle = (column + 0.5, row + 0.5)
    return screen_of(pane, turned_point(middle, *turn, rows, columns) if turn else middle)


def colours_near(grabbed: QImage, at: QPointF, spread: int) -> list[tuple[int, int, int]]:
    ratio = grabbed.devicePixelRatio()
    x, y = round(at.x() * ratio), round(at.y() * ratio)
    found = []
    for dx in range(-spread, spread + 1):
        for dy in range(-spread, spread + 1):
            if 0 <= x + dx < grabbed.width() and 0 <= y + dy < grabbed.height():
                colour = grabbed.pixelColor(x + dx, y + dy)
                found.append((colour.red(), colour.green(), colour.blue()))
    return found


def measurement_colour_near(pane, at: QPointF) -> bool:
    """Whether a measurement's stroke (its colour or the selected one's, give or take the anti-aliasing) is within two
    screen pixels of `at` (the measurement just drawn is the selected one)."""
    targets = [(c.red(), c.green(), c.blue()) for c in (COLOUR, SELECTED_COLOUR)]
    grabbed = pane.view.viewport().grab().toImage()
    near = colours_near(grabbed, at, 2)
    return any(max(abs(a - b) for a, b in zip(colour, target)) <= 40 for colour in near for target in targets)


def distance_to_segment(point, start, end) -> float:
    (px, py), (ax, ay), (bx, by) = point, start, end
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - ax - t * dx, py - ay - t * dy)


# ---------------------------------------------------------------------- the mouse, in screen positions
def send(pane, kind, pos: QPointF, button=LEFT, buttons=None):
    surface = pane.image_surface()
    if buttons is None:
        buttons = button if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove) else 0
    event = QMouseEvent(kind, pos, surface.mapToGlobal(pos), button, Qt.MouseButton(buttons), Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(surface, event)


def drag(pane, start: QPointF, end: QPointF):
    send(pane, QEvent.Type.MouseButtonPress, start)
    send(pane, QEvent.Type.MouseMove, (start + end) / 2, button=Qt.MouseButton.NoButton, buttons=LEFT)
    send(pane, QEvent.Type.MouseMove, end, button=Qt.MouseButton.NoButton, buttons=LEFT)
    send(pane, QEvent.Type.MouseButtonRelease, end, buttons=Qt.MouseButton.NoButton)


def hover(pane, pos: QPointF):
    """The mouse over `pos`, as the view's scene reports it (pyqtgraph drops moves that follow each other closely
    in time: the scene's report itself, as tests/ui/test_main_window.py sends it)."""
    inverse, _ = pane.view.viewportTransform().inverted()
    pane.view.scene().sigMouseMoved.emit(inverse.map(pos))


# ---------------------------------------------------------------------- an image shown through a state
def open_with_state(main_window, open_in, qtbot, tmp_path, image_path: Path, rotation: int, flip: bool):
    """Open a folder holding `image_path` and a state that turns and flips it; the state applied."""
    folder = tmp_path / "study"
    folder.mkdir()
    # An image of its own (a new SOP Instance UID): measurements drawn here are kept for the whole test
    # session by that UID, and later tests that show pydicom's own file must not find them over it.
    ds = pydicom.dcmread(image_path)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(folder / image_path.name)
    header = pydicom.dcmread(folder / image_path.name, stop_before_pixels=True)
    make_state(header, rotation=rotation, flip=flip).save_as(folder / "pr.dcm", enforce_file_format=True)
    open_in(main_window, [folder])
    qtbot.waitUntil(lambda: len(main_window.presentation_states.index) >= 1, timeout=30000)
    qtbot.waitUntil(lambda: not main_window.opener.busy, timeout=30000)
    viewport = main_window.viewport
    qtbot.waitUntil(lambda: viewport.presentation.applied is not None, timeout=10000)
    viewport.pane.view  # the pyqtgraph view, built
    return viewport


@pytest.fixture
def window(main_window):
    shutil.rmtree(data_folder(), ignore_errors=True)
    main_window.measure_controller.store.folder = data_folder()
    return main_window


def length_mm(start, end, spacing) -> float:
    """A line's length from (0028,0030) *Pixel Spacing* (row spacing, column spacing), PS3.3 10.7.1.3."""
    row_mm, column_mm = spacing
    return math.hypot((end[0] - start[0]) * column_mm, (end[1] - start[1]) * row_mm)


def first_number(text: str) -> float:
    import re

    return float(re.findall(r"-?\d+(?:\.\d+)?", text)[0])


# ---------------------------------------------------------------------- (1) a length drawn by mouse
@pytest.mark.parametrize("rotation, flip", TURNS)
def test_a_length_drawn_on_a_turned_image_measures_and_shows_the_pixels_under_the_mouse(window, open_in, qtbot, tmp_path, rotation, flip):
    viewport = open_with_state(window, open_in, qtbot, tmp_path, CT, rotation, flip)
    pane = viewport.pane
    spacing = [float(v) for v in pydicom.dcmread(CT, stop_before_pixels=True).PixelSpacing]
    window.image_toolbar.tool_actions["line"].trigger()
    start, end = (20.0, 30.0), (90.0, 70.0)  # image points (column, row): pixel centres
    turn = (rotation, flip)
    drag(pane, screen_of_pixel(pane, *start, turn), screen_of_pixel(pane, *end, turn))

    shapes = window.measure_controller.image_of(viewport).history.shapes
    assert len(shapes) == 1 and shapes[0].tool == "line"
    drawn_start, drawn_end = shapes[0].points
    tolerance = 1.0 / pane.zoom()  # a screen pixel, in image pixels
    assert drawn_start == pytest.approx(start, abs=tolerance) and drawn_end == pytest.approx(end, abs=tolerance)
    label = layer_of(window, viewport).label_texts()[0]
    assert first_number(label) == pytest.approx(length_mm(drawn_start, drawn_end, spacing), abs=0.051)  # one decimal from 10 mm
    assert first_number(label) == pytest.approx(length_mm(start, end, spacing), abs=0.05)

    # Drawn over those pixels: along the line as turned, and not along the line as it would be upright.
    qtbot.wait(10)
    for k in (0.25, 0.5, 0.75):
        point = (start[0] + k * (end[0] - start[0]), start[1] + k * (end[1] - start[1]))
        assert measurement_colour_near(pane, screen_of_pixel(pane, *point, turn)), (k, point)
    rows, columns = pane.frame.shape
    as_turned = [turned_point((x + 0.5, y + 0.5), rotation, flip, rows, columns) for x, y in (start, end)]
    for point in ((30.0, 100.0), (100.0, 20.0)):  # where the untransformed mapping would put a point: not on the line
        if distance_to_segment((point[0] + 0.5, point[1] + 0.5), *as_turned) > 4:
            assert not measurement_colour_near(pane, screen_of(pane, (point[0] + 0.5, point[1] + 0.5)))
    # The label stays upright on the screen, beside the end furthest right on the screen (here not the one of the
    # largest column: the image is turned).
    item = layer_of(window, viewport).items[0]
    assert not item.label.deviceTransform(pane.view.viewportTransform()).isRotating()
    other_start, other_end = (10.0, 100.0), (60.0, 20.0)
    ends = [screen_of_pixel(pane, *point, turn) for point in (other_start, other_end)]
    drag(pane, *ends)
    label_at = pane.view.mapFromScene(layer_of(window, viewport).items[1].label.scenePos())
    rightmost = max(ends, key=lambda at: at.x())
    assert (label_at.x(), label_at.y()) == pytest.approx((rightmost.x(), rightmost.y()), abs=1.5)
    window.measure_controller.undo()

    # (5) The state off: the same measurement is drawn upright, where the image's pixels now are.
    viewport.presentation.toggle.click()
    assert pane.image_parent().transform().isIdentity()
    qtbot.wait(10)
    for k in (0.25, 0.5, 0.75):
        point = (start[0] + k * (end[0] - start[0]), start[1] + k * (end[1] - start[1]))
        assert measurement_colour_near(pane, screen_of_pixel(pane, *point, None)), (k, point)
    # And a length drawn now measures between the upright image's pixels.
    drag(pane, screen_of_pixel(pane, 10.0, 100.0, None), screen_of_pixel(pane, 60.0, 110.0, None))
    shapes = window.measure_controller.image_of(viewport).history.shapes
    assert len(shapes) == 2
    assert shapes[1].points[0] == pytest.approx((10.0, 100.0), abs=tolerance)
    assert shapes[1].points[1] == pytest.approx((60.0, 110.0), abs=tolerance)


# ---------------------------------------------------------------------- (2) an overlay bit
@pytest.mark.parametrize("rotation, flip", TURNS)
def test_an_overlay_bit_shows_where_its_image_pixel_is_on_the_turned_image(main_window, open_in, qtbot, tmp_path, rotation, flip):
    # Blocks of 4 x 4 overlay pixels (Overlay Origin (3, 5)): their inner pixels are unambiguous on the screen.
    ds, _ = image(rows=96, columns=128)
    blocks = np.kron(random_bits(np.random.default_rng(2), (20, 28), 0.4), np.ones((4, 4), dtype=bool))
    add_plane(ds, 0x6000, blocks, origin=(3, 5))
    path = save(ds, tmp_path / "blocks.dcm")
    expected = np.zeros((96, 128), dtype=bool)
    expected[2:82, 4:116] = blocks  # the origin is 1-based (PS3.3 C.9.2.1.1)
    padded = np.pad(expected, 1)
    neighbours = [padded[1 + dr : 97 + dr, 1 + dc : 129 + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    solid_on, solid_off = np.logical_and.reduce(neighbours), ~np.logical_or.reduce(neighbours)

    viewport = open_with_state(main_window, open_in, qtbot, tmp_path, path, rotation, flip)
    pane, layer = viewport.pane, viewport.overlay_layer
    qtbot.waitUntil(lambda: layer.drawn, timeout=10000)

    def check(turn):
        qtbot.wait(10)
        grabbed = pane.view.viewport().grab().toImage()
        for mask, drawn in ((solid_on, True), (solid_off, False)):
            checked = 0
            for r, c in np.argwhere(mask)[::7]:
                colour = colours_near(grabbed, screen_of_pixel(pane, c, r, turn), 0)
                if colour:
                    assert (colour[0] == OVERLAY_RGB) == drawn, (turn, r, c)
                    checked += 1
            assert checked > 50, (turn, drawn, checked)
        # Drawn from its copy at screen resolution (turned upright), as an upright overlay is: a window step blends it.
        assert layer.item._screen_copy is not None

    check((rotation, flip))
    pane.set_zoom(3.0)  # zoomed in: the copy made for the screen is made again, turned
    check((rotation, flip))
    # (5) The state off: the overlay is back on the upright image's pixels.
    viewport.presentation.toggle.click()
    pane.fit()
    check(None)


# ---------------------------------------------------------------------- (3) the value under the cursor
@pytest.mark.parametrize("rotation, flip", TURNS)
def test_the_value_under_the_cursor_is_the_turned_images_pixel(main_window, open_in, qtbot, tmp_path, rotation, flip):
    viewport = open_with_state(main_window, open_in, qtbot, tmp_path, CT, rotation, flip)
    pane = viewport.pane
    stored = pydicom.dcmread(CT).pixel_array
    for column, row, turn in ((30, 50, (rotation, flip)), (100, 12, (rotation, flip))):
        with qtbot.waitSignal(viewport.readout, timeout=2000) as said:
            hover(pane, screen_of_pixel(pane, column, row, turn))
        assert said.args[0].startswith(f"x {column} y {row}: stored {stored[row, column]}"), said.args[0]
    # (5) The state off: the upright image's pixel under the same kind of point.
    viewport.presentation.toggle.click()
    with qtbot.waitSignal(viewport.readout, timeout=2000) as said:
        hover(pane, screen_of_pixel(pane, 30, 50, None))
    assert said.args[0].startswith(f"x 30 y 50: stored {stored[50, 30]}"), said.args[0]


# ---------------------------------------------------------------------- (4) reference lines
@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    """An axial series and a sagittal one through it (the linking tests' geometry), read through the catalog."""
    from mpr_phantom import write_series

    from viewer.core.media.sources import open_paths

    root = tmp_path_factory.mktemp("turned_lines")
    frame = "1.2.826.0.1.3680043.8.498.1499"
    plans = {
        "axial": (((1, 0, 0), (0, 1, 0)), [(-32, -32, 2.0 * k) for k in range(20)]),
        "sagittal": (((0, 1, 0), (0, 0, -1)), [(-20 + 10.0 * k, -32, 50) for k in range(5)]),
    }
    for number, (name, (orientation, positions)) in enumerate(plans.items()):
        write_series(
            root / name,
            lambda points: np.zeros(points.shape[:-1]) + 40.0,
            orientation[0],
            orientation[1],
            64,
            64,
            (1, 1),
            [np.array(p, dtype=float) for p in positions],
            SeriesInstanceUID=f"1.2.826.0.1.3680043.8.498.149{number + 3}",
            FrameOfReferenceUID=frame,
            SeriesDescription=name,
        )
    return {s.description: s for s in open_paths([root]).catalog.all_series()}


@pytest.mark.parametrize("rotation, flip", TURNS)
def test_a_reference_line_lands_on_the_turned_images_pixels(qtbot, phantom, rotation, flip):
    from PySide6.QtWidgets import QHBoxLayout, QWidget

    from viewer.core.dicom.charset import CharsetOverrides
    from viewer.core.display.frames import FrameSource
    from viewer.core.documents.presentation_render import spatial_affine
    from viewer.ui.viewport.linking import LinkController
    from viewer.ui.viewport.reference_overlay import ACTIVE_LINE_COLOUR
    from viewer.ui.viewport.viewport import Viewport
    from viewer.ui.window.workers import BackgroundRunner

    runner = BackgroundRunner()
    holder = QWidget()
    qtbot.addWidget(holder)
    row = QHBoxLayout(holder)
    source = FrameSource()
    axial, sagittal = Viewport(source, runner, CharsetOverrides()), Viewport(source, runner, CharsetOverrides())
    try:
        for viewport in (axial, sagittal):
            row.addWidget(viewport)
            viewport.pane.view  # built now
        holder.resize(900, 450)
        holder.show()
        qtbot.waitExposed(holder)
        for viewport, name in ((axial, "axial"), (sagittal, "sagittal")):
            viewport.show_series(phantom[name])
            qtbot.waitUntil(lambda viewport=viewport: viewport.frame is not None, timeout=10000)
        controller = LinkController([axial, sagittal], lambda: axial, parent=holder)
        index = next(i for i, ref in enumerate(axial.images) if abs(float(ref.instance.header.ImagePositionPatient[2]) - 12.0) < 1e-6)
        axial.go_to(index)
        qtbot.waitUntil(lambda: abs(float(axial.current.instance.header.ImagePositionPatient[2]) - 12.0) < 1e-6)
        # The sagittal image: row r at z = 50 - r, so z = 12 is row 38, across all its 64 columns.
        pane = sagittal.pane
        # The turn a presentation state gives the image (what the presentation layer asks of the pane).
        pane.set_image_transform(QTransform(*spatial_affine(rotation, flip, 64, 64)))
        controller.refresh_lines()
        qtbot.wait(10)
        drawn = controller.overlays[sagittal].drawn_segment("active")
        assert drawn is not None and {round(drawn[0][1], 6), round(drawn[1][1], 6)} == {38.0}  # still in image points

        def line_at(column, turn, row=38) -> bool:
            grabbed = pane.view.viewport().grab().toImage()
            target = (ACTIVE_LINE_COLOUR.red(), ACTIVE_LINE_COLOUR.green(), ACTIVE_LINE_COLOUR.blue())
            near = colours_near(grabbed, screen_of_pixel(pane, column, row, turn), 1)
            return any(max(abs(a - b) for a, b in zip(colour, target)) <= 40 for colour in near)

        # The line's ends (and its middle) land on image row 38's pixels as turned; not on row 10's.
        for column in (1, 32, 62):
            assert line_at(column, (rotation, flip)), column
        for column in (1, 32, 62):
            grabbed = pane.view.viewport().grab().toImage()
            near = colours_near(grabbed, screen_of_pixel(pane, column, 10, (rotation, flip)), 1)
            assert (ACTIVE_LINE_COLOUR.red(), ACTIVE_LINE_COLOUR.green(), ACTIVE_LINE_COLOUR.blue()) not in near

        # Shift+click on the turned image: the point clicked is the image's pixel under the mouse. Column 40, row 27
        # of the sagittal is y = -32 + 40 = 8, z = 50 - 27 = 23: the axial goes to z = 22 (the first of the two
        # nearest), where x and y are column x + 32 and row 40.
        controller.set_scroll_linked(False)
        x = float(sagittal.current.instance.header.ImagePositionPatient[0])
        clicked = screen_of_pixel(pane, 40, 27, (rotation, flip)).toPoint()
        qtbot.mouseClick(pane.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, clicked)
        qtbot.waitUntil(lambda: abs(float(axial.current.instance.header.ImagePositionPatient[2]) - 22.0) < 1e-6)
        assert controller.overlays[axial].mark_point == pytest.approx((x + 32, 40), abs=0.5)
        assert controller.overlays[sagittal].mark_point == pytest.approx((40, 27), abs=0.5)
        mark = controller.overlays[sagittal]._mark
        at = pane.view.mapFromScene(mark.scenePos())
        expected = screen_of_pixel(pane, *controller.overlays[sagittal].mark_point, (rotation, flip))
        assert (at.x(), at.y()) == pytest.approx((expected.x(), expected.y()), abs=1.0)  # the mark on the turned pixel
        controller.mark_timer.stop()

        # Linked zoom and pan: the turned image shows the same part of the image (as a fraction of it) as the axial.
        controller.set_zoom_linked(True)
        axial.pane.fitted = False
        axial.pane.view_box.setRange(QRectF(16 - 6, 40 - 6, 12, 12), padding=0.0)  # centred on image point (16, 40)
        centre = pane.view_box.viewRect().center()
        assert (centre.x(), centre.y()) == pytest.approx(turned_point((16, 40), rotation, flip, 64, 64), abs=0.5)
        controller.set_zoom_linked(False)
        pane.fit()

        # (5) Turned back upright: the line is on its row again (the axial is now at z = 22: row 50 - 22 = 28).
        pane.set_image_transform(None)
        qtbot.wait(10)
        for column in (1, 32, 62):
            assert line_at(column, None, row=28), column
    finally:
        for viewport in (axial, sagittal):
            viewport.stop_prefetch()
        runner.shutdown()


# ---------------------------------------------------------------------- the orientation markers
@pytest.mark.parametrize(
    "rotation, flip, expected",
    [
        # CT_small is axial, rows along the patient's left (x) and columns towards posterior (y): upright R, L, A, P.
        # A quarter turn clockwise takes the left edge (R) to the top and the top (A) to the right; the flip then
        # swaps left and right. Three quarters: the top (A) goes to the left and the right edge (L) to the top.
        (90, True, {"left": "A", "right": "P", "top": "R", "bottom": "L"}),
        (270, False, {"left": "A", "right": "P", "top": "L", "bottom": "R"}),
    ],
)
def test_the_orientation_markers_follow_the_turn(main_window, open_in, qtbot, tmp_path, rotation, flip, expected):
    viewport = open_with_state(main_window, open_in, qtbot, tmp_path, CT, rotation, flip)
    markers = viewport.pane.marker_labels
    assert {edge: label.text() for edge, label in markers.items()} == expected
    viewport.presentation.toggle.click()
    assert {edge: label.text() for edge, label in markers.items()} == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
