"""Series and instances, and the order of slices within a series.

A :class:`Series` is what the rendering pane scrolls through: its instances
sorted along the slice normal, each contributing one image per frame.
Only headers are held here; pixel data is read by :mod:`viewer.core.frames`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicomdir import find_dicomdir, read_dicomdir
from viewer.core.io import ViewerError, read_header, sop_class_name
from viewer.core.pixels.decoders import number_of_frames

#: Media Storage Directory Storage: a DICOMDIR, never an image (PS3.10 8.6).
MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"


@dataclass
class Instance:
    """One DICOM file that holds an image: its path and its header."""

    path: Path
    header: Dataset
    frames: int = 1

    @property
    def sop_instance_uid(self) -> str:
        return str(self.header.get("SOPInstanceUID", ""))

    @property
    def instance_number(self) -> int | None:
        try:
            return int(self.header.get("InstanceNumber"))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class ImageRef:
    """One displayable image of a series: a frame of an instance (0-based)."""

    instance: Instance
    frame: int = 0


@dataclass
class Series:
    """The instances of one Series Instance UID, in slice order."""

    uid: str
    instances: list[Instance] = field(default_factory=list)

    @property
    def header(self) -> Dataset:
        return self.instances[0].header

    @property
    def description(self) -> str:
        return str(self.header.get("SeriesDescription", "") or "")

    @property
    def modality(self) -> str:
        return str(self.header.get("Modality", "") or "")

    @property
    def images(self) -> list[ImageRef]:
        return [ImageRef(inst, f) for inst in self.instances for f in range(inst.frames)]

    def label(self) -> str:
        """'CT 3: Head 1.0 (120 images)' for menus and lists."""
        number = self.header.get("SeriesNumber", "")
        text = " ".join(str(part) for part in (self.modality, number) if part not in (None, ""))
        count = sum(inst.frames for inst in self.instances)
        description = self.description or self.instances[0].path.name
        return f"{text}: {description} ({count} image{'s' if count != 1 else ''})".lstrip(": ")


def slice_position(header: Dataset) -> float | None:
    """Position along the slice normal: IPP . (row x column cosines).

    (0020,0032) *Image Position (Patient)* projected on the normal of
    (0020,0037) *Image Orientation (Patient)* (PS3.3 C.7.6.2.1.1); None when
    either is missing or malformed.
    """
    try:
        position = np.asarray([float(v) for v in header.ImagePositionPatient], dtype=float)
        orientation = np.asarray([float(v) for v in header.ImageOrientationPatient], dtype=float)
    except (AttributeError, TypeError, ValueError):
        return None
    if position.shape != (3,) or orientation.shape != (6,):
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    if not np.all(np.isfinite(normal)) or np.linalg.norm(normal) < 1e-6:
        return None
    return float(position @ normal)


def sort_instances(instances: list[Instance]) -> list[Instance]:
    """Instances in slice order.

    By position along the slice normal when every instance has one and the
    orientations agree; otherwise by (0020,0013) *Instance Number*; file
    name breaks ties so the order never depends on the file system.
    """

    def number(inst: Instance) -> int:
        n = inst.instance_number
        return n if n is not None else 1 << 31

    positions = [slice_position(inst.header) for inst in instances]
    orientations = {
        tuple(round(float(v), 3) for v in inst.header.get("ImageOrientationPatient") or ())
        for inst in instances
    }
    if instances and None not in positions and len(orientations) == 1 and len(set(positions)) > 1:
        keyed = zip(positions, instances)
        return [inst for _, inst in sorted(keyed, key=lambda pi: (pi[0], number(pi[1]), pi[1].path.name))]
    return sorted(instances, key=lambda inst: (number(inst), inst.path.name))


def group_series(instances: Iterable[Instance]) -> list[Series]:
    """Instances grouped by (0020,000E) *Series Instance UID*, each series sorted.

    Series keep the order in which their first instance was met.
    """
    by_uid: dict[str, Series] = {}
    for inst in instances:
        uid = str(inst.header.get("SeriesInstanceUID", "") or f"no-series:{inst.path}")
        by_uid.setdefault(uid, Series(uid)).instances.append(inst)
    for series in by_uid.values():
        series.instances = sort_instances(series.instances)
    return list(by_uid.values())


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Every file named or found below the named folders, once each.

    Symbolic-link loops and unreadable folders are skipped, not fatal.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=True):
                try:
                    st = os.stat(root)
                except OSError:
                    dirs[:] = []
                    continue
                if (st.st_dev, st.st_ino) in seen_dirs:
                    dirs[:] = []
                    continue
                seen_dirs.add((st.st_dev, st.st_ino))
                dirs.sort()
                for name in sorted(files):
                    yield Path(root, name)
        else:
            yield path


@dataclass
class OpenResult:
    """What opening some paths found: series to show, and one line per problem."""

    series: list[Series]
    problems: list[str]
    skipped: int = 0  # files that are not DICOM, or DICOM without an image


def open_paths(paths: Iterable[str | os.PathLike[str]], cancelled=lambda: False) -> OpenResult:
    """Read the headers of every file at `paths` (files, folders, DICOMDIRs).

    Nothing is decoded: pixel data is read only when an image is shown. A
    path named explicitly that cannot be read is a problem; unreadable files
    met while walking a folder are skipped and counted.
    """
    named = [Path(p) for p in paths]
    explicit = {p for p in named if not p.is_dir()}
    expanded: list[Path] = []
    media_instances: list[Instance] = []
    problems: list[str] = []
    for path in named:
        dicomdir = find_dicomdir(path)
        if dicomdir is None:
            expanded.append(path)
            continue
        try:
            media = read_dicomdir(dicomdir)
        except ViewerError as exc:
            if path.is_dir():
                expanded.append(path)  # unreadable DICOMDIR: scan the folder instead
            problems.append(str(exc))
            continue
        problems.extend(media.problems)
        for image in media.images:
            if image.path is not None:
                media_instances.append(Instance(image.path, image.header, number_of_frames(image.header)))
    instances: list[Instance] = media_instances
    skipped = 0
    for file in iter_files(expanded):
        if cancelled():
            break
        try:
            header = read_header(file)
        except ViewerError as exc:
            if file in explicit:
                problems.append(str(exc))
            else:
                skipped += 1
            continue
        sop_class = str(getattr(getattr(header, "file_meta", None), "MediaStorageSOPClassUID", "") or "")
        has_image = "Rows" in header and "Columns" in header
        if sop_class == MEDIA_DIRECTORY_SOP_CLASS or not has_image:
            if file in explicit and sop_class != MEDIA_DIRECTORY_SOP_CLASS:
                problems.append(f"{file.name}: has no image to show (it is {sop_class_name(header)})")
            else:
                skipped += 1
            continue
        instances.append(Instance(file, header, number_of_frames(header)))
    return OpenResult(group_series(instances), problems, skipped)
