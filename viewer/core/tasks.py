"""Cancellation and progress for long work, independent of any executor.

A :class:`CancelToken` is passed into the work; the work checks it between
steps. A :class:`ProgressThrottle` lets the work report as often as it likes
while the listener hears at most a few times a second, so reporting never
slows the work down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


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
