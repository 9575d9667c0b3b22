"""Start-up: process start to main window painted, and to the first image painted.

Runs ``python -m viewer --new-window [693_UNCI.dcm]`` with
DICOM_VIEWER_STARTUP_REPORT=1, which prints ``window-painted <time.time()>``
and ``image-painted <time.time()>`` when those widgets receive their first
paint event (each followed by ``modules-at-...-paint <json list of
sys.modules>``), then quits. The CT has a window of its own, so its first
image is the quick one (viewer.ui.window.quick_image: numpy, no pydicom); the
viewport's own image follows (``viewport-image-painted``, its own row), and
the process quits after that. The clock starts (``time.time()``) right before
the process is started, so the figures include interpreter start, imports,
and Qt set-up. Every run gets its own DICOM_VIEWER_INSTANCE.

Warm: each command runs ``--repeats`` times (default 7), in rounds (each
round runs every command once, so a busy moment of a shared machine weighs
on all of them alike); the first round is discarded (``.pyc`` files,
caches) and median and min of the rest are "warm".

Cold: ``--cold-repeats`` more runs (default 5; 0 skips them), each right
after the page cache is emptied: ``sync; echo 3 > /proc/sys/vm/drop_caches``
(needs root), else ``posix_fadvise(POSIX_FADV_DONTNEED)`` over every file
under the interpreter's prefix, the virtualenv (PySide6's Qt libraries and
``.so`` files included), the viewer package and the CT file. The method and
how much of PySide6's Qt libraries stayed resident (``vmtouch``, when
installed) are reported. The .pyc files exist, as after an installation: the
viewer's are compiled before the first run (:func:`compile_viewer`), since a
run with PYTHONDONTWRITEBYTECODE set (this machine's environment) would
otherwise compile every module of the viewer at every start (about 40 ms).

Baseline, measured the same way (warm and cold) in the same run: a process
that imports PySide6.QtWidgets, shows an empty QWidget and quits after its
first paint (the same probe as the viewer's FirstPaintProbe: a paint event
filter, then a zero-delay timer). The ratio to it means something on any
machine. The ratio of the CT's first image to it is reported per round (the
two processes ran one after the other) as min and median, warm and cold,
against the issue's goal (:data:`GOAL_RATIO`, warm).

Import check: at the window's first paint neither pynetdicom nor a decoder
plugin (pylibjpeg, openjpeg, libjpeg, rle, jpeg_ls, gdcm, PIL) may be in
sys.modules, in any viewer run; at the first image paint (an uncompressed
CT, which needs only pydicom's native path), and at the viewport's own image
after a quick one, no decoder plugin, neither the
packages nor pydicom's plugin modules (:data:`PYDICOM_PLUGINS`; the viewer
holds their places with stand-ins, which its report leaves out:
viewer.core.display.pixels.plugins). Otherwise the check fails, the first-import
chain of each offender is traced (a sys.meta_path hook printing the stack in
a separate run), and ``main`` exits with status 1. The modules found are
listed either way.

Import costs: what the time after the empty-widget baseline is made of, in
one process that imports what the viewer does, in its order, each step timed
(:data:`IMPORT_COSTS`; median of ``--repeats`` runs).

Disc to first image (``--only disc``, issue #18): ``python -m viewer
--new-window MEDIA`` on bench_browser's media folder (a DICOMDIR of 5,000
IMAGE records, made once into /tmp/dicom-viewer-bench, about 30 s), timed as
the CT is, against the same empty QWidget in the same rounds (goal:
:data:`GOAL_DISC_RATIO`, warm). With a quick first image (the middle image
of the series the window shows first, found from the DICOMDIR's records), the
viewport's own image, painted once the records are read, is its own row.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeats N] [--cold-repeats N] [--only startup,disc]``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import REPO, python_executable

TIMEOUT_S = 60
COLD_REPEATS = 5

#: Goals from the issue, ms: event -> (warm, cold).
GOALS_MS = {"window-painted": (500, 1000), "image-painted": (1000, 1500)}
#: Goal from the issue: the CT's first image painted within this many times
#: an empty QWidget's paint, warm, in the same run.
GOAL_RATIO = 2.5
#: Goal from issue #18: a media folder (DICOMDIR of 5,000 records) to its first image painted
#: within this many times an empty QWidget's paint, warm, in the same run.
GOAL_DISC_RATIO = 4.0

#: Top-level modules that must not be loaded at the window's first paint: the
#: network stack and pydicom's optional decoder plugins (with their C parts).
FORBIDDEN_EARLY = {
    "pynetdicom": "pynetdicom",
    "pylibjpeg": "pylibjpeg",
    "openjpeg": "pylibjpeg-openjpeg",
    "_openjpeg": "pylibjpeg-openjpeg",
    "libjpeg": "pylibjpeg-libjpeg",
    "_libjpeg": "pylibjpeg-libjpeg",
    "rle": "pylibjpeg-rle",
    "jpeg_ls": "pyjpegls",
    "_CharLS": "pyjpegls",
    "gdcm": "python-gdcm",
    "_gdcm": "python-gdcm",
    "PIL": "pillow",
}

#: pydicom's plugin modules that import a decoder package (plus its pydicom 2
#: handlers that do): none of them may be loaded to show an uncompressed image.
PYDICOM_PLUGINS = (
    "pydicom.pixels.decoders.gdcm",
    "pydicom.pixels.decoders.pylibjpeg",
    "pydicom.pixels.decoders.pillow",
    "pydicom.pixels.decoders.pyjpegls",
    "pydicom.pixels.encoders.gdcm",
    "pydicom.pixels.encoders.pylibjpeg",
    "pydicom.pixels.encoders.pyjpegls",
    "pydicom.pixel_data_handlers.gdcm_handler",
    "pydicom.pixel_data_handlers.pillow_handler",
    "pydicom.pixel_data_handlers.jpeg_ls_handler",
    "pydicom.pixel_data_handlers.pylibjpeg_handler",
)

#: One process importing what the viewer imports, in its order, each step
#: timed (ms): what the first image waits for beyond the empty widget (the frame,
#: the quick first image), then what the viewport's own image waits for.
IMPORT_COSTS = """
import json, sys, time
from contextlib import ExitStack
steps, t0 = {}, time.perf_counter()
def step(name):
    global t0
    t = time.perf_counter()
    steps[name] = (t - t0) * 1e3
    t0 = t
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication(sys.argv[:1])
step("PySide6.QtWidgets and a QApplication (the baseline's imports)")
import viewer.ui.window.main_window
step("the window's frame: viewer.ui.window.main_window and what it imports")
from viewer.core.display.first_image import first_image
assert first_image(sys.argv[1]) is not None
step("the quick first image: viewer.core.display.first_image, the CT read and its grey levels computed (no numpy)")
from viewer.core.runtime.tasks import rare_garbage_collection
starting = ExitStack()
starting.enter_context(rare_garbage_collection())  # as the app does until its first image
import numpy
step("numpy")
import pydicom
step("pydicom (its decoder plugins put off)")
import viewer.ui.window.contents
step("the window's contents: the viewer's own modules")
starting.close()
import viewer.ui.viewport.graphics_view
step("pyqtgraph (the pane's view, built after the first image)")
from viewer.core.display.pixels import plugins
for name in plugins.DEFERRED:
    plugins.load(name)
step("pydicom's decoder plugins, all (each only when a frame needs it)")
print(json.dumps(steps))
"""

BASELINE = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

app = QApplication(sys.argv[:1])
widget = QWidget()
widget.resize(800, 600)

def painted():
    print(f"window-painted {time.time():.6f}", flush=True)
    widget.close()

class Probe(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            widget.removeEventFilter(self)
            QTimer.singleShot(0, painted)
        return False

probe = Probe(widget)
widget.installEventFilter(probe)
widget.show()
sys.exit(app.exec())
"""

#: Runs the viewer (argv[2:]) and prints, for each watched top-level module
#: (argv[1], comma-separated), the stack of its first import.
CHAIN_PROBE = """
import json, sys, traceback
watched = set(sys.argv[1].split(","))
seen = set()

class FirstImport:
    def find_spec(self, name, path=None, target=None):
        top = name.split(".")[0]
        if top in watched and top not in seen:
            seen.add(top)
            stack = [f"{f.filename}:{f.lineno}: {(f.line or '').strip()}"
                     for f in traceback.extract_stack()[:-1] if not f.filename.startswith("<")]
            print("first-import " + json.dumps({"module": name, "stack": stack}), flush=True)
        return None

sys.meta_path.insert(0, FirstImport())
from viewer.app import main
sys.exit(main(sys.argv[2:]))
"""


#: The paints whose sys.modules the report prints.
PAINTS = ("window-painted", "image-painted", "viewport-image-painted")
#: Events reported only by some runs (the viewport's image after a quick first image).
OPTIONAL_EVENTS = ("viewport-image-painted",)


@dataclass(frozen=True)
class Timing:
    """Seconds from just before process start to each event it reported."""

    name: str
    marks: dict[str, list[float]]  # event -> warm runs (the first one dropped)
    cold: dict[str, float]  # the first run of the session (not necessarily a cold page cache)
    dropped: dict[str, list[float]] = field(default_factory=dict)  # event -> runs after the page cache was emptied
    eviction: str = ""  # how the page cache was emptied, and what stayed resident
    goals: bool = False  # the goals apply (the CT row)
    modules: dict[str, int] = field(default_factory=dict)  # paint -> len(sys.modules), median over runs
    early: dict[str, list[str]] = field(default_factory=dict)  # paint -> FORBIDDEN_EARLY modules seen in any run
    plugins: dict[str, list[str]] = field(default_factory=dict)  # paint -> PYDICOM_PLUGINS modules seen in any run
    chains: dict[str, list[str]] = field(default_factory=dict)  # module -> stack of its first import (when it failed)


def ct_path() -> str:
    from pydicom.data import get_testdata_file

    return get_testdata_file("693_UNCI.dcm", download=False)


def compile_viewer() -> None:
    """Write the viewer's .pyc files, as an installation does (py_compile writes them whatever PYTHONDONTWRITEBYTECODE says)."""
    import compileall

    compileall.compile_dir(os.path.join(REPO, "viewer"), quiet=1)


def run_once(args: list[str]) -> tuple[dict[str, float], dict[str, list[str]]]:
    """One run: event -> seconds since start, and paint -> sys.modules at that paint."""
    env = dict(os.environ)
    env["DICOM_VIEWER_STARTUP_REPORT"] = "1"
    env["DICOM_VIEWER_INSTANCE"] = f"bench-startup-{os.getpid()}-{time.monotonic_ns()}"
    env["QT_QPA_PLATFORM"] = env.get("QT_QPA_PLATFORM", "offscreen")
    start = time.time()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    marks: dict[str, float] = {}
    modules: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("window-painted", "image-painted", "viewport-image-painted", "exited") and value:
            marks[key] = float(value) - start
        elif key in ("modules-at-window-paint", "modules-at-image-paint", "modules-at-viewport-image-paint"):
            modules[key.removeprefix("modules-at-").replace("-paint", "-painted")] = json.loads(value)
    if proc.returncode != 0 or not marks:
        raise RuntimeError(f"{args!r} exited {proc.returncode} without a report:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return marks, modules


def _eviction_roots(python: str, ct: str | None) -> list[str]:
    """What a cold start reads: the interpreter's prefix, the virtualenv, the viewer package, the CT file."""
    prefixes = subprocess.run(
        [python, "-c", "import os, sys; print(os.path.realpath(sys.base_prefix)); print(os.path.realpath(sys.prefix))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    ).stdout.split()
    roots = [*prefixes, os.path.join(REPO, "viewer")]
    if ct:
        roots.append(ct)
    return list(dict.fromkeys(roots))


def evict_page_cache(roots: list[str]) -> str:
    """Empty the page cache: drop_caches when root, else POSIX_FADV_DONTNEED over every file under `roots`."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w", encoding="ascii") as drop:
            drop.write("3\n")
        return "`sync; echo 3 > /proc/sys/vm/drop_caches`"
    except OSError:
        pass
    for root in roots:
        files = [root] if os.path.isfile(root) else (os.path.join(d, f) for d, _, names in os.walk(root) for f in names)
        for path in files:
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
    return "`posix_fadvise(POSIX_FADV_DONTNEED)` over " + ", ".join(f"`{r}`" for r in roots)


def _qt_lib_dir(roots: list[str]) -> str | None:
    """PySide6's bundled Qt libraries under one of `roots` (the biggest thing a cold start reads)."""
    for root in roots:
        found = glob.glob(os.path.join(root, "lib", "python3*", "site-packages", "PySide6", "Qt", "lib"))
        if found:
            return found[0]
    return None


def resident_percent(path: str) -> str | None:
    """How much of `path` is in the page cache, per vmtouch (None without it)."""
    if not shutil.which("vmtouch"):
        return None
    out = subprocess.run(["vmtouch", path], capture_output=True, text=True, timeout=TIMEOUT_S).stdout
    for line in out.splitlines():
        if "Resident Pages" in line:
            return line.split()[-1]
    return None


def _early(modules: list[str]) -> list[str]:
    return sorted({name for name in modules if name.split(".")[0] in FORBIDDEN_EARLY})


def _plugins(modules: list[str]) -> list[str]:
    return sorted(set(modules) & set(PYDICOM_PLUGINS))


@dataclass(frozen=True)
class Command:
    name: str
    args: list[str]
    expected: tuple[str, ...]
    goals: bool = False


def interleaved(commands: list[Command], repeats: int, cold_repeats: int = 0, roots: list[str] | None = None) -> dict:
    """Run every command once per round: `repeats` warm rounds, then `cold_repeats` after emptying the page cache.

    Returns name -> (warm runs, cold runs, how the page cache was emptied).
    """
    warm: dict[str, list] = {c.name: [] for c in commands}
    cold: dict[str, list] = {c.name: [] for c in commands}
    for _ in range(repeats):
        for command in commands:
            warm[command.name].append(run_once(command.args))
    eviction = ""
    qt_lib = _qt_lib_dir(roots or [])
    for _round in range(cold_repeats):
        for command in commands:
            method = evict_page_cache(roots or [])
            if not eviction:
                # Pages mapped by other running processes (e.g. another Qt app) cannot be dropped.
                resident = resident_percent(qt_lib) if qt_lib else None
                eviction = method + (f"; PySide6's Qt libraries still resident right after: {resident}" if resident else "")
            cold[command.name].append(run_once(command.args))
    return {c.name: (warm[c.name], cold[c.name], eviction if cold_repeats else "") for c in commands}


def measure(
    name: str,
    args: list[str],
    repeats: int,
    expected: tuple[str, ...],
    cold_repeats: int = 0,
    roots: list[str] | None = None,
    goals: bool = False,
    done: tuple[list, list, str] | None = None,
) -> Timing:
    """Timing of `args` from `done` (warm runs, cold runs, eviction), or from runs made here."""
    if done is None:
        done = interleaved([Command(name, args, expected, goals)], repeats, cold_repeats, roots)[name]
    runs, dropped_runs, eviction = done
    for marks, _ in runs + dropped_runs:
        missing = [event for event in expected if event not in marks]
        if missing:
            raise RuntimeError(f"{name}: no {', '.join(missing)} reported (got {marks})")
    warm = runs[1:] if len(runs) > 1 else runs
    everything = runs + dropped_runs
    painted = [p for p in PAINTS if any(p in modules for _, modules in everything)]
    # The viewport's own image after a quick first image: reported when every run had one.
    events = [*expected, *(e for e in OPTIONAL_EVENTS if e not in expected and all(e in m for m, _ in everything))]
    return Timing(
        name,
        {event: [m[event] for m, _ in warm] for event in events},
        dict(runs[0][0]),
        dropped={event: [m[event] for m, _ in dropped_runs] for event in events} if dropped_runs else {},
        eviction=eviction,
        goals=goals,
        modules={p: int(statistics.median(len(mods[p]) for _, mods in everything if p in mods)) for p in painted},
        early={p: sorted({n for _, mods in everything for n in _early(mods.get(p, []))}) for p in painted},
        plugins={p: sorted({n for _, mods in everything for n in _plugins(mods.get(p, []))}) for p in painted},
    )


def trace_first_imports(python: str, viewer_args: list[str], modules: list[str], until: str = "window-painted") -> dict[str, list[str]]:
    """Stack of the first import of each of `modules` (top-level names) before the paint `until`."""
    env = dict(os.environ)
    env["DICOM_VIEWER_STARTUP_REPORT"] = "1"
    env["DICOM_VIEWER_INSTANCE"] = f"bench-startup-trace-{os.getpid()}"
    env["QT_QPA_PLATFORM"] = env.get("QT_QPA_PLATFORM", "offscreen")
    proc = subprocess.run(
        [python, "-c", CHAIN_PROBE, ",".join(modules), *viewer_args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    chains = {}
    for line in proc.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == until:
            break
        if key == "first-import":
            found = json.loads(value)
            chains[found["module"].split(".")[0]] = found["stack"]
    return chains


def interpreter_only(python: str, repeats: int, cold_repeats: int = 0, roots: list[str] | None = None) -> Timing:
    """A bare interpreter, start to exit: the floor under every figure."""

    def once() -> float:
        start = time.time()
        subprocess.run([python, "-c", "pass"], check=True, timeout=TIMEOUT_S)
        return time.time() - start

    durations = [once() for _ in range(repeats)]
    dropped = []
    for _ in range(cold_repeats):
        evict_page_cache(roots or [])
        dropped.append(once())
    return Timing(
        "bare interpreter (`python -c pass`, start to exit)",
        {"exited": durations[1:] or durations},
        {"exited": durations[0]},
        dropped={"exited": dropped} if dropped else {},
    )


BASELINE_NAME = "baseline: empty QWidget painted"
CT_NAME = "viewer 693_UNCI.dcm (CT 512x512)"
DISC_NAME = "viewer MEDIA (a media folder, DICOMDIR of 5,000 records)"
#: The parts :func:`run` can measure: the start-up with a file, and with a disc.
PARTS = ("startup", "disc")


def media_root() -> str:
    """The media folder of bench_browser (5,000 IMAGE records; made once, about 30 s)."""
    from benchmarks import _browser_data

    return str(_browser_data.media_tree().parent)


def run(repeats: int = 7, cold_repeats: int = COLD_REPEATS, parts: tuple[str, ...] = ("startup",)) -> list[Timing]:
    python = python_executable()
    ct = ct_path()
    compile_viewer()
    roots = _eviction_roots(python, ct) if cold_repeats else None
    commands = [Command(BASELINE_NAME, [python, "-c", BASELINE], ("window-painted",))]
    if "startup" in parts:
        commands += [
            Command("viewer, no file: window painted", [python, "-m", "viewer", "--new-window"], ("window-painted",)),
            Command(CT_NAME, [python, "-m", "viewer", "--new-window", ct], ("window-painted", "image-painted"), True),
        ]
    if "disc" in parts:
        media = media_root()
        if roots is not None:
            roots.append(media)
        commands.append(Command(DISC_NAME, [python, "-m", "viewer", "--new-window", media], ("window-painted", "image-painted")))
    done = interleaved(commands, repeats, cold_repeats, roots)
    timings = [interpreter_only(python, repeats, cold_repeats, roots)]
    for command in commands:
        timing = measure(command.name, command.args, repeats, command.expected, cold_repeats, roots, command.goals, done[command.name])
        if command.name != BASELINE_NAME:
            offenders = sorted({n.split(".")[0] for n in timing.early.get("window-painted", [])})
            last = "viewport-image-painted" if "viewport-image-painted" in timing.early else "image-painted"
            late = sorted(
                {n.split(".")[0] for p in ("image-painted", last) for n in timing.early.get(p, []) if n.split(".")[0] != "pynetdicom"}
            )
            if offenders:
                timing = Timing(**{**timing.__dict__, "chains": trace_first_imports(python, command.args[3:], offenders)})
            elif late:
                timing = Timing(**{**timing.__dict__, "chains": trace_first_imports(python, command.args[3:], late, last)})
        timings.append(timing)
    return timings


def import_costs(repeats: int) -> dict[str, float]:
    """Step -> median ms over `repeats` runs of :data:`IMPORT_COSTS`."""
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    runs = []
    for _ in range(max(1, repeats)):
        proc = subprocess.run(
            [python_executable(), "-c", IMPORT_COSTS, ct_path()], cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S
        )
        if proc.returncode != 0:
            raise RuntimeError(f"import costs: {proc.stderr[-2000:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {step: statistics.median(r[step] for r in runs) for step in runs[0]}


def import_check_failures(timings: list[Timing]) -> list[str]:
    """Modules that must not be loaded: FORBIDDEN_EARLY at a window's first paint;
    decoder plugins (FORBIDDEN_EARLY but pynetdicom, and PYDICOM_PLUGINS) at the uncompressed CT's first image."""
    early = {n.split(".")[0] for t in timings for n in t.early.get("window-painted", [])}
    images = ("image-painted", "viewport-image-painted")
    late = {n.split(".")[0] for t in timings for p in images for n in t.early.get(p, [])} - {"pynetdicom"}
    return sorted(early | late | {n for t in timings for p in images for n in t.plugins.get(p, [])})


def ratios(timings: list[Timing], name: str = CT_NAME, event: str = "image-painted") -> dict[str, list[float]]:
    """'warm' / 'cold' -> `name`'s `event` (the CT's first image) over the baseline's paint, per round."""
    base = next(t for t in timings if t.name == BASELINE_NAME)
    ct = next(t for t in timings if t.name == name)
    out = {"warm": [i / b for i, b in zip(ct.marks[event], base.marks["window-painted"])]}
    if ct.dropped.get(event) and base.dropped.get("window-painted"):
        out["cold"] = [i / b for i, b in zip(ct.dropped[event], base.dropped["window-painted"])]
    return out


def _ms(values: list[float] | None) -> tuple[str, str]:
    if not values:
        return "", ""
    return f"**{statistics.median(values) * 1e3:.0f}**", f"{min(values) * 1e3:.0f}"


def _short(frame: str) -> str:
    """A stack frame with the repository, site-packages and stdlib prefixes removed."""
    path, _, rest = frame.partition(":")
    for marker in ("/site-packages/", "/lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            path = path.split("/", 1)[1] if marker == "/lib/python3." else path
            break
    else:
        path = os.path.relpath(path, REPO) if path.startswith(REPO) else path
    return f"{path}:{rest}"


def markdown(timings: list[Timing]) -> str:
    baseline_timing = next(t for t in timings if t.name.startswith("baseline"))
    base_median = statistics.median(baseline_timing.marks["window-painted"])
    base_cold = baseline_timing.dropped.get("window-painted")
    labels = {
        "exited": "process exited",
        "window-painted": "window painted",
        "image-painted": "first image painted",
        "viewport-image-painted": "the viewport's own image painted (after the quick one)",
    }
    lines = [
        "| process | event | warm median (ms) | warm min (ms) | first run (ms) | median / baseline median "
        "| cold median (ms) | cold min (ms) | cold median / cold baseline median | goal warm / cold (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for timing in timings:
        for event, values in timing.marks.items():
            median = statistics.median(values)
            cold = timing.dropped.get(event)
            cold_median, cold_min = _ms(cold)
            cold_ratio = f"{statistics.median(cold) / statistics.median(base_cold):.2f}x" if cold and base_cold else ""
            goal = ""
            if timing.goals and event in GOALS_MS:
                warm_goal, cold_goal = GOALS_MS[event]
                goal = f"< {warm_goal}: {'met' if median * 1e3 < warm_goal else '**missed**'}"
                if cold:
                    goal += f" / < {cold_goal}: {'met' if statistics.median(cold) * 1e3 < cold_goal else '**missed**'}"
            lines.append(
                f"| {timing.name} | {labels[event]} | **{median * 1e3:.0f}** | {min(values) * 1e3:.0f} "
                f"| {timing.cold[event] * 1e3:.0f} | {median / base_median:.2f}x | {cold_median} | {cold_min} | {cold_ratio} | {goal} |"
            )
    cold_runs = max((len(v) for t in timings for v in t.dropped.values()), default=0)
    eviction = next((t.eviction for t in timings if t.eviction), "")
    if cold_runs:
        lines += ["", f"Cold: {cold_runs} runs per command, the page cache emptied before each: {eviction}."]
    lines += _ratio_lines(timings)
    lines += _import_check(timings)
    return "\n".join(lines)


def _ratio_lines(timings: list[Timing]) -> list[str]:
    lines = []
    cases = (
        (CT_NAME, "image-painted", "First CT image painted", GOAL_RATIO),
        (DISC_NAME, "image-painted", "Disc to first image painted", GOAL_DISC_RATIO),
        (DISC_NAME, "viewport-image-painted", "Disc to the viewport's own image painted (after the quick one)", None),
    )
    for name, event, label, goal_ratio in cases:
        try:
            found = ratios(timings, name, event)
        except (StopIteration, KeyError):
            continue
        goal_text = f"; goal: warm <= {goal_ratio}" if goal_ratio else ""
        lines += [
            "",
            f"{label} / empty QWidget painted, per round (the two ran one after the other{goal_text}):",
            "",
            "| | rounds | min | median | max | goal |",
            "|---|---|---|---|---|---|",
        ]
        for kind, values in found.items():
            median = statistics.median(values)
            goal = (f"<= {goal_ratio}: {'met' if median <= goal_ratio else '**missed**'}") if kind == "warm" and goal_ratio else ""
            lines.append(f"| {kind} | {len(values)} | {min(values):.2f}x | **{median:.2f}x** | {max(values):.2f}x | {goal} |")
    return lines


def import_costs_markdown(costs: dict[str, float], repeats: int) -> str:
    lines = [
        f"Import costs, one process importing what the viewer does in its order (ms, median of {repeats} runs):",
        "",
        "| step | ms |",
        "|---|---|",
    ]
    lines += [f"| {step} | {ms:.0f} |" for step, ms in costs.items()]
    return "\n".join(lines)


def _import_check(timings: list[Timing]) -> list[str]:
    viewer = [t for t in timings if t.early or t.modules]
    if not viewer:
        return []
    lines = [
        "",
        "Import check (pynetdicom and the decoder plugins: "
        + ", ".join(sorted({d for d in FORBIDDEN_EARLY.values()}))
        + "), sys.modules at each first paint, any run:",
        "",
        "| process | paint | modules loaded (median) | pynetdicom / plugin packages loaded | pydicom plugin modules loaded "
        "| PIL.JpegImagePlugin | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for timing in viewer:
        for paint, count in timing.modules.items():
            early = timing.early.get(paint, [])
            tops = sorted({n.split(".")[0] for n in early})
            plugins = timing.plugins.get(paint, [])
            if paint == "window-painted":
                verdict = "**FAIL**" if tops else "ok"
            else:  # an uncompressed CT needs only pydicom's native path
                verdict = "**FAIL**" if [t for t in tops if t != "pynetdicom"] or plugins else "ok (no decoder)"
            lines.append(
                f"| {timing.name} | {labels_of(paint)} | {count} | {', '.join(tops) or 'none'} | {', '.join(plugins) or 'none'} "
                f"| {'loaded' if 'PIL.JpegImagePlugin' in early else 'no'} | {verdict} |"
            )
    failures = import_check_failures(timings)
    if not failures:
        lines += [
            "",
            "Import check: **pass** (no pynetdicom or decoder plugin at the window's first paint, "
            "no decoder plugin at the uncompressed CT's first image).",
        ]
        return lines
    packages = sorted({FORBIDDEN_EARLY.get(name, name) for name in failures})
    lines += ["", f"**Import check FAIL: loaded too early (window or uncompressed first image): {', '.join(packages)}.**"]
    chains = next((t.chains for t in timings if t.chains), {})
    first_chain: dict[str, list[str]] = {}  # distribution -> frames of its first import
    for module, stack in chains.items():
        first_chain.setdefault(FORBIDDEN_EARLY.get(module, module), [_short(f) for f in stack])
    if not first_chain:
        return lines
    common = os.path.commonprefix(list(first_chain.values()))
    start = next((i for i, f in enumerate(common) if f.startswith("viewer/")), 0)
    culprit = max((i for i, f in enumerate(common) if f.startswith("viewer/")), default=None)
    if culprit is not None:
        lines += ["", f"First line in viewer/ on every chain: `{common[culprit]}`"]
    lines += ["", "Shared chain: " + " → ".join(f"`{f}`" for f in common[start:])]
    for package, frames in first_chain.items():
        tail = frames[len(common) :] or frames[-1:]
        lines.append(f"* {package}: … → " + " → ".join(f"`{f}`" for f in tail if not f.startswith("importlib/")))
    return lines


def labels_of(paint: str) -> str:
    return {"window-painted": "window", "image-painted": "first image", "viewport-image-painted": "viewport's image"}[paint]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="warm runs per command, the first discarded (default 7)")
    parser.add_argument(
        "--cold-repeats",
        type=int,
        default=COLD_REPEATS,
        help=f"runs per command after emptying the page cache (default {COLD_REPEATS}; 0 skips them)",
    )
    parser.add_argument("--only", default="startup", help=f"comma-separated parts of {', '.join(PARTS)} (default startup)")
    args = parser.parse_args(argv)
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip())
    if not parts or set(parts) - set(PARTS):
        parser.error(f"--only: choose from {', '.join(PARTS)}")
    timings = run(args.repeats, args.cold_repeats, parts)
    print(markdown(timings))
    if "startup" in parts:
        print()
        print(import_costs_markdown(import_costs(args.repeats), args.repeats))
    failures = import_check_failures(timings)
    if failures:
        print(f"bench_startup: FAIL: imported too early (window, or uncompressed first image): {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
