"""Patients, studies, series and instances, and the order of slices in a series.

A :class:`Catalog` holds what has been opened (folders, media, files) as a
Patient > Study > Series tree. Studies are keyed by Study Instance UID, so
two patients who happen to share a Patient ID (different hospitals) never
end up in one study. A :class:`Series` is what the rendering pane scrolls
through: its instances sorted along the slice normal, each contributing one
image per frame. Only headers are held here; pixel data is read by
:mod:`viewer.core.display.frames`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from viewer.core.dicom.compact import CompactHeader
from viewer.core.dicom.header import RawHeader
from viewer.core.dicom.sop_classes import IMAGE_SERIES, SHOWN_AS_IMAGES, object_kind
from viewer.core.media.first_record import slice_normal
from viewer.core.runtime.wording import count

if TYPE_CHECKING:
    from viewer.core.dicom.charset import CharsetOverrides


def text(ds: Dataset, keyword: str, path: Path | None = None, overrides: CharsetOverrides | None = None) -> str:
    """An attribute as display text ('' when absent or unreadable).

    Text VRs go through :mod:`viewer.core.dicom.charset` (declared set, guesses
    for suspect bytes, the user's character-set `overrides`); others through pydicom.
    """
    from viewer.core.dicom.charset import header_text

    try:
        return header_text(ds, keyword, str(path) if path else None, overrides)
    except Exception:  # a malformed value must not break a listing
        return ""


class Instance:
    """One DICOM file: an image, or an object listed with its :attr:`kind` (a report, key images,
    a presentation state, an ECG, a PDF...: ``frames`` is 0, it has no image to scroll to).

    What sorting, grouping and listing need (UIDs, instance number,
    position and orientation) is read once here, from the raw values; the
    indexing attributes are kept packed (:mod:`viewer.core.dicom.compact`) and
    :attr:`header` rebuilds them on demand, so a catalog of 100,000 files
    stays around 100 MB, not 2 GB. ``header`` may be a pydicom dataset or
    the scan's :class:`~viewer.core.dicom.header.RawHeader`.
    ``problem`` is set (and ``path`` may be None) for media records whose
    file is missing or refused; ``warning`` for an executable preamble.
    """

    __slots__ = (
        "_path",
        "frames",
        "problem",
        "warning",
        "series_uid",
        "study_uid",
        "sop_instance_uid",
        "sop_class_uid",
        "instance_number",
        "position",
        "orientation",
        "kind",
        "_compact",
    )

    def __init__(
        self, path: Path | None, header: Dataset | RawHeader, frames: int = 1, problem: str = "", warning: str = "", kind: str = ""
    ):
        raw = header if isinstance(header, RawHeader) else RawHeader.from_dataset(header)
        # The path as text: a Path object per file costs about 300 bytes more, and the catalog
        # reuses this very string as the file's identity (Catalog._real_path).
        self._path = None if path is None else os.fspath(path)
        self.frames = frames
        self.problem = problem
        self.warning = warning
        # Interned: thousands of instances share a few series, study and class UIDs.
        self.series_uid = sys.intern(raw.uid(0x0020000E))
        self.study_uid = sys.intern(raw.uid(0x0020000D))
        self.sop_instance_uid = raw.uid(0x00080018)
        self.sop_class_uid = sys.intern(raw.uid(0x00080016))
        self.kind = kind or object_kind(self.sop_class_uid, frames > 0)
        numbers = raw.numbers(0x00200013)
        try:
            self.instance_number = int(numbers[0]) if numbers else None
        except (OverflowError, ValueError):  # 'inf', 'nan'
            self.instance_number = None
        self.orientation, normal = _orientation(raw)
        position = raw.numbers(0x00200032) if normal is not None else None
        self.position = _along(position, normal)
        self._compact = CompactHeader(raw, self.sop_instance_uid)  # the UID kept once, as text

    @property
    def path(self) -> Path | None:
        """The file (None for a media record whose file is missing or refused)."""
        return None if self._path is None else Path(self._path)

    @property
    def file_name(self) -> str:
        """The file's name ('' without a file): what sorting breaks ties with."""
        return "" if self._path is None else os.path.basename(self._path)

    @property
    def header(self) -> Dataset:
        """The indexing attributes as a dataset of raw elements (rebuilt on each call)."""
        return self._compact.dataset(self.sop_instance_uid)

    def display_header(self) -> Dataset | None:
        """What showing this file's single frame reads, kept from the scan's walk of the file (see
        :meth:`CompactHeader.display_dataset`); None when not kept: the file's header is read then."""
        return self._compact.display_dataset(self._path, self.sop_instance_uid) if self._path is not None else None

    def encoded_header(self) -> tuple[bytes, bytes, str] | None:
        """The scan's indexing elements and File Meta elements as the file encodes them, and its preamble
        warning; only for a file in Explicit VR Little Endian with a meta group (whose elements are then the
        file's own bytes), else None (a DICOMDIR record's attributes, another encoding: read the file)."""
        compact = self._compact
        if self._path is None or compact.encoding != (False, True) or not compact.meta:
            return None
        blob, meta = compact.encoded(self.sop_instance_uid)
        return blob, meta, compact.preamble_warning

    @property
    def available(self) -> bool:
        return self._path is not None and not self.problem

    def __repr__(self) -> str:
        return f"Instance({self._path}, frames={self.frames})"


@dataclass(frozen=True)
class ImageRef:
    """One displayable image of a series: a frame of an instance (0-based)."""

    instance: Instance
    frame: int = 0


@dataclass(eq=False)
class Series:
    """The instances of one Series Instance UID, in slice order."""

    uid: str
    instances: list[Instance] = field(default_factory=list)
    _sorted: bool = True
    #: (first instance, its header): one dataset per series, made again only when another instance comes first.
    _first_header: tuple[Instance, Dataset] | None = field(default=None, repr=False)

    @property
    def header(self) -> Dataset:
        """The first instance's indexing attributes (what the browser's row, label and modality read)."""
        first = self.instances[0]
        if self._first_header is None or self._first_header[0] is not first:
            self._first_header = (first, first.header)
        return self._first_header[1]

    @property
    def description(self) -> str:
        return text(self.header, "SeriesDescription")

    @property
    def kind(self) -> str:
        """What the series holds (:data:`~viewer.core.dicom.sop_classes.OBJECT_KINDS`): its first
        instance's kind; a series mixing images and other objects is an image series."""
        kinds = {inst.kind for inst in self.instances}
        if len(kinds) == 1:
            return next(iter(kinds))
        return IMAGE_SERIES if kinds & SHOWN_AS_IMAGES else self.instances[0].kind

    @property
    def shows_images(self) -> bool:
        """Whether the series opens in a viewport (images, video) rather than in a view of its own."""
        return self.kind in SHOWN_AS_IMAGES

    @property
    def modality(self) -> str:
        return text(self.header, "Modality")

    @property
    def number(self) -> str:
        return text(self.header, "SeriesNumber")

    def add(self, instance: Instance) -> None:
        self.instances.append(instance)
        self._sorted = False

    def frames_found(self, instance: Instance, frames: int) -> bool:
        """The file of `instance` holds `frames` frames, whatever its record said (a media
        record need not say): True when the images of the series changed."""
        if instance.frames == frames or instance not in self.instances:
            return False
        instance.frames = frames
        return instance.available

    def sort(self) -> None:
        if not self._sorted:
            self.instances = sort_instances(self.instances)
            self._sorted = True

    @property
    def images(self) -> list[ImageRef]:
        """Every frame of every available instance, in slice order."""
        self.sort()
        return [ImageRef(inst, f) for inst in self.instances if inst.available for f in range(inst.frames)]

    @property
    def image_count(self) -> int:
        return sum(inst.frames for inst in self.instances if inst.available)

    @property
    def warnings(self) -> list[str]:
        return [f"{inst.path.name if inst.path else '?'}: {inst.warning}" for inst in self.instances if inst.warning]

    @property
    def missing_count(self) -> int:
        return sum(1 for inst in self.instances if not inst.available)

    def label(self) -> str:
        """'CT 3: Head 1.0 (120 images)' for menus and lists."""
        prefix = " ".join(part for part in (self.modality, self.number) if part)
        images = self.image_count
        first = self.instances[0].path
        description = self.description or (first.name if first else "")
        text_ = f"{prefix}: {description}" if prefix else description
        return f"{text_} ({count(images, 'image')})"


@dataclass(eq=False)
class Study:
    """The series of one Study Instance UID."""

    uid: str
    header: Dataset
    series: dict[str, Series] = field(default_factory=dict)


@dataclass(eq=False)
class Patient:
    """Studies of one patient (see :func:`patient_key`): the current study and its priors."""

    key: tuple[str, ...]
    header: Dataset
    studies: dict[str, Study] = field(default_factory=dict)

    def studies_newest_first(self) -> list[Study]:
        """The patient's studies, the newest first, by (0008,0020) *Study Date* and (0008,0030) *Study Time*
        (studies with neither come last, in the order they were found)."""

        def when(study: Study) -> str:
            return text(study.header, "StudyDate") + text(study.header, "StudyTime")

        dated = sorted((s for s in self.studies.values() if when(s)), key=when, reverse=True)
        return dated + [s for s in self.studies.values() if not when(s)]


def series_within(chosen: Iterable[Patient | Study | Series]) -> list[Series]:
    """The series a user's choice holds (patients and studies stand for all their series), each once,
    in the order chosen: what "Send to", "De-identify", "Export" and "Write media" act on."""
    found: dict[int, Series] = {}
    for item in chosen:
        if isinstance(item, Patient):
            parts = [s for study in item.studies_newest_first() for s in study.series.values()]
        elif isinstance(item, Study):
            parts = list(item.series.values())
        else:
            parts = [item]
        for series in parts:
            found.setdefault(id(series), series)
    return list(found.values())


def instances_within(chosen: Iterable[Patient | Study | Series]) -> list[Instance]:
    """The instances of :func:`series_within`, the files of each series in slice order, each file once."""
    seen: set[int] = set()
    return [i for s in series_within(chosen) for i in s.instances if id(i) not in seen and not seen.add(id(i))]


def patient_key(header: Dataset) -> tuple[str, ...]:
    """Which patient a header's study belongs to: the studies of one key are one patient's, priors included.

    (0010,0020) *Patient ID* is unique only within the namespace of its
    (0010,0021) *Issuer of Patient ID* (PS3.3 C.7.1.1): with an issuer, ID
    and issuer name the patient (a name spelled another way in a prior
    study is still the same patient). Without one, Patient ID alone is not
    unique across hospitals, so (0010,0010) *Patient's Name* and
    (0010,0030) *Patient's Birth Date* join it.
    """
    patient_id, issuer = text(header, "PatientID"), text(header, "IssuerOfPatientID")
    if patient_id and issuer:
        return (patient_id, "", "", issuer)
    return (patient_id, text(header, "PatientName").upper(), text(header, "PatientBirthDate"), issuer)


class Catalog:
    """Everything opened so far, as a Patient > Study > Series tree.

    :meth:`add` takes instances as they arrive (from a scan, media or
    files), ignores files already present, and returns the series that changed.
    """

    def __init__(self) -> None:
        self.patients: dict[tuple[str, ...], Patient] = {}
        self.studies: dict[str, Study] = {}
        self.series: dict[str, Series] = {}
        self._study_of_series: dict[str, Study] = {}
        self._patient_of_study: dict[str, Patient] = {}
        self._known: set[str] = set()
        self._real_folders: dict[str, str] = {}

    def add(self, instances: Iterable[Instance]) -> list[Series]:
        changed: dict[str, Series] = {}
        for inst in instances:
            series_uid = _series_key(inst)
            # The same file met twice (a folder opened again, media and a scan
            # of it) is one instance; two files with the same SOP Instance UID
            # are both kept: one may be broken and the other good.
            identity = self._real_path(inst._path) if inst._path is not None else f"record:{series_uid}:{inst.sop_instance_uid}"
            if identity in self._known:
                continue
            self._known.add(identity)
            series = self.series.get(series_uid)
            if series is None:
                header = inst.header
                study_uid = inst.study_uid or f"no-study:{series_uid}"
                study = self.studies.get(study_uid)
                if study is None:
                    key = patient_key(header)
                    patient = self.patients.get(key)
                    if patient is None:
                        patient = self.patients[key] = Patient(key, header)
                    study = self.studies[study_uid] = Study(study_uid, header)
                    patient.studies[study_uid] = study
                    self._patient_of_study[study_uid] = patient
                series = self.series[series_uid] = Series(series_uid)
                study.series[series_uid] = series
                self._study_of_series[series_uid] = study
            series.add(inst)
            changed[series_uid] = series
        return list(changed.values())

    def _real_path(self, path: str) -> str:
        """The file's real path; each folder is resolved once (links to folders count).

        `path` itself when its folder is real already: the instance's own string, no copy kept.
        """
        folder, name = os.path.split(path)  # strings: cheaper than Path.parent per file
        real = self._real_folders.get(folder)
        if real is None:
            real = self._real_folders[folder] = os.path.realpath(folder or os.curdir)
        return path if real == folder else os.path.join(real, name)

    def all_series(self) -> list[Series]:
        return [s for p in self.patients.values() for st in p.studies.values() for s in st.series.values()]

    def series_of(self, instance: Instance) -> Series | None:
        """The series `instance` was added to."""
        return self.series.get(_series_key(instance))

    def study_of(self, series: Series) -> Study | None:
        return self._study_of_series.get(series.uid)

    def patient_of(self, study: Study) -> Patient | None:
        return self._patient_of_study.get(study.uid)

    def clear(self) -> None:
        self.__init__()


def _series_key(instance: Instance) -> str:
    return instance.series_uid or f"no-series:{instance._path}"


def raw_numbers(ds: Dataset, tag: int) -> list[float] | None:
    """A DS/IS value as numbers, parsed from its raw bytes when still raw.

    Cheaper than pydicom's conversion for the few numbers sorting needs
    (instance number, position, orientation) over thousands of headers;
    None when absent, empty or not numbers.
    """
    if tag not in ds:
        return None
    value = ds.get_item(tag).value
    try:
        if isinstance(value, bytes):
            parts = value.decode("ascii").strip("\x00 ").split("\\")
            return [float(p) for p in parts] if parts != [""] else None
        if value is None or value == "":
            return None
        if isinstance(value, (list, tuple)) or hasattr(value, "__len__") and not isinstance(value, str):
            return [float(v) for v in value]
        return [float(value)]
    except (TypeError, ValueError, UnicodeDecodeError):
        return None


def uid_text(ds: Dataset, tag: int) -> str:
    """A UI value straight from its raw bytes (UIDs are plain ASCII, PS3.5 9.1)."""
    if tag not in ds:
        return ""
    value = ds.get_item(tag).value
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").strip("\x00 ")
    return "" if value is None else str(value).strip()


def slice_position(header: Dataset) -> float | None:
    """Position along the slice normal: IPP . (row x column cosines).

    (0020,0032) *Image Position (Patient)* projected on the normal of
    (0020,0037) *Image Orientation (Patient)* (PS3.3 C.7.6.2.1.1); None when
    either is missing or malformed.
    """
    return _along(raw_numbers(header, 0x00200032), slice_normal(raw_numbers(header, 0x00200037)))


def _along(position: list[float] | None, normal: tuple[float, float, float] | None) -> float | None:
    if not position or normal is None or len(position) != 3:
        return None
    return float(position[0] * normal[0] + position[1] * normal[1] + position[2] * normal[2])


#: (0020,0037) as encoded -> (rounded orientation, slice normal): the slices
#: of a series share one orientation, so it is parsed once per series.
_ORIENTATIONS: dict[bytes, tuple[tuple[float, ...], tuple[float, float, float] | None]] = {}


def _orientation(raw: RawHeader) -> tuple[tuple[float, ...], tuple[float, float, float] | None]:
    element = raw.elements.get(0x00200037)
    if element is None:
        return (), None
    known = _ORIENTATIONS.get(element)
    if known is None:
        values = raw.numbers(0x00200037)
        if len(_ORIENTATIONS) > 10_000:
            _ORIENTATIONS.clear()  # bounded: odd data may give every file its own
        known = _ORIENTATIONS[element] = (tuple(round(v, 3) for v in values or ()), slice_normal(values))
    return known


def sort_instances(instances: list[Instance]) -> list[Instance]:
    """Instances in slice order.

    By position along the slice normal when every instance has one and the
    orientations agree; otherwise by (0020,0013) *Instance Number*; file
    name breaks ties so the order never depends on the file system.
    """

    def number(inst: Instance) -> int:
        n = inst.instance_number
        return n if n is not None else 1 << 31

    def name(inst: Instance) -> str:
        return inst.file_name

    positions = [inst.position for inst in instances]
    orientations = {inst.orientation for inst in instances}
    if instances and None not in positions and len(orientations) == 1 and len(set(positions)) > 1:
        keyed = zip(positions, instances)
        return [inst for _, inst in sorted(keyed, key=lambda pi: (pi[0], number(pi[1]), name(pi[1])))]
    return sorted(instances, key=lambda inst: (number(inst), name(inst)))


def group_series(instances: Iterable[Instance]) -> list[Series]:
    """Instances grouped by series, each sorted, in the order first met."""
    catalog = Catalog()
    catalog.add(instances)
    result = catalog.all_series()
    for series in result:
        series.sort()
    return result
