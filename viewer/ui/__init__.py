"""The Qt shell: widgets that adapt ``viewer.core`` to the screen."""

import importlib
import sys


def _find_pyside_in_bytes() -> None:
    """Give PySide6's check of every module imported after it a quicker way to the same answer.

    PySide6 replaces ``__import__`` (for its ``__feature__`` imports) and,
    after each new module, asks whether the module's source contains
    "PySide6" (shibokensupport.feature._mod_uses_pyside), through
    ``inspect.getsource``, which also keeps every source in linecache: about
    40 ms of the viewer's start-up here (napari#8584 found the same). This
    reads a module's .py file as bytes and looks for the same word; anything
    else (no .py file, an unreadable one) is left to PySide6's own check.
    """
    importlib.import_module("PySide6.QtCore")  # installs the import hook and its check
    feature = sys.modules.get("shibokensupport.feature")
    check = getattr(feature, "_mod_uses_pyside", None)
    if check is None or getattr(check, "reads_bytes", False):
        return

    def uses_pyside(module) -> bool:
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py"):
            try:
                with open(path, "rb") as source:
                    return b"PySide6" in source.read()
            except OSError:
                pass
        return check(module)

    uses_pyside.reads_bytes = True
    feature._mod_uses_pyside = uses_pyside


_find_pyside_in_bytes()
