"""What the window's contents are made of, imported after its first paint.

Importing this module imports numpy, pydicom and the viewer's core (about
0.2 s); :meth:`MainWindow.build_contents <viewer.ui.window.main_window.MainWindow.build_contents>`
imports it after the window's frame is on screen, so the window shows at
once. pydicom's decoder plugins wait until a frame needs one
(:mod:`viewer.core.display.pixels.plugins`); pyqtgraph until the first image
is painted (:mod:`viewer.ui.viewport.image_view`); the query panel, with the network
code, and the tag inspector until their docks are first shown.
benchmarks/bench_startup.py fails if a decoder is loaded before the window,
or before an uncompressed first image.
"""

from __future__ import annotations

from viewer.core.display.frames import FrameSource
from viewer.ui.browsing.browser import StudyBrowser
from viewer.ui.browsing.loader import OpenController
from viewer.ui.browsing.media_watch import MediaWatcher
from viewer.ui.browsing.opening import Opening
from viewer.ui.viewport.viewport import Viewport
from viewer.ui.viewport.viewport_layout import ViewportLayout
from viewer.ui.window.window_presets import WindowPresets

__all__ = [
    "FrameSource",
    "MediaWatcher",
    "OpenController",
    "Opening",
    "StudyBrowser",
    "Viewport",
    "ViewportLayout",
    "WindowPresets",
]
