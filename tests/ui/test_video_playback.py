"""A video (#16) in the window: opens, steps frame by frame, seeks, and plays in the cine at its recorded rate.

Frames on screen are compared with PyAV's own decode of the raw stream
(tests/video_clips.py); the cine's clock is the test's own, as in test_cine.py.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av")

from video_clips import MPEG2_MAIN_MAIN, reference_frames, write_clip  # noqa: E402

from viewer.core.runtime.processes import shutdown_pool  # noqa: E402

WAIT_MS = 30000


class TestClock:
    __test__ = False

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture(scope="module", autouse=True)
def _stop_workers():
    yield
    shutdown_pool()


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.dcm"
    stream = write_clip(path, "mpeg2video", "mpeg", MPEG2_MAIN_MAIN, frames=30, fps=25, options={"g": "8", "bf": "2"})
    return path, reference_frames(stream)


def shown_frame(window):
    return window.viewports.active.frame.stored


def test_video_opens_steps_seeks_and_plays_at_its_rate(main_window, open_in, qtbot, clip):
    path, reference = clip
    open_in(main_window, [path])
    viewport = main_window.viewports.active
    assert len(main_window.images) == 30
    assert np.array_equal(shown_frame(main_window), reference[0])
    for index in (1, 2, 3):  # frame by frame
        with qtbot.waitSignal(main_window.image_shown, timeout=WAIT_MS):
            viewport.step(1)
        assert viewport.current.frame == index and np.array_equal(shown_frame(main_window), reference[index])
    with qtbot.waitSignal(main_window.image_shown, timeout=WAIT_MS):  # a seek back over a key frame
        main_window.go_to(20)
    qtbot.waitUntil(lambda: viewport.current.frame == 20, timeout=WAIT_MS)
    assert np.array_equal(shown_frame(main_window), reference[20])
    with qtbot.waitSignal(main_window.image_shown, timeout=WAIT_MS):
        main_window.go_to(9)
    assert np.array_equal(shown_frame(main_window), reference[9])

    cine = main_window.cine
    assert cine.fps == pytest.approx(25.0) and cine.rate_source == "Frame Time"
    clock = TestClock()
    cine.now = clock
    shown: list[int] = []
    main_window.image_shown.connect(lambda: shown.append(viewport.current.frame))
    cine.play()
    start = clock.seconds
    for k, index in enumerate(range(10, 16), start=1):
        before = len(shown)
        clock.seconds = start + (k + 0.5) / 25
        cine.tick()
        qtbot.waitUntil(lambda before=before: len(shown) > before, timeout=WAIT_MS)
        assert shown[-1] == index and np.array_equal(shown_frame(main_window), reference[index])
    cine.stop()
    assert cine.clock.dropped == 0
