"""Shared helpers of the benchmarks: summary statistics and a description of the machine.

Benchmarks measure and report; they never assert a timing (figures vary by
machine). Every figure comes with a baseline measured in the same run so a
reader on another machine can compare ratios rather than milliseconds.
"""

from __future__ import annotations

import os
import platform
import sys
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
        ms = np.asarray(durations_ns, dtype=np.float64) / 1e6
        return cls(len(ms), float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(ms.max()))


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
