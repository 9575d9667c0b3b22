"""Starting the Qt application: the window first, then what was asked for.

Set DICOM_VIEWER_STARTUP_REPORT=1 to print, on stdout, the wall-clock times
(time.time()) at which the window and the first image were painted (and,
after a quick first image, the viewport's own), then quit: the start-up
benchmark reads them. Each time line is followed by
``modules-at-window-paint`` / ``modules-at-image-paint`` and a JSON list of
sys.modules at that moment (without the stand-ins that hold the places of
pydicom's decoder plugins: viewer.core.display.pixels.plugins), so the benchmark can
check what start-up imported.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack

from PySide6.QtCore import QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QWidget

from viewer import __version__
from viewer.core.runtime.tasks import rare_garbage_collection
from viewer.ui.window.main_window import MainWindow
from viewer.ui.window.paint_probe import FirstPaintProbe
from viewer.ui.window.quick_image import QuickImageView, keep_until_viewport_image, show_quick_image
from viewer.ui.window.settings_store import SettingsStore
from viewer.ui.window.theme import apply as apply_theme

#: After start-up (the first image shown, or the empty window), this long idle before the worker pool is started.
POOL_AHEAD_MS = 1000
_RESOURCES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), "resources")


def app_icon() -> QIcon:
    """The app's icon: package data (works from a wheel and the bundle), else the source tree's."""
    packaged = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "resources",
        "linux",
        "icons",
        "hicolor",
        "scalable",
        "apps",
        "dicom-viewer.svg",
    )
    for path in (packaged, os.path.join(_RESOURCES, "dicom-viewer.svg")):
        if os.path.exists(path):
            return QIcon(path)
    return QIcon()


def run(paths: list[str], new_window: bool = False) -> int:
    """Show the viewer; with a viewer already running (and not `new_window`), hand it `paths`."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    paths = [os.path.abspath(p) for p in paths]  # the running viewer has another working folder
    if not new_window:
        from viewer.ui.window.single_instance import hand_over

        if hand_over(paths):
            print("dicom-viewer: opened in the viewer already running (use --new-window for another)")
            return 0
    app.setApplicationName("dicom-viewer")
    app.setApplicationDisplayName("DICOM Viewer")
    app.setApplicationVersion(__version__)
    app.setOrganizationName("dicom-viewer")
    app.setWindowIcon(app_icon())
    apply_theme(SettingsStore().theme(), app)  # before the first paint: the window never flashes light
    # Start-up imports make a few hundred thousand objects that all stay: the
    # garbage collector would walk them again and again, with nothing to free
    # (about 40 ms before the first image here). It runs rarely until the
    # first image is on screen (or the opening ends without one, or the
    # contents are built with nothing to open); then those objects are moved
    # out of its way for good (gc.freeze), so that its first normal run does
    # not walk them all at once either.
    starting = ExitStack()
    starting.enter_context(rare_garbage_collection())
    starting.callback(gc.freeze)

    def started() -> None:
        QTimer.singleShot(0, starting.close)  # after the paint that is already asked for
        QTimer.singleShot(POOL_AHEAD_MS, window, _start_pool_ahead)  # the worker pool ready before its first use (#16)

    # The frame paints first; its contents (numpy, pydicom) follow, then the
    # first image, then pyqtgraph (the pane's view). No decoder is imported
    # until a frame needs one (viewer.core.display.pixels.plugins). One file
    # of the simple kind (viewer.core.display.first_image) is painted before
    # the contents, with the standard library only; the viewport's own image replaces it.
    window = MainWindow(deferred=True)
    report = None

    def after_first_paint() -> None:
        quick = show_quick_image(window, paths)
        if quick is None:
            build_and_open(None)
            return
        FirstPaintProbe(quick, lambda: build_and_open(quick))
        if report is not None:
            report(quick)  # after the probe above: asked first, so it sees the paint itself

    def build_and_open(quick: QuickImageView | None) -> None:
        window.build_contents()
        if paths:
            window.image_shown.connect(started)
            window.series_opened.connect(started)
            window.pane.build_view_after_first_image()  # pyqtgraph after the first image, not before
            if quick is not None:
                keep_until_viewport_image(window, quick)
            window.open_paths(paths)  # opening never delays the first paint
        else:
            started()

    # Installed before the report's probe: Qt asks the last installed filter
    # first, so the report sees what was loaded at the paint itself.
    FirstPaintProbe(window, after_first_paint)
    if os.environ.get("DICOM_VIEWER_STARTUP_REPORT"):
        report = _report_startup(window, quit_when_done=True, expect_image=bool(paths))
    if not new_window:
        from viewer.ui.window.single_instance import InstanceServer

        server = InstanceServer(parent=window)
        server.paths_received.connect(lambda received: _bring_forward(window, received))
    if window.settings_store.window_layout()[0] is None and app.primaryScreen() is not None:
        window.setGeometry(app.primaryScreen().availableGeometry())  # first start: the whole screen for the images
    window.show()
    signals = TerminationSignals(app, window)
    try:
        code = app.exec()
    finally:
        from viewer.core.runtime.processes import close_pool

        starting.close()
        signals.restore()
        close_pool()  # at once: a decode in progress is of no use now, and no worker may outlive the app
    return 128 + signals.received[0] if signals.received else code


class TerminationSignals:
    """SIGTERM, SIGINT (Ctrl+C) and SIGHUP close the window and quit, as closing it does; a second one ends the process at once.

    Without this, Python's default handlers end the app without a word to its
    worker processes, or (SIGINT) not until Qt's loop runs Python code again.
    Qt's loop runs no Python while it waits, so ``signal.set_wakeup_fd``
    writes each signal's number to a socket that a QSocketNotifier watches:
    the handler only notes the signal, and the notifier's slot, at a quiet
    point of the loop, stops the workers, closes the window and quits.
    """

    NAMES = ("SIGTERM", "SIGINT", "SIGHUP")

    def __init__(self, app: QApplication, window: MainWindow):
        import signal
        import socket
        import threading

        from PySide6.QtCore import QSocketNotifier

        self.app, self.window = app, window
        self.received: list[int] = []
        self._closing = False
        self._previous: dict[int, object] = {}
        self._reader = self._writer = self._notifier = None
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may set signal handlers
        self._reader, self._writer = socket.socketpair()
        for end in (self._reader, self._writer):
            end.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, app)
        self._notifier.activated.connect(self._on_wakeup)
        self._previous_wakeup_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for name in self.NAMES:
            if hasattr(signal, name):  # no SIGHUP on Windows
                number = getattr(signal, name)
                self._previous[number] = signal.signal(number, self._note)

    def _note(self, number: int, _frame) -> None:
        from viewer.core.runtime.processes import close_pool

        if self._closing:  # a second signal while closing: the user insists
            close_pool()
            os._exit(128 + number)
        self.received.append(number)

    def _on_wakeup(self, *_args) -> None:
        try:
            while self._reader.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        if self.received and not self._closing:
            from viewer.core.runtime.processes import close_pool

            self._closing = True
            close_pool()  # first: a task waiting on a decode ends now, so closing does not wait for it
            self.window.close()
            self.app.quit()

    def restore(self) -> None:
        """Put back the handlers and wake-up fd found at the start."""
        import signal

        if self._notifier is None:
            return
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()


def _bring_forward(window: MainWindow, paths: list[str]) -> None:
    """Another launch asked us to open `paths`: open them and come to the front."""
    if window.isMinimized():
        window.showNormal()
    window.raise_()
    window.activateWindow()
    if paths:
        window.open_paths(paths)


def _start_pool_ahead() -> None:
    from viewer.core.runtime.processes import start_pool_ahead  # here: start-up itself never needs it

    start_pool_ahead()


def _report_startup(window: MainWindow, quit_when_done: bool, expect_image: bool) -> Callable[[QWidget], None]:
    """Print when the window and the first image are painted; returns what arms the report on a quick first image.

    With a quick first image (viewer.ui.window.quick_image), ``image-painted`` is its
    paint, and ``viewport-image-painted`` (with ``modules-at-viewport-image-paint``)
    follows when the viewport's own image is painted; the report quits after that one.
    """
    from viewer.core.display.pixels.plugins import imported_modules

    def window_painted() -> None:
        print(f"window-painted {time.time():.6f}", flush=True)
        print(f"modules-at-window-paint {json.dumps(imported_modules())}", flush=True)
        if not expect_image and quit_when_done:
            window.close()

    images_painted: list[str] = []

    def image_painted(by: str) -> None:
        if not images_painted:
            print(f"image-painted {time.time():.6f}", flush=True)
            print(f"modules-at-image-paint {json.dumps(imported_modules())}", flush=True)
        elif by == "viewport" and "viewport" not in images_painted:
            print(f"viewport-image-painted {time.time():.6f}", flush=True)
            print(f"modules-at-viewport-image-paint {json.dumps(imported_modules())}", flush=True)
        images_painted.append(by)
        if by == "viewport" and quit_when_done:
            window.close()

    FirstPaintProbe(window, window_painted)

    def arm_image_probe() -> None:
        FirstPaintProbe(window.pane.image_surface(), lambda: image_painted("viewport"))

    window.image_shown.connect(arm_image_probe)
    return lambda quick: FirstPaintProbe(quick, lambda: image_painted("quick"))
