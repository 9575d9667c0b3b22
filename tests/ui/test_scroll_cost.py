"""What one scroll step of linked viewports does on the screen: one paint per viewport, overlay text as before.

Issue #14 asks for a linked step of four viewports under 16 ms
(benchmarks/bench_linking.py measures it). Timing is never asserted here;
these tests pin the two things that made the step slow and must not come
back: every linked viewport after the first was painted twice per step, and
the overlay text was drawn through a drop-shadow effect on every repaint.
The text drawn now is compared pixel for pixel with Qt's own
``QGraphicsDropShadowEffect`` label that it replaces.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpr_phantom import write_series
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont, QImage
from PySide6.QtWidgets import QApplication, QGraphicsDropShadowEffect, QGridLayout, QLabel, QWidget

from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.display.frames import FrameSource
from viewer.core.media.sources import open_paths
from viewer.ui.viewport.image_view import OVERLAY_COLOUR, OverlayLabel
from viewer.ui.viewport.linking import LinkController
from viewer.ui.viewport.viewport import Viewport
from viewer.ui.window.workers import BackgroundRunner

FRAME = "1.2.826.0.1.3680043.8.498.1501"
AXIAL = ((1, 0, 0), (0, 1, 0))


def _flat(points: np.ndarray) -> np.ndarray:
    return np.zeros(points.shape[:-1]) + 40.0


@pytest.fixture(scope="module")
def stacks(tmp_path_factory):
    """Two axial stacks of one frame of reference, 2 mm and 1 mm apart over the same 20 mm (11 and 21 slices)."""
    root = tmp_path_factory.mktemp("scroll-cost")
    for number, spacing in enumerate((2.0, 1.0)):
        count = int(round(20 / spacing)) + 1
        write_series(
            root / f"axial{number}",
            _flat,
            AXIAL[0],
            AXIAL[1],
            48,
            48,
            (1, 1),
            [np.array((-24, -24, spacing * k)) for k in range(count)],
            SeriesInstanceUID=f"1.2.826.0.1.3680043.8.498.150{number + 2}",
            FrameOfReferenceUID=FRAME,
            SeriesDescription=f"axial {spacing:g} mm",
        )
    return sorted(open_paths([root]).catalog.all_series(), key=lambda series: len(series.images))


class PaintCounter(QObject):
    """Counts the paint events a widget receives."""

    def __init__(self, widget: QWidget):
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_each_linked_viewport_is_painted_once_per_step(qtbot, stacks):
    runner = BackgroundRunner()
    holder = QWidget()
    qtbot.addWidget(holder)
    layout = QGridLayout(holder)
    source = FrameSource()
    viewports = [Viewport(source, runner, CharsetOverrides()) for _ in stacks]
    try:
        for k, viewport in enumerate(viewports):
            layout.addWidget(viewport, 0, k)
            assert viewport.pane.view is not None
            viewport.set_smooth_zoom(False)  # no smoothing repaint after the image settles: paints come from the steps only
        holder.resize(800, 400)
        holder.show()
        qtbot.waitExposed(holder)
        for viewport, series in zip(viewports, stacks):
            viewport.show_series(series)
        qtbot.waitUntil(lambda: all(viewport.frame is not None for viewport in viewports), timeout=10000)
        active, follower = viewports
        controller = LinkController(viewports, lambda: active, parent=holder)
        active.go_to(0)
        controller.follow(active)
        QApplication.processEvents()
        counters = [PaintCounter(viewport.pane.view.viewport()) for viewport in viewports]
        steps = 6
        for _ in range(steps):
            before = follower.display.state.index
            active.step(1)
            assert follower.display.state.index == before + 2  # 2 mm against 1 mm: the follower moves too
            QApplication.processEvents()
        assert [counter.count for counter in counters] == [steps, steps]  # was [6, 12]: the follower painted twice
    finally:
        for viewport in viewports:
            viewport.stop_prefetch()
        runner.shutdown()


def _effect_label(parent: QWidget, point_size: int, bold: bool) -> QLabel:
    """The overlay label as it was: a QLabel under a one-pixel black QGraphicsDropShadowEffect."""
    label = QLabel(parent)
    font = QFont()
    font.setPointSize(point_size)
    font.setBold(bold)
    label.setFont(font)
    label.setStyleSheet(f"color: {OVERLAY_COLOUR}; background: transparent;")
    shadow = QGraphicsDropShadowEffect(label)
    shadow.setBlurRadius(0)
    shadow.setOffset(1, 1)
    shadow.setColor(QColor("black"))
    label.setGraphicsEffect(shadow)
    return label


def _pixels(widget: QWidget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(image.constBits(), np.uint32).reshape(image.height(), -1)[:, : image.width()].copy()


@pytest.mark.parametrize(
    "text, point_size, bold, alignment",
    [
        ("Doe, John (山田, 太郎)\nID 12345\n1960-01-01 M", 10, False, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
        ("CT Se 3\nAxial gjpq\nIm 3/21\nLoc -12.00 mm", 10, False, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom),
        ("W 400 L 40\nZoom 94%\nInverted", 10, False, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
        ("PL", 12, True, Qt.AlignmentFlag.AlignLeft),
    ],
)
def test_overlay_text_is_drawn_as_the_drop_shadow_label_drew_it(qtbot, text, point_size, bold, alignment):
    pixels = []
    for make in (lambda parent: _effect_label(parent, point_size, bold), lambda parent: OverlayLabel(parent, point_size, bold)):
        parent = QWidget()
        qtbot.addWidget(parent)
        parent.setAutoFillBackground(True)
        palette = parent.palette()
        palette.setColor(parent.backgroundRole(), QColor("black"))
        parent.setPalette(palette)
        parent.resize(320, 120)
        label = make(parent)
        label.setAlignment(alignment)
        label.setText(text)
        label.adjustSize()
        label.move(10, 10)  # the text's top left in both (the shadow falls right of and below it)
        parent.show()
        qtbot.waitExposed(parent)
        pixels.append(_pixels(parent))
    reference, drawn = pixels
    assert (reference != 0xFF000000).sum() > 100  # text was drawn
    assert np.array_equal(reference, drawn)
