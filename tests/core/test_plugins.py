"""pydicom's decoder plugins are imported when a frame needs one, not with pydicom.

Each case runs in its own interpreter that imports the viewer before pydicom,
as the app, the CLI and the worker processes do (this test process imported
pydicom first, so its plugins are loaded the usual way: it computes the
references). What is checked is structural -- which modules are in
``sys.modules`` -- never how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from transfer_syntax_files import sample_file

ROOT = Path(__file__).resolve().parents[2]

#: Top-level packages behind pydicom's decoder plugins (and Pillow, which
#: pydicom.pixels.processing imports for ICC profiles).
DECODER_PACKAGES = {"gdcm", "_gdcm", "pylibjpeg", "libjpeg", "_libjpeg", "openjpeg", "_openjpeg", "rle", "jpeg_ls", "_CharLS", "PIL"}

#: Compressed files, and the pydicom plugin modules registered for their transfer syntax.
COMPRESSED = {
    "JPEG2000.dcm": {"gdcm", "pylibjpeg", "pillow"},  # JPEG 2000
    "SC_rgb_jpeg_dcmtk.dcm": {"gdcm", "pylibjpeg", "pillow"},  # JPEG Baseline, YBR_FULL_422
    "JPEGLSNearLossless_16.dcm": {"gdcm", "pylibjpeg", "pyjpegls"},  # JPEG-LS Near-Lossless
    "MR_small_RLE.dcm": {"pylibjpeg"},  # RLE Lossless (pydicom's own RLE decoder is never deferred)
    "JPGLosslessP14SV1_1s_1f_8b.dcm": {"gdcm", "pylibjpeg"},  # JPEG Lossless SV1: gdcm, behind its guard
}

#: Run in a fresh interpreter: the viewer first, then the steps of the case; prints one JSON report.
PROLOGUE = """
import json, sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # as if not installed: import fails, find_spec gives None
import viewer.core
from pathlib import Path
from viewer.core.display.pixels import plugins

def decoders():
    tops = {name.split(".")[0] for name in plugins.imported_modules()}
    return {"packages": sorted(tops & set(json.loads(sys.argv[1]))), "plugins": plugins.loaded_plugins()}
"""


def _run(code: str, *hidden: str, args: tuple[str, ...] = ()) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", PROLOGUE + code, json.dumps(sorted(DECODER_PACKAGES)), *hidden],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def _plugin_labels(modules: list[str]) -> set[str]:
    return {name.rpartition(".")[2] for name in modules if name.startswith("pydicom.pixels.decoders.")}


def test_an_uncompressed_image_loads_no_decoder():
    report = _run("""
from pydicom.data import get_testdata_file
from viewer.core.display.frames import FrameSource
from viewer.core.dicom.header import read_index_header
from viewer.core.media.model import ImageRef, Instance
path = Path(get_testdata_file("693_UNCI.dcm", download=False))
frame = FrameSource().frame(ImageRef(Instance(path, read_index_header(path), 1), 0))
print(json.dumps({"shape": list(frame.stored.shape), "pydicom": "pydicom.dataset" in sys.modules, **decoders()}))
""")
    assert report["shape"] == [512, 512] and report["pydicom"]
    assert report["packages"] == [] and report["plugins"] == [], report


@pytest.mark.parametrize("name", sorted(COMPRESSED))
def test_a_compressed_frame_loads_the_plugins_of_its_syntax_and_decodes(name, tmp_path):
    path = sample_file(name)
    out = tmp_path / "stored.npy"
    report = _run(f"""
import numpy as np
from viewer.core.display.frames import FrameSource
from viewer.core.dicom.header import read_index_header
from viewer.core.media.model import ImageRef, Instance
path = Path({str(path)!r})
header = read_index_header(path)
before = decoders()
frame = FrameSource().frame(ImageRef(Instance(path, header, 1), 0))
np.save({str(out)!r}, frame.stored)
print(json.dumps({{"before": before, "after": decoders()}}))
""")
    assert report["before"] == {"packages": [], "plugins": []}
    assert _plugin_labels(report["after"]["plugins"]) == COMPRESSED[name]
    reference = pydicom.dcmread(path).pixel_array  # pydicom, its plugins loaded the usual way
    np.testing.assert_array_equal(np.load(out), reference[0] if reference.ndim == 3 and reference.shape[-1] != 3 else reference)


def test_once_loaded_the_plugins_are_registered_as_pydicom_registers_them():
    """Same plugins, same order (pydicom's default choice), same missing dependencies, for every syntax."""
    from pydicom.pixels.decoders.base import _PIXEL_DATA_DECODERS

    assert "viewer.core.display.pixels.decoders" in sys.modules  # this process's registration has the gdcm guard too
    report = _run("""
import viewer.core.display.pixels.decoders
from pydicom.pixels.decoders.base import _PIXEL_DATA_DECODERS
for uid in _PIXEL_DATA_DECODERS:
    plugins.load_for(uid)
print(json.dumps({str(uid): [list(d._available), {k: list(v) for k, v in d._unavailable.items()},
                             [getattr(f, "__module__", "") for f in d._available.values()]]
                  for uid, (d, _) in _PIXEL_DATA_DECODERS.items()}))
""")
    for uid, (decoder, _) in _PIXEL_DATA_DECODERS.items():
        available, unavailable, modules = report[str(uid)]
        assert available == list(decoder._available), uid
        assert unavailable == {k: list(v) for k, v in decoder._unavailable.items()}, uid
        assert modules == [f.__module__ for f in decoder._available.values()], uid  # gdcm behind its guard in both


def test_pillow_waits_for_an_icc_profile():
    """pydicom.pixels.processing imports Pillow for ICC profiles only: it gets it when one is first used."""
    report = _run("""
import pydicom
from pydicom.pixels import processing
before = "PIL" in sys.modules
profile = processing.ImageCms.createProfile("sRGB")
print(json.dumps({"before": before, "have_pil": processing.HAVE_PIL, "profile": type(profile).__name__,
                  "after": "PIL.ImageCms" in sys.modules}))
""")
    assert report == {"before": False, "have_pil": True, "profile": "CmsProfile", "after": True}


def test_pydicom_called_directly_still_decodes_a_compressed_file():
    """Code that reads pixels through pydicom alone gets the real plugin on first use."""
    path = sample_file("JPEG2000.dcm")
    report = _run(f"""
import pydicom
arr = pydicom.dcmread({str(path)!r}).pixel_array
print(json.dumps({{"sum": int(arr.astype("int64").sum()), "shape": list(arr.shape), **decoders()}}))
""")
    reference = pydicom.dcmread(path).pixel_array
    assert report["shape"] == list(reference.shape) and report["sum"] == int(reference.astype(np.int64).sum())
    assert report["plugins"], "the stand-in decoded without loading the real plugin?"


def test_a_missing_decoder_is_still_named_in_one_line():
    """With no JPEG-LS decoder installed, the message names the packages, as before."""
    path = sample_file("JPEGLSNearLossless_16.dcm")
    report = _run(
        f"""
from viewer.core.display.frames import FrameSource
from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import ViewerError
from viewer.core.media.model import ImageRef, Instance
path = Path({str(path)!r})
try:
    FrameSource().frame(ImageRef(Instance(path, read_index_header(path), 1), 0))
    message = None
except ViewerError as exc:
    message = str(exc)
print(json.dumps({{"message": message}}))
""",
        "jpeg_ls",
        "gdcm",
        "pylibjpeg",
        "libjpeg",
    )
    message = report["message"]
    assert message and "\n" not in message and message.startswith("JPEGLSNearLossless_16.dcm: ")
    assert "no decoder for JPEG-LS" in message and "is installed: install" in message, message
    for package in ("pyjpegls", "pylibjpeg-libjpeg", "python-gdcm"):
        assert package in message, message


def _export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "viewer", "export", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1, 8-bit output."""
    y = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255
    low, high = center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2
    return np.clip(np.where(values <= low, 0, np.where(values > high, 255, y)), 0, 255)


@pytest.mark.parametrize("name", ["JPEG2000.dcm", "MR_small_RLE.dcm", "JPEGLSNearLossless_16.dcm"])
def test_export_decodes_a_compressed_greyscale_file(name, tmp_path):
    path = sample_file(name)
    ds = pydicom.dcmread(path)
    values = ds.pixel_array.astype(float) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    center, width = float(values.mean()), float(max(2.0, values.max() - values.min()))
    out = tmp_path / "out.png"
    result = _export(str(path), "-o", str(out), "--window", f"{center}", f"{width}")
    assert result.returncode == 0, result.stderr
    assert np.abs(np.asarray(Image.open(out)).astype(int) - _linear_window(values, center, width)).max() <= 1


def test_export_decodes_a_jpeg_baseline_colour_file(tmp_path):
    path = sample_file("SC_rgb_jpeg_dcmtk.dcm")
    out = tmp_path / "out.png"
    result = _export(str(path), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(out)), pydicom.dcmread(path).pixel_array)


def test_export_names_the_missing_decoder_on_one_line(tmp_path):
    """The same, from ``export``, which decodes in a worker process: the packages are hidden there too."""
    path = sample_file("JPEGLSNearLossless_16.dcm")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nfor n in ('jpeg_ls', 'gdcm', 'pylibjpeg', 'libjpeg'):\n    sys.modules[n] = None\n")
    result = subprocess.run(
        [sys.executable, "-m", "viewer", "export", str(path), "-o", str(tmp_path / "x.png")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"},
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and all(p in lines[0] for p in ("pyjpegls", "pylibjpeg-libjpeg", "python-gdcm")), result.stderr
