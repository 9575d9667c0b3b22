"""Linking between viewports under pytest-qt: scroll, offset, window, zoom, reference lines, cursor.

Series with known geometry are written with pydicom into tmp_path (one
frame of reference unless said): an axial stack (64 x 64 pixels of 1 mm,
20 slices 2 mm apart, z = 0..38), a second axial stack 3 mm apart (z =
1..43), a sagittal stack (64 x 64, 1 mm, x = -20..20 step 10), a single
coronal localizer, and an axial stack of another frame of reference (z =
100..138). Expected slices and lines are worked out by hand in each test
from those numbers; the slice a viewport shows is read back from its file's
(0020,0032) *Image Position (Patient)*, never from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from mpr_phantom import write_series
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QGridLayout, QWidget

from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.display.frames import FrameSource
from viewer.core.media.sources import open_paths
from viewer.ui.viewport.linking import LinkController
from viewer.ui.viewport.reference_overlay import ACTIVE_LINE_COLOUR
from viewer.ui.viewport.viewport import Viewport
from viewer.ui.window.workers import BackgroundRunner

FRAME = "1.2.826.0.1.3680043.8.498.1401"
OTHER_FRAME = "1.2.826.0.1.3680043.8.498.1402"
AXIAL = ((1, 0, 0), (0, 1, 0))
SAGITTAL = ((0, 1, 0), (0, 0, -1))
CORONAL = ((1, 0, 0), (0, 0, -1))


def _flat(points: np.ndarray) -> np.ndarray:
    return np.zeros(points.shape[:-1]) + 40.0  # 40 HU everywhere: the geometry is what is tested


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """The series above, by name, read through the viewer's catalog."""
    root = tmp_path_factory.mktemp("linking")
    plans = {
        # name: (orientation, rows, columns, pixel spacing, positions, frame of reference)
        "axial": (AXIAL, 64, 64, (1, 1), [(-32, -32, 2.0 * k) for k in range(20)], FRAME),
        "axial3": (AXIAL, 64, 64, (1, 1), [(-32, -32, 1.0 + 3.0 * k) for k in range(15)], FRAME),
        "sagittal": (SAGITTAL, 64, 64, (1, 1), [(-20 + 10.0 * k, -32, 50) for k in range(5)], FRAME),
        "scout": (CORONAL, 80, 100, (1, 1), [(-50, 0, 60)], FRAME),
        "prior": (AXIAL, 64, 64, (1, 1), [(-32, -32, 100 + 2.0 * k) for k in range(20)], OTHER_FRAME),
    }
    for number, (name, (orientation, rows, columns, spacing, positions, frame)) in enumerate(plans.items()):
        write_series(
            root / name,
            _flat,
            orientation[0],
            orientation[1],
            rows,
            columns,
            spacing,
            [np.array(p, dtype=float) for p in positions],
            SeriesInstanceUID=f"1.2.826.0.1.3680043.8.498.140{number + 3}",
            FrameOfReferenceUID=frame,
            SeriesDescription=name,
        )
    found = open_paths([root]).catalog.all_series()
    return {s.description: s for s in found}


@pytest.fixture
def runner():
    runner = BackgroundRunner()
    yield runner
    runner.shutdown()


@pytest.fixture
def grid(qtbot, runner):
    """Four viewports in a 2 x 2 grid, their pyqtgraph views built; the first is active."""
    holder = QWidget()
    qtbot.addWidget(holder)
    layout = QGridLayout(holder)
    source = FrameSource()
    viewports = [Viewport(source, runner, CharsetOverrides()) for _ in range(4)]
    for k, viewport in enumerate(viewports):
        layout.addWidget(viewport, k // 2, k % 2)
        assert viewport.pane.view is not None  # built now, not after the first paint
    holder.resize(900, 900)
    holder.show()
    qtbot.waitExposed(holder)
    yield viewports
    for viewport in viewports:
        viewport.stop_prefetch()


class Active:
    """Which viewport is active (as a layout would say)."""

    def __init__(self, viewport):
        self.viewport = viewport

    def __call__(self):
        return self.viewport


def link(grid, active) -> LinkController:
    """A controller of the grid's viewports that goes with them (its timer cannot outlive the test)."""
    return LinkController(grid, active, parent=grid[0].parentWidget())


def show(qtbot, viewport, series):
    viewport.show_series(series)
    qtbot.waitUntil(lambda: viewport.frame is not None, timeout=10000)


def z_of(viewport) -> float:
    """The shown image's z, read from its file's Image Position (Patient)."""
    return float(viewport.current.instance.header.ImagePositionPatient[2])


def x_of(viewport) -> float:
    return float(viewport.current.instance.header.ImagePositionPatient[0])


def index_at_z(viewport, z: float, axis: int = 2) -> int:
    """The index of the image at `z` (or at x = `z` with axis 0), from the files' Image Position (Patient)."""
    return next(i for i, ref in enumerate(viewport.images) if abs(float(ref.instance.header.ImagePositionPatient[axis]) - z) < 1e-6)


def same_segment(drawn, expected, tolerance=1.0) -> bool:
    """Whether two segments ((c, r), (c, r)) agree within `tolerance` pixels, in either direction."""
    drawn, expected = np.array(drawn, dtype=float), np.array(expected, dtype=float)
    return min(np.abs(drawn - expected).max(), np.abs(drawn[::-1] - expected).max()) <= tolerance


# ---------------------------------------------------------------------- reference lines


def test_axial_line_on_sagittal_and_coronal_matches_the_plane_intersection(qtbot, grid, series):
    axial, sagittal, scout = grid[0], grid[1], grid[2]
    show(qtbot, axial, series["axial"])
    show(qtbot, sagittal, series["sagittal"])
    show(qtbot, scout, series["scout"])
    controller = link(grid, Active(axial))
    axial.go_to(index_at_z(axial, 12.0))
    qtbot.waitUntil(lambda: z_of(axial) == 12.0)
    # The axial image covers x and y from -32.5 to 31.5 (64 pixels of 1 mm, centres -32..31), at z = 12.
    # Sagittal: column c at y = -32 + c, row r at z = 50 - r; z = 12 is row 38; y -32.5..31.5 is columns -0.5..63.5.
    assert same_segment(controller.overlays[sagittal].drawn_segment("active"), ((-0.5, 38), (63.5, 38)))
    # Coronal scout: column c at x = -50 + c, row r at z = 60 - r: row 48, columns 17.5..81.5.
    assert same_segment(controller.overlays[scout].drawn_segment("active"), ((17.5, 48), (81.5, 48)))
    assert controller.overlays[axial].drawn_segment("active") is None  # none on the active image itself
    assert controller.overlays[grid[3]].drawn_segment("active") is None  # an empty viewport


def test_sagittal_line_on_axial_follows_the_active_viewport(qtbot, grid, series):
    axial, sagittal = grid[0], grid[1]
    show(qtbot, axial, series["axial"])
    show(qtbot, sagittal, series["sagittal"])
    active = Active(axial)
    controller = link(grid, active)
    active.viewport = sagittal
    controller.refresh_lines()
    sagittal.go_to(index_at_z(sagittal, 10.0, axis=0))
    qtbot.waitUntil(lambda: x_of(sagittal) == 10.0)
    # On the axial image, column c at x = -32 + c: x = 10 is column 42. The sagittal image covers y -32.5..31.5
    # (rows -0.5..63.5 of the axial) and z -13.5..50.5, which holds the axial's z.
    assert same_segment(controller.overlays[axial].drawn_segment("active"), ((42, -0.5), (42, 63.5)))
    assert controller.overlays[sagittal].drawn_segment("active") is None


def test_the_line_is_painted_where_the_planes_cross(qtbot, grid, series):
    """On the screen: the line's colour lies within one image pixel of the expected row, across the image."""
    axial, sagittal = grid[0], grid[1]
    show(qtbot, axial, series["axial"])
    show(qtbot, sagittal, series["sagittal"])
    link(grid, Active(axial))
    axial.go_to(index_at_z(axial, 20.0))
    qtbot.waitUntil(lambda: z_of(axial) == 20.0)
    view, view_box = sagittal.pane.view, sagittal.pane.view_box
    image = view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(image.height(), image.bytesPerLine() // 4)[:, : image.width()]
    expected_row = 30 + 0.5  # z = 20 is row 30 (see above); its pixel's middle in the view box
    scale = sagittal.pane.zoom()  # screen pixels per image pixel
    ys, xs = np.nonzero((pixels & 0xFFFFFF) == (ACTIVE_LINE_COLOUR.rgb() & 0xFFFFFF))
    hits = [view_box.mapSceneToView(view.mapToScene(QPoint(int(x), int(y)))) for y, x in zip(ys, xs)]
    assert hits, "no reference line painted"
    rows = np.array([point.y() for point in hits])
    columns = np.array([point.x() for point in hits])
    assert np.abs(rows - expected_row).max() <= 1.0 + 1.0 / scale
    assert columns.min() <= 1.0 and columns.max() >= 63.0  # across the whole sagittal image


def test_first_and_last_slice_lines_on_the_localizer(qtbot, grid, series):
    axial, scout = grid[0], grid[2]
    show(qtbot, axial, series["axial"])
    show(qtbot, scout, series["scout"])
    controller = link(grid, Active(axial))
    controller.set_first_last_lines(True)
    # The axial stack runs from z = 0 to 38: rows 60 and 22 of the scout (row r at z = 60 - r).
    overlay = controller.overlays[scout]
    assert same_segment(overlay.drawn_segment("first"), ((17.5, 60), (81.5, 60)))
    assert same_segment(overlay.drawn_segment("last"), ((17.5, 22), (81.5, 22)))
    controller.set_first_last_lines(False)
    assert overlay.drawn_segment("first") is None and overlay.drawn_segment("last") is None
    controller.set_reference_lines(False)
    assert overlay.drawn_segment("active") is None


def test_no_line_across_frames_of_reference(qtbot, grid, series):
    sagittal, prior = grid[0], grid[1]
    show(qtbot, sagittal, series["sagittal"])
    show(qtbot, prior, series["prior"])
    controller = link(grid, Active(sagittal))
    assert controller.overlays[prior].drawn_segment("active") is None


# ---------------------------------------------------------------------- linked scrolling


def test_linked_scrolling_picks_the_slice_at_the_same_position(qtbot, grid, series):
    two, three, sagittal = grid[0], grid[1], grid[2]
    show(qtbot, two, series["axial"])
    show(qtbot, three, series["axial3"])
    show(qtbot, sagittal, series["sagittal"])
    controller = link(grid, Active(two))
    sagittal_x = x_of(sagittal)
    # axial3 has z = 1, 4, 7, ..., 43; half its spacing is 1.5 mm.
    # z = 12: 13 (1 mm; 10 is 2 mm off); z = 14: 13 (1 mm); z = 16: 16; z = 6: 7 (1 mm); z = 0: 1 (1 mm).
    for z, expected in ((12.0, 13.0), (14.0, 13.0), (16.0, 16.0), (6.0, 7.0), (0.0, 1.0)):
        two.go_to(index_at_z(two, z))
        qtbot.waitUntil(lambda z=z: z_of(two) == z)
        qtbot.waitUntil(lambda expected=expected: z_of(three) == expected)
        assert not controller.overlays[three].note.isVisible()
    assert z == 0.0 and z_of(three) == 1.0
    assert x_of(sagittal) == sagittal_x  # perpendicular: not linked, it stays
    assert not controller.overlays[sagittal].note.isVisible()
    # Scrolling the 3 mm stack moves the 2 mm one (half its spacing: 1 mm). z = 37: 36 and 38 are 1 mm
    # off, the first in slice order (36) wins; z = 40 is 2 mm past its last slice (38): "no slice here".
    three.go_to(index_at_z(three, 37.0))
    qtbot.waitUntil(lambda: z_of(two) == 36.0)
    assert not controller.overlays[two].note.isVisible()
    three.go_to(index_at_z(three, 40.0))
    qtbot.waitUntil(lambda: controller.overlays[two].note.isVisible())
    assert z_of(two) == 36.0  # it keeps its image
    three.go_to(index_at_z(three, 31.0))
    qtbot.waitUntil(lambda: z_of(two) == 30.0)
    assert not controller.overlays[two].note.isVisible()


def test_linked_scrolling_off(qtbot, grid, series):
    two, three = grid[0], grid[1]
    show(qtbot, two, series["axial"])
    show(qtbot, three, series["axial3"])
    controller = link(grid, Active(two))
    controller.set_scroll_linked(False)
    before = z_of(three)
    two.go_to(0)
    qtbot.waitUntil(lambda: z_of(two) == 0.0)
    assert z_of(three) == before
    controller.set_scroll_linked(True)  # the others follow the active one at once
    qtbot.waitUntil(lambda: z_of(three) == 1.0)


def test_offset_linking_for_another_frame_of_reference(qtbot, grid, series):
    current, prior = grid[0], grid[1]
    show(qtbot, current, series["axial"])
    show(qtbot, prior, series["prior"])
    controller = link(grid, Active(current))
    assert z_of(prior) == 120.0  # its middle image
    current.go_to(index_at_z(current, 12.0))
    qtbot.waitUntil(lambda: z_of(current) == 12.0)
    assert z_of(prior) == 120.0  # another frame of reference: not linked without an offset
    assert not controller.overlays[prior].note.isVisible()
    # The user shows the same anatomy side by side (z = 12 here is z = 116 there), then links with offset.
    prior.go_to(index_at_z(prior, 116.0))
    qtbot.waitUntil(lambda: z_of(prior) == 116.0)
    assert controller.link_with_offset() == 1
    for z, expected in ((20.0, 124.0), (0.0, 104.0), (30.0, 134.0)):
        current.go_to(index_at_z(current, z))
        qtbot.waitUntil(lambda expected=expected: z_of(prior) == expected)
    # And the other way: the prior moves the current one back by the same 104 mm.
    prior.go_to(index_at_z(prior, 110.0))
    qtbot.waitUntil(lambda: z_of(current) == 6.0)
    current.go_to(index_at_z(current, 34.0))
    qtbot.waitUntil(lambda: z_of(prior) == 138.0)
    # z = 100 in the prior is z = -4 here, 4 mm before the first slice: "no slice here", it stays.
    prior.go_to(index_at_z(prior, 100.0))
    qtbot.waitUntil(lambda: controller.overlays[current].note.isVisible())
    assert z_of(current) == 34.0
    # z = 38 here is z = 142 there, past its last slice (138).
    current.go_to(index_at_z(current, 38.0))
    qtbot.waitUntil(lambda: controller.overlays[prior].note.isVisible())
    assert z_of(prior) == 100.0 and not controller.overlays[current].note.isVisible()


# ---------------------------------------------------------------------- window and zoom


def test_linked_window_level_reaches_the_same_modality(qtbot, grid, series):
    first, second = grid[0], grid[1]
    show(qtbot, first, series["axial"])
    show(qtbot, second, series["axial3"])
    controller = link(grid, Active(first))
    first.set_window(300, 1500)
    assert second.display.state.voi is None  # off by default
    controller.set_window_linked(True)
    assert second.effective_voi().center == 300 and second.effective_voi().width == 1500
    second.set_window(-600, 1200)
    assert (first.effective_voi().center, first.effective_voi().width) == (-600, 1200)


def test_linked_zoom_and_pan(qtbot, grid, series):
    first, second = grid[0], grid[1]
    show(qtbot, first, series["axial"])
    show(qtbot, second, series["sagittal"])
    controller = link(grid, Active(first))
    controller.set_zoom_linked(True)
    first.pane.set_zoom(4.0)
    # Both have 1 mm pixels: the same screen pixels per image pixel, the same centre (the middle of the image).
    assert second.pane.zoom() == pytest.approx(4.0, rel=0.02)
    centre = second.pane.view_box.viewRect().center()
    assert (centre.x(), centre.y()) == pytest.approx((32.0, 32.0), abs=0.5)
    first.pane.fit()
    assert second.pane.fitted


# ---------------------------------------------------------------------- cross-reference cursor


def test_shift_click_takes_the_other_viewports_to_the_point(qtbot, grid, series):
    axial, sagittal, scout = grid[0], grid[1], grid[2]
    show(qtbot, axial, series["axial"])
    show(qtbot, sagittal, series["sagittal"])
    show(qtbot, scout, series["scout"])
    controller = link(grid, Active(axial))
    controller.set_scroll_linked(False)
    sagittal.go_to(index_at_z(sagittal, 10.0, axis=0))
    qtbot.waitUntil(lambda: x_of(sagittal) == 10.0)
    # On the sagittal: column 40, row 27 is y = -32 + 40 = 8, z = 50 - 27 = 23: the axial at z = 22 or 24
    # (1 mm each; the first of equals in slice order, 22); on it x = 10, y = 8 is column 42, row 40.
    # On the coronal scout (one image): x = 10 is column 60, z = 23 is row 37.
    view, view_box = sagittal.pane.view, sagittal.pane.view_box
    screen = view.mapFromScene(view_box.mapViewToScene(QPointF(40.5, 27.5)))  # the pixel's middle in the view box
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, screen)
    qtbot.waitUntil(lambda: z_of(axial) == 22.0)
    assert controller.overlays[axial].mark_point == pytest.approx((42, 40), abs=0.5)
    assert controller.overlays[axial].mark_visible
    assert controller.overlays[scout].mark_point == pytest.approx((60, 37), abs=0.5)
    assert controller.overlays[sagittal].mark_point == pytest.approx((40, 27), abs=0.5)
    # The marks go when the timer ends (driven here, not waited for).
    assert controller.mark_timer.isActive()
    controller.mark_timer.stop()
    controller.mark_timer.timeout.emit()
    assert not controller.overlays[axial].mark_visible and controller.overlays[axial].mark_point is None


def test_a_plain_click_is_not_the_cursor(qtbot, grid, series):
    axial, sagittal = grid[0], grid[1]
    show(qtbot, axial, series["axial"])
    show(qtbot, sagittal, series["sagittal"])
    controller = link(grid, Active(axial))
    before = z_of(axial)
    view = sagittal.pane.view
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, view.viewport().rect().center())
    assert z_of(axial) == before and controller.overlays[axial].mark_point is None


def test_cursor_across_frames_uses_the_offset(qtbot, grid, series):
    current, prior = grid[0], grid[1]
    show(qtbot, current, series["axial"])
    show(qtbot, prior, series["prior"])
    controller = link(grid, Active(current))
    assert controller.cross_reference(current, 10, 10) == {}  # no common frame of reference, no offset
    current.go_to(index_at_z(current, 12.0))
    prior.go_to(index_at_z(prior, 116.0))
    qtbot.waitUntil(lambda: z_of(current) == 12.0 and z_of(prior) == 116.0)
    controller.link_with_offset()
    controller.set_scroll_linked(False)
    current.go_to(index_at_z(current, 30.0))
    qtbot.waitUntil(lambda: z_of(current) == 30.0)
    assert controller.cross_reference(current, 5, 6) == {prior: index_at_z(prior, 134.0)}
    assert controller.overlays[prior].mark_point == pytest.approx((5, 6))


def test_files_hold_what_the_tests_assume(series):
    """The hand calculations above rest on these positions (read with pydicom, not the viewer)."""
    sagittal = sorted(float(pydicom.dcmread(ref.instance.path).ImagePositionPatient[0]) for ref in series["sagittal"].images)
    assert sagittal == [-20.0, -10.0, 0.0, 10.0, 20.0]
    scout = pydicom.dcmread(series["scout"].images[0].instance.path)
    assert [float(v) for v in scout.ImagePositionPatient] == [-50.0, 0.0, 60.0] and (scout.Rows, scout.Columns) == (80, 100)


# ---------------------------------------------------------------------- the window's switches


def test_the_window_offers_the_switches_on_free_keys(main_window, open_in, series):
    from viewer.ui.viewport.link_actions import links_of

    links = links_of(main_window)
    assert links is not None
    keys = [key.toString() for action in main_window.actions() for key in action.shortcuts() if not key.isEmpty()]
    assert len(keys) == len(set(keys)), sorted(keys)  # no key bound twice
    assert {action.shortcut().toString() for action in links.actions} == {
        "Ctrl+L",
        "Ctrl+Shift+L",
        "Ctrl+Shift+W",
        "Ctrl+Shift+Z",
        "Ctrl+R",
        "Ctrl+Shift+F",
    }
    assert all(action in main_window.actions() for action in links.actions)
    open_in(main_window, [series["axial"].images[0].instance.path.parent])
    controller = links.controller()
    assert main_window.viewport in controller.overlays  # found with the first image
    assert controller.scroll_linked and controller.reference_lines and not controller.window_linked
    links.scroll.trigger()
    links.window_level.trigger()
    links.zoom.trigger()
    links.ends.trigger()
    assert not controller.scroll_linked and controller.window_linked and controller.zoom_linked and controller.first_last_lines
    links.offset.trigger()  # one viewport: nothing to link, said in the status bar; scrolling linked again
    assert controller.scroll_linked and links.scroll.isChecked()
    assert "no two series" in main_window.statusBar().currentMessage()


def test_scout_lines_of_a_real_ct_on_its_localizer(qtbot, grid, tmp_path):
    """pydicom's dicomdirtests CT: five axial slices (CT5N) and a coronal scout (CT2N/6924), one frame of reference.

    The files were cut down to 16 x 16 pixels; copies here get back a 512 x 512 matrix (zero pixels), the
    positions, orientations and spacings of the acquisition left as written.
    """
    from pydicom.data import get_testdata_file

    tests = Path(get_testdata_file("DICOMDIR", download=False)).parent / "98892001"
    for name in ("CT2N/6924", "CT2N/6293", *(f"CT5N/{n}" for n in ("2062", "2392", "2693", "3023", "3353"))):
        ds = pydicom.dcmread(tests / name)
        ds.Rows = ds.Columns = 512
        ds.PixelData = np.zeros((512, 512), dtype="<i2").tobytes()
        (tmp_path / name).parent.mkdir(exist_ok=True)
        ds.save_as(tmp_path / name)
    found = {s.description or s.uid: s for s in open_paths([tmp_path]).catalog.all_series()}
    axial_series = next(s for s in found.values() if len(s.images) == 5)
    scout_series = next(s for s in found.values() if len(s.images) == 2)
    axial, scout = grid[0], grid[1]
    show(qtbot, axial, axial_series)
    coronal_ref = next(ref for ref in scout_series.images if ref.instance.path.name == "6924")
    scout.show_series(scout_series, coronal_ref)
    qtbot.waitUntil(lambda: scout.frame is not None)
    controller = link(grid, Active(axial))
    controller.set_first_last_lines(True)
    # The scout: first pixel (-265, 0, 50), rows to the left 0.596847 mm apart, columns to the feet 0.545455 mm
    # apart. An axial slice covers x from -72.2 - 0.244 (its first pixel's outer edge) to beyond the scout's edge.
    left, right = (-72.199997 - 0.5 * 0.488281 + 265) / 0.596847, 511.5
    for index in range(5):
        axial.go_to(index)
        qtbot.waitUntil(lambda index=index: axial.display.state.index == index and axial.current == axial.images[index])
        row = (50 - z_of(axial)) / 0.545455
        assert same_segment(controller.overlays[scout].drawn_segment("active"), ((left, row), (right, row)))
    # First and last slices at z = 8.7625 and -1.2375 mm: rows 75.6 and 93.9 (in slice order, feet first).
    overlay = controller.overlays[scout]
    rows = sorted(overlay.drawn_segment(name)[0][1] for name in ("first", "last"))
    assert rows == pytest.approx(sorted([(50 - 8.7625) / 0.545455, (50 + 1.2375) / 0.545455]), abs=1.0)
    assert controller.linked_image(axial, scout) == (False, None)  # a localizer series is not a stack: not scrolled


def test_a_series_shown_beside_joins_the_active_position(qtbot, grid, series):
    active_viewport, other = grid[0], grid[1]
    show(qtbot, active_viewport, series["axial"])
    link(grid, Active(active_viewport))
    active_viewport.go_to(index_at_z(active_viewport, 12.0))
    qtbot.waitUntil(lambda: z_of(active_viewport) == 12.0)
    show(qtbot, other, series["axial3"])  # its middle image would be z = 22
    qtbot.waitUntil(lambda: z_of(other) == 13.0)
    assert z_of(active_viewport) == 12.0  # the active one stays


def test_lines_follow_when_a_press_makes_another_viewport_active(qtbot, grid, series):
    axial, sagittal = grid[0], grid[1]
    show(qtbot, axial, series["axial"])
    show(qtbot, sagittal, series["sagittal"])
    active = Active(axial)
    controller = link(grid, active)
    assert controller.overlays[sagittal].drawn_segment("active") is not None
    assert controller.overlays[axial].drawn_segment("active") is None
    active.viewport = sagittal  # what a layout does on a press in a viewport; the controller looks after the press
    surface = sagittal.pane.view.viewport()
    qtbot.mousePress(surface, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, surface.rect().center())
    qtbot.mouseRelease(surface, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, surface.rect().center())
    qtbot.waitUntil(lambda: controller.overlays[axial].drawn_segment("active") is not None)
    assert controller.overlays[sagittal].drawn_segment("active") is None


def test_a_series_shown_beside_takes_the_linked_window(qtbot, grid, series):
    first, second = grid[0], grid[1]
    show(qtbot, first, series["axial"])
    controller = link(grid, Active(first))
    controller.set_window_linked(True)
    first.set_window(500, 2000)
    show(qtbot, second, series["axial3"])
    assert (second.effective_voi().center, second.effective_voi().width) == (500, 2000)
