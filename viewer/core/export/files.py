"""Writing what an export makes: atomically, beside its place, never over a file unless asked.

Every file appears whole or not at all: it is written under a temporary name
(``.NAME.XXXXXXXX.part``) in the folder it goes to, then renamed. Without
`overwrite`, the rename is a hard link, which fails rather than replace a
file that appeared meanwhile; where the file system has no hard links (FAT
on a USB stick), an existence check and a rename stand in for it.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from viewer.core.dicom.io import ViewerError


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_folder(folder: Path) -> None:
    """One line (ViewerError) when `folder` is missing, not a folder or not writable."""
    if not folder.exists():
        raise ViewerError(f"cannot write into {folder}: the folder does not exist")
    if not folder.is_dir():
        raise ViewerError(f"cannot write into {folder}: it is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ViewerError(f"cannot write into {folder}: permission denied")


def check_target(path: Path, overwrite: bool = False) -> None:
    """One line when `path` cannot be written: its folder missing or read-only, or the file there already."""
    check_folder(path.parent)
    if path.is_dir():
        raise ViewerError(f"cannot write {path}: a folder of that name exists")
    if path.exists() and not overwrite:
        raise ViewerError(f"{path} exists already: not overwritten (--overwrite replaces it)")


def temporary_beside(path: Path) -> tuple[BinaryIO, Path]:
    """A new, exclusively created ``.NAME.XXXXXXXX.part`` file in `path`'s folder, open for writing.

    Created with mode 0666 and the user's umask, as any file a program
    makes (mkstemp's 0600 would survive the rename and hide the export
    from the user's group).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.part"
        try:
            return os.fdopen(os.open(tmp, flags, 0o666), "wb"), tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue


def put_in_place(tmp: Path, path: Path, overwrite: bool = False) -> None:
    """Rename the finished `tmp` to `path`; without `overwrite`, never over an existing file."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise ViewerError(f"{path} exists already: not overwritten") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK, errno.ENOSYS):
            raise
        if path.exists():  # no hard links here (FAT, some network shares)
            raise ViewerError(f"{path} exists already: not overwritten") from None
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def write_file(path: str | os.PathLike[str], write: Callable[[BinaryIO], None], overwrite: bool = False) -> Path:
    """`write(f)` into a temporary file beside `path`, then put in place (ViewerError, one line, on failure)."""
    path = Path(path)
    check_target(path, overwrite)
    try:
        f, tmp = temporary_beside(path)
    except OSError as exc:
        raise ViewerError(f"cannot write {path}: {_reason(exc)}") from None
    try:
        with f:
            write(f)
        put_in_place(tmp, path, overwrite)
    except OSError as exc:
        raise ViewerError(f"cannot write {path}: {_reason(exc)}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_bytes(path: str | os.PathLike[str], data: bytes, overwrite: bool = False) -> Path:
    """`data` written to `path` atomically (see the module's docstring)."""
    return write_file(path, lambda f: f.write(data), overwrite)
