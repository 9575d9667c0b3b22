"""Synthetic video clips wrapped in DICOM, for the video tests and benchmarks.

Each frame shows its own number as a row of 10 large blocks (bit 9 first;
white = 1) over a horizontal gradient, so a decoded frame says which frame
it is even after lossy compression (:func:`frame_number_shown`). The clip is
encoded with PyAV (libx264, mpeg2video, libx265 from its wheel) and wrapped
as the standard says (PS3.5 8.2.5-8.2.8): the whole stream in one fragment
after an empty Basic Offset Table, or split over several fragments for the
"fragmentable" syntaxes. Nothing here is the viewer's code.
"""

from __future__ import annotations

import io
from pathlib import Path

import av
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid

BITS = 10
H264_HIGH_41 = "1.2.840.10008.1.2.4.102"
H264_HIGH_42 = "1.2.840.10008.1.2.4.104"
H264_FRAGMENTABLE_HIGH_41 = "1.2.840.10008.1.2.4.102.1"
MPEG2_MAIN_MAIN = "1.2.840.10008.1.2.4.100"
MPEG2_MAIN_HIGH = "1.2.840.10008.1.2.4.101"
HEVC_MAIN = "1.2.840.10008.1.2.4.107"
VIDEO_ENDOSCOPIC = "1.2.840.10008.5.1.4.1.1.77.1.1.1"


def pattern(index: int, width: int, height: int) -> np.ndarray:
    """RGB frame `index`: its number in blocks across the top half, a gradient below."""
    img = np.zeros((height, width, 3), np.uint8)
    img[height // 2 :, :, :] = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    img[height // 2 :, :, 2] = (index * 7) % 256
    block = width // BITS
    for bit in range(BITS):
        if index >> (BITS - 1 - bit) & 1:
            img[height // 8 : height // 2 - height // 8, bit * block + block // 8 : (bit + 1) * block - block // 8] = 255
    return img


def frame_number_shown(rgb_or_grey: np.ndarray) -> int:
    """The number :func:`pattern` drew into a decoded frame (greyscale or RGB)."""
    grey = rgb_or_grey if rgb_or_grey.ndim == 2 else rgb_or_grey.mean(axis=2)
    height, width = grey.shape
    block = width // BITS
    row = grey[height // 4]
    value = 0
    for bit in range(BITS):
        value = value << 1 | int(row[bit * block + block // 2] > 128)
    return value


def encode(codec: str, fmt: str, width: int, height: int, frames: int, fps: int = 30, options: dict | None = None) -> bytes:
    """The raw stream (elementary: fmt h264/hevc/mpeg2video; or mpeg/mpegts) of `frames` pattern frames."""
    buffer = io.BytesIO()
    out = av.open(buffer, "w", format=fmt)
    stream = out.add_stream(codec, rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    # x265 prints its settings to stderr unless told otherwise.
    stream.options = {"x265-params": "log-level=none", **(options or {})} if codec == "libx265" else dict(options or {})
    for index in range(frames):
        for packet in stream.encode(av.VideoFrame.from_ndarray(pattern(index, width, height), format="rgb24")):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buffer.getvalue()


def reference_frames(stream: bytes, fmt: str = "rgb24") -> list[np.ndarray]:
    """PyAV's own decode of the raw stream, every frame in order: the expected values.

    `fmt` "luma": the coded 8-bit Y samples (FFmpeg's plane 0), what a MONOCHROME2 video stores.
    """
    container = av.open(io.BytesIO(stream))
    try:
        if fmt == "luma":
            return [_luma(frame) for frame in container.decode(video=0)]
        return [frame.to_ndarray(format=fmt) for frame in container.decode(video=0)]
    finally:
        container.close()


def _luma(frame) -> np.ndarray:
    plane = frame.planes[0]
    return np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width].copy()


def video_dataset(
    stream: bytes,
    syntax: str,
    width: int,
    height: int,
    frames: int,
    fps: float = 30,
    photometric: str = "YBR_PARTIAL_420",
    fragments: int = 1,
) -> Dataset:
    """A Video Endoscopic Image (PS3.3 A.32.7) holding `stream` as its Pixel Data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = VIDEO_ENDOSCOPIC
    ds.SOPClassUID = VIDEO_ENDOSCOPIC
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Video^Clip", "VID1", "ES"
    ds.StudyDate, ds.SeriesNumber, ds.InstanceNumber = "20260101", 1, 1
    ds.Rows, ds.Columns, ds.NumberOfFrames = height, width, frames
    ds.SamplesPerPixel = 1 if photometric.startswith("MONOCHROME") else 3
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.FrameTime = round(1000.0 / fps, 4)
    ds.CineRate = int(round(fps))
    ds.FrameIncrementPointer = 0x00181063
    if fragments > 1:
        ds.PixelData = encapsulate([stream], fragments_per_frame=fragments)
    else:
        ds.PixelData = encapsulate([stream])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    return ds


def write_clip(
    path: Path,
    codec: str = "libx264",
    fmt: str = "h264",
    syntax: str = H264_HIGH_41,
    width: int = 160,
    height: int = 128,
    frames: int = 40,
    fps: float = 30,
    options: dict | None = None,
    photometric: str = "YBR_PARTIAL_420",
    fragments: int = 1,
) -> bytes:
    """Write a clip to `path`; returns its raw stream (for :func:`reference_frames`)."""
    stream = encode(codec, fmt, width, height, frames, int(round(fps)), options)
    video_dataset(stream, syntax, width, height, frames, fps, photometric, fragments).save_as(path, enforce_file_format=True)
    return stream
