"""The Window box: the windows on offer for the image shown, and the one in force.

For the active viewport's image: what its file says (its VOI LUTs and
windows), the series' automatic window, the full range, and the presets of
the user's table in the unit of the image's values (HU presets for a CT in
HU only). A window the user dragged to shows as "Custom".
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox

from viewer.core.display.pixels.pipeline import (
    VOI,
    FrameDisplay,
    FullRange,
    Window,
    describe_voi,
    file_voi_luts,
    file_windows,
    is_hounsfield,
)
from viewer.core.display.pixels.presets import PresetTable, presets_for
from viewer.ui.viewport.viewport import Viewport

CUSTOM = "Custom"


def window_choices(frame: FrameDisplay, automatic: Window | None, table: PresetTable) -> list[tuple[str, VOI | None]]:
    """(label, VOI) offered for `frame`; None is "as the file says"."""
    ctx = frame.ctx
    luts, windows = ([], []) if frame.is_color else (file_voi_luts(ctx), file_windows(ctx))
    default = "As the file says"
    if not frame.is_color and not luts and not windows:
        soft_tissue = f"soft tissue, {describe_voi(frame.default_voi())}"
        default += f" (no window: {soft_tissue if is_hounsfield(ctx) else 'automatic'})"
    choices: list[tuple[str, VOI | None]] = [(default, None)]
    if frame.is_color:
        return choices
    for i, lut in enumerate(luts):
        choices.append((f"File VOI LUT {i + 1}" + (f": {lut.explanation}" if lut.explanation else ""), lut))
    for i, window in enumerate(windows):
        label = f"File window {i + 1}" + (f": {window.explanation}" if window.explanation else "")
        choices.append((f"{label} ({describe_voi(window)})", window))
    if automatic is not None:
        choices.append((f"Automatic for the series ({describe_voi(automatic)})", automatic))
    choices.append(("Full range (no VOI)", FullRange()))
    # Presets in the unit of the image's values only: HU presets for a CT in HU.
    for name, window in presets_for(ctx, table).items():
        choices.append((f"{name} ({describe_voi(window)})", window))
    return choices


class WindowPresets(QObject):
    """Keeps `box` offering the windows for the image of `viewport()` (the active one); `presets()` is the user's table."""

    def __init__(self, box: QComboBox, presets: Callable[[], PresetTable], viewport: Callable[[], Viewport]):
        super().__init__(box)
        self.box = box
        self.presets = presets
        self._viewport = viewport
        self.choices: list[tuple[str, VOI | None]] = []
        box.activated.connect(self._chosen)

    @property
    def viewport(self) -> Viewport:
        return self._viewport()

    def refresh(self) -> None:
        """The image (or what it offers) changed: offer its windows."""
        frame = self.viewport.frame
        choices = window_choices(frame, self.viewport.automatic_window, self.presets()) if frame is not None else []
        if [label for label, _ in choices] == [label for label, _ in self.choices] and choices == self.choices:
            return  # same offers as the previous image (scrolling, cine): keep the box as it is
        self.choices = choices
        self.box.blockSignals(True)
        self.box.clear()
        self.box.addItems([label for label, _ in choices])
        self.box.blockSignals(False)
        self.sync()

    def forget(self) -> None:
        """The presets changed: offer again from scratch."""
        self.choices = []
        if self.viewport.frame is not None:
            self.refresh()

    def sync(self) -> None:
        """Show the window in force: its name, or "Custom"."""
        voi = self.viewport.display.state.voi
        labels = [label for label, choice in self.choices if choice == voi]
        box = self.box
        box.blockSignals(True)
        if labels:
            if box.findText(CUSTOM) >= 0:
                box.removeItem(box.findText(CUSTOM))
            box.setCurrentText(labels[0])
        else:
            if box.findText(CUSTOM) < 0:
                box.addItem(CUSTOM)
            box.setCurrentText(CUSTOM)
        box.blockSignals(False)

    def _chosen(self, index: int) -> None:
        if 0 <= index < len(self.choices):
            self.viewport.display.update(voi=self.choices[index][1])

    def choose(self, name: str) -> None:
        """Apply the window whose label starts with `name` (for tests and scripts); KeyError if none does."""
        for i, (label, _) in enumerate(self.choices):
            if label.lower().startswith(name.lower()):
                self.box.setCurrentIndex(i)
                self._chosen(i)
                return
        raise KeyError(name)
