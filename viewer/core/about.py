"""What the app is built from: versions and licences, for the About box and bug reports."""

from __future__ import annotations

from importlib import metadata

#: (distribution, what it does here, licence)
COMPONENTS = (
    ("pydicom", "DICOM files, pixel pipeline", "MIT"),
    ("pynetdicom", "DICOM networking", "MIT"),
    ("numpy", "arrays", "BSD-3-Clause"),
    ("pyqtgraph", "image display", "MIT"),
    ("PySide6-Essentials", "Qt for Python", "LGPL-3.0"),
    ("pylibjpeg", "decoder framework", "MIT"),
    ("pylibjpeg-openjpeg", "JPEG 2000 and HTJ2K decoder (OpenJPEG)", "MIT (OpenJPEG: BSD-2-Clause)"),
    ("pylibjpeg-rle", "RLE decoder", "MIT"),
    ("pillow", "JPEG baseline/extended 8-bit decoder", "HPND (MIT-CMU)"),
    ("pyjpegls", "JPEG-LS decoder (CharLS)", "MIT (CharLS: BSD-3-Clause)"),
    ("python-gdcm", "JPEG lossless decoder (GDCM)", "BSD-3-Clause"),
    ("pylibjpeg-libjpeg", "12-bit JPEG extended decoder (optional)", "GPL-3.0"),
    ("pydicom-data", "sample images for --demo", "MIT (images: see pydicom-data)"),
)


def component_versions() -> list[tuple[str, str, str, str]]:
    """(name, version or 'not installed', role, licence) for every component."""
    rows = []
    for name, role, licence in COMPONENTS:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append((name, version, role, licence))
    return rows
