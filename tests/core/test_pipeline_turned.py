"""A frame turned once for a presentation state's rotation and flip (PS3.3 C.10.6) renders as its upright render turned:
grey (LUT index), float and RGB frames, whole or a region at a stride."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from viewer.core.display.pixels.pipeline import FrameDisplay, FullRange, Window


def _frame(kind: str) -> FrameDisplay:
    rng = np.random.default_rng(16)
    ctx = pydicom.Dataset()
    if kind == "rgb":
        ctx.PhotometricInterpretation = "RGB"
        return FrameDisplay(rng.integers(0, 256, size=(9, 14, 3)).astype(np.uint8), ctx)
    ctx.PhotometricInterpretation = "MONOCHROME2"
    ctx.RescaleSlope, ctx.RescaleIntercept = "1", "-1024"
    if kind == "float":
        return FrameDisplay(rng.uniform(-1000, 3000, size=(9, 14)).astype(np.float32), ctx)
    return FrameDisplay(rng.integers(-2000, 3000, size=(9, 14)).astype(np.int16), ctx)


@pytest.mark.parametrize("kind", ["grey", "float", "rgb"])
@pytest.mark.parametrize(
    "quarter, mirror_rows, mirror_columns", [(True, False, True), (True, True, False), (False, True, True), (False, False, True)]
)
def test_a_turned_frame_renders_as_its_upright_render_turned(kind, quarter, mirror_rows, mirror_columns):
    frame = _frame(kind)
    turned = frame.turned(quarter, mirror_rows, mirror_columns)
    voi = FullRange() if kind == "rgb" else Window(40, 400)
    upright = frame.render_packed(voi)
    expected = upright.swapaxes(0, 1) if quarter else upright
    expected = expected[::-1] if mirror_rows else expected
    expected = expected[:, ::-1] if mirror_columns else expected
    assert np.array_equal(turned.render_packed(voi), expected)
    assert turned.shape == expected.shape and frame.shape == upright.shape  # the upright frame is left as it was
    # A region at a stride of the turned frame: the same pixels as that part of the turned whole.
    assert np.array_equal(turned.render_packed(voi, region=(1, 8, 2, 7), stride=2), expected[1:8:2, 2:7:2])
