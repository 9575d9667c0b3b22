"""Changing the user's settings: the Settings dialog's OK, File > Memory for images, a character-set choice.

Each change goes to the window's :class:`~viewer.core.settings.Settings`, to
the parts that use it (the frame source, the Window box, the browser, the
corner text, the tag inspector) and to disk (:class:`~viewer.ui.window.settings_store.SettingsStore`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QInputDialog

if TYPE_CHECKING:
    from viewer.core.net.nodes import LocalAE
    from viewer.ui.window.main_window import MainWindow

#: The range File > Memory for images offers, in MB.
CACHE_MB_RANGE = (64, 65536)


class SettingsController(QObject):
    """Applies and saves what the user changes in `window`'s settings."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window

    def show_dialog(self) -> None:
        """Edit > Settings."""
        from viewer.ui.window.dialogs import SettingsDialog

        SettingsDialog(self.window).exec()

    def choose_cache_size(self) -> None:
        """File > Memory for images."""
        window = self.window
        low, high = CACHE_MB_RANGE
        value, ok = QInputDialog.getInt(
            window, "Memory for images", "Decoded images kept in memory (MB):", window.settings.cache_mb, low, high, low
        )
        if ok:
            self._cache_size(value)

    def _cache_size(self, megabytes: int) -> None:
        window = self.window
        window.settings.cache_mb = megabytes
        window.frame_source.max_bytes = window.settings.cache_bytes
        window.settings_store.save_cache_size(megabytes)

    def apply(self, cache_mb: int, ct_presets: dict[str, tuple[float, float]], local: LocalAE) -> None:
        """What the Settings dialog changed, applied and saved."""
        from viewer.core.net.nodes import save_network_settings

        window = self.window
        self._cache_size(cache_mb)
        window.settings.presets = window.settings.presets.with_unit("HU", ct_presets)
        window.settings_store.save_presets(window.settings.presets)
        window.query_panel.local = local
        save_network_settings(window.query_panel.nodes, local)
        window.window_presets.forget()  # the Window box offers the new presets

    def set_theme(self, name: str) -> None:
        """The user chose the window's colours: applied at once and kept."""
        from viewer.ui.window.theme import apply

        window = self.window
        window.settings.theme = apply(name)
        window.settings_store.save_theme(window.settings.theme)
        window.image_toolbar.refresh_icons()  # drawn in the palette's text colour

    def set_charset_override(self, scope: str, key: str, code: str) -> None:
        """The user chose a character set for a file, series, station or institution ('' forgets the choice)."""
        window = self.window
        overrides = window.settings.charset_overrides
        overrides.set(scope, key, code or None)
        window.settings_store.save_charset_overrides(overrides)
        window.browser.rebuild(window.opener.catalog)
        for viewport in window.viewports:
            viewport.update_annotations()
        window.inspector_dock.refresh(force=True)
