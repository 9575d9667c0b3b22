"""The corner's window as whole numbers, and when the markers and scale bar need the file's whole header (#14)."""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.dicom.header import read_index_header
from viewer.core.display.annotations import overlay_context_is_complete, window_text
from viewer.core.display.pixels.pipeline import FullRange, Window


@pytest.mark.parametrize(
    ("center", "width", "text"),
    [
        (177.763, 349.525, "W 350 L 178"),  # emri_small's automatic window
        (40, 400, "W 400 L 40"),
        (-600, 1500, "W 1500 L -600"),
        (-0.5, 100.5, "W 101 L -1"),  # halves away from zero
        (2.5, 5, "W 5 L 2.5"),  # narrower than 10: decimals kept (PET SUV)
    ],
)
def test_window_text(center, width, text):
    assert window_text(Window(center, width)) == text


def test_window_text_of_other_vois():
    assert window_text(FullRange()) == "full range"


@pytest.mark.parametrize(
    ("name", "complete_in_catalog"),
    [
        ("CT_small.dcm", True),  # Image Orientation (Patient) and Pixel Spacing: the catalog keeps both
        ("RG3_UNCI.dcm", False),  # CR: Patient Orientation only
        ("dicomdirtests/77654033/CR1/6154", False),  # CR: Imager Pixel Spacing
        ("US1_UNCI.dcm", False),  # ultrasound: regions
    ],
)
def test_when_the_whole_header_is_needed(name, complete_in_catalog):
    path = get_testdata_file(name, download=False)
    assert overlay_context_is_complete(read_index_header(path)) is complete_in_catalog
    full = pydicom.dcmread(path, stop_before_pixels=True)
    if not complete_in_catalog and any(k in full for k in ("PatientOrientation", "ImagerPixelSpacing")):
        assert overlay_context_is_complete(full)
