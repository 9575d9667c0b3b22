"""The display state of one viewport, as plain data with change listeners.

Widgets write to it and follow it; they keep no second copy (as napari's
layer controls do). Zoom and pan live in the pane's view box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace

from viewer.core.display.pixels.pipeline import VOI


@dataclass(frozen=True)
class DisplayState:
    """Which image of the series is shown and how.

    ``voi`` None means "what each image's own file asks for" (its first VOI
    LUT or window), so scrolling shows every slice as its file says; where
    a file has none, the series' one automatic window (soft tissue for CT in
    HU), so brightness does not change from slice to slice. A preset or a
    user window sticks across slices.
    """

    index: int = 0
    voi: VOI | None = None
    invert: bool = False
    annotations: bool = True


@dataclass
class DisplayModel:
    """Holds a :class:`DisplayState` and tells listeners what changed."""

    state: DisplayState = field(default_factory=DisplayState)
    _listeners: list[Callable[[DisplayState, set[str]], None]] = field(default_factory=list)

    def subscribe(self, listener: Callable[[DisplayState, set[str]], None]) -> None:
        self._listeners.append(listener)

    def update(self, **changes) -> None:
        """Change some fields; listeners hear which changed (nothing when none did)."""
        new = replace(self.state, **changes)
        changed = {f.name for f in fields(DisplayState) if getattr(new, f.name) != getattr(self.state, f.name)}
        if changed:
            self._tell(new, changed)

    def reset(self, state: DisplayState) -> None:
        """Start again from `state` (another series shown): listeners hear every field as changed."""
        self._tell(state, {f.name for f in fields(DisplayState)})

    def _tell(self, state: DisplayState, changed: set[str]) -> None:
        self.state = state
        for listener in list(self._listeners):
            listener(state, changed)
