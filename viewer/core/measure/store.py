"""Measurements kept per image in the app's data folder, never beside the user's files; CSV export.

One JSON file per image, named by its (0008,0018) *SOP Instance UID*, in a
folder the caller gives (the window passes its data folder; the command line
uses :func:`default_data_dir`). It holds the image's identity (patient,
study, series) for the CSV, and per frame (from 1) the shapes drawn and their
readings::

    {"version": 1, "sop_instance_uid": "1.2...", "patient": "...", "patient_id": "...",
     "study_instance_uid": "...", "series_instance_uid": "...",
     "frames": {"1": [{"tool": "line", "points": [[x, y], ...], "readings": [...]}]}}

Files are written to a temporary file in the same folder and renamed over
the old one (atomic on POSIX and Windows), so a crash never leaves half a
file. Opening the same image again (same UID) brings its measurements back.
The user's calibration of a series ("user calibrated", until cleared) is
kept beside them, in ``user-calibrations/SERIES_UID.json``.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.calibration import USER_CALIBRATED, Calibration
from viewer.core.measure.geometry import Shape
from viewer.core.measure.measure import Measurement, Reading
from viewer.core.media.cache import valid_uid

FORMAT_VERSION = 1
CSV_COLUMNS = ("patient", "study", "series", "instance", "frame", "tool", "value", "unit", "calibration basis")


def default_data_dir() -> Path:
    """The platform's per-user data folder for measurements: $XDG_DATA_HOME (else ~/.local/share)/dicom-viewer/measurements.

    On Windows %APPDATA%, on macOS ~/Library/Application Support, as Qt's
    AppDataLocation; the window passes its own folder instead.
    """
    if os.name == "nt":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        value = os.environ.get("XDG_DATA_HOME", "")
        base = Path(value) if os.path.isabs(value) else Path.home() / ".local" / "share"
    return base / "dicom-viewer" / "measurements"


def default_presentation_state_dir() -> Path:
    """Where "Save as presentation state" writes by default: beside the measurements, in presentation-states/."""
    return default_data_dir().parent / "presentation-states"


@dataclass(frozen=True)
class ImageIdentity:
    """Whose image a measurement is on: what the CSV and the presentation state name."""

    sop_instance_uid: str
    patient: str = ""
    patient_id: str = ""
    study_instance_uid: str = ""
    series_instance_uid: str = ""

    @staticmethod
    def of(header: Dataset) -> ImageIdentity:
        """From an image's header: (0008,0018), (0010,0010), (0010,0020), (0020,000D), (0020,000E). ViewerError without a valid SOP Instance UID."""
        uid = valid_uid(header.get("SOPInstanceUID"))
        if uid is None:
            raise ViewerError("the image has no valid SOP Instance UID: its measurements cannot be kept")
        return ImageIdentity(
            uid,
            str(header.get("PatientName", "") or ""),
            str(header.get("PatientID", "") or ""),
            str(header.get("StudyInstanceUID", "") or ""),
            str(header.get("SeriesInstanceUID", "") or ""),
        )


@dataclass(frozen=True)
class Stored:
    """A measurement as kept: its shape and the readings computed when it was saved."""

    shape: Shape
    readings: tuple[Reading, ...]

    @staticmethod
    def of(measurement: Measurement) -> Stored:
        return Stored(measurement.shape, measurement.readings)

    def to_json(self) -> dict:
        item = self.shape.to_json()
        item["readings"] = [{"quantity": r.quantity, "value": r.value, "unit": r.unit, "basis": r.basis} for r in self.readings]
        return item

    @staticmethod
    def from_json(item: dict) -> Stored:
        readings = tuple(
            Reading(
                str(r["quantity"]), None if r.get("value") is None else float(r["value"]), str(r.get("unit", "")), str(r.get("basis", ""))
            )
            for r in item.get("readings", [])
        )
        return Stored(Shape.from_json(item), readings)


class MeasurementStore:
    """The measurements of every image, one JSON file per SOP Instance UID in `folder` (made when first written)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def _path(self, sop_instance_uid: str) -> Path:
        uid = valid_uid(sop_instance_uid)
        if uid is None:  # never a path from a file's header
            raise ViewerError(f"not a SOP Instance UID: {sop_instance_uid!r}")
        return self.folder / f"{uid}.json"

    def _read(self, sop_instance_uid: str) -> dict | None:
        path = self._path(sop_instance_uid)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise ViewerError(f"cannot read the measurements in {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ViewerError(f"cannot read the measurements in {path}: not a version {FORMAT_VERSION} measurement file")
        return data

    def load(self, sop_instance_uid: str, frame: int = 1) -> list[Stored]:
        """The measurements kept for frame `frame` (from 1) of the image; [] when none."""
        data = self._read(sop_instance_uid)
        if data is None:
            return []
        try:
            return [Stored.from_json(item) for item in data.get("frames", {}).get(str(frame), [])]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ViewerError(f"cannot read the measurements in {self._path(sop_instance_uid)}: {exc}") from None

    def frames(self, sop_instance_uid: str) -> list[int]:
        """The frames (from 1) of the image that have measurements."""
        data = self._read(sop_instance_uid) or {}
        return sorted(int(k) for k, v in data.get("frames", {}).items() if v)

    def save(self, identity: ImageIdentity, frame: int, measurements: Iterable[Measurement | Stored]) -> Path:
        """Keep `measurements` as the whole set of frame `frame` of the image (an empty set removes them). Atomic."""
        path = self._path(identity.sop_instance_uid)
        data = self._read(identity.sop_instance_uid) or {"version": FORMAT_VERSION, "frames": {}}
        data.update(
            {
                "version": FORMAT_VERSION,
                "sop_instance_uid": identity.sop_instance_uid,
                "patient": identity.patient,
                "patient_id": identity.patient_id,
                "study_instance_uid": identity.study_instance_uid,
                "series_instance_uid": identity.series_instance_uid,
            }
        )
        items = [(m if isinstance(m, Stored) else Stored.of(m)).to_json() for m in measurements]
        if items:
            data["frames"][str(frame)] = items
        else:
            data["frames"].pop(str(frame), None)
        _write_atomically(path, json.dumps(data, ensure_ascii=False, indent=1))
        return path

    def _calibration_path(self, series_instance_uid: str) -> Path:
        uid = valid_uid(series_instance_uid)
        if uid is None:
            raise ViewerError(f"not a Series Instance UID: {series_instance_uid!r}")
        return self.folder / "user-calibrations" / f"{uid}.json"

    def user_calibration(self, series_instance_uid: str) -> Calibration | None:
        """The user's calibration of a series ("user calibrated", kept until cleared), or None."""
        path = self._calibration_path(series_instance_uid)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            row, column = (float(v) for v in data["spacing"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ViewerError(f"cannot read the calibration in {path}: {exc}") from None
        if not (row > 0 and column > 0):
            raise ViewerError(f"cannot read the calibration in {path}: the spacing must be greater than 0")
        return Calibration((row, column), USER_CALIBRATED)

    def set_user_calibration(self, series_instance_uid: str, calibration: Calibration | None) -> None:
        """Keep the user's calibration of a series (from :func:`~viewer.core.display.calibration.user_calibration`); None clears it."""
        path = self._calibration_path(series_instance_uid)
        if calibration is None:
            path.unlink(missing_ok=True)
            return
        if calibration.spacing is None:
            raise ValueError("a user calibration has a spacing")
        _write_atomically(path, json.dumps({"version": FORMAT_VERSION, "spacing": list(calibration.spacing)}))

    def images(self) -> list[str]:
        """The SOP Instance UIDs with a measurement file, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json") if valid_uid(p.stem))

    def rows(self, sop_instance_uids: Sequence[str] | None = None) -> list[tuple[str, ...]]:
        """CSV rows (:data:`CSV_COLUMNS`) of the given images (default: all), one per reading."""
        rows = []
        for uid in sop_instance_uids if sop_instance_uids is not None else self.images():
            data = self._read(uid)
            if data is None:
                continue
            for frame in sorted(data.get("frames", {}), key=int):
                for item in data["frames"][frame]:
                    stored = Stored.from_json(item)
                    tool = stored.shape.tool
                    for reading in stored.readings:
                        value = "" if reading.value is None else repr(float(reading.value))
                        quantity = "" if reading.quantity in ("length", "angle", "cobb", "value") else f" {reading.quantity}"
                        rows.append(
                            (
                                data.get("patient", ""),
                                data.get("study_instance_uid", ""),
                                data.get("series_instance_uid", ""),
                                uid,
                                frame,
                                f"{tool}{quantity}",
                                value,
                                reading.unit,
                                reading.basis,
                            )
                        )
        return rows

    def export_csv(self, path: Path, sop_instance_uids: Sequence[str] | None = None) -> int:
        """Write the measurements as CSV (UTF-8, header row :data:`CSV_COLUMNS`); the number of rows written."""
        rows = self.rows(sop_instance_uids)
        try:
            with open(path, "w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out)
                writer.writerow(CSV_COLUMNS)
                writer.writerows(rows)
        except OSError as exc:
            raise ViewerError(f"cannot write {path}: {exc.strerror or exc}") from None
        return len(rows)


def _write_atomically(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ViewerError(f"cannot write {path}: {exc.strerror or exc}") from None
