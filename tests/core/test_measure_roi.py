"""ROI statistics equal numpy's on the same mask, the mask computed here independently (issue #15).

The masks below are written from the rule alone ("a pixel counts when its
centre is inside"), per pixel over a full grid, not from the rasteriser's
runs: ellipse by its inequality, rectangle by its bounds, polygon by ray
casting (even-odd, an edge crossing a centre's row when the row lies in
[lower end, upper end)). The modality values come from pydicom's
``apply_modality_lut`` over the whole frame.
"""

from __future__ import annotations

import math

import numpy as np
import pydicom
import pytest
from measure_files import image_dataset
from pydicom.data import get_testdata_file
from pydicom.pixels.processing import apply_modality_lut

from viewer.core.dicom.io import ViewerError
from viewer.core.measure.geometry import Shape
from viewer.core.measure.measure import measure
from viewer.core.measure.roi import changed_runs, roi_mask, roi_runs, roi_statistics
from viewer.core.measure.roi_tracker import RoiTracker

CT = get_testdata_file("CT_small.dcm", download=False)  # 128x128, signed, rescale to HU
RGB = get_testdata_file("US1_UNCI.dcm", download=False)


def grid(shape):
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]]
    return columns.astype(float), rows.astype(float)


def ellipse_mask(shape, cx, cy, rx, ry):
    c, r = grid(shape)
    return ((c - cx) / rx) ** 2 + ((r - cy) / ry) ** 2 <= 1.0


def rectangle_mask(shape, x0, y0, x1, y1):
    c, r = grid(shape)
    return (c >= min(x0, x1)) & (c <= max(x0, x1)) & (r >= min(y0, y1)) & (r <= max(y0, y1))


def polygon_mask(shape, vertices):
    """Strictly inside by ray casting (even-odd), or on an edge: where the edge meets the centre's row within 1e-9
    pixel of the centre (the rule's allowance for rounding), or along a horizontal edge."""
    c, r = grid(shape)
    inside = np.zeros(shape, dtype=bool)
    on_edge = np.zeros(shape, dtype=bool)
    for (xa, ya), (xb, yb) in zip(vertices, vertices[1:] + vertices[:1]):
        if ya == yb:
            on_edge |= (r == ya) & (np.minimum(xa, xb) <= c) & (c <= np.maximum(xa, xb))
            continue
        x = xa + (r - ya) * (xb - xa) / (yb - ya)
        on_edge |= (np.minimum(ya, yb) <= r) & (r <= np.maximum(ya, yb)) & (np.abs(x - c) <= 1e-9)
        crosses = (np.minimum(ya, yb) <= r) & (r < np.maximum(ya, yb))
        inside ^= crosses & (x > c)
    return inside | on_edge


def expected(ds, mask):
    values = np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=np.float64)[mask]
    return values.mean(), values.std(ddof=0), values.min(), values.max(), int(mask.sum())


def check(ds, shape, mask):
    assert np.array_equal(roi_mask(shape, ds.pixel_array.shape), mask)
    stats = roi_statistics(ds.pixel_array, ds, shape)
    mean, sd, low, high, n = expected(ds, mask)
    assert stats.count == n and stats.min == low and stats.max == high
    assert stats.mean == pytest.approx(mean, rel=1e-12, abs=1e-9) and stats.sd == pytest.approx(sd, rel=1e-10)


@pytest.mark.parametrize("cx, cy, rx, ry", [(63.3, 60.7, 40.2, 25.9), (10.5, 100.25, 30, 45.5), (64, 64, 7, 7), (0.4, 0.6, 3.3, 2.2)])
def test_ellipse_on_ct_in_hu(cx, cy, rx, ry):
    ds = pydicom.dcmread(CT)
    check(ds, Shape.ellipse(cx, cy, rx, ry), ellipse_mask(ds.pixel_array.shape, cx, cy, rx, ry))


@pytest.mark.parametrize("corners", [(10, 20, 50, 60), (50.5, 60.2, 10.7, 20.1), (-5, -5, 200, 3.5)])
def test_rectangle_on_ct(corners):
    ds = pydicom.dcmread(CT)
    x0, y0, x1, y1 = corners
    check(ds, Shape("rectangle", ((x0, y0), (x1, y1))), rectangle_mask(ds.pixel_array.shape, *corners))


@pytest.mark.parametrize(
    "vertices",
    [
        [(10.2, 10.7), (100.1, 20.3), (60.6, 110.4)],
        [(10, 10), (100, 10), (100, 100), (55.5, 40.5), (10, 100)],  # concave, vertices on centres
        [(10, 10), (50, 10), (50, 40), (10, 40)],  # a rectangle as a polygon: its outline counts, as the rectangle tool's
        [(20, 10), (60, 50), (20, 90), (40, 50)],  # a dart: vertices pointing left, right, up and down on centres
        [(5.5, 5.5), (120.3, 5.5), (5.5, 120.3), (120.3, 120.3)],  # a bow tie: even-odd
        [(30 + 25 * math.cos(t), 60 + 40 * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 97)[:-1]],  # freehand
    ],
)
def test_polygon_and_freehand(vertices):
    ds = pydicom.dcmread(CT)
    for tool in ("polygon", "freehand"):
        check(ds, Shape(tool, tuple(vertices)), polygon_mask(ds.pixel_array.shape, vertices))


def test_polygon_rectangle_equals_the_rectangle_tool():
    ds = pydicom.dcmread(CT)
    as_polygon = roi_mask(Shape("polygon", ((10, 10), (50, 10), (50, 40), (10, 40))), ds.pixel_array.shape)
    assert np.array_equal(as_polygon, roi_mask(Shape("rectangle", ((10, 10), (50, 40))), ds.pixel_array.shape))


def test_modality_lut_sequence_and_unit():
    """A non-linear Modality LUT Sequence (PS3.3 C.11.1): each stored value looked up, then the statistics."""
    pixels = (np.arange(40 * 50) % 200).reshape(40, 50).astype(np.uint16)
    lut = pydicom.Dataset()
    lut.LUTDescriptor = [200, 0, 16]
    lut.ModalityLUTType = "OD"
    lut.add_new(0x00283006, "US", [(v * v) % 65536 for v in range(200)])  # LUT Data: 'US or OW', written as US
    ds = image_dataset("OT", pixels, ModalityLUTSequence=[lut])
    ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(_bytes(ds)))
    check(ds, Shape.ellipse(24.3, 19.6, 20, 15), ellipse_mask(pixels.shape, 24.3, 19.6, 20, 15))
    assert measure(Shape.ellipse(24.3, 19.6, 20, 15), ds, ds.pixel_array).to_json()["unit"] == "OD"


def _bytes(ds) -> bytes:
    from io import BytesIO

    out = BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_ct_json_has_hu_population_sd_and_area():
    ds = pydicom.dcmread(CT)
    result = measure(Shape.ellipse(63.3, 60.7, 40.2, 25.9), ds, ds.pixel_array).to_json()
    spacing = [float(v) for v in ds.PixelSpacing]
    assert result["unit"] == "HU" and result["area_unit"] == "mm²" and result["basis"] == "pixel spacing"
    assert result["area"] == pytest.approx(math.pi * 40.2 * spacing[1] * 25.9 * spacing[0])
    _, sd, _, _, n = expected(ds, ellipse_mask(ds.pixel_array.shape, 63.3, 60.7, 40.2, 25.9))
    assert result["count"] == n and result["sd"] == pytest.approx(sd)


def test_point_value_is_the_nearest_pixel_in_hu():
    ds = pydicom.dcmread(CT)
    hu = np.asarray(apply_modality_lut(ds.pixel_array, ds), dtype=float)
    assert measure(Shape("point", ((20.4, 30.6),)), ds, ds.pixel_array).to_json()["value"] == hu[31, 20]
    assert measure(Shape("point", ((-3, 30),)), ds, ds.pixel_array).to_json()["value"] is None


def test_colour_images_are_refused_with_one_line():
    ds = pydicom.dcmread(RGB)
    with pytest.raises(ViewerError, match="greyscale images only") as info:
        measure(Shape.ellipse(100, 100, 20, 20), ds, ds.pixel_array)
    assert "\n" not in str(info.value)
    # A length needs no pixel values: measured on colour images too.
    assert measure(Shape("line", ((0, 0), (3, 4))), ds).to_json()["value"] is not None


def test_empty_roi_and_roi_outside_the_image():
    ds = pydicom.dcmread(CT)
    stats = roi_statistics(ds.pixel_array, ds, Shape.ellipse(500, 500, 10, 10))
    assert stats.count == 0 and stats.mean is None


def test_changed_runs_are_the_symmetric_difference():
    shape = (128, 128)
    old = roi_runs(Shape("polygon", ((10, 10), (100, 10), (100, 100), (55.5, 40.5), (10, 100))), shape)
    new = roi_runs(Shape.ellipse(60.3, 50.2, 45, 30), shape)
    added, removed = changed_runs(old, new)
    old_mask, new_mask = old.mask(shape), new.mask(shape)
    assert np.array_equal(added.mask(shape), new_mask & ~old_mask)
    assert np.array_equal(removed.mask(shape), old_mask & ~new_mask)


@pytest.mark.parametrize("path", [CT, get_testdata_file("MR_small.dcm", download=False)])
def test_a_dragged_roi_keeps_numpy_statistics(path):
    """A handle dragged a fraction of a pixel at a time, then far, then over the edge: each step equals numpy on its mask."""
    ds = pydicom.dcmread(path)
    tracker = RoiTracker(ds.pixel_array, ds)
    steps = [(40 + 0.37 * k, 50 - 0.21 * k, 20 + 0.5 * k, 15) for k in range(12)] + [(100, 100, 10, 30), (120, 5, 30, 30), (200, 200, 5, 5)]
    # Most of the frame (counted as the frame less the outside), dragged, then small again.
    steps += [(63.5, 63.5, 70, 66), (63.9, 63.1, 70.4, 66), (64.3, 62.7, 71, 66.5), (20, 20, 8, 8)]
    for cx, cy, rx, ry in steps:
        stats = tracker.statistics(Shape.ellipse(cx, cy, rx, ry))
        mask = ellipse_mask(ds.pixel_array.shape, cx, cy, rx, ry)
        if not mask.any():
            assert stats.count == 0 and stats.mean is None
            continue
        mean, sd, low, high, n = expected(ds, mask)
        assert stats.count == n and (stats.min, stats.max) == (low, high)
        assert stats.mean == pytest.approx(mean, rel=1e-12, abs=1e-9) and stats.sd == pytest.approx(sd, rel=1e-9)
    polygon = [(10.5, 10.2), (90.3, 20.7), (50.1, 70.9), (20.2, 60.4)]
    # measure() with the tracker gives the same readings as without it.
    shape = Shape.ellipse(50.5, 60.5, 25, 20)
    assert measure(shape, ds, tracker=tracker).readings == measure(shape, ds, ds.pixel_array).readings
    assert tracker.statistics(Shape("freehand", tuple(polygon))).count == polygon_mask(ds.pixel_array.shape, polygon).sum()


def _frame(dtype, shape, low, high, seed=15):
    """Random stored values from `low` to `high` (inclusive) of `dtype`, with both ends present."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        pixels = rng.uniform(low, high, size=shape).astype(dtype)
    else:
        pixels = rng.integers(low, high, size=shape, endpoint=True).astype(dtype)
    pixels.flat[0], pixels.flat[-1] = low, high
    return pixels


def _context(slope=None, intercept=None):
    ctx = pydicom.Dataset()
    ctx.PhotometricInterpretation = "MONOCHROME2"
    if slope is not None:
        ctx.RescaleSlope, ctx.RescaleIntercept = slope, intercept
    return ctx


FRAMES = {
    "int16 CT, slope 1 intercept -1024": (np.int16, -2000, 3000, "1", "-1024"),
    "uint16 12-bit, no rescale": (np.uint16, 0, 4095, None, None),
    "uint16 full 16-bit (sums in int64)": (np.uint16, 0, 65535, "0.5", "-3.25"),
    "int16 full range, negative slope": (np.int16, -32768, 32767, "-2.5", "100"),
    "uint8": (np.uint8, 0, 255, "1.5", "7"),
    "uint16 high and narrow (SD from exact sums)": (np.uint16, 60000, 60003, None, None),
    "float32 (read pixel by pixel)": (np.float32, -1000.0, 1000.0, None, None),
}

#: Odd sizes: not whole tiles, and one frame smaller than a tile.
SIZES = [(203, 157), (5, 7)]


def _shapes(rows, columns):
    cx, cy = (columns - 1) / 2, (rows - 1) / 2
    polygon = [(0.2 * columns, 0.1 * rows), (0.9 * columns, 0.3 * rows), (0.55 * columns, 0.95 * rows), (0.4 * columns, 0.5 * rows)]
    circle = [(cx + 0.45 * columns * math.cos(t), cy + 0.4 * rows * math.sin(t)) for t in np.linspace(0, 2 * math.pi, 61)[:-1]]
    return [
        (
            "ellipse over most of the frame",
            Shape.ellipse(cx, cy, 0.48 * columns, 0.48 * rows),
            ellipse_mask,
            (cx, cy, 0.48 * columns, 0.48 * rows),
        ),
        (
            "ellipse past every border",
            Shape.ellipse(cx + 0.3, cy - 0.2, 0.7 * columns, 0.6 * rows),
            ellipse_mask,
            (cx + 0.3, cy - 0.2, 0.7 * columns, 0.6 * rows),
        ),
        ("ellipse touching the left and top borders", Shape.ellipse(30.0, 40.0, 30.0, 40.0), ellipse_mask, (30.0, 40.0, 30.0, 40.0)),
        ("one-pixel ellipse", Shape.ellipse(3.0, 2.0, 0.4, 0.4), ellipse_mask, (3.0, 2.0, 0.4, 0.4)),
        ("rectangle", Shape("rectangle", ((3.5, 2.2), (columns - 9.1, rows - 4.7))), rectangle_mask, (3.5, 2.2, columns - 9.1, rows - 4.7)),
        ("polygon", Shape("polygon", tuple(polygon)), polygon_mask, (polygon,)),
        ("freehand", Shape("freehand", tuple(circle)), polygon_mask, (circle,)),
        ("outside the frame", Shape.ellipse(columns + 50, rows + 50, 10, 10), ellipse_mask, (columns + 50, rows + 50, 10, 10)),
    ]


@pytest.mark.parametrize("size", SIZES, ids=["203x157", "5x7"])
@pytest.mark.parametrize("frame", list(FRAMES), ids=list(FRAMES))
def test_the_tracker_equals_numpy_on_the_mask(frame, size):
    """RoiTracker (tile sums for integer frames with a linear Modality LUT) equals numpy on the rule's mask:
    mean and SD to 1e-9 relative, min, max and the pixel count exactly; the same from roi_statistics."""
    dtype, low, high, slope, intercept = FRAMES[frame]
    stored = _frame(dtype, size, low, high)
    ctx = _context(slope, intercept)
    modality = np.asarray(apply_modality_lut(stored, ctx), dtype=np.float64)
    tracker = RoiTracker(stored, ctx)
    assert tracker.method == ("direct" if np.dtype(dtype).kind == "f" else "tiles")
    for name, shape, rule, arguments in _shapes(*size):
        mask = rule(size, *arguments)
        for stats in (tracker.statistics(shape), roi_statistics(stored, ctx, shape)):
            assert stats.count == int(mask.sum()), name
            if not mask.any():
                assert stats.mean is None and stats.sd is None and stats.min is None, name
                continue
            values = modality[mask]
            assert (stats.min, stats.max) == (values.min(), values.max()), name
            scale = np.abs(values).max()
            assert stats.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-12 * scale), name
            assert stats.sd == pytest.approx(values.std(ddof=0), rel=1e-9, abs=1e-12 * scale), name


def test_a_modality_lut_sequence_is_tracked_by_histograms():
    """A non-linear LUT: the tracker counts histograms (each stored value looked up), equal to numpy."""
    pixels = (np.arange(40 * 50) % 200).reshape(40, 50).astype(np.uint16)
    lut = pydicom.Dataset()
    lut.LUTDescriptor = [200, 0, 16]
    lut.add_new(0x00283006, "US", [(v * v) % 65536 for v in range(200)])
    ctx = _context()
    ctx.ModalityLUTSequence = [lut]
    tracker = RoiTracker(pixels, ctx)
    assert tracker.method == "histograms"
    mask = ellipse_mask(pixels.shape, 24.3, 19.6, 20, 15)
    values = np.asarray(apply_modality_lut(pixels, ctx), dtype=np.float64)[mask]
    stats = tracker.statistics(Shape.ellipse(24.3, 19.6, 20, 15))
    assert (stats.count, stats.min, stats.max) == (int(mask.sum()), values.min(), values.max())
    assert stats.mean == pytest.approx(values.mean(), rel=1e-12) and stats.sd == pytest.approx(values.std(), rel=1e-9)
