"""Removable media inserted while the viewer runs: which new volumes hold DICOM media.

The window lists the mounted volumes every few seconds (Qt's QStorageInfo;
no OS daemon) and hands the previous and the current list to
:func:`newly_mounted_media`, which returns the volumes that were not
mounted before and have a DICOMDIR at their root (PS3.10 8.6: the DICOMDIR
is in the root directory of the File-set, its name in any case on media
written by another system). Volumes mounted when the watch starts are not
offered; a volume unmounted and mounted again is new again.

Nothing here writes to a volume; reading a volume's root is the only access,
and it runs on a worker thread (a CD spinning up takes seconds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from viewer.core.media.dicomdir import find_dicomdir

#: File systems of optical discs (ISO 9660 and UDF, PS3.12 annexes for CD-R and DVD media).
DISC_FILE_SYSTEMS = {"iso9660", "udf", "cd9660", "cdfs", "hsfs"}


@dataclass(frozen=True)
class Volume:
    """A mounted volume as the platform lists it.

    ``root`` is its mount point; ``name`` the volume label (may be empty);
    ``device`` the device it is mounted from (``/dev/sr0``, ``\\\\?\\Volume{...}``);
    ``file_system`` its type (``iso9660``, ``vfat``...). ``read_only`` and the
    file system are hints to what kind of media it is, nothing more.
    """

    root: str
    name: str = ""
    device: str = ""
    file_system: str = ""
    read_only: bool = False

    @property
    def mount(self) -> tuple[str, str, str]:
        """What tells one mount from another: another disc in the same drive has another label."""
        return (self.root, self.device, self.name)

    @property
    def kind(self) -> str:
        """'disc' for a CD or DVD, 'drive' for anything else (a USB stick, a card, a disk)."""
        device = self.device.lower()
        is_optical = self.file_system.lower() in DISC_FILE_SYSTEMS or "/sr" in device or "cdrom" in device
        return "disc" if is_optical else "drive"

    @property
    def label(self) -> str:
        """The name to show: the volume label, else the last part of its mount point."""
        return self.name or Path(self.root).name or self.root


@dataclass(frozen=True)
class MediaOffer:
    """A newly mounted volume with a DICOMDIR at `dicomdir`."""

    volume: Volume
    dicomdir: Path

    def question(self) -> str:
        """The offer, in words: "A disc 'CT HEAD' with DICOM images was inserted."."""
        verb = "inserted" if self.volume.kind == "disc" else "connected"
        return f"A {self.volume.kind} '{self.volume.label}' with DICOM images was {verb}."


def _dicomdir_at_root(root: str) -> Path | None:
    """The DICOMDIR at the root of `root` (any case), or None; None too when the volume cannot be read."""
    try:
        found = find_dicomdir(root)
    except OSError:  # a scratched disc, a drive pulled out while being read
        return None
    return found if found is not None and found.parent == Path(root) else None


def newly_mounted_media(
    previous: Iterable[Volume],
    current: Iterable[Volume],
    find: Callable[[str], Path | None] = _dicomdir_at_root,
) -> list[MediaOffer]:
    """The volumes of `current` not mounted in `previous` that hold a DICOMDIR at their root.

    Reads the root folder of each new volume (call it off the GUI thread);
    `find` is that look-up, by default :func:`~viewer.core.media.dicomdir.find_dicomdir`
    on the root.
    """
    before = {volume.mount for volume in previous}
    offers = []
    for volume in current:
        if volume.mount in before:
            continue
        before.add(volume.mount)  # listed twice (bind mounts): looked at once
        dicomdir = find(volume.root)
        if dicomdir is not None:
            offers.append(MediaOffer(volume, dicomdir))
    return offers
