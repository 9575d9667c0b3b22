"""The window's linking switches: checkable actions for the toolbar, a menu and the keyboard.

Light on purpose: the window's frame builds these actions before numpy and
pydicom are imported (see :mod:`viewer.ui.window.contents`); the
:class:`~viewer.ui.viewport.linking.LinkController` they switch is made, with what it
imports, once the window's viewports exist (the first image shown, or the
first use of a switch).

Keys (none of them taken by the window's other actions):

* Ctrl+L linked scrolling; Ctrl+Shift+L link with offset (series in other Frames of Reference);
* Ctrl+Shift+W linked window/level; Ctrl+Shift+Z linked zoom and pan;
* Ctrl+R reference lines; Ctrl+Shift+F first and last slice lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from viewer.ui.window.status import say

if TYPE_CHECKING:
    from viewer.ui.viewport.linking import LinkController


class WindowLinks(QObject):
    """The linking actions of one window and the controller they switch."""

    def __init__(self, window: QMainWindow):
        super().__init__(window)
        self.window = window
        self._controller: LinkController | None = None
        self.scroll = self._action("Linked &scrolling", "Link scroll", "Ctrl+L", True, "Scroll every parallel series with the active one")
        self.offset = self._action(
            "Link with &offset",
            "Offset",
            "Ctrl+Shift+L",
            None,
            "Link series of other Frames of Reference as shown now (put the same anatomy side by side first)",
        )
        self.window_level = self._action(
            "Linked &window/level", "Link W/L", "Ctrl+Shift+W", False, "Give the window set in one viewport to the others"
        )
        self.zoom = self._action("Linked &zoom and pan", "Link zoom", "Ctrl+Shift+Z", False, "Zoom and pan every viewport together")
        self.lines = self._action("&Reference lines", "Ref. lines", "Ctrl+R", True, "Show where the active image crosses the other images")
        self.ends = self._action(
            "&First and last slice lines",
            "First/last",
            "Ctrl+Shift+F",
            False,
            "Show the active series' first and last slices on the other images",
        )
        self.scroll.toggled.connect(lambda on: self._switch("set_scroll_linked", on))
        self.offset.triggered.connect(self.link_with_offset)
        self.window_level.toggled.connect(lambda on: self._switch("set_window_linked", on))
        self.zoom.toggled.connect(lambda on: self._switch("set_zoom_linked", on))
        self.lines.toggled.connect(lambda on: self._switch("set_reference_lines", on))
        self.ends.toggled.connect(lambda on: self._switch("set_first_last_lines", on))
        images_shown = getattr(window, "image_shown", None)
        if images_shown is not None:  # the viewports exist once an image is shown; new ones may come with a layout
            images_shown.connect(lambda: self.controller().discover() if self._built() else None)

    @property
    def actions(self) -> list[QAction]:
        return [self.scroll, self.offset, self.window_level, self.zoom, self.lines, self.ends]

    def _action(self, text: str, short: str, key: str, checked: bool | None, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setIconText(short)  # on the toolbar
        action.setShortcut(QKeySequence(key))
        action.setToolTip(f"{text.replace('&', '')} ({key}): {tip}")
        action.setStatusTip(tip)
        if checked is not None:
            action.setCheckable(True)
            action.setChecked(checked)
        self.window.addAction(action)  # the key works wherever the action is shown, or not
        return action

    def _built(self) -> bool:
        return bool(getattr(self.window, "contents_built", True)) and hasattr(self.window, "viewports")

    def controller(self) -> LinkController:
        """The controller of the window's viewports (made, with the window's contents, on first use)."""
        if self._controller is None:
            build = getattr(self.window, "build_contents", None)
            if build is not None:
                build()
            from viewer.ui.viewport.linking import LinkController  # numpy and the core: after the first paint

            controller = LinkController(self.window.viewports, parent=self)
            controller.scroll_linked = self.scroll.isChecked()
            controller.window_linked = self.window_level.isChecked()
            controller.zoom_linked = self.zoom.isChecked()
            controller.reference_lines = self.lines.isChecked()
            controller.first_last_lines = self.ends.isChecked()
            self._controller = controller
        return self._controller

    def _switch(self, setter: str, on: bool) -> None:
        getattr(self.controller(), setter)(on)

    def link_with_offset(self) -> None:
        """Record the offsets (see :meth:`LinkController.link_with_offset`) and say what was linked."""
        from viewer.core.runtime.wording import count

        pairs = self.controller().link_with_offset()
        self.scroll.setChecked(True)
        if pairs:
            text = f"Linked with offset: {count(pairs, 'pair')} of series in different frames of reference"
        else:
            text = "Link with offset: no two series in different frames of reference are shown"
        say(self.window, text, 5000)


def link_actions(window: QMainWindow, menu: QMenu | None = None) -> list[QAction]:
    """The window's linking actions (also put in `menu`), their keys working in the whole window."""
    links = WindowLinks(window)
    if menu is not None:
        menu.addActions(links.actions)
    return links.actions


def links_of(window: QMainWindow) -> WindowLinks | None:
    """The linking switches :func:`link_actions` gave `window` (for tests and scripts)."""
    return window.findChild(WindowLinks)
