"""No process outlives the app, however it ends: SIGTERM, SIGINT, SIGHUP, or killed outright (a crash).

The real app is started (``python -m viewer``, offscreen) on a compressed
multi-frame file, so it starts its decoding workers (a forkserver, its
workers, Python's resource tracker). Every process under the app is noted
(PID and start time, so a reused PID is never mistaken for one of them);
after the signal each must be gone within a bounded wait. Processes are
found by walking /proc, hence Linux only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.core.runtime.processes import wait_for_exit

ROOT = Path(__file__).resolve().parent.parent
#: 10 frames of JPEG 2000: the frames are decoded (and the series prefetched) in worker processes.
COMPRESSED_MULTI_FRAME = get_testdata_file("emri_small_jpeg_2k_lossless.dcm", download=False)

#: Bounds of the waits (polled, never slept through): a slow machine passes, a hang fails.
START_LIMIT = 120.0
END_LIMIT = 60.0

needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds processes through /proc (Linux)")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent PID, start time in clock ticks) of `pid`, None once it is gone (a zombie counts as gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


def _descendants(pid: int) -> dict[int, int]:
    """Every process under `pid`, each with its start time."""
    parents: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            parents.setdefault(stat[0], []).append((int(entry), stat[1]))
    found, todo = {}, [pid]
    while todo:
        for child, started in parents.get(todo.pop(), []):
            found[child] = started
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def _still_running(noted: dict[int, int]) -> dict[int, int]:
    return {pid: started for pid, started in noted.items() if (stat := _stat(pid)) is not None and stat[1] == started}


def _poll(condition, limit: float, step: float = 0.1):
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


@pytest.fixture
def app_with_workers(tmp_path):
    """Start the viewer; yield (process, its descendants once the decoding workers run); kill anything left."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path / "runtime"))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    (tmp_path / "runtime").mkdir(mode=0o700)
    # stderr to a file, not a pipe: a worker left running would hold a pipe open, and reading it would never end.
    with open(tmp_path / "stderr.txt", "wb") as stderr:
        app = subprocess.Popen(
            [sys.executable, "-m", "viewer", "--new-window", COMPRESSED_MULTI_FRAME],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    app.stderr_path = tmp_path / "stderr.txt"
    noted: dict[int, int] = {}
    try:

        def workers_running():
            found = _descendants(app.pid)
            forkservers = [pid for pid in found if "multiprocessing.forkserver" in _cmdline(pid)]
            workers = [pid for pid in found if _stat(pid) and _stat(pid)[0] in forkservers]
            return found if workers else None

        found = _poll(workers_running, START_LIMIT)
        assert found, f"no decoding worker started under the app (exit status {app.poll()})"
        noted.update(found)
        yield app, found
    finally:
        for pid in _still_running(noted):  # a failed test leaves nothing behind either
            os.kill(pid, signal.SIGKILL)
        if app.poll() is None:
            app.kill()
        app.wait(END_LIMIT)


@needs_proc
@pytest.mark.slow
@pytest.mark.parametrize("name, status", [("SIGTERM", 128 + 15), ("SIGINT", 128 + 2), ("SIGHUP", 128 + 1), ("SIGKILL", -9)])
def test_no_process_outlives_the_app(app_with_workers, name, status):
    app, noted = app_with_workers
    kinds = " ".join(_cmdline(pid) for pid in noted)
    assert "multiprocessing.forkserver" in kinds and "multiprocessing.resource_tracker" in kinds, kinds
    os.kill(app.pid, getattr(signal, name))
    app.wait(END_LIMIT)
    assert app.returncode == status, app.stderr_path.read_text(errors="replace")[-2000:]
    left = _poll(lambda: not _still_running(noted), END_LIMIT) or _still_running(noted)
    assert left is True, f"still running {END_LIMIT:g} s after the app ended: {[_cmdline(pid) for pid in left]}"


@pytest.mark.skipif(os.name != "posix", reason="POSIX processes")
@pytest.mark.parametrize("how", ["pidfd", "polling"])
def test_wait_for_exit_returns_once_the_process_has_ended(monkeypatch, how):
    """A worker's watch on the app: it waits while the process runs and returns when it ends."""
    if how == "pidfd" and not hasattr(os, "pidfd_open"):
        pytest.skip("no pidfd here")
    if how == "polling":
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    watcher = threading.Thread(target=wait_for_exit, args=(child.pid, False, 0.05), daemon=True)
    watcher.start()
    try:
        watcher.join(0.5)
        assert watcher.is_alive(), "returned while the process was running"
    finally:
        child.stdin.close()  # the child reads end of file and exits
        child.wait(END_LIMIT)
    watcher.join(END_LIMIT)
    assert not watcher.is_alive()
