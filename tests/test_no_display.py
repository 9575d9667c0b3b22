"""Without a display the window path says so in one line (exit 2) instead of Qt aborting (exit 134).

And scripts/setup-env installs every library Qt's xcb platform plugin loads,
so the window opens on a fresh X11 machine (Xvfb included).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.app import missing_display

ROOT = Path(__file__).resolve().parent.parent
CT = get_testdata_file("CT_small.dcm", download=False)

needs_x11_platform = pytest.mark.skipif(
    not sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")),
    reason="DISPLAY/WAYLAND_DISPLAY matter on X11/Wayland systems only",
)


def _without_display() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


@needs_x11_platform
@pytest.mark.parametrize("args", [[], ["--demo"], ["--new-window", CT]])
def test_no_display_is_one_line_and_exit_2(args):
    result = subprocess.run([sys.executable, "-m", "viewer", *args], env=_without_display(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dicom-viewer: no display found") and "headless commands" in lines[0]


@needs_x11_platform
def test_headless_commands_work_without_a_display(tmp_path):
    env = _without_display()
    out = tmp_path / "ct.png"
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "export", CT, "-o", str(out)], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and out.read_bytes().startswith(b"\x89PNG"), result.stderr
    result = subprocess.run([sys.executable, "-m", "viewer", "dump", CT], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "(0010,0010)" in result.stdout, result.stderr


@pytest.mark.parametrize(
    "environ, platform, blocked",
    [
        ({}, "linux", True),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"DISPLAY": ""}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "vnc:size=800x600"}, "linux", False),
        ({"QT_QPA_PLATFORM": "minimal"}, "freebsd14", False),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "wayland"}, "openbsd7", True),
        ({}, "darwin", False),
        ({}, "win32", False),
    ],
)
def test_which_environments_have_no_display(environ, platform, blocked):
    assert (missing_display(environ, platform) is not None) is blocked


def _setup_env_packages() -> set[str]:
    script = (ROOT / "scripts" / "setup-env").read_text()
    listed = re.search(r"^need_apt=\((.*?)\)", script, re.S | re.M)
    assert listed, "scripts/setup-env has no need_apt=(...) list"
    return set(listed.group(1).split())


@pytest.mark.skipif(shutil.which("ldd") is None or shutil.which("dpkg") is None, reason="needs ldd and dpkg (Debian)")
def test_setup_env_installs_every_library_of_qts_xcb_plugin():
    """Each X11 library that ldd finds for the xcb plugin comes from a package scripts/setup-env installs."""
    import PySide6

    qt = Path(PySide6.__file__).parent / "Qt"
    binaries = [qt / "plugins" / "platforms" / "libqxcb.so", qt / "lib" / "libQt6XcbQpa.so.6"]
    if not all(b.exists() for b in binaries):
        pytest.skip("this PySide6 has no xcb platform plugin")
    ldd = subprocess.run(["ldd", *map(str, binaries)], capture_output=True, text=True, timeout=60).stdout
    libraries = {name: path for name, path in re.findall(r"^\s*(\S*(?:xcb|xkb|X11)\S*) => (/\S+)", ldd, re.M)}
    assert "libxcb-cursor.so.0" in libraries  # Qt 6.5+ needs it: the list was read
    packages = set()
    for name, path in libraries.items():
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True, timeout=60)
        assert owner.returncode == 0, f"no package owns {name} ({path})"
        packages.add(owner.stdout.split(":")[0])
    assert packages - _setup_env_packages() == set()
