"""A Grayscale Softcopy Presentation State read into a model (PS3.3 A.33.1), Qt-free.

A presentation state (Modality PR) says how other images are to be shown:

- which images and frames it applies to: (0008,1115) *Referenced Series
  Sequence* > (0008,1140) *Referenced Image Sequence*, with (0008,1160)
  *Referenced Frame Number* (C.11.11, Presentation State Relationship);
- the grey-level pipeline: Modality LUT (C.11.1), Softcopy VOI LUT (C.11.8,
  per image), Softcopy Presentation LUT (C.11.6: (2050,0020) *Presentation
  LUT Shape* or a LUT);
- the geometry: Displayed Area (C.10.4, per image: the corners, (0070,0100)
  *Presentation Size Mode*, pixel spacing or aspect ratio, magnification)
  and Spatial Transformation (C.10.6: (0070,0042) *Image Rotation*,
  (0070,0041) *Image Horizontal Flip*);
- shutters (C.7.6.11 Display Shutter, C.7.6.15 Bitmap Display Shutter):
  rectangular, circular, polygonal and an overlay plane of the state, with
  (0018,1622) *Shutter Presentation Value*;
- graphic layers (C.10.7) and annotations (C.10.5): graphic objects and
  text objects in PIXEL or DISPLAY units, per image and per frame, and the
  state's own overlay planes put on a layer by (60xx,1001) *Overlay
  Activation Layer* (C.11.7; overlays of the image itself are not read here).

:func:`read_presentation_state` turns a dataset into a :class:`PresentationState`;
anything damaged ends in one :class:`ViewerError` line. The rendering is
:mod:`viewer.core.documents.presentation_render`.

Coordinates are kept as the standard writes them. PIXEL units: (0, 0) is the
top left corner of the top left pixel and (Columns, Rows) the bottom right
corner of the bottom right one (C.10.5.1.2), so the centre of pixel
(column c, row r), counted from 0, is (c + 0.5, r + 0.5). DISPLAY units:
fractions of the displayed area after the spatial transformation, (0, 0)
its top left and (1, 1) its bottom right corner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError

#: (0008,0016) Grayscale Softcopy Presentation State Storage (PS3.4 B.5).
GSPS_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.11.1"

#: Graphic Types this reader draws (C.10.5.1.2).
GRAPHIC_TYPES = ("POINT", "POLYLINE", "INTERPOLATED", "CIRCLE", "ELLIPSE")

Point = tuple[float, float]


@dataclass(frozen=True)
class ImageReference:
    """One referenced image: (0008,1155) *Referenced SOP Instance UID* and its (0008,1160) frames (empty: all)."""

    sop_instance_uid: str
    frames: tuple[int, ...] = ()

    def covers(self, sop_instance_uid: str, frame: int) -> bool:
        """Whether this reference names frame `frame` (from 1) of the image `sop_instance_uid`."""
        return self.sop_instance_uid == sop_instance_uid and (not self.frames or frame in self.frames)


def _covered(references: tuple[ImageReference, ...], sop_instance_uid: str, frame: int) -> bool:
    """An item without (0008,1140) *Referenced Image Sequence* applies to every image of the state (C.10.4, C.10.5, C.11.8)."""
    return not references or any(r.covers(sop_instance_uid, frame) for r in references)


@dataclass(frozen=True)
class GraphicObject:
    """An item of (0070,0009) *Graphic Object Sequence* (C.10.5.1.2).

    `kind` is the (0070,0023) *Graphic Type*; `points` the (0070,0022)
    *Graphic Data* as (x, y) = (column, row) pairs in `units`, PIXEL or
    DISPLAY ((0070,0005) *Graphic Annotation Units*).
    """

    units: str
    kind: str
    points: tuple[Point, ...]
    filled: bool = False


@dataclass(frozen=True)
class TextObject:
    """An item of (0070,0008) *Text Object Sequence* (C.10.5.1.1).

    `box` is the bounding box, (0070,0010) top left and (0070,0011) bottom
    right hand corners as (x0, y0, x1, y1) in `box_units`; `anchor` the
    (0070,0014) *Anchor Point* in `anchor_units`, with (0070,0015) *Anchor
    Point Visibility*; `justification` (0070,0012) LEFT, RIGHT or CENTER.
    """

    text: str
    box_units: str = ""
    box: tuple[float, float, float, float] | None = None
    anchor_units: str = ""
    anchor: Point | None = None
    anchor_visible: bool = False
    justification: str = "LEFT"


@dataclass(frozen=True)
class Annotation:
    """An item of (0070,0001) *Graphic Annotation Sequence*: one layer's graphics and text for some images."""

    layer: str
    references: tuple[ImageReference, ...]
    graphics: tuple[GraphicObject, ...]
    texts: tuple[TextObject, ...]


@dataclass(frozen=True)
class GraphicLayer:
    """An item of (0070,0060) *Graphic Layer Sequence* (C.10.7).

    `order` is (0070,0062) *Graphic Layer Order* (higher drawn on top);
    `grey` the (0070,0066) recommended greyscale value (0-65535) and `cielab`
    the (0070,0401) recommended CIELab value (each 0-65535, C.10.7.1.1).
    """

    name: str
    order: int = 0
    grey: int | None = None
    cielab: tuple[int, int, int] | None = None
    description: str = ""

    def rgb(self) -> tuple[int, int, int]:
        """The layer's colour as 8-bit sRGB: from CIELab, else the grey value, else white."""
        if self.cielab is not None:
            return cielab_to_rgb(self.cielab)
        if self.grey is not None:
            g = int(round(self.grey * 255 / 65535))
            return (g, g, g)
        return (255, 255, 255)


@dataclass(frozen=True)
class DisplayedArea:
    """An item of (0070,005A) *Displayed Area Selection Sequence* (C.10.4).

    `top_left` and `bottom_right` are (0070,0052) and (0070,0053), (column,
    row) from 1 in the image before the spatial transformation (they may lie
    outside it); `mode` (0070,0100) SCALE TO FIT, TRUE SIZE or MAGNIFY;
    `pixel_spacing` (0070,0101) (row spacing, column spacing) in mm or
    `aspect` (0070,0102) (vertical, horizontal); `magnification` (0070,0103).
    """

    references: tuple[ImageReference, ...]
    top_left: tuple[int, int]
    bottom_right: tuple[int, int]
    mode: str = "SCALE TO FIT"
    pixel_spacing: tuple[float, float] | None = None
    aspect: tuple[float, float] | None = None
    magnification: float = 1.0

    def bounds(self) -> tuple[int, int, int, int]:
        """The area in PIXEL units, (x0, y0, x1, y1): left, top, right and bottom pixel edges, whichever corner is which."""
        (c0, r0), (c1, r1) = self.top_left, self.bottom_right
        return min(c0, c1) - 1, min(r0, r1) - 1, max(c0, c1), max(r0, r1)

    def row_to_column_ratio(self) -> float:
        """Height over width of one pixel: from the pixel spacing, else the aspect ratio, else 1."""
        if self.pixel_spacing and self.pixel_spacing[0] > 0 and self.pixel_spacing[1] > 0:
            return self.pixel_spacing[0] / self.pixel_spacing[1]
        if self.aspect and self.aspect[0] > 0 and self.aspect[1] > 0:
            return self.aspect[0] / self.aspect[1]
        return 1.0


@dataclass(frozen=True)
class Shutters:
    """The Display Shutter (C.7.6.11) and Bitmap Display Shutter (C.7.6.15) modules.

    Rectangle: (0018,1602)-(0018,1608) as (left, right, upper, lower), columns
    and rows from 1, inclusive. Circle: (0018,1610) *Center of Circular
    Shutter* as (row, column) and (0018,1612) *Radius* in pixels. Polygon:
    (0018,1620) vertices as (row, column) pairs. Bitmap: the state's overlay
    plane named by (0018,6100) *Shutter Overlay Group*, True where the image
    is hidden, with its (6000,0050) *Overlay Origin* (row, column from 1).
    `value` is (0018,1622) *Shutter Presentation Value*, a P-value 0-65535.
    """

    rectangle: tuple[int, int, int, int] | None = None
    circle: tuple[float, float, float] | None = None
    polygon: tuple[tuple[float, float], ...] | None = None
    bitmap: np.ndarray | None = field(default=None, compare=False)
    bitmap_origin: tuple[int, int] = (1, 1)
    value: int = 0

    def any(self) -> bool:
        return self.rectangle is not None or self.circle is not None or self.polygon is not None or self.bitmap is not None


@dataclass(frozen=True)
class OverlayPlane:
    """An overlay plane of the state (C.9.2) shown on a graphic layer by (60xx,1001) *Overlay Activation Layer* (C.11.7).

    `bitmap` is True where the overlay is drawn; `origin` the (60xx,0050)
    *Overlay Origin*, (row, column) of its top left pixel in the image, from 1.
    """

    group: int
    layer: str
    bitmap: np.ndarray = field(compare=False)
    origin: tuple[int, int] = (1, 1)
    label: str = ""


@dataclass(frozen=True)
class SoftcopyVOI:
    """An item of (0028,3110) *Softcopy VOI LUT Sequence* (C.11.8): a window, or a VOI LUT (`lut`, the item itself)."""

    references: tuple[ImageReference, ...]
    center: float | None = None
    width: float | None = None
    function: str = "LINEAR"
    explanation: str = ""
    lut: Dataset | None = field(default=None, compare=False)


@dataclass
class PresentationState:
    """What a presentation state asks for, ready to apply (see the module docstring)."""

    sop_instance_uid: str
    label: str = ""
    description: str = ""
    creator: str = ""
    created: str = ""  #: (0070,0082) and (0070,0083), "YYYYMMDDHHMMSS" for ordering (newest first)
    instance_number: int = 0
    references: tuple[ImageReference, ...] = ()
    #: The Modality LUT module of the state: Rescale Slope/Intercept/Type or (0028,3000) *Modality LUT Sequence*.
    modality: Dataset = field(default_factory=Dataset)
    vois: tuple[SoftcopyVOI, ...] = ()
    presentation_lut_shape: str = "IDENTITY"
    #: (2050,0010) *Presentation LUT Sequence* item, instead of a shape.
    presentation_lut: Dataset | None = None
    areas: tuple[DisplayedArea, ...] = ()
    rotation: int = 0
    flip: bool = False
    shutters: Shutters = field(default_factory=Shutters)
    layers: dict[str, GraphicLayer] = field(default_factory=dict)
    annotations: tuple[Annotation, ...] = ()
    overlays: tuple[OverlayPlane, ...] = ()
    path: Path | None = None

    def applies_to(self, sop_instance_uid: str, frame: int = 1) -> bool:
        """Whether the state references frame `frame` (from 1) of image `sop_instance_uid` (C.11.11)."""
        return any(r.covers(sop_instance_uid, frame) for r in self.references)

    def voi_for(self, sop_instance_uid: str, frame: int = 1) -> SoftcopyVOI | None:
        """The Softcopy VOI LUT item for this image and frame; None: no VOI transform (C.11.8)."""
        return next((v for v in self.vois if _covered(v.references, sop_instance_uid, frame)), None)

    def area_for(self, sop_instance_uid: str, frame: int = 1) -> DisplayedArea | None:
        """The displayed area for this image and frame (C.10.4); None when no item covers it."""
        return next((a for a in self.areas if _covered(a.references, sop_instance_uid, frame)), None)

    def annotations_for(self, sop_instance_uid: str, frame: int = 1) -> list[tuple[GraphicLayer, Annotation]]:
        """The annotations on this image and frame with their layers, lowest (0070,0062) *Graphic Layer Order* first."""
        found = [
            (self.layers.get(a.layer) or GraphicLayer(a.layer, 1 << 30), a)
            for a in self.annotations
            if _covered(a.references, sop_instance_uid, frame)
        ]
        return sorted(found, key=lambda pair: pair[0].order)

    def overlays_by_layer(self) -> list[tuple[GraphicLayer, OverlayPlane]]:
        """The state's activated overlay planes with their layers, lowest layer order first (they apply to every referenced image)."""
        found = [(self.layers.get(o.layer) or GraphicLayer(o.layer, 1 << 30), o) for o in self.overlays]
        return sorted(found, key=lambda pair: pair[0].order)

    def title(self) -> str:
        """What a selector shows: the label, the description and the date."""
        when = f"{self.created[:4]}-{self.created[4:6]}-{self.created[6:8]}" if len(self.created) >= 8 else ""
        return " · ".join(part for part in (self.label, self.description, when) if part) or self.sop_instance_uid


# --------------------------------------------------------------------------- colour


def cielab_to_rgb(lab: tuple[int, int, int]) -> tuple[int, int, int]:
    """DICOM's scaled CIELab (L 0-100, a and b -128..127, each scaled to 0-65535, PS3.3 C.10.7.1.1) to 8-bit sRGB (D65)."""
    lightness = lab[0] * 100.0 / 65535.0
    a = lab[1] * 255.0 / 65535.0 - 128.0
    b = lab[2] * 255.0 / 65535.0 - 128.0
    fy = (lightness + 16.0) / 116.0
    fx, fz = fy + a / 500.0, fy - b / 200.0

    def inverse(t: float) -> float:
        return t**3 if t > 6.0 / 29.0 else 3 * (6.0 / 29.0) ** 2 * (t - 4.0 / 29.0)

    x, y, z = 0.95047 * inverse(fx), 1.0 * inverse(fy), 1.08883 * inverse(fz)
    linear = (
        3.2406 * x - 1.5372 * y - 0.4986 * z,
        -0.9689 * x + 1.8758 * y + 0.0415 * z,
        0.0557 * x - 0.2040 * y + 1.0570 * z,
    )

    def gamma(c: float) -> int:
        c = min(max(c, 0.0), 1.0)
        c = 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
        return int(round(c * 255))

    return gamma(linear[0]), gamma(linear[1]), gamma(linear[2])


# --------------------------------------------------------------------------- reading


def _text(value) -> str:
    return str(value or "").strip()


def _floats(value, count: int | None = None) -> tuple[float, ...]:
    values = [] if value is None else (list(value) if not isinstance(value, (str, bytes, int, float)) else [value])
    out = tuple(float(v) for v in values)
    if count is not None and len(out) != count:
        raise ValueError(f"{count} values expected, {len(out)} found")
    return out


def _frames(item: Dataset) -> tuple[int, ...]:
    value = item.get("ReferencedFrameNumber")
    if value is None or value == "":
        return ()
    values = list(value) if not isinstance(value, (str, int)) else [value]
    return tuple(int(v) for v in values)


def _image_references(item: Dataset) -> tuple[ImageReference, ...]:
    return tuple(
        ImageReference(_text(ref.get("ReferencedSOPInstanceUID")), _frames(ref)) for ref in item.get("ReferencedImageSequence") or ()
    )


def _read_modality(ds: Dataset) -> Dataset:
    modality = Dataset()
    if ds.get("ModalityLUTSequence"):
        modality.ModalityLUTSequence = ds.ModalityLUTSequence
    elif "RescaleSlope" in ds and "RescaleIntercept" in ds:
        modality.RescaleSlope = float(ds.RescaleSlope)
        modality.RescaleIntercept = float(ds.RescaleIntercept)
        modality.RescaleType = _text(ds.get("RescaleType")) or "US"
    return modality


def _read_vois(ds: Dataset) -> tuple[SoftcopyVOI, ...]:
    vois = []
    for item in ds.get("SoftcopyVOILUTSequence") or ():
        references = _image_references(item)
        if item.get("VOILUTSequence"):
            lut = item.VOILUTSequence[0]
            vois.append(SoftcopyVOI(references, explanation=_text(lut.get("LUTExplanation")), lut=item))
            continue
        centers, widths = _floats(item.get("WindowCenter")), _floats(item.get("WindowWidth"))
        if not centers or not widths:
            raise ValueError("a Softcopy VOI LUT item has neither a window nor a VOI LUT")
        explanation = item.get("WindowCenterWidthExplanation")
        if explanation is not None and not isinstance(explanation, str):
            explanation = explanation[0] if len(explanation) else ""  # multi-valued: one per window
        explanation = _text(explanation)
        function = _text(item.get("VOILUTFunction")).upper() or "LINEAR"
        vois.append(SoftcopyVOI(references, centers[0], max(widths[0], 1.0), function, explanation))
    return tuple(vois)


def _read_areas(ds: Dataset) -> tuple[DisplayedArea, ...]:
    areas = []
    for item in ds.get("DisplayedAreaSelectionSequence") or ():
        tl = _floats(item.get("DisplayedAreaTopLeftHandCorner"), 2)
        br = _floats(item.get("DisplayedAreaBottomRightHandCorner"), 2)
        mode = _text(item.get("PresentationSizeMode")).upper() or "SCALE TO FIT"
        spacing = _floats(item.get("PresentationPixelSpacing")) or None
        aspect = _floats(item.get("PresentationPixelAspectRatio")) or None
        magnification = float(item.get("PresentationPixelMagnificationRatio") or 1.0)
        areas.append(
            DisplayedArea(
                _image_references(item),
                (int(tl[0]), int(tl[1])),
                (int(br[0]), int(br[1])),
                mode,
                spacing[:2] if spacing and len(spacing) >= 2 else None,
                aspect[:2] if aspect and len(aspect) >= 2 else None,
                magnification if magnification > 0 else 1.0,
            )
        )
    return tuple(areas)


def _read_shutters(ds: Dataset) -> Shutters:
    shapes = {s.strip().upper() for s in (ds.get("ShutterShape") or [])} if not isinstance(ds.get("ShutterShape"), str) else set()
    if isinstance(ds.get("ShutterShape"), str):
        shapes = {part.strip().upper() for part in ds.ShutterShape.split("\\")}
    rectangle = circle = polygon = bitmap = None
    origin = (1, 1)
    if "RECTANGULAR" in shapes:
        rectangle = (
            int(ds.ShutterLeftVerticalEdge),
            int(ds.ShutterRightVerticalEdge),
            int(ds.ShutterUpperHorizontalEdge),
            int(ds.ShutterLowerHorizontalEdge),
        )
    if "CIRCULAR" in shapes:
        center = _floats(ds.CenterOfCircularShutter, 2)
        circle = (center[0], center[1], float(ds.RadiusOfCircularShutter))
    if "POLYGONAL" in shapes:
        vertices = _floats(ds.VerticesOfThePolygonalShutter)
        if len(vertices) < 6 or len(vertices) % 2:
            raise ValueError("the polygonal shutter needs at least three (row, column) vertices")
        polygon = tuple((vertices[i], vertices[i + 1]) for i in range(0, len(vertices), 2))
    if "BITMAP" in shapes or "ShutterOverlayGroup" in ds:
        group = int(ds.ShutterOverlayGroup)
        bitmap = np.asarray(ds.overlay_array(group), dtype=bool)
        origin_value = ds.get((group, 0x0050))
        if origin_value is not None:
            o = _floats(origin_value.value, 2)
            origin = (int(o[0]), int(o[1]))
    value = ds.get("ShutterPresentationValue")
    return Shutters(rectangle, circle, polygon, bitmap, origin, int(value) if value is not None else 0)


def _read_overlays(ds: Dataset, shutter_group: int | None) -> tuple[OverlayPlane, ...]:
    """The state's own overlay planes that (60xx,1001) *Overlay Activation Layer* puts on a layer (the shutter's excepted)."""
    planes = []
    for group in range(0x6000, 0x6020, 2):
        layer = ds.get((group, 0x1001))
        if layer is None or group == shutter_group or (group, 0x3000) not in ds:
            continue
        origin = _floats(ds[(group, 0x0050)].value, 2) if (group, 0x0050) in ds else (1.0, 1.0)
        label = ds.get((group, 0x1500))
        bitmap = np.asarray(ds.overlay_array(group), dtype=bool)
        if bitmap.ndim == 3:
            bitmap = bitmap[0]  # a multi-frame overlay in a state: its first frame
        planes.append(
            OverlayPlane(group, _text(layer.value), bitmap, (int(origin[0]), int(origin[1])), _text(label.value if label else ""))
        )
    return tuple(planes)


def _read_layers(ds: Dataset) -> dict[str, GraphicLayer]:
    layers = {}
    for item in ds.get("GraphicLayerSequence") or ():
        name = _text(item.get("GraphicLayer"))
        grey = item.get("GraphicLayerRecommendedDisplayGrayscaleValue")
        lab = item.get("GraphicLayerRecommendedDisplayCIELabValue")
        layers[name] = GraphicLayer(
            name,
            int(item.get("GraphicLayerOrder") or 0),
            int(grey) if grey is not None else None,
            tuple(int(v) for v in lab) if lab is not None and len(lab) == 3 else None,
            _text(item.get("GraphicLayerDescription")),
        )
    return layers


def _points(data) -> tuple[Point, ...]:
    values = _floats(data)
    if len(values) % 2:
        raise ValueError("Graphic Data holds an odd number of values")
    return tuple((values[i], values[i + 1]) for i in range(0, len(values), 2))


def _read_annotations(ds: Dataset) -> tuple[Annotation, ...]:
    annotations = []
    for item in ds.get("GraphicAnnotationSequence") or ():
        graphics = []
        for g in item.get("GraphicObjectSequence") or ():
            units = _text(g.get("GraphicAnnotationUnits")).upper() or "PIXEL"
            kind = _text(g.get("GraphicType")).upper()
            if kind not in GRAPHIC_TYPES:
                raise ValueError(f"unknown Graphic Type {kind or '(none)'}")
            points = _points(g.get("GraphicData"))
            if not points:
                raise ValueError(f"a {kind} graphic has no Graphic Data")
            graphics.append(GraphicObject(units, kind, points, _text(g.get("GraphicFilled")).upper() == "Y"))
        texts = []
        for t in item.get("TextObjectSequence") or ():
            box = None
            if "BoundingBoxTopLeftHandCorner" in t and "BoundingBoxBottomRightHandCorner" in t:
                box = _floats(t.BoundingBoxTopLeftHandCorner, 2) + _floats(t.BoundingBoxBottomRightHandCorner, 2)
            anchor = _floats(t.AnchorPoint, 2) if "AnchorPoint" in t else None
            if box is None and anchor is None:
                raise ValueError("a text object has neither a bounding box nor an anchor point")
            texts.append(
                TextObject(
                    str(t.get("UnformattedTextValue") or "").replace("\r\n", "\n").replace("\r", "\n"),
                    _text(t.get("BoundingBoxAnnotationUnits")).upper() or "PIXEL",
                    box,  # type: ignore[arg-type]
                    _text(t.get("AnchorPointAnnotationUnits")).upper() or "PIXEL",
                    anchor,  # type: ignore[arg-type]
                    _text(t.get("AnchorPointVisibility")).upper() == "Y",
                    _text(t.get("BoundingBoxTextHorizontalJustification")).upper() or "LEFT",
                )
            )
        annotations.append(Annotation(_text(item.get("GraphicLayer")), _image_references(item), tuple(graphics), tuple(texts)))
    return tuple(annotations)


def is_presentation_state(ds: Dataset) -> bool:
    """Whether `ds` is a Grayscale Softcopy Presentation State ((0008,0016) *SOP Class UID*)."""
    return _text(ds.get("SOPClassUID")) == GSPS_SOP_CLASS


def read_presentation_state(source: Dataset | str | Path) -> PresentationState:
    """The presentation state in `source` (a dataset or a file). ViewerError, one line, for anything else or anything damaged."""
    path = None
    if isinstance(source, (str, Path)):
        from viewer.core.dicom.io import read_header

        path = Path(source)
        ds = read_header(path)  # a presentation state has no Pixel Data: the header is the whole dataset
    else:
        ds = source
    if not is_presentation_state(ds):
        raise ViewerError("is not a Grayscale Softcopy Presentation State", path)
    try:
        references = tuple(ref for series in ds.get("ReferencedSeriesSequence") or () for ref in _image_references(series))
        if not references:
            raise ValueError("it references no image")
        rotation = int(ds.get("ImageRotation") or 0)
        if rotation not in (0, 90, 180, 270):
            raise ValueError(f"Image Rotation {rotation} is not 0, 90, 180 or 270")
        shape = _text(ds.get("PresentationLUTShape")).upper()
        plut = ds.PresentationLUTSequence[0] if ds.get("PresentationLUTSequence") else None
        if plut is None and shape not in ("IDENTITY", "INVERSE"):
            raise ValueError(f"Presentation LUT Shape {shape or '(none)'} is neither IDENTITY nor INVERSE")
        created = _text(ds.get("PresentationCreationDate")) + _text(ds.get("PresentationCreationTime")).split(".")[0]
        return PresentationState(
            sop_instance_uid=_text(ds.get("SOPInstanceUID")),
            label=_text(ds.get("ContentLabel")),
            description=_text(ds.get("ContentDescription")),
            creator=_text(ds.get("ContentCreatorName")),
            created=created,
            instance_number=int(ds.get("InstanceNumber") or 0),
            references=references,
            modality=_read_modality(ds),
            vois=_read_vois(ds),
            presentation_lut_shape=shape or "IDENTITY",
            presentation_lut=plut,
            areas=_read_areas(ds),
            rotation=rotation,
            flip=_text(ds.get("ImageHorizontalFlip")).upper() == "Y",
            shutters=_read_shutters(ds),
            layers=_read_layers(ds),
            annotations=_read_annotations(ds),
            overlays=_read_overlays(ds, int(ds.ShutterOverlayGroup) if "ShutterOverlayGroup" in ds else None),
            path=path,
        )
    except ViewerError:
        raise
    except (AttributeError, ValueError, TypeError, IndexError, KeyError, OverflowError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ViewerError(f"the presentation state is damaged: {reason}", path) from None


def newest_first(states: list[PresentationState]) -> list[PresentationState]:
    """`states` ordered as a selector lists them: the newest (0070,0082)/(0070,0083) creation first, then by Instance Number."""
    return sorted(states, key=lambda s: (s.created, s.instance_number), reverse=True)


class PresentationStateIndex:
    """The presentation states of what is open, by the images they reference.

    :meth:`add_file` reads one state (a damaged one gives its one-line
    problem instead); :meth:`states_for` lists those referencing an image,
    newest first. Not thread-safe: fill it on one thread.
    """

    def __init__(self) -> None:
        self._by_image: dict[str, list[PresentationState]] = {}
        self._known: set[str] = set()

    def __len__(self) -> int:
        return len(self._known)

    def add(self, state: PresentationState) -> bool:
        """Keep `state`; False if a state with its SOP Instance UID is kept already."""
        if state.sop_instance_uid in self._known:
            return False
        self._known.add(state.sop_instance_uid)
        for uid in {r.sop_instance_uid for r in state.references}:
            self._by_image.setdefault(uid, []).append(state)
        return True

    def states_for(self, sop_instance_uid: str) -> list[PresentationState]:
        """The states referencing the image (any of its frames), newest first."""
        return newest_first(self._by_image.get(sop_instance_uid, []))

    def clear(self) -> None:
        self._by_image.clear()
        self._known.clear()


def read_presentation_states(paths) -> tuple[list[PresentationState], list[ViewerError]]:
    """The states in `paths` (files passed over as holding no image): the GSPS ones read, the damaged ones' problems.

    Files that are not Grayscale Softcopy Presentation States are skipped without a word.
    """
    from viewer.core.dicom.io import read_header

    states, problems = [], []
    for path in paths:
        try:
            header = read_header(path)
            if not is_presentation_state(header):
                continue
            states.append(read_presentation_state_from(header, Path(path)))
        except ViewerError as exc:
            problems.append(exc)
    return states, problems


def read_presentation_state_from(ds: Dataset, path: Path) -> PresentationState:
    """:func:`read_presentation_state` of a dataset read from `path` (named in problems, kept as the state's path)."""
    try:
        state = read_presentation_state(ds)
    except ViewerError as exc:
        raise ViewerError(exc.reason, path) from None
    state.path = path
    return state
