"""Packaging: the desktop files, --install-desktop against the real
freedesktop tools, and the PyInstaller bundle run headless.

The xdg tests run shared-mime-info and xdg-utils in a temporary XDG tree with
XDG_CURRENT_DESKTOP=X-Generic, so xdg-mime takes its generic path: File::MimeInfo's
``mimetype`` reading the shared-mime-info database, and mimeapps.list.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer import __version__, desktop

ROOT = Path(__file__).resolve().parents[1]
LINUX = ROOT / "packaging" / "linux"
SIZES = (16, 32, 48, 64, 128, 256)
CT = get_testdata_file("CT_small.dcm", download=False)
# The venv's launcher, as `.venv/bin/dicom-viewer`.
LAUNCHER = Path(sys.executable).parent / "dicom-viewer"


def _shipped_files(folder) -> dict[str, bytes]:
    return {str(rel): item.read_bytes() for rel, item in desktop._walk(folder)}


def test_package_data_is_a_copy_of_packaging_linux():
    """viewer/resources/linux (what wheels and the bundle carry) == packaging/linux; else run make_icons.py."""
    packaged = _shipped_files(resources.files("viewer").joinpath("resources", "linux"))
    source = {name: (LINUX / name).read_bytes() for name in ("dicom-viewer.desktop", "dicom-viewer.xml")}
    source.update(
        {str(Path("icons") / p.relative_to(LINUX / "icons")): p.read_bytes() for p in (LINUX / "icons").rglob("*") if p.is_file()}
    )
    assert packaged.keys() == source.keys()
    assert [n for n in source if packaged[n] != source[n]] == []


@pytest.mark.parametrize("size", SIZES)
def test_icon_png_has_its_folder_size(size):
    png = (LINUX / f"icons/hicolor/{size}x{size}/apps/dicom-viewer.png").read_bytes()
    # PNG signature, then the IHDR chunk: width and height, big-endian (PNG spec 11.2.2).
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR"
    assert struct.unpack(">II", png[16:24]) == (size, size)
    colour_type = png[25]
    assert colour_type == 6  # RGBA: the rounded corners are transparent


def test_scalable_icon_is_the_app_icon():
    assert (LINUX / "icons/hicolor/scalable/apps/dicom-viewer.svg").read_bytes() == (ROOT / "resources/dicom-viewer.svg").read_bytes()


def test_desktop_file_declares_the_type():
    entry = dict(line.split("=", 1) for line in (LINUX / "dicom-viewer.desktop").read_text().splitlines() if "=" in line)
    assert entry["Name"] == "DICOM Viewer"
    assert entry["Exec"] == "dicom-viewer %F"
    assert entry["Icon"] == "dicom-viewer"
    assert entry["MimeType"] == "application/dicom;"
    assert entry["Categories"] == "Graphics;MedicalSoftware;Science;"


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        # Expected text as it must appear in the file: the Desktop Entry spec's
        # quoting rule, then its string escaping (each backslash doubled).
        ("/usr/bin/dicom-viewer", "/usr/bin/dicom-viewer"),
        ("/home/a b/dicom-viewer", '"/home/a b/dicom-viewer"'),
        ("/opt/$x/dicom-viewer", '"/opt/\\\\$x/dicom-viewer"'),
        ('/opt/say "hi"/v', '"/opt/say \\\\"hi\\\\"/v"'),
        ("/opt/100%/v", "/opt/100%%/v"),
    ],
)
def test_exec_argument_quoting(argument, expected):
    assert desktop.exec_argument(argument) == expected


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None, reason="desktop-file-validate not installed (Debian: desktop-file-utils)"
)
@pytest.mark.parametrize("launcher", ["/usr/bin/dicom-viewer", "/home/user name/app's $dir/dicom-viewer"])
def test_installed_desktop_file_validates(tmp_path, launcher):
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": ""}
    report = desktop.install(env, command=[launcher])
    assert "not installed, skipped: update-mime-database" in report
    installed = tmp_path / "data/applications/dicom-viewer.desktop"
    result = subprocess.run(["desktop-file-validate", str(installed)], capture_output=True, text=True)
    assert "error" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.returncode == 0


def test_uninstall_keeps_other_applications_defaults(tmp_path):
    mimeapps = tmp_path / "mimeapps.list"
    mimeapps.write_text(
        "[Default Applications]\napplication/dicom=other.desktop;dicom-viewer.desktop;\n"
        "image/png=eog.desktop\n\n[Added Associations]\napplication/dicom=dicom-viewer.desktop;\n"
    )
    assert desktop._remove_default(mimeapps)
    assert mimeapps.read_text() == (
        "[Default Applications]\napplication/dicom=other.desktop;\nimage/png=eog.desktop\n\n[Added Associations]\n"
    )
    assert not desktop._remove_default(mimeapps)


# --- against shared-mime-info and xdg-utils -------------------------------

XDG_TOOLS = ("xdg-mime", "update-mime-database", "mimetype")
needs_xdg = pytest.mark.skipif(
    sys.platform != "linux" or any(shutil.which(t) is None for t in XDG_TOOLS),
    reason="needs xdg-mime, update-mime-database and mimetype on Linux "
    "(Debian: xdg-utils shared-mime-info libfile-mimeinfo-perl; without mimetype, "
    "xdg-mime asks file(1), which ignores the shared-mime-info database)",
)


def _xdg_env(tmp_path: Path, system_dirs: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "KDE_", "GNOME_", "MATE_", "DESKTOP_SESSION", "DBUS_"))}
    system = tmp_path / "system"  # an empty system data dir: only what we install counts
    system.mkdir(exist_ok=True)
    env.update(
        HOME=str(tmp_path / "home"),
        XDG_DATA_HOME=str(tmp_path / "home/.local/share"),
        XDG_CONFIG_HOME=str(tmp_path / "home/.config"),
        XDG_DATA_DIRS=system_dirs or str(system),
        XDG_CONFIG_DIRS=str(system),
        # xdg-mime: "X-Generic" selects its generic, desktop-independent path.
        XDG_CURRENT_DESKTOP="X-Generic",
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
    )
    return env


def _xdg_mime(env, *args) -> str:
    return subprocess.run(["xdg-mime", "query", *args], env=env, capture_output=True, text=True, timeout=60).stdout.strip()


def _dicom_files(folder: Path) -> list[Path]:
    folder.mkdir()
    files = [folder / "ct.dcm", folder / "ct.dicom", folder / "IM000001"]  # the last like a CD's files: no extension
    for f in files:
        shutil.copyfile(CT, f)
    return files


def _launcher() -> list[str]:
    return [str(LAUNCHER)] if LAUNCHER.exists() else [sys.executable, "-m", "viewer"]


@needs_xdg
@pytest.mark.parametrize("system_dirs", [None, "/usr/local/share:/usr/share"], ids=["only-ours", "with-system"])
def test_install_desktop_registers_type_and_default(tmp_path, system_dirs):
    env = _xdg_env(tmp_path, system_dirs)
    files = _dicom_files(tmp_path / "files")
    if system_dirs is None:
        # Nothing but our package can make these application/dicom.
        assert _xdg_mime(env, "filetype", str(files[-1])) != "application/dicom"

    result = subprocess.run([*_launcher(), "--install-desktop"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and result.stderr == ""
    assert "ran update-mime-database" in result.stdout and "xdg-mime default" in result.stdout

    data = Path(env["XDG_DATA_HOME"])
    entry = (data / "applications/dicom-viewer.desktop").read_text()
    expected_exec = desktop.exec_argument(str(LAUNCHER.resolve())) if LAUNCHER.exists() else None
    if expected_exec:
        assert f"\nExec={expected_exec} %F\n" in entry
    for size in SIZES:
        assert (data / f"icons/hicolor/{size}x{size}/apps/dicom-viewer.png").is_file()
    assert (data / "icons/hicolor/scalable/apps/dicom-viewer.svg").is_file()
    for f in files:
        assert _xdg_mime(env, "filetype", str(f)) == "application/dicom", f.name
    assert _xdg_mime(env, "default", "application/dicom") == "dicom-viewer.desktop"

    result = subprocess.run([*_launcher(), "--uninstall-desktop"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("dicom-viewer: removed 9 files")
    assert not (data / "applications/dicom-viewer.desktop").exists()
    assert not (data / "mime/packages/dicom-viewer.xml").exists()
    assert not list((data / "icons").rglob("dicom-viewer.*"))
    assert _xdg_mime(env, "default", "application/dicom") == ""
    if system_dirs is None:
        assert _xdg_mime(env, "filetype", str(files[-1])) != "application/dicom"

    again = subprocess.run([*_launcher(), "--uninstall-desktop"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.startswith("dicom-viewer: nothing to remove")


def test_install_desktop_failure_is_one_line_and_status_2(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env = {**os.environ, "XDG_DATA_HOME": str(blocker), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "--install-desktop"], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("dicom-viewer: cannot install in ")


# --- the PyInstaller bundle --------------------------------------------------

#: One file per decoder the bundle must carry; the bundle's PNG must equal
#: the un-bundled app's, byte for byte.
BUNDLE_EXPORTS = {
    "CT_small.dcm": "native (explicit VR little endian)",
    "693_J2KR.dcm": "JPEG 2000 lossless: pylibjpeg-openjpeg",
    "SC_rgb_jpeg_dcmtk.dcm": "JPEG baseline: Pillow",
    "MR_small_jpeg_ls_lossless.dcm": "JPEG-LS: pyjpegls",
    "JPGLosslessP14SV1_1s_1f_8b.dcm": "JPEG lossless SV1: gdcm",
    "MR_small_RLE.dcm": "RLE lossless: pylibjpeg-rle",
}


@pytest.fixture(scope="session")
def bundle(tmp_path_factory) -> Path:
    """Build dist/dicom-viewer once per session with packaging/build-linux.sh."""
    if sys.platform != "linux":
        pytest.skip("the bundle test builds the Linux bundle")
    out = tmp_path_factory.mktemp("bundle")
    result = subprocess.run(
        [str(ROOT / "packaging/build-linux.sh"), str(out / "dist"), str(out / "build")],
        capture_output=True,
        text=True,
        timeout=1200,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    exe = out / "dist/dicom-viewer/dicom-viewer"
    assert exe.is_file()
    return exe


def _bundle_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "XDG_"))}
    env.update(
        QT_QPA_PLATFORM="offscreen",
        HOME=str(tmp_path / "home"),
        XDG_RUNTIME_DIR=str(tmp_path / "runtime"),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    (tmp_path / "runtime").mkdir(mode=0o700)
    return env


@pytest.mark.slow
def test_bundle_version(bundle, tmp_path):
    result = subprocess.run([str(bundle), "--version"], env=_bundle_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"dicom-viewer {__version__}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUNDLE_EXPORTS))
def test_bundle_export_equals_the_apps(bundle, tmp_path, name):
    from viewer.app import main

    source = get_testdata_file(name, download=False)
    if source is None:
        pytest.skip(f"{name} not installed (pydicom-data)")
    main(["export", source, "-o", str(tmp_path / "expected.png")])
    result = subprocess.run(
        [str(bundle), "export", source, "-o", str(tmp_path / "bundle.png")],
        env=_bundle_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{BUNDLE_EXPORTS[name]}: {result.stderr}"
    assert (tmp_path / "bundle.png").read_bytes() == (tmp_path / "expected.png").read_bytes()


@pytest.mark.slow
def test_bundle_carries_the_qt_plugins(bundle):
    plugins = bundle.parent / "_internal/PySide6/Qt/plugins"
    for plugin in (
        "platforms/libqxcb.so",
        "platforms/libqoffscreen.so",
        "platforms/libqwayland.so",
        "imageformats/libqsvg.so",
        "iconengines/libqsvgicon.so",
    ):
        assert (plugins / plugin).is_file(), plugin


@pytest.mark.slow
@pytest.mark.parametrize("args", [["FILE"], ["--demo"]], ids=["file", "demo"])
def test_bundle_window_paints_an_image(bundle, tmp_path, args):
    args = [CT if a == "FILE" else a for a in args]
    env = _bundle_env(tmp_path)
    env["DICOM_VIEWER_STARTUP_REPORT"] = "1"
    result = subprocess.run([str(bundle), "--new-window", *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "image-painted" in result.stdout, result.stdout + result.stderr
    assert "qt.qpa.plugin" not in result.stderr and "Could not" not in result.stderr, result.stderr


@pytest.mark.slow
def test_bundle_install_desktop_names_the_bundle(bundle, tmp_path):
    env = _bundle_env(tmp_path)
    env["PATH"] = ""  # no update commands: only the files are checked here
    result = subprocess.run([str(bundle), "--install-desktop"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    entry = (tmp_path / "data/applications/dicom-viewer.desktop").read_text()
    assert f"\nExec={desktop.exec_argument(str(bundle.resolve()))} %F\n" in entry
    assert (tmp_path / "data/icons/hicolor/48x48/apps/dicom-viewer.png").is_file()
