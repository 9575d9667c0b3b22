"""Series with known geometry for the MPR tests, written with pydicom (nothing here calls the viewer).

A phantom is a numpy array ``P[z, y, x]`` on the patient's axes (PS3.3
C.7.6.2.1.1: x towards the patient's left, y towards posterior, z towards
the head), voxel ``(k, i, j)`` centred at ``ORIGIN + (j * dx, i * dy, k * dz)``.
:func:`write_series` writes it as slices of any orientation: each pixel's
value is the phantom's at the pixel's centre (Image Position (Patient) +
column index x column spacing x row cosines + row index x row spacing x
column cosines), so the files hold exactly what a scanner acquiring the
phantom that way would store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ORIGIN = np.array([-20.0, -30.0, 40.0])
#: Spacing of the phantom along z, y, x (mm): none equal, so any swap of axes shows.
SPACING = (2.0, 0.8, 0.5)
#: The marker: at the patient's right (x = 0), anterior (y = 0) and head (z = last).
MARKER = 3000

#: name -> (row cosines, column cosines) of each acquisition (PS3.3 C.7.6.2.1.1).
ORIENTATIONS = {
    "axial": ((1, 0, 0), (0, 1, 0)),  # rows to the left, columns to posterior: seen from the feet
    "axial-flipped": ((-1, 0, 0), (0, -1, 0)),  # the same plane, rows to the right, columns to anterior
    "coronal": ((1, 0, 0), (0, 0, -1)),  # rows to the left, columns to the feet
    "sagittal": ((0, 1, 0), (0, 0, -1)),  # rows to posterior, columns to the feet
}


def phantom(shape=(6, 7, 9), seed: int = 14) -> np.ndarray:
    """Random values in -1000..1000 and the marker at (z last, y 0, x 0)."""
    values = np.random.default_rng(seed).integers(-1000, 1000, size=shape).astype(np.int16)
    values[-1, 0, 0] = MARKER
    return values


def grid_sampler(values: np.ndarray, origin=ORIGIN, spacing=SPACING, outside: float = -1000) -> Callable[[np.ndarray], np.ndarray]:
    """Values of the phantom at points (..., 3) in mm: the voxel whose centre is there (`outside` beyond it)."""
    dz, dy, dx = spacing

    def sample(points: np.ndarray) -> np.ndarray:
        index = np.rint((points - origin) / (dx, dy, dz)).astype(int)  # x, y, z
        x, y, z = index[..., 0], index[..., 1], index[..., 2]
        inside = (0 <= x) & (x < values.shape[2]) & (0 <= y) & (y < values.shape[1]) & (0 <= z) & (z < values.shape[0])
        out = np.full(points.shape[:-1], outside, dtype=np.float64)
        out[inside] = values[z[inside], y[inside], x[inside]]
        return out

    return sample


def acquisition(name: str, shape, origin=ORIGIN, spacing=SPACING):
    """(row cosines, column cosines, rows, columns, pixel spacing, slice positions) of a phantom seen as `name`."""
    nz, ny, nx = shape
    dz, dy, dx = spacing
    x, y, z = np.eye(3)
    row, column = (np.array(v, dtype=float) for v in ORIENTATIONS[name])
    if name == "axial":
        return row, column, ny, nx, (dy, dx), [origin + k * dz * z for k in range(nz)]
    if name == "axial-flipped":
        corner = origin + (nx - 1) * dx * x + (ny - 1) * dy * y
        return row, column, ny, nx, (dy, dx), [corner + k * dz * z for k in range(nz)]
    if name == "coronal":
        top = origin + (nz - 1) * dz * z
        return row, column, nz, nx, (dz, dx), [top + m * dy * y for m in range(ny)]
    top = origin + (nz - 1) * dz * z
    return row, column, nz, ny, (dz, dy), [top + m * dx * x for m in range(nx)]


def dataset(rows: int, columns: int, pixel_spacing, row, column, position, stored: np.ndarray, **attributes) -> Dataset:
    """A CT Image Storage dataset (Explicit VR Little Endian, signed 16-bit) with these values."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "CT"
    ds.PatientName, ds.PatientID = "MPR^PHANTOM", "MPR1"
    ds.StudyInstanceUID = attributes.pop("StudyInstanceUID", "1.2.826.0.1.3680043.8.498.1")
    ds.SeriesInstanceUID = attributes.pop("SeriesInstanceUID", "1.2.826.0.1.3680043.8.498.2")
    ds.FrameOfReferenceUID = attributes.pop("FrameOfReferenceUID", "1.2.826.0.1.3680043.8.498.3")
    ds.SeriesNumber = 1
    ds.ImageOrientationPatient = [f"{v:.6f}" for v in (*row, *column)]
    ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
    ds.PixelSpacing = [f"{v:g}" for v in pixel_spacing]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = "1", "-1024"
    for keyword, value in attributes.items():
        if value is not None:
            setattr(ds, keyword, value)
        elif keyword in ds:
            delattr(ds, keyword)
    ds.PixelData = np.ascontiguousarray(stored.astype("<i2")).tobytes()
    return ds


def write_series(
    folder: Path,
    sample: Callable[[np.ndarray], np.ndarray],
    row,
    column,
    rows: int,
    columns: int,
    pixel_spacing,
    positions,
    slope: float = 1.0,
    intercept: float = -1024.0,
    per_slice: Callable[[int], dict] | None = None,
    **attributes,
) -> list[Path]:
    """One file per position (named in reverse order, so a reader must sort); stored = (value - intercept) / slope."""
    folder.mkdir(parents=True, exist_ok=True)
    row, column = np.asarray(row, dtype=float), np.asarray(column, dtype=float)
    i, j = np.mgrid[0:rows, 0:columns]
    paths = []
    for k, position in enumerate(positions):
        centres = np.asarray(position) + (j[..., None] * pixel_spacing[1]) * row + (i[..., None] * pixel_spacing[0]) * column
        stored = np.rint((sample(centres) - intercept) / slope)
        extra = dict(attributes)
        extra.update(per_slice(k) if per_slice else {})
        ds = dataset(rows, columns, pixel_spacing, row, column, position, stored, InstanceNumber=k + 1, **extra)
        ds.RescaleSlope, ds.RescaleIntercept = f"{slope:g}", f"{intercept:g}"
        path = folder / f"IM{len(positions) - k:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_phantom(folder: Path, values: np.ndarray, name: str, **kwargs) -> list[Path]:
    """The phantom `values` written as the acquisition `name` (see :data:`ORIENTATIONS`)."""
    row, column, rows, columns, pixel_spacing, positions = acquisition(name, values.shape)
    return write_series(folder, grid_sampler(values), row, column, rows, columns, pixel_spacing, positions, **kwargs)
