"""The window's menus, keys and toolbar: every action acts on the active viewport (``window.viewport``).

Help > Keyboard and mouse lists them all (:mod:`viewer.ui.window.keys_dialog`), read from the window's actions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QComboBox, QMenu

from viewer.ui.viewport.link_actions import link_actions
from viewer.ui.viewport.mpr_mode import install as install_mpr
from viewer.ui.viewport.overlay_layer import overlays_action
from viewer.ui.window.file_dialogs import choose_dicomdir, choose_files, choose_folder
from viewer.ui.window.tools import ImageToolbar
from viewer.ui.window.view_actions import smoothing_action

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow


def add_to_file_menu(window: MainWindow, item: QAction | QMenu) -> None:
    """Put `item` (an action, or a submenu such as Export) in the File menu's group of what leaves the viewer
    (between Open recent and Close all), after those already there."""
    if isinstance(item, QMenu):
        window.file_menu.insertMenu(window.file_sharing_end, item)
    else:
        window.file_menu.insertAction(window.file_sharing_end, item)


def build_menus(window: MainWindow) -> None:
    """The File, Edit, View and Help menus, the image keys and the toolbar of `window`."""
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction(window._action("&Open files...", lambda: choose_files(window, window.open_paths), QKeySequence.StandardKey.Open))
    file_menu.addAction(window._action("Open &folder or media...", lambda: choose_folder(window, window.open_paths), "Ctrl+Shift+O"))
    file_menu.addAction(window._action("Open &DICOMDIR...", lambda: choose_dicomdir(window, window.open_paths), "Ctrl+D"))
    window.recent_menu = QMenu("Open &recent", window)
    window.recent_menu.aboutToShow.connect(window._fill_recent_menu)
    file_menu.addMenu(window.recent_menu)
    file_menu.addSeparator()
    # What leaves the viewer (Export, Send to, De-identify, Write media: add_to_file_menu) goes before this one.
    window.file_menu, window.file_sharing_end = file_menu, file_menu.addSeparator()
    file_menu.addAction(window._action("&Close all", window.close_all))
    file_menu.addAction(window._action("&Memory for images...", lambda: window.settings_controller.choose_cache_size()))
    file_menu.addSeparator()
    file_menu.addAction(window._action("&Quit", window.close, QKeySequence.StandardKey.Quit))
    window.menuBar().addMenu("&Edit").addAction(
        window._action("&Settings...", lambda: window.settings_controller.show_dialog(), QKeySequence.StandardKey.Preferences)
    )

    view_menu = window.menuBar().addMenu("&View")
    window.fit_action = window._action("&Fit to window", lambda: window.pane.fit(), "F")
    window.one_to_one_action = window._action("&1:1 pixels", lambda: window.pane.set_zoom(1.0), "1")
    window.invert_action = window._action("&Invert", lambda: window.viewport.toggle_invert(), "I", checkable=True)
    window.reset_action = window._action("&Reset window and zoom", lambda: window.viewport.reset(), "R")
    window.annotations_action = window._action("&Annotations", lambda: window.viewport.toggle_annotations(), "A", checkable=True)
    window.annotations_action.setChecked(True)
    image_actions = (window.invert_action, window.reset_action, window.fit_action, window.one_to_one_action, window.annotations_action)
    view_menu.addActions(
        [window.fit_action, window.one_to_one_action, window.invert_action, window.reset_action, window.annotations_action]
    )
    smoothing_action(window, view_menu)  # viewer.ui.window.view_actions: "Smooth when zoomed" (N)
    overlays_action(window, view_menu)  # viewer.ui.viewport.overlay_layer: the images' overlay planes (60xx), on by default (O)
    window.mpr = install_mpr(window, view_menu)  # View > MPR (M): the active viewport's series in three planes
    view_menu.addSeparator()
    window.study_tree_action = window._action(
        "Show the full study &tree", lambda: window.browser.show_tree(window.study_tree_action.isChecked()), "Ctrl+T", checkable=True
    )
    view_menu.addAction(window.study_tree_action)
    view_menu.addSeparator()
    dock_keys = ("Ctrl+Shift+B", "Ctrl+Shift+R", "Ctrl+Shift+D", "Ctrl+Shift+T", "Ctrl+Shift+E")
    for dock, key in zip(
        (window.browser_dock, window.query_dock, window.pipeline_dock, window.inspector_dock, window.problems_dock), dock_keys
    ):
        dock.toggleViewAction().setShortcut(QKeySequence(key))
        window.addAction(dock.toggleViewAction())  # its key works with the menu closed
        view_menu.addAction(dock.toggleViewAction())
    help_menu = window.menuBar().addMenu("&Help")
    help_menu.addAction(window._action("&Keyboard and mouse", window.show_keys, QKeySequence.StandardKey.HelpContents))
    help_menu.addAction(window._action("&About DICOM Viewer", window.show_about))

    keys = Qt.Key
    window._action("Next image", lambda: window.step(1), [QKeySequence(keys.Key_Down), QKeySequence(keys.Key_Right)])
    window._action("Previous image", lambda: window.step(-1), [QKeySequence(keys.Key_Up), QKeySequence(keys.Key_Left)])
    window._action("Ten images on", lambda: window.step(10), QKeySequence(keys.Key_PageDown))
    window._action("Ten images back", lambda: window.step(-10), QKeySequence(keys.Key_PageUp))
    window._action("First image", lambda: window.go_to(0), QKeySequence(keys.Key_Home))
    window.play_action = window._action("Play / pause cine", lambda: window.cine.toggle(), QKeySequence(keys.Key_Space))
    window._action("Last image", lambda: window.go_to(len(window.images) - 1), QKeySequence(keys.Key_End))

    window.preset_combo = QComboBox()
    window.preset_combo.setMinimumWidth(220)
    window.image_toolbar = ImageToolbar(
        window, dict(zip(("invert", "reset", "fit", "one_to_one", "annotations"), image_actions)), window.preset_combo
    )
    window.addToolBar(window.image_toolbar)
    view_menu.insertMenu(view_menu.actions()[0], window.image_toolbar.tools_menu())
    window.mpr.action.setIconText("MPR")
    window.image_toolbar.add_layout_chooser(window.mpr.action)  # beside the layouts: another way to lay out a series
    window.image_toolbar.addSeparator()
    window.image_toolbar.addActions(link_actions(window, view_menu.addMenu("&Linking")))
