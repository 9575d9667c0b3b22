"""Video playback (#16): 1080p H.264 at 30 fps and 640x480 MPEG-2 at 60 fps, at most 1 dropped frame in 1000.

Each clip is encoded once with PyAV (tests/video_clips.py, cached in
/tmp/dicom-viewer-bench/video) and played as the viewport plays a loop: a
:class:`~viewer.core.display.cine.CineClock` at the recorded rate says which
frame is due, the cine's prefetcher (:class:`~viewer.core.display.prefetch.PlayHead`
on :func:`~viewer.core.display.prefetch.executor_for`, i.e. the video worker)
decodes ahead into a :class:`~viewer.core.display.frames.FrameSource` of the
app's default budget (after PRE_ROLL seconds on the first frame, during
which the viewport's browsing prefetch decodes ahead, as in the app), and at
each frame's time the frame is rendered
(``render_packed``, what the pane paints from). A frame not decoded by its
time counts as dropped, as does one whose time passed while the loop was
busy (the clock's own count). Playback starts with the first frame shown,
as in the app. Baseline, same run: PyAV decoding the raw stream in this
process (frames/s, RGB out), the decoder's ceiling.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from benchmarks._common import Summary

DATA = Path("/tmp/dicom-viewer-bench/video")
SHOWN = 1000
#: Seconds between the first frame on screen and Play (the viewport decodes ahead meanwhile).
PRE_ROLL = 2.0
GOAL_DROPPED = 1


@dataclass
class Case:
    name: str
    codec: str
    fmt: str
    syntax: str
    width: int
    height: int
    frames: int
    fps: int
    options: dict


CASES = (
    Case(
        "1080p H.264 High @ 30 fps",
        "libx264",
        "h264",
        "1.2.840.10008.1.2.4.102",
        1920,
        1080,
        300,
        30,
        {"preset": "veryfast", "g": "30", "bf": "2"},
    ),
    Case(
        "640x480 MPEG-2 MP@ML @ 60 fps",
        "mpeg2video",
        "mpeg",
        "1.2.840.10008.1.2.4.100",
        640,
        480,
        600,
        60,
        {"g": "15", "bf": "2", "b": "6M"},
    ),
)


@dataclass
class Result:
    case: Case
    shown: int
    dropped_not_ready: int
    dropped_late: int
    render_ms_p95: float
    baseline_fps: float
    first_frame_ms: float
    worker_fps: float = 0.0
    load: float = 0.0  # the machine's 1-minute load average when the clip had played

    @property
    def dropped(self) -> int:
        return self.dropped_not_ready + self.dropped_late


def clip(case: Case) -> tuple[Path, bytes]:
    from video_clips import encode, video_dataset

    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"{case.codec}-{case.width}x{case.height}-{case.frames}.dcm"
    raw = path.with_suffix(".raw")
    if not path.exists() or not raw.exists():
        stream = encode(case.codec, case.fmt, case.width, case.height, case.frames, case.fps, case.options)
        video_dataset(stream, case.syntax, case.width, case.height, case.frames, case.fps).save_as(path, enforce_file_format=True)
        raw.write_bytes(stream)
    return path, raw.read_bytes()


def baseline_fps(stream: bytes, frames: int = 120) -> float:
    import io

    import av

    container = av.open(io.BytesIO(stream))
    container.streams.video[0].thread_type = "AUTO"
    started = time.perf_counter()
    done = 0
    for frame in container.decode(video=0):
        frame.to_ndarray(format="rgb24")
        done += 1
        if done == frames:
            break
    container.close()
    return done / (time.perf_counter() - started)


def worker_fps(path: Path, frames: int = 180) -> float:
    """Frames per second the video worker delivers into a FrameSource, decoding ahead as fast as it can."""
    from viewer.core.dicom.io import read_header
    from viewer.core.display.frames import FrameSource
    from viewer.core.display.pixels.video import forget_decoders
    from viewer.core.display.prefetch import InVideoWorker, ahead_first, prefetch
    from viewer.core.media.model import ImageRef, Instance

    forget_decoders()
    header = read_header(path)
    instance = Instance(path, header, min(frames, int(header.NumberOfFrames)))
    images = [ImageRef(instance, i) for i in range(instance.frames)]
    source = FrameSource()
    started = time.perf_counter()
    done = prefetch(source, images, 0, ahead_first, InVideoWorker(), cancel=lambda: False, fill=None)
    return done / (time.perf_counter() - started)


def play(case: Case, path: Path, shown: int = SHOWN) -> Result:
    from viewer.core.dicom.io import read_header
    from viewer.core.display.cine import CineClock, recorded_frame_rate
    from viewer.core.display.frames import FrameSource, frame_with_time_limit
    from viewer.core.display.prefetch import PlayHead, executor_for, nearest_first, prefetch
    from viewer.core.media.model import ImageRef, Instance

    header = read_header(path)
    frames = int(header.NumberOfFrames)
    instance = Instance(path, header, frames)
    images = [ImageRef(instance, i) for i in range(frames)]
    source = FrameSource()
    started = time.perf_counter()
    first = frame_with_time_limit(source, images[0])  # what the viewport shows before play is pressed
    first_ms = (time.perf_counter() - started) * 1000
    voi = first.default_voi()
    fps, _ = recorded_frame_rate(header)
    # While the first frame is on screen the viewport decodes ahead (nearest first, up to 80% of the
    # cache); the user presses Play after PRE_ROLL seconds, which stops it and starts the cine's own.
    browsing = threading.Event()
    browse = threading.Thread(
        target=prefetch, args=(source, images, 0, nearest_first, executor_for(images[0]), browsing.is_set), daemon=True
    )
    browse.start()
    browse.join(timeout=PRE_ROLL)
    browsing.set()
    browse.join(timeout=30)
    head = [0]
    stop = threading.Event()
    worker = threading.Thread(
        target=prefetch,
        # As the cine does (viewer/ui/viewport/cine.py): half the cache's budget ahead of the play head.
        args=(
            source,
            images,
            0,
            PlayHead(lambda: head[0], max(2, int(source.max_bytes * 0.5 // first.nbytes))),
            executor_for(images[0]),
            stop.is_set,
        ),
        kwargs={"fill": None},
        daemon=True,
    )
    worker.start()
    clock = CineClock(frames, fps)
    clock.start(time.monotonic(), 0)
    not_ready = 0
    renders = []
    period = 1.0 / fps
    next_tick = time.monotonic()
    while clock.shown < shown:
        next_tick += period
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        index = clock.index_at(time.monotonic())
        if index is None:
            continue
        head[0] = index
        ref = images[index]
        if not source.cached(ref):
            not_ready += 1
            continue
        t = time.perf_counter()
        source.frame(ref).render_packed(voi)
        renders.append((time.perf_counter() - t) * 1000)
    stop.set()
    worker.join(timeout=30)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return Result(case, clock.shown, not_ready, clock.dropped, Summary.of_ms(renders).p95 if renders else 0.0, 0.0, first_ms, 0.0, load)


def run(shown: int = SHOWN, log=None) -> list[Result]:
    from viewer.core.runtime.processes import shutdown_pool

    results = []
    try:
        for case in CASES:
            if log:
                log(f"video: {case.name} (encoding the clip on the first run)")
            path, stream = clip(case)
            result = play(case, path, shown)
            result.baseline_fps = baseline_fps(stream)
            result.worker_fps = worker_fps(path)
            results.append(result)
    finally:
        shutdown_pool()
    return results


def markdown(results: list[Result]) -> str:
    lines = [
        "## Video playback (frames due at the recorded rate, decoded in the video worker)",
        "",
        f"Goal (issue #16): at most {GOAL_DROPPED} dropped frame in 1000.",
        "",
        "| clip | frames due | dropped: not decoded in time | dropped: loop late | render p95 (ms) | first frame (ms) "
        "| video worker into the cache, flat out (fps) | baseline: PyAV in-process decode (fps) | load average (1 min, 2 cores) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.case.name} | {r.shown} | {r.dropped_not_ready} | {r.dropped_late} | {r.render_ms_p95:.2f} | "
            f"{r.first_frame_ms:.0f} | {r.worker_fps:.0f} | {r.baseline_fps:.0f} | {r.load:.1f} |"
        )
    return "\n".join(lines) + "\n"


NOTES = """\
* **Video** (bench_video.py): the clips are synthetic (frame numbers as blocks over a gradient, tests/video_clips.py),
  encoded once with PyAV's libx264 (veryfast, GOP 30, 2 B-frames) and mpeg2video (GOP 15, 2 B-frames, 6 Mbit/s).
  The play loop is the viewport's: the first frame shown, the browsing prefetch for 2 s (the user presses Play),
  then CineClock at the file's Frame Time, PlayHead prefetch (half the cache ahead) into the video worker,
  `render_packed` of each due frame; "not decoded in time" = the due frame was not in the cache at its time.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shown", type=int, default=SHOWN, help=f"frames due per clip (default {SHOWN})")
    args = parser.parse_args(argv)
    print(markdown(run(args.shown, log=lambda text: print(text, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
