"""The pane's packed pixels (0xFFRRGGBB, Qt's RGB32) are exactly render()'s pixels."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from viewer.core.dicom.io import read_image_dataset
from viewer.core.display.pixels.decoders import decode_frame
from viewer.core.display.pixels.pipeline import FrameDisplay, FullRange, Window, frame_context, pack_rgb32

FILES = {
    "CT, signed, rescaled": "CT_small.dcm",
    "MR, unsigned": "MR_small.dcm",
    "MONOCHROME1 CR": "RG1_UNCI.dcm",
    "palette colour": "OBXXXX1A.dcm",
    "RGB": "SC_rgb.dcm",
    "YBR_FULL JPEG": "SC_rgb_jpeg_dcmtk.dcm",
}


def _unpack(packed: np.ndarray) -> np.ndarray:
    assert packed.dtype == np.uint32 and packed.ndim == 2
    assert np.all(packed >> 24 == 0xFF), "every pixel opaque"
    return np.stack([(packed >> s).astype(np.uint8) for s in (16, 8, 0)], axis=-1)


@pytest.mark.parametrize("name", FILES.values(), ids=FILES.keys())
def test_packed_pixels_are_the_rendered_pixels(name):
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed (pydicom-data)")
    ds = read_image_dataset(path)
    frame = FrameDisplay(decode_frame(ds, 0, path), frame_context(ds, 0))
    rows, cols = frame.shape
    cases = [
        (frame.default_voi(), False, None, 1),
        (FullRange(), True, None, 1),
        (frame.default_voi(), False, (rows // 4, rows, 1, cols - 1), 3),
    ]
    if not frame.is_color:
        cases.append((Window(frame.auto_window().center, 10.0), False, None, 2))
    for voi, invert, region, stride in cases:
        rendered = frame.render(voi, invert, region, stride)
        packed = frame.render_packed(voi, invert, region, stride)
        unpacked = _unpack(packed)
        expected = rendered if rendered.ndim == 3 else np.repeat(rendered[..., None], 3, axis=-1)
        assert np.array_equal(unpacked, expected), (name, voi, invert, region, stride)
        assert np.array_equal(pack_rgb32(rendered), packed)


def test_packed_pixels_of_float_pixel_data():
    """Float Pixel Data (no lookup table: modality values kept) packs the same way."""
    from pydicom.dataset import Dataset

    ctx = Dataset()
    ctx.PhotometricInterpretation = "MONOCHROME2"
    stored = np.random.default_rng(7).normal(0.0, 300.0, (64, 48)).astype(np.float32)
    frame = FrameDisplay(stored, ctx)
    for voi, invert in ((frame.default_voi(), False), (Window(10.0, 100.0), True)):
        rendered = frame.render(voi, invert)
        assert np.array_equal(_unpack(frame.render_packed(voi, invert)), np.repeat(rendered[..., None], 3, axis=-1))
