"""Grayscale Softcopy Presentation States read into the model (PS3.3 A.33.1): what they reference, hold, and refuse.

States come from dcmtk's ``dcmpsmk``, from :mod:`pstate_files` (pydicom, attribute by attribute) and from the
viewer's own writer of measurements (:mod:`viewer.core.measure.presentation_state`), whose output must display
through the reader: the round trip is checked against dcmtk's ``dcmp2pgm`` for the grey levels and against
the measured points for the graphics.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pstate_files import annotation, dcmp2pgm, dcmtk, graphic, make_state, reference, text
from pydicom.data import get_testdata_file
from pydicom.sequence import Sequence

from viewer.core.dicom.io import ViewerError
from viewer.core.documents.presentation_render import render_file_with_state, render_with_state
from viewer.core.documents.presentation_state import cielab_to_rgb, newest_first, read_presentation_state

CT = Path(get_testdata_file("CT_small.dcm", download=False))
MULTIFRAME = Path(get_testdata_file("emri_small.dcm", download=False))

needs_dcmtk = pytest.mark.skipif(not dcmtk("dcmp2pgm") or not dcmtk("dcmpsmk"), reason="dcmtk is not installed")


def header(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


@needs_dcmtk
def test_a_dcmpsmk_state(tmp_path):
    pr = tmp_path / "pr.dcm"
    subprocess.run([dcmtk("dcmpsmk"), str(CT), str(pr)], check=True, capture_output=True, timeout=60)
    state = read_presentation_state(pr)
    h = header(CT)
    assert state.applies_to(h.SOPInstanceUID) and not state.applies_to("1.2.3")
    assert state.label == "UNNAMED" and state.rotation == 0 and not state.flip and not state.shutters.any()
    assert state.voi_for(h.SOPInstanceUID) is None  # CT_small has no window: dcmpsmk writes none
    area = state.area_for(h.SOPInstanceUID)
    assert (area.top_left, area.bottom_right, area.mode) == ((1, 1), (128, 128), "SCALE TO FIT")
    assert float(state.modality.RescaleIntercept) == float(h.RescaleIntercept)


def test_everything_a_state_can_hold():
    h = header(MULTIFRAME)
    shapes = [graphic("PIXEL", "POLYLINE", [(1, 2), (3, 4)]), graphic("DISPLAY", "CIRCLE", [(0.5, 0.5), (0.6, 0.5)], filled=True)]
    texts = [text("hello\r\nworld", box=(1, 1, 20, 10)), text("there", anchor=(5, 6))]
    ds = make_state(
        h,
        window=(600, 1200),
        shape="INVERSE",
        rotation=270,
        flip=True,
        area=((1, 64), (64, 1)),
        mode="MAGNIFY",
        magnification=1.5,
        rectangle=(2, 60, 3, 61),
        circle=(32, 33, 20),
        polygon=[(1, 1), (1, 64), (64, 32)],
        shutter_value=65535,
        annotations=[annotation(shapes, texts, refs=[reference(h, [4])])],
        frames=[2, 4],
    )
    state = read_presentation_state(ds)
    uid = h.SOPInstanceUID
    assert [state.applies_to(uid, f) for f in (1, 2, 3, 4)] == [False, True, False, True]
    voi = state.voi_for(uid, 2)
    assert (voi.center, voi.width, voi.function) == (600, 1200, "LINEAR") and state.voi_for(uid, 1) is None
    assert state.presentation_lut_shape == "INVERSE" and (state.rotation, state.flip) == (270, True)
    area = state.area_for(uid, 4)
    assert area.bounds() == (0, 0, 64, 64) and area.mode == "MAGNIFY" and area.magnification == 1.5
    s = state.shutters
    assert s.rectangle == (2, 60, 3, 61) and s.circle == (32, 33, 20) and s.polygon == ((1, 1), (1, 64), (64, 32))
    assert s.value == 65535 and s.bitmap is None
    assert state.annotations_for(uid, 2) == []
    [(layer, found)] = state.annotations_for(uid, 4)
    assert layer.name == "LAYER1" and layer.rgb() == (255, 255, 255)
    assert [(g.units, g.kind, g.filled) for g in found.graphics] == [("PIXEL", "POLYLINE", False), ("DISPLAY", "CIRCLE", True)]
    assert found.graphics[0].points == ((1, 2), (3, 4))
    assert found.texts[0].text == "hello\nworld" and found.texts[0].box == (1, 1, 20, 10)
    assert found.texts[1].anchor == (5, 6) and found.texts[1].box is None
    assert state.title().startswith("TEST · made by the tests · 2024-01-02")


def test_cielab_colours():
    # DICOM's scaled CIELab (PS3.3 C.10.7.1.1): L* 0-100 -> 0-65535, a*, b* -128..127 -> 0-65535.
    assert cielab_to_rgb((65535, 32896, 32896)) == (255, 255, 255)
    assert cielab_to_rgb((0, 32896, 32896)) == (0, 0, 0)
    red = cielab_to_rgb((34733, 53199, 50050))  # sRGB red is L 53.2, a 80.1, b 67.2
    assert red[0] >= 250 and red[1] <= 10 and red[2] <= 10


def test_newest_first():
    h = header(CT)
    states = [read_presentation_state(make_state(h, created=d)) for d in ("20200101", "20240101", "20220101")]
    assert [s.created[:8] for s in newest_first(states)] == ["20240101", "20220101", "20200101"]


def damaged(ds: pydicom.Dataset, change) -> pydicom.Dataset:
    change(ds)
    return ds


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda ds: setattr(ds, "SOPClassUID", "1.2.840.10008.5.1.4.1.1.2"), "is not a Grayscale Softcopy Presentation State"),
        (lambda ds: delattr(ds, "ReferencedSeriesSequence"), "references no image"),
        (lambda ds: setattr(ds, "ImageRotation", 45), "Image Rotation 45"),
        (lambda ds: setattr(ds, "PresentationLUTShape", "LOG"), "Presentation LUT Shape LOG"),
        (lambda ds: setattr(ds.DisplayedAreaSelectionSequence[0], "DisplayedAreaTopLeftHandCorner", [1]), "damaged"),
        (lambda ds: setattr(ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0], "GraphicType", "SPLINE"), "Graphic Type SPLINE"),
        (lambda ds: setattr(ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0], "GraphicData", [1, 2, 3]), "odd number"),
        (lambda ds: setattr(ds, "ShutterShape", "CIRCULAR"), "damaged"),  # no centre, no radius
        (lambda ds: setattr(ds, "VerticesOfThePolygonalShutter", [1, 2]), "damaged"),
        (lambda ds: setattr(ds.SoftcopyVOILUTSequence[0], "WindowCenter", None), "neither a window nor a VOI LUT"),
    ],
)
def test_damaged_states_end_in_one_line(change, message):
    h = header(CT)
    ds = make_state(
        h, window=(40, 400), polygon=[(1, 1), (1, 50), (50, 1)], annotations=[annotation([graphic("PIXEL", "POINT", [(3, 3)])])]
    )
    with pytest.raises(ViewerError, match=message) as caught:
        read_presentation_state(damaged(ds, change))
    assert "\n" not in str(caught.value)


def test_damaged_files_end_in_one_line(tmp_path):
    h = header(CT)
    good = tmp_path / "pr.dcm"
    make_state(h, window=(40, 400)).save_as(good, enforce_file_format=True)
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(good.read_bytes()[:400])
    for path in (cut, tmp_path / "missing.dcm", CT):
        with pytest.raises(ViewerError) as caught:
            read_presentation_state(path)
        assert "\n" not in str(caught.value) and path.name in str(caught.value)


def test_a_state_for_another_image_or_frame_is_refused(tmp_path):
    h = header(MULTIFRAME)
    pr = tmp_path / "pr.dcm"
    make_state(h, frames=[2]).save_as(pr, enforce_file_format=True)
    with pytest.raises(ViewerError, match=r"does not reference this image \(frame 1\)"):
        render_file_with_state(MULTIFRAME, pr, 1)
    with pytest.raises(ViewerError, match="does not reference this image"):
        render_file_with_state(CT, pr, 1)
    image = pydicom.dcmread(get_testdata_file("US1_UNCI.dcm", download=False))
    state = read_presentation_state(make_state(image))
    with pytest.raises(ViewerError, match="greyscale"):
        render_with_state(image.pixel_array, image, state)


# --------------------------------------------------------------------------- the viewer's own measurements, read back


@needs_dcmtk
@pytest.mark.parametrize("image, frame", [(CT, 1), (MULTIFRAME, 3)], ids=["CT", "multiframe"])
def test_the_viewers_measurement_states_display_through_the_reader(image, frame, tmp_path):
    from viewer.core.display.pixels.pipeline import Window, frame_context
    from viewer.core.measure.geometry import Shape
    from viewer.core.measure.measure import measure
    from viewer.core.measure.presentation_state import presentation_state, write_presentation_state

    ds = pydicom.dcmread(image)
    ctx = frame_context(ds, frame - 1)
    shapes = [Shape("line", ((10, 10), (50, 40))), Shape.ellipse(32, 30, 12, 8), Shape("point", ((20, 50),))]
    stored = ds.pixel_array[frame - 1] if int(ds.get("NumberOfFrames", 1) or 1) > 1 else ds.pixel_array
    measurements = [measure(shape, ctx, stored) for shape in shapes]
    pr = write_presentation_state(presentation_state(ds, measurements, Window(600, 1200), frame=frame), tmp_path)
    state = read_presentation_state(pr)
    assert state.applies_to(ds.SOPInstanceUID, frame)
    [(layer, line), *_] = state.annotations_for(ds.SOPInstanceUID, frame)
    assert layer.name == "MEASUREMENTS" and line.graphics[0].points == ((10.5, 10.5), (50.5, 40.5))
    assert line.texts[0].text == measurements[0].label()
    ours = render_file_with_state(image, pr, frame)
    theirs = dcmp2pgm(image, pr, tmp_path / "dcmtk.pgm", frame).astype(int)
    assert ours.shape[:2] == theirs.shape
    # The layer's pale yellow (text anti-aliased on the grey): wherever a pixel is not grey; elsewhere dcmp2pgm's grey.
    drawn = ours.max(axis=2) != ours.min(axis=2)
    near = np.zeros_like(drawn)  # a faint anti-aliased edge of a letter may round to grey: two pixels around are left out
    for dr in range(-2, 3):
        for dc in range(-2, 3):
            near |= np.roll(np.roll(drawn, dr, axis=0), dc, axis=1)
    assert np.abs(ours[~near][:, 0].astype(int) - theirs[~near]).max() <= 1
    # The line's pixels, from (10, 10) to (50, 40) (centres), are drawn.
    for t in np.linspace(0, 1, 9):
        x, y = 10 + 40 * t, 10 + 30 * t
        spot = drawn[max(int(round(y)) - 1, 0) : int(round(y)) + 2, max(int(round(x)) - 1, 0) : int(round(x)) + 2]
        assert spot.any()


def test_text_on_a_frame_reference_list(tmp_path):
    # (0008,1160) Referenced Frame Number with several values.
    h = header(MULTIFRAME)
    ds = make_state(h, frames=[1, 5, 7])
    ds.ReferencedSeriesSequence[0].ReferencedImageSequence = Sequence([reference(h, [1, 5, 7])])
    state = read_presentation_state(ds)
    assert [f for f in range(1, 11) if state.applies_to(h.SOPInstanceUID, f)] == [1, 5, 7]


@pytest.mark.parametrize("rotation", [0, 90, 180, 270])
@pytest.mark.parametrize("flip", [False, True])
def test_spatial_affine_moves_pixels_as_numpy_turns_them(rotation, flip):
    from viewer.core.documents.presentation_render import spatial_affine

    rows, columns = 3, 5
    image = np.arange(rows * columns).reshape(rows, columns)
    turned = np.rot90(image, k=-rotation // 90)  # clockwise
    if flip:
        turned = turned[:, ::-1]
    m11, m12, m21, m22, dx, dy = spatial_affine(rotation, flip, columns, rows)
    for r in range(rows):
        for c in range(columns):
            x, y = c + 0.5, r + 0.5  # the pixel's centre in PIXEL units
            tx, ty = m11 * x + m21 * y + dx, m12 * x + m22 * y + dy
            assert turned[int(ty), int(tx)] == image[r, c]


def test_the_index_finds_states_by_image_newest_first(tmp_path):
    from viewer.core.documents.presentation_state import PresentationStateIndex, read_presentation_states

    h = header(CT)
    paths = []
    for name, created in (("a.dcm", "20200101"), ("b.dcm", "20240101")):
        make_state(h, created=created).save_as(tmp_path / name, enforce_file_format=True)
        paths.append(tmp_path / name)
    bad = make_state(h)
    bad.ImageRotation, bad.ImageHorizontalFlip = 45, "N"
    bad.save_as(tmp_path / "bad.dcm", enforce_file_format=True)
    states, problems = read_presentation_states([*paths, tmp_path / "bad.dcm", CT])
    assert [str(p) for p in problems] == ["bad.dcm: the presentation state is damaged: Image Rotation 45 is not 0, 90, 180 or 270"]
    index = PresentationStateIndex()
    assert all(index.add(s) for s in states) and not index.add(states[0]) and len(index) == 2
    assert [s.path.name for s in index.states_for(h.SOPInstanceUID)] == ["b.dcm", "a.dcm"]
    assert index.states_for("1.2.3") == []
