"""Index: what the browser would list for a path (``dicom-viewer index``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK
from viewer.core.dicom.io import ViewerError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "index",
        help="list the patients, studies, series and instances found at a path, and the problem files",
        description="List what the viewer's browser would show for PATH (a folder, a media root or a DICOMDIR): "
        "patients, studies and series with their instance and image counts, then the files that could not be "
        "indexed and why. The scan is the window's own (headers only).",
    )
    p.add_argument("path", metavar="PATH", help="a folder, a media root (a folder holding a DICOMDIR), a DICOMDIR or a DICOM file")
    p.add_argument(
        "--json", action="store_true", help='print {"patients": [...], "problems": [...]} with attributes keyed by DICOM keyword'
    )
    p.set_defaults(run=run_index)


def run_index(args: argparse.Namespace) -> int:
    from viewer.core.dicom.io import path_is_folder
    from viewer.core.media.index import index_tree, summary, tree_text
    from viewer.core.media.sources import open_paths
    from viewer.core.runtime.tasks import rare_garbage_collection

    path = Path(args.path)
    folder = path_is_folder(path)  # ViewerError (one line) when missing or unreadable
    with rare_garbage_collection():  # tens of thousands of objects made, all kept to the end
        result = open_paths([path])
        problems = result.problems + result.skipped
        if not folder and not result.series and problems:
            raise ViewerError(problems[0].reason, problems[0].path)  # one file, nothing in it to index: unusable
        tree = index_tree(result.catalog, problems)
    if args.json:
        import json

        sys.stdout.write(json.dumps(tree, ensure_ascii=False))
        sys.stdout.write("\n")
        if not result.series:  # said where a person reads it; stdout stays the JSON
            print(f"dicom-viewer: {summary(tree, str(path), result.progress.files_seen)}", file=sys.stderr)
    else:
        sys.stdout.write("\n".join(tree_text(tree, str(path), result.progress.files_seen)) + "\n")
    return EXIT_OK
