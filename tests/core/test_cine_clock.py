"""The cine clock: which image is due at a given time, worked out by hand for each mode."""

from __future__ import annotations

from pydicom.dataset import Dataset

from viewer.core.display.cine import DEFAULT_FRAME_RATE, CineClock, recorded_frame_rate


def due(clock: CineClock, start: float, periods: list[float]) -> list[int | None]:
    """The answers at `start` plus each number of frame periods."""
    return [clock.index_at(start + p / clock.fps) for p in periods]


def test_loop_wraps_from_the_last_image_to_the_first():
    clock = CineClock(4, fps=10, mode="loop")
    clock.start(100.0, 2)
    # Half a period in: still image 2 (None: nothing new to show); then 3, 0, 1, 2.
    assert due(clock, 100.0, [0.5, 1.5, 2.5, 3.5, 4.5]) == [None, 3, 0, 1, 2]
    assert clock.dropped == 0 and clock.shown == 4


def test_bounce_turns_at_both_ends():
    clock = CineClock(4, fps=10, mode="bounce")
    clock.start(0.0, 0)
    assert due(clock, 0.0, [k + 0.5 for k in range(1, 9)]) == [1, 2, 3, 2, 1, 0, 1, 2]


def test_once_stops_at_the_last_image():
    clock = CineClock(4, fps=10, mode="once")
    clock.start(0.0, 1)
    assert due(clock, 0.0, [1.5]) == [2]
    assert clock.running
    assert due(clock, 0.0, [5.5]) == [3]  # far past the end: the last image, and the clock stops
    assert not clock.running


def test_a_late_reading_skips_images_and_counts_them_dropped():
    clock = CineClock(10, fps=20, mode="loop")
    clock.start(5.0, 0)
    assert due(clock, 5.0, [1.5]) == [1]
    assert due(clock, 5.0, [4.5]) == [4]  # 2 and 3 were due while nobody asked: dropped
    assert clock.dropped == 2 and clock.shown == 2


def test_a_new_rate_continues_from_the_image_shown():
    clock = CineClock(10, fps=10, mode="loop")
    clock.start(0.0, 0)
    assert clock.index_at(0.35) == 3
    clock.set_rate(20, 0.35, 3)  # twice as fast from here: no jump back to 0 or ahead
    assert clock.index_at(0.35 + 0.025) is None
    assert clock.index_at(0.35 + 0.075) == 4
    assert clock.index_at(0.35 + 0.125) == 5


def test_recorded_frame_rate_in_the_order_of_ps3_3():
    ds = Dataset()
    assert recorded_frame_rate(ds) == (DEFAULT_FRAME_RATE, "default")
    ds.RecommendedDisplayFrameRate = 25
    assert recorded_frame_rate(ds) == (25.0, "Recommended Display Frame Rate")
    ds.CineRate = 30
    assert recorded_frame_rate(ds) == (30.0, "Cine Rate")
    ds.FrameTimeVector = [0, 40, 40, 20]  # mean increment 33.33 ms
    fps, source = recorded_frame_rate(ds)
    assert abs(fps - 30.0) < 1e-9 and source == "Frame Time Vector"
    ds.FrameTime = 50  # ms
    assert recorded_frame_rate(ds) == (20.0, "Frame Time")
    ds.FrameTime = 0  # not a rate: the next attribute decides
    assert recorded_frame_rate(ds)[1] == "Frame Time Vector"
