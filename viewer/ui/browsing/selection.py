"""What the user has chosen, for the actions that act on it: Send to, De-identify, Export, Write media.

The browser's chosen rows (a patient or a study stands for all its series) or,
when none is chosen, the series in the active viewport. Such actions are offered
twice: in the window's menus, and by a right click on the browser's tree or strip
(:meth:`viewer.ui.browsing.browser.StudyBrowser.add_selection_action`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from viewer.core.media.model import Instance, Series, instances_within

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow


def chosen_series(window: MainWindow) -> list[Series]:
    """The series chosen in the browser or, with none chosen, the one the active viewport shows."""
    chosen = window.browser.chosen_series() if getattr(window, "browser", None) is not None else []
    if chosen:
        return chosen
    shown = window.current_series
    return [shown] if shown is not None else []


def chosen_instances(window: MainWindow) -> list[Instance]:
    """The instances (files) of :func:`chosen_series`, each once, the ones whose file is missing left out."""
    return [i for i in instances_within(chosen_series(window)) if i.available and i.path is not None]
