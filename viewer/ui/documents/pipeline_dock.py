"""The Display pipeline dock: each stage from stored values to screen, for the image shown.

The stages come from whoever shows the image (:attr:`PipelineDock.stages`,
the active viewport's); the rich text is costly to lay out, so while the
user drags a window or a cine plays the dock is updated once things pause
(:meth:`PipelineDock.schedule`), not on every step.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QLabel, QWidget

#: Milliseconds of quiet before a scheduled update.
PAUSE_MS = 120


class PipelineDock(QDockWidget):
    """A dock with one table of (stage, what it does now)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Display pipeline", parent)
        self.setObjectName("pipeline_dock")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setWordWrap(True)
        self.label.setMargin(6)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setWidget(self.label)
        self.stages: Callable[[], list[tuple[str, str]]] = list
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PAUSE_MS)
        self._timer.timeout.connect(self.refresh)

    def refresh(self) -> None:
        """Show the stages now."""
        rows = "".join(f"<tr><td style='padding-right:8px'><b>{stage}</b></td><td>{_html(text)}</td></tr>" for stage, text in self.stages())
        self.label.setText(f"<table>{rows}</table>" if rows else "")

    def schedule(self) -> None:
        """Show the stages once updates pause."""
        self._timer.start()

    def clear(self) -> None:
        self.label.setText("")

    def stop(self) -> None:
        self._timer.stop()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
