"""How an image is turned and mirrored on the screen: quarter turns and flips.

A viewport may show an image rotated by 90 degree steps and flipped, at the
user's request or because a presentation state says so. The *Spatial
Transformation* module of a presentation state (PS3.3 C.10.6) describes
exactly this: (0070,0042) *Image Rotation*, clockwise in degrees (0, 90, 180
or 270), applied *before* (0070,0041) *Image Horizontal Flip*, which mirrors
the rotated image left to right. It has no vertical flip, "since the same
result can be achieved by a combination of a 180 degree rotation and a
horizontal flip"; :meth:`SpatialTransform.flipped_vertically` does just
that, so every one of the eight ways to lay an image on the screen has one
value, the one a presentation state would store.

Coordinates are those of the rest of the viewer: an image point is
(column, row) with pixel centres at whole numbers; the screen's x grows to
the right and its y downwards. Whatever is drawn from the image's geometry
(orientation markers, scale bars, reference lines) asks this transform which
way the image's axes point on the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

#: A quarter turn clockwise on a screen whose y grows downwards: right becomes down.
_QUARTER_TURN = np.array([[0, -1], [1, 0]])
_MIRROR = np.array([[-1, 0], [0, 1]])


def _turns(quarter_turns: int) -> np.ndarray:
    return np.linalg.matrix_power(_QUARTER_TURN, quarter_turns % 4)


@dataclass(frozen=True)
class SpatialTransform:
    """Turned clockwise by ``rotation`` quarter turns, then mirrored left to right if ``flip_horizontal`` (PS3.3 C.10.6)."""

    rotation: int = 0
    flip_horizontal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "rotation", int(self.rotation) % 4)

    @property
    def matrix(self) -> np.ndarray:
        """The 2x2 integer matrix taking an image direction (columns, rows) to a screen direction (right, down)."""
        turned = _turns(self.rotation)
        return _MIRROR @ turned if self.flip_horizontal else turned

    @classmethod
    def from_matrix(cls, matrix: np.ndarray) -> SpatialTransform:
        """The transform of one of the eight signed permutation matrices :attr:`matrix` gives."""
        matrix = np.rint(np.asarray(matrix)).astype(int)
        flip = round(float(np.linalg.det(matrix))) < 0
        turned = _MIRROR @ matrix if flip else matrix
        for rotation in range(4):
            if np.array_equal(_turns(rotation), turned):
                return cls(rotation, flip)
        raise ValueError(f"not a quarter turn or flip of the screen: {matrix.tolist()}")

    def rotated(self, quarter_turns: int = 1) -> SpatialTransform:
        """This transform followed by turning the screen image clockwise by `quarter_turns` (negative: anticlockwise)."""
        return SpatialTransform.from_matrix(_turns(quarter_turns) @ self.matrix)

    def flipped_horizontally(self) -> SpatialTransform:
        """This transform followed by mirroring the screen image left to right."""
        return SpatialTransform.from_matrix(_MIRROR @ self.matrix)

    def flipped_vertically(self) -> SpatialTransform:
        """This transform followed by mirroring the screen image top to bottom."""
        return SpatialTransform.from_matrix(_turns(2) @ _MIRROR @ self.matrix)

    def screen_direction(self, image_direction: tuple[float, float]) -> tuple[float, float]:
        """Where a direction in the image (along columns, along rows) points on the screen (right, down)."""
        right, down = self.matrix @ np.asarray(image_direction, dtype=np.float64)
        return float(right), float(down)

    def image_direction(self, screen_direction: tuple[float, float]) -> tuple[float, float]:
        """The image direction (along columns, along rows) that points `screen_direction` (right, down) on the screen."""
        column, row = self.matrix.T @ np.asarray(screen_direction, dtype=np.float64)  # orthogonal: inverse is transpose
        return float(column), float(row)

    def shown_size(self, rows: int, columns: int) -> tuple[int, int]:
        """The (width, height) in image pixels of a rows x columns image once turned."""
        return (rows, columns) if self.rotation % 2 else (columns, rows)

    def to_screen(self, column: float, row: float, rows: int, columns: int) -> tuple[float, float]:
        """Image point (column, row) of a rows x columns image -> the point (x, y) of the turned image (pixel centres whole)."""
        width, height = self.shown_size(rows, columns)
        x, y = self.matrix @ np.array([column - (columns - 1) / 2, row - (rows - 1) / 2])
        return float(x + (width - 1) / 2), float(y + (height - 1) / 2)

    def to_image(self, x: float, y: float, rows: int, columns: int) -> tuple[float, float]:
        """The inverse of :meth:`to_screen`: point (x, y) of the turned image -> image point (column, row)."""
        width, height = self.shown_size(rows, columns)
        column, row = self.matrix.T @ np.array([x - (width - 1) / 2, y - (height - 1) / 2])
        return float(column + (columns - 1) / 2), float(row + (rows - 1) / 2)


def presentation_transform(ds: Dataset) -> SpatialTransform:
    """The transform a presentation state's *Spatial Transformation* module asks for (PS3.3 C.10.6).

    Reads (0070,0042) *Image Rotation* (0, 90, 180 or 270 degrees clockwise;
    anything else is ignored, as no turn) and (0070,0041) *Image Horizontal
    Flip* ("Y" mirrors, after the rotation).
    """
    try:
        degrees = int(ds.get("ImageRotation", 0) or 0)
    except (TypeError, ValueError):
        degrees = 0
    rotation = degrees // 90 if degrees in (0, 90, 180, 270) else 0
    flip = str(ds.get("ImageHorizontalFlip", "N") or "N").strip().upper() == "Y"
    return SpatialTransform(rotation, flip)
