"""The display pipeline against dcmtk's reference renderer, pixel by pixel.

dcmtk (``dcmj2pnm -O``) applies the modality LUT, VOI and presentation stages
of PS3.3 C.11 and writes 8-bit grey or RGB. Every rendering here must agree
with it within one grey level on every pixel: the two differ only in where
they round.

dcmtk's VOI options and ours:
  ``+Wi 1``      the file's first window       ``file_windows(ctx)[0]``
  ``+Wl 1``      the file's first VOI LUT      ``file_voi_luts(ctx)[0]``
  ``+Ww C W``    an explicit window            ``Window(C, W)``
  ``+Wm``        a min-max window              ``FrameDisplay.auto_window()``
  (none)         no VOI transform              ``FullRange()``
"""

from __future__ import annotations

import numpy as np
import pytest

from viewer.core.display.pixels.pipeline import FrameDisplay, FullRange, Window, file_voi_luts, file_windows

pytestmark = pytest.mark.dcmtk


def first_file_window(fd: FrameDisplay):
    windows = file_windows(fd.ctx)
    assert windows, "the file should carry a window"
    return windows[0]


def first_voi_lut(fd: FrameDisplay):
    luts = file_voi_luts(fd.ctx)
    assert luts, "the file should carry a VOI LUT Sequence"
    return luts[0]


def user_window(center: float, width: float):
    return lambda fd: Window(center, width)


def auto_window(fd: FrameDisplay):
    return fd.auto_window()


def full_range(fd: FrameDisplay):
    return FullRange()


def assert_within_one_level(ours: np.ndarray, reference: np.ndarray) -> None:
    assert ours.dtype == np.uint8
    assert ours.shape == reference.shape
    difference = np.abs(ours.astype(np.int32) - reference.astype(np.int32))
    worst = np.unravel_index(np.argmax(difference), difference.shape)
    assert difference.max() <= 1, (
        f"{int((difference > 1).sum())} pixels differ by more than 1 grey level; "
        f"worst at {tuple(int(i) for i in worst)}: ours {ours[worst]}, dcmtk {reference[worst]}"
    )


# (file, dcmtk frame number from 1 or None, dcmtk VOI options, our VOI)
GREYSCALE_CASES = [
    # CT, signed 14-bit stored values, Rescale Intercept -1024, VOI LUT Function LINEAR
    ("693_UNCI.dcm", None, ["+Wi", "1"], first_file_window),
    ("693_UNCI.dcm", None, ["+Ww", "40", "400"], user_window(40, 400)),
    ("693_UNCI.dcm", None, ["+Ww", "-600", "1500"], user_window(-600, 1500)),
    ("693_UNCI.dcm", None, ["+Ww", "0.5", "2"], user_window(0.5, 2)),  # nearly a threshold
    ("693_UNCI.dcm", None, ["+Wm"], auto_window),
    ("693_UNCI.dcm", None, [], full_range),
    ("CT_small.dcm", None, ["+Ww", "40", "400"], user_window(40, 400)),
    ("CT_small.dcm", None, ["+Wm"], auto_window),
    # VOI LUT Sequence (0028,3010)
    ("vlut_04.dcm", None, ["+Wl", "1"], first_voi_lut),
    ("vlut_04.dcm", None, ["+Ww", "128", "100"], user_window(128, 100)),
    # Modality LUT Sequence (0028,3000) on signed 12-bit stored values
    ("mlut_18.dcm", None, [], full_range),
    ("mlut_18.dcm", None, ["+Wm"], auto_window),
    ("mlut_18.dcm", None, ["+Ww", "30000", "20000"], user_window(30000, 20000)),
    # MONOCHROME1: minimum shown white (PS3.3 C.7.6.3.1.2)
    ("RG3_UNCI.dcm", None, ["+Wi", "1"], first_file_window),
    ("RG3_UNCI.dcm", None, [], full_range),
    ("RG1_UNCI.dcm", None, ["+Wi", "1"], first_file_window),  # 1955 x 1841: once only
    # The same MR image in four encodings
    ("MR_small.dcm", None, ["+Wi", "1"], first_file_window),
    ("MR_small_bigendian.dcm", None, ["+Wi", "1"], first_file_window),
    ("MR_small_implicit.dcm", None, ["+Wi", "1"], first_file_window),
    ("MR_small_expb.dcm", None, ["+Wm"], auto_window),
    # Deflated Explicit VR Little Endian
    ("image_dfl.dcm", None, ["+Wm"], auto_window),
    ("image_dfl.dcm", None, [], full_range),
    # Multi-frame: dcmtk counts frames from 1, we from 0
    ("emri_small.dcm", 1, ["+Wm"], auto_window),
    ("emri_small.dcm", 2, [], full_range),
    ("emri_small.dcm", 2, ["+Ww", "200", "300"], user_window(200, 300)),
    # Enhanced CT: rescale from the Shared Functional Groups, frame 2
    ("eCT_Supplemental.dcm", 2, ["+Ww", "40", "400"], user_window(40, 400)),
    ("eCT_Supplemental.dcm", 2, [], full_range),
]


@pytest.mark.parametrize(
    "name, frame, dcmtk_args, our_voi",
    GREYSCALE_CASES,
    ids=[f"{c[0]}-F{c[1] or 1}-{'_'.join(c[2]) or 'noVOI'}" for c in GREYSCALE_CASES],
)
def test_greyscale_matches_dcmtk(sample, dcmtk_render, display, name, frame, dcmtk_args, our_voi):
    path = sample(name)
    reference = dcmtk_render(path, dcmtk_args, frame)
    fd = display(path, (frame or 1) - 1)
    assert not fd.is_color
    assert_within_one_level(fd.render(our_voi(fd)), reference)


COLOR_CASES = [
    "OBXXXX1A.dcm",  # PALETTE COLOR, 8-bit stored values, 16-bit LUT entries
    "OBXXXX1A_expb.dcm",  # the same in Explicit VR Big Endian (OW LUT Data in big endian)
    "US1_UNCI.dcm",  # RGB, Planar Configuration 0
    "color-px.dcm",  # RGB, Planar Configuration 0 (R1G1B1 R2G2B2 ...)
    "color-pl.dcm",  # RGB, Planar Configuration 1 (RRR... GGG... BBB...)
    "SC_rgb_16bit.dcm",  # RGB, 16 bits per sample
]


@pytest.mark.parametrize("name", COLOR_CASES)
def test_color_matches_dcmtk(sample, dcmtk_render, display, name):
    path = sample(name)
    reference = dcmtk_render(path, [])
    fd = display(path)
    assert fd.is_color
    ours = fd.render(fd.default_voi())
    assert ours.ndim == 3 and ours.shape[2] == 3
    assert_within_one_level(ours, reference)


def test_region_and_stride_match_dcmtk(sample, dcmtk_render, display):
    """A zoomed-out view of a region shows exactly the reference's pixels there."""
    path = sample("693_UNCI.dcm")
    reference = dcmtk_render(path, ["+Ww", "40", "400"])
    fd = display(path)
    ours = fd.render(Window(40, 400), region=(100, 400, 50, 450), stride=3)
    assert ours.flags.c_contiguous
    assert_within_one_level(ours, reference[100:400:3, 50:450:3])
