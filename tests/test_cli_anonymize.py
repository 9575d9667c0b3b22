"""``dicom-viewer anonymize``: exit 0 with copies written, 2 with a one-line reason."""

from __future__ import annotations

import pydicom
import pytest

from tests.core.deid_corpus import PLANTED, write_corpus
from viewer.app import main


def test_anonymize_a_folder_with_a_key(tmp_path, capsys):
    write_corpus(tmp_path / "src")
    key = tmp_path / "run.key"
    argv = ["anonymize", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--shift-days", "-1", "--key", str(key)]
    assert main(argv + ["--patient-id", "TRIAL-7", "--patient-name", "Trial^Seven", "--serial"]) == 0
    assert "2 files written" in capsys.readouterr().out
    copies = sorted((tmp_path / "out").rglob("*.dcm"))
    assert len(copies) == 2 and key.exists()
    ds = pydicom.dcmread(copies[0])
    assert (ds.PatientID, str(ds.PatientName), ds.StudyDate) == ("TRIAL-7", "Trial^Seven", "20110816")
    assert all(part.startswith("2.25.") for part in copies[0].relative_to(tmp_path / "out").with_suffix("").parts)
    # The same key, a second run: the same file names (the same new UIDs); in worker processes this time.
    assert main(["anonymize", str(tmp_path / "src"), "-o", str(tmp_path / "again"), "--shift-days", "-1", "--key", str(key)]) == 0
    assert [p.relative_to(tmp_path / "again") for p in sorted((tmp_path / "again").rglob("*.dcm"))] == [
        p.relative_to(tmp_path / "out") for p in copies
    ]


def test_keep_uids_and_options(tmp_path):
    write_corpus(tmp_path / "src")
    assert main(["anonymize", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--keep-uids", "--keep-dates", "--serial"]) == 0
    ds = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert ds.StudyDate == PLANTED["DA Study Date"] and ds.StudyInstanceUID.startswith("1.2.826.0.1.3680043.8.498.")
    assert [i.CodeValue for i in ds.DeidentificationMethodCodeSequence] == ["113100", "113106", "113110"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{src}", "-o", "{src}"], "source folder"),
        (["{tmp}/missing", "-o", "{tmp}/out"], "missing"),
        (["{src}", "-o", "{tmp}/out", "--blackout", "0", "0", "0", "5"], "--blackout"),
        (["{src}", "-o", "{tmp}/out", "--key", "{src}/leak0.dcm"], "key file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, args, message):
    write_corpus(tmp_path / "src")
    argv = [a.format(src=tmp_path / "src", tmp=tmp_path) for a in args]
    assert main(["anonymize", *argv, "--serial"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and message in err[0] and "Traceback" not in "".join(err)


def test_many_files_in_worker_processes_keep_one_series(tmp_path):
    """More files than one chunk: spread over forked workers (where the test process has no threads), every
    copy still in one new study and series, each its own new SOP Instance UID."""
    from pydicom.data import get_testdata_file

    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    (tmp_path / "src").mkdir()
    for index in range(120):
        source.SOPInstanceUID = source.file_meta.MediaStorageSOPInstanceUID = f"1.2.826.0.1.3680043.8.498.99.{index + 1}"
        source.save_as(tmp_path / "src" / f"ct{index}.dcm")
    assert main(["anonymize", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "--key", str(tmp_path / "k")]) == 0
    copies = list((tmp_path / "out").rglob("*.dcm"))
    assert len(copies) == 120 and len({p.parent for p in copies}) == 1
    assert len({p.name for p in copies}) == 120
    assert len(pydicom.uid.UID(pydicom.dcmread(copies[0]).SOPInstanceUID)) <= 64
    import json

    assert len(json.loads((tmp_path / "k").read_text())["uids"]) >= 120 + 3  # instances, study, series, frame of reference


def test_clean_graphics_keeps_the_annotations_without_the_patients_name(tmp_path):
    """--clean-graphics (PS3.15 E.3.3, Table E.1-1 column "Clean Graph."): a presentation state's Graphic Annotation
    Sequence keeps its text with the patient's name taken out; without it, the text is replaced by a dummy."""
    import sys
    from pathlib import Path

    from pydicom.data import get_testdata_file

    sys.path.insert(0, str(Path(__file__).resolve().parent / "core"))
    from pstate_files import annotation, make_state, text

    image = pydicom.dcmread(get_testdata_file("CT_small.dcm"), stop_before_pixels=True)
    family = str(image.PatientName).split("^")[0]
    assert len(family) > 2
    state = make_state(image, annotations=[annotation(texts=[text(f"nodule seen by {family} in 2019", box=(10, 10, 60, 20))])])
    source = tmp_path / "in"
    source.mkdir()
    state.save_as(source / "pr.dcm", enforce_file_format=True)

    def note(*flags) -> str:
        out = tmp_path / ("out" + "".join(flags))
        assert main(["anonymize", str(source), "-o", str(out), "--serial", *flags]) == 0
        (copy,) = out.rglob("*.dcm")
        return pydicom.dcmread(copy).GraphicAnnotationSequence[0].TextObjectSequence[0].UnformattedTextValue

    cleaned = note("--clean-graphics")
    assert "nodule seen by" in cleaned and "in 2019" in cleaned and family.upper() not in cleaned.upper()
    assert "nodule" not in note()
