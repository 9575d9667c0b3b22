"""Entry point: ``dicom-viewer [PATH ...]``, ``--demo``, or a headless command.

Qt and pyqtgraph are imported only when a window is wanted, so the headless
commands start fast and run where there is no display.
"""

from __future__ import annotations

import argparse
import os
import sys

from viewer import __version__

#: Headless commands (viewer.cli); kept here so the window path never imports it.
COMMANDS = ("export", "dump", "index", "measure", "report", "extract", "echo", "find", "get", "send", "media", "anonymize")
EXIT_INPUT = 2

EPILOG = """\
commands (run 'dicom-viewer COMMAND --help' for details):
  export INPUT -o OUT.png|OUT.jpg [--frame N] [--window CENTER WIDTH] [--preset NAME] [--invert]
         [--annotations] [--corner-text] [--quality Q] [--overwrite]
        write one frame as an 8-bit PNG or JPEG, exactly as the pane shows it at 1:1 (of a PDF: page N)
  export INPUT --series -o FOLDER        every image of the series as IMG0001.png..., one window
  export INPUT [--series] -o OUT.mp4 [--fps N]   a cine (or the series) as H.264 at its frame rate
  export INPUT [--series] --dicom -o FOLDER      a plain copy of the DICOM files
  extract FILE -o OUT
        write the PDF or CDA document an encapsulated document object holds, bit-exact
  dump FILE [--charset NAME] [--json]
        print every attribute (text like dcmdump, or the DICOM JSON model)
  index PATH [--json]
        list the patients, studies and series (with counts) and the problem files of a
        folder, a media root or a DICOMDIR, as the browser would show them
  measure FILE [--frame N] (--line X1 Y1 X2 Y2 | --angle X1 Y1 X2 Y2 X3 Y3 | --ellipse CX CY RX RY
        | --rect X0 Y0 X1 Y1 | --polygon X Y X Y ...) [--json] [--save]
        a length, angle or ROI statistics in real units, with the calibration they rest on
  report FILE [--json]
        a Structured Report as text (item for item as dcmtk's dsrdump) or as a JSON tree
  echo NODE                      C-ECHO (NODE: AET@HOST:PORT or a saved node's name)
  find NODE [--level study|series] [-k KEY[=VALUE] ...] [--json]
        KEY: a keyword or gggg,eeee; without =VALUE, a key to return (as findscu)
  get NODE --study UID [--series UID] [-o DIR] [--move]
  send NODE PATH... [--json] [--deidentify [--key FILE]] [--patient-id ID] [--issuer I] [--patient-name N] [--accession A]
        C-STORE files, folders or media, each in its stored syntax (lossless transcode if refused)
  media PATH... -o DIR [--deidentify] [--replace]   a folder to burn or copy to USB: DICOM files and a DICOMDIR
  anonymize INPUT... -o OUTDIR [--keep-dates|--shift-days N] [--keep-uids] [--patient-id ID --patient-name NAME]
        de-identified copies (PS3.15 Basic Profile and options), new UIDs consistent across the run

mouse in the image: left drag = window (right/left: width, down/up: level),
  middle drag = pan, right drag = zoom, wheel = next/previous image,
  Ctrl+wheel = zoom. Keys: arrows/Page Up/Down/Home/End = images,
  I = invert, R = reset, F = fit, 1 = 1:1, A = annotations.

exit status: 0 on success, 2 when an input cannot be read or decoded.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dicom-viewer",
        description="View DICOM images: files, folders, DICOMDIR media.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="DICOM files, folders or a DICOMDIR to open")
    parser.add_argument("--demo", action="store_true", help="open the bundled sample images")
    parser.add_argument("--new-window", action="store_true", help="open a new window even if the viewer is already running")
    parser.add_argument("--version", action="version", version=f"dicom-viewer {__version__}")
    desktop = parser.add_mutually_exclusive_group()
    desktop.add_argument(
        "--install-desktop", action="store_true", help="add the menu entry, the .dcm file type and the icon for this user (Linux)"
    )
    desktop.add_argument("--uninstall-desktop", action="store_true", help="remove what --install-desktop added")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS:
        from viewer.cli import main as cli_main

        return cli_main(argv)
    args = build_parser().parse_args(argv)
    if args.install_desktop or args.uninstall_desktop:
        from viewer.desktop import main as desktop_main

        return desktop_main("install" if args.install_desktop else "uninstall")
    paths = list(args.paths)
    if args.demo:
        from viewer.core.dicom.io import ViewerError
        from viewer.core.media.demo import demo_paths

        try:
            paths += [str(p) for p in demo_paths()]
        except ViewerError as exc:
            print(f"dicom-viewer: {exc}", file=sys.stderr)
            return EXIT_INPUT
    if (reason := missing_display()) is not None:
        print(f"dicom-viewer: {reason}", file=sys.stderr)
        return EXIT_INPUT
    from viewer.ui.window.application import run

    return run(paths, new_window=args.new_window)


#: Qt platform plugins that need no display server (QT_QPA_PLATFORM may carry options: "vnc:size=800x600").
HEADLESS_PLATFORMS = ("offscreen", "minimal", "minimalegl", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")


def missing_display(environ=None, platform: str | None = None) -> str | None:
    """Why a window cannot open here, or None when it can (or when only Qt can tell).

    On X11/Wayland systems (Linux, the BSDs) a window needs DISPLAY or
    WAYLAND_DISPLAY, unless QT_QPA_PLATFORM names a plugin that draws without
    one; without them Qt's xcb plugin aborts the process (SIGABRT, exit 134)
    with a message about plugins. macOS and Windows always have their own.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform.startswith(("darwin", "win32", "cygwin")):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    if environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0].strip() in HEADLESS_PLATFORMS:
        return None
    commands = ", ".join(COMMANDS)
    return f"no display found (neither DISPLAY nor WAYLAND_DISPLAY is set), so no window can open; the headless commands work: {commands}"


if __name__ == "__main__":
    sys.exit(main())
