"""Decoding, cine playback and time to first frame of multi-frame files.

Four measurements (inputs made by dcmtk, gdcm and OpenJPH, see ``_decode_data.py``):

1. ``decode``: throughput of one 512x512 frame per transfer syntax, in MB/s of
   decoded pixels (``out.nbytes / time``) on one core (this thread), for every
   installed pydicom plugin side by side: ``pydicom.pixels.pixel_array(ds,
   index=0, decoding_plugin=NAME)`` on a dataset already in memory (no file
   read), and the viewer's ``decode_frame(ds, 0)`` (its PREFERRED_PLUGINS
   order). Each figure is the median call of a loop of at least 0.3 s and 5
   calls after one untimed call. Checked: lossless results equal the source
   pixels; lossy ones are given as the largest difference. Baseline:
   ``stored.copy()`` of the decoded array.
2. ``decode-processes``: a series of 40 JPEG 2000 lossless frames (40 files,
   and one 40-frame file) decoded into a fresh FrameSource with
   ``prefetch`` on ``InWorkerProcesses`` through a ``ProcessPoolExecutor`` of 1 and of 2
   workers (forkserver context with the viewer's preload, as
   viewer/core/runtime/processes.py makes it; the workers started and warm before
   timing), and with the in-thread ``prefetch``.
3. ``cine``: an offscreen MainWindow (1400x900) opened on pydicom-data's
   color3d_jpeg_baseline.dcm (120 frames, 640x480, JPEG Baseline
   YBR_FULL_422), played in loop mode through ``window.cine`` (the real
   CineController: precise QTimer, CineClock, play-head prefetch) at
   30 and 60 fps for 10 s each, the frame cache cleared before each run;
   then a 200-frame uncompressed 512x512 CT at 60 fps for 1000 frames, and
   a soak of ``--soak-frames`` frames (default 100,000) at the highest rate
   the controller sustains. Achieved rate = ``clock.shown / seconds``; a
   shown frame is late when its ``image_shown`` comes more than one frame
   period after its due time ``t0 + (step - start_step) / fps``, read from
   the CineClock at each ``image_shown``.
4. ``firstframe``: time to the first frame of an uncompressed 512x512 CT
   multi-frame file of 10 and of 1000 frames (5 MB and 524 MB):
   ``FrameSource().frame(ImageRef(instance, 0))`` in a fresh store, warm and
   with the file evicted from the page cache; and ``MainWindow.open_paths``
   until the first ``image_shown``.

Run: ``.venv/bin/python benchmarks/bench_decode.py [--only decode,decode-processes,cine,firstframe] [--soak-frames N]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import _decode_data as data
from benchmarks._common import ensure_offscreen

PARTS = ("decode", "decode-processes", "cine", "firstframe")
SOAK_FRAMES = 100_000
TARGETS_MBS = {  # per core, 512x512 CT (issue)
    data.HTJ2K_LOSSLESS: 150,
    data.HTJ2K: 150,
    data.RLE: 400,
    data.JPEGLS_LOSSLESS: 100,
    data.JPEGLS_NEAR: 100,
}


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def median_call_s(action: Callable[[], object], min_seconds: float = 0.3, min_calls: int = 5) -> float:
    """Median duration of `action()` over a loop of at least `min_seconds` and `min_calls` (one untimed call first)."""
    action()
    durations = []
    end = time.perf_counter() + min_seconds
    while len(durations) < min_calls or time.perf_counter() < end:
        t0 = time.perf_counter_ns()
        action()
        durations.append(time.perf_counter_ns() - t0)
    return statistics.median(durations) / 1e9


# ----------------------------------------------------------------------------- 1. decode throughput


@dataclass
class Throughput:
    plugin: str
    mbs: float | None = None
    ms: float | None = None
    check: str = ""


@dataclass
class DecodeRow:
    case: data.Case
    compressed_bytes: int
    decoded_bytes: int
    plugins: list[Throughput]
    viewer: Throughput
    copy_mbs: float
    preferred: tuple[str, ...]


def _check(out: np.ndarray, case: data.Case, expected: np.ndarray | None) -> str:
    if expected is None:
        return "-"
    if out.shape != expected.shape:
        return f"shape {out.shape}!"
    diff = int(np.abs(out.astype(np.int64) - expected.astype(np.int64)).max())
    if case.lossless:
        return "exact" if diff == 0 else f"DIFFERS by {diff}!"
    return f"max diff {diff}"


def _expected(case: data.Case) -> np.ndarray | None:
    if case.source == "us":
        return None
    pixels = data.source_pixels(case.source)
    if case.syntax in (data.HTJ2K_LOSSLESS, data.HTJ2K):
        return pixels.astype(np.int32) + 32768  # stored unsigned, see _decode_data
    return pixels


def run_decode(log=lambda text: None) -> list[DecodeRow]:
    import pydicom
    from pydicom.pixels import get_decoder, pixel_array
    from pydicom.uid import UID

    from viewer.core.display.pixels.decoders import PREFERRED_PLUGINS, decode_frame

    rows = []
    for case in data.decode_cases():
        ds = pydicom.dcmread(case.path)
        uid = UID(case.syntax)
        expected = _expected(case)
        plugins = sorted(get_decoder(uid).available_plugins) if uid.is_compressed else ["(native)"]
        results = []
        out = None
        for plugin in plugins:
            name = "" if plugin == "(native)" else plugin
            try:
                result = pixel_array(ds, index=0, decoding_plugin=name)
                seconds = median_call_s(lambda: pixel_array(ds, index=0, decoding_plugin=name), 0.5)
            except BaseException as exc:  # a plugin refusing a variant is a result (Rust panics included)
                if isinstance(exc, KeyboardInterrupt):
                    raise
                results.append(Throughput(plugin, check=f"fails: {' '.join(str(exc).split())[:60]}"))
                continue
            out = result
            results.append(Throughput(plugin, result.nbytes / seconds / 1e6, seconds * 1e3, _check(result, case, expected)))
        viewer_out = decode_frame(ds, 0)
        seconds = median_call_s(lambda: decode_frame(ds, 0), 0.5)
        viewer = Throughput("viewer", viewer_out.nbytes / seconds / 1e6, seconds * 1e3, _check(viewer_out, case, expected))
        reference = out if out is not None else viewer_out
        copy_s = median_call_s(reference.copy, 0.1)
        rows.append(
            DecodeRow(
                case,
                os.path.getsize(case.path),
                viewer_out.nbytes,
                results,
                viewer,
                reference.nbytes / copy_s / 1e6,
                PREFERRED_PLUGINS.get(case.syntax, ()),
            )
        )
        log(f"  {case.label}: " + ", ".join(f"{t.plugin} {t.mbs or 0:.0f} MB/s" for t in results))
    return rows


SYNTAX_NAMES = {
    data.EXPLICIT: "Explicit VR LE",
    data.RLE: "RLE Lossless",
    data.JPEG_BASELINE: "JPEG Baseline (.50)",
    data.JPEG_EXTENDED: "JPEG Extended (.51)",
    data.JPEG_LOSSLESS: "JPEG Lossless (.57)",
    data.JPEG_LOSSLESS_SV1: "JPEG Lossless SV1 (.70)",
    data.JPEGLS_LOSSLESS: "JPEG-LS Lossless (.80)",
    data.JPEGLS_NEAR: "JPEG-LS Near-Lossless (.81)",
    data.J2K_LOSSLESS: "JPEG 2000 Lossless (.90)",
    data.J2K: "JPEG 2000 (.91)",
    data.HTJ2K_LOSSLESS: "HTJ2K Lossless (.201)",
    data.HTJ2K: "HTJ2K (.203)",
}


def _plugin_used(row: DecodeRow) -> str:
    """The plugin the viewer's order picks: the first preferred one that decodes this file."""
    works = {t.plugin for t in row.plugins if t.mbs is not None}
    return next((p for p in row.preferred if p in works), "pydicom's default")


def markdown_decode(rows: list[DecodeRow]) -> str:
    names = sorted({t.plugin for row in rows for t in row.plugins if t.plugin != "(native)"})
    header = ["case", "transfer syntax", "encoder", "compressed KB (ratio)", "(native) read"]
    header += [f"{n}" for n in names] + ["viewer decode_frame", "viewer's plugin (fastest?)", "target", "copy baseline", "check"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        by = {t.plugin: t for t in row.plugins}
        working = [t for t in row.plugins if t.mbs is not None and t.plugin != "(native)"]
        fastest = max(working, key=lambda t: t.mbs).plugin if working else None
        used = _plugin_used(row) if working else "-"

        def cell(name: str) -> str:
            t = by.get(name)
            if t is None:
                return ""
            if t.mbs is None:
                return "fails"
            text = f"{t.mbs:,.0f}"
            if name == used:
                text = f"**{text}** (pref.)"
            elif name == fastest and used != fastest:
                text += " (fastest)"
            return text

        if fastest is None or used not in by:
            verdict = "-"
        elif used == fastest:
            verdict = "yes"
        elif by[fastest].mbs <= 1.1 * by[used].mbs:
            verdict = f"within 10% of {fastest}"
        else:
            verdict = f"no: {fastest} {by[fastest].mbs / by[used].mbs:.1f}x faster"
        target = TARGETS_MBS.get(row.case.syntax)
        if target and row.case.source in ("noisy", "ct12"):
            best = max((t.mbs for t in working), default=0)
            target_text = f">= {target}: {'met' if row.viewer.mbs >= target else 'missed'}" + (
                "" if used == fastest or best < target or row.viewer.mbs >= target else f" (best plugin {best:,.0f})"
            )
        else:
            target_text = ""
        checks = sorted({t.check for t in row.plugins if t.mbs is not None} | {row.viewer.check})
        lines.append(
            "| "
            + " | ".join(
                [
                    row.case.label,
                    SYNTAX_NAMES.get(row.case.syntax, row.case.syntax),
                    row.case.tool,
                    f"{row.compressed_bytes / 1024:,.0f} ({row.decoded_bytes / row.compressed_bytes:.1f}:1)",
                    cell("(native)"),
                    *[cell(n) for n in names],
                    f"{row.viewer.mbs:,.0f} ({row.viewer.ms:.2f} ms)",
                    f"{used} ({verdict})",
                    target_text,
                    f"{row.copy_mbs:,.0f}",
                    "; ".join(checks),
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def preference_findings(rows: list[DecodeRow]) -> list[str]:
    """One line per transfer syntax where the viewer's first choice is not the fastest plugin (noisy CT)."""
    found = []
    for row in rows:
        working = [t for t in row.plugins if t.mbs is not None and t.plugin != "(native)"]
        if not working:
            continue
        fastest = max(working, key=lambda t: t.mbs)
        used = _plugin_used(row)
        by = {t.plugin: t for t in working}
        if used in by and fastest.plugin != used and fastest.mbs > 1.1 * by[used].mbs:
            found.append(
                f"{row.case.label}: the viewer prefers {used} ({by[used].mbs:,.0f} MB/s), "
                f"{fastest.plugin} decodes at {fastest.mbs:,.0f} MB/s ({fastest.mbs / by[used].mbs:.1f}x)"
            )
    return found


# ----------------------------------------------------------------------------- 2. decoding in processes


@dataclass
class ProcessRow:
    layout: str
    method: str
    seconds: list[float]
    frames: int
    frame_bytes: int

    @property
    def best(self) -> float:
        return min(self.seconds)


def _pool(workers: int):
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from viewer.core.runtime.processes import PRELOAD

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def run_processes(count: int = 40, repeats: int = 3, log=lambda text: None) -> list[ProcessRow]:
    from viewer.core.dicom.header import read_index_header
    from viewer.core.display.frames import FrameSource, decode_stored
    from viewer.core.display.prefetch import InThisThread, InWorkerProcesses, nearest_first, prefetch
    from viewer.core.media.model import ImageRef, Instance

    files, multi = data.j2k_series(count)
    layouts = {
        f"{count} files": [ImageRef(Instance(p, read_index_header(p), 1), 0) for p in files],
    }
    multi_instance = Instance(multi, read_index_header(multi), count)
    layouts[f"one {count}-frame file"] = [ImageRef(multi_instance, i) for i in range(count)]
    never = lambda: False  # noqa: E731
    rows = []
    for layout, images in layouts.items():
        frame_bytes = decode_stored(str(images[0].instance.path), images[0].frame).nbytes

        def in_thread():
            store = FrameSource()
            t0 = time.perf_counter()
            done = prefetch(store, images, 0, nearest_first, InThisThread(), never)
            return time.perf_counter() - t0, done

        timings = [in_thread() for _ in range(repeats)]
        rows.append(ProcessRow(layout, "prefetch (this thread)", [t for t, _ in timings], timings[0][1], frame_bytes))
        for workers in (1, 2):
            pool = _pool(workers)
            try:
                # Start every worker (the forkserver preloads the viewer's modules) before timing.
                list(pool.map(decode_stored, [str(images[0].instance.path)] * (2 * workers), [images[0].frame] * (2 * workers)))

                def in_processes():
                    store = FrameSource()
                    t0 = time.perf_counter()
                    done = prefetch(store, images, 0, nearest_first, InWorkerProcesses(pool, workers), never)
                    return time.perf_counter() - t0, done

                timings = [in_processes() for _ in range(repeats)]
            finally:
                pool.shutdown(wait=True)
            rows.append(
                ProcessRow(
                    layout,
                    f"prefetch in processes, {workers} worker{'s' if workers > 1 else ''}",
                    [t for t, _ in timings],
                    timings[0][1],
                    frame_bytes,
                )
            )
        log(f"  {layout}: " + ", ".join(f"{r.method} {r.best:.2f} s" for r in rows[-3:]))
    return rows


def markdown_processes(rows: list[ProcessRow]) -> str:
    lines = [
        "| series | method | frames decoded | best run (s) | runs (s) | frames/s | MB/s decoded | / 1 worker | / this thread |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        group = [r for r in rows if r.layout == row.layout]
        one = next(r for r in group if r.method.endswith("1 worker"))
        thread = group[0]
        lines.append(
            f"| {row.layout} | {row.method} | {row.frames} | **{row.best:.2f}** | {', '.join(f'{s:.2f}' for s in row.seconds)} "
            f"| {row.frames / row.best:.0f} | {row.frames * row.frame_bytes / row.best / 1e6:.0f} "
            f"| {one.best / row.best:.2f}x | {thread.best / row.best:.2f}x |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 3. cine


@dataclass
class CineRun:
    name: str
    requested_fps: float
    seconds: float
    shown: int
    dropped: int
    image_shown: int
    paints: int
    lateness_ms: list[float] = field(default_factory=list)
    first_loop: tuple[int, int] = (0, 0)  # (shown, dropped) during the first pass over the images
    count: int = 0
    how: str = ""

    @property
    def achieved(self) -> float:
        return self.shown / self.seconds

    @property
    def late(self) -> int:
        period_ms = 1000.0 / self.requested_fps
        return sum(1 for v in self.lateness_ms if v > period_ms)

    def per_100(self, value: int) -> float:
        due = self.shown + self.dropped
        return 100.0 * value / due if due else 0.0


@dataclass
class Soak:
    frames_requested: int
    run: CineRun | None
    rss_start: float
    rss_before: float
    rss_after: float
    samples: list[tuple[int, float]]
    error: str = ""
    cached_mb: float = 0.0


@dataclass
class CineResults:
    runs: list[CineRun]
    soak: Soak | None


def _application():
    ensure_offscreen()
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QApplication

    QStandardPaths.setTestModeEnabled(True)  # keep the user's own settings untouched
    _quiet_offscreen_warning()
    return QApplication.instance() or QApplication(sys.argv[:1])


def _quiet_offscreen_warning() -> None:
    """Drop the offscreen platform's 'does not support propagateSizeHints()' line (printed per layout change)."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(mode, context, message):
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    global _HANDLER
    _HANDLER = handler  # keep a reference: Qt holds none
    qInstallMessageHandler(handler)


_HANDLER = None


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop (blocking, as the app's own does) until `condition()` or timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(5)
    poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    return condition()


class _PaintCounter:
    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        counter = self
        self.count = 0

        class Filter(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self._filter = Filter(widget)
        self._widget = widget
        widget.installEventFilter(self._filter)

    def remove(self) -> None:
        self._widget.removeEventFilter(self._filter)


def _open(window, path: Path) -> None:
    shown = []
    window.image_shown.connect(lambda: shown.append(1))
    window.open_paths([path])
    if not _wait(lambda: bool(shown) and not window.opener.busy, 60):
        raise RuntimeError(f"{path} was not shown within 60 s")
    window.image_shown.disconnect()
    _wait(lambda: False, 0.3)  # let the thumbnail and prefetch tasks settle


def _play(
    window,
    name: str,
    fps: float,
    *,
    seconds: float | None = None,
    frames: int | None = None,
    clear: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> CineRun:
    """Play the window's series in loop mode at `fps` for `seconds` or until `frames` frames were shown."""
    cine = window.cine
    cine.stop()
    window.viewport.stop_prefetch()
    _wait(lambda: False, 0.2)
    window.go_to(0)
    if clear:
        window.frame_source.clear()
        gc.collect()
    cine.set_mode("loop")
    cine.set_rate(fps)
    count = len(window.images)
    lateness: list[float] = []
    first_loop = [0, 0]
    shown_signals = [0]
    paints = _PaintCounter(window.pane.view.viewport())

    def step_shown() -> None:
        now = time.monotonic()
        clock = cine.clock
        if clock is None or not cine.playing:
            return
        shown_signals[0] += 1
        step = clock._last_step  # the step index_at just returned (set before go_to)
        due = clock._t0 + (step - clock._start_step) / clock.fps
        lateness.append((now - due) * 1000.0)
        if step - clock._start_step < count:
            first_loop[0], first_loop[1] = clock.shown, clock.dropped
        if on_step is not None:
            on_step(clock.shown)

    window.image_shown.connect(step_shown)
    try:
        t0 = time.monotonic()
        cine.play()
        if frames is not None:
            finished = _wait(lambda: cine.clock is not None and cine.clock.shown >= frames, max(60.0, 10 * frames / fps))
        else:
            _wait(lambda: False, seconds)
            finished = True
        elapsed = time.monotonic() - t0
        cine.stop()
    finally:
        window.image_shown.disconnect(step_shown)
        paints.remove()
    clock = cine.clock
    run = CineRun(name, fps, elapsed, clock.shown, clock.dropped, shown_signals[0], paints.count, lateness, tuple(first_loop), count)
    if not finished:
        run.how = "did not reach the frame count in time"
    return run


def run_cine(soak_frames: int = SOAK_FRAMES, log=lambda text: None) -> CineResults:
    from viewer.core.runtime.processes import shutdown_pool
    from viewer.ui.window.main_window import MainWindow

    app = _application()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    runs = []
    try:
        _open(window, Path(data.testdata("color3d_jpeg_baseline.dcm")))
        for fps in (30, 60):
            runs.append(_play(window, f"US 640x480 JPEG Baseline, 120 frames, {fps} fps requested, 10 s", fps, seconds=10))
            log(f"  cine {fps} fps: shown {runs[-1].shown} in {runs[-1].seconds:.1f} s, dropped {runs[-1].dropped}")
        window.close_all()
        _wait(lambda: False, 0.3)
        ct = data.multiframe(200)
        _open(window, ct)
        runs.append(_play(window, "CT 512x512 int16 uncompressed, 200 frames, 60 fps requested, 1000 frames", 60, frames=1000))
        log(f"  cine CT 60 fps: shown {runs[-1].shown} in {runs[-1].seconds:.1f} s, late {runs[-1].late}")
        soak = _soak(window, soak_frames, log) if soak_frames > 0 else None
    finally:
        window.cine.stop()
        window.close()
        window.deleteLater()
        app.processEvents()
        shutdown_pool()
    return CineResults(runs, soak)


SOAK_FPS = 1000.0


def _soak(window, frames: int, log) -> Soak:
    """Play `frames` frames through the real controller as fast as it goes (requested 1000 fps)."""
    # One warm loop first so the frame cache holds the whole series: growth after it is not the cache.
    warm = _play(window, "soak warm-up loop", SOAK_FPS, frames=len(window.images), clear=True)
    del warm
    gc.collect()
    rss_start = rss_mb()
    samples: list[tuple[int, float]] = []
    every = max(1, frames // 10)

    def sample(shown: int) -> None:
        if shown % every == 0:
            samples.append((shown, rss_mb()))

    rss_before = rss_mb()
    error = ""
    run = None
    try:
        run = _play(window, f"soak: CT 200 frames, {SOAK_FPS:.0f} fps requested", SOAK_FPS, frames=frames, clear=False, on_step=sample)
        run.lateness_ms = []  # not meaningful far above the sustainable rate
    except BaseException as exc:  # a crash is the result
        if isinstance(exc, KeyboardInterrupt):
            raise
        error = f"{type(exc).__name__}: {exc}"
    gc.collect()
    _wait(lambda: False, 0.2)
    rss_after = rss_mb()
    if run is not None:
        log(f"  soak: {run.shown} frames in {run.seconds:.0f} s, RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    return Soak(frames, run, rss_start, rss_before, rss_after, samples, error, window.frame_source.cached_bytes / 1e6)


def markdown_cine(results: CineResults) -> str:
    lines = [
        "| run | s | frames shown | achieved fps | dropped | dropped / 100 due | late (> 1 period) / 100 shown "
        "| lateness p50 / p95 / max (ms) | first loop (steps 1..count-1): shown, dropped | viewport paints/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in results.runs:
        late = run.lateness_ms
        pct = f"{np.percentile(late, 50):.1f} / {np.percentile(late, 95):.1f} / {max(late):.1f}" if late else "-"
        lines.append(
            f"| {run.name} | {run.seconds:.1f} | {run.shown} | **{run.achieved:.1f}** | {run.dropped} | **{run.per_100(run.dropped):.2f}** "
            f"| {100.0 * run.late / max(1, run.shown):.2f} ({run.late}) | {pct} | {run.first_loop[0]}, {run.first_loop[1]} "
            f"| {run.paints / run.seconds:.0f} |"
        )
    soak = results.soak
    if soak is not None:
        lines += ["", "Soak (same window, same 200-frame CT, frame cache already holding the series):", ""]
        lines += [
            "| frames requested | frames shown | s | frames/s | crashes | frame cache (MB) | RSS before (MB) | RSS after (MB) "
            "| growth (MB) | RSS every 10% (MB) |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        run = soak.run
        shown = run.shown if run else 0
        secs = run.seconds if run else 0
        trend = ", ".join(f"{mb:.0f}" for _, mb in soak.samples)
        lines.append(
            f"| {soak.frames_requested:,} | {shown:,} | {secs:.0f} | {shown / secs if secs else 0:.0f} | {soak.error or 'none'} "
            f"| {soak.cached_mb:.0f} | {soak.rss_before:.0f} | {soak.rss_after:.0f} | **{soak.rss_after - soak.rss_before:+.1f}** | {trend} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 4. time to first frame


@dataclass
class FirstFrameRow:
    frames: int
    file_mb: float
    store_warm_ms: list[float]
    store_cold_ms: list[float]
    window_ms: list[float]
    baseline_ms: float


def run_firstframe(repeats: int = 7, log=lambda text: None) -> list[FirstFrameRow]:
    import pydicom

    from viewer.core.dicom.header import read_index_header
    from viewer.core.display.frames import FrameSource
    from viewer.core.media.model import ImageRef, Instance
    from viewer.core.runtime.processes import shutdown_pool
    from viewer.ui.window.main_window import MainWindow

    rows = []
    paths = {n: data.multiframe(n) for n in (10, 1000)}
    app = _application()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    try:
        for n, path in paths.items():
            header = read_index_header(path)

            def store_first() -> float:
                ref = ImageRef(Instance(path, header, n), 0)
                t0 = time.perf_counter()
                FrameSource().frame(ref)
                return (time.perf_counter() - t0) * 1000

            store_first()  # warm the page cache
            warm = [store_first() for _ in range(repeats)]
            cold = []
            for _ in range(7):
                data.evict(path)
                cold.append(store_first())
            shown_at: list[float] = []
            window.image_shown.connect(lambda: shown_at.append(time.perf_counter()))
            opened = []
            for _ in range(repeats):
                window.close_all()
                _wait(lambda: not window.opener.busy, 5)
                _wait(lambda: False, 0.5)  # let the previous repeat's thumbnail and prefetch stop
                gc.collect()
                shown_at.clear()
                t0 = time.perf_counter()
                window.open_paths([path])
                if not _wait(lambda: bool(shown_at), 30):
                    raise RuntimeError(f"{path} not shown within 30 s")
                opened.append((shown_at[0] - t0) * 1000)
                window.viewport.stop_prefetch()
            window.image_shown.disconnect()
            t0 = time.perf_counter()
            pydicom.dcmread(path).pixel_array[0]
            baseline = (time.perf_counter() - t0) * 1000
            rows.append(FirstFrameRow(n, os.path.getsize(path) / 1e6, warm, cold, opened, baseline))
            log(f"  first frame of {n} frames: store {statistics.median(warm):.1f} ms, window {statistics.median(opened):.0f} ms")
    finally:
        window.close_all()
        window.close()
        window.deleteLater()
        app.processEvents()
        shutdown_pool()
    return rows


def markdown_firstframe(rows: list[FirstFrameRow]) -> str:
    ten = rows[0]
    lines = [
        "| frames in file | file MB | FrameSource().frame(frame 0) warm, median (min-max) ms | / 10-frame | the same, file evicted (cold), median ms | / 10-frame "
        "| open_paths -> first image_shown, median (min-max) ms | / 10-frame | baseline: pydicom.dcmread(f).pixel_array[0] ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        w, c, o = (statistics.median(v) for v in (row.store_warm_ms, row.store_cold_ms, row.window_ms))
        w10, c10, o10 = (statistics.median(v) for v in (ten.store_warm_ms, ten.store_cold_ms, ten.window_ms))
        lines.append(
            f"| {row.frames} | {row.file_mb:.0f} | **{w:.2f}** ({min(row.store_warm_ms):.2f}-{max(row.store_warm_ms):.2f}) | {w / w10:.2f}x "
            f"| {c:.2f} | {c / c10:.2f}x | **{o:.0f}** ({min(row.window_ms):.0f}-{max(row.window_ms):.0f}) | {o / o10:.2f}x | {row.baseline_ms:.0f} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- report


@dataclass
class Results:
    decode: list[DecodeRow] | None = None
    processes: list[ProcessRow] | None = None
    cine: CineResults | None = None
    firstframe: list[FirstFrameRow] | None = None
    soak_frames: int = SOAK_FRAMES
    load: dict[str, float] = field(default_factory=dict)  # part -> cores busy with other processes


def _cpu_seconds() -> tuple[float, float]:
    """(busy CPU seconds of the whole machine, CPU seconds of this process) so far."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    busy = sum(fields) - fields[3] - (fields[4] if len(fields) > 4 else 0)  # all but idle and iowait
    times = os.times()
    return busy / os.sysconf("SC_CLK_TCK"), times.user + times.system


def run(parts: tuple[str, ...] = PARTS, soak_frames: int = SOAK_FRAMES, log=lambda text: None) -> Results:
    results = Results(soak_frames=soak_frames)
    for part in parts:
        started = time.monotonic()
        machine0, own0 = _cpu_seconds()
        if part == "decode":
            results.decode = run_decode(log)
        elif part == "decode-processes":
            results.processes = run_processes(log=log)
        elif part == "cine":
            results.cine = run_cine(soak_frames, log)
        elif part == "firstframe":
            results.firstframe = run_firstframe(log=log)
        else:
            raise ValueError(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
        wall = time.monotonic() - started
        machine1, own1 = _cpu_seconds()
        # Other processes on the machine (a test run, a build) skew every figure: say how busy it was.
        # Worker processes of decode-processes count as "other" here.
        others = max(0.0, (machine1 - machine0) - (own1 - own0)) / wall
        results.load[part] = others
        log(f"bench_decode {part}: {wall:.0f} s, other processes used {others:.2f} of {os.cpu_count()} cores")
    return results


def markdown(results: Results) -> str:
    sections = []
    if results.decode is not None:
        findings = preference_findings(results.decode)
        sections += [
            "## Decode throughput per transfer syntax, one 512x512 frame, one core (MB/s of decoded pixels)",
            "",
            "Targets (issue), per core on a 512x512 CT: HTJ2K >= 150 MB/s, RLE >= 400 MB/s, JPEG-LS >= 100 MB/s "
            "(judged on the noisy CT through the viewer's decode_frame).",
            "",
            markdown_decode(results.decode),
            "",
            'Bold = the plugin the viewer\'s PREFERRED_PLUGINS picks for that file; "(fastest)" marks a faster one; '
            '"fails" = the plugin refuses this variant (Pillow and gdcm: 12-bit JPEG Extended). Empty = plugin not offered '
            "for this transfer syntax.",
            "",
        ]
        if findings:
            sections += ["Where the viewer's preferred plugin is not the fastest (more than 10% slower):", ""]
            sections += [f"* {line}" for line in findings] + [""]
    if results.processes is not None:
        sections += [
            "## Decoding a JPEG 2000 series in worker processes (40 frames, 512x512 int16 lossless)",
            "",
            "Target (issue): 2 workers at least 1.7x 1 worker.",
            "",
            markdown_processes(results.processes),
            "",
        ]
    if results.cine is not None:
        sections += [
            "## Cine playback in an offscreen MainWindow",
            "",
            "Target (issue): at least 60 fps sustained with at most 1 dropped frame per 100; "
            f"soak of {results.soak_frames:,} frames without a crash and under 50 MB of memory growth.",
            "",
            markdown_cine(results.cine),
            "",
        ]
    if results.firstframe is not None:
        sections += [
            "## Time to the first frame of an uncompressed multi-frame file (512x512 int16)",
            "",
            "Target (issue): the 1000-frame file about as fast as the 10-frame one (ratio about 1).",
            "",
            markdown_firstframe(results.firstframe),
            "",
        ]
    if results.load:
        sections += [
            "Machine load while these ran (CPU of other processes, in cores of "
            f"{os.cpu_count()}; decode-processes counts its own workers too): "
            + ", ".join(f"{part} {cores:.2f}" for part, cores in results.load.items())
            + ".",
            "",
        ]
    return "\n".join(sections).rstrip() + "\n"


NOTES = """\
* **Decode inputs** (made once into `/tmp/dicom-viewer-bench/decode-v1`, see `benchmarks/_decode_data.py`):
  "noisy" CT = the pixels of pydicom-data's 693_J2KR.dcm (the 693 slice with its acquisition noise) in
  693_UNCI.dcm's header; "smooth 693_UNCI" = 693_UNCI.dcm's own pixels, which are interpolated: gdcm's
  lossless JPEG 2000 of them is 4 KB (130:1), so wavelet decoders have little to do and their MB/s flatter.
  Encoders: dcmtk (dcmcjpeg, dcmcjpls, dcmcrle), gdcmconv --j2k, OpenJPH ojph_compress (HTJ2K, stored
  unsigned with the offset in Rescale Intercept: its raw reader takes no signed samples), OpenJPEG via
  pydicom for lossy JPEG 2000 (gdcmconv's lossy mode fails here). JPEG Baseline/Extended are 8/12-bit
  derivatives of the noisy CT; "US" is frame 1 of color3d_jpeg_baseline.dcm as recorded.
* **Decode timing**: `pixel_array(ds, index=0, decoding_plugin=NAME)` on a dataset already read, median of a
  loop of at least 0.3 s, one thread. It includes pydicom's per-call work (options, validation, the
  output array), which is a fixed cost of roughly 0.1-0.2 ms a frame: at 400 MB/s a 512 KB frame has only
  1.3 ms in all. "viewer decode_frame" = `viewer.core.display.pixels.decoders.decode_frame(ds, 0)`, the viewer's
  plugin order. US rows decode to RGB (pydicom's YBR->RGB conversion included).
* **Processes**: the viewer's `prefetch` (`InWorkerProcesses`) with pools made as `viewer/core/runtime/processes.py` makes
  them (forkserver, same preload), 1 or 2 workers, started before timing. Display preparation of each
  returned frame (`FrameSource.insert`) runs in this process, which competes for the same 2 cores.
* **Cine**: `window.cine.set_rate(fps)` then `play()`; the event loop runs as the app's does. The
  CineClock's private `_t0`, `_start_step`, `_last_step` are read (not changed) at each `image_shown`
  to get each frame's due time. Dropped = `clock.dropped` (due steps never shown); dropped / 100 due =
  dropped / (shown + dropped). The frame cache is cleared before each run, so the first loop decodes
  (JPEG) or reads (CT) every frame while playing; "first loop" gives shown and dropped during that pass.
  The soak requests 1000 fps (`set_rate(1000)`: the controller's timer then wakes every 1 ms; the spin
  box in the UI stops at 240) so the real controller shows frames as fast as it can; its dropped count is
  then meaningless and not given. RSS = VmRSS from /proc/self/status after gc, "before" after a warm-up
  loop that fills the frame cache with the whole series.
* **First frame**: the multi-frame files are 693_UNCI.dcm's pixels rolled 2 columns per frame (Explicit VR
  Little Endian). open_paths times include the folder scan's header read of the one file and showing
  the series' first image (CT: the middle frame), up to the `image_shown` signal (before the paint).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts (default {','.join(PARTS)})")
    parser.add_argument(
        "--soak-frames", type=int, default=SOAK_FRAMES, help=f"cine soak length in frames (default {SOAK_FRAMES:,}; 0 skips it)"
    )
    args = parser.parse_args(argv)
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    results = run(parts, args.soak_frames, log=lambda text: print(text, file=sys.stderr, flush=True))
    print(markdown(results))
    print(NOTES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
