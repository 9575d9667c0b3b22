"""View > MPR: three planes of the active viewport's series, a crosshair, slabs, the viewport's window.

The series are phantoms with known geometry (tests/mpr_phantom.py). The
expected images are computed here: the files read back with pydicom
(stored values x Rescale Slope + Rescale Intercept, each pixel placed by
its Image Position / Orientation (Patient) and Pixel Spacing on the
phantom's grid), resliced with numpy by the radiological convention and
windowed by PS3.3 C.11.2.1.2.1 (LINEAR); never by the viewer's code.
"""

from __future__ import annotations

import shutil

import numpy as np
import pydicom
import pytest
from mpr_phantom import ORIGIN, SPACING, acquisition, phantom, write_phantom, write_series
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

FILE_WINDOW = (40.0, 400.0)  # the files' (0028,1050) Window Center, (0028,1051) Window Width


def linear_window(x: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 with ymin 0, ymax 255, rounded to the nearest grey level."""
    x = np.asarray(x, dtype=np.float64)
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * 255
    y = np.where(x <= center - 0.5 - (width - 1) / 2, 0, np.where(x > center - 0.5 + (width - 1) / 2, 255, y))
    return np.clip(np.rint(y), 0, 255).astype(np.uint8)


def volume_from_disk(folder, shape) -> np.ndarray:
    """The phantom's grid filled from the files in `folder`, read with pydicom (modality values)."""
    grid = np.full(shape, np.nan)
    spacing_xyz = np.array(SPACING[::-1])
    for path in sorted(folder.glob("*.dcm")):
        ds = pydicom.dcmread(path)
        values = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        cosines = np.array([float(v) for v in ds.ImageOrientationPatient])
        row, column = cosines[:3], cosines[3:]
        dr, dc = (float(v) for v in ds.PixelSpacing)
        i, j = np.mgrid[0 : ds.Rows, 0 : ds.Columns]
        points = np.array([float(v) for v in ds.ImagePositionPatient]) + (j[..., None] * dc) * row + (i[..., None] * dr) * column
        x, y, z = np.rint((points - ORIGIN) / spacing_xyz).astype(int).transpose(2, 0, 1)
        grid[z, y, x] = values
    assert not np.isnan(grid).any()
    return grid


def reslice(values: np.ndarray, plane: str, index: int) -> np.ndarray:
    """Axial from the feet (anterior up), coronal from the front and sagittal from the left (head up)."""
    if plane == "axial":
        return values[index]
    return values[::-1, index, :] if plane == "coronal" else values[::-1, :, index]


def slab(values: np.ndarray, plane: str, first: int, last: int, reduce) -> np.ndarray:
    axis = {"axial": 0, "coronal": 1, "sagittal": 2}[plane]
    block = reduce(np.take(values, range(first, last + 1), axis=axis), axis=axis)
    return block if plane == "axial" else block[::-1]


SHAPE = (7, 8, 9)


@pytest.fixture(scope="module")
def phantom_series(tmp_path_factory):
    """The phantom as an axial and a sagittal acquisition (file window W 400 L 40), each in its folder."""
    root = tmp_path_factory.mktemp("mpr")
    values = phantom(SHAPE)
    for number, name in enumerate(("axial", "sagittal"), 20):
        write_phantom(
            root / name, values, name, SeriesInstanceUID=f"1.2.826.0.1.3680043.8.498.{number}", WindowCenter="40", WindowWidth="400"
        )
    return root


@pytest.fixture
def open_mpr(main_window, qtbot):
    """Open a folder, press M, wait until the planes (or the refusal) are shown."""

    def _open(folder, expect_planes=True):
        with qtbot.waitSignals([main_window.image_shown, main_window.series_opened], timeout=30000):
            main_window.open_paths([folder])  # every file read (M pressed earlier builds it again when they are)
        QTest.keyClick(main_window, Qt.Key.Key_M)
        workspace = main_window.mpr.workspace
        assert workspace is not None
        if expect_planes:
            qtbot.waitUntil(lambda: workspace.volume is not None, timeout=30000)
        else:
            qtbot.waitUntil(lambda: bool(workspace.message), timeout=30000)
        return workspace

    return _open


def shown(workspace, plane) -> np.ndarray:
    pixels = workspace.panes[plane].image.displayed_pixels()
    assert pixels is not None
    return pixels


@pytest.mark.parametrize("acquired", ("axial", "sagittal"))
def test_each_plane_is_the_numpy_reslice_with_the_series_window(phantom_series, open_mpr, acquired):
    workspace = open_mpr(phantom_series / acquired)
    expected = volume_from_disk(phantom_series / acquired, SHAPE)
    assert not workspace.viewport.isVisible() and workspace.isVisible()
    for plane in ("axial", "coronal", "sagittal"):
        index = workspace.plane_index(plane)
        assert np.array_equal(shown(workspace, plane), linear_window(reslice(expected, plane, index), *FILE_WINDOW)), plane


def test_a_click_moves_the_point_and_the_other_planes_follow(phantom_series, open_mpr, qtbot):
    workspace = open_mpr(phantom_series / "axial")
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    last_z = SHAPE[0] - 1
    coronal = workspace.plane_index("coronal")
    pane = workspace.panes["coronal"].image
    row, column = 1, 6  # on the coronal image: z = last - 1, x = 6
    scene = pane.view_box.mapViewToScene(QPointF(column + 0.5, row + 0.5))
    where = pane.view.mapFromScene(scene)
    with qtbot.waitSignal(workspace.point_changed, timeout=5000):
        QTest.mouseClick(pane.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    assert workspace.point == (last_z - row, coronal, column)
    assert workspace.plane_index("axial") == last_z - 1 and workspace.plane_index("sagittal") == 6
    assert workspace.plane_index("coronal") == coronal  # the plane clicked stays
    assert np.array_equal(shown(workspace, "axial"), linear_window(expected[last_z - 1], *FILE_WINDOW))
    assert np.array_equal(shown(workspace, "sagittal"), linear_window(expected[::-1, :, 6], *FILE_WINDOW))
    # Each crosshair on the point: (row, column) of the voxel in each plane's image.
    assert (workspace.panes["axial"].crosshair.row, workspace.panes["axial"].crosshair.column) == (coronal, 6)
    assert (workspace.panes["sagittal"].crosshair.row, workspace.panes["sagittal"].crosshair.column) == (row, coronal)


def test_wheel_and_arrow_keys_move_along_the_plane_normal(phantom_series, open_mpr, main_window):
    workspace = open_mpr(phantom_series / "axial")
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    viewport_index = main_window.viewport.display.state.index
    workspace.pick("axial", 2, 3)
    workspace.panes["sagittal"].step_requested.emit("sagittal", 1)  # what the wheel asks for
    assert workspace.plane_index("sagittal") == 4
    assert np.array_equal(shown(workspace, "sagittal"), linear_window(expected[::-1, :, 4], *FILE_WINDOW))
    workspace.set_active_plane("coronal")
    workspace.setFocus()
    QTest.keyClick(workspace, Qt.Key.Key_Down)
    assert workspace.plane_index("coronal") == 3
    QTest.keyClick(workspace, Qt.Key.Key_End)
    assert workspace.plane_index("coronal") == SHAPE[1] - 1
    assert np.array_equal(shown(workspace, "coronal"), linear_window(expected[::-1, SHAPE[1] - 1, :], *FILE_WINDOW))
    assert main_window.viewport.display.state.index == viewport_index  # the keys went to the planes, not the viewport


@pytest.mark.parametrize("mode, reduce", (("mip", np.max), ("minip", np.min)))
def test_a_slab_applies_to_all_three_planes(phantom_series, open_mpr, mode, reduce):
    workspace = open_mpr(phantom_series / "axial")
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    workspace.set_point((3, 4, 4))
    workspace.slab_spin.setValue(4.0)  # 2 axial slices (2 mm), 5 coronal (0.8 mm), 8 sagittal (0.5 mm)
    workspace.mode_combo.setCurrentIndex(workspace.mode_combo.findData(mode))
    # Slices index - (n - 1) // 2 .. index + n // 2, cut at the ends.
    for plane, (first, last) in {"axial": (3, 4), "coronal": (2, 6), "sagittal": (1, 8)}.items():
        assert np.array_equal(shown(workspace, plane), linear_window(slab(expected, plane, first, last, reduce), *FILE_WINDOW)), plane
    assert "8 slices" in workspace.panes["sagittal"].image.corner_labels["top_left"].text()


def test_average_slab(phantom_series, open_mpr):
    workspace = open_mpr(phantom_series / "axial")
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    workspace.set_point((3, 4, 4))
    workspace.set_slab(4.0, "avg")
    mean = slab(expected, "coronal", 2, 6, np.mean)
    difference = shown(workspace, "coronal").astype(int) - linear_window(mean, *FILE_WINDOW).astype(int)
    assert np.abs(difference).max() <= 1  # float32 mean against float64: at most one grey level at a rounding edge


def test_planes_keep_the_physical_aspect(phantom_series, open_mpr):
    workspace = open_mpr(phantom_series / "sagittal")
    dz, dy, dx = SPACING
    for plane, (row_mm, column_mm) in {"axial": (dy, dx), "coronal": (dz, dx), "sagittal": (dz, dy)}.items():
        per_column, per_row = workspace.panes[plane].image.view_box.viewPixelSize()  # image units per screen pixel
        assert per_column * column_mm == pytest.approx(per_row * row_mm, rel=1e-6), plane  # mm per screen pixel, both ways


def test_window_drag_sets_the_viewport_window_and_repaints_all_planes(phantom_series, open_mpr, main_window):
    workspace = open_mpr(phantom_series / "axial")
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    workspace.panes["coronal"].window_dragged.emit(100.0, -50.0)
    voi = main_window.viewport.display.state.voi
    assert voi is not None and voi.width > FILE_WINDOW[1] and voi.center < FILE_WINDOW[0]
    for plane in ("axial", "coronal", "sagittal"):
        index = workspace.plane_index(plane)
        assert np.array_equal(shown(workspace, plane), linear_window(reslice(expected, plane, index), voi.center, voi.width)), plane
    main_window.viewport.set_window(-600.0, 1500.0)  # a preset chosen in the Window box: the planes follow
    assert np.array_equal(
        shown(workspace, "sagittal"), linear_window(reslice(expected, "sagittal", workspace.plane_index("sagittal")), -600, 1500)
    )


def test_escape_and_the_action_return_to_the_viewports(phantom_series, open_mpr, main_window, qtbot):
    workspace = open_mpr(phantom_series / "axial")
    QTest.keyClick(workspace, Qt.Key.Key_Escape)
    assert main_window.mpr.workspace is None and main_window.viewports.isVisible()
    assert main_window.viewport.pane.frame is not None  # the image is still there
    QTest.keyClick(main_window, Qt.Key.Key_M)
    assert main_window.mpr.workspace is not None and not main_window.viewports.isVisible()
    main_window.mpr.action.trigger()
    assert main_window.mpr.workspace is None and main_window.viewports.isVisible()


def test_leaving_while_building_cancels_the_build(phantom_series, main_window, open_in, qtbot):
    open_in(main_window, [phantom_series / "axial"])
    main_window.mpr.enter()
    workspace = main_window.mpr.workspace
    assert workspace.message_label.text() == "Building volume…"
    main_window.mpr.leave()
    assert workspace._cancel.cancelled
    qtbot.wait(200)  # a result arriving now is dropped
    assert workspace.volume is None and main_window.mpr.workspace is None


def test_a_single_image_is_refused_in_one_line(open_mpr, tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), folder)
    workspace = open_mpr(folder, expect_planes=False)
    assert "a single image is not a volume" in workspace.message and "\n" not in workspace.message
    assert workspace.message_label.isVisible() and not workspace.panes["axial"].isVisible()


def test_mixed_orientations_are_refused_in_one_line(open_mpr, tmp_path):
    values = phantom(SHAPE)
    folder = tmp_path / "mixed"
    write_phantom(folder / "a", values, "axial")
    write_phantom(folder / "b", values, "coronal")  # the same series UID: one series, two orientations
    workspace = open_mpr(folder, expect_planes=False)
    assert "different orientations" in workspace.message and "\n" not in workspace.message


def test_gantry_tilt_is_corrected_and_said(open_mpr, tmp_path):
    """A stack sheared by atan(0.8 / 2) = 21.8°: each slice one row (0.8 mm) further posterior than the one below.

    The phantom is a wall: 1000 HU from 6 rows (4.8 mm) behind the first slice's first row, 0 in front, inside
    every slice. Shown as acquired, its edge would slant by a column per slice on the sagittal plane (row 6 - k of
    slice k); corrected, it is one straight vertical edge at column 6 of the grown grid, in every row.
    """
    nz, ny, nx = 6, 7, 9
    dz, dy, dx = SPACING
    row, column, rows, columns, spacing, positions = acquisition("axial", (nz, ny, nx))
    sheared = [p + np.array([0.0, k * dy, 0.0]) for k, p in enumerate(positions)]
    wall_y = ORIGIN[1] + 6 * dy

    def wall(points):
        return np.where(points[..., 1] >= wall_y - 1e-6, 1000.0, 0.0)

    folder = tmp_path / "tilt"
    write_series(folder, wall, row, column, rows, columns, spacing, sheared, WindowCenter="40", WindowWidth="400")
    workspace = open_mpr(folder)
    assert any("gantry tilt 21.8° corrected" in note for note in workspace.volume.notes)
    assert "gantry tilt 21.8° corrected" in workspace.title.text()  # in the 1x3 layout too
    sagittal = shown(workspace, "sagittal")  # rows: z (head up), columns: y (anterior left)
    first_wall_column = [int(np.argmax(line == 255)) for line in sagittal]
    assert first_wall_column == [6] * nz  # straight, where the patient's y says: not slanted
    workspace.set_layout("2x2")
    assert "gantry tilt 21.8° corrected" in workspace.facts.text() and workspace.facts.isVisible()


def test_mpr_asked_for_while_the_files_are_read_is_built_again_with_all_of_them(phantom_series, open_mpr, main_window, qtbot):
    first = open_mpr(phantom_series / "axial")
    first.image_count = 1  # as if M was pressed when one file of the series had been read
    main_window.series_opened.emit()  # the open has finished
    again = main_window.mpr.workspace
    assert again is not first and first._cancel.cancelled
    qtbot.waitUntil(lambda: again.volume is not None, timeout=30000)
    assert again.volume.voxels.shape == SHAPE


def test_the_layout_is_a_choice_and_is_kept(phantom_series, open_mpr, main_window):
    workspace = open_mpr(phantom_series / "axial")
    workspace.layout_combo.setCurrentText("2x2")
    grid = workspace.grid
    cells = {plane: grid.getItemPosition(grid.indexOf(pane))[:2] for plane, pane in workspace.panes.items()}
    assert cells == {"axial": (0, 0), "coronal": (0, 1), "sagittal": (1, 0)}
    assert workspace.facts.isVisible() and "9 x 8 x 7 voxels" in workspace.facts.text()
    main_window.mpr.leave()
    main_window.mpr.enter()
    assert main_window.mpr.workspace.layout_combo.currentText() == "2x2"  # the user's choice, kept
    main_window.mpr.workspace.set_layout("1x3")
    assert not main_window.mpr.workspace.facts.isVisibleTo(main_window.mpr.workspace)


def test_the_wheel_scrolls_its_plane_and_the_keys_then_scroll_it_too(phantom_series, open_mpr):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    workspace = open_mpr(phantom_series / "axial")
    workspace.set_point((3, 4, 4))
    view = workspace.panes["sagittal"].image.view
    centre = QPointF(view.viewport().rect().center())
    wheel = QWheelEvent(
        centre,
        QPointF(view.viewport().mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, -120),  # one notch towards the user
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert workspace.active_plane == "sagittal" and workspace.point == (3, 4, 5)
    QTest.keyClick(workspace, Qt.Key.Key_PageDown)
    assert workspace.point == (3, 4, 8)  # ten on, cut at the last sagittal slice


def drag(view_box, view, start, end, qtbot):
    """A left drag in image coordinates (column, row), in a few mouse moves."""
    points = [view.mapFromScene(view_box.mapViewToScene(QPointF(*p))) for p in (start, end)]
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    for t in (0.25, 0.5, 0.75, 1.0):
        x = points[0].x() + t * (points[1].x() - points[0].x())
        y = points[0].y() + t * (points[1].y() - points[0].y())
        QTest.mouseMove(view.viewport(), type(points[0])(round(x), round(y)))
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[1])


def test_dragging_the_crosshair_moves_the_point_and_dragging_elsewhere_windows(phantom_series, open_mpr, main_window, qtbot):
    from PySide6.QtWidgets import QApplication

    workspace = open_mpr(phantom_series / "axial")
    workspace.set_point((3, 4, 4))
    pane = workspace.panes["axial"].image
    drag(pane.view_box, pane.view, (4.5, 1.5), (7.5, 1.5), qtbot)  # grab the vertical line (sagittal), take it 3 columns right
    assert workspace.point == (3, 1, 7) and main_window.viewport.display.state.voi is None
    qtbot.wait(QApplication.styleHints().mouseDoubleClickInterval() + 50)  # the next press is not a double click
    drag(pane.view_box, pane.view, (1.5, 6.5), (2.5, 7.5), qtbot)  # far from both lines: a window drag
    assert workspace.point == (3, 1, 7)
    voi = main_window.viewport.display.state.voi
    assert voi is not None and (voi.center, voi.width) != FILE_WINDOW


def test_a_compressed_series_is_built_through_the_window_s_frames(phantom_series, open_mpr, tmp_path):
    """RLE Lossless files (compressed here with pydicom): decoded as the viewport decodes them, the same planes."""
    from pydicom.uid import RLELossless

    folder = tmp_path / "rle"
    folder.mkdir()
    for path in (phantom_series / "axial").glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.compress(RLELossless)
        ds.save_as(folder / path.name, enforce_file_format=True)
    workspace = open_mpr(folder)
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    for plane in ("axial", "coronal", "sagittal"):
        index = workspace.plane_index(plane)
        assert np.array_equal(shown(workspace, plane), linear_window(reslice(expected, plane, index), *FILE_WINDOW)), plane


def test_fit_and_reset_act_on_the_planes(phantom_series, open_mpr, main_window):
    workspace = open_mpr(phantom_series / "axial")
    pane = workspace.panes["coronal"].image
    pane.set_zoom(8.0)
    workspace.panes["axial"].window_dragged.emit(50.0, 50.0)
    assert not pane.fitted and main_window.viewport.display.state.voi is not None
    QTest.keyClick(workspace, Qt.Key.Key_F)
    assert pane.fitted
    pane.set_zoom(8.0)
    QTest.keyClick(workspace, Qt.Key.Key_R)
    assert pane.fitted and main_window.viewport.display.state.voi is None
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    index = workspace.plane_index("coronal")
    assert np.array_equal(shown(workspace, "coronal"), linear_window(reslice(expected, "coronal", index), *FILE_WINDOW))


def test_the_status_bar_reads_the_voxel_under_the_mouse(phantom_series, open_mpr, main_window):
    workspace = open_mpr(phantom_series / "axial")
    expected = volume_from_disk(phantom_series / "axial", SHAPE)
    workspace.panes["sagittal"].image.cursor_moved.emit(0, 2)  # row 0: the top slice; column 2: y index 2
    j = workspace.plane_index("sagittal")
    x, y, z = ORIGIN + np.array([j * SPACING[2], 2 * SPACING[1], (SHAPE[0] - 1) * SPACING[0]])
    assert main_window.readout.text() == f"({x:.1f}, {y:.1f}, {z:.1f}) mm: {expected[-1, 2, j]:.6g} HU"
    workspace.panes["sagittal"].image.cursor_moved.emit(-1, -1)
    assert main_window.readout.text() == ""
