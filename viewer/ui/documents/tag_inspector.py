"""The tag inspector: every attribute of the image shown, with character-set choices.

A thin model over the core's :class:`~viewer.core.dicom.inspect.TagRow` tree
(rows are built on a worker thread, newest request wins), a filter box,
copy of a value, a row or the whole dump, and a bar that appears when text
looks mis-encoded: it shows the best guess and lets the user pick the
character set for this file, this series, this station or this institution.

Columns: Tag, Name and VR fit their content, the Value column takes the
rest of the dock (long values elided in the middle, the whole value in the
tooltip), and a horizontal scroll bar appears only when the dock is too
narrow for that. VM and Length are hidden until chosen from the header's
menu (at the default dock width they would leave the Value no room).
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QSettings, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from viewer.core.dicom.charset import CHOICES, LABELS, normalise_charset
from viewer.core.dicom.inspect import TagRow, dump_text
from viewer.core.dicom.io import ViewerError

COLUMNS = ("Tag", "Name", "VR", "VM", "Length", "Value")
VALUE_COLUMN = 5
#: Columns shown only when the user asks (header menu); remembered in the settings.
OPTIONAL_COLUMNS = ("VM", "Length")
#: Share of the room left after Tag and VR that the Name column may take (the Value has the rest).
NAME_SHARE = 0.42


class _Node:
    __slots__ = ("row", "parent", "children", "number")

    def __init__(self, row: TagRow | None, parent: _Node | None, number: int):
        self.row = row
        self.parent = parent
        self.number = number
        self.children: list[_Node] = []


def _build(rows: list[TagRow], parent: _Node) -> None:
    for i, row in enumerate(rows):
        node = _Node(row, parent, i)
        parent.children.append(node)
        _build(row.children, node)


class TagTreeModel(QAbstractItemModel):
    """Read-only tree over TagRow objects (no per-cell objects: fast for big headers)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._root = _Node(None, None, 0)
        self._italic = QFont()
        self._italic.setItalic(True)

    def set_rows(self, rows: list[TagRow]) -> None:
        self.beginResetModel()
        self._root = _Node(None, None, 0)
        _build(rows, self._root)
        self.endResetModel()

    def rows(self) -> list[TagRow]:
        return [n.row for n in self._root.children]

    # -- Qt model interface -------------------------------------------------------------
    def _node(self, index: QModelIndex) -> _Node:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row, column, parent=QModelIndex()):
        node = self._node(parent)
        if 0 <= row < len(node.children):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index=QModelIndex()):
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer().parent
        if node is None or node is self._root:
            return QModelIndex()
        return self.createIndex(node.number, 0, node)

    def rowCount(self, parent=QModelIndex()):
        if parent.isValid() and parent.column() > 0:
            return 0
        return len(self._node(parent).children)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row: TagRow = index.internalPointer().row
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return row.tag
            if column == 1:
                return row.keyword or row.name
            if column == 2:
                return row.vr
            if column == 3:
                return "" if row.vr in ("",) else str(row.vm)
            if column == 4:
                return "" if row.length is None else str(row.length)
            mark = "⚠ " if row.warning else ""
            guess = f"  [guess: {LABELS.get(row.guess, row.guess)}]" if row.guess else ("  [suspect]" if row.suspect else "")
            return f"{mark}{row.value}{guess}"
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [row.name]
            if row.warning.startswith("truncated"):
                parts.append(f"Damaged: {row.warning}")
            elif row.warning:
                parts.append(f"Invalid value: {row.warning} (shown raw)")
            if row.guess:
                parts.append(f"The declared character set does not fit these bytes; best guess: {LABELS.get(row.guess, row.guess)}")
            if len(row.full_value) > len(row.value):
                parts.append(row.full_value[:4000])
            return "\n".join(parts)
        if role == Qt.ItemDataRole.ForegroundRole and (row.warning or row.suspect):
            return QBrush(QColor("#b35900"))
        if role == Qt.ItemDataRole.FontRole and row.guess and column == 5:
            return self._italic
        if role == Qt.ItemDataRole.UserRole:
            return row
        return None


class _RowFilter(QSortFilterProxyModel):
    """Matches tag, keyword, name or value text, keeping the path to a match."""

    needle = ""  # the filter text itself: setFilterFixedString escapes it ("0010\\,0010")

    def filterAcceptsRow(self, source_row, source_parent):
        needle = self.needle
        if not needle:
            return True
        index = self.sourceModel().index(source_row, 0, source_parent)
        row: TagRow = index.internalPointer().row
        haystack = (
            f"{row.tag} {row.tag.replace('(', '').replace(')', '').replace(',', '')} {row.keyword} {row.name} {row.full_value}".lower()
        )
        return needle in haystack


class TagInspector(QWidget):
    """The inspector pane. Emits ``override_requested(scope, key, charset)``."""

    override_requested = Signal(str, str, str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = TagTreeModel(self)
        self.proxy = _RowFilter(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: tag, keyword or value (e.g. 0010, PatientName, CT)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter)

        self.tree = QTreeView()
        self.tree.setModel(self.proxy)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.tree.customContextMenuRequested.connect(self._menu)
        self.value_delegate = _ValueDelegate(self.tree)
        self.tree.setItemDelegateForColumn(VALUE_COLUMN, self.value_delegate)
        header = self.tree.header()
        header.setStretchLastSection(True)  # the Value column reaches the dock's right edge
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._column_menu)
        self._fitting_columns = False
        self.column_widths_chosen = False  # the user dragged a column: keep their widths
        header.sectionResized.connect(self._section_resized)
        shown = _settings().value("inspector/shown_columns", []) or []
        shown = [shown] if isinstance(shown, str) else list(shown)  # an INI file gives one value as a string
        for name in OPTIONAL_COLUMNS:
            self._set_column_shown(name, name in shown)
        self.tree.viewport().installEventFilter(self)
        copy = QAction("Copy", self.tree)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_rows)
        self.tree.addAction(copy)

        # The character-set bar: shown when text looks mis-encoded or an override is in force.
        self.charset_label = QLabel()
        self.charset_label.setWordWrap(True)
        self.charset_combo = QComboBox()
        for label, code in CHOICES.items():
            self.charset_combo.addItem(label, code)
        # Editable: any spelling a user would type ('utf8', 'Shift_JIS', 'iso-ir-100'), normalised on Apply.
        self.charset_combo.setEditable(True)
        self.charset_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.scope_combo = QComboBox()
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self._apply)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Character set"))
        bar.addWidget(self.charset_combo, 1)
        bar.addWidget(QLabel("for"))
        bar.addWidget(self.scope_combo, 1)
        bar.addWidget(self.apply_button)
        self.charset_bar = QWidget()
        column = QVBoxLayout(self.charset_bar)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.charset_label)
        column.addLayout(bar)
        self.charset_bar.setStyleSheet("QWidget { background: #fff4e0; }")
        self.charset_bar.hide()

        self.title = QLabel("")
        # A file cut short: its readable elements are listed below this line.
        self.problem_label = QLabel()
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("QLabel { background: #fff4e0; color: #8a4500; padding: 3px; }")
        self.problem_label.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.problem_label)
        layout.addWidget(self.charset_bar)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree, 1)
        self._scopes: list[tuple[str, str]] = []

    # -- column sizes -----------------------------------------------------------------------
    def fit_columns(self) -> None:
        """Tag, VR, VM and Length as wide as their content; Name up to NAME_SHARE of the rest; Value the rest."""
        if self.column_widths_chosen:
            return
        tree = self.tree
        style = tree.style()
        advance = tree.fontMetrics().horizontalAdvance
        pad = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, tree) + 1) + 8
        header_advance = tree.header().fontMetrics().horizontalAdvance
        widths = {
            0: advance("(0000,0000)") + tree.indentation() + pad,
            2: max(advance("UN"), header_advance("VR")) + pad,
            3: max(advance("1-n"), header_advance("VM")) + pad,
            4: max(advance("000000"), header_advance("Length")) + pad,
        }
        room = tree.viewport().width() - sum(w for column, w in widths.items() if not tree.isColumnHidden(column))
        natural = advance("ReferencedSOPInstanceUID") + pad  # a long keyword seen on most images
        widths[1] = max(advance("PatientName") + pad, min(natural, int(room * NAME_SHARE)))
        self._fitting_columns = True
        try:
            for column, width in widths.items():
                tree.setColumnWidth(column, width)
        finally:
            self._fitting_columns = False

    def _section_resized(self, column: int, _old: int, _new: int) -> None:
        if column != VALUE_COLUMN and not self._fitting_columns:
            self.column_widths_chosen = True

    def eventFilter(self, watched, event):
        if watched is self.tree.viewport() and event.type() == QEvent.Type.Resize:
            self.fit_columns()
        return super().eventFilter(watched, event)

    def _set_column_shown(self, name: str, shown: bool) -> None:
        self._fitting_columns = True
        try:
            self.tree.setColumnHidden(COLUMNS.index(name), not shown)
        finally:
            self._fitting_columns = False
        self.fit_columns()

    def _column_menu(self, point) -> None:
        menu = QMenu(self)
        for name in OPTIONAL_COLUMNS:
            action = menu.addAction(name)
            action.setCheckable(True)
            action.setChecked(not self.tree.isColumnHidden(COLUMNS.index(name)))
            action.toggled.connect(lambda shown, name=name: self.show_column(name, shown))
        menu.exec(self.tree.header().mapToGlobal(point))

    def show_column(self, name: str, shown: bool) -> None:
        """Show or hide an optional column (VM, Length), and remember it."""
        self._set_column_shown(name, shown)
        _settings().setValue("inspector/shown_columns", [n for n in OPTIONAL_COLUMNS if not self.tree.isColumnHidden(COLUMNS.index(n))])

    def show_rows(
        self, rows: list[TagRow], title: str, scopes: list[tuple[str, str, str]], override: tuple[str, str] | None, problem: str = ""
    ) -> None:
        """Show `rows`. `scopes` are (scope, key, label) choices; `override` is (charset, scope) in force;
        `problem` is why the file could only be read in part (a warning line above the rows)."""
        self.title.setText(title)
        self.problem_label.setText(f"⚠ Only part of this file could be read: {problem}" if problem else "")
        self.problem_label.setVisible(bool(problem))
        self.model.set_rows(rows)
        if self.filter_edit.text():
            self.tree.expandAll()
        guesses = [r.guess for r in _walk(rows) if r.guess]
        suspect = any(r.suspect for r in _walk(rows))
        self._scopes = [(scope, key) for scope, key, _ in scopes]
        self.scope_combo.clear()
        for _scope, _key, label in scopes:
            self.scope_combo.addItem(label)
        if override is not None:
            charset, scope = override
            self.charset_label.setText(f"Text is decoded as {LABELS.get(charset, charset)} (your choice for this {scope}).")
            self._select_charset(charset)
            self.charset_bar.show()
        elif suspect:
            best = max(set(guesses), key=guesses.count) if guesses else ""
            hint = f" Best guess: {LABELS.get(best, best)} (values marked [guess])." if best else ""
            self.charset_label.setText(f"Some text does not fit the declared character set.{hint}")
            self._select_charset(best)
            self.charset_bar.show()
        else:
            self.charset_bar.hide()

    def clear(self) -> None:
        self.model.set_rows([])
        self.title.setText("")
        self.problem_label.hide()
        self.charset_bar.hide()

    def _select_charset(self, code: str) -> None:
        index = self.charset_combo.findData(code)
        if index >= 0 or not code:
            self.charset_combo.setCurrentIndex(max(0, index))
        else:
            self.charset_combo.setEditText(LABELS.get(code, code))  # a codec typed earlier ('euc_jp')

    def selected_charset(self) -> str:
        """The canonical code of the choice shown or typed (raises ViewerError for an unknown spelling)."""
        text = self.charset_combo.currentText()
        index = self.charset_combo.findText(text)
        return (self.charset_combo.itemData(index) or "") if index >= 0 else normalise_charset(text)

    def _apply(self) -> None:
        i = self.scope_combo.currentIndex()
        if 0 <= i < len(self._scopes):
            scope, key = self._scopes[i]
            try:
                code = self.selected_charset()
            except ViewerError as exc:
                self.charset_label.setText(exc.reason)
                return
            self.override_requested.emit(scope, key, code)

    def choose(self, charset: str, scope: str) -> None:
        """Pick a character set and scope as a user would, then apply (for tests and scripts)."""
        self._select_charset(charset)
        for i, (s, _key) in enumerate(self._scopes):
            if s == scope:
                self.scope_combo.setCurrentIndex(i)
                break
        self._apply()

    def _filter(self, text: str) -> None:
        self.proxy.needle = text.strip().lower()
        self.proxy.setFilterFixedString(text.strip())  # re-runs the filter
        if text.strip():
            self.tree.expandAll()

    def selected_rows(self) -> list[TagRow]:
        indexes = [i for i in self.tree.selectionModel().selectedRows(0)]
        return [self.proxy.mapToSource(i).data(Qt.ItemDataRole.UserRole) for i in indexes]

    def copy_rows(self) -> None:
        rows = self.selected_rows()
        QGuiApplication.clipboard().setText("\n".join(r.line() for r in rows if r is not None))

    def copy_value(self) -> None:
        rows = self.selected_rows()
        if rows:
            QGuiApplication.clipboard().setText(rows[0].full_value)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(dump_text(self.model.rows()))

    def _menu(self, point) -> None:
        menu = QMenu(self)
        menu.addAction("Copy value", self.copy_value)
        menu.addAction("Copy row", self.copy_rows)
        menu.addAction("Copy everything as text", self.copy_all)
        menu.addSeparator()
        menu.addAction("Expand all", self.tree.expandAll)
        menu.addAction("Collapse all", self.tree.collapseAll)
        menu.exec(self.tree.viewport().mapToGlobal(point))


class _ValueDelegate(QStyledItemDelegate):
    """Value cells elided in the middle (a UID's or a path's two ends stay); the whole value in the tooltip when cut."""

    def initStyleOption(self, option, index):
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle

    def tooltip(self, option, index) -> str:
        """The row's tooltip, with the whole value added when the cell cannot show it all."""
        cell = QStyleOptionViewItem(option)
        self.initStyleOption(cell, index)
        style = cell.widget.style() if cell.widget is not None else QApplication.style()
        room = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, cell, cell.widget).width()
        room -= 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, cell.widget) + 1)
        tip = index.data(Qt.ItemDataRole.ToolTipRole) or ""
        row = index.data(Qt.ItemDataRole.UserRole)
        value = row.full_value[:4000] if row is not None else cell.text
        if cell.fontMetrics.horizontalAdvance(cell.text) > room and value and value not in tip:
            tip = f"{tip}\n{value}" if tip else value
        return tip

    def helpEvent(self, event, view, option, index):
        if event.type() == QEvent.Type.ToolTip and index.isValid():
            tip = self.tooltip(option, index)
            if tip:
                QToolTip.showText(event.globalPos(), tip, view)
                return True
        return super().helpEvent(event, view, option, index)


def _settings() -> QSettings:
    """The app's settings (the same store as the window's)."""
    return QSettings("dicom-viewer", "dicom-viewer")


def _walk(rows: list[TagRow]):
    for row in rows:
        yield row
        yield from _walk(row.children)
