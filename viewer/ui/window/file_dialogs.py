"""File > Open: the dialogs that ask what to open, and the recent locations menu.

Each dialog hands what the user chose to `open_paths`; nothing when cancelled.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

Opener = Callable[[list[str]], None]


def choose_files(parent: QWidget, open_paths: Opener) -> None:
    files, _ = QFileDialog.getOpenFileNames(parent, "Open DICOM files")
    if files:
        open_paths(files)


def choose_folder(parent: QWidget, open_paths: Opener) -> None:
    folder = QFileDialog.getExistingDirectory(parent, "Open a folder or CD/DVD/USB media")
    if folder:
        open_paths([folder])


def choose_dicomdir(parent: QWidget, open_paths: Opener) -> None:
    path, _ = QFileDialog.getOpenFileName(parent, "Open a DICOMDIR", "", "DICOMDIR (DICOMDIR dicomdir);;All files (*)")
    if path:
        open_paths([path])


def fill_recent_menu(menu: QMenu, recent: list[str], open_paths: Opener) -> None:
    """`menu` lists the `recent` locations, each opening itself when chosen."""
    menu.clear()
    for path in recent:
        action = menu.addAction(path)
        action.triggered.connect(lambda _checked=False, p=path: open_paths([p]))
    if not recent:
        menu.addAction("(none yet)").setEnabled(False)
