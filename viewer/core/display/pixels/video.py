"""Encapsulated video: MPEG-2, MPEG-4 AVC/H.264 and HEVC/H.265 frames (PS3.5 8.2.5-8.2.8).

A video's (7FE0,0010) *Pixel Data* is one compressed bit stream, not one
item per frame: the Basic Offset Table is empty and the stream's fragments,
in order, make the whole stream (the "fragmentable" syntaxes may split it
over many). The stream is an elementary stream or an MPEG-2 program or
transport stream; FFmpeg (through PyAV) tells which by looking at it.

A video is not random-access: a frame can only be decoded from the key
frame before it. :class:`VideoDecoder` therefore decodes *sequentially
ahead*: it keeps the decoder positioned after the last frame it gave, so the
next frame (playing, stepping forward) costs one frame's decoding, keeps a
small window of the frames decoded last (stepping back), and for a frame
elsewhere starts again at the nearest key frame before it.

Display order is not decode order (B-frames). Each packet is tagged with
its decode index as its presentation time, which the decoder hands back
with the frame that packet holds; a frame's display index is counted from
the key frame it was decoded from, whose own display index is known from
the container's presentation times, or, for an elementary stream without
them, once the decoder has passed it. Pictures that precede their key frame
in display order (an open GOP's leading B-frames) are never counted from it.

Colour video (YBR_PARTIAL_420, the photometric interpretation the standard
names for these syntaxes) comes out as 8-bit RGB, converted by FFmpeg with
the stream's own colour matrix; MONOCHROME2 video as its luma (8 or 16
bits), so that windowing applies.

PyAV (and FFmpeg in its wheel) is imported when a video is first opened; a
viewer without it says which package to install. Worker processes keep
their decoders open between calls (:func:`decode_video_frames`).
"""

from __future__ import annotations

import io
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from viewer.core.dicom.io import ViewerError

#: Video transfer syntaxes (PS3.5 8.2.5-8.2.8: MPEG-2, MPEG-4 AVC, HEVC, all
#: 1.2.840.10008.1.2.4.100-108 and their .1 "fragmentable" variants).
#: 1.2.840.10008.1.2.4.110-112 are JPEG XL images, not video.
VIDEO_PREFIXES = ("1.2.840.10008.1.2.4.10",)

#: The package that decodes video (PyAV, with FFmpeg in its wheel).
VIDEO_PACKAGE = "av"

#: Frames a decoder keeps after decoding them (stepping back a little is free).
WINDOW_FRAMES = 24
#: Decoders a process keeps open (each holds its whole stream in memory).
DECODERS_KEPT = 2
#: Frames one worker call decodes in a row (the chunk a prefetch asks for).
CHUNK_FRAMES = 6


#: The FFmpeg codecs each video syntax may hold (PS3.5 8.2.5-8.2.8), by its UID without the
#: "fragmentable" variant's final ".1": (codec names, the family's name).
MPEG2_CODECS = (("mpeg2video", "mpeg1video"), "MPEG-2")
H264_CODECS = (("h264",), "MPEG-4 AVC/H.264")
HEVC_CODECS = (("hevc",), "HEVC/H.265")
CODECS = {
    "1.2.840.10008.1.2.4.100": MPEG2_CODECS,  # MPEG2 Main Profile / Main Level
    "1.2.840.10008.1.2.4.101": MPEG2_CODECS,  # MPEG2 Main Profile / High Level
    "1.2.840.10008.1.2.4.102": H264_CODECS,  # High Profile / Level 4.1
    "1.2.840.10008.1.2.4.103": H264_CODECS,  # BD-compatible High Profile / Level 4.1
    "1.2.840.10008.1.2.4.104": H264_CODECS,  # High Profile / Level 4.2 for 2D video
    "1.2.840.10008.1.2.4.105": H264_CODECS,  # High Profile / Level 4.2 for 3D video
    "1.2.840.10008.1.2.4.106": H264_CODECS,  # Stereo High Profile / Level 4.2
    "1.2.840.10008.1.2.4.107": HEVC_CODECS,  # HEVC Main Profile / Level 5.1
    "1.2.840.10008.1.2.4.108": HEVC_CODECS,  # HEVC Main 10 Profile / Level 5.1
}


def expected_codecs(uid) -> tuple[tuple[str, ...], str]:
    """(FFmpeg codec names, family name) that video syntax `uid` may hold; ((), "") for another syntax."""
    text = str(uid or "").rstrip("\x00 ")
    return CODECS.get(text) or CODECS.get(text.removesuffix(".1")) or ((), "")


def is_video(uid) -> bool:
    """Whether transfer syntax `uid` is one of the video syntaxes (PS3.5 8.2.5-8.2.8)."""
    return str(uid or "").rstrip("\x00 ").startswith(VIDEO_PREFIXES)


def video_available() -> bool:
    """Whether PyAV can be imported (without importing it when it is absent)."""
    import importlib.util

    return importlib.util.find_spec(VIDEO_PACKAGE) is not None


def missing_video_message(name: str) -> str:
    """One line: the video syntax `name` needs PyAV."""
    return f"{name} is encapsulated video: install {VIDEO_PACKAGE} (PyAV) to play it"


def stream_bytes(pixel_data: bytes) -> bytes:
    """The video bit stream of encapsulated (7FE0,0010) *Pixel Data*: its fragments joined.

    PS3.5 8.2.5-8.2.8: one frame item holds the whole stream, or, for the
    fragmentable syntaxes, the stream is split over several items in order.
    The first item is the Basic Offset Table (PS3.5 A.4), empty for video.
    """
    from pydicom.encaps import generate_fragments

    try:
        fragments = list(generate_fragments(pixel_data))
    except (ValueError, TypeError) as exc:
        raise ViewerError(f"its encapsulated pixel data is malformed ({' '.join(str(exc).split())[:120]})") from None
    stream = b"".join(fragments[1:])
    if not stream:
        raise ViewerError("its video stream is empty")
    return stream


class VideoDecoder:
    """Frames of one video stream, decoded ahead (see the module's docstring).

    `photometric` is the file's (0028,0004) *Photometric Interpretation*:
    MONOCHROME1/2 give the luma plane (uint8, or uint16 for deeper
    streams), anything else RGB uint8 ``(rows, cols, 3)``. `frames` is
    (0028,0008) *Number of Frames*, used to say how many frames the file
    claims when the stream holds fewer. Not thread-safe: one user at a time
    (:func:`decode_video_frames` locks).
    """

    def __init__(self, stream: bytes, photometric: str = "YBR_PARTIAL_420", frames: int | None = None, path=None, syntax=None):
        import av

        self.path = path
        self.claimed_frames = frames
        self.monochrome = str(photometric).strip().upper().startswith("MONOCHROME")
        self._av = av
        family = expected_codecs(syntax)[1] or "video"
        try:
            container = av.open(io.BytesIO(stream), mode="r")
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise ViewerError(f"its pixel data is not a {family} stream FFmpeg can read ({_reason(exc)})", path) from None
        try:
            if not container.streams.video:
                raise ViewerError("its pixel data holds no video stream", path)
            video = container.streams.video[0]
            self.codec_name = video.codec_context.name
            codecs, family = expected_codecs(syntax)
            if codecs and self.codec_name not in codecs:
                raise ViewerError(f"its pixel data holds a {self.codec_name} stream, not the {family} its transfer syntax names", path)
            self._extradata = video.codec_context.extradata
            self.width, self.height = video.codec_context.width, video.codec_context.height
            self._packets: list[bytes] = []
            keys: list[int] = []
            times: list[int | None] = []
            for packet in container.demux(video):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                if packet.is_keyframe:
                    keys.append(len(self._packets))
                times.append(packet.pts)
                self._packets.append(bytes(packet))
        except av.FFmpegError as exc:
            raise ViewerError(f"its video stream cannot be read ({_reason(exc)})", path) from None
        finally:
            container.close()
        if not self._packets:
            raise ViewerError("its video stream holds no frames", path)
        self._keys = keys if keys and keys[0] == 0 else [0, *keys]
        self._key_packets = frozenset(self._keys)
        #: display index of each key frame packet, where known (always for the first).
        self._key_display: dict[int, int] = {0: 0}
        if all(t is not None for t in times):
            rank = {t: i for i, t in enumerate(sorted(set(times)))}
            if len(rank) == len(times):  # one distinct time per packet: presentation order is known
                self._key_display = {k: rank[times[k]] for k in self._keys}
                self._key_display[0] = 0 if rank[times[0]] == 0 else self._key_display[0]
        # Decoded frames as FFmpeg gave them: converted to pixels only when asked for, so frames
        # decoded on the way to another (after a seek, or when playback skips) cost no conversion.
        self._window: OrderedDict[int, object] = OrderedDict()
        self._context = None
        self._next_packet = 0  # the next packet to send
        self._next_display: int | None = None  # display index of the next frame out, once known
        self._anchor = 0  # decode index of the key frame the decoder started from
        self.total: int | None = None  # frames in the stream, once decoded to its end

    # ------------------------------------------------------------------ public

    def frame(self, index: int) -> np.ndarray:
        """Frame `index` (0-based, display order); raises ViewerError when the stream has no such frame."""
        if index < 0:
            raise ViewerError(f"frame {index + 1} does not exist", self.path)
        kept = self._window.get(index)
        if kept is not None:
            return self._pixels(kept)
        if not self._can_reach(index):
            self._restart(self._start_for(index))
        more = True
        while more:
            more = self._decode_more()
            kept = self._window.get(index)
            if kept is not None:
                return self._pixels(kept)
        have = self.total if self.total is not None else index
        claimed = f" (the file says {self.claimed_frames})" if self.claimed_frames and self.claimed_frames != have else ""
        raise ViewerError(f"frame {index + 1} is not in the video stream, which holds {have} frames{claimed}", self.path)

    def frames(self, start: int, count: int) -> list[tuple[int, np.ndarray]]:
        """Frames `start`, `start`+1, ... (`count` at most, fewer at the stream's end) as (index, frame)."""
        out = [(start, self.frame(start))]
        for index in range(start + 1, start + count):
            try:
                out.append((index, self.frame(index)))
            except ViewerError:
                break
        return out

    # ------------------------------------------------------------------ decoding

    def _can_reach(self, index: int) -> bool:
        """Whether decoding on from where the decoder is reaches `index` no later than a restart would."""
        if self._context is None or self._next_display is None or index < self._next_display:
            return False
        start = self._start_for(index)
        return start <= self._anchor or self._key_display.get(start, index) <= self._next_display

    def _start_for(self, index: int) -> int:
        """The packet of the last key frame shown at or before `index` whose display index is known."""
        known = sorted(k for k, d in self._key_display.items() if d <= index)
        return known[-1] if known else 0

    def _restart(self, key_packet: int) -> None:
        """A fresh decoder at the key frame packet `key_packet`."""
        self._context = None  # FFmpeg frees the old decoder with its last reference
        self._context = self._new_context()
        self._next_packet = key_packet
        self._anchor = key_packet
        self._next_display = None  # counted once the key frame itself comes out

    def _new_context(self):
        context = self._av.CodecContext.create(self.codec_name, "r")
        if self._extradata:
            context.extradata = self._extradata
        # Threads over slices and frames: a 1080p stream needs them for real time.
        context.thread_type = "AUTO"
        context.thread_count = min(4, os.cpu_count() or 1)
        return context

    def _decode_more(self) -> bool:
        """Send the next packet (or the end of the stream) and keep what comes out; False at the end."""
        av = self._av
        if self._next_packet > len(self._packets):
            return False
        if self._next_packet == len(self._packets):
            packet = None  # drain the decoder's delayed frames
        else:
            packet = av.Packet(self._packets[self._next_packet])
            packet.pts = self._next_packet  # comes back with the frame it holds: its decode index
        self._next_packet += 1
        try:
            decoded = self._context.decode(packet)
        except av.FFmpegError as exc:
            if packet is None:
                decoded = []
            else:
                raise ViewerError(f"the video stream is damaged near frame {self._next_packet} ({_reason(exc)})", self.path) from None
        for frame in decoded:
            self._keep(frame)
        if packet is None:
            if self._next_display is not None and (self.total is None or self._next_display > self.total):
                self.total = self._next_display
            return False
        return True

    def _keep(self, frame) -> None:
        tag = frame.pts
        if self._next_display is None:
            if tag != self._anchor:
                return  # a leading picture of an open GOP: shown before its key frame, not decodable from it
            self._next_display = self._key_display.get(self._anchor, 0)
        display = self._next_display
        self._next_display += 1
        if tag is not None and tag in self._key_packets:
            self._key_display.setdefault(tag, display)
        self._window[display] = frame
        while len(self._window) > WINDOW_FRAMES:
            self._window.popitem(last=False)

    def _pixels(self, frame) -> np.ndarray:
        """RGB for colour video; for MONOCHROME video the luma samples as coded (8 or 16 bits), not range-converted."""
        if not self.monochrome:
            return frame.to_ndarray(format="rgb24")
        plane = frame.planes[0]
        dtype = np.dtype(np.uint8 if frame.format.components[0].bits <= 8 else "<u2")
        rows = np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
        return np.ascontiguousarray(rows[:, : plane.width])

    def close(self) -> None:
        self._context = None
        self._window.clear()


def _reason(exc: BaseException) -> str:
    """FFmpeg's own words ("Invalid data found when processing input"), without its error number."""
    text = getattr(exc, "strerror", None) or str(exc)
    return " ".join(str(text).split())[:160] or exc.__class__.__name__


# ----------------------------------------------------------------------------- files


def open_video(path, header=None) -> VideoDecoder:
    """A decoder for the video in the DICOM file at `path` (raises ViewerError)."""
    from viewer.core.dicom.io import read_image_dataset

    if not video_available():
        from pydicom.uid import UID

        uid = getattr(getattr(header, "file_meta", None), "TransferSyntaxUID", None)
        raise ViewerError(missing_video_message(getattr(UID(uid), "name", str(uid)) if uid else "the file"), path)
    return dataset_video(read_image_dataset(path), path)


def dataset_video(ds, path=None) -> VideoDecoder:
    """A decoder for the video held in dataset `ds` (raises ViewerError)."""
    from viewer.core.dicom.header import number_of_frames

    pixel_data = ds.get("PixelData")
    if not pixel_data:
        raise ViewerError("it has no pixel data", path)
    try:
        stream = stream_bytes(pixel_data)
    except ViewerError as error:
        raise ViewerError(error.reason, path) from None
    photometric = str(ds.get("PhotometricInterpretation", "YBR_PARTIAL_420"))
    syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return VideoDecoder(stream, photometric, number_of_frames(ds), path, syntax)


def decode_dataset_frame(ds, index: int, path=None) -> np.ndarray:
    """Frame `index` of the video in dataset `ds` (read whole), decoded here; nothing is kept."""
    return dataset_video(ds, path).frame(index)


#: This process's open decoders, by (path, modification time, size).
_DECODERS: OrderedDict[tuple, VideoDecoder] = OrderedDict()
_DECODERS_LOCK = threading.Lock()


def _decoder_for(path) -> VideoDecoder:
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as exc:
        raise ViewerError(f"cannot read it: {exc.strerror or exc}", path) from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    decoder = _DECODERS.get(key)
    if decoder is None:
        decoder = open_video(path)
        _DECODERS[key] = decoder
        while len(_DECODERS) > DECODERS_KEPT:
            _DECODERS.popitem(last=False)[1].close()
    _DECODERS.move_to_end(key)
    return decoder


def decode_video_frames(path: str, start: int, count: int = 1, slot: tuple[str, int, int] | None = None) -> list[tuple[int, object]]:
    """Frames `start`.. of the video file at `path`, at most `count`: the worker-process entry point.

    The decoder stays open in this process, positioned after the last frame
    given, so consecutive calls decode each frame once. With `slot` (a
    :class:`FrameRing`'s ``(file, offset, size)``) the frames are written
    there and placed as ``(offset, shape, dtype)``, which
    :meth:`FrameRing.take` reads back: a 1080p frame is 6 MB, and pickling
    it through a pipe would cost more than decoding it.
    """
    with _DECODERS_LOCK:
        decoded = _decoder_for(path).frames(start, count)
        if slot is None:
            return decoded
        return _placed(decoded, *slot)


def _placed(decoded: list[tuple[int, np.ndarray]], ring: str, offset: int, size: int) -> list[tuple[int, object]]:
    """`decoded` written into `ring`'s slot at `offset` (at most `size` bytes); what does not fit is sent as it is."""
    import mmap

    view = _RINGS.get(ring)
    if view is None:
        try:
            with open(ring, "r+b") as f:
                view = _RINGS[ring] = mmap.mmap(f.fileno(), 0)
        except (OSError, ValueError):  # gone (this worker replaced one that had mapped it): send the frames
            return list(decoded)
        while len(_RINGS) > RINGS_KEPT:
            _RINGS.pop(next(iter(_RINGS))).close()
    out: list[tuple[int, object]] = []
    at, end = offset, offset + size
    for index, frame in decoded:
        if at + frame.nbytes > end or at + frame.nbytes > len(view):
            out.append((index, frame))
            continue
        np.frombuffer(view, dtype=np.uint8, count=frame.nbytes, offset=at)[:] = frame.reshape(-1).view(np.uint8)
        out.append((index, (at, frame.shape, frame.dtype.str)))
        at += frame.nbytes
    return out


#: Rings this (worker) process has mapped, by file name; the app unlinks each file once the worker has it open.
_RINGS: dict[str, object] = {}
RINGS_KEPT = 2


class FrameRing:
    """Memory shared with the video worker, in `slots` slots of `slot_bytes`, for the frames it decodes.

    A file in /dev/shm (memory, where there is one), mapped by both
    processes; the app removes its name once the worker has mapped it, so
    nothing is left behind however either process ends. Frames read from it
    are copied out (:meth:`take`) before the slot is used again.
    """

    def __init__(self, slot_bytes: int, slots: int):
        import mmap
        import tempfile

        folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
        self.slot_bytes, self.slots = slot_bytes, slots
        handle, self.name = tempfile.mkstemp(prefix="dicom-viewer-video-", dir=folder)
        try:
            os.ftruncate(handle, slot_bytes * slots)
            self._view = mmap.mmap(handle, slot_bytes * slots)
        finally:
            os.close(handle)
        self._free = [k * slot_bytes for k in range(slots)]
        self._unlinked = False

    def slot(self) -> tuple[str, int, int] | None:
        """A free slot, as :func:`decode_video_frames` takes it; None when every slot is in use."""
        if not self._free:
            return None
        return self.name, self._free.pop(0), self.slot_bytes

    def release(self, slot: tuple[str, int, int] | None) -> None:
        """`slot`'s frames are taken (or will never be): it may be written again."""
        if slot is not None and slot[1] not in self._free:
            self._free.append(slot[1])

    def take(self, placed: list[tuple[int, object]]) -> list[tuple[int, np.ndarray]]:
        """The frames :func:`decode_video_frames` placed, copied out of the ring."""
        out = []
        for index, where in placed:
            if isinstance(where, np.ndarray):
                out.append((index, where))
                continue
            offset, shape, dtype = where
            dtype = np.dtype(dtype)
            count = int(np.prod(shape))
            out.append((index, np.frombuffer(self._view, dtype=dtype, count=count, offset=offset).reshape(shape).copy()))
        self.unlink()  # the worker has it mapped now
        return out

    def unlink(self) -> None:
        if not self._unlinked:
            self._unlinked = True
            try:
                os.unlink(self.name)
            except OSError:
                pass

    def close(self) -> None:
        self.unlink()
        try:
            self._view.close()
        except BufferError:  # an array still looks at it: the mapping goes with it
            pass

    def __del__(self):
        self.close()


def decode_video_frame(path, index: int) -> np.ndarray:
    """Frame `index` of the video file at `path`, decoded in this process."""
    with _DECODERS_LOCK:
        return _decoder_for(path).frame(index)


def forget_decoders() -> None:
    """Close this process's decoders (tests; a file that changed is reopened anyway)."""
    with _DECODERS_LOCK:
        while _DECODERS:
            _DECODERS.popitem()[1].close()


__all__ = [
    "CHUNK_FRAMES",
    "VIDEO_PREFIXES",
    "VideoDecoder",
    "decode_video_frame",
    "decode_video_frames",
    "is_video",
    "missing_video_message",
    "open_video",
    "stream_bytes",
]
