"""Network: C-ECHO, C-FIND and retrieval from a node (``dicom-viewer echo|find|get``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.wording import count


def add_parser(sub) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("node", metavar="NODE", help="AET@HOST:PORT, or the name of a node saved in the query panel")
    common.add_argument("--aet", metavar="TITLE", help="this app's AE title (default: the saved one, DICOMVIEWER)")
    common.add_argument("--timeout", type=float, metavar="S", help="seconds of inactivity before giving up")

    p = sub.add_parser("echo", parents=[common], help="C-ECHO: does the node answer?")
    p.set_defaults(run=run_echo)

    p = sub.add_parser(
        "find",
        parents=[common],
        help="C-FIND studies or series",
        description="C-FIND at study or series level. "
        "Keys use DICOM matching: wildcards * and ? in names, ranges like 20240101-20240131 in dates.",
    )
    p.add_argument("--level", choices=("study", "series"), default="study")
    p.add_argument(
        "-k",
        "--key",
        action="append",
        default=[],
        metavar="KEY[=VALUE]",
        help="as findscu's -k: KEY is a keyword (PatientName) or a tag (0010,0010); with =VALUE it matches "
        "(e.g. PatientName=DOE*), without it asks for that attribute in each answer; repeatable",
    )
    p.add_argument("--max", type=int, default=1000, metavar="N", help="stop after N matches (default 1000)")
    p.add_argument("--json", action="store_true", help="print a list of matches in the DICOM JSON model")
    p.set_defaults(run=run_find)

    p = sub.add_parser("get", parents=[common], help="retrieve a study or a series (C-GET, or C-MOVE with --move)")
    p.add_argument("--study", required=True, metavar="UID")
    p.add_argument("--series", metavar="UID")
    p.add_argument("-o", "--output", metavar="DIR", help="where to write (default: the app's cache)")
    p.add_argument("--move", action="store_true", help="use C-MOVE (the node must know this app's AE title and port)")
    p.add_argument("--port", type=int, metavar="PORT", help="local port for C-MOVE's Storage SCP")
    p.add_argument("--force", action="store_true", help="fetch again even if the series is in the cache")
    p.set_defaults(run=run_get)


def node_and_local(args):
    from viewer.core.net.nodes import load_network_settings, parse_node

    nodes, local = load_network_settings()
    node = parse_node(args.node, nodes)
    if args.aet:
        from viewer.core.net.nodes import LocalAE

        local = LocalAE(args.aet, local.move_port)
    if getattr(args, "port", None):
        local.move_port = args.port
    if args.timeout:
        node.timeouts.dimse = node.timeouts.acse = node.timeouts.connect = args.timeout
    return node, local


def run_echo(args) -> int:
    from viewer.core.net.echo import echo

    node, local = node_and_local(args)
    seconds = echo(node, local)
    print(f"{node.address} answered in {seconds * 1000:.0f} ms")
    return EXIT_OK


def run_find(args) -> int:
    import json

    from viewer.core.dicom.inspect import to_json_model
    from viewer.core.net.find import find
    from viewer.core.net.query import parse_query_key, with_return_keys

    node, local = node_and_local(args)
    filters = dict(parse_query_key(item) for item in args.key)  # ViewerError (exit 2) before any association
    result = find(node, local, args.level, filters, cap=args.max)
    matches = [with_return_keys(match, filters) for match in result.matches]
    if args.json:
        print(json.dumps([to_json_model(m) for m in matches], ensure_ascii=False, indent=1))
    else:
        from viewer.core.media.model import text

        keys = (
            ("PatientName", "PatientID", "StudyDate", "ModalitiesInStudy", "StudyDescription", "StudyInstanceUID")
            if args.level == "study"
            else ("SeriesNumber", "Modality", "SeriesDescription", "NumberOfSeriesRelatedInstances", "SeriesInstanceUID")
        )
        keys += tuple(k for k in filters if k not in keys)  # what the user asked for, after the usual columns
        for match in matches:
            print(" | ".join(text(match, k) for k in keys))
    if result.more:
        print(f"dicom-viewer: more than {count(args.max, 'match')}; showing the first {args.max}", file=sys.stderr)
    return EXIT_OK


def run_get(args) -> int:
    from viewer.core.media.cache import default_cache_dir
    from viewer.core.net.retrieve import retrieve

    node, local = node_and_local(args)
    output = Path(args.output) if args.output else default_cache_dir()

    def progress(p) -> None:
        left = "?" if p.remaining is None else p.remaining
        print(f"\r{p.received} received, {p.completed} completed, {p.failed} failed, {left} remaining", end="", file=sys.stderr, flush=True)

    result = retrieve(node, local, output, args.study, args.series, progress, method="move" if args.move else None, force=args.force)
    print(file=sys.stderr)
    for failure in result.failed_instances:
        print(f"dicom-viewer: not retrieved: {failure}", file=sys.stderr)
    how = "(already in the cache)" if result.cached else f"by C-{result.method.upper()}"
    print(f"{count(len(result.files), 'file')} in {output} {how}")
    if result.progress.failed:
        raise ViewerError(f"{count(result.progress.failed, 'sub-operation')} failed on {node.address}")
    return EXIT_OK
