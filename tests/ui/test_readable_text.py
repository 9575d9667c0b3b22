"""Text a user reads at the default window size: counts in good English, series labels and
tag values not cut off (whole words in the cell, everything in the tooltip)."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.uid import generate_uid
from PySide6.QtWidgets import QStyleOptionViewItem

from viewer.core.runtime.wording import count

CT = get_testdata_file("CT_small.dcm", download=False)
SHORT_LABEL = "CT 3: Head 1.0 (120 images)"  # the example: readable whole at the default width
LONG_DESCRIPTION = "Thorax routine 1.0 mm B31f soft tissue kernel, arterial phase"  # LO: at most 64 characters


@pytest.fixture
def default_window(qtbot, request):
    """A window at its default size (1440x900), or at the size a test's parameter gives, with the default layout."""
    from viewer.ui.window.main_window import MainWindow
    from viewer.ui.window.settings_store import settings

    settings().remove("window")
    window = MainWindow()
    size = getattr(request, "param", None)
    if size is not None:
        window.resize(*size)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    yield window
    window.close()


def test_counts_are_singular_for_one():
    assert [count(n, "problem") for n in (0, 1, 2)] == ["0 problems", "1 problem", "2 problems"]
    assert [count(n, "other file") for n in (1, 2)] == ["1 other file", "2 other files"]
    assert [count(n, "study") for n in (1, 2)] == ["1 study", "2 studies"]
    assert [count(n, "series") for n in (1, 2)] == ["1 series", "2 series"]
    assert [count(n, "match") for n in (1, 2)] == ["1 match", "2 matches"]


def _folder_with(tmp_path: Path, name: str, problems: int, others: int) -> Path:
    """One CT image, `others` files that are not DICOM, `problems` DICOM files cut before their image attributes."""
    folder = tmp_path / name
    folder.mkdir()
    data = Path(CT).read_bytes()
    (folder / "image.dcm").write_bytes(data)
    for i in range(problems):
        (folder / f"cut{i}.dcm").write_bytes(data[:700])  # File Meta and the first attributes only
    for i in range(others):
        (folder / f"notes{i}.txt").write_text("not DICOM")
    return folder


@pytest.mark.parametrize("n, words", [(1, ("1 problem", "1 other file skipped")), (2, ("2 problems", "2 other files skipped"))])
def test_scan_summary_and_status_bar_count_in_words(main_window, qtbot, tmp_path, n, words):
    folder = _folder_with(tmp_path, f"n{n}", problems=n, others=n)
    with qtbot.waitSignal(main_window.series_opened, timeout=30000):
        main_window.open_paths([folder])
    summary = main_window.browser.summary_label.text()
    assert summary == f"{count(2 * n + 1, 'file')} looked at, 1 image, {words[1]}, {words[0]}"
    assert main_window.statusBar().currentMessage() == f"1 series, 1 image file, {words[1]}"
    assert len(main_window.problems) == n


# ----------------------------------------------------------------------------- browser labels
@pytest.fixture
def labelled_series(tmp_path) -> Path:
    """CT_small as series 3 'Head 1.0 (120 images)' and series 4 with a long description."""
    src = pydicom.dcmread(CT)
    study = generate_uid()
    for number, description in ((3, "Head 1.0 (120 images)"), (4, LONG_DESCRIPTION)):
        ds = src.copy()
        ds.PatientName, ds.PatientID = "Long^Labels", "LONG1"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = study, generate_uid(), generate_uid()
        ds.SeriesNumber, ds.SeriesDescription = number, description
        ds.save_as(tmp_path / f"series{number}.dcm")
    return tmp_path


def _label_cells(window) -> dict[str, object]:
    """{series number: proxy index of its Name cell}."""
    browser = window.browser
    return {row[8].text(): browser.proxy.mapFromSource(row[0].index()) for row in browser.series_items().values()}


def _open_labelled(window, qtbot, folder) -> dict[str, object]:
    """Open `folder`; its series' Name cells once their thumbnails (which push the labels right) are in."""
    with qtbot.waitSignal(window.series_opened, timeout=30000):
        window.open_paths([folder])
    browser = window.browser
    cells = _label_cells(window)
    qtbot.waitUntil(
        lambda: all(not browser.model.itemFromIndex(browser.proxy.mapToSource(i)).icon().isNull() for i in cells.values()), timeout=30000
    )
    return cells


def _fits(browser, index, lines) -> bool:
    metrics = browser.tree.fontMetrics()
    return max(metrics.horizontalAdvance(line) for line in lines) < browser.tree.visualRect(index).width()


@pytest.mark.parametrize("default_window", [None, (1600, 1000)], ids=["1440x900", "1600x1000"], indirect=True)
def test_series_labels_readable_at_the_default_width(default_window, qtbot, labelled_series):
    browser = default_window.browser
    cells = _open_labelled(default_window, qtbot, labelled_series)
    # The short label: all of it, on one line, once the column has fitted itself to its labels.
    qtbot.waitUntil(lambda: browser.name_delegate.displayed_lines(browser.tree, cells["3"]) == [SHORT_LABEL], timeout=10000)
    assert cells["3"].data() == SHORT_LABEL
    # The long one: every word, broken at spaces beside the thumbnail; the whole label in the tooltip.
    label = f"CT 4: {LONG_DESCRIPTION}"
    assert browser.model.itemFromIndex(browser.proxy.mapToSource(cells["4"])).toolTip() == label
    lines = browser.name_delegate.displayed_lines(browser.tree, cells["4"])
    assert " ".join(lines) == label, lines
    assert _fits(browser, cells["4"], lines)


def test_a_narrow_name_column_ends_labels_after_a_whole_word(default_window, qtbot, labelled_series):
    browser = default_window.browser
    browser.tree.header().resizeSection(0, 170)  # the user drags the column narrower
    cells = _open_labelled(default_window, qtbot, labelled_series)
    assert browser.name_width_chosen and browser.tree.columnWidth(0) == 170  # the user's width stays
    label = f"CT 4: {LONG_DESCRIPTION}"
    lines = browser.name_delegate.displayed_lines(browser.tree, cells["4"])
    shown = " ".join(lines)
    assert shown.endswith("…"), lines
    kept = shown.removesuffix("…")
    assert label.startswith(kept) and label[len(kept)] == " ", lines  # cut between two words, not inside one
    assert _fits(browser, cells["4"], lines)
    assert browser.model.itemFromIndex(browser.proxy.mapToSource(cells["4"])).toolTip() == label


# ----------------------------------------------------------------------------- the Tags dock
def _inspector_at_default_size(main_window, open_in, qtbot):
    main_window.inspector_dock.show()  # on demand since #14 (hidden at first start)
    main_window.inspector_dock.raise_()
    with qtbot.waitSignal(main_window.inspector_filled, timeout=30000):
        open_in(main_window, [CT])
    return main_window.inspector


def _row_index(inspector, tag: str):
    model = inspector.proxy
    for r in range(model.rowCount()):
        index = model.index(r, 0)
        if index.data() == tag:
            return index
    raise KeyError(tag)


def test_value_column_ends_inside_the_dock(default_window, open_in, qtbot):
    inspector = _inspector_at_default_size(default_window, open_in, qtbot)
    tree, header = inspector.tree, inspector.tree.header()
    viewport = tree.viewport().width()
    value = 5
    assert header.sectionViewportPosition(value) + header.sectionSize(value) <= viewport
    assert not tree.horizontalScrollBar().isVisible()
    assert header.sectionSize(value) >= viewport * 0.35  # the Value has the largest share, not a sliver
    metrics = tree.fontMetrics()
    # The short columns show their content whole: a tag, a VR.
    assert metrics.horizontalAdvance("(0008,0060)") + tree.indentation() < header.sectionSize(0)
    assert metrics.horizontalAdvance("UN") < header.sectionSize(2)
    # Modality 'CT' fits in the Value cell as it is.
    modality = _row_index(inspector, "(0008,0060)").siblingAtColumn(value)
    assert modality.data() == "CT" and metrics.horizontalAdvance("CT") < header.sectionSize(value)


def test_a_long_value_is_elided_in_the_middle_with_all_of_it_in_the_tooltip(default_window, open_in, qtbot):
    inspector = _inspector_at_default_size(default_window, open_in, qtbot)
    uid = str(pydicom.dcmread(CT, stop_before_pixels=True).SOPInstanceUID)
    index = _row_index(inspector, "(0008,0018)").siblingAtColumn(5)
    tree = inspector.tree
    assert tree.fontMetrics().horizontalAdvance(uid) > tree.header().sectionSize(5)  # does not fit: elided
    option = QStyleOptionViewItem()
    tree.initViewItemOption(option)
    option.rect = tree.visualRect(index)
    assert uid in inspector.value_delegate.tooltip(option, index).splitlines()
    # A value that fits has no copy of itself added to the tooltip.
    modality = _row_index(inspector, "(0008,0060)").siblingAtColumn(5)
    option.rect = tree.visualRect(modality)
    assert "CT" not in inspector.value_delegate.tooltip(option, modality).splitlines()


def test_vm_and_length_columns_on_request_and_remembered(default_window, open_in, qtbot):
    from viewer.ui.documents.tag_inspector import TagInspector

    inspector = _inspector_at_default_size(default_window, open_in, qtbot)
    tree, header = inspector.tree, inspector.tree.header()
    assert tree.isColumnHidden(3) and tree.isColumnHidden(4)  # VM, Length: hidden at first
    inspector.show_column("Length", True)
    assert not tree.isColumnHidden(4)
    assert header.sectionViewportPosition(5) + header.sectionSize(5) <= tree.viewport().width()
    again = TagInspector()
    qtbot.addWidget(again)
    assert not again.tree.isColumnHidden(4) and again.tree.isColumnHidden(3)
    inspector.show_column("Length", False)


def test_fit_words_by_hand():
    from viewer.ui.browsing.item_text import fit_words

    def advance(text: str) -> int:  # 10 pixels a character
        return 10 * len(text)

    assert fit_words("CT 3: Head", 100, 1, advance) == ["CT 3: Head"]  # fits: as it is
    assert fit_words("CT 3: Head 1.0 axial", 100, 2, advance) == ["CT 3: Head", "1.0 axial"]
    assert fit_words("CT 3: Head 1.0 axial bone", 100, 2, advance) == ["CT 3: Head", "1.0 axial…"]
    assert fit_words("CT 3: Head 1.0 axial bone", 100, 1, advance) == ["CT 3:…"]
    # 'routine' fits a line but not with the ellipsis: the line before ends with it instead.
    assert fit_words("CT 4: Thorax routine now", 70, 3, advance) == ["CT 4:", "Thorax…"]
    # Only a word wider than a whole line is cut inside.
    assert fit_words("MR 1: emri_small.dcm", 80, 2, advance) == ["MR 1:", "emri_sm…"]
