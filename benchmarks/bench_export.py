"""Export of a series (issue #17): IMG0001.png... and an H.264 MP4, against what the same work costs done plainly.

Data: 100 slices made from pydicom's 693_UNCI.dcm (a real 512x512 CT in HU),
5 mm apart, written once into a temporary folder. Measured, in one run:

1. **pictures**: ``export_pictures`` (decode through the frame source, the
   series' one window, the display pipeline, the PNG encoded and written
   atomically), per image; **baseline, plain**: pydicom's ``pixel_array``,
   rescale and the PS3.3 C.11.2.1.2.1 window in numpy, the same PNG encoder
   writing straight to the file; **peer**: dcmtk's ``dcmj2pnm +Ww`` per file
   (a process per image, as a script would call it; skipped when missing).
2. **MP4**: ``export_mp4`` per frame; **baseline, the encoder alone**: PyAV
   encoding the same 100 already rendered frames with libx264 (crf 18,
   yuv420p): the floor any H.264 export pays.

Run: ``.venv/bin/python benchmarks/bench_export.py [--images 100]``. Reports, never asserts.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import machine_description


def make_series(folder: Path, images: int) -> None:
    import pydicom
    from pydicom.data import get_testdata_file

    template = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False))
    for number in range(1, images + 1):
        ds = template.copy()
        ds.InstanceNumber = number
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
        ds.ImagePositionPatient = [0, 0, 5.0 * number]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.save_as(folder / f"{number:04d}.dcm")


def plain_pictures(files: list[Path], out: Path, center: float, width: float) -> None:
    import pydicom

    from viewer.core.display.png import encode_png

    out.mkdir()
    for k, path in enumerate(files, start=1):
        ds = pydicom.dcmread(path)
        x = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        y = np.clip(((x - (center - 0.5)) / (width - 1) + 0.5) * 255, 0, 255).astype(np.uint8)
        (out / f"IMG{k:04d}.png").write_bytes(encode_png(y))


def encoder_alone(frames: list[np.ndarray], path: Path, fps: int) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.options = {"crf": "18"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def run(images: int = 100) -> list[tuple[str, float]]:
    from viewer.core.export.render import ExportOptions, Renderer, render_image, series_voi
    from viewer.core.export.sequence import export_pictures
    from viewer.core.export.video import export_mp4
    from viewer.core.media.sources import open_paths

    work = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        source = work / "ct"
        source.mkdir()
        make_series(source, images)
        (series,) = open_paths([source]).catalog.all_series()
        refs = series.images
        rows = []

        start = time.perf_counter()
        written = export_pictures(Renderer(), refs, work / "pictures", ExportOptions(overlays=False))
        rows.append(("export_pictures, per image", (time.perf_counter() - start) / images * 1000))
        center, width = written.voi.center, written.voi.width
        start = time.perf_counter()
        plain_pictures(sorted(source.iterdir()), work / "plain", center, width)
        rows.append(("baseline: pydicom + numpy window + the same PNG encoder, per image", (time.perf_counter() - start) / images * 1000))
        if shutil.which("dcmj2pnm"):
            (work / "dcmtk").mkdir()
            start = time.perf_counter()
            for k, path in enumerate(sorted(source.iterdir()), start=1):
                subprocess.run(
                    ["dcmj2pnm", "-O", "+on", "+Ww", str(center), str(width), str(path), str(work / "dcmtk" / f"{k}.png")], check=True
                )
            rows.append(("peer: dcmj2pnm, a process per file, per image", (time.perf_counter() - start) / images * 1000))

        start = time.perf_counter()
        export_mp4(Renderer(), refs, work / "ct.mp4", ExportOptions(overlays=False), 25.0)
        rows.append(("export_mp4 (libx264), per frame", (time.perf_counter() - start) / images * 1000))
        renderer = Renderer()
        voi = series_voi(renderer, refs, images // 2, ExportOptions(overlays=False))
        frames = [render_image(renderer, refs, k, voi, ExportOptions(overlays=False)) for k in range(images)]
        start = time.perf_counter()
        encoder_alone(frames, work / "alone.mp4", 25)
        rows.append(("baseline: PyAV libx264 on the rendered frames alone, per frame", (time.perf_counter() - start) / images * 1000))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=100)
    args = parser.parse_args()
    print(machine_description())
    for what, ms in run(args.images):
        print(f"{ms:8.2f} ms  {what}")


if __name__ == "__main__":
    main()
