"""Send: C-STORE files, folders or media to a node (``dicom-viewer send``), as File > Send to... does."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from viewer.cli.common import EXIT_INPUT, EXIT_OK
from viewer.core.dicom.io import ViewerError

if TYPE_CHECKING:
    from viewer.core.media.model import Instance


def add_parser(sub) -> None:
    p = sub.add_parser(
        "send",
        help="send instances to a node (C-STORE), in their stored transfer syntax where it accepts it",
        description="Send every instance found at the paths (files, folders, a media root or a DICOMDIR) to NODE, "
        "one association for the run. An instance goes in its stored transfer syntax; where the node refuses that "
        "syntax it is decompressed to Explicit VR Little Endian if the compression is lossless, else refused. "
        "Exit 0 when every instance was stored, 2 otherwise (one line on stderr).",
    )
    p.add_argument("node", metavar="NODE", help="AET@HOST:PORT, or the name of a node saved in the query panel")
    p.add_argument("paths", nargs="+", metavar="PATH", help="DICOM files, folders, a media root or a DICOMDIR")
    p.add_argument("--aet", metavar="TITLE", help="this app's AE title (default: the saved one, DICOMVIEWER)")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds of inactivity before giving up")
    p.add_argument("--json", action="store_true", help="print a JSON summary with each instance's fate and status")
    p.add_argument(
        "--deidentify",
        action="store_true",
        help="send de-identified copies (PS3.15 Basic Application Level Confidentiality Profile, as 'anonymize' "
        "writes them: new UIDs, the patient as a pseudonym); reconciliation, if given, applies after it",
    )
    p.add_argument(
        "--key",
        metavar="FILE",
        help="with --deidentify: the de-identification key (read when it exists, written after), so that sending "
        "the same study again gives the same new UIDs and pseudonym",
    )
    reconcile = p.add_argument_group("patient reconciliation (the copies sent change; the files never do)")
    reconcile.add_argument("--patient-id", metavar="ID", help="(0010,0020) Patient ID at the receiving site")
    reconcile.add_argument("--issuer", metavar="ISSUER", help="(0010,0021) Issuer of Patient ID")
    reconcile.add_argument("--patient-name", metavar="NAME", help="(0010,0010) Patient's Name, as FAMILY^GIVEN")
    reconcile.add_argument("--accession", metavar="NUMBER", help="(0008,0050) Accession Number")
    p.set_defaults(run=run_send)


def found_instances(paths: list[str]) -> tuple[list[Instance], list[tuple[str, str]]]:
    """(the instances found at `paths`, each file once; [(path, problem)]), as ``index`` finds them (DICOMDIR records included)."""
    from viewer.core.media.model import instances_within
    from viewer.core.media.sources import open_paths

    result = open_paths(paths)
    instances, problems, seen = [], [], set()
    for instance in instances_within(result.series):
        if not instance.available:
            problems.append((str(instance.path or ""), instance.problem or "missing"))
        elif str(instance.path) not in seen:
            seen.add(str(instance.path))
            instances.append(instance)
    for problem in result.problems:
        problems.append((str(problem.path or ""), problem.reason))
    return instances, problems


def run_send(args: argparse.Namespace) -> int:
    import json

    from viewer.cli.network import node_and_local
    from viewer.core.net.reconcile import PatientFields, reconciler, scope_problem
    from viewer.core.net.send import FAILED, InstanceFate, chained, send
    from viewer.core.runtime.wording import count

    node, local = node_and_local(args)
    fields = PatientFields(args.patient_id, args.issuer, args.patient_name, args.accession)
    if args.key and not args.deidentify:
        raise ViewerError("--key is the de-identification key: give --deidentify too")
    key = None
    deidentify = None
    if args.deidentify:
        from viewer.core.deidentify.deidentifier import Deidentifier
        from viewer.core.deidentify.key import DeidentificationKey

        key = DeidentificationKey.load_or_create(args.key) if args.key else DeidentificationKey()
        deidentify = Deidentifier(key=key)
    # ViewerError (exit 2) before any association
    prepare = chained(deidentify, reconciler(fields) if fields else None)
    instances, problems = found_instances(args.paths)
    if not instances and not problems:
        raise ViewerError(f"no DICOM instances found in {', '.join(args.paths)}")
    if fields:
        from viewer.core.media.model import patient_key

        studies, patients = len({i.study_uid for i in instances}), len({patient_key(i.header) for i in instances})
        if problem := scope_problem(fields, studies, patients):
            raise ViewerError(f"patient reconciliation refused: {problem}")
    files = [str(i.path) for i in instances]

    def progress(p) -> None:
        if not args.json:
            print(f"\r{p.done}/{p.total}", end="", file=sys.stderr, flush=True)

    result = send(node, local, files, prepare=prepare, progress=progress) if files else None
    if key is not None and args.key:
        key.save(args.key)  # the UIDs given out, kept for the next run
    fates = list(result.fates) if result else []
    fates += [InstanceFate(path, fate=FAILED, reason=f"not read: {reason}") for path, reason in problems]
    stored = sum(1 for f in fates if f.stored)
    if args.json:
        summary = {
            "node": node.address,
            "total": len(fates),
            **{fate: sum(1 for f in fates if f.fate == fate) for fate in ("stored", "warning", "failed", "refused", "not sent")},
            "associations_lost": result.associations_lost if result else 0,
            "seconds": round(result.seconds, 3) if result else 0,
            "instances": [f.to_json() for f in fates],
        }
        sys.stdout.write(json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    else:
        if files:
            print(file=sys.stderr)
        for f in fates:
            status = "" if f.status is None else f" 0x{f.status:04X}"
            how = " (decompressed)" if f.transcoded else ""
            print(f"{f.fate}{status}{how}: {f.path}" + (f": {f.reason}" if f.reason else ""))
        print(f"{count(stored, 'instance')} of {len(fates)} stored on {node.address}" + (f" ({result.summary()})" if result else ""))
    if stored == len(fates):
        return EXIT_OK
    kinds = ", ".join(f"{n} {fate}" for fate in ("failed", "refused", "not sent") if (n := sum(1 for f in fates if f.fate == fate)))
    print(f"dicom-viewer: {len(fates) - stored} of {count(len(fates), 'instance')} not stored on {node.address} ({kinds})", file=sys.stderr)
    return EXIT_INPUT
