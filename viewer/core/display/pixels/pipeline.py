"""The standard display pipeline of PS3.3 C.11, from stored values to 8-bit pixels.

Greyscale: stored values -> Modality LUT (C.11.1: Rescale Slope/Intercept or
Modality LUT Sequence) -> VOI (C.11.2: Window Center/Width with VOI LUT
Function, or VOI LUT Sequence) -> Presentation (C.11.6: MONOCHROME1 and
Presentation LUT Shape INVERSE invert) -> 8-bit grey.

Colour: RGB, YBR_* (converted by the decoder, PS3.3 C.7.6.3.1.2) and PALETTE
COLOR (C.7.6.3.1.5, C.7.9) -> 8-bit RGB, with an optional user window.

The transforms are pydicom's ``apply_windowing`` and, for segmented
palettes, ``apply_color_lut``; every lookup table's data (Modality, VOI,
palette) is read by :mod:`viewer.core.display.pixels.lut_data`, which knows
both layouts of 8-bit entries. They are applied
once per VOI setting to every *possible* stored value of the frame, giving a
lookup table; turning a frame into display pixels is then one ``take``, so
re-windowing while the mouse moves never recomputes from stored values.
"""

from __future__ import annotations

import copy
import math
import sys
import threading
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_windowing

from viewer.core.display.pixels.lut_data import item_table, modality_values, palette_tables, voi_table

MONOCHROME = ("MONOCHROME1", "MONOCHROME2")

#: Largest stored-value range handled with a lookup table (16 bits).
MAX_LUT_ENTRIES = 1 << 16


@dataclass(frozen=True)
class Window:
    """A VOI window in modality units (PS3.3 C.11.2.1.2).

    ``function`` is the (0028,1056) *VOI LUT Function*: LINEAR, LINEAR_EXACT
    or SIGMOID. ``source`` says where it came from: 'file', 'preset', 'user',
    'auto' (computed from pixel values; ``explanation`` says how) or
    'default' (what the viewer opens with when the file has no window).
    """

    center: float
    width: float
    function: str = "LINEAR"
    explanation: str = ""
    source: str = "user"

    def with_center_width(self, center: float, width: float) -> Window:
        """The same window moved by the user (the VOI LUT Function is kept)."""
        return Window(center, max(width, 1.0), self.function, "", "user")


@dataclass(frozen=True)
class VOILut:
    """Item `index` of the (0028,3010) *VOI LUT Sequence* (PS3.3 C.11.2.1.1)."""

    index: int = 0
    explanation: str = ""


@dataclass(frozen=True)
class FullRange:
    """No VOI transform: the whole modality output range maps onto 0-255."""


VOI = Window | VOILut | FullRange


# --------------------------------------------------------------------------- frame context


#: Functional group macros lifted to the top level for a frame (PS3.3 C.7.6.16.2):
#: rescale, window, and where the frame lies (position, orientation, spacing).
_FRAME_GROUPS = (
    "PixelValueTransformationSequence",
    "FrameVOILUTSequence",
    "PlanePositionSequence",
    "PlaneOrientationSequence",
    "PixelMeasuresSequence",
)


def frame_context(ds: Dataset, index: int = 0) -> Dataset:
    """The attributes the pipeline reads for frame `index` of `ds`.

    For enhanced multi-frame images (PS3.3 C.7.6.16) the Pixel Value
    Transformation and Frame VOI LUT macros may sit in the Shared or the
    Per-frame Functional Groups; they are lifted to the top level here,
    per-frame values winning. For other images this is `ds` itself.
    """
    shared = ds.get("SharedFunctionalGroupsSequence")
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if not shared and not per_frame:
        return ds
    ctx = Dataset()
    for elem in ds:  # top level only
        if elem.tag.group in (0x0008, 0x0010, 0x0018, 0x0020, 0x0028, 0x2050):
            ctx.add(elem)
    if hasattr(ds, "file_meta"):
        ctx.file_meta = ds.file_meta
    if hasattr(ds, "original_encoding"):
        ctx.set_original_encoding(*ds.original_encoding)
    groups = []
    if shared:
        groups.append(shared[0])
    if per_frame and index < len(per_frame):
        groups.append(per_frame[index])
    for group in groups:
        for keyword in _FRAME_GROUPS:
            seq = group.get(keyword)
            if seq:
                for elem in seq[0]:
                    ctx.add(elem)
    return ctx


# --------------------------------------------------------------------------- reading the VOI module


def _values(elem_value) -> list:
    if elem_value is None:
        return []
    if isinstance(elem_value, (list, tuple)) or hasattr(elem_value, "__iter__") and not isinstance(elem_value, (str, bytes)):
        return list(elem_value)
    return [elem_value]


def file_windows(ctx: Dataset) -> list[Window]:
    """Every window the file offers, with its (0028,1055) explanation.

    (0028,1050) *Window Center* and (0028,1051) *Window Width* are VM 1-n;
    invalid or non-positive widths are skipped rather than shown wrongly.
    """
    centers = _values(ctx.get("WindowCenter"))
    widths = _values(ctx.get("WindowWidth"))
    explanations = _values(ctx.get("WindowCenterWidthExplanation"))
    function = str(ctx.get("VOILUTFunction", "LINEAR") or "LINEAR").strip().upper()
    windows = []
    for i, (center, width) in enumerate(zip(centers, widths)):
        try:
            center, width = float(center), float(width)
        except (TypeError, ValueError):
            continue
        if not (math.isfinite(center) and math.isfinite(width)) or width <= 0:
            continue
        if function == "LINEAR" and width < 1:
            continue
        explanation = str(explanations[i]) if i < len(explanations) else ""
        windows.append(Window(center, width, function, explanation, "file"))
    return windows


def file_voi_luts(ctx: Dataset) -> list[VOILut]:
    """Every usable item of the (0028,3010) *VOI LUT Sequence*."""
    luts = []
    for i, item in enumerate(ctx.get("VOILUTSequence") or []):
        if item.get("LUTDescriptor") is not None and item.get("LUTData") is not None and _usable_lut(item):
            luts.append(VOILut(i, str(item.get("LUTExplanation", "") or "")))
    return luts


def _usable_lut(item: Dataset) -> bool:
    """Whether this VOI LUT item can be applied (else it is not offered).

    (0028,3002) *LUT Descriptor*: entries (0 means 65536), first mapped
    value, and 8 or 10-16 bits per entry (PS3.3 C.11.2.1.1, C.8.11.3.1.5);
    (0028,3006) *LUT Data* must hold that many entries, 8-bit ones packed or
    one per word (:func:`lut_data.lut_table`; tests/robustness/crashes/voi_lut_256_bits.dcm).
    """
    try:
        bits = int(item.LUTDescriptor[2])
        if not (bits == 8 or 10 <= bits <= 16):
            return False
        item_table(item)
        return True
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        return False


def presentation_inverts(ctx: Dataset) -> bool:
    """Whether the presentation stage inverts grey levels (PS3.3 C.11.6, C.7.6.3.1.2).

    (2050,0020) *Presentation LUT Shape* decides when present (INVERSE
    inverts); otherwise MONOCHROME1 means minimum values are shown white.
    """
    shape = str(ctx.get("PresentationLUTShape", "") or "").strip().upper()
    if shape in ("IDENTITY", "INVERSE"):
        return shape == "INVERSE"
    return str(ctx.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"


def modality_unit(ctx: Dataset) -> str:
    """The unit of modality values, the output of the Modality LUT (PS3.3 C.11.1.1.2).

    With a (0028,3000) *Modality LUT Sequence* (which wins over rescale, as in
    pydicom's ``apply_modality_lut``): its (0028,3004) *Modality LUT Type*.
    Otherwise (0028,1054) *Rescale Type*. 'US' means unspecified, and an
    unspecified unit is '' except on a CT with (0028,1052) *Rescale
    Intercept*: the CT Image module requires Rescale Type only when the unit
    is not HU (PS3.3 C.8.2.1), so there it is HU.
    """
    if ctx.get("ModalityLUTSequence"):
        try:
            lut_type = str(ctx.ModalityLUTSequence[0].get("ModalityLUTType", "") or "").strip()
        except (TypeError, AttributeError, IndexError, KeyError, ValueError):
            return ""  # a damaged sequence (tests/robustness): no unit to speak of
        return lut_type if lut_type.upper() != "US" else ""
    rescale_type = str(ctx.get("RescaleType", "") or "").strip()
    if rescale_type and rescale_type.upper() != "US":  # US = unspecified
        return rescale_type
    if str(ctx.get("Modality", "")).upper() == "CT" and "RescaleIntercept" in ctx:
        return "HU"
    return ""


def is_hounsfield(ctx: Dataset) -> bool:
    """Whether the Modality LUT's output is in Hounsfield units (see :func:`modality_unit`).

    Only then do CT window presets (lung, bone, soft tissue...) mean anything.
    """
    return modality_unit(ctx).upper() == "HU"


def stored_value_attribute(ctx: Dataset, keyword: str) -> int | None:
    """An attribute that holds a stored pixel value ('US or SS'), as that value.

    (0028,0106) *Smallest Image Pixel Value*, (0028,0120) *Pixel Padding
    Value* and their kin have the VR 'US or SS' (PS3.6): SS when (0028,0103)
    *Pixel Representation* is 1. A file that wrote US there anyway holds the
    two's complement, read back here as the negative value it is. None when
    absent or not a number.
    """
    try:
        value = ctx.get(keyword)
        if value is None or value == "":
            return None
        if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, (str, bytes)):
            value = list(value)[0]
        number = int(value)
        if int(ctx.get("PixelRepresentation", 0) or 0) == 1 and number >= 1 << 15 and number < 1 << 16:
            number -= 1 << 16
        return number
    except (TypeError, ValueError, IndexError, KeyError, AttributeError, OverflowError):
        return None


def pixel_padding_range(ctx: Dataset) -> tuple[int, int] | None:
    """Stored values that are padding, not image: the inclusive range (low, high).

    (0028,0120) *Pixel Padding Value* alone marks one value; with (0028,0121)
    *Pixel Padding Range Limit* every value between the two, either way round
    (PS3.3 C.7.5.1.1.2). None when the image has no padding.
    """
    value = stored_value_attribute(ctx, "PixelPaddingValue")
    if value is None:
        return None
    limit = stored_value_attribute(ctx, "PixelPaddingRangeLimit")
    if limit is None:
        return value, value
    return min(value, limit), max(value, limit)


def full_modality_range(ctx: Dataset) -> tuple[float, float]:
    """Every modality value the image could hold (not only those present).

    With a Modality LUT Sequence: 0 to 2^n - 1, n from its LUT Descriptor
    (PS3.3 C.11.1.1.1); otherwise the stored range given by (0028,0101)
    *Bits Stored* and (0028,0103) *Pixel Representation*, rescaled. This is
    what "no VOI" shows, as dcmtk does.
    """
    if ctx.get("ModalityLUTSequence"):
        bits = int(ctx.ModalityLUTSequence[0].LUTDescriptor[2])
        return 0.0, float((1 << bits) - 1)
    bits = int(ctx.get("BitsStored") or ctx.get("BitsAllocated") or 16)
    if int(ctx.get("PixelRepresentation", 0) or 0):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1
    slope = float(ctx.get("RescaleSlope", 1) or 1)
    intercept = float(ctx.get("RescaleIntercept", 0) or 0)
    ends = sorted((lo * slope + intercept, hi * slope + intercept))
    return ends[0], ends[1]


# --------------------------------------------------------------------------- VOI to 8 bits


_WINDOW_DATASETS = threading.local()


def _window_dataset(window: Window) -> Dataset:
    """A minimal dataset for pydicom's ``apply_windowing`` with output 0-255.

    One per thread, reused: only the window's three attributes change, so a
    re-window while dragging does not build a dataset each time.
    """
    ds = getattr(_WINDOW_DATASETS, "ds", None)
    if ds is None:
        ds = Dataset()
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsStored = 8  # y range 0..255 (PS3.3 C.11.2.1.2: ymin, ymax)
        ds.PixelRepresentation = 0
        _WINDOW_DATASETS.ds = ds
    ds.WindowCenter = window.center
    ds.WindowWidth = window.width
    ds.VOILUTFunction = window.function
    return ds


def window_to_display(values: np.ndarray, window: Window) -> np.ndarray:
    """Apply `window` to modality values, giving floats in 0-255.

    PS3.3 C.11.2.1.2.1 (LINEAR), C.11.2.1.3.2 (LINEAR_EXACT) and
    C.11.2.1.3.1 (SIGMOID), with ymin = 0 and ymax = 255.
    """
    # SIGMOID: e^(-4(x-c)/w) overflows to inf far below a narrow window; the
    # result, ymin, is the correct limit, so numpy's RuntimeWarning is noise
    # that would be raised on every re-window.
    with np.errstate(over="ignore"):
        return apply_windowing(np.asarray(values, dtype=np.float64), _window_dataset(window))


def voi_lut_to_display(values: np.ndarray, ctx: Dataset, lut: VOILut) -> np.ndarray:
    """Apply VOI LUT `lut` to modality values, giving floats in 0-255.

    The LUT's output range is 0 to 2^n - 1, n the third value of its
    (0028,3002) *LUT Descriptor* (PS3.3 C.11.2.1.1).
    """
    table = voi_table(ctx, lut.index)
    out = table.apply(np.rint(values)).astype(np.float64)
    return out * (255.0 / table.output_max)


def _rint_u8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- one frame


@dataclass
class FrameDisplay:
    """One decoded frame and everything needed to show it quickly.

    Build it once per frame (``FrameDisplay(stored, ctx)``); then
    :meth:`render` gives uint8 grey ``(rows, cols)`` or RGB ``(rows, cols, 3)``
    for any VOI and inversion, of the whole frame or of a region at a stride.
    """

    stored: np.ndarray
    ctx: Dataset
    photometric: str = field(init=False)
    is_color: bool = field(init=False)

    def __post_init__(self) -> None:
        self.photometric = str(self.ctx.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
        self.is_color = self.stored.ndim == 3
        self._lut_cache: tuple | None = None
        self._modality_of_index: np.ndarray | None = None
        self._lo = self._hi = 0
        self._index: np.ndarray | None = None
        self._modality_float: np.ndarray | None = None
        self._rgb: np.ndarray | None = None
        self._palette: np.ndarray | None = None
        if self.is_color:
            self._prepare_rgb()
        elif self.photometric == "PALETTE COLOR":
            self.is_color = True
            self._prepare_palette()
        else:
            self._prepare_grey()

    # -- preparation (once per frame) ------------------------------------------------
    def _prepare_grey(self) -> None:
        stored = self.stored
        if stored.dtype.kind in "iu" and stored.size:
            lo, hi = int(stored.min()), int(stored.max())
            if hi - lo < MAX_LUT_ENTRIES:
                self._lo, self._hi = lo, hi
                self._index = np.subtract(stored, lo, dtype=np.int64).astype(np.uint16) if lo else stored.astype(np.uint16, copy=False)
                return
        # Float pixel data or a range wider than 16 bits: keep modality values.
        self._modality_float = np.asarray(modality_values(stored, self.ctx), dtype=np.float32)

    def _prepare_rgb(self) -> None:
        rgb = self.stored
        if rgb.dtype != np.uint8:
            bits = int(self.ctx.get("BitsStored", rgb.dtype.itemsize * 8))
            shift = max(bits - 8, 0)
            rgb = (rgb.astype(np.uint64) >> shift).astype(np.uint8) if shift else rgb.astype(np.uint8)
        self._rgb = np.ascontiguousarray(rgb)

    def _prepare_palette(self) -> None:
        stored = self.stored
        lo, hi = int(stored.min()), int(stored.max())
        self._lo, self._hi = lo, hi
        tables = palette_tables(self.ctx)
        if tables is None:  # segmented (C.7.9): pydicom expands it
            table = apply_color_lut(np.arange(lo, hi + 1), self.ctx)
            if table.dtype != np.uint8:
                table = (table >> 8).astype(np.uint8)  # 16-bit entries: the top 8 bits
        else:
            # Each channel through its own table, in the file's byte order and
            # either layout of 8-bit entries (lut_data); 16-bit entries keep their top 8 bits.
            values = np.arange(lo, hi + 1)
            table = np.stack([(t.apply(values) >> max(t.bits - 8, 0)).astype(np.uint8) for t in tables], axis=-1)
        self._palette = table
        self._index = np.subtract(stored, lo, dtype=np.int64).astype(np.uint16)

    def turned(self, quarter: bool, mirror_rows: bool, mirror_columns: bool) -> FrameDisplay:
        """This frame as a presentation state turns it (PS3.3 C.10.6: rotation by a multiple of 90 degrees and a
        flip), as :func:`turned_array` gives them: its arrays turned once (a copy), the lookup tables shared, so
        that each render of the turned frame costs what an upright one does (no turn on every window step)."""
        done: dict[int, np.ndarray] = {}  # the stored values are often the LUT index itself: turned once

        def turn(array: np.ndarray | None) -> np.ndarray | None:
            if array is None:
                return None
            if id(array) not in done:
                done[id(array)] = turned_array(array, quarter, mirror_rows, mirror_columns)
            return done[id(array)]

        other = copy.copy(self)
        other.stored, other._index, other._modality_float, other._rgb = (
            turn(self.stored),
            turn(self._index),
            turn(self._modality_float),
            turn(self._rgb),
        )
        return other

    # -- facts -----------------------------------------------------------------------
    @property
    def nbytes(self) -> int:
        """Memory held for this frame (stored values and prepared copies; an 8-bit RGB frame is its own prepared copy)."""
        held = {id(a): a for a in (self.stored, self._index, self._modality_float, self._rgb) if a is not None}
        return sum(a.nbytes for a in held.values())

    @property
    def shape(self) -> tuple[int, int]:
        return self.stored.shape[:2]

    def modality_values(self, stored_values: np.ndarray) -> np.ndarray:
        """PS3.3 C.11.1: stored values -> modality values (float64)."""
        return np.asarray(modality_values(np.asarray(stored_values), self.ctx), dtype=np.float64)

    def modality_range(self) -> tuple[float, float]:
        """Smallest and largest modality value present in this frame."""
        if self._modality_float is not None:
            return float(np.nanmin(self._modality_float)), float(np.nanmax(self._modality_float))
        # A Modality LUT need not be monotonic: look at every value in range.
        values = self.modality_values(np.arange(self._lo, self._hi + 1))
        return float(values.min()), float(values.max())

    def auto_window(self) -> Window:
        """A window spanning this frame's modality values, ignoring padding (dcmtk's ``+Wm``).

        (0028,0120) *Pixel Padding Value* (and (0028,0121) *Pixel Padding
        Range Limit*) mark pixels outside the body (PS3.3 C.7.5.1.1.2);
        including them would squash the image's contrast. The window a
        series opens with is :func:`viewer.core.display.pixels.auto_window.percentile_window`
        or one from the file's pixel value range, not this.
        """
        padding = pixel_padding_range(self.ctx)
        if self._index is not None and padding is not None:
            kept = self.stored[(self.stored < padding[0]) | (self.stored > padding[1])]
            if kept.size:
                values = self.modality_values(np.array([kept.min(), kept.max()]))
                lo, hi = float(values.min()), float(values.max())
                return Window((lo + hi) / 2, max(hi - lo, 1.0), "LINEAR", "min-max", "auto")
        lo, hi = self.modality_range()
        return Window((lo + hi) / 2, max(hi - lo, 1.0), "LINEAR", "min-max", "auto")

    def value_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """The modality values present in this greyscale frame, ascending, and how many pixels hold each.

        Pixels marked as padding ((0028,0120) *Pixel Padding Value*, (0028,0121)
        *Pixel Padding Range Limit*) are left out, unless nothing else is
        left. From a histogram of the stored values, so a 16-bit frame costs
        one ``bincount``, not a sort. float64 values, int64 counts.
        """
        if self.is_color:
            raise ValueError("a colour frame has no modality values")
        padding = pixel_padding_range(self.ctx)
        if self._index is not None:
            counts = np.bincount(self._index.ravel(), minlength=self._hi - self._lo + 1).astype(np.int64)
            stored = np.arange(self._lo, self._hi + 1)
            if padding is not None:
                is_padding = (stored >= padding[0]) & (stored <= padding[1])
                if counts[~is_padding].sum():
                    counts[is_padding] = 0
            present = counts > 0
            values = self.modality_values(stored[present])
            # A Modality LUT need not be monotonic: order by modality value.
            order = np.argsort(values, kind="stable")
            return values[order], counts[present][order]
        values = np.asarray(self._modality_float, dtype=np.float64)
        keep = np.isfinite(values)
        if padding is not None and self.stored.dtype.kind in "iu":
            not_padding = keep & ((self.stored < padding[0]) | (self.stored > padding[1]))
            if not_padding.any():
                keep = not_padding
        values, counts = np.unique(values[keep], return_counts=True)
        return values, counts.astype(np.int64)

    def uses_automatic_window(self) -> bool:
        """Whether :meth:`default_voi` shows an automatic window: a greyscale image
        whose file has no window and no VOI LUT, and whose values are not in HU."""
        return not self.is_color and not file_voi_luts(self.ctx) and not file_windows(self.ctx) and not is_hounsfield(self.ctx)

    def default_voi(self, automatic: Window | None = None) -> VOI:
        """What the image opens with.

        The file's first VOI LUT ((0028,3010) *VOI LUT Sequence*), else its
        first window ((0028,1050) *Window Center*, (0028,1051) *Window
        Width*). With neither: a CT in Hounsfield units opens with
        :data:`SOFT_TISSUE_WINDOW` (its full range, some 4000 HU, would show
        soft tissue as one grey); anything else with `automatic`, the
        series' automatic window (:mod:`viewer.core.display.pixels.auto_window`), so
        brightness does not change from slice to slice, or without one this
        frame's min-max. Colour: shown as stored.
        """
        if self.is_color:
            return IDENTITY_WINDOW
        luts = file_voi_luts(self.ctx)
        if luts:
            return luts[0]
        windows = file_windows(self.ctx)
        if windows:
            return windows[0]
        if is_hounsfield(self.ctx):
            return SOFT_TISSUE_WINDOW
        return automatic if automatic is not None else self.auto_window()

    def value_at(self, row: int, col: int) -> tuple[object, float | None]:
        """The stored value at a pixel and, for greyscale, its modality value."""
        value = self.stored[row, col]
        if self.stored.ndim == 3:
            return tuple(int(v) for v in value), None
        if self.photometric == "PALETTE COLOR":
            return int(value), None
        return (value.item(), float(self.modality_values(np.array([value]))[0]))

    # -- the hot path ----------------------------------------------------------------
    def display_lut(self, voi: VOI, invert: bool = False) -> np.ndarray:
        """uint8 display value for every stored value lo..hi of this frame.

        For colour images this is the 256-entry table applied to each channel.
        Cached for the last (voi, invert): scrolling the view reuses it.
        """
        key = (voi, invert)
        if self._lut_cache is not None and self._lut_cache[0] == key:
            return self._lut_cache[1]
        if self.is_color:
            window = voi if isinstance(voi, Window) else IDENTITY_WINDOW
            lut = _rint_u8(window_to_display(np.arange(256), window))
            if invert:
                lut = 255 - lut
        else:
            modality = self._index_modality_values()
            lut = _rint_u8(self._voi_to_display(modality, voi))
            if presentation_inverts(self.ctx) != invert:
                lut = 255 - lut
        self._lut_cache = (key, lut)
        return lut

    def _index_modality_values(self) -> np.ndarray:
        """Modality values of the stored values lo..hi (the input of every LUT).

        Kept from the second LUT on: the user is then changing the window
        (dragging), and each step saves the Modality LUT; frames only scrolled
        past build one LUT and keep nothing extra.
        """
        if self._modality_of_index is not None:
            return self._modality_of_index
        values = self.modality_values(np.arange(self._lo, self._hi + 1))
        if self._lut_cache is not None:
            self._modality_of_index = values
        return values

    def _voi_to_display(self, modality: np.ndarray, voi: VOI) -> np.ndarray:
        if isinstance(voi, Window):
            return window_to_display(modality, voi)
        if isinstance(voi, VOILut):
            return voi_lut_to_display(modality, self.ctx, voi)
        try:
            lo, hi = full_modality_range(self.ctx)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError):
            # Bits Stored of 0 or 200, a descriptor that is not one: the
            # frame's own range then (tests/robustness).
            lo, hi = self.modality_range()
        return (modality - lo) * (255.0 / max(hi - lo, 1e-12))

    def render(
        self,
        voi: VOI,
        invert: bool = False,
        region: tuple[int, int, int, int] | None = None,
        stride: int = 1,
    ) -> np.ndarray:
        """Display pixels (uint8) of rows r0:r1 and columns c0:c1, every `stride`-th.

        `region` is ``(r0, r1, c0, c1)``; None is the whole frame. The result
        is C-contiguous: grey ``(h, w)`` or RGB ``(h, w, 3)``.
        """
        return self._render(voi, invert, region, stride, packed=False)

    def render_packed(
        self,
        voi: VOI,
        invert: bool = False,
        region: tuple[int, int, int, int] | None = None,
        stride: int = 1,
    ) -> np.ndarray:
        """The same display pixels as :meth:`render`, packed as uint32 0xFFRRGGBB.

        One value per pixel, grey or colour: the layout of Qt's RGB32 images,
        which Qt scales to the screen about three times faster than 8-bit
        grey (benchmarks/bench_window.py). Where a lookup table is used
        (greyscale, palette colour) the packing is folded into it, so a
        re-window is still one ``take``.
        """
        return self._render(voi, invert, region, stride, packed=True)

    def _render(self, voi: VOI, invert: bool, region, stride: int, packed: bool) -> np.ndarray:
        r0, r1, c0, c1 = region or (0, self.shape[0], 0, self.shape[1])
        window_slice = (slice(r0, r1, stride), slice(c0, c1, stride))
        pack = pack_rgb32 if packed else (lambda display: display)
        if self._modality_float is not None:
            values = self._modality_float[window_slice]
            out = _rint_u8(self._voi_to_display(values, voi if not isinstance(voi, VOILut) else self.auto_window()))
            return pack(255 - out if presentation_inverts(self.ctx) != invert else out)
        lut = self.display_lut(voi, invert)
        if self._palette is not None:
            table = lut[self._palette] if not _is_identity(voi, invert) else self._palette
            return np.take(pack(table[None])[0] if packed else table, self._index[window_slice], axis=0)
        if self._rgb is not None:
            rgb = self._rgb[window_slice]
            return pack(np.ascontiguousarray(rgb) if _is_identity(voi, invert) else np.take(lut, rgb))
        # Grey: the packing is folded into the table (microseconds; not kept).
        return np.take(pack(lut), self._index[window_slice])


def turned_array(array: np.ndarray, quarter: bool, mirror_rows: bool, mirror_columns: bool) -> np.ndarray:
    """`array` (rows, columns[, samples]) with rows and columns swapped when `quarter` (a quarter turn), then its
    rows and/or columns in reverse order: a contiguous copy."""
    if quarter:
        array = array.swapaxes(0, 1)
    if mirror_rows:
        array = array[::-1]
    if mirror_columns:
        array = array[:, ::-1]
    return np.ascontiguousarray(array)


#: 0xFFgggggg for each grey level g: opaque grey in Qt's RGB32 layout.
_GREY_PACKED = (np.uint32(0xFF000000) | np.arange(256, dtype=np.uint32) * np.uint32(0x010101)).astype(np.uint32)


def pack_rgb32(display: np.ndarray) -> np.ndarray:
    """uint8 display values as uint32 0xFFRRGGBB: grey of any shape (a lookup
    table too), or RGB with the channels last (``(h, w, 3)``)."""
    if display.ndim < 3:
        return np.take(_GREY_PACKED, display)
    if sys.byteorder == "little" and display.dtype == np.uint8:
        # Bytes B, G, R, 0xFF are 0xFFRRGGBB read as one little-endian uint32: four byte copies,
        # about five times faster than shifting and or-ing uint32 planes (a 1080p video frame in 3 ms).
        rows, columns = display.shape[:2]
        out = np.empty((rows, columns, 4), dtype=np.uint8)
        out[..., 0], out[..., 1], out[..., 2], out[..., 3] = display[..., 2], display[..., 1], display[..., 0], 0xFF
        return out.view(np.uint32).reshape(rows, columns)
    packed = np.full(display.shape[:2], 0xFF000000, dtype=np.uint32)
    packed |= display[..., 0].astype(np.uint32) << 16
    packed |= display[..., 1].astype(np.uint32) << 8
    packed |= display[..., 2]
    return packed


#: For colour images: the window that leaves 8-bit values unchanged.
IDENTITY_WINDOW = Window(128.0, 256.0, "LINEAR", "identity", "auto")  # y = x exactly

#: What a CT in Hounsfield units with no window of its own opens with: soft
#: tissue, W 400 L 40 (Radiopaedia's "Windowing (CT)"; the "Abdomen" preset's values).
SOFT_TISSUE_WINDOW = Window(40.0, 400.0, "LINEAR", "Soft tissue", "default")


def _is_identity(voi: VOI, invert: bool) -> bool:
    return not invert and (not isinstance(voi, Window) or voi == IDENTITY_WINDOW)


def describe_voi(voi: VOI) -> str:
    """Short text for annotations: 'W 400 L 40' or the LUT's explanation."""
    if isinstance(voi, Window):
        return f"W {voi.width:g} L {voi.center:g}"
    if isinstance(voi, VOILut):
        return f"VOI LUT {voi.index + 1}" + (f" ({voi.explanation})" if voi.explanation else "")
    return "full range"
