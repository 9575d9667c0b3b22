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
        # Work goes to the pool's workers (another may start if the first is still reporting back).
        assert pool.submit(os.getpid).result(timeout=60) in {worker.pid for worker in pool._processes.values()}
    finally:
        shutdown_pool()
