"""Measurements saved as a DICOM Grayscale Softcopy Presentation State (PS3.3 A.33.1), for this and other viewers.

The presentation state references the measured image (and frame) and holds:

- **Graphic Annotation** (PS3.3 C.10.5): per measurement, its outline as
  graphic objects (POLYLINE, ELLIPSE or POINT, (0070,0005) *Graphic
  Annotation Units* PIXEL) and its readings as a text object anchored beside
  it, on one graphic layer (C.10.7) "MEASUREMENTS";
- **Displayed Area** (C.10.4): the whole image, scaled to fit;
- **Softcopy VOI LUT** (C.11.8): the window the user is looking at;
- **Softcopy Presentation LUT** (C.11.6): IDENTITY, or INVERSE for a
  MONOCHROME1 image (a presentation state's output is P-values, where
  higher is brighter, PS3.3 C.11.6.1), so the image looks as it does now;
- **Modality LUT** (C.11.1) copied from the image when it has one, as the IOD
  requires;
- new Study-level references, a new Series and SOP Instance UID, (0070,0080)
  *Content Label* and (0070,0081) *Content Description*.

Coordinates: PIXEL units put (0, 0) at the top left corner of the top left
pixel (PS3.3 C.10.5.1.2), so an image point (column, row), pixel centres at
whole numbers, is written as (column + 0.5, row + 0.5).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.pipeline import Window
from viewer.core.measure import geometry as g
from viewer.core.measure.measure import Measurement

#: (0008,0016) Grayscale Softcopy Presentation State Storage (PS3.4 B.5).
GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"
LAYER = "MEASUREMENTS"
#: Pale yellow in CIELab scaled to 0-65535 (PS3.3 C.10.7.1.1), the usual annotation colour.
LAYER_COLOUR = [61593, 26472, 45764]
_PIXEL_OFFSET = 0.5

_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
    "StudyDescription",
)


def _pixel(point: g.Point) -> list[float]:
    return [point[0] + _PIXEL_OFFSET, point[1] + _PIXEL_OFFSET]


def _graphic(kind: str, points: Sequence[g.Point]) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = "PIXEL"
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(points)
    item.GraphicData = [round(v, 4) for p in points for v in _pixel(p)]
    item.GraphicType = kind
    item.GraphicFilled = "N"
    return item


def _graphics(shape: g.Shape) -> list[Dataset]:
    """The graphic objects drawing `shape` (C.10.5.1.2: POLYLINE, ELLIPSE, POINT)."""
    points = list(shape.points)
    if shape.tool == g.POINT:
        return [_graphic("POINT", points)]
    if shape.tool == g.ELLIPSE:
        x0, y0, x1, y1 = shape.box()
        cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
        horizontal = [(cx - rx, cy), (cx + rx, cy)]
        vertical = [(cx, cy - ry), (cx, cy + ry)]
        # The major axis's ends first, then the minor axis's (C.10.5.1.2).
        return [_graphic("ELLIPSE", horizontal + vertical if rx >= ry else vertical + horizontal)]
    if shape.tool == g.RECTANGLE:
        x0, y0, x1, y1 = shape.box()
        return [_graphic("POLYLINE", [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])]
    if shape.tool in (g.POLYGON, g.FREEHAND):
        return [_graphic("POLYLINE", points + [points[0]])]
    if shape.tool == g.COBB:
        return [_graphic("POLYLINE", points[:2]), _graphic("POLYLINE", points[2:])]
    if shape.tool == g.ARROW:
        return [_graphic("POLYLINE", points)] + _arrow_head(points[0], points[1])
    return [_graphic("POLYLINE", points)]


def _arrow_head(tip: g.Point, tail: g.Point) -> list[Dataset]:
    """Two short strokes at `tip` (the point the arrow shows)."""
    import math

    dx, dy = tail[0] - tip[0], tail[1] - tip[1]
    length = math.hypot(dx, dy)
    if length == 0:
        return []
    size = min(10.0, length / 3)
    ux, uy = dx / length * size, dy / length * size
    strokes = []
    for turn in (math.radians(25), -math.radians(25)):
        c, s = math.cos(turn), math.sin(turn)
        strokes.append(_graphic("POLYLINE", [tip, (tip[0] + ux * c - uy * s, tip[1] + ux * s + uy * c)]))
    return strokes


def _text(measurement: Measurement, rows: int, columns: int) -> Dataset | None:
    label = measurement.label()
    if not label:
        return None
    x0, y0, x1, y1 = measurement.shape.box()
    item = Dataset()
    item.AnchorPointAnnotationUnits = "PIXEL"
    item.UnformattedTextValue = label.replace("\n", "\r\n")[:1024]
    # Beside the shape's top right corner, kept on the image (viewers clip text anchored off it).
    anchor = _pixel((min(max(x1 + 4, 0.0), columns - 1.0), min(max(y0, 0.0), rows - 1.0)))
    item.AnchorPoint = [round(v, 4) for v in anchor]
    item.AnchorPointVisibility = "N"
    return item


def _now() -> tuple[str, str]:
    now = datetime.datetime.now()
    return now.strftime("%Y%m%d"), now.strftime("%H%M%S")


def presentation_state(
    image: Dataset,
    measurements: Sequence[Measurement],
    window: Window | None = None,
    frame: int = 1,
    content_label: str = "MEASUREMENTS",
    description: str = "Measurements made with dicom-viewer",
    creator: str = "",
) -> Dataset:
    """A GSPS dataset showing `measurements` on frame `frame` (from 1) of `image` (its header) with `window`.

    `content_label` is made a valid (0070,0080) Content Label (CS: upper
    case, digits, underscore, at most 16 characters). An empty (0010,0010)
    *Patient Name* is written "^" (still empty; see below). ViewerError for
    a colour image (its presentation state would be a Color Softcopy one). ViewerError for an
    image that cannot be referenced (no SOP Class or Instance UID).
    """
    photometric = str(image.get("PhotometricInterpretation", "") or "").strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ViewerError(f"a Grayscale Softcopy Presentation State is for greyscale images; this one is {photometric or 'not an image'}")
    for keyword in ("SOPClassUID", "SOPInstanceUID", "SeriesInstanceUID", "StudyInstanceUID"):
        if not str(image.get(keyword, "") or "").strip():
            raise ViewerError(f"cannot save a presentation state: the image has no {keyword}")
    date, time = _now()
    ds = Dataset()
    # Patient and General Study (C.7.1.1, C.7.2.1): the image's, so the state files with its study.
    for keyword in _PATIENT_STUDY:
        setattr(ds, keyword, image.get(keyword, ""))
    if not str(ds.PatientName).strip():
        # Type 2 may be empty, but dcmtk (dcmpschk, and viewers built on it) refuses a presentation state without a
        # name: "^" is a name whose family and given names are both empty (PS3.5 6.2.1), the same empty name.
        ds.PatientName = "^"
    # General Series and Presentation Series (C.7.3.1, C.11.9): a new series of modality PR.
    ds.Modality = "PR"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 9901
    ds.SeriesDescription = "dicom-viewer measurements"
    # General Equipment (C.7.5.1).
    ds.Manufacturer = "dicom-viewer"
    # Presentation State Identification (C.11.10).
    ds.InstanceNumber = 1
    ds.ContentLabel = (re.sub(r"[^A-Z0-9_]", "_", content_label.strip().upper()) or "MEASUREMENTS")[:16]
    ds.ContentDescription = description[:64]
    ds.PresentationCreationDate, ds.PresentationCreationTime = date, time
    ds.ContentCreatorName = creator
    ds.ContentDate, ds.ContentTime = date, time
    # Presentation State Relationship (C.11.11): the measured image and frame.
    reference = Dataset()
    reference.ReferencedSOPClassUID = image.SOPClassUID
    reference.ReferencedSOPInstanceUID = image.SOPInstanceUID
    frames = int(image.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        reference.ReferencedFrameNumber = frame
    series = Dataset()
    series.SeriesInstanceUID = image.SeriesInstanceUID
    series.ReferencedImageSequence = DicomSequence([reference])
    ds.ReferencedSeriesSequence = DicomSequence([series])
    # Displayed Area (C.10.4): the whole image, scaled to fit the viewport.
    area = Dataset()
    area.DisplayedAreaTopLeftHandCorner = [1, 1]
    area.DisplayedAreaBottomRightHandCorner = [int(image.Columns), int(image.Rows)]
    area.PresentationSizeMode = "SCALE TO FIT"
    spacing = image.get("PixelSpacing") or image.get("ImagerPixelSpacing")
    if spacing and len(spacing) == 2 and float(spacing[0]) > 0 and float(spacing[1]) > 0:
        area.PresentationPixelSpacing = [spacing[0], spacing[1]]
    else:
        ratio = image.get("PixelAspectRatio")
        area.PresentationPixelAspectRatio = [int(ratio[0]), int(ratio[1])] if ratio and len(ratio) == 2 else [1, 1]
    ds.DisplayedAreaSelectionSequence = DicomSequence([area])
    # Graphic Layer (C.10.7) and Graphic Annotation (C.10.5).
    layer = Dataset()
    layer.GraphicLayer = LAYER
    layer.GraphicLayerOrder = 1
    layer.GraphicLayerRecommendedDisplayCIELabValue = LAYER_COLOUR
    layer.GraphicLayerDescription = "Measurements"
    ds.GraphicLayerSequence = DicomSequence([layer])
    annotations = []
    for measurement in measurements:
        annotation = Dataset()
        annotation.ReferencedImageSequence = DicomSequence([reference])
        annotation.GraphicLayer = LAYER
        text = _text(measurement, int(image.Rows), int(image.Columns))
        if text is not None:
            annotation.TextObjectSequence = DicomSequence([text])
        annotation.GraphicObjectSequence = DicomSequence(_graphics(measurement.shape))
        annotations.append(annotation)
    if annotations:
        ds.GraphicAnnotationSequence = DicomSequence(annotations)
    # Modality LUT (C.11.1): required when the image has one; the window below is in its output units.
    if "RescaleSlope" in image and "RescaleIntercept" in image:
        ds.RescaleIntercept = image.RescaleIntercept
        ds.RescaleSlope = image.RescaleSlope
        ds.RescaleType = str(image.get("RescaleType", "") or "") or ("HU" if str(image.get("Modality", "")) == "CT" else "US")
    elif image.get("ModalityLUTSequence"):
        ds.ModalityLUTSequence = image.ModalityLUTSequence
    # Softcopy VOI LUT (C.11.8): the window on screen.
    if window is not None:
        voi = Dataset()
        voi.ReferencedImageSequence = DicomSequence([reference])
        voi.WindowCenter = f"{window.center:.6g}"
        voi.WindowWidth = f"{max(window.width, 1.0):.6g}"
        if window.function and window.function != "LINEAR":
            voi.VOILUTFunction = window.function
        ds.SoftcopyVOILUTSequence = DicomSequence([voi])
    # Softcopy Presentation LUT (C.11.6).
    monochrome1 = str(image.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"
    ds.PresentationLUTShape = "INVERSE" if monochrome1 else "IDENTITY"
    # SOP Common (C.12.1).
    ds.SOPClassUID = GSPS_SOP_CLASS
    ds.SOPInstanceUID = generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def write_presentation_state(ds: Dataset, folder: Path) -> Path:
    """Write `ds` as ``PR_<SOP Instance UID>.dcm`` in `folder` (made if missing); its path. ViewerError when it cannot be written."""
    folder = Path(folder)
    path = folder / f"PR_{ds.SOPInstanceUID}.dcm"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
    except OSError as exc:
        raise ViewerError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
