"""The Display pipeline dock as the user reads it, for files whose header is not plain text.

pydicom-data's 693_J2KR is a signed CT compressed with JPEG 2000: it is
decoded by a worker process and shown with its raw header, which made the
dock read '▯ bits stored, unsigned'. Expected values come from pydicom's
dcmread of the same file.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file


@pytest.mark.parametrize("name", ["693_J2KR.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "US1_J2KR.dcm"])
def test_the_dock_states_bits_stored_and_sign_as_the_file_does(main_window, open_in, qtbot, name):
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not installed")
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    expected = f"{ds.PhotometricInterpretation}, {ds.BitsStored} bits stored, {'signed' if ds.PixelRepresentation == 1 else 'unsigned'}"
    open_in(main_window, [path])
    qtbot.waitUntil(lambda: expected in main_window.pipeline_label.text(), timeout=5000)
