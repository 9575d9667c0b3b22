"""Presentation states in the window (#16): found while opening, chosen per viewport, shown on their images only.

Real files: pydicom's CT_small and emri_small (10 frames), with presentation states written attribute by
attribute by tests/core/pstate_files.py (pydicom). Expected positions are worked out here from the
standard's definitions (PS3.3 C.10.6: rotation clockwise, then the horizontal flip; C.7.6.11 shutters).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPointF

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from pstate_files import annotation, graphic, make_state, reference, text

from viewer.core.display.pixels.pipeline import FullRange, Window

CT = Path(get_testdata_file("CT_small.dcm", download=False))
MULTIFRAME = Path(get_testdata_file("emri_small.dcm", download=False))


def header(path: Path):
    return pydicom.dcmread(path, stop_before_pixels=True)


def folder_with(tmp_path: Path, image: Path, states: dict[str, pydicom.Dataset]) -> Path:
    folder = tmp_path / "study"
    folder.mkdir()
    shutil.copy(image, folder / image.name)
    for name, ds in states.items():
        ds.save_as(folder / name, enforce_file_format=True)
    return folder


def open_with_states(main_window, open_in, qtbot, folder: Path, count: int = 1):
    open_in(main_window, [folder])
    qtbot.waitUntil(lambda: len(main_window.presentation_states.index) >= count, timeout=30000)
    qtbot.waitUntil(lambda: not main_window.opener.busy, timeout=30000)
    return main_window.viewport


def screen_colour(pane, point: tuple[float, float], spread: int = 0) -> tuple[int, int, int]:
    """The colour on the screen at image point (x, y) in PIXEL units (pixel edges at whole numbers).

    With `spread`, the most coloured (least grey) screen pixel within that many pixels: a line one screen pixel wide.
    """
    view = pane.view
    in_view = pane.image_parent().mapToParent(QPointF(*point))
    scene = pane.view_box.mapViewToScene(in_view)
    at = view.mapFromScene(scene)
    image = view.grab().toImage()
    ratio = image.devicePixelRatio()
    found = []
    for dx in range(-spread, spread + 1):
        for dy in range(-spread, spread + 1):
            colour = image.pixelColor(round(at.x() * ratio) + dx, round(at.y() * ratio) + dy)
            found.append((colour.red(), colour.green(), colour.blue()))
    return max(found, key=lambda rgb: max(rgb) - min(rgb)) if spread else found[0]


def test_a_state_applies_its_window_turn_shutter_and_graphics_then_goes_with_one_click(main_window, open_in, qtbot, tmp_path):
    h = header(CT)
    line = annotation([graphic("PIXEL", "POLYLINE", [(10.5, 100.5), (60.5, 100.5)])], [text("note", box=(70, 100, 120, 120))])
    state = make_state(
        h,
        window=(100, 500),
        rotation=90,
        flip=True,
        rectangle=(20, 110, 10, 120),
        shutter_value=32768,
        annotations=[line],
        layer_colour=[34733, 53199, 50050],
    )
    viewport = open_with_states(main_window, open_in, qtbot, folder_with(tmp_path, CT, {"pr.dcm": state}))
    layer = viewport.presentation
    qtbot.waitUntil(lambda: layer.applied is not None, timeout=10000)
    assert layer.selector.isVisible() and layer.combo.count() == 1 and layer.combo.itemText(0).startswith("TEST")
    # The state's window (CT_small's rescale equals the state's: the same numbers).
    assert viewport.effective_voi() == Window(100, 500, "LINEAR", "presentation state", "file")
    # Turned a quarter clockwise, then mirrored: image (x, y) -> (y, x) in a 128 x 128 image.
    t = viewport.pane.image_parent().transform()
    for x, y in ((0, 0), (128, 0), (10, 70)):
        mapped = t.map(QPointF(x, y))
        assert (mapped.x(), mapped.y()) == (y, x)
    assert (viewport.spatial_transform.rotation, viewport.spatial_transform.flip_horizontal) == (1, True)
    # The shutter hides columns outside 20-110 and rows outside 10-120 in its grey (P-value 32768: 128); inside, the image.
    for outside in ((5.5, 64.5), (115.5, 64.5), (64.5, 4.5), (64.5, 124.5)):
        assert screen_colour(viewport.pane, outside) == (128, 128, 128)
    assert len({screen_colour(viewport.pane, (x + 0.5, 64.5)) for x in range(25, 105, 8)}) > 3  # the image's own greys
    # The red line along row 100 and the text.
    r, g, b = screen_colour(viewport.pane, (35.5, 100.5), spread=2)
    assert r > 200 and g < 60
    kinds = sorted(type(item).__name__ for item in layer.items)
    assert kinds == ["QGraphicsPathItem", "QGraphicsPathItem", "QGraphicsSimpleTextItem"]
    # The mouse still reads image pixels: the screen point of image pixel (column 30, row 50).
    pane = viewport.pane
    scene = pane.view_box.mapViewToScene(pane.image_parent().mapToParent(QPointF(30.5, 50.5)))
    with qtbot.waitSignal(pane.cursor_moved, timeout=2000) as moved:
        pane._mouse_moved(scene)
    assert moved.args == [50, 30]

    # One click: off. The image's own look comes back.
    layer.toggle.click()
    assert layer.applied is None and layer.items == []
    assert viewport.display.state.voi is None and viewport.display.state.invert is False
    assert pane.image_parent().transform().isIdentity() and viewport.spatial_transform.rotation == 0
    layer.toggle.click()
    assert layer.applied is not None and len(layer.items) == 3


def test_the_newest_state_applies_and_another_can_be_chosen(main_window, open_in, qtbot, tmp_path):
    h = header(CT)
    older = make_state(h, window=(40, 400), created="20200101")
    newer = make_state(h, window=(300, 1500), shape="INVERSE", created="20240101")
    viewport = open_with_states(main_window, open_in, qtbot, folder_with(tmp_path, CT, {"a.dcm": older, "b.dcm": newer}), 2)
    layer = viewport.presentation
    qtbot.waitUntil(lambda: layer.applied is not None and layer.combo.count() == 2, timeout=10000)
    assert layer.applied.created.startswith("20240101")
    assert viewport.effective_voi().center == 300 and viewport.display.state.invert is True
    layer.combo.activated.emit(1)
    assert layer.applied.created.startswith("20200101")
    assert viewport.effective_voi().center == 40 and viewport.display.state.invert is False
    # A window of the user's own stays when the state changes.
    viewport.set_window(10, 100)
    layer.combo.activated.emit(0)
    assert viewport.effective_voi().center == 10


def test_only_on_the_referenced_frames(main_window, open_in, qtbot, tmp_path):
    h = header(MULTIFRAME)
    mark = annotation([graphic("PIXEL", "POINT", [(32, 32)])], refs=[reference(h, [3])])
    state = make_state(h, frames=[3], annotations=[mark], rotation=180, flip=False)
    viewport = open_with_states(main_window, open_in, qtbot, folder_with(tmp_path, MULTIFRAME, {"pr.dcm": state}))
    layer = viewport.presentation
    viewport.go_to(0)
    qtbot.waitUntil(lambda: viewport.current.frame == 0 and viewport.frame is not None, timeout=10000)
    layer.update()
    assert layer.selector.isVisible() and layer.applied is None
    assert viewport.pane.image_parent() is None or viewport.pane.image_parent().transform().isIdentity()
    with qtbot.waitSignal(viewport.image_shown, timeout=10000):
        viewport.go_to(2)
    assert layer.applied is not None and len(layer.items) == 1
    assert isinstance(viewport.effective_voi(), FullRange)  # no VOI in the state: the whole range
    with qtbot.waitSignal(viewport.image_shown, timeout=10000):
        viewport.go_to(3)
    assert layer.applied is None and layer.items == []


def test_a_damaged_state_is_one_line_and_the_good_one_still_shows(main_window, open_in, qtbot, tmp_path):
    h = header(CT)
    bad = make_state(h, window=(40, 400))
    bad.ImageRotation = 45
    bad.ImageHorizontalFlip = "N"
    good = make_state(h, window=(50, 350))
    viewport = open_with_states(main_window, open_in, qtbot, folder_with(tmp_path, CT, {"bad.dcm": bad, "good.dcm": good}))
    qtbot.waitUntil(lambda: viewport.presentation.applied is not None, timeout=10000)
    assert viewport.effective_voi().center == 50
    problems = main_window.problems_dock.problems
    qtbot.waitUntil(lambda: any("bad.dcm" in p for p in main_window.problems_dock.problems), timeout=10000)
    [line] = [p for p in problems if "bad.dcm" in p]
    assert "Image Rotation 45" in line and "\n" not in line


def test_the_viewers_own_measurement_state_shows_its_graphics(main_window, open_in, qtbot, tmp_path):
    from viewer.core.measure.geometry import Shape
    from viewer.core.measure.measure import measure
    from viewer.core.measure.presentation_state import presentation_state

    ds = pydicom.dcmread(CT)
    measured = [measure(Shape("line", ((10, 20), (90, 20))), ds, ds.pixel_array)]
    state = presentation_state(ds, measured, Window(40, 400))
    viewport = open_with_states(main_window, open_in, qtbot, folder_with(tmp_path, CT, {"pr.dcm": state}))
    layer = viewport.presentation
    qtbot.waitUntil(lambda: layer.applied is not None, timeout=10000)
    r, g, b = screen_colour(viewport.pane, (50.5, 20.5), spread=2)  # the line's middle, in the layer's pale yellow
    assert r > 200 and g > 200 and b < r - 40
    assert np.isclose(viewport.effective_voi().center, 40)


def test_at_start_up_the_state_waits_for_the_view_built_after_the_first_image(qtbot, tmp_path):
    """As the app starts with a folder: the pane's pyqtgraph view is built only after the first image is painted."""
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")
    window = MainWindow(deferred=True)
    qtbot.addWidget(window)
    window.resize(1200, 900)
    window.show()
    qtbot.waitExposed(window)
    state = make_state(header(CT), window=(100, 500), rotation=270, flip=False, circle=(64, 64, 50), shutter_value=65535)
    folder = folder_with(tmp_path, CT, {"pr.dcm": state})
    window.build_contents()
    window.pane.build_view_after_first_image()
    assert window.pane.built_view_box() is None
    window.open_paths([folder])
    layer = window.viewport.presentation
    qtbot.waitUntil(lambda: window.pane.built_view_box() is not None and layer.applied is not None and bool(layer.items), timeout=30000)
    t = window.pane.image_parent().transform()
    mapped = t.map(QPointF(10, 20))  # a quarter turn anticlockwise: (x, y) -> (y, 128 - x)
    assert (mapped.x(), mapped.y()) == (20, 118)
    assert screen_colour(window.pane, (2.5, 2.5)) == (255, 255, 255)  # outside the circle: the shutter's white
    assert layer.selector.isVisible()
    window.close()


def test_overlay_planes_of_the_state(main_window, open_in, qtbot, tmp_path):
    from pstate_files import with_overlay

    mask = np.zeros((128, 128), dtype=bool)
    mask[20:30, 10:100] = True
    state = with_overlay(make_state(header(CT), window=(40, 400)), mask)
    viewport = open_with_states(main_window, open_in, qtbot, folder_with(tmp_path, CT, {"pr.dcm": state}))
    layer = viewport.presentation
    qtbot.waitUntil(lambda: layer.applied is not None, timeout=10000)
    assert [type(item).__name__ for item in layer.items] == ["QGraphicsPixmapItem"]
    r, g, b = screen_colour(viewport.pane, (50.5, 25.5))  # inside the plane: the layer's red
    assert r > 200 and g < 60
    assert screen_colour(viewport.pane, (50.5, 40.5)) != (r, g, b)


def test_a_state_opened_by_name_beside_its_image(main_window, open_in, qtbot, tmp_path):
    pr = tmp_path / "pr.dcm"
    make_state(header(CT), window=(70, 700)).save_as(pr, enforce_file_format=True)
    open_in(main_window, [CT, pr])
    layer = main_window.viewport.presentation
    qtbot.waitUntil(lambda: layer.applied is not None, timeout=10000)
    assert main_window.viewport.effective_voi().center == 70


@pytest.mark.skipif(not (shutil.which("dcmpsmk") and shutil.which("dcmmkdir")), reason="dcmtk's dcmpsmk and dcmmkdir make the media")
def test_a_state_on_media_is_found_through_its_dicomdir_record(main_window, open_in, qtbot, tmp_path):
    """A DICOMDIR written by dcmmkdir over an image and a state made by dcmpsmk: the PRESENTATION record's file is read
    as a state and applied (#16); opened by its folder or by the DICOMDIR file itself."""
    media = tmp_path / "CDROM"
    (media / "DICOM").mkdir(parents=True)
    image = pydicom.dcmread(CT)
    image.WindowCenter, image.WindowWidth = 40, 400  # dcmpsmk +Vw copies the image's first window into the state
    image.save_as(media / "DICOM" / "IM1")
    subprocess.run(["dcmpsmk", "+Vw", "DICOM/IM1", "DICOM/PR1"], cwd=media, check=True, capture_output=True, timeout=60)
    subprocess.run(["dcmmkdir", "+r", "-Pgp", "+I", "+D", "DICOMDIR", "DICOM"], cwd=media, check=True, capture_output=True, timeout=60)
    assert b"PRESENTATION" in subprocess.run(["dcmdump", "DICOMDIR"], cwd=media, capture_output=True, timeout=60).stdout
    for opened in (media, media / "DICOMDIR"):
        main_window.close_all()
        viewport = open_with_states(main_window, open_in, qtbot, opened)
        layer = viewport.presentation
        qtbot.waitUntil(lambda layer=layer: layer.applied is not None, timeout=10000)
        assert layer.applied.path == media / "DICOM" / "PR1"
        assert viewport.effective_voi().center == 40 and viewport.effective_voi().width == 400


@pytest.mark.parametrize("kind", ["modality+voi", "presentation", "inverse"])
def test_the_viewport_shows_the_states_grey_levels_as_the_export_does(kind, main_window, open_in, qtbot, tmp_path):
    """The state's Modality LUT (a LUT Sequence the image lacks), its VOI LUT, its Presentation LUT Sequence or Shape:
    the viewport's pixels are those of ``export --pstate`` (itself within 1 of dcmp2pgm's,
    tests/core/test_presentation_state_render.py); turned off, the image through its own LUTs again."""
    from pstate_files import with_lut_sequences

    from viewer.core.documents.presentation_render import render_file_with_state

    h = header(CT)
    if kind == "inverse":
        state = make_state(h, window=(300, 1500), shape="INVERSE")
    else:
        state = with_lut_sequences(make_state(h, window=(100, 500) if kind == "presentation" else None), h, kind)
    folder = folder_with(tmp_path, CT, {"pr.dcm": state})
    expected = render_file_with_state(folder / CT.name, folder / "pr.dcm")
    viewport = open_with_states(main_window, open_in, qtbot, folder)
    layer, pane = viewport.presentation, viewport.pane
    qtbot.waitUntil(lambda: layer.applied is not None, timeout=10000)

    def shown() -> np.ndarray:
        pane.view.viewport().grab()  # paints now: the item's image is made when painted
        (r0, r1, c0, c1), stride = pane.last_render
        assert (r0, r1, c0, c1, stride) == (0, 128, 0, 128, 1)
        return pane.displayed_pixels()

    assert np.array_equal(shown(), expected)
    assert viewport.frame is not viewport.stored_frame  # the state's own Modality LUT

    layer.toggle.click()  # off: the image's own LUTs, as a viewport shows it without any state
    assert viewport.frame is viewport.stored_frame
    own = viewport.frame.render(viewport.effective_voi(), viewport.display.state.invert)
    assert np.array_equal(shown(), own) and not np.array_equal(own, expected)
    layer.toggle.click()
    assert np.array_equal(shown(), expected)


def test_the_plain_image_export_shows_the_image_as_the_state_presents_it(main_window, open_in, qtbot, tmp_path):
    """File > Export > Image with a state applied: its window, shutter, turn and flip, as ``export --pstate`` writes
    the image (that command is checked against dcmtk's dcmp2pgm in tests/core); a window the user then drags is the
    one exported; the state's graphics stay out of the plain picture."""
    from PIL import Image

    from viewer.app import main as cli

    h = header(CT)
    state = make_state(h, window=(100, 500), rotation=90, flip=True, rectangle=(20, 110, 10, 120), shutter_value=32768)
    folder = folder_with(tmp_path, CT, {"state.dcm": state})
    viewport = open_with_states(main_window, open_in, qtbot, folder)
    qtbot.waitUntil(lambda: viewport.presentation.applied is not None, timeout=10000)
    written = main_window.export_controller.export_image(False, str(tmp_path / "shown.png"))
    assert cli(["export", str(folder / CT.name), "--pstate", str(folder / "state.dcm"), "-o", str(tmp_path / "cli.png")]) == 0
    shown, expected = np.asarray(Image.open(written)), np.asarray(Image.open(tmp_path / "cli.png"))
    assert shown.shape == expected.shape == (h.Columns, h.Rows)  # turned a quarter
    assert np.array_equal(shown, expected)
    viewport.display.update(voi=Window(40, 400))
    wider = np.asarray(Image.open(main_window.export_controller.export_image(False, str(tmp_path / "dragged.png"))))
    assert wider.shape == expected.shape and not np.array_equal(wider, expected)
