"""DICOMDIR media: the record tree, file references, and references that must be refused.

The expected tree comes from pydicom: :class:`pydicom.fileset.FileSet`
where it loads the media, otherwise a plain ``dcmread`` walk of the
Directory Record Sequence by its offsets (PS3.3 F.3.2.1). Media are
pydicom's DICOMDIR test set and media written by dcmtk's ``dcmmkdir``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from collections import Counter
from pathlib import Path

import pydicom
import pytest
from pydicom import config
from pydicom.data import get_testdata_file
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from viewer.core.media.dicomdir import Record, find_dicomdir, read_dicomdir
from viewer.core.media.sources import open_paths

DCMMKDIR = shutil.which("dcmmkdir")
PYDICOM_MEDIA = Path(get_testdata_file("DICOMDIR")).parent
PYDICOM_DICOMDIRS = [
    "DICOMDIR",
    "DICOMDIR-implicit",
    "DICOMDIR-bigEnd",
    "DICOMDIR-nooffset",
    "DICOMDIR-reordered",
    "DICOMDIR-nopatient",
    "DICOMDIR-empty.dcm",
    "TINY_ALPHA/DICOMDIR",
]

# --------------------------------------------------------------------------- the reference: pydicom's reading


def _record_chain(by_offset: dict, offset: int) -> list:
    records = []
    while offset:
        record = by_offset[offset]
        records.append(record)
        offset = record.OffsetOfTheNextDirectoryRecord
    return records


def pydicom_images(dicomdir: Path) -> tuple[Counter, set[tuple]]:
    """(records per type, {(patient ID, patient name, study UID, series UID, file)}) as pydicom reads them.

    FileSet where it accepts the media; a plain walk by offsets where it
    does not (it refuses records of unknown type, as in DICOMDIR-nopatient).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FileSet's notes on non-conformant transfer syntaxes
        ds = pydicom.dcmread(dicomdir)
        try:
            fileset = FileSet(ds)
        except ValueError:
            fileset = None
    images = set()
    counts: Counter = Counter()
    if fileset is not None:
        seen = set()
        for instance in fileset:
            lineage = [instance.node, *instance.node.ancestors]  # image, series, study, patient
            for node in lineage:
                if id(node) not in seen:
                    seen.add(id(node))
                    counts[node.record_type] += 1
            # FileInstance attributes are looked up in the instance's record and its ancestors.
            images.add(
                (instance.PatientID, str(instance.PatientName), instance.StudyInstanceUID, instance.SeriesInstanceUID, Path(instance.path))
            )
        return counts, images
    # DICOMDIR-nopatient's root offset points at an image record (it was reordered without
    # updating it): the top-level entities are taken as the records no other record points at.
    records = ds.DirectoryRecordSequence
    by_offset = {record.seq_item_tell: record for record in records}
    pointed_at = {r.OffsetOfTheNextDirectoryRecord for r in records} | {r.OffsetOfReferencedLowerLevelDirectoryEntity for r in records}
    tops = [top for r in records if r.seq_item_tell not in pointed_at for top in _record_chain(by_offset, r.seq_item_tell)]
    for top in tops:
        counts[top.DirectoryRecordType] += 1
        for study in _record_chain(by_offset, top.OffsetOfReferencedLowerLevelDirectoryEntity):
            counts[study.DirectoryRecordType] += 1
            for series in _record_chain(by_offset, study.OffsetOfReferencedLowerLevelDirectoryEntity):
                counts[series.DirectoryRecordType] += 1
                for image in _record_chain(by_offset, series.OffsetOfReferencedLowerLevelDirectoryEntity):
                    counts[image.DirectoryRecordType] += 1
                    images.add(
                        (
                            top.PatientID,
                            str(top.PatientName),
                            study.StudyInstanceUID,
                            series.SeriesInstanceUID,
                            dicomdir.parent.joinpath(*image.ReferencedFileID),
                        )
                    )
    return counts, images


# --------------------------------------------------------------------------- what the code under test reads


def our_images(dicomdir: Path) -> tuple[Counter, set[tuple]]:
    media = read_dicomdir(dicomdir)
    counts: Counter = Counter()
    stack: list[Record] = list(media.roots)
    while stack:
        record = stack.pop()
        counts[record.type] += 1
        stack.extend(record.children)
    images = {
        (
            str(image.header.PatientID),
            str(image.header.PatientName),
            image.header.StudyInstanceUID,
            image.header.SeriesInstanceUID,
            image.path,
        )
        for image in media.images
    }
    assert len(images) == len(media.images), "an image is listed twice"
    assert media.problems == []
    return counts, images


@pytest.mark.parametrize("name", PYDICOM_DICOMDIRS)
def test_pydicom_media_tree(name):
    dicomdir = PYDICOM_MEDIA / name
    expected_counts, expected_images = pydicom_images(dicomdir)
    counts, images = our_images(dicomdir)
    assert counts == expected_counts
    assert images == expected_images
    assert all(path.is_file() for *_, path in images)


def test_pydicom_media_reference_is_not_trivial():
    """The reference reaches every record in pydicom's media (counted straight from the sequence)."""
    for name in ("DICOMDIR", "DICOMDIR-reordered", "DICOMDIR-nopatient", "TINY_ALPHA/DICOMDIR"):
        sequence = pydicom.dcmread(PYDICOM_MEDIA / name).DirectoryRecordSequence
        counts, images = pydicom_images(PYDICOM_MEDIA / name)
        assert counts == Counter(record.DirectoryRecordType for record in sequence)
        assert len(images) == counts["IMAGE"] > 0


def test_open_paths_on_pydicom_media(tmp_path):
    """Pointing at the media folder finds its DICOMDIR; the catalog holds the reference's tree."""
    _, expected = pydicom_images(PYDICOM_MEDIA / "DICOMDIR")
    result = open_paths([PYDICOM_MEDIA])
    catalog = result.catalog
    assert result.problems == []
    assert {key[0] for key in catalog.patients} == {patient_id for patient_id, *_ in expected}
    assert set(catalog.studies) == {study for _, _, study, _, _ in expected}
    assert set(catalog.series) == {series for *_, series, _ in expected}
    assert {inst.path for s in result.series for inst in s.instances} == {path for *_, path in expected}
    assert result.progress.images_found == len(expected)


# --------------------------------------------------------------------------- media written by dcmtk

PATIENTS, STUDIES, SERIES, IMAGES = 3, 2, 2, 3


@pytest.fixture
def dcmtk_media(tmp_path, make_instance):
    """3 patients x 2 studies x 2 series x 3 images under DICOM/, and dcmmkdir's DICOMDIR for them.

    Returns the media root and the (patient ID, name, study UID, series UID, file) of every image.
    """
    if DCMMKDIR is None:
        pytest.skip("dcmtk's dcmmkdir is not installed (apt-get install dcmtk)")
    root = tmp_path / "CDROM"
    expected = set()
    for p in range(PATIENTS):
        for st in range(STUDIES):
            study_uid = generate_uid()
            for se in range(SERIES):
                series_uid = generate_uid()
                for im in range(IMAGES):
                    # dcmmkdir wants names of at most 8 upper-case characters (ISO 9660 level 1).
                    path = root.joinpath("DICOM", f"PAT{p}", f"STU{st}", f"SER{se}", f"IM{im}")
                    make_instance(
                        path,
                        "CT_small.dcm",
                        PatientName=f"TEST^PATIENT{p}",
                        PatientID=f"PID{p}",
                        StudyInstanceUID=study_uid,
                        StudyID=str(st),
                        SeriesInstanceUID=series_uid,
                        SeriesNumber=se + 1,
                        InstanceNumber=im + 1,
                    )
                    expected.add((f"PID{p}", f"TEST^PATIENT{p}", study_uid, series_uid, path))
    command = [DCMMKDIR, "+r", "+id", str(root), "-Pgp", "+D", str(root / "DICOMDIR"), "DICOM"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, f"{' '.join(command)}: {run.stderr.strip()}"
    return root, expected


@pytest.mark.dcmtk
def test_dcmtk_media_tree(dcmtk_media):
    root, expected = dcmtk_media
    reference_counts, reference_images = pydicom_images(root / "DICOMDIR")
    assert reference_images == expected  # dcmmkdir recorded what was written; pydicom reads it so
    counts, images = our_images(root / "DICOMDIR")
    assert (
        counts
        == reference_counts
        == Counter(
            PATIENT=PATIENTS,
            STUDY=PATIENTS * STUDIES,
            SERIES=PATIENTS * STUDIES * SERIES,
            IMAGE=PATIENTS * STUDIES * SERIES * IMAGES,
        )
    )
    assert images == reference_images

    result = open_paths([root])
    assert result.problems == []
    assert len(result.catalog.patients) == PATIENTS
    assert len(result.catalog.studies) == PATIENTS * STUDIES
    assert [len(series.images) for series in result.series] == [IMAGES] * (PATIENTS * STUDIES * SERIES)


def _rename_to_lower_case(root: Path) -> None:
    for folder, subfolders, files in os.walk(root, topdown=False):
        for name in files + subfolders:
            os.rename(os.path.join(folder, name), os.path.join(folder, name.lower()))


@pytest.mark.dcmtk
def test_dcmtk_media_renamed_to_lower_case(dcmtk_media):
    root, expected = dcmtk_media
    _rename_to_lower_case(root)
    assert sorted(os.listdir(root)) == ["dicom", "dicomdir"]
    dicomdir = find_dicomdir(root)
    assert dicomdir == root / "dicomdir"
    lowered = {(*fields, root / str(path.relative_to(root)).lower()) for *fields, path in expected}
    counts, images = our_images(dicomdir)
    assert images == lowered
    assert all(path.is_file() for *_, path in images)

    result = open_paths([root])
    assert result.problems == []
    assert result.progress.images_found == len(expected)
    assert all(inst.available for series in result.series for inst in series.instances)


# --------------------------------------------------------------------------- references that must be refused


def _rewrite_records(dicomdir: Path, edit) -> None:
    """Apply `edit(records)` to a DICOMDIR with pydicom, keeping its record offsets valid.

    Rewriting changes item positions, so every offset is mapped from each
    record's old position to its new one (positions as pydicom reads them).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's notes on the crafted, non-conformant IDs
        _rewrite_records_quietly(dicomdir, edit)


def _rewrite_records_quietly(dicomdir: Path, edit) -> None:
    ds = pydicom.dcmread(dicomdir)
    old_positions = [record.seq_item_tell for record in ds.DirectoryRecordSequence]
    saved_mode = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.IGNORE  # the crafted IDs break CS rules on purpose
    try:
        edit(list(ds.DirectoryRecordSequence))
        ds.save_as(dicomdir)
        rewritten = pydicom.dcmread(dicomdir)
        new_position = dict(zip(old_positions, (r.seq_item_tell for r in rewritten.DirectoryRecordSequence)))
        new_position[0] = 0
        for keyword in (
            "OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity",
            "OffsetOfTheLastDirectoryRecordOfTheRootDirectoryEntity",
        ):
            setattr(rewritten, keyword, new_position[getattr(rewritten, keyword)])
        for record in rewritten.DirectoryRecordSequence:
            for keyword in ("OffsetOfTheNextDirectoryRecord", "OffsetOfReferencedLowerLevelDirectoryEntity"):
                setattr(record, keyword, new_position[getattr(record, keyword)])
        rewritten.save_as(dicomdir)  # offsets are fixed-size: positions do not move again
    finally:
        config.settings.writing_validation_mode = saved_mode
    check = pydicom.dcmread(dicomdir)
    positions = {r.seq_item_tell for r in check.DirectoryRecordSequence}
    assert check.OffsetOfTheFirstDirectoryRecordOfTheRootDirectoryEntity in positions


def _outside(path: str, outside: Path) -> bool:
    return Path(path) == outside or outside in Path(path).parents


@pytest.mark.dcmtk
def test_references_leaving_the_media_are_refused(dcmtk_media, tmp_path, make_instance, opened_paths):
    root, expected = dcmtk_media
    outside = tmp_path / "OUTSIDE"
    make_instance(outside / "SECRET", "MR_small.dcm", PatientName="NOT^ON^THE^MEDIA")
    os.symlink(outside / "SECRET", root / "DICOM" / "LINK")  # a file link leaving the media
    os.symlink(outside, root / "DICOM" / "OUTDIR")  # a folder link leaving the media
    os.symlink(root / "DICOM" / "PAT0" / "STU0" / "SER0" / "IM0", root / "DICOM" / "INSIDE")  # stays inside
    crafted = {
        ("..", "OUTSIDE", "SECRET"): "leaves the media folder",
        ("..", "..", "OUTSIDE", "SECRET"): "leaves the media folder",
        (str(outside / "SECRET"),): "leaves the media folder",  # a POSIX absolute path as one component
        ("", "tmp", "SECRET"): "leaves the media folder",  # '\TMP\SECRET': absolute in DICOM's notation
        ("DICOM", "LINK"): "link that leaves the media folder",
        ("DICOM", "OUTDIR", "SECRET"): "link that leaves the media folder",
        ("DICOM", "PAT9", "NOFILE"): "missing on the media",
    }

    sop_of: dict[tuple, str] = {}  # crafted ID -> SOP Instance UID of the record given it

    def edit(records):
        images = [r for r in records if r.DirectoryRecordType == "IMAGE"]
        for record, file_id in zip(images, [*crafted, ("DICOM", "INSIDE")]):
            record.ReferencedFileID = list(file_id)
            sop_of[file_id] = record.ReferencedSOPInstanceUIDInFile

    dicomdir = root / "DICOMDIR"
    _rewrite_records(dicomdir, edit)
    opened_paths.clear()

    media = read_dicomdir(dicomdir)
    problems = {image.header.SOPInstanceUID: image.problem for image in media.images if image.problem}
    assert len(problems) == len(crafted)
    assert len(media.problems) == len(crafted)
    for line in media.problems:
        assert "\n" not in line and line.startswith("DICOMDIR: ")
    for file_id, reason in crafted.items():
        problem = problems[sop_of[file_id]]
        assert reason in problem and file_id[-1] in problem, (file_id, problem)
        assert any(problem in line for line in media.problems)
    refused = [image for image in media.images if image.problem]
    assert all(image.path is None for image in refused)
    inside = [image for image in media.images if image.path is not None and image.path.name == "INSIDE"]
    assert len(inside) == 1 and not inside[0].problem  # a link within the media is fine
    assert len(media.images) == len(expected)

    result = open_paths([root])
    assert sorted(result.problems) == sorted(media.problems)
    available = [inst for s in result.series for inst in s.instances if inst.available]
    missing = [inst for s in result.series for inst in s.instances if not inst.available]
    assert len(available) == len(expected) - len(crafted)
    assert len(missing) == len(crafted) and all(inst.problem for inst in missing)
    assert sum(series.missing_count for series in result.series) == len(crafted)
    assert all(ref.instance.available for series in result.series for ref in series.images)
    assert "NOT^ON^THE^MEDIA" not in {str(inst.header.get("PatientName")) for s in result.series for inst in s.instances}

    leaks = [path for path in opened_paths if _outside(path, outside)]
    assert leaks == [], f"opened outside the media: {leaks}"
    assert str(dicomdir) in opened_paths  # the recorder did see the reading
