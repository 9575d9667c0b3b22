"""The pictures File > Export takes from the window: the image at 1:1, a viewport as seen, every viewport as seen.

See :mod:`viewer.ui.sharing.export_actions` for why "with annotations" is the viewport grabbed as it is on the screen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage, QPainter

from viewer.core.dicom.io import ViewerError
from viewer.core.documents.presentation_render import render_with_state
from viewer.core.export.render import ExportOptions, Renderer, render_image

if TYPE_CHECKING:
    from viewer.ui.viewport.viewport import Viewport
    from viewer.ui.window.main_window import MainWindow


def to_qimage(pixels: np.ndarray) -> QImage:
    """uint8 grey ``(h, w)`` or RGB ``(h, w, 3)`` as a QImage that owns its pixels."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = pixels.shape[:2]
    fmt = QImage.Format.Format_Grayscale8 if pixels.ndim == 2 else QImage.Format.Format_RGB888
    return QImage(pixels.data, width, height, pixels.strides[0], fmt).copy()


def from_qimage(image: QImage) -> np.ndarray:
    """A QImage's pixels as uint8 RGB ``(h, w, 3)``."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    rows = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height).reshape(height, image.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def image_pixels(window: MainWindow, viewport: Viewport) -> np.ndarray:
    """The image `viewport` shows, at 1:1 through its window and inversion (ViewerError when it shows none).

    With a presentation state applied to it, the image as the state presents it (its LUTs, shutters, displayed
    area, turn and flip, as ``export --pstate``) through the viewport's window, its graphics and text left out."""
    ref = viewport.current
    if viewport.frame is None or ref is None:
        raise ViewerError("no image is shown to export")
    voi, invert = viewport.effective_voi(), viewport.display.state.invert
    layer = getattr(viewport, "presentation", None)
    state, stored = (layer.applied if layer is not None else None), viewport.stored_frame
    if state is not None and stored is not None and viewport.frame is not stored:  # the state's LUTs are shown
        return render_with_state(
            stored.stored, stored.ctx, state, ref.frame + 1, ref.instance.sop_instance_uid, graphics=False, voi=voi, invert=invert
        )
    options = ExportOptions(voi=voi, invert=invert, overlays=False)
    return render_image(Renderer(window.frame_source), viewport.images, viewport.display.state.index, options.voi, options)


def view_pixels(viewport: Viewport) -> np.ndarray:
    """The viewport's image pane as on the screen, with all that is drawn over the image (RGB)."""
    if viewport.frame is None:
        raise ViewerError("no image is shown to export")
    return from_qimage(viewport.pane.grab().toImage())


def layout_pixels(window: MainWindow) -> np.ndarray:
    """Every viewport of the layout as on the screen, side by side as laid out, without sliders and cine bars (RGB)."""
    layout = window.viewports
    shown = [viewport for viewport in layout if viewport.isVisible() and viewport.frame is not None]
    if not shown:
        raise ViewerError("no image is shown to export")
    canvas = QImage(layout.size(), QImage.Format.Format_RGB32)
    canvas.fill(Qt.GlobalColor.black)
    painter = QPainter(canvas)
    for viewport in layout:
        if viewport.isVisible():
            painter.drawPixmap(viewport.pane.mapTo(layout, QPoint(0, 0)), viewport.pane.grab())
    painter.end()
    return from_qimage(canvas)
