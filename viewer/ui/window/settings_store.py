"""The user's settings on disk: the platform's settings store (QSettings) and :class:`~viewer.core.settings.Settings`.

:meth:`SettingsStore.load` reads them once, when the window builds its
contents; each part is written back when the user changes it, under the
keys the app has always used. Recent locations and the window's layout are
kept here too (they are the window's, not the core's). The network nodes
have their own file (:mod:`viewer.core.net.nodes`).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings

if TYPE_CHECKING:
    from viewer.core.dicom.charset import CharsetOverrides
    from viewer.core.display.hanging import HangingProtocol
    from viewer.core.display.pixels.presets import PresetTable
    from viewer.core.settings import Settings

MAX_RECENT = 10
OFFER_MEDIA = "media/offer_inserted"
HANGING = "layouts/hanging"
THEME = "appearance/theme"
#: Whether the Studies dock shows the full study tree rather than the series strip (the window's layout: reset with it).
STUDY_TREE = "window/study_tree"


def settings() -> QSettings:
    """The app's settings store (per user; the platform's usual place)."""
    return QSettings("dicom-viewer", "dicom-viewer")


class SettingsStore:
    """Reads and writes the user's settings; one per window."""

    def load(self) -> Settings:
        """The settings saved, or the defaults for what was never saved (or cannot be read)."""
        # Here, not at the top: they import pydicom and numpy, which wait for the window's first paint.
        from viewer.core.dicom.charset import CharsetOverrides
        from viewer.core.display.hanging import protocols_from_json
        from viewer.core.display.pixels.presets import BUILT_IN_PRESETS
        from viewer.core.settings import MIN_CACHE_MB, Settings

        store = settings()
        loaded = Settings()
        loaded.cache_mb = max(MIN_CACHE_MB, int(store.value("cache_mb", loaded.cache_mb)))
        table = _ct_presets(store.value("presets/ct", ""))
        if table:  # none saved: the built-in ones
            loaded.presets = BUILT_IN_PRESETS.with_unit("HU", table)
        loaded.charset_overrides = CharsetOverrides.from_dict(_json(store.value("charset_overrides", "")))
        loaded.offer_media = store.value(OFFER_MEDIA, True, type=bool)
        loaded.hanging = protocols_from_json(str(store.value(HANGING, "") or ""))
        loaded.theme = self.theme()
        return loaded

    def theme(self) -> str:
        """The theme chosen ("dark" when none was): read before the window's first paint, so Qt only."""
        from viewer.ui.window.theme import known

        return known(settings().value(THEME, ""))

    def save_theme(self, name: str) -> None:
        settings().setValue(THEME, name)

    def save_cache_size(self, megabytes: int) -> None:
        settings().setValue("cache_mb", megabytes)

    def save_presets(self, presets: PresetTable) -> None:
        settings().setValue("presets/ct", json.dumps(dict(presets.ct)))

    def save_charset_overrides(self, overrides: CharsetOverrides) -> None:
        settings().setValue("charset_overrides", json.dumps(overrides.to_dict(), ensure_ascii=False))

    def save_offer_media(self, offer: bool) -> None:
        settings().setValue(OFFER_MEDIA, bool(offer))

    def save_hanging(self, protocols: dict[str, HangingProtocol]) -> None:
        """The layout and hanging per modality (:mod:`viewer.core.display.hanging`)."""
        from viewer.core.display.hanging import protocols_to_json

        settings().setValue(HANGING, protocols_to_json(protocols))

    # ------------------------------------------------------------------ the window's own

    def recent(self) -> list[str]:
        """Locations opened lately, the newest first."""
        recent = settings().value("recent", []) or []
        return [recent] if isinstance(recent, str) else list(recent)

    def remember_recent(self, paths: list[str]) -> None:
        store = settings()
        recent = [p for p in (store.value("recent", []) or []) if p not in paths]
        store.setValue("recent", (paths + recent)[:MAX_RECENT])

    def forget_recent(self) -> None:
        settings().remove("recent")

    def study_tree(self) -> bool:
        """Whether the Studies dock showed the full study tree (rather than the series strip) when last left."""
        return settings().value(STUDY_TREE, False, type=bool)

    def save_study_tree(self, shown: bool) -> None:
        settings().setValue(STUDY_TREE, bool(shown))

    def window_layout(self) -> tuple[QByteArray | None, QByteArray | None]:
        """The window's geometry and dock layout as last closed (None: never saved)."""
        store = settings()
        return store.value("window/geometry"), store.value("window/state")

    def save_window_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        store = settings()
        store.setValue("window/geometry", geometry)
        store.setValue("window/state", state)


def _json(raw) -> dict:
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _ct_presets(raw) -> dict[str, tuple[float, float]]:
    try:
        return {str(k): (float(v[0]), float(v[1])) for k, v in json.loads(raw).items()} if raw else {}
    except (TypeError, ValueError, AttributeError, IndexError):
        return {}
