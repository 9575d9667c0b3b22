"""An encapsulated document in its own window of the app: a PDF page by page, a CDA document as text.

Opened by :func:`open_document`, from the report controller
(:meth:`viewer.ui.documents.report_view.ReportController.open_object`): when the browser's
document object is activated, or a file named explicitly is listed by the scan.
Pages are drawn by PDFium in a worker process with a time limit
(:func:`viewer.core.documents.encapsulated.render_page_with_time_limit`), off
the GUI thread; a damaged document shows one line in place of the page.
"Open in the system's PDF reader" hands a copy in a private temporary folder
(removed when the app ends) to the desktop; "Save the document as…" writes
the document bit-exact, as ``dicom-viewer extract`` does.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QImage, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QPlainTextEdit,
    QScrollArea,
    QSizePolicy,
    QStackedWidget,
    QTextBrowser,
    QToolBar,
    QWidget,
)

from viewer.core.dicom.io import ViewerError
from viewer.core.documents.encapsulated import EncapsulatedDocument, RenderedPage, read_document, render_page_with_time_limit
from viewer.ui.window.status import say
from viewer.ui.window.workers import BackgroundRunner, ScopedRunner

#: Zoom steps: 100% draws a page at its printed size on a 96 dpi screen.
ZOOMS = (0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)
SCREEN_DPI = 96.0


class _TemporaryCopies:
    """A private folder (mode 0700) for copies handed to other programs, removed when the app ends."""

    def __init__(self):
        self.folder: Path | None = None

    def copy(self, name: str, data: bytes) -> Path:
        if self.folder is None or not self.folder.is_dir():
            self.folder = Path(tempfile.mkdtemp(prefix="dicom-viewer-documents-"))
            atexit.register(self.remove)
        target = self.folder / name
        if target.exists():  # a copy already handed out (perhaps still open elsewhere): a new name
            stem, suffix, k = target.stem, target.suffix, 2
            while target.exists():
                target, k = self.folder / f"{stem} ({k}){suffix}", k + 1
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return target

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


TEMPORARY_COPIES = _TemporaryCopies()


def _safe_name(text: str) -> str:
    """A file name made of `text` (a document title or a file's stem): no separators, no control characters."""
    cleaned = "".join(c if c.isprintable() and c not in '/\\:*?"<>|' else "_" for c in text).strip(" .")
    return cleaned[:100] or "document"


class DocumentView(QMainWindow):
    """One encapsulated document: pages with previous/next and zoom (a PDF), or its text (a CDA); the two actions."""

    def __init__(
        self, document: EncapsulatedDocument, runner: BackgroundRunner | ScopedRunner | None = None, parent: QWidget | None = None
    ):
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.document = document
        self._own_runner = runner is None
        self.runner = runner if runner is not None else BackgroundRunner(self, workers=1)
        self._kind = f"document-page:{id(self)}"
        self.page_number, self.pages, self.zoom = 1, 0, 1.0
        self.page: RenderedPage | None = None
        self.error: str | None = None
        self.closed = False  # a page drawn after the window closed is dropped
        #: Replaced in tests: ask where to save (None = cancelled), and hand a URL to the desktop.
        self.ask_save_path: Callable[[str], str | None] = self._ask_save_path
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        self.setWindowTitle(f"{document.title or document.path.name} — dicom-viewer")

        self.page_label = QLabel()
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.page_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.scroll = QScrollArea()
        self.scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll.setWidget(self.page_label)
        self.scroll.setWidgetResizable(False)
        self.scroll.viewport().installEventFilter(self)  # Ctrl+wheel zooms, as in the image viewports
        self.message = QLabel()
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.text = QPlainTextEdit()  # a CDA's XML
        self.text.setReadOnly(True)
        self.rendered = QTextBrowser()  # a CDA's sections (cda_outline)
        self.rendered.setOpenLinks(False)
        self.stack = QStackedWidget()
        for widget in (self.scroll, self.message, self.text, self.rendered):
            self.stack.addWidget(widget)
        self.setCentralWidget(self.stack)
        self._build_actions()
        available = (parent.screen() if parent is not None else self.screen()).availableGeometry()
        self.resize(min(900, available.width()), int(available.height() * 0.92))  # a page's width at 100%, as tall as fits
        if document.is_pdf:
            self._show_message("Drawing the first page...")
            self.request_page()
        elif document.is_cda:
            self.text.setPlainText(document.text())
            self._show_cda()
        else:
            self._show_message(f"A {document.mime_type or 'document'} of {len(document.data):,} bytes: save it to open it elsewhere.")
        self._update_actions()

    # ------------------------------------------------------------------ actions

    def _build_actions(self) -> None:
        bar = QToolBar("Document")
        bar.setMovable(False)
        self.addToolBar(bar)

        def action(text: str, slot, keys=(), short: str = "") -> QAction:
            act = QAction(text, self)
            act.setIconText(short or text)  # the toolbar's label; the whole text is the tooltip
            act.setToolTip(text)
            act.triggered.connect(slot)
            act.setShortcuts([QKeySequence(k) for k in keys])
            bar.addAction(act)
            return act

        self.previous_action = action("Previous page", self.previous_page, ("PgUp", "Left"), "◀ Previous")
        self.page_indicator = QLabel()
        self.page_indicator.setMinimumWidth(100)
        self.page_indicator.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._paging = [self.previous_action, bar.addWidget(self.page_indicator)]
        self.next_action = action("Next page", self.next_page, ("PgDown", "Right"), "Next ▶")
        self._paging.append(self.next_action)
        bar.addSeparator()
        self.zoom_out_action = action("Zoom out", self.zoom_out, ("Ctrl+-",), "−")
        self.zoom_indicator = QLabel()
        self.zoom_indicator.setMinimumWidth(50)
        self.zoom_indicator.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._paging += [self.zoom_out_action, bar.addWidget(self.zoom_indicator)]
        self.zoom_in_action = action("Zoom in", self.zoom_in, ("Ctrl++", "Ctrl+="), "+")
        self.fit_width_action = action("Fit width", self.fit_width, ("W",))
        self._paging += [self.zoom_in_action, self.fit_width_action]
        for paging in self._paging:  # pages and zoom are a PDF's
            paging.setVisible(self.document.is_pdf)
        bar.addSeparator()
        self.xml_action = action("Show the XML", self._show_cda, ("X",), "XML")
        self.xml_action.setCheckable(True)
        self.xml_action.setVisible(self.document.is_cda)
        self.xml_action.setEnabled(self.document.is_cda)
        reader = "Open in the system's PDF reader" if self.document.is_pdf else "Open in the system's viewer"
        self.open_external_action = action(reader, self.open_externally, (), reader.replace("Open in the system's", "Open in"))
        self.save_action = action("Save the document as…", self.save_as, (QKeySequence.StandardKey.Save,), "Save as…")

    def _update_actions(self) -> None:
        paged = self.document.is_pdf and self.pages > 0
        self.previous_action.setEnabled(paged and self.page_number > 1)
        self.next_action.setEnabled(paged and self.page_number < self.pages)
        for act in (self.zoom_in_action, self.zoom_out_action, self.fit_width_action):
            act.setEnabled(paged)
        self.zoom_in_action.setEnabled(paged and self.zoom < ZOOMS[-1])
        self.zoom_out_action.setEnabled(paged and self.zoom > ZOOMS[0])
        self.page_indicator.setText(f"Page {self.page_number} of {self.pages}" if paged else "")
        self.zoom_indicator.setText(f"{round(self.zoom * 100)}%" if paged else "")

    def _show_cda(self) -> None:
        """The CDA's sections as a reader sees them, or (Show the XML, or XML that does not parse) its text."""
        from viewer.core.documents.encapsulated import cda_outline

        if self.xml_action.isChecked():
            self.stack.setCurrentWidget(self.text)
            return
        try:
            outline = cda_outline(self.document.data, self.document.path)
        except ViewerError as exc:
            self.error = str(exc)
            self._status(self.error)
            self.xml_action.setChecked(True)
            self.stack.setCurrentWidget(self.text)
            return
        self.rendered.setHtml(cda_html(outline))
        self.stack.setCurrentWidget(self.rendered)

    def previous_page(self) -> None:
        self.go_to(self.page_number - 1)

    def next_page(self) -> None:
        self.go_to(self.page_number + 1)

    def go_to(self, number: int) -> None:
        """Show page `number` (1-based) when the document has it."""
        if self.document.is_pdf and 1 <= number <= max(self.pages, 1) and number != self.page_number:
            self.page_number = number
            self.request_page()
            self._update_actions()

    def set_zoom(self, zoom: float) -> None:
        zoom = min(max(zoom, ZOOMS[0]), ZOOMS[-1])
        if abs(zoom - self.zoom) > 1e-6:
            self.zoom = zoom
            self.request_page()
            self._update_actions()

    def zoom_in(self) -> None:
        self.set_zoom(next((z for z in ZOOMS if z > self.zoom + 1e-6), ZOOMS[-1]))

    def zoom_out(self) -> None:
        self.set_zoom(next((z for z in reversed(ZOOMS) if z < self.zoom - 1e-6), ZOOMS[0]))

    def fit_width(self) -> None:
        """The zoom at which the page's width fills the visible width."""
        if self.page is not None:
            width = self.scroll.viewport().width() - 8
            self.set_zoom(width / (self.page.width_pt / 72.0 * SCREEN_DPI))

    def open_externally(self) -> bool:
        """Hand a copy of the document (in the private temporary folder) to the desktop's reader for its type."""
        try:
            copy = TEMPORARY_COPIES.copy(
                _safe_name(self.document.title or self.document.path.stem) + self.document.suffix, self.document.data
            )
        except OSError as exc:
            self._status(f"Cannot make a copy to open: {exc.strerror or exc}")
            return False
        opened = bool(self.open_url(QUrl.fromLocalFile(str(copy))))
        if not opened:
            self._status("The desktop has no program to open this document; save it and open it from there.")
        return opened

    def save_as(self) -> Path | None:
        """Ask where, then write the document bit-exact (:func:`viewer.core.documents.encapsulated.write_bytes_atomically`)."""
        from viewer.core.documents.encapsulated import write_bytes_atomically

        suggested = str(self.document.path.with_name(_safe_name(self.document.path.stem) + self.document.suffix))
        chosen = self.ask_save_path(suggested)
        if not chosen:
            return None
        target = Path(chosen)
        try:
            if target.exists() and target.resolve() == self.document.path.resolve():
                raise ViewerError(f"will not write over the DICOM file itself ({target})")
            write_bytes_atomically(target, self.document.data)
        except ViewerError as exc:
            self._status(str(exc))
            return None
        self._status(f"Saved {target}")
        return target

    def _ask_save_path(self, suggested: str) -> str | None:
        kinds = {".pdf": "PDF documents (*.pdf)", ".xml": "XML documents (*.xml)"}
        filters = ";;".join(f for f in (kinds.get(self.document.suffix, ""), "All files (*)") if f)
        chosen, _ = QFileDialog.getSaveFileName(self, "Save the document as", suggested, filters)
        return chosen or None

    # ------------------------------------------------------------------ pages

    def request_page(self) -> None:
        """Draw the current page at the current zoom in the background (the newest request wins)."""
        number, dpi, path = self.page_number, SCREEN_DPI * self.zoom * self.devicePixelRatioF(), self.document.path
        self.runner.submit(self._kind, lambda: render_page_with_time_limit(path, number, dpi), self.show_page, self._page_failed)

    def show_page(self, page: RenderedPage) -> None:
        if self.closed:
            return
        self.page, self.pages, self.error = page, page.pages, None
        height, width = page.pixels.shape[:2]
        image = QImage(page.pixels.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
        pixmap = QPixmap.fromImage(image)
        pixmap.setDevicePixelRatio(self.devicePixelRatioF())
        self.page_label.setPixmap(pixmap)
        self.page_label.resize(pixmap.deviceIndependentSize().toSize())
        self.stack.setCurrentWidget(self.scroll)
        self._update_actions()

    def _page_failed(self, error: BaseException) -> None:
        if self.closed:
            return
        text = str(error) if isinstance(error, ViewerError) else f"{self.document.path.name}: the page cannot be drawn ({error})"
        self.error = " ".join(text.split())
        self._show_message(self.error)
        self._status(self.error)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def _status(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and event.modifiers() & Qt.KeyboardModifier.ControlModifier and self.document.is_pdf:
            if event.angleDelta().y():
                (self.zoom_in if event.angleDelta().y() > 0 else self.zoom_out)()
            return True
        return super().eventFilter(watched, event)

    def closeEvent(self, event) -> None:
        self.closed = True
        if self._own_runner:
            self.runner.shutdown()
        super().closeEvent(event)


def cda_html(outline) -> str:
    """HTML for a :class:`~viewer.core.documents.encapsulated.CdaOutline`: every text escaped, headings by depth."""
    from html import escape

    parts = [f"<h1>{escape(outline.title or 'Clinical document')}</h1>"]
    facts = [
        f"Patient: {escape(outline.patient)}" if outline.patient else "",
        f"Date: {escape(outline.effective_time)}" if outline.effective_time else "",
    ]
    if any(facts):
        parts.append("<p>" + " &nbsp; ".join(f for f in facts if f) + "</p>")
    for section in outline.sections:
        level = min(section.level + 1, 6)
        parts.append(f"<h{level}>{escape(section.title)}</h{level}>")
        parts += [f"<p>{escape(line)}</p>" for line in section.lines]
    return "\n".join(parts)


def open_document(window: QWidget | None, path: str | os.PathLike[str]) -> DocumentView | None:
    """Show the encapsulated document at `path` in a window of its own, or one line in `window`'s status bar.

    Returns the view, or None when the file holds no readable document.
    """
    try:
        document = read_document(path)
    except ViewerError as exc:
        say(window, str(exc))
        return None
    runner = getattr(window, "runner", None)
    scoped = ScopedRunner(runner, f"document:{Path(path)}") if isinstance(runner, BackgroundRunner) else None
    view = DocumentView(document, scoped, window)
    view.show()
    view.raise_()
    return view
