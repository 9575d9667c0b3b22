"""Headless commands that mirror the GUI: ``dicom-viewer export ...``, one module per command family.

They share the core with the rendering pane, so an export holds exactly the
pixels the pane shows at 1:1. Exit status: 0 success, 2 for input that
cannot be read or decoded (one line on stderr, no traceback).

A new command is a module here with ``add_parser(sub)``, listed in
:data:`COMMAND_MODULES` (and its name in ``viewer.app.COMMANDS``).
"""

from __future__ import annotations

import argparse
import sys

from viewer.cli import anonymize, documents, dump, export, index, measure, media, network, send
from viewer.cli.common import EXIT_INPUT, EXIT_OK
from viewer.core.dicom.io import ViewerError

#: The command families, in the order ``--help`` lists them.
COMMAND_MODULES = (export, dump, index, measure, documents, network, send, media, anonymize)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicom-viewer", description="Headless dicom-viewer commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        module.add_parser(sub)
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ViewerError as exc:
        print(f"dicom-viewer: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # `dicom-viewer dump FILE | head`: the reader left; not an error.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
