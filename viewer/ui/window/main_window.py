"""The main window: menus, toolbar, docks and the viewports, a frame around the parts that do the work.

The window's frame (menus, toolbar, empty docks) paints first; its contents
(the viewports, the study browser, opening, the Window box) are built right
after that first paint (:meth:`MainWindow.build_contents`), with what they
import (:mod:`viewer.ui.window.contents`), so the window shows at once. The menus,
the keyboard, the Window box and the docks act on the active viewport.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QWidget

from viewer.ui.window.central import ActiveViewport, CentralArea
from viewer.ui.window.file_dialogs import fill_recent_menu
from viewer.ui.window.settings_controller import SettingsController
from viewer.ui.window.settings_store import SettingsStore
from viewer.ui.window.window_docks import STRIP_WIDTH, TREE_WIDTH, build_docks
from viewer.ui.window.window_menus import build_menus
from viewer.ui.window.workers import BackgroundRunner

if TYPE_CHECKING:
    from viewer.core.display.view_state import DisplayState
    from viewer.core.media.model import Series
    from viewer.ui.browsing.query_panel import QueryPanel
    from viewer.ui.documents.tag_inspector import TagInspector
    from viewer.ui.viewport.viewport import Viewport


class MainWindow(QMainWindow):
    """One viewer window."""

    series_opened = Signal()  # an open (scan, media, files) has finished
    image_shown = Signal()
    inspector_filled = Signal()
    frames_found = Signal(object, int)  # an Instance, the frames its file holds (from any thread)

    pane = ActiveViewport()
    display = ActiveViewport()
    images = ActiveViewport()
    frame = ActiveViewport()
    current_series = ActiveViewport()
    automatic_window = ActiveViewport()
    slider = ActiveViewport()
    position_label = ActiveViewport()
    cine = ActiveViewport()
    cine_bar = ActiveViewport()
    effective_voi = ActiveViewport()
    go_to = ActiveViewport()
    step = ActiveViewport()
    show_series = ActiveViewport()
    toggle_invert = ActiveViewport()

    def __init__(self, parent: QWidget | None = None, *, deferred: bool = False):
        """The window; with `deferred`, only its frame (menus, docks, toolbar) until :meth:`build_contents`
        is called, which the app does after the first paint (opening paths builds them first in any case)."""
        super().__init__(parent)
        self.setWindowTitle("DICOM Viewer")
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.contents_built = False
        self.runner = BackgroundRunner(self)
        self.settings_store = SettingsStore()
        self.central = CentralArea()  # until the viewports are built, a black area with the same hint they show
        self.setCentralWidget(self.central)
        self.readout = QLabel("")
        self.statusBar().addPermanentWidget(self.readout)
        build_docks(self)
        build_menus(self)
        geometry, state = self.settings_store.window_layout()
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        if not deferred:
            self.build_contents()

    def build_contents(self) -> None:
        """Build the viewports, the browser and the controllers, and import what they need. Once."""
        if self.contents_built:
            return
        self.contents_built = True
        from viewer.ui.window import contents  # numpy, pydicom and the viewer's core: after the first paint

        self.settings = self.settings_store.load()
        overrides = self.settings.charset_overrides
        self.frame_source = contents.FrameSource(self.settings.cache_bytes, on_frames_found=self.frames_found.emit)
        self.opener = contents.OpenController(self.runner, self)
        self.opener.problems_found.connect(self.problems_dock.add)
        self.browser = contents.StudyBrowser(overrides)
        self.browser.cancel_requested.connect(self.opener.cancel)
        self.opener.progress.connect(self.browser.show_progress)
        self.browser_dock.setWidget(self.browser)
        self.browser.show_tree(self.settings_store.study_tree())  # the strip, unless the user widened it into the tree
        self.study_tree_action.setChecked(self.browser.tree_shown)
        self.browser.tree_shown_changed.connect(self._study_tree_shown)
        self.window_presets = contents.WindowPresets(self.preset_combo, lambda: self.settings.presets, lambda: self.viewport)
        self.viewports = contents.ViewportLayout(lambda: self._connect(contents.Viewport(self.frame_source, self.runner, overrides)))
        # A click, then the double-click's second click: the series shown stays as it is.
        self.browser.series_activated.connect(lambda series: series is not self.current_series and self.viewport.show_series(series))
        self.opening = contents.Opening(self.opener, self.browser, self.viewports, self.statusBar(), self.problems_dock)
        self.opening.opened.connect(self.series_opened)
        self.frames_found.connect(self.opening.frames_found)  # at once when found here, queued from a worker thread
        self.pipeline_dock.stages = lambda: self.viewport.pipeline_stages()
        self.query_dock.start()
        self.inspector_dock.start(lambda: self.viewport.current, overrides)
        self.media_watcher = contents.MediaWatcher(self, self.settings, self.settings_store)  # offers media inserted now
        self.central.show_contents(self.viewports, self.media_watcher.bar)
        self.settings_controller = SettingsController(self)
        from viewer.ui.documents import report_view
        from viewer.ui.sharing import deidentify_dialog, export_actions, media_writer, send_dialog
        from viewer.ui.tools import measure_tools
        from viewer.ui.viewport import layouts, presentation_layer

        layouts.install(self)  # the layout chooser, hanging, compare with prior
        presentation_layer.install(self)  # presentation states (#16)
        report_view.install(self)  # reports and key objects (#16)
        measure_tools.install(self)  # the measurement tools and the Measure menu (#15)
        export_actions.install(self)  # File > Export, the right-click menus, the clipboard (#17)
        send_dialog.install(self)  # File > Send to... (#17)
        deidentify_dialog.install(self)  # File > De-identify... and the browser's right-click menu (#17)
        media_writer.install(self)  # File > Write media (CD/DVD/USB folder) (#17)

    def _connect(self, viewport: Viewport) -> Viewport:
        self.image_toolbar.follow(viewport.pane)  # a left drag does what the chosen mouse tool says

        def if_active(slot):  # the docks, the Window box and the actions follow the active viewport only
            return lambda *args: slot(*args) if viewport is self.viewport else None

        viewport.image_shown.connect(if_active(self._image_shown))
        viewport.image_shown.connect(self.image_shown)
        viewport.image_failed.connect(lambda message: (self.problems_dock.add([message]), self.pipeline_dock.clear()))
        viewport.display.subscribe(if_active(self._display_changed))  # after the viewport's own listener
        viewport.automatic_window_found.connect(if_active(lambda: (self.window_presets.refresh(), self.pipeline_dock.refresh())))
        viewport.series_shown.connect(if_active(self.browser.select_series))
        viewport.status.connect(lambda text: self.statusBar().showMessage(text) if text else self.statusBar().clearMessage())
        viewport.readout.connect(self.readout.setText)
        return viewport

    @property
    def viewport(self) -> Viewport:
        """The active viewport."""
        return self.viewports.active

    @property
    def series(self) -> list[Series]:
        """Every series opened so far, in browser order."""
        return self.opener.catalog.all_series() if self.contents_built else []

    @property
    def query_panel(self) -> QueryPanel:
        """The Remote (PACS) panel; built, with the network code, on first use."""
        return self.query_dock.panel()

    @property
    def inspector(self) -> TagInspector:
        """The tag inspector; built when its dock is first shown (or on first use)."""
        return self.inspector_dock.inspector

    # ------------------------------------------------------------------ construction
    def _action(self, text: str, slot, shortcut=None, checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setCheckable(checkable)
        # A key pressed before the contents are built builds them first.
        action.triggered.connect(lambda *_args, call=slot: (self.build_contents(), call()))
        self.addAction(action)
        return action

    # ------------------------------------------------------------------ opening
    def open_paths(self, paths: list[str | Path]) -> None:
        """Read the headers at `paths` in the background; the first series found is shown (see :class:`~viewer.ui.browsing.opening.Opening`).

        Nothing is read here: a PDF, CDA or ECG named opens in its own window once the scan has listed it (report_view).
        """
        self.build_contents()
        self.settings_store.remember_recent([str(p) for p in paths])
        if paths:
            self.opening.open(paths)

    def close_all(self) -> None:
        self.opening.close_all()
        self.frame_source.clear()
        self.pipeline_dock.clear()

    def _fill_recent_menu(self) -> None:
        fill_recent_menu(self.recent_menu, self.settings_store.recent(), self.open_paths)

    def _image_shown(self) -> None:
        self.window_presets.refresh()
        # The inspector's rows, and the pipeline's rich text during a cine, once the images pause:
        # Python work that would take turns with the images.
        self.inspector_dock.schedule()
        if self.cine.playing:
            self.pipeline_dock.schedule()
        else:
            self.pipeline_dock.refresh()

    def _display_changed(self, state: DisplayState, changed: set[str]) -> None:
        self.invert_action.setChecked(state.invert)
        self.annotations_action.setChecked(state.annotations)
        if "index" not in changed and changed & {"voi", "invert"} and self.frame is not None:
            # The dock's rich text is costly to lay out: once the mouse pauses, not on every drag step.
            self.pipeline_dock.schedule()
            self.window_presets.sync()

    def choose_preset(self, name: str) -> None:
        """Apply the window whose label in the Window box starts with `name` (for tests and scripts)."""
        self.window_presets.choose(name)

    # ------------------------------------------------------------------ about, drag and drop, closing
    def show_keys(self) -> None:
        """Help > Keyboard and mouse: every binding, read from the window's actions."""
        from viewer.ui.window.keys_dialog import KeysDialog

        KeysDialog(self).exec()

    def _study_tree_shown(self, shown: bool) -> None:
        """The Studies dock shows the full tree (wide) or the series strip (narrow); kept for the next start."""
        self.study_tree_action.setChecked(shown)
        self.settings_store.save_study_tree(shown)
        self.resizeDocks([self.browser_dock], [TREE_WIDTH if shown else STRIP_WIDTH], Qt.Orientation.Horizontal)

    def show_about(self) -> None:
        from viewer.ui.window.dialogs import AboutDialog

        AboutDialog(self).exec()

    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def closeEvent(self, event):
        self.inspector_dock.stop()
        self.pipeline_dock.stop()
        if self.contents_built:  # empty docks would be saved with no size
            self.settings_store.save_window_layout(self.saveGeometry(), self.saveState())
            for viewport in self.viewports:
                viewport.cine.stop()
                viewport.stop_prefetch()
            self.opener.cancel()
            self.query_dock.shutdown()  # a retrieve or search would hold the window open
        self.runner.shutdown()
        super().closeEvent(event)
