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
        new = replace(self.state, **changes)
        changed = {f.name for f in fields(DisplayState) if getattr(new, f.name) != getattr(self.state, f.name)}
        if not changed:
            return
        self.state = new
        for listener in list(self._listeners):
            listener(new, changed)
