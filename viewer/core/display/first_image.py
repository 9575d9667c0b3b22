"""The first image of a file opened at start-up, without pydicom: the simple, safe case only.

A double-clicked ``.dcm`` is painted right after the window's frame, before
numpy, pydicom and the viewer's contents are imported (about 0.15-0.3 s):
a small walker of the file's elements (``struct``, no pydicom) reads the few
attributes the display pipeline needs, and the 8-bit image is computed
exactly as :class:`~viewer.core.display.pixels.pipeline.FrameDisplay`
computes it for the file's own window (tests/core/test_first_image.py checks
it bit for bit against the full pipeline on every test file). The viewport's
own image replaces it once that is ready: the same pixels.

The standard library only, no numpy: a grey level is computed once for each
distinct stored value (a few thousand in a CT), in the same float64
operations as the pipeline's, then looked up for every pixel by ``map`` over
an ``array`` (about 25 ms for 512 x 512, where importing numpy costs 40 ms on
an idle machine and 200-350 ms on a busy one, benchmarks/bench_startup.py).

Only the case that needs nothing but rescale, a LINEAR window and the
presentation's inversion is accepted; anything else, or anything doubtful,
gives None and the normal path shows the file:

* a file with the 128-byte preamble and ``DICM`` (PS3.10 7.1), whose File Meta
  Information is well formed, and whose (0002,0010) *Transfer Syntax UID* is
  Implicit or Explicit VR Little Endian (PS3.5 A.1, A.2): native pixel data;
* one frame ((0028,0008) *Number of Frames* absent or 1), one sample per pixel
  ((0028,0002) *Samples per Pixel*), (0028,0004) *Photometric Interpretation*
  MONOCHROME1 or MONOCHROME2, (0028,0100) *Bits Allocated* 8 or 16, with
  (0028,0101) *Bits Stored*, (0028,0102) *High Bit* = Bits Stored - 1 and
  (0028,0103) *Pixel Representation* present and consistent;
* a window in the file: the first values of (0028,1050) *Window Center* and
  (0028,1051) *Window Width* (width >= 1), with (0028,1056) *VOI LUT Function*
  LINEAR or absent (PS3.3 C.11.2.1.2.1);
* none of (0028,3000) *Modality LUT Sequence*, (0028,3010) *VOI LUT
  Sequence*, (2050,0010) *Presentation LUT Sequence*, the enhanced images'
  functional groups (5200,9229) and (5200,9230), Float or Double Float Pixel
  Data, or a Pixel Data length other than the frame's (one byte of padding
  after an odd length allowed, PS3.5 8.1.1).

Importing this module imports the standard library only (a test checks that
numpy and pydicom stay out).
"""

from __future__ import annotations

import math
import os
import re
import struct
import sys
from array import array
from dataclasses import dataclass

IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"

#: Largest file read whole for the quick image (bigger ones wait for the normal path).
MAX_FILE_BYTES = 64 << 20

#: VRs whose explicit-VR element header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
#: Every VR of PS3.5 6.2: two bytes that are none of these are not an explicit VR.
_ALL_VRS = _LONG_VRS | frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"PN", b"SH", b"SL", b"SS", b"ST", b"TM"}
    | {b"UI", b"UL", b"US"}
)

#: The attributes read, with their VR (PS3.6): the VR an implicit-VR file does not say.
_READ = {
    0x00280002: b"US",  # Samples per Pixel
    0x00280004: b"CS",  # Photometric Interpretation
    0x00280008: b"IS",  # Number of Frames
    0x00280010: b"US",  # Rows
    0x00280011: b"US",  # Columns
    0x00280100: b"US",  # Bits Allocated
    0x00280101: b"US",  # Bits Stored
    0x00280102: b"US",  # High Bit
    0x00280103: b"US",  # Pixel Representation
    0x00281050: b"DS",  # Window Center
    0x00281051: b"DS",  # Window Width
    0x00281052: b"DS",  # Rescale Intercept
    0x00281053: b"DS",  # Rescale Slope
    0x00281056: b"CS",  # VOI LUT Function
    0x20500020: b"CS",  # Presentation LUT Shape
}
_PIXEL_DATA = 0x7FE00010
#: Attributes whose presence means a transform (or pixel data) this module does not apply.
_DECLINED = frozenset(
    {
        0x00283000,  # Modality LUT Sequence
        0x00283010,  # VOI LUT Sequence
        0x20500010,  # Presentation LUT Sequence
        0x52009229,  # Shared Functional Groups Sequence
        0x52009230,  # Per-frame Functional Groups Sequence
        0x7FE00008,  # Float Pixel Data
        0x7FE00009,  # Double Float Pixel Data
    }
)
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF

#: PS3.5 6.2 Decimal String, one value (no NaN, no infinity).
_DS = re.compile(r" *[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)? *")
_IS = re.compile(r" *[+-]?\d+ *")


class _Declined(Exception):
    """Not the simple case (or not sure): the normal path shows the file."""


@dataclass(frozen=True)
class QuickImage:
    """The 8-bit grey image of a file's only frame for its first window.

    ``pixels`` holds ``rows`` x ``columns`` bytes, row by row: what
    ``FrameDisplay.render(FrameDisplay.default_voi())`` gives for the file.
    """

    pixels: bytes
    rows: int
    columns: int
    window_center: float
    window_width: float


def first_image(path: str | os.PathLike[str]) -> QuickImage | None:
    """The image of the file at `path` for its own window, or None when it is not the simple case (see the module)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_FILE_BYTES or size < 132:
            return None
        with open(path, "rb") as f:
            data = f.read()
        return _quick_image(data)
    except Exception:  # _Declined, or any doubt (a damaged file): the normal path shows it, or says what is wrong with it
        return None


# --------------------------------------------------------------------------- the file's elements


def _header(data: bytes, pos: int, explicit: bool) -> tuple[int, bytes | None, int, int]:
    """(tag, VR or None, value length, value offset) of the element at `pos` (PS3.5 7.1)."""
    group, element = struct.unpack_from("<HH", data, pos)
    tag = group << 16 | element
    if group == 0xFFFE or not explicit:  # items and delimiters have no VR (PS3.5 7.5)
        (length,) = struct.unpack_from("<L", data, pos + 4)
        return tag, None, length, pos + 8
    vr = data[pos + 4 : pos + 6]
    if vr not in _ALL_VRS:
        raise _Declined
    if vr in _LONG_VRS:
        (length,) = struct.unpack_from("<L", data, pos + 8)
        return tag, vr, length, pos + 12
    (length,) = struct.unpack_from("<H", data, pos + 6)
    return tag, vr, length, pos + 8


def _skip_undefined(data: bytes, pos: int, explicit: bool) -> int:
    """The offset after a sequence of undefined length whose items start at `pos` (PS3.5 7.5.1)."""
    while True:
        tag, _vr, length, pos = _header(data, pos, explicit)
        if tag == _SEQUENCE_END:
            return pos
        if tag != _ITEM:
            raise _Declined
        if length != _UNDEFINED:
            pos += length
            continue
        while True:  # an item of undefined length: its elements up to the Item Delimitation Item
            tag, _vr, length, pos = _header(data, pos, explicit)
            if tag == _ITEM_END:
                break
            pos = _skip_undefined(data, pos, explicit) if length == _UNDEFINED else pos + length


def _transfer_syntax(data: bytes) -> tuple[str, int]:
    """(0002,0010) *Transfer Syntax UID* and where the data set starts (PS3.10 7.1: explicit VR little endian)."""
    if data[128:132] != b"DICM":
        raise _Declined
    pos, syntax, last = 132, None, -1
    while pos + 8 <= len(data):
        group, _element = struct.unpack_from("<HH", data, pos)
        if group != 0x0002:
            break
        tag, _vr, length, start = _header(data, pos, True)
        if length == _UNDEFINED or tag <= last or start + length > len(data):
            raise _Declined
        if tag == 0x00020010:
            syntax = data[start : start + length].decode("ascii").rstrip("\x00 ")
        last, pos = tag, start + length
    if syntax is None:
        raise _Declined
    return syntax, pos


def _attributes(data: bytes) -> tuple[dict[int, bytes], int, int]:
    """The values of :data:`_READ` found at the data set's top level, and the Pixel Data's offset and length."""
    syntax, pos = _transfer_syntax(data)
    if syntax not in (IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN):
        raise _Declined  # big endian, deflated, compressed
    explicit = syntax == EXPLICIT_VR_LITTLE_ENDIAN
    if not explicit and data[pos + 4 : pos + 6] in _ALL_VRS:
        raise _Declined  # an "implicit" data set that looks explicit: pydicom would guess; so do not
    values: dict[int, bytes] = {}
    last = -1
    while pos + 8 <= len(data):
        tag, vr, length, start = _header(data, pos, explicit)
        if tag <= last or tag >> 16 == 0xFFFE:
            raise _Declined  # out of order, repeated, or a stray delimiter
        last = tag
        if tag in _DECLINED:
            raise _Declined
        if tag == _PIXEL_DATA:
            if length == _UNDEFINED or (explicit and vr not in (b"OB", b"OW")):
                raise _Declined  # encapsulated
            return values, start, length
        if tag in _READ:
            if length == _UNDEFINED or (explicit and vr != _READ[tag]) or start + length > len(data):
                raise _Declined
            values[tag] = data[start : start + length]
        if length == _UNDEFINED:
            if explicit and vr not in (b"SQ", b"UN"):
                raise _Declined
            pos = _skip_undefined(data, start, explicit and vr == b"SQ")
        else:
            pos = start + length
    raise _Declined  # no Pixel Data


# --------------------------------------------------------------------------- values


def _us(values: dict[int, bytes], tag: int) -> int:
    """A US value of VM 1 (absent: declined)."""
    raw = values.get(tag)
    if raw is None or len(raw) != 2:
        raise _Declined
    return struct.unpack("<H", raw)[0]


def _text(values: dict[int, bytes], tag: int) -> str | None:
    """A CS value of VM 1, without its padding; None when absent or empty."""
    raw = values.get(tag)
    if raw is None:
        return None
    text = raw.decode("ascii").strip(" ")
    if "\\" in text or "\x00" in text:
        raise _Declined  # several values, or NUL padding that pydicom may keep
    return text or None


def _decimals(values: dict[int, bytes], tag: int) -> list[float] | None:
    """The values of a DS attribute (PS3.5 6.2); None when absent. Anything but plain decimals: declined."""
    raw = values.get(tag)
    if raw is None:
        return None
    parts = raw.decode("ascii").split("\\")
    if not all(_DS.fullmatch(part) for part in parts):
        raise _Declined
    return [float(part) for part in parts]


def _single_decimal(values: dict[int, bytes], tag: int) -> float | None:
    found = _decimals(values, tag)
    if found is not None and len(found) != 1:
        raise _Declined
    return found[0] if found else None


# --------------------------------------------------------------------------- the image


def _quick_image(data: bytes) -> QuickImage:
    values, offset, length = _attributes(data)
    if _us(values, 0x00280002) != 1:
        raise _Declined
    photometric = _text(values, 0x00280004)
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise _Declined
    if 0x00280008 in values:
        frames = values[0x00280008].decode("ascii")
        if not _IS.fullmatch(frames) or int(frames) != 1:
            raise _Declined
    rows, columns = _us(values, 0x00280010), _us(values, 0x00280011)
    allocated, stored_bits = _us(values, 0x00280100), _us(values, 0x00280101)
    high_bit, representation = _us(values, 0x00280102), _us(values, 0x00280103)
    if rows == 0 or columns == 0 or allocated not in (8, 16) or not 1 <= stored_bits <= allocated:
        raise _Declined
    if high_bit != stored_bits - 1 or representation not in (0, 1):
        raise _Declined
    nbytes = rows * columns * allocated // 8
    if not (length == nbytes or (nbytes % 2 and length == nbytes + 1)) or offset + nbytes > len(data):
        raise _Declined
    raw = array("B" if allocated == 8 else "H")
    raw.frombytes(data[offset : offset + nbytes])
    if raw.itemsize != allocated // 8:
        raise _Declined
    if raw.itemsize > 1 and sys.byteorder != "little":
        raw.byteswap()

    center, width = _file_window(values)
    slope = _single_decimal(values, 0x00281053)
    intercept = _single_decimal(values, 0x00281052)
    inverts = presentation_inverts(_text(values, 0x20500020), photometric)
    grey = _grey_levels(set(raw), stored_bits, representation == 1, center, width, slope, intercept, inverts)
    return QuickImage(bytes(map(grey.__getitem__, raw)), rows, columns, center, width)


def stored_value(word: int, bits_stored: int, signed: bool) -> int:
    """The stored value in the bits of `word` (as read, Bits Allocated wide): the bits above (0028,0101)
    *Bits Stored* cleared, the sign extended when (0028,0103) *Pixel Representation* is 1 (PS3.5 8.1.1), as pydicom does."""
    value = word & ((1 << bits_stored) - 1)
    if signed and value >> (bits_stored - 1):
        value -= 1 << bits_stored
    return value


def _grey_levels(
    words: set[int],
    bits_stored: int,
    signed: bool,
    center: float,
    width: float,
    slope: float | None,
    intercept: float | None,
    inverts: bool,
) -> list[int]:
    """A table from each word present in the pixel data to its grey level (the rest of the table: 0)."""
    table = [0] * (1 << 16)
    for word in words:
        table[word] = grey_level(stored_value(word, bits_stored, signed), center, width, slope, intercept, inverts)
    return table


def _file_window(values: dict[int, bytes]) -> tuple[float, float]:
    """The file's first window: (0028,1050) *Window Center*, (0028,1051) *Window Width*, LINEAR (PS3.3 C.11.2.1.2)."""
    function = _text(values, 0x00281056)
    if function not in (None, "LINEAR"):
        raise _Declined
    centers, widths = _decimals(values, 0x00281050), _decimals(values, 0x00281051)
    if not centers or not widths:
        raise _Declined  # no window: the viewer picks one from the series (not this module's business)
    center, width = centers[0], widths[0]
    if not (math.isfinite(center) and math.isfinite(width)) or width < 1:
        raise _Declined  # the viewer skips such a window for the next one
    return center, width


def presentation_inverts(shape: str | None, photometric: str) -> bool:
    """Whether the presentation stage inverts grey levels (PS3.3 C.11.6, C.7.6.3.1.2).

    (2050,0020) *Presentation LUT Shape* decides when it is IDENTITY or
    INVERSE; otherwise MONOCHROME1 means minimum values are shown white.
    """
    shape = (shape or "").upper()
    if shape in ("IDENTITY", "INVERSE"):
        return shape == "INVERSE"
    return photometric == "MONOCHROME1"


def grey_level(stored: int, center: float, width: float, slope: float | None, intercept: float | None, inverts: bool) -> int:
    """The 8-bit display value of a greyscale stored value: rescale, LINEAR window, presentation.

    PS3.3 C.11.1: modality value x = stored * (0028,1053) *Rescale Slope* +
    (0028,1052) *Rescale Intercept* when both are given (else the stored
    value). PS3.3 C.11.2.1.2.1, with ymin = 0 and ymax = 255: x <= c - 0.5 -
    (w-1)/2 gives 0, x > c - 0.5 + (w-1)/2 gives 255, and between,
    ((x - (c - 0.5)) / (w-1) + 0.5) * 255, rounded to the nearest integer,
    halves to even. Inverted (255 - y) when `inverts`. The same float64
    operations, in the same order, as the full pipeline's (pydicom's
    ``apply_modality_lut`` and ``apply_windowing``, numpy's ``rint``): the
    same bits.
    """
    x = float(stored)
    if slope is not None and intercept is not None:
        x = x * slope + intercept
    center, width = center - 0.5, width - 1
    if x <= center - width / 2:
        y = 0
    elif x > center + width / 2:
        y = 255
    else:
        y = min(max(round(((x - center) / width + 0.5) * 255), 0), 255)
    return 255 - y if inverts else y
