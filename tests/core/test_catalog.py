"""The Patient > Study > Series catalog and the order of slices in a series.

Files are generated copies of pydicom's CT_small.dcm and MR_small.dcm with
the attributes each case is about; they are read back through
:func:`open_paths`, as the viewer reads a folder. Expected orders are
worked out by hand from the geometry the test writes (PS3.3 C.7.6.2.1.1:
the slice normal is the cross product of the row and column cosines).
"""

from __future__ import annotations

import math
import os
import random

import pytest
from pydicom.uid import generate_uid

from viewer.core.media.model import Catalog, slice_position, sort_instances
from viewer.core.media.sources import open_paths


def test_patients_sharing_an_id_stay_apart(tmp_path, make_instance):
    """Two hospitals gave the same Patient ID to two different people."""
    make_instance(
        tmp_path / "a" / "im1.dcm",
        PatientID="12345",
        PatientName="DOE^JOHN",
        IssuerOfPatientID="HOSP_A",
        InstitutionName="Hospital A",
        PatientBirthDate="19500101",
        StudyInstanceUID="1.2.826.0.1.3680043.9.7.1",
        SeriesInstanceUID="1.2.826.0.1.3680043.9.7.1.1",
    )
    make_instance(
        tmp_path / "b" / "im1.dcm",
        PatientID="12345",
        PatientName="SMITH^ANNA",
        IssuerOfPatientID="HOSP_B",
        InstitutionName="Hospital B",
        PatientBirthDate="19800505",
        StudyInstanceUID="1.2.826.0.1.3680043.9.7.2",
        SeriesInstanceUID="1.2.826.0.1.3680043.9.7.2.1",
    )
    catalog = open_paths([tmp_path]).catalog
    assert len(catalog.patients) == 2
    names = {}
    for patient in catalog.patients.values():
        assert len(patient.studies) == 1
        (study,) = patient.studies.values()
        names[str(patient.header.PatientName)] = (study.uid, str(study.header.InstitutionName))
    assert names == {
        "DOE^JOHN": ("1.2.826.0.1.3680043.9.7.1", "Hospital A"),
        "SMITH^ANNA": ("1.2.826.0.1.3680043.9.7.2", "Hospital B"),
    }
    assert set(catalog.studies) == {"1.2.826.0.1.3680043.9.7.1", "1.2.826.0.1.3680043.9.7.2"}


def test_priors_are_grouped_by_patient_id_and_issuer_newest_first(tmp_path, make_instance):
    """A patient's prior studies join the current one by (0010,0020) Patient ID and (0010,0021) Issuer of Patient ID
    (PS3.3 C.7.1.1), even with the name spelled another way; the same ID from another issuer is another patient."""
    studies = {  # folder: (issuer, name, study date, Study Instance UID)
        "current": ("HOSP_A", "DOE^JOHN", "20240312", "1.2.826.0.1.3680043.9.7.10"),
        "prior": ("HOSP_A", "Doe^John^^^", "20210105", "1.2.826.0.1.3680043.9.7.11"),
        "older": ("HOSP_A", "DOE^JOHN", "20190720", "1.2.826.0.1.3680043.9.7.12"),
        "elsewhere": ("HOSP_B", "DOE^JOHN", "20230101", "1.2.826.0.1.3680043.9.7.13"),
    }
    for folder, (issuer, name, date, study_uid) in studies.items():
        make_instance(
            tmp_path / folder / "im1.dcm",
            PatientID="12345",
            IssuerOfPatientID=issuer,
            PatientName=name,
            StudyDate=date,
            StudyInstanceUID=study_uid,
            SeriesInstanceUID=study_uid + ".1",
        )
    # The prior study is opened first: the order of the files does not decide the order shown.
    catalog = open_paths([tmp_path / "older", tmp_path / "prior", tmp_path / "elsewhere", tmp_path / "current"]).catalog
    assert len(catalog.patients) == 2
    by_issuer = {str(p.header.IssuerOfPatientID): p for p in catalog.patients.values()}
    assert [s.uid for s in by_issuer["HOSP_A"].studies_newest_first()] == [
        "1.2.826.0.1.3680043.9.7.10",
        "1.2.826.0.1.3680043.9.7.11",
        "1.2.826.0.1.3680043.9.7.12",
    ]
    assert [s.uid for s in by_issuer["HOSP_B"].studies_newest_first()] == ["1.2.826.0.1.3680043.9.7.13"]


def test_without_an_issuer_the_same_id_with_another_name_is_another_patient(tmp_path, make_instance):
    """No issuer: Patient ID is not unique across hospitals, so name and birth date keep two people apart."""
    for folder, name in (("a", "DOE^JOHN"), ("b", "SMITH^ANNA")):
        make_instance(
            tmp_path / folder / "im1.dcm",
            PatientID="12345",
            PatientName=name,
            StudyInstanceUID=generate_uid(),
            SeriesInstanceUID=generate_uid(),
        )
    assert len(open_paths([tmp_path]).catalog.patients) == 2


def test_same_files_twice_are_not_duplicated(tmp_path, make_instance):
    """A folder opened twice, again later, and through a link to it: each file counts once."""
    series_uid = generate_uid()
    for number in range(1, 4):
        make_instance(tmp_path / "scan" / f"im{number}.dcm", SeriesInstanceUID=series_uid, InstanceNumber=number)
    os.symlink(tmp_path / "scan", tmp_path / "same-scan")

    result = open_paths([tmp_path / "scan", tmp_path / "scan"])
    assert [len(series.instances) for series in result.series] == [3]

    catalog = result.catalog
    assert catalog.add(open_paths([tmp_path / "scan"]).catalog.series[series_uid].instances) == []
    assert catalog.add(open_paths([tmp_path / "same-scan"]).catalog.series[series_uid].instances) == []
    assert [len(series.images) for series in catalog.all_series()] == [3]
    assert len(catalog.patients) == len(catalog.studies) == 1


def test_media_records_twice_are_not_duplicated(sample):
    """Media read twice (records, not files, identify the instances then)."""
    media = sample("DICOMDIR").parent
    result = open_paths([media, media / "DICOMDIR"])
    assert result.progress.images_found == 2 * 31  # read twice ...
    assert sum(len(series.instances) for series in result.series) == 31  # ... held once


# --------------------------------------------------------------------------- slice order


def _oblique_series(folder, make_instance, shuffle_seed: int):
    """Five slices of an oblique stack; returns their depths along the normal, by file name.

    Rows run along x; columns are tilted 30 degrees out of the y axis towards -z, so
    the normal is (0, sin 30, cos 30). Each slice also slides along its column
    direction, by a different amount, so neither z, y, nor the instance number
    follows the true order.
    """
    angle = math.radians(30)
    row = (1.0, 0.0, 0.0)
    column = (0.0, math.cos(angle), -math.sin(angle))
    normal = (0.0, math.sin(angle), math.cos(angle))  # row x column, worked out by hand
    depths = [0.0, 5.0, 10.0, 15.0, 20.0]
    slides = [40.0, -30.0, 25.0, -45.0, 0.0]  # in-plane shifts along the column direction
    numbers = list(range(1, 6))
    random.Random(shuffle_seed).shuffle(numbers)
    series_uid = generate_uid()
    by_name = {}
    for depth, slide, number in zip(depths, slides, numbers):
        position = [depth * n + slide * c for n, c in zip(normal, column)]
        name = f"slice{number}.dcm"
        make_instance(
            folder / name,
            "MR_small.dcm",
            SeriesInstanceUID=series_uid,
            InstanceNumber=number,
            ImageOrientationPatient=[*row, *column],
            ImagePositionPatient=[round(v, 4) for v in position],
            SliceLocation=None,
        )
        by_name[name] = depth
    return series_uid, by_name


def test_oblique_series_sorted_along_the_normal(tmp_path, make_instance):
    series_uid, depth_of = _oblique_series(tmp_path, make_instance, shuffle_seed=3)
    series = open_paths([tmp_path]).catalog.series[series_uid]
    order = [ref.instance.path.name for ref in series.images]
    assert order == sorted(depth_of, key=depth_of.get)
    # What makes the case worth testing: the simple keys give other orders.
    headers = {inst.path.name: inst.header for inst in series.instances}
    by_number = sorted(headers, key=lambda name: int(headers[name].InstanceNumber))
    by_z = sorted(headers, key=lambda name: float(headers[name].ImagePositionPatient[2]))
    by_y = sorted(headers, key=lambda name: float(headers[name].ImagePositionPatient[1]))
    assert order != by_number and order != by_z and order != by_y
    # slice_position is the depth along the normal (up to the rounding of the written positions).
    for name, header in headers.items():
        assert slice_position(header) == pytest.approx(depth_of[name], abs=1e-3)


def test_falls_back_to_instance_number_without_positions(tmp_path, make_instance):
    series_uid = generate_uid()
    for number in (3, 1, 4, 2):
        make_instance(
            tmp_path / f"file{5 - number}.dcm",
            "MR_small.dcm",
            SeriesInstanceUID=series_uid,
            InstanceNumber=number,
            ImagePositionPatient=None,
        )
    series = open_paths([tmp_path]).catalog.series[series_uid]
    assert [int(ref.instance.header.InstanceNumber) for ref in series.images] == [1, 2, 3, 4]


def test_one_missing_position_falls_back_to_instance_number(tmp_path, make_instance):
    """Positions that would order the slices 4, 3, 2, 1 are not used when one slice lacks its own."""
    series_uid = generate_uid()
    for number in (1, 2, 3, 4):
        make_instance(
            tmp_path / f"im{number}.dcm",
            "MR_small.dcm",
            SeriesInstanceUID=series_uid,
            InstanceNumber=number,
            ImageOrientationPatient=[1, 0, 0, 0, 1, 0],
            ImagePositionPatient=None if number == 2 else [0, 0, -10.0 * number],
        )
    instances = open_paths([tmp_path]).catalog.series[series_uid].instances
    assert [inst.instance_number for inst in sort_instances(list(reversed(instances)))] == [1, 2, 3, 4]


def test_catalog_add_reports_changed_series(tmp_path, make_instance):
    first, second = generate_uid(), generate_uid()
    make_instance(tmp_path / "a.dcm", SeriesInstanceUID=first)
    make_instance(tmp_path / "b.dcm", SeriesInstanceUID=second)
    instances = [inst for s in open_paths([tmp_path]).series for inst in s.instances]
    catalog = Catalog()
    assert {s.uid for s in catalog.add(instances[:1])} == {instances[0].header.SeriesInstanceUID}
    assert {s.uid for s in catalog.add(instances)} == {instances[1].header.SeriesInstanceUID}
