"""The Remote (PACS) dock: the query panel, built with the network code when first shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDockWidget, QWidget

from viewer.ui.window.workers import BackgroundRunner

if TYPE_CHECKING:
    from viewer.ui.browsing.query_panel import QueryPanel


class QueryDock(QDockWidget):
    """Signals, as the panel's: ``retrieved(list of folders)``, ``problems(list of str)``."""

    retrieved = Signal(object)
    problems = Signal(object)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None):
        super().__init__("Remote (PACS)", parent)
        self.setObjectName("query_dock")
        self.runner = runner
        self._panel: QueryPanel | None = None

    def start(self) -> None:
        """Build the panel when the dock is shown, from now on (the window's contents are built)."""
        self.visibilityChanged.connect(lambda visible: visible and self.panel())
        if not self.visibleRegion().isEmpty():  # a saved layout put it in front
            self.panel()

    def panel(self) -> QueryPanel:
        """The query panel; built (and the network code imported) on first use."""
        if self._panel is None:
            from viewer.ui.browsing.query_panel import QueryPanel

            self._panel = QueryPanel(self.runner)
            self._panel.retrieved.connect(self.retrieved)
            self._panel.problems.connect(self.problems)
            self.setWidget(self._panel)
        return self._panel

    def shutdown(self) -> None:
        """The window is closing: a retrieve or a search would hold it open."""
        if self._panel is not None:
            self._panel.shutdown()
