"""Cine as a user plays it: the loop runs at the recorded rate, pauses, and wraps.

The cine's clock is the test's own (:class:`TestClock`): the test moves time
on, calls the controller's tick (what its timer does) and waits for the image
that is due to be on screen. Nothing here depends on how fast the machine
decodes or how punctual its timers are.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file

US_LOOP = get_testdata_file("color3d_jpeg_baseline.dcm", download=False)  # 120 JPEG frames, Frame Time 33.333 ms
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)  # 10 frames, no frame rate: 15 fps
WAIT_MS = 30000  # a JPEG frame decoded on a loaded machine; the wait ends as soon as it is shown


class TestClock:
    """Seconds that pass only when the test says so."""

    __test__ = False  # not a test class for pytest

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def clock(main_window) -> TestClock:
    clock = TestClock()
    main_window.cine.now = clock
    return clock


@pytest.fixture
def shown(main_window) -> list[int]:
    """The index of every image the window shows, in order."""
    indexes: list[int] = []
    main_window.image_shown.connect(lambda: indexes.append(main_window.display.state.index))
    return indexes


def tick_at(window, qtbot, clock, seconds, shown, expected) -> None:
    """Time is `seconds`: the timer fires, and image `expected` must be the next one on screen."""
    before = len(shown)
    clock.seconds = seconds
    window.cine.tick()
    qtbot.waitUntil(lambda: len(shown) > before, timeout=WAIT_MS)  # decoded in the background if compressed
    assert shown[-1] == expected, shown


def test_cine_plays_at_the_requested_rate_pauses_and_loops(main_window, open_in, qtbot, clock, shown):
    open_in(main_window, [MR_MULTIFRAME])
    cine = main_window.cine
    assert len(main_window.images) == 10
    main_window.cine_bar.rate_spin.setValue(20.0)  # the user types a speed
    assert cine.fps == 20.0
    main_window.go_to(0)
    shown.clear()
    cine.play()
    assert cine.playing and main_window.cine_bar.play_button.text() == "Pause"
    start = clock.seconds
    # Half way through each 50 ms frame period: image k is due k periods after the start.
    for k in range(1, 31):
        tick_at(main_window, qtbot, clock, start + (k + 0.5) / 20, shown, k % 10)
    assert shown == [k % 10 for k in range(1, 31)]  # three times round, 9 wraps to 0
    assert cine.clock.dropped == 0
    # A timer that wakes late (a busy machine): the loop keeps its speed, skipping images.
    tick_at(main_window, qtbot, clock, start + 33.5 / 20, shown, 3)
    assert shown[-2:] == [0, 3] and cine.clock.dropped == 2
    assert "(2 dropped)" in main_window.pane.corner_labels["bottom_left"].text()

    main_window.play_action.trigger()  # Space: pause
    assert not cine.playing and main_window.cine_bar.play_button.text() == "Play"
    clock.seconds += 10
    cine.tick()
    assert main_window.display.state.index == 3  # pause stops it
    assert shown[-1] == 3


def test_cine_default_rate_from_the_file_and_bounce(main_window, open_in, qtbot, clock, shown):
    open_in(main_window, [US_LOOP])
    ds = pydicom.dcmread(US_LOOP, stop_before_pixels=True)
    expected_fps = 1000.0 / float(ds.FrameTime)  # (0018,1063) Frame Time, in ms
    assert abs(main_window.cine.fps - expected_fps) < 1e-6
    assert abs(main_window.cine_bar.rate_spin.value() - round(expected_fps, 1)) < 0.051
    main_window.cine_bar.mode_combo.setCurrentIndex(1)  # back and forth
    main_window.cine.set_rate(60)
    main_window.go_to(110)
    qtbot.waitUntil(lambda: bool(shown) and shown[-1] == 110, timeout=WAIT_MS)
    shown.clear()
    main_window.cine.play()
    start = clock.seconds
    # Forwards to the last image (119), then backwards, never a wrap to 0.
    expected = [111, 112, 113, 114, 115, 116, 117, 118, 119, 118, 117, 116, 115, 114, 113, 112]
    for k, index in enumerate(expected, start=1):
        tick_at(main_window, qtbot, clock, start + (k + 0.5) / 60, shown, index)
    main_window.cine.stop()
    assert shown == expected
    assert main_window.cine.clock.dropped == 0
    assert "fps" in main_window.pane.corner_labels["bottom_left"].text()


def test_cine_keeps_the_series_window(main_window, open_in, qtbot):
    """No window in the file: every frame played shows the series' one automatic window."""
    open_in(main_window, [MR_MULTIFRAME])
    windows, indexes = set(), set()

    def record():
        voi = main_window.effective_voi()
        windows.add((voi.center, voi.width, voi.source))
        indexes.add(main_window.display.state.index)

    main_window.image_shown.connect(record)
    main_window.cine.set_rate(60)
    main_window.cine.play()
    qtbot.waitUntil(lambda: len(indexes) >= 8, timeout=10000)
    main_window.cine.stop()
    assert len(windows) == 1 and windows.pop()[2] == "auto"
