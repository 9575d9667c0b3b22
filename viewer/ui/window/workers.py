"""Background work: requests in, results out on the GUI thread.

A task is a plain function run on a worker thread; it never touches a
widget. Its result (or its exception) comes back through a Qt signal of an
object that lives on the GUI thread, so the slot runs there. Newer requests
of the same kind supersede older ones (their results are dropped).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from PySide6.QtCore import QObject, Qt, Signal


class BackgroundRunner(QObject):
    """Runs callables on a small thread pool and delivers results on the GUI thread."""

    _delivered = Signal(object, object, object)  # callback, result, error

    def __init__(self, parent: QObject | None = None, workers: int = 3):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="viewer-bg")
        self._latest: dict[str, int] = {}
        self._counter = itertools.count()
        # Always queued, even when emitted on the GUI thread (a task that is
        # already done when its callback is attached): results then keep the
        # order in which they were posted, after any progress posted before.
        self._delivered.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._closed = False

    def submit(
        self,
        kind: str,
        task: Callable[[], object],
        on_done: Callable[[object], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future:
        """Run `task()` in the background; the newest request of `kind` wins."""
        ticket = next(self._counter)
        self._latest[kind] = ticket

        def finished(future: Future) -> None:
            if self._closed or self._latest.get(kind) != ticket:
                return
            error = future.exception()

            def still_newest(callback):
                # Checked again on delivery: a newer request may have been
                # made while this result waited in the event queue.
                def deliver(value):
                    if self._latest.get(kind) == ticket:
                        callback(value)

                return deliver

            if error is None:
                self._delivered.emit(still_newest(on_done), future.result(), None)
            elif on_error is not None:
                self._delivered.emit(still_newest(on_error), None, error)

        future = self._pool.submit(task)
        future.add_done_callback(finished)
        return future

    def post(self, callback: Callable[[object], None], payload: object) -> None:
        """From any thread: run `callback(payload)` on the GUI thread (for progress)."""
        if not self._closed:
            self._delivered.emit(callback, payload, None)

    def _deliver(self, callback, result, error) -> None:
        if self._closed:
            return
        callback(error if error is not None else result)

    def shutdown(self) -> None:
        """Stop accepting work and wait for running tasks (call before closing)."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)


class ScopedRunner:
    """A :class:`BackgroundRunner` as one owner sees it: its kinds apart from every other owner's.

    "The newest request of a kind wins" holds per owner: two viewports each
    decoding their current image, or each computing their series' automatic
    window, do not supersede one another.
    """

    def __init__(self, runner: BackgroundRunner, scope: str):
        self.runner, self.scope = runner, scope

    def submit(self, kind: str, task, on_done, on_error=None) -> Future:
        return self.runner.submit(f"{self.scope}:{kind}", task, on_done, on_error)

    def post(self, callback: Callable[[object], None], payload: object) -> None:
        self.runner.post(callback, payload)
