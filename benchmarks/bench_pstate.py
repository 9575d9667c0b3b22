"""What a presentation state's graphics cost a window/level step (#16: at most 1 ms more).

The step is bench_window.py's: ``ImagePane.set_display`` with a new window, then a synchronous
``viewport().repaint()`` of a 1024x1024 view, on pydicom's 693_UNCI.dcm (512x512 CT), fitted.
Measured in the same run, in alternating blocks of 10 steps so that drift of the machine hits both alike,
as the thread's CPU time (``time.thread_time_ns``: Qt paints offscreen on this thread; helpers sharing the
two cores make wall-clock figures swing by several ms) and, for reference, wall-clock time:

* plain: the image alone;
* with a state: the items :mod:`viewer.ui.viewport.presentation_layer` makes for a busy state — a
  rectangular, circular and polygonal shutter (one path item), 40 polylines and 10 ellipses of
  a layer, 10 text objects — under the image's parent item turned 90 degrees and flipped.

Then what a state costs each new image shown: the viewport shows a frame through the state's Modality LUT
(:class:`~viewer.core.documents.presentation_render.StateFrame`, built once per image and state), so a step to
an image costs preparing that frame and its first table on top of the frame's own, measured against the
frame's own preparation and first table (``FrameDisplay`` then ``render_packed``) in alternating blocks.

Run: ``.venv/bin/python benchmarks/bench_pstate.py [--blocks N]`` (prints a Markdown table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "core"))
from benchmarks._common import Summary, ensure_offscreen, load_average, machine_description

ensure_offscreen()

import pydicom  # noqa: E402
from pstate_files import annotation, graphic, make_state, text  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from benchmarks.bench_window import ct_frame, make_pane, window_steps  # noqa: E402
from viewer.core.display.pixels.pipeline import FrameDisplay  # noqa: E402
from viewer.core.documents.presentation_render import state_frame, state_geometry  # noqa: E402
from viewer.core.documents.presentation_state import read_presentation_state  # noqa: E402
from viewer.ui.viewport.presentation_layer import graphic_items, image_transform, shutter_items  # noqa: E402


def busy_state(header):
    shapes = [graphic("PIXEL", "POLYLINE", [(10 + i, 20 + 5 * i), (200 + i, 40 + 5 * i), (300, 300 - i)]) for i in range(40)]
    shapes += [
        graphic("PIXEL", "ELLIPSE", [(100, 50 + 20 * i), (160, 50 + 20 * i), (130, 40 + 20 * i), (130, 60 + 20 * i)]) for i in range(10)
    ]
    texts = [text(f"label {i}: 12.3 mm", box=(20, 30 * i + 5, 200, 30 * i + 25)) for i in range(10)]
    ds = make_state(
        header,
        rotation=90,
        flip=True,
        rectangle=(10, 500, 10, 500),
        circle=(256, 256, 240),
        polygon=[(5, 256), (256, 507), (507, 256), (256, 5)],
        annotations=[annotation(shapes, texts)],
        layer_colour=[34733, 53199, 50050],
    )
    return read_presentation_state(ds)


def run(blocks: int = 40) -> dict[str, dict[str, list[int]]]:
    """Durations (ns) per case ("plain", "turned", "state") and clock ("cpu", "wall"), in alternating blocks."""
    app = QApplication.instance() or QApplication([])
    frame = ct_frame()
    pane = make_pane(app)
    voi = frame.default_voi()
    pane.show_frame(frame, voi, False, fit=True)
    app.processEvents()
    header = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False), stop_before_pixels=True)
    state = busy_state(header)
    rows, columns = frame.shape
    uid = str(header.SOPInstanceUID)
    geometry = state_geometry(state, rows, columns, uid)
    windows = window_steps(voi, 20)
    viewport = pane.view.viewport()
    to_view = image_transform(state, rows, columns)
    results: dict[str, dict[str, list[int]]] = {name: {"cpu": [], "wall": []} for name in CASES}
    items: list = []
    for _block in range(blocks):
        for name in CASES:
            for item in items:
                pane.view_box.removeItem(item)
            items = []
            pane.set_image_transform(None)
            if name != "plain":
                pane.set_image_transform(to_view)
            if name == "state":
                items = shutter_items(state, rows, columns, to_view) + graphic_items(state, geometry, uid, 1, to_view)
                for item in items:
                    pane.view_box.addItem(item, ignoreBounds=True)
            app.processEvents()
            for k in range(13):
                cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
                pane.set_display(windows[k], False)
                viewport.repaint()
                if k >= 3:  # the first steps after a change fill caches
                    results[name]["cpu"].append(time.thread_time_ns() - cpu)
                    results[name]["wall"].append(time.perf_counter_ns() - wall)
    pane.close()
    return results


#: The image alone; turned and flipped only; with everything.
CASES = ("plain", "turned", "state")


def markdown(results: dict[str, dict[str, list[int]]]) -> str:
    lines = [
        "## Presentation state graphics on a window/level step, CT 512x512 fitted in a 1024x1024 view (ms)",
        "",
        "Goal (issue #16): overlays and presentation-state graphics add at most 1 ms to a window/level step. Baseline: the "
        "same step on the image alone, in alternating blocks of 10 steps, same run. The state: a rectangular, circular and "
        "polygonal shutter, 40 polylines, 10 ellipses and 10 texts, the image turned 90 degrees and flipped.",
        "",
        f"Load average at the end of the run (1, 5, 15 min): {load_average()}.",
        "",
        "| clock | case | n | p50 | p95 | added p50 | added p95 |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    names = {"plain": "baseline: the image alone", "turned": "turned 90 degrees and flipped", "state": "**with the state**"}
    for clock in ("cpu", "wall"):
        base = Summary.of_ns(results["plain"][clock])
        for name in CASES:
            s = Summary.of_ns(results[name][clock])
            added = "- | -" if name == "plain" else f"{s.p50 - base.p50:+.2f} | {s.p95 - base.p95:+.2f}"
            label = "GUI thread CPU" if clock == "cpu" else "wall clock"
            lines.append(f"| {label} | {names[name]} | {s.n} | {s.p50:.2f} | {s.p95:.2f} | {added} |")
    return "\n".join(lines) + "\n"


def preparation(blocks: int) -> str:
    """A new image shown: the frame's own preparation and first table, against the same through a state with a window."""
    frame = ct_frame()
    header = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False), stop_before_pixels=True)
    state, uid = read_presentation_state(make_state(header, window=(40, 400))), str(header.SOPInstanceUID)
    voi = frame.default_voi()
    own, through = [], []
    for _block in range(blocks):
        for _ in range(10):
            cpu = time.thread_time_ns()
            FrameDisplay(frame.stored, frame.ctx).render_packed(voi)
            own.append(time.thread_time_ns() - cpu)
        for _ in range(10):
            cpu = time.thread_time_ns()
            shown, state_voi, _invert = state_frame(frame.stored, frame.ctx, state, uid)
            shown.render_packed(state_voi)
            through.append(time.thread_time_ns() - cpu)
    a, b = Summary.of_ns(own), Summary.of_ns(through)
    return (
        f"[cpu] new image, its own LUTs:       p50 {a.p50:.3f} ms  p95 {a.p95:.3f} ms  (n={a.n})\n"
        f"[cpu] new image, through the state:  p50 {b.p50:.3f} ms  p95 {b.p95:.3f} ms  (ratio {b.p50 / a.p50:.2f} at p50)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=40, help="blocks of 10 steps for each case")
    args = parser.parse_args()
    print(markdown(run(args.blocks)))
    print(preparation(args.blocks))
    print(f"machine: {machine_description()}")


if __name__ == "__main__":
    main()
