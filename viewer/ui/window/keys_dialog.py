"""Help > Keyboard and mouse: every binding of the window, read from the window itself.

The keys are those of the window's actions (menus, toolbar, the keys with no
menu), read when the dialog opens, so the list never goes stale: a new action
with a shortcut appears in it without anyone editing this file. The mouse
bindings, which are not actions, are listed in :data:`MOUSE_BINDINGS`.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QMainWindow, QTableWidget, QTableWidgetItem, QVBoxLayout

#: What the mouse does: (the gesture, what it does).
MOUSE_BINDINGS = (
    ("Left drag on an image", "the mouse tool chosen in the toolbar: window/level (W), pan (P), zoom (Z) or scroll (S)"),
    ("Middle drag on an image", "pan"),
    ("Right drag on an image", "zoom"),
    ("Wheel on an image", "next / previous image"),
    ("Ctrl+wheel on an image", "zoom at the pointer"),
    ("Click a series (strip or tree)", "show it in the active viewport"),
    ("Double-click or Enter on a series", "show it in the active viewport"),
    ("Drag a series from the strip or tree", "onto a viewport: show it there"),
    ("Drop files or folders on the window", "open them"),
)


def key_bindings(window: QMainWindow) -> list[tuple[str, str]]:
    """(what, keys) for every action of `window` and its children that has a shortcut: the menus' first, in menu
    order, then the window's keys with no menu, then those of its docks and other parts."""
    rows: dict[tuple[str, str], None] = {}
    for action in [*_menu_actions(window.menuBar().actions()), *window.actions(), *window.findChildren(QAction)]:
        keys = ", ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts() if not key.isEmpty())
        if keys and action.text():
            rows[(action.text().replace("&", "").rstrip("."), keys)] = None
    return list(rows)


def _menu_actions(actions: list[QAction]) -> list[QAction]:
    found = []
    for action in actions:
        found.append(action)
        if action.menu() is not None:
            found += _menu_actions(action.menu().actions())
    return found


class KeysDialog(QDialog):
    """A table of the keyboard bindings of `window`, then the mouse's."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.setWindowTitle("Keyboard and mouse")
        rows = [(what, keys, "Keyboard") for what, keys in key_bindings(window)]
        rows += [(what, gesture, "Mouse") for gesture, what in MOUSE_BINDINGS]
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["What", "Key or gesture", ""])
        for row, cells in enumerate(rows):
            for column, value in enumerate(cells):
                item = QTableWidgetItem(value)
                item.setToolTip(value)
                self.table.setItem(row, column, item)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(720, 560)

    def text(self) -> str:
        """The table as lines of tab-separated cells (for tests and the clipboard)."""
        return "\n".join(
            "\t".join(self.table.item(row, column).text() for column in range(self.table.columnCount()))
            for row in range(self.table.rowCount())
        )
