"""Which spacing an image is measured with and what it is called, and the scale bar drawn from it.

The table follows issue #15 ("Units and calibration") and PS3.3: 10.7.1.3
(Pixel Spacing, its calibration type and description), C.8.11.4 (Imager
Pixel Spacing, at the detector) with (0018,1114) Estimated Radiographic
Magnification Factor, C.8.5.5 (ultrasound regions, deltas in cm). Each case
is a generated header with exactly the attributes named; the expected
spacing is worked out by hand beside it. Real files check the same rules
on what scanners wrote.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from viewer.core.display.calibration import (
    AT_DETECTOR,
    CALIBRATION_NOT_STATED,
    CALIBRATION_UNKNOWN,
    MAGNIFICATION_CORRECTED,
    ULTRASOUND_REGION,
    ULTRASOUND_REGIONS,
    UNCALIBRATED,
    Calibration,
    pixel_spacing_basis,
    ultrasound_region_spacing,
)
from viewer.core.display.pixels.pipeline import frame_context
from viewer.core.display.scale_bar import ScaleBar, round_length, scale_bar, screen_spacing
from viewer.core.display.spatial_transform import SpatialTransform

DICOMDIR_TESTS = Path(get_testdata_file("DICOMDIR", download=False)).parent


def image(modality: str = "CT", rows: int = 400, columns: int = 600, **attributes) -> Dataset:
    ds = Dataset()
    ds.Modality, ds.Rows, ds.Columns = modality, rows, columns
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    return ds


def region(min_x, min_y, max_x, max_y, delta_x_cm, delta_y_cm, units=(3, 3), spatial_format=1) -> Dataset:
    item = Dataset()
    item.RegionSpatialFormat, item.RegionDataType = spatial_format, 1
    item.RegionLocationMinX0, item.RegionLocationMinY0, item.RegionLocationMaxX1, item.RegionLocationMaxY1 = min_x, min_y, max_x, max_y
    item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = units
    item.PhysicalDeltaX, item.PhysicalDeltaY = delta_x_cm, delta_y_cm
    return item


# --------------------------------------------------------------------------- the calibration table

CASES = {
    # Cross-sectional: Pixel Spacing is in the patient, nothing to add.
    "Pixel Spacing (CT)": (image(PixelSpacing=[0.5, 0.5]), Calibration((0.5, 0.5), "")),
    "non-square pixels, rows then columns": (image(PixelSpacing=[0.5, 0.8]), Calibration((0.5, 0.8), "")),
    # Projection radiography, only Imager Pixel Spacing: at the detector, or / ERMF (0.15 / 1.2 = 0.125).
    "Imager Pixel Spacing alone": (image("CR", ImagerPixelSpacing=[0.15, 0.15]), Calibration((0.15, 0.15), AT_DETECTOR)),
    "Imager Pixel Spacing with magnification": (
        image("DX", ImagerPixelSpacing=[0.15, 0.3], EstimatedRadiographicMagnificationFactor=1.2),
        Calibration((0.125, 0.25), MAGNIFICATION_CORRECTED),
    ),
    "Pixel Spacing equal to Imager Pixel Spacing (the detector's)": (
        image("DX", PixelSpacing=[0.15, 0.15], ImagerPixelSpacing=[0.15, 0.15]),
        Calibration((0.15, 0.15), AT_DETECTOR),
    ),
    "Pixel Spacing equal to Imager Pixel Spacing, with magnification": (
        image("MG", PixelSpacing=[0.1, 0.1], ImagerPixelSpacing=[0.1, 0.1], EstimatedRadiographicMagnificationFactor=1.25),
        Calibration((0.08, 0.08), MAGNIFICATION_CORRECTED),
    ),
    "calibration type geometry": (
        image("DX", PixelSpacing=[0.12, 0.12], ImagerPixelSpacing=[0.15, 0.15], PixelSpacingCalibrationType="GEOMETRY"),
        Calibration((0.12, 0.12), "calibrated (geometry)"),
    ),
    "calibration type fiducial": (
        image("CR", PixelSpacing=[0.13, 0.13], ImagerPixelSpacing=[0.15, 0.15], PixelSpacingCalibrationType="FIDUCIAL"),
        Calibration((0.13, 0.13), "calibrated (fiducial)"),
    ),
    "calibration description only": (
        image("DX", PixelSpacing=[0.13, 0.13], PixelSpacingCalibrationDescription="ball 25 mm"),
        Calibration((0.13, 0.13), "calibrated (ball 25 mm)"),
    ),
    "Pixel Spacing unlike Imager Pixel Spacing, no calibration stated": (
        image("DX", PixelSpacing=[0.12, 0.12], ImagerPixelSpacing=[0.15, 0.15]),
        Calibration((0.12, 0.12), CALIBRATION_NOT_STATED),
    ),
    "projection with Pixel Spacing only": (image("CR", PixelSpacing=[0.2, 0.2]), Calibration((0.2, 0.2), CALIBRATION_UNKNOWN)),
    # Ultrasound: 0.02 cm per pixel = 0.2 mm; a region over the whole 400 x 600 image (pixels 0..599, 0..399).
    "ultrasound region covering the image": (
        image("US", SequenceOfUltrasoundRegions=[region(0, 0, 599, 399, 0.02, 0.03)]),
        Calibration((0.3, 0.2), ULTRASOUND_REGION),
    ),
    "ultrasound regions covering part of it": (
        image("US", SequenceOfUltrasoundRegions=[region(10, 20, 300, 380, 0.02, 0.02), region(301, 20, 590, 380, 0.02, 0.02)]),
        Calibration(None, ULTRASOUND_REGIONS),
    ),
    "ultrasound region in other units": (
        image("US", SequenceOfUltrasoundRegions=[region(0, 0, 599, 399, 0.02, 0.02, units=(4, 0))]),  # seconds, none
        Calibration(None, ULTRASOUND_REGIONS),
    ),
    "ultrasound regions win over a Pixel Spacing": (
        image("US", PixelSpacing=[1.0, 1.0], SequenceOfUltrasoundRegions=[region(0, 0, 300, 399, 0.02, 0.02)]),
        Calibration(None, ULTRASOUND_REGIONS),
    ),
    "nothing known": (image("OT"), Calibration(None, UNCALIBRATED)),
    "zero Pixel Spacing is no spacing, and no other is taken instead": (image("CR", PixelSpacing=[0, 0]), Calibration(None, UNCALIBRATED)),
    "invalid Pixel Spacing beside Imager Pixel Spacing": (
        image("DX", PixelSpacing=[0, 0], ImagerPixelSpacing=[0.15, 0.15]),
        Calibration((0.15, 0.15), AT_DETECTOR),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_calibration_basis(case):
    ctx, expected = CASES[case]
    spacing, basis = pixel_spacing_basis(ctx)
    assert basis == expected.basis
    if expected.spacing is None:
        assert spacing is None
    else:
        assert spacing == pytest.approx(expected.spacing)


def test_measurements_inside_one_ultrasound_region_use_its_deltas():
    ctx = image("US", SequenceOfUltrasoundRegions=[region(10, 20, 300, 380, 0.02, 0.025), region(301, 20, 590, 380, 0.04, 0.04)])
    assert ultrasound_region_spacing(ctx, [(10, 20), (300, 380)]) == pytest.approx((0.25, 0.2))  # rows: delta Y
    assert ultrasound_region_spacing(ctx, [(400, 100), (590.5, 380.5)]) == pytest.approx((0.4, 0.4))  # to the pixels' edges
    assert ultrasound_region_spacing(ctx, [(200, 100), (400, 100)]) is None  # across two regions
    assert ultrasound_region_spacing(ctx, [(5, 5)]) is None  # outside every region
    assert ultrasound_region_spacing(ctx, []) is None
    mirrored = image("US", SequenceOfUltrasoundRegions=[region(0, 0, 100, 100, -0.02, 0.02)])
    assert ultrasound_region_spacing(mirrored, [(50, 50)]) == pytest.approx((0.2, 0.2))


def test_real_files():
    # CR (dicomdirtests): Imager Pixel Spacing 0.1\0.1, no magnification factor.
    cr = pydicom.dcmread(DICOMDIR_TESTS / "77654033/CR1/6154", stop_before_pixels=True)
    assert pixel_spacing_basis(cr) == ((0.1, 0.1), AT_DETECTOR)
    # RG1 (pydicom-data CR): Pixel Spacing 0.000\0.000: no usable spacing, and none other to take.
    rg1 = pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm", download=False), stop_before_pixels=True)
    assert pixel_spacing_basis(rg1) == (None, UNCALIBRATED)
    # An obstetric ultrasound: its 2D region spans pixels 120..800 x 60..518 of 800 x 600, not the whole image.
    us = pydicom.dcmread(get_testdata_file("OBXXXX1A.dcm", download=False), stop_before_pixels=True)
    assert pixel_spacing_basis(us) == (None, ULTRASOUND_REGIONS)
    delta_mm = 0.02622878766196998 * 10  # its Physical Delta X and Y, cm -> mm
    assert ultrasound_region_spacing(us, [(200, 100), (700, 500)]) == pytest.approx((delta_mm, delta_mm))
    assert ultrasound_region_spacing(us, [(300, 550)]) is None  # the Doppler strip (spatial format 4) below it
    # Enhanced CT: the Pixel Measures functional group, 0.388672 mm.
    ect = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm", download=False), stop_before_pixels=True)
    assert pixel_spacing_basis(frame_context(ect, 0)) == ((0.388672, 0.388672), "")
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False), stop_before_pixels=True)
    assert pixel_spacing_basis(ct) == ((0.661468, 0.661468), "")


# --------------------------------------------------------------------------- the scale bar


@pytest.mark.parametrize(
    ("longest", "expected"),
    [(7, 5), (10, 10), (19.99, 10), (20, 20), (49.9, 20), (50, 50), (99, 50), (1234, 1000), (0.3, 0.2), (0.07, 0.05), (0.011, 0.01)],
)
def test_round_lengths(longest, expected):
    assert round_length(longest) == pytest.approx(expected)


def test_a_float_product_just_under_a_round_value_still_gives_it():
    assert round_length(0.1 * 3 * 100 / 1.5) == 20  # 19.999999999999996


def test_scale_bar_square_pixels():
    # 0.5 mm pixels at zoom 2: 0.25 mm per screen pixel; 100 screen pixels hold 25 mm -> a 20 mm bar of 80 pixels.
    bar = scale_bar((0.5, 0.5), zoom=2, longest_pixels=100)
    assert bar == ScaleBar(20, pytest.approx(80))
    assert bar.text == "20 mm"


def test_scale_bar_non_square_pixels_follow_the_screen_axis():
    spacing = (0.5, 0.8)  # between rows, between columns
    # Across the screen runs between columns: 0.8 mm per pixel, 100 pixels = 80 mm -> 50 mm, 62.5 pixels.
    assert scale_bar(spacing, 1, 100) == ScaleBar(50, pytest.approx(62.5))
    # Turned a quarter: across the screen runs between rows: 0.5 mm, 100 pixels = 50 mm -> 50 mm, 100 pixels.
    assert screen_spacing(spacing, SpatialTransform(1)) == 0.5
    assert scale_bar(spacing, 1, 100, SpatialTransform(1)) == ScaleBar(50, pytest.approx(100))
    # A vertical bar on the unturned image runs between rows as well.
    assert scale_bar(spacing, 1, 100, vertical=True) == ScaleBar(50, pytest.approx(100))
    # Mirroring changes nothing about lengths.
    assert scale_bar(spacing, 1, 100, SpatialTransform(0, True)) == ScaleBar(50, pytest.approx(62.5))


def test_scale_bar_small_lengths_and_labels():
    # A 64-pixel MR at 0.3125 mm shown 8x: 0.0390625 mm per screen pixel; 150 pixels = 5.86 mm -> 5 mm, 128 pixels.
    bar = scale_bar((0.3125, 0.3125), zoom=8, longest_pixels=150, basis=AT_DETECTOR)
    assert (bar.length_mm, bar.length_pixels) == (5, pytest.approx(128))
    assert bar.text == "5 mm (at detector)"
    # Zoomed far in: 0.01 mm per screen pixel, 80 pixels = 0.8 mm -> 0.5 mm.
    assert scale_bar((0.1, 0.1), 10, 80).text == "0.5 mm"


def test_no_spacing_no_bar():
    assert scale_bar(None, 1, 100) is None
    assert scale_bar((0.5, 0.5), 0, 100) is None
    assert scale_bar((0.5, 0.5), 1, 0) is None
    assert scale_bar((0.0, 0.5), 1, 100) is None
