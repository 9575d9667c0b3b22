"""The pane's pyqtgraph parts: a view box with a radiologist's mouse, an image item for packed
RGB32 pixels, and a view that paints black only around the image.

pyqtgraph takes a few hundred milliseconds to import (it creates Python types
for most of Qt's classes): :class:`~viewer.ui.viewport.image_view.ImagePane` imports
this module when it builds its view, after the window (and the first image)
is on screen (start-up benchmark).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from viewer.ui.viewport.image_view import outside

if TYPE_CHECKING:
    from viewer.ui.viewport.image_view import ImagePane

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)


class ImageViewBox(pg.ViewBox):
    """A view box whose mouse does what radiology viewers do.

    Left drag: the toolbar's mouse tool (window by default: horizontal =
    width, vertical = level; or pan, zoom, scroll). Middle drag: pan. Right
    drag: zoom. Wheel: next/previous image; Ctrl+wheel: zoom.
    """

    def __init__(self, pane: ImagePane):
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self.setMouseEnabled(False, False)
        self.setDefaultPadding(0.0)
        self._pane = pane

    def mouseDragEvent(self, ev, axis=None):
        ev.accept()
        delta = ev.pos() - ev.lastPos()
        action = self._pane.drag_action(ev.button())  # the left button does what the toolbar's mouse tool says
        if action == "window":
            self._pane.window_dragged.emit(float(delta.x()), float(delta.y()))
        elif action == "scroll":
            self._pane.scroll_dragged(float(delta.y()), start=ev.isStart())
        elif action == "pan":
            self._pane.fitted = False
            moved = self.mapToView(ev.pos()) - self.mapToView(ev.lastPos())
            self.translateBy(x=-moved.x(), y=-moved.y())
        elif action == "zoom":
            self._pane.fitted = False
            factor = 1.01 ** float(delta.y())
            self.scaleBy((factor, factor), center=self.mapToView(ev.buttonDownPos()))

    def mouseClickEvent(self, ev):
        """A right click (a right drag zooms): the pane's right-click menu; pyqtgraph's own menu is off."""
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self._pane.context_menu_requested.emit(ev.screenPos().toPoint())
        else:
            super().mouseClickEvent(ev)

    def wheelEvent(self, ev, axis=None):
        ev.accept()
        steps = ev.delta() / 120.0
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._pane.fitted = False
            factor = 0.85**steps
            self.scaleBy((factor, factor), center=self.mapToView(ev.pos()))
        elif steps:
            self._pane.step_requested.emit(-1 if steps > 0 else 1)


class PackedImageItem(pg.ImageItem):
    """An image item for final display pixels packed as uint32 0xFFRRGGBB.

    Wrapped as an RGB32 QImage without a copy: Qt's fastest image format
    to scale onto the screen (about 0.4 ms for 512x512 at 2x here, against
    1.5 ms for 8-bit grey). Anything else goes through pyqtgraph as usual.
    A subclass packing another way names its format in ``packed_format``.
    """

    packed_format = QImage.Format.Format_RGB32

    def render(self):
        image = self.image
        if image is None or image.size == 0 or image.dtype != np.uint32 or image.ndim != 2:
            return super().render()
        self.qimage = pg.functions.ndarray_to_qimage(np.ascontiguousarray(image), self.packed_format)
        self._renderRequired = False
        self._unrenderable = False


class ImageGraphicsView(pg.GraphicsView):
    """A view that paints black only where the image is not.

    The image is opaque (RGB32); filling the whole view under it on every
    window step cost about a third of the step (benchmarks/bench_window.py).
    ``opaque_item`` is the image item; the view paints no cached background
    and tells Qt it paints every pixel itself.
    """

    opaque_item = None

    def drawBackground(self, painter, rect):
        item = self.opaque_item
        covered = None
        if item is not None and item.isVisible() and item.image is not None and item.image.size:
            # One pixel inside the image's edges: a fractional edge is filled under, never left unpainted.
            covered = item.sceneBoundingRect().adjusted(1, 1, -1, -1)
        black = Qt.GlobalColor.black
        if covered is None or covered.isEmpty() or not covered.intersects(rect):
            painter.fillRect(rect, black)
            return
        for band in outside(rect, covered):
            painter.fillRect(band, black)
