"""One line for the user in the window's status bar: facts and one-line errors that need no dialog."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

#: How long a message stays, in milliseconds: long enough to be read, short enough not to mislead later.
READ_MS = 8000


def say(window: QWidget | None, text: str, ms: int = READ_MS) -> None:
    """Show `text` in `window`'s status bar for `ms` milliseconds; nothing when `window` has none
    (a view opened on its own, as in tests, or a dialog)."""
    status_bar = getattr(window, "statusBar", None)
    if status_bar is not None:
        status_bar().showMessage(text, ms)
