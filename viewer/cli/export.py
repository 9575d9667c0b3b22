"""Export: one frame, a reformat or a page as PNG or JPEG; a series as pictures or MP4; a DICOM copy (``dicom-viewer export``).

The rendering is :mod:`viewer.core.export`, the same the window's File > Export uses."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK
from viewer.core.dicom.io import ViewerError
from viewer.core.export import DEFAULT_JPEG_QUALITY, DEFAULT_SERIES_RATE
from viewer.core.runtime.wording import count


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export",
        help="write an image as PNG or JPEG exactly as the pane shows it at 1:1; a series as PNGs or MP4; a DICOM copy",
        description="Write one frame of a DICOM image to an 8-bit grey or RGB PNG or JPEG, through the same display pipeline "
        "as the viewer (measurements and corner text drawn in with --annotations). With --series, every image of INPUT's "
        "series in the viewer's order, one window for all: OUT is a folder of IMG0001.png...; OUT.mp4 writes a cine (a "
        "multi-frame INPUT) or, with --series, the series as an H.264 video at its recorded frame rate. --dicom copies "
        "INPUT's files (with --series, its series' files) as they are into the folder OUT. An existing file is never "
        "replaced without --overwrite.",
    )
    p.add_argument(
        "input", metavar="INPUT", help="a DICOM file; with --series or --plane, a folder holding one series, or any file of the series"
    )
    p.add_argument(
        "-o", "--output", metavar="OUT", required=True, help="OUT.png or OUT.jpg; a folder with --series or --dicom; OUT.mp4 for a video"
    )
    p.add_argument("--frame", type=int, metavar="N", help="frame number, from 1 (default 1)")
    p.add_argument("--format", metavar="FORMAT", help="png, jpeg or mp4 (default: OUT's extension; png for a folder)")
    p.add_argument(
        "--quality", type=int, metavar="Q", default=DEFAULT_JPEG_QUALITY, help=f"JPEG quality, 1-100 (default {DEFAULT_JPEG_QUALITY})"
    )
    p.add_argument("--overwrite", action="store_true", help="replace files of the same name in OUT (never done otherwise)")
    many = p.add_argument_group("series, video and copies")
    many.add_argument("--series", action="store_true", help="every image of INPUT's series, in the viewer's slice order")
    many.add_argument(
        "--fps",
        type=float,
        metavar="N",
        help="frames per second of an MP4 (default: the recorded rate: Frame Time, Frame Time Vector, Cine Rate or "
        f"Recommended Display Frame Rate; {DEFAULT_SERIES_RATE:g} for a series that records none)",
    )
    many.add_argument(
        "--dicom", action="store_true", help="copy the DICOM files themselves, byte for byte, into the folder OUT (names kept)"
    )
    many.add_argument("--media-names", action="store_true", help="with --dicom: name the copies IM000001... (8 characters, PS3.10)")
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
        help="draw the measurements kept for this image and frame (see 'measure --save') into the picture (then RGB)",
    )
    p.add_argument(
        "--corner-text",
        action="store_true",
        help="draw the pane's corner text (patient, study, series, image, window) and orientation markers into the picture "
        "(then RGB); with --annotations, what the pane draws over the image",
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
    """``export``: one image (:func:`run_export`); with --plane, a reformat of a series (:func:`run_export_reformat`);
    with --series, MP4 or --dicom, many images (:mod:`viewer.cli.export_series`)."""
    from viewer.cli import export_series

    if args.series or args.dicom or export_series.is_video(args):
        return export_series.run(args)
    if args.fps is not None or args.media_names:
        raise ViewerError("--fps is for an MP4 (OUT.mp4) and --media-names for --dicom")
    if args.pstate:
        args.frame = 1 if args.frame is None else args.frame
        return run_export_with_state(args)
    if args.plane is not None or args.slice is not None or args.slab is not None or args.mode is not None:
        return run_export_reformat(args)
    from viewer.core.documents.waveform import export_if_waveform  # ECG and other waveforms: the paper, --frame = group

    if check_output(args) != "png":  # before anything is read or drawn: waveforms and PDF pages are written as PNG only
        from viewer.core.dicom.io import read_header
        from viewer.core.documents.encapsulated import is_document_storage
        from viewer.core.documents.waveform import is_waveform

        header = read_header(Path(args.input))
        if is_waveform(header) or is_document_storage(header):
            raise ViewerError("a waveform or a document's page is written as PNG: name OUT .png", Path(args.input))
    if export_if_waveform(args.input, args.output, args.frame or 1):
        return EXIT_OK
    if args.frame is None:  # None by default only so that a reformat can refuse an explicit --frame
        args.frame = 1
    return run_export(args)


def run_export_with_state(args: argparse.Namespace) -> int:
    """``export --pstate PR.dcm``: the frame as the presentation state shows it (:mod:`viewer.core.documents.presentation_render`)."""
    from viewer.core.documents.presentation_render import render_file_with_state

    if args.window or args.preset or args.invert or args.annotations or args.corner_text:
        raise ViewerError(
            "--pstate shows the image as the presentation state says: no --window, --preset, --invert, --annotations or --corner-text"
        )
    if args.plane is not None or args.slice is not None or args.slab is not None or args.mode is not None:
        raise ViewerError("--pstate shows one image as the presentation state says: a reformat (--plane) has no presentation state")
    pixels = render_file_with_state(Path(args.input), Path(args.pstate), args.frame)
    write_output(args, pixels)
    return EXIT_OK


def run_export_reformat(args: argparse.Namespace) -> int:
    """``export --plane``: one reformatted plane (or slab) of a series, through the export's display pipeline."""
    from viewer.core.dicom.header import read_index_header
    from viewer.core.display.mpr import MODES, PLANES, automatic_window, reformat, reformat_display, slice_count
    from viewer.core.display.pixels.pipeline import Window
    from viewer.core.display.pixels.presets import preset_for
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
    if args.annotations or args.corner_text:
        raise ViewerError("--annotations and --corner-text draw over an image: a reformat has no measurements or header of its own")
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
    path = Path(args.input)
    check_output(args)
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
    write_output(args, frame.render(voi, args.invert))
    for note in volume.notes:
        print(f"dicom-viewer: note: {note}", file=sys.stderr)
    return EXIT_OK


def run_export_document_page(args: argparse.Namespace) -> int:
    """``export PDF.dcm --frame N``: page N of the document (:func:`viewer.core.documents.encapsulated.export_page`)."""
    from viewer.core.documents.encapsulated import export_page

    if args.window or args.preset or args.invert or args.annotations or args.corner_text:
        raise ViewerError("--window, --preset, --invert, --annotations and --corner-text apply to images; a PDF page is drawn as printed")
    export_page(args.input, args.frame, args.output)
    return EXIT_OK


def check_output(args: argparse.Namespace) -> str:
    """The picture format of OUT ('png' or 'jpeg'), and whether it can be written: one line before any decoding."""
    from viewer.core.export.files import check_target
    from viewer.core.export.still import format_of

    out = Path(args.output)
    fmt = format_of(out, args.format)
    check_target(out, args.overwrite)
    return fmt


def write_output(args: argparse.Namespace, pixels) -> None:
    """`pixels` to OUT as PNG or JPEG, atomically, never over a file without --overwrite."""
    from viewer.core.export.still import write_picture

    write_picture(Path(args.output), pixels, check_output(args), args.quality, args.overwrite)


def export_options(args: argparse.Namespace):
    """The rendering the command line asks for (:class:`viewer.core.export.render.ExportOptions`)."""
    from viewer.core.export.render import ExportOptions

    return ExportOptions(
        window=tuple(args.window) if args.window else None,
        preset=args.preset,
        invert=args.invert,
        overlays=not args.no_overlays,
        annotations=args.annotations,
        corner_text=args.corner_text,
        data_dir=Path(args.data_dir) if args.data_dir else None,
    )


def print_notes(notes) -> None:
    for note in notes:
        print(f"dicom-viewer: note: {note}", file=sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    """One frame of one file (:func:`viewer.core.export.render.render_image`): its frames are the series, as when opened alone."""
    from viewer.core.dicom.io import read_header
    from viewer.core.display.cine import recorded_frame_rate
    from viewer.core.display.frames import is_compressed
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.documents.encapsulated import is_document_storage
    from viewer.core.export.render import Renderer, render_image, series_voi
    from viewer.core.media.model import ImageRef, Instance
    from viewer.core.runtime.processes import shutdown_pool

    path = Path(args.input)
    header = read_header(path)
    if is_document_storage(header):  # an encapsulated PDF: --frame N is its page N (viewer/core/documents)
        return run_export_document_page(args)
    frames = number_of_frames(header)
    if not 1 <= args.frame <= frames:
        raise ViewerError(f"--frame {args.frame} is out of range: the image has {count(frames, 'frame')}", path)
    check_output(args)
    instance = Instance(path, header, frames)
    images = [ImageRef(instance, i) for i in range(frames)]
    renderer, options = Renderer(), export_options(args)
    try:
        voi = series_voi(renderer, images, args.frame - 1, options)
        pixels = render_image(renderer, images, args.frame - 1, voi, options, recorded_frame_rate(header)[0])
    finally:
        if is_compressed(header):  # decoded in worker processes (a damaged code stream costs one line, not the command)
            shutdown_pool()
    print_notes(renderer.notes)
    write_output(args, pixels)
    return EXIT_OK
