"""Generated DICOM images for the measurement tests: exactly the attributes a case names, written to disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SOP_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",
    "MR": "1.2.840.10008.5.1.4.1.1.4",
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",
    "CR": "1.2.840.10008.5.1.4.1.1.1",
    "US": "1.2.840.10008.5.1.4.1.1.6.1",
    "OT": "1.2.840.10008.5.1.4.1.1.7",
}


def ultrasound_region(min_x, min_y, max_x, max_y, delta_x_cm, delta_y_cm) -> Dataset:
    """A 2D region in cm (PS3.3 C.8.5.5): (0018,6012) Region Spatial Format 1, units 3 (cm)."""
    item = Dataset()
    item.RegionSpatialFormat, item.RegionDataType, item.RegionFlags = 1, 1, 0
    item.RegionLocationMinX0, item.RegionLocationMinY0, item.RegionLocationMaxX1, item.RegionLocationMaxY1 = min_x, min_y, max_x, max_y
    item.PhysicalUnitsXDirection, item.PhysicalUnitsYDirection = 3, 3
    item.PhysicalDeltaX, item.PhysicalDeltaY = delta_x_cm, delta_y_cm
    return item


def image_dataset(modality: str = "CT", pixels: np.ndarray | None = None, rows: int = 64, columns: int = 80, **attributes) -> Dataset:
    """A greyscale image (16-bit unsigned unless `pixels` is signed) with new UIDs and `attributes` set by keyword."""
    if pixels is None:
        pixels = (np.arange(rows * columns, dtype=np.uint16) % 4096).reshape(rows, columns)
    ds = Dataset()
    ds.SOPClassUID = SOP_CLASSES.get(modality, SOP_CLASSES["OT"])
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientName, ds.PatientID, ds.Modality = "Test^Measure", "M1", modality
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "20260101", "120000", "1", "", ""
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    ds.PixelData = np.ascontiguousarray(pixels.astype("<i2" if pixels.dtype.kind == "i" else "<u2")).tobytes()
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = ds.SOPClassUID, ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta = meta
    return ds


def write_image(path: Path, modality: str = "CT", pixels: np.ndarray | None = None, **attributes) -> Path:
    image_dataset(modality, pixels, **attributes).save_as(path, enforce_file_format=True)
    return path
