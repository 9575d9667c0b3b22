"""The study browser: the series strip by default, the full Patient > Study > Series tree on request.

The strip (:class:`~viewer.ui.browsing.series_strip.SeriesStrip`) is narrow, one row
per series with its thumbnail; the "Tree" button (or View > Show the full
study tree) puts the tree in its place. Both show the same catalog, follow
the same filter box, show a series on a click and let it be dragged
(:data:`~viewer.ui.browsing.series_strip.SERIES_MIME`). Every object of a study is
listed: a series of images (or a video) is shown in the active viewport on a
click (``series_activated``); an object without an image (a report, key
images, a presentation state, an ECG, a PDF...) is listed with its kind and
opens in its own view (``object_activated``).

The tree is a tree over the core's :class:`~viewer.core.media.model.Catalog`, with a filter
box, sortable columns, a thumbnail per series and the scan's progress with
a Cancel button. It holds no DICOM knowledge: names and values come from the
catalog's headers (decoded by pydicom with each file's character set).

The Name column grows to fit its labels (up to :data:`NAME_SHARE` of the
view, until the user drags it); a label that still does not fit is broken
at spaces beside the thumbnail and ends with "…" after a whole word, and
its tooltip is the whole label.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QSortFilterProxyModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QPixmap, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyle,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.display.annotations import format_date, format_person_name, format_time
from viewer.core.media.model import Catalog, Patient, Series, Study, series_within, text
from viewer.core.media.scan import ScanProgress
from viewer.core.runtime.wording import count
from viewer.ui.browsing.item_text import WholeWordsDelegate
from viewer.ui.browsing.series_strip import CHOSEN_ROLE, KIND_ICONS, SERIES_MIME, SeriesStrip, kind_text, series_mime_data
from viewer.ui.window.icons import key_star

COLUMNS = ("Name", "Patient ID", "Birth date", "Sex", "Study date", "Accession", "Description", "Modality", "Series", "Images")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
SERIES_ROLE = Qt.ItemDataRole.UserRole + 2
#: A series name cell's own text and tooltip, before a key-image mark (ui/key_images).
PLAIN_ROLE = Qt.ItemDataRole.UserRole + 7
THUMBNAIL_SIZE = 48
#: The Name column's width: at least this, and at most this share of the view when fitted to its labels.
MIN_NAME_WIDTH = 200
NAME_SHARE = 0.8
#: A series with warnings: a red that reads on the dark theme and on the light one.
WARNING_COLOUR = QColor("#d9534f")


def _item(value: str, sort_value=None) -> QStandardItem:
    item = QStandardItem(value)
    item.setEditable(False)
    item.setData(sort_value if sort_value is not None else value.lower(), SORT_ROLE)
    return item


def _labelled(value: str, sort_value=None) -> QStandardItem:
    """A Name cell: its tooltip is the whole label (the cell may show only its first words)."""
    item = _item(value, sort_value)
    item.setToolTip(value)
    return item


def _number(value: str):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")


class SeriesModel(QStandardItemModel):
    """The tree's rows; a series row drags as :data:`~viewer.ui.browsing.series_strip.SERIES_MIME`."""

    def mimeTypes(self) -> list[str]:
        return [SERIES_MIME]

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction  # the series stays in the tree (a view removes rows a drop moved away)

    def mimeData(self, indexes) -> QMimeData | None:
        found = (self.itemFromIndex(index.siblingAtColumn(0)).data(SERIES_ROLE) for index in indexes if index.isValid())
        return series_mime_data(dict.fromkeys(series.uid for series in found if series is not None))


class StudyBrowser(QWidget):
    """The series strip or the tree of what was opened, its text read with the user's character-set `overrides`.

    Signals: ``series_activated(Series)`` on a click, a double-click or Enter on a series of images;
    ``object_activated(Series)`` on one of objects without an image (a report, key images...);
    ``tree_shown_changed(bool)`` when the full tree replaces the strip, or back.
    """

    series_activated = Signal(object)
    object_activated = Signal(object)
    cancel_requested = Signal()
    tree_shown_changed = Signal(bool)

    def __init__(self, overrides: CharsetOverrides | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.overrides = overrides
        self.catalog: Catalog | None = None
        self._patients: dict[tuple, QStandardItem] = {}
        self._studies: dict[str, list[QStandardItem]] = {}
        self._series: dict[str, list[QStandardItem]] = {}
        self._icons: dict[str, QIcon] = {}

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: name, ID, date, description, modality...")
        self.filter_edit.setClearButtonEnabled(True)

        self.model = SeriesModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setAutoAcceptChildRows(True)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setSortRole(SORT_ROLE)
        self.filter_edit.textChanged.connect(self._filter_changed)

        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setSortingEnabled(True)
        self.tree.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(True)
        # Several patients, studies or series at once (Ctrl, Shift): what Send, De-identify, Export act on.
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setIconSize(QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE).size())
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.tree.header().setStretchLastSection(False)
        self.name_delegate = WholeWordsDelegate(self.tree)
        self.tree.setItemDelegateForColumn(0, self.name_delegate)
        self.tree.setColumnWidth(0, MIN_NAME_WIDTH)
        self._fitting_names = False
        self.name_width_chosen = False  # the user dragged the Name column: keep their width
        self.tree.header().sectionResized.connect(self._section_resized)
        # Labels arrive in batches while a scan runs: fit the column once per turn of the event loop.
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(0)
        self._fit_timer.timeout.connect(self._fit_name_column)
        self.tree.expanded.connect(self._fit_timer.start)
        self.tree.collapsed.connect(self._fit_timer.start)
        self.tree.activated.connect(self._activated)
        self.tree.clicked.connect(self._activated)
        self.tree.doubleClicked.connect(self._activated)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)

        self.strip = SeriesStrip(overrides)
        self.strip.series_activated.connect(self.activate)
        #: Actions on what is chosen (:meth:`chosen_series`), offered by a right click on the tree or the strip.
        self.selection_actions: list[QAction] = []
        for view in (self.tree, self.strip):
            view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
            view.customContextMenuRequested.connect(lambda pos, view=view: self._context_menu(view, pos))
        self.views = QStackedWidget()
        self.views.addWidget(self.strip)
        self.views.addWidget(self.tree)
        self.tree_button = QToolButton()
        self.tree_button.setText("Tree")
        self.tree_button.setCheckable(True)
        self.tree_button.setToolTip("Show the full study tree (patients, studies, series, with every column), or the series strip")
        self.tree_button.toggled.connect(self.show_tree)
        self.key_button = QToolButton()
        self.key_button.setText("★ Key")
        self.key_button.setCheckable(True)
        self.key_button.setToolTip("Key images only: the series a Key Object Selection flags, showing their key images alone")
        self.key_button.toggled.connect(self.strip.set_key_only)
        self.key_button.hide()  # until a study holds key images
        #: Series key -> the series of its key images alone (ui/key_images), shown when "key images only" is on.
        self.key_series: dict[str, Series] = {}
        #: Series key -> (its strip line, its tooltip note) for the series holding key images (:meth:`mark_key_series`).
        self.key_notes: dict[str, tuple[str, str]] = {}

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)  # busy: the total is not known while walking
        self.progress_bar.setMaximumHeight(14)
        self.progress_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        progress_row = QHBoxLayout()
        progress_row.setContentsMargins(0, 0, 0, 0)
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_widget = QWidget()
        progress_column = QVBoxLayout(self.progress_widget)
        progress_column.setContentsMargins(0, 0, 0, 0)
        progress_column.addLayout(progress_row)
        progress_column.addWidget(self.progress_label)
        self.progress_widget.hide()
        self.summary_label = QLabel("")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        filter_row = QHBoxLayout()
        filter_row.setContentsMargins(0, 0, 0, 0)
        filter_row.addWidget(self.filter_edit, 1)
        filter_row.addWidget(self.key_button)
        filter_row.addWidget(self.tree_button)
        layout.addLayout(filter_row)
        layout.addWidget(self.views, 1)
        layout.addWidget(self.progress_widget)
        layout.addWidget(self.summary_label)

    # ------------------------------------------------------------------ filling
    def rebuild(self, catalog: Catalog) -> None:
        """Rebuild every row (the text may read differently, e.g. a new character set)."""
        selected = self.tree.currentIndex()
        selected_series = self.proxy.mapToSource(selected.siblingAtColumn(0)).data(SERIES_ROLE) if selected.isValid() else None
        icons, key_series, key_notes = self._icons, self.key_series, self.key_notes
        self.clear()
        self._icons, self.key_series, self.key_notes = icons, key_series, key_notes
        self.strip.key_notes = key_notes
        self.update_series(catalog, catalog.all_series())
        for uid, icon in icons.items():
            if uid in self._series:
                self._series[uid][0].setIcon(self._tree_icon(uid))
            self.strip.set_thumbnail(uid, icon)
        if selected_series is not None:
            self.select_series(selected_series)

    # ------------------------------------------------------------------ the strip or the tree
    @property
    def tree_shown(self) -> bool:
        """Whether the full tree is shown (rather than the series strip)."""
        return self.views.currentWidget() is self.tree

    def show_tree(self, shown: bool) -> None:
        """The full study tree (`shown`), or the series strip."""
        shown = bool(shown)
        if shown == self.tree_shown:
            return
        self.views.setCurrentWidget(self.tree if shown else self.strip)
        self.tree_button.setChecked(shown)
        if shown:
            self._fit_timer.start()
        self.tree_shown_changed.emit(shown)

    def clear(self) -> None:
        self.model.removeRows(0, self.model.rowCount())
        self._patients.clear()
        self._studies.clear()
        self._series.clear()
        self._icons = {}
        self.catalog = None
        self.key_series, self.key_notes = {}, {}
        self.strip.clear()
        self.strip.forget_thumbnails()

    def update_series(self, catalog: Catalog, changed: list[Series]) -> None:
        """Add or refresh the rows of `changed` series (and their study and patient)."""
        self.catalog = catalog
        sorting = self.tree.isSortingEnabled()
        self.tree.setSortingEnabled(False)  # one re-sort at the end, not one per row
        for series in changed:
            study = catalog.study_of(series)
            if study is None:
                continue
            patient = catalog.patient_of(study)
            study_row = self._study_row(patient, study)
            self._series_row(study_row, series)
            self._refresh_study(study)
        self.tree.setSortingEnabled(sorting)
        if len(self._patients) <= 3:
            self.tree.expandToDepth(1)
        self._fit_timer.start()
        self.strip.update_series(catalog, changed)

    def _patient_row(self, patient: Patient) -> QStandardItem:
        item = self._patients.get(patient.key)
        if item is None:
            h = patient.header
            name = format_person_name(self._text(h, "PatientName")) or "(no name)"
            birth = self._text(h, "PatientBirthDate")
            row = [
                _labelled(name),
                _item(self._text(h, "PatientID")),
                _item(format_date(birth), birth),
                _item(self._text(h, "PatientSex")),
            ] + [_item("") for _ in COLUMNS[4:]]
            row[0].setData(patient, CHOSEN_ROLE)
            self.model.appendRow(row)
            item = self._patients[patient.key] = row[0]
        return item

    def _study_row(self, patient: Patient, study: Study) -> QStandardItem:
        row = self._studies.get(study.uid)
        if row is None:
            parent = self._patient_row(patient)
            h = study.header
            date, time = self._text(h, "StudyDate"), self._text(h, "StudyTime")
            label = " ".join(p for p in (format_date(date), self._text(h, "StudyDescription")) if p) or "Study"
            row = (
                [_labelled(label, date + time)]
                + [_item("") for _ in COLUMNS[1:4]]
                + [
                    _item(" ".join(p for p in (format_date(date), format_time(time)) if p), date + time),
                    _item(self._text(h, "AccessionNumber")),
                    _item(self._text(h, "StudyDescription")),
                    _item(""),
                    _item(""),
                    _item("", 0),
                ]
            )
            row[0].setData(study, CHOSEN_ROLE)
            parent.appendRow(row)
            self._studies[study.uid] = row
        return row[0]

    def _series_row(self, study_row: QStandardItem, series: Series) -> None:
        row = self._series.get(series.uid)
        count = series.image_count
        missing = series.missing_count
        count_text = f"{count}" + (f" ({missing} missing)" if missing else "")
        if not series.shows_images:  # a report, key images...: its kind in the Images column
            count_text = kind_text(series) + (f" ({missing} missing)" if missing else "")
        if row is None:
            series_description = self._text(series.header, "SeriesDescription")
            description = series_description or (series.instances[0].path.name if series.instances[0].path else "")
            prefix = " ".join(p for p in (series.modality, series.number) if p)
            label = f"{prefix}: {description}" if prefix and description else (prefix or description or "Series")
            row = (
                [_labelled(label, _number(series.number))]
                + [_item("") for _ in COLUMNS[1:6]]
                + [
                    _item(series_description),
                    _item(series.modality),
                    _item(series.number, _number(series.number)),
                    _item(count_text, count),
                ]
            )
            row[0].setData(series, SERIES_ROLE)
            if not series.shows_images:  # no thumbnail to come: the icon of its kind
                row[0].setIcon(self.style().standardIcon(KIND_ICONS.get(series.kind, QStyle.StandardPixmap.SP_FileIcon)))
            if series.warnings:
                row[0].setText("⚠ " + row[0].text())
                row[0].setToolTip("\n".join([label] + series.warnings))
                row[0].setForeground(WARNING_COLOUR)
            if missing and not count:
                for cell in row:
                    cell.setForeground(Qt.GlobalColor.gray)
            row[0].setData((row[0].text(), row[0].toolTip()), PLAIN_ROLE)
            study_row.appendRow(row)
            self._series[series.uid] = row
            if series.uid in self.key_notes:
                self._mark_key_row(series.uid, row)
        else:
            row[9].setText(count_text)
            row[9].setData(count, SORT_ROLE)

    def _text(self, header, keyword: str) -> str:
        return text(header, keyword, None, self.overrides)

    def _refresh_study(self, study: Study) -> None:
        row = self._studies[study.uid]
        modalities = sorted({s.modality for s in study.series.values() if s.modality})
        row[7].setText("/".join(modalities))
        row[7].setData("/".join(modalities).lower(), SORT_ROLE)
        total = sum(s.image_count for s in study.series.values())
        row[9].setText(str(total))
        row[9].setData(total, SORT_ROLE)
        row[8].setText(f"{len(study.series)} series")
        row[8].setData(len(study.series), SORT_ROLE)

    def _fit_name_column(self) -> None:
        """The Name column as wide as its widest shown label, within [MIN_NAME_WIDTH, NAME_SHARE of the view]."""
        if self.name_width_chosen:
            return
        room = int(self.tree.viewport().width() * NAME_SHARE)
        width = max(MIN_NAME_WIDTH, min(self.tree.sizeHintForColumn(0), room))
        if width != self.tree.columnWidth(0):
            self._fitting_names = True
            try:
                self.tree.setColumnWidth(0, width)
            finally:
                self._fitting_names = False

    def _section_resized(self, column: int, _old: int, _new: int) -> None:
        if column == 0 and not self._fitting_names:
            self.name_width_chosen = True

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._fit_timer.start()  # a wider dock: room for longer labels

    # ------------------------------------------------------------------ thumbnails
    def set_thumbnail(self, series: Series, pixels) -> None:
        """Show uint8 grey (h, w) or RGB (h, w, 3) pixels as the series' icon."""
        row = self._series.get(series.uid)
        if row is None or pixels is None:
            return
        height, width = pixels.shape[:2]
        fmt = QImage.Format.Format_Grayscale8 if pixels.ndim == 2 else QImage.Format.Format_RGB888
        image = QImage(pixels.data, width, height, pixels.strides[0], fmt).copy()
        icon = QIcon(QPixmap.fromImage(image))
        self._icons[series.uid] = icon
        row[0].setIcon(self._tree_icon(series.uid))
        self.strip.set_thumbnail(series.uid, icon)
        self._fit_timer.start()  # the label moved right by the thumbnail's width

    # ------------------------------------------------------------------ key images (ui/key_images)
    def mark_key_series(self, notes: dict[str, tuple[str, str]]) -> None:
        """Mark the series holding key images, in the tree and the strip: a star before the name and on the
        thumbnail, the Key Object Selections' titles in the tooltip. `notes`: series key -> (strip line, tooltip note)."""
        self.key_notes = notes
        self.strip.set_key_notes(notes)
        for uid, row in self._series.items():
            self._mark_key_row(uid, row)

    def _mark_key_row(self, uid: str, row: list[QStandardItem]) -> None:
        label, tooltip = row[0].data(PLAIN_ROLE)
        line, note = self.key_notes.get(uid, ("", ""))
        row[0].setText(f"★ {label}" if line else label)
        row[0].setToolTip("\n".join(p for p in (tooltip, line, note) if p))
        if uid in self._icons:
            row[0].setIcon(self._tree_icon(uid))

    def _tree_icon(self, uid: str) -> QIcon:
        icon = self._icons[uid]
        return key_star(icon, THUMBNAIL_SIZE) if uid in self.key_notes else icon

    # ------------------------------------------------------------------ progress
    def show_progress(self, progress: ScanProgress) -> None:
        words = f"{count(progress.files_seen, 'file')} looked at, {count(progress.images_found, 'image')}"
        if progress.objects_found:  # reports, key images, presentation states...: listed too
            words += f", {count(progress.objects_found, 'other object')}"
        if progress.skipped:
            words += f", {count(progress.skipped, 'other file')} skipped"
        if progress.problems:
            words += f", {count(progress.problems, 'problem')}"
        if progress.done:
            self.progress_widget.hide()
            self.summary_label.setText(("Cancelled: " if progress.cancelled else "") + words)
        else:
            self.progress_widget.show()
            self.progress_label.setText(words)

    # ------------------------------------------------------------------ selection
    def series_items(self) -> dict[str, list[QStandardItem]]:
        return self._series

    def select_series(self, series: Series) -> None:
        self.strip.select_series(series)
        row = self._series.get(series.uid)
        if row is not None:
            index = self.proxy.mapFromSource(row[0].index())
            self.tree.setCurrentIndex(index)
            self.tree.scrollTo(index)

    def chosen_series(self) -> list[Series]:
        """The series of the rows chosen in the shown view (a patient or a study stands for all its series),
        each once, in the order shown; none when nothing is chosen."""
        if self.tree_shown:
            rows = sorted(self.tree.selectionModel().selectedRows(0), key=lambda index: (self._depth(index), index.row()))
            chosen = [self.proxy.mapToSource(index).data(SERIES_ROLE) or self.proxy.mapToSource(index).data(CHOSEN_ROLE) for index in rows]
        else:
            chosen = [item.data(SERIES_ROLE) for item in self.strip.selectedItems()]
        return series_within(c for c in chosen if c is not None)

    @staticmethod
    def _depth(index) -> int:
        depth = 0
        while index.parent().isValid():
            index, depth = index.parent(), depth + 1
        return depth

    def add_selection_action(self, action: QAction) -> None:
        """Offer `action` in the right-click menu of the tree and the strip; it reads :meth:`chosen_series`."""
        self.selection_actions.append(action)

    def _context_menu(self, view, pos) -> None:
        if view is self.strip:  # a right click on a patient's or study's heading chooses all its series
            item = self.strip.itemAt(pos)
            if item is not None and item.data(CHOSEN_ROLE) is not None:
                self.strip.choose_heading(item)
        if not self.selection_actions or not self.chosen_series():
            return
        menu = QMenu(view)
        menu.addActions(self.selection_actions)
        menu.exec(view.viewport().mapToGlobal(pos))

    def _activated(self, index) -> None:
        series = self.proxy.mapToSource(index.siblingAtColumn(0)).data(SERIES_ROLE)
        if series is not None:
            self.activate(series)

    def activate(self, series: Series) -> None:
        """What a click on `series` does: images to the viewport (``series_activated``), any other
        object to its own view (``object_activated``)."""
        if self.key_button.isChecked() and series.uid in self.key_series:
            series = self.key_series[series.uid]  # "key images only": the key images of the series
        (self.series_activated if series.shows_images else self.object_activated).emit(series)

    def _filter_changed(self, value: str) -> None:
        self.proxy.setFilterFixedString(value.strip())
        self.strip.set_filter(value)
        if value.strip():
            self.tree.expandAll()
