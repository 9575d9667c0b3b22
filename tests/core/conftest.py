"""Shared helpers for the core tests: real sample files, dcmtk's renderer, our renderer.

Sample files come from pydicom's own test files and the pydicom-data package
(``pydicom.data.get_testdata_file``); they are only ever read, never written.
Generated copies of them (new UIDs, names, positions) go to ``tmp_path``.
"""

from __future__ import annotations

import builtins
import copy
import functools
import io
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid

from viewer.core.dicom.io import read_image_dataset
from viewer.core.display.pixels.decoders import decode_frame
from viewer.core.display.pixels.pipeline import FrameDisplay, frame_context

#: dcmtk's renderer with its JPEG, RLE and deflate support (plain dcm2pnm lacks them).
DCMJ2PNM = shutil.which("dcmj2pnm")


def sample_path(name: str) -> Path:
    """Path of one of pydicom's test files; the test is skipped if it is not installed."""
    path = get_testdata_file(name)
    if path is None:
        pytest.skip(f"{name} is not among the installed pydicom test files")
    return Path(path)


@pytest.fixture
def sample():
    """``sample(name)``: the path of a pydicom test file (read-only)."""
    return sample_path


def read_pnm(path: Path) -> np.ndarray:
    """A binary PGM/PPM (P5/P6) as (rows, cols) or (rows, cols, 3)."""
    data = path.read_bytes()
    magic, width, height, maxval, raster = data.split(maxsplit=4)
    width, height, maxval = int(width), int(height), int(maxval)
    channels = 3 if magic == b"P6" else 1
    dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
    pixels = np.frombuffer(raster, dtype=dtype)[: width * height * channels]
    return pixels.reshape((height, width, 3) if channels == 3 else (height, width))


@pytest.fixture
def dcmtk_render(tmp_path):
    """``dcmtk_render(path, args, frame=None)``: dcmtk's 8-bit rendering as an array.

    `args` are dcmj2pnm's VOI options ([], ['+Wi', '1'], ['+Ww', C, W], ...);
    `frame` counts from 1, as dcmtk's ``+F`` does. Overlays are off (``-O``).
    """
    if DCMJ2PNM is None:
        pytest.skip("dcmtk's dcmj2pnm is not installed (apt-get install dcmtk)")

    def render(path: Path, args: list[str], frame: int | None = None) -> np.ndarray:
        out = tmp_path / f"dcmtk-{len(list(tmp_path.iterdir()))}.pnm"
        command = [DCMJ2PNM, "-O", *(["+F", str(frame)] if frame else []), *args, str(path), str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{' '.join(command)} failed: {result.stderr.strip()}"
        return read_pnm(out)

    return render


def frame_display(path: Path, index: int = 0) -> FrameDisplay:
    """The code under test: frame `index` (0-based) of `path`, ready to render."""
    ds = read_image_dataset(path)
    return FrameDisplay(decode_frame(ds, index, path), frame_context(ds, index))


@pytest.fixture
def display():
    """``display(path, index=0)``: a :class:`FrameDisplay` built by the code under test."""
    return frame_display


# --------------------------------------------------------------------------- generated instances


def write_instance(path: Path, source: str = "CT_small.dcm", **attributes) -> Path:
    """A copy of pydicom's `source` sample at `path`, with `attributes` changed.

    Every copy gets a new SOP Instance UID (unless one is given); an
    attribute given as None is removed. For what no real file covers:
    many instances of one series, media layouts, crafted orientations.
    """
    ds = copy.deepcopy(_sample_dataset(source))
    uid = attributes.pop("SOPInstanceUID", None) or generate_uid()
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    for keyword, value in attributes.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


@functools.cache
def _sample_dataset(name: str):
    return pydicom.dcmread(sample_path(name))


@pytest.fixture
def make_instance():
    """``make_instance(path, source='CT_small.dcm', **attributes)``: see :func:`write_instance`."""
    return write_instance


@pytest.fixture
def opened_paths(monkeypatch):
    """Every path opened (files and folder listings) while the test runs, as real paths."""
    opened: list[str] = []
    real_open, real_io_open, real_os_open, real_scandir = builtins.open, io.open, os.open, os.scandir

    def note(path):
        if isinstance(path, (str, bytes, os.PathLike)):
            opened.append(os.path.realpath(os.fsdecode(path)))

    def recording_open(file, *args, **kwargs):
        note(file)
        return real_open(file, *args, **kwargs)

    def recording_io_open(file, *args, **kwargs):
        note(file)
        return real_io_open(file, *args, **kwargs)

    def recording_os_open(path, *args, **kwargs):
        note(path)
        return real_os_open(path, *args, **kwargs)

    def recording_scandir(path="."):
        note(path)
        return real_scandir(path)

    monkeypatch.setattr(builtins, "open", recording_open)
    monkeypatch.setattr(io, "open", recording_io_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    monkeypatch.setattr(os, "scandir", recording_scandir)
    return opened
