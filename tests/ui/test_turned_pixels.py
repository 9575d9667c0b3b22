"""A presentation state's turn and flip applied to the pixels before they are shown (#16: a window step stays a plain
scaled blit): every pixel lands where the image-to-view transform puts its centre."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QTransform

from viewer.core.display.pixels.pipeline import turned_array
from viewer.core.documents.presentation_render import spatial_affine
from viewer.ui.viewport.image_view import quarter_and_mirrors


@pytest.mark.parametrize("flip", [False, True])
@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
def test_each_pixel_lands_where_the_transform_puts_its_centre(rotation, flip):
    rows, columns = 7, 11
    turn = QTransform(*spatial_affine(rotation, flip, columns, rows))
    region = (2, 5, 3, 10)  # r0, r1, c0, c1: a part of the image, as the pane renders the visible part
    r0, r1, c0, c1 = region
    pixels = np.arange(rows * columns, dtype=np.uint32).reshape(rows, columns)[r0:r1, c0:c1]
    shown = turned_array(pixels, *quarter_and_mirrors(turn))  # as the pane turns a frame (FrameDisplay.turned)
    placed = turn.mapRect(QRectF(c0, r0, c1 - c0, r1 - r0))
    assert shown.flags["C_CONTIGUOUS"] and shown.shape == (round(placed.height()), round(placed.width()))
    for r in range(r1 - r0):
        for c in range(c1 - c0):
            centre = turn.map(QPointF(c0 + c + 0.5, r0 + r + 0.5))
            row, column = math.floor(centre.y() - placed.top()), math.floor(centre.x() - placed.left())
            assert shown[row, column] == pixels[r, c], (r, c)


@pytest.mark.parametrize("rotation, flip", [(90, True), (270, False), (180, True)])
def test_the_pane_shows_each_image_point_with_its_own_grey_when_turned(main_window, open_in, rotation, flip):
    """The screen at an image point shows the same grey turned as upright (the window unchanged): the pixels moved
    with the transform, not just the items over them."""
    from pydicom.data import get_testdata_file

    open_in(main_window, [get_testdata_file("CT_small.dcm", download=False)])
    pane = main_window.pane
    pane.view  # the pyqtgraph view, built
    rows, columns = pane.frame.shape
    points = [(x + 0.5, y + 0.5) for x, y in ((20, 30), (64, 64), (100, 20), (30, 110), (90, 95), (5, 70), (120, 120))]

    def colours():
        image = pane.view.grab().toImage()
        ratio = image.devicePixelRatio()
        found = []
        for point in points:
            at = pane.view.mapFromScene(pane.view_box.mapViewToScene(pane.image_parent().mapToParent(QPointF(*point))))
            colour = image.pixelColor(round(at.x() * ratio), round(at.y() * ratio))
            found.append((colour.red(), colour.green(), colour.blue()))
        return found

    upright = colours()
    assert len(set(upright)) > 3  # the CT's own greys, not one colour
    pane.set_image_transform(QTransform(*spatial_affine(rotation, flip, columns, rows)))
    assert colours() == upright
