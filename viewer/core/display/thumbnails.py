"""Series thumbnails: a middle image through the display pipeline, small."""

from __future__ import annotations

import math

import numpy as np

from viewer.core.display.frames import FrameSource, frame_with_time_limit, is_compressed, series_window
from viewer.core.media.model import Series


def series_thumbnail(series: Series, size: int = 48, source: FrameSource | None = None) -> np.ndarray | None:
    """uint8 grey (h, w) or RGB (h, w, 3), at most `size` pixels a side; None if unreadable.

    The middle image of the series, shown as the pane opens it (its file's
    window or VOI LUT, else the series' automatic window or soft tissue for
    CT; MONOCHROME1 inverted), decimated to the thumbnail size.
    """
    from viewer.core.dicom.io import ViewerError

    images = series.images
    if not images:
        return None
    source = source or FrameSource(max_bytes=64 * 1024 * 1024, max_datasets=1)
    middle = images[len(images) // 2]
    try:
        if is_compressed(middle.instance.header):
            # Made while the user browses: a damaged code stream must not take
            # the app down with its decoder, nor keep a thread busy for minutes.
            frame = frame_with_time_limit(source, middle)
        else:
            frame = source.frame(middle)
    except ViewerError:
        return None
    automatic = None
    if frame.uses_automatic_window():
        automatic = series_window(source, images, lambda _middle: frame)  # the middle image, decoded above
    rows, cols = frame.shape
    stride = max(1, math.ceil(max(rows, cols) / size))
    return frame.render(frame.default_voi(automatic), False, None, stride)
