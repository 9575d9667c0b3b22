"""Every test runs with its own per-user folders: nothing a test saves (window
layout, recent files, saved nodes, retrieved studies) reaches the real user's
settings, and nothing the real user saved changes a test's outcome.

Set here, at import, before Qt or the viewer read them; child processes
(the viewer started by a test) inherit them.

The real DICOM servers (Orthanc, dcmqrscp) serve both the network tests and
the query panel's UI tests: their session fixtures are a plugin registered
here, from tests/net where their helper module lives (benchmarks/bench_net.py
loads it from there too).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_HOME = tempfile.mkdtemp(prefix="dicom-viewer-tests-")
for _name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
    os.environ[_name] = os.path.join(_HOME, _name.removeprefix("XDG_").removesuffix("_HOME").lower())
    os.makedirs(os.environ[_name], exist_ok=True)
os.environ.pop("DICOM_VIEWER_CONFIG", None)
# Qt offscreen for every test (scripts/test sets it too): a bare `pytest` with no
# display would otherwise abort in the first test that makes a QApplication.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).with_name("net")))
pytest_plugins = ["server_fixtures"]
