"""The Qt-free core: everything that understands DICOM.

Nothing under this package may import PySide6 or pyqtgraph (checked by the
import-linter contract in pyproject.toml and by tests/test_architecture.py).

Importing it first puts pydicom's pixel decoder plugins off until a frame
needs one (:mod:`viewer.core.display.pixels.plugins`): pydicom would otherwise import
gdcm, pylibjpeg, Pillow and pyjpegls as it loads, for any image.
"""

from viewer.core.display.pixels import plugins as _plugins

_plugins.defer()
