"""Measurements saved as a Grayscale Softcopy Presentation State: dcmtk accepts it, renders with it, and it reads back.

``dcmpschk`` (dcmtk) checks the file against the GSPS IOD (PS3.3 A.33.1);
``dcmp2pgm -p`` renders the image through it, which must give what the
viewer shows with the same window (PS3.3 C.11.2.1.2 for the VOI, dcmtk's
rendering of the referenced frame, within one grey level).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from measure_files import write_image
from pydicom.data import get_testdata_file

from viewer.core.display.pixels.pipeline import FrameDisplay, Window, frame_context
from viewer.core.measure.geometry import Shape
from viewer.core.measure.measure import measure
from viewer.core.measure.presentation_state import GSPS_SOP_CLASS, presentation_state, write_presentation_state

CT = get_testdata_file("CT_small.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)

needs_dcmtk = pytest.mark.skipif(not shutil.which("dcmpschk") or not shutil.which("dcmp2pgm"), reason="dcmtk is not installed")


def shapes():
    return [
        Shape("line", ((10, 10), (40.5, 50.25))),
        Shape("polyline", ((5, 5), (20, 5), (20, 30))),
        Shape("angle", ((60, 10), (50, 20), (70, 25))),
        Shape("cobb", ((5, 60), (40, 65), (5, 90), (40, 80))),
        Shape("point", ((64, 64),)),
        Shape.ellipse(80.5, 70.25, 20, 12),
        Shape.ellipse(30, 100, 5, 15),
        Shape("rectangle", ((90, 90), (120, 110))),
        Shape("polygon", ((100, 20), (120, 30), (110, 50))),
        Shape("freehand", ((60, 100), (64, 96), (70, 100), (66, 110))),
        Shape("arrow", ((64, 40), (90, 10)), "look here"),
    ]


def check_with_dcmtk(pr_path):
    result = subprocess.run(["dcmpschk", "-v", str(pr_path)], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Test passed" in output, output
    assert not [line for line in output.splitlines() if line.startswith(("E:", "F:"))], output


def render_with_dcmtk(tmp_path, image_path, pr_path, frame=1) -> np.ndarray:
    out = tmp_path / "rendered.pgm"
    subprocess.run(
        ["dcmp2pgm", "-p", str(pr_path), "-f", str(frame), str(image_path), str(out)], check=True, capture_output=True, timeout=60
    )
    from PIL import Image

    return np.asarray(Image.open(out))


@needs_dcmtk
def test_ct_measurements_as_gsps(tmp_path):
    ds = pydicom.dcmread(CT)
    measurements = [measure(shape, ds, ds.pixel_array) for shape in shapes()]
    window = Window(40, 400)
    pr = write_presentation_state(presentation_state(ds, measurements, window, content_label="Nodule 1"), tmp_path / "pr")
    check_with_dcmtk(pr)
    back = pydicom.dcmread(pr)
    assert back.SOPClassUID == GSPS_SOP_CLASS and back.Modality == "PR" and back.ContentLabel == "NODULE_1"
    assert back.SOPInstanceUID != ds.SOPInstanceUID and back.SeriesInstanceUID != ds.SeriesInstanceUID
    assert back.StudyInstanceUID == ds.StudyInstanceUID and back.PatientID == ds.PatientID
    reference = back.ReferencedSeriesSequence[0]
    assert reference.SeriesInstanceUID == ds.SeriesInstanceUID
    assert reference.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.SOPInstanceUID
    assert (float(back.SoftcopyVOILUTSequence[0].WindowCenter), float(back.SoftcopyVOILUTSequence[0].WindowWidth)) == (40, 400)
    assert back.PresentationLUTShape == "IDENTITY" and float(back.RescaleIntercept) == float(ds.RescaleIntercept)
    area = back.DisplayedAreaSelectionSequence[0]
    assert list(area.DisplayedAreaBottomRightHandCorner) == [ds.Columns, ds.Rows]
    annotations = back.GraphicAnnotationSequence
    assert len(annotations) == len(measurements)
    # PIXEL units: (0, 0) is the top left corner of the top left pixel, so pixel centres sit at +0.5 (PS3.3 C.10.5.1.2).
    line = annotations[0].GraphicObjectSequence[0]
    assert line.GraphicType == "POLYLINE" and line.GraphicAnnotationUnits == "PIXEL"
    assert [float(v) for v in line.GraphicData] == [10.5, 10.5, 41.0, 50.75]
    ellipse = annotations[5].GraphicObjectSequence[0]
    assert ellipse.GraphicType == "ELLIPSE"
    assert [float(v) for v in ellipse.GraphicData] == [61.0, 70.75, 101.0, 70.75, 81.0, 58.75, 81.0, 82.75]
    tall = annotations[6].GraphicObjectSequence[0]  # major axis (vertical) first
    assert [float(v) for v in tall.GraphicData][:4] == [30.5, 85.5, 30.5, 115.5]
    assert annotations[4].GraphicObjectSequence[0].GraphicType == "POINT"
    text = annotations[0].TextObjectSequence[0].UnformattedTextValue
    assert text == measurements[0].label() and "mm" in text
    assert "HU" in annotations[5].TextObjectSequence[0].UnformattedTextValue
    assert annotations[10].TextObjectSequence[0].UnformattedTextValue == "look here"
    # dcmtk renders the image through it as the viewer shows it with that window.
    rendered = render_with_dcmtk(tmp_path, CT, pr)
    ours = FrameDisplay(ds.pixel_array, ds).render(window)
    assert rendered.shape == ours.shape and np.abs(rendered.astype(int) - ours).max() <= 1


@needs_dcmtk
def test_multiframe_references_its_frame(tmp_path):
    ds = pydicom.dcmread(MR_MULTIFRAME)
    ctx = frame_context(ds, 2)
    measurements = [measure(Shape("line", ((10, 10), (50, 40))), ctx)]
    pr = write_presentation_state(presentation_state(ds, measurements, Window(600, 1200), frame=3), tmp_path)
    check_with_dcmtk(pr)
    back = pydicom.dcmread(pr)
    assert back.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedFrameNumber == 3
    assert back.GraphicAnnotationSequence[0].ReferencedImageSequence[0].ReferencedFrameNumber == 3
    rendered = render_with_dcmtk(tmp_path, MR_MULTIFRAME, pr, frame=3)
    ours = FrameDisplay(ds.pixel_array[2], ctx).render(Window(600, 1200))
    assert np.abs(rendered.astype(int) - ours).max() <= 1


@needs_dcmtk
def test_monochrome1_keeps_its_look_and_uncalibrated_says_so(tmp_path):
    pixels = (np.arange(64 * 80) % 1000).reshape(64, 80).astype(np.uint16)
    path = write_image(tmp_path / "cr.dcm", "OT", pixels, PhotometricInterpretation="MONOCHROME1")
    ds = pydicom.dcmread(path)
    measurements = [measure(Shape("line", ((1, 1), (30, 40))), ds)]
    assert "uncalibrated" in measurements[0].label()
    pr = write_presentation_state(presentation_state(ds, measurements, Window(500, 1000)), tmp_path / "pr")
    check_with_dcmtk(pr)
    back = pydicom.dcmread(pr)
    assert back.PresentationLUTShape == "INVERSE" and "PresentationPixelAspectRatio" in back.DisplayedAreaSelectionSequence[0]
    assert "uncalibrated" in back.GraphicAnnotationSequence[0].TextObjectSequence[0].UnformattedTextValue
    rendered = render_with_dcmtk(tmp_path, path, pr)
    ours = FrameDisplay(ds.pixel_array, ds).render(Window(500, 1000))  # MONOCHROME1: low values white
    assert np.abs(rendered.astype(int) - ours).max() <= 1


def test_colour_images_are_refused_in_one_line():
    from viewer.core.dicom.io import ViewerError

    ds = pydicom.dcmread(get_testdata_file("US1_UNCI.dcm", download=False))
    with pytest.raises(ViewerError, match="for greyscale images; this one is RGB"):
        presentation_state(ds, [measure(Shape("line", ((0, 0), (3, 4))), ds)])
