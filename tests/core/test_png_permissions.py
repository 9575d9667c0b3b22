"""An exported PNG gets the mode the user's umask gives any new file (0666 & ~umask), written atomically."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
from PIL import Image
from pydicom.data import get_testdata_file

CT = get_testdata_file("693_UNCI.dcm", download=False)


@pytest.mark.skipif(os.name != "posix", reason="file modes and the umask are POSIX")
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_export_honours_the_umask(tmp_path, umask, mode):
    out = tmp_path / "ct.png"
    for attempt in ("new file", "overwrite"):
        result = subprocess.run(
            [sys.executable, "-m", "viewer", "export", CT, "-o", str(out), *(["--overwrite"] if attempt == "overwrite" else [])],
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=lambda: os.umask(umask),
        )
        assert result.returncode == 0, (attempt, result.stderr)
        assert stat.S_IMODE(out.stat().st_mode) == mode, attempt
        assert Image.open(out).size == (512, 512)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ct.png"], "the temporary file is left behind"
