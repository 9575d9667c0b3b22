"""View > MPR (key M): the active viewport's series as a volume in three planes, and back.

Light on purpose (only Qt): the window installs it while its frame is built
(:meth:`MainWindow._build_actions <viewer.ui.window.main_window.MainWindow._build_actions>`);
the workspace, with numpy and pyqtgraph, is imported on first use.

Entering puts a :class:`~viewer.ui.viewport.mpr_workspace.MprWorkspace` where the
viewports are (they are hidden, not closed: their series, window and zoom
are there again on the way back) and starts building the volume; leaving
(Escape, the action again, the Back button, or another series shown in the
viewport: then the workspace is built again for it) cancels the build and
lets go of the volume. MPR asked for while the series' files are still being
read is built again once the open has finished, with all of them. Closing the window leaves first, so no build runs on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

if TYPE_CHECKING:
    from viewer.ui.viewport.mpr_workspace import MprWorkspace
    from viewer.ui.viewport.viewport import Viewport
    from viewer.ui.window.main_window import MainWindow

#: The action's key: free in the window (F, 1, I, R, A and the arrows, Page, Home, End and Space are taken).
MPR_KEY = "M"


class MprMode(QObject):
    """The MPR action of a window and the workspace it opens (at most one)."""

    def __init__(self, window: MainWindow, menu: QMenu):
        super().__init__(window)
        self.window = window
        self.workspace: MprWorkspace | None = None
        self._listening: set[int] = set()  # the viewports whose window changes reach the workspace
        self._viewport: Viewport | None = None
        self._focus: QWidget | None = None  # where the keys went before: they go there again on the way back
        self.action = QAction("&MPR (axial, coronal, sagittal)", window)
        self.action.setShortcut(QKeySequence(MPR_KEY))
        self.action.setCheckable(True)
        self.action.setToolTip("Reformat the active viewport's series in three planes with a crosshair (M; Esc returns)")
        self.action.triggered.connect(lambda _checked: self.toggle())
        window.addAction(self.action)
        menu.addSeparator()
        menu.addAction(self.action)
        window.installEventFilter(self)
        window.series_opened.connect(self._opened)

    @property
    def active(self) -> bool:
        return self.workspace is not None

    def toggle(self) -> None:
        if self.workspace is None:
            self.enter()
        else:
            self.leave()

    def enter(self) -> None:
        """Show the active viewport's series in the MPR workspace (a status message when none is shown)."""
        if self.workspace is not None:
            return
        window = self.window
        window.build_contents()
        viewport = window.viewport
        series = viewport.current_series
        if series is None:
            self.action.setChecked(False)
            window.statusBar().showMessage("MPR: show a series first (File > Open)", 5000)
            return
        from viewer.ui.viewport.mpr_workspace import MprWorkspace, listen

        if id(viewport) not in self._listening:
            self._listening.add(id(viewport))
            listen(viewport, lambda: self.workspace)
        self._focus = window.focusWidget()
        workspace = MprWorkspace(window.runner, series, viewport)
        workspace.leave_requested.connect(self.leave)
        workspace.readout.connect(window.readout.setText)
        layout = window.viewports.parentWidget().layout()
        layout.insertWidget(layout.indexOf(window.viewports), workspace, 1)
        window.viewports.hide()
        self.workspace = workspace
        self._viewport = viewport
        viewport.series_shown.connect(self._series_shown)
        self.action.setChecked(True)
        workspace.setFocus()
        workspace.start()

    def leave(self) -> None:
        """Back to the viewports; the build (if any) is cancelled."""
        workspace, self.workspace = self.workspace, None
        self.action.setChecked(False)
        if workspace is None:
            return
        if self._viewport is not None:
            self._viewport.series_shown.disconnect(self._series_shown)
            self._viewport = None
        workspace.stop()
        workspace.hide()
        workspace.parentWidget().layout().removeWidget(workspace)
        workspace.deleteLater()
        self.window.viewports.show()
        self.window.readout.setText("")
        focus, self._focus = self._focus, None
        (focus if focus is not None and focus.isVisible() else self.window.viewports).setFocus()

    def _opened(self) -> None:
        """An open has finished: if it brought more images of the series reformatted (MPR asked for while its
        files were still being read), the workspace is built again with all of them."""
        workspace = self.workspace
        if workspace is not None and workspace.series.image_count != workspace.image_count:
            self.leave()
            self.enter()

    def _series_shown(self, _series) -> None:
        """Another series in the viewport (a click in the browser): the workspace shows it instead."""
        self.leave()
        self.enter()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.leave()  # before the window waits for its background work: the build stops now
        return False


def install(window: MainWindow, menu: QMenu) -> MprMode:
    """Add View > MPR to `window` (in `menu`)."""
    return MprMode(window, menu)
