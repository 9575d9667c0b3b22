"""Export: one frame, a reformat or a page as PNG (``dicom-viewer export``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.wording import count


def add_parser(sub) -> None:
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
