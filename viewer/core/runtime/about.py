"""What the app is built from: versions and licences, for the About box and bug reports."""

from __future__ import annotations

from importlib import metadata

from viewer import __version__

#: (0002,0012) *Implementation Class UID* (PS3.7 D.3.3.2, PS3.10 7.1): names this
#: program in the files it writes and in its association requests and answers.
#: A UUID-derived UID (PS3.5 B.2), fixed for the program (made once from UUID
#: 0fab7040-c2a4-4e7d-bbd2-431f4420fc45), so it needs no registered root.
IMPLEMENTATION_CLASS_UID = "2.25.20828579460299929921761278050506439749"

#: (0002,0013) *Implementation Version Name* (SH, at most 16 characters): this release.
IMPLEMENTATION_VERSION_NAME = "DICOMVIEWER_" + ".".join(__version__.split(".")[:2])

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
