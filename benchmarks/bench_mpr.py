"""MPR on a 512x512x500 CT: building the volume, plane updates, 20 mm MIP slabs.

Data: 500 slices of pydicom-data's 693_UNCI.dcm (real CT, 512x512, signed
16-bit, uncompressed, rescale intercept -1024), 1 mm apart along z, each
slice's rows rolled by its number so coronal and sagittal planes are not
uniform, generated once into ``/tmp/dicom-viewer-bench/ct500-mpr-v1``
(about 263 MB; ``DICOM_VIEWER_BENCH_DATA`` moves it).

Measured, files warm (just read):

1. **Volume build**: ``volume_from_files(files)`` (every header read with
   ``read_index_header``, the volume checked, pixels read and rescaled to
   HU in int16, on the patient's axes), in slices/s; baseline in the same
   run: the volume load already measured by ``bench_browser.py --only
   volume`` ("read_index_header + load_volume (together)": stored values,
   no geometry, no rescale) on the same 500 files. Goal: no slower.
2. **Plane update**: ``reformat(volume, plane, index)`` for a different
   index each step, scrolling through the plane, alone and followed by what a
   viewport does with it before painting (``FrameDisplay`` built on it and
   ``render_packed`` with a window: the pixels Qt draws). Goal (issue): p95
   under 20 ms for coronal and sagittal.
3. **20 mm MIP slab**: the same with ``slab_mm=20, mode='mip'``
   (20 slices axially, 42 coronally and sagittally at 0.48 mm). Goal: p95 under 40 ms.

Baseline for 2 and 3: ``voxels[k].copy()`` of one axial slice (512 KB, in
cache: the floor of any plane update).
4. **In the window** (``--only ui`` runs this part alone): the 500 slices
   opened in a ``MainWindow`` (1600x1000, docks hidden, offscreen), View > MPR
   (the volume built by the workspace itself, 1x3 layout), then per step
   ``MprWorkspace.go_to(plane, index)`` (reformat, ``FrameDisplay``,
   ``render_packed`` of the visible region, the image item set, crosshairs
   moved) followed by a synchronous ``repaint()`` of the plane's pane (and,
   in a second case, of all three panes, whose crosshairs moved): the whole
   plane update a user waits for. The same with a 20 mm MIP slab, and the slab
   itself changed (20 <-> 21 mm MIP: all three planes reformatted and
   painted). Goals as in 2 and 3. Run:
``.venv/bin/python benchmarks/bench_mpr.py [--steps 100] [--repeats 5]``. The machine is
shared: the median of the runs is compared, the best one shown beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import _browser_data as data
from benchmarks._common import Summary

SLICES = 500
PLANES = ("axial", "coronal", "sagittal")


def ct_volume_tree() -> Path:
    """The folder of 500 CT slices (made on first use, about 10 s)."""
    root = data.ROOT / "ct500-mpr-v1"
    stamp = root.with_name(root.name + ".complete")
    folder = root / "SE0001"
    if stamp.exists():
        return folder
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(root, ignore_errors=True)
    folder.mkdir(parents=True)
    template = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False))
    pixels = template.pixel_array
    for element in template:
        _ = element.value
    template.SeriesInstanceUID = generate_uid()
    template.StudyInstanceUID = generate_uid()
    template.FrameOfReferenceUID = generate_uid()
    template.SeriesDescription = "bench MPR 500 slices"
    template.SliceThickness = "1.0"
    origin = [float(v) for v in template.ImagePositionPatient]
    for i in range(SLICES):
        uid = generate_uid()
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = uid
        template.InstanceNumber = i + 1
        z = origin[2] - 1.0 * i
        template.ImagePositionPatient = [f"{origin[0]:.3f}", f"{origin[1]:.3f}", f"{z:.3f}"]
        template.SliceLocation = f"{z:.3f}"
        template.PixelData = np.roll(pixels, i, axis=0).tobytes()
        template.save_as(folder / f"IM{i + 1:04d}", enforce_file_format=True)
    stamp.write_text("ok\n")
    return folder


@dataclass
class MprResult:
    slices: int
    build: list[float] = field(default_factory=list)  # seconds per run
    baseline: list[float] = field(default_factory=list)
    planes: dict[str, Summary] = field(default_factory=dict)  # "coronal", "coronal + render", "coronal MIP 20 mm", ...
    copy: Summary | None = None
    checks: list[str] = field(default_factory=list)
    ui: dict[str, Summary] = field(default_factory=dict)  # "coronal step + paint", ... (the MPR workspace in a window)
    ui_cpu: dict[str, Summary] = field(default_factory=dict)  # the same steps in CPU time of the GUI thread
    ui_build: float | None = None  # seconds the workspace took from View > MPR to its planes on screen


def _timed(function, arguments) -> Summary:
    durations = []
    for argument in arguments:
        started = time.perf_counter_ns()
        function(argument)
        durations.append(time.perf_counter_ns() - started)
    return Summary.of_ns(durations)


def run(repeats: int = 5, steps: int = 100, log=lambda text: None) -> MprResult:
    from benchmarks.bench_browser import warm_up
    from viewer.core.dicom.header import read_index_header
    from viewer.core.display.mpr import reformat, reformat_display, slab_range, slice_count
    from viewer.core.display.pixels.native import load_volume
    from viewer.core.display.pixels.pipeline import Window
    from viewer.core.display.volume import volume_from_files

    folder = ct_volume_tree()
    files = data.files_below(folder)
    result = MprResult(len(files))
    warm_up(files)
    log(f"bench_mpr: building the volume of {len(files)} slices, {repeats} runs each, alternating with the baseline")
    volume = None
    for _ in range(repeats):
        started = time.perf_counter()
        stored = load_volume(files, [read_index_header(f) for f in files])
        result.baseline.append(time.perf_counter() - started)
        del stored
        volume = None
        started = time.perf_counter()
        volume = volume_from_files(files)
        result.build.append(time.perf_counter() - started)
    first = load_volume(files[:1], [read_index_header(files[0])])[0].astype(np.int32) - 1024
    lowest = volume.voxels[0].astype(np.int32)  # z grows upwards: the last file (lowest z) is slice 0
    last = load_volume(files[-1:], [read_index_header(files[-1])])[0].astype(np.int32) - 1024
    result.checks.append(
        f"volume {volume.voxels.shape} {volume.voxels.dtype}, spacing {tuple(round(s, 4) for s in volume.spacing)} mm; "
        f"slice 0 equals the lowest file in HU: {np.array_equal(lowest, last)}; the top slice the first file: "
        f"{np.array_equal(volume.voxels[-1].astype(np.int32), first)}"
    )
    window = Window(40.0, 400.0)
    result.copy = _timed(lambda k: volume.voxels[k].copy(), [i % SLICES for i in range(steps)])

    def render(image):
        return reformat_display(volume, image).render_packed(window)

    for plane in PLANES:
        count = slice_count(volume, plane)
        indices = [(count // 4 + 3 * i) % count for i in range(steps)]
        log(f"bench_mpr: {plane} plane, {steps} steps")
        result.planes[plane] = _timed(lambda k: reformat(volume, plane, k), indices)
        result.planes[f"{plane} + render"] = _timed(lambda k: render(reformat(volume, plane, k)[0]), indices)
        result.planes[f"{plane} MIP 20 mm"] = _timed(lambda k: reformat(volume, plane, k, 20.0, "mip"), indices)
        result.planes[f"{plane} MIP 20 mm + render"] = _timed(lambda k: render(reformat(volume, plane, k, 20.0, "mip")[0]), indices)
        result.checks.append(f"{plane}: {count} slices, a 20 mm slab takes {len(slab_range(volume, plane, count // 2, 20.0))}")
    return result


def _timed_ui(result: MprResult, name: str, function, arguments) -> None:
    """Wall time and the GUI thread's CPU time of each call: on a shared machine the second shows the work
    without the time spent waiting for a core (the machine's load varies within a run)."""
    wall, cpu = [], []
    for argument in arguments:
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        function(argument)
        cpu.append(time.thread_time_ns() - started_cpu)
        wall.append(time.perf_counter_ns() - started)
    result.ui[name], result.ui_cpu[name] = Summary.of_ns(wall), Summary.of_ns(cpu)


def run_ui(result: MprResult, steps: int = 100, log=lambda text: None) -> None:
    """The MPR workspace in a window (part 4 of the module's description); figures into `result.ui`."""
    from benchmarks._common import ensure_offscreen

    ensure_offscreen()
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from viewer.ui.window.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    folder = ct_volume_tree()
    window = MainWindow()
    window.resize(1600, 1000)
    for dock in (window.browser_dock, window.query_dock, window.pipeline_dock, window.inspector_dock):
        dock.hide()
    window.show()

    def wait_for(signal, timeout_ms: int = 120_000) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(timeout_ms, loop.quit)
        loop.exec()
        signal.disconnect(loop.quit)

    log(f"bench_mpr: opening {SLICES} slices in a window")
    window.open_paths([folder])
    wait_for(window.series_opened)
    app.processEvents()
    started = time.perf_counter()
    window.mpr.enter()
    workspace = window.mpr.workspace
    wait_for(workspace.ready)
    result.ui_build = time.perf_counter() - started
    app.processEvents()
    volume = workspace.volume
    views = {plane: pane.image.view.viewport() for plane, pane in workspace.panes.items()}
    result.checks.append(
        f"MPR workspace: volume {volume.voxels.shape}, panes "
        + ", ".join(f"{plane} {view.width()}x{view.height()}" for plane, view in views.items())
    )

    def step(plane: str, index: int, paint_all: bool) -> None:
        workspace.go_to(plane, index)
        for name, view in views.items():
            if paint_all or name == plane:
                view.repaint()

    for slab_mm in (0.0, 20.0):
        workspace.set_slab(slab_mm, "mip")
        for plane in PLANES:
            count = slice_count_of(volume, plane)
            indices = [(count // 4 + 3 * i) % count for i in range(steps)]
            name = f"{plane}{' MIP 20 mm' if slab_mm else ''}"
            log(f"bench_mpr: window, {name}, {steps} steps")
            step(plane, indices[-1], True)  # warm
            _timed_ui(result, f"{name} step + paint", lambda k: step(plane, k, False), indices)
            _timed_ui(result, f"{name} step + paint of all three panes", lambda k: step(plane, k, True), indices)

    def slab_change(thickness: float) -> None:
        workspace.set_slab(thickness, "mip")
        for view in views.values():
            view.repaint()

    workspace.set_point(tuple(n // 2 for n in volume.voxels.shape))
    _timed_ui(result, "slab 20 <-> 21 mm MIP, three planes + paint", slab_change, [20.0 + i % 2 for i in range(max(10, steps // 4))])
    window.close()
    app.processEvents()


def slice_count_of(volume, plane: str) -> int:
    from viewer.core.display.mpr import slice_count

    return slice_count(volume, plane)


def markdown_ui(result: MprResult, checks: bool = True) -> str:
    """The window's part (4): a table, and the checks when shown alone."""
    lines = [
        f"| in the window: MPR workspace 1x3, 1600x1000 (ms, {SLICES} slices) | p50 | p95 | max | CPU p50 | CPU p95 "
        "| p95 / core's 'coronal + render' p95 |",
        "|---|---|---|---|---|---|---|",
    ]
    floor = result.planes.get("coronal + render")
    for name, summary in result.ui.items():
        bold = "**" if (name.endswith("step + paint") and not name.startswith("axial")) or name.startswith("slab") else ""
        ratio = f"{summary.p95 / floor.p95:.1f}" if floor is not None else "-"
        cpu = result.ui_cpu[name]
        lines.append(
            f"| {bold}{name}{bold} | {summary.p50:.2f} | {bold}{summary.p95:.2f}{bold} | {summary.max:.2f} | {cpu.p50:.2f} | {cpu.p95:.2f} | {ratio} |"
        )
    if result.ui_build is not None:
        lines.append(f"\nView > MPR to the three planes on screen (the volume built by the workspace): {result.ui_build:.2f} s.")
    if checks:
        lines += ["", *(f"Check: {c}." for c in result.checks)]
    return "\n".join(lines) + "\n"


def markdown(result: MprResult, browser_volume_rate: float | None = None) -> str:
    """The section for RESULTS.md; `browser_volume_rate` is bench_browser's warm load figure (slices/s) if it ran too."""
    build, base = float(np.median(result.build)), float(np.median(result.baseline))
    lines = [
        f"## MPR on a 512x512x{result.slices} CT",
        "",
        "Targets (issue): coronal or sagittal plane update p95 < 20 ms; 20 mm MIP slab < 40 ms; building the volume no slower "
        "than the volume load already measured.",
        "",
        "| volume | median s | best s | slices/s (median) | median / baseline median | runs (s) |",
        "|---|---|---|---|---|---|",
        f"| baseline: read_index_header + load_volume (bench_browser's volume load) | {base:.3f} | {min(result.baseline):.3f} | "
        f"{result.slices / base:,.0f} | 1.00x | " + ", ".join(f"{d:.3f}" for d in result.baseline) + " |",
        f"| **volume_from_files** (headers, checks, HU in int16, patient axes) | **{build:.3f}** | {min(result.build):.3f} | "
        f"{result.slices / build:,.0f} | **{build / base:.2f}x** | " + ", ".join(f"{d:.3f}" for d in result.build) + " |",
    ]
    if browser_volume_rate:
        lines.append(
            f"| bench_browser's figure in this run (1,000 slices, warm, read_index_header + load_volume) | - | - | "
            f"{browser_volume_rate:,.0f} | {browser_volume_rate / (result.slices / build):.2f}x (its rate / ours) | - |"
        )
    copy = result.copy
    lines += [
        "",
        f"| plane update (ms, {copy.n} steps) | p50 | p95 | max | p95 / copy p95 |",
        "|---|---|---|---|---|",
        f"| baseline: voxels[k].copy() (one axial slice) | {copy.p50:.2f} | {copy.p95:.2f} | {copy.max:.2f} | 1.0 |",
    ]
    for name, summary in result.planes.items():
        bold = "**" if name in ("coronal", "sagittal", "coronal MIP 20 mm", "sagittal MIP 20 mm") else ""
        lines.append(
            f"| {bold}{name}{bold} | {summary.p50:.2f} | {bold}{summary.p95:.2f}{bold} | {summary.max:.2f} | {summary.p95 / copy.p95:.1f} |"
        )
    if result.ui:
        lines += ["", markdown_ui(result, checks=False)]
    return "\n".join(lines) + "\n\n" + "\n".join(f"Check: {c}." for c in result.checks) + "\n"


NOTES = """\
* **MPR** (`benchmarks/bench_mpr.py`): 500 slices of 693_UNCI.dcm 1 mm apart, rows rolled per slice, in
  `/tmp/dicom-viewer-bench/ct500-mpr-v1`. "+ render" adds what a viewport does before Qt paints: a `FrameDisplay` on
  the reformatted image and `render_packed` with W 400 L 40. Each step shows a different slice.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="volume builds (and baseline loads), alternating (default 3)")
    parser.add_argument("--steps", type=int, default=100, help="plane updates per case (default 100)")
    parser.add_argument("--only", choices=("all", "core", "ui"), default="all", help="the core's figures, the window's, or both")
    args = parser.parse_args(argv)

    def log(text: str) -> None:
        print(text, file=sys.stderr)

    result = run(args.repeats, args.steps, log=log) if args.only != "ui" else MprResult(SLICES)
    if args.only != "core":
        run_ui(result, args.steps, log=log)
    print(markdown(result) if args.only != "ui" else markdown_ui(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
