"""ROI statistics of an ellipse covering most of a 4096x5120 image (issue #15: under 20 ms), and a 512x512 CT.

Image: the 4096-column x 5120-row 12-bit MONOCHROME1 mammogram stand-in of
``bench_window.py`` (pydicom's RG1_UNCI.dcm resampled and rescaled, decoded
by the viewer's decoder; no file written), and pydicom's 693_UNCI.dcm (a
real 512x512 CT in HU).

Measured, each step with an ellipse moved by a fraction of a pixel (as while
a handle is dragged), centred, semi-axes 48% of the width and height (about
74% of the image's pixels, 15.4 million):

1. **roi_statistics**: ``roi_statistics(stored, ctx, ellipse)``, what the
   ``measure`` command and the viewport call: the rasteriser's runs, the
   pixels inside copied out, their histogram, the Modality LUT on each
   distinct value, mean, population SD, min, max, count;
2. its parts: ``roi_runs`` (the rasteriser) and ``Runs.values`` (the copy);
   and **RoiTracker.statistics** while a handle is dragged (the ellipse's
   right edge moving 0.37 pixel a step): the viewport's path, counting only
   the pixels gained or lost since the last step, same results; a new
   ellipse on a frame whose tracker exists (counted as the frame's histogram
   less the pixels outside, 26% of them); building the tracker (once per frame);
3. **baseline, numpy**: ``stored[mask].mean()`` with the boolean mask made
   beforehand (a plain masked mean of the stored values, no modality LUT,
   no SD/min/max), and ``stored[mask]`` with mean, std, min and max in
   float64 (what the same statistics cost done plainly).

Run: ``.venv/bin/python benchmarks/bench_measure.py [--steps 30]``. The
machine is shared: p50 and p95 are given; compare ratios to the baseline.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Summary

GOAL_MS = 20.0


@dataclass(frozen=True)
class Row:
    image: str
    what: str
    summary: Summary


def _timed(action, steps: int, warmup: int = 2) -> Summary:
    for k in range(warmup):
        action(k)
    durations = []
    gc.disable()
    try:
        for k in range(steps):
            start = time.perf_counter_ns()
            action(k)
            durations.append(time.perf_counter_ns() - start)
    finally:
        gc.enable()
    return Summary.of_ns(durations)


def _ellipse_cases(name: str, stored: np.ndarray, ctx, steps: int) -> list[Row]:
    from viewer.core.measure.geometry import Shape
    from viewer.core.measure.roi import RoiTracker, roi_runs, roi_statistics

    rows, columns = stored.shape

    def ellipse(k: int) -> Shape:
        return Shape.ellipse((columns - 1) / 2 + 0.37 * (k % 7), (rows - 1) / 2 - 0.29 * (k % 5), 0.48 * columns, 0.48 * rows)

    mask = roi_runs(ellipse(0), stored.shape).mask(stored.shape)
    runs = roi_runs(ellipse(0), stored.shape)
    tracker = RoiTracker(stored, ctx)

    def drag(k: int) -> None:  # a handle dragged: the right edge moves 0.37 pixel per step, the tracker counts the change
        cx, cy = (columns - 1) / 2, (rows - 1) / 2
        tracker.statistics(Shape.ellipse(cx + 0.185 * (k % 40), cy, 0.48 * columns + 0.185 * (k % 40), 0.48 * rows))

    def new_roi(k: int) -> None:  # a new ellipse each step on a frame already tracked: counted afresh
        fresh = RoiTracker.__new__(RoiTracker)
        fresh.__dict__.update(tracker.__dict__)
        fresh._runs = fresh._counts = None
        fresh.statistics(ellipse(k))

    out = [
        Row(name, "RoiTracker(stored, ctx): once per frame (min, max, frame histogram)", _timed(lambda k: RoiTracker(stored, ctx), steps)),
        Row(name, "RoiTracker.statistics, a new ellipse (frame histogram less the outside)", _timed(new_roi, steps)),
        Row(name, "RoiTracker.statistics, a handle dragged (same numbers, only the change counted)", _timed(drag, steps * 3)),
        Row(
            name,
            "roi_statistics (runs + copy + histogram + Modality LUT + stats)",
            _timed(lambda k: roi_statistics(stored, ctx, ellipse(k)), steps),
        ),
        Row(name, "  part: roi_runs (the rasteriser)", _timed(lambda k: roi_runs(ellipse(k), stored.shape), steps)),
        Row(name, "  part: Runs.values (copy of the pixels inside)", _timed(lambda k: runs.values(stored), steps)),
        Row(name, "baseline: stored[mask].mean() (mask made beforehand)", _timed(lambda k: stored[mask].mean(), steps)),
        Row(name, "baseline: stored[mask] -> float64 mean, std, min, max", _timed(lambda k: _plain_stats(stored[mask]), steps)),
    ]
    print(f"{name}: {int(mask.sum()):,} of {stored.size:,} pixels inside", file=sys.stderr)
    return out


def _plain_stats(values: np.ndarray) -> tuple:
    values = values.astype(np.float64)
    return values.mean(), values.std(), values.min(), values.max()


def run(steps: int = 30, log=None) -> list[Row]:
    import pydicom
    from pydicom.data import get_testdata_file

    from benchmarks.bench_window import mammogram_dataset
    from viewer.core.display.pixels.decoders import decode_frame
    from viewer.core.display.pixels.pipeline import frame_context

    if log:
        log("measure: ROI statistics on the 4096x5120 stand-in and a 512x512 CT")
    ds = mammogram_dataset()
    rows = _ellipse_cases("MG stand-in 4096x5120", decode_frame(ds, 0), frame_context(ds, 0), steps)
    ct = pydicom.dcmread(Path(get_testdata_file("693_UNCI.dcm", download=False)))
    rows += _ellipse_cases("CT 512x512 (HU)", ct.pixel_array, ct, steps * 10)
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        "## Measurements: ROI statistics of an ellipse over ~74% of the image (ms)",
        "",
        f"Goal (issue #15): under {GOAL_MS:.0f} ms for a 4096x5120 image. Baselines: plain numpy on the same pixels, same run.",
        "",
        "| image | what | n | p50 | p95 | max |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row.summary
        lines.append(f"| {row.image} | {row.what} | {s.n} | {s.p50:.2f} | {s.p95:.2f} | {s.max:.2f} |")
    return "\n".join(lines) + "\n"


NOTES = """\
* **Measurements** (bench_measure.py): `roi_statistics` is what `dicom-viewer measure --ellipse` and the viewport call;
  the numpy baselines get the boolean mask for free (made before timing) and compute less (no Modality LUT).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="steps per case on the large image (default 30; 10x on the CT)")
    args = parser.parse_args(argv)
    print(markdown(run(args.steps, log=lambda text: print(text, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
