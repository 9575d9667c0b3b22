"""Overlay planes (60xx) over the viewport's image, View > Overlays (O), and damaged planes.

Real files: pydicom's examples_overlay.dcm (a Siemens graphics plane); generated ones (tests/core/overlay_files.py)
for a multi-frame overlay starting on frame 2 and for damaged planes. Where the overlay must be comes from
pydicom's ``overlay_array`` and from the bits the generator wrote, never from the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from PySide6.QtGui import QImage

from tests.core.overlay_files import add_plane, image, random_bits, save
from viewer.core.display.overlays import OVERLAY_RGB

OVERLAY_FILE = get_testdata_file("examples_overlay.dcm", download=False)


def drawn_mask(layer, shape) -> np.ndarray:
    """The image pixels the layer covers now (opaque or tinted), at image size."""
    mask = np.zeros(shape, dtype=bool)
    drawn = layer.drawn_pixels()
    if drawn is not None:
        pixels, (r0, c0) = drawn
        mask[r0 : r0 + pixels.shape[0], c0 : c0 + pixels.shape[1]] = (pixels >> 24) > 0
    return mask


def overlay_coloured_pixels(pane) -> int:
    """Screen pixels of the view painted in the overlay colour (the corner text is not in the view)."""
    image = pane.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.width() * image.height()).copy()
    colour = 0xFF000000 | OVERLAY_RGB[0] << 16 | OVERLAY_RGB[1] << 8 | OVERLAY_RGB[2]
    return int((pixels == colour).sum())


def test_the_overlay_is_drawn_where_the_file_puts_it_and_o_turns_it_off(main_window, open_in, qtbot):
    open_in(main_window, [OVERLAY_FILE])
    layer = main_window.viewport.overlay_layer
    qtbot.waitUntil(lambda: layer.drawn, timeout=10000)
    expected = pydicom.dcmread(OVERLAY_FILE).overlay_array(0x6000).astype(bool)
    assert np.array_equal(drawn_mask(layer, expected.shape), expected)
    pixels, _corner = layer.drawn_pixels()
    assert set(np.unique(pixels[(pixels >> 24) == 255]).tolist()) == {0xFF000000 | 0xF0F0A0}  # graphics: the overlay colour
    qtbot.waitUntil(lambda: overlay_coloured_pixels(main_window.pane) > 0, timeout=5000)

    assert main_window.overlays_action.shortcut().toString() == "O" and main_window.overlays_action.isChecked()
    main_window.overlays_action.trigger()  # O: off
    assert not layer.drawn
    qtbot.waitUntil(lambda: overlay_coloured_pixels(main_window.pane) == 0, timeout=5000)
    main_window.overlays_action.trigger()  # O: on again
    assert layer.drawn


def test_overlays_stay_off_on_the_next_image_and_go_with_the_image(main_window, open_in, qtbot):
    open_in(main_window, [OVERLAY_FILE])
    layer = main_window.viewport.overlay_layer
    qtbot.waitUntil(lambda: layer.drawn, timeout=10000)
    main_window.overlays_action.trigger()
    main_window.viewport.show_series(main_window.viewport.current_series)  # shown again: still off
    qtbot.waitUntil(lambda: main_window.pane.frame is not None and layer.key is not None, timeout=10000)
    assert not layer.drawn
    main_window.overlays_action.trigger()
    assert layer.drawn
    main_window.close_all()
    assert not layer.drawn


def test_a_multi_frame_overlay_follows_the_frames(main_window, open_in, qtbot, tmp_path):
    rng = np.random.default_rng(5)
    ds, _ = image(frames=4)
    moving = random_bits(rng, (2, 48, 64))
    add_plane(ds, 0x6000, moving, frame_origin=2)  # on frames 2 and 3
    path = save(ds, tmp_path / "multi.dcm")
    open_in(main_window, [str(path)])
    layer = main_window.viewport.overlay_layer
    for index, expected in ((1, moving[0]), (2, moving[1]), (3, None), (0, None)):
        main_window.go_to(index)
        qtbot.waitUntil(lambda i=index: main_window.viewport.current.frame == i and layer.key == (Path(path), i), timeout=10000)
        if expected is None:
            qtbot.waitUntil(lambda: not layer.drawn, timeout=5000)
        else:
            qtbot.waitUntil(lambda: layer.drawn, timeout=10000)
            assert np.array_equal(drawn_mask(layer, (48, 64)), expected)


def test_a_damaged_plane_leaves_the_image_with_a_one_line_note(main_window, open_in, qtbot, tmp_path):
    ds, _ = image()
    add_plane(ds, 0x6000, random_bits(np.random.default_rng(1), (48, 64)), data=b"\xff" * 10)  # short Overlay Data
    path = save(ds, tmp_path / "short.dcm")
    open_in(main_window, [str(path)])
    layer = main_window.viewport.overlay_layer
    qtbot.waitUntil(lambda: layer.note.isVisible(), timeout=10000)
    assert main_window.pane.frame is not None and not main_window.pane.message_label.isVisible()
    text = layer.note.text()
    assert "\n" not in text and text.startswith("overlay 6000") and "not drawn" in text
    children = main_window.pane.children()
    assert children.index(layer.note) > children.index(main_window.pane.view)  # stacked above the image, not under it
    assert not layer.drawn
    main_window.overlays_action.trigger()  # off: no note either
    assert not layer.note.isVisible()


def test_overlay_pixels_land_on_their_image_pixels_at_any_zoom(main_window, open_in, qtbot, tmp_path):
    from PySide6.QtCore import QPointF

    # Blocks of 4 x 4 overlay pixels, at Overlay Origin (3, 5): their inner pixels are unambiguous at any zoom.
    ds, _ = image(rows=96, columns=128)
    blocks = np.kron(random_bits(np.random.default_rng(2), (20, 28), 0.4), np.ones((4, 4), dtype=bool))
    add_plane(ds, 0x6000, blocks, origin=(3, 5))
    path = save(ds, tmp_path / "blocks.dcm")
    expected = np.zeros((96, 128), dtype=bool)
    expected[2:82, 4:116] = blocks
    open_in(main_window, [str(path)])
    layer, pane = main_window.viewport.overlay_layer, main_window.pane
    qtbot.waitUntil(lambda: layer.drawn, timeout=10000)
    padded = np.pad(expected, 1)
    neighbours = [padded[1 + dr : 97 + dr, 1 + dc : 129 + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    solid_on, solid_off = np.logical_and.reduce(neighbours), ~np.logical_or.reduce(neighbours)
    colour = (OVERLAY_RGB[0], OVERLAY_RGB[1], OVERLAY_RGB[2])
    for zoom in (None, 1.0, 3.0, 0.5):
        pane.fit() if zoom is None else pane.set_zoom(zoom)
        qtbot.wait(10)
        grabbed = pane.view.viewport().grab().toImage()
        for mask, drawn in ((solid_on, True), (solid_off, False)):
            checked = 0
            for r, c in np.argwhere(mask):
                at = pane.view_box.mapViewToDevice(QPointF(c + 0.5, r + 0.5))
                x, y = int(at.x()), int(at.y())
                if 0 <= x < grabbed.width() and 0 <= y < grabbed.height():
                    pixel = grabbed.pixelColor(x, y)
                    assert ((pixel.red(), pixel.green(), pixel.blue()) == colour) == drawn, (zoom, r, c)
                    checked += 1
            assert checked > 50 or zoom == 0.5, (zoom, drawn, checked)


def test_a_viewport_added_after_overlays_were_turned_off_shows_none(main_window, open_in, qtbot):
    from viewer.core.display.hanging import GridShape

    open_in(main_window, [OVERLAY_FILE])
    qtbot.waitUntil(lambda: main_window.viewport.overlay_layer.drawn, timeout=10000)
    main_window.overlays_action.trigger()  # off
    main_window.viewports.set_shape(GridShape(1, 2))
    second = main_window.viewports.viewports[1]
    series = main_window.viewport.current_series
    with qtbot.waitSignal(second.image_shown, timeout=10000):
        second.show_series(series)
    qtbot.wait(50)
    assert not second.overlay_layer.drawn and not main_window.viewport.overlay_layer.drawn
    main_window.overlays_action.trigger()  # on: in both
    qtbot.waitUntil(lambda: second.overlay_layer.drawn and main_window.viewport.overlay_layer.drawn, timeout=10000)
