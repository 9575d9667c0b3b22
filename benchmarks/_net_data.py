"""Inputs of the network benchmark, made once into DICOM_VIEWER_BENCH_DATA (default /tmp/dicom-viewer-bench).

* ``ct500-v1/SE0001``: 500 copies of pydicom-data's 693_UNCI.dcm (a real
  512x512 16-bit CT, Explicit VR Little Endian, about 0.5 MB each) as one
  series with new Study, Series and SOP Instance UIDs (about 260 MB, 10 s).
* ``studies1000-v1``: 1000 studies of one tiny instance each (8x8 8-bit
  Secondary Capture) with distinct Study UIDs, patient names and IDs (5 MB).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmarks._browser_data import ROOT, _stamp, write_ct_slices

CT_INSTANCES = 500
STUDIES = 1000


@dataclass(frozen=True)
class Series:
    folder: Path
    study_uid: str
    series_uid: str
    count: int


def ct_series() -> Series:
    """The 500-instance 512x512 CT series (made on first use)."""
    root = ROOT / "ct500-v1"
    folder = root / "SE0001"
    if _stamp(root).exists():
        study_uid, series_uid = (root / "uids.txt").read_text().split()
        return Series(folder, study_uid, series_uid, CT_INSTANCES)
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(root, ignore_errors=True)
    template = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False))
    for element in template:  # decode everything once, so each write only re-encodes
        _ = element.value
    study_uid, series_uid = generate_uid(), generate_uid()
    template.StudyInstanceUID = study_uid
    template.SeriesInstanceUID = series_uid
    template.SeriesDescription = "bench 500 slices"
    template.PatientName = "BENCH^NET"
    template.PatientID = "BENCHNET"
    folder.mkdir(parents=True)
    write_ct_slices(template, folder, CT_INSTANCES)
    (root / "uids.txt").write_text(f"{study_uid}\n{series_uid}\n")
    _stamp(root).write_text("ok\n")
    return Series(folder, study_uid, series_uid, CT_INSTANCES)


def small_studies() -> Path:
    """The folder of 1000 one-instance studies (made on first use)."""
    root = ROOT / "studies1000-v1"
    if _stamp(root).exists():
        return root
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    for i in range(STUDIES):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
        ds.SOPClassUID = SecondaryCaptureImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.PatientName = f"FIND^PATIENT{i + 1:04d}"
        ds.PatientID = f"FIND{i + 1:04d}"
        ds.PatientBirthDate = f"19{50 + i % 50:02d}0101"
        ds.PatientSex = "FM"[i % 2]
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.StudyDate = f"2024{1 + i % 12:02d}{1 + i % 28:02d}"
        ds.StudyTime = "120000"
        ds.AccessionNumber = f"FACC{i + 1:05d}"
        ds.StudyDescription = f"bench study {i + 1}"
        ds.ReferringPhysicianName = "Referring^Doctor"
        ds.StudyID = str(i + 1)
        ds.Modality = "OT"
        ds.ConversionType = "WSD"
        ds.SeriesNumber = 1
        ds.InstanceNumber = 1
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = ds.Columns = 8
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = bytes(range(64))
        ds.save_as(root / f"ST{i + 1:05d}.dcm", enforce_file_format=True)
    _stamp(root).write_text("ok\n")
    return root
