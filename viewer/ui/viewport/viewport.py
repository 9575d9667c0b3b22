"""One viewport: an image view with its display state, corner text, slider and cine.

A :class:`Viewport` shows the images of one series. Its
:class:`~viewer.core.display.view_state.DisplayModel` says which image and
how; the pane, the slider and the corner text follow it, and so does anyone
who subscribes. Frames are asked of the window's
:class:`~viewer.core.display.frames.FrameSource`, which answers at once or,
for compressed pixels, when a worker process has decoded them; the rest of
the series is decoded ahead (:mod:`viewer.core.display.prefetch`). A series
whose files carry no window gets one automatic window, computed once in the
background; its first image waits for it rather than jump in brightness.

The window holds viewports in a :class:`~viewer.ui.viewport.viewport_layout.ViewportLayout`;
its menus, Window box and docks follow the active one through the signals below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from viewer.core.dicom.charset import CharsetOverrides
from viewer.core.dicom.io import ViewerError
from viewer.core.display.annotations import HeaderText, ViewFacts, corner_text, header_lines, overlay_context_is_complete, pipeline_stages
from viewer.core.display.calibration import Calibration, pixel_spacing_basis
from viewer.core.display.frames import FrameSource, frame_with_time_limit, is_compressed, series_window
from viewer.core.display.orientation import OrientationMarkers, orientation_markers
from viewer.core.display.pixels.auto_window import percentile_window
from viewer.core.display.pixels.pipeline import (
    VOI,
    FrameDisplay,
    FullRange,
    VOILut,
    Window,
    frame_context,
    full_modality_range,
    modality_unit,
)
from viewer.core.display.prefetch import Executor, PlayHead, executor_for, nearest_first, prefetch
from viewer.core.display.spatial_transform import SpatialTransform
from viewer.core.display.view_state import DisplayModel, DisplayState
from viewer.core.media.first_record import STACK_MODALITIES  # series shown from their middle image (stacks of slices)
from viewer.core.media.model import ImageRef, Instance, Series
from viewer.core.runtime.tasks import CancelToken
from viewer.ui.viewport.cine import CineBar, CineController
from viewer.ui.viewport.image_view import ImagePane
from viewer.ui.viewport.overlay_layer import OverlayLayer
from viewer.ui.window.central import START_HINT
from viewer.ui.window.workers import BackgroundRunner, ScopedRunner

#: Window change per screen pixel dragged, as a fraction of the image's value range.
DRAG_SENSITIVITY = 1.0 / 1024
#: Milliseconds an image may take to arrive before the viewport says it is loading (a quick
#: decode shows no flash of text).
LOADING_DELAY_MS = 150


class Viewport(QWidget):
    """One image view of a series.

    Signals: ``image_shown()`` after each image is on screen; ``image_failed(message)``
    when one cannot be shown (the pane says why); ``automatic_window_found()`` when the
    series' automatic window arrives; ``series_shown(series)``; ``status(text)`` for
    the status bar ('' clears it); ``readout(text)`` for the value under the cursor.
    """

    image_shown = Signal()
    image_failed = Signal(str)
    automatic_window_found = Signal()
    series_shown = Signal(object)
    status = Signal(str)
    readout = Signal(str)

    def __init__(self, source: FrameSource, runner: BackgroundRunner, overrides: CharsetOverrides, parent: QWidget | None = None):
        super().__init__(parent)
        # Its own kinds of background work: another viewport's requests do not supersede this one's.
        self.source, self.runner, self.overrides = source, ScopedRunner(runner, f"viewport-{id(self)}"), overrides
        self.current_series: Series | None = None
        self.images: list[ImageRef] = []
        self.frame: FrameDisplay | None = None
        # The frame as decoded, and what the pane shows of it: a presentation state shows it through its own
        # Modality LUT (ui/presentation_layer sets `frame_view`); none, the frame itself.
        self.stored_frame: FrameDisplay | None = None
        self.frame_view: Callable[[ImageRef, FrameDisplay], FrameDisplay] = lambda _ref, frame: frame
        # The series' automatic window (viewer.core.display.pixels.auto_window): asked
        # for once per series shown, computed in the background, kept.
        self.automatic_window: Window | None = None
        self._automatic_for: Series | None = None
        self._automatic_pending = False
        self._waiting_for_automatic = False  # an image waits to be shown with it
        self._ref: ImageRef | None = None  # the image on screen, asked for, or failed
        self._fit_next = False  # the next image shown is fitted (the first of a series)
        self._prefetch_cancel = CancelToken()
        self.display = DisplayModel()
        self.display.subscribe(self._state_changed)
        # How the image is turned and mirrored on the screen: the markers and the scale bar follow it.
        # The pane shows images as stored for now (no turn or flip yet), so it stays the identity.
        self.spatial_transform = SpatialTransform()
        # What each image of the series shown gives the corner text, the markers and the scale bar, and whether
        # its pixels are compressed: read once per image, not on every step through the series (scrolling
        # linked viewports back and forth must cost little more than painting them).
        self._header_lines: dict[ImageRef, tuple[tuple, HeaderText]] = {}  # with the character-set choices read under
        self._overlay_facts: dict[tuple[ImageRef, SpatialTransform], tuple[OrientationMarkers | None, Calibration]] = {}
        self._compressed: dict[Instance, str] = {}  # where each instance's frames are decoded ahead (executor_for)
        self._default_voi: tuple[FrameDisplay, Window | None, VOI] | None = None  # the frame's own VOI, read once
        # The images last seen all cached, and the source's count of dropped frames then: nothing to decode ahead
        # while neither changes (a long series is not looked through on every step).
        self._all_cached: tuple[list[ImageRef], int] | None = None
        # "Loading..." once an image has been waited for a moment (decoded in a worker, or waiting for its window).
        self._loading = False
        self.loading_timer = QTimer(self)
        self.loading_timer.setSingleShot(True)
        self.loading_timer.setInterval(LOADING_DELAY_MS)
        self.loading_timer.timeout.connect(self._show_loading)

        self.pane = ImagePane()
        self.pane.window_dragged.connect(self._window_dragged)
        self.pane.step_requested.connect(self.step)
        self.pane.cursor_moved.connect(self._cursor_moved)
        self.pane.view_changed.connect(self.update_annotations)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimum(0)
        self.slider.valueChanged.connect(lambda value: self.display.update(index=value))
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.position_label = QLabel("")
        self.cine = CineController(self)
        self.cine_bar = CineBar(self.cine)
        self.cine.playing_changed.connect(lambda _playing: self.update_annotations())
        bottom = QHBoxLayout()
        bottom.setContentsMargins(6, 2, 6, 2)
        bottom.addWidget(self.cine_bar)
        bottom.addWidget(self.slider, 1)
        bottom.addWidget(self.position_label)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.pane, 1)
        column.addLayout(bottom)
        self.pane.show_message(START_HINT)
        #: Whether a Key Object Selection flags an image (ui/key_images sets it): "★ Key image" in the corner text.
        self.is_key_image: Callable[[ImageRef], bool] = lambda _ref: False
        self.overlay_layer = OverlayLayer(self)  # the image's overlay planes (60xx), View > Overlays (O)

    # ------------------------------------------------------------------ series and images
    @property
    def current(self) -> ImageRef | None:
        """The image the display state points at."""
        return self.images[self.display.state.index] if self.images else None

    def show_series(self, series: Series, start: ImageRef | None = None) -> None:
        """Show `series` at image `start`, or at its first image (the middle one
        for CT/MR/PET stacks), at once; the rest loads in the background."""
        self._prefetch_cancel.cancel()
        self._forget_image_facts()
        self.current_series = series
        self.images = series.images
        self.cine.series_changed()
        self.series_shown.emit(series)
        self._set_slider(maximum=max(0, len(self.images) - 1), value=0)
        self.frame = self.stored_frame = None
        self._forget_automatic_window()
        if not self.images:
            self._stop_loading()
            self.pane.show_message(f"No image of this series can be opened ({series.missing_count} missing).")
            return
        if start is not None and start in self.images:
            index = self.images.index(start)
        else:
            index = len(self.images) // 2 if len(self.images) > 1 and series.modality in STACK_MODALITIES else 0
        self._ref, self._fit_next = None, True
        self.display.reset(DisplayState(index=index, annotations=self.display.state.annotations))

    def refresh_images(self) -> None:
        """More images of the series shown arrived (files, or frames of a file): keep the image shown, update the rest."""
        assert self.current_series is not None
        shown = self.current
        self.images = self.current_series.images
        self._set_slider(maximum=max(0, len(self.images) - 1))
        if shown is None:
            self.show_series(self.current_series)
            return
        index = next((i for i, ref in enumerate(self.images) if ref == shown), 0)
        self.display.update(index=index)  # the same image: not shown again
        self._set_slider(value=index)
        self.position_label.setText(f"{index + 1} / {len(self.images)}")
        self.update_annotations()
        self._prefetch(index)

    def clear(self) -> None:
        """Nothing shown (File > Close all)."""
        self._prefetch_cancel.cancel()
        self.current_series = None
        self.images = []
        self.frame = self.stored_frame = None
        self._ref = None
        self._forget_image_facts()
        self._forget_automatic_window()
        self._stop_loading()
        self.pane.set_annotations(None)
        self.pane.show_message(START_HINT)

    def step(self, delta: int) -> None:
        if self.images:
            self.go_to(self.display.state.index + delta)

    def go_to(self, index: int) -> None:
        if self.images:
            self.display.update(index=max(0, min(len(self.images) - 1, index)))

    def _set_slider(self, maximum: int | None = None, value: int | None = None) -> None:
        self.slider.blockSignals(True)
        if maximum is not None:
            self.slider.setMaximum(maximum)
        if value is not None:
            self.slider.setValue(value)
        self.slider.blockSignals(False)

    def _show_current(self) -> None:
        """Ask for the image the state points at; show it when it arrives."""
        state = self.display.state
        ref = self.current
        if ref is None:
            return
        self._ref = ref
        self._set_slider(value=state.index)
        self.position_label.setText(f"{state.index + 1} / {len(self.images)}")

        def decode_in_background(task, on_ready, on_error) -> None:
            def decoded(frame: FrameDisplay) -> None:
                if ref == self.current:
                    self.status.emit("")
                on_ready(frame)

            self.runner.submit("decode-current", task, decoded, on_error)

        answered = self.source.request(
            ref, lambda frame: self._arrived(ref, frame), lambda error: self._failed(ref, error), decode_in_background
        )
        if not answered:
            self.status.emit(f"Decoding image {state.index + 1}...")
            self._start_loading()

    def _arrived(self, ref: ImageRef, frame: FrameDisplay) -> None:
        if ref != self.current:
            return  # the user moved on meanwhile
        if self._waits_for_automatic_window(frame):
            return  # shown as soon as the series' window is known: no jump in brightness
        self.stored_frame = frame
        self.frame = frame = self.frame_view(ref, frame)
        fit, self._fit_next = self._fit_next, False
        # One repaint for the new image and its corner text, not one each.
        self._stop_loading()
        self.pane.setUpdatesEnabled(False)
        try:
            self.pane.show_frame(frame, self.effective_voi(), self.display.state.invert, fit=fit)
            self.update_annotations()
        finally:
            self.pane.setUpdatesEnabled(True)
        if not self.cine.playing:
            self._prefetch(self.display.state.index)  # while playing, the cine keeps ahead itself
        self.image_shown.emit()
        self.pane.paint_now()  # image, text and lines in one paint (linked viewports: one each, not two)

    def show_again(self) -> None:
        """The image shown, through `frame_view` again (a presentation state chosen or turned off): the same zoom."""
        ref, stored = self.current, self.stored_frame
        if stored is None or ref is None or ref != self._ref:
            return
        frame = self.frame_view(ref, stored)
        if frame is not self.frame:
            self.frame = frame
            self.pane.show_frame(frame, self.effective_voi(), self.display.state.invert)
            self.update_annotations()

    def _failed(self, ref: ImageRef, error: BaseException) -> None:
        if ref != self.current:
            return
        message = str(error) if isinstance(error, ViewerError) else f"cannot decode: {error}"
        self.frame = self.stored_frame = None
        self._stop_loading()
        self.pane.show_message(message)
        self.pane.set_annotations(None)
        self.image_failed.emit(message)

    # ------------------------------------------------------------------ decoding ahead
    def _prefetch(self, index: int) -> None:
        """Decode the rest of the series in the background, nearest first.

        A newer request (another image, another series) cancels this one.
        """
        self._prefetch_cancel.cancel()
        self._prefetch_cancel = CancelToken()
        if self._everything_cached():
            return  # nothing to decode: no task, and no thread taking the interpreter from the GUI's
        self.decode_ahead("prefetch", index, nearest_first, self._prefetch_cancel)

    def decode_ahead(
        self, kind: str, start: int, order: Callable[[int, int], Iterable[int]] | PlayHead, cancel: CancelToken, fill: float | None = 0.8
    ) -> None:
        """Decode the series ahead in the background, in `order` from image `start` (see
        :func:`~viewer.core.display.prefetch.prefetch`), on the executor its pixels call for."""
        source, images = self.source, list(self.images)
        executor: Executor = executor_for(images[start], self._compressed)
        self.runner.submit(kind, lambda: prefetch(source, images, start, order, executor, cancel, fill), lambda _n: None, lambda _e: None)

    def _everything_cached(self) -> bool:
        """Whether every image of the series shown is decoded and in the frame source's cache."""
        images, dropped = self.images, self.source.frames_dropped
        kept = self._all_cached
        if kept is not None and kept[0] is images and kept[1] == dropped:
            return True
        if not self.source.all_cached(images):
            return False
        self._all_cached = (images, dropped)
        return True

    def stop_prefetch(self) -> None:
        """Stop decoding ahead (the cine stops its own)."""
        self._prefetch_cancel.cancel()

    # ------------------------------------------------------------------ the series' automatic window
    def _forget_automatic_window(self) -> None:
        self.automatic_window = None
        self._automatic_for = None
        self._automatic_pending = False
        self._waiting_for_automatic = False

    def _waits_for_automatic_window(self, frame: FrameDisplay) -> bool:
        """Ask for the series' automatic window once; True if `frame` must wait for it.

        It waits when it would be shown with that window (no window in its
        file, not a CT in HU, no window chosen by the user) and the window
        is still being computed (the middle image may need decoding).
        """
        if frame.is_color or self.current_series is None:
            return False
        if self._automatic_for is not self.current_series:
            self._compute_automatic_window()
        if self._automatic_pending and self.display.state.voi is None and frame.uses_automatic_window():
            self._waiting_for_automatic = True
            self.status.emit("Computing the series' automatic window...")
            self._start_loading()
            return True
        return False

    def _compute_automatic_window(self) -> None:
        """The series' automatic window, in the background (the newest series wins)."""
        series, images, source = self.current_series, list(self.images), self.source
        self._automatic_for = series
        self._automatic_pending = True

        def decode(ref: ImageRef) -> FrameDisplay:
            # As for the image shown: compressed frames in a worker process, with a time limit.
            return frame_with_time_limit(source, ref) if is_compressed(ref.instance.header) else source.frame(ref)

        def failed(_error) -> None:
            if series is not self.current_series:
                return
            # The middle image cannot be read (the pane says why when it is shown):
            # the percentiles of the image asked for, decoded already, else each frame's min-max.
            ref, index = self.current, self.display.state.index
            done(percentile_window(source.frame(ref), index + 1) if ref is not None and source.cached(ref) else None)

        def done(window: Window | None) -> None:
            if series is not self.current_series:
                return
            self.automatic_window = window
            self._automatic_pending = False
            waiting, self._waiting_for_automatic = self._waiting_for_automatic, False
            if waiting:
                self.status.emit("")
                self._show_current()
            elif self.frame is not None:
                # Shown meanwhile with the file's window, a preset or soft tissue (or, after a
                # reset while this was computed, its own min-max): now the box offers it too.
                self.pane.set_display(self.effective_voi(), self.display.state.invert)
                self.update_annotations()
                self.automatic_window_found.emit()

        self.runner.submit("series-window", lambda: series_window(source, images, decode), done, failed)

    # ------------------------------------------------------------------ loading
    def _start_loading(self) -> None:
        """An image is being waited for: say so after :data:`LOADING_DELAY_MS` if it has not come by then."""
        self._loading = True
        if not self.loading_timer.isActive():
            self.loading_timer.start()

    def _stop_loading(self) -> None:
        self._loading = False
        self.loading_timer.stop()
        self.pane.hide_loading()

    def _show_loading(self) -> None:
        if self._loading:
            # Another series' image (or none) must not stand in for the one coming: cleared then.
            self.pane.show_loading(clear=self.frame is None)

    # ------------------------------------------------------------------ interpolation
    @property
    def smooth_zoom(self) -> bool:
        """Whether the image is smoothed when zoomed in beyond 1:1 (nearest neighbour at 1:1 and below, always)."""
        return self.pane.smooth_zoom

    def set_smooth_zoom(self, smooth: bool) -> None:
        """Smooth when zoomed in (the default), or square pixels at every zoom (pixel peeping)."""
        self.pane.set_smooth_zoom(smooth)

    # ------------------------------------------------------------------ display state
    def effective_voi(self) -> VOI:
        """The VOI in force: the user's or a preset, else the image's own
        (its file's; with none, the series' automatic window, or soft tissue for CT in HU)."""
        voi, frame, automatic = self.display.state.voi, self.frame, self.automatic_window
        if voi is not None and not (
            isinstance(voi, VOILut) and frame is not None and voi.index >= len(frame.ctx.get("VOILUTSequence") or ())
        ):
            return voi  # (a VOI LUT the frame shown lacks, e.g. a presentation state's as it is turned off: its own VOI)
        if frame is None:
            return FullRange()
        kept = self._default_voi
        if kept is None or kept[0] is not frame or kept[1] is not automatic:
            kept = self._default_voi = (frame, automatic, frame.default_voi(automatic))
        return kept[2]

    def _state_changed(self, state: DisplayState, changed: set[str]) -> None:
        if "index" in changed:
            if self.current != self._ref:  # not when more images of the series arrived around it
                self._show_current()
            return
        if self.frame is not None and changed & {"voi", "invert"}:
            self.pane.set_display(self.effective_voi(), state.invert)
        if changed & {"voi", "invert", "annotations"}:
            self.update_annotations()

    def toggle_invert(self) -> None:
        self.display.update(invert=not self.display.state.invert)

    def toggle_annotations(self) -> None:
        self.display.update(annotations=not self.display.state.annotations)

    def reset(self) -> None:
        """The image's own window, not inverted, fitted."""
        self.display.update(voi=None, invert=False)
        self.pane.fit()

    def set_window(self, center: float, width: float) -> None:
        """A user window in modality units (keeps the file's VOI LUT Function)."""
        current = self.effective_voi()
        base = current if isinstance(current, Window) else Window(center, width)
        self.display.update(voi=base.with_center_width(center, width))

    def _window_dragged(self, dx: float, dy: float) -> None:
        """Left drag: right widens, left narrows; down raises the level, up lowers it."""
        if self.frame is None:
            return
        current = self.effective_voi()
        if not isinstance(current, Window):
            current = self._window_for(current)
        lo, hi = self.frame.modality_range() if not self.frame.is_color else (0.0, 255.0)
        step = max((hi - lo) * DRAG_SENSITIVITY, 0.05)
        self.set_window(current.center + dy * step, max(1.0, current.width + dx * step))

    def _window_for(self, voi: VOI) -> Window:
        """A window to start dragging from when a VOI LUT or full range is shown."""
        assert self.frame is not None
        if self.frame.is_color:
            return Window(128.0, 256.0)
        if isinstance(voi, FullRange):
            lo, hi = full_modality_range(self.frame.ctx)
            return Window((lo + hi) / 2, hi - lo)
        return self.frame.auto_window()

    # ------------------------------------------------------------------ text
    def update_annotations(self) -> None:
        ref = self.current
        if self.frame is None or ref is None:
            return
        state = self.display.state
        if not state.annotations:
            self.pane.set_annotations(None)
            self.pane.set_orientation(None)
            self.pane.set_calibration(None)
            return
        facts = ViewFacts(
            image_number=state.index + 1,
            image_count=len(self.images),
            frame_number=ref.frame + 1,
            frame_count=ref.instance.frames,
            voi=self.effective_voi(),
            invert=state.invert,
            zoom=self.pane.zoom(),
            frame_rate=self.cine.fps if len(self.images) > 1 else None,
            playing=self.cine.playing,
            dropped=self.cine.dropped,
            key_image=self.is_key_image(ref),
        )
        self.pane.set_annotations(corner_text(self._header_text(ref, self.frame), facts))
        markers, calibration = self._image_overlays(ref, self.frame)
        self.pane.set_orientation(markers)
        self.pane.set_calibration(calibration, self.spatial_transform)

    def _forget_image_facts(self) -> None:
        self._header_lines.clear()
        self._overlay_facts.clear()
        self._compressed.clear()

    def _header_text(self, ref: ImageRef, frame: FrameDisplay) -> HeaderText:
        """The corner text the header of `ref` gives (kept while its series is shown, and the character-set choices stay)."""
        overrides = self.overrides
        choices = tuple(tuple(sorted(getattr(overrides, scope).items())) for scope in overrides.SCOPES)
        kept = self._header_lines.get(ref)
        if kept is None or kept[0] != choices:
            kept = self._header_lines[ref] = (choices, header_lines(ref.instance.header, frame.ctx, overrides))
        return kept[1]

    def _image_overlays(self, ref: ImageRef, frame: FrameDisplay) -> tuple[OrientationMarkers | None, Calibration]:
        """The orientation markers and the scale bar's calibration of the image shown (kept while its series is shown)."""
        key = (ref, self.spatial_transform)
        kept = self._overlay_facts.get(key)
        if kept is None:
            ctx = frame.ctx
            if not overlay_context_is_complete(ctx):
                # The catalog keeps no Patient Orientation, Imager Pixel Spacing or ultrasound regions:
                # the file's whole header (kept by the source) has them.
                try:
                    ctx = frame_context(self.source.header(ref.instance.path), ref.frame)
                except ViewerError:
                    pass  # the header cannot be read again: what the catalog kept
            kept = self._overlay_facts[key] = (orientation_markers(ctx, self.spatial_transform), pixel_spacing_basis(ctx))
        return kept

    def pipeline_stages(self) -> list[tuple[str, str]]:
        """What each stage of the display pipeline does to the image shown (none when nothing is)."""
        if self.frame is None:
            return []
        return pipeline_stages(self.frame, self.effective_voi(), self.display.state.invert, self.overrides)

    def _cursor_moved(self, row: int, col: int) -> None:
        self.readout.emit("" if self.frame is None or row < 0 else readout_text(self.frame, row, col))


def readout_text(frame: FrameDisplay, row: int, col: int) -> str:
    """'x 120 y 88: stored 1064, 40 HU' for the pixel at (row, col)."""
    stored, modality = frame.value_at(row, col)
    text = f"x {col} y {row}: "
    if isinstance(stored, tuple):
        return text + "RGB " + ", ".join(str(v) for v in stored)
    if modality is None:
        return text + f"index {stored}"
    unit = modality_unit(frame.ctx)
    text += f"stored {stored}"
    if frame.ctx.get("ModalityLUTSequence") or "RescaleSlope" in frame.ctx or "RescaleIntercept" in frame.ctx:
        text += f", {modality:.6g}" + (f" {unit}" if unit else "")
    return text
