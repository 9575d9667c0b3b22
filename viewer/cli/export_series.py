"""``export --series``, ``export ... -o OUT.mp4`` and ``export --dicom``: many images at once (:mod:`viewer.core.export`).

A part of the ``export`` command (:mod:`viewer.cli.export`), not a command of its own.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.wording import count


def is_video(args: argparse.Namespace) -> bool:
    """Whether OUT is an MP4 (by --format mp4 or its extension)."""
    return (args.format or "").lower() == "mp4" or Path(args.output).suffix.lower() == ".mp4"


def run(args: argparse.Namespace) -> int:
    if args.pstate or args.plane is not None or args.slice is not None or args.slab is not None or args.mode is not None:
        raise ViewerError("--series, --dicom and MP4 take whole images; --pstate and --plane write one picture")
    if args.frame is not None:
        raise ViewerError("--frame is for one picture; --series, --dicom and MP4 take every image")
    if args.dicom:
        if is_video(args) or args.format or args.fps is not None:
            raise ViewerError("--dicom copies the files as they are: no --format, --fps or OUT.mp4")
        return run_copy(args)
    if args.media_names:
        raise ViewerError("--media-names names the copies of --dicom")
    if is_video(args):
        return run_video(args)
    if args.fps is not None:
        raise ViewerError("--fps is for an MP4: name OUT.mp4")
    return run_pictures(args)


def _images(args: argparse.Namespace):
    """INPUT's series (with --series) or INPUT's frames: (images in the viewer's order, a phrase for messages)."""
    from viewer.core.dicom.io import path_is_folder, read_header
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.display.series_volume import series_at
    from viewer.core.media.model import ImageRef, Instance

    path = Path(args.input)
    if args.series:
        series = series_at(path)
        images = series.images
        if not images:
            raise ViewerError("the series has no image that can be read", path)
        return images
    if path_is_folder(path):
        raise ViewerError("is a folder: give --series for the series it holds, or name a file", path)
    header = read_header(path)
    instance = Instance(path, header, number_of_frames(header))
    return [ImageRef(instance, i) for i in range(instance.frames)]


def _finish(job):
    """Run `job()`; stop the decoding workers after (compressed frames are decoded in them)."""
    from viewer.core.runtime.processes import shutdown_pool

    try:
        return job()
    finally:
        shutdown_pool()  # nothing to stop when nothing was compressed


def run_pictures(args: argparse.Namespace) -> int:
    """``export --series -o FOLDER``: IMG0001.png... (or .jpg with --format jpeg) in the viewer's order, one window."""
    from viewer.cli.export import export_options, print_notes
    from viewer.core.export.render import Renderer
    from viewer.core.export.sequence import export_pictures
    from viewer.core.export.still import format_of
    from viewer.core.export.video import series_frame_rate

    if not args.series:
        raise ViewerError("a folder of pictures is made of a series: give --series (or name OUT.png / OUT.jpg / OUT.mp4)")
    fmt = format_of("x.png", args.format)
    images = _images(args)
    renderer = Renderer()
    rate = series_frame_rate(renderer, images)[0]
    written = _finish(
        lambda: export_pictures(renderer, images, args.output, export_options(args), fmt, args.quality, args.overwrite, frame_rate=rate)
    )
    print_notes(written.notes)
    print(f"{count(len(written.files), 'picture')} written to {args.output}")
    return EXIT_OK


def run_video(args: argparse.Namespace) -> int:
    """``export INPUT -o OUT.mp4``: a cine (a multi-frame file) or, with --series, a series, as H.264 at its frame rate."""
    from viewer.cli.export import export_options, print_notes
    from viewer.core.export.render import Renderer
    from viewer.core.export.video import export_mp4, series_frame_rate

    if args.format and args.format.lower() != "mp4":
        raise ViewerError(f"an MP4 is written as H.264: --format {args.format} does not apply to OUT.mp4")
    images = _images(args)
    renderer = Renderer()
    fps = args.fps if args.fps is not None else series_frame_rate(renderer, images)[0]
    clip = _finish(lambda: export_mp4(renderer, images, args.output, export_options(args), fps, args.overwrite))
    print_notes(clip.notes)
    print(
        f"{count(clip.frames, 'frame')} at {float(clip.rate):.4g} fps ({clip.encoder}, {clip.size[1]}x{clip.size[0]}) written to {clip.path}"
    )
    return EXIT_OK


def run_copy(args: argparse.Namespace) -> int:
    """``export --dicom -o FOLDER``: INPUT's files (a file; a folder's DICOM files; with --series, its series') copied as they are."""
    from viewer.core.dicom.header import read_raw_header
    from viewer.core.dicom.io import path_is_folder
    from viewer.core.display.series_volume import series_at, series_files
    from viewer.core.export.dicom_copy import copy_dicom
    from viewer.core.media.sources import open_paths

    path = Path(args.input)
    if args.series:
        files = series_files(series_at(path))
    elif path_is_folder(path):
        found = open_paths([path])
        files = [i.path for series in found.catalog.all_series() for i in series.instances if i.available and i.path is not None]
        if not files:
            raise ViewerError("the folder holds no DICOM files", path)
    else:
        read_raw_header(path)  # one line when it is not DICOM
        files = [path]
    copied = copy_dicom(files, args.output, "media" if args.media_names else "kept")
    print(f"{count(len(copied), 'file')} copied to {args.output}", file=sys.stdout)
    return EXIT_OK
