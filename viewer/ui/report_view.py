"""The report view: a Structured Report as a readable document, in a dock beside the viewports.

A click on a report (or key images) in the study browser reads it
(:func:`viewer.core.documents.sr.read_report`) and shows it here as a
:class:`QTextBrowser` document (:func:`report_html`): the title and the
document's flags and observers first, then the content tree, each
container's concept name a heading, each item its concept name and value
(codes by meaning, numbers with units, dates, names). References to images
are links: a click opens that image, at that frame, in the active viewport
(:meth:`ReportController.open_image`), when it is among the files opened.
Objects of other kinds without a viewer of their own say so in the viewport.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtWidgets import QDockWidget, QTextBrowser, QWidget

from viewer.core.dicom.io import ViewerError, sop_class_name
from viewer.core.dicom.sop_classes import KEY_IMAGES, REPORT
from viewer.core.documents.sr import ContentItem, ObjectReference, Report, read_report
from viewer.core.media.model import ImageRef, Instance, Series

if TYPE_CHECKING:
    from viewer.ui.main_window import MainWindow

#: The link scheme of an image reference: image:SOP-INSTANCE-UID?frame=N (N 1-based, as in the report).
IMAGE_SCHEME = "image"
#: Relationships not written before an item: the document reads as prose without them.
_PLAIN = {"", "CONTAINS"}
#: Pixels of indent per level of the content tree.
INDENT = 18


def image_link(ref: ObjectReference, frame: int | None = None) -> str:
    """The link of an image reference (its first frame, or `frame`)."""
    frame = frame if frame is not None else (ref.frames[0] if ref.frames else None)
    return f"{IMAGE_SCHEME}:{ref.sop_instance_uid}" + (f"?frame={frame}" if frame else "")


def parse_image_link(url: str) -> tuple[str, int] | None:
    """(SOP Instance UID, 0-based frame) of an image link; None for any other link."""
    parts = urlsplit(url)
    if parts.scheme != IMAGE_SCHEME or not parts.path:
        return None
    try:
        frame = int(parse_qs(parts.query).get("frame", ["1"])[0])
    except ValueError:
        frame = 1
    return parts.path, max(frame, 1) - 1


def _reference_html(ref: ObjectReference) -> str:
    name = html.escape((ref.sop_class_name or ref.sop_class_uid).removesuffix(" Storage"))
    if not ref.frames:
        return f'<a href="{html.escape(image_link(ref))}">{name}</a>'
    frames = ", ".join(f'<a href="{html.escape(image_link(ref, f))}">frame {f}</a>' for f in ref.frames)
    return f"{name} ({frames})"


def _value_html(item: ContentItem) -> str:
    if item.value_type == "IMAGE":
        return "; ".join(_reference_html(ref) for ref in item.references)
    if item.value_type == "CODE" and item.code is not None:
        code = item.code
        return f'{html.escape(code.text())} <span style="color:gray">({html.escape(code.value)}, {html.escape(code.scheme)})</span>'
    if item.value_type == "TEXT":
        return html.escape(item.value).replace("\n", "<br>")
    return html.escape(item.value)


def _item_html(depth: int, item: ContentItem) -> str:
    margin = f"margin-left:{depth * INDENT}px"
    if item.value_type == "CONTAINER":
        level = min(depth + 2, 6)
        title = html.escape(item.concept.text()) if item.concept is not None else ""
        return f'<h{level} style="{margin}">{title}</h{level}>' if title else ""
    relationship = ""
    if item.relationship not in _PLAIN:
        relationship = f'<span style="color:gray">{html.escape(item.relationship.lower())}</span> '
    if not item.value_type:
        return f'<p style="{margin}">{relationship}<span style="color:gray">item {html.escape(item.reference)}</span></p>'
    concept = f"<b>{html.escape(item.concept.text())}:</b> " if item.concept is not None else ""
    when = f' <span style="color:gray">({html.escape(item.observed)})</span>' if item.observed else ""
    problem = f' <span style="color:#d9534f">[{html.escape(item.problem)}]</span>' if item.problem else ""
    return f'<p style="{margin}">{relationship}{concept}{_value_html(item)}{when}{problem}</p>'


def report_html(report: Report) -> str:
    """The report as an HTML document for :class:`QTextBrowser`: title, flags, observers, then the content."""
    facts = [
        ("Document", report.kind),
        ("Patient", " ".join(p for p in (report.patient, f"({report.patient_id})" if report.patient_id else "") if p)),
        ("Study", report.study),
        ("Series", report.series),
        ("Completion", " — ".join(p for p in (report.completion, report.completion_description) if p)),
        ("Verification", report.verification),
    ]
    facts += [("Verified by", o.text()) for o in report.verifying_observers]
    facts += [("Author", o.text()) for o in report.authors]
    facts.append(("Content date", report.content_datetime))
    rows = "".join(
        f'<tr><td style="color:gray;padding-right:12px">{html.escape(name)}</td><td>{html.escape(value)}</td></tr>'
        for name, value in facts
        if value
    )
    parts = [f"<h1>{html.escape(report.title)}</h1>", f"<table>{rows}</table>"]
    items = report.items()
    next(items, None)  # the root: its concept name is the title
    parts += [_item_html(depth - 1, item) for depth, item in items]
    return "<html><body>" + "".join(parts) + "</body></html>"


class ReportView(QTextBrowser):
    """A report as a document; ``image_requested(sop_instance_uid, frame)`` (0-based) on a click on an image link."""

    image_requested = Signal(str, int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._clicked)
        self.report: Report | None = None

    def show_report(self, report: Report) -> None:
        self.report = report
        self.setHtml(report_html(report))

    def _clicked(self, url: QUrl) -> None:
        target = parse_image_link(url.toString())
        if target is not None:
            self.image_requested.emit(*target)


class ReportController(QObject):
    """Opens what the browser activates that is not a series of images, and the images a report links to."""

    def __init__(self, window: MainWindow, view: ReportView, dock: QDockWidget):
        super().__init__(window)
        self.window, self.view, self.dock = window, view, dock

    def open_object(self, series: Series) -> None:
        """A report or key images: read and shown in the dock; other kinds: said in the viewport."""
        instance = next((i for i in series.instances if i.available), None)
        if instance is None:
            self.window.statusBar().showMessage(f"The {series.kind} cannot be opened: its file is missing.", 8000)
            return
        if series.kind not in (REPORT, KEY_IMAGES):
            name = instance.path.name if instance.path else "?"
            self.window.viewport.pane.show_message(
                f"{name}: has no image to show (it is {sop_class_name(instance.header)}); listed in the study browser as {series.kind}."
            )
            return
        try:
            report = read_report(instance.path)
        except ViewerError as exc:
            self.window.problems_dock.add([str(exc)])
            self.window.statusBar().showMessage(str(exc), 8000)
            return
        self.view.show_report(report)
        self.dock.setWindowTitle(f"Report: {report.title}")
        self.dock.show()
        self.dock.raise_()
        if self.window.viewport.current_series is None:  # nothing else to look at: say where the report is
            self.window.viewport.pane.show_message(f"{report.kind} \u201c{report.title}\u201d: shown in the Report panel.")

    def show_lone_object(self) -> None:
        """Opened only objects without images (a report named on the command line): the first is opened."""
        catalog = self.window.opener.catalog
        if self.window.viewport.current_series is not None or not catalog.series:
            return
        series = catalog.all_series()
        if not any(s.shows_images for s in series):
            self.open_object(series[0])

    def find_image(self, sop_instance_uid: str) -> tuple[Series, Instance] | None:
        for series in self.window.opener.catalog.all_series():
            for instance in series.instances:
                if instance.sop_instance_uid == sop_instance_uid:
                    return series, instance
        return None

    def open_image(self, sop_instance_uid: str, frame: int) -> None:
        """Show the referenced image at `frame` (0-based) in the active viewport, if it was opened."""
        found = self.find_image(sop_instance_uid)
        if found is None or not found[0].shows_images:
            self.window.statusBar().showMessage(f"The referenced image {sop_instance_uid} is not among the files opened.", 8000)
            return
        series, instance = found
        ref = ImageRef(instance, min(frame, max(instance.frames - 1, 0)))
        viewport = self.window.viewport
        if viewport.current_series is series and ref in viewport.images:
            viewport.go_to(viewport.images.index(ref))
        else:
            viewport.show_series(series, ref)


def install(window: MainWindow) -> None:
    """The Report dock (hidden until a report is opened) and what opens it: the browser's objects."""
    view = ReportView()
    dock = QDockWidget("Report", window)
    dock.setObjectName("report_dock")
    dock.setWidget(view)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    controller = ReportController(window, view, dock)
    window.report_dock, window.report_view, window.report_controller = dock, view, controller
    window.browser.object_activated.connect(controller.open_object)
    view.image_requested.connect(controller.open_image)
    window.opening.opened.connect(controller.show_lone_object)
    from viewer.ui import key_images  # the key images a Key Object Selection flags, marked in the strip

    key_images.install(window)
