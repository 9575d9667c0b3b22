"""The series strip: the Studies dock's narrow default view, one row per series with its thumbnail.

A vertical list, fed by the same :class:`~viewer.core.media.model.Catalog`
as the study tree (:class:`~viewer.ui.browsing.browser.StudyBrowser` holds both):
each patient's name, then their studies, the newest first (the current
study, then its priors: :meth:`~viewer.core.media.model.Patient.studies_newest_first`),
each study's series under it with a thumbnail, the modality, the series
number and description and the number of images. A click shows the series
in the active viewport; dragging it carries :data:`SERIES_MIME`. Objects
without an image (reports, key images, presentation states, ECGs, PDFs...)
have rows too, saying their kind (:func:`kind_text`), with an icon for it;
a click on one opens it in its own view (the browser's ``object_activated``).

The drag's data (also the study tree's): MIME type :data:`SERIES_MIME`,
the series' key in the catalog (its (0020,000E) *Series Instance UID*),
UTF-8, one per line. :func:`series_uids` reads it back for a drop target.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QFont, QIcon
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QStyle, QWidget

from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.dicom.sop_classes import ECG, KEY_IMAGES, PDF, PRESENTATION_STATE, REPORT
from viewer.core.display.annotations import format_date, format_person_name
from viewer.core.media.model import Catalog, Patient, Series, Study, text
from viewer.core.runtime.wording import count
from viewer.ui.window.icons import key_star

#: The drag-and-drop MIME type of a series: its Series Instance UID, UTF-8, one per line.
SERIES_MIME = "application/x-dicom-viewer-series"
#: The strip's thumbnails, in pixels.
STRIP_THUMBNAIL = 56
SERIES_ROLE = Qt.ItemDataRole.UserRole + 2
#: What the filter box matches a row against (its patient, its study and itself).
FILTER_ROLE = Qt.ItemDataRole.UserRole + 3
#: "patient" or "study" for a heading row (None for a series).
LEVEL_ROLE = Qt.ItemDataRole.UserRole + 4
#: A heading's Patient or Study.
CHOSEN_ROLE = Qt.ItemDataRole.UserRole + 5
#: A series row's patient and study labels (for the filter).
CONTEXT_ROLE = Qt.ItemDataRole.UserRole + 5


def series_mime_data(uids: Iterable[str]) -> QMimeData | None:
    """The drag's data for series `uids` (None for none)."""
    uids = [uid for uid in uids if uid]
    if not uids:
        return None
    data = QMimeData()
    data.setData(SERIES_MIME, "\n".join(uids).encode("utf-8"))
    return data


def series_uids(data: QMimeData) -> list[str]:
    """The Series Instance UIDs a drag carries ([] when it carries no series)."""
    if not data.hasFormat(SERIES_MIME):
        return []
    return [line for line in bytes(data.data(SERIES_MIME)).decode("utf-8", "replace").splitlines() if line.strip()]


#: A standard icon per kind of object without an image (their rows have no thumbnail).
KIND_ICONS = {
    REPORT: QStyle.StandardPixmap.SP_FileDialogContentsView,
    KEY_IMAGES: QStyle.StandardPixmap.SP_DialogApplyButton,
    PRESENTATION_STATE: QStyle.StandardPixmap.SP_FileDialogInfoView,
    PDF: QStyle.StandardPixmap.SP_FileIcon,
    ECG: QStyle.StandardPixmap.SP_MediaVolume,
}


def kind_text(series: Series) -> str:
    """What a series without images holds, for its row: 'Report', 'Key images (2)', 'Other: RT Plan'."""
    kind = series.kind
    label = kind[:1].upper() + kind[1:]
    objects = len(series.instances)
    if objects > 1:
        label += f" ({objects})"
    if kind == "other":
        from pydicom.uid import UID

        names = dict.fromkeys(UID(i.sop_class_uid).name.removesuffix(" Storage") for i in series.instances if i.sop_class_uid)
        label += f": {', '.join(names)}" if names else ""
    return label


def _number(value: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


class SeriesStrip(QListWidget):
    """The series of a catalog, one row each, grouped by patient and study.

    Signals: ``series_activated(Series)`` on a click, a double-click or Enter.
    """

    series_activated = Signal(object)

    def __init__(self, overrides: CharsetOverrides | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.overrides = overrides
        self._items: dict[str, QListWidgetItem] = {}
        self._icons: dict[str, QIcon] = {}
        self._filter = ""
        #: Series key -> what a Key Object Selection says of its key images ("★ 2 key images", its title); see ui/key_images.
        self.key_notes: dict[str, tuple[str, str]] = {}
        self.key_only = False
        self.setIconSize(QSize(STRIP_THUMBNAIL, STRIP_THUMBNAIL))
        self.setWordWrap(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)  # several series for Send, Export...
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSpacing(1)
        self.itemClicked.connect(self._activated)
        self.itemActivated.connect(self._activated)  # Enter, and a double-click on platforms that activate on it

    # ------------------------------------------------------------------ filling
    def rebuild(self, catalog: Catalog) -> None:
        """Every row again, in the catalog's order: patients, their studies newest first, series by number."""
        current = self.currentItem().data(SERIES_ROLE) if self.currentItem() is not None else None
        scrolled = self.verticalScrollBar().value()  # series found while the user reads the list: it stays where it was
        self.clear()
        for patient in catalog.patients.values():
            name = format_person_name(self._text(patient.header, "PatientName")) or "(no name)"
            patient_id = self._text(patient.header, "PatientID")
            patient_label = name + (f"  ({patient_id})" if patient_id else "")
            self._heading(patient_label, "patient", patient)
            for study in patient.studies_newest_first():
                date = format_date(self._text(study.header, "StudyDate"))
                study_label = " ".join(p for p in (date, self._text(study.header, "StudyDescription")) if p) or "Study"
                self._heading(study_label, "study", study)
                for series in sorted(study.series.values(), key=lambda s: _number(s.number)):
                    self._series_item(series, f"{patient_label} {study_label}")
        self.set_filter(self._filter)
        if current is not None and current.uid in self._items:
            self.setCurrentItem(self._items[current.uid])
        self.verticalScrollBar().setValue(scrolled)

    def clear(self) -> None:
        super().clear()
        self._items = {}

    def forget_thumbnails(self) -> None:
        self._icons = {}

    def _heading(self, label: str, level: str, chosen: Patient | Study) -> None:
        """A patient's or a study's row: a heading, neither selected nor dragged (a right click chooses its series)."""
        item = QListWidgetItem(label)
        item.setData(CHOSEN_ROLE, chosen)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        item.setToolTip(label)
        item.setData(LEVEL_ROLE, level)
        font = QFont(self.font())
        font.setBold(level == "patient")
        font.setItalic(level == "study")
        item.setFont(font)
        self.addItem(item)

    def _series_item(self, series: Series, context: str) -> None:
        item = QListWidgetItem()
        item.setData(SERIES_ROLE, series)
        item.setData(CONTEXT_ROLE, context)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled)
        icon = self._icon(series.uid)
        if icon is None and not series.shows_images:
            icon = self.style().standardIcon(KIND_ICONS.get(series.kind, QStyle.StandardPixmap.SP_FileIcon))
        if icon is not None:
            item.setIcon(icon)
        self._label(item, series)
        self.addItem(item)
        self._items[series.uid] = item

    def _label(self, item: QListWidgetItem, series: Series) -> None:
        """The series' row: modality and number, description, images (and how many are missing)."""
        description = self._text(series.header, "SeriesDescription") or (series.instances[0].path.name if series.instances[0].path else "")
        heading = " ".join(p for p in (series.modality, series.number and f"#{series.number}") if p) or "Series"
        images = series.image_count
        missing = series.missing_count
        count_text = count(images, "image") + (f" ({missing} missing)" if missing else "")
        if not series.shows_images:  # a report, key images...: its kind, not "0 images"
            count_text = kind_text(series) + (f" ({missing} missing)" if missing else "")
        key_line, key_note = self.key_notes.get(series.uid, ("", ""))
        label = "\n".join(p for p in (heading, description, count_text, key_line) if p)
        item.setText(("⚠ " if series.warnings else "") + label)
        item.setToolTip("\n".join([" ".join(label.splitlines())] + ([key_note] if key_note else []) + series.warnings))
        item.setData(FILTER_ROLE, f"{item.data(CONTEXT_ROLE)} {label} {series.modality} {series.kind}".lower())

    def set_key_notes(self, notes: dict[str, tuple[str, str]]) -> None:
        """Mark the series holding key images: `notes` maps a series key to (its row's line, its tooltip)."""
        self.key_notes = notes
        for uid, item in self._items.items():
            self._label(item, item.data(SERIES_ROLE))
            if uid in self._icons:
                item.setIcon(self._icon(uid))
        self.set_filter(self._filter)

    def set_key_only(self, key_only: bool) -> None:
        """Show only the series with key images (and the key object documents themselves)."""
        self.key_only = key_only
        self.set_filter(self._filter)

    def update_series(self, catalog: Catalog, changed: list[Series]) -> None:
        """`changed` series gained images: their rows are relabelled; a new series builds the rows again (in order)."""
        if any(series.uid not in self._items for series in changed):
            self.rebuild(catalog)
            return
        for series in changed:  # a long scan of one series: its count grows batch after batch
            self._label(self._items[series.uid], series)

    def _text(self, header, keyword: str) -> str:
        return text(header, keyword, None, self.overrides)

    def set_thumbnail(self, uid: str, icon: QIcon) -> None:
        """`icon` for the series of key `uid` (kept for when the rows are built again)."""
        self._icons[uid] = icon
        item = self._items.get(uid)
        if item is not None:
            item.setIcon(self._icon(uid))

    def _icon(self, uid: str) -> QIcon | None:
        """The series' thumbnail (None before it is made), with a gold star when it holds key images."""
        icon = self._icons.get(uid)
        return key_star(icon, STRIP_THUMBNAIL) if icon is not None and uid in self.key_notes else icon

    def series_items(self) -> dict[str, QListWidgetItem]:
        """The row of each series, by its key in the catalog."""
        return self._items

    # ------------------------------------------------------------------ filter and selection
    def set_filter(self, value: str) -> None:
        """Show only the series whose patient, study or own label contains `value` (any case), with their headings."""
        self._filter = value.strip().lower()
        patient = study = None
        shown: set[int] = set()  # rows of headings with a series shown under them
        for row in range(self.count()):
            item = self.item(row)
            level = item.data(LEVEL_ROLE)
            if level == "patient":
                patient = row
            elif level == "study":
                study = row
            else:
                hidden = bool(self._filter) and self._filter not in item.data(FILTER_ROLE)
                if self.key_only:
                    series = item.data(SERIES_ROLE)
                    hidden = hidden or not (series.uid in self.key_notes or series.kind == KEY_IMAGES)
                item.setHidden(hidden)
                if not hidden:
                    shown.update(r for r in (patient, study) if r is not None)
        for row in range(self.count()):
            if self.item(row).data(LEVEL_ROLE) is not None:
                self.item(row).setHidden(row not in shown)

    def select_series(self, series: Series) -> None:
        item = self._items.get(series.uid)
        if item is not None:
            self.setCurrentItem(item)
            self.scrollToItem(item)

    def choose_heading(self, heading: QListWidgetItem) -> None:
        """Choose every series under a patient's or a study's `heading` (the rows up to the next heading of its level or above)."""
        self.clearSelection()
        levels = ("patient",) if heading.data(LEVEL_ROLE) == "patient" else ("patient", "study")
        for row in range(self.row(heading) + 1, self.count()):
            item = self.item(row)
            if item.data(LEVEL_ROLE) in levels:
                break
            if item.data(SERIES_ROLE) is not None and not item.isHidden():
                item.setSelected(True)

    def _activated(self, item: QListWidgetItem) -> None:
        series = item.data(SERIES_ROLE)
        if series is not None:
            self.series_activated.emit(series)

    # ------------------------------------------------------------------ dragging
    def startDrag(self, _supported_actions) -> None:
        # A copy, never a move: a view removes the rows a drop moved away, and the series stays in the strip.
        super().startDrag(Qt.DropAction.CopyAction)

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]

    def mimeData(self, items) -> QMimeData | None:
        return series_mime_data(item.data(SERIES_ROLE).uid for item in items if item.data(SERIES_ROLE) is not None)
