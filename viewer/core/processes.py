"""The shared pool of worker processes for Python work the GIL would serialise.

Header parsing (folder scans) and pixel decoding (JPEG 2000 and friends hold
the GIL) spread over cores only in processes. One lazily started pool serves
both. 'forkserver', not 'fork': the GUI has threads, and forking a threaded
process can deadlock the child; the server preloads the worker modules once,
so each worker starts in milliseconds.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

# multiprocessing and concurrent.futures.process are imported when the pool
# starts: the viewer's start-up (one file, one thread) never needs them.
_POOL: ProcessPoolExecutor | None = None
_LOCK = threading.Lock()
PRELOAD = ["viewer.core.scan", "viewer.core.frames"]


def process_pool() -> ProcessPoolExecutor | None:
    """The pool (started on first use), or None on a one-core machine."""
    global _POOL
    cores = os.cpu_count() or 1
    if cores < 2:
        return None
    with _LOCK:
        if _POOL is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
            except ValueError:  # no forkserver on this platform (Windows)
                context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(max_workers=min(cores, 4), mp_context=context)
        return _POOL


def worker_count() -> int:
    return min(os.cpu_count() or 1, 4)


def shutdown_pool() -> None:
    """Stop the workers (the app does this on exit; tests after a module)."""
    global _POOL
    with _LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=True, cancel_futures=True)
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
    if pool is None:
        return
    for process in list(getattr(pool, "_processes", {}).values()):
        try:
            process.kill()
        except (OSError, AttributeError):
            pass
    pool.shutdown(wait=False, cancel_futures=True)
