"""Structured Reports for the tests and benchmarks: made by dcmtk's xml2dsr or written with pydicom,
and dcmtk's dsrdump read back as (depth, relationship, value type, concept name, value) per content item.

Expected values come from dsrdump (a reader no one here wrote) or from the pydicom datasets the
test builds; never from viewer.core.documents.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

XML2DSR = shutil.which("xml2dsr")
DSRDUMP = shutil.which("dsrdump")
HERE = Path(__file__).with_name("sr_files")
#: Reports written as dcmtk's XML (dsr2xml's format), turned into DICOM by xml2dsr.
XML_REPORTS = ("findings.xml", "key_objects.xml")
X_RAY_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"


def xml2dsr(name: str, folder: Path) -> Path:
    """The DICOM file xml2dsr makes of sr_files/`name`, in `folder`."""
    out = folder / (Path(name).stem + ".dcm")
    subprocess.run([XML2DSR, str(HERE / name), str(out)], check=True, capture_output=True, timeout=60)
    return out


_LINE = re.compile(r"^(?P<indent> *)<(?P<body>.*)>(?: \{(?P<observed>[^}]*)\})?$")
_ITEM = re.compile(r'^(?:(?P<rel>[a-z][a-z ]*?) )?(?P<type>[A-Z0-9]+):(?:\([^,]*,[^,]*,"(?P<concept>.*?)"\))?=(?P<value>.*)$', re.S)
_BY_REFERENCE = re.compile(r"^(?P<rel>[a-z][a-z ]*?) (?P<target>\d+(?:\.\d+)*)$")


def dsrdump_items(path: Path) -> list[dict]:
    """dsrdump's content tree (no header, values in full, UTF-8, instance UIDs printed), one dict per item."""
    out = subprocess.run([DSRDUMP, "-Ph", "+U8", "+Pl", "+Pu", str(path)], check=True, capture_output=True, timeout=60).stdout.decode(
        "utf-8"
    )
    items = []
    for line in out.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        depth, body = len(match["indent"]) // 2, match["body"]
        by_reference = _BY_REFERENCE.match(body)
        if by_reference:
            items.append({"depth": depth, "relationship": by_reference["rel"], "type": "", "target": by_reference["target"]})
            continue
        item = _ITEM.match(body)
        assert item, line
        items.append(
            {
                "depth": depth,
                "relationship": item["rel"] or "",
                "type": item["type"],
                "concept": item["concept"] or "",
                "value": item["value"],
            }
        )
    return items


# ----------------------------------------------------------------------------- reports written with pydicom


def code(value: str, scheme: str, meaning: str) -> Dataset:
    ds = Dataset()
    ds.CodeValue, ds.CodingSchemeDesignator, ds.CodeMeaning = value, scheme, meaning
    return ds


def content_item(relationship: str, value_type: str, concept: Dataset | None, **values) -> Dataset:
    item = Dataset()
    item.RelationshipType = relationship
    item.ValueType = value_type
    if concept is not None:
        item.ConceptNameCodeSequence = Sequence([concept])
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def num(relationship: str, concept: Dataset, value: str, unit: Dataset) -> Dataset:
    measured = Dataset()
    measured.NumericValue = value
    measured.MeasurementUnitsCodeSequence = Sequence([unit])
    return content_item(relationship, "NUM", concept, MeasuredValueSequence=Sequence([measured]))


def sr_file(path: Path, root: Dataset, sop_class: str = X_RAY_RADIATION_DOSE_SR, charset: str = "ISO_IR 192", **attributes) -> Path:
    """`root` (a CONTAINER's attributes and Content Sequence) written as a report of `sop_class`."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = charset
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    ds.Modality = "SR"
    ds.PatientName, ds.PatientID = "Dose^Patient", "DOSE-1"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SeriesNumber, ds.InstanceNumber = 900, 1
    ds.ContentDate, ds.ContentTime = "20240305", "101112"
    ds.CompletionFlag, ds.VerificationFlag = "COMPLETE", "UNVERIFIED"
    ds.update(root)
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def dose_report(path: Path, items: int = 2000) -> Path:
    """An X-Ray Radiation Dose SR of about `items` content items (PS3.16 TID 10011's shape: a
    CT Acquisition container per irradiation event, with its dose numbers in mGy and mGy.cm)."""
    root = Dataset()
    root.ValueType = "CONTAINER"
    root.ConceptNameCodeSequence = Sequence([code("113701", "DCM", "X-Ray Radiation Dose Report")])
    root.ContinuityOfContent = "SEPARATE"
    children = [content_item("HAS OBS CONTEXT", "PNAME", code("121008", "DCM", "Person Observer Name"), PersonName="Ångström^Åsa")]
    event = 0
    while 2 + (event + 1) * 5 <= items:  # the root, the observer, then 5 items per event
        event += 1
        acquisition = content_item("CONTAINS", "CONTAINER", code("113819", "DCM", "CT Acquisition"), ContinuityOfContent="SEPARATE")
        acquisition.ContentSequence = Sequence(
            [
                content_item("CONTAINS", "TEXT", code("125203", "DCM", "Acquisition Protocol"), TextValue=f"Thorax event {event}"),
                content_item(
                    "CONTAINS", "CODE", code("123014", "DCM", "Target Region"), ConceptCodeSequence=[code("43799004", "SCT", "Chest")]
                ),
                num("CONTAINS", code("113830", "DCM", "Mean CTDIvol"), f"{event % 17 + 3.25:g}", code("mGy", "UCUM", "mGy")),
                num("CONTAINS", code("113838", "DCM", "DLP"), f"{event * 1.5 + 100:g}", code("mGy.cm", "UCUM", "mGy.cm")),
            ]
        )
        children.append(acquisition)
    root.ContentSequence = Sequence(children)
    return sr_file(path, root)


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path)
