"""ROI statistics on one frame while the user draws and drags ROIs: from sums per tile of the frame, made once.

:func:`~viewer.core.measure.roi.roi_statistics` reads every pixel inside an
ROI: on a 4096x5120 mammogram, an ellipse over 74% of it is 15 million
pixels. The viewport measures through :class:`RoiTracker` instead, made once
per frame (the same rule for which pixels count, the same numbers):

**Tile sums** (:class:`TileSums`), when the Modality LUT is linear. The
frame is cut into tiles of ``TILE_ROWS`` x ``TILE_COLUMNS`` pixels and each
tile's sum, sum of squares, minimum and maximum of the stored values are
kept, as exact integers. An ROI is then the tiles it covers wholly, read
from those figures, plus its pixels in the tiles along its outline, read
from the frame: about 200,000 pixels for that ellipse. With the pixel count
n, the sum S and the sum of squares Q exact, the stored mean S/n and the
population variance (nQ - S²)/n² are each rounded once. The Modality LUT
(PS3.3 C.11.1: (0028,1053) *Rescale Slope* m, (0028,1052) *Rescale
Intercept* b, or none) being linear, the modality mean is m·S/n + b, the SD
|m| times the stored SD, and the minimum and maximum are the stored ones
passed through pydicom's ``apply_modality_lut``, as roi_statistics passes
every value.

**Histograms** (:class:`HistogramTracker`), for a non-linear (0028,3000)
*Modality LUT Sequence*: the histogram of the stored values inside the ROI,
each distinct value looked up once; while an ROI is dragged only the pixels
it gains or loses are counted.

Float frames, and integer frames whose sums of squares could overflow 64
bits (and, with a LUT sequence, whose values span more than 2^16), go
through roi_statistics each time.
"""

from __future__ import annotations

import math

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.display.pixels.lut_data import modality_values
from viewer.core.measure.geometry import Shape
from viewer.core.measure.roi import (
    Runs,
    Statistics,
    changed_runs,
    histogram_statistics,
    refuse_colour,
    roi_runs,
    roi_statistics,
    stored_histogram,
)

#: Tile height and width in pixels: a tile's rows are reduced as whole image rows (fast), its columns as short
#: groups (slower per value, on 8 times fewer values); an ellipse's outline crosses about one tile per row.
TILE_ROWS = 8
TILE_COLUMNS = 32
#: Tile rows converted at a time while the sums are made: 32 image rows of 4096 columns in int64 is 1 MB.
_BAND_TILES = 4


def linear_modality(ctx: Dataset) -> tuple[float, float] | None:
    """(slope, intercept) of the frame's Modality LUT as pydicom's ``apply_modality_lut`` applies it (PS3.3 C.11.1).

    (1, 0) when neither (0028,3000) *Modality LUT Sequence* nor the
    (0028,1053) *Rescale Slope* and (0028,1052) *Rescale Intercept* pair is
    present (stored values are modality values); None for a LUT sequence
    (not linear) or a pair that is not numeric.
    """
    if ctx.get("ModalityLUTSequence"):
        return None
    if "RescaleSlope" in ctx and "RescaleIntercept" in ctx:
        try:
            return float(ctx.RescaleSlope), float(ctx.RescaleIntercept)
        except (TypeError, ValueError):
            return None
    return 1.0, 0.0


class TileSums:
    """Per tile of a frame: the sum, sum of squares, minimum and maximum of its stored values (module docstring)."""

    def __init__(self, stored: np.ndarray, largest: int):
        """Tile sums of `stored` (integers), whose values are at most `largest` in magnitude; see :meth:`of`."""
        self.stored = stored
        rows, columns = stored.shape
        self.tile_rows, self.tile_columns = rows // TILE_ROWS, columns // TILE_COLUMNS
        # The image rows and columns past the last whole tile are never in a tile: read from the frame when inside an ROI.
        tiled = stored[: self.tile_rows * TILE_ROWS, : self.tile_columns * TILE_COLUMNS]
        by_tile_row = tiled.reshape(self.tile_rows, TILE_ROWS, self.tile_columns * TILE_COLUMNS)
        self.minimum = self._along_columns(by_tile_row.min(axis=1), np.minimum)
        self.maximum = self._along_columns(by_tile_row.max(axis=1), np.maximum)
        # A tile's rows summed in int32 when no sum of squares can overflow it (12-bit mammograms, CT): half the memory
        # traffic of int64; the tiles' columns then summed in int64.
        rows_total = np.int32 if TILE_ROWS * largest * largest < 1 << 31 else np.int64
        self.sums = np.empty((self.tile_rows, self.tile_columns), dtype=np.int64)
        self.squares = np.empty_like(self.sums)
        for first in range(0, self.tile_rows, _BAND_TILES):
            band = by_tile_row[first : first + _BAND_TILES].astype(rows_total)
            self.sums[first : first + _BAND_TILES] = self._along_columns(band.sum(axis=1, dtype=rows_total), np.add)
            band *= band
            self.squares[first : first + _BAND_TILES] = self._along_columns(band.sum(axis=1, dtype=rows_total), np.add)

    def _along_columns(self, per_image_column: np.ndarray, reduce: np.ufunc) -> np.ndarray:
        """(tile rows, image columns) -> (tile rows, tile columns): `reduce` over each tile's columns."""
        shape = (per_image_column.shape[0], self.tile_columns, TILE_COLUMNS)
        wide = np.int64 if reduce is np.add else per_image_column.dtype
        return reduce.reduce(per_image_column.reshape(shape), axis=2, dtype=wide)

    @classmethod
    def of(cls, stored: np.ndarray) -> TileSums | None:
        """The tile sums of a frame of integers whose sum of squares over the whole frame fits in int64; else None."""
        if stored.dtype.kind not in "iu" or stored.size == 0:
            return None
        largest = max(abs(int(stored.min())), abs(int(stored.max())))
        return cls(stored, largest) if stored.size * largest * largest < 1 << 63 else None

    def whole_tiles(self, runs: Runs) -> np.ndarray:
        """Which tiles lie wholly inside `runs` (bool, tile rows x tile columns).

        A tile is whole when each of its image rows covers it: per tile row,
        +1 at the first tile of each run's covered span and -1 after its last,
        summed along the row (the runs of a row never overlap, as roi_runs
        gives them), equal to TILE_ROWS.
        """
        in_tiles = runs.rows < self.tile_rows * TILE_ROWS
        tile_row = runs.rows[in_tiles] // TILE_ROWS
        first = -(-runs.starts[in_tiles] // TILE_COLUMNS)  # the first tile starting at or after the run's start
        end = np.minimum(runs.ends[in_tiles] // TILE_COLUMNS, self.tile_columns)  # after the last tile ending within it
        spans = end > first
        width = self.tile_columns + 1
        size = self.tile_rows * width
        steps = np.bincount(tile_row[spans] * width + first[spans], minlength=size)
        steps -= np.bincount(tile_row[spans] * width + end[spans], minlength=size)
        covered = np.cumsum(steps.reshape(self.tile_rows, width), axis=1)[:, :-1]
        return covered == TILE_ROWS

    @staticmethod
    def tile_runs(whole: np.ndarray) -> Runs:
        """The pixels of the `whole` tiles as runs: one per image row per stretch of adjacent tiles."""
        edges = np.diff(np.pad(whole, ((0, 0), (1, 1))).astype(np.int8), axis=1)
        tile_row, first = np.nonzero(edges == 1)
        _, end = np.nonzero(edges == -1)  # row-major order: each stretch's end pairs with its first
        rows = (tile_row[:, None] * TILE_ROWS + np.arange(TILE_ROWS)).ravel()
        return Runs(rows, np.repeat(first * TILE_COLUMNS, TILE_ROWS), np.repeat(end * TILE_COLUMNS, TILE_ROWS))

    def statistics(self, runs: Runs, ctx: Dataset, slope: float, intercept: float) -> Statistics:
        """The modality statistics of the pixels of `runs` (roi_runs of this frame), for a linear Modality LUT."""
        whole = self.whole_tiles(runs)
        outline, _ = changed_runs(self.tile_runs(whole), runs)  # the ROI's pixels outside its whole tiles
        values = outline.values(self.stored).astype(np.int64)
        n = int(whole.sum()) * TILE_ROWS * TILE_COLUMNS + values.size
        if n == 0:
            return Statistics(None, None, None, None, 0)
        total = int(self.sums[whole].sum()) + int(values.sum())
        squares = int(self.squares[whole].sum()) + int((values * values).sum())
        lowest = min(part.min() for part in (self.minimum[whole], values) if part.size)
        highest = max(part.max() for part in (self.maximum[whole], values) if part.size)
        # Python integers: n*squares - total² is exact, each quotient rounded once.
        mean, variance = total / n, (n * squares - total * total) / (n * n)
        extremes = np.asarray(modality_values(np.array([lowest, highest], dtype=self.stored.dtype), ctx), dtype=np.float64)
        return Statistics(slope * mean + intercept, abs(slope) * math.sqrt(variance), float(extremes.min()), float(extremes.max()), n)


class HistogramTracker:
    """Statistics of one ROI of one frame through the histogram of its stored values, kept up to date while it is dragged.

    Built once per frame (one pass: min, max and the frame's histogram).
    A new ROI is counted directly, or, when it holds most of the frame, as
    the frame's histogram less the pixels outside it. When the shape
    changes, only the pixels it gained or lost (:func:`changed_runs`, a thin
    band along the outline for a handle drag) are counted in or out; the
    statistics are then read from the histogram, each stored value's
    modality value looked up once per frame. Integer frames whose values
    span at most 2^16 (:meth:`suits`).
    """

    def __init__(self, stored: np.ndarray, ctx: Dataset):
        self.stored = stored
        self._runs: Runs | None = None
        self._counts: np.ndarray | None = None
        self._lo, self._hi = int(stored.min()), int(stored.max())
        self._modality = np.asarray(modality_values(np.arange(self._lo, self._hi + 1), ctx), dtype=np.float64)
        # The whole frame's histogram: an ROI holding most of the frame is counted as the frame less what is outside.
        self._frame_counts = stored_histogram(stored.ravel(), self._lo, self._hi)
        rows = np.arange(stored.shape[0], dtype=np.intp)
        self._frame_runs = Runs(rows, np.zeros_like(rows), np.full_like(rows, stored.shape[1]))

    @staticmethod
    def suits(stored: np.ndarray) -> bool:
        return stored.dtype.kind in "iu" and stored.size > 0 and int(stored.max()) - int(stored.min()) < 1 << 16

    def _count(self, runs: Runs) -> np.ndarray:
        return stored_histogram(runs.values(self.stored), self._lo, self._hi)

    def _count_afresh(self, runs: Runs) -> np.ndarray:
        """The histogram of `runs`: counted directly, or as the frame's less the pixels outside, whichever is fewer."""
        if 2 * runs.count <= self.stored.size:
            return self._count(runs)
        _, outside = changed_runs(self._frame_runs, runs)
        return self._frame_counts - self._count(outside)

    def statistics(self, runs: Runs) -> Statistics:
        """The statistics of the pixels of `runs`, counting only the change since the last call's runs."""
        if self._runs is None or self._counts is None:
            self._counts = self._count_afresh(runs)
        else:
            added, removed = changed_runs(self._runs, runs)
            if added.count + removed.count >= min(runs.count, self.stored.size - runs.count):  # moved far: afresh is cheaper
                self._counts = self._count_afresh(runs)
            else:
                self._counts = self._counts + self._count(added) - self._count(removed)
        self._runs = runs
        present = np.flatnonzero(self._counts)
        return histogram_statistics(self._counts[present], self._modality[present])


class RoiTracker:
    """Statistics of the ROIs of one frame (the viewport's ROI tools): equal to :func:`roi_statistics`, made faster.

    Building it reads the frame once (:class:`TileSums`, or
    :class:`HistogramTracker` for a Modality LUT Sequence); each ROI then
    costs in proportion to its outline. Frames neither suits go through
    :func:`roi_statistics` each time. ViewerError for a colour frame.
    """

    def __init__(self, stored: np.ndarray, ctx: Dataset):
        refuse_colour(stored, ctx)
        self.stored, self.ctx = stored, ctx
        self._linear = linear_modality(ctx)
        self._tiles = TileSums.of(stored) if self._linear is not None else None
        self._histograms = HistogramTracker(stored, ctx) if self._tiles is None and HistogramTracker.suits(stored) else None

    @property
    def method(self) -> str:
        """How ROIs are counted on this frame: "tiles", "histograms" or "direct" (roi_statistics each time)."""
        return "tiles" if self._tiles is not None else "histograms" if self._histograms is not None else "direct"

    def statistics(self, shape: Shape) -> Statistics:
        """The statistics of `shape` on this frame (as :func:`roi_statistics`)."""
        if self._tiles is not None and self._linear is not None:
            return self._tiles.statistics(roi_runs(shape, self.stored.shape), self.ctx, *self._linear)
        if self._histograms is not None:
            return self._histograms.statistics(roi_runs(shape, self.stored.shape))
        return roi_statistics(self.stored, self.ctx, shape)
