"""The user's settings, as plain data the app passes to whoever needs them.

The window reads them at start (viewer.ui.window.settings_store keeps them in the
platform's settings store) and hands each part to its user: the cache size
to the frame source, the presets to the Window box, the character-set
choices to everything that shows text. Nothing here is a module global: two
windows, a test or the command line each have their own. The network nodes
are kept apart, by :mod:`viewer.core.net.nodes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.display.frames import DEFAULT_CACHE_BYTES
from viewer.core.display.hanging import HangingProtocol
from viewer.core.display.pixels.presets import BUILT_IN_PRESETS, PresetTable

MEGABYTE = 1024 * 1024
#: The smallest image memory the app works with.
MIN_CACHE_MB = 64


@dataclass
class Settings:
    """What the user chose (Edit > Settings, the tag inspector's character-set bar, File > Memory for images)."""

    cache_mb: int = DEFAULT_CACHE_BYTES // MEGABYTE  # decoded images kept in memory
    presets: PresetTable = BUILT_IN_PRESETS  # replaced, never edited, when the user changes them
    charset_overrides: CharsetOverrides = field(default_factory=CharsetOverrides)
    offer_media: bool = True  # offer DICOM media when inserted
    hanging: dict[str, HangingProtocol] = field(default_factory=dict)  # per modality: the layout and series last used
    theme: str = "dark"  # the window's colours: "dark" (a reading room's) or "light"

    @property
    def cache_bytes(self) -> int:
        return self.cache_mb * MEGABYTE
