"""A waveform (ECG and the other waveform classes, #16) in a window of its own: the traces on ECG paper.

:func:`open_waveform` reads the file (:mod:`viewer.core.documents.waveform`)
and shows a :class:`WaveformView`: one pyqtgraph plot, time across in
seconds, channels stacked one per row with their labels, on the standard
paper (a 0.04 s x 0.1 mV grid, heavier every 0.2 s x 0.5 mV) at its
proportions (25 mm/s against 10 mm/mV). The wheel zooms, a drag pans, the
buttons zoom in and out and return to the whole group; a selector picks the
multiplex group (a rhythm strip, a median beat). A file that cannot be read
says why in the status bar, in one line.

Opened from the report controller
(:meth:`viewer.ui.documents.report_view.ReportController.open_object`): when the
browser's waveform object is activated, or a file named explicitly is listed
by the scan as a waveform.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from viewer.core.dicom.io import ViewerError
from viewer.ui.window.status import say

# numpy, pyqtgraph and the waveform reader are imported when a waveform is shown, not with this module.
if TYPE_CHECKING:
    import numpy as np

    from viewer.core.documents.waveform import MultiplexGroup, Waveform

#: Row height of a channel, in mV (30 mm on paper).
ROW_MV = 3.0
#: Paper: the grid's steps (s, mV) and colours (RGB).
MINOR_STEP, MAJOR_STEP = (0.04, 0.1), (0.2, 0.5)
MINOR_COLOUR, MAJOR_COLOUR, TRACE_COLOUR = (250, 205, 205), (235, 130, 130), (0, 0, 0)


def channel_offsets(group: MultiplexGroup) -> list[float]:
    """The baseline (mV) of each channel's row: the first at the top, ROW_MV apart."""
    return [-(row + 0.5) * ROW_MV for row in range(len(group.channels))]


def channel_trace(group: MultiplexGroup, row: int) -> tuple[np.ndarray, np.ndarray]:
    """(seconds, mV on the paper) of channel `row`: voltages as they are, other units scaled to 80% of a row."""
    import numpy as np

    channel = group.channels[row]
    seconds = np.arange(group.samples) / group.sampling_frequency
    mv = channel.millivolts()
    if mv is None:
        values = channel.values
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        mv = (values - (lo + hi) / 2) / ((hi - lo) or 1.0) * ROW_MV * 0.8
    return seconds, mv + channel_offsets(group)[row]


def _grid_lines(x_max: float, y_min: float, step: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Segments (pairs of points) of a grid over [0, x_max] x [y_min, 0]."""
    import numpy as np

    xs = np.arange(0.0, x_max + 1e-9, step[0])
    ys = np.arange(0.0, y_min - 1e-9, -step[1])
    vertical_x = np.repeat(xs, 2)
    vertical_y = np.tile([y_min, 0.0], len(xs))
    horizontal_x = np.tile([0.0, x_max], len(ys))
    horizontal_y = np.repeat(ys, 2)
    return np.concatenate([vertical_x, horizontal_x]), np.concatenate([vertical_y, horizontal_y])


class WaveformView(QWidget):
    """A waveform on ECG paper (see the module's docstring)."""

    def __init__(self, waveform: Waveform, title: str = "", parent: QWidget | None = None):
        import pyqtgraph as pg

        from viewer.core.documents.waveform import GAIN_MM_PER_MV, PAPER_SPEED_MM_PER_S

        super().__init__(parent)
        self.waveform = waveform
        self.setWindowTitle(title or waveform.kind)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.showAxis("left", False)
        self.plot.setLabel("bottom", "time", units="s")
        self.view_box = self.plot.getPlotItem().getViewBox()
        # 25 mm per second across, 10 mm per mV up: one mV is as long on screen as 0.4 s.
        self.view_box.setAspectLocked(True, ratio=PAPER_SPEED_MM_PER_S / GAIN_MM_PER_MV)
        self.group_combo = QComboBox()
        for number, group in enumerate(waveform.groups, start=1):
            self.group_combo.addItem(f"{number}: {group.label or 'group'} ({len(group.channels)} channels, {group.duration:g} s)")
        self.group_combo.currentIndexChanged.connect(self.show_group)
        self.caption = QLabel()
        zoom_in, zoom_out, whole = QPushButton("Zoom in"), QPushButton("Zoom out"), QPushButton("Whole")
        zoom_in.clicked.connect(lambda: self.zoom(0.5))
        zoom_out.clicked.connect(lambda: self.zoom(2.0))
        whole.clicked.connect(self.show_all)
        bar = QHBoxLayout()
        for widget in (self.group_combo, self.caption, zoom_in, zoom_out, whole):
            bar.addWidget(widget)
        bar.insertStretch(2)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.plot)
        self.curves: list[pg.PlotDataItem] = []
        self.labels: list[pg.TextItem] = []
        self.group: MultiplexGroup | None = None
        self.show_group(0)

    def show_group(self, index: int) -> None:
        """Draw multiplex group `index` (0-based): the paper, then one trace and label per channel."""
        import pyqtgraph as pg

        group = self.waveform.groups[index]
        self.group = group
        plot = self.plot.getPlotItem()
        plot.clear()
        bottom = -ROW_MV * len(group.channels)
        for step, colour in ((MINOR_STEP, MINOR_COLOUR), (MAJOR_STEP, MAJOR_COLOUR)):
            x, y = _grid_lines(group.duration, bottom, step)
            plot.addItem(pg.PlotCurveItem(x, y, pen=pg.mkPen(*colour), connect="pairs"))
        self.curves, self.labels = [], []
        for row, channel in enumerate(group.channels):
            x, y = channel_trace(group, row)
            curve = pg.PlotDataItem(x, y, pen=pg.mkPen(*TRACE_COLOUR, width=1), autoDownsample=True)
            plot.addItem(curve)
            self.curves.append(curve)
            units = "" if channel.millivolts() is not None else f" ({channel.units or 'no units'}, scaled)"
            label = pg.TextItem(channel.label + units, color=(40, 40, 40), anchor=(0, 0))
            label.setPos(0.02, -row * ROW_MV)
            plot.addItem(label)
            self.labels.append(label)
        self.caption.setText(f"{self.waveform.kind}: {group.sampling_frequency:g} Hz, 25 mm/s, 10 mm/mV")
        self.show_all()

    def show_all(self) -> None:
        """The whole group: every channel and the whole time (the paper's proportions kept)."""
        if self.group is not None:
            self.view_box.setRange(xRange=(0, self.group.duration), yRange=(-ROW_MV * len(self.group.channels), 0), padding=0.02)

    def zoom(self, factor: float) -> None:
        """Zoom about the centre: `factor` < 1 shows less time (closer)."""
        self.view_box.scaleBy((factor, factor))


def open_waveform(window, path: str | Path) -> WaveformView | None:
    """Show the waveform of the file at `path` in a window of its own; None (the reason in the status bar) when it cannot be read."""
    from viewer.core.documents.waveform import read_waveform

    path = Path(path)
    try:
        waveform = read_waveform(path)
    except ViewerError as error:
        say(window, str(error), 10000)
        return None
    view = WaveformView(waveform, f"{path.name}: {waveform.kind}", window)
    view.setWindowFlag(Qt.WindowType.Window)  # its own window, closed with the main one
    view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    view.resize(1200, 800)
    view.show()
    return view
