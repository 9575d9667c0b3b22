"""A multi-frame file whose third frame is corrupt: the pane says so in one line, and moves on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The file is made by the core tests' helper (emri_small as RLE, frame 3's segments overwritten).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core"))
from transfer_syntax_files import corrupt_third_frame


@pytest.fixture
def corrupt_file(tmp_path) -> Path:
    return corrupt_third_frame(tmp_path / "corrupt_frame3.dcm")


def test_corrupt_third_frame_shows_a_message_then_the_next_frame(main_window, open_in, corrupt_file, qtbot):
    open_in(main_window, [corrupt_file])
    assert len(main_window.images) == 10
    pane = main_window.pane
    assert pane.displayed_pixels() is not None and not pane.message_label.isVisible()

    main_window.go_to(2)
    qtbot.waitUntil(pane.message_label.isVisible, timeout=30000)
    message = pane.message_label.text()
    assert message.startswith("corrupt_frame3.dcm: frame 3: ") and "cannot be decoded" in message
    assert "\n" not in message and "Traceback" not in message
    assert main_window.frame is None

    with qtbot.waitSignal(main_window.image_shown, timeout=30000):
        main_window.go_to(3)
    assert pane.displayed_pixels() is not None
    assert not pane.message_label.isVisible()
    assert main_window.position_label.text() == "4 / 10"
