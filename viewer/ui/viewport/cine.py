"""Cine controls: play/pause, loop mode, speed, driven by the core's CineClock.

A precise Qt timer wakes several times per frame; each time the clock says
which image is due (or none). Decoding stays ahead of the play head in the
background (:class:`~viewer.core.display.prefetch.PlayHead`; compressed
frames in worker processes); a frame that is not ready when due is decoded on
the spot and the time it costs shows as dropped frames, never as a slower loop.

The time comes from an injectable function (``now``, seconds, monotonic by
default): tests set their own clock and call :meth:`CineController.tick`, so
what they check never depends on how fast the machine is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QHBoxLayout, QLabel, QToolButton, QWidget

from viewer.core.dicom.io import ViewerError
from viewer.core.display.cine import CineClock, recorded_frame_rate
from viewer.core.display.prefetch import PlayHead
from viewer.core.runtime.tasks import CancelToken

if TYPE_CHECKING:
    from viewer.ui.viewport.viewport import Viewport

MODE_LABELS = {"loop": "Loop", "bounce": "Back and forth", "once": "Once"}


class CineController(QObject):
    """Plays the series of `viewport` (a Viewport). Signals: playing_changed(bool), rate_changed(float).

    `now` returns the time in seconds (a monotonic clock); the timer only
    decides how often the clock is read, never how far the loop moves.
    """

    playing_changed = Signal(bool)
    rate_changed = Signal(float)

    def __init__(self, viewport: Viewport, now: Callable[[], float] = time.monotonic):
        super().__init__(viewport)
        self.viewport = viewport
        self.now = now
        self.clock: CineClock | None = None
        self.fps = 15.0
        self.rate_source = "default"
        self.mode = "loop"
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.tick)
        self._prefetch_cancel = CancelToken()
        self._head = 0

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    @property
    def dropped(self) -> int:
        return self.clock.dropped if self.clock else 0

    def series_changed(self) -> None:
        """A new series is shown: stop, and take its recorded rate."""
        self.stop()
        images = self.viewport.images
        if images:
            try:
                header = self.viewport.source.header(images[0].instance.path)
            except ViewerError:  # unreadable: the pane says so; keep the default rate
                header = images[0].instance.header
            self.fps, self.rate_source = recorded_frame_rate(header)
        self.rate_changed.emit(self.fps)

    def set_rate(self, fps: float) -> None:
        self.fps = max(0.1, float(fps))
        if self.clock is not None:
            self.clock.set_rate(self.fps, self.now(), self.viewport.display.state.index)
        self.rate_source = "user"
        if self.playing:
            self._timer.setInterval(self._interval())

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if self.clock is not None:
            self.clock.mode = mode

    def toggle(self) -> None:
        self.stop() if self.playing else self.play()

    def play(self) -> None:
        images = self.viewport.images
        if len(images) < 2 or self.playing:
            return
        index = self.viewport.display.state.index
        if self.mode == "once" and index >= len(images) - 1:
            index = 0
            self.viewport.go_to(0)
        self.clock = CineClock(len(images), self.fps, self.mode)
        self.clock.start(self.now(), index)
        self._head = index
        self._start_prefetch(index)
        self._timer.start(self._interval())
        self.playing_changed.emit(True)

    def stop(self) -> None:
        self._prefetch_cancel.cancel()
        if self.playing:
            self._timer.stop()
            self.playing_changed.emit(False)

    def _interval(self) -> int:
        # Wake about four times per frame: a frame is never more than a
        # quarter period late because of the timer.
        return max(1, int(1000.0 / self.fps / 4))

    def _start_prefetch(self, start: int) -> None:
        """Keep the images after the play head decoded while the cine plays (half the cache's budget ahead)."""
        self._prefetch_cancel.cancel()
        self._prefetch_cancel = CancelToken()
        frame_bytes = self.viewport.frame.nbytes if self.viewport.frame is not None else 1
        ahead = max(2, int(self.viewport.source.max_bytes * 0.5 // max(frame_bytes, 1)))
        # The play head is read from the prefetching thread: a plain int.
        self.viewport.decode_ahead("cine-prefetch", start, PlayHead(self._play_head, ahead), self._prefetch_cancel, fill=None)

    def _play_head(self) -> int:
        return self._head

    def tick(self) -> None:
        """Show the image due now, if it is not the one shown (the timer calls this)."""
        if self.clock is None or not self.playing:
            return
        index = self.clock.index_at(self.now())
        if index is not None:
            self._head = index
            self.viewport.go_to(index)
        if not self.clock.running:
            self.stop()


#: A viewport narrower than this (screen pixels) shows only Play beside its slider.
COMPACT_BELOW = 720


class CineBar(QWidget):
    """Play/pause, mode and speed, beside the image slider."""

    def __init__(self, controller: CineController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.play_button = QToolButton()
        self.play_button.setText("Play")
        self.play_button.setToolTip("Play or pause the cine (Space)")
        self.play_button.clicked.connect(controller.toggle)
        self.mode_combo = QComboBox()
        for mode, label in MODE_LABELS.items():
            self.mode_combo.addItem(label, mode)
        self.mode_combo.currentIndexChanged.connect(lambda i: controller.set_mode(self.mode_combo.itemData(i)))
        self.rate_spin = QDoubleSpinBox()
        self.rate_spin.setRange(0.5, 240.0)
        self.rate_spin.setDecimals(1)
        self.rate_spin.setSuffix(" fps")
        self.rate_spin.setKeyboardTracking(False)
        self.rate_spin.valueChanged.connect(controller.set_rate)
        self.rate_spin.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.mode_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.play_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.mode_combo)
        self.speed_label = QLabel("Speed")
        layout.addWidget(self.speed_label)
        layout.addWidget(self.rate_spin)
        controller.playing_changed.connect(lambda playing: self.play_button.setText("Pause" if playing else "Play"))
        controller.rate_changed.connect(self._show_rate)
        self._watched: QWidget | None = None

    def showEvent(self, event) -> None:
        super().showEvent(event)
        parent = self.parentWidget()
        if parent is not self._watched and parent is not None:
            parent.installEventFilter(self)  # its width decides how much of the bar is shown
            self._watched = parent
            self.fit_to(parent.width())

    def eventFilter(self, watched, event) -> bool:
        if watched is self._watched and event.type() == QEvent.Type.Resize:
            self.fit_to(watched.width())
        return False

    def fit_to(self, width: int) -> None:
        """In a narrow viewport (a 2x2 layout and smaller cells) only Play stays beside the slider: the mode and
        the speed would squeeze the slider to nothing. They come back when the viewport is wide again."""
        wide = width >= COMPACT_BELOW
        for widget in (self.mode_combo, self.speed_label, self.rate_spin):
            widget.setVisible(wide)

    def _show_rate(self, fps: float) -> None:
        self.rate_spin.blockSignals(True)
        self.rate_spin.setValue(fps)
        self.rate_spin.blockSignals(False)
