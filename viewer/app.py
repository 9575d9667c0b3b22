"""Entry point: ``dicom-viewer [PATH ...]``, ``--demo``, or a headless command.

Qt and pyqtgraph are imported only when a window is wanted, so the headless
commands start fast and run where there is no display.
"""

from __future__ import annotations

import argparse
import sys

from viewer import __version__

#: Headless commands (viewer.cli); kept here so the window path never imports it.
COMMANDS = ("export", "dump", "index", "echo", "find", "get")
EXIT_INPUT = 2

EPILOG = """\
commands (run 'dicom-viewer COMMAND --help' for details):
  export INPUT -o OUT.png [--frame N] [--window CENTER WIDTH] [--preset NAME] [--invert]
        write one frame as an 8-bit PNG, exactly as the pane shows it at 1:1
  dump FILE [--charset NAME] [--json]
        print every attribute (text like dcmdump, or the DICOM JSON model)
  index PATH [--json]
        list the patients, studies and series (with counts) and the problem files of a
        folder, a media root or a DICOMDIR, as the browser would show them
  echo NODE                      C-ECHO (NODE: AET@HOST:PORT or a saved node's name)
  find NODE [--level study|series] [-k Keyword=Value ...] [--json]
  get NODE --study UID [--series UID] [-o DIR] [--move]

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
    desktop.add_argument("--install-desktop", action="store_true",
                         help="add the menu entry, the .dcm file type and the icon for this user (Linux)")
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
        from viewer.core.demo import demo_paths
        from viewer.core.io import ViewerError

        try:
            paths += [str(p) for p in demo_paths()]
        except ViewerError as exc:
            print(f"dicom-viewer: {exc}", file=sys.stderr)
            return EXIT_INPUT
    from viewer.ui.application import run

    return run(paths, new_window=args.new_window)


if __name__ == "__main__":
    sys.exit(main())
