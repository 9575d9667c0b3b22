"""Desktop integration for the current user on Linux and other freedesktop
systems: ``dicom-viewer --install-desktop`` and ``--uninstall-desktop``.

Installs, under the XDG data directory ($XDG_DATA_HOME, else ~/.local/share):

- ``applications/dicom-viewer.desktop``, its Exec line naming the launcher
  that is running now by absolute path (the app need not be on PATH);
- ``mime/packages/dicom-viewer.xml``: application/dicom by the *.dcm and
  *.dicom globs and by "DICM" at offset 128 (PS3.10 7.1), so files without
  an extension are recognised too;
- ``icons/hicolor/NxN/apps/dicom-viewer.png`` and the scalable SVG;

then runs whichever of update-mime-database, update-desktop-database,
gtk-update-icon-cache and ``xdg-mime default`` are installed. The files come
from the package data in ``viewer/resources/linux`` (a copy of
``packaging/linux``, kept identical by ``packaging/linux/make_icons.py``), so
this works from a wheel, an editable install and the PyInstaller bundle.

No Qt here: the commands run headless.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

DESKTOP_ID = "dicom-viewer.desktop"
MIME_TYPE = "application/dicom"
MIME_PACKAGE = "dicom-viewer.xml"
ICON_NAME = "dicom-viewer"
EXIT_OK = 0
EXIT_FAILED = 2
#: Seconds allowed to each update command (they take well under one).
COMMAND_TIMEOUT = 60


class DesktopError(Exception):
    """Desktop integration failed; the message is one line for the user."""


def package_files() -> Traversable:
    """The shipped desktop files: dicom-viewer.desktop, dicom-viewer.xml, icons/."""
    return resources.files("viewer").joinpath("resources", "linux")


def data_home(env: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME, or ~/.local/share (XDG Base Directory spec: relative paths are ignored)."""
    value = env.get("XDG_DATA_HOME", "")
    return Path(value) if os.path.isabs(value) else Path(env.get("HOME") or Path.home()) / ".local" / "share"


def config_home(env: Mapping[str, str]) -> Path:
    value = env.get("XDG_CONFIG_HOME", "")
    return Path(value) if os.path.isabs(value) else Path(env.get("HOME") or Path.home()) / ".config"


def launcher_command() -> list[str]:
    """The command that starts this viewer, by absolute path.

    The frozen bundle's executable; else the ``dicom-viewer`` script that is
    running (sys.argv[0]); else this Python with ``-m viewer``.
    """
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).resolve())]
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.stem == "dicom-viewer":
        launcher = argv0.resolve()
        if launcher.is_file() and os.access(launcher, os.X_OK):
            return [str(launcher)]
    # Not resolved: a virtual environment's python is a symlink to the base
    # interpreter, which would not see the environment's packages.
    return [str(Path(sys.executable).absolute()), "-m", "viewer"]


#: Desktop Entry spec, "The Exec key": an argument holding any of these is quoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def exec_argument(argument: str) -> str:
    """One Exec argument, quoted and escaped as the Desktop Entry spec says.

    Inside double quotes, ``"``, `````, ``$`` and ``\\`` take a backslash; the
    string-value escaping then doubles every backslash; a literal ``%`` is ``%%``.
    """
    text = argument.replace("%", "%%")
    if _RESERVED.intersection(text):
        text = '"' + "".join("\\" + c if c in '"`$\\' else c for c in text) + '"'
    return text.replace("\\", "\\\\")


def desktop_entry(command: list[str]) -> str:
    """The shipped .desktop file with Exec and TryExec naming `command`."""
    lines = []
    for line in package_files().joinpath(DESKTOP_ID).read_text(encoding="utf-8").splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(exec_argument(a) for a in command) + " %F"
        elif line.startswith("TryExec="):
            # TryExec takes a plain path, no quoting (a string value: escape backslashes).
            line = "TryExec=" + command[0].replace("\\", "\\\\")
        lines.append(line)
    return "\n".join(lines) + "\n"


def _walk(folder: Traversable, relative: Path = Path()) -> Iterator[tuple[Path, Traversable]]:
    for item in folder.iterdir():
        if item.is_dir():
            yield from _walk(item, relative / item.name)
        else:
            yield relative / item.name, item


def installed_paths(data: Path) -> list[Path]:
    """Every file --install-desktop writes under the data directory `data`."""
    icons = [data / "icons" / relative for relative, _ in _walk(package_files().joinpath("icons"))]
    return [data / "applications" / DESKTOP_ID, data / "mime" / "packages" / MIME_PACKAGE, *sorted(icons)]


def _run_updates(commands: list[list[str]], env: Mapping[str, str]) -> tuple[list[str], list[str], list[str]]:
    """Run each command whose program is installed: (ran, missing, failed)."""
    ran, missing, failed = [], [], []
    for command in commands:
        label = " ".join(command[:2]) if command[0] == "xdg-mime" else command[0]
        program = shutil.which(command[0], path=env.get("PATH"))
        if program is None:
            missing.append(label)
            continue
        try:
            result = subprocess.run(
                [program, *command[1:]], env=dict(env), capture_output=True, text=True, timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            failed.append(f"{label} ({exc})")
            continue
        if result.returncode != 0:
            why = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            failed.append(f"{label} ({why})")
        else:
            ran.append(label)
    return ran, missing, failed


def _update_commands(data: Path) -> list[list[str]]:
    return [
        ["update-mime-database", str(data / "mime")],
        ["update-desktop-database", "-q", str(data / "applications")],
        # The user's hicolor folder has no index.theme of its own: -t.
        ["gtk-update-icon-cache", "-q", "-t", "-f", str(data / "icons" / "hicolor")],
    ]


def install(env: Mapping[str, str] | None = None, command: list[str] | None = None) -> str:
    """Install the desktop entry, MIME type and icons; the one-line report.

    Raises DesktopError when a file cannot be written or an update command fails.
    """
    env = os.environ if env is None else env
    command = launcher_command() if command is None else command
    data = data_home(env)
    try:
        for relative, item in _walk(package_files().joinpath("icons")):
            _write(data / "icons" / relative, item.read_bytes())
        _write(data / "mime" / "packages" / MIME_PACKAGE, package_files().joinpath(MIME_PACKAGE).read_bytes())
        _write(data / "applications" / DESKTOP_ID, desktop_entry(command).encode("utf-8"))
    except OSError as exc:
        raise DesktopError(f"cannot install in {data}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
    ran, missing, failed = _run_updates([*_update_commands(data), ["xdg-mime", "default", DESKTOP_ID, MIME_TYPE]], env)
    if failed:
        raise DesktopError(f"installed in {data}, but {'; '.join(failed)} failed")
    report = f"installed {DESKTOP_ID}, the {MIME_TYPE} type and icons in {data}; Exec={' '.join(command)}"
    return report + _commands_report(ran, missing)


def uninstall(env: Mapping[str, str] | None = None) -> str:
    """Remove what install() wrote and our default-application entry; the one-line report."""
    env = os.environ if env is None else env
    data = data_home(env)
    removed = 0
    try:
        for path in installed_paths(data):
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed += 1
        unset = _remove_default(config_home(env) / "mimeapps.list")
    except OSError as exc:
        raise DesktopError(f"cannot uninstall from {data}: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
    if not removed and not unset:
        return f"nothing to remove: {DESKTOP_ID} is not installed in {data}"
    commands = [c for c in _update_commands(data) if Path(c[-1]).is_dir()]
    ran, missing, failed = _run_updates(commands, env)
    if failed:
        raise DesktopError(f"removed {removed} files from {data}, but {'; '.join(failed)} failed")
    report = f"removed {removed} files from {data}" + (f" and the {MIME_TYPE} default" if unset else "")
    return report + _commands_report(ran, missing)


def _commands_report(ran: list[str], missing: list[str]) -> str:
    text = f"; ran {', '.join(ran)}" if ran else ""
    return text + (f"; not installed, skipped: {', '.join(missing)}" if missing else "")


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)


def _remove_default(mimeapps: Path) -> bool:
    """Take our desktop id out of application/dicom's entries in mimeapps.list.

    xdg-mime (and gio) write ``application/dicom=dicom-viewer.desktop`` under
    [Default Applications] (and [Added Associations]); other applications'
    ids on the same line stay. Whether anything changed.
    """
    if not mimeapps.is_file():
        return False
    lines = mimeapps.read_text(encoding="utf-8").splitlines()
    kept, changed, section = [], False, ""
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
        key, sep, value = line.partition("=")
        if sep and key.strip() == MIME_TYPE and section in ("[Default Applications]", "[Added Associations]"):
            ids = [i for i in value.strip().split(";") if i]
            if DESKTOP_ID in ids:
                changed = True
                ids = [i for i in ids if i != DESKTOP_ID]
                if not ids:
                    continue
                line = f"{MIME_TYPE}={';'.join(ids)};"
        kept.append(line)
    if changed:
        _write(mimeapps, ("\n".join(kept) + "\n").encode("utf-8"))
    return changed


def main(action: str) -> int:
    """``--install-desktop`` or ``--uninstall-desktop``: one line, exit 0 or 2."""
    if sys.platform in ("win32", "darwin"):
        print(
            f"dicom-viewer: --{action}-desktop is for Linux desktops; on Windows and macOS the installer registers the .dcm type",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        report = install() if action == "install" else uninstall()
    except DesktopError as exc:
        print(f"dicom-viewer: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"dicom-viewer: {report}")
    return EXIT_OK
