"""The display pipeline against the standard's own equations, computed here.

Every expected value below is written out from PS3.3 in this file, from
stored values read with pydicom (or straight from the file's bytes), never
by calling the pipeline. Datasets are changed only as in-memory copies.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pydicom
import pytest

from viewer.core.dicom.io import read_image_dataset
from viewer.core.display.pixels.decoders import decode_frame
from viewer.core.display.pixels.pipeline import (
    FrameDisplay,
    FullRange,
    Window,
    file_windows,
    frame_context,
    full_modality_range,
    modality_unit,
    presentation_inverts,
    window_to_display,
)

YMIN, YMAX = 0.0, 255.0


# --------------------------------------------------------------------------- PS3.3 C.11.2 by hand


def linear(x: float, c: float, w: float) -> float:
    """PS3.3 C.11.2.1.2.1, the LINEAR function (w >= 1)."""
    if x <= c - 0.5 - (w - 1) / 2:
        return YMIN
    if x > c - 0.5 + (w - 1) / 2:
        return YMAX
    return ((x - (c - 0.5)) / (w - 1) + 0.5) * (YMAX - YMIN) + YMIN


def linear_exact(x: float, c: float, w: float) -> float:
    """PS3.3 C.11.2.1.3.2, LINEAR_EXACT (w > 0)."""
    if x <= c - w / 2:
        return YMIN
    if x > c + w / 2:
        return YMAX
    return (x - c) / w * (YMAX - YMIN) + YMIN + (YMAX - YMIN) / 2


def sigmoid(x: float, c: float, w: float) -> float:
    """PS3.3 C.11.2.1.3.1, SIGMOID."""
    exponent = -4 * (x - c) / w
    if exponent > 700:  # e^exponent overflows a double; the value is ymin to 1e-300
        return YMIN
    return (YMAX - YMIN) / (1 + math.exp(exponent)) + YMIN


STANDARD_FUNCTIONS = {"LINEAR": linear, "LINEAR_EXACT": linear_exact, "SIGMOID": sigmoid}


def stored_values(path, frame: int | None = None) -> np.ndarray:
    """Stored values as pydicom reads them (the reference reader)."""
    arr = pydicom.dcmread(path).pixel_array
    return arr if frame is None else arr[frame]


def expected_display(modality: np.ndarray, function, c: float, w: float, invert: bool = False) -> np.ndarray:
    table = {v: function(v, c, w) for v in np.unique(modality).tolist()}
    out = np.vectorize(table.__getitem__, otypes=[np.float64])(modality)
    return 255.0 - out if invert else out


def assert_rounds_to(ours: np.ndarray, expected: np.ndarray) -> None:
    """uint8 output equal to the exact value rounded to the nearest level."""
    assert ours.dtype == np.uint8 and ours.shape == expected.shape
    error = np.abs(ours.astype(np.float64) - expected)
    assert error.max() <= 0.5 + 1e-6, f"{int((error > 0.5 + 1e-6).sum())} pixels off, worst by {error.max():.3f}"


# --------------------------------------------------------------------------- C.11.1 rescale and C.11.2 windows


WINDOW_CASES = [
    (function, center, width)
    for function in ("LINEAR", "LINEAR_EXACT", "SIGMOID")
    for center, width in [(40.0, 400.0), (-600.0, 1500.0), (40.5, 1.0), (0.0, 2.0), (10.0, 0.5)]
    if not (function == "LINEAR" and width < 1)  # C.11.2.1.2: LINEAR needs width >= 1
]


@pytest.mark.parametrize("function, center, width", WINDOW_CASES)
def test_window_functions_on_signed_ct(sample, display, function, center, width):
    path = sample("693_UNCI.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    # C.11.1: modality value = stored value * Rescale Slope + Rescale Intercept
    modality = stored_values(path).astype(np.float64) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    expected = expected_display(modality, STANDARD_FUNCTIONS[function], center, width)
    fd = display(path)
    assert_rounds_to(fd.render(Window(center, width, function)), expected)


def test_window_to_display_spot_values():
    """A few values worked out by hand from C.11.2.1.2.1 and C.11.2.1.3."""
    # LINEAR, c=40 w=400: bounds 40-0.5-199.5 = -160 and 40-0.5+199.5 = 239;
    # at -159: ((-159 - 39.5) / 399 + 0.5) * 255 = 255 / 399
    x = np.array([-1000, -160, -159, 39.5, 239, 240])
    y = window_to_display(x, Window(40, 400, "LINEAR"))
    np.testing.assert_allclose(y, [0, 0, (1 / 399 * 255), 127.5, 255, 255], atol=1e-9)
    # LINEAR_EXACT, c=0 w=100: (x/100 + 0.5) * 255
    y = window_to_display(np.array([-50, -25, 0, 25, 50, 51]), Window(0, 100, "LINEAR_EXACT"))
    np.testing.assert_allclose(y, [0, 63.75, 127.5, 191.25, 255, 255], atol=1e-9)
    # SIGMOID, c=0 w=100: 255 / (1 + e^(-4x/100)); at x=25: 255/(1+e^-1)
    y = window_to_display(np.array([0, 25, -25]), Window(0, 100, "SIGMOID"))
    np.testing.assert_allclose(y, [127.5, 255 / (1 + math.exp(-1)), 255 / (1 + math.exp(1))], atol=1e-9)


def test_narrow_sigmoid_gives_limits_without_warnings():
    """e^(-4(x-c)/w) overflows for x far below c: the limit is ymin, with no RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = window_to_display(np.array([-30000.0, 0.0, 30000.0]), Window(0, 0.5, "SIGMOID"))
    np.testing.assert_allclose(y, [0.0, 127.5, 255.0])


def test_file_window_with_voi_lut_function_is_used(sample, display):
    """(0028,1056) VOI LUT Function SIGMOID set on a copy: the file's window follows it."""
    path = sample("MR_small.dcm")
    ds = read_image_dataset(path)
    ds.VOILUTFunction = "SIGMOID"
    fd = FrameDisplay(decode_frame(ds, 0), frame_context(ds, 0))
    window = file_windows(fd.ctx)[0]
    assert (window.center, window.width, window.function) == (600.0, 1600.0, "SIGMOID")
    modality = stored_values(path).astype(np.float64)  # MR_small has no rescale
    assert_rounds_to(fd.render(window), expected_display(modality, sigmoid, 600.0, 1600.0))


def test_full_range_maps_the_stored_range_onto_0_255(sample, display):
    """No VOI: -2^13 .. 2^13-1 (signed, Bits Stored 14) rescaled by -1024 spans 0-255."""
    path = sample("693_UNCI.dcm")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert (int(ds.BitsStored), int(ds.PixelRepresentation)) == (14, 1)
    lo, hi = -8192 - 1024, 8191 - 1024
    fd = display(path)
    assert full_modality_range(fd.ctx) == (lo, hi)
    modality = stored_values(path).astype(np.float64) - 1024
    assert_rounds_to(fd.render(FullRange()), (modality - lo) * 255 / (hi - lo))


def test_modality_unit_is_hounsfield_for_ct(sample, display):
    assert modality_unit(display(sample("693_UNCI.dcm")).ctx) == "HU"  # Rescale Type HU
    assert modality_unit(display(sample("CT_small.dcm")).ctx) == "HU"  # CT with no Rescale Type
    assert modality_unit(display(sample("MR_small.dcm")).ctx) == ""


# --------------------------------------------------------------------------- enhanced CT: functional groups


def test_enhanced_ct_rescale_and_window_from_functional_groups(sample, display):
    """eCT_Supplemental.dcm keeps Rescale (-1024, 1) and Window (49, 102) only in
    the Shared Functional Groups (PS3.3 C.7.6.16.2.9, C.7.6.16.2.10)."""
    path = sample("eCT_Supplemental.dcm")
    raw = pydicom.dcmread(path, stop_before_pixels=True)
    assert "WindowCenter" not in raw and "RescaleIntercept" not in raw
    fd = display(path, 1)
    windows = file_windows(fd.ctx)
    assert [(w.center, w.width, w.function) for w in windows] == [(49.0, 102.0, "LINEAR")]
    assert modality_unit(fd.ctx) == "HU"  # Rescale Type 'US' (unspecified) on a CT
    stored = stored_values(path, frame=1)
    row, col = np.unravel_index(np.argmax(stored), stored.shape)
    assert fd.value_at(int(row), int(col)) == (int(stored[row, col]), float(stored[row, col]) - 1024)
    expected = expected_display(stored.astype(np.float64) - 1024, linear, 49.0, 102.0)
    assert_rounds_to(fd.render(fd.default_voi()), expected)


# --------------------------------------------------------------------------- padding and the auto window


def test_pixel_padding_value_is_left_out_of_the_auto_window(sample):
    """(0028,0120) Pixel Padding Value marks non-image pixels (PS3.3 C.7.5.1.1.2)."""
    path = sample("693_UNCI.dcm")
    stored = stored_values(path)
    padding = int(stored.min())  # the air outside the scan field
    kept = stored[stored != padding]
    assert kept.size < stored.size
    lo, hi = int(kept.min()) - 1024, int(kept.max()) - 1024  # by hand: C.11.1 with slope 1

    ds = read_image_dataset(path)
    ds.PixelPaddingValue = padding
    fd = FrameDisplay(decode_frame(ds, 0), frame_context(ds, 0))
    window = fd.auto_window()
    assert (window.center, window.width) == ((lo + hi) / 2, hi - lo)

    del ds.PixelPaddingValue
    fd = FrameDisplay(decode_frame(ds, 0), frame_context(ds, 0))
    window = fd.auto_window()
    assert window.center - window.width / 2 == padding - 1024


# --------------------------------------------------------------------------- presentation (C.11.6)


@pytest.mark.parametrize(
    "name, shape, inverted",
    [
        ("MR_small.dcm", None, False),  # MONOCHROME2
        ("MR_small.dcm", "INVERSE", True),
        ("MR_small.dcm", "IDENTITY", False),
        ("RG3_UNCI.dcm", None, True),  # MONOCHROME1: minimum is white
        ("RG3_UNCI.dcm", "IDENTITY", False),  # Presentation LUT Shape decides over MONOCHROME1
        ("RG3_UNCI.dcm", "INVERSE", True),
    ],
)
def test_presentation_lut_shape(sample, name, shape, inverted):
    path = sample(name)
    ds = read_image_dataset(path)
    if shape is not None:
        ds.PresentationLUTShape = shape  # in memory only
    fd = FrameDisplay(decode_frame(ds, 0), frame_context(ds, 0))
    assert presentation_inverts(fd.ctx) is inverted
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    modality = stored_values(path).astype(np.float64)  # neither file has a rescale
    expected = expected_display(modality, linear, c, w, invert=inverted)
    assert_rounds_to(fd.render(Window(c, w)), expected)
    # The user's invert toggles on top of the presentation state.
    assert_rounds_to(fd.render(Window(c, w), invert=True), 255.0 - expected)


# --------------------------------------------------------------------------- YBR_FULL -> RGB (C.7.6.3.1.2)


def ybr_full_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray) -> np.ndarray:
    """PS3.3 C.7.6.3.1.2: the YBR_FULL equations, inverted to RGB (CCIR 601)."""
    y, cb, cr = (v.astype(np.float64) for v in (y, cb, cr))
    r = y + 1.402 * (cr - 128)
    g = y - 0.344136 * (cb - 128) - 0.714136 * (cr - 128)
    b = y + 1.772 * (cb - 128)
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255)


def test_ybr_full_to_rgb(sample, display):
    path = sample("SC_ybr_full_uncompressed.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "YBR_FULL" and int(ds.PlanarConfiguration) == 0
    rows, cols = int(ds.Rows), int(ds.Columns)
    raw = np.frombuffer(ds.PixelData, dtype=np.uint8)[: rows * cols * 3].reshape(rows, cols, 3)
    expected = ybr_full_to_rgb(raw[..., 0], raw[..., 1], raw[..., 2])
    fd = display(path)
    ours = fd.render(fd.default_voi())
    assert np.abs(ours.astype(np.float64) - expected).max() <= 1.0


def test_ybr_full_422_to_rgb(sample, display):
    """YBR_FULL_422: each pair of pixels is stored Y1 Y2 CB CR, sharing CB and CR."""
    path = sample("SC_ybr_full_422_uncompressed.dcm")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "YBR_FULL_422"
    rows, cols = int(ds.Rows), int(ds.Columns)
    raw = np.frombuffer(ds.PixelData, dtype=np.uint8)[: rows * cols * 2].reshape(rows, cols // 2, 4)
    y = np.empty((rows, cols), dtype=np.uint8)
    y[:, 0::2], y[:, 1::2] = raw[..., 0], raw[..., 1]
    cb = np.repeat(raw[..., 2], 2, axis=1)
    cr = np.repeat(raw[..., 3], 2, axis=1)
    expected = ybr_full_to_rgb(y, cb, cr)
    fd = display(path)
    ours = fd.render(fd.default_voi())
    assert np.abs(ours.astype(np.float64) - expected).max() <= 1.0


def test_user_window_on_rgb_applies_linear_per_channel(sample, display):
    """dcmtk ignores windows on colour; we apply C.11.2.1.2.1 to each 8-bit sample."""
    path = sample("US1_UNCI.dcm")
    rgb = stored_values(path).astype(np.float64)
    fd = display(path)
    expected = expected_display(rgb, linear, 100.0, 120.0)
    assert_rounds_to(fd.render(Window(100, 120)), expected)
    assert_rounds_to(fd.render(Window(100, 120), invert=True), 255.0 - expected)


# --------------------------------------------------------------------------- segmented palette (C.7.9.2)


def expand_segmented_lut(words: np.ndarray) -> list[int]:
    """PS3.3 C.7.9.2, written from the standard: opcode, length, then data.

    0 discrete: `length` values follow. 1 linear: one end value follows;
    `length` values run from the previous entry to it. 2 indirect: the 32-bit
    offset (least significant word first) of `length` segments to copy again.
    """
    words = [int(v) for v in words]

    def expand(start: int, max_segments: int | None, lut: list[int]) -> None:
        position, done = start, 0
        while position + 1 < len(words) and (max_segments is None or done < max_segments):
            opcode, length = words[position], words[position + 1]
            position += 2
            if opcode == 0:
                lut.extend(words[position : position + length])
                position += length
            elif opcode == 1:
                y0, y1 = lut[-1], words[position]
                lut.extend(math.floor(y0 + (y1 - y0) * i / length + 0.5) for i in range(1, length + 1))
                position += 1
            elif opcode == 2:
                byte_offset = words[position] | (words[position + 1] << 16)
                expand(byte_offset // 2, length, lut)
                position += 2
            else:
                raise AssertionError(f"unknown segment type {opcode} at word {position - 2}")
            done += 1

    lut: list[int] = []
    expand(0, None, lut)
    return lut


def test_segmented_palette_expansion(sample, display):
    """gdcm-US-ALOKA-16.dcm: 16-bit stored values, 65536-entry segmented LUTs (dcmtk refuses it)."""
    path = sample("gdcm-US-ALOKA-16.dcm")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID.is_little_endian
    entries, first_mapped, bits = (int(v) for v in ds.RedPaletteColorLookupTableDescriptor)
    entries = entries or 1 << 16  # C.7.6.3.1.5: 0 means 2^16 entries
    assert bits == 16
    channels = []
    for color in ("Red", "Green", "Blue"):
        words = np.frombuffer(ds[f"Segmented{color}PaletteColorLookupTableData"].value, dtype="<u2")
        lut = np.array(expand_segmented_lut(words), dtype=np.int64)
        assert len(lut) == entries
        channels.append(lut)
    palette = np.stack(channels, axis=-1)
    stored = ds.pixel_array.astype(np.int64)
    index = np.clip(stored - first_mapped, 0, entries - 1)
    expected = palette[index] * 255.0 / 65535.0  # 16-bit entries shown as 8 bits

    fd = display(path)
    assert fd.is_color
    ours = fd.render(fd.default_voi())
    assert ours.shape == stored.shape + (3,)
    assert np.abs(ours.astype(np.float64) - expected).max() <= 1.0


def test_palette_file_dataset_is_not_modified(sample):
    """Rendering a big endian palette image leaves its dataset's LUT bytes alone."""
    path = sample("OBXXXX1A_expb.dcm")
    ds = read_image_dataset(path)
    before = {k: bytes(ds[k].value) for k in ("RedPaletteColorLookupTableData", "BluePaletteColorLookupTableData")}
    snapshot = copy.deepcopy(before)
    for _ in range(2):
        FrameDisplay(decode_frame(ds, 0), frame_context(ds, 0)).render(Window(128, 256))
    assert {k: bytes(ds[k].value) for k in before} == snapshot
