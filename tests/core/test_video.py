"""Video (PS3.5 8.2.5-8.2.8): frames decoded by the viewer against PyAV's own decode of the same raw stream.

The clips are encoded here with PyAV (libx264, mpeg2video, libx265) with
B-frames and short GOPs (open GOPs too), so that display order differs from
decode order and random access has to start at key frames; each frame also
shows its own number (tests/video_clips.py), an expectation independent of
any decoder. FFmpeg's command-line tool is not installed; PyAV is FFmpeg's
library, decoding the raw stream from its start, outside the viewer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")

from video_clips import (  # noqa: E402 - after the skip: they need av
    H264_FRAGMENTABLE_HIGH_41,
    H264_HIGH_41,
    HEVC_MAIN,
    MPEG2_MAIN_MAIN,
    frame_number_shown,
    reference_frames,
    video_dataset,
    write_clip,
)

from viewer.cli import main  # noqa: E402
from viewer.core.dicom.io import ViewerError, read_header  # noqa: E402
from viewer.core.display.cine import recorded_frame_rate  # noqa: E402
from viewer.core.display.frames import FrameSource, frame_with_time_limit  # noqa: E402
from viewer.core.display.pixels import video  # noqa: E402
from viewer.core.display.pixels.decoders import decode_file_frame  # noqa: E402
from viewer.core.display.pixels.pipeline import IDENTITY_WINDOW  # noqa: E402
from viewer.core.display.prefetch import InVideoWorker, ahead_first, executor_for, nearest_first, prefetch  # noqa: E402
from viewer.core.media.model import ImageRef, Instance  # noqa: E402
from viewer.core.runtime.processes import shutdown_pool  # noqa: E402

FRAMES = 40
#: (codec, container, transfer syntax, encoder options, fragments): every family, elementary and wrapped streams.
CLIPS = {
    "h264-es-bframes": ("libx264", "h264", H264_HIGH_41, {"g": "12", "bf": "3"}, 1),
    "h264-ts-open-gop-fragments": ("libx264", "mpegts", H264_FRAGMENTABLE_HIGH_41, {"g": "10", "bf": "2", "x264-params": "open-gop=1"}, 3),
    "mpeg2-ps": ("mpeg2video", "mpeg", MPEG2_MAIN_MAIN, {"g": "12", "bf": "2"}, 1),
    "mpeg2-es": ("mpeg2video", "mpeg2video", MPEG2_MAIN_MAIN, {"g": "12", "bf": "2"}, 1),
    "hevc-es-open-gop": ("libx265", "hevc", HEVC_MAIN, {"x265-params": "log-level=none:keyint=12:min-keyint=12:bframes=3:open-gop=1"}, 1),
}
#: Forward, then jumps back and ahead over key frames, steps back by one.
ORDER = [*range(FRAMES), 5, 30, 2, 39, 17, 16, 15, 0, 33, 12, 11, 24, 23]


@pytest.fixture(autouse=True)
def _fresh_decoders():
    video.forget_decoders()
    yield
    video.forget_decoders()


@pytest.fixture(scope="module", autouse=True)
def _stop_workers():
    yield
    shutdown_pool()


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """name -> (path, PyAV's reference frames of the raw stream)."""
    folder = tmp_path_factory.mktemp("clips")
    made = {}
    for name, (codec, fmt, syntax, options, fragments) in CLIPS.items():
        path = folder / f"{name}.dcm"
        stream = write_clip(path, codec, fmt, syntax, frames=FRAMES, options=options, fragments=fragments)
        made[name] = (path, reference_frames(stream))
    return made


def instance_of(path: Path) -> Instance:
    header = read_header(path)
    return Instance(path, header, int(header.NumberOfFrames))


@pytest.mark.parametrize("name", list(CLIPS))
def test_every_frame_in_any_order_matches_the_reference_decode(clips, name):
    path, reference = clips[name]
    assert len(reference) == FRAMES
    assert [frame_number_shown(f) for f in reference] == list(range(FRAMES))  # the encoder kept the order
    header = read_header(path)
    for index in ORDER:
        frame = decode_file_frame(path, header, index)
        assert frame.dtype == np.uint8 and frame.shape == (128, 160, 3)
        assert np.array_equal(frame, reference[index]), f"frame {index + 1}"


def test_frames_come_in_chunks_from_where_asked(clips):
    path, reference = clips["mpeg2-ps"]
    decoded = video.decode_video_frames(str(path), 35, 8)
    assert [i for i, _ in decoded] == [35, 36, 37, 38, 39]  # the stream's end ends the chunk
    assert all(np.array_equal(f, reference[i]) for i, f in decoded)


def test_worker_decodes_with_time_limit_and_keeps_the_frames_after(clips):
    path, reference = clips["h264-es-bframes"]
    source = FrameSource()
    instance = instance_of(path)
    display = frame_with_time_limit(source, ImageRef(instance, 20))
    assert np.array_equal(display.stored, reference[20])
    assert display.is_color and display.default_voi() is IDENTITY_WINDOW  # YBR -> RGB: shown as stored, no window
    assert source.cached(ImageRef(instance, 21))  # the next frame comes with it
    assert np.array_equal(source.frame(ImageRef(instance, 21)).stored, reference[21])


def test_prefetch_fills_the_cache_from_the_video_worker(clips):
    path, reference = clips["hevc-es-open-gop"]
    source = FrameSource()
    instance = instance_of(path)
    images = [ImageRef(instance, i) for i in range(FRAMES)]
    executor = executor_for(images[0])
    assert isinstance(executor, InVideoWorker)
    prefetch(source, images, 7, ahead_first, executor, cancel=lambda: False, fill=None)
    for ref in images:
        assert source.cached(ref)
        assert np.array_equal(source.frame(ref).stored, reference[ref.frame]), ref.frame


def test_browsing_prefetch_around_a_frame_fills_both_ways(clips):
    """The nearest-first order of browsing (20, 21, 19, 22, 18, ...): frames behind come one by one from the worker's window."""
    path, reference = clips["h264-ts-open-gop-fragments"]
    source = FrameSource()
    instance = instance_of(path)
    images = [ImageRef(instance, i) for i in range(FRAMES)]
    prefetch(source, images, 20, nearest_first, executor_for(images[20]), cancel=lambda: False, fill=None)
    assert all(np.array_equal(source.frame(ref).stored, reference[ref.frame]) for ref in images)


def test_a_loop_decodes_again_what_the_cache_let_go(clips):
    """A playing loop longer than the cache: a frame decoded in an earlier chunk, evicted since, is decoded again."""
    path, reference = clips["mpeg2-ps"]
    instance = instance_of(path)
    images = [ImageRef(instance, i) for i in range(FRAMES)]
    source = FrameSource()
    executor = InVideoWorker(chunk=6)
    first = executor.start(source, images[0])  # frames 0-5, asked for as frame 0 (the play head moved on)
    first.result(timeout=60)
    executor.finish(source, images[0], first)
    assert source.cached(images[3])
    source.clear()  # the loop came round: the cache let them go
    again = executor.start(source, images[3])
    again.result(timeout=60)
    executor.finish(source, images[3], again)
    assert source.cached(images[3]) and np.array_equal(source.frame(images[3]).stored, reference[3])


def test_recorded_rate_plays_the_clip(clips):
    path, _ = clips["h264-es-bframes"]
    fps, said_by = recorded_frame_rate(read_header(path))
    assert said_by == "Frame Time" and fps == pytest.approx(30, rel=1e-3)


def test_monochrome_video_is_windowed(tmp_path):
    path = tmp_path / "grey.dcm"
    stream = write_clip(path, frames=12, options={"g": "6", "bf": "2"}, photometric="MONOCHROME2")
    reference = reference_frames(stream, "luma")
    header = read_header(path)
    source = FrameSource()
    display = source.frame(ImageRef(Instance(path, header, 12), 9))
    assert display.stored.ndim == 2 and np.array_equal(display.stored, reference[9])
    assert not display.is_color and display.uses_automatic_window()


def test_export_writes_the_frame(clips, tmp_path):
    from PIL import Image

    path, reference = clips["mpeg2-es"]
    out = tmp_path / "f.png"
    assert main(["export", str(path), "--frame", "23", "-o", str(out)]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), reference[22])


def test_export_frame_out_of_range_is_one_line(clips, tmp_path, capsys):
    path, _ = clips["mpeg2-es"]
    assert main(["export", str(path), "--frame", "41", "-o", str(tmp_path / "x.png")]) == 2
    assert "has 40 frames" in capsys.readouterr().err


# ----------------------------------------------------------------------------- damaged files


def damaged(tmp_path: Path, name: str, stream: bytes, frames: int = FRAMES, syntax: str = H264_HIGH_41) -> Path:
    path = tmp_path / name
    video_dataset(stream, syntax, 160, 128, frames).save_as(path, enforce_file_format=True)
    return path


def export_error(path: Path, frame: int, tmp_path: Path) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "export", str(path), "--frame", str(frame), "-o", str(tmp_path / "out.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and result.stdout == "", result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out.png").exists()
    return lines[0]


def test_stream_shorter_than_the_file_says(tmp_path):
    from video_clips import encode

    stream = encode("libx264", "h264", 160, 128, 10, options={"g": "5"})
    path = damaged(tmp_path, "short.dcm", stream, frames=FRAMES)
    line = export_error(path, 30, tmp_path)
    assert "frame 30 is not in the video stream, which holds 10 frames (the file says 40)" in line


@pytest.mark.parametrize(
    ("name", "stream", "fragment"),
    [
        (
            "noise.dcm",
            bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8)),
            "not a MPEG-4 AVC/H.264 stream FFmpeg can read",
        ),
        ("zeros.dcm", bytes(5000), "not a MPEG-4 AVC/H.264 stream FFmpeg can read"),
    ],
)
def test_garbage_stream_is_one_line(tmp_path, name, stream, fragment):
    line = export_error(damaged(tmp_path, name, stream), 1, tmp_path)
    assert fragment in line


def test_truncated_stream_is_one_line(tmp_path):
    from video_clips import encode

    stream = encode("libx264", "h264", 160, 128, FRAMES, options={"g": "12", "bf": "3"})
    path = damaged(tmp_path, "cut.dcm", stream[: len(stream) // 3])
    line = export_error(path, 40, tmp_path)
    assert "frame 40" in line


def test_wrong_codec_for_the_syntax(tmp_path):
    from video_clips import encode

    stream = encode("mpeg2video", "mpeg2video", 160, 128, 5)
    path = damaged(tmp_path, "mislabelled.dcm", stream, frames=5, syntax=HEVC_MAIN)
    line = export_error(path, 1, tmp_path)
    assert "holds a mpeg2video stream, not the HEVC/H.265 its transfer syntax names" in line


def test_without_pyav_the_message_says_what_to_install(clips, monkeypatch):
    path, _ = clips["h264-es-bframes"]
    monkeypatch.setattr(video, "video_available", lambda: False)
    with pytest.raises(ViewerError) as excinfo:
        decode_file_frame(path, read_header(path), 0)
    assert str(excinfo.value).endswith("is encapsulated video: install av (PyAV) to play it")
