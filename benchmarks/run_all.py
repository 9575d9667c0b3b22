"""Run every benchmark, print one Markdown report and write it to benchmarks/RESULTS.md.

Run from the repository root: ``.venv/bin/python benchmarks/run_all.py``
(about three minutes; the first run also generates about 750 MB of test data
in /tmp/dicom-viewer-bench, see bench_browser.py). Options: ``--steps``
(window steps per case), ``--repeats`` (start-up runs per command),
``--browser-repeats`` (warm runs per browser measurement), ``--only``
(comma-separated benchmarks: startup, disc, memory, window, index, volume, first-image,
dicomdir, decode, decode-processes, cine, firstframe, inspector, net, send, mpr, linking, measure, document, report, video; a partial run is
printed, and written only with ``--output``), ``--soak-frames`` (cine soak
length, default 100,000: about 5.5 minutes), ``--output`` (report path).
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import (
    bench_browser,
    bench_decode,
    bench_document,
    bench_measure,
    bench_mpr,
    bench_net,
    bench_send,
    bench_startup,
    bench_video,
)
from benchmarks._common import REPO, ensure_offscreen, machine_description

ensure_offscreen()

RESULTS = os.path.join(REPO, "benchmarks", "RESULTS.md")
BENCHMARKS = (
    "startup",
    "disc",
    "memory",
    "window",
    *bench_browser.PARTS,
    *bench_decode.PARTS,
    "inspector",
    "net",
    "send",
    "mpr",
    "linking",
    "measure",
    "document",
    "report",
    "video",
)

NOTES = """\
How to read this:

* **Window/level step** = `ImagePane.set_display(new Window)` + `view.viewport().repaint()`
  (synchronous; a paint-event counter and pyqtgraph's render flag confirm every step painted).
  Every step uses a window different from the last, so the lookup table is always rebuilt.
  The view is 1024x1024 screen pixels. Qt platform: `{platform}` (software raster painting).
* **p95 / copy p95**: the step's p95 divided by the p95 of `stored.copy()` of the same full stored
  array in the same run: a machine-independent figure. The 512x512 CT copy (0.5 MB) sits in cache and
  takes about 10 us, so the CT ratios are large by construction; the mammogram's (40 MB) is memory-bound.
* **grab() step**: the same step painted with `viewport().grab()` instead of `repaint()` (a cross-check).
  **core render**: `FrameDisplay.render_packed(window, region, stride)` alone (new LUT + one `take`,
  giving 0xFFRRGGBB pixels that Qt draws as an RGB32 image).
  **repaint alone**: `viewport().repaint()` with nothing changed (the paint's floor).
  **what-if Grayscale8**: the step with uint8 pixels from `FrameDisplay.render` instead, which pyqtgraph
  shows as a Grayscale8 QImage: how the pane worked before RGB32 (measurement only).
* **Mammogram** = a stand-in, not a real 4096x5120 file: pydicom's RG1_UNCI.dcm (real CR, 1955x1841, 15-bit,
  MONOCHROME1) nearest-neighbour resampled to 5120 rows x 4096 columns, rescaled to 12 bits (0..4095),
  MONOCHROME1, built in memory as a Digital Mammography dataset and decoded by the viewer's decoder.
* **Full-resolution rows** show what the visible-region/stride lever saves: the whole frame rendered with no
  region and no stride, as a viewer without the lever would do on every window step.
* **Start-up**: `time.time()` right before the process starts, to the times the viewer prints with
  `DICOM_VIEWER_STARTUP_REPORT=1` (first paint event of the main window / of the image viewport).
  The first run of each command is discarded as "cold" (first in this session; the OS file cache may
  already be warm from earlier sessions); warm = the remaining runs.
  Baseline: a process that imports PySide6.QtWidgets and shows an empty QWidget, same probe.
"""


def report(
    steps: int, repeats: int, browser_repeats: int = 3, only: tuple[str, ...] = BENCHMARKS, soak_frames: int = bench_decode.SOAK_FRAMES
) -> str:
    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # Start-up first: its processes then run on a machine not yet holding the mammogram.
    startup = bench_startup.run(repeats) if "startup" in only else None
    disc = bench_startup.run(repeats, parts=("disc",)) if "disc" in only else None
    memory = None
    if "memory" in only:
        from benchmarks import bench_memory

        memory = bench_memory.run()
    window = None
    if "window" in only:
        from benchmarks import bench_window

        window = bench_window.run(steps)
    browser_parts = tuple(part for part in bench_browser.PARTS if part in only)
    browser = bench_browser.run(browser_repeats, browser_parts, log) if browser_parts else None
    decode_parts = tuple(part for part in bench_decode.PARTS if part in only)
    decode = bench_decode.run(decode_parts, soak_frames, log) if decode_parts else None
    inspector = None
    if "inspector" in only:
        import subprocess

        log("inspector: 5,000-element header fill and scrolling")
        inspector = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("bench_inspector.py"))], capture_output=True, text=True, check=False
        ).stdout
    net = bench_net.run(log=log) if "net" in only else None
    send = bench_send.run(3, 500, log=log) if "send" in only else None
    mpr = bench_mpr.run(log=log) if "mpr" in only else None
    linking = None
    if "linking" in only:
        from benchmarks import bench_linking  # Qt widgets: imported only when run

        linking = bench_linking.run(steps, log=log)
    measure = bench_measure.run(log=log) if "measure" in only else None
    document = bench_document.run(log=log) + bench_document.window_run(4, log=log) if "document" in only else None
    report_view = None
    if "report" in only:
        from benchmarks import bench_report  # Qt widgets: imported only when run

        report_view = bench_report.run(log=log)
    video = bench_video.run(log=log) if "video" in only else None
    info = machine_description()
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    facts = ", ".join(f"{key} {value}" for key, value in info.items())
    command = f".venv/bin/python benchmarks/run_all.py --steps {steps} --repeats {repeats} --browser-repeats {browser_repeats}"
    if soak_frames != bench_decode.SOAK_FRAMES:
        command += f" --soak-frames {soak_frames}"
    if tuple(only) != BENCHMARKS:
        command += f" --only {','.join(only)}"
    lines = ["# Benchmark results", "", f"Date: {now}. Machine: {facts}.", "", f"Command: `{command}`", ""]
    if window is not None:
        lines += [
            f"## Window/level step, 1024x1024 view (ms, {steps} steps per case)",
            "",
            "Targets (issue): p95 < 2 ms for the 512x512 CT, < 16 ms for the 4096x5120 12-bit mammogram.",
            "",
            bench_window.markdown(window),
            "",
        ]
    if startup is not None:
        lines += [f"## Start-up (ms from process start, {repeats} runs, the first discarded)", "", bench_startup.markdown(startup), ""]
    if disc is not None:
        lines += [
            f"## Disc to first image (ms from process start, {repeats} runs, the first discarded)",
            "",
            bench_startup.markdown(disc),
            "",
        ]
    if memory is not None:
        lines += ["## Catalog memory per file (small files)", "", bench_memory.markdown(memory), ""]
    if browser is not None:
        lines += [bench_browser.markdown(browser)]
    if decode is not None:
        lines += [bench_decode.markdown(decode)]
    if inspector is not None:
        lines += [
            "## Tag inspector, 5,000-element enhanced header",
            "",
            "Target (issue): filled in under 200 ms; no stall while scrolling.",
            "",
            inspector,
            "",
        ]
    if net is not None:
        lines += [bench_net.markdown(net)]
    if send is not None:
        lines += [bench_send.markdown(send, 3)]
    if mpr is not None:
        volume = browser.volume if browser is not None else None
        loaded = next((rate for rate in volume.rates if "together" in rate.name), None) if volume is not None else None
        lines += [bench_mpr.markdown(mpr, loaded.rate(cold=False) if loaded is not None else None)]
    if linking is not None:
        lines += [bench_linking.markdown(linking)]
    if measure is not None:
        lines += [bench_measure.markdown(measure)]
    if document is not None:
        lines += [bench_document.markdown(document)]
    if report_view is not None:
        lines += [bench_report.markdown(report_view)]
    if video is not None:
        lines += [bench_video.markdown(video)]
    lines += [NOTES.format(platform=os.environ.get("QT_QPA_PLATFORM", ""))]
    if browser is not None:
        lines += [bench_browser.NOTES]
    if decode is not None:
        lines += [bench_decode.NOTES]
    if net is not None and not net.skipped:
        lines += [bench_net.NOTES]
    if mpr is not None:
        lines += [bench_mpr.NOTES]
    if measure is not None:
        lines += [bench_measure.NOTES]
    if document is not None:
        lines += [bench_document.NOTES]
    if report_view is not None:
        lines += [bench_report.NOTES]
    if video is not None:
        lines += [bench_video.NOTES]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="window steps per case (default 200)")
    parser.add_argument("--repeats", type=int, default=7, help="start-up runs per command (default 7)")
    parser.add_argument("--browser-repeats", type=int, default=3, help="warm runs per browser measurement (default 3)")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help=f"comma-separated benchmarks to run (default all: {','.join(BENCHMARKS)})"
    )
    parser.add_argument(
        "--soak-frames",
        type=int,
        default=bench_decode.SOAK_FRAMES,
        help=f"frames of the cine soak (default {bench_decode.SOAK_FRAMES:,}; 0 skips it)",
    )
    parser.add_argument("--output", default=None, help=f"report file (default {RESULTS} when every benchmark runs)")
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = [name for name in only if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    only = tuple(name for name in BENCHMARKS if name in only)
    text = report(args.steps, args.repeats, args.browser_repeats, only, args.soak_frames)
    print(text)
    output = args.output or (RESULTS if only == BENCHMARKS else None)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"\nwritten to {output}")
    else:
        print("\n(partial run: not written; pass --output FILE to keep it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
