"""``dicom-viewer anonymize`` on files the byte path rewrites runs without importing pydicom or numpy.

Importing them is most of a headless command's start (benchmarks/RESULTS.md, De-identify); this guards
that the command's imports stay light. It checks which modules were imported, never a time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
from pydicom.data import get_testdata_file

REPO = Path(__file__).resolve().parent.parent

PROGRAM = """
import sys
from viewer.app import main
status = main(["anonymize", sys.argv[1], "-o", sys.argv[2], "--serial"])
heavy = sorted(name for name in ("pydicom", "numpy") if name in sys.modules)
print("imported:", ",".join(heavy) or "none")
sys.exit(status)
"""


def test_the_byte_path_imports_neither_pydicom_nor_numpy(tmp_path):
    (tmp_path / "src").mkdir()
    shutil.copy(get_testdata_file("CT_small.dcm"), tmp_path / "src" / "ct.dcm")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path / "src"), str(tmp_path / "out")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "1 file written" in done.stdout and "imported: none" in done.stdout
    copy = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert copy.PatientName != pydicom.dcmread(tmp_path / "src" / "ct.dcm").PatientName


def test_a_file_for_the_dataset_path_still_gets_pydicom(tmp_path):
    """A big-endian file is not the byte path's: the Dataset path imports pydicom where it is needed."""
    (tmp_path / "src").mkdir()
    shutil.copy(get_testdata_file("MR_small_bigendian.dcm"), tmp_path / "src" / "mr.dcm")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path / "src"), str(tmp_path / "out")], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "1 file written" in done.stdout and "pydicom" in done.stdout
    copy = pydicom.dcmread(next((tmp_path / "out").rglob("*.dcm")))
    assert copy.PatientName != pydicom.dcmread(tmp_path / "src" / "mr.dcm").PatientName
