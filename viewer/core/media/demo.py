"""Sample data for ``--demo``: real images from real devices.

They come with the ``pydicom-data`` package (a dependency) and pydicom's own
test files, so the demo needs no download and no extra step.
"""

from __future__ import annotations

from pathlib import Path

from viewer.core.dicom.io import ViewerError

#: Chosen to show each stage of the pipeline: a signed CT with rescale and a
#: file window, a multi-frame MR to scroll, a MONOCHROME1 radiograph,
#: an RGB ultrasound, a palette-colour ultrasound and a VOI LUT image.
DEMO_FILES = (
    "693_UNCI.dcm",
    "emri_small.dcm",
    "RG1_UNCI.dcm",
    "MR2_UNCI.dcm",
    "US1_UNCI.dcm",
    "OBXXXX1A.dcm",
    "vlut_04.dcm",
    "CT_small.dcm",
)


def demo_paths() -> list[Path]:
    """Paths of the demo files that are installed (raises ViewerError if none)."""
    from pydicom.data import get_testdata_file

    paths = []
    for name in DEMO_FILES:
        try:
            found = get_testdata_file(name, download=False)
        except Exception:  # pydicom-data absent or broken: skip that file
            found = None
        if found:
            paths.append(Path(found))
    if not paths:
        raise ViewerError("no demo data found: install the pydicom-data package")
    return paths
