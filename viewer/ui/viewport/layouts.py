"""Layouts in the window: the chooser, hanging a study in the viewports, layouts per modality, compare with prior.

:func:`install` adds to a built window (its
:class:`~viewer.ui.viewport.viewport_layout.ViewportLayout`):

* the layout chooser on the toolbar and View > Layout (the named layouts,
  a custom rows x columns up to 4x4, maximise, next viewport);
* hanging: when an open ends, the study of the series shown first fills the
  viewports in order (:func:`~viewer.core.display.hanging.hang_keeping_first`),
  in the layout last used for its modality;
* the layout and the series hung per modality kept in the settings whenever
  the user chooses a layout or drops a series;
* the docks, the Window box and the View actions following the active viewport;
* View > Compare with prior: the latest prior study of the same patient and
  modality beside the current one, in 1x2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMenu

from viewer.core.dicom.io import ViewerError
from viewer.core.display.hanging import (
    GridShape,
    HangingProtocol,
    SeriesFacts,
    StudyFacts,
    hang_keeping_first,
    latest_prior,
    parse_grid_shape,
    prior_series_index,
)
from viewer.core.media.model import ImageRef, Series, Study, text
from viewer.ui.viewport.layout_chooser import LayoutChooser, check_shape, shape_actions
from viewer.ui.viewport.viewport import Viewport

if TYPE_CHECKING:
    from viewer.ui.window.main_window import MainWindow

#: How long a status message of this module stays (ms).
STATUS_MS = 10000


def install(window: MainWindow) -> Layouts:
    """Layouts for `window` (its contents built); kept as ``window.layouts``."""
    window.layouts = Layouts(window)
    return window.layouts


def series_facts(series: Series) -> SeriesFacts:
    return SeriesFacts(series.uid, series.number, series.description)


def study_facts(study: Study) -> StudyFacts:
    header = study.header
    return StudyFacts(
        study.uid,
        text(header, "PatientID"),
        text(header, "IssuerOfPatientID"),
        text(header, "StudyDate"),
        text(header, "StudyTime"),
        frozenset(s.modality for s in study.series.values()),
    )


def shown_date(date: str) -> str:
    """'2024-06-10' for a DA of '20240610' (as it is otherwise)."""
    digits = date.replace(".", "")
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}" if len(digits) == 8 and digits.isdigit() else date


class Layouts(QObject):
    """The window's layout controls (see the module's docstring)."""

    def __init__(self, window: MainWindow):
        super().__init__(window)
        self.window = window
        self.grid = grid = window.viewports
        grid.find_series = lambda uid: window.opener.catalog.series.get(uid)
        grid.active_changed.connect(self._active_changed)
        grid.shape_changed.connect(self._shape_changed)
        grid.series_dropped.connect(lambda _viewport, _series: self.remember())
        window.opening.hang_study = self.hang_study

        self.chooser = LayoutChooser(window)
        self.chooser.chosen.connect(self.choose)
        self.compare_action = self._action("Compare with &prior", self.compare_with_prior, "Ctrl+Shift+P")
        self.compare_action.setToolTip("The latest prior study of this patient, same modality, beside this one (1x2)")
        self.maximise_action = self._action("&Maximise viewport", lambda: grid.toggle_maximised(), "Ctrl+Return", checkable=True)
        self.next_action = self._action("&Next viewport", lambda: self.activate_next(1), "Ctrl+Tab")
        self.previous_action = self._action("P&revious viewport", lambda: self.activate_next(-1), "Ctrl+Shift+Tab")
        self.custom_action = self._action("&Custom rows x columns...", self.choose_custom)
        grid.maximised_changed.connect(lambda viewport: self.maximise_action.setChecked(viewport is not None))
        self.chooser.add_actions([self.compare_action])

        window.image_toolbar.add_layout_chooser(self.chooser)
        self.menu = QMenu("&Layout", window)
        self.shape_actions = shape_actions(self.menu, self.choose)
        self.menu.addActions(self.shape_actions)
        self.menu.addAction(self.custom_action)
        self.menu.addSeparator()
        self.menu.addActions([self.maximise_action, self.next_action, self.previous_action])
        view_menu = next((a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "View" and a.menu()), None)
        if view_menu is not None:
            view_menu.addSeparator()
            view_menu.addMenu(self.menu)
            view_menu.addAction(self.compare_action)

    def _action(self, label: str, slot, shortcut: str | None = None, checkable: bool = False) -> QAction:
        action = QAction(label, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setCheckable(checkable)
        action.triggered.connect(lambda _checked=False: slot())
        self.window.addAction(action)
        return action

    # ------------------------------------------------------------------ the user's choices
    def choose(self, shape: GridShape) -> None:
        """The user chose `shape`: the grid takes it, and it is kept for the modality shown."""
        self.grid.set_shape(shape)
        self.remember()

    def choose_custom(self) -> None:
        """Ask for rows x columns (up to 4x4)."""
        answer, ok = QInputDialog.getText(self.window, "Layout", "Rows x columns (up to 4x4):", text=str(self.grid.shape))
        if not ok:
            return
        try:
            shape = parse_grid_shape(answer)
        except ViewerError as error:
            self.window.statusBar().showMessage(str(error), STATUS_MS)
            return
        self.choose(shape)

    def activate_next(self, step: int) -> None:
        viewports = self.grid.viewports
        self.grid.set_active(viewports[(viewports.index(self.grid.active) + step) % len(viewports)])

    def remember(self) -> None:
        """Keep the shape and the series hung, for the modality of the active viewport's series (else the first shown)."""
        shown = [viewport.current_series for viewport in self.grid]
        series = self.grid.active.current_series or next((s for s in shown if s is not None), None)
        if series is None or not series.modality:
            return
        descriptions = tuple(s.description if s is not None else "" for s in shown)
        settings = self.window.settings
        settings.hanging = {**settings.hanging, series.modality: HangingProtocol(self.grid.shape, descriptions)}
        self.window.settings_store.save_hanging(settings.hanging)

    # ------------------------------------------------------------------ the grid changed
    def _shape_changed(self, shape: GridShape) -> None:
        self.chooser.show_shape(shape)
        check_shape(self.shape_actions, shape)

    def _active_changed(self, viewport: Viewport) -> None:
        """The docks, the Window box and the View actions show the newly active viewport."""
        window = self.window
        state = viewport.display.state
        window.invert_action.setChecked(state.invert)
        window.annotations_action.setChecked(state.annotations)
        window.window_presets.refresh()
        if viewport.frame is not None:
            window.window_presets.sync()
        window.pipeline_dock.refresh()
        window.inspector_dock.schedule()
        window.readout.setText("")
        if viewport.current_series is not None:
            window.browser.select_series(viewport.current_series)

    # ------------------------------------------------------------------ hanging
    def hang_study(self, first: Series, wanted: ImageRef | None) -> None:
        """An open ended with `first` shown (at image `wanted` if the user named a file): its study fills the
        viewports in order, in the layout last used for its modality."""
        catalog = self.window.opener.catalog
        study = catalog.study_of(first)
        if study is None:
            return
        series = [s for s in study.series.values() if s.image_count]
        if first not in series:
            return
        protocol = self.window.settings.hanging.get(first.modality)
        shape = protocol.shape if protocol is not None else self.grid.shape
        preferred = tuple(protocol.descriptions) if protocol is not None else ()
        if wanted is not None:  # the file the user named stays top left
            preferred = ("",) + preferred[1:]
        cells = hang_keeping_first([series_facts(s) for s in series], shape.cells, series.index(first), preferred)
        self.grid.set_shape(shape)
        top_left = self.grid.viewports[0]
        hung = [None if i is None else series[i] for i in cells]
        if hung[0] is first and top_left.current_series is not first:
            top_left.show_series(first, wanted)
        self.grid.hang(hung)
        self.grid.set_active(top_left)
        if top_left.current_series is not None:
            self.window.browser.select_series(top_left.current_series)

    # ------------------------------------------------------------------ priors
    def compare_with_prior(self) -> bool:
        """The latest prior study of the active viewport's patient and modality beside it, in 1x2; False (and a
        status message saying why) when there is none among the studies opened."""
        status = self.window.statusBar()
        current = self.grid.active.current_series
        if current is None:
            status.showMessage("Compare with prior: show a series first.", STATUS_MS)
            return False
        catalog = self.window.opener.catalog
        study = catalog.study_of(current)
        modality = current.modality
        if study is None:
            return False
        facts = study_facts(study)
        prior_facts = latest_prior(facts, (study_facts(s) for s in catalog.studies.values()), modality)
        if prior_facts is None:
            why = "no Patient ID" if not facts.patient_id else "no study date" if not facts.date else ""
            status.showMessage(
                f"No prior {modality or 'study'} of this patient is open"
                + (f" (this study has {why})." if why else " (same Patient ID and issuer, an earlier study date): open it first."),
                STATUS_MS,
            )
            return False
        prior = catalog.studies[prior_facts.uid]
        candidates = [s for s in prior.series.values() if s.modality == modality and s.image_count]
        index = prior_series_index(series_facts(current), [series_facts(s) for s in candidates])
        if index is None:
            status.showMessage(f"The prior {modality} study has no image to show.", STATUS_MS)
            return False
        self.grid.set_shape(GridShape(1, 2))
        left, right = self.grid.viewports
        if left.current_series is not current:
            left.show_series(current)
        right.show_series(candidates[index])
        self.grid.set_active(left)
        description = text(prior.header, "StudyDescription")
        status.showMessage(
            f"Compared with the prior {modality} study of {shown_date(prior_facts.date)}" + (f" ({description})" if description else ""),
            STATUS_MS,
        )
        return True
