"""An image shown through a Grayscale Softcopy Presentation State, as 8-bit pixels (PS3.3 A.33.1), Qt-free.

The order is the standard's (PS3.4 N.2, the greyscale softcopy pipeline):

1. the state's Modality LUT (C.11.1), its Softcopy VOI LUT for this image and
   frame (C.11.8; none: the whole modality range) and its Presentation LUT
   (C.11.6), through the display pipeline of
   :mod:`viewer.core.display.pixels.pipeline`; the image's own Modality LUT,
   window and photometric inversion are replaced by the state's;
2. shutters (C.7.6.11, C.7.6.15), in the image's pixel grid, shown in the
   (0018,1622) *Shutter Presentation Value*;
3. the displayed area (C.10.4), cut from the image before the spatial
   transformation (parts outside the image are black), then the spatial
   transformation (C.10.6): rotation clockwise, then the horizontal flip;
4. the presentation size: one output pixel per image pixel across, rows
   scaled by the pixel aspect ratio, and for MAGNIFY by (0070,0103)
   *Presentation Pixel Magnification Ratio* (a PNG has no screen, so SCALE
   TO FIT and TRUE SIZE are written at 1:1);
5. the state's activated overlay planes (C.11.7), then its graphic
   annotations and text, burned in, each layer in its colour, in the order
   of (0070,0062) *Graphic Layer Order*.

:class:`StateGeometry` maps PIXEL and DISPLAY annotation units to output
pixels and back to image pixels; the viewer's panes use it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.lut_data import item_table
from viewer.core.display.pixels.pipeline import (
    VOI,
    FrameDisplay,
    FullRange,
    VOILut,
    Window,
)
from viewer.core.documents.presentation_state import (
    DisplayedArea,
    GraphicObject,
    Point,
    PresentationState,
    Shutters,
    TextObject,
)
from viewer.core.runtime.wording import count

#: Attributes of the image that the state's LUT modules replace (C.11.1, C.11.2, C.11.6).
_REPLACED = {
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "ModalityLUTSequence",
    "WindowCenter",
    "WindowWidth",
    "WindowCenterWidthExplanation",
    "VOILUTFunction",
    "VOILUTSequence",
    "PresentationLUTShape",
    "PhotometricInterpretation",
}

#: Text height of burned-in text objects, in output pixels.
TEXT_SIZE = 12


# --------------------------------------------------------------------------- grey levels


def state_context(ctx: Dataset, state: PresentationState, sop_instance_uid: str, frame: int = 1) -> tuple[Dataset, VOI, bool]:
    """The image's attributes with the state's LUT modules in place, the VOI to apply and whether to invert.

    The result's (0028,0004) *Photometric Interpretation* is MONOCHROME2: a
    state's output is P-values, brighter for higher values, inverted only by
    its own Presentation LUT Shape INVERSE (C.11.6.1).
    """
    out = Dataset()
    for elem in ctx:
        if elem.keyword not in _REPLACED:
            out.add(elem)
    if hasattr(ctx, "file_meta"):
        out.file_meta = ctx.file_meta
    out.PhotometricInterpretation = "MONOCHROME2"
    for elem in state.modality:
        out.add(elem)
    voi: VOI = FullRange()
    chosen = state.voi_for(sop_instance_uid, frame)
    if chosen is not None and chosen.lut is not None:
        out.VOILUTSequence = chosen.lut.VOILUTSequence
        voi = VOILut(0, chosen.explanation)
    elif chosen is not None:
        voi = Window(float(chosen.center), float(chosen.width), chosen.function, chosen.explanation, "file")
    return out, voi, state.presentation_lut_shape == "INVERSE"


def _lut_entries(lut: Dataset) -> tuple[np.ndarray, int]:
    """(2050,0010) *Presentation LUT Sequence* item: its (0028,3006) *LUT Data* and output bits ((0028,3002) *LUT Descriptor*).

    Read by :func:`lut_data.item_table`: 8-bit entries packed two per word or one per word (C.11.6.1, C.11.2.1.1.1).
    """
    table = item_table(lut)
    return table.entries.astype(np.float64), table.bits


@dataclass(eq=False)
class StateFrame(FrameDisplay):
    """A frame as a presentation state shows it: built on the state's attributes (:func:`state_context`), and,
    with (2050,0010) *Presentation LUT Sequence*, each VOI output looked up in that LUT (C.11.6.1).

    The VOI output is kept in floating point until the LUT (a LUT of 4096
    entries distinguishes what 8 bits would merge) and truncated to an
    entry, as dcmtk does (dcmp2pgm agrees within 1 for 256 to 4096 entries).
    Both ``export --pstate`` and the viewports show a state's grey levels
    through this class, so they are the same pixels.
    """

    presentation_lut: Dataset | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._plut = _lut_entries(self.presentation_lut) if self.presentation_lut is not None else None

    def _voi_to_display(self, modality: np.ndarray, voi: VOI) -> np.ndarray:
        out = super()._voi_to_display(modality, voi)
        if self._plut is None:
            return out
        table, bits = self._plut
        index = np.clip(np.floor(out * (len(table) - 1) / 255.0), 0, len(table) - 1).astype(np.int64)
        return np.clip(table[index] * 255.0 / ((1 << bits) - 1), 0, 255)


def state_frame(
    stored: np.ndarray, ctx: Dataset, state: PresentationState, sop_instance_uid: str, frame: int = 1
) -> tuple[StateFrame, VOI, bool]:
    """One greyscale frame's stored values as the state shows them: the frame, the VOI and whether to invert.

    ViewerError, one line, for a colour frame or LUTs that cannot be applied.
    """
    if stored.ndim != 2:
        raise ViewerError("a Grayscale Softcopy Presentation State is for greyscale images; this one is in colour")
    state_ctx, voi, invert = state_context(ctx, state, sop_instance_uid, frame)
    try:
        return StateFrame(stored, state_ctx, state.presentation_lut), voi, invert
    except (AttributeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ViewerError(f"the presentation state's LUTs cannot be applied: {exc}") from None


def state_grey(
    stored: np.ndarray,
    ctx: Dataset,
    state: PresentationState,
    sop_instance_uid: str,
    frame: int = 1,
    voi: VOI | None = None,
    invert: bool | None = None,
) -> np.ndarray:
    """Stored values of one greyscale frame through the state's Modality, VOI and Presentation LUTs: uint8 (rows, columns).
    `voi` and `invert`, when given, stand for the state's (a window the user chose over it)."""
    display, state_voi, state_invert = state_frame(stored, ctx, state, sop_instance_uid, frame)
    voi = state_voi if voi is None else voi
    invert = state_invert if invert is None else invert
    try:
        return display.render(voi, invert)
    except (AttributeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise ViewerError(f"the presentation state's LUTs cannot be applied: {exc}") from None


# --------------------------------------------------------------------------- shutters


def shutter_mask(rows: int, columns: int, shutters: Shutters) -> np.ndarray | None:
    """True where the shutters hide the image (rows, columns), None without shutters.

    Each shutter shows what lies inside it; with several, only what lies
    inside all of them shows (C.7.6.11.1). Rectangle edges and polygon
    vertices are (row, column) from 1, pixel centres; the circle hides
    pixels whose centre is farther than the radius from its centre.
    """
    if not shutters.any():
        return None
    hidden = np.zeros((rows, columns), dtype=bool)
    r = np.arange(1, rows + 1)[:, None]
    c = np.arange(1, columns + 1)[None, :]
    if shutters.rectangle is not None:
        left, right, upper, lower = shutters.rectangle
        hidden |= (c < left) | (c > right) | (r < upper) | (r > lower)
    if shutters.circle is not None:
        cr, cc, radius = shutters.circle
        hidden |= (r - cr) ** 2 + (c - cc) ** 2 > radius**2
    if shutters.polygon is not None:
        from PIL import Image, ImageDraw

        inside = Image.new("1", (columns, rows), 0)
        ImageDraw.Draw(inside).polygon([(col - 1, row - 1) for row, col in shutters.polygon], fill=1, outline=1)
        hidden |= ~np.asarray(inside, dtype=bool)
    if shutters.bitmap is not None:
        top, left = shutters.bitmap_origin[0] - 1, shutters.bitmap_origin[1] - 1
        bitmap = shutters.bitmap
        r0, c0 = max(top, 0), max(left, 0)
        r1, c1 = min(top + bitmap.shape[0], rows), min(left + bitmap.shape[1], columns)
        if r1 > r0 and c1 > c0:
            hidden[r0:r1, c0:c1] |= bitmap[r0 - top : r1 - top, c0 - left : c1 - left]
    return hidden


def shutter_grey(shutters: Shutters) -> int:
    """(0018,1622) *Shutter Presentation Value*, a P-value 0-65535, as an 8-bit grey."""
    return int(round(min(max(shutters.value, 0), 65535) * 255 / 65535))


# --------------------------------------------------------------------------- geometry


@dataclass(frozen=True)
class StateGeometry:
    """Where the displayed area of an image lands in the output, and back (C.10.4, C.10.6).

    `bounds` is the displayed area in PIXEL units (x0, y0, x1, y1); the
    output is `size` (width, height) pixels, `scale` (sx, sy) output pixels
    per area pixel along the output's axes after rotation and flip.
    """

    bounds: tuple[float, float, float, float]
    rotation: int
    flip: bool
    scale: tuple[float, float]

    @property
    def transformed_size(self) -> tuple[float, float]:
        """Width and height of the displayed area after rotation, in area pixels."""
        x0, y0, x1, y1 = self.bounds
        w, h = x1 - x0, y1 - y0
        return (h, w) if self.rotation in (90, 270) else (w, h)

    @property
    def size(self) -> tuple[int, int]:
        w, h = self.transformed_size
        return max(1, int(round(w * self.scale[0]))), max(1, int(round(h * self.scale[1])))

    def pixel_to_fraction(self, point: Point) -> Point:
        """An image point in PIXEL units to DISPLAY units (fractions of the transformed displayed area)."""
        x0, y0, x1, y1 = self.bounds
        w, h = x1 - x0, y1 - y0
        x, y = point[0] - x0, point[1] - y0
        if self.rotation == 90:
            x, y, w, h = h - y, x, h, w
        elif self.rotation == 180:
            x, y = w - x, h - y
        elif self.rotation == 270:
            x, y, w, h = y, w - x, h, w
        if self.flip:
            x = w - x
        return x / w, y / h

    def fraction_to_pixel(self, point: Point) -> Point:
        """DISPLAY units to the image point in PIXEL units under it (the inverse of :meth:`pixel_to_fraction`)."""
        x0, y0, x1, y1 = self.bounds
        w, h = x1 - x0, y1 - y0
        tw, th = self.transformed_size
        u, v = point[0] * tw, point[1] * th
        if self.flip:
            u = tw - u
        if self.rotation == 90:
            x, y = v, h - u
        elif self.rotation == 180:
            x, y = w - u, h - v
        elif self.rotation == 270:
            x, y = w - v, u
        else:
            x, y = u, v
        return x + x0, y + y0

    def to_output(self, point: Point, units: str) -> Point:
        """A point in PIXEL or DISPLAY units to output pixel coordinates (edges at whole numbers)."""
        u, v = point if units == "DISPLAY" else self.pixel_to_fraction(point)
        w, h = self.size
        return u * w, v * h

    def to_pixel(self, point: Point, units: str) -> Point:
        """A point in PIXEL or DISPLAY units to PIXEL units."""
        return self.fraction_to_pixel(point) if units == "DISPLAY" else point


def spatial_affine(rotation: int, flip: bool, width: float, height: float) -> tuple[float, float, float, float, float, float]:
    """The affine map of an image `width` x `height` (PIXEL units) turned `rotation` degrees clockwise, then flipped (C.10.6).

    Given as (m11, m12, m21, m22, dx, dy), Qt's QTransform order: x' = m11 x + m21 y + dx, y' = m12 x + m22 y + dy.
    The turned image lies from (0, 0) to its new width and height; y grows downwards.
    """
    m11, m12, m21, m22, dx, dy = {
        0: (1.0, 0.0, 0.0, 1.0, 0.0, 0.0),
        90: (0.0, 1.0, -1.0, 0.0, height, 0.0),
        180: (-1.0, 0.0, 0.0, -1.0, width, height),
        270: (0.0, -1.0, 1.0, 0.0, 0.0, width),
    }[rotation % 360]
    if flip:
        turned_width = height if rotation % 180 else width
        m11, m21, dx = -m11, -m21, turned_width - dx
    return m11, m12, m21, m22, dx, dy


def state_geometry(state: PresentationState, rows: int, columns: int, sop_instance_uid: str, frame: int = 1) -> StateGeometry:
    """The geometry of this image and frame under `state`: its displayed area (the whole image without one), rotation, flip, size."""
    area = state.area_for(sop_instance_uid, frame) or DisplayedArea((), (1, 1), (columns, rows))
    x0, y0, x1, y1 = area.bounds()
    ratio = area.row_to_column_ratio()
    magnification = area.magnification if area.mode == "MAGNIFY" else 1.0
    # Rows are stretched by the pixel aspect ratio; after a quarter turn they run across.
    sx, sy = magnification, magnification * ratio
    if state.rotation in (90, 270):
        sx, sy = sy, sx
    return StateGeometry((float(x0), float(y0), float(x1), float(y1)), state.rotation, state.flip, (sx, sy))


def _displayed(grey: np.ndarray, geometry: StateGeometry) -> np.ndarray:
    """The displayed area cut out (black outside the image), rotated, flipped and scaled to the output size."""
    rows, columns = grey.shape
    x0, y0, x1, y1 = (int(v) for v in geometry.bounds)
    area = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    r0, r1, c0, c1 = max(y0, 0), min(y1, rows), max(x0, 0), min(x1, columns)
    if r1 > r0 and c1 > c0:
        area[r0 - y0 : r1 - y0, c0 - x0 : c1 - x0] = grey[r0:r1, c0:c1]
    area = np.rot90(area, k=-(geometry.rotation // 90))
    if geometry.flip:
        area = area[:, ::-1]
    width, height = geometry.size
    if (width, height) != (area.shape[1], area.shape[0]):
        # Nearest neighbour: output pixel centre -> area pixel.
        cols = np.minimum(((np.arange(width) + 0.5) * area.shape[1] / width).astype(np.int64), area.shape[1] - 1)
        rws = np.minimum(((np.arange(height) + 0.5) * area.shape[0] / height).astype(np.int64), area.shape[0] - 1)
        area = area[rws[:, None], cols[None, :]]
    return np.ascontiguousarray(area)


# --------------------------------------------------------------------------- graphics


def outline_points(graphic: GraphicObject, convert) -> list[Point]:
    """The polyline drawing `graphic`, `convert` mapping its points to the target space (an affine map).

    CIRCLE: the centre, then a point on the circle; ELLIPSE: the ends of the
    major axis, then of the minor axis (C.10.5.1.2). Both are sampled as
    72-sided polygons, which an affine map keeps exact at the samples.
    INTERPOLATED is a smooth curve through its points (:func:`interpolated_curve`).
    """
    if graphic.kind == "INTERPOLATED" and len(graphic.points) >= 3:
        return [convert(p) for p in interpolated_curve(graphic.points)]
    pts = [convert(p) for p in graphic.points]
    if graphic.kind == "CIRCLE" and len(graphic.points) >= 2:
        (cx, cy), (px, py) = graphic.points[0], graphic.points[1]
        radius = math.hypot(px - cx, py - cy)
        return [convert((cx + radius * math.cos(t), cy + radius * math.sin(t))) for t in _turn()]
    if graphic.kind == "ELLIPSE" and len(graphic.points) >= 4:
        (ax, ay), (bx, by), (mx, my), (nx, ny) = graphic.points[:4]
        cx, cy = (ax + bx) / 2, (ay + by) / 2
        ux, uy, vx, vy = bx - cx, by - cy, nx - (mx + nx) / 2, ny - (my + ny) / 2
        return [convert((cx + ux * math.cos(t) + vx * math.sin(t), cy + uy * math.cos(t) + vy * math.sin(t))) for t in _turn()]
    return pts


#: Points sampled on each segment of an INTERPOLATED graphic.
CURVE_SAMPLES = 16


def interpolated_curve(points: list[Point] | tuple[Point, ...], samples: int = CURVE_SAMPLES) -> list[Point]:
    """A smooth curve through `points` (PS3.3 C.10.5.1.2, Graphic Type INTERPOLATED: a curve interpolated through
    the points; the standard leaves the kind of interpolation open), as a polyline of `samples` points per segment.

    Uniform Catmull-Rom splines: each segment P1-P2 is the cubic through P1 and P2 whose tangents are
    (P2 - P0) / 2 and (P3 - P1) / 2. The uniform variant is affine invariant, so the curve is the same whether it
    is drawn in PIXEL or DISPLAY units, turned or flipped. A curve whose last point repeats its first is closed
    (its neighbours wrap round); an open one takes the mirror of its second and next-to-last points as the
    neighbours of its ends.
    """
    pts = [(float(x), float(y)) for x, y in points]
    closed = len(pts) > 3 and math.dist(pts[0], pts[-1]) <= 1e-6 * max(1.0, *(abs(v) for p in pts for v in p))
    if closed:
        ring = pts[:-1]
        padded = [ring[-1], *ring, ring[0], ring[1]]
    else:
        (x0, y0), (x1, y1), (xa, ya), (xb, yb) = pts[0], pts[1], pts[-2], pts[-1]
        padded = [(2 * x0 - x1, 2 * y0 - y1), *pts, (2 * xb - xa, 2 * yb - ya)]
    curve = [padded[1]]
    for i in range(1, len(padded) - 2):
        (ax, ay), (bx, by), (cx, cy), (dx, dy) = padded[i - 1 : i + 3]
        for step in range(1, samples + 1):
            t = step / samples
            t2, t3 = t * t, t * t * t
            # 0.5 * (2B + (C - A) t + (2A - 5B + 4C - D) t^2 + (-A + 3B - 3C + D) t^3)
            curve.append(
                (
                    0.5 * (2 * bx + (cx - ax) * t + (2 * ax - 5 * bx + 4 * cx - dx) * t2 + (-ax + 3 * bx - 3 * cx + dx) * t3),
                    0.5 * (2 * by + (cy - ay) * t + (2 * ay - 5 * by + 4 * cy - dy) * t2 + (-ay + 3 * by - 3 * cy + dy) * t3),
                )
            )
    return curve


def _turn() -> list[float]:
    return [2 * math.pi * i / 72 for i in range(73)]


def _text_box(text: TextObject, geometry: StateGeometry) -> tuple[float, float, float, float] | None:
    if text.box is None:
        return None
    a = geometry.to_output(text.box[:2], text.box_units)
    b = geometry.to_output(text.box[2:], text.box_units)
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])


def overlay_mask(overlay, rows: int, columns: int) -> np.ndarray:
    """Where `overlay` (:class:`OverlayPlane`) is drawn on a rows x columns image: its bitmap placed at its (60xx,0050) origin."""
    mask = np.zeros((rows, columns), dtype=bool)
    top, left = overlay.origin[0] - 1, overlay.origin[1] - 1
    bitmap = overlay.bitmap
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + bitmap.shape[0], rows), min(left + bitmap.shape[1], columns)
    if r1 > r0 and c1 > c0:
        mask[r0:r1, c0:c1] = bitmap[r0 - top : r1 - top, c0 - left : c1 - left]
    return mask


def burn_overlays(display: np.ndarray, state: PresentationState, geometry: StateGeometry, rows: int, columns: int) -> np.ndarray:
    """`display` (uint8 grey or RGB, the output) with the state's activated overlay planes in their layers' colours: RGB."""
    rgb = np.repeat(display[:, :, None], 3, axis=2) if display.ndim == 2 else display.copy()
    for layer, overlay in state.overlays_by_layer():
        shown = _displayed(overlay_mask(overlay, rows, columns).astype(np.uint8), geometry).astype(bool)
        rgb[shown] = layer.rgb()
    return rgb


def burn_annotations(
    display: np.ndarray, state: PresentationState, geometry: StateGeometry, sop_instance_uid: str, frame: int = 1
) -> np.ndarray:
    """`display` (uint8 grey, the output) with the state's graphics and text for this image and frame drawn in: uint8 RGB."""
    from PIL import Image, ImageDraw, ImageFont

    annotations = state.annotations_for(sop_instance_uid, frame)
    rgb = np.repeat(display[:, :, None], 3, axis=2) if display.ndim == 2 else display
    if not annotations:
        return np.ascontiguousarray(rgb)
    canvas = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=TEXT_SIZE)
    for layer, annotation in annotations:
        colour = layer.rgb()
        for graphic in annotation.graphics:
            # Pillow draws lines through pixel centres at whole numbers: output edges minus a half.
            points = [(x - 0.5, y - 0.5) for x, y in outline_points(graphic, lambda p, u=graphic.units: geometry.to_output(p, u))]
            if graphic.kind == "POINT":
                for x, y in points:
                    draw.line([(x - 3, y), (x + 3, y)], fill=colour)
                    draw.line([(x, y - 3), (x, y + 3)], fill=colour)
            elif graphic.filled and len(points) >= 3:
                draw.polygon(points, fill=colour, outline=colour)
            elif len(points) >= 2:
                draw.line(points, fill=colour, width=1)
        for text in annotation.texts:
            box = _text_box(text, geometry)
            anchor = geometry.to_output(text.anchor, text.anchor_units) if text.anchor is not None else None
            _, _, right, bottom = draw.multiline_textbbox((0, 0), text.text, font=font)
            if box is not None:
                x = {"RIGHT": box[2] - right, "CENTER": (box[0] + box[2] - right) / 2}.get(text.justification, box[0])
                y = box[1]
            else:
                # Only an anchor: the text just below and right of it, kept on the output.
                x = min(max(anchor[0] + 4, 0), max(canvas.width - right, 0))
                y = min(max(anchor[1] + 4, 0), max(canvas.height - bottom, 0))
            draw.multiline_text((x, y), text.text, fill=colour, font=font)
            if anchor is not None and text.anchor_visible:
                draw.line([(anchor[0] - 0.5, anchor[1] - 0.5), (x, y)], fill=colour)
    return np.asarray(canvas)


# --------------------------------------------------------------------------- the whole


def render_with_state(
    stored: np.ndarray,
    ctx: Dataset,
    state: PresentationState,
    frame: int = 1,
    sop_instance_uid: str | None = None,
    graphics: bool = True,
    voi: VOI | None = None,
    invert: bool | None = None,
) -> np.ndarray:
    """Frame `frame` (from 1) of an image, its stored values and attributes, as `state` presents it.

    uint8 grey (rows, columns) without annotations (or with `graphics`
    False), RGB (rows, columns, 3) with them burned in. `voi` and `invert`,
    when given, stand for the state's (the viewer's window over it). ViewerError,
    one line, when the state does not reference this image and frame or cannot
    be applied to it.
    """
    uid = sop_instance_uid if sop_instance_uid is not None else str(ctx.get("SOPInstanceUID", "") or "").strip()
    if not state.applies_to(uid, frame):
        raise ViewerError(f"the presentation state does not reference this image (frame {frame})")
    grey = state_grey(stored, ctx, state, uid, frame, voi, invert)
    mask = shutter_mask(grey.shape[0], grey.shape[1], state.shutters)
    if mask is not None:
        grey = np.where(mask, np.uint8(shutter_grey(state.shutters)), grey)
    geometry = state_geometry(state, grey.shape[0], grey.shape[1], uid, frame)
    out = _displayed(grey, geometry)
    if graphics and state.overlays:
        out = burn_overlays(out, state, geometry, grey.shape[0], grey.shape[1])
    if graphics and state.annotations_for(uid, frame):
        out = burn_annotations(out, state, geometry, uid, frame)
    return out


def render_file_with_state(image_path, state_path, frame: int = 1) -> np.ndarray:
    """``dicom-viewer export IMAGE --pstate PR.dcm``: frame `frame` of the image file as the state file presents it.

    Decoded as ``export`` decodes (compressed data in a worker process with a
    time limit). ViewerError, one line, for a damaged state, an image it does
    not reference, a frame out of range or pixels that cannot be decoded.
    """
    from viewer.core.dicom.io import read_header
    from viewer.core.display.frames import FrameSource, frame_with_time_limit, is_compressed
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.documents.presentation_state import read_presentation_state
    from viewer.core.media.model import ImageRef, Instance
    from viewer.core.runtime.processes import shutdown_pool

    state = read_presentation_state(state_path)
    header = read_header(image_path)
    frames = number_of_frames(header)
    if not 1 <= frame <= frames:
        raise ViewerError(f"--frame {frame} is out of range: the image has {count(frames, 'frame')}", image_path)
    uid = str(header.get("SOPInstanceUID", "") or "").strip()
    if not state.applies_to(uid, frame):
        raise ViewerError(f"{state_path.name} does not reference this image (frame {frame})", image_path)
    store, ref = FrameSource(max_datasets=1), ImageRef(Instance(image_path, header, frames), frame - 1)
    if is_compressed(header):
        try:
            display = frame_with_time_limit(store, ref)
        finally:
            shutdown_pool()
    else:
        display = store.frame(ref)
    ctx = header
    if display.ctx is not header:
        from viewer.core.display.pixels.pipeline import frame_context

        ctx = frame_context(header, frame - 1)
    return render_with_state(display.stored, ctx, state, frame, uid)
