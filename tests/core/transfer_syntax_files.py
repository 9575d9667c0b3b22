"""Real and generated files in every transfer syntax, and the reference tools that read them.

Originals are pydicom's test files and the pydicom-data package (read with
``download=False``: tests never reach the network). Compressed copies are
made from uncompressed originals with dcmtk (dcmcjpeg, dcmcjpls, dcmcrle),
gdcm (gdcmconv) and OpenJPH (ojph_compress: pydicom has no HTJ2K encoder).
Lossy results are checked against an independent decoder: dcmtk's dcmdjpeg
/ dcmdjpls, gdcmconv --raw, or ojph_expand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate, generate_fragmented_frames
from pydicom.uid import UID, ExplicitVRLittleEndian, RLELossless

from viewer.core.display.frames import FrameSource
from viewer.core.display.pixels.decoders import decode_frame, number_of_frames
from viewer.core.media.model import ImageRef, Instance


def _system_path() -> str:
    """PATH without this environment's own bin folder.

    python-gdcm puts its own gdcmconv there, and gdcm 3.2.6's ``-d`` writes
    Implicit VR Little Endian instead of deflating: the references come from
    the Debian packages named in PACKAGE.
    """
    own = os.path.realpath(os.path.join(sys.prefix, "bin"))
    return os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p and os.path.realpath(p) != own)


TOOLS = {
    name: shutil.which(name, path=_system_path())
    for name in ("dcmconv", "dcmcjpeg", "dcmdjpeg", "dcmcjpls", "dcmdjpls", "dcmcrle", "gdcmconv", "ojph_compress", "ojph_expand")
}
#: Debian package that provides each tool (also listed in scripts/setup-env for the test extra).
PACKAGE = {
    "dcmconv": "dcmtk",
    "dcmcjpeg": "dcmtk",
    "dcmdjpeg": "dcmtk",
    "dcmcjpls": "dcmtk",
    "dcmdjpls": "dcmtk",
    "dcmcrle": "dcmtk",
    "gdcmconv": "libgdcm-tools",
    "ojph_compress": "openjph-tools",
    "ojph_expand": "openjph-tools",
}


def require(*tools: str) -> None:
    """Skip the calling test unless every tool is on PATH."""
    for tool in tools:
        if TOOLS[tool] is None:
            pytest.skip(f"{tool} is not installed (apt-get install {PACKAGE[tool]})")


def sample_file(name: str) -> Path:
    """A pydicom / pydicom-data test file, never downloaded; skip if absent."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not among the installed pydicom test files (pip install pydicom-data)")
    return Path(path)


def run(*command: str | Path) -> None:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed: {result.stderr.strip() or result.stdout.strip()}"


# --------------------------------------------------------------------------- reading


def all_frames(path: Path) -> np.ndarray:
    """Every frame of `path` as (frames, rows, cols[, 3]) by pydicom decoding the whole file.

    The reference for native originals and for "the whole file at once".
    """
    arr = pydicom.dcmread(path).pixel_array
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return arr if number_of_frames(ds) > 1 else arr[np.newaxis]


def decoded_frames(path: Path) -> np.ndarray:
    """The code under test, frame by frame: decode_frame on the dataset."""
    ds = pydicom.dcmread(path)
    return np.stack([decode_frame(ds, i, path) for i in range(number_of_frames(ds))])


def store_frames(path: Path, indices=None) -> np.ndarray:
    """The code under test as the viewer uses it: FrameSource.frame(...).stored, one frame at a time."""
    header = pydicom.dcmread(path, stop_before_pixels=True)
    count = number_of_frames(header)
    instance = Instance(path, header, count)
    store = FrameSource()
    return np.stack([store.frame(ImageRef(instance, i)).stored for i in (range(count) if indices is None else indices)])


def native_frames(path: Path) -> np.ndarray:
    """A native (uncompressed) original read by hand from its Pixel Data bytes (PS3.5 8.1.1)."""
    ds = pydicom.dcmread(path)
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        raise ValueError(f"{path.name} is not native")
    little = ds.file_meta.TransferSyntaxUID != "1.2.840.10008.1.2.2"
    signed = ds.PixelRepresentation == 1
    dtype = np.dtype(f"{'<' if little else '>'}{'i' if signed else 'u'}{ds.BitsAllocated // 8}")
    samples = ds.SamplesPerPixel
    shape = (number_of_frames(ds), ds.Rows, ds.Columns) + ((samples,) if samples > 1 else ())
    arr = np.frombuffer(ds.PixelData, dtype=dtype)[: int(np.prod(shape))]
    if samples > 1 and ds.get("PlanarConfiguration", 0) == 1:
        arr = arr.reshape(shape[0], samples, ds.Rows, ds.Columns).transpose(0, 2, 3, 1)
    arr = arr.reshape(shape).astype(dtype.newbyteorder("="))
    if ds.BitsStored < ds.BitsAllocated:
        # Only the low Bits Stored bits are the value (PS3.5 8.1.1); sign-extend if signed.
        shift = ds.BitsAllocated - ds.BitsStored
        arr = (arr << shift) >> shift if signed else arr & ((1 << ds.BitsStored) - 1)
    return arr


# --------------------------------------------------------------------------- writing


def eight_bit_original(dst: Path) -> Path:
    """emri_small (10 frames, 12 bits in 16) as an 8-bit native original, for JPEG 8-bit processes.

    Values are halved (its maximum is 467), which keeps every grey level distinct enough.
    """
    ds = pydicom.dcmread(sample_file("emri_small.dcm"))
    values = (native_frames(sample_file("emri_small.dcm")) >> 1).astype(np.uint8)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    for keyword in ("SmallestImagePixelValue", "LargestImagePixelValue", "WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.PixelData = values.tobytes()
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(dst, enforce_file_format=True)
    return dst


def write_pnm(path: Path, frame: np.ndarray, maxval: int) -> Path:
    """A binary PGM (grey) or PPM (RGB), 16-bit big-endian when maxval > 255 (Netpbm)."""
    magic = b"P6" if frame.ndim == 3 else b"P5"
    dtype = np.dtype(">u2") if maxval > 255 else np.uint8
    header = b"%s\n%d %d\n%d\n" % (magic, frame.shape[1], frame.shape[0], maxval)
    path.write_bytes(header + frame.astype(dtype).tobytes())
    return path


def read_pnm(path: Path) -> np.ndarray:
    magic, width, height, maxval, raster = path.read_bytes().split(maxsplit=4)
    width, height, maxval = int(width), int(height), int(maxval)
    channels = 3 if magic == b"P6" else 1
    dtype = np.uint8 if maxval < 256 else np.dtype(">u2")
    pixels = np.frombuffer(raster, dtype=dtype)[: width * height * channels]
    return pixels.reshape((height, width, 3) if channels == 3 else (height, width)).astype(np.int64)


def htj2k_file(original: Path, dst: Path, uid: str, options: list[str], photometric: str | None = None) -> tuple[Path, list[Path]]:
    """`original` with each frame compressed by ojph_compress, wrapped as `uid`.

    Returns the file and the code streams (to decode with ojph_expand).
    """
    ds = pydicom.dcmread(original)
    frames = native_frames(original)
    maxval = (1 << ds.BitsStored) - 1
    streams = []
    for i, frame in enumerate(frames):
        pnm = write_pnm(dst.with_name(f"{dst.stem}-{i}.{'ppm' if frame.ndim == 3 else 'pgm'}"), frame, maxval)
        stream = dst.with_name(f"{dst.stem}-{i}.j2c")
        run(TOOLS["ojph_compress"], "-i", pnm, "-o", stream, *options)
        streams.append(stream)
    ds.PixelData = encapsulate([s.read_bytes() for s in streams])
    ds["PixelData"].VR = "OB"
    if ds.SamplesPerPixel > 1:
        ds.PlanarConfiguration = 0
    if photometric:
        ds.PhotometricInterpretation = photometric
    ds.file_meta.TransferSyntaxUID = UID(uid)
    ds.save_as(dst, enforce_file_format=True)
    return dst, streams


def corrupt_third_frame(dst: Path) -> Path:
    """emri_small as RLE (pydicom's own encoder), frame 3's segments overwritten.

    Every length stays valid (the RLE header, the item lengths, the offset
    table); the third frame's segment data becomes replicate runs that
    decode to more bytes than the frame has: pylibjpeg-rle panics (a Rust
    panic, BaseException), pydicom's RLE decoder raises ValueError.
    """
    ds = pydicom.dcmread(sample_file("emri_small.dcm"))
    ds.compress(RLELossless, encoding_plugin="pydicom")
    frames = [b"".join(f) for f in generate_fragmented_frames(ds.PixelData, number_of_frames=number_of_frames(ds))]
    third = frames[2]
    body = bytes([0x81, 0x05]) * ((len(third) - 64) // 2)  # -127: repeat the next byte 128 times
    frames[2] = third[:64] + body + third[64 + len(body) :]
    assert len(frames[2]) == len(third)
    ds.PixelData = encapsulate(frames, has_bot=True)
    ds.save_as(dst, enforce_file_format=True)
    return dst
