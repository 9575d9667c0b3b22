"""The middle of the window: a start hint until the viewports are built, then the viewports.

Light on purpose: the window's frame is made of it before numpy and pydicom
are imported (see :mod:`viewer.ui.window.contents`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

START_HINT = "Open a DICOM file or folder (File > Open, or drop it here)"


class CentralArea(QWidget):
    """A black area with :data:`START_HINT`, until :meth:`show_contents` puts the viewports in its place."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._column = QVBoxLayout(self)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(0)
        self._hint = QLabel(START_HINT)
        self._hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._hint.setStyleSheet("background: black; color: #c8c8c8;")
        self._column.addWidget(self._hint, 1)

    def show_contents(self, contents: QWidget, bar: QWidget) -> None:
        """`contents` instead of the hint, with `bar` (an offer, hidden until made) above it."""
        self._column.removeWidget(self._hint)
        self._hint.hide()  # at once: nothing covers it now (deleteLater waits for the event loop)
        self._hint.deleteLater()
        self._column.addWidget(bar)
        self._column.addWidget(contents, 1)


class ActiveViewport:
    """An attribute of the window that is its active viewport's, read-only (for tests and scripts)."""

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, window, owner=None):
        return self if window is None else getattr(window.viewport, self.name)
