"""An image through a Grayscale Softcopy Presentation State, against dcmtk's ``dcmp2pgm`` rendering of the same pair.

``dcmp2pgm -p PR IMAGE OUT`` (dcmtk 3.6.7) renders the state's Modality,
VOI and Presentation LUTs, its rotation and flip and its bitmap shutter, on
the whole image: it does not cut out the displayed area, scale it, or draw
the rectangular, circular or polygonal shutters or the graphic annotations.
So grey levels are compared with dcmp2pgm's within 1 where dcmp2pgm renders
the same region (its output cut, repeated or rotated here with numpy), and
shutters, areas and graphics are checked against positions computed here
from the standard's definitions (PS3.3 C.7.6.11, C.10.4, C.10.5, C.10.6).
States come from dcmtk's ``dcmpsmk`` and from :mod:`pstate_files` (pydicom).
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pstate_files import annotation, dcmp2pgm, dcmtk, graphic, make_state, text, with_overlay
from pydicom.data import get_testdata_file

from viewer.core.documents.presentation_render import render_file_with_state

needs_dcmtk = pytest.mark.skipif(not dcmtk("dcmp2pgm") or not dcmtk("dcmpsmk"), reason="dcmtk is not installed")
pytestmark = needs_dcmtk

CT = Path(get_testdata_file("CT_small.dcm", download=False))
MR = Path(get_testdata_file("MR_small.dcm", download=False))
MULTIFRAME = Path(get_testdata_file("emri_small.dcm", download=False))
MONOCHROME1 = get_testdata_file("RG1_UNCR.dcm")

#: Red in DICOM's scaled CIELab (L 53, a 80, b 67): burned pixels are told from grey ones by R != G.
RED_LAB = [34733, 53199, 50050]


def header(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def save(ds: pydicom.Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def both(image: Path, state: Path, tmp_path: Path, frame: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(ours, dcmp2pgm's) as int arrays."""
    ours = render_file_with_state(image, state, frame).astype(int)
    theirs = dcmp2pgm(image, state, tmp_path / f"dcmtk-{state.stem}-{frame}.pgm", frame).astype(int)
    return ours, theirs


def assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    difference = np.abs(ours - theirs)
    assert difference.max() <= 1, f"{(difference > 1).sum()} pixels differ by more than 1 (up to {difference.max()})"


def mid_window(path: Path, frame: int = 0) -> tuple[float, float]:
    """A window over the middle of the image's modality values, computed here with numpy."""
    ds = pydicom.dcmread(path)
    values = ds.pixel_array[frame] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else ds.pixel_array
    values = values * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    lo, hi = np.percentile(values, [5, 95])
    return float((lo + hi) / 2), float(max(hi - lo, 2))


# --------------------------------------------------------------------------- states made by dcmtk


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "RG1_UNCR.dcm", "vlut_04.dcm"])
def test_dcmpsmk_states_render_as_dcmp2pgm_does(name, tmp_path):
    image = Path(get_testdata_file(name))
    state = tmp_path / "pr.dcm"
    subprocess.run([dcmtk("dcmpsmk"), str(image), str(state)], check=True, capture_output=True, timeout=60)
    assert_close(*both(image, state, tmp_path))


@pytest.mark.parametrize("frame", [1, 3, 10])
def test_dcmpsmk_state_of_a_multiframe_image_per_frame(frame, tmp_path):
    state = tmp_path / "pr.dcm"
    subprocess.run([dcmtk("dcmpsmk"), str(MULTIFRAME), str(state)], check=True, capture_output=True, timeout=60)
    assert_close(*both(MULTIFRAME, state, tmp_path, frame))


# --------------------------------------------------------------------------- LUTs and transformation


@pytest.mark.parametrize(
    "features",
    [
        {},  # no VOI: the whole modality range
        {"window": "mid"},
        {"window": "mid", "shape": "INVERSE"},
        {"window": "mid", "modality": False},
        *({"window": "mid", "rotation": r, "flip": f} for r in (0, 90, 180, 270) for f in (False, True)),
    ],
    ids=lambda f: "-".join(f"{k}={v}" for k, v in f.items()) or "no-voi",
)
@pytest.mark.parametrize("image", [CT, MR], ids=["CT", "MR"])
def test_luts_rotation_and_flip_as_dcmp2pgm(image, features, tmp_path):
    features = dict(features)
    if features.get("window") == "mid":
        features["window"] = mid_window(image)
    state = save(make_state(header(image), **features), tmp_path / "pr.dcm")
    assert_close(*both(image, state, tmp_path))


def test_a_window_for_one_frame_of_a_multiframe_image(tmp_path):
    window = mid_window(MULTIFRAME, 4)
    state = save(make_state(header(MULTIFRAME), window=window, frames=[5]), tmp_path / "pr.dcm")
    assert_close(*both(MULTIFRAME, state, tmp_path, 5))


@pytest.mark.parametrize("entries, bits", [(256, 8), (1024, 10), (4096, 12)])
def test_presentation_lut_sequence_as_dcmp2pgm(entries, bits, tmp_path):
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = make_state(header(CT), window=mid_window(CT))
    del ds.PresentationLUTShape  # (2050,0010) Presentation LUT Sequence instead (C.11.6)
    lut = Dataset()
    lut.LUTDescriptor = [entries, 0, bits]
    lut.LUTData = np.rint(np.sqrt(np.arange(entries) / (entries - 1)) * ((1 << bits) - 1)).astype("<u2").tobytes()
    ds.PresentationLUTSequence = Sequence([lut])
    assert_close(*both(CT, save(ds, tmp_path / "pr.dcm"), tmp_path))


@pytest.mark.parametrize("kind", ["modality+voi", "presentation"])
def test_lut_sequences_of_the_state_as_dcmp2pgm(kind, tmp_path):
    """A Modality LUT Sequence and a VOI LUT of the state's own, or a Presentation LUT Sequence (tests/ui shows the
    viewport the same pixels)."""
    from pstate_files import with_lut_sequences

    h = header(CT)
    ds = with_lut_sequences(make_state(h, window=mid_window(CT) if kind == "presentation" else None), h, kind)
    assert_close(*both(CT, save(ds, tmp_path / "pr.dcm"), tmp_path))


def test_bitmap_shutter_as_dcmp2pgm(tmp_path):
    h = header(CT)
    hidden = np.zeros((int(h.Rows), int(h.Columns)), dtype=bool)
    hidden[:30, :] = True
    hidden[:, 100:] = True
    hidden[60:70, 40:50] = True
    state = save(make_state(h, window=mid_window(CT), bitmap=hidden), tmp_path / "pr.dcm")
    ours, theirs = both(CT, state, tmp_path)
    assert_close(ours, theirs)
    assert (ours[hidden] == 0).all()


# --------------------------------------------------------------------------- displayed area (dcmp2pgm renders the whole image)


def whole(image: Path, tmp_path: Path, window, rotation=None, flip=None) -> np.ndarray:
    state = save(make_state(header(image), window=window, rotation=rotation, flip=flip), tmp_path / "whole.dcm")
    return dcmp2pgm(image, state, tmp_path / "whole.pgm").astype(int)


def test_displayed_area_is_that_part_of_dcmp2pgms_image(tmp_path):
    window = mid_window(CT)
    state = save(make_state(header(CT), window=window, area=((20, 10), (100, 90))), tmp_path / "pr.dcm")
    ours = render_file_with_state(CT, state).astype(int)
    # Columns 20-100 and rows 10-90, from 1 and inclusive.
    assert_close(ours, whole(CT, tmp_path, window)[9:90, 19:100])


def test_displayed_area_beyond_the_image_is_black(tmp_path):
    window = mid_window(CT)
    state = save(make_state(header(CT), window=window, area=((-9, 1), (140, 128))), tmp_path / "pr.dcm")
    ours = render_file_with_state(CT, state).astype(int)
    assert ours.shape == (128, 150)
    assert (ours[:, :10] == 0).all() and (ours[:, 138:] == 0).all()
    assert_close(ours[:, 10:138], whole(CT, tmp_path, window))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_displayed_area_then_rotation(rotation, tmp_path):
    window = mid_window(CT)
    # The corners as the standard writes them: the top left one after the rotation, in the image before it.
    corners = {90: ((20, 90), (100, 10)), 180: ((100, 90), (20, 10)), 270: ((100, 10), (20, 90))}[rotation]
    state = save(make_state(header(CT), window=window, area=corners, rotation=rotation, flip=False), tmp_path / "pr.dcm")
    ours = render_file_with_state(CT, state).astype(int)
    assert_close(ours, np.rot90(whole(CT, tmp_path, window)[9:90, 19:100], k=-rotation // 90))


def test_magnify_repeats_pixels(tmp_path):
    window = mid_window(CT)
    state = save(make_state(header(CT), window=window, area=((20, 10), (60, 50)), mode="MAGNIFY", magnification=2.0), tmp_path / "pr.dcm")
    ours = render_file_with_state(CT, state).astype(int)
    expected = np.repeat(np.repeat(whole(CT, tmp_path, window)[9:50, 19:60], 2, axis=0), 2, axis=1)
    assert_close(ours, expected)


def test_pixel_aspect_ratio_stretches_rows(tmp_path):
    window = mid_window(MR)
    state = save(make_state(header(MR), window=window, aspect=(2, 1)), tmp_path / "pr.dcm")
    ours = render_file_with_state(MR, state).astype(int)
    assert_close(ours, np.repeat(whole(MR, tmp_path, window), 2, axis=0))


# --------------------------------------------------------------------------- geometric shutters (dcmp2pgm does not draw them)


def polygon_inside(rows: int, columns: int, vertices: list[tuple[int, int]]) -> np.ndarray:
    """Pixel centres (row, column from 1) inside the polygon: even-odd ray casting."""
    r, c = np.mgrid[1 : rows + 1, 1 : columns + 1].astype(float)
    inside = np.zeros((rows, columns), dtype=bool)
    for (r1, c1), (r2, c2) in zip(vertices, vertices[1:] + vertices[:1], strict=True):
        crosses = (r1 > r) != (r2 > r)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = c1 + (r - r1) * (c2 - c1) / (r2 - r1)
        inside ^= crosses & (c < at)
    return inside


def settled(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 8 neighbours share their verdict: edge pixels are left out (drawing conventions differ)."""
    padded = np.pad(mask, 1, mode="edge")
    same = np.ones_like(mask)
    for dr in (0, 1, 2):
        for dc in (0, 1, 2):
            same &= padded[dr : dr + mask.shape[0], dc : dc + mask.shape[1]] == mask
    return same


@pytest.mark.parametrize("kind", ["rectangle", "circle", "polygon", "all"])
def test_geometric_shutters(kind, tmp_path):
    h = header(CT)
    rows, columns = int(h.Rows), int(h.Columns)
    r, c = np.mgrid[1 : rows + 1, 1 : columns + 1]
    shown = np.ones((rows, columns), dtype=bool)
    features: dict = {"window": mid_window(CT), "shutter_value": 32768}
    if kind in ("rectangle", "all"):
        features["rectangle"] = (20, 100, 10, 90)  # left, right, upper, lower
        shown &= (c >= 20) & (c <= 100) & (r >= 10) & (r <= 90)
    if kind in ("circle", "all"):
        features["circle"] = (64, 60, 40)  # centre row, column; radius
        shown &= (r - 64) ** 2 + (c - 60) ** 2 <= 40**2
    if kind in ("polygon", "all"):
        vertices = [(10, 10), (20, 110), (120, 60)]
        features["polygon"] = vertices
        shown &= polygon_inside(rows, columns, vertices)
    state = save(make_state(h, **features), tmp_path / "pr.dcm")
    ours, theirs = both(CT, state, tmp_path)
    sure = settled(shown)
    assert (ours[sure & ~shown] == 128).all()  # P-value 32768 of 65535
    assert np.abs(ours - theirs)[sure & shown].max() <= 1


# --------------------------------------------------------------------------- graphics and text (positions)


def burned(rgb: np.ndarray) -> np.ndarray:
    assert rgb.ndim == 3
    return rgb[..., 0].astype(int) - rgb[..., 1] > 40


def to_output(x: float, y: float, width: float, height: float, rotation: int, flip: bool) -> tuple[float, float]:
    """A point in PIXEL units of a width x height image after rotation (clockwise) then flip (C.10.6)."""
    if rotation == 90:
        x, y, width = height - y, x, height
    elif rotation == 180:
        x, y = width - x, height - y
    elif rotation == 270:
        x, y, width = y, width - x, height
    return (width - x if flip else x), y


@pytest.mark.parametrize("rotation, flip", [(0, False), (90, False), (180, True), (270, True)])
def test_pixel_unit_graphics_follow_the_transformation(rotation, flip, tmp_path):
    h = header(CT)
    line = [(10.5, 20.5), (100.5, 20.5)]  # along row 20 (from 0), columns 10 to 100
    circle = [(64.0, 80.0), (84.0, 80.0)]  # centre and a point 20 pixels away
    graphics = [graphic("PIXEL", "POLYLINE", line), graphic("PIXEL", "CIRCLE", circle)]
    state = save(
        make_state(h, window=mid_window(CT), rotation=rotation, flip=flip, annotations=[annotation(graphics)], layer_colour=RED_LAB),
        tmp_path / "pr.dcm",
    )
    ours = render_file_with_state(CT, state)
    theirs = dcmp2pgm(CT, state, tmp_path / "dcmtk.pgm").astype(int)
    drawn = burned(ours)
    assert np.abs(ours[~drawn][:, 0].astype(int) - theirs[~drawn]).max() <= 1  # the rest is dcmp2pgm's image
    rows, columns = np.nonzero(drawn)
    centres = np.stack([columns + 0.5, rows + 0.5], axis=1)
    ends = [to_output(x, y, 128, 128, rotation, flip) for x, y in line]
    centre = to_output(*circle[0], 128, 128, rotation, flip)
    # Every drawn pixel lies on the line segment or on the circle, within a pixel and a half (rasterising).
    (ax, ay), (bx, by) = ends
    t = np.clip(((centres[:, 0] - ax) * (bx - ax) + (centres[:, 1] - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
    to_line = np.hypot(centres[:, 0] - (ax + t * (bx - ax)), centres[:, 1] - (ay + t * (by - ay)))
    to_circle = np.abs(np.hypot(centres[:, 0] - centre[0], centres[:, 1] - centre[1]) - 20)
    assert (np.minimum(to_line, to_circle) <= 1.5).all()
    # And both are drawn whole: both ends of the line, and all around the circle.
    for x, y in ends:
        assert (np.hypot(centres[:, 0] - x, centres[:, 1] - y) <= 1.5).any()
    angles = np.degrees(np.arctan2(centres[to_circle <= 1, 1] - centre[1], centres[to_circle <= 1, 0] - centre[0]))
    assert len(np.unique((angles // 30).astype(int))) == 12


def test_display_unit_graphics_and_text_in_their_box(tmp_path):
    h = header(MR)
    window = mid_window(MR)
    shapes = [graphic("DISPLAY", "POLYLINE", [(0.25, 0.5), (0.75, 0.5)])]
    texts = [text("R", box=(0.05, 0.05, 0.3, 0.3), units="DISPLAY")]
    state = save(
        make_state(h, window=window, area=((11, 1), (50, 64)), annotations=[annotation(shapes, texts)], layer_colour=RED_LAB),
        tmp_path / "pr.dcm",
    )
    ours = render_file_with_state(MR, state)
    assert ours.shape[:2] == (64, 40)  # columns 11-50, rows 1-64
    drawn = burned(ours)
    rows, columns = np.nonzero(drawn)
    on_line = np.abs(rows + 0.5 - 32) <= 1
    assert columns[on_line].min() <= 10 + 1 and columns[on_line].max() >= 30 - 2  # 0.25 and 0.75 of 40
    text_pixels = ~on_line
    assert text_pixels.any()
    assert (columns[text_pixels] >= 2 - 1).all() and (columns[text_pixels] < 12 + 1).all()  # 0.05-0.3 of 40 columns
    assert (rows[text_pixels] >= 3 - 1).all() and (rows[text_pixels] < 19 + 1).all()  # 0.05-0.3 of 64 rows


def test_annotations_only_on_their_frame(tmp_path):
    h = header(MULTIFRAME)
    from pstate_files import reference

    only_two = annotation([graphic("PIXEL", "POLYLINE", [(5, 5), (40, 40)])], refs=[reference(h, [2])])
    state = save(make_state(h, annotations=[only_two], layer_colour=RED_LAB, frames=[1, 2]), tmp_path / "pr.dcm")
    assert burned(render_file_with_state(MULTIFRAME, state, 2)).sum() >= 30
    assert render_file_with_state(MULTIFRAME, state, 1).ndim == 2  # nothing to burn: grey
    theirs = dcmp2pgm(MULTIFRAME, state, tmp_path / "f1.pgm", 1).astype(int)
    assert_close(render_file_with_state(MULTIFRAME, state, 1).astype(int), theirs)


def test_ellipse_axes(tmp_path):
    h = header(CT)
    ellipse = graphic("PIXEL", "ELLIPSE", [(34.0, 64.0), (94.0, 64.0), (64.0, 49.0), (64.0, 79.0)])  # 30 x 15 half-axes
    state = save(make_state(h, window=mid_window(CT), annotations=[annotation([ellipse])], layer_colour=RED_LAB), tmp_path / "pr.dcm")
    rows, columns = np.nonzero(burned(render_file_with_state(CT, state)))
    x, y = columns + 0.5 - 64, rows + 0.5 - 64
    assert np.abs(np.hypot(x / 30, y / 15) - 1).max() <= 1.0 / 15 + 0.02
    assert math.isclose(x.min(), -30, abs_tol=1.0) and math.isclose(y.max(), 15, abs_tol=1.0)


# --------------------------------------------------------------------------- overlay planes of the state (C.11.7)


def dcmtk_overlay(image: Path, state: Path, tmp_path: Path) -> np.ndarray:
    """The activated overlay as dcmp2pgm writes it with -v: ovl_0101.pgm (layer 1, overlay 1), in the current folder,
    turned and flipped as the image is."""
    from PIL import Image

    folder = tmp_path / "dcmtk-overlays"
    folder.mkdir()
    subprocess.run(
        [dcmtk("dcmp2pgm"), "-v", "-p", str(state), str(image), "out.pgm"], check=True, capture_output=True, cwd=folder, timeout=60
    )
    return np.asarray(Image.open(folder / "ovl_0101.pgm")) > 0


@pytest.mark.parametrize("rotation, flip", [(0, False), (90, True)])
def test_overlay_planes_of_the_state_where_dcmp2pgm_puts_them(rotation, flip, tmp_path):
    h = header(CT)
    mask = np.zeros((128, 128), dtype=bool)
    mask[20:30, 10:100] = True
    mask[50:120, 60:62] = True
    ds = make_state(h, window=mid_window(CT), rotation=rotation, flip=flip)
    state = save(with_overlay(ds, mask), tmp_path / "pr.dcm")
    expected = dcmtk_overlay(CT, state, tmp_path)
    turned = np.rot90(mask, k=-rotation // 90)
    assert np.array_equal(expected, turned[:, ::-1] if flip else turned)  # dcmtk read the plane we wrote, and turned it
    ours = render_file_with_state(CT, state)
    assert np.array_equal(burned(ours), expected)
    theirs = dcmp2pgm(CT, state, tmp_path / "dcmtk.pgm").astype(int)
    assert np.abs(ours[~expected][:, 0].astype(int) - theirs[~expected]).max() <= 1


@pytest.mark.parametrize("closed", [True, False])
def test_interpolated_graphics_are_a_smooth_curve_through_their_points(closed, tmp_path):
    """Eight points on a circle of radius 30 (PIXEL units), drawn INTERPOLATED: the burned pixels lie on that circle
    (a uniform Catmull-Rom curve through them strays 0.26 at most, worked out with numpy), also midway between the
    points, where the polygon through them would cut 2.3 pixels inside it (30 cos 22.5 degrees = 27.7).
    The rest is dcmp2pgm's image."""
    angles = [2 * math.pi * i / 8 for i in range(9 if closed else 6)]
    on_circle = [(64 + 30 * math.cos(a), 64 + 30 * math.sin(a)) for a in angles]
    curve = graphic("PIXEL", "INTERPOLATED", on_circle)
    state = save(
        make_state(header(CT), window=mid_window(CT), annotations=[annotation([curve])], layer_colour=RED_LAB), tmp_path / "pr.dcm"
    )
    ours = render_file_with_state(CT, state)
    drawn = burned(ours)
    rows, columns = np.nonzero(drawn)
    radius = np.hypot(columns + 0.5 - 64, rows + 0.5 - 64)
    turned = np.degrees(np.arctan2(rows + 0.5 - 64, columns + 0.5 - 64)) % 360
    # An open curve's end segments follow the mirrored neighbours, not the circle: only those between inner points.
    inner = np.ones_like(drawn[drawn]) if closed else (turned >= 45) & (turned <= 180)
    assert np.abs(radius[inner] - 30).max() <= 1.6  # the line's own pixels, a pixel and a half either side
    midway = inner & (np.abs((turned - 22.5) % 45 - 22.5) >= 17.5)  # within 5 degrees of halfway between points
    assert midway.sum() > 10 and np.median(radius[midway]) > 29.3  # on the circle, not on the chord (27.7)
    # Whole: all round when closed; from the first point to the last (five eighths of the way) when open.
    sectors = set((turned // 30).astype(int).tolist())
    assert sectors == set(range(12)) if closed else set(range(8)) <= sectors and not sectors & {8, 9, 10}
    theirs = dcmp2pgm(CT, state, tmp_path / "dcmtk.pgm").astype(int)
    assert np.abs(ours[~drawn][:, 0].astype(int) - theirs[~drawn]).max() <= 1
