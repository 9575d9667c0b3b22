"""The image toolbar: the mouse tools, the image buttons and the Window box, in icons with tooltips.

Its sections, left to right:

- the **mouse tools** (:data:`MOUSE_TOOLS`), an exclusive group: what a left
  drag on any viewport does (window/level, pan, zoom, scroll), each with a
  one-letter key. The next issue's measurement tools join this group with
  :meth:`ImageToolbar.add_mouse_tool`, in the place kept for them (after
  the four here, before the image buttons);
- the **image buttons** (invert, reset, fit, 1:1, annotations: the window's
  View actions, with icons);
- the place kept for the **layout chooser** (:meth:`ImageToolbar.add_layout_chooser`);
- the **Window** preset box.

Every tooltip names the button's shortcut. Built with the window's frame,
before its first paint: Qt only, and the icons are a few QPainter strokes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QMenu, QToolBar, QWidget

from viewer.ui.window import icons

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow

#: The mouse tools: (name, the action's text, its key, what a left drag does).
MOUSE_TOOLS = (
    ("window", "&Window/level", "W", "left drag: horizontal changes the width, vertical the level"),
    ("pan", "&Pan", "P", "left drag moves the image"),
    ("zoom", "&Zoom", "Z", "left drag up or down zooms"),
    ("scroll", "&Scroll", "S", "left drag up or down moves through the images"),
)
DEFAULT_TOOL = "window"


def tooltip(action: QAction, what: str = "") -> str:
    """'Invert (I)': the action's text and its shortcuts, then what it does."""
    keys = ", ".join(key.toString(QKeySequence.SequenceFormat.NativeText) for key in action.shortcuts())
    name = action.text().replace("&", "") + (f" ({keys})" if keys else "")
    return f"{name}: {what}" if what else name


class ImageToolbar(QToolBar):
    """The window's image toolbar; :attr:`tool` is the mouse tool chosen (a name of :data:`MOUSE_TOOLS`)."""

    def __init__(self, window: MainWindow, image_actions: dict[str, QAction], preset_combo: QComboBox):
        super().__init__("Image", window)
        self.setObjectName("image_toolbar")
        self.setIconSize(QSize(22, 22))
        self.window_ = window
        self.tool = DEFAULT_TOOL
        self.mouse_tools = QActionGroup(self)
        self.mouse_tools.setExclusive(True)
        self.tool_actions: dict[str, QAction] = {}
        self._icon_names: dict[QAction, str] = {}
        self._measurement_tools_end: QAction | None = None
        self.mouse_tools_menu: QMenu | None = None
        for name, text, key, what in MOUSE_TOOLS:
            self.add_mouse_tool(name, text, key, what, icon_name=name)
        self.tool_actions[DEFAULT_TOOL].setChecked(True)
        # The place of the next issue's measurement tools: add_mouse_tool inserts before this separator.
        self._measurement_tools_end = self.addSeparator()
        for name, action in image_actions.items():
            self._iconify(action, name)
            self.addAction(action)
        # The place of the layout chooser: add_layout_chooser inserts before this separator.
        self._layout_chooser_end = self.addSeparator()
        self.addWidget(QLabel(" Window "))
        self.addWidget(preset_combo)

    # ------------------------------------------------------------------ the places kept for others
    def add_mouse_tool(self, name: str, text: str, key: str, what: str, icon_name: str | None = None) -> QAction:
        """A mouse tool `name` (e.g. a measurement): a checkable action in the exclusive group, with `key`.

        Choosing it sets what a left drag does on every viewport
        (:attr:`viewer.ui.viewport.image_view.ImagePane.left_drag_tool`); tools the
        pane does not know are for the caller to handle (the pane ignores them).
        """
        action = self.window_._action(text, lambda: self.choose(name), key, checkable=True)
        action.setData(name)
        self.mouse_tools.addAction(action)
        self.tool_actions[name] = action
        if self.mouse_tools_menu is not None:
            self.mouse_tools_menu.addAction(action)
        if icon_name is not None:
            self._iconify(action, icon_name)
        action.setToolTip(tooltip(action, what))
        if self._measurement_tools_end is not None:
            self.insertAction(self._measurement_tools_end, action)
        else:
            self.addAction(action)
        return action

    def add_layout_chooser(self, chooser: QWidget | QAction) -> None:
        """The layout chooser (a widget or an action), in its place after the image buttons."""
        if isinstance(chooser, QAction):
            self.insertAction(self._layout_chooser_end, chooser)
        else:
            self.insertWidget(self._layout_chooser_end, chooser)

    def tools_menu(self) -> QMenu:
        """A menu of the mouse tools (the View menu's "Mouse tool"): the same actions, so one is checked in both."""
        menu = QMenu("&Mouse tool", self)
        menu.addActions(self.mouse_tools.actions())
        self.mouse_tools_menu = menu
        return menu

    # ------------------------------------------------------------------ the mouse tool
    def choose(self, name: str) -> None:
        """Left drags do what tool `name` says, on every viewport (new ones learn it in :meth:`follow`)."""
        self.tool = name
        self.tool_actions[name].setChecked(True)
        for viewport in getattr(self.window_, "viewports", ()):
            self.follow(viewport.pane)

    def follow(self, pane) -> None:
        """`pane` (a new viewport's) does what the chosen tool says."""
        pane.left_drag_tool = self.tool

    # ------------------------------------------------------------------ icons
    def _iconify(self, action: QAction, icon_name: str) -> None:
        self._icon_names[action] = icon_name
        action.setIcon(icons.icon(icon_name))
        if not action.toolTip() or action.toolTip() == action.text().replace("&", ""):
            action.setToolTip(tooltip(action))

    def refresh_icons(self) -> None:
        """Draw the icons again in the palette's colours (the theme changed)."""
        for action, icon_name in self._icon_names.items():
            action.setIcon(icons.icon(icon_name))
