"""Cancellation and progress for long work, independent of any executor.

A :class:`CancelToken` is passed into the work; the work checks it between
steps. A :class:`ProgressThrottle` lets the work report as often as it likes
while the listener hears at most a few times a second, so reporting never
slows the work down.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class Cancelled(Exception):
    """Raised by :meth:`CancelToken.check` once cancellation was asked for."""


class CancelToken:
    """A flag the requester sets and the worker reads."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


class ProgressThrottle:
    """Calls `listener` at most once per `interval` seconds (and always at the end)."""

    def __init__(self, listener: Callable[..., None] | None, interval: float = 0.1):
        self.listener = listener
        self.interval = interval
        self._last = 0.0

    def __call__(self, *args, final: bool = False) -> bool:
        """Report if due; returns True when the listener was called."""
        if self.listener is None:
            return False
        now = time.monotonic()
        if final or now - self._last >= self.interval:
            self._last = now
            self.listener(*args)
            return True
        return False


_GC_LOCK = threading.Lock()
_GC_USERS = 0
_GC_SAVED: tuple[int, ...] = ()


@contextmanager
def rare_garbage_collection(threshold: int = 100_000) -> Iterator[None]:
    """Let Python's cyclic garbage collector run rarely while many objects are made.

    Opening a folder or a DICOMDIR creates hundreds of thousands of small
    objects that all stay alive (headers, elements); the collector would walk
    them again and again with nothing to free (about 50 ms of 300 on a
    5,000-record DICOMDIR). Process-wide, so nested and concurrent uses are
    counted and the first threshold comes back when the last one ends.
    """
    global _GC_USERS, _GC_SAVED
    with _GC_LOCK:
        if _GC_USERS == 0:
            _GC_SAVED = gc.get_threshold()
            gc.set_threshold(max(_GC_SAVED[0], threshold), *_GC_SAVED[1:])
        _GC_USERS += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_USERS -= 1
            if _GC_USERS == 0:
                gc.set_threshold(*_GC_SAVED)
