"""Fixtures for the Qt tests: offscreen, strict about warnings and threads."""

from __future__ import annotations

import os
import threading

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def fail_on_qt_warnings(qtlog):
    """A Qt warning or critical message fails the test (as napari does)."""
    yield
    from PySide6.QtCore import QtMsgType

    bad = [r.message for r in qtlog.records if r.type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)]
    # The offscreen platform cannot report a window's frame geometry; harmless.
    bad = [m for m in bad if "propagateSizeHints" not in m and "This plugin does not support" not in m]
    assert not bad, f"Qt warnings: {bad}"


@pytest.fixture(autouse=True)
def no_threads_left_behind():
    before = {t.ident for t in threading.enumerate()}
    yield
    left = [t for t in threading.enumerate() if t.ident not in before and t.is_alive() and t.name.startswith("viewer-")]
    assert not left, f"threads still running after the test: {[t.name for t in left]}"


@pytest.fixture
def main_window(qtbot):
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")  # each test starts from the default layout
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 900)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


@pytest.fixture
def open_in(qtbot):
    """Open paths in a window and wait until the first image (or message) is shown."""

    def _open(window, paths, expect_image=True):
        if expect_image:
            with qtbot.waitSignal(window.image_shown, timeout=30000):
                window.open_paths(paths)
        else:
            window.open_paths(paths)
            qtbot.waitUntil(
                lambda: window.pane.message_label.isVisible() and "Reading" not in window.statusBar().currentMessage(), timeout=30000
            )
        return window

    return _open


@pytest.fixture(autouse=True, scope="session")
def isolated_settings(tmp_path_factory):
    """Tests never read or write the user's real settings."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    os.environ["DICOM_VIEWER_CONFIG"] = str(folder / "config")  # saved PACS nodes too
    os.environ["DICOM_VIEWER_DATA"] = str(folder / "data")  # measurements and presentation states
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(folder))
    yield folder


@pytest.fixture(autouse=True)
def own_data_folder(tmp_path_factory, monkeypatch):
    """Each test keeps its measurements and presentation states in a folder of its own: a length drawn on
    pydicom's CT_small in one test must not be drawn over it in the next (they are kept by SOP Instance UID)."""
    monkeypatch.setenv("DICOM_VIEWER_DATA", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(autouse=True, scope="session")
def stop_scan_processes():
    yield
    from viewer.core.runtime.processes import shutdown_pool

    shutdown_pool()
