"""Receiving instances: atomic writes into the cache, and the Storage SCP for C-MOVE.

Whatever arrives over the network is written only inside the cache, under
names made from UIDs that were checked to be UIDs (digits and dots, at most
64 characters: PS3.5 9.1), never from anything else the peer sends. Each
file is written under a temporary name and renamed when complete, so a
cancelled or broken transfer leaves no half file. The encoded dataset is
written as received (no decode and re-encode).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")

#: C-STORE statuses (PS3.4 B.2.3)
SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
NOT_AUTHORISED = 0x0124  # "Refused: Not Authorized" (PS3.7 C.5.22)


def valid_uid(uid) -> str | None:
    """The UID if it is one (digits and dots, <= 64 characters), else None."""
    text = str(uid or "").strip().rstrip("\x00")
    return text if len(text) <= 64 and _UID.match(text) else None


def default_cache_dir() -> Path:
    """The platform's per-user cache location for retrieved studies."""
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif os.uname().sysname == "Darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "dicom-viewer" / "retrieved"


def series_folder(root: Path, study_uid: str, series_uid: str) -> Path:
    study, series = valid_uid(study_uid), valid_uid(series_uid)
    if not study or not series:
        raise ValueError("not a UID")
    return root / study / series


COMPLETE_MARKER = ".complete"


@dataclass
class InstanceWriter:
    """Writes received instances into ``root/<study>/<series>/<sop>.dcm``.

    ``expected`` limits what is accepted: a set of (study UID, series UID or
    None for the whole study). Thread-safe; counts what it wrote and refused.
    """

    root: Path
    expected: set[tuple[str, str | None]] | None = None
    written: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    last_activity: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._lock = threading.Lock()

    def accepts(self, study_uid: str, series_uid: str) -> bool:
        if self.expected is None:
            return True
        return (study_uid, series_uid) in self.expected or (study_uid, None) in self.expected

    def handle_store(self, event) -> int:
        """pynetdicom EVT_C_STORE handler: returns the C-STORE status."""
        self.last_activity = time.monotonic()
        try:
            sop_uid = valid_uid(event.request.AffectedSOPInstanceUID)
            ds = event.dataset
            study_uid = valid_uid(ds.get("StudyInstanceUID"))
            series_uid = valid_uid(ds.get("SeriesInstanceUID"))
        except Exception:  # noqa: BLE001 - a dataset we cannot parse is refused, not a crash
            self._refuse("an instance whose dataset cannot be read")
            return CANNOT_UNDERSTAND
        if not (sop_uid and study_uid and series_uid):
            self._refuse(f"an instance with invalid UIDs ({event.request.AffectedSOPInstanceUID!s:.70})")
            return CANNOT_UNDERSTAND
        if not self.accepts(study_uid, series_uid):
            self._refuse(f"{sop_uid}: not part of what was asked for")
            return NOT_AUTHORISED
        folder = series_folder(self.root, study_uid, series_uid)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            data = event.encoded_dataset(include_meta=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{sop_uid}.", suffix=".part", dir=folder)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                target = folder / f"{sop_uid}.dcm"
                os.replace(tmp, target)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        except OSError as exc:
            self._refuse(f"{sop_uid}: cannot be written ({exc.strerror or exc})")
            return OUT_OF_RESOURCES
        with self._lock:
            self.written.append(target)
        self.last_activity = time.monotonic()
        return SUCCESS

    def _refuse(self, reason: str) -> None:
        with self._lock:
            self.refused.append(reason)

    def remove_partials(self) -> None:
        """Delete any temporary file left by an interrupted write."""
        for part in self.root.glob("*/*/.*.part"):
            try:
                part.unlink()
            except OSError:
                pass
