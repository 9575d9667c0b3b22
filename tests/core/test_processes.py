"""The worker pool started ahead of its first use (#16: the session's first PDF page need not wait for the forkserver)."""

from __future__ import annotations

import os

from viewer.core.runtime.processes import process_pool, shutdown_pool, start_pool_ahead


def test_starting_the_pool_ahead_leaves_a_worker_waiting():
    shutdown_pool()
    try:
        start_pool_ahead()
        pool = process_pool()
        workers = list(pool._processes.values())  # the executor's own record of its processes
        assert workers and all(worker.is_alive() for worker in workers)
        assert pool.submit(os.getpid).result(timeout=60) in {worker.pid for worker in workers}
    finally:
        shutdown_pool()
