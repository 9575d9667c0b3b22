"""Opening studies: folder indexing, loading a volume, first image, DICOMDIR.

Four measurements, each against baselines measured in the same run (see
``_browser_data.py`` for the generated data in /tmp/dicom-viewer-bench):

1. **Indexing** a tree of 5,000 files (50 series x 100 slices, a real
   Siemens MR header with its 40 KB of private data, pixels shrunk to 64x64),
   in files/s: a plain loop of ``pydicom.dcmread(f, stop_before_pixels=True)``
   (the baseline); a loop of the viewer's ``read_index_header``; the
   viewer's ``scan()`` in this thread (``processes=False``) and with its
   process pool (first run including the pool's start, then warm); dcmtk's
   ``dcmmkdir`` (builds a DICOMDIR, written outside the tree) and gdcm's
   ``gdcmscanner`` (10 tags) on the same tree, as whole processes.
   The same on a tree of 10,000 **small files** with few attributes
   (16x16 CT images, 25 attributes and pixel data, about 1.4 KB each), where per-file costs
   dominate: the pydicom loop, ``read_index_header``, ``scan`` and
   ``open_paths`` (the scan with the catalog, what the window and
   ``dicom-viewer index`` do). Then **whole processes**, start-up
   included, runs alternating, files warm: ``python -m viewer index TREE
   --json`` (stdout to /dev/null) against a process running the plain
   pydicom loop (listing the files with ``os.walk``), on both trees.
2. **Loading a volume** of 1,000 uncompressed 512x512 CT slices, in
   slices/s: ``np.stack([pydicom.dcmread(f).pixel_array ...])`` (the
   baseline); the app's path, ``volume_from_files`` (what the MPR workspace
   and ``export --plane`` build: ``read_series_headers``, stack geometry,
   the slices read into the volume, the rescale applied; checked equal to
   pydicom's stack with the rescale), and the same with ``read_index_header``
   for every slice (the path before); the headers alone both ways;
   ``load_volume(paths, headers)`` alone and with each header reader; SimpleITK's
   ``ImageSeriesReader`` (``GetGDCMSeriesFileNames`` then ``Execute``) in
   its own virtualenv (/tmp/sitk-venv, so the project's is untouched),
   timed inside that process (interpreter start and import excluded).
3. **Double-click to first image** of that 1,000-slice series: an offscreen
   MainWindow opened on its folder (time to ``series_opened``), then
   ``browser.series_activated.emit(series)`` (what a double-click emits)
   until the image viewport's first paint has finished (the project's
   ``FirstPaintProbe``: a paint-event filter, then a zero-delay timer).
   The window's frame cache is cleared before each repeat (and the files
   evicted for the cold rows). Baseline: ``pydicom.dcmread(f).pixel_array``
   of the same slice.
4. **A DICOMDIR with 5,000 IMAGE records** (dcmmkdir over a hard-linked copy
   of tree 1): ``read_dicomdir`` alone; ``MainWindow.open_paths([dicomdir])``
   until ``series_opened`` with all 50 series rows in the browser, and until
   the browser's next paint: its series strip (the default view), then the
   same runs with the full tree shown; pydicom's ``FileSet(dcmread(dicomdir))``
   as the baseline, and ``dcmread`` + its record sequence as the peer.

Warm = the files were just read (in the OS page cache). Cold = every file
evicted from the page cache first with ``posix_fadvise(POSIX_FADV_DONTNEED)``
(no privileges needed; vmtouch confirms the share left resident). Directory
entries and inodes stay cached, and the disk is a virtual one whose host may
cache it too: "cold" is the guest's page cache, not a spinning disk.

Run: ``.venv/bin/python benchmarks/bench_browser.py [--repeats N] [--only index,volume,first-image,dicomdir]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import _browser_data as data
from benchmarks._common import ensure_offscreen

PARTS = ("index", "volume", "first-image", "dicomdir")
SITK_PYTHON = os.environ.get("SITK_PYTHON", "/tmp/sitk-venv/bin/python")
GDCM_TAGS = [
    "0010,0010",
    "0010,0020",
    "0020,000d",
    "0020,000e",
    "0008,0018",
    "0020,0013",
    "0020,0032",
    "0020,0037",
    "0028,0010",
    "0028,0011",
]


@dataclass
class Rate:
    """One way of doing the work: durations (s) of warm and cold runs, items per run."""

    name: str
    items: int
    warm: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    note: str = ""

    def rate(self, cold: bool) -> float | None:
        runs = self.cold if cold else self.warm
        return self.items / statistics.median(runs) if runs else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def warm_up(paths: list[Path]) -> None:
    """Read every file once so it sits in the page cache."""
    buffer = bytearray(1 << 20)
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass


def shutdown_pool() -> None:
    """Stop the viewer's worker processes (the next scan starts them anew)."""
    from viewer.core.runtime import processes

    processes.shutdown_pool()


def timed(action: Callable[[], object]) -> float:
    gc.collect()
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


def measure(rate: Rate, action: Callable[[], object], files: list[Path], repeats: int, cold_repeats: int = 1) -> Rate:
    """Warm runs (after reading the files), then cold runs (after evicting them)."""
    warm_up(files)
    for _ in range(repeats):
        rate.warm.append(timed(action))
    for _ in range(cold_repeats):
        data.evict(files)
        rate.cold.append(timed(action))
    return rate


# ----------------------------------------------------------------------------- 1. indexing


@dataclass
class IndexResult:
    files: int
    rates: list[Rate]
    resident_after_evict: float | None
    tree: str = "index"
    processes: list[ProcessRuns] = field(default_factory=list)


@dataclass
class ProcessRuns:
    """Whole-process wall times (s) of one command and of its baseline, run in turn."""

    name: str
    baseline: list[float] = field(default_factory=list)
    runs: list[float] = field(default_factory=list)
    note: str = ""


def _pydicom_headers(root: Path) -> int:
    import pydicom

    from viewer.core.media.scan import iter_regular_files

    n = 0
    for path in iter_regular_files([root]):
        pydicom.dcmread(path, stop_before_pixels=True)
        n += 1
    return n


def _fast_headers(root: Path) -> int:
    from viewer.core.dicom.header import read_index_header
    from viewer.core.media.scan import iter_regular_files

    n = 0
    for path in iter_regular_files([root]):
        read_index_header(path)
        n += 1
    return n


def _floor(root: Path) -> int:
    """The floor under any indexer written in Python: list the tree (os.walk, i.e. os.scandir)
    and read the first 512 bytes of every file (open, read, close), nothing parsed."""
    n = 0
    for top, _folders, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(top, name), os.O_RDONLY)
            try:
                os.read(fd, 512)
            finally:
                os.close(fd)
            n += 1
    return n


def _gdcmscanner(root: Path, n: int, repeats: int, files: list[Path]) -> list[Rate]:
    """gdcm's gdcmscanner over `root` (10 tags), as a whole process: its default parser and ``--strict``."""
    gdcmscanner = shutil.which("gdcmscanner")
    if gdcmscanner is None:
        return [Rate("gdcm gdcmscanner", n, note="not installed (apt-get install libgdcm-tools)")]
    args = [gdcmscanner, "-r", "-d", str(root)] + [a for tag in GDCM_TAGS for a in ("-t", tag)]
    return [
        measure(Rate(f"peer: gdcm gdcmscanner, {len(GDCM_TAGS)} tags (whole process)", n), lambda: _run_tool(args), files, repeats),
        measure(
            Rate(f"peer: gdcm gdcmscanner --strict, {len(GDCM_TAGS)} tags (whole process)", n),
            lambda: _run_tool([*args, "--strict"]),
            files,
            repeats,
        ),
    ]


def _scan(root: Path, processes: bool, expected: int) -> int:
    from viewer.core.media.scan import scan

    progress = scan([root], lambda batch, progress: None, processes=processes)
    if progress.images_found != expected:
        raise RuntimeError(f"scan found {progress.images_found} images, expected {expected}")
    return progress.images_found


def _open_paths(root: Path, expected: int) -> int:
    from viewer.core.media.sources import open_paths

    result = open_paths([root])
    found = sum(len(series.instances) for series in result.series)
    if found != expected:
        raise RuntimeError(f"open_paths found {found} instances, expected {expected}")
    return found


#: The baseline process: the plain pydicom loop, files listed with os.walk.
PYDICOM_LOOP = """
import os, sys
import pydicom
for top, folders, names in os.walk(sys.argv[1]):
    for name in names:
        pydicom.dcmread(os.path.join(top, name), stop_before_pixels=True)
"""


def _process_env() -> dict[str, str]:
    """The repository first on the path; compiled modules cached, as for an installed viewer."""
    env = dict(os.environ, PYTHONPATH=str(data.REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_index_processes(root: Path, files: list[Path], repeats: int) -> ProcessRuns:
    """``python -m viewer index ROOT --json`` against the pydicom loop, each a whole
    process, alternating (one warm-up run of each first, not counted)."""
    runs = ProcessRuns(f"`dicom-viewer index {root.name} --json` (whole process)")
    env = _process_env()
    index = [sys.executable, "-m", "viewer", "index", str(root), "--json"]
    loop = [sys.executable, "-c", PYDICOM_LOOP, str(root)]

    def wall(args: list[str]) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=str(data.REPO))
        elapsed = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{args[2]} exited {proc.returncode}: {proc.stderr[-500:]!r}")
        return elapsed

    warm_up(files)
    wall(index), wall(loop)
    for _ in range(repeats):
        runs.runs.append(wall(index))
        runs.baseline.append(wall(loop))
    return runs


def _run_tool(args: list[str]) -> None:
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {proc.returncode}: {proc.stderr[-500:]}")


def run_index(repeats: int) -> IndexResult:
    root = data.index_tree()
    files = data.files_below(root)
    n = len(files)
    rates = [
        measure(Rate("baseline: pydicom.dcmread(f, stop_before_pixels=True) loop", n), lambda: _pydicom_headers(root), files, repeats),
        measure(Rate("viewer read_index_header loop (no scan bookkeeping)", n), lambda: _fast_headers(root), files, repeats),
        measure(Rate("viewer scan(processes=False)", n), lambda: _scan(root, False, n), files, repeats),
    ]
    # The pool: its first run starts the forkserver and the workers.
    shutdown_pool()
    warm_up(files)
    first = Rate("viewer scan() with process pool, first run (pool start included)", n)
    first.warm.append(timed(lambda: _scan(root, True, n)))
    shutdown_pool()
    data.evict(files)
    first.cold.append(timed(lambda: _scan(root, True, n)))
    rates.append(first)
    rates.append(measure(Rate("viewer scan() with process pool, started", n), lambda: _scan(root, True, n), files, repeats))
    shutdown_pool()
    data.evict(files)
    resident = data.resident_fraction(root)

    dcmmkdir = shutil.which("dcmmkdir")
    if dcmmkdir:
        out = data.ROOT / "out"
        out.mkdir(exist_ok=True)

        def make_dicomdir() -> None:
            (out / "DICOMDIR").unlink(missing_ok=True)
            series = sorted(p.name for p in root.iterdir() if p.is_dir())
            _run_tool([dcmmkdir, *data.DCMMKDIR_ARGS, "+id", str(root), "+D", str(out / "DICOMDIR"), *series])

        rates.append(measure(Rate("dcmtk dcmmkdir (whole process, writes a 2 MB DICOMDIR)", n), make_dicomdir, files, 1))
    else:
        rates.append(Rate("dcmtk dcmmkdir", n, note="not installed (apt-get install dcmtk)"))
    rates += _gdcmscanner(root, n, repeats, files)
    rates.append(
        measure(Rate("floor: os.walk + open/read 512 bytes/close per file (nothing parsed)", n), lambda: _floor(root), files, repeats)
    )
    result = IndexResult(n, rates, resident)
    result.processes.append(run_index_processes(root, files, max(repeats, 5)))
    return result


def run_small_index(repeats: int) -> IndexResult:
    """The same measures on 10,000 small files (16x16 CT, 25 attributes)."""
    root = data.small_tree()
    files = data.files_below(root)
    n = len(files)
    rates = [
        measure(Rate("baseline: pydicom.dcmread(f, stop_before_pixels=True) loop", n), lambda: _pydicom_headers(root), files, repeats),
        measure(Rate("viewer read_index_header loop (no scan bookkeeping)", n), lambda: _fast_headers(root), files, repeats),
        measure(Rate("viewer scan(processes=False)", n), lambda: _scan(root, False, n), files, repeats),
        measure(
            Rate("viewer open_paths (scan + catalog: the window's and `index`'s work)", n), lambda: _open_paths(root, n), files, repeats
        ),
        *_gdcmscanner(root, n, repeats, files),
        measure(Rate("floor: os.walk + open/read 512 bytes/close per file (nothing parsed)", n), lambda: _floor(root), files, repeats),
    ]
    data.evict(files)
    result = IndexResult(n, rates, data.resident_fraction(root), tree="small")
    result.processes.append(run_index_processes(root, files, max(repeats, 5)))
    return result


def markdown_index(result: IndexResult) -> str:
    base = result.rates[0]
    lines = [
        "| method | warm files/s | warm / baseline | cold files/s | cold / baseline | warm runs (s) | cold run (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rate in result.rates:
        lines.append(_rate_row(rate, base, result.files))
    peer = next((r for r in result.rates if r.name.startswith("peer: gdcm gdcmscanner,") and r.warm), None)
    if peer is not None:
        lines += [
            "",
            "Against gdcmscanner (its default parser) in the same run, files/s over its files/s (goal, issue #18: at least 0.4x):",
            "",
        ]
        for rate in result.rates:
            if rate is not peer and rate.warm and not rate.name.startswith("peer:"):
                cold = f", cold {rate.rate(True) / peer.rate(True):.2f}x" if rate.cold and peer.cold else ""
                lines.append(f"* {rate.name}: warm **{rate.rate(False) / peer.rate(False):.2f}x**{cold}")
    return "\n".join(lines)


def markdown_processes(results: list[IndexResult]) -> str:
    lines = [
        "| command | files | runs (s) | min (s) | median (s) | baseline: pydicom loop process, min / median (s) | ratio (baseline / index), min / median |",
        "|---|---|---|---|---|---|---|",
    ]
    for result, runs in ((result, runs) for result in results for runs in result.processes):
        if runs.note:
            lines.append(f"| {runs.name} | {result.files:,} | {runs.note} | - | - | - | - |")
            continue
        mins = (min(runs.baseline), min(runs.runs))
        medians = (statistics.median(runs.baseline), statistics.median(runs.runs))
        lines.append(
            f"| {runs.name} | {result.files:,} | {', '.join(f'{r:.2f}' for r in runs.runs)} | {mins[1]:.2f} | **{medians[1]:.2f}** | "
            f"{mins[0]:.2f} / {medians[0]:.2f} | {mins[0] / mins[1]:.2f}x / **{medians[0] / medians[1]:.2f}x** |"
        )
    return "\n".join(lines)


def _rate_row(rate: Rate, base: Rate, items: int) -> str:
    if rate.note:
        return f"| {rate.name} | - | - | - | - | {rate.note} | - |"
    cells = []
    for cold in (False, True):
        value, reference = rate.rate(cold), base.rate(cold)
        cells.append(f"**{value:,.0f}**" if value else "-")
        cells.append(f"{value / reference:.2f}x" if value and reference else "-")
    warm_runs = ", ".join(f"{d:.2f}" for d in rate.warm) or "-"
    cold_runs = ", ".join(f"{d:.2f}" for d in rate.cold) or "-"
    return f"| {rate.name} | {cells[0]} | {cells[1]} | {cells[2]} | {cells[3]} | {warm_runs} | {cold_runs} |"


# ----------------------------------------------------------------------------- 2. volume

SITK_SCRIPT = """
import json, sys, time
import SimpleITK as sitk
folder = sys.argv[1]
t0 = time.perf_counter()
names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder)
t1 = time.perf_counter()
reader = sitk.ImageSeriesReader()
reader.SetFileNames(names)
image = reader.Execute()
t2 = time.perf_counter()
array = sitk.GetArrayViewFromImage(image)
print(json.dumps({"names_s": t1 - t0, "read_s": t2 - t1, "slices": len(names), "shape": list(array.shape),
                  "dtype": str(array.dtype), "version": sitk.Version.VersionString()}))
"""


@dataclass
class VolumeResult:
    slices: int
    rates: list[Rate]
    checks: list[str]


def run_volume(repeats: int) -> VolumeResult:
    import pydicom

    from viewer.core.dicom.header import read_index_header
    from viewer.core.dicom.series_headers import read_series_headers
    from viewer.core.display.pixels.native import load_volume

    folder = data.ct_tree()
    files = data.files_below(folder)
    n = len(files)
    checks = []

    def pydicom_stack():
        return np.stack([pydicom.dcmread(f).pixel_array for f in files])

    def headers():
        return [read_index_header(f) for f in files]

    cached_headers = headers()

    def volume():
        return load_volume(files, cached_headers)

    def both():
        return load_volume(files, headers())

    reference = pydicom_stack()
    ours = volume()
    same = reference.shape == ours.shape and reference.dtype == ours.dtype and np.array_equal(reference, ours)
    checks.append(f"load_volume equals the pydicom stack: {same} ({ours.shape}, {ours.dtype})")
    del reference, ours
    from viewer.core.display.volume import build_volume, images_of_file, volume_from_files

    def app_volume():
        """What the MPR workspace and ``export --plane`` run: headers (read_series_headers), geometry, modality values."""
        return volume_from_files(files)

    def app_volume_old_headers():
        """The same with every header read by read_index_header (the app's path before read_series_headers)."""
        return build_volume([image for f in files for image in images_of_file(f)])

    def pydicom_modality():
        """pydicom's stack in the volume's order (along the slices' z, CT axial) with the rescale applied."""
        datasets = sorted((pydicom.dcmread(f) for f in files), key=lambda ds: float(ds.ImagePositionPatient[2]))
        return np.stack([ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept) for ds in datasets])

    reference = pydicom_modality()
    app = app_volume().voxels
    same = reference.shape == app.shape and np.array_equal(reference, app)
    checks.append(f"volume_from_files (the app's path) equals pydicom's stack with Rescale applied: {same} ({app.shape}, {app.dtype})")
    del reference, app
    rates = [
        measure(Rate("baseline: np.stack(pydicom.dcmread(f).pixel_array for f)", n), pydicom_stack, files, repeats),
        measure(Rate("**app's path: volume_from_files (read_series_headers + build_volume)**", n), app_volume, files, repeats),
        measure(Rate("app's path before: read_index_header each + build_volume", n), app_volume_old_headers, files, repeats),
        measure(Rate("viewer read_series_headers, all slices (headers alone)", n), lambda: read_series_headers(files), files, repeats),
        measure(Rate("viewer read_index_header, all slices (headers alone)", n), headers, files, repeats),
        measure(Rate("viewer load_volume(paths, headers) (headers already read)", n), volume, files, repeats),
        measure(Rate("viewer read_index_header + load_volume (together)", n), both, files, repeats),
        measure(
            Rate("viewer read_series_headers + load_volume (together)", n),
            lambda: load_volume(files, read_series_headers(files)),
            files,
            repeats,
        ),
    ]
    shape, dtype = (n, 512, 512), np.int16
    # The memory floor under any loader: page faults and writes of a fresh 512 MB array.
    rates.append(
        measure(
            Rate("floor: np.empty(volume) + fill (fresh 512 MB, no file read)", n),
            lambda: np.empty(shape, dtype).fill(0),
            files,
            repeats,
            cold_repeats=0,
        )
    )
    size = max(os.path.getsize(f) for f in files)

    def read_files() -> None:
        """Every file's bytes into a fresh array by 4 threads (readinto, as load_volume reads): the read's floor."""
        from concurrent.futures import ThreadPoolExecutor

        into = np.empty((n, size), np.uint8)

        def one(i: int) -> None:
            with open(files[i], "rb", buffering=0) as f:
                f.readinto(memoryview(into[i]))

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(n)))

    rates.append(
        measure(Rate("floor: every file's bytes read into a fresh array (4 threads, nothing parsed)", n), read_files, files, repeats)
    )
    rates += _sitk_rates(folder, files, n, repeats, checks)
    return VolumeResult(n, rates, checks)


def _sitk_rates(folder: Path, files: list[Path], n: int, repeats: int, checks: list[str]) -> list[Rate]:
    names = Rate("SimpleITK GetGDCMSeriesFileNames (headers + sort)", n)
    read = Rate("SimpleITK ImageSeriesReader.Execute (file names given)", n)
    together = Rate("SimpleITK file names + Execute (together)", n)
    if not os.path.exists(SITK_PYTHON):
        note = f"skipped: no {SITK_PYTHON} (python3 -m venv /tmp/sitk-venv && /tmp/sitk-venv/bin/pip install SimpleITK)"
        return [Rate("SimpleITK ImageSeriesReader", n, note=note)]

    def once(cold: bool) -> None:
        if cold:
            data.evict(files)
        else:
            warm_up(files)
        proc = subprocess.run([SITK_PYTHON, "-c", SITK_SCRIPT, str(folder)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"SimpleITK run failed: {proc.stderr[-800:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        if out["slices"] != n:
            raise RuntimeError(f"SimpleITK read {out['slices']} slices, expected {n}")
        runs = "cold" if cold else "warm"
        getattr(names, runs).append(out["names_s"])
        getattr(read, runs).append(out["read_s"])
        getattr(together, runs).append(out["names_s"] + out["read_s"])
        if len(checks) < 2:
            checks.append(f"SimpleITK {out['version']}: volume {tuple(out['shape'])}, {out['dtype']}")

    try:
        for _ in range(repeats):
            once(False)
        once(True)
    except (RuntimeError, OSError, ValueError) as exc:
        return [Rate("SimpleITK ImageSeriesReader", n, note=f"failed: {exc}")]
    return [names, read, together]


def markdown_volume(result: VolumeResult) -> str:
    base = result.rates[0]
    lines = [
        "| method | warm slices/s | warm / baseline | cold slices/s | cold / baseline | warm runs (s) | cold run (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_rate_row(rate, base, result.slices) for rate in result.rates]
    return "\n".join(lines) + "\n\n" + "\n".join(f"Check: {c}." for c in result.checks)


# ----------------------------------------------------------------------------- Qt helpers


def _application():
    ensure_offscreen()
    from PySide6.QtCore import QStandardPaths
    from PySide6.QtWidgets import QApplication

    # The window remembers recent folders in QSettings: keep the user's own settings untouched.
    QStandardPaths.setTestModeEnabled(True)
    return QApplication.instance() or QApplication(sys.argv[:1])


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop (blocking, as the app's own does) until `condition()` or timeout."""
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(1)
    poll.timeout.connect(lambda: (condition() or time.monotonic() > deadline) and loop.quit())
    poll.start()
    if not condition():
        loop.exec()
    poll.stop()
    return condition()


def _quiesce(window, seconds: float = 0.3) -> None:
    """Let background prefetch and thumbnails stop (benchmark only: cancels the prefetch token)."""
    window.viewport.stop_prefetch()
    end = time.monotonic() + seconds
    _wait(lambda: time.monotonic() > end, seconds + 1)


class PaintTimes:
    """Perf-counter times of a widget's next paint: its start (event) and end (zero timer)."""

    def __init__(self, widget):
        from viewer.ui.window.paint_probe import FirstPaintProbe

        self.started: float | None = None
        self.finished: float | None = None
        self._log = PaintLog(widget, once=True)
        self._probe = FirstPaintProbe(widget, self._done)

    def _done(self) -> None:
        self.finished = time.perf_counter()
        self.started = self._log.started[0] if self._log.started else None


class PaintLog:
    """Perf-counter times at which a widget's paint events started."""

    def __init__(self, widget, once: bool = False):
        from PySide6.QtCore import QEvent, QObject

        self.started: list[float] = []
        log = self

        class Filter(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint:
                    log.started.append(time.perf_counter())
                    if once:
                        widget.removeEventFilter(self)
                return False

        self._filter = Filter(widget)
        self._widget = widget
        widget.installEventFilter(self._filter)

    def remove(self) -> None:
        self._widget.removeEventFilter(self._filter)


# ----------------------------------------------------------------------------- 3. first image


@dataclass
class FirstImageResult:
    open_s: float
    slices: int
    warm: list[tuple[float, float, float]]  # (show_series returned, paint started, paint finished) after t0
    cold: list[tuple[float, float, float]]
    store_frame_s: list[float]
    baseline_s: list[float]


def run_first_image(repeats: int) -> FirstImageResult:
    import pydicom

    from viewer.core.display.frames import FrameSource
    from viewer.ui.window.main_window import MainWindow

    folder = data.ct_tree()
    files = data.files_below(folder)
    app = _application()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    opened = []
    window.series_opened.connect(lambda: opened.append(time.perf_counter()))
    warm_up(files)
    t0 = time.perf_counter()
    window.open_paths([folder])
    if not _wait(lambda: bool(opened), 120):
        raise RuntimeError("the folder did not open within 120 s")
    open_s = opened[0] - t0
    series = window.series[0]
    if series.image_count != len(files):
        raise RuntimeError(f"series has {series.image_count} images, expected {len(files)}")
    viewport = window.pane.view.viewport()

    def once(cold: bool) -> tuple[float, float, float]:
        _quiesce(window)
        window.frame_source.clear()
        gc.collect()
        if cold:
            data.evict(files)
        probe = PaintTimes(viewport)
        t0 = time.perf_counter()
        window.browser.series_activated.emit(series)  # what a double-click on the row emits
        returned = time.perf_counter()
        if not _wait(lambda: probe.finished is not None, 10):
            raise RuntimeError("the image viewport was not painted within 10 s")
        if window.frame is None:
            raise RuntimeError("no frame shown")
        return returned - t0, probe.started - t0, probe.finished - t0

    warm = [once(False) for _ in range(repeats)]
    cold = [once(True) for _ in range(repeats)]
    _quiesce(window)
    shown = window.images[window.display.state.index].instance.path
    store_frame = []
    baseline = []
    for _ in range(repeats):
        ref = window.images[window.display.state.index]
        store_frame.append(timed(lambda: FrameSource().frame(ref)))
        baseline.append(timed(lambda: pydicom.dcmread(shown).pixel_array))
    window.close()
    window.deleteLater()
    app.processEvents()
    shutdown_pool()
    return FirstImageResult(open_s, len(files), warm, cold, store_frame, baseline)


def markdown_first_image(result: FirstImageResult) -> str:
    base = statistics.median(result.baseline_s)
    lines = [
        "| step | median (ms) | min (ms) | max (ms) | median / baseline |",
        "|---|---|---|---|---|",
    ]

    def row(name: str, values: list[float], bold: bool = False) -> None:
        median = statistics.median(values)
        shown = f"**{median * 1e3:.1f}**" if bold else f"{median * 1e3:.1f}"
        lines.append(f"| {name} | {shown} | {min(values) * 1e3:.1f} | {max(values) * 1e3:.1f} | {median / base:.1f}x |")

    for label, runs in (("warm", result.warm), ("cold", result.cold)):
        row(f"{label}: series_activated -> show_series returned", [r[0] for r in runs])
        row(f"{label}: series_activated -> viewport paint event", [r[1] for r in runs])
        row(f"{label}: series_activated -> **first image painted** (paint finished)", [r[2] for r in runs], bold=True)
    row("breakdown: FrameSource().frame(middle slice) alone, warm", result.store_frame_s)
    row("baseline: pydicom.dcmread(middle slice).pixel_array, warm", result.baseline_s)
    lines.append(
        f"| context: open_paths([folder of {result.slices} slices]) -> series_opened, warm files | {result.open_s * 1e3:.0f} | - | - | - |"
    )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- 4. DICOMDIR


@dataclass
class DicomdirResult:
    records: int
    series_rows: int
    read_dicomdir: Rate
    pydicom_read: Rate
    pydicom_fileset: Rate
    window_rows: list[float]
    window_opened: list[float]
    window_painted: list[float]
    tree_rows: list[float] = field(default_factory=list)
    tree_painted: list[float] = field(default_factory=list)


def run_dicomdir(repeats: int) -> DicomdirResult:
    import pydicom
    from pydicom.fileset import FileSet

    from viewer.core.media.dicomdir import read_dicomdir
    from viewer.ui.window.main_window import MainWindow

    dicomdir = data.media_tree()
    media = read_dicomdir(dicomdir)
    records = len(media.images)
    files = [dicomdir]
    ours = measure(Rate("viewer read_dicomdir", records), lambda: read_dicomdir(dicomdir), files, repeats)
    # dcmread leaves the record sequence as raw bytes until it is accessed: access it.
    plain = measure(
        Rate("pydicom.dcmread(DICOMDIR) + parse its record sequence", records),
        lambda: len(pydicom.dcmread(dicomdir).DirectoryRecordSequence),
        files,
        repeats,
    )
    fileset = measure(
        Rate("baseline: pydicom FileSet(dcmread(DICOMDIR))", records), lambda: FileSet(pydicom.dcmread(dicomdir)), files, repeats
    )

    app = _application()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    opened: list[float] = []
    window.series_opened.connect(lambda: opened.append(time.perf_counter()))
    expected_series = len({str(image.header.SeriesInstanceUID) for image in media.images})
    rows_added: list[float] = []
    window.opener.series_changed.connect(lambda _changed: rows_added.append(time.perf_counter()))  # after the browser's slot
    runs: dict[bool, tuple[list[float], list[float], list[float]]] = {}
    for tree in (False, True):  # the series strip (the browser's default view), then the full tree
        window.browser.show_tree(tree)
        opened_s, rows_s, painted_s = runs.setdefault(tree, ([], [], []))
        for _ in range(repeats):
            window.close_all()
            _quiesce(window, 0.5)
            opened.clear()
            rows_added.clear()
            view = window.browser.views.currentWidget()
            paints = PaintLog(view.viewport())
            t0 = time.perf_counter()
            window.open_paths([dicomdir])
            if not _wait(lambda: bool(opened), 60):
                raise RuntimeError("the DICOMDIR did not open within 60 s")
            rows = len(window.browser.series_items())
            if rows != expected_series:
                raise RuntimeError(f"{rows} series rows in the browser, expected {expected_series}")
            # The rows were added before series_opened; the view paints them on a later pass of the loop.
            _wait(lambda: any(t > rows_added[-1] for t in paints.started), 5)
            paints.remove()
            opened_s.append(opened[0] - t0)
            rows_s.append(rows_added[-1] - t0)
            painted_s.append(next((t for t in paints.started if t > rows_added[-1]), float("nan")) - t0)
    window.browser.show_tree(False)
    window.close()
    window.deleteLater()
    app.processEvents()
    shutdown_pool()
    (opened_s, rows_s, painted_s), (_, tree_rows, tree_painted) = runs[False], runs[True]
    return DicomdirResult(records, expected_series, ours, plain, fileset, rows_s, opened_s, painted_s, tree_rows, tree_painted)


def markdown_dicomdir(result: DicomdirResult) -> str:
    base_warm = _median(result.pydicom_fileset.warm)
    lines = [
        "| step | warm median (ms) | warm / baseline | cold (ms) | records/s warm |",
        "|---|---|---|---|---|",
    ]
    for rate in (result.read_dicomdir, result.pydicom_read, result.pydicom_fileset):
        warm = _median(rate.warm)
        lines.append(
            f"| {rate.name} | **{warm * 1e3:.0f}** | {warm / base_warm:.2f}x | {_median(rate.cold) * 1e3:.0f} | {rate.items / warm:,.0f} |"
        )
    rows = statistics.median(result.window_rows)
    opened = statistics.median(result.window_opened)
    painted = statistics.median(result.window_painted)
    lines.append(
        f"| MainWindow.open_paths([DICOMDIR]) -> all {result.series_rows} series rows added to the browser "
        f"| {rows * 1e3:.0f} | {rows / base_warm:.2f}x | - | {result.records / rows:,.0f} |"
    )
    lines.append(
        f"| the same -> series_opened (first series shown, status updated) "
        f"| {opened * 1e3:.0f} | {opened / base_warm:.2f}x | - | {result.records / opened:,.0f} |"
    )
    lines.append(
        f"| the same -> **the browser's series strip (its default view) painted with the rows** (paint event start) "
        f"| **{painted * 1e3:.0f}** | {painted / base_warm:.2f}x | - | - |"
    )
    if result.tree_painted:
        tree_rows, tree_painted = statistics.median(result.tree_rows), statistics.median(result.tree_painted)
        lines.append(
            f"| the same, the full tree shown: all {result.series_rows} series rows added | {tree_rows * 1e3:.0f} "
            f"| {tree_rows / base_warm:.2f}x | - | {result.records / tree_rows:,.0f} |"
        )
        lines.append(
            f"| the same -> **browser tree painted with the rows** (paint event start) | **{tree_painted * 1e3:.0f}** "
            f"| {tree_painted / base_warm:.2f}x | - | - |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- all


@dataclass
class Results:
    index: IndexResult | None = None
    small_index: IndexResult | None = None
    volume: VolumeResult | None = None
    first_image: FirstImageResult | None = None
    dicomdir: DicomdirResult | None = None


def run(repeats: int = 2, parts: tuple[str, ...] = PARTS, log=lambda text: None) -> Results:
    results = Results()
    for part in parts:
        started = time.monotonic()
        if part == "index":
            results.index = run_index(repeats)
            results.small_index = run_small_index(repeats)
        elif part == "volume":
            results.volume = run_volume(repeats)
        elif part == "first-image":
            results.first_image = run_first_image(max(repeats, 5))
        elif part == "dicomdir":
            results.dicomdir = run_dicomdir(max(repeats, 3))
        else:
            raise ValueError(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
        log(f"bench_browser {part}: {time.monotonic() - started:.0f} s")
    return results


def code_state() -> str:
    """Which code was measured: the commit, and files changed in the work tree (read-only git calls)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=data.REPO, capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "viewer"], cwd=data.REPO, capture_output=True, text=True).stdout
    except OSError:
        return "unknown"
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    return f"commit {commit}" + (f", with uncommitted changes in {', '.join(changed)}" if changed else "")


def markdown(results: Results) -> str:
    """The report's sections (level-2 headings), for the parts that ran."""
    sections = [f"Browser benchmarks measured the viewer at {code_state()}.", ""]
    if results.index is not None:
        resident = results.index.resident_after_evict
        sections += [
            f"## Folder indexing, {results.index.files:,} files (files/s)",
            "",
            "Target (issue): at least 2x the plain pydicom loop, warm and cold.",
            "",
            markdown_index(results.index),
            "",
            "Cold = after posix_fadvise(DONTNEED) of every file"
            + (f" (vmtouch: {resident:.0%} of the tree's pages left resident)." if resident is not None else "."),
            "",
        ]
    if results.small_index is not None:
        sections += [
            f"## Folder indexing, {results.small_index.files:,} small files (files/s)",
            "",
            "16x16 CT images with 25 attributes and their pixel data, about 1.4 KB a file: per-file costs, not header parsing.",
            "",
            markdown_index(results.small_index),
            "",
        ]
    processes = [r for r in (results.index, results.small_index) if r is not None and r.processes]
    if processes:
        sections += [
            "## `dicom-viewer index` as a whole process (s, files warm, runs alternating with the baseline)",
            "",
            "Target (issue): the whole `index` process at least 2x a plain "
            "`pydicom.dcmread(f, stop_before_pixels=True)` loop process over the same files, on 10,000 small files.",
            "",
            markdown_processes(processes),
            "",
        ]
    if results.volume is not None:
        sections += [
            f"## Loading a {results.volume.slices}-slice 512x512 CT volume (slices/s)",
            "",
            "Targets (issue): at least 1000 slices/s warm, at least 5x the plain pydicom loop.",
            "",
            markdown_volume(results.volume),
            "",
        ]
    if results.first_image is not None:
        fi = results.first_image
        sections += [
            f"## Double-click to first image, {fi.slices}-slice CT series (ms, {len(fi.warm)} repeats each)",
            "",
            "Target (issue): under 150 ms.",
            "",
            markdown_first_image(fi),
            "",
        ]
    if results.dicomdir is not None:
        dd = results.dicomdir
        sections += [
            f"## DICOMDIR with {dd.records:,} IMAGE records to the browser (ms, {len(dd.window_opened)} repeats)",
            "",
            "Target (issue): the tree filled in under 0.5 s.",
            "",
            markdown_dicomdir(dd),
            "",
        ]
    return "\n".join(sections).rstrip() + "\n"


NOTES = """\
* **Browser data** (generated once into `/tmp/dicom-viewer-bench`, see `benchmarks/_browser_data.py`):
  the index tree is 50 series x 100 files of pydicom's MR-SIEMENS-DICOM-WithOverlays.dcm (real Siemens
  header: about 40 KB of CSA private data and an overlay) with new UIDs, numbers and positions, pixels shrunk
  from 484x484 to 64x64 (about 50 KB a file, 250 MB in all). The small-file tree is 20 patients x 5 series
  x 100 CT images made with pydicom: 25 attributes and 16x16 pixels, about 1.4 KB a file. The CT volume is 1,000 copies of 693_UNCI.dcm
  (real CT, 512x512 int16, uncompressed, 526 KB a file) with new UIDs and z positions. The DICOMDIR is
  dcmmkdir's (`+r -Pgp +I`) over a hard-linked copy of the index tree: 5,000 IMAGE records.
* **Warm / cold**: warm = files just read; cold = evicted from the page cache with
  `posix_fadvise(POSIX_FADV_DONTNEED)`. Dentries and inodes stay cached, and the virtual disk's host may
  cache the data too, so cold here is milder than a real first read from a disk or a CD.
* **dcmmkdir and gdcmscanner** are timed as whole processes (about 10 ms of process start); SimpleITK is timed
  inside its own process (start and import excluded), run from a separate virtualenv.
* **`dicom-viewer index` processes**: `python -m viewer index TREE --json` (stdout to /dev/null) and the
  baseline process (`os.walk` + `pydicom.dcmread(f, stop_before_pixels=True)` per file), both with compiled
  modules cached, one warm-up run each, then run in turn; wall time from start to exit, files warm.
* **Double-click** = `browser.series_activated.emit(series)` (the tree's `doubleClicked` handler emits it) with
  the window's frame cache cleared; "paint finished" is the project's `FirstPaintProbe` (the zero-delay timer
  after the viewport's paint event). The background prefetch of the previous repeat is cancelled first.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="warm runs per method (default 2)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts (default {','.join(PARTS)})")
    args = parser.parse_args(argv)
    parts = tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    results = run(args.repeats, parts, log=lambda text: print(text, file=sys.stderr))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
