"""One entry point for every measurement: the ``measure`` command and the viewport's tools call :func:`measure`.

A :class:`Measurement` holds the shape and its readings; each reading says its
value, its unit and the calibration basis it rests on
(:func:`~viewer.core.display.calibration.measurement_calibration`), so a
number is never shown without what it means.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.display.calibration import NO_LABEL, Calibration, measurement_calibration
from viewer.core.display.pixels.pipeline import modality_unit
from viewer.core.measure import geometry as g
from viewer.core.measure.roi import Statistics, refuse_colour, roi_statistics
from viewer.core.measure.roi_tracker import RoiTracker

#: The basis of plain (0028,0030) *Pixel Spacing* as written out (the viewport shows no label for it).
PIXEL_SPACING = "pixel spacing"


def basis_name(calibration: Calibration) -> str:
    """The basis as written in JSON, CSV and presentation states: the label, or "pixel spacing" for plain Pixel Spacing."""
    return calibration.basis if calibration.basis != NO_LABEL else PIXEL_SPACING


@dataclass(frozen=True)
class Reading:
    """One number a measurement gives: what it is (``quantity``), value, unit and calibration basis."""

    quantity: str
    value: float | None
    unit: str
    basis: str

    def text(self) -> str:
        """As shown beside the shape: "12.3 mm", "45.0°", "mean -3.2 HU", "pop. SD 4.1 HU" (the population SD), "n 941 px"."""
        if self.value is None or (isinstance(self.value, float) and math.isnan(self.value)):
            number = "-"
        elif self.quantity == "count":
            number = str(int(self.value))
        else:
            number = f"{self.value:.1f}" if abs(self.value) >= 10 or self.unit in ("°", "HU") else f"{self.value:.2f}"
        unit = "" if not self.unit else (self.unit if self.unit == "°" else f" {self.unit}")
        name = {"sd": "pop. SD", "count": "n"}.get(self.quantity, self.quantity)
        return f"{number}{unit}" if self.quantity in ("length", "angle", "value", "cobb") else f"{name} {number}{unit}"


@dataclass(frozen=True)
class Measurement:
    """A shape and its readings; ``statistics`` for an ROI."""

    shape: g.Shape
    readings: tuple[Reading, ...]
    basis: str
    statistics: Statistics | None = None

    def reading(self, quantity: str) -> Reading | None:
        return next((r for r in self.readings if r.quantity == quantity), None)

    def label(self) -> str:
        """The text shown beside the shape (:func:`label`)."""
        return label(self.shape, self.readings)

    def to_json(self) -> dict:
        """The ``measure --json`` form: ``{"value", "unit", "basis"}``, or for an ROI
        ``{"mean", "sd", "min", "max", "count", "area", "unit", "area_unit", "basis"}``."""
        if self.statistics is not None:
            stats, area = self.statistics, self.reading("area")
            return {
                "mean": stats.mean,
                "sd": stats.sd,
                "min": stats.min,
                "max": stats.max,
                "count": stats.count,
                "area": area.value,
                "unit": self.reading("mean").unit,
                "area_unit": area.unit,
                "basis": self.basis,
            }
        first = self.readings[0] if self.readings else Reading("", None, "", self.basis)
        value = None if first.value is None or (isinstance(first.value, float) and math.isnan(first.value)) else first.value
        return {"value": value, "unit": first.unit, "basis": self.basis}


def label(shape: g.Shape, readings: tuple[Reading, ...]) -> str:
    """The text shown beside a shape: its readings one per line, then the basis unless it is plain Pixel Spacing; an arrow's own text."""
    if shape.tool == g.ARROW:
        return shape.text
    texts = [r.text() for r in readings]
    basis = readings[0].basis if readings else PIXEL_SPACING
    if basis != PIXEL_SPACING:
        texts.append(f"({basis})")
    return "\n".join(texts)


def _point_value(stored: np.ndarray, ctx: Dataset, point: g.Point) -> float | None:
    """The modality value of the pixel whose centre is nearest `point`; None outside the image."""
    refuse_colour(stored, ctx)
    column, row = math.floor(point[0] + 0.5), math.floor(point[1] + 0.5)
    if not (0 <= row < stored.shape[0] and 0 <= column < stored.shape[1]):
        return None
    from viewer.core.display.pixels.lut_data import modality_values

    return float(np.asarray(modality_values(stored[row : row + 1, column : column + 1], ctx), dtype=np.float64)[0, 0])


def measure(
    shape: g.Shape, ctx: Dataset, stored: np.ndarray | None = None, user: Calibration | None = None, tracker: RoiTracker | None = None
) -> Measurement:
    """Measure `shape` on the frame whose context is `ctx` (and stored values `stored`, needed by point values and ROIs).

    Length and arrow: the distance; polyline: its total length; angle: at
    the middle point; Cobb: between the lines (0-90°); point: the modality
    value of the nearest pixel; ellipse, rectangle, polygon, freehand:
    :func:`~viewer.core.measure.roi.roi_statistics` and the shape's area
    (:func:`~viewer.core.measure.geometry.shape_area`). `user` is the user's
    calibration of the series, if any. `tracker`, a
    :class:`~viewer.core.measure.roi_tracker.RoiTracker` of this frame, makes an ROI
    being dragged cost its outline's change only (same numbers). ViewerError
    for a colour frame's pixel values.
    """
    calibration = measurement_calibration(ctx, g.measured_points(shape), user)
    basis = basis_name(calibration)
    tool, points = shape.tool, shape.points
    unit = g.length_unit(calibration)
    if tool in (g.LINE, g.ARROW):
        return Measurement(shape, (Reading("length", g.distance(points[0], points[1], calibration), unit, basis),), basis)
    if tool == g.POLYLINE:
        return Measurement(shape, (Reading("length", g.path_length(points, calibration), unit, basis),), basis)
    if tool == g.ANGLE:
        return Measurement(shape, (Reading("angle", g.angle_at(points[0], points[1], points[2], calibration), "°", basis),), basis)
    if tool == g.COBB:
        angle = g.cobb_angle((points[0], points[1]), (points[2], points[3]), calibration)
        return Measurement(shape, (Reading("cobb", angle, "°", basis),), basis)
    if stored is None and tracker is not None:
        stored = tracker.stored
    if stored is None:
        raise ValueError(f"a {tool} measures pixel values: pass the frame's stored values")
    value_unit = modality_unit(ctx)
    if tool == g.POINT:
        return Measurement(shape, (Reading("value", _point_value(stored, ctx, points[0]), value_unit, basis),), basis)
    stats = tracker.statistics(shape) if tracker is not None else roi_statistics(stored, ctx, shape)
    readings = (
        Reading("mean", stats.mean, value_unit, basis),
        Reading("sd", stats.sd, value_unit, basis),
        Reading("min", stats.min, value_unit, basis),
        Reading("max", stats.max, value_unit, basis),
        Reading("count", float(stats.count), "px", basis),
        Reading("area", g.shape_area(shape, calibration), g.area_unit(calibration), basis),
    )
    return Measurement(shape, readings, basis, stats)
