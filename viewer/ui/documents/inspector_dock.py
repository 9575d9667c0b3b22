"""The Tags dock: every attribute of the file shown, in the tag inspector.

The inspector is built when the dock is first shown (it is hidden at first
start, and opens from the View menu or its key). Its rows are built on a worker thread, the
newest request winning, and only when the file changes: scrolling through
the frames of one file, or through a series faster than
:data:`PAUSE_MS`, builds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QDockWidget, QWidget

from viewer.ui.window.workers import BackgroundRunner

if TYPE_CHECKING:
    from viewer.core.dicom.charset import CharsetOverrides
    from viewer.core.media.model import ImageRef
    from viewer.ui.documents.tag_inspector import TagInspector

#: Milliseconds the image shown must stay before its file's rows are built.
PAUSE_MS = 250


class InspectorDock(QDockWidget):
    """Signals: ``filled()`` when rows (or a reason there are none) are shown;
    ``override_requested(scope, key, charset)`` when the user picks a character set."""

    filled = Signal()
    override_requested = Signal(str, str, str)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None):
        super().__init__("Tags", parent)
        self.setObjectName("inspector_dock")
        self.runner = runner
        #: The image whose file is inspected (the active viewport's), and the character-set choices.
        self.image: Callable[[], ImageRef | None] = lambda: None
        self.overrides: CharsetOverrides | None = None
        self._inspector: TagInspector | None = None
        self._path: Path | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(PAUSE_MS)
        self._timer.timeout.connect(lambda: self.refresh())

    def start(self, image: Callable[[], ImageRef | None], overrides: CharsetOverrides) -> None:
        """Follow `image` from now on (the window's contents are built)."""
        self.image, self.overrides = image, overrides
        self.visibilityChanged.connect(lambda visible: visible and self.refresh(force=True))
        if not self.visibleRegion().isEmpty():  # a saved layout put it in front (behind a tab, Qt calls it visible)
            self.inspector.clear()

    @property
    def inspector(self) -> TagInspector:
        """The tag inspector; built on first use."""
        if self._inspector is None:
            from viewer.ui.documents.tag_inspector import TagInspector

            self._inspector = TagInspector()
            self._inspector.override_requested.connect(self.override_requested)
            self.setWidget(self._inspector)
        return self._inspector

    def schedule(self) -> None:
        """The image changed: refresh once it has stayed a moment."""
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def refresh(self, force: bool = False) -> None:
        """Fill the inspector for the file of the image shown (in the background; the newest wins)."""
        ref = self.image()
        if ref is None or not self.isVisible():
            return
        path = ref.instance.path
        if path == self._path and not force:
            return  # same file (another frame): the same attributes
        self._path = path
        overrides = self.overrides

        def build():
            from viewer.core.dicom.inspect import dataset_rows, preamble_row
            from viewer.core.dicom.io import read_for_inspection

            header, problem = read_for_inspection(path)  # a truncated file: what could be read, and why it stops
            rows = dataset_rows(header, str(path), overrides)
            warning_row = preamble_row(path)
            return header, ([warning_row] if warning_row else []) + rows, problem

        def show(result) -> None:
            from viewer.core.media.model import text

            header, rows, problem = result
            if path != self._path:
                return
            scopes = [("files", str(path), "this file")]
            for scope, keyword, label in (
                ("series", "SeriesInstanceUID", None),
                ("stations", "StationName", "station"),
                ("institutions", "InstitutionName", "institution"),
            ):
                value = text(header, keyword, None, overrides)
                if value:
                    scopes.append((scope, value, f"{label} '{value}'" if label else "this series"))
            title = f"{path.name}" + (f" ({ref.instance.frames} frames)" if ref.instance.frames > 1 else "")
            lookup = overrides.lookup(header, str(path)) if overrides is not None else None
            self.inspector.show_rows(rows, title, scopes, lookup, problem.reason if problem else "")
            self.filled.emit()

        def failed(error) -> None:
            self.inspector.clear()
            self.inspector.title.setText(str(error))
            self.filled.emit()

        self.runner.submit("inspect", build, show, failed)
