"""Cine as a user plays it: the loop runs at the recorded rate, pauses, and wraps."""

from __future__ import annotations

import time

import pydicom
from pydicom.data import get_testdata_file

US_LOOP = get_testdata_file("color3d_jpeg_baseline.dcm", download=False)  # 120 JPEG frames
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)  # 10 frames


def test_cine_plays_at_the_requested_rate_pauses_and_loops(main_window, open_in, qtbot):
    open_in(main_window, [MR_MULTIFRAME])
    cine = main_window.cine
    assert len(main_window.images) == 10
    main_window.cine_bar.rate_spin.setValue(20.0)  # the user types a speed
    assert cine.fps == 20.0
    main_window.go_to(0)
    seen = []
    main_window.image_shown.connect(lambda: seen.append((time.monotonic(), main_window.display.state.index)))
    cine.play()
    assert cine.playing and main_window.cine_bar.play_button.text() == "Pause"
    qtbot.wait(1500)  # 30 frames at 20 fps: three times round the 10-frame loop
    main_window.play_action.trigger()  # Space: pause
    assert not cine.playing
    paused_at = main_window.display.state.index
    qtbot.wait(300)
    assert main_window.display.state.index == paused_at  # pause stops it
    indexes = [i for _, i in seen]
    shown_plus_dropped = cine.clock.shown + cine.clock.dropped
    elapsed = seen[-1][0] - seen[0][0]
    rate = (shown_plus_dropped - 1) / elapsed
    assert 16 <= rate <= 24, rate  # about the requested 20 fps
    # The last frame loops to the first.
    wraps = [(a, b) for a, b in zip(indexes, indexes[1:]) if b < a]
    assert wraps and all(b <= 1 for _, b in wraps)


def test_cine_default_rate_from_the_file_and_bounce(main_window, open_in, qtbot):
    open_in(main_window, [US_LOOP])
    ds = pydicom.dcmread(US_LOOP, stop_before_pixels=True)
    expected = 1000.0 / float(ds.FrameTime) if "FrameTime" in ds else None
    if expected:
        assert abs(main_window.cine.fps - expected) < 1e-6
        assert abs(main_window.cine_bar.rate_spin.value() - round(expected, 1)) < 0.051
    main_window.cine_bar.mode_combo.setCurrentIndex(1)  # back and forth
    main_window.cine.set_rate(60)
    main_window.go_to(110)
    seen = []
    main_window.image_shown.connect(lambda: seen.append(main_window.display.state.index))
    main_window.cine.play()
    # Near the end, not at it: a frame not decoded when due is skipped (on a cold start the
    # decoding worker processes are still starting), and waiting for 117 itself could then
    # run on through the whole loop back to 0 and up again.
    qtbot.waitUntil(lambda: len(seen) > 3 and max(seen) >= 115 and seen[-1] < 112, timeout=5000)
    main_window.cine.stop()
    top = seen.index(max(seen))
    assert all(a <= b for a, b in zip(seen[:top], seen[1:top + 1]))  # forwards to the end...
    assert all(a >= b for a, b in zip(seen[top:], seen[top + 1:]))  # ...then backwards, no wrap to 0
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
