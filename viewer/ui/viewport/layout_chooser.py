"""The layout chooser: a toolbar button whose menu offers the named layouts and a grid to pick rows x columns.

:class:`LayoutChooser` is a QToolButton; its menu has a :class:`GridPicker`
(hover over up to 4x4 squares, click to choose), the shapes of
:data:`~viewer.core.display.hanging.PRESET_SHAPES` by name, and whatever
actions the window adds below them ("Compare with prior"). It emits
``chosen(GridShape)``; it changes nothing itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QColor, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QToolButton, QWidget, QWidgetAction

from viewer.core.display.hanging import MAX_COLUMNS, MAX_ROWS, PRESET_SHAPES, GridShape

#: Side of one square of the picker, and the gap between squares, in pixels.
SQUARE, GAP = 22, 3


def shape_icon(shape: GridShape, size: int = 20, color: QColor | None = None) -> QIcon:
    """An icon of `shape`: its cells as outlined squares, in the text colour (light or dark theme alike)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    pen = QPen(color or QApplication.palette().color(QPalette.ColorRole.WindowText))
    pen.setWidth(2)
    painter.setPen(pen)
    width, height = (size - 2) / shape.columns, (size - 2) / shape.rows
    for row in range(shape.rows):
        for column in range(shape.columns):
            painter.drawRect(QRect(round(1 + column * width), round(1 + row * height), round(width) - 2, round(height) - 2))
    painter.end()
    return QIcon(pixmap)


class GridPicker(QWidget):
    """Up to 4x4 squares; the mouse over one highlights the rows x columns up to it, a click chooses them.

    Signals: ``chosen(GridShape)``.
    """

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.hovered = GridShape()
        self.setToolTip("Rows x columns: move over the squares, click to choose")

    def sizeHint(self) -> QSize:
        return QSize(MAX_COLUMNS * (SQUARE + GAP) + GAP, MAX_ROWS * (SQUARE + GAP) + GAP + 18)

    def shape_at(self, point: QPoint) -> GridShape | None:
        """The rows x columns up to the square at `point` (None outside the squares)."""
        column, row = (point.x() - GAP) // (SQUARE + GAP), (point.y() - GAP) // (SQUARE + GAP)
        if 0 <= row < MAX_ROWS and 0 <= column < MAX_COLUMNS:
            return GridShape(row + 1, column + 1)
        return None

    def square_centre(self, shape: GridShape) -> QPoint:
        """Where to point to choose `shape` (for tests and the keyboard)."""
        return QPoint(GAP + (shape.columns - 1) * (SQUARE + GAP) + SQUARE // 2, GAP + (shape.rows - 1) * (SQUARE + GAP) + SQUARE // 2)

    def mouseMoveEvent(self, event):
        shape = self.shape_at(event.position().toPoint())
        if shape is not None and shape != self.hovered:
            self.hovered = shape
            self.update()

    def mouseReleaseEvent(self, event):
        shape = self.shape_at(event.position().toPoint())
        if shape is not None:
            self.chosen.emit(shape)

    def keyPressEvent(self, event):
        rows, columns = self.hovered.rows, self.hovered.columns
        key = event.key()
        moves = {Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Down: (1, 0), Qt.Key.Key_Up: (-1, 0)}
        if key in moves:
            d_rows, d_columns = moves[key]
            self.hovered = GridShape(min(MAX_ROWS, max(1, rows + d_rows)), min(MAX_COLUMNS, max(1, columns + d_columns)))
            self.update()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.chosen.emit(self.hovered)
        else:
            super().keyPressEvent(event)

    def paintEvent(self, event):
        painter = QPainter(self)
        for row in range(MAX_ROWS):
            for column in range(MAX_COLUMNS):
                inside = row < self.hovered.rows and column < self.hovered.columns
                painter.fillRect(
                    GAP + column * (SQUARE + GAP), GAP + row * (SQUARE + GAP), SQUARE, SQUARE, QColor("#3d9df3" if inside else "#5a5a5a")
                )
        painter.setPen(self.palette().color(self.foregroundRole()))
        text_top = MAX_ROWS * (SQUARE + GAP) + GAP
        painter.drawText(QRect(0, text_top, self.width(), 18), Qt.AlignmentFlag.AlignCenter, str(self.hovered))
        painter.end()


class LayoutChooser(QToolButton):
    """A toolbar button: click for the menu of layouts. Signals: ``chosen(GridShape)``."""

    chosen = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setText("Layout")
        self.setToolTip("Layout: viewports in rows and columns (View > Layout)")
        self.setIcon(shape_icon(GridShape(2, 2)))
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.picker = GridPicker(self.menu_)
        picker_action = QWidgetAction(self.menu_)
        picker_action.setDefaultWidget(self.picker)
        self.menu_.addAction(picker_action)
        self.picker.chosen.connect(self._picked)
        self.menu_.addSeparator()
        self.shape_actions = shape_actions(self, self._picked)
        self.menu_.addActions(self.shape_actions)
        self.menu_.addSeparator()
        self.setMenu(self.menu_)

    def add_actions(self, actions: Iterable[QAction]) -> None:
        """Actions shown under the layouts (e.g. Compare with prior)."""
        self.menu_.addActions(list(actions))

    def show_shape(self, shape: GridShape) -> None:
        """The layout in force: its icon on the button, its entry checked."""
        self.setIcon(shape_icon(shape))
        self.picker.hovered = shape
        self.picker.update()
        check_shape(self.shape_actions, shape)

    def _picked(self, shape: GridShape) -> None:
        self.menu_.close()
        self.chosen.emit(shape)


def shape_actions(parent, chosen) -> list[QAction]:
    """One checkable action per preset shape ("2x2"), calling `chosen(shape)`; exclusive."""
    group = QActionGroup(parent)
    group.setExclusionPolicy(QActionGroup.ExclusionPolicy.ExclusiveOptional)  # none checked for a custom shape
    actions = []
    for shape in PRESET_SHAPES:
        action = QAction(shape_icon(shape), str(shape), parent)
        action.setCheckable(True)
        action.setData(str(shape))
        action.triggered.connect(lambda _checked=False, s=shape: chosen(s))
        group.addAction(action)
        actions.append(action)
    check_shape(actions, GridShape())
    return actions


def check_shape(actions: Iterable[QAction], shape: GridShape) -> None:
    """Check the action of `shape` (none when it is a custom shape)."""
    for action in actions:
        action.setChecked(action.data() == str(shape))
