"""The viewports of a window, in a grid, one of them active.

The active viewport is the one the menus, the keyboard, the Window box and
the docks act on. A window has one viewport for now; layouts of several
(1x2, 2x2, ...) place more in the same grid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from PySide6.QtWidgets import QGridLayout, QWidget

from viewer.ui.viewport import Viewport


class ViewportLayout(QWidget):
    """Viewports made by `make_viewport`, laid out in rows and columns."""

    def __init__(self, make_viewport: Callable[[], Viewport], parent: QWidget | None = None):
        super().__init__(parent)
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(0)
        self.viewports: list[Viewport] = [make_viewport()]
        self._grid.addWidget(self.viewports[0], 0, 0)
        self.active: Viewport = self.viewports[0]

    def __iter__(self) -> Iterator[Viewport]:
        return iter(self.viewports)
