"""The quick first image (viewer.core.display.first_image): declined, or bit for bit the full pipeline's image.

The expected image is what the viewer shows: pydicom decodes the file
(viewer.core.display.pixels.decoders.decode_frame) and the PS3.3 C.11
pipeline renders it for the image's own window
(``FrameDisplay.render(FrameDisplay.default_voi())``), as ``export`` does.
Every pydicom test file and every pydicom-data file is tried; generated
variants cover what no real file does (MONOCHROME1, garbage above Bits
Stored, rescale, Presentation LUT Shape, 8 bits) and what must be declined.
"""

from __future__ import annotations

import glob
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data.data_manager import DATA_ROOT, external_data_sources
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from viewer.core.dicom.io import read_image_dataset
from viewer.core.display.first_image import first_image
from viewer.core.display.pixels.decoders import decode_frame
from viewer.core.display.pixels.pipeline import FrameDisplay, Window, frame_context


def _installed_files() -> list[str]:
    """pydicom's test files and pydicom-data's files, as installed (nothing downloaded)."""
    found = glob.glob(os.path.join(DATA_ROOT, "test_files", "**", "*"), recursive=True)
    for source in external_data_sources().values():
        found += source.get_paths("**/*")
    return sorted(p for p in found if os.path.isfile(p) and not p.endswith((".py", ".pyc", ".json", ".txt", ".md", ".gz", ".bz2")))


FILES = _installed_files()

#: Real files of the simple case: these must give a quick image (the test must not pass by declining everything).
SIMPLE = ("693_UNCI.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "MR2_UNCI.dcm", "RG1_UNCI.dcm")


def pixels(quick) -> np.ndarray:
    """The quick image as a uint8 (rows, columns) array."""
    assert isinstance(quick.pixels, bytes) and len(quick.pixels) == quick.rows * quick.columns
    return np.frombuffer(quick.pixels, dtype=np.uint8).reshape(quick.rows, quick.columns)


def full_pipeline(path: str | os.PathLike[str]) -> tuple[np.ndarray, Window]:
    """The 8-bit image the viewer shows for `path` at first, and its window."""
    ds = read_image_dataset(path)
    display = FrameDisplay(decode_frame(ds, 0, path), frame_context(ds, 0))
    voi = display.default_voi()
    return display.render(voi, False), voi


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_every_test_file_is_declined_or_shown_exactly_as_the_pipeline_shows_it(path):
    quick = first_image(path)
    if quick is None:
        return
    expected, voi = full_pipeline(path)
    assert isinstance(voi, Window) and voi.source == "file" and voi.function == "LINEAR"
    assert (quick.window_center, quick.window_width) == (voi.center, voi.width)
    shown = pixels(quick)
    assert shown.shape == expected.shape
    assert np.array_equal(shown, expected), f"{np.count_nonzero(shown != expected)} pixels differ"


@pytest.mark.parametrize("name", SIMPLE)
def test_the_simple_real_files_get_a_quick_image(name):
    path = next((p for p in FILES if os.path.basename(p) == name), None)
    if path is None:
        pytest.skip(f"{name} is not installed")
    quick = first_image(path)
    assert quick is not None
    assert np.array_equal(pixels(quick), full_pipeline(path)[0])


# --------------------------------------------------------------------------- generated variants


def _variant(source: Path, tmp_path: Path, name: str, change, syntax=None) -> Path:
    """A copy of the file `source` changed by `change(ds)`, written with `syntax` (default: the source's)."""
    ds = pydicom.dcmread(source)
    change(ds)
    out = tmp_path / f"{name}.dcm"
    if syntax is not None:
        ds.file_meta.TransferSyntaxUID = syntax
    ds.save_as(out, enforce_file_format=True)
    return out


def _monochrome1(ds):
    ds.PhotometricInterpretation = "MONOCHROME1"


def _garbage_above_bits_stored(ds):
    """12 bits stored, signed, with the bits above them set at random (PS3.5 8.1.1 says they mean nothing)."""
    stored = ds.pixel_array.astype(np.int16)
    ds.BitsStored, ds.HighBit = 12, 11
    rng = np.random.default_rng(1)
    clipped = np.clip(stored, -2048, 2047).astype(np.int16).view(np.uint16)
    garbage = (rng.integers(0, 16, stored.shape, dtype=np.uint16) << 12) | (clipped & 0x0FFF)
    ds.PixelData = garbage.astype("<u2").tobytes()


def _unsigned_garbage(ds):
    stored = np.clip(ds.pixel_array.astype(np.int32), 0, 1023).astype(np.uint16)
    ds.PixelRepresentation, ds.BitsStored, ds.HighBit = 0, 10, 9
    rng = np.random.default_rng(2)
    ds.PixelData = ((rng.integers(0, 64, stored.shape, dtype=np.uint16) << 10) | stored).astype("<u2").tobytes()


def _rescale(ds):
    ds.RescaleSlope, ds.RescaleIntercept = "0.37", "-123.5"
    ds.WindowCenter, ds.WindowWidth = "97.3", "411.9"


def _only_slope(ds):
    ds.RescaleSlope = "2"  # without an intercept pydicom (and so the viewer) rescales nothing


def _inverse_shape(ds):
    ds.PresentationLUTShape = "INVERSE"


def _identity_shape_on_monochrome1(ds):
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.PresentationLUTShape = "IDENTITY"


def _eight_bits(ds):
    stored = np.clip(ds.pixel_array.astype(np.int32) // 16, 0, 255).astype(np.uint8)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = stored.tobytes()
    ds.WindowCenter, ds.WindowWidth = "60", "90"


def _odd_length_eight_bits(ds):
    """3 x 5 pixels of 8 bits: 15 bytes, and one byte of padding after them (PS3.5 8.1.1)."""
    ds.Rows, ds.Columns = 3, 5
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(range(0, 250, 17)) + b"\x00"
    ds.WindowCenter, ds.WindowWidth = "128", "200"


def _several_windows(ds):
    ds.WindowCenter, ds.WindowWidth = ["300", "900"], ["500", "1200"]


def _width_one(ds):
    ds.WindowCenter, ds.WindowWidth = "600", "1"


ACCEPTED = {
    "monochrome1": _monochrome1,
    "signed_garbage_above_bits_stored": _garbage_above_bits_stored,
    "unsigned_garbage_above_bits_stored": _unsigned_garbage,
    "rescale": _rescale,
    "slope_without_intercept": _only_slope,
    "presentation_lut_shape_inverse": _inverse_shape,
    "presentation_lut_shape_identity_on_monochrome1": _identity_shape_on_monochrome1,
    "eight_bits": _eight_bits,
    "odd_length_eight_bits": _odd_length_eight_bits,
    "several_windows": _several_windows,
    "width_one": _width_one,
}


@pytest.mark.parametrize("syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian], ids=["explicit", "implicit"])
@pytest.mark.parametrize("name", list(ACCEPTED))
def test_generated_simple_files_are_shown_exactly_as_the_pipeline_shows_them(sample, tmp_path, name, syntax):
    path = _variant(sample("MR_small.dcm"), tmp_path, name, ACCEPTED[name], syntax)
    quick = first_image(path)
    assert quick is not None, name
    assert np.array_equal(pixels(quick), full_pipeline(path)[0])


def test_monochrome1_is_the_monochrome2_image_inverted(sample, tmp_path):
    plain = first_image(sample("MR_small.dcm"))
    inverted = first_image(_variant(sample("MR_small.dcm"), tmp_path, "m1", _monochrome1))
    assert plain is not None and inverted is not None
    assert np.array_equal(pixels(inverted), 255 - pixels(plain))


def test_rescale_and_window_by_hand(sample, tmp_path):
    """Four stored values through PS3.3 C.11.1 and C.11.2.1.2.1 computed by hand."""

    def change(ds):
        ds.Rows, ds.Columns = 2, 2
        ds.PixelData = np.array([[-10, 100], [140, 400]], dtype="<i2").tobytes()
        ds.RescaleSlope, ds.RescaleIntercept = "2", "-100"  # modality values -120, 100, 180, 700
        ds.WindowCenter, ds.WindowWidth = "140", "101"  # c - 0.5 = 139.5, w - 1 = 100: 89.5 < x <= 189.5 is a ramp

    quick = first_image(_variant(sample("MR_small.dcm"), tmp_path, "by_hand", change))
    assert quick is not None

    def ramp(x: float) -> int:
        return round(((x - 139.5) / 100 + 0.5) * 255)

    assert pixels(quick).tolist() == [[0, ramp(100)], [ramp(180), 255]]


def _voi_lut_sequence(ds):
    item = pydicom.Dataset()
    item.LUTDescriptor = [256, 0, 8]
    item.add_new("LUTData", "US", list(range(256)))
    ds.VOILUTSequence = [item]


def _modality_lut_sequence(ds):
    item = pydicom.Dataset()
    item.LUTDescriptor = [256, 0, 8]
    item.add_new("LUTData", "US", list(range(256)))
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = [item]


def _presentation_lut_sequence(ds):
    item = pydicom.Dataset()
    item.LUTDescriptor = [256, 0, 8]
    item.add_new("LUTData", "US", list(range(256)))
    ds.PresentationLUTSequence = [item]


def _sigmoid(ds):
    ds.VOILUTFunction = "SIGMOID"


def _no_window(ds):
    del ds.WindowCenter
    del ds.WindowWidth


def _narrow_window(ds):
    ds.WindowWidth = "0.5"  # not a LINEAR window (width >= 1); the viewer would look for another


def _two_frames(ds):
    ds.NumberOfFrames = 2
    ds.PixelData = ds.PixelData * 2


def _rgb(ds):
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = bytes(ds.Rows * ds.Columns * 3)


def _thirty_two_bits(ds):
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 32, 32, 31
    ds.PixelData = np.zeros((ds.Rows, ds.Columns), dtype="<i4").tobytes()


def _short_pixel_data(ds):
    ds.PixelData = ds.PixelData[:-64]


def _high_bit_elsewhere(ds):
    ds.HighBit = 14


def _empty_rescale_intercept(ds):
    ds.RescaleSlope, ds.RescaleIntercept = "1", None


def _enhanced_groups(ds):
    group = pydicom.Dataset()
    ds.SharedFunctionalGroupsSequence = [group]


DECLINED = {
    "voi_lut_sequence": _voi_lut_sequence,
    "modality_lut_sequence": _modality_lut_sequence,
    "presentation_lut_sequence": _presentation_lut_sequence,
    "sigmoid": _sigmoid,
    "no_window": _no_window,
    "narrow_window": _narrow_window,
    "two_frames": _two_frames,
    "rgb": _rgb,
    "thirty_two_bits": _thirty_two_bits,
    "short_pixel_data": _short_pixel_data,
    "high_bit_elsewhere": _high_bit_elsewhere,
    "empty_rescale_intercept": _empty_rescale_intercept,
    "functional_groups": _enhanced_groups,
}


@pytest.mark.parametrize("name", list(DECLINED))
def test_what_is_not_the_simple_case_is_declined(sample, tmp_path, name):
    assert first_image(_variant(sample("MR_small.dcm"), tmp_path, name, DECLINED[name])) is None


@pytest.mark.parametrize(
    "name", ["MR_small_bigendian.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm", "image_dfl.dcm", "emri_small.dcm", "CT_small.dcm"]
)
def test_real_files_that_are_not_the_simple_case_are_declined(sample, name):
    """Big endian, RLE, JPEG 2000, deflated, multi-frame, and a CT without a window of its own."""
    assert first_image(sample(name)) is None


def test_deflated_is_declined(sample, tmp_path):
    path = _variant(sample("MR_small.dcm"), tmp_path, "deflated", lambda ds: None, DeflatedExplicitVRLittleEndian)
    assert first_image(path) is None


def test_truncated_files_are_declined(sample, tmp_path):
    data = sample("693_UNCI.dcm").read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 1000, 140, 10, 0):
        (tmp_path / "cut.dcm").write_bytes(data[:cut])
        assert first_image(tmp_path / "cut.dcm") is None, cut


def test_what_is_not_a_dicom_file_is_declined(sample, tmp_path):
    (tmp_path / "text.dcm").write_text("not DICOM at all " * 100)
    (tmp_path / "noise.dcm").write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    data = bytearray(sample("MR_small.dcm").read_bytes())
    data[128:132] = b"DICX"
    (tmp_path / "no_dicm.dcm").write_bytes(bytes(data))
    for name in ("text.dcm", "noise.dcm", "no_dicm.dcm", "missing.dcm"):
        assert first_image(tmp_path / name) is None, name
    assert first_image(tmp_path) is None  # a folder


def test_a_damaged_header_gives_the_pipelines_image_or_none(sample, tmp_path):
    """Each byte of the header changed in turn: an image equal to the pipeline's, or none, never an exception."""
    data = sample("MR_small.dcm").read_bytes()
    pixel_start = len(data) - 64 * 64 * 2
    for offset in range(128, pixel_start):
        damaged = bytearray(data)
        damaged[offset] ^= 0xFF
        path = tmp_path / f"damaged_{offset}.dcm"
        path.write_bytes(bytes(damaged))
        quick = first_image(path)
        if quick is None:
            continue
        try:
            expected = full_pipeline(path)[0]
        except Exception:  # the full path refuses it: the quick one should have, too
            pytest.fail(f"byte {offset}: a quick image of a file the viewer cannot show")
        assert np.array_equal(pixels(quick), expected), f"byte {offset}"


def test_importing_it_imports_neither_pydicom_nor_numpy():
    code = (
        "import sys, viewer.core.display.first_image\n"
        "from viewer.core.display.pixels.plugins import imported_modules\n"
        "loaded = [m for m in imported_modules() if m.split('.')[0] == 'pydicom']\n"
        "assert 'pydicom' not in sys.modules and 'numpy' not in sys.modules and not loaded, loaded\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
