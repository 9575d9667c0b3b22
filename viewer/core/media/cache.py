"""The retrieved-studies cache: where studies pulled from a PACS are kept on disk.

``ROOT/STUDY_UID/SERIES_UID/*.dcm``, one folder per series, in the platform's
per-user cache folder. A series retrieved whole gets a :data:`COMPLETE_MARKER`
file (the next retrieve takes it from here); instances are written into
:data:`STAGING` while they arrive and renamed into place when whole. Both are
the cache's bookkeeping, not the user's files: a folder scan passes over them.
The network layer (:mod:`viewer.core.net.storage`) writes this layout; the
media layer reads it like any folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")

#: A file in a series folder saying the series was retrieved whole.
COMPLETE_MARKER = ".complete"
#: Where instances are written while they arrive: inside the cache root, so a rename moves them into place.
STAGING = ".incoming"


def valid_uid(uid) -> str | None:
    """The UID if it is one (digits and dots, at most 64 characters, PS3.5 9.1), else None."""
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
    """``root/STUDY/SERIES``; ValueError unless both are UIDs (never a path from the wire)."""
    study, series = valid_uid(study_uid), valid_uid(series_uid)
    if not study or not series:
        raise ValueError("not a UID")
    return root / study / series
