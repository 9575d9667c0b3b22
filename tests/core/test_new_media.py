"""Which newly mounted volumes hold DICOM media: real folders as volumes, pydicom's DICOMDIR set as the media."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.core.media.media_watch import MediaOffer, Volume, newly_mounted_media

MEDIA = Path(get_testdata_file("DICOMDIR", download=False)).parent


def burn(folder: Path, name: str = "DICOMDIR") -> Path:
    """`folder` as a disc: pydicom's DICOMDIR (saved as `name`) and the folders it refers to."""
    folder.mkdir(parents=True)
    shutil.copyfile(MEDIA / "DICOMDIR", folder / name)
    for sub in ("77654033", "98892001", "98892003"):
        shutil.copytree(MEDIA / sub, folder / sub)
    return folder


@pytest.fixture
def volumes(tmp_path) -> dict[str, Volume]:
    system = tmp_path / "system"
    system.mkdir()
    (system / "notes.txt").write_text("no DICOM here")
    return {
        "system": Volume(str(system), "", "/dev/sda1", "ext4"),
        "cd": Volume(str(burn(tmp_path / "cd")), "CT HEAD", "/dev/sr0", "iso9660", read_only=True),
        "usb": Volume(str(burn(tmp_path / "usb", "dicomdir")), "KINGSTON", "/dev/sdb1", "vfat"),  # burned elsewhere: lower case
        "empty_usb": Volume(str(tmp_path / "empty"), "STICK", "/dev/sdc1", "exfat"),
        "nested": Volume(str(burn(tmp_path / "nested" / "inner").parent), "NESTED", "/dev/sdd1", "vfat"),
    }


def test_new_volumes_with_a_dicomdir_at_the_root_in_any_case(volumes):
    (Path(volumes["empty_usb"].root)).mkdir()
    previous = [volumes["system"]]
    current = list(volumes.values())
    offers = newly_mounted_media(previous, current)
    assert [offer.volume.name for offer in offers] == ["CT HEAD", "KINGSTON"]  # not the empty stick, not a DICOMDIR in a subfolder
    assert offers[0].dicomdir == Path(volumes["cd"].root) / "DICOMDIR"
    assert offers[1].dicomdir == Path(volumes["usb"].root) / "dicomdir"


def test_volumes_mounted_before_are_not_offered_and_a_remount_is(volumes):
    cd, system = volumes["cd"], volumes["system"]
    assert newly_mounted_media([system, cd], [system, cd]) == []  # there at start-up
    assert newly_mounted_media([system, cd], [system]) == []  # ejected
    assert [o.volume for o in newly_mounted_media([system], [system, cd])] == [cd]  # inserted again
    # Another disc in the same drive (same mount point and device, another label) is new media.
    other = Volume(cd.root, "CT CHEST", cd.device, cd.file_system, True)
    assert [o.volume for o in newly_mounted_media([system, cd], [system, other])] == [other]


def test_a_volume_that_cannot_be_read_is_not_offered(tmp_path):
    gone = Volume(str(tmp_path / "pulled-out"), "GONE", "/dev/sde1", "vfat")  # its folder does not exist
    assert newly_mounted_media([], [gone]) == []


def test_each_new_mount_is_looked_at_once(volumes):
    cd = volumes["cd"]
    looked = []

    def find(root):
        looked.append(root)
        return None

    newly_mounted_media([], [cd, cd], find)  # a bind mount listed twice
    assert looked == [cd.root]


def test_the_offer_names_the_media_in_words(volumes):
    assert MediaOffer(volumes["cd"], Path("x")).question() == "A disc 'CT HEAD' with DICOM images was inserted."
    assert MediaOffer(volumes["usb"], Path("x")).question() == "A drive 'KINGSTON' with DICOM images was connected."
    unnamed = Volume("/media/user/3A2B-11C0", "", "/dev/sdf1", "vfat")
    assert MediaOffer(unnamed, Path("x")).question() == "A drive '3A2B-11C0' with DICOM images was connected."
    assert Volume("/mnt/cdrom", "", "/dev/cdrom", "").kind == "disc"
