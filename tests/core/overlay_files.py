"""Generated images with overlay planes (60xx) for what no real file covers: written to disk, read by dcmtk and the viewer.

The bits of every plane come from a seeded random generator and are kept
(``expected``), so a test can say where each overlay pixel must be without
asking the code under test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
MULTI_FRAME_GREY_WORD_SC = "1.2.840.10008.5.1.4.1.1.7.3"


def pack_bits(bits: np.ndarray) -> bytes:
    """Booleans packed one a bit, the first in the lowest bit (PS3.5 8.1.2), padded to an even length."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8).ravel(), bitorder="little").tobytes()
    return packed + b"\0" * (len(packed) % 2)


def random_bits(rng: np.random.Generator, shape, density: float = 0.2) -> np.ndarray:
    return rng.random(shape) < density


def image(rows: int = 48, columns: int = 64, frames: int = 1, bits_stored: int = 12, seed: int = 1) -> tuple[Dataset, np.ndarray]:
    """A MONOCHROME2 16-bit image (`bits_stored` bits) with a window, and its stored values (frames, rows, columns)."""
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 1 << bits_stored, size=(frames, rows, columns), dtype=np.uint16)
    ds = Dataset()
    ds.SOPClassUID = MULTI_FRAME_GREY_WORD_SC if frames > 1 else SECONDARY_CAPTURE
    ds.SOPInstanceUID, ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Test^Overlay", "OV1", "OT"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "20260101", "120000", "1", "", ""
    ds.SeriesNumber, ds.InstanceNumber, ds.ConversionType = 1, 1, "WSD"
    ds.Rows, ds.Columns = rows, columns
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    ds.WindowCenter, ds.WindowWidth = (1 << bits_stored) // 2, 1 << bits_stored
    if frames > 1:
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = (0x0018, 0x1063)
        ds.FrameTime = 100
    ds.PixelData = values.astype("<u2").tobytes()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds, values


def add_plane(
    ds: Dataset,
    group: int,
    bits: np.ndarray,
    origin: tuple[int, int] = (1, 1),
    kind: str = "G",
    frame_origin: int | None = None,
    data: bytes | None = None,
) -> None:
    """Overlay plane `group` holding `bits` ((rows, columns) or (frames, rows, columns)) in Overlay Data."""
    frames = bits.shape[0] if bits.ndim == 3 else 1
    rows, columns = bits.shape[-2:]
    ds.add_new((group, 0x0010), "US", rows)
    ds.add_new((group, 0x0011), "US", columns)
    if bits.ndim == 3:
        ds.add_new((group, 0x0015), "IS", str(frames))
    ds.add_new((group, 0x0022), "LO", f"test plane {group:04X}")
    ds.add_new((group, 0x0040), "CS", kind)
    ds.add_new((group, 0x0050), "SS", list(origin))
    if frame_origin is not None:
        ds.add_new((group, 0x0051), "US", frame_origin)
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    ds.add_new((group, 0x3000), "OW", pack_bits(bits) if data is None else data)


def add_legacy_plane(ds: Dataset, group: int, bit: int, bits: np.ndarray, kind: str = "G") -> None:
    """A retired overlay in bit `bit` of each 16-bit stored word (no Overlay Data), `bits` of the image's shape."""
    values = np.frombuffer(ds.PixelData, dtype="<u2").reshape(bits.shape).copy()
    values |= bits.astype(np.uint16) << np.uint16(bit)
    ds.PixelData = values.astype("<u2").tobytes()
    ds.add_new((group, 0x0010), "US", int(ds.Rows))
    ds.add_new((group, 0x0011), "US", int(ds.Columns))
    ds.add_new((group, 0x0040), "CS", kind)
    ds.add_new((group, 0x0050), "SS", [1, 1])
    ds.add_new((group, 0x0100), "US", 16)
    ds.add_new((group, 0x0102), "US", bit)


def save(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path
