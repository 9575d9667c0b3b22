"""Open a generated CT volume and show it in the MPR workspace (for screenshots and trying MPR by hand).

The series is a synthetic chest-like phantom in HU (body, lungs, spine,
aorta, a few nodules), 256 x 256 pixels of 0.9 mm and 160 slices 1.5 mm
apart, written once with pydicom into ``/tmp/dicom-viewer-mpr-demo``. Run::

    PYTHONPATH=$PWD .venv/bin/python scripts/mpr_demo.py [--layout 2x2] [--slab 10 --mode mip] [--hide-docks]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path("/tmp/dicom-viewer-mpr-demo/v1")
ROWS = COLUMNS = 256
SLICES = 160
PIXEL_MM, SLICE_MM = 0.9, 1.5


def chest(points: np.ndarray) -> np.ndarray:
    """HU at points (..., 3) in mm (x to the left, y to posterior, z to the head; centre at 0)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    hu = np.full(x.shape, -1000.0)
    body = (x / 105) ** 2 + (y / 80) ** 2 <= 1
    hu[body] = 40
    for side in (-1, 1):
        lung = ((x - side * 48) / 38) ** 2 + ((y + 5) / 50) ** 2 + (z / 95) ** 2 <= 1
        hu[lung & body] = -820
    spine = ((x / 14) ** 2 + ((y - 55) / 14) ** 2 <= 1) & (np.mod(z + 200, 24) < 19)
    hu[spine] = 700
    aorta = (x - 12) ** 2 + (y - 30) ** 2 <= 11**2
    hu[aorta & body] = 180
    for cx, cy, cz, r in ((-45, -10, 20, 6), (50, 5, -30, 4), (40, -20, 45, 8)):
        hu[(x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= r * r] = 60
    rib = (np.abs(np.sqrt((x / 100) ** 2 + (y / 75) ** 2) - 0.93) < 0.025) & (np.mod(z + 200, 20) < 6)
    hu[rib] = 900
    return hu


def series_folder() -> Path:
    folder = ROOT / "CHEST"
    stamp = ROOT / "complete"
    if stamp.exists():
        return folder
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from mpr_phantom import write_series

    origin = np.array([-(COLUMNS - 1) * PIXEL_MM / 2, -(ROWS - 1) * PIXEL_MM / 2, -(SLICES - 1) * SLICE_MM / 2])
    positions = [origin + np.array([0, 0, k * SLICE_MM]) for k in range(SLICES)]
    write_series(
        folder, chest, (1, 0, 0), (0, 1, 0), ROWS, COLUMNS, (PIXEL_MM, PIXEL_MM), positions,
        WindowCenter="-500", WindowWidth="1600", SeriesDescription="MPR demo chest phantom", SliceThickness=f"{SLICE_MM:g}",
    )  # fmt: skip
    stamp.write_text("ok\n")
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=("1x3", "2x2"), default=None)
    parser.add_argument("--slab", type=float, default=0.0)
    parser.add_argument("--mode", choices=("mip", "minip", "avg"), default="mip")
    parser.add_argument("--hide-docks", action="store_true", help="the image area alone (as the reading-room layout will be)")
    args = parser.parse_args(argv)
    folder = series_folder()

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from viewer.ui.window.main_window import MainWindow

    app = QApplication([])
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    if args.hide_docks:
        for dock in (window.browser_dock, window.query_dock, window.pipeline_dock, window.inspector_dock):
            dock.hide()

    def ready() -> None:
        workspace = window.mpr.workspace
        workspace.set_point((SLICES // 2 + 13, ROWS // 2 - 10, COLUMNS // 2 - 50))  # through a lung and a nodule
        if args.layout:
            workspace.set_layout(args.layout)
        if args.slab:
            workspace.set_slab(args.slab, args.mode)

    def opened() -> None:  # every file read: the whole series
        window.series_opened.disconnect(opened)
        window.mpr.enter()
        window.mpr.workspace.ready.connect(ready)

    window.series_opened.connect(opened)
    QTimer.singleShot(0, lambda: window.open_paths([folder]))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
