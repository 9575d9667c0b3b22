"""Linked scroll of four viewports: one step, all four repainted.

Data: four axial series of one frame of reference made from pydicom's
693_UNCI.dcm (real CT, 512x512, signed 16-bit, uncompressed), slices 3 mm,
2 mm, 1.5 mm and 1 mm apart over the same 60 mm (21, 31, 41 and 61
slices), each slice's rows rolled by its number so that every image
differs; generated once into ``/tmp/dicom-viewer-bench/linking-v1`` (about
80 MB; ``DICOM_VIEWER_BENCH_DATA`` moves it).

Four :class:`~viewer.ui.viewport.viewport.Viewport` widgets in a 2x2 grid of 1200x960
screen pixels (about the image area of a 1600x1000 window), one frame
source for all, linked by a :class:`~viewer.ui.viewport.linking.LinkController`
(reference lines on, as by default). The 3 mm series is active: each of
its steps moves every other viewport (by 3, 2 and 1 or 2 images), so each
step repaints all four; a paint counter on each view checks it.

A **step** = ``Viewport.step(+-1)`` on the active viewport (linking moves the
other three, each asks for its frame, renders it and updates its corner
text) then ``processEvents()``, which paints every view marked dirty, as the
event loop would. The series is first scrolled through once so that every
frame is decoded and cached: what scrolling a loaded series costs. Goal
(issue #14): p95 under 16 ms.

Baselines in the same run: **one viewport**: the same step with linking
switched off (one viewport moves and repaints); **four by hand**: the four
viewports moved to the same images by direct ``go_to`` calls, no controller
(so the difference to the linked step is what linking costs).

Each figure is given with the main (GUI) thread's CPU time of the same
steps (``time.thread_time_ns``): on a machine shared with other work the
wall-clock time also holds waits for a core and for the interpreter lock
(the viewports' prefetch threads), the CPU time only the work itself.

Run: ``.venv/bin/python benchmarks/bench_linking.py [--steps 200]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import _browser_data as data
from benchmarks._common import Summary, ensure_offscreen

ensure_offscreen()

#: Slice spacings (mm) of the four series, the active one first, and the length they cover.
SPACINGS = (3.0, 2.0, 1.5, 1.0)
COVERED_MM = 60.0
GRID_SIZE = (1200, 960)


def series_tree() -> Path:
    """The folder of the four series (made on first use)."""
    root = data.ROOT / "linking-v1"
    stamp = root.with_name(root.name + ".complete")
    if stamp.exists():
        return root
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(root, ignore_errors=True)
    template = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False))
    pixels = template.pixel_array
    for element in template:
        _ = element.value
    template.StudyInstanceUID = generate_uid()
    template.FrameOfReferenceUID = generate_uid()
    origin = [float(v) for v in template.ImagePositionPatient]
    for number, spacing in enumerate(SPACINGS, start=1):
        folder = root / f"SE{number:04d}"
        folder.mkdir(parents=True)
        template.SeriesInstanceUID = generate_uid()
        template.SeriesNumber = number
        template.SeriesDescription = f"bench linking {spacing:g} mm"
        template.SliceThickness = f"{spacing:g}"
        for i in range(int(round(COVERED_MM / spacing)) + 1):
            template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            template.InstanceNumber = i + 1
            z = origin[2] - spacing * i
            template.ImagePositionPatient = [f"{origin[0]:.3f}", f"{origin[1]:.3f}", f"{z:.3f}"]
            template.SliceLocation = f"{z:.3f}"
            template.PixelData = np.roll(pixels, i * number, axis=0).tobytes()
            template.save_as(folder / f"IM{i + 1:04d}.dcm")
    stamp.touch()
    return root


@dataclass
class LinkingResult:
    linked: Summary  # one step of the active viewport, the three others following
    linked_cpu: Summary  # the same steps' CPU time on the GUI thread
    moving: Summary  # of which Viewport.step (the four move, render and set their text)
    painting: Summary  # and processEvents (the views paint)
    one: Summary  # one step, linking off: one viewport repainted
    one_cpu: Summary
    by_hand: Summary  # the four moved by go_to, no controller
    by_hand_cpu: Summary
    viewport_size: tuple[int, int]
    slices: tuple[int, ...]
    paints: tuple[int, ...]  # paint events per view during the linked steps
    steps: int


def timed(action, n: int, cpu: list[int] | None = None) -> list[int]:
    """Wall-clock durations (ns) of action(0..n-1); with `cpu`, the main thread's CPU time of each appended to it."""
    gc.collect()
    durations = []
    for k in range(n):
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        action(k)
        durations.append(time.perf_counter_ns() - t0)
        if cpu is not None:
            cpu.append(time.thread_time_ns() - c0)
    return durations


def ping_pong(count: int, n: int) -> list[int]:
    """n steps of +1/-1 going back and forth between the first and last image (a scroll through the stack)."""
    deltas, position, direction = [], 0, 1
    for _ in range(n):
        if not 0 <= position + direction < count:
            direction = -direction
        deltas.append(direction)
        position += direction
    return deltas


def run(steps: int = 200, log=lambda text: None) -> LinkingResult:
    from PySide6.QtWidgets import QApplication, QGridLayout, QWidget

    from benchmarks.bench_window import PaintCounter
    from viewer.core.dicom.charset import CharsetOverrides
    from viewer.core.display.frames import FrameSource
    from viewer.core.media.sources import open_paths
    from viewer.ui.viewport.linking import LinkController
    from viewer.ui.viewport.viewport import Viewport
    from viewer.ui.window.workers import BackgroundRunner

    app = QApplication.instance() or QApplication(sys.argv[:1])
    log("linking: four series of 693_UNCI (made once)")
    root = series_tree()
    found = open_paths([root]).catalog.all_series()
    by_spacing = sorted(found, key=lambda series: -float(series.header.SliceThickness))  # the 3 mm series first
    runner = BackgroundRunner()
    source = FrameSource(max_bytes=1 << 30)
    holder = QWidget()
    grid = QGridLayout(holder)
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setSpacing(0)
    viewports = [Viewport(source, runner, CharsetOverrides()) for _ in by_spacing]
    for k, viewport in enumerate(viewports):
        grid.addWidget(viewport, k // 2, k % 2)
        _ = viewport.pane.view  # the pyqtgraph view now, not after the first paint
    holder.resize(*GRID_SIZE)
    holder.show()
    app.processEvents()
    for viewport, series in zip(viewports, by_spacing):
        viewport.show_series(series)
    deadline = time.monotonic() + 60
    while any(viewport.frame is None for viewport in viewports) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    active = viewports[0]
    controller = LinkController(viewports, lambda: active)
    count = len(active.images)
    # Every image of every series decoded and cached: scroll each through once.
    for viewport in viewports:
        for index in range(len(viewport.images)):
            viewport.go_to(index)
            app.processEvents()
    active.go_to(0)
    controller.follow(active)
    app.processEvents()
    deltas = ping_pong(count, steps + 10)

    shown: list[list[int]] = []  # the image of each viewport after each step, replayed by hand below

    moving, painting = [], []  # the linked step's GUI-thread CPU time: moving the viewports, then painting

    def linked_step(k: int) -> None:
        c0 = time.thread_time_ns()
        active.step(deltas[k])
        c1 = time.thread_time_ns()
        app.processEvents()
        moving.append(c1 - c0)
        painting.append(time.thread_time_ns() - c1)
        shown.append([viewport.display.state.index for viewport in viewports])

    for k in range(10):
        linked_step(k)
    counters = [PaintCounter(viewport.pane.view.viewport()) for viewport in viewports]
    linked_cpu: list[int] = []
    linked = timed(lambda k: linked_step(k + 10), steps, linked_cpu)
    paints = tuple(counter.count for counter in counters)
    moving, painting = moving[10:], painting[10:]
    if min(paints) < steps:
        raise RuntimeError(f"linked step: paint events per view {paints} for {steps} steps")

    controller.set_scroll_linked(False)

    def by_hand_step(k: int) -> None:
        for viewport, index in zip(viewports, shown[k]):
            viewport.go_to(index)
        app.processEvents()

    by_hand_cpu: list[int] = []
    by_hand = timed(by_hand_step, steps, by_hand_cpu)

    def one_step(k: int) -> None:
        active.step(deltas[k])
        app.processEvents()

    for k in range(10):
        one_step(k)
    one_cpu: list[int] = []
    one = timed(lambda k: one_step(k + 10), steps, one_cpu)
    size = active.pane.view.viewport().size()
    result = LinkingResult(
        Summary.of_ns(linked),
        Summary.of_ns(linked_cpu),
        Summary.of_ns(moving),
        Summary.of_ns(painting),
        Summary.of_ns(one),
        Summary.of_ns(one_cpu),
        Summary.of_ns(by_hand),
        Summary.of_ns(by_hand_cpu),
        (size.width(), size.height()),
        tuple(len(viewport.images) for viewport in viewports),
        paints,
        steps,
    )
    for viewport in viewports:
        viewport.stop_prefetch()
    holder.close()
    holder.deleteLater()
    runner.shutdown()
    app.processEvents()
    return result


def markdown(result: LinkingResult) -> str:
    slices = ", ".join(f"{count} ({spacing:g} mm)" for count, spacing in zip(result.slices, SPACINGS))
    lines = [
        f"## Linked scroll of four viewports (ms, {result.steps} steps)",
        "",
        f"Goal (issue #14): one step, all four repainted, p95 < 16 ms. 2x2 grid of {GRID_SIZE[0]}x{GRID_SIZE[1]}, each view "
        f"{result.viewport_size[0]}x{result.viewport_size[1]}; CT 512x512 series of {slices} slices, the 3 mm one active; "
        f"paint events per view during the linked steps: {', '.join(map(str, result.paints))}.",
        "",
        "| case | p50 | p95 | max | p95 / one viewport p95 | GUI-thread CPU p50 | CPU p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, summary, cpu in (
        ("linked step: active steps, three follow, four repainted", result.linked, result.linked_cpu),
        ("four by hand: go_to on each, no controller, four repainted", result.by_hand, result.by_hand_cpu),
        ("one viewport: linking off, one repainted (baseline)", result.one, result.one_cpu),
    ):
        lines.append(
            f"| {name} | {summary.p50:.2f} | **{summary.p95:.2f}** | {summary.max:.2f} | {summary.p95 / result.one.p95:.1f}x "
            f"| {cpu.p50:.2f} | {cpu.p95:.2f} |"
        )
    lines.append(
        f"\nOf the linked step's GUI-thread CPU time: moving the four (step, linking, rendering, corner text) p50 "
        f"{result.moving.p50:.2f} / p95 {result.moving.p95:.2f}; painting (processEvents) p50 {result.painting.p50:.2f} / "
        f"p95 {result.painting.p95:.2f}."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    print(markdown(run(args.steps, log=lambda text: print(text, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
