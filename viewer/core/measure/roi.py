"""Which pixels an ROI holds, and their statistics in modality units.

**The rule.** A pixel counts when its centre is inside the shape, the
boundary included. Pixel (row r, column c) has its centre at image point
(c, r). For the shapes:

- rectangle with corners (x0, y0), (x1, y1): ``min(x0, x1) <= c <= max(x0, x1)``
  and the same for rows;
- ellipse of centre (cx, cy), semi-axes rx, ry:
  ``((c - cx) / rx) ** 2 + ((r - cy) / ry) ** 2 <= 1``, evaluated in float64
  exactly as written (a test can compute the same mask independently);
- polygon and freehand (closed, edges may cross): the even-odd rule along
  each row of centres, a centre counted when it lies between two crossings,
  the crossings included; a row through a vertex or along a horizontal edge
  is read both as the row just below and the row just above, and the two
  unioned, so a centre on the outline counts wherever it lies (a crossing
  within 1e-9 pixel of a centre is taken to pass through it: rounding).

**The rasteriser** works row by row: each row of centres meets a convex
shape in one run of columns and a polygon in a few, so the mask is a list of
runs ``(row, first column, column after the last)``, computed with numpy for
all rows at once and clipped to the image. The runs of an ellipse come from
its equation solved for the column, then checked against the inequality at
each end, so rounding never moves a pixel in or out.

**The statistics** (:func:`roi_statistics`) are taken after the Modality LUT
(PS3.3 C.11.1: (0028,1052) *Rescale Intercept*, (0028,1053) *Rescale
Slope*, or (0028,3000) *Modality LUT Sequence*), before any VOI: HU on a CT.
From the histogram of the stored values inside the ROI, each distinct stored
value passed once through pydicom's ``apply_modality_lut``, so a non-linear
LUT is exact and the pixels are read twice (copied out, then counted), never
converted one by one. The viewport measures through
:class:`~viewer.core.measure.roi_tracker.RoiTracker`, which reads the same
statistics from sums per tile of the frame, made once. The standard
deviation is the **population** one (divided by the pixel count, numpy's
``std(ddof=0)``). Colour images are refused with a message: their pixels
have no modality values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.lut_data import modality_values
from viewer.core.measure.geometry import ELLIPSE, RECTANGLE, ROI_TOOLS, Shape

#: A polygon's crossing this close to a pixel centre (in pixels) is taken to pass through it.
_ON_CENTRE = 1e-9
#: Values per bincount call: the intp copy bincount makes (512 KB) stays in cache.
_CHUNK = 1 << 16
#: Runs shorter than this on average are gathered with one index array rather than copied slice by slice.
_SHORT_RUNS = 64


@dataclass(frozen=True)
class Runs:
    """The pixels of a mask as runs: ``rows[i]``, columns ``starts[i]`` to ``ends[i] - 1``."""

    rows: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @property
    def count(self) -> int:
        return int((self.ends - self.starts).sum())

    def mask(self, shape: tuple[int, int]) -> np.ndarray:
        """A boolean image of `shape` (rows, columns), True inside."""
        out = np.zeros(shape, dtype=bool)
        for row, start, end in zip(self.rows.tolist(), self.starts.tolist(), self.ends.tolist()):
            out[row, start:end] = True
        return out

    def values(self, image: np.ndarray) -> np.ndarray:
        """The pixels of `image` (rows, columns) inside, row by row, left to right (one flat copy)."""
        lengths = self.ends - self.starts
        if lengths.size and lengths.sum() < _SHORT_RUNS * lengths.size:
            # Many short runs (an outline's band): one gather; a slice per run would cost more than its pixels.
            first = np.cumsum(lengths) - lengths
            columns = np.repeat(self.starts - first, lengths) + np.arange(int(lengths.sum()))
            return image[np.repeat(self.rows, lengths), columns]
        out = np.empty(self.count, dtype=image.dtype)
        at = 0
        for row, start, end in zip(self.rows.tolist(), self.starts.tolist(), self.ends.tolist()):
            out[at : at + end - start] = image[row, start:end]
            at += end - start
        return out


def _runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, columns: int) -> Runs:
    starts, ends = np.clip(starts, 0, columns), np.clip(ends, 0, columns)
    keep = ends > starts
    return Runs(rows[keep].astype(np.intp), starts[keep].astype(np.intp), ends[keep].astype(np.intp))


def _row_range(low: float, high: float, rows: int) -> np.ndarray:
    return np.arange(max(math.ceil(low), 0), min(math.floor(high), rows - 1) + 1, dtype=np.intp)


def _ellipse_runs(shape: Shape, rows: int, columns: int) -> Runs:
    x0, y0, x1, y1 = shape.box()
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    if rx <= 0 or ry <= 0:
        return _runs(np.empty(0, np.intp), np.empty(0, np.intp), np.empty(0, np.intp), columns)
    r = _row_range(cy - ry, cy + ry, rows)
    row_term = ((r - cy) / ry) ** 2

    def inside(c: np.ndarray) -> np.ndarray:
        return ((c - cx) / rx) ** 2 + row_term <= 1.0

    half = rx * np.sqrt(np.clip(1.0 - row_term, 0.0, None))
    first = np.ceil(cx - half)
    last = np.floor(cx + half)
    # The solved ends may be one column off by rounding: the inequality decides.
    first = np.where(inside(first - 1), first - 1, np.where(inside(first), first, first + 1))
    last = np.where(inside(last + 1), last + 1, np.where(inside(last), last, last - 1))
    keep = inside(first) & (last >= first)
    return _runs(r[keep], first[keep].astype(np.intp), last[keep].astype(np.intp) + 1, columns)


def _rectangle_runs(shape: Shape, rows: int, columns: int) -> Runs:
    x0, y0, x1, y1 = shape.box()
    r = _row_range(y0, y1, rows)
    first, end = math.ceil(x0), math.floor(x1) + 1
    return _runs(r, np.full(r.shape, first, np.intp), np.full(r.shape, end, np.intp), columns)


def _crossing_runs(x0, y0, x1, y1, r: np.ndarray, upper_closed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Even-odd runs of rows `r` (a column), each edge crossing row r when r is in [lower end, upper end), or (lower, upper]."""
    low, high = np.minimum(y0, y1), np.maximum(y0, y1)
    crosses = (low < r) & (r <= high) if upper_closed else (low <= r) & (r < high)  # horizontal edges never cross
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(crosses, x0 + (r - y0) * (x1 - x0) / (y1 - y0), np.inf)
        # A crossing computed a rounding error away from a centre is on it (the outline through the centre counts).
        nearest = np.round(x)
        x = np.where(np.abs(x - nearest) <= _ON_CENTRE, nearest, x)
    x.sort(axis=1)
    counts = crosses.sum(axis=1)
    rows, starts, ends = [], [], []
    for k in range(counts.max(initial=0) // 2):
        has = 2 * k + 1 < counts
        rows.append(r[has, 0].astype(np.intp))
        starts.append(np.ceil(x[has, 2 * k]).astype(np.intp))
        ends.append(np.floor(x[has, 2 * k + 1]).astype(np.intp) + 1)
    empty = [np.empty(0, np.intp)]
    return np.concatenate(rows or empty), np.concatenate(starts or empty), np.concatenate(ends or empty)


def _merged(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, columns: int) -> Runs:
    """Overlapping or touching runs of a row made one."""
    keep = ends > starts
    rows, starts, ends = rows[keep], starts[keep], ends[keep]
    if rows.size == 0:
        return _runs(rows, starts, ends, columns)
    order = np.lexsort((starts, rows))
    rows, starts, ends = rows[order], starts[order], ends[order]
    # The furthest end so far within each row: rows ascend, so offsetting ends by row keeps rows apart in one accumulate.
    stride = np.int64(abs(int(ends.max())) + abs(int(starts.min())) + 2)
    reach = np.maximum.accumulate(rows.astype(np.int64) * stride + ends) - rows.astype(np.int64) * stride
    begins = np.ones(rows.size, dtype=bool)
    begins[1:] = (rows[1:] != rows[:-1]) | (starts[1:] > reach[:-1])
    first = np.flatnonzero(begins)
    last = np.append(first[1:], rows.size) - 1
    return _runs(rows[first], starts[first], reach[last], columns)


def _polygon_runs(shape: Shape, rows: int, columns: int) -> Runs:
    vertices = np.asarray(shape.points, dtype=np.float64)
    x0, y0 = vertices[:, 0], vertices[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    r = _row_range(y0.min(), y0.max(), rows).astype(np.float64)[:, None]  # rows x edges below
    # A row through a vertex or along a horizontal edge is read as the row just below it ([low, high)) and as the
    # row just above it ((low, high]); the union counts every centre inside the polygon or on its outline.
    below = _crossing_runs(x0, y0, x1, y1, r, upper_closed=False)
    above = _crossing_runs(x0, y0, x1, y1, r, upper_closed=True)
    return _merged(*(np.concatenate(pair) for pair in zip(below, above)), columns)


def roi_runs(shape: Shape, image_shape: tuple[int, int]) -> Runs:
    """The pixels of an image of `image_shape` (rows, columns) whose centres are inside `shape` (the module's rule)."""
    rows, columns = int(image_shape[0]), int(image_shape[1])
    if shape.tool == ELLIPSE:
        return _ellipse_runs(shape, rows, columns)
    if shape.tool == RECTANGLE:
        return _rectangle_runs(shape, rows, columns)
    if shape.tool in ROI_TOOLS:
        return _polygon_runs(shape, rows, columns)
    raise ValueError(f"a {shape.tool} holds no pixels")


def roi_mask(shape: Shape, image_shape: tuple[int, int]) -> np.ndarray:
    """:func:`roi_runs` as a boolean image."""
    return roi_runs(shape, image_shape).mask(image_shape)


@dataclass(frozen=True)
class Statistics:
    """Modality values inside an ROI: mean, population SD, min, max (None when no pixel counts) and the pixel count."""

    mean: float | None
    sd: float | None
    min: float | None
    max: float | None
    count: int


def refuse_colour(stored: np.ndarray, ctx: Dataset) -> None:
    """ViewerError for a colour frame: its pixels have no modality values to measure."""
    photometric = str(ctx.get("PhotometricInterpretation", "") or "").strip().upper()
    if stored.ndim != 2 or photometric not in ("", "MONOCHROME1", "MONOCHROME2"):
        raise ViewerError(f"pixel values are measured on greyscale images only; this one is {photometric or 'colour'}")


def stored_histogram(values: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """How many of `values` (integers from lo to hi) hold each value lo..hi: int64, hi - lo + 1 entries.

    In chunks: ``bincount`` copies its input to intp, and a chunk's copy (and
    its shift to start at 0, for signed values) stays in the processor's cache.
    """
    size = hi - lo + 1
    counts = np.zeros(size, dtype=np.int64)
    unsigned_from_zero = values.dtype.kind == "u"
    for at in range(0, values.size, _CHUNK):
        chunk = values[at : at + _CHUNK]
        if unsigned_from_zero:
            counts += np.bincount(chunk, minlength=hi + 1)[lo:]
        else:
            counts += np.bincount(np.subtract(chunk, lo, dtype=np.intp), minlength=size)
    return counts


def histogram_statistics(counts: np.ndarray, modality: np.ndarray) -> Statistics:
    """Statistics of pixels holding `modality[i]` `counts[i]` times (counts > 0); population SD."""
    weights = counts.astype(np.float64)
    total = float(weights.sum())
    if total == 0:
        return Statistics(None, None, None, None, 0)
    mean = float((weights * modality).sum() / total)
    variance = float((weights * (modality - mean) ** 2).sum() / total)
    return Statistics(mean, math.sqrt(variance), float(modality.min()), float(modality.max()), int(total))


def value_statistics(values: np.ndarray, ctx: Dataset) -> Statistics:
    """Statistics of stored `values` (one flat array) after the Modality LUT of `ctx`; population SD.

    Integer values spanning at most 2^16 go through a histogram (each
    distinct value looked up once); others are converted one by one.
    """
    if values.size == 0:
        return Statistics(None, None, None, None, 0)
    if values.dtype.kind in "iu":
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < 1 << 16:
            counts = stored_histogram(values, lo, hi)
            present = np.flatnonzero(counts)
            return histogram_statistics(counts[present], np.asarray(modality_values(present + lo, ctx), dtype=np.float64))
    modality = np.asarray(modality_values(values, ctx), dtype=np.float64)
    return Statistics(float(modality.mean()), float(modality.std()), float(modality.min()), float(modality.max()), int(modality.size))


def roi_statistics(stored: np.ndarray, ctx: Dataset, shape: Shape) -> Statistics:
    """Statistics of the modality values of the pixels of `stored` (one frame) inside `shape` (the module's rule).

    `ctx` is the frame's context (:func:`~viewer.core.display.pixels.pipeline.frame_context`).
    ViewerError for a colour frame.
    """
    refuse_colour(stored, ctx)
    return value_statistics(roi_runs(shape, stored.shape).values(stored), ctx)


def changed_runs(old: Runs, new: Runs) -> tuple[Runs, Runs]:
    """The pixels in `new` and not in `old` (added), and in `old` and not in `new` (removed), as runs.

    Each run's start and end is an event on its row (+1 and -1 for `new`,
    -1 and +1 for `old`); sorted along the row, their running sum is how much
    more `new` covers than `old` between two events: 1 added, -1 removed, 0
    unchanged. The runs within `old` or `new` must not overlap (as
    :func:`roi_runs` gives them).
    """
    rows = np.concatenate([new.rows, new.rows, old.rows, old.rows])
    columns = np.concatenate([new.starts, new.ends, old.starts, old.ends])
    n, m = new.rows.size, old.rows.size
    weights = np.concatenate([np.ones(n, np.int8), -np.ones(n, np.int8), -np.ones(m, np.int8), np.ones(m, np.int8)])
    order = np.lexsort((columns, rows))
    rows, columns, level = rows[order], columns[order], np.cumsum(weights[order], dtype=np.int64)
    between = (rows[:-1] == rows[1:]) & (columns[1:] > columns[:-1])
    added, removed = between & (level[:-1] > 0), between & (level[:-1] < 0)
    return (
        Runs(rows[:-1][added], columns[:-1][added], columns[1:][added]),
        Runs(rows[:-1][removed], columns[:-1][removed], columns[1:][removed]),
    )
