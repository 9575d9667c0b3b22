"""A PHI leak corpus: two instances of one patient with known identifying strings planted in every kind of
element (PS3.15 E.1.1 asks for all of them, "whether contained in the main dataset or embedded in an Item of a
Sequence of Items"), written as files for the de-identifier to copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

#: The Cyrillic patient's name, written in ISO 8859-5 (Specific Character Set ISO_IR 144).
CYRILLIC_NAME = "Иванов^Пётр"
CHARSET = "ISO_IR 144"
CODEC = "iso8859_5"

STUDY_UID = "1.2.826.0.1.3680043.8.498.7010101"
SERIES_UID = "1.2.826.0.1.3680043.8.498.7010102"
FRAME_OF_REFERENCE_UID = "1.2.826.0.1.3680043.8.498.7010103"
SOP_UIDS = ("1.2.826.0.1.3680043.8.498.7010104", "1.2.826.0.1.3680043.8.498.7010105")
OTHER_STUDY_UID = "1.2.826.0.1.3680043.8.498.7010106"

#: Every planted value, by where it is (the test names the leak). Dates and times are values no de-identified
#: file can hold by chance; the UIDs are the originals.
PLANTED = {
    "PN Patient's Name": CYRILLIC_NAME,
    "PN family name alone": "Иванов",
    "PN Referring Physician": "PHIREFERRER^ANNA",
    "PN Performing Physician": "PHIPERFORMER^BOB",
    "PN Operators' Name": "PHIOPERATOR^CAROL",
    "PN Other Patient Names": "PHIALIAS^DAN",
    "PN Mother's Birth Name": "PHIMOTHER^EVE",
    "LO Patient ID": "PHIPID4711",
    "LO Other Patient IDs": "PHIOTHERID1",
    "LO Institution Name": "PHIINSTITUTE",
    "LO Patient's Address": "PHISTREET 12",
    "LO Study Description": "PHISTUDYDESC",
    "LO Issuer of Patient ID": "PHIISSUER",
    "SH Accession Number": "PHIACC9911",
    "SH Station Name": "PHISTATION",
    "SH Study ID": "PHISTUDYID",
    "SH Telephone": "PHIPHONE5551234",
    "LT Additional Patient History": "PHIHISTORY of the patient",
    "LT Image Comments": "PHIIMAGECOMMENT",
    "ST Institution Address": "PHIINSTADDRESS",
    "UT Reason for Visit": "PHIREASONFORVISIT",
    "DA Birth Date": "19610321",
    "DA Study Date": "20110817",
    "DT Acquisition DateTime": "20110818091011",
    "TM Study Time": "235959.987654",
    "AS Patient's Age": "047Y",
    "UI Study Instance UID": STUDY_UID,
    "UI Series Instance UID": SERIES_UID,
    "UI Frame of Reference UID": FRAME_OF_REFERENCE_UID,
    "UI SOP Instance UID A": SOP_UIDS[0],
    "UI SOP Instance UID B": SOP_UIDS[1],
    "UI referenced study": OTHER_STUDY_UID,
    "nested PN 3 deep": "PHINESTED^FRANK",
    "nested LO 3 deep": "PHINESTEDID77",
    "private LO": "PHIPRIVATEVALUE",
    "private in sequence": "PHIPRIVNESTED",
    "private creator": "PHIVENDOR CORP",
    "Other Patient IDs Sequence": "PHIOTHERID2",
    "Request Attributes": "PHIREQPROC33",
    "Request Attributes accession": "PHIREQACC44",
    "Content Sequence text": "PHIREPORTTEXT findings",
    "Content Sequence observer": "PHIOBSERVER^GINA",
    "Overlay Comments": "PHIOVERLAYCOMMENT",
}


def planted_bytes(value: str) -> list[bytes]:
    """How a planted value may appear in a file: ASCII/UTF-8 and the Cyrillic character set's encoding."""
    forms = {value.encode("utf-8")}
    try:
        forms.add(value.encode(CODEC))
    except UnicodeEncodeError:
        pass
    return sorted(forms)


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def leak_instance(index: int) -> Dataset:
    """Instance `index` (0 or 1): both of one patient, study and series; instance 0 refers to instance 1."""
    ds = Dataset()
    ds.SpecificCharacterSet = CHARSET
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = SOP_UIDS[index]
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = STUDY_UID, SERIES_UID, FRAME_OF_REFERENCE_UID
    ds.Modality = "CT"
    ds.Manufacturer = "ACME"
    ds.PatientName = CYRILLIC_NAME
    ds.PatientID = PLANTED["LO Patient ID"]
    ds.IssuerOfPatientID = PLANTED["LO Issuer of Patient ID"]
    ds.OtherPatientIDs = PLANTED["LO Other Patient IDs"]
    ds.OtherPatientNames = PLANTED["PN Other Patient Names"]
    ds.PatientMotherBirthName = PLANTED["PN Mother's Birth Name"]
    ds.PatientBirthDate = PLANTED["DA Birth Date"]
    ds.PatientAge = PLANTED["AS Patient's Age"]
    ds.PatientSex = "M"
    ds.PatientAddress = PLANTED["LO Patient's Address"]
    ds.PatientTelephoneNumbers = PLANTED["SH Telephone"]
    ds.AdditionalPatientHistory = PLANTED["LT Additional Patient History"]
    ds.ReferringPhysicianName = PLANTED["PN Referring Physician"]
    ds.PerformingPhysicianName = PLANTED["PN Performing Physician"]
    ds.OperatorsName = PLANTED["PN Operators' Name"]
    ds.InstitutionName = PLANTED["LO Institution Name"]
    ds.InstitutionAddress = PLANTED["ST Institution Address"]
    ds.StationName = PLANTED["SH Station Name"]
    ds.AccessionNumber = PLANTED["SH Accession Number"]
    ds.StudyID = PLANTED["SH Study ID"]
    # A descriptor that names the patient, as real ones do: Clean Descriptors keeps it without the names.
    ds.StudyDescription = f"{PLANTED['LO Study Description']} CT chest Иванов {PLANTED['LO Patient ID']}"
    ds.ImageComments = PLANTED["LT Image Comments"]
    ds.ReasonForVisit = PLANTED["UT Reason for Visit"]
    ds.StudyDate = PLANTED["DA Study Date"]
    ds.StudyTime = PLANTED["TM Study Time"]
    ds.AcquisitionDateTime = PLANTED["DT Acquisition DateTime"]
    ds.InstanceNumber = index + 1

    other = Dataset()
    other.PatientID = PLANTED["Other Patient IDs Sequence"]
    other.IssuerOfPatientID = PLANTED["LO Issuer of Patient ID"]
    ds.OtherPatientIDsSequence = Sequence([other])

    request = Dataset()
    request.RequestedProcedureID = PLANTED["Request Attributes"]
    request.AccessionNumber = PLANTED["Request Attributes accession"]
    ds.RequestAttributesSequence = Sequence([request])

    study_ref = Dataset()
    study_ref.ReferencedSOPClassUID = "1.2.840.10008.3.1.2.3.1"
    study_ref.ReferencedSOPInstanceUID = OTHER_STUDY_UID
    ds.ReferencedStudySequence = Sequence([study_ref])

    # Three sequences deep, under sequences the profile keeps (and so cleans inside): Shared Functional Groups
    # > Derivation Image > Source Image, whose item refers to the other instance and carries names and IDs.
    source = Dataset()
    source.ReferencedSOPClassUID = CTImageStorage
    source.ReferencedSOPInstanceUID = SOP_UIDS[1 - index]
    source.PatientName = PLANTED["nested PN 3 deep"]
    source.PatientID = PLANTED["nested LO 3 deep"]
    source.add_new(0x00290010, "LO", PLANTED["private creator"])
    source.add_new(0x00291001, "LO", PLANTED["private in sequence"])
    derivation = Dataset()
    derivation.SourceImageSequence = Sequence([source])
    derivation.DerivationDescription = "resampled"
    frame_group = Dataset()
    frame_group.DerivationImageSequence = Sequence([derivation])
    ds.SharedFunctionalGroupsSequence = Sequence([frame_group])

    referenced = Dataset()
    referenced.ReferencedSOPClassUID = CTImageStorage
    referenced.ReferencedSOPInstanceUID = SOP_UIDS[1 - index]
    ds.ReferencedImageSequence = Sequence([referenced])

    # Structured content: a TEXT item (free text naming the patient) with a PNAME and a DATE item below it.
    text = Dataset()
    text.RelationshipType, text.ValueType = "CONTAINS", "TEXT"
    text.ConceptNameCodeSequence = Sequence([_code("121071", "Finding")])
    text.TextValue = f"{PLANTED['Content Sequence text']} for Иванов {PLANTED['LO Patient ID']}"
    observer = Dataset()
    observer.RelationshipType, observer.ValueType = "HAS OBS CONTEXT", "PNAME"
    observer.ConceptNameCodeSequence = Sequence([_code("121008", "Person Observer Name")])
    observer.PersonName = PLANTED["Content Sequence observer"]
    date = Dataset()
    date.RelationshipType, date.ValueType = "HAS OBS CONTEXT", "DATE"
    date.ConceptNameCodeSequence = Sequence([_code("111060", "Study Date")])
    date.Date = PLANTED["DA Study Date"]
    text.ContentSequence = Sequence([observer, date])
    ds.ContentSequence = Sequence([text])

    ds.add_new(0x00110010, "LO", PLANTED["private creator"])
    ds.add_new(0x00111001, "LO", PLANTED["private LO"])
    # A safe private attribute (PS3.15 Table E.3.10-1: (0019,xx0C) SIEMENS MR HEADER, B Value, IS).
    ds.add_new(0x00190010, "LO", "SIEMENS MR HEADER")
    ds.add_new(0x0019100C, "IS", "1000")
    ds.add_new(0x60004000, "LT", PLANTED["Overlay Comments"])

    ds.Rows, ds.Columns = 16, 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels(index).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = SOP_UIDS[index]
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.SourceApplicationEntityTitle = "PHISTATION"
    return ds


def pixels(index: int) -> np.ndarray:
    return (np.arange(256, dtype=np.uint16).reshape(16, 16) * 13 + index * 7) % 4096


def write_corpus(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in (0, 1):
        path = folder / f"leak{index}.dcm"
        leak_instance(index).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
