"""The reading-room window (#14) as a user meets it: dark, the image wide, the series strip, the tools, the keys.

Files are pydicom's CT_small rewritten as several patients and series
(tests.ui.test_browser.make_study) or as one patient's current and prior
studies; expected orders and counts come from what the test wrote.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtWidgets import QApplication

from tests.ui.test_browser import make_study
from viewer.ui.browsing.series_strip import FILTER_ROLE, SERIES_MIME, SERIES_ROLE, series_uids
from viewer.ui.window import theme

CT = get_testdata_file("CT_small.dcm", download=False)


@pytest.fixture
def reading_window(qtbot):
    """A window at the issue's size, 1600x1000, with the default docks (no saved layout)."""
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


@pytest.fixture
def restore_theme():
    """The application's look as it was before the test (other tests run with Qt's own)."""
    app = QApplication.instance()
    style, palette = app.style().name(), app.palette()
    yield
    from viewer.ui.window.settings_store import THEME, settings

    settings().remove(THEME)
    app.setStyle(style)
    app.setPalette(palette)
    app.setProperty("viewer_theme", None)


def opened(window, qtbot, paths):
    with qtbot.waitSignal(window.series_opened, timeout=30000):
        window.open_paths(paths)
    return window


# ----------------------------------------------------------------------------- 1. the dark theme
def test_dark_by_default_light_in_settings_and_kept(reading_window, qtbot, restore_theme):
    from viewer.ui.window.dialogs import SettingsDialog
    from viewer.ui.window.settings_store import SettingsStore

    app = QApplication.instance()
    assert SettingsStore().theme() == theme.DARK == reading_window.settings.theme  # nothing saved: dark
    theme.apply(SettingsStore().theme())  # as the app does before its first paint
    assert app.palette().window().color().lightness() < 60 and app.palette().windowText().color().lightness() > 180
    dialog = SettingsDialog(reading_window)
    qtbot.addWidget(dialog)
    assert dialog.theme.currentData() == theme.DARK
    dialog.theme.setCurrentIndex(dialog.theme.findData(theme.LIGHT))
    dialog.apply()
    assert app.palette().window().color().lightness() > 180 and theme.current() == theme.LIGHT
    assert SettingsStore().theme() == theme.LIGHT  # kept for the next start
    assert SettingsStore().load().theme == theme.LIGHT


# ----------------------------------------------------------------------------- 2. the image area
def test_the_image_gets_at_least_70_percent_of_the_width_at_1600x1000(reading_window, qtbot):
    window = reading_window
    window.build_contents()
    qtbot.waitUntil(lambda: window.centralWidget().width() > 0)
    assert window.width() == 1600
    assert window.centralWidget().width() >= 0.70 * window.width()
    assert window.viewport.width() >= 0.70 * window.width()  # the viewport fills the middle
    # With a series open (the strip's thumbnails and labels in the dock) it stays so.
    opened(window, qtbot, [CT])
    assert window.viewport.pane.width() >= 0.70 * window.width()


# ----------------------------------------------------------------------------- 4. docks on demand
def test_pipeline_and_tags_open_on_demand(reading_window, qtbot):
    window = reading_window
    assert window.browser_dock.isVisible()
    assert not window.pipeline_dock.isVisible() and not window.inspector_dock.isVisible()
    for dock in (window.pipeline_dock, window.inspector_dock):
        action = dock.toggleViewAction()
        assert not action.shortcut().isEmpty() and action in window.actions()  # a key, menu closed or open
        action.trigger()
        assert dock.isVisible()
        action.trigger()
        assert not dock.isVisible()


# ----------------------------------------------------------------------------- 3, 6, 7. the series strip
def test_the_strip_is_the_default_one_row_per_series_with_thumbnails(reading_window, qtbot, tmp_path):
    counts = make_study(tmp_path, patients=2, series_per_patient=2, slices=3)
    window = opened(reading_window, qtbot, [tmp_path])
    browser, strip = window.browser, window.browser.strip
    assert not browser.tree_shown and strip.isVisible() and not browser.tree.isVisible()
    assert set(strip.series_items()) == set(counts)
    for uid, item in strip.series_items().items():
        series = item.data(SERIES_ROLE)
        lines = item.text().splitlines()
        assert lines == [f"CT #{series.number}", f"series {series.number}", f"{counts[uid]} images"]
    headings = [strip.item(row).text() for row in range(strip.count()) if strip.item(row).data(SERIES_ROLE) is None]
    assert [h for h in headings if h.startswith("Patient")] == ["Patient, 0  (ID0)", "Patient, 1  (ID1)"]
    qtbot.waitUntil(lambda: all(not item.icon().isNull() for item in strip.series_items().values()), timeout=30000)
    # The filter box filters the strip too; a patient's heading goes with their series.
    browser.filter_edit.setText("Patient, 1")
    shown = [uid for uid, item in strip.series_items().items() if not item.isHidden()]
    assert len(shown) == 2 and all(strip.series_items()[uid].data(FILTER_ROLE).startswith("patient, 1") for uid in shown)
    assert [
        strip.item(r).text() for r in range(strip.count()) if not strip.item(r).isHidden() and strip.item(r).text().startswith("Patient")
    ] == ["Patient, 1  (ID1)"]
    browser.filter_edit.clear()
    assert all(not item.isHidden() for item in strip.series_items().values())


def test_a_single_click_shows_the_series_and_a_drag_carries_its_uid(reading_window, qtbot, tmp_path):
    counts = make_study(tmp_path, patients=1, series_per_patient=3, slices=2)
    window = opened(reading_window, qtbot, [tmp_path])
    strip = window.browser.strip
    shown_first = window.current_series.uid
    uid = next(u for u in counts if u != shown_first)
    item = strip.series_items()[uid]
    strip.scrollToItem(item)
    rect = strip.visualItemRect(item)
    with qtbot.waitSignal(window.image_shown, timeout=30000):
        qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_series.uid == uid and strip.currentItem() is item
    # The drag source: the strip's and the tree's data say which series, as SERIES_MIME.
    data = strip.mimeData([item])
    assert data.formats() == [SERIES_MIME] and bytes(data.data(SERIES_MIME)).decode() == uid
    assert series_uids(data) == [uid]
    row = window.browser.series_items()[uid]
    tree_data = window.browser.proxy.mimeData([window.browser.proxy.mapFromSource(row[0].index())])
    assert series_uids(tree_data) == [uid]
    # A single click in the tree shows a series too.
    window.browser.show_tree(True)
    other = next(u for u in counts if u not in (uid, shown_first))
    index = window.browser.proxy.mapFromSource(window.browser.series_items()[other][0].index())
    window.browser.tree.scrollTo(index)
    with qtbot.waitSignal(window.image_shown, timeout=30000):
        qtbot.mouseClick(window.browser.tree.viewport(), Qt.MouseButton.LeftButton, pos=window.browser.tree.visualRect(index).center())
    assert window.current_series.uid == other


def test_the_strip_widens_into_the_tree_and_the_choice_is_kept(reading_window, qtbot, tmp_path):
    from viewer.ui.window.main_window import MainWindow

    make_study(tmp_path, patients=1, series_per_patient=1, slices=1)
    window = opened(reading_window, qtbot, [tmp_path])
    narrow = window.browser_dock.width()
    window.study_tree_action.trigger()  # View > Show the full study tree
    assert window.browser.tree_shown and window.browser.tree.isVisible() and window.browser.tree_button.isChecked()
    qtbot.waitUntil(lambda: window.browser_dock.width() > narrow)
    again = MainWindow()
    qtbot.addWidget(again)
    assert again.browser.tree_shown and again.study_tree_action.isChecked()  # remembered
    again.close()
    window.browser.tree_button.click()  # and back, with the button beside the filter
    assert not window.browser.tree_shown and not window.study_tree_action.isChecked()
    qtbot.waitUntil(lambda: window.browser_dock.width() <= narrow + 5)


def test_priors_are_listed_under_the_patient_newest_first(reading_window, qtbot, tmp_path):
    src = pydicom.dcmread(CT)
    for folder, date, description in (("old", "20190720", "Prior"), ("new", "20240312", "Current")):
        ds = src.copy()
        ds.PatientID, ds.IssuerOfPatientID, ds.StudyDate, ds.StudyDescription = "12345", "HOSP_A", date, description
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
        (tmp_path / folder).mkdir()
        ds.save_as(tmp_path / folder / "im.dcm")
    window = opened(reading_window, qtbot, [tmp_path / "old", tmp_path / "new"])
    strip = window.browser.strip
    headings = [strip.item(row).text() for row in range(strip.count()) if strip.item(row).data(SERIES_ROLE) is None]
    assert len(headings) == 3 and headings[1:] == ["2024-03-12 Current", "2019-07-20 Prior"]
    assert window.browser.model.rowCount() == 1  # one patient in the tree too


# ----------------------------------------------------------------------------- 5. the toolbar's mouse tools
def _drag(widget, start: QPoint, end: QPoint, steps: int = 8) -> None:
    """A real left drag: press, moves with the button held, release."""
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier

    def send(kind, pos, buttons):
        event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), left, buttons, none)
        QApplication.sendEvent(widget, event)

    send(QMouseEvent.Type.MouseButtonPress, start, left)
    for i in range(1, steps + 1):
        send(QMouseEvent.Type.MouseMove, start + (end - start) * i / steps, left)
    send(QMouseEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


@pytest.fixture
def every_mouse_move():
    """pyqtgraph drops mouse moves closer together than its rate limit: the test's moves all count, whatever the clock says."""
    import pyqtgraph as pg

    limit = pg.getConfigOption("mouseRateLimit")
    pg.setConfigOption("mouseRateLimit", 0)
    yield
    pg.setConfigOption("mouseRateLimit", limit)


def test_mouse_tools_are_exclusive_named_with_their_keys_and_do_what_they_say(reading_window, qtbot, tmp_path, every_mouse_move):
    window = reading_window
    toolbar = window.image_toolbar
    for name, key in (("window", "W"), ("pan", "P"), ("zoom", "Z"), ("scroll", "S")):
        action = toolbar.tool_actions[name]
        assert action.isCheckable() and f"({key})" in action.toolTip() and not action.icon().isNull()
    for action in (window.invert_action, window.reset_action, window.fit_action, window.one_to_one_action, window.annotations_action):
        assert action in toolbar.actions() and not action.icon().isNull()
        assert f"({action.shortcut().toString()})" in action.toolTip()
    assert toolbar.tool_actions["window"].isChecked()
    assert toolbar.mouse_tools_menu.actions() == toolbar.mouse_tools.actions()  # View > Mouse tool: the same actions
    # The next issue's measurement tools join the group in their place, before the image buttons.
    length = toolbar.add_mouse_tool("length", "&Length", "L", "left drag measures a distance")
    buttons = toolbar.actions()
    assert buttons.index(toolbar.tool_actions["scroll"]) < buttons.index(length) < buttons.index(window.invert_action)
    assert length in toolbar.mouse_tools_menu.actions() and length.actionGroup() is toolbar.mouse_tools
    # The layout chooser's place: after the image buttons, before the Window box.
    from PySide6.QtWidgets import QToolButton

    chooser = QToolButton()
    toolbar.add_layout_chooser(chooser)
    buttons = toolbar.actions()
    chooser_action = next(a for a in buttons if toolbar.widgetForAction(a) is chooser)
    combo_action = next(a for a in buttons if toolbar.widgetForAction(a) is window.preset_combo)
    assert buttons.index(window.annotations_action) < buttons.index(chooser_action) < buttons.index(combo_action)

    make_study(tmp_path, patients=1, series_per_patient=1, slices=3)
    opened(window, qtbot, [tmp_path])
    qtbot.waitUntil(lambda: window.pane.frame is not None)
    view = window.pane.view.viewport()
    middle = view.rect().center()
    # Window (the default): a left drag to the right widens the window.
    before = window.effective_voi()
    _drag(view, middle, middle + QPoint(60, 0))
    assert window.effective_voi().width > before.width
    # Pan (P): the same drag moves the image and leaves the window alone.
    window.activateWindow()
    qtbot.waitActive(window)
    qtbot.keyClick(window, Qt.Key.Key_P)  # its key
    assert toolbar.tool_actions["pan"].isChecked() and toolbar.tool == "pan"
    voi, rect = window.effective_voi(), window.pane.view_box.viewRect()
    _drag(view, middle, middle + QPoint(60, 0))
    assert window.effective_voi() == voi
    assert window.pane.view_box.viewRect().left() < rect.left()  # the image followed the mouse to the right
    # Zoom (Z): dragging up or down changes the zoom.
    toolbar.tool_actions["zoom"].trigger()
    zoom = window.pane.zoom()
    _drag(view, middle, middle + QPoint(0, -60))
    assert window.pane.zoom() != pytest.approx(zoom)
    # Scroll (S): dragging down moves through the images.
    toolbar.tool_actions["scroll"].trigger()
    window.go_to(0)
    _drag(view, middle, middle + QPoint(0, 100), steps=20)  # well past Qt's drag distance, then 8 px an image
    assert window.display.state.index == 2  # the last of three
    _drag(view, middle, middle + QPoint(0, -100), steps=20)
    assert window.display.state.index == 0
    assert not toolbar.tool_actions["window"].isChecked()  # one tool at a time


# ----------------------------------------------------------------------------- 8. Help > Keyboard and mouse
def test_keyboard_and_mouse_lists_every_binding_of_the_window(reading_window, qtbot):
    from PySide6.QtGui import QKeySequence

    from viewer.ui.window.keys_dialog import MOUSE_BINDINGS, KeysDialog

    window = reading_window
    window.build_contents()
    dialog = KeysDialog(window)
    qtbot.addWidget(dialog)
    lines = dialog.text().splitlines()
    with_keys = [a for a in window.findChildren(QAction) if a.text() and any(not k.isEmpty() for k in a.shortcuts())]
    assert len(with_keys) > 20
    for action in with_keys:
        name = action.text().replace("&", "").rstrip(".")
        for key in action.shortcuts():
            shown = key.toString(QKeySequence.SequenceFormat.NativeText)
            assert any(line.startswith(name + "\t") and shown in line.split("\t")[1] for line in lines), (name, shown)
    for gesture, what in MOUSE_BINDINGS:
        assert f"{what}\t{gesture}\tMouse" in lines
    for expected in ("Window/level\tW", "Pan\tP", "Zoom\tZ", "Scroll\tS", "Show the full study tree\tCtrl+T"):
        assert any(line.startswith(expected) for line in lines), expected
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    assert "&Keyboard and mouse" in [a.text() for a in help_menu.actions()]
