"""The window's docks: the Studies browser and the Remote (PACS) panel on the left, the Display pipeline and
the Tags on the right (on demand), the Problems at the bottom; empty until the window's contents are built
(a saved layout needs them at once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

from viewer.ui.browsing.query_dock import QueryDock
from viewer.ui.documents.inspector_dock import InspectorDock
from viewer.ui.documents.pipeline_dock import PipelineDock
from viewer.ui.documents.problems_dock import ProblemsDock

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow

#: The Studies dock's width with the series strip (its default view), and with the full study tree.
STRIP_WIDTH = 250
TREE_WIDTH = 480


def build_docks(window: MainWindow) -> None:
    """Add the docks to `window`, each kept as its attribute (``browser_dock``, ``query_dock``, ...)."""
    left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
    window.browser_dock = QDockWidget("Studies", window)
    window.browser_dock.setObjectName("browser_dock")
    window.addDockWidget(left, window.browser_dock)
    window.resizeDocks([window.browser_dock], [STRIP_WIDTH], Qt.Orientation.Horizontal)
    window.query_dock = QueryDock(window.runner, window)
    window.query_dock.retrieved.connect(lambda folders: window.open_paths(folders))
    window.query_dock.problems.connect(lambda problems: window.problems_dock.add(problems))
    window.addDockWidget(left, window.query_dock)
    window.tabifyDockWidget(window.browser_dock, window.query_dock)
    window.browser_dock.raise_()
    window.resizeDocks([window.browser_dock, window.query_dock], [STRIP_WIDTH, STRIP_WIDTH], Qt.Orientation.Horizontal)
    window.pipeline_dock = PipelineDock(window)
    window.pipeline_label = window.pipeline_dock.label
    window.addDockWidget(right, window.pipeline_dock)
    window.inspector_dock = InspectorDock(window.runner, window)
    window.inspector_dock.filled.connect(window.inspector_filled)
    window.inspector_dock.override_requested.connect(lambda *choice: window.settings_controller.set_charset_override(*choice))
    window.addDockWidget(right, window.inspector_dock)
    window.tabifyDockWidget(window.pipeline_dock, window.inspector_dock)
    window.pipeline_dock.raise_()
    window.resizeDocks([window.inspector_dock], [440], Qt.Orientation.Horizontal)
    window.problems_dock = ProblemsDock(window)
    window.problems = window.problems_dock.problems  # every problem so far, in order
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, window.problems_dock)
    window.problems_dock.hide()
    # On demand (View menu or their keys), not at first start: the image gets the width. A saved layout may show them.
    window.pipeline_dock.hide()
    window.inspector_dock.hide()
