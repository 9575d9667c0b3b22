"""De-identified copies: ``dicom-viewer anonymize INPUT... -o OUTDIR`` (PS3.15 Annex E; File > De-identify...)."""

from __future__ import annotations

import argparse
import sys

from viewer.cli.common import EXIT_INPUT, EXIT_OK
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.wording import count

#: --flag -> DeidentifyOptions field, for the options that are plain switches.
OPTION_FLAGS = {
    "--keep-uids": "retain_uids",
    "--keep-patient-characteristics": "retain_patient_characteristics",
    "--keep-device-identity": "retain_device_identity",
    "--keep-institution-identity": "retain_institution_identity",
    "--clean-descriptors": "clean_descriptors",
    "--clean-structured-content": "clean_structured_content",
    "--clean-graphics": "clean_graphics",
    "--keep-safe-private": "retain_safe_private",
}


def add_parser(sub) -> None:
    from viewer.core.deidentify.options import OPTION_LABELS

    p = sub.add_parser(
        "anonymize",
        help="write de-identified copies of DICOM files (PS3.15 Basic Application Level Confidentiality Profile)",
        description="Write de-identified copies of DICOM files into OUTDIR, as OUTDIR/STUDY/SERIES/INSTANCE.dcm under their new "
        "UIDs, following PS3.15 Annex E: the Basic Profile, and the options chosen. UIDs are replaced the same way across the "
        "whole run (and across runs that use the same --key); each patient gets a pseudonym as Patient ID and name; private "
        "attributes are removed. The sources are never changed. Images whose pixels may show identifying text (Burned In "
        "Annotation YES, or ultrasound, secondary capture and similar without it) are listed; --blackout fills rectangles of "
        "those images with black.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="DICOM files or folders (searched recursively)")
    p.add_argument("-o", "--output", metavar="OUTDIR", required=True, help="the folder to write into (not a source folder)")
    dates = p.add_mutually_exclusive_group()
    dates.add_argument("--keep-dates", action="store_true", help="Retain Longitudinal Temporal Information, Full Dates Option")
    dates.add_argument(
        "--shift-days",
        type=int,
        metavar="N",
        help="Modified Dates Option: move every date by N days (negative: earlier); see --shift-dates",
    )
    dates.add_argument(
        "--shift-dates", action="store_true", help="Modified Dates Option: move each patient's dates by their own 1 to 1095 days back"
    )
    for flag, name in OPTION_FLAGS.items():
        p.add_argument(flag, dest=name, action="store_true", help=OPTION_LABELS[name])
    p.add_argument("--patient-id", metavar="ID", help="the Patient ID written into every copy (default: a pseudonym per patient)")
    p.add_argument("--patient-name", metavar="NAME", help="the Patient's Name written into every copy (default: the pseudonym)")
    p.add_argument(
        "--key",
        metavar="FILE",
        help="the run's key (its salt and the UIDs replaced): read when it exists, so the same UIDs, pseudonyms and date shifts "
        "come out as in the runs before; written at the end. Keep it away from the copies: it links them to the originals.",
    )
    p.add_argument(
        "--blackout",
        nargs=4,
        type=int,
        action="append",
        metavar=("X", "Y", "W", "H"),
        help="black out this rectangle (pixels from the top left) in every image flagged for burned-in text (repeatable); "
        "compressed images are then written uncompressed",
    )
    p.add_argument(
        "--serial",
        action="store_true",
        help="work in this process only (by default, on Linux with several cores, the files are spread over forked workers)",
    )
    p.set_defaults(run=run_anonymize)


def run_anonymize(args: argparse.Namespace) -> int:
    from viewer.core.deidentify.burned_in import Rectangle
    from viewer.core.deidentify.folder import deidentify_files
    from viewer.core.deidentify.key import DeidentificationKey
    from viewer.core.deidentify.options import DeidentifyOptions

    chosen = {name: getattr(args, name) for name in OPTION_FLAGS.values()}
    options = DeidentifyOptions(
        retain_full_dates=args.keep_dates,
        retain_modified_dates=args.shift_dates or args.shift_days is not None,
        shift_days=args.shift_days,
        patient_id=args.patient_id,
        patient_name=args.patient_name,
        **chosen,
    )
    try:
        rectangles = [Rectangle(*box) for box in args.blackout or []]
    except ValueError as exc:
        raise ViewerError(f"--blackout: {exc}") from None
    key = DeidentificationKey.load_or_create(args.key) if args.key else DeidentificationKey()
    result = deidentify_files(args.inputs, args.output, options, key, rectangles, parallel=False if args.serial else "fork")
    if args.key:
        key.save(args.key)
    for problem in result.problems:
        print(f"dicom-viewer: {problem}", file=sys.stderr)
    for path, reason in result.burned_in:
        print(f"check for burned-in text: {path} ({reason})", file=sys.stderr)
    summary = f"{count(len(result.written), 'file')} written to {args.output}"
    if result.blacked_out:
        summary += f", {count(result.blacked_out, 'image')} blacked out"
    if result.problems:
        summary += f"; {count(len(result.problems), 'file')} could not be de-identified"
    print(summary)
    if not result.written and not result.problems:
        raise ViewerError("no files found in " + ", ".join(args.inputs))
    return EXIT_INPUT if result.problems else EXIT_OK
