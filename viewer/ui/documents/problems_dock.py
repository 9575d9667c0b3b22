"""The Problems dock: every file that could not be read or shown, one line each, in order."""

from __future__ import annotations

from PySide6.QtWidgets import QDockWidget, QListWidget, QWidget


class ProblemsDock(QDockWidget):
    """Hidden until the first problem; then it stays, listing them all."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Problems", parent)
        self.setObjectName("problem_dock")
        self.problems: list[str] = []
        self.list = QListWidget()
        self.setWidget(self.list)

    def add(self, problems: list[str]) -> None:
        if not problems:
            return
        self.problems.extend(problems)
        self.list.addItems(problems)
        self.show()
