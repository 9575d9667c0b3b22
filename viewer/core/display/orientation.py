"""Orientation markers: which way the patient lies at each edge of the image.

The letters at the middle of the left, right, top and bottom edges of an
image say towards which side of the patient each edge lies: R/L (right,
left), A/P (anterior, posterior), H/F (head, feet) for humans (PS3.3
C.7.6.1.1.1 *Patient Orientation*).

Where they come from, in order:

* (0020,0037) *Image Orientation (Patient)* (PS3.3 C.7.6.2.1.1): the
  direction cosines of the first row and the first column on the patient's
  axes, x towards the patient's left, y towards posterior, z towards the
  head. The right edge lies along the row direction, the bottom edge along
  the column direction. Enhanced multi-frame images carry them per frame
  in the *Plane Orientation (Patient)* functional group (PS3.3
  C.7.6.16.2.4), which :func:`~viewer.core.display.pixels.pipeline.frame_context`
  lifts to the top level.
* Otherwise (0020,0020) *Patient Orientation*, the row direction then the
  column direction as letters ("L\\F" on a chest radiograph seen from the
  front), which projection images (CR, DX, MG...) carry instead.
* Neither: no markers.

**Oblique directions.** A direction gets the letter of every patient axis
it has a component of at least :data:`OBLIQUE_COMPONENT` along, the largest
component first: a row direction of (0.57, 0.82, 0) reads "PL" (mostly
posterior, partly left). This is David Clunie's rule as Weasis
(``ImageOrientation.getOrientation``) and Cornerstone/OHIF
(``getOrientationStringLPS``) apply it, except for the threshold: they keep
every component above 0.0001, so a CT tilted by half a degree shows "LP".
Here a component counts from 0.25 (a direction about 14.5 degrees off the
dominant axis): small tilts keep the single letter the reader expects, and
clearly oblique directions get two (a gantry-tilted head CT of 22 degrees
reads "PF", one of 5 degrees "P").

**Display transforms.** Turned or flipped images
(:class:`~viewer.core.display.spatial_transform.SpatialTransform`) keep
their markers right: each edge asks which image direction now points its
way.

Quadrupeds ((0010,2210) *Anatomical Orientation Type* QUADRUPED) are
labelled with the quadruped terms of PS3.3 C.7.6.1.1.1: LE/RT (left,
right), D/V (dorsal, ventral), CR/CD (cranial, caudal).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.display.spatial_transform import SpatialTransform
from viewer.core.display.stack_geometry import decimals, unit_cosines

#: A direction gets the letter of every patient axis it has at least this component along (see the module's notes).
OBLIQUE_COMPONENT = 0.25

#: Letters for (x-, x+), (y-, y+), (z-, z+) on the patient's axes (PS3.3 C.7.6.1.1.1, C.7.6.2.1.1).
_BIPED_AXES = (("R", "L"), ("A", "P"), ("F", "H"))
_QUADRUPED_AXES = (("RT", "LE"), ("V", "D"), ("CD", "CR"))


@dataclass(frozen=True)
class OrientationMarkers:
    """The patient directions at the middle of each edge of the image as shown ('' where unknown)."""

    left: str
    right: str
    top: str
    bottom: str


def direction_label(direction: np.ndarray, quadruped: bool = False, minimum: float = OBLIQUE_COMPONENT) -> str:
    """The letters of a patient direction: 'L', 'PF', 'RAH'... (largest component first).

    `direction` is a unit vector on the patient's axes (PS3.3 C.7.6.2.1.1:
    x towards the left, y posterior, z towards the head); every axis it has
    a component of at least `minimum` along contributes its letter.
    """
    axes = _QUADRUPED_AXES if quadruped else _BIPED_AXES
    components = np.asarray(direction, dtype=np.float64)
    order = sorted(range(3), key=lambda axis: -abs(components[axis]))
    largest = abs(components[order[0]])
    letters = [axes[axis][int(components[axis] > 0)] for axis in order if abs(components[axis]) >= min(minimum, largest)]
    return "".join(letters)


def _is_quadruped(ctx: Dataset) -> bool:
    return str(ctx.get("AnatomicalOrientationType", "") or "").strip().upper() == "QUADRUPED"


def _opposite(label: str, quadruped: bool) -> str:
    """'RA' -> 'LP': each letter (or quadruped term) of a direction replaced by the opposite one."""
    opposites = {}
    for negative, positive in _QUADRUPED_AXES if quadruped else _BIPED_AXES:
        opposites[negative], opposites[positive] = positive, negative
    terms = _terms(label, quadruped)
    return "".join(opposites[term] for term in terms) if terms is not None else ""


def _terms(label: str, quadruped: bool) -> list[str] | None:
    """A Patient Orientation value split into its direction terms; None if it holds any other (CS values, PS3.3 C.7.6.1.1.1)."""
    known = {term for pair in (_QUADRUPED_AXES if quadruped else _BIPED_AXES) for term in pair}
    terms, rest = [], label
    while rest:
        term = rest[:2] if rest[:2] in known else rest[:1]  # quadruped terms are two letters
        if term not in known:
            return None
        terms.append(term)
        rest = rest[len(term) :]
    return terms


def _image_axis_labels(ctx: Dataset) -> tuple[str, str, bool] | None:
    """Labels of the row direction and of the column direction of the image, and whether they are quadruped terms."""
    quadruped = _is_quadruped(ctx)
    cosines = decimals(ctx, "ImageOrientationPatient", 6)
    directions = unit_cosines(cosines) if cosines is not None else None
    if directions is not None:
        row, column = directions
        return direction_label(row, quadruped), direction_label(column, quadruped), quadruped
    values = ctx.get("PatientOrientation")
    if values is None or isinstance(values, (str, bytes)) or len(values) != 2:
        return None
    row, column = (str(value).strip().upper() for value in values)
    if not row or not column or _terms(row, quadruped) is None or _terms(column, quadruped) is None:
        return None
    return row, column, quadruped


def orientation_markers(ctx: Dataset, transform: SpatialTransform | None = None) -> OrientationMarkers | None:
    """The orientation markers of an image as shown through `transform`; None when its orientation is unknown.

    `ctx` is the image's header or, for a frame of an enhanced multi-frame
    image, its :func:`~viewer.core.display.pixels.pipeline.frame_context`.
    Reads (0020,0037) *Image Orientation (Patient)* when it holds two
    perpendicular unit vectors, else (0020,0020) *Patient Orientation*
    (two values of direction letters), and (0010,2210) *Anatomical
    Orientation Type* (PS3.3 C.7.6.2.1.1, C.7.6.1.1.1). Labels of oblique
    directions follow :func:`direction_label`.
    """
    labels = _image_axis_labels(ctx)
    if labels is None:
        return None
    row, column, quadruped = labels
    transform = transform or SpatialTransform()
    by_direction = {(1, 0): row, (-1, 0): _opposite(row, quadruped), (0, 1): column, (0, -1): _opposite(column, quadruped)}

    def towards(screen_direction: tuple[int, int]) -> str:
        along_columns, along_rows = transform.image_direction(screen_direction)
        return by_direction[round(along_columns), round(along_rows)]

    return OrientationMarkers(left=towards((-1, 0)), right=towards((1, 0)), top=towards((0, -1)), bottom=towards((0, 1)))
