"""Shared helpers of the benchmarks: summary statistics and a description of the machine.

Benchmarks measure and report; they never assert a timing (figures vary by
machine). Every figure comes with a baseline measured in the same run so a
reader on another machine can compare ratios rather than milliseconds.
"""

from __future__ import annotations

import gc
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Windows built by a benchmark save their layout and recent files when they
# close: into a folder of the run's own, never the user's settings.
if "DICOM_VIEWER_BENCH_SETTINGS" not in os.environ:
    import atexit
    import shutil
    import tempfile

    os.environ["DICOM_VIEWER_BENCH_SETTINGS"] = tempfile.mkdtemp(prefix="bench-settings-")
    atexit.register(shutil.rmtree, os.environ["DICOM_VIEWER_BENCH_SETTINGS"], True)
    os.environ["XDG_CONFIG_HOME"] = os.environ["DICOM_VIEWER_BENCH_SETTINGS"]


@dataclass(frozen=True)
class Summary:
    """p50, p95 and max of a list of durations, in milliseconds."""

    n: int
    p50: float
    p95: float
    max: float

    @classmethod
    def of_ns(cls, durations_ns: list[int]) -> Summary:
        return cls.of_ms(np.asarray(durations_ns, dtype=np.float64) / 1e6)

    @classmethod
    def of_ms(cls, durations_ms) -> Summary:
        ms = np.asarray(durations_ms, dtype=np.float64)
        return cls(len(ms), float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.max()))


def timed(action: Callable[[int], object], steps: int, warmup: int = 2, collect: bool = False) -> Summary:
    """The :class:`Summary` of `steps` timed calls ``action(k)``, k from 0, after `warmup` untimed calls (k from 0 too).

    The garbage collector is off while timing, so that a collection owed to
    earlier steps does not land in one of them; with `collect`, it stays on
    (steps that allocate much: their collections are part of what the user
    waits for) and a full collection runs between steps, untimed, so that
    each starts from the same state.
    """
    for k in range(warmup):
        action(k)
    durations = []
    if not collect:
        gc.disable()
    try:
        for k in range(steps):
            start = time.perf_counter_ns()
            action(k)
            durations.append(time.perf_counter_ns() - start)
            if collect:
                gc.collect()
    finally:
        gc.enable()
    return Summary.of_ns(durations)


def load_average() -> str:
    """The machine's load averages (1, 5, 15 minutes) and its core count, as ``uptime`` gives them: how busy the run was."""
    try:
        one, five, fifteen = os.getloadavg()
    except (AttributeError, OSError):
        return "unknown"
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def ensure_offscreen() -> None:
    """Headless Qt unless the caller chose a platform (e.g. xcb under Xvfb)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def machine_description() -> dict[str, str]:
    """What a reader needs to judge the figures: cores, CPU and library versions."""
    info = {
        "cores": str(os.cpu_count()),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        import PySide6
        from PySide6.QtCore import qVersion

        info["PySide6"] = PySide6.__version__
        info["Qt"] = qVersion()
    except ImportError:
        pass
    try:
        import pyqtgraph

        info["pyqtgraph"] = pyqtgraph.__version__
    except ImportError:
        pass
    try:
        import pydicom

        info["pydicom"] = pydicom.__version__
    except ImportError:
        pass
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def python_executable() -> str:
    """The project's virtualenv Python when there is one, else this interpreter."""
    venv = os.path.join(REPO, ".venv", "bin", "python")
    return venv if os.path.exists(venv) else sys.executable
