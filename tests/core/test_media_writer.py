"""Write media (#17): a General Purpose CD-R file-set (PS3.11 Annex D) from real files, read back by
this viewer and by the reference tools.

The sources are pydicom's test files of several kinds (CT and MR in Explicit VR Little Endian, an MR in
Big Endian, a multi-frame MR, an implicit VR multi-frame RT Dose, an SR, an ECG, JPEG Baseline and JPEG
2000 images) and generated copies of CT_small with non-Latin names (UTF-8 Japanese, ISO 8859-7 Greek).
Expected values come from pydicom reading the sources, from dcmtk (``dcmdump``, ``dcmmkdir``) and from
dicom3tools (``dciodvfy``), never from the writer.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from tests.core.conftest import sample_path
from viewer.core.dicom.io import ViewerError
from viewer.core.media.sources import open_paths
from viewer.core.media.writer import write_media
from viewer.core.runtime.tasks import CancelToken

DCMDUMP, DCMMKDIR, DCIODVFY = shutil.which("dcmdump"), shutil.which("dcmmkdir"), shutil.which("dciodvfy")
needs_dcmtk = pytest.mark.skipif(DCMDUMP is None or DCMMKDIR is None, reason="dcmtk (dcmdump, dcmmkdir) is not installed")

#: pydicom test files: (name, what it stands for)
SAMPLES = (
    "CT_small.dcm",  # CT, Explicit VR Little Endian: copied byte for byte
    "MR_small_bigendian.dcm",  # MR in Explicit VR Big Endian (retired): re-encoded
    "emri_small.dcm",  # multi-frame MR (10 frames)
    "rtdose.dcm",  # RT Dose, Implicit VR Little Endian, 15 frames: re-encoded
    "test-SR.dcm",  # a Structured Report: an SR DOCUMENT record
    "waveform_ecg.dcm",  # a 12-lead ECG: a WAVEFORM record
    "SC_rgb_jpeg_dcmtk.dcm",  # JPEG Baseline, colour: decoded
    "JPEG2000.dcm",  # JPEG 2000: decoded
)


def _non_latin(folder: Path, charset: str, name: str) -> Path:
    ds = pydicom.dcmread(sample_path("CT_small.dcm"))
    ds.SpecificCharacterSet = charset
    ds.PatientName = name
    ds.PatientID = f"NL{len(name)}{charset[-3:].strip()}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = folder / f"{ds.PatientID}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def sources(tmp_path) -> list[Path]:
    folder = tmp_path / "sources"
    folder.mkdir()
    paths = [sample_path(name) for name in SAMPLES]
    paths.append(_non_latin(folder, "ISO_IR 192", "山田^太郎=やまだ^たろう"))
    paths.append(_non_latin(folder, "ISO_IR 126", "Διονυσιος^Γεωργιος"))
    return paths


def _digests(paths: list[Path]) -> dict[Path, tuple[str, float]]:
    return {p: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime) for p in paths}


@pytest.fixture
def media(tmp_path, sources):
    before = _digests(sources)
    target = tmp_path / "media"
    result = write_media(sources, target)
    assert _digests(sources) == before, "a source was changed"
    return target, result


def _instances(paths) -> dict[str, tuple[str, str, str, int]]:
    """SOP Instance UID -> (patient name, study UID, series UID, frames) as this viewer's reader lists them."""
    found = open_paths(paths)
    listed = {}
    for patient in found.catalog.patients.values():
        for study in patient.studies.values():
            for series in study.series.values():
                for instance in series.instances:
                    name = str(pydicom.dataset.Dataset(instance.header).get("PatientName", ""))
                    listed[instance.sop_instance_uid] = (name, study.uid, series.uid, instance.frames)
    return listed


def test_every_source_is_written_and_the_viewer_reads_the_same_instances_back(media, sources):
    target, result = media
    assert result.written == len(sources) and not result.problems
    expected = {}
    for path in sources:  # pydicom, not the writer, says what each source is
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        expected[ds.SOPInstanceUID] = (ds.StudyInstanceUID, ds.SeriesInstanceUID, int(ds.get("NumberOfFrames") or 1))
    read_back = _instances([target])
    assert {uid: (study, series) for uid, (_, study, series, _) in read_back.items()} == {
        uid: (study, series) for uid, (study, series, _) in expected.items()
    }
    # and the viewer lists the same patients, names decoded the same, from the DICOMDIR as from the sources
    assert {uid: v[0] for uid, v in read_back.items()} == {uid: v[0] for uid, v in _instances(sources).items()}
    images = {uid: frames for uid, (_, _, _, frames) in read_back.items() if frames}
    assert images == {uid: f for uid, (_, _, f) in expected.items() if uid in images}
    assert images[pydicom.dcmread(sample_path("emri_small.dcm"), stop_before_pixels=True).SOPInstanceUID] == 10


def test_file_ids_follow_ps3_10(media):
    target, _ = media
    files = [p for p in (target / "DICOM").rglob("*") if p.is_file()]
    assert len(files) == 10
    for path in files:
        parts = path.relative_to(target).parts
        assert len(parts) <= 8 and all(re.fullmatch(r"[A-Z0-9_]{1,8}", part) for part in parts), parts
    assert sorted(p.name for p in target.iterdir()) == ["DICOM", "DICOMDIR"]


def test_files_in_explicit_little_endian_are_copied_byte_for_byte_and_the_rest_re_encoded(media, sources):
    target, result = media
    by_uid = {}
    for path in (target / "DICOM").rglob("*"):
        if path.is_file():
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            by_uid[ds.SOPInstanceUID] = path
            assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian  # PS3.11 D.3.1
    copied = 0
    for source in sources:
        ds = pydicom.dcmread(source, stop_before_pixels=True)
        if ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian:
            assert by_uid[ds.SOPInstanceUID].read_bytes() == source.read_bytes()
            copied += 1
    assert copied == result.copied == 6
    # the big-endian MR re-encoded: the same pixels as pydicom's little-endian copy of that MR
    mr = pydicom.dcmread(by_uid[pydicom.dcmread(sample_path("MR_small_bigendian.dcm")).SOPInstanceUID])
    assert np.array_equal(mr.pixel_array, pydicom.dcmread(sample_path("MR_small.dcm")).pixel_array)
    # JPEG Baseline decoded: RGB now, and still said to be lossy (PS3.3 C.7.6.1.1.5)
    jpeg = pydicom.dcmread(by_uid[pydicom.dcmread(sample_path("SC_rgb_jpeg_dcmtk.dcm")).SOPInstanceUID])
    assert jpeg.PhotometricInterpretation == "RGB" and jpeg.LossyImageCompression == "01"
    assert jpeg.pixel_array.shape == (100, 100, 3)


def _dcmdump_records(dicomdir: Path) -> list[dict]:
    """The directory records as dcmtk prints them: offset, next, lower, type, file ID, SOP Instance UID, name."""
    text = subprocess.run([DCMDUMP, "+L", str(dicomdir)], capture_output=True, encoding="latin-1", check=True).stdout
    records: list[dict] = []
    for line in text.splitlines():
        if m := re.search(r"#\s+offset=\$(\d+)", line):
            records.append({"offset": int(m[1])})
        elif records and (m := re.match(r"\s*\((0004,1400|0004,1420|0004,1430|0004,1500|0004,1511|0010,0020)\) \w\w (.*?)\s+#", line)):
            value = m[2].strip()
            value = value[1:-1] if value.startswith("[") else value
            records[-1][m[1]] = int(value) if m[1] in ("0004,1400", "0004,1420") else value
    return records


def _tree(records: list[dict], first: int) -> dict:
    """The record tree linked by the offsets dcmtk printed (PS3.3 F.3.2.1): {patient id: {study: ...}}."""
    by_offset = {r["offset"]: r for r in records}

    def chain(offset: int) -> list[dict]:
        found = []
        while offset:
            found.append(by_offset[offset])
            offset = by_offset[offset]["0004,1400"]
        return found

    def below(record: dict) -> object:
        children = chain(record["0004,1420"])
        if not children:
            return record.get("0004,1500")
        return {c.get("0004,1511") or c.get("0010,0020") or c["offset"]: below(c) for c in children}

    return {r["0010,0020"]: below(r) for r in chain(first)}


@needs_dcmtk
def test_dcmtk_reads_the_dicomdir_with_the_same_tree(media, sources):
    target, _ = media
    records = _dcmdump_records(target / "DICOMDIR")
    head = subprocess.run([DCMDUMP, str(target / "DICOMDIR")], capture_output=True, encoding="latin-1", check=True).stdout
    first = int(re.search(r"\(0004,1200\) up (\d+)", head)[1])
    tree = _tree(records, first)
    leaves = {}
    for patient, studies in tree.items():
        assert patient  # Type 1 (PS3.3 F.5.1)
        for studies_series in studies.values():
            for instances in studies_series.values():
                leaves.update(instances)
    expected = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in sources}
    assert set(leaves) == expected
    for uid, file_id in leaves.items():  # each record names the file that holds that instance
        dumped = subprocess.run([DCMDUMP, "+P", "0008,0018", str(target.joinpath(*file_id.split("\\")))], capture_output=True, text=True)
        assert uid in dumped.stdout
    types = {r["0004,1430"] for r in records}
    assert {"PATIENT", "STUDY", "SERIES", "IMAGE", "SR DOCUMENT", "WAVEFORM", "RT DOSE"} <= types


@needs_dcmtk
def test_dcmmkdir_appending_the_same_files_finds_the_dicomdir_consistent(tmp_path):
    """dcmmkdir +A reads the DICOMDIR, checks each file against its record (-a: aborts on an inconsistent
    one) and adds none: every record is where dcmtk expects it. Files with every Type 1 key, since
    dcmtk would make up its own Patient and Study IDs for the others."""
    complete = [sample_path(n) for n in ("CT_small.dcm", "MR_small.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm")]
    target = tmp_path / "media"
    write_media(complete, target)
    before = len(_dcmdump_records(target / "DICOMDIR"))
    run = subprocess.run(
        [DCMMKDIR, "+A", "-a", "-nb", "+r", "+id", str(target), "-Pgp", "+D", str(target / "DICOMDIR"), "DICOM"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    complaints = [line for line in run.stderr.splitlines() if line.startswith(("E:", "F:")) or "inconsist" in line]
    assert not complaints
    assert len(_dcmdump_records(target / "DICOMDIR")) == before


@pytest.mark.skipif(DCIODVFY is None, reason="dicom3tools (dciodvfy) is not installed")
def test_dciodvfy_finds_no_error_in_the_dicomdir(media):
    target, _ = media
    run = subprocess.run([DCIODVFY, str(target / "DICOMDIR")], capture_output=True, text=True)
    output = run.stdout + run.stderr
    assert "BasicDirectory" in output
    assert [line for line in output.splitlines() if line.startswith("Error")] == []


def test_records_carry_the_names_in_their_own_character_set(media, sources):
    target, _ = media
    dicomdir = pydicom.dcmread(target / "DICOMDIR")
    patients = {str(r.PatientName): r for r in dicomdir.DirectoryRecordSequence if r.DirectoryRecordType == "PATIENT"}
    for path in sources[-2:]:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        record = patients[str(ds.PatientName)]
        assert record.SpecificCharacterSet == ds.SpecificCharacterSet
        assert record["PatientName"].value == ds["PatientName"].value
        assert dicomdir["DirectoryRecordSequence"].value  # pydicom decodes every record's name in its own set


def test_a_prepare_step_changes_the_written_files_and_their_records_not_the_sources(tmp_path):
    source = sample_path("CT_small.dcm")
    before = source.read_bytes()

    def rename(ds):
        ds.PatientName, ds.PatientID = "Anonymous^Patient", "ANON1"
        return ds

    result = write_media([source], tmp_path / "media", prepare=rename)
    assert result.written == result.rewritten == 1 and source.read_bytes() == before
    dicomdir = pydicom.dcmread(tmp_path / "media" / "DICOMDIR")
    patient = dicomdir.DirectoryRecordSequence[0]
    assert (patient.PatientName, patient.PatientID) == ("Anonymous^Patient", "ANON1")
    written = next(p for p in (tmp_path / "media" / "DICOM").rglob("*") if p.is_file())
    assert pydicom.dcmread(written).PatientName == "Anonymous^Patient"


def test_sources_that_cannot_be_written_get_one_line_each_and_the_rest_is_written(tmp_path):
    ds = pydicom.dcmread(sample_path("CT_small.dcm"))
    del ds.SOPInstanceUID
    (tmp_path / "in").mkdir()
    no_uid = tmp_path / "in" / "no_uid.dcm"
    ds.save_as(no_uid)
    not_dicom = tmp_path / "in" / "notes.txt"
    not_dicom.write_text("not DICOM")
    result = write_media([sample_path("CT_small.dcm"), no_uid, not_dicom, sample_path("JPEG-lossy.dcm")], tmp_path / "media")
    assert result.written == 1
    reasons = {Path(p.path).name: p.reason for p in result.problems}
    assert set(reasons) == {"no_uid.dcm", "notes.txt", "JPEG-lossy.dcm"}
    assert "SOP Instance UID" in reasons["no_uid.dcm"]
    assert "could not be decoded" in reasons["JPEG-lossy.dcm"]  # a 12-bit JPEG no installed decoder reads
    assert all("\n" not in str(p) for p in result.problems)


def test_targets_that_cannot_take_media_are_refused_and_left_alone(tmp_path):
    ct = sample_path("CT_small.dcm")
    with pytest.raises(ViewerError, match="cannot write media here"):
        write_media([ct], "/proc/media-out")  # not writable, even by root
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(ViewerError, match="not a folder"):
        write_media([ct], a_file)
    target = tmp_path / "media"
    write_media([ct], target)
    dicomdir = (target / "DICOMDIR").read_bytes()
    with pytest.raises(ViewerError, match="already holds DICOM and DICOMDIR"):
        write_media([sample_path("MR_small.dcm")], target)
    assert (target / "DICOMDIR").read_bytes() == dicomdir
    folder = tmp_path / "sources"
    folder.mkdir()
    shutil.copy(ct, folder / "ct.dcm")
    with pytest.raises(ViewerError, match="one of the folders to write"):
        write_media([folder], folder / "cd")
    result = write_media([sample_path("MR_small.dcm")], target, replace=True)
    assert result.written == 1 and sorted(p.name for p in target.iterdir()) == ["DICOM", "DICOMDIR"]


def test_cancelled_writing_leaves_nothing(tmp_path):
    token = CancelToken()
    token.cancel()
    result = write_media([sample_path("CT_small.dcm")], tmp_path / "media", cancel=token)
    assert result.cancelled and not (tmp_path / "media").exists() and list(tmp_path.iterdir()) == []
    # cancelled after the first file, into a folder that holds other things: those stay, nothing is added
    usb = tmp_path / "usb"
    usb.mkdir()
    (usb / "README.txt").write_text("mine")
    token = CancelToken()
    files = [sample_path(n) for n in ("CT_small.dcm", "MR_small.dcm", "emri_small.dcm")]
    result = write_media(files, usb, cancel=token, on_progress=lambda done, total: token.cancel())
    assert result.cancelled and [p.name for p in usb.iterdir()] == ["README.txt"]
    # and written there when not cancelled, beside what was there
    result = write_media(files, usb)
    assert result.written == 3 and sorted(p.name for p in usb.iterdir()) == ["DICOM", "DICOMDIR", "README.txt"]


def test_command_line(tmp_path, capsys):
    from viewer.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(sample_path(name), folder / name)
    assert main(["media", str(folder), "-o", str(tmp_path / "cd")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    size = sum(p.stat().st_size for p in (tmp_path / "cd").rglob("*") if p.is_file()) / 1e6
    assert out == [
        f"2 instances (2 patients, 2 studies, 2 series, {size:,.1f} MB) written to {tmp_path / 'cd'} with a DICOMDIR (STD-GEN-CD)"
    ]
    assert main(["media", str(folder), "-o", str(tmp_path / "cd")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "already holds" in err[0]
    # media written from media: the instances its DICOMDIR lists, files read again (the records carry no meta)
    assert main(["media", str(tmp_path / "cd"), "-o", str(tmp_path / "cd2")]) == 0
    assert set(_instances([tmp_path / "cd2"])) == set(_instances([folder]))


@needs_dcmtk
@pytest.mark.skipif(shutil.which("dcmpsmk") is None or shutil.which("xml2dsr") is None, reason="dcmtk's dcmpsmk, xml2dsr, pdf2dcm")
def test_key_objects_presentation_states_and_documents_get_their_own_record_types(tmp_path):
    """PS3.3 F.5: KEY OBJECT DOC, PRESENTATION and ENCAP DOC records with their Type 1 keys, made by dcmtk's
    tools (xml2dsr, dcmpsmk, pdf2dcm), checked by dciodvfy."""
    from tests.core.sr_reports import xml2dsr
    from tests.document_files import encapsulated_pdf

    made = tmp_path / "made"
    made.mkdir()
    key_objects = xml2dsr("key_objects.xml", made)
    state = made / "pr.dcm"
    subprocess.run(["dcmpsmk", str(sample_path("CT_small.dcm")), str(state)], check=True, capture_output=True)
    pdf, _ = encapsulated_pdf(made)
    result = write_media([sample_path("CT_small.dcm"), key_objects, state, pdf], tmp_path / "media")
    assert result.written == 4, result.problems
    records = {r.DirectoryRecordType: r for r in pydicom.dcmread(tmp_path / "media" / "DICOMDIR").DirectoryRecordSequence}
    assert {"KEY OBJECT DOC", "PRESENTATION", "ENCAP DOC", "IMAGE"} <= set(records)
    assert (
        records["KEY OBJECT DOC"].ConceptNameCodeSequence[0].CodeMeaning
        == pydicom.dcmread(key_objects).ConceptNameCodeSequence[0].CodeMeaning
    )
    assert records["PRESENTATION"].ContentLabel == pydicom.dcmread(state).ContentLabel
    assert records["ENCAP DOC"].MIMETypeOfEncapsulatedDocument == "application/pdf"
    if DCIODVFY is not None:
        run = subprocess.run([DCIODVFY, str(tmp_path / "media" / "DICOMDIR")], capture_output=True, text=True)
        assert [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")] == []


def test_instances_of_a_scan_are_written_as_their_files_are(tmp_path, sources):
    """The command line hands the scan's instances over (their headers are not read again): the same
    DICOMDIR records as from the files' paths."""
    by_path = write_media(sources, tmp_path / "by_path")
    found = open_paths(sources)
    instances = [i for series in found.series for i in series.instances]
    order = {str(p): n for n, p in enumerate(sources)}
    instances.sort(key=lambda i: order[str(i.path)])
    by_instance = write_media(instances, tmp_path / "by_instance")
    assert (by_instance.written, by_instance.copied, by_instance.rewritten) == (by_path.written, by_path.copied, by_path.rewritten)
    first = pydicom.dcmread(tmp_path / "by_path" / "DICOMDIR").DirectoryRecordSequence
    second = pydicom.dcmread(tmp_path / "by_instance" / "DICOMDIR").DirectoryRecordSequence
    assert [r.to_json_dict() for r in first] == [r.to_json_dict() for r in second]


def test_general_purpose_keys_referenced_images_and_one_patient_id_per_patient(tmp_path):
    """PS3.11 D.3.3: the Patient ID unique to each PATIENT record; D.3.3.1: Image Type and Referenced Image
    Sequence in IMAGE records when the image has them."""
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for n, name in enumerate(("Smith^John", "Jones^Mary")):  # two people, one Patient ID, no issuer
        ds = pydicom.dcmread(sample_path("CT_small.dcm"))
        ds.PatientName, ds.PatientID = name, "SAME"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        item = pydicom.Dataset()
        item.ReferencedSOPClassUID, item.ReferencedSOPInstanceUID = ds.SOPClassUID, generate_uid()
        ds.ReferencedImageSequence = [item]
        paths.append(folder / f"{n}.dcm")
        ds.save_as(paths[-1], enforce_file_format=True)
    result = write_media(paths, tmp_path / "media")
    assert result.written == 2 and result.copied == 2
    records = pydicom.dcmread(tmp_path / "media" / "DICOMDIR").DirectoryRecordSequence
    patient_ids = [r.PatientID for r in records if r.DirectoryRecordType == "PATIENT"]
    assert len(patient_ids) == 2 and len(set(patient_ids)) == 2 and patient_ids[0] == "SAME"
    images = [r for r in records if r.DirectoryRecordType == "IMAGE"]
    for record, path in zip(images, paths, strict=True):
        ds = pydicom.dcmread(path)
        assert record.ImageType == ds.ImageType
        assert record.ReferencedImageSequence[0].ReferencedSOPInstanceUID == ds.ReferencedImageSequence[0].ReferencedSOPInstanceUID


@pytest.mark.skipif(DCIODVFY is None, reason="dicom3tools (dciodvfy) is not installed")
def test_files_written_again_are_no_less_conformant_than_their_sources(media, sources):
    """dciodvfy on each file that was re-encoded or decoded finds no error its source did not have."""
    target, _ = media

    def errors(path: Path) -> set[str]:
        run = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True)
        return {line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")}

    written = {}
    for path in (target / "DICOM").rglob("*"):
        if path.is_file():
            written[pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID] = path
    checked = 0
    for source in sources:
        ds = pydicom.dcmread(source, stop_before_pixels=True)
        if ds.file_meta.TransferSyntaxUID != ExplicitVRLittleEndian:
            assert errors(written[ds.SOPInstanceUID]) <= errors(source), source.name
            checked += 1
    assert checked == 4  # big endian, implicit VR, JPEG Baseline, JPEG 2000


def test_de_identified_media_hold_no_identifier_of_the_sources_in_files_or_dicomdir(tmp_path, capsys):
    """``media --deidentify``: the Basic Profile's copies (viewer.core.deidentify) written, and the DICOMDIR's
    records made from them: the source patient's name and ID appear in no byte of the media; sources unchanged."""
    from viewer.cli import main

    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(sample_path(name), folder / name)
    before = _digests(list(folder.iterdir()))
    identifiers = []
    for path in folder.iterdir():
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        identifiers += [str(ds.PatientName).encode(), str(ds.PatientID).encode(), str(ds.SOPInstanceUID).encode()]
    assert main(["media", str(folder), "-o", str(tmp_path / "cd"), "--deidentify"]) == 0
    written = [p for p in (tmp_path / "cd").rglob("*") if p.is_file()]
    assert len(written) == 3  # two instances and the DICOMDIR
    for path in written:
        data = path.read_bytes()
        assert not any(identifier in data for identifier in identifiers if identifier), path
    for path in written:
        if path.name != "DICOMDIR":
            assert pydicom.dcmread(path, stop_before_pixels=True).PatientIdentityRemoved == "YES"
    found = open_paths([tmp_path / "cd"])
    assert sum(len(s.instances) for s in found.series) == 2 and not found.problems
    assert _digests(list(folder.iterdir())) == before


def test_a_file_gone_between_the_scan_and_its_copy_is_one_problem_and_the_rest_keep_their_order(tmp_path):
    """Copies run ahead on threads: a source deleted after the scan fails alone (one line, no file and no
    record on the media), and the records of the others are those of a writing without it, in the same order (its file number is not given again)."""
    folder = tmp_path / "series"
    folder.mkdir()
    template = pydicom.dcmread(sample_path("CT_small.dcm"))
    series_uid = generate_uid()
    for number in range(1, 81):
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.SeriesInstanceUID, template.InstanceNumber = series_uid, number
        template.save_as(folder / f"ct{number:03d}.dcm")
    found = open_paths([folder])
    instances = sorted((i for series in found.series for i in series.instances), key=lambda i: str(i.path))
    gone = instances[37]
    gone.path.rename(tmp_path / "moved.dcm")
    result = write_media(instances, tmp_path / "media")
    assert [(p.path, p.reason) for p in result.problems] == [(gone.path, result.problems[0].reason)]
    assert "cannot be written" in result.problems[0].reason and result.written == result.copied == 79
    written = sorted(p for p in (tmp_path / "media" / "DICOM").rglob("*") if p.is_file())
    assert len(written) == 79
    rest = write_media([i for i in instances if i is not gone], tmp_path / "without")
    records = pydicom.dcmread(tmp_path / "media" / "DICOMDIR").DirectoryRecordSequence
    expected = pydicom.dcmread(tmp_path / "without" / "DICOMDIR").DirectoryRecordSequence
    assert rest.written == 79

    def listed(sequence):  # each record's type and instance, in order (file names may skip the number of the one gone)
        return [(r.DirectoryRecordType, r.get("ReferencedSOPInstanceUIDInFile"), r.get("InstanceNumber")) for r in sequence]

    assert listed(records) == listed(expected)
