"""Generated inputs of the decoding, cine and first-frame benchmarks (bench_decode.py).

Made once into ``/tmp/dicom-viewer-bench/decode-v1`` (``DICOM_VIEWER_BENCH_DATA``
moves the root; delete the folder to rebuild), never into the repository.
Every compressed file is made by a reference encoder, not by the code under test:

* dcmtk: ``dcmcjpeg +eb`` (JPEG Baseline, 8-bit), ``+ee`` (Extended, 12-bit),
  ``+el`` (Lossless process 14, selection value 6), ``+e1`` (Lossless SV1); ``dcmcjpls +el`` /
  ``+en`` (JPEG-LS lossless / near-lossless, NEAR 2); ``dcmcrle`` (RLE).
* gdcm: ``gdcmconv --j2k`` (JPEG 2000 lossless). Lossy JPEG 2000 (ratio 10)
  comes from OpenJPEG's encoder via pydicom's ``Dataset.compress``: gdcmconv's
  lossy mode is marked experimental and fails on these files.
* OpenJPH: ``ojph_compress`` code streams (HTJ2K lossless, and lossy with
  ``-qstep 0.001``) wrapped by ``pydicom.encaps.encapsulate`` with transfer
  syntax 1.2.840.10008.1.2.4.201 / .203. OpenJPH's raw reader takes unsigned
  samples only, so the HTJ2K files hold the CT offset by 2^15 (unsigned,
  Rescale Intercept lowered by the same amount): same size, same work.

Two sources of 512x512 CT pixels, both in 693_UNCI.dcm's header (real CT,
signed 16-bit): ``noisy`` = the pixels of pydicom-data's 693_J2KR.dcm (the
same slice with its real acquisition noise; lossless JPEG 2000 compresses it
about 5:1), and ``smooth`` = 693_UNCI.dcm's own pixels, which are
interpolated (a 5/3 wavelet predicts them almost exactly: gdcm's lossless
JPEG 2000 of them is 4 KB, 130:1), so wavelet decoders have almost nothing
to do. The 8-bit source is ``noisy`` windowed (C 40, W 400) to 0..255; the
12-bit one is ``noisy`` + 1024 clipped to 0..4095
(also the JPEG-LS near-lossless source: dcmcjpls refuses signed data there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("DICOM_VIEWER_BENCH_DATA", "/tmp/dicom-viewer-bench")) / "decode-v1"

EXPLICIT = "1.2.840.10008.1.2.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LOSSLESS_SV1 = "1.2.840.10008.1.2.4.70"
JPEGLS_LOSSLESS = "1.2.840.10008.1.2.4.80"
JPEGLS_NEAR = "1.2.840.10008.1.2.4.81"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
J2K = "1.2.840.10008.1.2.4.91"
HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
HTJ2K = "1.2.840.10008.1.2.4.203"
RLE = "1.2.840.10008.1.2.5"


@dataclass(frozen=True)
class Case:
    """One encoded test file: what it holds and how it was made."""

    label: str
    syntax: str
    source: str  # noisy, smooth, ct8, ct12, us
    tool: str
    path: Path
    lossless: bool


def testdata(name: str) -> str:
    from pydicom.data import get_testdata_file

    path = get_testdata_file(name, download=False)
    if path is None:
        raise RuntimeError(f"pydicom-data's {name} is missing: pip install pydicom-data")
    return path


def _stamp(folder: Path) -> Path:
    return folder / ".complete"


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()[:300]}")


def source_pixels(source: str) -> np.ndarray:
    """The stored values a case was made from (what a lossless decode must return)."""
    import pydicom

    if source == "smooth":
        return pydicom.dcmread(testdata("693_UNCI.dcm")).pixel_array
    noisy = pydicom.dcmread(testdata("693_J2KR.dcm")).pixel_array.astype(np.int16)
    if source == "noisy":
        return noisy
    if source == "ct8":
        hu = noisy.astype(np.float64) - 1024.0
        return np.clip((hu - (40 - 200)) * 255.0 / 400.0, 0, 255).round().astype(np.uint8)
    if source == "ct12":
        return np.clip(noisy.astype(np.int32) + 1024, 0, 4095).astype(np.uint16)
    raise ValueError(source)


def _native_file(path: Path, pixels: np.ndarray, frames: int = 1, shift_per_frame: int = 0) -> None:
    """693_UNCI.dcm's header with `pixels` (repeated `frames` times, rolled by `shift_per_frame` columns each)."""
    import pydicom
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    ds = pydicom.dcmread(testdata("693_UNCI.dcm"))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    if pixels.dtype == np.uint8:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.WindowCenter, ds.WindowWidth = 128, 256
    elif pixels.dtype == np.uint16:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
        ds.RescaleIntercept = -2048
    else:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    if frames > 1:
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = 1000.0 / 60
        stack = np.empty((frames, *pixels.shape), dtype=pixels.dtype)
        for i in range(frames):
            stack[i] = np.roll(pixels, i * shift_per_frame, axis=1)
        ds.PixelData = stack.tobytes()
    else:
        ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)


def _htj2k_file(path: Path, pixels: np.ndarray, reversible: bool, work: Path) -> None:
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import UID

    raw = work / "ct.raw"
    (pixels.astype(np.int32) + 32768).astype("<u2").tofile(raw)
    stream = work / "ct.j2c"
    args = ["ojph_compress", "-i", str(raw), "-o", str(stream), "-dims", "{512,512}", "-num_comps", "1"]
    args += ["-signed", "false", "-bit_depth", "16", "-downsamp", "{1,1}"]
    args += ["-reversible", "true"] if reversible else ["-qstep", "0.001"]
    _run(args)
    ds = pydicom.dcmread(work / "source.dcm")
    ds.file_meta.TransferSyntaxUID = UID(HTJ2K_LOSSLESS if reversible else HTJ2K)
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = float(ds.RescaleIntercept) - 32768
    if not reversible:
        ds.LossyImageCompression = "01"
    ds.PixelData = encapsulate([stream.read_bytes()])
    ds["PixelData"].VR = "OB"
    ds.save_as(path, enforce_file_format=True)


def decode_cases() -> list[Case]:
    """The single-frame test files of the throughput table (made on first use, a few seconds)."""
    folder = ROOT / "single"
    specs: list[tuple[str, str, str, str, list[str] | str, bool]] = []
    for source in ("noisy", "smooth"):
        what = "CT 512x512 int16" + (" (noisy)" if source == "noisy" else " (smooth 693_UNCI)")
        specs += [
            (f"native {what}", EXPLICIT, source, "none (Explicit VR LE)", [], True),
            (f"RLE {what}", RLE, source, "dcmcrle", ["dcmcrle"], True),
            (f"JPEG Lossless P14 {what}", JPEG_LOSSLESS, source, "dcmcjpeg +el", ["dcmcjpeg", "+el"], True),
            (f"JPEG Lossless SV1 {what}", JPEG_LOSSLESS_SV1, source, "dcmcjpeg +e1", ["dcmcjpeg", "+e1"], True),
            (f"JPEG-LS lossless {what}", JPEGLS_LOSSLESS, source, "dcmcjpls +el", ["dcmcjpls", "+el"], True),
            (f"JPEG 2000 lossless {what}", J2K_LOSSLESS, source, "gdcmconv --j2k", ["gdcmconv", "--j2k"], True),
            (f"JPEG 2000 lossy {what}", J2K, source, "OpenJPEG via pydicom compress, ratio 10", "j2k-lossy", False),
            (f"HTJ2K lossless {what}", HTJ2K_LOSSLESS, source, "ojph_compress -reversible true", "htj2k-lossless", True),
            (f"HTJ2K lossy {what}", HTJ2K, source, "ojph_compress -qstep 0.001", "htj2k-lossy", False),
        ]
    specs += [
        ("JPEG Baseline CT 8-bit (noisy, windowed)", JPEG_BASELINE, "ct8", "dcmcjpeg +eb", ["dcmcjpeg", "+eb"], False),
        ("JPEG Extended CT 12-bit (noisy)", JPEG_EXTENDED, "ct12", "dcmcjpeg +ee", ["dcmcjpeg", "+ee"], False),
        # dcmcjpls refuses signed data for near-lossless: the 12-bit unsigned CT.
        ("JPEG-LS near-lossless CT 12-bit (noisy)", JPEGLS_NEAR, "ct12", "dcmcjpls +en (NEAR 2)", ["dcmcjpls", "+en"], False),
        ("JPEG-LS lossless CT 12-bit (noisy)", JPEGLS_LOSSLESS, "ct12", "dcmcjpls +el", ["dcmcjpls", "+el"], True),
        ("JPEG Baseline US 640x480 YBR_FULL_422 (color3d frame 1)", JPEG_BASELINE, "us", "as recorded", "us", False),
    ]
    cases = [
        Case(label, syntax, source, tool, folder / f"C{i:03d}.dcm", lossless)
        for i, (label, syntax, source, tool, _, lossless) in enumerate(specs)
    ]
    if _stamp(folder).exists():
        return cases
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        made_sources: set[str] = set()
        for case, spec in zip(cases, specs):
            command = spec[4]
            if command == "us":
                _first_us_frame(case.path)
                continue
            if case.source not in made_sources:
                _native_file(work / f"{case.source}.dcm", source_pixels(case.source))
                made_sources.add(case.source)
            source = work / f"{case.source}.dcm"
            if command in ("htj2k-lossless", "htj2k-lossy"):
                shutil.copy(source, work / "source.dcm")
                _htj2k_file(case.path, source_pixels(case.source), command == "htj2k-lossless", work)
            elif command == "j2k-lossy":
                _j2k_lossy_file(case.path, source)
            elif not command:
                shutil.copy(source, case.path)
            else:
                _run([*command, str(source), str(case.path)])
    _stamp(folder).touch()
    return cases


def _j2k_lossy_file(path: Path, source: Path) -> None:
    # gdcmconv's lossy JPEG 2000 is experimental (here it refuses or keeps the lossless UID):
    # OpenJPEG's encoder through pydicom instead.
    import pydicom
    from pydicom.uid import JPEG2000

    ds = pydicom.dcmread(source)
    ds.compress(JPEG2000, j2k_cr=[10])
    ds.save_as(path, enforce_file_format=True)


def _first_us_frame(path: Path) -> None:
    """Frame 1 of color3d_jpeg_baseline.dcm as a single-frame file (its JPEG data unchanged)."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames

    ds = pydicom.dcmread(testdata("color3d_jpeg_baseline.dcm"))
    first = next(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    ds.NumberOfFrames = 1
    for keyword in ("FrameTime", "FrameIncrementPointer", "CineRate"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.PixelData = encapsulate([first])
    ds.save_as(path, enforce_file_format=True)


def j2k_series(count: int) -> tuple[list[Path], Path]:
    """`count` single-frame JPEG 2000 lossless files (noisy CT, one series) and one `count`-frame file."""
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import generate_uid

    folder = ROOT / f"j2k{count}"
    files = [folder / "files" / f"IM{i:04d}" for i in range(1, count + 1)]
    multi = folder / "MULTI.dcm"
    if _stamp(folder).exists():
        return files, multi
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "files").mkdir(parents=True)
    case = next(c for c in decode_cases() if c.syntax == J2K_LOSSLESS and c.source == "noisy")
    template = pydicom.dcmread(case.path)
    series_uid = generate_uid()
    for i, path in enumerate(files, start=1):
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.SeriesInstanceUID = series_uid
        template.InstanceNumber = i
        template.ImagePositionPatient = [0.0, 0.0, float(i)]
        template.save_as(path, enforce_file_format=True)
    stream = next(generate_frames(template.PixelData, number_of_frames=1))
    template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    template.SeriesInstanceUID = generate_uid()
    template.NumberOfFrames = count
    template.PixelData = encapsulate([stream] * count, has_bot=True)
    template.save_as(multi, enforce_file_format=True)
    _stamp(folder).touch()
    return files, multi


def multiframe(frames: int) -> Path:
    """A `frames`-frame uncompressed 512x512 int16 CT (693_UNCI's pixels rolled 2 columns per frame)."""
    path = ROOT / f"MF{frames:05d}.dcm"
    stamp = path.with_suffix(".complete")
    if stamp.exists() and path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _native_file(path, source_pixels("smooth"), frames=frames, shift_per_frame=2)
    stamp.touch()
    return path


def evict(path: Path) -> None:
    """Drop a file from the page cache (posix_fadvise DONTNEED; no privileges needed)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
