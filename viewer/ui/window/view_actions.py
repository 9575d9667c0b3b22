"""Actions on what each image shows, for the window's View menu: "Smooth when zoomed".

Kept apart from :mod:`viewer.ui.window.main_window` (which installs them with one
call) and light: Qt only, so the window's frame is still built before numpy
and pyqtgraph are imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMainWindow, QMenu

#: The key of "Smooth when zoomed" (N for nearest neighbour: off shows square pixels).
SMOOTH_KEY = "N"


def smoothing_action(window: QMainWindow, menu: QMenu | None = None) -> QAction:
    """The checkable "Smooth when zoomed" action of `window` (added to `menu` when given), key :data:`SMOOTH_KEY`.

    It toggles the active viewport's interpolation (``window.viewport``:
    smooth beyond 1:1, nearest neighbour at 1:1 and below; off: nearest at
    every zoom) and shows the state of whichever viewport is active when
    the menu opens or an image is shown. The window's attribute
    ``smooth_action`` holds it.
    """
    action = QAction("S&mooth when zoomed", window)
    action.setCheckable(True)
    action.setChecked(True)
    action.setShortcut(QKeySequence(SMOOTH_KEY))
    action.setToolTip(f"Smooth the image when zoomed in beyond 1:1; off: square pixels ({SMOOTH_KEY})")

    def active_viewport():
        return window.viewport if getattr(window, "contents_built", True) else None

    def toggled(checked: bool) -> None:
        viewport = active_viewport()
        if viewport is not None:
            viewport.set_smooth_zoom(checked)

    def sync() -> None:
        viewport = active_viewport()
        if viewport is not None and action.isChecked() != viewport.smooth_zoom:
            action.blockSignals(True)
            action.setChecked(viewport.smooth_zoom)
            action.blockSignals(False)

    action.toggled.connect(toggled)
    window.addAction(action)
    if menu is not None:
        menu.addAction(action)
        menu.aboutToShow.connect(sync)
    image_shown = getattr(window, "image_shown", None)
    if image_shown is not None:
        image_shown.connect(sync)
    window.smooth_action = action
    return action
