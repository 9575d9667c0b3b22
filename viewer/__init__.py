"""dicom-viewer: a desktop DICOM viewer.

``viewer.core`` understands DICOM and never imports Qt; ``viewer.ui`` is the
thin Qt shell around it; ``viewer.app`` and ``viewer.cli`` are the entry points.
"""

__version__ = "0.1.0"
