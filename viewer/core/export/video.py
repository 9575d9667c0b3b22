"""A cine or a series as an MP4 clip: H.264 (ISO/IEC 14496-10) in yuv420p, at the recorded frame rate.

The rate is the one the cine plays (:func:`viewer.core.display.cine.recorded_frame_rate`:
(0018,1063) *Frame Time*, (0018,1065) *Frame Time Vector*, (0018,0040)
*Cine Rate*, (0008,2144) *Recommended Display Frame Rate*); a series that
records none plays at the rate the user gives (:data:`DEFAULT_SERIES_RATE`).
Every frame uses one VOI (:func:`~viewer.core.export.render.series_voi`).

Encoded with PyAV's FFmpeg: its wheels carry libx264 (checked: PyAV 18.1
lists libx264 and libx264rgb, no libopenh264); :func:`h264_encoder` takes the
first of libx264, libopenh264 it finds. yuv420p, the one pixel format every
player decodes, halves the chroma in both directions, so the picture must be
an even number of pixels wide and high: odd sizes are padded with black on
the right or at the bottom (never cropped), and the note says so. Images of
another size than the first are placed at the top left of a canvas large
enough for all. Written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from viewer.core.dicom.io import ViewerError
from viewer.core.display.cine import recorded_frame_rate
from viewer.core.export import DEFAULT_SERIES_RATE
from viewer.core.export.files import check_target, put_in_place, temporary_beside
from viewer.core.export.render import ExportOptions, Renderer, render_image, series_voi
from viewer.core.media.model import ImageRef
from viewer.core.runtime.tasks import CancelToken

#: H.264 encoders, in order of preference (FFmpeg's names).
H264_ENCODERS = ("libx264", "libopenh264")
#: libx264's constant rate factor: 18 is visually lossless for most pictures.
X264_CRF = "18"

Progress = Callable[[int, int], None]


def h264_encoder() -> str:
    """The name of an H.264 encoder this PyAV carries (one-line ViewerError when none)."""
    try:
        import av
    except ImportError:
        raise ViewerError("writing MP4 needs PyAV: pip install av") from None
    for name in H264_ENCODERS:
        try:
            av.codec.Codec(name, "w")
            return name
        except Exception:  # UnknownCodecError and kin: not in this build
            continue
    raise ViewerError("this PyAV's FFmpeg has no H.264 encoder (libx264 or libopenh264): install PyAV's wheel from PyPI")


def series_frame_rate(renderer: Renderer, images: Sequence[ImageRef], default: float = DEFAULT_SERIES_RATE) -> tuple[float, str]:
    """(frames per second, what said so) for `images`: the first file's recorded rate, else `default` ('default')."""
    try:
        header = renderer.header(images[0])
    except ViewerError:
        header = images[0].instance.header
    rate, source = recorded_frame_rate(header)
    return (rate, source) if source != "default" else (float(default), "default")


def even_canvas(sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(rows, columns) holding every size, each rounded up to an even number (yuv420p)."""
    rows = max(r for r, _ in sizes)
    cols = max(c for _, c in sizes)
    return rows + rows % 2, cols + cols % 2


@dataclass
class Clip:
    """What :func:`export_mp4` wrote."""

    path: Path
    frames: int
    rate: Fraction
    size: tuple[int, int]  # (rows, columns) of the video
    encoder: str
    notes: list[str] = field(default_factory=list)


def _image_size(ref: ImageRef) -> tuple[int, int] | None:
    header = ref.instance.header
    try:
        return int(header.Rows), int(header.Columns)
    except (AttributeError, TypeError, ValueError):
        return None


def export_mp4(
    renderer: Renderer,
    images: Sequence[ImageRef],
    path: str | os.PathLike[str],
    options: ExportOptions,
    fps: float,
    overwrite: bool = False,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
) -> Clip:
    """`images` as an H.264 MP4 at `fps` frames per second (see the module's docstring); Cancelled when `cancel` is set."""
    import av

    path = Path(path)
    if not images:
        raise ViewerError("the series has no image to export")
    if not (fps > 0 and fps <= 1000):
        raise ViewerError(f"frame rate {fps:g} is out of range: more than 0, at most 1000 frames per second")
    check_target(path, overwrite)
    encoder = h264_encoder()
    rate = Fraction(fps).limit_denominator(1001)
    voi = series_voi(renderer, images, len(images) // 2, options)
    first = render_image(renderer, images, 0, voi, options, fps)
    sizes = [size for size in (_image_size(ref) for ref in images) if size is not None] + [first.shape[:2]]
    rows, cols = even_canvas(sizes)
    notes = []
    if (rows, cols) != first.shape[:2] or len({*sizes}) > 1:
        notes.append(
            f"the video is {cols}x{rows}: images padded with black on the right and at the bottom (H.264 in yuv420p needs even sizes)"
        )
    try:
        f, tmp = temporary_beside(path)
    except OSError as exc:
        raise ViewerError(f"cannot write {path}: {exc.strerror or exc}") from None
    f.close()
    try:
        container = av.open(str(tmp), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            stream = container.add_stream(encoder, rate=rate)
            stream.width, stream.height, stream.pix_fmt = cols, rows, "yuv420p"
            # The encoder counts in frames (1/rate); the MP4 muxer picks its own time scale and rescales
            # (setting the stream's to 1/rate makes libx264's reordered timestamps fail to mux past some 90 frames).
            frame_time = 1 / rate
            if encoder == "libx264":
                stream.options = {"crf": X264_CRF}
            else:
                stream.bit_rate = max(1_000_000, int(rows * cols * float(rate) * 0.2))
            for index in range(len(images)):
                if cancel is not None:
                    cancel.check()
                pixels = first if index == 0 else render_image(renderer, images, index, voi, options, fps)
                frame = _video_frame(pixels, rows, cols)
                frame.pts = index
                frame.time_base = frame_time
                for packet in stream.encode(frame):
                    container.mux(packet)
                if progress is not None:
                    progress(index + 1, len(images))
            for packet in stream.encode():
                container.mux(packet)
        finally:
            container.close()
        put_in_place(tmp, path, overwrite)
    except (OSError, av.error.FFmpegError) as exc:  # FFmpeg's errors: a full disk, an encoder that refuses the size
        raise ViewerError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return Clip(path, len(images), rate, (rows, cols), encoder, notes + list(renderer.notes))


def _video_frame(pixels: np.ndarray, rows: int, cols: int):
    """An av.VideoFrame of `pixels` placed at the top left of a black rows x cols canvas (gray or rgb24)."""
    import av

    grey = pixels.ndim == 2
    canvas = np.zeros((rows, cols) if grey else (rows, cols, 3), np.uint8)
    canvas[: pixels.shape[0], : pixels.shape[1]] = pixels[:rows, :cols]
    return av.VideoFrame.from_ndarray(canvas, format="gray" if grey else "rgb24")
