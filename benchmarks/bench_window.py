"""One window/level step, including the paint of a 1024x1024 view.

The issue's targets (on a 2-core machine): p95 under 2 ms for a 512x512 CT,
under 16 ms for a 4096x5120 12-bit mammogram. A step is what a mouse-move
event does while the user drags the window: ``ImagePane.set_display`` with a
new :class:`Window` (so a new lookup table, never the cached one), then a
synchronous ``viewport().repaint()``, which runs pyqtgraph's ImageItem.paint
(QImage conversion and drawImage) into the backing store.

Each figure is also given as a ratio to the p95 of ``stored.copy()`` of the
same full stored array, measured in the same run, so it means something on a
machine of another speed.

Images:

* CT: pydicom's 693_UNCI.dcm, a real 512x512 CT (14 bits stored), read and
  decoded through the viewer's own FrameSource.
* Mammogram: no real 4096x5120 file is available here, so a stand-in is built
  in memory from a real radiograph (pydicom's RG1_UNCI.dcm, 1955x1841 CR,
  15 bits, MONOCHROME1): nearest-neighbour resampled to 5120 rows x 4096
  columns, rescaled to 0..4095 (12 bits stored in 16 allocated), MONOCHROME1,
  with the file's window rescaled the same way. It is put in a pydicom Dataset
  (Digital Mammography For Presentation, Explicit VR Little Endian) and
  decoded by the viewer's decoder, so the pipeline sees what a real 12-bit
  mammogram gives it. No file is written.

Layouts (#14): the same drag in a 2x2 layout of four CT viewports (the CT in
each), the window as large as for the 1x1 case, so each viewport is about a
quarter of it; the goal is a step p95 at most 2x the 1x1 figure of the same run.

Run: ``.venv/bin/python benchmarks/bench_window.py [--steps N]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import Summary, ensure_offscreen

ensure_offscreen()

import pydicom  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402
from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from viewer.core.display.frames import FrameSource  # noqa: E402
from viewer.core.display.pixels.decoders import decode_frame  # noqa: E402
from viewer.core.display.pixels.pipeline import FrameDisplay, Window, frame_context  # noqa: E402
from viewer.core.media.model import ImageRef, Instance  # noqa: E402
from viewer.ui.viewport.image_view import ImagePane  # noqa: E402

VIEW_SIZE = 1024
MAMMO_ROWS, MAMMO_COLS = 5120, 4096
DIGITAL_MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


# --------------------------------------------------------------------------- images


def ct_frame() -> FrameDisplay:
    """693_UNCI.dcm through the viewer's FrameSource, as the app would load it."""
    path = Path(get_testdata_file("693_UNCI.dcm", download=False))
    header = pydicom.dcmread(path, stop_before_pixels=True)
    return FrameSource().frame(ImageRef(Instance(path, header)))


def mammogram_dataset() -> Dataset:
    """A 5120x4096 12-bit MONOCHROME1 stand-in built from RG1_UNCI.dcm (see module docstring)."""
    source = pydicom.dcmread(get_testdata_file("RG1_UNCI.dcm", download=False))
    pixels = source.pixel_array
    lo, hi = int(pixels.min()), int(pixels.max())
    scale = 4095.0 / max(hi - lo, 1)
    rows = np.arange(MAMMO_ROWS) * pixels.shape[0] // MAMMO_ROWS
    cols = np.arange(MAMMO_COLS) * pixels.shape[1] // MAMMO_COLS
    resampled = pixels[rows[:, None], cols[None, :]]
    stored = np.clip(np.rint((resampled.astype(np.float32) - lo) * scale), 0, 4095).astype(np.uint16)

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = DIGITAL_MAMMOGRAPHY_FOR_PRESENTATION
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = DIGITAL_MAMMOGRAPHY_FOR_PRESENTATION
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "MG"
    ds.Rows, ds.Columns = MAMMO_ROWS, MAMMO_COLS
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    center, width = float(source.WindowCenter), float(source.WindowWidth)
    ds.WindowCenter = round((center - lo) * scale, 1)
    ds.WindowWidth = round(width * scale, 1)
    ds.PixelData = stored.tobytes()
    ds.set_original_encoding(False, True)
    return ds


def mammogram_frame() -> FrameDisplay:
    ds = mammogram_dataset()
    return FrameDisplay(decode_frame(ds, 0), frame_context(ds, 0))


# --------------------------------------------------------------------------- timing


def window_steps(start: Window, n: int) -> list[Window]:
    """n windows as a small drag back and forth gives: each differs from the last."""
    windows = []
    for k in range(n):
        delta = (1 + k % 10) * (1 if k % 2 else -1)
        windows.append(start.with_center_width(start.center + delta, max(1.0, start.width + delta)))
    return windows


class PaintCounter(QObject):
    """Counts the paint events a widget receives (proof that repaint() painted)."""

    def __init__(self, widget):
        super().__init__(widget)
        self.count = 0
        widget.installEventFilter(self)

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def timed(action, n: int, warmup: int = 5) -> list[int]:
    for k in range(warmup):
        action(k)
    gc.collect()
    durations = []
    for k in range(n):
        t0 = time.perf_counter_ns()
        action(k)
        durations.append(time.perf_counter_ns() - t0)
    return durations


@dataclass
class Case:
    name: str
    image: str
    shape: tuple[int, int]
    zoom: str
    region: tuple[int, int, int, int] | None
    stride: int
    step: Summary  # set_display + viewport().repaint()
    step_grab: Summary | None  # set_display + viewport().grab()
    core: Summary  # FrameDisplay.render alone (new LUT + take)
    paint_only: Summary | None  # viewport().repaint() with nothing changed
    copy: Summary  # stored.copy() of the full frame
    step_grey8: Summary | None = None  # the step with uint8 pixels (Grayscale8), as before RGB32

    @property
    def ratio(self) -> float:
        return self.step.p95 / self.copy.p95


def make_pane(app: QApplication) -> ImagePane:
    pane = ImagePane()
    viewport = pane.view.viewport()  # the pyqtgraph view is otherwise built after the first paint
    pane.resize(VIEW_SIZE, VIEW_SIZE)
    pane.show()
    app.processEvents()
    # The view's frame takes a few pixels: grow the pane so the viewport is 1024x1024.
    pane.resize(2 * VIEW_SIZE - viewport.width(), 2 * VIEW_SIZE - viewport.height())
    app.processEvents()
    if (viewport.width(), viewport.height()) != (VIEW_SIZE, VIEW_SIZE):
        raise RuntimeError(f"viewport is {viewport.width()}x{viewport.height()}, wanted {VIEW_SIZE}x{VIEW_SIZE}")
    return pane


def measure_case(app: QApplication, pane: ImagePane, name: str, image: str, frame: FrameDisplay, zoom: float | None, n: int) -> Case:
    voi = frame.default_voi()
    if not isinstance(voi, Window):
        voi = frame.auto_window()
    pane.show_frame(frame, voi, False, fit=True)
    if zoom is not None:
        pane.set_zoom(zoom)
    app.processEvents()
    viewport = pane.view.viewport()
    windows = window_steps(voi, n + 10)

    def step(k: int) -> None:
        pane.set_display(windows[k], False)
        viewport.repaint()

    counter = PaintCounter(viewport)
    step_ns = timed(step, n)
    if counter.count < n + 5 or pane.image_item._renderRequired:
        raise RuntimeError(f"{name}: repaint() did not paint ({counter.count} paint events for {n + 5} steps)")
    region, stride = pane.last_render

    def step_grab(k: int) -> None:
        pane.set_display(windows[k], False)
        viewport.grab()

    grab_ns = timed(step_grab, n)
    paint_ns = timed(lambda k: viewport.repaint(), n)
    grey8_ns = timed_with_grey8(pane, step, n)
    # The core alone, the same region and stride: a new LUT and one take.
    core_ns = timed(lambda k: frame.render_packed(windows[k], False, region, stride), n)
    copy_ns = timed(lambda k: frame.stored.copy(), n)
    counter.deleteLater()
    zoom_text = "fit" if zoom is None else f"{zoom:g}:1"
    return Case(
        name,
        image,
        frame.shape,
        f"{zoom_text} ({pane.zoom():.3g} screen px per image px)",
        region,
        stride,
        Summary.of_ns(step_ns),
        Summary.of_ns(grab_ns),
        Summary.of_ns(core_ns),
        Summary.of_ns(paint_ns),
        Summary.of_ns(copy_ns),
        Summary.of_ns(grey8_ns),
    )


def timed_with_grey8(pane: ImagePane, step, n: int) -> list[int]:
    """The step as the pane did it before RGB32: uint8 display pixels shown as a Grayscale8 QImage.

    The pane now hands pyqtgraph pixels packed as 0xFFRRGGBB (an RGB32
    QImage, Qt's fastest to scale); this what-if gives it ``render``'s uint8
    pixels instead (Grayscale8, RGB888 for colour), so the lever's worth is
    measured in the same run. The viewer itself is not changed.
    """
    frame = pane.frame
    frame.render_packed = frame.render  # an instance attribute, shadowing the method
    try:
        return timed(step, n)
    finally:
        del frame.render_packed
        pane.render()


def ct_in_main_window(app: QApplication, view_size: int):
    """A MainWindow showing pydicom-data's 693_UNCI.dcm CT, its view `view_size` pixels square, the image fitted."""
    from viewer.ui.window.main_window import MainWindow

    window = MainWindow()
    window.resize(1400, 1200)
    window.show()
    window.open_paths([get_testdata_file("693_UNCI.dcm", download=False)])
    deadline = time.monotonic() + 30
    while window.frame is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    if window.frame is None:
        raise RuntimeError("the main window did not show 693_UNCI.dcm")
    viewport = window.pane.view.viewport()
    for _ in range(5):  # the docks re-lay out as the window grows
        window.resize(window.width() + view_size - viewport.width(), window.height() + view_size - viewport.height())
        app.processEvents()
    window.pane.fit()
    app.processEvents()
    return window


def measure_main_window(app: QApplication, n: int) -> Case:
    """The app's own path: a drag event on the CT in the MainWindow, then the event loop paints.

    ``window_dragged`` goes through Viewport._window_dragged (new window,
    display model, pane, pipeline text, corner annotations); processEvents()
    then paints every widget marked dirty, as the event loop would.
    """
    window = ct_in_main_window(app, VIEW_SIZE)
    viewport = window.pane.view.viewport()

    def step(k: int) -> None:
        window.pane.window_dragged.emit(float((1 + k % 10) * (1 if k % 2 else -1)), 0.0)
        app.processEvents()

    counter = PaintCounter(viewport)
    step_ns = timed(step, n)
    if counter.count < n + 5:
        raise RuntimeError(f"main window: {counter.count} viewport paints for {n + 5} steps")
    region, stride = window.pane.last_render
    frame = window.frame
    windows = window_steps(window.effective_voi(), n + 10)
    copy_ns = timed(lambda k: frame.stored.copy(), n)
    grey8_ns = timed_with_grey8(window.pane, step, n)
    case = Case(
        f"CT in the MainWindow, drag event + processEvents (viewport {viewport.width()}x{viewport.height()}, fit)",
        "CT 693_UNCI",
        frame.shape,
        f"fit ({window.pane.zoom():.3g} screen px per image px)",
        region,
        stride,
        Summary.of_ns(step_ns),
        None,
        Summary.of_ns(timed(lambda k: frame.render_packed(windows[k], False, region, stride), n)),
        None,
        Summary.of_ns(copy_ns),
        Summary.of_ns(grey8_ns),
    )
    window.close()
    window.deleteLater()
    app.processEvents()
    return case


#: The name of the 1x1 case the 2x2 one is compared with.
MAIN_WINDOW_1X1 = "CT in the MainWindow"
MAIN_WINDOW_2X2 = "CT in a 2x2 layout of four CT viewports"


def measure_main_window_2x2(app: QApplication, n: int) -> Case:
    """The drag of :func:`measure_main_window` in a 2x2 layout, four viewports each showing the CT.

    The window has the size the 1x1 case ends with (its viewport 1024x1024),
    so each of the four viewports gets about a quarter of it; the drag goes
    to the active (top left) one and the event loop paints what is dirty.
    """
    from viewer.core.display.hanging import GridShape
    from viewer.ui.window.main_window import MainWindow

    window = MainWindow()
    window.settings.hanging = {}  # the layout is set here, not by a kept protocol
    window.resize(1400, 1200)
    window.show()
    window.viewports.set_shape(GridShape(2, 2))
    window.open_paths([get_testdata_file("693_UNCI.dcm", download=False)])
    deadline = time.monotonic() + 30
    while window.frame is None and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    series = window.series[0]
    for viewport in window.viewports:
        if viewport.current_series is not series:
            viewport.show_series(series)
    while any(v.frame is None for v in window.viewports) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.005)
    if any(v.frame is None for v in window.viewports):
        raise RuntimeError("the 2x2 layout did not show 693_UNCI.dcm in four viewports")
    active = window.viewports.viewports[0]
    window.viewports.set_active(active)
    for _ in range(5):  # the same central area as the 1x1 case: each viewport about a quarter of it
        grid = window.viewports
        window.resize(window.width() + VIEW_SIZE - grid.width(), window.height() + VIEW_SIZE - grid.height())
        app.processEvents()
    for viewport in window.viewports:
        viewport.pane.fit()
    app.processEvents()
    surface = active.pane.view.viewport()

    def step(k: int) -> None:
        active.pane.window_dragged.emit(float((1 + k % 10) * (1 if k % 2 else -1)), 0.0)
        app.processEvents()

    counter = PaintCounter(surface)
    step_ns = timed(step, n)
    if counter.count < n + 5:
        raise RuntimeError(f"2x2 layout: {counter.count} viewport paints for {n + 5} steps")
    region, stride = active.pane.last_render
    frame = active.frame
    windows = window_steps(active.effective_voi(), n + 10)
    case = Case(
        f"{MAIN_WINDOW_2X2}, drag event + processEvents (active viewport {surface.width()}x{surface.height()}, fit)",
        "CT 693_UNCI",
        frame.shape,
        f"fit ({active.pane.zoom():.3g} screen px per image px)",
        region,
        stride,
        Summary.of_ns(step_ns),
        None,
        Summary.of_ns(timed(lambda k: frame.render_packed(windows[k], False, region, stride), n)),
        None,
        Summary.of_ns(timed(lambda k: frame.stored.copy(), n)),
        None,
    )
    window.close()
    window.deleteLater()
    app.processEvents()
    return case


def layout_ratio(cases: list[Case]) -> float | None:
    """Step p95 in the 2x2 layout over the 1x1 main window's, of the same run (goal: at most 2)."""
    one = next((c for c in cases if c.name.startswith(MAIN_WINDOW_1X1)), None)
    four = next((c for c in cases if c.name.startswith(MAIN_WINDOW_2X2)), None)
    return four.step.p95 / one.step.p95 if one and four else None


def measure_full_resolution(app: QApplication, pane: ImagePane, frame: FrameDisplay, n: int) -> list[Case]:
    """What the visible-region lever saves: the whole mammogram at full resolution."""
    voi = frame.default_voi()
    windows = window_steps(voi, n + 10)
    copy = Summary.of_ns(timed(lambda k: frame.stored.copy(), n))
    core_ns = timed(lambda k: frame.render_packed(windows[k], False), n, warmup=2)
    cases = [
        Case(
            "full-resolution render (core only)",
            "mammogram",
            frame.shape,
            "-",
            None,
            1,
            Summary.of_ns(core_ns),
            None,
            Summary.of_ns(core_ns),
            None,
            copy,
        )
    ]
    # The same through the image item: the whole frame handed to pyqtgraph, fitted in the view.
    pane.show_frame(frame, voi, False, fit=True)
    app.processEvents()
    viewport = pane.view.viewport()
    rows, cols = frame.shape

    def step(k: int) -> None:
        pixels = frame.render_packed(windows[k], False)
        pane.image_item.setImage(pixels, autoLevels=False, levels=None)
        pane.image_item.setRect(0, 0, cols, rows)
        viewport.repaint()

    step_ns = timed(step, max(5, n // 2), warmup=2)
    cases.append(
        Case(
            "full-resolution render + setImage + repaint",
            "mammogram",
            frame.shape,
            "fit",
            None,
            1,
            Summary.of_ns(step_ns),
            None,
            Summary.of_ns(core_ns),
            None,
            copy,
        )
    )
    pane.render()  # back to what the pane itself would show
    return cases


def measure_overlay_cases(app: QApplication, pane: ImagePane, frame: FrameDisplay, n: int) -> list[Case]:
    """The CT's window step without and with an overlay plane (60xx) over it, in the same run (#16: at most 1 ms more).

    The overlay is what :class:`viewer.ui.viewport.overlay_layer.OverlayLayer` puts in the view box for a
    graphics plane of the image's size whose bits (5 % of them, seeded) reach every edge: cropping
    it to what it covers saves nothing, the worst case for painting. A window step never recomputes
    it; the view repaints it with the image. Steps with and without it alternate, so that the other
    work on a shared machine weighs on both alike.
    """
    dense = np.random.default_rng(16).random(frame.shape) < 0.05
    dense[0, :] = dense[-1, :] = dense[:, 0] = dense[:, -1] = True
    # A real plane: pydicom-data's Siemens graphics (an outline, letters, a box) at the CT's top left.
    siemens = get_testdata_file("MR-SIEMENS-DICOM-WithOverlays.dcm")
    real = np.zeros(frame.shape, dtype=bool)
    if siemens is not None:
        plane = pydicom.dcmread(siemens).overlay_array(0x6000).astype(bool)[: frame.shape[0], : frame.shape[1]]
        real[: plane.shape[0], : plane.shape[1]] = plane
    cases = []
    for bits, plane_name in ((dense, "overlay plane"), (real, "Siemens overlay")):
        if bits.any():
            cases += _overlay_pair(app, pane, frame, n, bits, plane_name)
    # The dense plane again on the image a presentation state turns 90 degrees and flips (PS3.3 C.10.6): the
    # overlay hangs under the pane's image parent, and is blended from a turned copy at screen resolution.
    cases += _overlay_pair(app, pane, frame, n, dense, TURNED_PLANE, turned=True)
    return cases


#: The name of the turned overlay's cases (:func:`measure_overlay_cases`).
TURNED_PLANE = "overlay plane, turned 90 and flipped"


def _overlay_pair(
    app: QApplication, pane: ImagePane, frame: FrameDisplay, n: int, bits: np.ndarray, plane_name: str, turned: bool = False
) -> list[Case]:
    """:func:`measure_overlay_cases` for one plane, at 1:1 and fitted; `turned`: the image turned 90 degrees and flipped."""
    import dataclasses

    from PySide6.QtGui import QTransform

    from viewer.core.display.overlays import FrameOverlay, overlay_rgba
    from viewer.core.documents.presentation_render import spatial_affine
    from viewer.ui.viewport.overlay_layer import OVERLAY_PLANES_Z, _cropped, _overlay_item_class

    pixels, (r0, c0), _ = _cropped(overlay_rgba(FrameOverlay(graphics=bits), frame.shape), "")
    item = _overlay_item_class()(axisOrder="row-major")
    item.setImage(pixels, autoLevels=False, levels=None)
    item.setRect(c0, r0, pixels.shape[1], pixels.shape[0])
    item.hide()
    if turned:
        pane.show_frame(frame, frame.default_voi(), False, fit=True)
        rows, columns = frame.shape
        pane.set_image_transform(QTransform(*spatial_affine(90, True, columns, rows)))
        item.setParentItem(pane.image_parent(OVERLAY_PLANES_Z))  # as viewer.ui.viewport.overlay_layer puts it up
    else:
        item.setZValue(OVERLAY_PLANES_Z)
        pane.view_box.addItem(item, ignoreBounds=True)
    cases = []
    for zoom, label in ((1.0, "1:1"), (None, "fitted")):
        item.hide()
        plain = measure_case(
            app, pane, f"CT {label}, no overlay ({plane_name} pair)", "CT 693_UNCI", frame, zoom, n
        )  # also lays the view out
        viewport, windows = pane.view.viewport(), window_steps(pane._voi, 2 * n + 10)
        durations: dict[bool, list[int]] = {False: [], True: []}
        cpu: dict[bool, list[int]] = {False: [], True: []}
        for k in range(2 * n + 10):
            shown = k % 2 == 1
            item.setVisible(shown)
            t0, c0 = time.perf_counter_ns(), time.process_time_ns()
            pane.set_display(windows[k], False)
            viewport.repaint()
            if k >= 10:  # warm-up
                durations[shown].append(time.perf_counter_ns() - t0)
                cpu[shown].append(time.process_time_ns() - c0)
        # The step's CPU time in this process (Qt paints in it): what other processes take from the cores does not count.
        alike = {"step_grab": None, "paint_only": None, "step_grey8": None}
        for shown, name in ((False, plain.name), (True, f"CT {label} + {plane_name}")):
            cases.append(dataclasses.replace(plain, name=name, step=Summary.of_ns(durations[shown]), **alike))
            cases.append(dataclasses.replace(plain, name=f"{name} (process CPU time)", step=Summary.of_ns(cpu[shown]), **alike))
    pane.view_box.removeItem(item)
    if turned:
        pane.set_image_transform(None)
    return cases


def overlay_cost(cases: list[Case]) -> list[str]:
    """What each overlay adds to the window step's p50 and p95, per zoom, from :func:`measure_overlay_cases`."""
    by_name = {c.name: c for c in cases}
    lines = []
    for plane_name in ("overlay plane", "Siemens overlay", TURNED_PLANE):
        for label in ("1:1", "fitted"):
            for clock in ("", " (process CPU time)"):
                plain = by_name.get(f"CT {label}, no overlay ({plane_name} pair){clock}")
                drawn = by_name.get(f"CT {label} + {plane_name}{clock}")
                if plain and drawn:
                    lines.append(
                        f"{plane_name} over the CT {label}{clock}: step p50 {drawn.step.p50 - plain.step.p50:+.2f} ms, "
                        f"p95 {drawn.step.p95 - plain.step.p95:+.2f} ms (goal: at most +1 ms)"
                    )
    return lines


def run(steps: int = 200, full_steps: int = 20) -> list[Case]:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    pane = make_pane(app)
    ct = ct_frame()
    mammo = mammogram_frame()
    cases = [
        measure_case(app, pane, "CT 1:1", "CT 693_UNCI", ct, 1.0, steps),
        measure_case(app, pane, "CT fitted", "CT 693_UNCI", ct, None, steps),
        measure_case(app, pane, "mammogram fitted", "MG stand-in", mammo, None, steps),
        measure_case(app, pane, "mammogram 2:1 on a region", "MG stand-in", mammo, 2.0, steps),
    ]
    cases += measure_full_resolution(app, pane, mammo, full_steps)
    cases += measure_overlay_cases(app, pane, ct, steps)  # #16: overlays add at most 1 ms to a step
    pane.close()
    pane.deleteLater()
    app.processEvents()
    cases.append(measure_main_window(app, steps))
    cases.append(measure_main_window_2x2(app, steps))
    return cases


def markdown(cases: list[Case]) -> str:
    lines = [
        "| case | image | rendered region (r0,r1,c0,c1) / stride | step p50 | step p95 | step max "
        "| p95 / copy p95 | grab() step p95 | core render p95 | repaint alone p95 | copy p95 "
        "| what-if Grayscale8 (the pane before RGB32): step p95 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        region = "whole frame / 1" if c.region is None else f"{c.region} / {c.stride}"
        lines.append(
            f"| {c.name} | {c.image} {c.shape[0]}x{c.shape[1]} | {region} "
            f"| {c.step.p50:.2f} | **{c.step.p95:.2f}** | {c.step.max:.2f} | {c.ratio:.1f}x "
            f"| {_ms(c.step_grab)} | {c.core.p95:.2f} | {_ms(c.paint_only)} | {c.copy.p95:.3f} "
            f"| {_ms(c.step_grey8)} |"
        )
    lines += ["", *overlay_cost(cases)]
    ratio = layout_ratio(cases)
    if ratio is not None:
        lines += ["", f"2x2 layout / 1x1 main window, window step p95: **{ratio:.2f}x** (goal: at most 2x)"]
    return "\n".join(lines)


def _ms(summary: Summary | None) -> str:
    return "-" if summary is None else f"{summary.p95:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="window steps per case (default 200)")
    args = parser.parse_args(argv)
    print(markdown(run(args.steps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
