"""What ``dicom-viewer index PATH`` prints: the window's catalog as a tree.

:func:`index_tree` turns what :func:`viewer.core.media.sources.open_paths` found
(the window's own scan: folders, media roots, DICOMDIRs) into plain data,
Patient > Study > Series > Instance, with the problem files; :func:`tree_text`
writes that data as an indented listing. Attributes are keyed by their DICOM
keyword (PS3.6) and hold the text the browser shows: values decoded with the
file's character set, the user's overrides and guesses applied
(:func:`viewer.core.media.model.text`), '' when absent. Lower-case keys are the
index's own: ``studies``, ``series``, ``instances``, ``images`` (frames of
the instances that can be opened), ``path``, ``problem``, ``kind`` (what a
series or an instance is: image series, report, key images, presentation
state, video, ECG, PDF, other: :data:`~viewer.core.dicom.sop_classes.OBJECT_KINDS`).
Objects without an image (reports, presentation states...) are listed as
series of their kind with their SOPClassUID, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.uid import UID

from viewer.core.dicom.io import Problem
from viewer.core.dicom.sop_classes import IMAGE_SERIES
from viewer.core.media.model import Catalog, Instance, Patient, Series, Study, text

#: Attributes listed per level; all are among the indexing attributes
#: (viewer.core.dicom.header.INDEX_KEYWORDS) that every instance keeps.
PATIENT_KEYWORDS = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex")
STUDY_KEYWORDS = ("StudyInstanceUID", "StudyDate", "StudyTime", "StudyDescription", "AccessionNumber", "StudyID", "ReferringPhysicianName")
SERIES_KEYWORDS = ("SeriesInstanceUID", "Modality", "SeriesNumber", "SeriesDescription", "SeriesDate", "SeriesTime", "BodyPartExamined")


def index_tree(catalog: Catalog, problems: Iterable[Problem]) -> dict:
    """The catalog as ``{"patients": [...], "problems": [{"path", "reason"}]}``.

    Per study and series the counts of PS3.4 C.3 (*Number of Study Related
    Series/Instances*, *Number of Series Related Instances*) and
    *Modalities in Study* are those of what was found, not read from the files.
    Series' instances are in slice order (as the viewer scrolls them);
    problems in the order of their paths.
    """
    problems = sorted(problems, key=lambda p: ("" if p.path is None else str(p.path), p.reason))
    return {
        "patients": [_patient(patient) for patient in catalog.patients.values()],
        "problems": [{"path": str(p.path) if p.path is not None else None, "reason": p.reason} for p in problems],
    }


def _attributes(instance: Instance, keywords: tuple[str, ...]) -> dict:
    header = instance.header  # rebuilt from the compact form: once per level, not per keyword
    return {keyword: text(header, keyword, instance.path) for keyword in keywords}


def _patient(patient: Patient) -> dict:
    studies = [_study(study) for study in patient.studies.values()]
    first = next(iter(next(iter(patient.studies.values())).series.values())).instances[0]
    return {**_attributes(first, PATIENT_KEYWORDS), "NumberOfPatientRelatedStudies": len(studies), "studies": studies}


def _study(study: Study) -> dict:
    series = [_series(s) for s in study.series.values()]
    first = next(iter(study.series.values())).instances[0]
    modalities = sorted({s["Modality"] for s in series if s["Modality"]})
    return {
        **_attributes(first, STUDY_KEYWORDS),
        "ModalitiesInStudy": "\\".join(modalities),
        "NumberOfStudyRelatedSeries": len(series),
        "NumberOfStudyRelatedInstances": sum(s["NumberOfSeriesRelatedInstances"] for s in series),
        "series": series,
    }


def _series(series: Series) -> dict:
    series.sort()
    return {
        **_attributes(series.instances[0], SERIES_KEYWORDS),
        "kind": series.kind,
        "NumberOfSeriesRelatedInstances": len(series.instances),
        "images": series.image_count,
        "instances": [_instance(instance) for instance in series.instances],
    }


def _instance(instance: Instance) -> dict:
    entry = {
        "SOPInstanceUID": instance.sop_instance_uid,
        "SOPClassUID": instance.sop_class_uid,
        "kind": instance.kind,
        "path": str(instance.path) if instance.path is not None else None,
    }
    if instance.frames > 1:
        entry["NumberOfFrames"] = instance.frames
    if instance.problem:
        entry["problem"] = instance.problem  # a media record whose file cannot be opened
    return entry


# ----------------------------------------------------------------------------- text


def tree_text(tree: dict, where: str = "", files_seen: int | None = None) -> list[str]:
    """:func:`index_tree`'s data as indented lines: patients, their studies,
    their series with counts, then the problem files, then :func:`summary`."""
    lines = []
    for patient in tree["patients"]:
        lines.append(
            _line(
                patient["PatientName"] or "(no name)",
                ("ID", patient["PatientID"]),
                ("issuer", patient["IssuerOfPatientID"]),
                ("born", _date(patient["PatientBirthDate"])),
                ("sex", patient["PatientSex"]),
            )
        )
        for study in patient["studies"]:
            when = " ".join(part for part in (_date(study["StudyDate"]), _time(study["StudyTime"])) if part)
            lines.append(
                "  "
                + _line(
                    f"Study {when or '(no date)'}",
                    ("", study["StudyDescription"]),
                    ("accession", study["AccessionNumber"]),
                    ("ID", study["StudyID"]),
                )
            )
            for series in study["series"]:
                lines.append("    " + _series_line(series))
    problems = tree["problems"]
    if problems:
        lines.append("problems:")
        lines += [f"  {p['path']}: {p['reason']}" if p["path"] else f"  {p['reason']}" for p in problems]
    lines.append(summary(tree, where, files_seen))
    return lines


def _series_line(series: dict) -> str:
    head = " ".join(part for part in (series["Modality"], series["SeriesNumber"]) if part)
    description = series["SeriesDescription"]
    count, images = series["NumberOfSeriesRelatedInstances"], series["images"]
    kind = series.get("kind", IMAGE_SERIES)
    if kind == IMAGE_SERIES or images:
        counts = f"{_count(count, 'instance')}, {_count(images, 'image')}"
    else:  # a report, key images, a presentation state...: its class, not "0 images"
        classes = dict.fromkeys(_class_name(i["SOPClassUID"]) for i in series["instances"])
        counts = f"{_count(count, 'instance')} ({', '.join(c for c in classes if c)})"
    missing = sum(1 for instance in series["instances"] if instance["path"] is None or "problem" in instance)
    if missing:
        counts += f" ({missing} cannot be opened)"
    label = "Series" if kind == IMAGE_SERIES else kind[:1].upper() + kind[1:]
    label = f"{label} {head}" if head else label
    return f"{label}: {description}: {counts}" if description else f"{label}: {counts}"


def _class_name(uid: str) -> str:
    """A SOP Class's name without "Storage" ('Comprehensive SR'), else its UID."""
    return UID(uid).name.removesuffix(" Storage") if uid else ""


def summary(tree: dict, where: str = "", files_seen: int | None = None) -> str:
    """One line: how many of each level, images and problem files; or that
    nothing was found (`where`: the path, `files_seen`: files looked at)."""
    patients = tree["patients"]
    studies = [study for patient in patients for study in patient["studies"]]
    series = [s for study in studies for s in study["series"]]
    instances = sum(s["NumberOfSeriesRelatedInstances"] for s in series)
    images = sum(s["images"] for s in series)
    objects = sum(s["NumberOfSeriesRelatedInstances"] for s in series if not s["images"] and s.get("kind", IMAGE_SERIES) != IMAGE_SERIES)
    problems = _count(len(tree["problems"]), "problem")
    if not series:
        looked = f" ({_count(files_seen, 'file')} looked at)" if files_seen is not None else ""
        return f"no DICOM images found{' in ' + where if where else ''}{looked}; {problems}"
    return (
        f"{_count(len(patients), 'patient')}, {_count(len(studies), 'study', 'studies')}, {_count(len(series), 'series', 'series')}, "
        f"{_count(instances, 'instance')} ({_count(images, 'image')}"
        + (f", {_count(objects, 'other object')}" if objects else "")
        + f"); {problems}"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def _line(head: str, *fields: tuple[str, str]) -> str:
    return "  ".join([head] + [f"{name} {value}" if name else value for name, value in fields if value])


def _date(da: str) -> str:
    """YYYYMMDD (PS3.5 6.2 DA) as YYYY-MM-DD; anything else as it is."""
    return f"{da[:4]}-{da[4:6]}-{da[6:]}" if len(da) == 8 and da.isdigit() else da


def _time(tm: str) -> str:
    """HHMMSS.FFFFFF (PS3.5 6.2 TM) as HH:MM:SS, or as much of it as is there."""
    digits = tm.split(".")[0]
    if not digits.isdigit() or len(digits) % 2:
        return tm
    return ":".join(digits[i : i + 2] for i in range(0, min(len(digits), 6), 2))
