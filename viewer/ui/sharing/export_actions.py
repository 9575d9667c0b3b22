"""File > Export and the right-click menus: pictures, PNG series, MP4 clips, DICOM copies and the clipboard.

:func:`install` adds a **File > Export** submenu, offers the series exports
in the browser's right-click menu (acting on :func:`viewer.ui.browsing.selection.chosen_series`)
and gives every viewport a right-click menu (a right click that is not a
zoom drag) with the same actions for what it shows.

What is written comes from :mod:`viewer.core.export`, the ``export``
command's code:

* **Image** (PNG or JPEG, by the name's extension): the image shown, at 1:1
  (one file pixel per picture pixel), through the viewport's window and
  inversion: the pixels the pane shows at 1:1, without anything drawn over them;
  with a presentation state applied, the image as the state presents it (its
  LUTs, shutters, displayed area, turn and flip, as ``export --pstate``)
  through the viewport's window, its graphics and text left out.
* **All viewports as seen**: the layout's panes as on the screen, side by side (the images of every
  viewport, each with its annotations; the sliders and cine bars left out).
* **Image with annotations**: the viewport as it is on the screen, grabbed
  (``QWidget.grab``): the image at its zoom and pan with everything the
  viewer draws over it (corner text, orientation markers, scale bar,
  overlays, measurements, presentation-state graphics and shutters), each
  exactly where and how the viewer draws it. Rendering the scene again at
  the image's size would have to redo the corner text, which lives in
  widgets above the scene, and would show a presentation state's displayed
  area or a zoom differently from the screen; the grab is what the user
  sees, at the size they chose (View > 1:1 pixels gives one image pixel per
  picture pixel).
* **Series as PNG pictures**: IMG0001.png... in the viewer's order with the
  viewport's window when it shows that series (else the series' own), in a
  folder the user chooses (one subfolder per series when several are chosen).
* **Cine or series as MP4**: H.264 at the recorded frame rate (asked, with
  the recorded or the cine's rate proposed).
* **DICOM copy**: the chosen files, byte for byte, into a folder.
* **Copy image** (Ctrl+C) and **Copy image with annotations** (Ctrl+Shift+C)
  to the clipboard: the same pictures as the two image exports.

Series, clips and copies run on a worker thread with a progress dialog that
does not block the window and a Cancel button (:mod:`viewer.ui.sharing.export_jobs`);
a cancelled export removes what it wrote. The pictures are taken by
:mod:`viewer.ui.sharing.export_pictures`. Errors are one line, in a message box and
the status bar.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog, QMenu, QMessageBox

from viewer.core.dicom.io import ViewerError
from viewer.core.export import DEFAULT_SERIES_RATE
from viewer.core.export.dicom_copy import copy_dicom
from viewer.core.export.render import ExportOptions, Renderer
from viewer.core.export.sequence import export_pictures, safe_file_name
from viewer.core.export.still import write_picture
from viewer.core.export.video import export_mp4, series_frame_rate
from viewer.core.media.model import Series, text
from viewer.core.runtime.tasks import CancelToken
from viewer.core.runtime.wording import count
from viewer.ui.browsing.selection import chosen_instances, chosen_series
from viewer.ui.sharing.export_jobs import ExportJob, all_or_nothing
from viewer.ui.sharing.export_pictures import image_pixels, layout_pixels, to_qimage, view_pixels
from viewer.ui.window.window_menus import add_to_file_menu

if TYPE_CHECKING:
    from viewer.ui.viewport.viewport import Viewport
    from viewer.ui.window.main_window import MainWindow

COPY_KEY, COPY_ANNOTATED_KEY = "Ctrl+C", "Ctrl+Shift+C"
PICTURE_FILTERS = "PNG picture (*.png);;JPEG picture (*.jpg *.jpeg)"


def series_file_name(series: Series, with_patient: bool = False) -> str:
    """'CT_2_Head' for a series (its label without the count), led by the Patient ID when asked."""
    label = series.label().split(" (")[0]
    if with_patient:
        label = f"{text(series.header, 'PatientID')} {label}"
    return safe_file_name(label) or "series"


class ExportController(QObject):
    """The export actions of one window (see the module's docstring)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.jobs: list[ExportJob] = []
        self.last_error: str | None = None
        self.last_menu: QMenu | None = None
        self.viewport_actions: list[QAction | None] = []  # the viewports' right-click menu (None: a separator)
        self.copy_action: QAction | None = None
        self.ended: list[ExportJob] = []
        window.installEventFilter(self)  # closing the window cancels running exports

    def eventFilter(self, watched, event):
        if watched is self.window and event.type() == QEvent.Type.Close:
            for job in list(self.jobs):
                job.cancel.cancel()
        return False

    def say(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)

    def fail(self, text: str) -> None:
        """One line in the status bar and in a message box that does not block (open, not exec)."""
        self.last_error = text
        self.window.statusBar().showMessage(text, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "Export", text, QMessageBox.StandardButton.Ok, self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def focus_changed(self, _old, new) -> None:
        """Ctrl+C is the widget's own where it has a Copy of its own (the tag inspector's tree), the image's elsewhere.

        Two actions bound to one key in force at once make it ambiguous in Qt
        (neither runs): the image's Copy lets go of Ctrl+C while such a widget has the focus.
        """
        if self.copy_action is None:
            return
        own = False
        widget = new
        while widget is not None and widget is not self.window and not own:
            own = any(a is not self.copy_action and COPY_KEY in [k.toString() for k in a.shortcuts()] for a in widget.actions())
            widget = widget.parentWidget()
        wanted = [] if own else [QKeySequence(COPY_KEY)]
        if self.copy_action.shortcuts() != wanted:
            self.copy_action.setShortcuts(wanted)

    def job_ended(self, job: ExportJob) -> None:
        self.ended.append(job)

    def _start(self, title: str, work) -> ExportJob:
        job = ExportJob(self, title, work)
        self.jobs.append(job)
        return job

    # ------------------------------------------------------------------ one image
    def _picture(self, annotated: bool | str) -> np.ndarray:
        viewport = self.window.viewport
        if annotated == "layout":
            return layout_pixels(self.window)
        return view_pixels(viewport) if annotated else image_pixels(self.window, viewport)

    def export_image(self, annotated: bool | str = False, path: str | None = None, overwrite: bool = False) -> Path | None:
        """The image shown (with what is drawn over it when `annotated`; every viewport as seen when it is
        "layout") as PNG or JPEG at `path` (asked when None)."""
        try:
            pixels = self._picture(annotated)  # before the dialog: what is shown now
        except ViewerError as exc:
            self.fail(f"Export image: {exc}")
            return None
        if path is None:
            path, chosen = QFileDialog.getSaveFileName(self.window, "Export image", self._suggested_name(), PICTURE_FILTERS)
            if not path:
                return None
            if not Path(path).suffix:
                path += ".jpg" if chosen.startswith("JPEG") else ".png"
            overwrite = True  # the dialog asked before replacing a file
        try:
            written = write_picture(path, pixels, overwrite=overwrite)
        except ViewerError as exc:
            self.fail(f"Export image: {exc}")
            return None
        self.say(f"Image written to {written}")
        return written

    def copy_image(self, annotated: bool = False) -> bool:
        """The image shown (with what is drawn over it when `annotated`) to the clipboard."""
        try:
            pixels = self._picture(annotated)
        except ViewerError as exc:
            self.fail(f"Copy image: {exc}")
            return False
        QGuiApplication.clipboard().setImage(to_qimage(pixels))
        self.say("Image copied" + (" with its annotations" if annotated else ""))
        return True

    def _suggested_name(self) -> str:
        series = self.window.current_series
        name = series_file_name(series) if series is not None else "image"
        return f"{name}-{self.window.viewport.display.state.index + 1}.png"

    # ------------------------------------------------------------------ series
    def _series(self) -> list[Series]:
        return [series for series in chosen_series(self.window) if series.shows_images and series.images]

    def _options_for(self, series: Series) -> ExportOptions:
        """Plain images (as File > Export > Image): the active viewport's window and inversion for the series
        it shows, the series' own otherwise."""
        viewport = self.window.viewport
        if viewport.current_series is series and viewport.frame is not None:
            return ExportOptions(voi=viewport.effective_voi(), invert=viewport.display.state.invert, overlays=False)
        return ExportOptions(overlays=False)

    def _targets(self, chosen: list[Series], base: Path, suffix: str = "") -> list[Path]:
        """Where each series goes: `base` itself for one; for several, one name per series inside it."""
        if len(chosen) == 1:
            return [base]
        return [base / f"{name}{suffix}" for name in self._unique(chosen)]

    @staticmethod
    def _unique(chosen: list[Series]) -> list[str]:
        """A file name per series ('ID1_CT_2_Head'), each once (case aside: FAT and NTFS)."""
        names: list[str] = []
        for series in chosen:
            name = series_file_name(series, with_patient=True)
            number, unique = 1, name
            while unique.lower() in (n.lower() for n in names):
                number += 1
                unique = f"{name}-{number}"
            names.append(unique)
        return names

    def export_series_pictures(self, folder: str | None = None) -> ExportJob | None:
        """The chosen series as IMG0001.png... in `folder` (asked when None; a subfolder per series when several)."""
        chosen = self._series()
        if not chosen:
            self.fail("Export series: no series of images is chosen")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.window, "Export the series as PNG pictures into")
            if not folder:
                return None
        base = Path(folder)
        if len(chosen) == 1 and base.exists() and any(base.iterdir()):
            base = base / series_file_name(chosen[0])  # not among the user's files
        jobs = [(series, target, self._options_for(series)) for series, target in zip(chosen, self._targets(chosen, base))]
        source = self.window.frame_source

        several = len(chosen) > 1

        def work(cancel: CancelToken, progress) -> str:
            total = sum(len(series.images) for series, _, _ in jobs)
            done, written = 0, []
            with all_or_nothing(base if several else None) as kept:
                for series, target, options in jobs:
                    images = series.images
                    renderer = Renderer(source)
                    rate = series_frame_rate(renderer, images)[0]
                    step, existed = done, target.exists()
                    result = export_pictures(
                        renderer,
                        images,
                        target,
                        options,
                        cancel=cancel,
                        progress=lambda n, _t, s=step: progress(s + n, total),
                        frame_rate=rate,
                    )
                    kept.append((result.files, None if existed else target))
                    done += len(images)
                    written += result.files
            return f"{count(len(written), 'picture')} written to {base}"

        return self._start("Exporting the series as PNG pictures", work)

    def recorded_rate(self, series: Series) -> tuple[float, str]:
        """The rate a clip of `series` plays at: recorded, else the active cine's for the series shown, else the default."""
        viewport = self.window.viewport
        rate, said = series_frame_rate(Renderer(self.window.frame_source), series.images, DEFAULT_SERIES_RATE)
        if said == "default" and viewport.current_series is series:
            return viewport.cine.fps, "the cine's rate"
        return rate, said

    def export_mp4(self, path: str | None = None, fps: float | None = None) -> ExportJob | None:
        """The chosen cine or series as H.264 MP4 at its recorded rate (or `fps`); asks for the file and the rate when None."""
        chosen = self._series()
        if not chosen:
            self.fail("Export MP4: no series of images is chosen")
            return None
        rate, said = self.recorded_rate(chosen[0])
        if fps is None:
            where = "no rate recorded" if said == "default" else said if said == "the cine's rate" else f"recorded: {said}"
            label = f"Frames per second ({where}):"
            fps, accepted = QInputDialog.getDouble(self.window, "MP4 frame rate", label, rate, 0.1, 1000.0, 3)
            if not accepted:
                return None
        if path is None:
            if len(chosen) == 1:
                name = series_file_name(chosen[0])
                path, _ = QFileDialog.getSaveFileName(self.window, "Export as MP4 video", f"{name}.mp4", "MP4 video (*.mp4)")
                if path and not path.lower().endswith(".mp4"):
                    path += ".mp4"
                overwrite = True  # the dialog asked
            else:
                path = QFileDialog.getExistingDirectory(self.window, "Export each series as an MP4 video into")
                overwrite = False
            if not path:
                return None
        else:
            overwrite = False
        targets = self._targets(chosen, Path(path), ".mp4")
        jobs = [(series, target, self._options_for(series)) for series, target in zip(chosen, targets)]
        source = self.window.frame_source
        several = len(chosen) > 1

        def work(cancel: CancelToken, progress) -> str:
            total = sum(len(series.images) for series, _, _ in jobs)
            done, notes = 0, []
            with all_or_nothing(Path(path) if several else None) as kept:
                for series, target, options in jobs:
                    renderer = Renderer(source)
                    # Several series: each at its own recorded rate; those with none at the rate chosen.
                    own = series_frame_rate(renderer, series.images, float(fps))[0] if several else float(fps)
                    step = done
                    clip = export_mp4(
                        renderer, series.images, target, options, own, overwrite, cancel, lambda n, _t, s=step: progress(s + n, total)
                    )
                    kept.append(([clip.path], None))
                    done += clip.frames
                    notes += clip.notes
            first = targets[0] if not several else Path(path)
            return f"{count(done, 'frame')} written to {first}" + (f" ({notes[0]})" if notes else "")

        return self._start("Exporting as MP4 video", work)

    def copy_dicom(self, folder: str | None = None, naming: str = "kept") -> ExportJob | None:
        """The chosen series' files copied as they are into `folder` (asked when None)."""
        files = [instance.path for instance in chosen_instances(self.window)]
        if not files:
            self.fail("DICOM copy: no files are chosen")
            return None
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.window, f"Copy {count(len(files), 'DICOM file')} into")
            if not folder:
                return None

        def work(cancel: CancelToken, progress) -> str:
            copied = copy_dicom(files, folder, naming, cancel, progress)
            return f"{count(len(copied), 'file')} copied to {folder}"

        return self._start(f"Copying {count(len(files), 'DICOM file')}", work)

    # ------------------------------------------------------------------ the viewport's right-click menu
    def viewport_menu(self, viewport: Viewport) -> QMenu:
        """The right-click menu of `viewport` (made the active one first: the actions act on the active viewport)."""
        self.window.viewports.set_active(viewport)
        menu = QMenu(viewport)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for action in self.viewport_actions:
            menu.addSeparator() if action is None else menu.addAction(action)
        self.last_menu = menu
        return menu


def install(window: MainWindow) -> ExportController:
    """File > Export, the browser's right-click menu, and a right-click menu on every viewport (new ones too)."""
    controller = ExportController(window)
    window.export_controller = controller
    act = window._action
    image = act("&Image as PNG or JPEG...", lambda: controller.export_image(False))
    annotated = act("Image &with annotations as PNG or JPEG...", lambda: controller.export_image(True))
    everything = act("All &viewports as seen as PNG or JPEG...", lambda: controller.export_image("layout"))
    pictures = act("&Series as PNG pictures...", lambda: controller.export_series_pictures())
    video = act("&Cine or series as MP4 video...", lambda: controller.export_mp4())
    dicom = act("&DICOM copy of the selection...", lambda: controller.copy_dicom())
    clip = act("C&opy image", lambda: controller.copy_image(False), COPY_KEY)
    clip_annotated = act("Copy image with &annotations", lambda: controller.copy_image(True), COPY_ANNOTATED_KEY)
    controller.copy_action = clip
    QApplication.instance().focusChanged.connect(controller.focus_changed)  # disconnected with the controller
    menu = QMenu("E&xport", window)
    menu.addActions([image, annotated, everything])
    menu.addSeparator()
    menu.addActions([pictures, video, dicom])
    menu.addSeparator()
    menu.addActions([clip, clip_annotated])
    add_to_file_menu(window, menu)
    window.export_menu = menu
    for action in (pictures, video, dicom):
        window.browser.add_selection_action(action)
    controller.viewport_actions = [image, annotated, clip, clip_annotated, None, pictures, video, dicom]

    def watch(viewport: Viewport) -> None:
        def show(position: QPoint) -> None:
            if viewport.frame is not None:
                controller.viewport_menu(viewport).popup(position)

        viewport.pane.context_menu_requested.connect(show)

    for viewport in window.viewports:
        watch(viewport)
    window.viewports.viewport_added.connect(watch)
    return controller
