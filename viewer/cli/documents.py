"""Documents: a structured report as text, an encapsulated document written out (``dicom-viewer report|extract``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from viewer.cli.common import EXIT_OK


def _add_report_parser(sub) -> None:
    p = sub.add_parser(
        "report",
        help="print a Structured Report as text (comparable with dcmtk's dsrdump) or as a JSON tree",
        description="Print a Structured Report of any SR storage class (Basic, Enhanced, Comprehensive, Key Object "
        "Selection, X-Ray Radiation Dose, CAD, ...): the document header (completion and verification flags, observers), "
        "then one line per content item, indented by level, in the order dcmtk's dsrdump lists them.",
    )
    p.add_argument("input", metavar="FILE", help="a DICOM Structured Report")
    p.add_argument("--json", action="store_true", help="print the report as a JSON tree (header fields and the content items)")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from viewer.core.documents.sr import read_report, report_json, report_lines

    report = read_report(Path(args.input))  # ViewerError (one line) for a damaged file or one that is no SR
    if args.json:
        import json

        print(json.dumps(report_json(report), ensure_ascii=False, indent=1))
    else:
        print("\n".join(report_lines(report)))
    return EXIT_OK


def _add_extract_parser(sub) -> None:
    p = sub.add_parser(
        "extract",
        help="write the PDF or CDA document an encapsulated document object holds",
        description="Write the document of an Encapsulated PDF, CDA, STL, OBJ or MTL object (PS3.3 A.45) to OUT, "
        "bit-exact: its single trailing pad byte removed as PS3.3 C.24.2 allows, as dcmtk's dcm2pdf does.",
    )
    p.add_argument("input", metavar="FILE", help="a DICOM encapsulated document")
    p.add_argument("-o", "--output", metavar="OUT", required=True, help="the document to write (e.g. report.pdf)")
    p.set_defaults(run=run_extract)


def run_extract(args: argparse.Namespace) -> int:
    """``extract``: :func:`viewer.core.documents.encapsulated.extract`."""
    from viewer.core.documents.encapsulated import extract

    extract(args.input, args.output)
    return EXIT_OK


def add_parser(sub) -> None:
    _add_report_parser(sub)
    _add_extract_parser(sub)
