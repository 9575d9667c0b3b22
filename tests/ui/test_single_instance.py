"""Two launches: the second hands its paths to the first and exits."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from pydicom.data import get_testdata_file

from viewer.ui.window.single_instance import InstanceServer

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR = get_testdata_file("MR_small.dcm")


def launch(args, name):
    env = dict(os.environ, DICOM_VIEWER_INSTANCE=name, QT_QPA_PLATFORM="offscreen")
    return subprocess.Popen([sys.executable, "-m", "viewer", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_launch_opens_in_the_first_window(main_window, open_in, qtbot):
    name = f"dicom-viewer-test-{uuid.uuid4().hex[:8]}"
    server = InstanceServer(name, parent=main_window)
    assert server.listening
    received = []
    server.paths_received.connect(received.append)
    server.paths_received.connect(main_window.open_paths)
    open_in(main_window, [CT])
    process = launch([MR], name)
    qtbot.waitUntil(lambda: process.poll() is not None, timeout=20000)
    out, err = process.communicate()
    assert process.returncode == 0, err
    assert "already running" in out
    assert received == [[os.path.abspath(MR)]]
    qtbot.waitUntil(lambda: main_window.current_series is not None and "MR" in main_window.current_series.modality, timeout=30000)


def test_stale_socket_is_recovered(qtbot, tmp_path):
    name = f"dicom-viewer-test-{uuid.uuid4().hex[:8]}"
    first = InstanceServer(name)
    first.close()  # like a crash: the name may be left behind
    second = InstanceServer(name)
    assert second.listening
    second.close()
