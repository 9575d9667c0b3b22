"""Overlay planes (60xx groups): which apply to a frame, and their bits at image size.

An image may carry up to 16 overlay planes, in the even groups 6000-601E
(PS3.3 C.9.2 *Overlay Plane Module*, C.9.3 *Multi-frame Overlay Module*).
Each is a one-bit bitmap of (60xx,0010) *Overlay Rows* x (60xx,0011)
*Overlay Columns*, placed on the image at (60xx,0050) *Overlay Origin*
(row\\column, 1-based: 1\\1 puts its first bit on the image's first pixel;
it may lie partly or wholly outside the image). (60xx,0040) *Overlay Type*
is G (graphics: text, marks, outlines) or R (a region of interest).

Where the bits are:

* (60xx,3000) *Overlay Data*: packed one bit a pixel, the first pixel in the
  lowest bit of the first byte (PS3.5 8.1.2, 8.2). A multi-frame overlay holds
  (60xx,0015) *Number of Frames in Overlay* frames one after another with no
  padding between them (a frame need not end on a byte); its first frame
  applies to image frame (60xx,0051) *Image Frame Origin* (1-based), the next
  to the next image frame. A plane that gives neither attribute is drawn on
  every frame of a multi-frame image, as dcmtk does (one graphic over a cine).
* Retired, still on old discs: in unused high bits of Pixel Data ("legacy"
  overlays, PS3.5 8.1.2 of the 2004 and earlier editions): no Overlay Data,
  (60xx,0100) *Overlay Bits Allocated* equal to the image's (0028,0100) *Bits
  Allocated* (16), and (60xx,0102) *Overlay Bit Position* naming the bit of each
  stored word that holds the overlay. Those bits lie above (0028,0101) *Bits
  Stored*, so the display pipeline already ignores them for the grey levels
  (pydicom and :mod:`viewer.core.display.pixels.native` clear or sign-extend
  everything above Bits Stored); here they are read from the raw words.

dcmtk draws overlays by default (``dcmj2pnm``; ``-O`` turns them off), and so
does the viewer: graphics in :data:`OVERLAY_RGB`, opaque; regions of interest
tinted with it (:data:`ROI_OPACITY`), so the image inside stays readable (dcmtk
instead darkens everything outside a region).

A plane that cannot be read (short Overlay Data, rows of 0, a bit inside the
image's own stored bits) is left out with a one-line note; the image is shown
all the same.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

#: The even groups that may hold an overlay plane (PS3.3 C.9.2: 6000-601E).
OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))
#: The colour overlays are drawn in: the viewer's overlay colour (pale yellow, as the corner text,
#: ``viewer.ui.viewport.image_view.OVERLAY_COLOUR`` #f0f0a0).
OVERLAY_RGB = (0xF0, 0xF0, 0xA0)
#: How strongly a region-of-interest plane (Overlay Type R) tints the pixels it covers.
ROI_OPACITY = 0.4

GRAPHICS, ROI = "G", "R"


@dataclass(frozen=True)
class OverlayPlane:
    """One overlay plane as the header describes it (see the module's docstring).

    `origin` is (60xx,0050) *Overlay Origin* as (row, column), 1-based;
    `frame_origin` (60xx,0051) *Image Frame Origin*, 1-based; `frames`
    (60xx,0015) *Number of Frames in Overlay*. `data` is (60xx,3000)
    *Overlay Data*, or None for a legacy plane in the high bits of Pixel Data
    (its bit: `bit_position`, (60xx,0102)). `kind` is G or R ((60xx,0040)).
    """

    group: int
    rows: int
    columns: int
    kind: str = GRAPHICS
    origin: tuple[int, int] = (1, 1)
    frame_origin: int = 1
    frames: int = 1
    bit_position: int = 0
    data: bytes | None = field(default=None, repr=False)
    description: str = ""
    label: str = ""
    #: Neither (60xx,0015) nor (60xx,0051) in the file: the plane is drawn on every frame (as dcmtk does).
    every_frame: bool = False

    @property
    def in_pixel_data(self) -> bool:
        """A legacy plane: its bits are in the high bits of Pixel Data, not in Overlay Data."""
        return self.data is None

    @property
    def name(self) -> str:
        """'overlay 6000' (with its label or description when it has one)."""
        text = self.label or self.description
        return f"overlay {self.group:04X}" + (f" ({text})" if text else "")

    def overlay_frame(self, frame: int) -> int | None:
        """Which frame of this plane applies to image frame `frame` (0-based); None when none does.

        PS3.3 C.9.3.1.1: the plane's first frame lies on image frame
        (60xx,0051) *Image Frame Origin*, its others on the frames after it.
        A plane that gives neither attribute applies to every frame (its only
        frame; for a legacy plane, the bits in that frame's own pixels).
        """
        if self.every_frame:
            return 0
        index = frame - (self.frame_origin - 1)
        return index if 0 <= index < self.frames else None


@dataclass(frozen=True)
class OverlayPlanes:
    """The planes of an image that can be drawn, and a one-line note for each that cannot."""

    planes: tuple[OverlayPlane, ...] = ()
    notes: tuple[str, ...] = ()
    #: The image's (0028,0101) *Bits Stored*: a legacy plane's bit below it would be part of the grey level.
    bits_stored: int | None = None

    def for_frame(self, frame: int) -> list[OverlayPlane]:
        """The planes that apply to image frame `frame` (0-based)."""
        return [plane for plane in self.planes if plane.overlay_frame(frame) is not None]


@dataclass(frozen=True)
class FrameOverlay:
    """The overlay bits of one image frame at image size: graphics and regions of interest.

    `graphics` and `roi` are boolean ``(rows, columns)`` masks of the image
    (None where no plane of that type applies); `notes` say which planes were
    left out and why.
    """

    graphics: np.ndarray | None = None
    roi: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Nothing to draw."""
        return self.graphics is None and self.roi is None

    def note(self) -> str:
        """The notes as one line ('' when every plane was drawn)."""
        return "; ".join(self.notes)


class OverlayError(ValueError):
    """A plane whose bits cannot be read; the message names the plane and the reason."""


# --------------------------------------------------------------------------- the header


def _int(value, default: int | None = None) -> int | None:
    try:
        if value is None or value == "":
            return default
        if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
            value = list(value)[0]
        return int(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return default


def _text(ds: Dataset, tag: int) -> str:
    elem = ds.get(tag)
    try:
        return " ".join(str(elem.value).split()) if elem is not None and elem.value is not None else ""
    except (TypeError, ValueError, AttributeError):
        return ""


def _origin(ds: Dataset, group: int) -> tuple[int, int]:
    """(60xx,0050) *Overlay Origin*, row then column; 1\\1 when absent or unreadable."""
    elem = ds.get((group, 0x0050))
    try:
        values = [int(v) for v in elem.value] if elem is not None and elem.value is not None else []
    except (TypeError, ValueError):
        values = []
    if len(values) == 2:
        # Signed: an origin above or left of the image is negative (SS), written as US by some.
        return tuple(v - (1 << 16) if v >= 1 << 15 else v for v in values)  # type: ignore[return-value]
    return 1, 1


def _plane(header: Dataset, group: int) -> OverlayPlane | str:
    """Plane `group` of `header` (see :func:`overlay_planes`), or the note saying why it cannot be drawn."""
    name = f"overlay {group:04X}"

    def number(element: int, default: int | None = None) -> int | None:
        elem = header.get((group, element))
        return _int(elem.value if elem is not None else None, default)

    rows, columns = number(0x0010), number(0x0011)
    if not rows or not columns or rows < 0 or columns < 0:
        return f"{name} not drawn: it gives no Overlay Rows and Columns"
    frames_given, frame_origin_given = (group, 0x0015) in header, (group, 0x0051) in header
    frames, frame_origin = number(0x0015, 1), number(0x0051, 1)
    if frames is None or frames < 1 or frame_origin is None or frame_origin < 1:
        return f"{name} not drawn: Number of Frames in Overlay or Image Frame Origin is not a positive number"
    kind = _text(header, (group, 0x0040)).upper() or GRAPHICS
    bits_allocated, bit_position = number(0x0100, 1), number(0x0102, 0)
    data_elem = header.get((group, 0x3000))
    data = None
    if data_elem is not None:
        data = bytes(data_elem.value or b"")
    elif not bits_allocated or bits_allocated <= 1:
        return f"{name} not drawn: it has no Overlay Data"
    return OverlayPlane(
        group=group,
        rows=rows,
        columns=columns,
        kind=ROI if kind == ROI else GRAPHICS,
        origin=_origin(header, group),
        frame_origin=frame_origin,
        frames=frames,
        bit_position=bit_position or 0,
        data=data,
        description=_text(header, (group, 0x0022)),
        label=_text(header, (group, 0x1500)),
        every_frame=not frames_given and not frame_origin_given,
    )


def overlay_planes(header: Dataset) -> OverlayPlanes:
    """The overlay planes of `header` (the file's whole header: the catalog's compact one has no 60xx groups).

    A group is a plane when it has (60xx,0010) *Overlay Rows*; it is drawn
    from (60xx,3000) *Overlay Data*, or, without it, from the high bit
    (60xx,0102) *Overlay Bit Position* of 16-bit Pixel Data when (60xx,0100)
    *Overlay Bits Allocated* is more than 1 (the retired legacy form).
    Anything else gets a note and is left out.
    """
    planes, notes = [], []
    for group in OVERLAY_GROUPS:
        if (group, 0x0010) not in header and (group, 0x3000) not in header:
            continue
        try:
            found = _plane(header, group)
        except Exception as exc:  # a damaged element (wrong VR, wrong length): the file's fault, the plane goes
            text = " ".join(str(exc).split())[:120]
            found = f"overlay {group:04X} not drawn: its attributes are malformed ({exc.__class__.__name__}: {text})"
        if isinstance(found, str):
            notes.append(found)
        else:
            planes.append(found)
    try:
        bits_stored = _int(header.get("BitsStored"))
    except Exception:  # a damaged Bits Stored: the decoder says so for the image; no legacy plane is refused for it
        bits_stored = None
    return OverlayPlanes(tuple(planes), tuple(notes), bits_stored)


# --------------------------------------------------------------------------- the bits


def unpack_plane(plane: OverlayPlane, overlay_frame: int) -> np.ndarray:
    """Frame `overlay_frame` (0-based) of a plane's (60xx,3000) *Overlay Data* as booleans (rows, columns).

    Bits are packed least significant first (PS3.5 8.1.2); frame k starts at
    bit k x rows x columns, on no byte boundary in particular. Raises
    :class:`OverlayError` when the data is too short for that frame.
    """
    assert plane.data is not None
    size = plane.rows * plane.columns
    first = overlay_frame * size
    last = first + size  # one past the last bit
    if len(plane.data) * 8 < last:
        needed = (plane.rows * plane.columns * plane.frames + 7) // 8
        raise OverlayError(f"{plane.name} not drawn: its Overlay Data holds {len(plane.data)} bytes, {needed} needed")
    start_byte, end_byte = first // 8, (last + 7) // 8
    chunk = np.frombuffer(plane.data, dtype=np.uint8, count=end_byte - start_byte, offset=start_byte)
    bits = np.unpackbits(chunk, bitorder="little")[first - start_byte * 8 : first - start_byte * 8 + size]
    return bits.reshape(plane.rows, plane.columns).astype(bool)


def legacy_bits(plane: OverlayPlane, raw_words: np.ndarray) -> np.ndarray:
    """A legacy plane's bit (60xx,0102) of each stored word of one frame, as booleans (rows, columns).

    `raw_words` are the frame's stored values before the unused high bits
    are cleared. Raises :class:`OverlayError` when the plane's size is not the
    frame's (a legacy plane is the image's own size).
    """
    words = np.asarray(raw_words)
    if words.ndim != 2 or words.shape != (plane.rows, plane.columns):
        raise OverlayError(
            f"{plane.name} not drawn: it is {plane.rows} x {plane.columns} but lies in the pixels of a "
            f"{words.shape[0]} x {words.shape[-1]} image"
        )
    if words.dtype.itemsize * 8 <= plane.bit_position:
        raise OverlayError(f"{plane.name} not drawn: bit {plane.bit_position} is beyond the image's {words.dtype.itemsize * 8} bits")
    unsigned = words.view(np.dtype(f"u{words.dtype.itemsize}"))
    return ((unsigned >> plane.bit_position) & 1).astype(bool)


def place(bits: np.ndarray, origin: tuple[int, int], shape: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """`bits` put on an image of `shape` at (60xx,0050) *Overlay Origin* (row, column; 1\\1 = the first pixel).

    What falls outside the image is cut off. OR-ed into `out` when given
    (several planes of one type share a mask); returns the mask.
    """
    rows, columns = shape
    mask = np.zeros(shape, dtype=bool) if out is None else out
    top, left = origin[0] - 1, origin[1] - 1
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + bits.shape[0], rows), min(left + bits.shape[1], columns)
    if r1 > r0 and c1 > c0:
        mask[r0:r1, c0:c1] |= bits[r0 - top : r1 - top, c0 - left : c1 - left]
    return mask


def raw_frame_words(path: str | os.PathLike[str], frame: int) -> np.ndarray:
    """Frame `frame` (0-based) of `path`'s Pixel Data as stored, unused high bits kept (for legacy planes).

    pydicom's decoder with ``correct_unused_bits=False``: the bits above
    (0028,0101) *Bits Stored* survive, and only the frame asked for is read.
    """
    from pydicom.pixels import pixel_array

    return pixel_array(os.fspath(path), index=frame, correct_unused_bits=False)


def frame_overlay(
    planes: OverlayPlanes,
    frame: int,
    shape: tuple[int, int],
    raw_words: Callable[[], np.ndarray] | None = None,
    bits_stored: int | None = None,
) -> FrameOverlay:
    """The overlay masks of image frame `frame` (0-based) of an image of `shape` (rows, columns).

    `raw_words()` gives the frame's stored words with their high bits (see
    :func:`raw_frame_words`), asked for only when a legacy plane applies;
    `bits_stored` is the image's (0028,0101) *Bits Stored*: a legacy bit inside
    it would be part of the grey level, and is refused. Planes that cannot be
    read are left out with a note (:class:`FrameOverlay`).
    """
    notes = list(planes.notes)
    masks: dict[str, np.ndarray | None] = {GRAPHICS: None, ROI: None}
    words = None
    for plane in planes.for_frame(frame):
        try:
            if plane.in_pixel_data:
                if bits_stored is not None and plane.bit_position < bits_stored:
                    raise OverlayError(
                        f"{plane.name} not drawn: its bit {plane.bit_position} is part of the image's {bits_stored} stored bits"
                    )
                if raw_words is None:
                    raise OverlayError(f"{plane.name} not drawn: its bits are in Pixel Data, which was not given")
                if words is None:
                    words = raw_words()
                    if words.ndim == 3 and words.shape[-1] != shape[1]:
                        raise OverlayError(f"{plane.name} not drawn: the image's pixels are colour")
                bits = legacy_bits(plane, words)
            else:
                overlay_frame = plane.overlay_frame(frame)
                assert overlay_frame is not None
                bits = unpack_plane(plane, overlay_frame)
        except OverlayError as error:
            notes.append(str(error))
            continue
        except (ValueError, TypeError, AttributeError, KeyError, IndexError, NotImplementedError, MemoryError) as error:
            # pydicom's decoder on damaged pixels: the plane goes, the image stays.
            text = " ".join(str(error).split())[:120]
            notes.append(f"{plane.name} not drawn: {text}")
            continue
        masks[plane.kind] = place(bits, plane.origin, shape, masks[plane.kind])
    return FrameOverlay(masks[GRAPHICS], masks[ROI], tuple(notes))


def image_frame_overlay(header: Dataset, frame: int, shape: tuple[int, int], path: str | os.PathLike[str] | None) -> FrameOverlay:
    """:func:`frame_overlay` for frame `frame` of the file at `path` whose whole header is `header`."""
    planes = overlay_planes(header)
    if not planes.planes and not planes.notes:
        return FrameOverlay()
    words = (lambda: raw_frame_words(path, frame)) if path is not None else None
    return frame_overlay(planes, frame, shape, words, planes.bits_stored)


# --------------------------------------------------------------------------- drawing


def overlay_rgba(overlay: FrameOverlay, shape: tuple[int, int], colour: Sequence[int] = OVERLAY_RGB) -> np.ndarray | None:
    """The overlay as an RGBA image (uint8, rows x columns x 4) to lay over the display: None when empty.

    Graphics opaque in `colour`, regions of interest in `colour` at
    :data:`ROI_OPACITY` (graphics win where both are set); transparent elsewhere.
    """
    if overlay.empty:
        return None
    rgba = np.zeros((*shape, 4), dtype=np.uint8)
    rgba[..., :3] = np.asarray(colour, dtype=np.uint8)
    if overlay.roi is not None:
        rgba[..., 3][overlay.roi] = round(255 * ROI_OPACITY)
    if overlay.graphics is not None:
        rgba[..., 3][overlay.graphics] = 255
    return rgba


def draw_overlay(display: np.ndarray, overlay: FrameOverlay, colour: Sequence[int] = OVERLAY_RGB) -> np.ndarray:
    """Display pixels (uint8 grey (h, w) or RGB (h, w, 3)) with the overlay drawn in: `display` itself when empty.

    Otherwise a new RGB array: graphics replaced by `colour`, regions of
    interest blended with it at :data:`ROI_OPACITY` (as :func:`overlay_rgba`
    lays them over the pane's image).
    """
    if overlay.empty:
        return display
    rgb = np.repeat(display[:, :, None], 3, axis=2) if display.ndim == 2 else np.array(display[:, :, :3], dtype=np.uint8)
    tint = np.asarray(colour, dtype=np.float64)
    if overlay.roi is not None:
        under = rgb[overlay.roi].astype(np.float64)
        rgb[overlay.roi] = np.rint(under * (1 - ROI_OPACITY) + tint * ROI_OPACITY).astype(np.uint8)
    if overlay.graphics is not None:
        rgb[overlay.graphics] = np.asarray(colour, dtype=np.uint8)
    return rgb


def export_overlays(display: np.ndarray, header: Dataset, frame: int, path: str | os.PathLike[str]) -> tuple[np.ndarray, str]:
    """``export``: frame `frame`'s overlay planes drawn into its display pixels (:func:`draw_overlay`), and a note.

    The note ('' when none) says in one line which planes could not be
    drawn; the image is written all the same.
    """
    overlay = image_frame_overlay(header, frame, display.shape[:2], path)
    return draw_overlay(display, overlay), overlay.note()
