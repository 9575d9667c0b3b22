"""One image as the viewer shows it, at 1:1: the step the ``export`` command and the window's File > Export share.

:class:`Renderer` decodes as the viewport does (compressed and video frames
in worker processes with a time limit, through a
:class:`~viewer.core.display.frames.FrameSource`); :func:`series_voi` chooses
the one VOI an export uses for every image, as the pane opens the series;
:func:`render_image` runs the display pipeline (PS3.3 C.11: Modality LUT,
VOI, Presentation LUT, the user's inversion) and draws what the viewer draws
over the image when asked: the 60xx overlay planes (PS3.3 C.9.2), the
measurements kept for the image, the corner text and orientation markers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.frames import FrameSource, frame_with_time_limit, is_compressed, series_window
from viewer.core.display.pixels.auto_window import percentile_window
from viewer.core.display.pixels.pipeline import VOI, FrameDisplay, Window, frame_context
from viewer.core.display.pixels.presets import BUILT_IN_PRESETS, preset_for
from viewer.core.media.model import ImageRef

if TYPE_CHECKING:
    from viewer.core.dicom.charset import CharsetOverrides

#: Bytes of decoded frames an export keeps: it walks a series once, in order.
EXPORT_CACHE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class ExportOptions:
    """How images are rendered for export.

    `window`: (center, width) in modality units, or `preset` (a named window,
    checked to be in the unit of the image's values); neither: the image's
    own VOI as the pane opens it. `overlays`: draw the 60xx overlay planes.
    `annotations`: draw the measurements kept for the image (in `data_dir`);
    `corner_text`: the corner text and the orientation markers, as the pane
    shows them at 1:1 (on a small image they cover much of it: apart, so that
    measurements can be drawn without them).
    """

    window: tuple[float, float] | None = None
    preset: str | None = None
    invert: bool = False
    overlays: bool = True
    annotations: bool = False
    corner_text: bool = False
    data_dir: Path | None = None
    overrides: CharsetOverrides | None = None
    voi: VOI | None = None  # a VOI chosen in the window (a viewport's), used as it is


class Renderer:
    """Frames for export, decoded as the viewer decodes them; notes (one line each) about what could not be drawn.

    `source`: the window's frame source (its cache is shared), or a small one of its own.
    """

    def __init__(self, source: FrameSource | None = None):
        self.source = source if source is not None else FrameSource(EXPORT_CACHE_BYTES, max_datasets=1)
        self.notes: list[str] = []

    def frame(self, ref: ImageRef) -> FrameDisplay:
        """`ref` decoded and prepared (ViewerError, one line, when it cannot be)."""
        if self.source.cached(ref) or not is_compressed(ref.instance.header):
            return self.source.frame(ref)
        # A damaged code stream can take a decoder's process down or spin for minutes: a worker, a time limit.
        return frame_with_time_limit(self.source, ref)

    def header(self, ref: ImageRef) -> Dataset:
        """The whole header of `ref`'s file (overlays, measurements' identity, the corner text)."""
        return self.source.header(ref.instance.path)

    def note(self, text: str) -> None:
        if text and text not in self.notes:
            self.notes.append(text)


def user_window(options: ExportOptions, ctx: Dataset, path: Path | None) -> VOI | None:
    """The VOI the user asked for: a viewport's, an explicit window, a preset (checked against `ctx`); None for the image's own."""
    if options.voi is not None:
        return options.voi
    if options.window is not None:
        center, width = options.window
        if not width > 0:
            raise ViewerError("--window WIDTH must be greater than 0")
        return Window(float(center), float(width), "LINEAR", "", "user")
    if options.preset:
        return preset_for(options.preset, ctx, path, BUILT_IN_PRESETS)
    return None


def series_voi(renderer: Renderer, images: Sequence[ImageRef], reference: int, options: ExportOptions) -> VOI:
    """One VOI for every image of an export: the user's, else the one the pane opens image `reference` with.

    That is the file's first VOI LUT or window (PS3.3 C.11.2), soft tissue
    for a CT in HU without one, else the series' automatic window
    (:func:`~viewer.core.display.frames.series_window`), or this image's
    percentiles when the series' middle image cannot be read. Kept for the
    whole export, so that grey levels do not jump from file to file.
    """
    ref = images[reference]
    if options.voi is None and (options.window is not None or options.preset):
        # Before decoding: a preset in HU on a radiograph is refused, not written black.
        chosen = user_window(options, frame_context(renderer.header(ref), ref.frame), ref.instance.path)
        if chosen is not None:
            return chosen
    if options.voi is not None:
        return options.voi
    frame = renderer.frame(ref)
    automatic = None
    if frame.uses_automatic_window():
        try:
            automatic = series_window(renderer.source, images, renderer.frame)
        except ViewerError:  # the middle image cannot be read: this image's percentiles, as the pane does
            automatic = percentile_window(frame, reference + 1)
    return frame.default_voi(automatic)


def render_image(
    renderer: Renderer,
    images: Sequence[ImageRef],
    index: int,
    voi: VOI,
    options: ExportOptions,
    frame_rate: float | None = None,
) -> np.ndarray:
    """Image `index` of `images` through the display pipeline at 1:1: uint8 grey ``(h, w)`` or RGB ``(h, w, 3)``.

    `frame_rate` is the cine rate the corner text names for a series of
    more than one image (as the pane does).
    """
    ref = images[index]
    frame = renderer.frame(ref)
    pixels = frame.render(voi, options.invert)
    if not (options.overlays or options.annotations or options.corner_text):
        return pixels
    header = renderer.header(ref)
    if options.overlays:
        from viewer.core.display.overlays import export_overlays

        pixels, note = export_overlays(pixels, header, ref.frame, ref.instance.path)
        renderer.note(note)
    if options.annotations:
        from viewer.core.measure.burn import burn_measurements
        from viewer.core.measure.store import ImageIdentity, MeasurementStore, default_data_dir

        store = MeasurementStore(options.data_dir or default_data_dir())
        kept = store.load(ImageIdentity.of(header).sop_instance_uid, ref.frame + 1)
        pixels = burn_measurements(pixels, [(m.shape, m.readings) for m in kept])  # RGB, as before, even with none
    if options.corner_text:  # above the measurements, as the pane's labels are above its scene
        from viewer.core.export.text import burn_view_text

        pixels = burn_view_text(pixels, images, index, frame, header, voi, options, frame_rate)
    return pixels
