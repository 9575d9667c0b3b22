"""A plain DICOM copy of the chosen files: each copied byte for byte into one folder.

Nothing is decoded or rewritten: the files are the originals (PS3.10 files,
their meta information and transfer syntax untouched). Names are either kept
(a clash between two chosen files of the same name gets ``-2``, ``-3``...
before its extension) or made safe for media (``names="media"``): at most
eight characters from A-Z, 0-9 (PS3.10 8.2, PS3.12 Annex F), ``IM000001``...
in the order given. A file of the same name already in the folder is never
replaced: the copy is refused before anything is written, naming it. Each
file is copied under a temporary name and renamed once complete, with its
modification time; on cancel or failure the copies made are removed again.
The folder the files come from is refused.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from viewer.core.dicom.io import ViewerError
from viewer.core.export.files import put_in_place, temporary_beside
from viewer.core.export.sequence import prepare_folder, remove_written
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count

NAMINGS = ("kept", "media")
Progress = Callable[[int, int], None]


def copy_names(paths: Sequence[Path], naming: str = "kept") -> list[str]:
    """The name each of `paths` gets in the folder (see the module's docstring)."""
    if naming not in NAMINGS:
        raise ViewerError(f"unknown naming '{naming}': choose kept or media")
    if naming == "media":
        digits = max(6, len(str(len(paths))))
        if digits > 6:
            raise ViewerError(f"{count(len(paths), 'file')} are too many for 8-character media names (at most 999999)")
        return [f"IM{number:06d}" for number in range(1, len(paths) + 1)]
    names, taken = [], set()
    for path in paths:
        name, n = path.name, 1
        stem, suffix = path.stem, path.suffix
        while name.lower() in taken:  # case-insensitive: the copy may go to a FAT or NTFS disk
            n += 1
            name = f"{stem}-{n}{suffix}"
        taken.add(name.lower())
        names.append(name)
    return names


def copy_dicom(
    paths: Sequence[str | os.PathLike[str]],
    folder: str | os.PathLike[str],
    naming: str = "kept",
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
) -> list[Path]:
    """Copy `paths` into `folder` as they are (see the module's docstring); the copies, in order."""
    sources = [Path(p) for p in paths]
    folder = Path(folder)
    if not sources:
        raise ViewerError("nothing chosen to copy")
    for source in sources:
        if not source.is_file():
            raise ViewerError(f"cannot copy {source}: no such file")
    names = copy_names(sources, naming)
    if folder.exists():
        target = folder.resolve()
        if any(source.resolve().parent == target for source in sources):
            raise ViewerError(f"{folder} is the folder the files come from: choose another folder to copy into")
        there = [name for name in names if (folder / name).exists()]
        if there:
            raise ViewerError(f"{folder} holds {count(len(there), 'file')} of these names already ({there[0]}...): nothing copied")
    made = prepare_folder(folder)
    copied: list[Path] = []
    try:
        for index, (source, name) in enumerate(zip(sources, names)):
            if cancel is not None:
                cancel.check()
            copied.append(_copy_one(source, folder / name))
            if progress is not None:
                progress(index + 1, len(sources))
    except BaseException:
        remove_written(copied, folder if made else None)
        raise
    return copied


def _copy_one(source: Path, target: Path) -> Path:
    try:
        with open(source, "rb") as src:
            f, tmp = temporary_beside(target)
            try:
                with f:
                    shutil.copyfileobj(src, f, 1024 * 1024)
                shutil.copystat(source, tmp)
                put_in_place(tmp, target)
            finally:
                if tmp.exists():
                    tmp.unlink()
    except OSError as exc:
        raise ViewerError(f"cannot copy {source.name} to {target.parent}: {exc.strerror or exc}") from None
    return target
