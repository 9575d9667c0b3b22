"""Reading and decoding the images of a series, with bounded caches.

:class:`FrameStore` turns an :class:`~viewer.core.model.ImageRef` into a
:class:`~viewer.core.pixels.pipeline.FrameDisplay`. Datasets and prepared
frames are kept in least-recently-used caches bounded by count and bytes, so
scrolling back is instant and a long series does not fill memory.
Thread-safe: a background prefetch may call :meth:`FrameStore.frame` too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.io import read_image_dataset
from viewer.core.model import ImageRef
from viewer.core.pixels.decoders import decode_frame
from viewer.core.pixels.pipeline import FrameDisplay, frame_context

DEFAULT_CACHE_BYTES = 512 * 1024 * 1024


class FrameStore:
    """Decoded, display-ready frames by image reference."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES, max_datasets: int = 8):
        self.max_bytes = max_bytes
        self.max_datasets = max_datasets
        self._datasets: OrderedDict[Path, Dataset] = OrderedDict()
        self._frames: OrderedDict[tuple[Path, int], FrameDisplay] = OrderedDict()
        self._bytes = 0
        self._lock = threading.RLock()

    def dataset(self, path: Path) -> Dataset:
        """The whole dataset of `path` (raises ViewerError)."""
        with self._lock:
            if path in self._datasets:
                self._datasets.move_to_end(path)
                return self._datasets[path]
        ds = read_image_dataset(path)
        with self._lock:
            self._datasets[path] = ds
            while len(self._datasets) > self.max_datasets:
                self._datasets.popitem(last=False)
        return ds

    def frame(self, ref: ImageRef) -> FrameDisplay:
        """Frame `ref.frame` of `ref.instance`, decoded and prepared (raises ViewerError)."""
        key = (ref.instance.path, ref.frame)
        with self._lock:
            if key in self._frames:
                self._frames.move_to_end(key)
                return self._frames[key]
        ds = self.dataset(ref.instance.path)
        stored = decode_frame(ds, ref.frame, ref.instance.path)
        display = FrameDisplay(stored, frame_context(ds, ref.frame))
        with self._lock:
            self._frames[key] = display
            self._bytes += display.stored.nbytes * 2
            while self._bytes > self.max_bytes and len(self._frames) > 1:
                _, old = self._frames.popitem(last=False)
                self._bytes -= old.stored.nbytes * 2
        return display

    def clear(self) -> None:
        with self._lock:
            self._datasets.clear()
            self._frames.clear()
            self._bytes = 0
