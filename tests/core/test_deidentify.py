"""De-identification (PS3.15 Annex E, issue #17): no planted identifier survives, references stay whole,
each option does what its column of Table E.1-1 says (expected actions read by hand from the standard)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset

from tests.core.deid_corpus import PLANTED, SOP_UIDS, STUDY_UID, leak_instance, pixels, planted_bytes, write_corpus
from viewer.core.deidentify.burned_in import Rectangle, black_out, burned_in_reason
from viewer.core.deidentify.deidentifier import Deidentifier
from viewer.core.deidentify.folder import deidentify_files
from viewer.core.deidentify.key import DeidentificationKey
from viewer.core.deidentify.options import DeidentifyOptions
from viewer.core.deidentify.profile import table_action
from viewer.core.dicom.io import ViewerError

#: Options that keep nothing identifying by design: the leak test runs under each.
REMOVING_OPTIONS = {
    "basic": DeidentifyOptions(),
    "clean": DeidentifyOptions(clean_descriptors=True, clean_structured_content=True, retain_safe_private=True),
    "shifted": DeidentifyOptions(retain_modified_dates=True, shift_days=-400),
}


#: Descriptive text that Clean Descriptors / Clean Structured Content keep once the identifiers are out of it.
CLEANED_TEXT = {
    "LO Study Description",
    "LT Additional Patient History",
    "LT Image Comments",
    "UT Reason for Visit",
    "Content Sequence text",
}


def text_values(ds: Dataset) -> list[str]:
    """Every decoded value of every element, at every depth (pydicom decodes with the declared character sets)."""
    found = []

    def visit(dataset, elem):
        if elem.VR != "SQ":
            found.append(str(elem.value))

    ds.walk(visit)
    return found


def run(tmp_path: Path, options: DeidentifyOptions, key=None, name="out", on_bytes=True, **kw):
    sources = write_corpus(tmp_path / "src")
    result = deidentify_files([tmp_path / "src"], tmp_path / name, options, key, parallel=False, on_bytes=on_bytes, **kw)
    assert not result.problems, result.problems
    return sources, result


def by_number(paths) -> dict[int, Dataset]:
    copies = [pydicom.dcmread(p) for p in paths]
    return {int(ds.InstanceNumber): ds for ds in copies}


@pytest.mark.parametrize("on_bytes", [True, False], ids=["bytes", "dataset"])
@pytest.mark.parametrize("name", sorted(REMOVING_OPTIONS))
def test_no_planted_identifier_survives_in_any_value_or_byte(tmp_path, name, on_bytes):
    """Through both paths of the folder writer: rewriting the bytes, and the pydicom Dataset."""
    sources, result = run(tmp_path, REMOVING_OPTIONS[name], on_bytes=on_bytes)
    assert len(result.written) == 2
    for path in result.written:
        raw = path.read_bytes()
        values = "\n".join(text_values(pydicom.dcmread(path))).lower()
        for where, value in PLANTED.items():
            if name == "shifted" and where.startswith("TM"):
                continue  # the Modified Dates Option moves dates by whole days and keeps the times (E.3.6)
            if name == "clean" and where in CLEANED_TEXT:
                continue  # cleaned, not removed, by the options' design: the identifiers planted in them are checked
            for form in planted_bytes(value):
                assert form not in raw, f"{where} ({value!r}) found in the bytes of {path.name} ({name})"
            assert value.lower() not in values, f"{where} ({value!r}) found in a decoded value of {path.name} ({name})"


def test_pixel_data_is_copied_unchanged(tmp_path):
    _sources, result = run(tmp_path, DeidentifyOptions())
    for number, ds in by_number(result.written).items():
        np.testing.assert_array_equal(ds.pixel_array, pixels(number - 1))


def test_sources_are_never_written(tmp_path):
    sources = write_corpus(tmp_path / "src")
    before = [hashlib.sha256(p.read_bytes()).hexdigest() for p in sources]
    deidentify_files([tmp_path / "src"], tmp_path / "out", parallel=False)
    assert [hashlib.sha256(p.read_bytes()).hexdigest() for p in sources] == before
    with pytest.raises(ViewerError, match="source folder"):
        deidentify_files([tmp_path / "src"], tmp_path / "src" / "inside", parallel=False)
    with pytest.raises(ViewerError, match="source folder"):
        deidentify_files([sources[0]], tmp_path / "src", parallel=False)
    with pytest.raises(ViewerError, match="sources are inside the output folder"):
        deidentify_files([tmp_path / "src"], tmp_path, parallel=False)


def test_the_callable_leaves_its_input_alone():
    original = leak_instance(0)
    copy = Deidentifier()(original)
    assert original.PatientID == PLANTED["LO Patient ID"] and original.SOPInstanceUID == SOP_UIDS[0]
    assert copy.PatientID != original.PatientID and copy.SOPInstanceUID != original.SOPInstanceUID


@pytest.mark.parametrize("on_bytes", [True, False], ids=["bytes", "dataset"])
def test_uids_replaced_consistently_and_references_follow(tmp_path, on_bytes):
    _sources, result = run(tmp_path, DeidentifyOptions(), on_bytes=on_bytes)
    a, b = by_number(result.written)[1], by_number(result.written)[2]
    assert a.StudyInstanceUID == b.StudyInstanceUID != STUDY_UID
    assert a.SeriesInstanceUID == b.SeriesInstanceUID and a.FrameOfReferenceUID == b.FrameOfReferenceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID and a.SOPInstanceUID.startswith("2.25.")
    # Referenced Image Sequence (X/Z/U*) and a Source Image Sequence three deep keep pointing at the other instance.
    assert a.ReferencedImageSequence[0].ReferencedSOPInstanceUID == b.SOPInstanceUID
    assert b.ReferencedImageSequence[0].ReferencedSOPInstanceUID == a.SOPInstanceUID
    nested = a.SharedFunctionalGroupsSequence[0].DerivationImageSequence[0].SourceImageSequence[0]
    assert nested.ReferencedSOPInstanceUID == b.SOPInstanceUID
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID
    # One pseudonym per patient, the same in both copies.
    assert a.PatientID == b.PatientID and str(a.PatientName) == a.PatientID


def test_key_file_maps_the_same_uids_in_a_later_run(tmp_path):
    key_file = tmp_path / "run.key"
    first = DeidentificationKey.load_or_create(key_file)
    _s, one = run(tmp_path, DeidentifyOptions(retain_modified_dates=True), first, name="one")
    first.save(key_file)
    assert (key_file.stat().st_mode & 0o777) == 0o600
    _s, two = run(tmp_path, DeidentifyOptions(retain_modified_dates=True), DeidentificationKey.load(key_file), name="two")
    _s, other = run(tmp_path, DeidentifyOptions(retain_modified_dates=True), DeidentificationKey(), name="three")
    a1, a2, a3 = by_number(one.written)[1], by_number(two.written)[1], by_number(other.written)[1]
    assert a1.SOPInstanceUID == a2.SOPInstanceUID != a3.SOPInstanceUID
    assert a1.StudyDate == a2.StudyDate and a1.PatientID == a2.PatientID
    saved = DeidentificationKey.load(key_file)
    assert saved.uids[SOP_UIDS[0]] == a1.SOPInstanceUID
    (tmp_path / "bad.key").write_text("{}")
    with pytest.raises(ViewerError, match="not a dicom-viewer de-identification key"):
        DeidentificationKey.load(tmp_path / "bad.key")


def test_identity_removed_and_method_codes():
    options = DeidentifyOptions(retain_modified_dates=True, retain_patient_characteristics=True)
    ds = Deidentifier(options)(leak_instance(0))
    assert ds.PatientIdentityRemoved == "YES"
    # CID 7050: 113100 Basic Application Confidentiality Profile, 113107 Modified Dates, 113108 Patient Characteristics.
    assert [item.CodeValue for item in ds.DeidentificationMethodCodeSequence] == ["113100", "113107", "113108"]
    assert all(item.CodingSchemeDesignator == "DCM" for item in ds.DeidentificationMethodCodeSequence)
    assert "Basic Application Confidentiality Profile" in ds.DeidentificationMethod
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"
    assert Deidentifier()(leak_instance(0)).LongitudinalTemporalInformationModified == "REMOVED"


# ----------------------------------------------------------------------------- option columns, from the standard

#: Rows of PS3.15 Table E.1-1 as printed in the standard (2024b), read by hand: Basic Profile action and
#: the option column that changes it.
STANDARD_ROWS = [
    (0x00100010, "Z", {}),  # Patient's Name
    (0x00100020, "Z/D", {}),  # Patient ID
    (0x00080020, "Z", {"retain_full_dates": "K", "retain_modified_dates": "C"}),  # Study Date
    (0x0008002A, "X/Z/D", {"retain_full_dates": "K", "retain_modified_dates": "C"}),  # Acquisition DateTime
    (0x00100040, "Z", {"retain_patient_characteristics": "K"}),  # Patient's Sex
    (0x00101010, "X", {"retain_patient_characteristics": "K"}),  # Patient's Age
    (0x00101030, "X", {"retain_patient_characteristics": "K"}),  # Patient's Weight
    (0x00181000, "X/Z/D", {"retain_device_identity": "K"}),  # Device Serial Number
    (0x00080080, "X/Z/D", {"retain_institution_identity": "K"}),  # Institution Name
    (0x0020000D, "U", {"retain_uids": "K"}),  # Study Instance UID
    (0x00081030, "X", {"clean_descriptors": "C"}),  # Study Description
    (0x0008103E, "X", {"clean_descriptors": "C"}),  # Series Description
    (0x00081140, "X/Z/U*", {"retain_uids": "K"}),  # Referenced Image Sequence
    (0x0040A730, "D", {"clean_structured_content": "C"}),  # Content Sequence
    (0x00101002, "X", {}),  # Other Patient IDs Sequence
]


@pytest.mark.parametrize(("tag", "basic", "columns"), STANDARD_ROWS, ids=[f"{r[0]:08X}" for r in STANDARD_ROWS])
def test_table_rows_match_the_standard(tag, basic, columns):
    assert table_action(tag, DeidentifyOptions()) == basic
    for option, action in columns.items():
        assert table_action(tag, DeidentifyOptions(**{option: True})) == action


def deidentified(**options) -> Dataset:
    ds = leak_instance(0)
    ds.SeriesDescription = f"series of {PLANTED['LO Patient ID']}"
    ds.PatientWeight = "71.5"
    ds.DeviceSerialNumber = "SN-123"
    return Deidentifier(DeidentifyOptions(**options))(ds)


def test_basic_profile_actions():
    ds = deidentified()
    assert "PatientAge" not in ds and "PatientWeight" not in ds  # X
    assert ds.PatientSex == "" and ds.StudyDate == "" and ds.AccessionNumber == ""  # Z
    assert "StudyDescription" not in ds and "OtherPatientIDsSequence" not in ds and "RequestAttributesSequence" not in ds  # X
    assert ds.InstitutionName == "" and ds.DeviceSerialNumber == ""  # X/Z/D kept present, empty
    assert not any(tag.group & 1 for tag in ds.keys())  # private attributes: X
    assert "ReferencedStudySequence" in ds and len(ds.ReferencedStudySequence) == 0  # X/Z: empty
    text = ds.ContentSequence[0]  # D: kept as structure, free text and names replaced by dummies
    assert text.TextValue == "ANONYMIZED" and text.ContentSequence[0].PersonName == "ANONYMIZED"
    assert text.ConceptNameCodeSequence[0].CodeMeaning == "Finding"


def test_retain_patient_characteristics_column():
    ds = deidentified(retain_patient_characteristics=True)
    assert (ds.PatientSex, ds.PatientAge, ds.PatientWeight) == ("M", "047Y", 71.5)


def test_retain_device_and_institution_columns():
    assert deidentified(retain_device_identity=True).DeviceSerialNumber == "SN-123"
    assert deidentified(retain_device_identity=True).StationName == PLANTED["SH Station Name"]
    assert deidentified(retain_institution_identity=True).InstitutionName == PLANTED["LO Institution Name"]


def test_retain_uids_column():
    ds = deidentified(retain_uids=True)
    assert ds.StudyInstanceUID == STUDY_UID and ds.SOPInstanceUID == SOP_UIDS[0]
    assert ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID == SOP_UIDS[1]


def test_date_columns():
    full = deidentified(retain_full_dates=True)
    assert full.StudyDate == "20110817" and full.AcquisitionDateTime == "20110818091011"
    assert full.LongitudinalTemporalInformationModified == "UNMODIFIED"
    shifted = deidentified(shift_days=-10)
    assert shifted.StudyDate == "20110807" and shifted.AcquisitionDateTime == "20110808091011"
    assert shifted.StudyTime == "235959.987654"  # whole days: times stay
    assert shifted.ContentSequence[0].ContentSequence[1].Date == "20110807"  # nested DATE item, shifted alike
    per_patient = deidentified(retain_modified_dates=True)
    other = Deidentifier(DeidentifyOptions(retain_modified_dates=True), per_patient_key := DeidentificationKey())
    a = other(leak_instance(0))
    b = other(leak_instance(1))
    assert a.StudyDate == b.StudyDate != "20110817" and per_patient_key is other.key  # one shift per patient
    assert per_patient.StudyDate != ""


def test_clean_descriptors_and_structured_content_columns():
    ds = deidentified(clean_descriptors=True, clean_structured_content=True)
    assert ds.StudyDescription.startswith("PHISTUDYDESC CT chest") and "Иванов" not in ds.StudyDescription
    assert PLANTED["LO Patient ID"] not in ds.StudyDescription and PLANTED["LO Patient ID"] not in ds.SeriesDescription
    text = ds.ContentSequence[0]
    assert text.TextValue.startswith(PLANTED["Content Sequence text"]) and "Иванов" not in text.TextValue
    assert text.ContentSequence[0].PersonName == "ANONYMIZED"  # Person Name (0040,A123) is D in every column


def test_retain_safe_private_column():
    ds = deidentified(retain_safe_private=True)
    # PS3.15 Table E.3.10-1: (0019,xx0C) SIEMENS MR HEADER B Value is safe; the vendor's (0011,xx01) is not.
    assert ds[0x00190010].value == "SIEMENS MR HEADER" and ds[0x0019100C].value == 1000
    assert 0x00111001 not in ds and 0x00110010 not in ds
    assert 0x0019100C not in deidentified()


def test_patient_id_and_name_given():
    ds = deidentified(patient_id="TRIAL-001", patient_name="Trial^001")
    assert ds.PatientID == "TRIAL-001" and ds.PatientName == "Trial^001"


# ----------------------------------------------------------------------------- burned-in text


def test_burned_in_candidates():
    ct = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert burned_in_reason(ct) is None
    ct.BurnedInAnnotation = "YES"
    assert burned_in_reason(ct) == "Burned In Annotation is YES"
    us = pydicom.dcmread(get_testdata_file("US1_J2KR.dcm"))
    assert "BurnedInAnnotation" not in us and "US image" in burned_in_reason(us)
    us.BurnedInAnnotation = "NO"
    assert burned_in_reason(us) is None


def test_blackout_of_a_compressed_ultrasound(tmp_path):
    source = Path(get_testdata_file("US1_J2KR.dcm"))
    original = pydicom.dcmread(source).pixel_array
    result = deidentify_files([source], tmp_path / "out", rectangles=[Rectangle(10, 5, 40, 20)], parallel=False)
    assert result.blacked_out == 1 and not result.burned_in  # blacked out: no longer listed
    ds = pydicom.dcmread(result.written[0])
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert ds.BurnedInAnnotation == "NO" and "113101" in [i.CodeValue for i in ds.DeidentificationMethodCodeSequence]
    after = ds.pixel_array
    assert (after[5:25, 10:50] == 0).all()
    outside = np.ones(after.shape[:2], bool)
    outside[5:25, 10:50] = False
    np.testing.assert_array_equal(after[outside], original[outside])


def test_candidates_listed_without_blackout(tmp_path):
    source = Path(get_testdata_file("US1_J2KR.dcm"))
    result = deidentify_files([source], tmp_path / "out", parallel=False)
    assert [reason for _p, reason in result.burned_in] == ["US image without Burned In Annotation"]
    assert pydicom.dcmread(result.written[0]).file_meta.TransferSyntaxUID == pydicom.dcmread(source).file_meta.TransferSyntaxUID


def test_black_out_native_monochrome1_uses_the_highest_value():
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.PhotometricInterpretation = "MONOCHROME1"
    assert black_out(ds, [Rectangle(0, 0, 4, 4)])
    assert (ds.pixel_array[:4, :4] == 2**15 - 1).all()


def test_unreadable_files_get_one_line_each(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "notes.txt").write_text("not DICOM")
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "src" / "ct.dcm")
    result = deidentify_files([tmp_path / "src"], tmp_path / "out", parallel=False)
    assert len(result.written) == 1 and [p.reason for p in result.problems] == ["not a DICOM file"]


# ----------------------------------------------------------------------------- the reference peer


@pytest.mark.skipif(shutil.which("gdcmanon") is None or shutil.which("openssl") is None, reason="gdcmanon or openssl missing")
def test_what_gdcmanon_protects_we_protect_too(tmp_path):
    """gdcm's PS3.15 de-identifier (-e) on CT_small: every attribute it removes or replaces, ours removes or replaces too."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1"]
        + ["-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
        check=True,
        capture_output=True,
    )
    source = get_testdata_file("CT_small.dcm")
    subprocess.run(["gdcmanon", "-e", "-c", str(tmp_path / "cert.pem"), source, str(tmp_path / "gdcm.dcm")], check=True)
    original, theirs = pydicom.dcmread(source), pydicom.dcmread(tmp_path / "gdcm.dcm")
    ours = Deidentifier()(pydicom.dcmread(source))
    changed_by_gdcm = [e.tag for e in original if e.tag not in theirs or theirs[e.tag].value != e.value]
    assert changed_by_gdcm  # gdcm did change something
    for tag in changed_by_gdcm:
        assert tag not in ours or ours[tag].value != original[tag].value or original[tag].value in ("", None), f"{tag} kept by us"
    assert theirs.PatientIdentityRemoved == ours.PatientIdentityRemoved == "YES"


def test_cancel_stops_between_chunks(tmp_path):
    from viewer.core.runtime.tasks import CancelToken

    write_corpus(tmp_path / "src")
    token = CancelToken()
    token.cancel()
    seen = []
    result = deidentify_files([tmp_path / "src"], tmp_path / "out", cancel=token, progress=lambda done, total: seen.append((done, total)))
    assert result.cancelled and not result.written and not seen


def test_pseudonym_the_same_whether_values_were_decoded_or_not(tmp_path):
    """A dataset read from a file (values still raw) and the same one with its Cyrillic name decoded give the
    patient one pseudonym: the bytes path and the send hook must agree."""
    path = write_corpus(tmp_path / "src")[0]
    deidentifier = Deidentifier(DeidentifyOptions(retain_modified_dates=True), DeidentificationKey(b"k" * 32))
    raw = deidentifier(pydicom.dcmread(path))
    decoded_source = pydicom.dcmread(path)
    assert str(decoded_source.PatientName).startswith("Иванов")
    decoded = deidentifier(decoded_source)
    assert (raw.PatientID, raw.StudyDate) == (decoded.PatientID, decoded.StudyDate)
