"""Headless commands that mirror the GUI: ``dicom-viewer export ...``.

They share the core with the rendering pane, so an export holds exactly the
pixels the pane shows at 1:1. Exit status: 0 success, 2 for input that
cannot be read or decoded (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.wording import count

EXIT_OK = 0
EXIT_INPUT = 2


def _export_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write one image as PNG, exactly as the pane shows it at 1:1",
        description="Write one frame of a DICOM image to an 8-bit grey or RGB PNG, "
        "through the same display pipeline as the viewer (measurements drawn in with --annotations).",
    )
    p.add_argument("input", metavar="INPUT", help="a DICOM file; with --plane, a folder holding one series, or any file of the series")
    p.add_argument("-o", "--output", metavar="OUT.png", required=True, help="the PNG to write")
    p.add_argument("--frame", type=int, metavar="N", help="frame number, from 1 (default 1)")
    mpr = p.add_argument_group(
        "reformats (MPR)",
        "With --plane, INPUT's series is built into a volume and one plane of it is written on the volume's own grid "
        "(1 pixel per voxel), seen as a radiologist reads it: axial from the feet, coronal from the front (the patient's "
        "right on the left), sagittal from the patient's left (anterior on the left), the head up. Slices are counted "
        "from 1: axial from the feet up, coronal from the front back, sagittal from the patient's right to left.",
    )
    mpr.add_argument("--plane", metavar="PLANE", help="axial, coronal or sagittal")
    mpr.add_argument("--slice", type=int, metavar="N", help="the slice of the plane, from 1")
    mpr.add_argument("--slab", type=float, metavar="MM", help="a slab this thick (mm) centred on the slice")
    mpr.add_argument("--mode", metavar="MODE", help="how the slab's slices combine: mip (default), minip or avg")
    voi = p.add_mutually_exclusive_group()
    voi.add_argument(
        "--window", nargs=2, type=float, metavar=("CENTER", "WIDTH"), help="window center and width in modality units (e.g. HU)"
    )
    voi.add_argument("--preset", metavar="NAME", help="a named window preset, e.g. lung, bone, brain (CT presets: only for values in HU)")
    p.add_argument("--invert", action="store_true", help="invert grey levels (on top of MONOCHROME1)")
    p.add_argument(
        "--annotations",
        action="store_true",
        help="draw the measurements kept for this image and frame (see 'measure --save') into the PNG (then RGB)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="where measurements are kept (default: the app's data folder)")
    p.add_argument(
        "--pstate",
        metavar="PR.dcm",
        help="show the image through this Grayscale Softcopy Presentation State (its LUTs, displayed area, rotation, flip, "
        "shutters, graphics and text), as dcmtk's dcmp2pgm does",
    )
    p.add_argument(
        "--no-overlays",
        action="store_true",
        help="leave out the image's overlay planes (60xx), drawn by default as in the viewer (then RGB)",
    )
    p.set_defaults(run=run_export_command)


def run_export_command(args: argparse.Namespace) -> int:
    """``export``: one image (:func:`run_export`) or, with --plane, a reformat of a series (:func:`run_export_reformat`)."""
    if args.pstate:
        args.frame = 1 if args.frame is None else args.frame
        return run_export_with_state(args)
    if args.plane is not None or args.slice is not None or args.slab is not None or args.mode is not None:
        return run_export_reformat(args)
    from viewer.core.documents.waveform import export_if_waveform  # ECG and other waveforms: the paper, --frame = group

    if export_if_waveform(args.input, args.output, args.frame or 1):
        return EXIT_OK
    if args.frame is None:  # None by default only so that a reformat can refuse an explicit --frame
        args.frame = 1
    return run_export(args)


def run_export_with_state(args: argparse.Namespace) -> int:
    """``export --pstate PR.dcm``: the frame as the presentation state shows it (:mod:`viewer.core.documents.presentation_render`)."""
    from viewer.core.display.png import write_png
    from viewer.core.documents.presentation_render import render_file_with_state

    if args.window or args.preset or args.invert or args.annotations:
        raise ViewerError("--pstate shows the image as the presentation state says: no --window, --preset, --invert or --annotations")
    if args.plane is not None or args.slice is not None or args.slab is not None or args.mode is not None:
        raise ViewerError("--pstate shows one image as the presentation state says: a reformat (--plane) has no presentation state")
    pixels = render_file_with_state(Path(args.input), Path(args.pstate), args.frame)
    out = Path(args.output)
    if not out.parent.exists():
        raise ViewerError(f"cannot write {out}: the folder {out.parent} does not exist")
    try:
        write_png(out, pixels)
    except OSError as exc:
        raise ViewerError(f"cannot write {out}: {exc.strerror or exc}") from None
    return EXIT_OK


def run_export_reformat(args: argparse.Namespace) -> int:
    """``export --plane``: one reformatted plane (or slab) of a series, through the export's display pipeline."""
    from viewer.core.dicom.header import read_index_header
    from viewer.core.display.mpr import MODES, PLANES, automatic_window, reformat, reformat_display, slice_count
    from viewer.core.display.pixels.pipeline import Window
    from viewer.core.display.pixels.presets import preset_for
    from viewer.core.display.png import write_png
    from viewer.core.display.series_volume import series_at, series_files
    from viewer.core.display.volume import NotAVolume, volume_from_files

    plane, mode = (args.plane or "").lower(), (args.mode or "mip").lower()
    if not args.plane:
        raise ViewerError("--slice, --slab and --mode reformat a series: give --plane axial, coronal or sagittal")
    if plane not in PLANES:
        raise ViewerError(f"unknown plane '{args.plane}': choose axial, coronal or sagittal")
    if args.slice is None:
        raise ViewerError("--plane needs --slice N (from 1)")
    if args.frame is not None:
        raise ViewerError("--frame is for one image; a reformat's slice is --slice N")
    if args.annotations:
        raise ViewerError("--annotations draws an image's measurements: a reformat has none")
    if mode not in MODES:
        raise ViewerError(f"unknown slab mode '{args.mode}': choose mip, minip or avg")
    if args.mode is not None and args.slab is None:
        raise ViewerError("--mode combines the slices of a slab: give --slab MM too")
    if args.slab is not None and not args.slab > 0:
        raise ViewerError("--slab MM must be greater than 0")
    voi = None
    if args.window:
        center, width = args.window
        if width <= 0:
            raise ViewerError("--window WIDTH must be greater than 0")
        voi = Window(center, width, "LINEAR", "", "user")
    path, out = Path(args.input), Path(args.output)
    files = series_files(series_at(path))
    if args.preset:  # before reading pixels: a preset in HU on an MR is refused, not written black
        preset_for(args.preset, read_index_header(files[len(files) // 2]), path)
    try:
        volume = volume_from_files(files)
    except NotAVolume as exc:  # said of the series the user named
        raise NotAVolume(exc.reason, exc.path or path) from None
    slices = slice_count(volume, plane)
    if not 1 <= args.slice <= slices:
        raise ViewerError(f"--slice {args.slice} is out of range: the {plane} plane has {count(slices, 'slice')}", path)
    image, _ = reformat(volume, plane, args.slice - 1, args.slab or 0.0, mode)
    frame = reformat_display(volume, image)
    if args.preset:
        voi = preset_for(args.preset, frame.ctx, path)
    if voi is None:
        voi = frame.default_voi(automatic_window(volume) if frame.uses_automatic_window() else None)
    if not out.parent.exists():
        raise ViewerError(f"cannot write {out}: the folder {out.parent} does not exist")
    try:
        write_png(out, frame.render(voi, args.invert))
    except OSError as exc:
        raise ViewerError(f"cannot write {out}: {exc.strerror or exc}") from None
    for note in volume.notes:
        print(f"dicom-viewer: note: {note}", file=sys.stderr)
    return EXIT_OK


def _dump_parser(sub) -> None:
    from viewer.core.dicom.charset import EXAMPLE_SPELLINGS

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


def _index_parser(sub) -> None:
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


def _network_parsers(sub) -> None:
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


def _node_and_local(args):
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

    node, local = _node_and_local(args)
    seconds = echo(node, local)
    print(f"{node.address} answered in {seconds * 1000:.0f} ms")
    return EXIT_OK


def run_find(args) -> int:
    import json

    from viewer.core.dicom.inspect import to_json_model
    from viewer.core.net.find import find
    from viewer.core.net.query import parse_query_key, with_return_keys

    node, local = _node_and_local(args)
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

    node, local = _node_and_local(args)
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


def _measure_parser(sub) -> None:
    p = sub.add_parser(
        "measure",
        help="measure a length, an angle, a pixel value or an ROI's statistics on one image",
        description="Measure on one frame of a DICOM image, with the viewer's own code. Coordinates are image pixels: "
        "column and row, pixel centres at whole numbers, (0 0) the centre of the top left pixel; fractions allowed. "
        "Lengths are in mm when the image says how far apart its pixels are, and every result names what its unit "
        "rests on (the calibration basis); otherwise pixels, labelled 'uncalibrated'. ROI statistics are in "
        "modality units (after the Modality LUT, before any window: HU on a CT); SD is the population standard "
        "deviation; a pixel counts when its centre is inside the shape.",
    )
    p.add_argument("input", metavar="FILE", help="a DICOM image")
    p.add_argument("--frame", type=int, default=1, metavar="N", help="frame number, from 1 (default 1)")
    shape = p.add_mutually_exclusive_group(required=True)
    shape.add_argument("--line", nargs=4, type=float, metavar=("X1", "Y1", "X2", "Y2"), help="a length")
    shape.add_argument("--angle", nargs=6, type=float, metavar=("X1", "Y1", "X2", "Y2", "X3", "Y3"), help="the angle at X2 Y2")
    shape.add_argument(
        "--cobb", nargs=8, type=float, metavar=("X1", "Y1", "X2", "Y2", "X3", "Y3", "X4", "Y4"), help="the Cobb angle between two lines"
    )
    shape.add_argument("--point", nargs=2, type=float, metavar=("X", "Y"), help="the modality value of the pixel at X Y")
    shape.add_argument("--ellipse", nargs=4, type=float, metavar=("CX", "CY", "RX", "RY"), help="ROI: centre and semi-axes")
    shape.add_argument("--rect", nargs=4, type=float, metavar=("X0", "Y0", "X1", "Y1"), help="ROI: two opposite corners")
    shape.add_argument("--polygon", nargs="+", type=float, metavar="X Y", help="ROI: three or more vertices, X Y X Y ...")
    p.add_argument(
        "--calibrate", nargs=5, type=float, metavar=("X1", "Y1", "X2", "Y2", "MM"), help="user calibration: this line is MM long"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"value","unit","basis"}, or for an ROI {"mean","sd","min","max","count","area","unit","area_unit","basis"}',
    )
    p.add_argument("--save", action="store_true", help="keep the measurement with the image's others (the app's data folder)")
    p.add_argument("--data-dir", metavar="DIR", help="where measurements are kept (default: the app's data folder)")
    p.add_argument(
        "--presentation-state",
        metavar="DIR",
        help="also write a Grayscale Softcopy Presentation State of this measurement and those kept for the frame, "
        "with the window the image opens with, into DIR; its path is printed on stderr",
    )
    p.set_defaults(run=run_measure)


def _measure_shape(args: argparse.Namespace):
    from viewer.core.measure.geometry import Shape

    def pairs(values):
        return tuple(zip(values[0::2], values[1::2]))

    try:
        if args.line:
            return Shape("line", pairs(args.line))
        if args.angle:
            return Shape("angle", pairs(args.angle))
        if args.cobb:
            return Shape("cobb", pairs(args.cobb))
        if args.point:
            return Shape("point", pairs(args.point))
        if args.ellipse:
            cx, cy, rx, ry = args.ellipse
            if not (rx > 0 and ry > 0):
                raise ValueError("--ellipse RX and RY must be greater than 0")
            return Shape.ellipse(cx, cy, rx, ry)
        if args.rect:
            return Shape("rectangle", pairs(args.rect))
        if len(args.polygon) % 2 or len(args.polygon) < 6:
            raise ValueError("--polygon needs three or more X Y pairs")
        return Shape("polygon", pairs(args.polygon))
    except ValueError as exc:
        raise ViewerError(str(exc)) from None


def _check_inside(shape, rows: int, columns: int) -> None:
    """ViewerError unless the points given (an ellipse's centre) lie on the image: pixels span -0.5 to columns - 0.5."""
    if shape.tool == "ellipse":
        x0, y0, x1, y1 = shape.box()
        points = [((x0 + x1) / 2, (y0 + y1) / 2)]
    else:
        points = shape.points
    for x, y in points:
        if not (-0.5 <= x <= columns - 0.5 and -0.5 <= y <= rows - 0.5):
            raise ViewerError(f"the point {x:g} {y:g} is outside the image ({columns} columns x {rows} rows, from 0 0)")


def _measured_frame(path: Path, header, frame_number: int):
    """The frame's stored values and context, decoded as export decodes (a worker process for compressed data)."""
    from viewer.core.display.frames import FrameSource, frame_with_time_limit, is_compressed
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.media.model import ImageRef, Instance
    from viewer.core.runtime.processes import shutdown_pool

    store = FrameSource(max_datasets=1)
    ref = ImageRef(Instance(path, header, number_of_frames(header)), frame_number - 1)
    if not is_compressed(header):
        return store.frame(ref)
    try:
        return frame_with_time_limit(store, ref)
    finally:
        shutdown_pool()


def run_measure(args: argparse.Namespace) -> int:
    """``measure``: one measurement (:func:`viewer.core.measure.measure.measure`), printed or as JSON; with --save, kept."""
    import json
    import math

    from viewer.core.dicom.io import read_header, sop_class_name
    from viewer.core.display.calibration import user_calibration
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.display.pixels.pipeline import frame_context
    from viewer.core.measure.geometry import POINT, ROI_TOOLS
    from viewer.core.measure.measure import measure

    path = Path(args.input)
    shape = _measure_shape(args)
    header = read_header(path)
    if "Rows" not in header or "Columns" not in header:
        raise ViewerError(f"has no image to show (it is {sop_class_name(header)})", path)
    frames = number_of_frames(header)
    if not 1 <= args.frame <= frames:
        raise ViewerError(f"--frame {args.frame} is out of range: the image has {count(frames, 'frame')}", path)
    _check_inside(shape, int(header.Rows), int(header.Columns))
    # The whole header's attributes: the frame source keeps only what display needs (no Imager Pixel Spacing,
    # ultrasound regions or calibration type), and a measurement needs them all.
    ctx = frame_context(header, args.frame - 1)
    stored = _measured_frame(path, header, args.frame).stored if shape.tool in ROI_TOOLS or shape.tool == POINT else None
    user = None
    if args.calibrate:
        x1, y1, x2, y2, mm = args.calibrate
        try:
            user = user_calibration(ctx, (x1, y1), (x2, y2), mm)
        except ValueError as exc:
            raise ViewerError(f"--calibrate: {exc}") from None
    result = measure(shape, ctx, stored, user)
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        for reading in result.readings:
            value = "-" if reading.value is None or math.isnan(reading.value) else f"{reading.value:.6g}"
            name = "SD (population)" if reading.quantity == "sd" else reading.quantity
            print(f"{name}: {value} {reading.unit}".rstrip())
        print(f"basis: {result.basis}")
    if args.save or args.presentation_state:
        from viewer.core.measure.store import ImageIdentity, MeasurementStore, default_data_dir

        store = MeasurementStore(Path(args.data_dir) if args.data_dir else default_data_dir())
        identity = ImageIdentity.of(header)
        kept = store.load(identity.sop_instance_uid, args.frame)
        if args.save:
            saved = store.save(identity, args.frame, [*kept, result])
            print(f"dicom-viewer: kept in {saved}", file=sys.stderr)
        if args.presentation_state:
            written = _write_presentation_state(path, header, args.frame, [(m.shape, m.readings) for m in kept], result, args)
            print(f"dicom-viewer: presentation state {written}", file=sys.stderr)
    return EXIT_OK


def _write_presentation_state(path: Path, header, frame_number: int, kept, result, args: argparse.Namespace) -> Path:
    """``measure --presentation-state DIR``: the kept measurements and this one, with the window the image opens with."""
    from viewer.core.display.pixels.auto_window import percentile_window
    from viewer.core.display.pixels.pipeline import Window
    from viewer.core.measure.measure import Measurement
    from viewer.core.measure.presentation_state import presentation_state, write_presentation_state

    frame = _measured_frame(path, header, frame_number)
    voi = frame.default_voi(percentile_window(frame, frame_number) if frame.uses_automatic_window() else None)
    measurements = [Measurement(shape, readings, readings[0].basis if readings else "") for shape, readings in kept] + [result]
    window = voi if isinstance(voi, Window) else None  # a VOI LUT of the file: the viewer applies it itself
    return write_presentation_state(presentation_state(header, measurements, window, frame_number), Path(args.presentation_state))


def _report_parser(sub) -> None:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dicom-viewer", description="Headless dicom-viewer commands.")
    sub = parser.add_subparsers(dest="command", required=True)
    _export_parser(sub)
    _dump_parser(sub)
    _index_parser(sub)
    _measure_parser(sub)
    _report_parser(sub)
    _network_parsers(sub)
    _extract_parser(sub)
    return parser


def _extract_parser(sub) -> None:
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


def run_export_document_page(args: argparse.Namespace) -> int:
    """``export PDF.dcm --frame N``: page N of the document (:func:`viewer.core.documents.encapsulated.export_page`)."""
    from viewer.core.documents.encapsulated import export_page

    if args.window or args.preset or args.invert or args.annotations:
        raise ViewerError("--window, --preset, --invert and --annotations apply to images; a PDF page is drawn as printed")
    export_page(args.input, args.frame, args.output)
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    from viewer.core.dicom.io import read_header
    from viewer.core.display.frames import FrameSource, frame_with_time_limit, is_compressed, series_window
    from viewer.core.display.pixels.auto_window import percentile_window
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.display.pixels.pipeline import Window, frame_context
    from viewer.core.display.pixels.presets import BUILT_IN_PRESETS, preset_for
    from viewer.core.display.png import write_png
    from viewer.core.documents.encapsulated import is_document_storage
    from viewer.core.media.model import ImageRef, Instance
    from viewer.core.runtime.processes import shutdown_pool

    path = Path(args.input)
    header = read_header(path)
    if is_document_storage(header):  # an encapsulated PDF: --frame N is its page N (viewer/core/documents)
        return run_export_document_page(args)
    frames = number_of_frames(header)
    if not 1 <= args.frame <= frames:
        raise ViewerError(f"--frame {args.frame} is out of range: the image has {count(frames, 'frame')}", path)
    voi = None
    if args.window:
        center, width = args.window
        if width <= 0:
            raise ViewerError("--window WIDTH must be greater than 0")
        voi = Window(center, width, "LINEAR", "", "user")
    elif args.preset:
        # Before decoding: a preset in HU on a radiograph is refused, not written black.
        voi = preset_for(args.preset, frame_context(header, args.frame - 1), path, BUILT_IN_PRESETS)
    instance = Instance(path, header, frames)
    store, ref = FrameSource(max_datasets=1), ImageRef(instance, args.frame - 1)
    # As in the window: a damaged code stream can take a decoder's whole
    # process down (gdcm aborts) or spin for minutes, so it is decoded in a
    # worker process with a time limit, and the command still ends in one line.
    compressed = is_compressed(header)
    decode = (lambda image: frame_with_time_limit(store, image)) if compressed else store.frame
    try:
        frame = decode(ref)
        if voi is None:
            # The pane's default: for a file alone, the series is its frames.
            automatic = None
            if frame.uses_automatic_window():
                try:
                    automatic = series_window(store, [ImageRef(instance, i) for i in range(frames)], decode)
                except ViewerError:  # the middle frame cannot be read: this frame's percentiles, as the window does
                    automatic = percentile_window(frame, args.frame)
            voi = frame.default_voi(automatic)
    finally:
        if compressed:
            shutdown_pool()
    pixels = frame.render(voi, args.invert)
    if not args.no_overlays:
        from viewer.core.display.overlays import export_overlays

        pixels, note = export_overlays(pixels, header, args.frame - 1, path)
        if note:
            print(f"dicom-viewer: note: {note}", file=sys.stderr)
    if args.annotations:
        pixels = _with_annotations(pixels, header, args)
    out = Path(args.output)
    if not out.parent.exists():
        raise ViewerError(f"cannot write {out}: the folder {out.parent} does not exist")
    try:
        write_png(out, pixels)
    except OSError as exc:
        raise ViewerError(f"cannot write {out}: {exc.strerror or exc}") from None
    return EXIT_OK


def _with_annotations(pixels, header, args: argparse.Namespace):
    """``export --annotations``: the measurements kept for this image and frame, drawn in."""
    from viewer.core.measure.burn import burn_measurements
    from viewer.core.measure.store import ImageIdentity, MeasurementStore, default_data_dir

    store = MeasurementStore(Path(args.data_dir) if args.data_dir else default_data_dir())
    kept = store.load(ImageIdentity.of(header).sop_instance_uid, args.frame)
    return burn_measurements(pixels, [(m.shape, m.readings) for m in kept])


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
