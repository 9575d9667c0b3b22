"""The series a path names, as the files of one volume (for ``dicom-viewer export --plane``).

A folder names the one series it holds (subfolders included, as the window
scans it); a file names its own series: the files of the folder it is in
(subfolders included) with the same (0020,000E) *Series Instance UID*. A folder holding several
series is refused with their names, so the user can point at a file of the
one they mean; the volume itself is then checked by
:func:`~viewer.core.display.volume.build_volume`.
"""

from __future__ import annotations

import os
from pathlib import Path

from viewer.core.dicom.header import read_raw_header
from viewer.core.dicom.io import ViewerError, path_is_folder
from viewer.core.media.model import Series
from viewer.core.media.sources import open_paths
from viewer.core.runtime.wording import count


def _scan(folder: Path) -> list[Series]:
    result = open_paths([folder])
    return [series for series in result.series if any(instance.available for instance in series.instances)]


def series_at(path: str | os.PathLike[str]) -> Series:
    """The series `path` names (see the module's description); ViewerError (one line) otherwise."""
    path = Path(path)
    if path_is_folder(path):  # ViewerError (one line) when missing or unreadable
        found = _scan(path)
        if not found:
            raise ViewerError("the folder holds no DICOM images", path)
        if len(found) > 1:
            names = "; ".join(series.label() for series in found[:3]) + ("; ..." if len(found) > 3 else "")
            raise ViewerError(f"the folder holds {count(len(found), 'series')} ({names}): name a file of the one you mean", path)
        return found[0]
    uid = read_raw_header(path).uid(0x0020000E)  # ViewerError when not DICOM
    for series in _scan(path.parent):
        if series.uid == uid and any(instance.path and instance.path.resolve() == path.resolve() for instance in series.instances):
            return series
    raise ViewerError("is not an image of a series that can be read", path)


def series_files(series: Series) -> list[Path]:
    """The readable files of `series`, in its slice order."""
    series.sort()
    return [instance.path for instance in series.instances if instance.available]
