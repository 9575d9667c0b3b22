"""The viewports of a window, in a grid of rows and columns, one of them active.

The active viewport is the one the menus, the keyboard, the Window box and
the docks act on; it has a clear coloured border, the others a thin dark
one. A click anywhere in a viewport makes it active; a double-click on its
image maximises it (the others hidden) and another brings the grid back.
A series dragged from the browser (mime type :data:`SERIES_MIME`, the Series
Instance UID in UTF-8) can be dropped on any viewport.

Changing the shape (:meth:`ViewportLayout.set_shape`, 1x1 to 4x4, see
:mod:`viewer.core.display.hanging`) keeps the viewports that still fit, in
reading order, with their series, window, zoom, frame and cine; the ones
that no longer fit are emptied and kept aside for the next larger grid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGridLayout, QVBoxLayout, QWidget

from viewer.core.display.hanging import MAX_COLUMNS, MAX_ROWS, GridShape
from viewer.ui.browsing.series_strip import series_uids
from viewer.ui.viewport.viewport import Viewport

if TYPE_CHECKING:
    from viewer.core.media.model import Series

#: What the browser drags: a series, as its Series Instance UID in UTF-8.
#: The active viewport's border, and the others'.
ACTIVE_BORDER = QColor("#3d9df3")
INACTIVE_BORDER = QColor("#303030")
#: Pixels around each viewport: the active one's border fills them, the others' is a thin line.
BORDER = 2


class ViewportCell(QWidget):
    """One viewport with its border (coloured when active)."""

    def __init__(self, viewport: Viewport, parent: QWidget | None = None):
        super().__init__(parent)
        self.viewport = viewport
        self.active = False
        column = QVBoxLayout(self)
        column.setContentsMargins(BORDER, BORDER, BORDER, BORDER)
        column.addWidget(viewport)

    def set_active(self, active: bool) -> None:
        if active != self.active:
            self.active = active
            self.update()

    def paintEvent(self, event):
        painter = QPainter(self)
        painter.fillRect(self.rect(), Qt.GlobalColor.black)
        if self.active:
            painter.fillRect(self.rect(), ACTIVE_BORDER)
        else:
            # One pixel of dark grey inside a black edge: a thin line between viewports.
            painter.fillRect(self.rect().adjusted(BORDER - 1, BORDER - 1, 1 - BORDER, 1 - BORDER), INACTIVE_BORDER)
        painter.end()


class ViewportLayout(QWidget):
    """Viewports made by `make_viewport`, laid out in rows and columns.

    Signals: ``active_changed(viewport)``; ``shape_changed(GridShape)``;
    ``viewport_added(viewport)`` for each viewport made after the first;
    ``series_dropped(viewport, series)`` after a dropped series is shown;
    ``maximised_changed(viewport or None)``. :attr:`find_series` turns a
    dropped Series Instance UID into the series (the window's catalog).
    """

    active_changed = Signal(object)
    shape_changed = Signal(object)
    viewport_added = Signal(object)
    series_dropped = Signal(object, object)
    maximised_changed = Signal(object)

    def __init__(self, make_viewport: Callable[[], Viewport], parent: QWidget | None = None):
        super().__init__(parent)
        self._make_viewport = make_viewport
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(0)
        self._cells: list[ViewportCell] = []  # every cell made, in reading order; those past the shape are aside
        self._filters: dict[Viewport, _ViewportEvents] = {}
        self.shape = GridShape()
        self.maximised: Viewport | None = None
        self.find_series: Callable[[str], Series | None] = lambda _uid: None
        self.viewports: list[Viewport] = [self._add_cell().viewport]
        self.active: Viewport = self.viewports[0]
        self._cells[0].set_active(True)
        self._arrange(self._cells[:1], GridShape())

    def __iter__(self) -> Iterator[Viewport]:
        """The viewports of the grid, in reading order (hidden ones of a maximised grid too)."""
        return iter(self.viewports)

    def __len__(self) -> int:
        return len(self.viewports)

    # ------------------------------------------------------------------ cells
    def _add_cell(self) -> ViewportCell:
        viewport = self._make_viewport()
        cell = ViewportCell(viewport, self)
        self._cells.append(cell)
        self._filters[viewport] = _ViewportEvents(self, viewport)
        if len(self._cells) > 1:
            self.viewport_added.emit(viewport)
        return cell

    def cell_of(self, viewport: Viewport) -> ViewportCell:
        return next(cell for cell in self._cells if cell.viewport is viewport)

    def _arrange(self, cells: Sequence[ViewportCell], shape: GridShape) -> None:
        """Put `cells` in the grid in reading order, each row and column the same size; hide every other cell."""
        for cell in self._cells:
            self._grid.removeWidget(cell)
        for i in range(MAX_ROWS):
            self._grid.setRowStretch(i, 1 if i < shape.rows else 0)
        for i in range(MAX_COLUMNS):
            self._grid.setColumnStretch(i, 1 if i < shape.columns else 0)
        for number, cell in enumerate(cells):
            row, column = shape.position(number)
            self._grid.addWidget(cell, row, column)
        shown = set(map(id, cells))
        for cell in self._cells:
            cell.setVisible(id(cell) in shown)

    # ------------------------------------------------------------------ the shape
    def set_shape(self, shape: GridShape) -> None:
        """`shape` rows x columns; the viewports that still fit keep their series and state."""
        if self.maximised is not None:
            self._restore()
        while len(self._cells) < shape.cells:
            self._add_cell()
        kept = self._cells[: shape.cells]
        for cell in self._cells[shape.cells :]:
            if cell.viewport.current_series is not None:
                cell.viewport.cine.stop()
                cell.viewport.clear()
        self.viewports = [cell.viewport for cell in kept]
        self.shape = shape
        self._arrange(kept, shape)
        if self.active not in self.viewports:
            self.set_active(self.viewports[0])
        self.shape_changed.emit(shape)

    def set_active(self, viewport: Viewport) -> None:
        """Make `viewport` (one of the grid's) the one the window acts on."""
        if self.maximised is not None and viewport is not self.maximised:
            self._restore()  # the viewport is hidden behind the maximised one: the grid again
        if viewport is self.active or viewport not in self.viewports:
            return
        self.cell_of(self.active).set_active(False)
        self.active = viewport
        self.cell_of(viewport).set_active(True)
        self.active_changed.emit(viewport)

    # ------------------------------------------------------------------ maximise
    def toggle_maximised(self, viewport: Viewport | None = None) -> None:
        """Show only `viewport` (the active one by default), or the whole grid again if one is maximised."""
        if self.maximised is not None:
            self._restore()
            return
        viewport = viewport or self.active
        if len(self.viewports) < 2 or viewport not in self.viewports:
            return
        self.set_active(viewport)
        self.maximised = viewport
        self._arrange([self.cell_of(viewport)], GridShape())
        self.maximised_changed.emit(viewport)

    def _restore(self) -> None:
        self.maximised = None
        self._arrange(self._cells[: self.shape.cells], self.shape)
        self.maximised_changed.emit(None)

    # ------------------------------------------------------------------ series
    def hang(self, series: Sequence[Series | None]) -> None:
        """Show `series[i]` in viewport i (a viewport already showing it keeps its state; None empties it)."""
        for viewport, shown in zip(self.viewports, series):
            if shown is None:
                if viewport.current_series is not None:
                    viewport.cine.stop()
                    viewport.clear()
            elif viewport.current_series is not shown:
                viewport.show_series(shown)

    def drop_series(self, viewport: Viewport, uid: str) -> bool:
        """Show the series with Series Instance UID `uid` in `viewport` and make it active; False if no such series is open."""
        series = self.find_series(uid)
        if series is None:
            viewport.status.emit("That series is no longer open.")
            return False
        self.set_active(viewport)
        viewport.show_series(series)
        self.series_dropped.emit(viewport, series)
        return True


def dropped_series_uid(mime) -> str | None:
    """The Series Instance UID a drag carries (:data:`SERIES_MIME`), or None."""
    uids = series_uids(mime) if mime is not None else []
    return uids[0].strip("\x00 ") or None if uids else None


class _ViewportEvents(QObject):
    """Watches a viewport and every widget in it: a press makes it active, a double-click on its image
    maximises it, a series dropped on it is shown in it. Widgets added later (the pyqtgraph view is
    built after the first image) are watched as they are added."""

    def __init__(self, layout: ViewportLayout, viewport: Viewport):
        super().__init__(viewport)
        self.grid, self.viewport = layout, viewport
        viewport.setAcceptDrops(True)
        self._watch(viewport)

    def _watch(self, widget: QWidget) -> None:
        widget.installEventFilter(self)
        for child in widget.findChildren(QWidget):
            child.installEventFilter(self)

    def eventFilter(self, watched, event):
        kind = event.type()
        if kind == QEvent.Type.ChildAdded:
            child = event.child()
            if isinstance(child, QWidget):
                self._watch(child)
        elif kind == QEvent.Type.MouseButtonPress:
            self.grid.set_active(self.viewport)
        elif kind == QEvent.Type.MouseButtonDblClick and event.button() == Qt.MouseButton.LeftButton and self._on_image(watched):
            self.grid.toggle_maximised(self.viewport)
            return True
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if dropped_series_uid(event.mimeData()) is not None:
                event.acceptProposedAction()
                return True
        elif kind == QEvent.Type.Drop:
            uid = dropped_series_uid(event.mimeData())
            if uid is not None:
                if self.grid.drop_series(self.viewport, uid):
                    event.acceptProposedAction()
                return True
        return False

    def _on_image(self, watched) -> bool:
        pane = self.viewport.pane
        return isinstance(watched, QWidget) and (watched is pane or pane.isAncestorOf(watched))
