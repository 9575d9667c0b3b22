"""Cine: the frame rate a loop was recorded at, and a clock that never drifts.

:class:`CineClock` says which image should be on screen at a given moment.
It is driven by a monotonic clock, not by counting timer ticks, so when
decoding or painting is slower than the rate the loop keeps its real speed:
frames are skipped and counted as dropped rather than the loop slowing down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydicom.dataset import Dataset

DEFAULT_FRAME_RATE = 15.0
MODES = ("loop", "bounce", "once")


def _positive(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def recorded_frame_rate(ds: Dataset) -> tuple[float, str]:
    """(frames per second, which attribute said so) for a multi-frame image.

    In order of preference: (0018,1063) *Frame Time* in ms; (0018,1065)
    *Frame Time Vector* (the mean of its increments, the first entry being
    0); (0018,0040) *Cine Rate*; (0008,2144) *Recommended Display Frame
    Rate*; else a default (PS3.3 C.7.6.5).
    """
    frame_time = _positive(ds.get("FrameTime"))
    if frame_time:
        return 1000.0 / frame_time, "Frame Time"
    vector = ds.get("FrameTimeVector")
    if vector:
        values = [v for v in (_positive(x) for x in list(vector)[1:]) if v]
        if values:
            return 1000.0 / (sum(values) / len(values)), "Frame Time Vector"
    for keyword, label in (("CineRate", "Cine Rate"), ("RecommendedDisplayFrameRate", "Recommended Display Frame Rate")):
        rate = _positive(ds.get(keyword))
        if rate:
            return rate, label
    return DEFAULT_FRAME_RATE, "default"


@dataclass
class CineClock:
    """Maps elapsed time to an image index for `count` images at `fps`.

    ``mode``: 'loop' (last to first), 'bounce' (back and forth) or 'once'
    (stop at the last). Call :meth:`start` with the current time and index,
    then :meth:`index_at` with later times; ``dropped`` counts images that
    were due but never returned because their time had already passed.
    """

    count: int
    fps: float = DEFAULT_FRAME_RATE
    mode: str = "loop"
    dropped: int = 0
    shown: int = 0

    def __post_init__(self) -> None:
        self._t0 = 0.0
        self._start_step = 0
        self._last_step = 0
        self.running = False

    def start(self, now: float, index: int) -> None:
        self._t0 = now
        self._start_step = self._step_for_index(index)
        self._last_step = self._start_step
        self.running = True

    def stop(self) -> None:
        self.running = False

    def set_rate(self, fps: float, now: float, index: int) -> None:
        """Change speed without a jump: restart the clock from the image shown."""
        self.fps = max(0.1, float(fps))
        if self.running:
            self.start(now, index)

    def index_at(self, now: float) -> int | None:
        """The image due at `now`, or None if it is the one already returned."""
        step = self._start_step + int((now - self._t0) * self.fps)
        if step <= self._last_step:
            return None
        if self.mode == "once" and step >= self.count - 1:
            step = max(self._last_step + 1, self.count - 1)
            self.running = False
        self.dropped += step - self._last_step - 1
        self.shown += 1
        self._last_step = step
        return self._index_for_step(step)

    def _index_for_step(self, step: int) -> int:
        if self.count <= 1:
            return 0
        if self.mode == "bounce":
            period = 2 * (self.count - 1)
            k = step % period
            return k if k < self.count else period - k
        if self.mode == "once":
            return min(step, self.count - 1)
        return step % self.count

    def _step_for_index(self, index: int) -> int:
        return max(0, min(index, self.count - 1))
