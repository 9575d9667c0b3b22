"""Write media: ``dicom-viewer media PATH... -o DIR``, a folder ready to burn or copy to a USB stick.

The instances at PATH (files, folders, media: found as ``index`` finds them) are written as
a General Purpose CD-R file-set (PS3.11 Annex D, STD-GEN-CD): DICOM files with PS3.10 file
IDs and a DICOMDIR (:mod:`viewer.core.media.writer`). Exit status 0 when media was written
(files that could not be are listed, one line each, on stderr and counted in the summary),
2 when nothing could be written or DIR cannot take it.
"""

from __future__ import annotations

import argparse
import sys

from viewer.cli.common import EXIT_INPUT, EXIT_OK
from viewer.core.dicom.io import ViewerError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "media",
        help="write a folder ready to burn on CD/DVD or copy to USB: DICOM files and a DICOMDIR",
        description="Write the DICOM instances found at PATH (files, folders, media) into DIR as a General Purpose "
        "CD-R file-set (STD-GEN-CD, PS3.11 Annex D): files named DICOM/P0000001/S0000001/SE000001/IM000001 "
        "(PS3.10), a DICOMDIR listing patients, studies, series and instances. Files in Explicit VR Little Endian "
        "are copied byte for byte; others are written again in it (compressed images decoded). DIR must be new, "
        "empty, or free of a DICOMDIR and a DICOM folder (see --replace). Sources are never changed.",
    )
    p.add_argument("paths", metavar="PATH", nargs="+", help="DICOM files, folders, a media root or a DICOMDIR")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="the folder to write (created if missing)")
    p.add_argument("--deidentify", action="store_true", help="write de-identified copies (PS3.15 Annex E basic profile)")
    p.add_argument("--replace", action="store_true", help="replace the DICOMDIR and DICOM folder DIR already holds")
    p.add_argument("--fileset-id", metavar="ID", help="(0004,1130) File-set ID: up to 16 of A-Z 0-9 _ space (default MEDIA_YYYYMMDD)")
    p.set_defaults(run=run_media)


def _deidentifier():
    """The PS3.15 Basic Profile de-identification (viewer.core.deidentify), applied to each copy written."""
    from viewer.core.deidentify.deidentifier import Deidentifier

    return Deidentifier()


def run_media(args: argparse.Namespace) -> int:
    import re

    from viewer.core.media.sources import open_paths
    from viewer.core.media.writer import check_target, write_media
    from viewer.core.runtime.tasks import rare_garbage_collection

    if args.fileset_id is not None and not re.fullmatch(r"[A-Z0-9_ ]{0,16}", args.fileset_id):
        raise ViewerError(f"--fileset-id {args.fileset_id!r}: up to 16 characters from A-Z, 0-9, _ and space (PS3.5 6.2 CS)")
    check_target(args.output, args.paths, args.replace)  # before the scan: a refused target costs nothing
    prepare = _deidentifier() if args.deidentify else None
    with rare_garbage_collection():
        found = open_paths(args.paths)
        sources = [i for series in found.series for i in series.instances if i.available and i.path is not None]
        missing = [i for series in found.series for i in series.instances if not i.available]
    for problem in found.problems:
        print(f"dicom-viewer: {problem}", file=sys.stderr)
    for instance in missing:
        print(f"dicom-viewer: not written: {instance.problem or 'its file is missing'}", file=sys.stderr)
    if not sources:
        raise ViewerError("nothing to write: no DICOM instances found at " + ", ".join(args.paths))
    result = write_media(sources, args.output, prepare=prepare, replace=args.replace, fileset_id=args.fileset_id)
    for problem in result.problems:
        print(f"dicom-viewer: {problem}", file=sys.stderr)
    if result.invented:  # Type 1 keys the files lack, made up for the DICOMDIR only (as dcmmkdir +I does)
        shown = "; ".join(result.invented[:3]) + (f"; and {len(result.invented) - 3} more" if len(result.invented) > 3 else "")
        print(f"dicom-viewer: note: the DICOMDIR gives values the files lack: {shown}", file=sys.stderr)
    print(result.summary())
    return EXIT_OK if result.written else EXIT_INPUT
