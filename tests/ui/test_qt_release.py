"""Guard against Qt releases that corrupt Python's reference counts.

PySide6-Essentials 6.12.0 on CPython 3.11 lowered the reference count of None
on every call of a void Qt method; a pyqtgraph render loop then aborted with
'Fatal Python error: none_dealloc'. pyproject.toml keeps us off that release;
this test catches a future one with the same fault.
"""

import sys

from PySide6.QtWidgets import QWidget


def test_void_qt_calls_leave_none_refcount_unchanged(qtbot):
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.update()  # warm up any lazy binding
    before = sys.getrefcount(None)
    for _ in range(1000):
        widget.update()
    after = sys.getrefcount(None)
    # A few references may come and go with the interpreter's own work;
    # the faulty release loses one per call (1000 here).
    assert abs(after - before) < 50, f"None lost {before - after} references over 1000 QWidget.update() calls"
