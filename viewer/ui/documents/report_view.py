"""The report view: a Structured Report as a readable document, in a dock beside the viewports.

A click on a report (or key images) in the study browser reads it
(:func:`viewer.core.documents.sr.read_report`) and shows it here as a
:class:`QTextBrowser` document (:func:`report_html`): the title and the
document's flags and observers first, then the content tree, each
container's concept name a heading, each item its concept name and value
(codes by meaning, numbers with units, dates, names). References to images
are links: a click opens that image, at that frame, in the active viewport
(:meth:`ReportController.open_image`), when it is among the files opened;
spatial coordinates (SCOORD) are links too, that open the image they were
selected from with the points, line, circle or ellipse drawn on it
(:func:`scoord_path`) until another image is shown; spatial coordinates in
the patient (SCOORD3D) open the image of their frame of reference whose
plane holds them, projected onto it (:mod:`viewer.core.documents.sr_regions`).
Objects of other kinds without a viewer of their own say so in the viewport.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QDockWidget, QGraphicsPathItem, QTextBrowser, QWidget

from viewer.core.dicom.io import ViewerError, sop_class_name
from viewer.core.dicom.sop_classes import KEY_IMAGES, PDF, REPORT
from viewer.core.documents.sr import ContentItem, ObjectReference, Report, read_report
from viewer.core.media.model import ImageRef, Instance, Series

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow

#: The link scheme of an image reference: image:SOP-INSTANCE-UID?frame=N (N 1-based, as in the report).
IMAGE_SCHEME = "image"
#: The link scheme of spatial coordinates in the patient: scoord3d:POSITION (the item's position in the content tree).
SCOORD3D_SCHEME = "scoord3d"
#: Relationships not written before an item: the document reads as prose without them.
_PLAIN = {"", "CONTAINS"}
#: Pixels of indent per level of the content tree.
INDENT = 18
#: Items put in the document at once (more than fill a screen); the rest follow a moment later.
FIRST_ITEMS = 150


#: Spatial coordinates drawn on an image: a colour that reads on grey (as dcmtk draws graphics in yellow).
SCOORD_COLOUR = QColor("#ffd700")


def image_link(ref: ObjectReference, frame: int | None = None, scoord: str = "") -> str:
    """The link of an image reference (its first frame, or `frame`; `scoord`: the position of
    spatial coordinates to draw on it)."""
    frame = frame if frame is not None else (ref.frames[0] if ref.frames else None)
    query = "&".join(p for p in (f"frame={frame}" if frame else "", f"scoord={scoord}" if scoord else "") if p)
    return f"{IMAGE_SCHEME}:{ref.sop_instance_uid}" + (f"?{query}" if query else "")


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


def link_scoord(url: str) -> str:
    """The position of the spatial coordinates an image link draws ('' for none)."""
    return parse_qs(urlsplit(url).query).get("scoord", [""])[0]


def scoord_path(graphic_type: str, data: tuple[float, ...]) -> QPainterPath:
    """Image (column, row) coordinates of a SCOORD as a path (PS3.3 C.18.6.1.2): POINT and
    MULTIPOINT as small crosses, POLYLINE as lines, CIRCLE from its centre and a point of its
    perimeter, ELLIPSE from the end points of its major then its minor axis. (0, 0) is the top
    left corner of the top left pixel, as in the image item's coordinates."""
    points = [QPointF(data[i], data[i + 1]) for i in range(0, len(data) - 1, 2)]
    path = QPainterPath()
    if not points:
        return path
    if graphic_type in ("POINT", "MULTIPOINT"):
        for p in points:
            path.moveTo(p.x() - 2, p.y())
            path.lineTo(p.x() + 2, p.y())
            path.moveTo(p.x(), p.y() - 2)
            path.lineTo(p.x(), p.y() + 2)
    elif graphic_type == "CIRCLE" and len(points) >= 2:
        centre, edge = points[0], points[1]
        radius = ((edge.x() - centre.x()) ** 2 + (edge.y() - centre.y()) ** 2) ** 0.5
        path.addEllipse(centre, radius, radius)
    elif graphic_type == "ELLIPSE" and len(points) >= 4:
        import math

        a, b, c, d = points[:4]
        centre = QPointF((a.x() + b.x()) / 2, (a.y() + b.y()) / 2)
        major = math.hypot(b.x() - a.x(), b.y() - a.y()) / 2
        minor = math.hypot(d.x() - c.x(), d.y() - c.y()) / 2
        angle = math.degrees(math.atan2(b.y() - a.y(), b.x() - a.x()))
        ellipse = QPainterPath()
        ellipse.addEllipse(QRectF(-major, -minor, 2 * major, 2 * minor))
        from PySide6.QtGui import QTransform

        path = QTransform().translate(centre.x(), centre.y()).rotate(angle).map(ellipse)
    else:  # POLYLINE (closed when its last point is its first), and anything else as lines
        path.moveTo(points[0])
        for p in points[1:]:
            path.lineTo(p)
    return path


def _reference_html(ref: ObjectReference) -> str:
    name = html.escape((ref.sop_class_name or ref.sop_class_uid).removesuffix(" Storage"))
    if not ref.frames:
        return f'<a href="{html.escape(image_link(ref))}">{name}</a>'
    frames = ", ".join(f'<a href="{html.escape(image_link(ref, f))}">frame {f}</a>' for f in ref.frames)
    return f"{name} ({frames})"


def _value_html(item: ContentItem) -> str:
    if item.value_type == "SCOORD":
        refs = item.image_references()
        if refs:
            frame = refs[0].frames[0] if refs[0].frames else None
            return f'<a href="{html.escape(image_link(refs[0], frame, item.position))}">{html.escape(item.value)}</a>'
    if item.value_type == "SCOORD3D" and item.graphic_data:
        return f'<a href="{SCOORD3D_SCHEME}:{html.escape(item.position)}">{html.escape(item.value)}</a>'
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
    head, items = report_html_parts(report)
    return "<html><body>" + head + "".join(items) + "</body></html>"


def report_html_parts(report: Report) -> tuple[str, list[str]]:
    """The document's head (title, flags, observers) and each content item's HTML, in order."""
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
    head = f"<h1>{html.escape(report.title)}</h1><table>{rows}</table>"
    items = report.items()
    next(items, None)  # the root: its concept name is the title
    return head, [_item_html(depth - 1, item) for depth, item in items]


class ReportView(QTextBrowser):
    """A report as a document; ``image_requested(sop_instance_uid, frame)`` (0-based) on a click on an image link,
    ``region_requested(ContentItem)`` on one on spatial coordinates in the patient (SCOORD3D)."""

    image_requested = Signal(str, int)
    region_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._clicked)
        self.report: Report | None = None
        self._rest: list[str] = []
        self._whole = ""
        self.scoord: ContentItem | None = None  # the spatial coordinates of the link clicked last

    def show_report(self, report: Report) -> None:
        """Show `report`: its first :data:`FIRST_ITEMS` items at once (more than a screen), the rest
        added on the event loop's next turn, so a 2,000-item dose report is on screen sooner."""
        self.report = report
        head, items = report_html_parts(report)
        self._rest = items[FIRST_ITEMS:]
        self.setHtml("<html><body>" + head + "".join(items[:FIRST_ITEMS]) + "</body></html>")
        if self._rest:
            self._whole = "<html><body>" + head + "".join(items) + "</body></html>"
            QTimer.singleShot(0, self, self._add_rest)

    def _add_rest(self) -> None:
        # The whole document again rather than the rest inserted at the end: Qt parses a document
        # in one setHtml faster than it inserts a fragment (a 2,000-item report: about 3x).
        if self._rest:
            scrolled = self.verticalScrollBar().value()
            self._rest = []
            self.setHtml(self._whole)
            self.verticalScrollBar().setValue(scrolled)

    @property
    def complete(self) -> bool:
        """Whether every item of the report is in the document."""
        return not self._rest

    def _clicked(self, url: QUrl) -> None:
        if url.scheme() == SCOORD3D_SCHEME and self.report is not None:
            item = self.report.item_at(url.path())
            if item is not None:
                self.region_requested.emit(item)
            return
        target = parse_image_link(url.toString())
        if target is not None:
            self.scoord = self.report.item_at(link_scoord(url.toString())) if self.report is not None else None
            self.image_requested.emit(*target)


class ReportController(QObject):
    """Opens what the browser activates that is not a series of images, and the images a report links to."""

    def __init__(self, window: MainWindow, view: ReportView, dock: QDockWidget):
        super().__init__(window)
        self.window, self.view, self.dock = window, view, dock
        #: The spatial coordinates drawn, the image they belong on, and the viewport showing it.
        self.drawn: QGraphicsPathItem | None = None
        self._drawing: tuple[object, ImageRef, ContentItem] | None = None
        self._renderers_warmed = False
        #: Objects opened since the last open ended because the user named their files (:meth:`open_named`).
        self._opened_by_name: set[Instance] = set()

    def warm_for_documents(self, changed) -> None:
        """A PDF among the series just listed: get the page renderer ready before the user opens it (once)."""
        if not self._renderers_warmed and any(series.kind == PDF for series in changed):
            from viewer.core.documents.encapsulated import warm_renderers

            self._renderers_warmed = True
            warm_renderers()

    def open_object(self, series: Series, instance: Instance | None = None) -> None:
        """Open an object by its kind: a report or key images read and shown in the dock; an encapsulated document
        (PDF, CDA) or a waveform in a window of its own; other kinds said in the viewport.

        `instance`: the object to open (a file the user named); else the series' first available one. What it is
        comes from the catalog (its SOP Class, read by the scan), not from its file again.
        """
        if instance is None:
            instance = next((i for i in series.instances if i.available), None)
            kind = series.kind
        else:
            kind = instance.kind if instance.available else series.kind
        if instance is None or not instance.available:
            self.window.statusBar().showMessage(f"The {kind} cannot be opened: its file is missing.", 8000)
            return
        if _is_document(instance):  # an encapsulated PDF or CDA (PS3.3 A.45): a window of its own
            from viewer.ui.documents.document_view import open_document

            open_document(self.window, instance.path)
            return
        if _is_waveform(instance):  # a waveform (PS3.3 A.34): drawn on ECG paper in a window of its own
            from viewer.ui.documents.waveform_view import open_waveform

            open_waveform(self.window, instance.path)
            return
        if kind not in (REPORT, KEY_IMAGES):
            name = instance.path.name if instance.path else "?"
            self.window.viewport.pane.show_message(
                f"{name}: has no image to show (it is {sop_class_name(instance.header)}); listed in the study browser as {kind}.",
                calm=True,
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
            self.window.viewport.pane.show_message(f"{report.kind} \u201c{report.title}\u201d: shown in the Report panel.", calm=True)

    def open_named(self, series: Series, instance: Instance) -> None:
        """A file the user named directly (a drop, the command line, Open) holds a document or a waveform: opened in its
        own window at once, as a double-click on it would (:meth:`open_object`); other objects are listed only."""
        if _is_document(instance) or _is_waveform(instance):
            self._opened_by_name.add(instance)
            self.open_object(series, instance)

    def show_lone_object(self) -> None:
        """Opened only objects without images (a report named on the command line): the first is opened,
        unless it was opened in its own window already (a named document or waveform)."""
        opened_by_name, self._opened_by_name = self._opened_by_name, set()
        catalog = self.window.opener.catalog
        if self.window.viewport.current_series is not None or not catalog.series:
            return
        series = catalog.all_series()
        if not any(s.shows_images for s in series):
            rest = [s for s in series if not opened_by_name.intersection(s.instances)]
            if rest:
                self.open_object(rest[0])

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
        self._forget_drawing()
        scoord = self.view.scoord
        if scoord is not None and scoord.value_type == "SCOORD" and scoord.graphic_data:
            self._drawing = (viewport, ref, scoord)
            viewport.image_shown.connect(self._image_shown)
        if viewport.current_series is series and ref in viewport.images:
            viewport.go_to(viewport.images.index(ref))
            if viewport.current == ref and viewport.frame is not None:
                self._image_shown()
        else:
            viewport.show_series(series, ref)

    def open_region(self, item: ContentItem) -> None:
        """Spatial coordinates in the patient (SCOORD3D): the opened image of their frame of reference whose plane holds
        them, shown in the active viewport with them projected onto it (PS3.3 C.18.9, C.7.6.2.1.1)."""
        from dataclasses import replace

        from viewer.core.display.image_plane import series_planes
        from viewer.core.documents.sr_regions import on_image, patient_points, plane_holding

        points, frame_of_reference = patient_points(item.graphic_data), item.frame_of_reference_uid

        def candidates():
            for series in self.window.opener.catalog.all_series():
                header = series.instances[0].header if series.instances else None
                known = str(header.get("FrameOfReferenceUID", "") or "").strip() if header is not None else ""
                if not series.shows_images or (known and known != frame_of_reference):
                    continue  # another frame of reference: its planes are not read
                for ref, plane in zip(series.images, series_planes(series)):
                    yield ref, plane, _number(ref.instance.header.get("SliceThickness"))

        found = plane_holding(points, frame_of_reference, candidates())
        if found is None:
            self.window.statusBar().showMessage(
                f"No image opened lies in the plane of these coordinates (frame of reference {frame_of_reference or 'not given'}).", 8000
            )
            return
        ref, plane = found
        graphic_type, data = on_image(item.graphic_type, points, plane)
        self.view.scoord = replace(item, value_type="SCOORD", graphic_type=graphic_type, graphic_data=data)
        self.open_image(ref.instance.sop_instance_uid, ref.frame)

    def _image_shown(self) -> None:
        """An image is on screen in the viewport drawing coordinates: drawn there on theirs, gone from any other."""
        if self._drawing is None:
            return
        viewport, ref, scoord = self._drawing
        if viewport.current != ref:
            if self.drawn is not None:
                self._forget_drawing()
            return
        if self.drawn is None:
            self.drawn = QGraphicsPathItem(scoord_path(scoord.graphic_type, scoord.graphic_data))
            pen = QPen(SCOORD_COLOUR, 2)
            pen.setCosmetic(True)  # two screen pixels at any zoom
            self.drawn.setPen(pen)
            self.drawn.setParentItem(viewport.pane.image_parent())  # image coordinates, turned with the image

    def _forget_drawing(self) -> None:
        if self.drawn is not None:
            scene = self.drawn.scene()
            if scene is not None:
                scene.removeItem(self.drawn)
            self.drawn = None
        if self._drawing is not None:
            try:
                self._drawing[0].image_shown.disconnect(self._image_shown)
            except (RuntimeError, TypeError):
                pass
            self._drawing = None


def _sop_class(instance: Instance) -> str:
    """(0008,0016) *SOP Class UID*, else (0002,0002) *Media Storage SOP Class UID*, as the scan read them."""
    if instance.sop_class_uid:
        return instance.sop_class_uid
    meta = getattr(instance.header, "file_meta", None)
    return str(getattr(meta, "MediaStorageSOPClassUID", "") or "").strip("\x00 ")


def _is_document(instance: Instance) -> bool:
    """Whether the object is an encapsulated document (PS3.3 A.45: PDF, CDA, STL, OBJ, MTL), from its SOP Class."""
    from viewer.core.documents.encapsulated import DOCUMENT_SOP_CLASSES

    return _sop_class(instance) in DOCUMENT_SOP_CLASSES


def _is_waveform(instance: Instance) -> bool:
    """Whether the object is a waveform (PS3.3 A.34: ECGs, but also hemodynamic, audio, respiratory...), from its SOP Class."""
    from viewer.core.documents.waveform import WAVEFORM_CLASSES

    return _sop_class(instance) in WAVEFORM_CLASSES


def _number(value) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


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
    view.region_requested.connect(controller.open_region)
    window.opening.named_object_found.connect(controller.open_named)  # a PDF, CDA or ECG named: its own window
    window.opening.opened.connect(controller.show_lone_object)
    window.opener.series_changed.connect(controller.warm_for_documents)
    from viewer.ui.browsing import key_images  # the key images a Key Object Selection flags, marked in the strip

    key_images.install(window)
