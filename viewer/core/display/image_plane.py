"""Where an image lies in the patient: its plane, as a small value object.

The *Image Plane* module (PS3.3 C.7.6.2) places an image in the patient's
coordinates (mm; x towards the patient's left, y towards posterior, z
towards the head; C.7.6.2.1.1):

* (0020,0032) *Image Position (Patient)*: the centre of the first pixel;
* (0020,0037) *Image Orientation (Patient)*: the direction of a row
  (towards increasing column) and of a column (towards increasing row);
* (0028,0030) *Pixel Spacing*: the distance between row centres, then
  between column centres;
* (0028,0010) *Rows*, (0028,0011) *Columns*;
* (0020,0052) *Frame of Reference UID*: positions in two images compare only
  when it is the same (PS3.3 C.7.4.1.1.1).

So pixel (column c, row r) lies at ``origin + c * spacing[1] * row_direction
+ r * spacing[0] * column_direction`` (the equation of C.7.6.2.1.1). Frames of
enhanced multi-frame images carry the same attributes in their *Plane
Position (Patient)*, *Plane Orientation (Patient)* and *Pixel Measures*
functional groups (PS3.3 C.7.6.16.2.3, -4, -1), which
:func:`~viewer.core.display.pixels.pipeline.frame_context` lifts to the top
level; :func:`image_plane` reads either.

Image points are (column, row) with pixel centres at whole numbers; an
image covers -0.5 to columns - 0.5 and -0.5 to rows - 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError, read_header
from viewer.core.display.pixels.pipeline import frame_context
from viewer.core.display.stack_geometry import decimals, integer, unit_cosines
from viewer.core.media.model import Instance, Series, raw_numbers, uid_text


@dataclass(frozen=True, eq=False)
class ImagePlane:
    """One image's place in the patient (see the module's description for each field's source)."""

    origin: np.ndarray  # centre of the first pixel (mm)
    row_direction: np.ndarray  # unit vector along a row: increasing column index
    column_direction: np.ndarray  # unit vector along a column: increasing row index
    spacing: tuple[float, float]  # (between rows, between columns) in mm
    rows: int
    columns: int
    frame_of_reference: str = ""

    @property
    def normal(self) -> np.ndarray:
        """The unit normal, row direction x column direction (pointing away from the viewer of the image as stored)."""
        return np.cross(self.row_direction, self.column_direction)

    @property
    def centre(self) -> np.ndarray:
        """The patient point at the middle of the image."""
        return self.patient_point((self.columns - 1) / 2, (self.rows - 1) / 2)

    def patient_point(self, column: float, row: float) -> np.ndarray:
        """The patient point (mm) of image point (column, row) (PS3.3 C.7.6.2.1.1)."""
        return self.origin + column * self.spacing[1] * self.row_direction + row * self.spacing[0] * self.column_direction

    def image_point(self, point: np.ndarray) -> tuple[float, float]:
        """The image point (column, row) of a patient point's projection onto the plane."""
        offset = np.asarray(point, dtype=np.float64) - self.origin
        return float(offset @ self.row_direction / self.spacing[1]), float(offset @ self.column_direction / self.spacing[0])

    def distance(self, point: np.ndarray) -> float:
        """The signed distance (mm) of a patient point from the plane, along :attr:`normal`."""
        return float((np.asarray(point, dtype=np.float64) - self.origin) @ self.normal)

    def contains(self, column: float, row: float, margin: float = 1e-6) -> bool:
        """Whether image point (column, row) lies on the image (its pixels' outer edges included)."""
        return -0.5 - margin <= column <= self.columns - 0.5 + margin and -0.5 - margin <= row <= self.rows - 0.5 + margin


def image_plane(ctx: Dataset) -> ImagePlane | None:
    """The plane of an image, from its header or a frame's :func:`~viewer.core.display.pixels.pipeline.frame_context`.

    Reads (0020,0032) *Image Position (Patient)*, (0020,0037) *Image
    Orientation (Patient)*, (0028,0030) *Pixel Spacing*, (0028,0010) *Rows*,
    (0028,0011) *Columns* and (0020,0052) *Frame of Reference UID* (PS3.3
    C.7.6.2, C.7.4.1). None when any of the first five is missing or
    unusable (orientation not two perpendicular unit vectors, spacing not
    positive): such an image has no known place in the patient. A
    projection radiograph with only (0018,1164) *Imager Pixel Spacing* has
    none either: its pixels have no size in the patient.
    """
    position = raw_numbers(ctx, 0x00200032)
    cosines = decimals(ctx, "ImageOrientationPatient", 6)
    spacing = decimals(ctx, "PixelSpacing", 2)
    rows, columns = integer(ctx, "Rows"), integer(ctx, "Columns")
    if position is None or len(position) != 3 or not np.isfinite(position).all() or cosines is None:
        return None
    directions = unit_cosines(cosines)
    if directions is None or spacing is None or (spacing <= 0).any() or not rows or not columns or rows < 1 or columns < 1:
        return None
    return ImagePlane(
        origin=np.asarray(position, dtype=np.float64),
        row_direction=directions[0],
        column_direction=directions[1],
        spacing=(float(spacing[0]), float(spacing[1])),
        rows=rows,
        columns=columns,
        frame_of_reference=uid_text(ctx, 0x00200052),
    )


def _geometry_header(instance: Instance) -> Dataset | None:
    """The header that holds `instance`'s plane: the catalog's, the file's indexing attributes, or the whole header.

    A catalog read from a DICOMDIR holds only the directory's record
    attributes; an enhanced multi-frame file keeps its planes in functional
    groups (PS3.3 C.7.6.16) that no index holds. None when the file cannot be read.
    """
    header = instance.header
    if "ImagePositionPatient" in header or instance.path is None:
        return header
    try:
        header = read_index_header(instance.path)
        if "ImagePositionPatient" not in header and "NumberOfFrames" in header:
            header = read_header(instance.path)
    except ViewerError:
        return None
    return header


def series_planes(series: Series) -> list[ImagePlane | None]:
    """The plane of every image of `series`, in the order of :attr:`Series.images` (None where unknown).

    Files whose plane the catalog holds are not opened; others have their
    header read once (:func:`_geometry_header`), frames of enhanced
    multi-frame files their per-frame functional groups. The result is
    worth keeping for as long as the series is shown.
    """
    planes: list[ImagePlane | None] = []
    headers: dict[int, Dataset | None] = {}  # by id(instance): the frames of one file share its header
    for image in series.images:
        key = id(image.instance)
        if key not in headers:
            headers[key] = _geometry_header(image.instance)
        header = headers[key]
        planes.append(image_plane(frame_context(header, image.frame)) if header is not None else None)
    return planes
