"""Structure-aware fuzzing of the core's readers: open, render, dump and index.

Seeds are real files (pydicom's test files and the pydicom-data package).
Each case takes one seed, walks its elements (:func:`walk`) and applies one
to three mutations (:data:`MUTATIONS`) aimed at what a reader trusts: the
preamble, tags, VR codes, lengths, sequence and item delimiters, the
transfer syntax in the meta group, encapsulated fragments and the Basic
Offset Table, the image attributes that size buffers, plus truncation and
plain byte flips.

Every case goes through :func:`exercise` in a worker process whose address
space is capped (``RLIMIT_AS``) and that is killed when a case overruns its
deadline. The only allowed outcomes of every call are success and
:class:`~viewer.core.dicom.io.ViewerError`; anything else -- another exception, a
``BaseException`` such as pyo3's ``PanicException``, a ``MemoryError``, a
hang or a dead worker -- is a failure.

The test suite runs a fixed number of cases with a fixed seed
(tests/robustness/test_fuzz.py). A long run (tests/robustness/README.md)::

    .venv/bin/python -m tests.robustness.fuzz --minutes 30 --seed 7

writes each failing input to ``--out`` and exits 1 if there was any.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import random
import shutil
import struct
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------- seeds

#: Small real files covering every transfer syntax family, multi-frame,
#: colour, palette, VOI/modality LUTs, sequences, no meta header and DICOMDIRs.
SEED_NAMES = (
    "CT_small.dcm",  # explicit LE, CT with rescale
    "MR_small.dcm",
    "MR_small_implicit.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_expb.dcm",
    "image_dfl.dcm",  # deflated
    "rtdose.dcm",  # implicit, 15 frames, sequences
    "rtdose_rle.dcm",  # RLE, 15 frames
    "MR_small_RLE.dcm",
    "SC_rgb_rle_16bit_2frame.dcm",
    "OBXXXX1A_rle.dcm",  # palette colour, RLE
    "JPEG2000.dcm",
    "MR_small_jp2klossless.dcm",
    "emri_small_jpeg_2k_lossless.dcm",  # 10 frames with a Basic Offset Table
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, YBR
    "SC_rgb_small_odd_jpeg.dcm",
    "SC_rgb_jpeg_gdcm.dcm",  # JPEG lossless SV1
    "JPEGLSNearLossless_08.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "JPEG-lossy.dcm",  # 12-bit JPEG extended
    "SC_rgb_small_odd.dcm",
    "SC_rgb_2frame.dcm",
    "SC_rgb_expb_16bit.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "liver_1frame.dcm",
    "vlut_04.dcm",  # VOI LUT Sequence
    "rtplan.dcm",  # no image
    "test-SR.dcm",  # nested sequences
    "nested_priv_SQ.dcm",
    "badVR.dcm",
    "no_meta.dcm",  # no preamble, no meta group
    "ExplVR_BigEndNoMeta.dcm",
    "DICOMDIR",
    "DICOMDIR-implicit",
    "DICOMDIR-bigEnd",
)


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes
    dicomdir: bool


def load_seeds(names=SEED_NAMES) -> list[Seed]:
    """The seed files that are installed, read into memory."""
    from pydicom.data import get_testdata_file

    seeds = []
    for name in names:
        path = get_testdata_file(name)
        if path is None:
            continue
        seeds.append(Seed(name, Path(path).read_bytes(), name.startswith("DICOMDIR")))
    return seeds


# ----------------------------------------------------------------------------- the walker

_IMPLICIT_LE = "1.2.840.10008.1.2"
_EXPLICIT_BE = "1.2.840.10008.1.2.2"
_DEFLATED = "1.2.840.10008.1.2.1.99"
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQ_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
_PIXEL_DATA = 0x7FE00010
_TRANSFER_SYNTAX = 0x00020010
_META_GROUP_LENGTH = 0x00020000


@dataclass
class Element:
    """Where one element header and its value lie in the file."""

    offset: int  # the tag
    tag: int
    vr_offset: int | None  # None: implicit VR, or an item / delimiter tag
    length_offset: int
    length_size: int  # 2 or 4 bytes
    value_offset: int
    length: int  # as declared
    in_meta: bool
    fragment: bool = False  # an item of encapsulated pixel data (PS3.5 A.4)

    @property
    def end(self) -> int:
        return self.value_offset + (0 if self.length == _UNDEFINED else self.length)


@dataclass
class Layout:
    elements: list[Element]
    little: bool
    implicit: bool
    has_preamble: bool
    deflated: bool


def walk(data: bytes, limit: int = 5000) -> Layout:
    """Element positions of `data`, as far as they make sense.

    A flat walk: sequences and items are entered (their elements follow
    their headers), fragments of encapsulated pixel data are stepped over.
    Stops quietly at the first thing that does not parse.
    """
    from pydicom.datadict import dictionary_VR

    elements: list[Element] = []
    size = len(data)
    has_preamble = size >= 132 and data[128:132] == b"DICM"
    little, implicit, deflated, pos = True, False, False, 0
    if has_preamble:
        pos, syntax = 132, ""
        while pos + 8 <= size:
            group, elem = struct.unpack_from("<HH", data, pos)
            if group != 0x0002:
                break
            vr = data[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > size:
                    break
                length, length_offset, value_offset, length_size = struct.unpack_from("<L", data, pos + 8)[0], pos + 8, pos + 12, 4
            else:
                length, length_offset, value_offset, length_size = struct.unpack_from("<H", data, pos + 6)[0], pos + 6, pos + 8, 2
            el = Element(pos, (group << 16) | elem, pos + 4, length_offset, length_size, value_offset, length, True)
            elements.append(el)
            if length == _UNDEFINED or el.end > size:
                break
            if el.tag == _TRANSFER_SYNTAX:
                syntax = data[value_offset : el.end].decode("ascii", "replace").strip("\x00 ")
            pos = el.end
        implicit, little, deflated = syntax == _IMPLICIT_LE, syntax != _EXPLICIT_BE, syntax == _DEFLATED
    elif size >= 8:
        little = data[0:2] != b"\x00\x08"
        implicit = not (data[4:6].isalpha() and data[4:6].isupper())
    if deflated:
        return Layout(elements, little, implicit, has_preamble, deflated)
    tag_s, u16, u32 = ("<HH", "<H", "<L") if little else (">HH", ">H", ">L")
    in_fragments = False
    while pos + 8 <= size and len(elements) < limit:
        group, elem = struct.unpack_from(tag_s, data, pos)
        tag = (group << 16) | elem
        if implicit or group == 0xFFFE:
            el = Element(pos, tag, None, pos + 4, 4, pos + 8, struct.unpack_from(u32, data, pos + 4)[0], False)
        else:
            vr = data[pos + 4 : pos + 6]
            if vr in _LONG_VRS:
                if pos + 12 > size:
                    break
                el = Element(pos, tag, pos + 4, pos + 8, 4, pos + 12, struct.unpack_from(u32, data, pos + 8)[0], False)
            elif vr.isalpha() and vr.isupper():
                el = Element(pos, tag, pos + 4, pos + 6, 2, pos + 8, struct.unpack_from(u16, data, pos + 6)[0], False)
            else:
                break
        el.fragment = in_fragments and tag == _ITEM
        elements.append(el)
        if tag == _SEQ_END:
            in_fragments = False
            pos = el.value_offset
            continue
        if el.length == _UNDEFINED:
            in_fragments = in_fragments or tag == _PIXEL_DATA
            pos = el.value_offset  # enter the sequence, item or fragments
            continue
        if el.end > size:
            break
        enters = tag == _ITEM and not in_fragments
        if not enters and group != 0xFFFE:
            if el.vr_offset is not None:
                enters = data[el.vr_offset : el.vr_offset + 2] == b"SQ"
            else:
                try:
                    enters = dictionary_VR(tag) == "SQ"
                except KeyError:
                    enters = False
        pos = el.value_offset if enters else el.end
    return Layout(elements, little, implicit, has_preamble, deflated)


# ----------------------------------------------------------------------------- mutations

_ALL_VRS = [
    v.encode() for v in ("AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV").split()
] + [b"\x00\x00", b"ZZ", b"ob", b"  ", b"\xff\xff"]

#: Tags whose values size buffers or steer decoding (group 0028 and friends).
_IMAGE_TAGS = {
    0x00280002: "US",
    0x00280006: "US",
    0x00280008: "IS",
    0x00280010: "US",
    0x00280011: "US",
    0x00280100: "US",
    0x00280101: "US",
    0x00280102: "US",
    0x00280103: "US",
    0x00280004: "CS",
    0x00281050: "DS",
    0x00281051: "DS",
    0x00281052: "DS",
    0x00281053: "DS",
    0x00281056: "CS",
    0x00280120: "US",
    0x00283002: "US",
    0x00281101: "US",
    0x00281102: "US",
    0x00281103: "US",
    0x00283006: "OW",
    0x00281201: "OW",
    0x20500020: "CS",
    0x00080005: "CS",
    0x00280009: "AT",
}
_INTERESTING_TAGS = [
    _PIXEL_DATA,
    _ITEM,
    _ITEM_END,
    _SEQ_END,
    0x00280010,
    0x00280011,
    0x00280008,
    0x00280100,
    0x00280002,
    0x00280004,
    _TRANSFER_SYNTAX,
    _META_GROUP_LENGTH,
    0x00020002,
    0x00041220,
    0x00080005,
    0x52009229,
    0x52009230,
    0x00283010,
    0x00283000,
    0x7FE00008,
    0x7FE00009,
    0xFFFCFFFC,
    0xFFFFFFFF,
    0x00000000,
    0x00090010,
    0x00091001,
    0x00081115,
]
_US_VALUES = [0, 1, 2, 3, 4, 7, 8, 12, 15, 16, 17, 24, 31, 32, 33, 63, 64, 255, 256, 4096, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF]
_TEXT_VALUES = [
    b"0",
    b"-1",
    b"1",
    b"2",
    b"3",
    b"10",
    b"1000",
    b"65535",
    b"2147483648",
    b"1e308",
    b"-1e308",
    b"nan",
    b"inf",
    b"",
    b"abc",
    b"1\\2\\3",
    b"0.0",
    b"1.5",
    b"MONOCHROME1",
    b"MONOCHROME2",
    b"PALETTE COLOR",
    b"RGB",
    b"YBR_FULL",
    b"YBR_FULL_422",
    b"YBR_RCT",
    b"YBR_ICT",
    b"ARGB",
    b"INVERSE",
    b"IDENTITY",
    b"SIGMOID",
    b"LINEAR_EXACT",
    b"ISO_IR 100",
    b"ISO 2022 IR 87",
    b"ISO_IR 192",
    b"GB18030",
    b"\xff\xfe",
]
_SYNTAXES = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    _DEFLATED,
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.100",
    "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.1.98",
    "1.2.3.4",
    "",
    "garbage!",
    "1.2.840.10008.1.2.4",
]


def _u(value: int, size: int, little: bool) -> bytes:
    return value.to_bytes(size, "little" if little else "big")


def _pick(rng: random.Random, elements: list[Element], meta: bool | None = None) -> Element | None:
    pool = [e for e in elements if meta is None or e.in_meta == meta]
    return rng.choice(pool) if pool else None


def _little(layout: Layout, el: Element) -> bool:
    return True if el.in_meta else layout.little


def m_preamble(data: bytearray, layout: Layout, rng: random.Random) -> str:
    choice = rng.randrange(6)
    if choice == 0 or not layout.has_preamble:
        magic = rng.choice([b"MZ", b"\x7fELF", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"])
        if layout.has_preamble:
            data[0 : len(magic)] = magic
        else:
            data[0:0] = magic.ljust(128, b"\x00") + b"DICM"
        return f"preamble starts {magic!r}"
    if choice == 1:
        data[0:128] = bytes(rng.randrange(256) for _ in range(128))
        return "random preamble"
    if choice == 2:
        del data[0:132]
        return "preamble and DICM removed"
    if choice == 3:
        data[128 + rng.randrange(4)] ^= 1 << rng.randrange(8)
        return "DICM prefix corrupted"
    if choice == 4:
        del data[0 : rng.randrange(1, 132)]
        return "preamble cut short"
    data[0:128] = b"MZ" + bytes(rng.randrange(256) for _ in range(126))
    return "PE-like preamble"


def m_tag(data: bytearray, layout: Layout, rng: random.Random) -> str:
    el = _pick(rng, layout.elements)
    if el is None:
        return m_bytes(data, layout, rng)
    choice = rng.randrange(4)
    if choice == 0:
        tag = rng.choice(_INTERESTING_TAGS)
    elif choice == 1:
        tag = (el.tag + rng.choice([-1, 1, 0x10000, -0x10000])) & 0xFFFFFFFF
    elif choice == 2:
        tag = ((el.tag & 0xFFFF) << 16) | (el.tag >> 16)
    else:
        tag = rng.getrandbits(32)
    little = _little(layout, el)
    data[el.offset : el.offset + 4] = _u(tag >> 16, 2, little) + _u(tag & 0xFFFF, 2, little)
    return f"tag {el.tag:08X} at {el.offset} -> {tag:08X}"


def m_vr(data: bytearray, layout: Layout, rng: random.Random) -> str:
    pool = [e for e in layout.elements if e.vr_offset is not None]
    if not pool:
        return m_length(data, layout, rng)
    el = rng.choice(pool)
    vr = rng.choice(_ALL_VRS)
    old = bytes(data[el.vr_offset : el.vr_offset + 2])
    data[el.vr_offset : el.vr_offset + 2] = vr
    return f"VR of {el.tag:08X} {old!r} -> {vr!r}"


def _set_length(data: bytearray, layout: Layout, el: Element, value: int) -> None:
    data[el.length_offset : el.length_offset + el.length_size] = _u(
        value & ((1 << (8 * el.length_size)) - 1), el.length_size, _little(layout, el)
    )


def m_length(data: bytearray, layout: Layout, rng: random.Random) -> str:
    el = _pick(rng, layout.elements)
    if el is None:
        return m_bytes(data, layout, rng)
    if el.length_size == 2:
        value = rng.choice([0, 1, 3, 0xFFFF, 0xFFFE, el.length + 1, el.length - 1, el.length + 2, rng.getrandbits(16)])
    else:
        value = rng.choice(
            [
                0,
                1,
                3,
                4,
                el.length + 1,
                el.length - 1,
                el.length + 2,
                el.length * 2,
                _UNDEFINED,
                0xFFFFFFFE,
                0x7FFFFFFF,
                0x80000000,
                len(data),
                len(data) - el.value_offset + 2,
                rng.getrandbits(32),
            ]
        )
    _set_length(data, layout, el, value)
    return f"length of {el.tag:08X} {el.length} -> {value & ((1 << (8 * el.length_size)) - 1)}"


def m_delimiter(data: bytearray, layout: Layout, rng: random.Random) -> str:
    delimiters = [e for e in layout.elements if e.tag in (_SEQ_END, _ITEM_END)]
    choice = rng.randrange(3)
    if delimiters and choice == 0:
        el = rng.choice(delimiters)
        del data[el.offset : el.offset + 8]
        return f"delimiter {el.tag:08X} at {el.offset} deleted"
    if delimiters and choice == 1:
        el = rng.choice(delimiters)
        data[el.offset : el.offset] = data[el.offset : el.offset + 8]
        return f"delimiter {el.tag:08X} at {el.offset} duplicated"
    body = [e for e in layout.elements if not e.in_meta] or layout.elements
    if not body:
        return m_bytes(data, layout, rng)
    el = rng.choice(body)
    tag = rng.choice([_SEQ_END, _ITEM_END, _ITEM])
    little = layout.little
    length = rng.choice([0, 0, _UNDEFINED, 4])
    data[el.offset : el.offset] = _u(tag >> 16, 2, little) + _u(tag & 0xFFFF, 2, little) + _u(length, 4, little)
    return f"stray {tag:08X} (length {length}) before {el.tag:08X}"


def m_syntax(data: bytearray, layout: Layout, rng: random.Random) -> str:
    ts = next((e for e in layout.elements if e.tag == _TRANSFER_SYNTAX and e.in_meta), None)
    if ts is None or ts.length_size != 2:
        return m_length(data, layout, rng)
    uid = rng.choice(_SYNTAXES).encode()
    value = uid + b"\x00" * (len(uid) % 2)
    data[ts.value_offset : ts.end] = value
    data[ts.length_offset : ts.length_offset + 2] = _u(len(value), 2, True)
    group_length = next((e for e in layout.elements if e.tag == _META_GROUP_LENGTH and e.in_meta), None)
    if group_length is not None and group_length.length == 4 and rng.random() < 0.8:
        old = struct.unpack_from("<L", data, group_length.value_offset)[0]
        data[group_length.value_offset : group_length.value_offset + 4] = _u((old + len(value) - ts.length) & 0xFFFFFFFF, 4, True)
    return f"transfer syntax -> {uid.decode()!r}"


def m_fragment(data: bytearray, layout: Layout, rng: random.Random) -> str:
    fragments = [e for e in layout.elements if e.fragment]
    if not fragments:
        return m_bytes(data, layout, rng)
    choice = rng.randrange(8)
    little = layout.little
    if choice == 0:  # the Basic Offset Table: garbage, huge or misaligned offsets
        bot = fragments[0]
        count = rng.choice([1, 2, 3, 5, 16])
        offsets = b"".join(_u(rng.choice([0, 1, 7, 0xFFFFFFFF, 0x7FFFFFFF, rng.getrandbits(16)]), 4, little) for _ in range(count))
        data[bot.value_offset : bot.end] = offsets + (b"\x00\x00" if rng.random() < 0.3 else b"")
        _set_length(
            data,
            layout,
            bot,
            len(data[bot.value_offset : bot.value_offset + len(offsets)]) + (2 if len(data) and rng.random() < 0.3 else 0),
        )
        return f"Basic Offset Table -> {count} odd entries"
    el = rng.choice(fragments)
    if choice == 1 and el.length:
        for _ in range(rng.randrange(1, 17)):
            data[el.value_offset + rng.randrange(el.length)] = rng.randrange(256)
        return f"fragment at {el.offset}: bytes changed"
    if choice == 2 and el.length:
        cut = rng.randrange(el.length)
        del data[el.value_offset + cut : el.end]
        _set_length(data, layout, el, cut)
        return f"fragment at {el.offset} truncated to {cut}"
    if choice == 3:
        value = rng.choice([0, 1, el.length + 1, el.length - 1, 0xFFFFFFF0, _UNDEFINED])
        _set_length(data, layout, el, value)
        return f"fragment at {el.offset} length -> {value}"
    if choice == 4:
        del data[el.offset : el.end]
        return f"fragment at {el.offset} deleted"
    if choice == 5:
        data[el.end : el.end] = data[el.offset : el.end]
        return f"fragment at {el.offset} duplicated"
    if choice == 6 and el.length >= 2:
        data[el.value_offset : el.value_offset + 2] = rng.choice([b"\x00\x00", b"\xff\xd9", b"\xff\x4f", b"\xff\xd8"])
        return f"fragment at {el.offset}: marker replaced"
    del data[min(len(data), el.value_offset + rng.randrange(el.length + 1)) :]
    return f"file cut inside fragment at {el.offset}"


def m_truncate(data: bytearray, layout: Layout, rng: random.Random) -> str:
    if layout.elements and rng.random() < 0.6:
        el = rng.choice(layout.elements)
        cut = max(0, el.offset + rng.randrange(-2, 14))
    else:
        cut = rng.randrange(len(data) + 1)
    del data[cut:]
    return f"truncated at {cut}"


def m_bytes(data: bytearray, layout: Layout, rng: random.Random) -> str:
    if not data:
        return "empty"
    pixel = next((e.offset for e in layout.elements if e.tag == _PIXEL_DATA), len(data))
    span = pixel if rng.random() < 0.7 and pixel > 0 else len(data)
    count = rng.randrange(1, 9)
    for _ in range(count):
        i = rng.randrange(span)
        data[i] = rng.choice([data[i] ^ (1 << rng.randrange(8)), 0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
    return f"{count} byte(s) changed"


def m_splice(data: bytearray, layout: Layout, rng: random.Random) -> str:
    i = rng.randrange(len(data) + 1)
    if rng.random() < 0.5 and data:
        n = rng.randrange(1, 9)
        del data[i : i + n]
        return f"{n} byte(s) deleted at {i}"
    chunk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
    data[i:i] = chunk
    return f"{len(chunk)} byte(s) inserted at {i}"


def m_duplicate(data: bytearray, layout: Layout, rng: random.Random) -> str:
    pool = [e for e in layout.elements if e.length != _UNDEFINED and e.end <= len(data) and e.end - e.offset < 4096]
    if not pool:
        return m_bytes(data, layout, rng)
    el = rng.choice(pool)
    copy = bytes(data[el.offset : el.end])
    at = rng.choice([el.end, el.offset, 132 if layout.has_preamble else 0])
    data[at:at] = copy
    return f"element {el.tag:08X} duplicated at {at}"


def m_value(data: bytearray, layout: Layout, rng: random.Random) -> str:
    """An image attribute (rows, bits, frames, photometric...) set to an edge value."""
    pool = [e for e in layout.elements if e.tag in _IMAGE_TAGS and e.length != _UNDEFINED and e.end <= len(data)]
    if not pool:
        return m_bytes(data, layout, rng)
    el = rng.choice(pool)
    kind = _IMAGE_TAGS[el.tag]
    little = _little(layout, el)
    if kind in ("US", "AT") and el.length >= 2:
        value = rng.choice(_US_VALUES)
        where = el.value_offset + 2 * rng.randrange(el.length // 2)
        data[where : where + 2] = _u(value, 2, little)
        return f"{el.tag:08X} value -> {value}"
    if kind == "OW":
        for _ in range(rng.randrange(1, 9)):
            if el.length:
                data[el.value_offset + rng.randrange(el.length)] = rng.randrange(256)
        return f"{el.tag:08X} LUT data changed"
    value = rng.choice(_TEXT_VALUES)
    value += b" " * (len(value) % 2)
    if len(value) >= 1 << (8 * el.length_size):
        return m_bytes(data, layout, rng)
    data[el.value_offset : el.end] = value
    _set_length(data, layout, el, len(value))
    return f"{el.tag:08X} value -> {value!r}"


MUTATIONS = (
    (m_preamble, 1),
    (m_tag, 3),
    (m_vr, 3),
    (m_length, 5),
    (m_delimiter, 3),
    (m_syntax, 3),
    (m_fragment, 4),
    (m_truncate, 2),
    (m_bytes, 4),
    (m_splice, 1),
    (m_duplicate, 1),
    (m_value, 6),
)


def mutate(seed: Seed, rng: random.Random) -> tuple[bytes, list[str]]:
    """One to three mutations of `seed`, and what each did."""
    data = bytearray(seed.data)
    steps = []
    functions, weights = zip(*MUTATIONS)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        mutation = rng.choices(functions, weights)[0]
        try:
            steps.append(f"{mutation.__name__}: {mutation(data, walk(bytes(data)), rng)}")
        except (IndexError, ValueError):  # an element the walker saw past the end of the data
            steps.append(f"{mutation.__name__}: not applicable")
    return bytes(data), steps


# ----------------------------------------------------------------------------- exercising one file


def exercise(path: Path, dicomdir: bool = False) -> list[tuple[str, str]]:
    """Every reader of the core on `path`: a list of (call, traceback) for each failure.

    A call fails if it raises anything but ViewerError. Calls that need an
    earlier result (render needs a frame) are skipped when it is missing.
    """
    from viewer.core.dicom.header import read_index_header
    from viewer.core.dicom.inspect import dataset_rows, dump_text, preamble_row, to_json_model
    from viewer.core.dicom.io import ViewerError, executable_preamble, read_header
    from viewer.core.dicom.structure import first_oversized_element, pixel_data_position
    from viewer.core.display.frames import FrameSource
    from viewer.core.display.pixels.decoders import number_of_frames
    from viewer.core.display.pixels.pipeline import FullRange
    from viewer.core.media.dicomdir import read_dicomdir
    from viewer.core.media.model import ImageRef, Instance
    from viewer.core.media.scan import scan
    from viewer.core.media.sources import open_paths

    failures: list[tuple[str, str]] = []

    def attempt(call: str, function):
        try:
            return function()
        except ViewerError:
            return None
        except BaseException:  # that is what is being looked for
            failures.append((call, traceback.format_exc(limit=-12)))
            return None

    attempt("executable_preamble", lambda: executable_preamble(path))
    attempt("preamble_row", lambda: preamble_row(path))
    attempt("first_oversized_element", lambda: first_oversized_element(path))
    attempt("pixel_data_position", lambda: pixel_data_position(path))
    index_header = attempt("read_index_header", lambda: read_index_header(path))
    header = attempt("read_header", lambda: read_header(path))
    if header is not None:
        attempt("dump", lambda: dump_text(dataset_rows(header, str(path))))
        attempt("to_json_model", lambda: to_json_model(header, str(path)))
    if index_header is not None:
        attempt("dump (index header)", lambda: dump_text(dataset_rows(index_header, str(path))))
        frames = attempt("number_of_frames", lambda: number_of_frames(index_header)) or 1
        instance = attempt("Instance", lambda: Instance(path, index_header, frames))
        store = FrameSource(max_datasets=1)
        for index in sorted({0, frames - 1}) if instance is not None else ():
            display = attempt(f"frame {index}", lambda: store.frame(ImageRef(instance, index)))
            if display is not None:
                attempt("render default_voi", lambda: display.render(display.default_voi()))
                attempt("render full range, inverted", lambda: display.render(FullRange(), invert=True))
    attempt("scan", lambda: scan([path.parent], lambda batch, progress: None, processes=False))
    attempt("open_paths folder", lambda: open_paths([path.parent]))
    attempt("open_paths file", lambda: open_paths([path]))
    if dicomdir:
        attempt("read_dicomdir", lambda: read_dicomdir(path))
    attempt("cli dump", lambda: _cli_dump(path))
    return failures


def _cli_dump(path: Path) -> None:
    """`dicom-viewer dump FILE` (it reads the file again, bulk data deferred); exit 0 or 2."""
    import contextlib
    import io

    from viewer.cli import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        status = main(["dump", str(path)])
    if status not in (0, 2):
        raise AssertionError(f"dump exited with {status}")


# ----------------------------------------------------------------------------- the worker process


def _worker(conn, workdir: str, memory_limit: int) -> None:
    """Runs cases sent by the parent, in an address space capped at `memory_limit` bytes."""
    import logging
    import resource
    import warnings

    warnings.simplefilter("ignore")  # pydicom warns about every malformed value
    logging.disable(logging.CRITICAL)
    import viewer.core.dicom.inspect
    import viewer.core.display.frames
    import viewer.core.media.dicomdir
    import viewer.core.media.sources  # noqa: F401

    folder = Path(workdir) / "case"
    # Warm up the lazy imports (decoder plugins) before the cap.
    for seed in load_seeds(("JPEG2000.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_dcmtk.dcm", "MR_small_jpeg_ls_lossless.dcm")):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / "case.dcm").write_bytes(seed.data)
        exercise(folder / "case.dcm")
    if memory_limit:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    conn.send("ready")
    while True:
        message = conn.recv()
        if message is None:
            return
        data, dicomdir = message
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        path = folder / ("DICOMDIR" if dicomdir else "case.dcm")
        path.write_bytes(data)
        conn.send(exercise(path, dicomdir))


@dataclass
class Outcome:
    failures: list[tuple[str, str]]  # (call, traceback or reason)
    seconds: float


class Runner:
    """A worker process that runs cases, killed and replaced when one overruns."""

    def __init__(self, deadline: float = 5.0, memory_limit: int = 2 << 30):
        self.deadline = deadline
        self.memory_limit = memory_limit
        self._context = multiprocessing.get_context("spawn")  # no inherited Qt or threads
        self._workdir = tempfile.mkdtemp(prefix="dicom-fuzz-")
        self._process = None
        self._start()

    def _start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(target=_worker, args=(child, self._workdir, self.memory_limit), daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        if not parent.poll(120) or parent.recv() != "ready":
            raise RuntimeError("the fuzz worker did not start")

    def run(self, data: bytes, dicomdir: bool = False) -> Outcome:
        start = time.monotonic()
        self._conn.send((data, dicomdir))
        if not self._conn.poll(self.deadline):
            self._restart()
            return Outcome([("deadline", f"no result within {self.deadline:g} s (hang or runaway work)")], time.monotonic() - start)
        try:
            failures = self._conn.recv()
        except (EOFError, OSError):
            self._process.join(5)
            code = self._process.exitcode
            self._restart()
            return Outcome([("worker", f"the worker process died (exit code {code})")], time.monotonic() - start)
        return Outcome(failures, time.monotonic() - start)

    def _restart(self) -> None:
        self._process.kill()
        self._process.join()
        self._conn.close()
        self._start()

    def close(self) -> None:
        if self._process is not None and self._process.is_alive():
            try:
                self._conn.send(None)
                self._process.join(5)
            except OSError:
                pass
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ----------------------------------------------------------------------------- a campaign


@dataclass
class Failure:
    seed: str
    steps: list[str]
    data: bytes
    failures: list[tuple[str, str]]

    @property
    def signature(self) -> str:
        """Call and exception type plus the innermost line: one per distinct crash."""
        call, text = self.failures[0]
        lines = [line for line in text.strip().splitlines() if line.strip()]
        location = next((line.strip() for line in reversed(lines) if line.strip().startswith("File ")), "")
        return f"{call} | {lines[-1][:120] if lines else ''} | {location[:160]}"

    def describe(self) -> str:
        steps = "; ".join(self.steps)
        return f"seed {self.seed} [{steps}]\n  " + "\n  ".join(
            f"{call}: {text.strip().splitlines()[-1] if text.strip() else ''}" for call, text in self.failures
        )


@dataclass
class Report:
    cases: int = 0
    seconds: float = 0.0
    slowest: float = 0.0
    failures: list[Failure] = field(default_factory=list)

    def distinct(self) -> dict[str, Failure]:
        out: dict[str, Failure] = {}
        for failure in self.failures:
            out.setdefault(failure.signature, failure)
        return out


def campaign(
    seed: int,
    *,
    cases: int | None = None,
    seconds: float | None = None,
    deadline: float = 5.0,
    memory_limit: int = 2 << 30,
    seeds: list[Seed] | None = None,
    log=None,
) -> Report:
    """Run mutated cases until `cases` have run or `seconds` have passed (the first to come)."""
    rng = random.Random(seed)
    seeds = seeds if seeds is not None else load_seeds()
    if not seeds:
        raise RuntimeError("no seed files: install pydicom's test files and pydicom-data")
    report = Report()
    start = time.monotonic()
    with Runner(deadline, memory_limit) as runner:
        while (cases is None or report.cases < cases) and (seconds is None or time.monotonic() - start < seconds):
            if report.cases < len(seeds):
                # The first round runs every seed unchanged: a real file must pass too.
                chosen = seeds[report.cases]
                data, steps = chosen.data, ["unchanged"]
            else:
                chosen = rng.choice(seeds)
                data, steps = mutate(chosen, rng)
            outcome = runner.run(data, chosen.dicomdir)
            report.cases += 1
            report.slowest = max(report.slowest, outcome.seconds)
            if outcome.failures:
                failure = Failure(chosen.name, steps, data, outcome.failures)
                report.failures.append(failure)
                if log:
                    log(f"FAIL #{report.cases}: {failure.describe()}")
            elif log and report.cases % 500 == 0:
                log(f"{report.cases} cases, {time.monotonic() - start:.0f} s, {len(report.failures)} failure(s)")
    report.seconds = time.monotonic() - start
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.robustness.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=None, help="run for this long (default: until --cases)")
    parser.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same cases)")
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds allowed per case (default 5)")
    parser.add_argument("--memory", type=int, default=2048, help="worker address-space cap in MB (default 2048)")
    parser.add_argument("--out", type=Path, default=None, help="folder for failing inputs (default: a new temporary folder)")
    parser.add_argument("--replay", type=Path, nargs="*", default=None, help="run these files instead of fuzzing")
    args = parser.parse_args(argv)
    if args.replay is not None:
        failed = 0
        with Runner(args.deadline, args.memory << 20) as runner:
            for path in args.replay:
                outcome = runner.run(path.read_bytes(), path.name.upper().startswith("DICOMDIR"))
                print(f"{path}: {'ok' if not outcome.failures else 'FAIL'} ({outcome.seconds:.2f} s)")
                for call, text in outcome.failures:
                    print(f"--- {call}\n{text}")
                failed += bool(outcome.failures)
        return 1 if failed else 0
    if args.minutes is None and args.cases is None:
        args.minutes = 1.0
    report = campaign(
        args.seed,
        cases=args.cases,
        seconds=None if args.minutes is None else args.minutes * 60,
        deadline=args.deadline,
        memory_limit=args.memory << 20,
        log=lambda line: print(line, flush=True),
    )
    print(
        f"{report.cases} cases in {report.seconds:.0f} s (slowest {report.slowest:.2f} s), "
        f"{len(report.failures)} failure(s), {len(report.distinct())} distinct"
    )
    if report.failures:
        out = args.out or Path(tempfile.mkdtemp(prefix=f"dicom-fuzz-failures-{args.seed}-"))
        out.mkdir(parents=True, exist_ok=True)
        for signature, failure in report.distinct().items():
            name = hashlib.sha1(signature.encode()).hexdigest()[:10]
            suffix = "DICOMDIR" if failure.seed.startswith("DICOMDIR") else "dcm"
            (out / f"{name}.{suffix}").write_bytes(failure.data)
            (out / f"{name}.txt").write_text(
                f"{signature}\n{failure.describe()}\n\n" + "\n".join(f"--- {c}\n{t}" for c, t in failure.failures)
            )
            print(f"\n{signature}\n  {failure.describe()}\n  input: {out / f'{name}.{suffix}'}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
