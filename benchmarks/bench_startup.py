"""Start-up: process start to main window painted, and to the first image painted.

Runs ``python -m viewer [693_UNCI.dcm]`` with DICOM_VIEWER_STARTUP_REPORT=1,
which prints ``window-painted <time.time()>`` and ``image-painted
<time.time()>`` when those widgets receive their first paint event, then
quits. The clock starts (``time.time()``) right before the process is
started, so the figures include interpreter start, imports, and Qt set-up.

Baseline, measured the same way in the same run: a process that imports
PySide6.QtWidgets, shows an empty QWidget and quits after its first paint
(the same probe as the viewer's FirstPaintProbe: a paint event filter, then a
zero-delay timer). The ratio to it means something on any machine.

Each command runs ``--repeats`` times (default 7); the first run is cold (disk
cache, .pyc files) and discarded; median and min of the rest are "warm".

Run: ``.venv/bin/python benchmarks/bench_startup.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import REPO, python_executable  # noqa: E402

TIMEOUT_S = 60

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


@dataclass(frozen=True)
class Timing:
    """Seconds from just before process start to each event it reported."""

    name: str
    marks: dict[str, list[float]]  # event -> warm runs (the cold one dropped)
    cold: dict[str, float]


def ct_path() -> str:
    from pydicom.data import get_testdata_file

    return get_testdata_file("693_UNCI.dcm", download=False)


def run_once(args: list[str]) -> dict[str, float]:
    env = dict(os.environ)
    env["DICOM_VIEWER_STARTUP_REPORT"] = "1"
    env["QT_QPA_PLATFORM"] = env.get("QT_QPA_PLATFORM", "offscreen")
    start = time.time()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    marks = {}
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("window-painted", "image-painted", "exited"):
            marks[parts[0]] = float(parts[1]) - start
    if proc.returncode != 0 or not marks:
        raise RuntimeError(f"{args!r} exited {proc.returncode} without a report:\n{proc.stdout}\n{proc.stderr}")
    return marks


def measure(name: str, args: list[str], repeats: int, expected: tuple[str, ...]) -> Timing:
    runs = [run_once(args) for _ in range(repeats)]
    for marks in runs:
        missing = [event for event in expected if event not in marks]
        if missing:
            raise RuntimeError(f"{name}: no {', '.join(missing)} reported (got {marks})")
    warm = runs[1:] if len(runs) > 1 else runs
    return Timing(name, {event: [m[event] for m in warm] for event in expected}, dict(runs[0]))


def interpreter_only(python: str, repeats: int) -> Timing:
    """A bare interpreter, start to exit: the floor under every figure."""
    durations = []
    for _ in range(repeats):
        start = time.time()
        subprocess.run([python, "-c", "pass"], check=True, timeout=TIMEOUT_S)
        durations.append(time.time() - start)
    return Timing("bare interpreter (`python -c pass`, start to exit)", {"exited": durations[1:] or durations}, {"exited": durations[0]})


def run(repeats: int = 7) -> list[Timing]:
    python = python_executable()
    ct = ct_path()
    return [
        interpreter_only(python, repeats),
        measure("baseline: empty QWidget painted", [python, "-c", BASELINE], repeats, ("window-painted",)),
        measure("viewer, no file: window painted", [python, "-m", "viewer", "--new-window"], repeats, ("window-painted",)),
        measure(
            "viewer 693_UNCI.dcm (CT 512x512)",
            [python, "-m", "viewer", "--new-window", ct],
            repeats,
            ("window-painted", "image-painted"),
        ),
    ]


def markdown(timings: list[Timing]) -> str:
    baseline = next(t for t in timings if t.name.startswith("baseline")).marks["window-painted"]
    base_median = statistics.median(baseline)
    labels = {"exited": "process exited", "window-painted": "window painted", "image-painted": "first image painted"}
    lines = [
        "| process | event | warm median (ms) | warm min (ms) | cold (ms) | median / baseline median |",
        "|---|---|---|---|---|---|",
    ]
    for timing in timings:
        for event, values in timing.marks.items():
            median = statistics.median(values)
            lines.append(
                f"| {timing.name} | {labels[event]} | **{median * 1e3:.0f}** | {min(values) * 1e3:.0f} "
                f"| {timing.cold[event] * 1e3:.0f} | {median / base_median:.2f}x |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="runs per command, the first discarded (default 7)")
    args = parser.parse_args(argv)
    print(markdown(run(args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
