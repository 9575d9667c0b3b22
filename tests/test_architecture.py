"""The core understands DICOM without Qt: importing and using it never loads Qt."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import viewer.core

ROOT = Path(__file__).resolve().parents[1]

BLOCK_QT = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6') or name.startswith('viewer.ui'):
            raise ImportError('Qt imported from the core: ' + name)
sys.meta_path.insert(0, Block())
"""


def test_core_modules_import_without_qt():
    modules = [m.name for m in pkgutil.walk_packages(viewer.core.__path__, "viewer.core.")]
    assert "viewer.core.display.pixels.pipeline" in modules
    code = BLOCK_QT + "".join(f"import {m}\n" for m in modules) + "import viewer.cli, viewer.app\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_export_runs_without_qt(tmp_path):
    from pydicom.data import get_testdata_file

    ct = get_testdata_file("693_UNCI.dcm", download=False)
    code = BLOCK_QT + f"from viewer.app import main; raise SystemExit(main(['export', {ct!r}, '-o', {str(tmp_path / 'x.png')!r}]))"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    assert (tmp_path / "x.png").stat().st_size > 1000


@pytest.mark.skipif(
    shutil.which("lint-imports") is None and not (Path(sys.executable).parent / "lint-imports").exists(),
    reason="import-linter not installed",
)
def test_import_linter_contract():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _tool(name: str) -> str | None:
    return shutil.which(name) or (str(Path(sys.executable).parent / name) if (Path(sys.executable).parent / name).exists() else None)


@pytest.mark.skipif(_tool("ruff") is None, reason="ruff not installed")
def test_ruff_lint_and_format():
    """The lint and format rules of pyproject.toml hold for the whole tree (CI runs the same)."""
    for args in (["check", "."], ["format", "--check", "."]):
        result = subprocess.run([_tool("ruff"), *args], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
