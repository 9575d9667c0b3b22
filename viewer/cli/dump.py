"""Dump: every attribute as text or DICOM JSON (``dicom-viewer dump``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK


def add_parser(sub) -> None:
    from viewer.core.dicom.charset_names import EXAMPLE_SPELLINGS

    p = sub.add_parser(
        "dump",
        help="print every attribute, as text (like dcmdump) or as DICOM JSON",
        description="Print every attribute of a DICOM file with values decoded as the tag inspector "
        "shows them (character sets, guesses for mis-encoded text, the user's overrides). "
        "Suspect text is marked [guess: ...] or [suspect]; invalid values [invalid: ...].",
    )
    p.add_argument("input", metavar="FILE", help="a DICOM file")
    p.add_argument(
        "--charset", metavar="NAME", help=f"decode text with this character set instead, spelt any way (any case): {EXAMPLE_SPELLINGS}"
    )
    p.add_argument("--json", action="store_true", help="print the DICOM JSON model (PS3.18 Annex F); bulk data left out")
    p.set_defaults(run=run_dump)


def run_dump(args: argparse.Namespace) -> int:
    import json

    from viewer.core.dicom import charset
    from viewer.core.dicom.inspect import dataset_rows, dump_text, to_json_model
    from viewer.core.dicom.io import read_for_inspection

    path = Path(args.input)
    code = charset.normalise_charset(args.charset) if args.charset else ""  # ViewerError (one line) when unknown
    # Pixel Data listed, never loaded; ViewerError for bad input. A truncated
    # file: what could be read is printed, then its reason (exit 2), as dcmdump +E.
    header, problem = read_for_inspection(path)
    overrides = charset.CharsetOverrides(files={str(path): code} if code else {})  # --charset: this file's
    if args.json:
        print(json.dumps(to_json_model(header, str(path), overrides), ensure_ascii=False, indent=1))
    else:
        print(f"# {path}")
        from viewer.core.dicom.io import executable_preamble

        warning = executable_preamble(path)
        if warning:
            print(f"# WARNING: {warning}")
        print(dump_text(dataset_rows(header, str(path), overrides)))
    if problem is not None:
        sys.stdout.flush()  # the elements first, then the reason
        raise problem
    return EXIT_OK
