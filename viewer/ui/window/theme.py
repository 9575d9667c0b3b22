"""The window's colours: a dark reading-room theme by default, a light one on request (Edit > Settings).

A reading room is dim: light grey panels around a black image dazzle and make
the image look darker than it is. The dark theme is Qt's Fusion style with a
dark palette (no style sheet: a style sheet makes every widget go through
QStyleSheetStyle, which start-up would pay for); the light theme is Fusion's
own palette. :func:`apply` is cheap (Qt only, no numpy or pydicom) and runs
before the window's first paint (:func:`viewer.ui.window.application.run`); the
Settings dialog calls it again when the user picks the other theme.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

DARK = "dark"
LIGHT = "light"
#: The themes offered, as (name kept in the settings, label shown).
THEMES = ((DARK, "Dark (reading room)"), (LIGHT, "Light"))
DEFAULT_THEME = DARK

#: The dark palette: (role, colour for active and inactive windows, colour when disabled or None).
_DARK_ROLES = (
    (QPalette.ColorRole.Window, "#1f2124", None),
    (QPalette.ColorRole.WindowText, "#d6d6d6", "#6d6d6d"),
    (QPalette.ColorRole.Base, "#16181a", "#1f2124"),
    (QPalette.ColorRole.AlternateBase, "#1d2023", None),
    (QPalette.ColorRole.ToolTipBase, "#2c2f33", None),
    (QPalette.ColorRole.ToolTipText, "#e6e6e6", None),
    (QPalette.ColorRole.PlaceholderText, "#7c7c7c", None),
    (QPalette.ColorRole.Text, "#d6d6d6", "#6d6d6d"),
    (QPalette.ColorRole.Button, "#2a2d31", None),
    (QPalette.ColorRole.ButtonText, "#d6d6d6", "#6d6d6d"),
    (QPalette.ColorRole.BrightText, "#ff6b6b", None),
    (QPalette.ColorRole.Light, "#3a3e43", None),
    (QPalette.ColorRole.Midlight, "#2f3237", None),
    (QPalette.ColorRole.Mid, "#26292d", None),
    (QPalette.ColorRole.Dark, "#121314", None),
    (QPalette.ColorRole.Shadow, "#000000", None),
    (QPalette.ColorRole.Highlight, "#2d5f9a", "#3a3e43"),
    (QPalette.ColorRole.HighlightedText, "#ffffff", "#8c8c8c"),
    (QPalette.ColorRole.Link, "#6fa8ff", None),
    (QPalette.ColorRole.LinkVisited, "#b08cff", None),
)


def known(name: object) -> str:
    """`name` if it is a theme offered, else the default (a settings file may hold anything)."""
    return name if name in {theme for theme, _label in THEMES} else DEFAULT_THEME


def dark_palette() -> QPalette:
    """The reading-room palette: dark grey panels, light grey text, a muted blue selection."""
    palette = QPalette()
    for role, colour, disabled in _DARK_ROLES:
        palette.setColor(QPalette.ColorGroup.Active, role, QColor(colour))
        palette.setColor(QPalette.ColorGroup.Inactive, role, QColor(colour))
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled or colour))
    return palette


def palette_for(name: str, app: QApplication) -> QPalette:
    """The palette of theme `name` (the light one is the Fusion style's own)."""
    return dark_palette() if known(name) == DARK else app.style().standardPalette()


def apply(name: str, app: QApplication | None = None) -> str:
    """Give the application (`app`, or the running one) theme `name`; returns the theme applied."""
    app = app or QApplication.instance()
    name = known(name)
    if app.style().name().lower() != "fusion":  # the same look on every platform, and it follows the palette
        app.setStyle("Fusion")
    app.setPalette(palette_for(name, app))
    app.setProperty("viewer_theme", name)
    return name


def current(app: QApplication | None = None) -> str:
    """The theme applied to the application (the light one if none was)."""
    app = app or QApplication.instance()
    value = app.property("viewer_theme") if app is not None else None
    return value if value in {DARK, LIGHT} else LIGHT
