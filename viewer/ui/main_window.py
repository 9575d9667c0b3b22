"""The main window: the rendering pane in the middle, docks around it.

Later issues add the study browser, the tag inspector and the query panel
as docks. The window holds the series being shown and a
:class:`~viewer.core.display.view_state.DisplayModel`; the pane and the controls
follow that model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QMainWindow,
    QMenu,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from viewer.core.runtime.tasks import CancelToken
from viewer.ui.workers import BackgroundRunner

if TYPE_CHECKING:
    from viewer.core.display.pixels.pipeline import VOI, FrameDisplay, Window
    from viewer.core.display.view_state import DisplayState
    from viewer.core.media.model import ImageRef, Series
    from viewer.core.media.scan import ScanProgress
    from viewer.ui.query_panel import QueryPanel
    from viewer.ui.tag_inspector import TagInspector


def _import_contents() -> None:
    """Import what the window's contents are made of, binding the names here.

    They pull in numpy and pydicom (pydicom's decoder plugins wait until a
    frame needs one: viewer.core.display.pixels.plugins): about 0.2 s. The app
    imports them after the window's first paint (:meth:`MainWindow.build_contents`),
    so the window shows at once; benchmarks/bench_startup.py fails if a
    decoder is loaded before the window, or before an uncompressed first image.
    The query panel (and the network code) and the tag inspector are imported
    when first shown, pyqtgraph after the first image (viewer.ui.image_view).
    """
    global ViewFacts, corner_annotations, pipeline_stages
    global DEFAULT_CACHE_BYTES, FrameStore, frame_with_time_limit, is_compressed, prefetch, prefetch_in_processes, series_window
    global process_pool, ViewerError, ImageRef, Series, model_text, ScanProgress, series_thumbnail
    global VOI, FrameDisplay, FullRange, Window, describe_voi, file_voi_luts, file_windows, full_modality_range, modality_unit
    global is_hounsfield, percentile_window, presets_for, DisplayModel, DisplayState, charset
    global StudyBrowser, CineBar, CineController, ImagePane, OpenController
    from viewer.core.dicom import charset
    from viewer.core.dicom.io import ViewerError
    from viewer.core.display.annotations import ViewFacts, corner_annotations, pipeline_stages
    from viewer.core.display.frames import (
        DEFAULT_CACHE_BYTES,
        FrameStore,
        frame_with_time_limit,
        is_compressed,
        prefetch,
        prefetch_in_processes,
        series_window,
    )
    from viewer.core.display.pixels.auto_window import percentile_window
    from viewer.core.display.pixels.pipeline import (
        VOI,
        FrameDisplay,
        FullRange,
        Window,
        describe_voi,
        file_voi_luts,
        file_windows,
        full_modality_range,
        is_hounsfield,
        modality_unit,
    )
    from viewer.core.display.pixels.presets import presets_for
    from viewer.core.display.thumbnails import series_thumbnail
    from viewer.core.display.view_state import DisplayModel, DisplayState
    from viewer.core.media.model import ImageRef, Series
    from viewer.core.media.model import text as model_text
    from viewer.core.media.scan import ScanProgress
    from viewer.core.runtime.processes import process_pool
    from viewer.ui.browser import StudyBrowser
    from viewer.ui.cine import CineBar, CineController
    from viewer.ui.image_view import ImagePane
    from viewer.ui.loader import OpenController


#: Window change per screen pixel dragged, as a fraction of the image's value range.
DRAG_SENSITIVITY = 1.0 / 1024
START_HINT = "Open a DICOM file or folder (File > Open, or drop it here)"
MAX_RECENT = 10


def settings() -> QSettings:
    """The app's settings (per user; the platform's usual place)."""
    return QSettings("dicom-viewer", "dicom-viewer")


class MainWindow(QMainWindow):
    """One viewer window."""

    series_opened = Signal()  # an open (scan, media, files) has finished
    image_shown = Signal()
    inspector_filled = Signal()

    def __init__(self, parent: QWidget | None = None, *, deferred: bool = False):
        """The window; with `deferred`, only its frame (menus, docks, toolbar)
        until :meth:`build_contents` is called, which the app does after the
        first paint. Opening paths builds the contents first in any case."""
        super().__init__(parent)
        self.setWindowTitle("DICOM Viewer")
        self.resize(1440, 900)
        self.setAcceptDrops(True)
        self.contents_built = False
        self.current_series: Series | None = None
        self.images: list[ImageRef] = []
        self.frame: FrameDisplay | None = None
        # The series' automatic window (viewer.core.display.pixels.auto_window): asked
        # for once per series shown, computed in the background, kept.
        self.automatic_window: Window | None = None
        self._automatic_for: Series | None = None
        self._automatic_pending = False
        self._waiting_for_automatic: bool | None = None  # the `fit` of an image waiting for it
        self.problems: list[str] = []
        self.runner = BackgroundRunner(self)
        self._prefetch_cancel = CancelToken()

        # Until the pane is built, a black area with the same hint it shows.
        self._central_column = QVBoxLayout()
        self._central_column.setContentsMargins(0, 0, 0, 0)
        self._central_column.setSpacing(0)
        self._startup_hint = QLabel(START_HINT)
        self._startup_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._startup_hint.setStyleSheet("background: black; color: #c8c8c8;")
        self._central_column.addWidget(self._startup_hint, 1)
        central = QWidget()
        central.setLayout(self._central_column)
        self.setCentralWidget(central)

        self.readout = QLabel("")
        self.statusBar().addPermanentWidget(self.readout)

        self._build_docks()
        self._build_actions()
        self._restore_layout()
        if not deferred:
            self.build_contents()

    def build_contents(self) -> None:
        """Build the pane, browser and cine controls (and import what they
        need: see :func:`_import_contents`). Once. The query panel and the tag
        inspector, whose docks are behind others at first, are built when
        their docks are first shown (:attr:`query_panel`, :attr:`inspector`)."""
        if self.contents_built:
            return
        self.contents_built = True
        _import_contents()
        cache_mb = int(settings().value("cache_mb", DEFAULT_CACHE_BYTES // (1024 * 1024)))
        self.store = FrameStore(max_bytes=max(64, cache_mb) * 1024 * 1024)
        self.opener = OpenController(self.runner, self)
        self.opener.series_changed.connect(self._series_changed)
        self.opener.problems_found.connect(self._add_problems)
        self.opener.finished.connect(self._open_finished)
        self.display = DisplayModel()
        self.display.subscribe(self._state_changed)
        self._show_first_found = False
        self._requested_files: set[str] = set()
        self._thumbnails_waiting: dict[str, Series] = {}
        load_charset_overrides()
        load_presets()

        self.pane = ImagePane()
        self.pane.window_dragged.connect(self._window_dragged)
        self.pane.step_requested.connect(self.step)
        self.pane.cursor_moved.connect(self._cursor_moved)
        self.pane.view_changed.connect(self._update_annotations)

        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimum(0)
        self.slider.valueChanged.connect(lambda value: self.display.update(index=value))
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.position_label = QLabel("")
        bottom = QHBoxLayout()
        bottom.setContentsMargins(6, 2, 6, 2)
        self.cine = CineController(self)
        self.cine_bar = CineBar(self.cine)
        self.cine.playing_changed.connect(lambda _playing: self._update_annotations())
        bottom.addWidget(self.cine_bar)
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.position_label)
        self._central_column.removeWidget(self._startup_hint)
        self._startup_hint.deleteLater()
        self._central_column.addWidget(self.pane, 1)
        self._central_column.addLayout(bottom)

        self.browser = StudyBrowser()
        self.browser.series_activated.connect(self.show_series)
        self.browser.cancel_requested.connect(self.opener.cancel)
        self.opener.progress.connect(self.browser.show_progress)
        self.browser_dock.setWidget(self.browser)

        self.query_dock.visibilityChanged.connect(lambda visible: visible and self._build_query_panel())
        self.inspector_dock.visibilityChanged.connect(lambda visible: visible and self._refresh_inspector(force=True))
        # A dock behind another's tab is "visible" to Qt, but shows nothing.
        if not self.query_dock.visibleRegion().isEmpty():  # a saved layout put it in front
            self._build_query_panel()
        if not self.inspector_dock.visibleRegion().isEmpty():
            self.inspector.clear()
        self._show_placeholder(START_HINT)

        from viewer.ui.media_watch import MediaWatcher  # offers a CD/DVD or USB drive with DICOMDIR inserted now

        self.media_watcher = MediaWatcher(self)
        self._central_column.insertWidget(0, self.media_watcher.bar)  # the offer: a bar above the image

    @property
    def query_panel(self) -> QueryPanel:
        """The Remote (PACS) panel; built, with the network code, on first use."""
        return self._build_query_panel()

    def _build_query_panel(self) -> QueryPanel:
        if self._query_panel is None:
            from viewer.ui.query_panel import QueryPanel

            self._query_panel = QueryPanel(self.runner)
            self._query_panel.retrieved.connect(lambda folders: self.open_paths(folders))
            self._query_panel.problems.connect(self._add_problems)
            self.query_dock.setWidget(self._query_panel)
        return self._query_panel

    @property
    def inspector(self) -> TagInspector:
        """The tag inspector; built when its dock is first shown (or on first use)."""
        if self._inspector is None:
            from viewer.ui.tag_inspector import TagInspector

            self._inspector = TagInspector()
            self._inspector.override_requested.connect(self.set_charset_override)
            self.inspector_dock.setWidget(self._inspector)
        return self._inspector

    # ------------------------------------------------------------------ construction
    @property
    def series(self) -> list[Series]:
        """Every series opened so far, in browser order."""
        return self.opener.catalog.all_series() if self.contents_built else []

    def _build_docks(self) -> None:
        """The docks, empty until :meth:`build_contents` fills them (saved layouts need them now)."""
        self._query_panel: QueryPanel | None = None
        self._inspector: TagInspector | None = None
        self.browser_dock = QDockWidget("Studies", self)
        self.browser_dock.setObjectName("browser_dock")
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.browser_dock)
        self.resizeDocks([self.browser_dock], [420], Qt.Orientation.Horizontal)

        self.query_dock = QDockWidget("Remote (PACS)", self)
        self.query_dock.setObjectName("query_dock")
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.query_dock)
        self.tabifyDockWidget(self.browser_dock, self.query_dock)
        self.browser_dock.raise_()
        self.resizeDocks([self.browser_dock, self.query_dock], [400, 400], Qt.Orientation.Horizontal)

        self.pipeline_label = QLabel()
        self.pipeline_label.setTextFormat(Qt.TextFormat.RichText)
        self.pipeline_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.pipeline_label.setWordWrap(True)
        self.pipeline_label.setMargin(6)
        self.pipeline_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._pipeline_timer = QTimer(self)
        self._pipeline_timer.setSingleShot(True)
        self._pipeline_timer.setInterval(120)
        self._pipeline_timer.timeout.connect(self._update_pipeline)
        self.pipeline_dock = QDockWidget("Display pipeline", self)
        self.pipeline_dock.setObjectName("pipeline_dock")
        self.pipeline_dock.setWidget(self.pipeline_label)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.pipeline_dock)

        self.inspector_dock = QDockWidget("Tags", self)
        self.inspector_dock.setObjectName("inspector_dock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector_dock)
        self.tabifyDockWidget(self.pipeline_dock, self.inspector_dock)
        self.pipeline_dock.raise_()
        self.resizeDocks([self.inspector_dock], [440], Qt.Orientation.Horizontal)
        self._inspected_path = None
        self._inspector_timer = QTimer(self)
        self._inspector_timer.setSingleShot(True)
        self._inspector_timer.setInterval(250)
        self._inspector_timer.timeout.connect(lambda: self._refresh_inspector())

        self.problem_list = QListWidget()
        self.problem_dock = QDockWidget("Problems", self)
        self.problem_dock.setObjectName("problem_dock")
        self.problem_dock.setWidget(self.problem_list)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.problem_dock)
        self.problem_dock.hide()

    def _action(self, text: str, slot, shortcut=None, checkable=False) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcuts(shortcut if isinstance(shortcut, list) else [QKeySequence(shortcut)])
        action.setCheckable(checkable)
        # A key pressed before the contents are built builds them first.
        action.triggered.connect(lambda *_args, call=slot: (self.build_contents(), call()))
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self._action("&Open files...", self.choose_files, QKeySequence.StandardKey.Open))
        file_menu.addAction(self._action("Open &folder or media...", self.choose_folder, "Ctrl+Shift+O"))
        file_menu.addAction(self._action("Open &DICOMDIR...", self.choose_dicomdir, "Ctrl+D"))
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Close all", self.close_all))
        file_menu.addAction(self._action("&Memory for images...", self.choose_cache_size))
        file_menu.addSeparator()
        file_menu.addAction(self._action("&Quit", self.close, QKeySequence.StandardKey.Quit))

        edit_menu = menu.addMenu("&Edit")
        edit_menu.addAction(self._action("&Settings...", self.show_settings, QKeySequence.StandardKey.Preferences))

        view_menu = menu.addMenu("&View")
        self.fit_action = self._action("&Fit to window", lambda: self.pane.fit(), "F")
        self.one_to_one_action = self._action("&1:1 pixels", lambda: self.pane.set_zoom(1.0), "1")
        self.invert_action = self._action("&Invert", self.toggle_invert, "I", checkable=True)
        self.reset_action = self._action("&Reset window and zoom", self.reset, "R")
        self.annotations_action = self._action("&Annotations", self.toggle_annotations, "A", checkable=True)
        self.annotations_action.setChecked(True)
        for action in (self.fit_action, self.one_to_one_action, self.invert_action, self.reset_action, self.annotations_action):
            view_menu.addAction(action)
        view_menu.addSeparator()
        view_menu.addAction(self.browser_dock.toggleViewAction())
        view_menu.addAction(self.query_dock.toggleViewAction())
        view_menu.addAction(self.pipeline_dock.toggleViewAction())
        view_menu.addAction(self.inspector_dock.toggleViewAction())
        view_menu.addAction(self.problem_dock.toggleViewAction())

        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self._action("&About DICOM Viewer", self.show_about))

        self._action("Next image", lambda: self.step(1), [QKeySequence(Qt.Key.Key_Down), QKeySequence(Qt.Key.Key_Right)])
        self._action("Previous image", lambda: self.step(-1), [QKeySequence(Qt.Key.Key_Up), QKeySequence(Qt.Key.Key_Left)])
        self._action("Ten images on", lambda: self.step(10), QKeySequence(Qt.Key.Key_PageDown))
        self._action("Ten images back", lambda: self.step(-10), QKeySequence(Qt.Key.Key_PageUp))
        self._action("First image", lambda: self.go_to(0), QKeySequence(Qt.Key.Key_Home))
        self.play_action = self._action("Play / pause cine", lambda: self.cine.toggle(), QKeySequence(Qt.Key.Key_Space))
        self._action("Last image", lambda: self.go_to(len(self.images) - 1), QKeySequence(Qt.Key.Key_End))

        toolbar = self.addToolBar("Image")
        toolbar.setObjectName("image_toolbar")
        toolbar.addWidget(QLabel(" Window "))
        self.preset_combo = QComboBox()
        self.preset_combo.setMinimumWidth(220)
        self.preset_combo.activated.connect(self._preset_chosen)
        toolbar.addWidget(self.preset_combo)
        toolbar.addSeparator()
        for action in (self.invert_action, self.reset_action, self.fit_action, self.one_to_one_action, self.annotations_action):
            toolbar.addAction(action)

    # ------------------------------------------------------------------ opening
    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open DICOM files")
        if files:
            self.open_paths(files)

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder or CD/DVD/USB media")
        if folder:
            self.open_paths([folder])

    def choose_dicomdir(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a DICOMDIR", "", "DICOMDIR (DICOMDIR dicomdir);;All files (*)")
        if path:
            self.open_paths([path])

    def open_paths(self, paths: list[str | Path]) -> None:
        """Read the headers at `paths` in the background; the browser fills as they come.

        The first series found is shown at once, unless the user picks one first.
        """
        self.build_contents()
        paths = [str(p) for p in paths]
        self._remember_recent(paths)
        self.statusBar().showMessage(f"Reading {_count(len(paths), 'location')}...")
        self._show_first_found = True
        # A file named explicitly is the image the user wants to see first.
        self._requested_files = {str(Path(p).resolve()) for p in paths if Path(p).is_file()}
        self.opener.open(paths)

    def close_all(self) -> None:
        self.opener.clear()
        self.browser.clear()
        self._prefetch_cancel.cancel()
        self.current_series = None
        self.images = []
        self.frame = None
        self._forget_automatic_window()
        self.store.clear()
        self.pane.set_annotations(None)
        self.pipeline_label.setText("")
        self._show_placeholder(START_HINT)

    def _series_changed(self, changed: list[Series]) -> None:
        self.browser.update_series(self.opener.catalog, changed)
        for series in changed:
            self._request_thumbnail(series)
        first = next((s for s in changed if s.image_count), None) if self._show_first_found else None
        if first is not None:
            wanted = None
            if self._requested_files:
                # By name first: resolving the path of each of 5,000 images costs 0.2 s.
                names = {Path(p).name for p in self._requested_files}
                wanted = next(
                    (
                        ref
                        for s in changed
                        for ref in s.images
                        if ref.instance.path is not None
                        and ref.instance.path.name in names
                        and str(ref.instance.path.resolve()) in self._requested_files
                    ),
                    None,
                )
            if wanted is not None:
                first = next(s for s in changed if wanted.instance in s.instances)
            self.show_series(first, wanted)
        elif self.current_series is not None and self.current_series in changed:
            self._refresh_current_series()

    def _open_finished(self, progress: ScanProgress) -> None:
        catalog = self.opener.catalog
        self.statusBar().showMessage(
            f"{_count(len(catalog.series), 'series')}, {_count(progress.images_found, 'image file')}"
            + (f", {_count(progress.skipped, 'other file')} skipped" if progress.skipped else "")
            + (" (cancelled)" if progress.cancelled else ""),
            8000,
        )
        if self.current_series is None:
            if self.problems and not catalog.series:
                self._show_placeholder(self.problems[-1])
            elif not catalog.series:
                self._show_placeholder("No DICOM images found there.")
        waiting, self._thumbnails_waiting = self._thumbnails_waiting, {}
        for series in waiting.values():
            self._request_thumbnail(series)
        self.series_opened.emit()

    def _request_thumbnail(self, series: Series) -> None:
        if getattr(series, "_thumbnail_requested", False) or not series.image_count:
            return
        if self.opener.busy:
            # Not while the scan runs: decoding thumbnails would compete with it.
            self._thumbnails_waiting[series.uid] = series
            return
        series._thumbnail_requested = True
        self.runner.submit(
            f"thumbnail:{series.uid}",
            lambda: series_thumbnail(series),
            lambda pixels: self.browser.set_thumbnail(series, pixels),
            lambda _error: None,
        )

    def _remember_recent(self, paths: list[str]) -> None:
        store = settings()
        recent = [p for p in (store.value("recent", []) or []) if p not in paths]
        store.setValue("recent", (paths + recent)[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = settings().value("recent", []) or []
        if isinstance(recent, str):
            recent = [recent]
        for path in recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _checked=False, p=path: self.open_paths([p]))
        if not recent:
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    def choose_cache_size(self) -> None:
        current = self.store.max_bytes // (1024 * 1024)
        value, ok = QInputDialog.getInt(self, "Memory for images", "Decoded images kept in memory (MB):", current, 64, 65536, 64)
        if ok:
            self.store.max_bytes = value * 1024 * 1024
            settings().setValue("cache_mb", value)

    def _add_problems(self, problems: list[str]) -> None:
        if not problems:
            return
        self.problems.extend(problems)
        self.problem_list.addItems(problems)
        self.problem_dock.show()

    # ------------------------------------------------------------------ series and images
    def show_series(self, series: Series, start: ImageRef | None = None) -> None:
        """Show `series` at image `start`, or at its first image (the middle one
        for CT/MR/PET stacks), at once; the rest loads in the background."""
        self._prefetch_cancel.cancel()
        self._show_first_found = False
        self._requested_files: set[str] = set()
        self.current_series = series
        self.images = series.images
        self.cine.series_changed()
        self.browser.select_series(series)
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, len(self.images) - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.frame = None
        self._forget_automatic_window()
        if not self.images:
            self._show_placeholder(f"No image of this series can be opened ({series.missing_count} missing).")
            return
        if start is not None and start in self.images:
            index = self.images.index(start)
        else:
            index = len(self.images) // 2 if len(self.images) > 1 and series.modality in ("CT", "MR", "PT") else 0
        self.display.state = DisplayState(index=index, annotations=self.display.state.annotations)
        self.invert_action.setChecked(False)
        self._show_current(fit=True)

    def _refresh_current_series(self) -> None:
        """More images of the series shown arrived: keep the image shown, update the rest."""
        assert self.current_series is not None
        shown = self.images[self.display.state.index] if self.images else None
        self.images = self.current_series.images
        self.slider.blockSignals(True)
        self.slider.setMaximum(max(0, len(self.images) - 1))
        self.slider.blockSignals(False)
        if shown is None:
            self.show_series(self.current_series)
            return
        index = next((i for i, ref in enumerate(self.images) if ref == shown), 0)
        self.display.state = DisplayState(index, self.display.state.voi, self.display.state.invert, self.display.state.annotations)
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.position_label.setText(f"{index + 1} / {len(self.images)}")
        self._update_annotations()
        self._prefetch(index)

    def step(self, delta: int) -> None:
        if self.images:
            self.go_to(self.display.state.index + delta)

    def go_to(self, index: int) -> None:
        if self.images:
            self.display.update(index=max(0, min(len(self.images) - 1, index)))

    def _show_current(self, fit: bool = False) -> None:
        state = self.display.state
        if not self.images:
            return
        ref = self.images[state.index]
        self.slider.blockSignals(True)
        self.slider.setValue(state.index)
        self.slider.blockSignals(False)
        self.position_label.setText(f"{state.index + 1} / {len(self.images)}")
        if not self.store.cached(ref) and self._decode_is_work(ref):
            self._decode_in_background(ref, fit)
            return
        try:
            frame = self.store.frame(ref)
        except ViewerError as exc:
            self.frame = None
            self.pane.show_message(str(exc))
            self._add_problems([str(exc)])
            self.pipeline_label.setText("")
            self.pane.set_annotations(None)
            return
        if self._waits_for_automatic_window(frame, fit):
            return  # shown as soon as the series' window is known: no jump in brightness
        self.frame = frame
        if self.current_series is not None and self.current_series.image_count != len(self.images):
            # The file holds more frames than its media record said.
            self._refresh_current_series()
        # One repaint for the new image and its corner text, not one each.
        self.pane.setUpdatesEnabled(False)
        try:
            self.pane.show_frame(self.frame, self.effective_voi(), state.invert, fit=fit)
            self._refresh_presets()
            self._update_annotations()
        finally:
            self.pane.setUpdatesEnabled(True)
        # Not on every image while scrolling or playing: building the rows of a
        # big header is Python work that would take turns with the scroll.
        self._inspector_timer.start()
        if self.cine.playing:
            self._pipeline_timer.start()  # no rich-text layout on every cine frame
        else:
            self._update_pipeline()
            self._prefetch(state.index)  # while playing, the cine keeps ahead itself
        self.image_shown.emit()

    def _forget_automatic_window(self) -> None:
        self.automatic_window = None
        self._automatic_for = None
        self._automatic_pending = False
        self._waiting_for_automatic = None

    def _waits_for_automatic_window(self, frame: FrameDisplay, fit: bool) -> bool:
        """Ask for the series' automatic window once; True if `frame` must wait for it.

        It waits when it would be shown with that window (no window in its
        file, not a CT in HU, no window chosen by the user) and the window
        is still being computed (the middle image may need decoding).
        """
        if frame.is_color or self.current_series is None:
            return False
        if self._automatic_for is not self.current_series:
            self._compute_automatic_window()
        if self._automatic_pending and self.display.state.voi is None and frame.uses_automatic_window():
            self._waiting_for_automatic = bool(fit or self._waiting_for_automatic)
            self.statusBar().showMessage("Computing the series' automatic window...")
            return True
        return False

    def _compute_automatic_window(self) -> None:
        """The series' automatic window, in the background (the newest series wins)."""
        series, images, store = self.current_series, list(self.images), self.store
        self._automatic_for = series
        self._automatic_pending = True

        def decode(ref: ImageRef) -> FrameDisplay:
            # As for the image shown: compressed frames in a worker process, with a time limit.
            return frame_with_time_limit(store, ref) if is_compressed(ref.instance.header) else store.frame(ref)

        def failed(_error) -> None:
            if series is not self.current_series:
                return
            # The middle image cannot be read (the pane says why when it is shown):
            # the percentiles of the image asked for, decoded already, else each frame's min-max.
            index = self.display.state.index
            ref = self.images[index] if index < len(self.images) else None
            done(percentile_window(store.frame(ref), index + 1) if ref is not None and store.cached(ref) else None)

        def done(window: Window | None) -> None:
            if series is not self.current_series:
                return
            self.automatic_window = window
            self._automatic_pending = False
            fit, self._waiting_for_automatic = self._waiting_for_automatic, None
            if fit is not None:
                self.statusBar().clearMessage()
                self._show_current(fit=fit)
            elif self.frame is not None:
                # Shown meanwhile with the file's window, a preset or soft tissue (or, after a
                # reset while this was computed, its own min-max): now the box offers it too.
                self.pane.set_display(self.effective_voi(), self.display.state.invert)
                self._refresh_presets()
                self._update_annotations()
                self._update_pipeline()

        self.runner.submit("series-window", lambda: series_window(store, images, decode), done, failed)

    def _decode_is_work(self, ref: ImageRef) -> bool:
        """Compressed (or deflated) pixels: decode away from the GUI thread, with a time limit."""
        header = ref.instance.header
        if getattr(header, "file_meta", None) is None:
            try:
                header = self.store.header(ref.instance.path)
            except ViewerError:
                return False
        meta = header.file_meta
        syntax = str(meta.get("TransferSyntaxUID", "") if meta is not None else "").rstrip("\x00 ")
        return is_compressed(header) or syntax == "1.2.840.10008.1.2.1.99"

    def _decode_in_background(self, ref: ImageRef, fit: bool) -> None:
        self.statusBar().showMessage(f"Decoding image {self.display.state.index + 1}...")
        store = self.store

        def shown_still() -> bool:
            return bool(self.images) and self.images[self.display.state.index] == ref

        def done(_frame) -> None:
            if shown_still():
                self.statusBar().clearMessage()
                self._show_current(fit=fit)  # now in the cache: shown at once

        def failed(error) -> None:
            if not shown_still():
                return
            message = str(error) if isinstance(error, ViewerError) else f"cannot decode: {error}"
            self.frame = None
            self.pane.show_message(message)
            self._add_problems([message])
            self.pipeline_label.setText("")
            self.pane.set_annotations(None)

        self.runner.submit("decode-current", lambda: frame_with_time_limit(store, ref), done, failed)

    def _prefetch(self, index: int) -> None:
        """Decode the rest of the series in the background, nearest first.

        A newer request (another image, another series) cancels this one.
        """
        self._prefetch_cancel.cancel()
        cancel = self._prefetch_cancel = CancelToken()
        store, images = self.store, list(self.images)
        if len(images) > 2 and is_compressed(images[index].instance.header):
            # Decoders hold the GIL: compressed series decode in worker processes.
            def task():
                pool = process_pool()
                if pool is None:
                    return prefetch(store, images, index, cancel)
                return prefetch_in_processes(store, images, index, cancel, pool)
        else:

            def task():
                return prefetch(store, images, index, cancel)

        self.runner.submit("prefetch", task, lambda _n: None, lambda _e: None)

    # ------------------------------------------------------------------ display state
    def effective_voi(self) -> VOI:
        """The VOI in force: the user's or a preset, else the image's own
        (its file's; with none, the series' automatic window, or soft tissue for CT in HU)."""
        if self.display.state.voi is not None:
            return self.display.state.voi
        return self.frame.default_voi(self.automatic_window) if self.frame is not None else FullRange()

    def _state_changed(self, state: DisplayState, changed: set[str]) -> None:
        if "index" in changed:
            self._show_current()
            return
        if self.frame is not None and changed & {"voi", "invert"}:
            self.pane.set_display(self.effective_voi(), state.invert)
            # The dock's rich text is costly to lay out: update it once the
            # mouse pauses, not on every drag step (the corner text is live).
            self._pipeline_timer.start()
            self._sync_preset_combo()
        if changed & {"voi", "invert", "annotations"}:
            self._update_annotations()

    def toggle_invert(self) -> None:
        self.display.update(invert=not self.display.state.invert)
        self.invert_action.setChecked(self.display.state.invert)

    def toggle_annotations(self) -> None:
        self.display.update(annotations=not self.display.state.annotations)
        self.annotations_action.setChecked(self.display.state.annotations)

    def reset(self) -> None:
        self.display.update(voi=None, invert=False)
        self.invert_action.setChecked(False)
        self.pane.fit()

    def set_window(self, center: float, width: float) -> None:
        """A user window in modality units (keeps the file's VOI LUT Function)."""
        current = self.effective_voi()
        base = current if isinstance(current, Window) else Window(center, width)
        self.display.update(voi=base.with_center_width(center, width))

    def _window_dragged(self, dx: float, dy: float) -> None:
        """Left drag: right widens, left narrows; down raises the level, up lowers it."""
        if self.frame is None:
            return
        current = self.effective_voi()
        if not isinstance(current, Window):
            current = self._window_for(current)
        lo, hi = self.frame.modality_range() if not self.frame.is_color else (0.0, 255.0)
        step = max((hi - lo) * DRAG_SENSITIVITY, 0.05)
        self.set_window(current.center + dy * step, max(1.0, current.width + dx * step))

    def _window_for(self, voi: VOI) -> Window:
        """A window to start dragging from when a VOI LUT or full range is shown."""
        assert self.frame is not None
        if self.frame.is_color:
            return Window(128.0, 256.0)
        if isinstance(voi, FullRange):
            lo, hi = full_modality_range(self.frame.ctx)
            return Window((lo + hi) / 2, hi - lo)
        return self.frame.auto_window()

    # ------------------------------------------------------------------ presets
    def _preset_choices(self) -> list[tuple[str, VOI | None]]:
        if self.frame is None:
            return []
        ctx = self.frame.ctx
        luts, windows = ([], []) if self.frame.is_color else (file_voi_luts(ctx), file_windows(ctx))
        default = "As the file says"
        if not self.frame.is_color and not luts and not windows:
            soft_tissue = f"soft tissue, {describe_voi(self.frame.default_voi())}"
            default += f" (no window: {soft_tissue if is_hounsfield(ctx) else 'automatic'})"
        choices: list[tuple[str, VOI | None]] = [(default, None)]
        if not self.frame.is_color:
            for i, lut in enumerate(luts):
                choices.append((f"File VOI LUT {i + 1}" + (f": {lut.explanation}" if lut.explanation else ""), lut))
            for i, window in enumerate(windows):
                label = f"File window {i + 1}" + (f": {window.explanation}" if window.explanation else "")
                choices.append((f"{label} ({describe_voi(window)})", window))
            if self.automatic_window is not None:
                choices.append((f"Automatic for the series ({describe_voi(self.automatic_window)})", self.automatic_window))
            choices.append(("Full range (no VOI)", FullRange()))
            # Presets in the unit of the image's values only: HU presets for a CT in HU.
            for name, window in presets_for(ctx).items():
                choices.append((f"{name} ({describe_voi(window)})", window))
        return choices

    def _refresh_presets(self) -> None:
        choices = self._preset_choices()
        if [label for label, _ in choices] == [label for label, _ in getattr(self, "_choices", [])] and choices == self._choices:
            return  # same offers as the previous image (scrolling, cine): keep the box as it is
        self._choices = choices
        self.preset_combo.blockSignals(True)
        self.preset_combo.clear()
        self.preset_combo.addItems([label for label, _ in self._choices])
        self.preset_combo.blockSignals(False)
        self._sync_preset_combo()

    def _sync_preset_combo(self) -> None:
        voi = self.display.state.voi
        labels = [label for label, choice in getattr(self, "_choices", []) if choice == voi]
        self.preset_combo.blockSignals(True)
        if labels:
            if self.preset_combo.findText("Custom") >= 0:
                self.preset_combo.removeItem(self.preset_combo.findText("Custom"))
            self.preset_combo.setCurrentText(labels[0])
        else:
            if self.preset_combo.findText("Custom") < 0:
                self.preset_combo.addItem("Custom")
            self.preset_combo.setCurrentText("Custom")
        self.preset_combo.blockSignals(False)

    def _preset_chosen(self, index: int) -> None:
        choices = getattr(self, "_choices", [])
        if 0 <= index < len(choices):
            self.display.update(voi=choices[index][1])

    def choose_preset(self, name: str) -> None:
        """Apply the preset whose label starts with `name` (for tests and scripts)."""
        for i, (label, _) in enumerate(getattr(self, "_choices", [])):
            if label.lower().startswith(name.lower()):
                self.preset_combo.setCurrentIndex(i)
                self._preset_chosen(i)
                return
        raise KeyError(name)

    # ------------------------------------------------------------------ text
    def _update_annotations(self) -> None:
        if self.frame is None or not self.images:
            return
        state = self.display.state
        if not state.annotations:
            self.pane.set_annotations(None)
            return
        ref = self.images[state.index]
        facts = ViewFacts(
            image_number=state.index + 1,
            image_count=len(self.images),
            frame_number=ref.frame + 1,
            frame_count=ref.instance.frames,
            voi=self.effective_voi(),
            invert=state.invert,
            zoom=self.pane.zoom(),
            frame_rate=self.cine.fps if len(self.images) > 1 else None,
            playing=self.cine.playing,
            dropped=self.cine.dropped,
        )
        self.pane.set_annotations(corner_annotations(ref.instance.header, facts, self.frame.ctx))

    def _update_pipeline(self) -> None:
        if self.frame is None:
            self.pipeline_label.setText("")
            return
        rows = "".join(
            f"<tr><td style='padding-right:8px'><b>{stage}</b></td><td>{_html(text)}</td></tr>"
            for stage, text in pipeline_stages(self.frame, self.effective_voi(), self.display.state.invert)
        )
        self.pipeline_label.setText(f"<table>{rows}</table>")

    def _cursor_moved(self, row: int, col: int) -> None:
        if self.frame is None or row < 0:
            self.readout.setText("")
            return
        self.readout.setText(readout_text(self.frame, row, col))

    def _show_placeholder(self, text: str) -> None:
        self.pane.show_message(text)

    # ------------------------------------------------------------------ tag inspector and character sets
    def _refresh_inspector(self, force: bool = False) -> None:
        """Fill the inspector for the instance shown (in the background; the newest wins)."""
        if not self.images or not self.inspector_dock.isVisible():
            return
        ref = self.images[self.display.state.index]
        path = ref.instance.path
        if path == self._inspected_path and not force:
            return  # same file (another frame): the same attributes
        self._inspected_path = path
        overrides = charset.OVERRIDES

        def build():
            from viewer.core.dicom.inspect import dataset_rows, preamble_row
            from viewer.core.dicom.io import read_for_inspection

            header, problem = read_for_inspection(path)  # a truncated file: what could be read, and why it stops
            rows = dataset_rows(header, str(path), overrides)
            warning_row = preamble_row(path)
            return header, ([warning_row] if warning_row else []) + rows, problem

        def show(result) -> None:
            header, rows, problem = result
            if path != self._inspected_path:
                return
            scopes = [("files", str(path), "this file")]
            series_uid = model_text(header, "SeriesInstanceUID")
            if series_uid:
                scopes.append(("series", series_uid, "this series"))
            station = model_text(header, "StationName")
            if station:
                scopes.append(("stations", station, f"station '{station}'"))
            institution = model_text(header, "InstitutionName")
            if institution:
                scopes.append(("institutions", institution, f"institution '{institution}'"))
            title = f"{path.name}" + (f" ({ref.instance.frames} frames)" if ref.instance.frames > 1 else "")
            self.inspector.show_rows(rows, title, scopes, overrides.lookup(header, str(path)), problem.reason if problem else "")
            self.inspector_filled.emit()

        def failed(error) -> None:
            self.inspector.clear()
            self.inspector.title.setText(str(error))
            self.inspector_filled.emit()

        self.runner.submit("inspect", build, show, failed)

    def set_charset_override(self, scope: str, key: str, code: str) -> None:
        """The user chose a character set for a file, series, station or institution."""
        charset.OVERRIDES.set(scope, key, code or None)
        save_charset_overrides()
        self.browser.rebuild(self.opener.catalog)
        self._update_annotations()
        self._refresh_inspector(force=True)

    # ------------------------------------------------------------------ drag and drop, closing
    def dragEnterEvent(self, event):
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    def settings_store(self) -> QSettings:
        return settings()

    def show_about(self) -> None:
        from viewer.ui.dialogs import AboutDialog

        AboutDialog(self).exec()

    def show_settings(self) -> None:
        from viewer.ui.dialogs import SettingsDialog

        SettingsDialog(self).exec()

    def apply_settings(self, cache_mb: int, ct_presets: dict[str, tuple[float, float]], local) -> None:
        """What the Settings dialog changed, applied and saved."""
        import json

        from viewer.core.net.nodes import save_network_settings

        self.store.max_bytes = cache_mb * 1024 * 1024
        store = settings()
        store.setValue("cache_mb", cache_mb)
        store.setValue("presets/ct", json.dumps(ct_presets))
        _use_presets(ct_presets)
        self.query_panel.local = local
        save_network_settings(self.query_panel.nodes, local)
        self._choices = []  # rebuild the Window box with the new presets
        if self.frame is not None:
            self._refresh_presets()

    def _restore_layout(self) -> None:
        store = settings()
        geometry, state = store.value("window/geometry"), store.value("window/state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event):
        self._inspector_timer.stop()
        if self.contents_built:  # empty docks would be saved with no size
            store = settings()
            store.setValue("window/geometry", self.saveGeometry())
            store.setValue("window/state", self.saveState())
        self._pipeline_timer.stop()
        if self.contents_built:
            self.cine.stop()
            self.opener.cancel()
            if self._query_panel is not None:
                self._query_panel.shutdown()  # a retrieve or search would hold the window open
        self._prefetch_cancel.cancel()
        self.runner.shutdown()
        super().closeEvent(event)


def _use_presets(table: dict[str, tuple[float, float]]) -> None:
    from viewer.core.display.pixels import presets

    presets.CT_PRESETS.clear()
    presets.CT_PRESETS.update(table)


def load_presets() -> None:
    """The user's CT presets from settings (the built-in ones when none are saved)."""
    import json

    raw = settings().value("presets/ct", "")
    try:
        table = {str(k): (float(v[0]), float(v[1])) for k, v in json.loads(raw).items()} if raw else {}
    except (TypeError, ValueError, AttributeError, IndexError):
        table = {}
    if table:
        _use_presets(table)


def load_charset_overrides() -> None:
    """The user's character-set choices, from settings into the core."""
    import json

    raw = settings().value("charset_overrides", "")
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        data = {}
    loaded = charset.CharsetOverrides.from_dict(data)
    for scope in charset.CharsetOverrides.SCOPES:
        setattr(charset.OVERRIDES, scope, getattr(loaded, scope))


def save_charset_overrides() -> None:
    import json

    settings().setValue("charset_overrides", json.dumps(charset.OVERRIDES.to_dict(), ensure_ascii=False))


def readout_text(frame: FrameDisplay, row: int, col: int) -> str:
    """'x 120 y 88: stored 1064, 40 HU' for the pixel at (row, col)."""
    stored, modality = frame.value_at(row, col)
    text = f"x {col} y {row}: "
    if isinstance(stored, tuple):
        return text + "RGB " + ", ".join(str(v) for v in stored)
    if modality is None:
        return text + f"index {stored}"
    unit = modality_unit(frame.ctx)
    text += f"stored {stored}"
    if frame.ctx.get("ModalityLUTSequence") or "RescaleSlope" in frame.ctx or "RescaleIntercept" in frame.ctx:
        text += f", {modality:.6g}" + (f" {unit}" if unit else "")
    return text


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class FirstPaintProbe(QObject):
    """Records when a widget is first painted (for the start-up benchmark)."""

    def __init__(self, widget: QWidget, callback):
        super().__init__(widget)
        self._callback = callback
        self._widget = widget
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self._widget.removeEventFilter(self)
            QTimer.singleShot(0, self._callback)
        return False


def _count(n: int, noun: str) -> str:
    from viewer.core.runtime.wording import count

    return count(n, noun)
