"""The Qt-free core: everything that understands DICOM.

Nothing under this package may import PySide6 or pyqtgraph (checked by the
import-linter contract in pyproject.toml and by tests/test_architecture.py).
"""
