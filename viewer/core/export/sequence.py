"""A series as numbered pictures: IMG0001.png, IMG0002.png... one per image, in the viewer's slice order.

Every picture is rendered with the same VOI (:func:`~viewer.core.export.render.series_voi`),
so grey levels do not jump from file to file. The folder is made when it
does not exist (its parent must); pictures already there are never replaced
unless asked, and the folder the images come from is refused. Each picture
is written atomically; when the export is cancelled or fails, the pictures it
wrote are removed again (and the folder, if it made it), so nothing half-done stays.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.pipeline import VOI
from viewer.core.export.files import check_folder
from viewer.core.export.render import ExportOptions, Renderer, render_image, series_voi
from viewer.core.export.still import DEFAULT_JPEG_QUALITY, write_picture
from viewer.core.media.model import ImageRef
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count

Progress = Callable[[int, int], None]
SUFFIXES = {"png": ".png", "jpeg": ".jpg"}


def safe_file_name(text: str, limit: int = 64) -> str:
    """`text` as a file or folder name any file system takes: letters, digits, '-', '_' and '.'; others as '_'."""
    kept = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in text.strip())
    return "_".join(part for part in kept.split("_") if part)[:limit].strip(".")


def picture_names(images: int, fmt: str = "png") -> list[str]:
    """IMG0001.png... for `images` pictures: four digits, more when the series needs them (so names sort as numbers)."""
    digits = max(4, len(str(images)))
    return [f"IMG{number:0{digits}d}{SUFFIXES[fmt]}" for number in range(1, images + 1)]


@dataclass
class Written:
    """What an export wrote: the files (in order), the VOI used, notes (one line each)."""

    files: list[Path] = field(default_factory=list)
    voi: VOI | None = None
    notes: list[str] = field(default_factory=list)


def refuse_source_folder(folder: Path, images: Sequence[ImageRef]) -> None:
    """Never write into a folder the images are read from (one-line ViewerError)."""
    target = folder.resolve()
    for ref in images:
        path = ref.instance.path
        if path is not None and Path(path).resolve().parent == target:
            raise ViewerError(f"{folder} is the folder the images are read from: choose another folder to export into")


def prepare_folder(folder: Path) -> bool:
    """Make `folder` if it does not exist (True when made); one line when it cannot be written into."""
    if folder.exists():
        check_folder(folder)
        return False
    check_folder(folder.parent)
    try:
        folder.mkdir()
    except OSError as exc:
        raise ViewerError(f"cannot make the folder {folder}: {exc.strerror or exc}") from None
    return True


def export_pictures(
    renderer: Renderer,
    images: Sequence[ImageRef],
    folder: str | os.PathLike[str],
    options: ExportOptions,
    fmt: str = "png",
    quality: int = DEFAULT_JPEG_QUALITY,
    overwrite: bool = False,
    cancel: CancelToken | None = None,
    progress: Progress | None = None,
    frame_rate: float | None = None,
) -> Written:
    """Each image of `images` as a picture in `folder` (see the module's docstring); Cancelled when `cancel` is set."""
    folder = Path(folder)
    if not images:
        raise ViewerError("the series has no image to export")
    refuse_source_folder(folder, images) if folder.exists() else None
    names = picture_names(len(images), fmt)
    if folder.exists() and not overwrite:
        there = [name for name in names if (folder / name).exists()]
        if there:
            raise ViewerError(f"{folder} holds {count(len(there), 'picture')} of these names already ({there[0]}...): not overwritten")
    made = prepare_folder(folder)
    written = Written()
    try:
        written.voi = series_voi(renderer, images, len(images) // 2, options)
        for index, name in enumerate(names):
            if cancel is not None:
                cancel.check()
            pixels = render_image(renderer, images, index, written.voi, options, frame_rate)
            written.files.append(write_picture(folder / name, pixels, fmt, quality, overwrite))
            if progress is not None:
                progress(index + 1, len(images))
    except BaseException:
        remove_written(written.files, folder if made else None)
        raise
    written.notes = list(renderer.notes)
    return written


def remove_written(files: Sequence[Path], made_folder: Path | None) -> None:
    """Take back what a cancelled or failed export wrote: its files, and the folder it made if now empty."""
    for path in files:
        try:
            path.unlink()
        except OSError:
            pass
    if made_folder is not None:
        try:
            made_folder.rmdir()
        except OSError:
            pass
