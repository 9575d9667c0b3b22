"""The image a disc shows first, found from its DICOMDIR without pydicom (viewer.core.media.first_record).

Expected files are worked out by hand from the instance numbers written
(the middle image of a CT stack, the first of a radiograph), and checked
against what the window shows for the same media: the catalog's first series
with images, at the viewport's starting image (viewer.ui.viewport.viewport.show_series).
Media are dcmtk's ``dcmmkdir`` and pydicom's DICOMDIR test set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from viewer.core.media.first_record import STACK_MODALITIES, first_media_image
from viewer.core.media.sources import open_paths

DCMMKDIR = shutil.which("dcmmkdir")
PYDICOM_MEDIA = Path(get_testdata_file("DICOMDIR")).parent


def shown_first(root: Path) -> str | None:
    """The file the window shows first: the first series with images, at its middle image for a stack."""
    series = next((s for s in open_paths([root]).series if s.image_count), None)
    if series is None:
        return None
    images = series.images
    index = len(images) // 2 if len(images) > 1 and series.modality in STACK_MODALITIES else 0
    return str(images[index].instance.path)


def make_media(root: Path, make_instance, series: list[tuple[str, list[int]]]) -> Path:
    """One patient, one study; per series (modality, instance numbers of IM0, IM1, ...); dcmmkdir's DICOMDIR."""
    if DCMMKDIR is None:
        pytest.skip("dcmtk's dcmmkdir is not installed (apt-get install dcmtk)")
    for s, (modality, numbers) in enumerate(series):
        for i, number in enumerate(numbers):
            make_instance(
                root / "DICOM" / f"SER{s}" / f"IM{i}",
                "CT_small.dcm",
                Modality=modality,
                SeriesInstanceUID=f"1.2.826.0.1.3680043.8.498.{s + 1}",
                SeriesNumber=s + 1,
                InstanceNumber=number,
                ImagePositionPatient=None,  # sorted by instance number (the records carry no position)
            )
    command = [DCMMKDIR, "+r", "+id", str(root), "-Pgp", "+D", str(root / "DICOMDIR"), "DICOM"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return root


@pytest.mark.dcmtk
@pytest.mark.parametrize(
    "modality, numbers, expected",
    [
        ("CT", [5, 4, 3, 2, 1], "IM2"),  # instance numbers 1..5: the middle one, number 3
        ("CT", [2, 4, 1, 3], "IM3"),  # 1, 2, 3, 4: index 2 is number 3
        ("MR", [10, 30, 20], "IM2"),  # 10, 20, 30: number 20
        ("CR", [3, 1, 2], "IM1"),  # not a stack: the first, number 1
    ],
)
def test_the_image_shown_first(tmp_path, make_instance, modality, numbers, expected):
    root = make_media(tmp_path / "CDROM", make_instance, [(modality, numbers), ("CT", [1, 2, 3])])
    found = first_media_image(root)
    assert found == str(root / "DICOM" / "SER0" / expected)
    assert found == shown_first(root)
    assert first_media_image(root / "DICOMDIR") == found  # the DICOMDIR itself, as the media folder


@pytest.mark.dcmtk
def test_names_in_another_case_are_found(tmp_path, make_instance):
    root = make_media(tmp_path / "CDROM", make_instance, [("CT", [1, 2, 3])])
    for folder, subfolders, files in os.walk(root, topdown=False):
        for name in files + subfolders:
            os.rename(os.path.join(folder, name), os.path.join(folder, name.lower()))
    assert first_media_image(root) == str(root / "dicom" / "ser0" / "im1") == shown_first(root)


@pytest.mark.dcmtk
def test_no_image_when_not_sure(tmp_path, make_instance):
    root = make_media(tmp_path / "CDROM", make_instance, [("CT", [1, 2, 3]), ("CT", [1, 2, 3])])
    (root / "DICOM" / "SER0" / "IM0").unlink()  # a file of the first series missing: the window may show another
    assert first_media_image(root) is None
    assert first_media_image(tmp_path / "nothing-here") is None
    assert first_media_image(tmp_path) is None  # no DICOMDIR at its root
    cut = tmp_path / "CUT"
    cut.mkdir()
    (cut / "DICOMDIR").write_bytes((root / "DICOMDIR").read_bytes()[:700])
    assert first_media_image(cut) is None


@pytest.mark.parametrize("name", ["DICOMDIR", "DICOMDIR-reordered", "DICOMDIR-nooffset", "DICOMDIR-implicit", "DICOMDIR-bigEnd"])
def test_pydicom_media_the_same_image_or_none(tmp_path, name):
    """Whatever it finds is what the window shows; media in another encoding give None."""
    root = tmp_path / "media"
    shutil.copytree(PYDICOM_MEDIA, root)
    if name != "DICOMDIR":
        os.replace(root / name, root / "DICOMDIR")
    found = first_media_image(root)
    if name in ("DICOMDIR", "DICOMDIR-reordered"):
        assert found is not None
    if name in ("DICOMDIR-implicit", "DICOMDIR-bigEnd"):
        assert found is None  # PS3.10 8.6: a DICOMDIR is Explicit VR Little Endian; the full reader reads these
    if found is not None:
        assert found == shown_first(root)


def test_importing_it_imports_neither_pydicom_nor_numpy():
    code = (
        "import sys, viewer.core.media.first_record\n"
        "from viewer.core.display.pixels.plugins import imported_modules\n"
        "loaded = [m for m in imported_modules() if m.split('.')[0] == 'pydicom']\n"
        "assert 'pydicom' not in sys.modules and 'numpy' not in sys.modules and not loaded, loaded\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
