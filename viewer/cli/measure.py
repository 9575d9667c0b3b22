"""Measure: a length, angle or ROI in real units (``dicom-viewer measure``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from viewer.cli.common import EXIT_OK
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.wording import count


def add_parser(sub) -> None:
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
