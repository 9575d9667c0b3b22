"""A least-recently-used cache, bounded by a count or by the weight of its values.

The frame source keeps prepared frames by bytes and whole files by count
(:mod:`viewer.core.display.frames`); both are this one cache. Thread-safe:
the prefetcher fills it while the viewports read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRU(Generic[K, V]):
    """Values by key; the least recently used go first once `max_items` or `max_weight` is passed.

    `weight(value)` is what a value counts towards `max_weight` (its bytes,
    say). The newest value always stays, however heavy: a frame larger than
    the whole budget can still be shown. `max_weight` may be changed at any
    time; it applies from the next :meth:`add`.
    """

    def __init__(self, max_items: int | None = None, max_weight: int | None = None, weight: Callable[[V], int] | None = None):
        self.max_items = max_items
        self.max_weight = max_weight
        self._weigh = weight or (lambda _value: 1)
        self._values: OrderedDict[K, V] = OrderedDict()
        self._weight = 0
        self._lock = threading.Lock()
        #: Values dropped so far (over the bounds, or cleared): while it stays, every key seen held is still held.
        self.dropped = 0

    def get(self, key: K) -> V | None:
        """The value of `key` (now the most recently used), or None."""
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def add(self, key: K, value: V) -> None:
        """Keep `value` under `key` (a value already there stays), then drop the oldest over the bounds."""
        with self._lock:
            if key in self._values:
                return
            self._values[key] = value
            self._weight += self._weigh(value)
            while len(self._values) > 1 and self._over():
                _, old = self._values.popitem(last=False)
                self._weight -= self._weigh(old)
                self.dropped += 1

    def _over(self) -> bool:
        return (self.max_items is not None and len(self._values) > self.max_items) or (
            self.max_weight is not None and self._weight > self.max_weight
        )

    def __contains__(self, key: K) -> bool:
        with self._lock:
            return key in self._values

    @property
    def weight(self) -> int:
        """The weight of every value held."""
        return self._weight

    def clear(self) -> None:
        with self._lock:
            self.dropped += len(self._values)
            self._values.clear()
            self._weight = 0
