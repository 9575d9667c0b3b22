"""The automatic window of a series: one window for every image whose file has none.

PS3.3 C.11.2 leaves the VOI to the viewer when an image carries no window
and no VOI LUT. A window per frame (each frame's min-max) makes brightness
jump from slice to slice, so one is computed per series, once, and kept
while scrolling and in cine:

1. from the range the files declare: (0028,0108)/(0028,0109) *Smallest/Largest
   Pixel Value in Series*, else (0028,0106)/(0028,0107) *Smallest/Largest
   Image Pixel Value* of every instance, mapped through each one's Modality
   LUT (:func:`pixel_value_range_window`); no pixel needs decoding;
2. otherwise from the 0.5 and 99.5 percentiles of the modality values of
   the series' middle image, padding left out (:func:`percentile_window`).

Why 0.5-99.5: a min-max window is ruled by a handful of pixels (a hot
pixel, metal, a burnt-in label, the bright rim of a coil) and leaves the
anatomy in a few grey levels; clipping 0.5 % of the pixels at each end
ignores up to that many outliers while saturating no more than 1 % of the
image, which reads as full contrast, not as a crushed image. The middle
image of a stack is the one most likely to hold anatomy rather than the
edge of the field.

Multi-frame instances are a series of frames: the same rules apply to
their frames (:func:`viewer.core.display.frames.series_window` applies them to a
list of images).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.display.pixels.lut_data import modality_values
from viewer.core.display.pixels.pipeline import IDENTITY_WINDOW, FrameDisplay, Window, pixel_padding_range, stored_value_attribute

#: The percentiles of the middle image that span the automatic window.
PERCENTILES = (0.5, 99.5)

_SERIES_RANGE = ("SmallestPixelValueInSeries", "LargestPixelValueInSeries")
_IMAGE_RANGE = ("SmallestImagePixelValue", "LargestImagePixelValue")


def _window(lo: float, hi: float, explanation: str) -> Window:
    # Centre and width as dcmtk's min-max window (+Wm) puts them.
    return Window((lo + hi) / 2, max(hi - lo, 1.0), "LINEAR", explanation, "auto")


def declared_stored_range(ctx: Dataset, keywords: tuple[str, str]) -> tuple[int, int] | None:
    """The stored-value range a pair of 'Smallest/Largest' attributes declares, if it can be trusted.

    Values are read as (0028,0103) *Pixel Representation* says
    (:func:`~viewer.core.display.pixels.pipeline.stored_value_attribute`). Refused
    (None): either missing, smallest not below largest (some CR files carry
    0 and 0), or a range that takes in the (0028,0120) *Pixel Padding
    Value* (then it spans the padding, not the image).
    """
    smallest = stored_value_attribute(ctx, keywords[0])
    largest = stored_value_attribute(ctx, keywords[1])
    if smallest is None or largest is None or smallest >= largest:
        return None
    padding = pixel_padding_range(ctx)
    if padding is not None and padding[0] <= largest and padding[1] >= smallest:
        return None
    return smallest, largest


def modality_range_of(ctx: Dataset, smallest: int, largest: int) -> tuple[float, float]:
    """Smallest and largest modality value of the stored values smallest..largest (PS3.3 C.11.1).

    Through pydicom's ``apply_modality_lut``: (0028,1053) *Rescale Slope* and
    (0028,1052) *Rescale Intercept*, or the (0028,3000) *Modality LUT
    Sequence*, whose table need not be monotonic, so every value between is
    mapped then.
    """
    if ctx.get("ModalityLUTSequence"):
        stored = np.arange(smallest, largest + 1)
    else:
        stored = np.array([smallest, largest])
    values = np.asarray(modality_values(stored, ctx), dtype=np.float64)
    return float(values.min()), float(values.max())


def pixel_value_range_window(contexts: Sequence[Dataset]) -> Window | None:
    """The series' window from the pixel value ranges its files declare, or None.

    `contexts` are the attributes of each instance of the series (the
    Image Pixel module and the Modality LUT). (0028,0108)/(0028,0109)
    *Smallest/Largest Pixel Value in Series* describe the whole series, so
    one instance carrying them is enough; otherwise every instance must
    carry (0028,0106)/(0028,0107) *Smallest/Largest Image Pixel Value*,
    and the window spans all of them. Each range is mapped through its own
    instance's Modality LUT (PET rescales each slice differently). None
    when the files do not say (or say something unusable, see
    :func:`declared_stored_range`).
    """
    for keywords, explanation in (
        (_SERIES_RANGE, "for the series, from Smallest/Largest Pixel Value in Series"),
        (_IMAGE_RANGE, "for the series, from Smallest/Largest Image Pixel Value"),
    ):
        ranges = []
        for ctx in contexts:
            declared = declared_stored_range(ctx, keywords)
            if declared is None:
                if keywords is _IMAGE_RANGE:
                    ranges = []
                    break
                continue
            try:
                ranges.append(modality_range_of(ctx, *declared))
            except (TypeError, ValueError, AttributeError, IndexError, KeyError):
                return None  # a malformed rescale: the image itself will say so
        if ranges:
            lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
            if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
                return _window(lo, hi, explanation)
    return None


def weighted_percentile(values: np.ndarray, counts: np.ndarray, percentile: float) -> float:
    """The `percentile` of a sample given as ascending distinct `values` and their `counts`.

    The same definition as ``numpy.percentile``'s default ('linear'): the
    sample sorted, position p/100 * (n - 1), interpolated between the two
    order statistics around it.
    """
    total = int(counts.sum())
    position = percentile / 100.0 * (total - 1)
    below = math.floor(position)
    cumulative = np.cumsum(counts)
    # The k-th smallest (from 0) is the first value whose running count exceeds k.
    first = float(values[np.searchsorted(cumulative, below, side="right")])
    second = float(values[np.searchsorted(cumulative, min(below + 1, total - 1), side="right")])
    return first + (second - first) * (position - below)


def percentile_window(frame: FrameDisplay, image_number: int, percentiles: tuple[float, float] = PERCENTILES) -> Window:
    """A window spanning the `percentiles` of `frame`'s modality values, padding left out.

    `frame` is the series' middle image, `image_number` its place in the
    series (from 1), which the explanation names. Pixels marked by
    (0028,0120) *Pixel Padding Value* / (0028,0121) *Pixel Padding Range
    Limit* do not count (:meth:`FrameDisplay.value_counts`). Colour frames
    are shown as stored (:data:`IDENTITY_WINDOW`).
    """
    if frame.is_color:
        return IDENTITY_WINDOW
    values, counts = frame.value_counts()
    low, high = percentiles
    if not counts.size:  # nothing finite (a float image of NaNs)
        return frame.auto_window()
    lo = weighted_percentile(values, counts, low)
    hi = weighted_percentile(values, counts, high)
    return _window(lo, hi, f"for the series, from the {low:g}-{high:g} percentile of image {image_number}")
