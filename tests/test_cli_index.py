"""``dicom-viewer index PATH [--json]``: the browser's tree, as text or JSON.

Folders are built from pydicom's sample files (several series, a series of
two files, a multi-frame file, a file in Implicit VR) beside what real disks
hold (a note, a copy cut inside its header, a DICOM file with no image);
media are pydicom's DICOMDIR test set. Expected trees, counts and values
are what pydicom itself reads from the same files (``dcmread``,
``FileSet``), never what the viewer reads.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileSet

from viewer.app import main

#: The keys every level must carry (the issue's schema, and the attributes
#: the index lists besides it; DICOM keywords in CamelCase).
PATIENT_KEYS = {
    "PatientID",
    "PatientName",
    "IssuerOfPatientID",
    "PatientBirthDate",
    "PatientSex",
    "NumberOfPatientRelatedStudies",
    "studies",
}
STUDY_KEYS = {
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyDescription",
    "AccessionNumber",
    "StudyID",
    "ReferringPhysicianName",
    "ModalitiesInStudy",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "series",
}
SERIES_KEYS = {
    "SeriesInstanceUID",
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesDate",
    "SeriesTime",
    "BodyPartExamined",
    "NumberOfSeriesRelatedInstances",
    "images",
    "instances",
    "kind",  # what the series is: image series, report, key images, presentation state... (#16)
}
INSTANCE_KEYS = {"SOPInstanceUID", "SOPClassUID", "kind", "path"}
IMAGES = ("CT_small.dcm", "MR_small.dcm", "MR_small_implicit.dcm", "emri_small.dcm", "SC_rgb.dcm", "693_UNCI.dcm")


def check_schema(tree: dict) -> None:
    """Every key of the schema present at every level, of the right type."""
    assert set(tree) == {"patients", "problems"}
    for patient in tree["patients"]:
        assert set(patient) == PATIENT_KEYS
        assert patient["NumberOfPatientRelatedStudies"] == len(patient["studies"]) > 0
        for study in patient["studies"]:
            assert set(study) == STUDY_KEYS
            assert study["NumberOfStudyRelatedSeries"] == len(study["series"]) > 0
            assert study["NumberOfStudyRelatedInstances"] == sum(len(s["instances"]) for s in study["series"])
            for series in study["series"]:
                assert set(series) == SERIES_KEYS
                assert series["NumberOfSeriesRelatedInstances"] == len(series["instances"]) > 0
                for instance in series["instances"]:
                    assert INSTANCE_KEYS <= set(instance) <= INSTANCE_KEYS | {"NumberOfFrames", "problem"}
                    assert "NumberOfFrames" not in instance or instance["NumberOfFrames"] > 1
        for value in (*patient.values(), *(v for s in patient["studies"] for v in s.values())):
            assert isinstance(value, (str, int, list)), value
    for problem in tree["problems"]:
        assert set(problem) == {"path", "reason"} and problem["reason"] and "\n" not in problem["reason"]


def run_index(capsys, *args) -> tuple[int, str, str]:
    code = main(["index", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def index_json(capsys, path) -> dict:
    code, out, err = run_index(capsys, path, "--json")
    assert code == 0, err
    tree = json.loads(out)
    check_schema(tree)
    return tree


def frames(ds) -> int:
    """The images of a file: 0 for an object without one (a report, a plan)."""
    return int(ds.get("NumberOfFrames") or 1) if "Rows" in ds else 0


def pydicom_tree(paths) -> tuple[dict, dict]:
    """What pydicom reads from `paths`: {series UID: [(path, dataset)]} of the
    images (files with Rows and Columns) and of the objects without an image by
    design (a SOP Class and no Rows: listed too, #16), and {path: error or None} of the rest."""
    series, others = defaultdict(list), {}
    for path in paths:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, EOFError, OSError) as exc:
            others[path] = exc
            continue
        no_image_by_design = "SOPClassUID" in ds and "Rows" not in ds and "Image Storage" not in ds.SOPClassUID.name
        if ("Rows" in ds and "Columns" in ds) or no_image_by_design:
            series[ds.SeriesInstanceUID].append((path, ds))
        else:
            others[path] = None
    return series, others


def _cut_in_patient_name(source: Path, target: Path) -> Path:
    """A copy ending in the middle of (0010,0010) *Patient's Name* (position from pydicom)."""
    raw = pydicom.dcmread(source, stop_before_pixels=True).get_item("PatientName")
    target.write_bytes(source.read_bytes()[: raw.value_tell + raw.length // 2])
    return target


@pytest.fixture
def disk(tmp_path):
    """A folder of real images in subfolders, a note, a cut copy and a plan."""
    root = tmp_path / "disk"
    (root / "a").mkdir(parents=True)
    (root / "b" / "c").mkdir(parents=True)
    for i, name in enumerate(IMAGES):
        shutil.copy(get_testdata_file(name), root / ("a" if i % 2 else "b/c") / name)
    (root / "notes.txt").write_text("Patient called back on Tuesday.\n")
    _cut_in_patient_name(Path(get_testdata_file("CT_small.dcm")), root / "cut.dcm")
    shutil.copy(get_testdata_file("rtplan.dcm"), root / "plan.dcm")
    return root


def test_json_of_a_folder_is_what_pydicom_reads(disk, capsys):
    tree = index_json(capsys, disk)
    files = sorted(p for p in disk.rglob("*") if p.is_file())
    expected_series, others = pydicom_tree(files)

    found = {
        s["SeriesInstanceUID"]: (patient, study, s) for patient in tree["patients"] for study in patient["studies"] for s in study["series"]
    }
    assert set(found) == set(expected_series)
    for uid, members in expected_series.items():
        patient, study, series = found[uid]
        first = members[0][1]
        assert series["NumberOfSeriesRelatedInstances"] == len(members)
        assert series["images"] == sum(frames(ds) for _, ds in members)
        assert sorted((i["path"], i["SOPInstanceUID"], i["SOPClassUID"]) for i in series["instances"]) == sorted(
            (str(path), ds.SOPInstanceUID, ds.SOPClassUID) for path, ds in members
        )
        listed_frames = {i["path"]: i.get("NumberOfFrames", 1 if i["kind"] == "image series" else 0) for i in series["instances"]}
        assert listed_frames == {str(p): frames(ds) for p, ds in members}
        assert series["Modality"] == first.Modality
        assert series["SeriesNumber"] == str(first.get("SeriesNumber", ""))
        assert series["SeriesDescription"] == str(first.get("SeriesDescription", "")).strip()
        assert study["StudyInstanceUID"] == first.StudyInstanceUID
        assert study["StudyDate"] == first.get("StudyDate", "")
        assert study["AccessionNumber"] == str(first.get("AccessionNumber", "")).strip()
        assert patient["PatientID"] == str(first.get("PatientID", "")).strip()
        assert patient["PatientName"] == str(first.get("PatientName", "")).strip()
    # The two MR_small copies (one Implicit VR) are one series of two instances; the plan is a series of its own.
    assert sorted(len(members) for members in expected_series.values()) == [1, 1, 1, 1, 1, 2]
    assert {p["path"]: p["reason"] for p in tree["problems"]}.keys() == {str(p) for p in others}
    reasons = {Path(p["path"]).name: p["reason"] for p in tree["problems"]}
    assert reasons["notes.txt"] == "not a DICOM file"
    assert "truncated" in reasons["cut.dcm"]
    # The RT Plan holds no image: listed with its kind and SOP Class, not a problem (#16).
    plan = pydicom.dcmread(disk / "plan.dcm")
    _, _, plan_series = found[plan.SeriesInstanceUID]
    assert plan_series["kind"] == "other" and plan_series["images"] == 0
    assert [(i["SOPClassUID"], i["kind"]) for i in plan_series["instances"]] == [(plan.SOPClassUID, "other")]


def test_text_of_a_folder(disk, capsys):
    code, out, err = run_index(capsys, disk)
    assert code == 0 and err == ""
    lines = out.splitlines()
    expected_series, others = pydicom_tree(sorted(p for p in disk.rglob("*") if p.is_file()))
    for members in expected_series.values():
        ds = members[0][1]
        images = sum(frames(d) for _, d in members)
        counts = f"{len(members)} instance{'s' if len(members) > 1 else ''}, {images} image{'s' if images > 1 else ''}"
        head = " ".join(str(v) for v in (ds.Modality, ds.get("SeriesNumber", "")) if str(v))
        description = str(ds.get("SeriesDescription", "")).strip()
        label = "Series"
        if not images:  # an object without an image: its kind and SOP Class instead of "0 images" (#16)
            label, counts = "Other", f"1 instance ({ds.SOPClassUID.name.removesuffix(' Storage')})"
        expected = f"    {label} {head}: {description}: {counts}" if description else f"    {label} {head}: {counts}"
        assert expected in lines
        name = str(ds.get("PatientName", "")).strip()
        if name:
            assert any(line.startswith(name) for line in lines), name
    # After the tree: one line per file pydicom finds no image in, "  PATH: reason", in path order.
    problems = lines[lines.index("problems:") + 1 : -1]
    assert [line.split(": ", 1)[0] for line in problems] == [f"  {p}" for p in sorted(map(str, others))]
    assert f"  {disk / 'notes.txt'}: not a DICOM file" in problems
    instances = sum(len(m) for m in expected_series.values())
    images = sum(frames(ds) for m in expected_series.values() for _, ds in m)
    patients = {(str(m[0][1].get("PatientID", "")), str(m[0][1].get("PatientName", ""))) for m in expected_series.values()}
    studies = {m[0][1].StudyInstanceUID for m in expected_series.values()}
    assert lines[-1] == (
        f"{len(patients)} patients, {len(studies)} studies, {len(expected_series)} series, "
        f"{instances} instances ({images} images, 1 other object); {len(others)} problems"  # the plan
    )


DICOMDIR = Path(get_testdata_file("DICOMDIR"))


def pydicom_media() -> dict:
    """{series UID: [(SOP Instance UID, path, frames)]} of the DICOMDIR test set, by pydicom's FileSet."""
    series = defaultdict(list)
    for instance in FileSet(pydicom.dcmread(DICOMDIR)):
        ds = instance.load()
        series[ds.SeriesInstanceUID].append((ds.SOPInstanceUID, Path(instance.path).resolve(), frames(ds)))
    return series


@pytest.mark.parametrize("where", ["DICOMDIR", "media root"])
def test_media_are_indexed_from_their_dicomdir(where, capsys):
    tree = index_json(capsys, DICOMDIR if where == "DICOMDIR" else DICOMDIR.parent)
    expected = pydicom_media()
    found = {s["SeriesInstanceUID"]: s for p in tree["patients"] for st in p["studies"] for s in st["series"]}
    assert set(found) == set(expected)
    for uid, members in expected.items():
        series = found[uid]
        assert series["NumberOfSeriesRelatedInstances"] == len(members)
        assert series["images"] == sum(f for _, _, f in members)
        assert sorted((i["SOPInstanceUID"], Path(i["path"]).resolve()) for i in series["instances"]) == sorted(
            (u, p) for u, p, _ in members
        )
    assert tree["problems"] == []  # the media root's other DICOMDIRs and README are not scanned: the DICOMDIR says what is there
    patients = {p["PatientID"] for p in tree["patients"]}
    assert patients == {ds.PatientID for ds in (i.load() for i in FileSet(pydicom.dcmread(DICOMDIR)))}


@pytest.mark.parametrize("name", ["DICOMDIR-bigEnd", "DICOMDIR-implicit", "DICOMDIR-nooffset", "DICOMDIR-reordered", "DICOMDIR-nopatient"])
def test_dicomdir_variants_named_as_files(name, capsys):
    """pydicom's variants of the same DICOMDIR (README.txt beside them), opened by
    their own names: known as DICOMDIRs by their Media Storage SOP Class, whose
    UID (20 characters) has no NUL padding; the series are those of the original."""
    tree = index_json(capsys, DICOMDIR.with_name(name))
    found = {
        s["SeriesInstanceUID"]: sorted(i["SOPInstanceUID"] for i in s["instances"])
        for p in tree["patients"]
        for st in p["studies"]
        for s in st["series"]
    }
    assert found == {uid: sorted(u for u, _, _ in members) for uid, members in pydicom_media().items()}
    assert tree["problems"] == []


def test_media_with_missing_files(tmp_path, capsys):
    """A DICOMDIR copied without its files: every record listed, none openable, each a problem."""
    shutil.copy(DICOMDIR, tmp_path / "DICOMDIR")
    tree = index_json(capsys, tmp_path)
    records = sum(len(m) for m in pydicom_media().values())
    instances = [i for p in tree["patients"] for st in p["studies"] for s in st["series"] for i in s["instances"]]
    assert len(instances) == records
    assert all(i["path"] is None and i["problem"].startswith("missing on the media") for i in instances)
    assert len(tree["problems"]) == records
    assert all(p["path"] == str(tmp_path / "DICOMDIR") and p["reason"].startswith("missing on the media: ") for p in tree["problems"])
    code, out, _ = run_index(capsys, tmp_path)
    assert code == 0 and "(1 cannot be opened)" in out and out.splitlines()[-1].endswith(f"(0 images); {records} problems")


def test_one_image_file(capsys):
    path = get_testdata_file("emri_small.dcm")
    tree = index_json(capsys, path)
    (patient,) = tree["patients"]
    (instance,) = patient["studies"][0]["series"][0]["instances"]
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    assert instance == {
        "SOPInstanceUID": ds.SOPInstanceUID,
        "SOPClassUID": ds.SOPClassUID,
        "kind": "image series",
        "path": path,
        "NumberOfFrames": int(ds.NumberOfFrames),
    }


def test_folder_with_nothing_dicom(tmp_path, capsys):
    """Not the user's mistake: the folder is read, and the answer is 'nothing', said plainly."""
    (tmp_path / "notes.txt").write_text("no images here\n")
    code, out, err = run_index(capsys, tmp_path)
    assert code == 0 and err == ""
    assert out.splitlines() == [
        "problems:",
        f"  {tmp_path / 'notes.txt'}: not a DICOM file",
        f"no DICOM images found in {tmp_path} (1 file looked at); 1 problem",
    ]
    code, out, err = run_index(capsys, tmp_path, "--json")
    assert code == 0 and json.loads(out) == {
        "patients": [],
        "problems": [{"path": str(tmp_path / "notes.txt"), "reason": "not a DICOM file"}],
    }
    assert err.strip().splitlines() == [f"dicom-viewer: no DICOM images found in {tmp_path} (1 file looked at); 1 problem"]


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda tmp: tmp / "missing", "missing: no such file or folder"),
        (lambda tmp: _write(tmp / "a.txt", b"hello"), "a.txt: not a DICOM file"),
        (lambda tmp: _write(tmp / "cut.dcm", Path(get_testdata_file("CT_small.dcm")).read_bytes()[:100]), "cut.dcm: "),
        (lambda tmp: _write(tmp / "DICOMDIR", DICOMDIR.read_bytes()[:400]), "DICOMDIR: ends before the end of its directory records"),
    ],
    ids=["missing", "not-dicom", "cut-before-its-header", "broken-dicomdir"],
)
def test_unusable_path_exits_2_with_one_line(tmp_path, make, fragment):
    path = make(tmp_path)
    for extra in ([], ["--json"]):
        result = subprocess.run([sys.executable, "-m", "viewer", "index", str(path), *extra], capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("dicom-viewer: ") and fragment in lines[0] and "Traceback" not in result.stderr


def test_objects_without_an_image_are_listed_with_their_kind(tmp_path, capsys):
    """A report, an ECG and a plan named or found in a folder: each listed with its kind and SOP Class (#16)."""
    files = {"test-SR.dcm": "report", "waveform_ecg.dcm": "ECG", "rtplan.dcm": "other", "CT_small.dcm": "image series"}
    for name in files:
        shutil.copy(get_testdata_file(name), tmp_path / name)
    tree = index_json(capsys, tmp_path)
    listed = {
        Path(i["path"]).name: (s["kind"], i["SOPClassUID"])
        for p in tree["patients"]
        for st in p["studies"]
        for s in st["series"]
        for i in s["instances"]
    }
    assert listed == {name: (kind, pydicom.dcmread(tmp_path / name).SOPClassUID) for name, kind in files.items()}
    assert tree["problems"] == []
    code, out, _ = run_index(capsys, get_testdata_file("rtplan.dcm"))  # named alone: listed, not refused
    assert code == 0 and "    Other RTPLAN" in out and "(RT Plan)" in out
    code, out, _ = run_index(capsys, tmp_path)
    assert "    Report SR 1: Demonstration of SR Features: 1 instance (Comprehensive SR)" in out.splitlines()
    assert out.splitlines()[-1].endswith("(1 image, 3 other objects); 0 problems")


def test_index_process_imports_no_window_network_or_decoders(disk):
    """The command is the window's scan without the window: no Qt, no pyqtgraph, no
    pynetdicom, none of the viewer's pixel code and no decoder plugin (only the
    module that keeps pydicom's plugins waiting is there)."""
    code = (
        "import sys, io; from viewer.app import main; from viewer.core.display.pixels import plugins; "
        "out = sys.stdout; sys.stdout = io.StringIO(); "
        f"main(['index', {str(disk)!r}]); sys.stdout = out; "
        "print(sorted(m for m in plugins.imported_modules() if m.split('.')[0] in "
        "('PySide6', 'pyqtgraph', 'pynetdicom', 'gdcm', 'pylibjpeg', 'openjpeg', 'libjpeg', 'rle', 'PIL', 'jpeg_ls') "
        "or m in plugins.DEFERRED or m.startswith('viewer.ui') "
        "or m.startswith('viewer.core.display.pixels') and m not in ('viewer.core.display.pixels', 'viewer.core.display.pixels.plugins')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.skipif(not shutil.which("dcmmkdir"), reason="dcmtk's dcmmkdir writes the media")
def test_objects_on_media_are_listed_from_their_dicomdir_records(tmp_path, capsys):
    """A DICOMDIR made by dcmmkdir listing a CT image and a report: the report's record is a report (#16)."""
    (tmp_path / "IM").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "IM" / "CT1")
    shutil.copy(get_testdata_file("test-SR.dcm"), tmp_path / "IM" / "SR1")
    subprocess.run(["dcmmkdir", "+r", "-Pgp", "+I", "IM/CT1", "IM/SR1"], cwd=tmp_path, check=True, capture_output=True, timeout=60)
    tree = index_json(capsys, tmp_path)
    listed = {
        Path(i["path"]).name: (s["kind"], s["images"], i["SOPClassUID"])
        for p in tree["patients"]
        for st in p["studies"]
        for s in st["series"]
        for i in s["instances"]
    }
    assert listed == {
        "CT1": ("image series", 1, pydicom.dcmread(tmp_path / "IM" / "CT1").SOPClassUID),
        "SR1": ("report", 0, pydicom.dcmread(tmp_path / "IM" / "SR1").SOPClassUID),
    }
