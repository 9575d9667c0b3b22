"""Grayscale Softcopy Presentation States for tests, written with pydicom from the standard's attributes (PS3.3 A.33.1).

Independent of the reader under test: every attribute is set here by its keyword.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

GSPS = "1.2.840.10008.5.1.4.1.1.11.1"


def dcmtk(tool: str) -> str | None:
    return shutil.which(tool)


def reference(image: Dataset, frames: list[int] | None = None) -> Dataset:
    ref = Dataset()
    ref.ReferencedSOPClassUID = image.SOPClassUID
    ref.ReferencedSOPInstanceUID = image.SOPInstanceUID
    if frames:
        ref.ReferencedFrameNumber = frames if len(frames) > 1 else frames[0]
    return ref


def make_state(
    image: Dataset,
    *,
    window: tuple[float, float] | None = None,
    shape: str = "IDENTITY",
    rotation: int | None = None,
    flip: bool | None = None,
    area: tuple[tuple[int, int], tuple[int, int]] | None = None,
    mode: str = "SCALE TO FIT",
    magnification: float | None = None,
    aspect: tuple[int, int] | None = None,
    rectangle: tuple[int, int, int, int] | None = None,
    circle: tuple[int, int, int] | None = None,
    polygon: list[tuple[int, int]] | None = None,
    bitmap: np.ndarray | None = None,
    shutter_value: int | None = None,
    annotations: list[Dataset] | None = None,
    layer_colour: list[int] | None = None,
    frames: list[int] | None = None,
    modality: bool = True,
    created: str = "20240102",
) -> Dataset:
    """A presentation state for `image` (its header) with the given features."""
    ds = Dataset()
    for keyword in (
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
    ):
        setattr(ds, keyword, image.get(keyword, ""))
    if not str(ds.PatientName):
        ds.PatientName = "^"
    ds.Modality = "PR"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 99
    ds.InstanceNumber = 1
    ds.Manufacturer = "tests"
    ds.ContentLabel = "TEST"
    ds.ContentDescription = "made by the tests"
    ds.PresentationCreationDate = created
    ds.PresentationCreationTime = "120000"
    ds.ContentCreatorName = ""
    series = Dataset()
    series.SeriesInstanceUID = image.SeriesInstanceUID
    series.ReferencedImageSequence = Sequence([reference(image, frames)])
    ds.ReferencedSeriesSequence = Sequence([series])
    rows, columns = int(image.Rows), int(image.Columns)
    item = Dataset()
    (c0, r0), (c1, r1) = area or ((1, 1), (columns, rows))
    item.DisplayedAreaTopLeftHandCorner = [c0, r0]
    item.DisplayedAreaBottomRightHandCorner = [c1, r1]
    item.PresentationSizeMode = mode
    if mode == "MAGNIFY":
        item.PresentationPixelMagnificationRatio = magnification or 1.0
    if aspect:
        item.PresentationPixelAspectRatio = list(aspect)
    else:
        item.PresentationPixelSpacing = [1, 1] if mode == "TRUE SIZE" else None
        if mode != "TRUE SIZE":
            del item.PresentationPixelSpacing
            item.PresentationPixelAspectRatio = [1, 1]
    ds.DisplayedAreaSelectionSequence = Sequence([item])
    if rotation is not None or flip is not None:
        # Both or neither (C.10.6, Type 1C together; dcmtk refuses one without the other).
        ds.ImageRotation = rotation or 0
        ds.ImageHorizontalFlip = "Y" if flip else "N"
    shapes = []
    if rectangle:
        shapes.append("RECTANGULAR")
        ds.ShutterLeftVerticalEdge, ds.ShutterRightVerticalEdge, ds.ShutterUpperHorizontalEdge, ds.ShutterLowerHorizontalEdge = rectangle
    if circle:
        shapes.append("CIRCULAR")
        ds.CenterOfCircularShutter = [circle[0], circle[1]]
        ds.RadiusOfCircularShutter = circle[2]
    if polygon:
        shapes.append("POLYGONAL")
        ds.VerticesOfThePolygonalShutter = [v for p in polygon for v in p]
    if shapes:
        ds.ShutterShape = shapes
        ds.ShutterPresentationValue = shutter_value or 0
    if bitmap is not None:
        ds.ShutterShape = "BITMAP"
        ds.ShutterOverlayGroup = 0x6000
        ds.ShutterPresentationValue = shutter_value or 0
        ds.add_new(0x60000010, "US", bitmap.shape[0])
        ds.add_new(0x60000011, "US", bitmap.shape[1])
        ds.add_new(0x60000040, "CS", "G")
        ds.add_new(0x60000050, "SS", [1, 1])
        ds.add_new(0x60000100, "US", 1)
        ds.add_new(0x60000102, "US", 0)
        bits = np.packbits(bitmap.astype(np.uint8).ravel(), bitorder="little").tobytes()
        ds.add_new(0x60003000, "OW", bits + (b"\0" if len(bits) % 2 else b""))
    if modality and "RescaleSlope" in image:
        ds.RescaleSlope = image.RescaleSlope
        ds.RescaleIntercept = image.RescaleIntercept
        ds.RescaleType = "HU" if image.get("Modality") == "CT" else "US"
    if window:
        voi = Dataset()
        voi.ReferencedImageSequence = Sequence([reference(image, frames)])
        voi.WindowCenter, voi.WindowWidth = window
        ds.SoftcopyVOILUTSequence = Sequence([voi])
    if annotations:
        layer = Dataset()
        layer.GraphicLayer = "LAYER1"
        layer.GraphicLayerOrder = 1
        layer.GraphicLayerRecommendedDisplayCIELabValue = layer_colour or [65535, 32896, 32896]  # white: L 100, a 0, b 0
        ds.GraphicLayerSequence = Sequence([layer])
        for annotation in annotations:
            annotation.GraphicLayer = "LAYER1"
            if "ReferencedImageSequence" not in annotation:
                annotation.ReferencedImageSequence = Sequence([reference(image, frames)])
        ds.GraphicAnnotationSequence = Sequence(annotations)
    ds.PresentationLUTShape = shape
    ds.SOPClassUID = GSPS
    ds.SOPInstanceUID = generate_uid()
    ds.SpecificCharacterSet = "ISO_IR 100"
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = GSPS
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def graphic(units: str, kind: str, points: list[tuple[float, float]], filled: bool = False) -> Dataset:
    item = Dataset()
    item.GraphicAnnotationUnits = units
    item.GraphicDimensions = 2
    item.NumberOfGraphicPoints = len(points)
    item.GraphicData = [v for p in points for v in p]
    item.GraphicType = kind
    item.GraphicFilled = "Y" if filled else "N"
    return item


def annotation(graphics: list[Dataset] = (), texts: list[Dataset] = (), refs: list[Dataset] | None = None) -> Dataset:
    item = Dataset()
    if refs is not None:
        item.ReferencedImageSequence = Sequence(refs)
    if graphics:
        item.GraphicObjectSequence = Sequence(list(graphics))
    if texts:
        item.TextObjectSequence = Sequence(list(texts))
    return item


def text(
    value: str, box: tuple[float, float, float, float] | None = None, anchor: tuple[float, float] | None = None, units: str = "PIXEL"
) -> Dataset:
    item = Dataset()
    item.UnformattedTextValue = value
    if box:
        item.BoundingBoxAnnotationUnits = units
        item.BoundingBoxTopLeftHandCorner = list(box[:2])
        item.BoundingBoxBottomRightHandCorner = list(box[2:])
        item.BoundingBoxTextHorizontalJustification = "LEFT"
    if anchor:
        item.AnchorPointAnnotationUnits = units
        item.AnchorPoint = list(anchor)
        item.AnchorPointVisibility = "N"
    return item


def with_overlay(ds: Dataset, mask: np.ndarray, origin=(1, 1), group: int = 0x6002, colour=(34733, 53199, 50050)) -> Dataset:
    """`ds` with an overlay plane in `group` put on the graphic layer LAYER1 by (60xx,1001) Overlay Activation Layer."""
    ds.add_new((group, 0x0010), "US", mask.shape[0])
    ds.add_new((group, 0x0011), "US", mask.shape[1])
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", list(origin))
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    bits = np.packbits(mask.astype(np.uint8).ravel(), bitorder="little").tobytes()
    ds.add_new((group, 0x3000), "OW", bits + (b"\0" if len(bits) % 2 else b""))
    ds.add_new((group, 0x1001), "CS", "LAYER1")
    layer = Dataset()
    layer.GraphicLayer = "LAYER1"
    layer.GraphicLayerOrder = 1
    layer.GraphicLayerRecommendedDisplayCIELabValue = list(colour)
    ds.GraphicLayerSequence = Sequence([layer])
    return ds


def dcmp2pgm(image: Path, state: Path, out: Path, frame: int = 1) -> np.ndarray:
    """dcmtk's rendering of `image` through `state` (an 8-bit PGM read back as uint8)."""
    from PIL import Image

    args = [dcmtk("dcmp2pgm"), "-p", str(state)] + (["-f", str(frame)] if frame != 1 else []) + [str(image), str(out)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return np.asarray(Image.open(out))


def lut_item(entries: int, first: int, bits: int, values: np.ndarray) -> Dataset:
    """A LUT item (C.11.1.1.1, C.11.2.1.1): (0028,3002) *LUT Descriptor* and (0028,3006) *LUT Data*."""
    item = Dataset()
    item.LUTDescriptor = [entries, first, bits]
    item.LUTData = np.asarray(values, dtype="<u2").tobytes()
    return item


def with_lut_sequences(ds: Dataset, image: Dataset, kind: str) -> Dataset:
    """`ds` (made by :func:`make_state`) given LUT sequences no image of the tests holds (curves, to tell them apart):

    - "modality+voi": a (0028,3000) *Modality LUT Sequence* (square root, 0-4095 in 16-bit entries) in place of the rescale,
      and a (0028,3110) *Softcopy VOI LUT Sequence* item holding a VOI LUT (a square, 12 bits out);
    - "presentation": a (2050,0010) *Presentation LUT Sequence* (a square root over 1024 entries, 10 bits).
    """
    if kind == "modality+voi":
        for keyword in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
            if keyword in ds:
                delattr(ds, keyword)
        modality = lut_item(4096, 0, 16, np.rint(np.sqrt(np.arange(4096) / 4095) * 4095))
        modality.ModalityLUTType = "US"
        ds.ModalityLUTSequence = Sequence([modality])
        voi = Dataset()
        voi.ReferencedImageSequence = Sequence([reference(image)])
        # 12 bits out: 8-bit entries are packed two to a word (C.11.2.1.1) by some writers and not by others.
        voi.VOILUTSequence = Sequence([lut_item(4096, 0, 12, np.rint((np.arange(4096) / 4095) ** 2 * 4095))])
        ds.SoftcopyVOILUTSequence = Sequence([voi])
    elif kind == "presentation":
        del ds.PresentationLUTShape
        ds.PresentationLUTSequence = Sequence([lut_item(1024, 0, 10, np.rint(np.sqrt(np.arange(1024) / 1023) * 1023))])
    return ds
