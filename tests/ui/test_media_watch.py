"""A CD or USB drive with DICOM media inserted while the viewer runs: offered once, opened on request.

The mounted volumes are the test's own list of folders (the watcher's volume
source is injected); the test polls itself instead of waiting for the timer.
Expected studies come from pydicom's reading of the DICOMDIR.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.media.media_watch import Volume

MEDIA = Path(get_testdata_file("DICOMDIR", download=False)).parent
WAIT_MS = 30000


class Mounts:
    """The mounted volumes as the test sets them (read from the watcher's worker thread)."""

    def __init__(self) -> None:
        self.volumes: list[Volume] = []

    def __call__(self) -> list[Volume]:
        return list(self.volumes)

    def mount(self, folder: Path, name: str) -> Volume:
        volume = Volume(str(folder), name, f"/dev/fake-{name.lower()}", "iso9660", read_only=True)
        self.volumes.append(volume)
        return volume

    def unmount(self, volume: Volume) -> None:
        self.volumes.remove(volume)


def burn(folder: Path, name: str = "DICOMDIR") -> Path:
    """A copy of pydicom's DICOMDIR test set in `folder` (the DICOMDIR named `name`)."""
    folder.mkdir(parents=True)
    shutil.copyfile(MEDIA / "DICOMDIR", folder / name)
    for sub in ("77654033", "98892001", "98892003"):
        shutil.copytree(MEDIA / sub, folder / sub)
    return folder


@pytest.fixture
def mounts(monkeypatch) -> Mounts:
    mounts = Mounts()
    monkeypatch.setattr("viewer.ui.browsing.media_watch.mounted_volumes", mounts)
    return mounts


@pytest.fixture
def watched_window(qtbot, mounts, tmp_path):
    """A window started with volumes A (no DICOM) and B (a DICOMDIR, present at start-up) mounted."""
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")
    settings().remove("media")
    (tmp_path / "A").mkdir()
    mounts.mount(tmp_path / "A", "A")
    mounts.mount(burn(tmp_path / "B", "dicomdir"), "B")
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.media_watcher.timer.stop()  # the test polls itself
    yield window
    window.close()


def poll(qtbot, watcher) -> None:
    """One poll, as the timer makes it, waited for to the end (its look at new volumes included)."""
    qtbot.waitUntil(lambda: not watcher.polling, timeout=WAIT_MS)  # the start-up listing, if still under way
    with qtbot.waitSignal(watcher.polled, timeout=WAIT_MS):
        watcher.poll()


def test_inserted_media_offered_once_and_opened(watched_window, mounts, qtbot, tmp_path):
    watcher = watched_window.media_watcher
    offered = []
    watcher.offered.connect(offered.append)
    poll(qtbot, watcher)
    assert offered == [] and watcher.bar.isHidden()  # A and B were there at start-up

    c = mounts.mount(burn(tmp_path / "C"), "CT HEAD")
    poll(qtbot, watcher)
    assert [o.volume for o in offered] == [c]
    assert not watcher.bar.isHidden()
    assert watcher.bar.message.text() == "A disc 'CT HEAD' with DICOM images was inserted."
    poll(qtbot, watcher)
    assert len(offered) == 1  # once

    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "readme.txt").write_text("holiday photos")
    mounts.mount(tmp_path / "D", "PHOTOS")
    poll(qtbot, watcher)
    assert len(offered) == 1  # no DICOMDIR: nothing to offer
    assert watcher.bar.message.text().startswith("A disc 'CT HEAD'")

    with qtbot.waitSignal(watched_window.series_opened, timeout=WAIT_MS):
        qtbot.mouseClick(watcher.bar.open_button, qtbot_left())
    assert watcher.bar.isHidden()
    records = pydicom.dcmread(MEDIA / "DICOMDIR").DirectoryRecordSequence
    assert set(watched_window.browser.series_items()) == {r.SeriesInstanceUID for r in records if r.DirectoryRecordType == "SERIES"}
    assert {s.uid for s in watched_window.series} == set(watched_window.browser.series_items())

    # Ejected and inserted again: offered again.
    mounts.unmount(c)
    poll(qtbot, watcher)
    c = mounts.mount(Path(c.root), "CT HEAD")
    poll(qtbot, watcher)
    assert len(offered) == 2 and offered[-1].volume == c
    # "Not now": gone, and not offered again while it stays in the drive.
    qtbot.mouseClick(watcher.bar.later_button, qtbot_left())
    assert watcher.bar.isHidden()
    poll(qtbot, watcher)
    assert len(offered) == 2 and watcher.bar.isHidden()


def test_media_removed_before_an_answer_takes_its_offer_away(watched_window, mounts, qtbot, tmp_path):
    watcher = watched_window.media_watcher
    poll(qtbot, watcher)
    c = mounts.mount(burn(tmp_path / "C"), "CT HEAD")
    e = mounts.mount(burn(tmp_path / "E"), "MR KNEE")
    poll(qtbot, watcher)
    assert [o.volume for o in watcher.offers] == [c, e]  # one after the other
    mounts.unmount(c)
    poll(qtbot, watcher)
    assert [o.volume for o in watcher.offers] == [e]
    assert watcher.bar.message.text() == "A disc 'MR KNEE' with DICOM images was inserted."


def test_the_offer_can_be_turned_off_in_settings(watched_window, mounts, qtbot, tmp_path):
    from viewer.ui.window.dialogs import SettingsDialog
    from viewer.ui.window.main_window import MainWindow

    watcher = watched_window.media_watcher
    poll(qtbot, watcher)
    dialog = SettingsDialog(watched_window)
    qtbot.addWidget(dialog)
    assert dialog.offer_media.isChecked()
    dialog.offer_media.setChecked(False)
    dialog.apply()
    assert not watcher.enabled and not watcher.timer.isActive()
    mounts.mount(burn(tmp_path / "C"), "CT HEAD")
    watcher.poll()  # what a timer tick would do: nothing while the offer is off
    assert not watcher.polling and watcher.offers == []

    second = MainWindow()  # the choice is remembered
    qtbot.addWidget(second)
    assert not second.media_watcher.enabled
    second.close()

    # On again: what is mounted at that moment is not offered, what comes after is.
    watcher.set_enabled(True)
    watcher.timer.stop()
    poll(qtbot, watcher)
    assert watcher.offers == []
    e = mounts.mount(burn(tmp_path / "E"), "MR KNEE")
    poll(qtbot, watcher)
    assert [o.volume for o in watcher.offers] == [e]


def qtbot_left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_the_platform_list_has_the_root_volume(qtbot):
    from PySide6.QtCore import QStorageInfo

    from viewer.ui.browsing.media_watch import mounted_volumes

    volumes = mounted_volumes()
    assert QStorageInfo.root().rootPath() in {v.root for v in volumes}
    assert all(isinstance(v.device, str) and isinstance(v.file_system, str) for v in volumes)
