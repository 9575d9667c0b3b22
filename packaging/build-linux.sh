#!/usr/bin/env bash
# Build the Linux one-folder bundle: dist/dicom-viewer/dicom-viewer.
# Usage: packaging/build-linux.sh [DISTDIR [WORKDIR]]   (defaults: dist, build)
# Uses .venv (scripts/setup-env creates it) and installs the "package" extra
# (PyInstaller) into it if missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
distdir=${1:-dist}
workdir=${2:-build}
[ -x .venv/bin/python ] || ./scripts/setup-env
if ! .venv/bin/python -c "import PyInstaller" 2>/dev/null; then
  # The "package" extra of pyproject.toml.
  .venv/bin/python -m pip install -q --disable-pip-version-check "pyinstaller>=6.10" 2>&1 | grep -v '^WARNING: Location' >&2 || true
fi
# The bundle carries the icons as package data; render them if missing.
[ -f viewer/resources/linux/icons/hicolor/256x256/apps/dicom-viewer.png ] \
  || QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/linux/make_icons.py
QT_QPA_PLATFORM=offscreen .venv/bin/python -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath "$distdir" --workpath "$workdir" packaging/pyinstaller/dicom-viewer.spec
echo "built $distdir/dicom-viewer/dicom-viewer ($(du -sh "$distdir/dicom-viewer" | cut -f1))"
