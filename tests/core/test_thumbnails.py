"""Series thumbnails: the middle image, rendered as the file asks, at most 48 pixels a side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from viewer.core.dicom.header import read_index_header
from viewer.core.display.pixels.decoders import number_of_frames
from viewer.core.display.thumbnails import series_thumbnail
from viewer.core.media.model import Catalog, Instance
from viewer.core.runtime.processes import shutdown_pool

CRASHES = Path(__file__).parent.parent / "robustness" / "crashes"


@pytest.fixture(scope="module", autouse=True)
def _stop_workers():
    yield
    shutdown_pool()


def _series(path):
    header = read_index_header(path)
    (series,) = Catalog().add([Instance(Path(path), header, number_of_frames(header))])
    return series


@pytest.mark.parametrize(
    "name, colour",
    [("CT_small.dcm", False), ("JPEG2000.dcm", False), ("SC_rgb_jpeg_dcmtk.dcm", True), ("emri_small_jpeg_2k_lossless.dcm", False)],
)
def test_thumbnail_of_a_series(name, colour):
    thumbnail = series_thumbnail(_series(get_testdata_file(name, download=False)))
    assert thumbnail is not None and thumbnail.dtype == np.uint8
    assert max(thumbnail.shape[:2]) <= 48 and (thumbnail.ndim == 3) == colour
    assert thumbnail.std() > 0  # an image, not a flat field


@pytest.mark.parametrize("name", ["jpeg_lossless_not_jpeg.dcm", "j2k_photometric_mismatch.dcm"])
def test_a_damaged_code_stream_gives_no_thumbnail_and_no_crash(name):
    """Decoded in a worker process: whatever the decoder does, the app gets None."""
    assert series_thumbnail(_series(CRASHES / name)) is None
