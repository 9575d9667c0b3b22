"""Generated data of the browser benchmarks, made once into /tmp/dicom-viewer-bench.

Nothing here is committed or written inside the repository. Each tree is
made once and reused while its stamp file says it is complete (delete
/tmp/dicom-viewer-bench to rebuild). File and folder names have at most 8
upper-case characters (PS3.10 8.2, needed by dcmmkdir).

* ``index-v1``: 5,000 files, 50 series of 100 slices, 10 patients of one
  study with 5 series each, in ``SE0001/IM0001`` ... Every file is pydicom's
  MR-SIEMENS-DICOM-WithOverlays.dcm (a real Siemens MR whose header carries
  about 40 KB of Siemens CSA private data and an overlay plane) with new
  patient, study, series and SOP instance UIDs, series and instance
  numbers, and positions along the slice normal; only its pixel data is
  shrunk, from 484x484 to 64x64 (nearest neighbour), so the tree is about
  250 MB instead of 2.5 GB. A file is therefore about 50 KB and a header
  reader reads most of it: the figures are header-parsing rates, not
  "skip the pixels of a 512 KB file" rates.
* ``ct1000-v1``: 1,000 slices of pydicom's 693_UNCI.dcm (real CT, 512x512,
  signed 16-bit, Explicit VR Little Endian, uncompressed), one series, new
  SOP instance UIDs, instance numbers and z positions 1 mm apart, in
  ``SE0001/IM0001`` ... (about 526 MB).
* ``small10k-v1``: 10,000 small files with few attributes, as a modality's
  export or a secondary-capture archive gives them: 20 patients of one
  study with 5 series of 100 images, in ``PA0001/SE0001/IM0001`` ... Made
  with pydicom from nothing (no real file is this small): CT Image Storage,
  Explicit VR Little Endian, 25 attributes (patient, study, series and
  image identification, position, orientation, the image pixel module) and
  16x16 unsigned 16-bit pixels: about 1.4 KB a file, 15 MB in all. Here the
  files are all header and per-file costs (open, read, objects made per
  file, start-up) dominate, not header parsing.
* ``small100k-v1``: 100,000 files of the same kind as ``small10k-v1`` (200
  patients x 5 series x 100 images, in ``PA0001/SE0001/IM0001`` ...), for
  the catalog's memory per file: one file made with pydicom, the others
  copies of its bytes with the UIDs (of the same length), instance number
  and z position replaced (about 140 MB, 20 s).
* ``media-v1``: a hard-linked copy of ``index-v1`` (no extra space) with a
  DICOMDIR made by dcmmkdir at its root: 5,000 IMAGE records. Kept apart
  from ``index-v1`` because a folder holding a DICOMDIR is opened as media,
  not scanned.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ROOT = Path(os.environ.get("DICOM_VIEWER_BENCH_DATA", "/tmp/dicom-viewer-bench"))
INDEX_SERIES, INDEX_SLICES, INDEX_PATIENTS = 50, 100, 10
INDEX_PIXELS = 64
CT_SLICES = 1000
SMALL_PATIENTS, SMALL_SERIES, SMALL_IMAGES, SMALL_PIXELS = 20, 5, 100, 16


def index_tree() -> Path:
    """The 5,000-file tree (made on first use, about 20 s)."""
    root = ROOT / "index-v1"
    if _stamp(root).exists():
        return root
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(root, ignore_errors=True)
    template = pydicom.dcmread(get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm", download=False))
    pixels = template.pixel_array
    rows = np.arange(INDEX_PIXELS) * pixels.shape[0] // INDEX_PIXELS
    cols = np.arange(INDEX_PIXELS) * pixels.shape[1] // INDEX_PIXELS
    small = np.ascontiguousarray(pixels[rows[:, None], cols[None, :]])
    scale = pixels.shape[0] / INDEX_PIXELS
    template.Rows, template.Columns = INDEX_PIXELS, INDEX_PIXELS
    template.PixelSpacing = [round(float(v) * scale, 6) for v in template.PixelSpacing]
    template.PixelData = small.astype(pixels.dtype).tobytes()
    for element in template:  # decode everything once, so each write only re-encodes
        _ = element.value
    orientation = np.asarray([float(v) for v in template.ImageOrientationPatient])
    normal = np.cross(orientation[:3], orientation[3:])
    origin = np.asarray([float(v) for v in template.ImagePositionPatient])
    root.mkdir(parents=True)
    series_per_patient = INDEX_SERIES // INDEX_PATIENTS
    for s in range(INDEX_SERIES):
        patient = s // series_per_patient
        if s % series_per_patient == 0:
            study_uid = generate_uid()
            template.PatientName = f"BENCH^PATIENT{patient + 1:02d}"
            template.PatientID = f"BENCH{patient + 1:04d}"
            template.StudyInstanceUID = study_uid
            template.StudyID = str(patient + 1)
            template.AccessionNumber = f"ACC{patient + 1:05d}"
        template.SeriesInstanceUID = generate_uid()
        template.SeriesNumber = s % series_per_patient + 1
        template.SeriesDescription = f"bench series {s + 1}"
        folder = root / f"SE{s + 1:04d}"
        folder.mkdir()
        for i in range(INDEX_SLICES):
            uid = generate_uid()
            template.SOPInstanceUID = uid
            template.file_meta.MediaStorageSOPInstanceUID = uid
            template.InstanceNumber = i + 1
            position = origin + normal * 4.0 * i
            template.ImagePositionPatient = [f"{v:.6f}" for v in position]
            template.SliceLocation = f"{4.0 * i:.6f}"
            template.save_as(folder / f"IM{i + 1:04d}", enforce_file_format=True)
    _stamp(root).write_text("ok\n")
    return root


def ct_tree() -> Path:
    """The folder holding 1,000 CT slices (made on first use, about 15 s)."""
    root = ROOT / "ct1000-v1"
    if _stamp(root).exists():
        return root / "SE0001"
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(root, ignore_errors=True)
    template = pydicom.dcmread(get_testdata_file("693_UNCI.dcm", download=False))
    for element in template:
        _ = element.value
    template.SeriesInstanceUID = generate_uid()
    template.StudyInstanceUID = generate_uid()
    template.SeriesDescription = "bench 1000 slices"
    template.SliceThickness = "1.0"
    folder = root / "SE0001"
    folder.mkdir(parents=True)
    write_ct_slices(template, folder, CT_SLICES)
    _stamp(root).write_text("ok\n")
    return folder


def small_tree() -> Path:
    """The 10,000-file tree of small files (made on first use, about 15 s)."""
    root = ROOT / "small10k-v1"
    if _stamp(root).exists():
        return root
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    shutil.rmtree(root, ignore_errors=True)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.StudyDate, ds.StudyTime, ds.Modality = "20240117", "093000", "CT"
    ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = SMALL_PIXELS
    ds.PixelSpacing = ["0.5", "0.5"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelData = (np.arange(SMALL_PIXELS * SMALL_PIXELS, dtype=np.uint16) * 16).tobytes()
    root.mkdir(parents=True)
    for p in range(SMALL_PATIENTS):
        ds.PatientName, ds.PatientID = f"SMALL^PATIENT{p + 1:02d}", f"SMALL{p + 1:04d}"
        ds.StudyInstanceUID, ds.StudyID = generate_uid(), str(p + 1)
        for s in range(SMALL_SERIES):
            ds.SeriesInstanceUID, ds.SeriesNumber = generate_uid(), s + 1
            folder = root / f"PA{p + 1:04d}" / f"SE{s + 1:04d}"
            folder.mkdir(parents=True)
            for i in range(SMALL_IMAGES):
                ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID = generate_uid()
                ds.InstanceNumber = i + 1
                ds.ImagePositionPatient = ["0", "0", f"{2.0 * i:.1f}"]
                ds.save_as(folder / f"IM{i + 1:04d}", enforce_file_format=True)
    _stamp(root).write_text("ok\n")
    return root


SMALL100K_PATIENTS = 200
_UID_ROOT = "1.2.826.0.1.3680043.8.498."


def small100k_tree() -> Path:
    """The 100,000-file tree of small files (made on first use by copying one file's bytes, about 20 s)."""
    root = ROOT / "small100k-v1"
    if _stamp(root).exists():
        return root
    import io
    import struct

    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    shutil.rmtree(root, ignore_errors=True)

    def uid(kind: int, number: int) -> str:
        return f"{_UID_ROOT}{kind}{number:030d}"  # one length for every value: the bytes are replaced in place

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPInstanceUID = uid(3, 0)
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = uid(3, 0)
    ds.StudyDate, ds.StudyTime, ds.Modality = "20240117", "093000", "CT"
    ds.PatientName, ds.PatientID = "SMALL^PATIENT0000", "SMALL00000"
    ds.PatientBirthDate, ds.PatientSex = "19700101", "O"
    ds.StudyInstanceUID, ds.StudyID = uid(1, 0), "1"
    ds.SeriesInstanceUID, ds.SeriesNumber = uid(2, 0), "1"
    ds.InstanceNumber = "1000"
    ds.ImagePositionPatient = ["0", "0", "9999.0"]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows = ds.Columns = SMALL_PIXELS
    ds.PixelSpacing = ["0.5", "0.5"]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    ds.PixelData = (np.arange(SMALL_PIXELS * SMALL_PIXELS, dtype=np.uint16) * 16).tobytes()
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    template = out.getvalue()

    def value_at(group: int, element: int, vr: str) -> int:
        """Where the value of an element of `template` starts (short-length VRs: 8 bytes of header)."""
        return template.index(struct.pack("<HH", group, element) + vr.encode("ascii")) + 8

    places = {
        "study": value_at(0x0020, 0x000D, "UI"),
        "series": value_at(0x0020, 0x000E, "UI"),
        "name": value_at(0x0010, 0x0010, "PN") + len("SMALL^"),
        "id": value_at(0x0010, 0x0020, "LO"),
        "number": value_at(0x0020, 0x0013, "IS"),
        "z": value_at(0x0020, 0x0032, "DS") + len("0\\0\\"),
    }
    sops = [value_at(0x0002, 0x0003, "UI"), value_at(0x0008, 0x0018, "UI")]  # meta and dataset
    data = bytearray(template)

    def put(at: int, text: str) -> None:
        data[at : at + len(text)] = text.encode("ascii")

    count = 0
    for p in range(SMALL100K_PATIENTS):
        put(places["name"], f"PATIENT{p + 1:04d}")
        put(places["id"], f"SMALL{p + 1:05d}")
        put(places["study"], uid(1, p + 1))
        for s in range(SMALL_SERIES):
            put(places["series"], uid(2, p * SMALL_SERIES + s + 1))
            folder = root / f"PA{p + 1:04d}" / f"SE{s + 1:04d}"
            folder.mkdir(parents=True)
            for i in range(SMALL_IMAGES):
                count += 1
                for at in sops:
                    put(at, uid(3, count))
                put(places["number"], f"{i + 1:04d}")
                put(places["z"], f"{2.0 * i:06.1f}")
                (folder / f"IM{i + 1:04d}").write_bytes(data)
    _stamp(root).write_text("ok\n")
    return root


def write_ct_slices(template, folder: Path, count: int) -> None:
    """`count` copies of `template` into `folder` as IM0001..., new SOP Instance
    UIDs, 1 mm apart along z from the template's position."""
    from pydicom.uid import generate_uid

    origin = [float(v) for v in template.ImagePositionPatient]
    for i in range(count):
        uid = generate_uid()
        template.SOPInstanceUID = uid
        template.file_meta.MediaStorageSOPInstanceUID = uid
        template.InstanceNumber = i + 1
        z = origin[2] - 1.0 * i
        template.ImagePositionPatient = [f"{origin[0]:.3f}", f"{origin[1]:.3f}", f"{z:.3f}"]
        template.SliceLocation = f"{z:.3f}"
        template.save_as(folder / f"IM{i + 1:04d}", enforce_file_format=True)


DCMMKDIR_ARGS = ["+r", "-Pgp", "+I", "-q"]


def media_tree() -> Path:
    """The DICOMDIR of a hard-linked copy of the index tree (made with dcmmkdir)."""
    root = ROOT / "media-v1"
    if _stamp(root).exists():
        return root / "DICOMDIR"
    source = index_tree()
    dcmmkdir = shutil.which("dcmmkdir")
    if dcmmkdir is None:
        raise RuntimeError("dcmmkdir not found: apt-get install dcmtk")
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(["cp", "-al", str(source), str(root)], check=True)
    series_folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    subprocess.run([dcmmkdir, *DCMMKDIR_ARGS, "+id", str(root), "+D", str(root / "DICOMDIR"), *series_folders], check=True)
    _stamp(root).write_text("ok\n")
    return root / "DICOMDIR"


def _stamp(tree: Path) -> Path:
    """Beside the tree, not in it (a scan would count it as a non-DICOM file)."""
    return tree.with_name(tree.name + ".complete")


def files_below(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- the page cache


def evict(paths: list[Path]) -> None:
    """Drop `paths` from the OS page cache (posix_fadvise DONTNEED; no privileges needed).

    Dirty pages are written first (fdatasync), else DONTNEED leaves them.
    Directory entries and inodes stay cached: "cold" is cold file data only.
    """
    os.sync()
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def resident_fraction(folder: Path) -> float | None:
    """Share of `folder`'s file pages in the page cache, from vmtouch (None without it)."""
    vmtouch = shutil.which("vmtouch")
    if vmtouch is None:
        return None
    out = subprocess.run([vmtouch, "-f", str(folder)], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "Resident Pages" in line:
            # "Resident Pages: 0/128000  0/500M  0%"
            fields = line.split(":", 1)[1].split()
            done, total = fields[0].split("/")
            return int(done) / max(int(total), 1)
    return None


if __name__ == "__main__":
    for make in (index_tree, small_tree, ct_tree, media_tree, small100k_tree):
        print(make(), file=sys.stderr)
