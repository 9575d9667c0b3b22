"""Render the app icon to the hicolor PNG sizes and copy the desktop files
into the package data.

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/linux/make_icons.py

Writes packaging/linux/icons/hicolor/NxN/apps/dicom-viewer.png (16 to 256)
and scalable/apps/dicom-viewer.svg from resources/dicom-viewer.svg, then
mirrors packaging/linux/{dicom-viewer.desktop, dicom-viewer.xml, icons/} into
viewer/resources/linux/, the copy that wheels and the PyInstaller bundle carry
(tests/test_packaging.py checks that the two stay identical). Run it again
after changing the SVG or either desktop file.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SVG = ROOT / "resources" / "dicom-viewer.svg"
SIZES = (16, 32, 48, 64, 128, 256)
#: The files --install-desktop installs, relative to packaging/linux/.
SHIPPED = ("dicom-viewer.desktop", "dicom-viewer.xml", "icons")
PACKAGE_COPY = ROOT / "viewer" / "resources" / "linux"


def render_icons(target: Path) -> list[Path]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication, QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter needs it
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"cannot render {SVG}")
    written = []
    for size in SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        renderer.render(painter)
        painter.end()
        out = target / f"{size}x{size}" / "apps" / "dicom-viewer.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(out), "PNG"):
            raise SystemExit(f"cannot write {out}")
        written.append(out)
    scalable = target / "scalable" / "apps" / "dicom-viewer.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(SVG, scalable)
    written.append(scalable)
    return written


def copy_to_package() -> None:
    if PACKAGE_COPY.exists():
        shutil.rmtree(PACKAGE_COPY)
    PACKAGE_COPY.mkdir(parents=True)
    for name in SHIPPED:
        source = HERE / name
        if source.is_dir():
            shutil.copytree(source, PACKAGE_COPY / name)
        else:
            shutil.copyfile(source, PACKAGE_COPY / name)


def main() -> int:
    written = render_icons(HERE / "icons" / "hicolor")
    copy_to_package()
    print(f"{len(written)} icons in {HERE / 'icons/hicolor'}; package data in {PACKAGE_COPY.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
