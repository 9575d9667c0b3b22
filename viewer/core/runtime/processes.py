"""The shared pool of worker processes for Python work the GIL would serialise.

Header parsing (folder scans) and pixel decoding (JPEG 2000 and friends hold
the GIL) spread over cores only in processes. One lazily started pool serves
both. 'forkserver', not 'fork': the GUI has threads, and forking a threaded
process can deadlock the child; the server preloads the worker modules once,
so each worker starts in milliseconds.

No worker outlives the app, however the app ends. On a normal exit or a
SIGTERM the app stops them (:func:`close_pool`); when the app is killed or
crashes, each worker notices by itself (:func:`_worker_started`) and exits.
The forkserver needs no watching of its own: it ends when its "alive" pipe
reaches end of file, which happens once the app and every worker (each holds
the pipe's write end, for spawning further processes) are gone; Python's
resource tracker likewise ends when its last writer is gone.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# multiprocessing and concurrent.futures.process are imported when the pool
# starts: the viewer's start-up (one file, one thread) never needs them.
_POOL: ProcessPoolExecutor | None = None
_LOCK = threading.Lock()
_CLOSED = threading.Event()  # set by close_pool: the app is quitting, no new pool
PRELOAD = ["viewer.core.media.scan", "viewer.core.display.frames"]


def process_pool() -> ProcessPoolExecutor | None:
    """The pool (started on first use), or None on a one-core machine or once :func:`close_pool` ran."""
    global _POOL
    cores = os.cpu_count() or 1
    if cores < 2:
        return None
    with _LOCK:
        if _CLOSED.is_set():
            return None  # callers then work in their own thread
        if _POOL is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
            except ValueError:  # no forkserver on this platform (Windows)
                context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(
                max_workers=min(cores, 4),
                mp_context=context,
                initializer=_worker_started,
                initargs=(os.getpid(), context.get_start_method()),
            )
        return _POOL


#: The one worker process that decodes video: a video is decoded sequentially,
#: so its decoder must stay in one process between frames (see display.pixels.video).
#: Held in a dict (key "pool") so that no function needs a ``global`` statement.
_VIDEO: dict[str, ProcessPoolExecutor] = {}


def video_pool() -> ProcessPoolExecutor | None:
    """The video worker (one process, started on first use), or None once :func:`close_pool` ran."""
    with _LOCK:
        if _CLOSED.is_set():
            return None
        if "pool" not in _VIDEO:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
            except ValueError:  # no forkserver on this platform (Windows)
                context = multiprocessing.get_context("spawn")
            _VIDEO["pool"] = ProcessPoolExecutor(
                max_workers=1, mp_context=context, initializer=_worker_started, initargs=(os.getpid(), context.get_start_method())
            )
        return _VIDEO["pool"]


def kill_video_pool() -> None:
    """Stop the video worker at once (a decode past its time limit, a crash, the app quitting)."""
    with _LOCK:
        pool = _VIDEO.pop("pool", None)
    _kill(pool)


def start_pool_ahead() -> None:
    """Start the pool's first worker now, in the background (returns at once), not at the pool's first use.

    The first worker waits for the forkserver: a new interpreter importing
    :data:`PRELOAD`, some 0.3 s on a quiet two-core machine and 1 s on a busy
    one, which a folder scan, a compressed frame or the session's first PDF
    page (benchmarks/bench_document.py) would otherwise wait for. Later
    workers are forked from it in milliseconds. The app calls this once it is
    idle after start-up.
    """
    pool = process_pool()
    if pool is not None:
        pool.submit(os.getpid)  # any task starts a worker, and the forkserver with it


def fork_pool(workers: int | None = None) -> ProcessPoolExecutor | None:
    """A pool of forked workers for a headless command, which the caller shuts down; None where it cannot be.

    Only for a process with no threads of its own (a command run from the terminal): there 'fork' is safe,
    and the workers start in milliseconds, where the shared pool's forkserver and preloads take most of a
    second. None on one core and where fork is not offered (Windows; macOS, where fork is unsafe).
    """
    cores = os.cpu_count() or 1
    if cores < 2 or not sys.platform.startswith("linux") or threading.active_count() > 1:
        return None
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers or min(cores, 4), mp_context=multiprocessing.get_context("fork"), initializer=_forked_worker_started
    )


def _forked_worker_started() -> None:
    """In a :func:`fork_pool` worker: Ctrl+C is the command's to handle; end when the command ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()


def worker_count() -> int:
    return min(os.cpu_count() or 1, 4)


def shutdown_pool() -> None:
    """Stop the workers (the app does this on exit; tests after a module)."""
    global _POOL
    with _LOCK:
        for pool in (_POOL, _VIDEO.pop("pool", None)):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        _POOL = None


def discard_pool() -> None:
    """Forget a broken pool (a worker died); the next use starts a new one."""
    global _POOL
    with _LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=False, cancel_futures=True)
            _POOL = None


def kill_pool() -> None:
    """Stop the workers at once, even mid-task (a decode that ran past its time limit)."""
    global _POOL
    with _LOCK:
        pool, _POOL = _POOL, None
    _kill(pool)


def _kill(pool) -> None:
    if pool is None:
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)


def close_pool() -> None:
    """The app is quitting: stop the workers at once, even mid-decode, and start no new pool.

    Decoding asked for afterwards runs in the asking thread; a decode the
    workers had in hand fails with BrokenProcessPool, which its caller
    already handles.
    """
    _CLOSED.set()
    kill_pool()
    kill_video_pool()


# ----------------------------------------------------------------------------- in each worker


#: <linux/prctl.h>: deliver a signal to this process when its parent ends.
PR_SET_PDEATHSIG = 1


def _worker_started(app_pid: int, start_method: str) -> None:
    """First thing in each worker process (the pool's initializer): never outlive the app.

    Ctrl+C in a terminal goes to the whole process group: the app decides
    what it means, the workers ignore it. On Linux a worker under the
    forkserver gets SIGKILL when the forkserver ends (prctl PR_SET_PDEATHSIG,
    set here in the worker: the forkserver is its parent). That is not
    enough, as the forkserver itself waits for its workers, so a thread also
    waits for the app's own end (:func:`wait_for_exit`) and then ends the worker.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if start_method == "forkserver":
        _die_with_parent()
    threading.Thread(target=_exit_after, args=(app_pid, start_method == "spawn"), name="viewer-app-watch", daemon=True).start()


def _die_with_parent() -> None:
    """Linux: SIGKILL for this process when its parent ends (prctl(2) PR_SET_PDEATHSIG); elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no libc prctl (an unusual libc): the watcher thread still works
        pass


def _exit_after(app_pid: int, app_is_parent: bool) -> None:
    wait_for_exit(app_pid, app_is_parent)
    os._exit(0)  # no clean-up: a decode in progress is of no use to anyone now


def wait_for_exit(pid: int, is_parent: bool = False, poll: float = 0.5) -> None:
    """Return once process `pid` has ended.

    Linux (5.3+): a pidfd, readable when the process ends; no polling, no
    PID reuse. A parent that started this process by 'spawn' (Windows, macOS):
    multiprocessing's sentinel for it. Other POSIX systems: signal 0 every
    `poll` seconds.
    """
    if hasattr(os, "pidfd_open"):
        try:
            fd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        except OSError:
            pass  # an older kernel: fall through
        else:
            select.select([fd], [], [])
            return
    import multiprocessing

    parent = multiprocessing.parent_process()
    if is_parent and parent is not None:
        parent.join()  # waits on the parent's sentinel (a process handle on Windows)
        return
    if os.name != "posix":  # no way to tell here (os.kill(pid, 0) would terminate it on Windows): never return
        threading.Event().wait()
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # another user's process: the PID was reused, so ours has ended
            return
        time.sleep(poll)
