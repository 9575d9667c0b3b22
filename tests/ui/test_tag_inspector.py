"""The tag inspector as a user drives it: names in the right script, guesses and
overrides remembered across restarts, malformed values flagged, filter, copy.

Expected names come from pydicom's reference list for its charset files
(tests/test_charset.py FILE_PATIENT_NAMES) or from Python's codecs.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import generate_uid
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QGuiApplication

CT = get_testdata_file("CT_small.dcm", download=False)
ENHANCED_CT = get_testdata_file("eCT_Supplemental.dcm", download=False)
REFERENCE_NAMES = {
    "chrH31.dcm": "Yamada^Tarou=山田^太郎=やまだ^たろう",
    "chrX2.dcm": "Wang^XiaoDong=王^小东",
}


@pytest.fixture(autouse=True)
def no_overrides():
    """Each test starts and ends with no character-set choices in the settings (a window reads them from there)."""
    from viewer.ui.window.settings_store import settings

    def reset():
        settings().remove("charset_overrides")

    reset()
    yield
    reset()


@functools.cache
def _ct():
    return pydicom.dcmread(CT)


def write_image(path: Path, raw: dict[int, tuple[str, bytes]] | None = None, charset_term=None, **attributes) -> Path:
    """pydicom's CT_small with `raw` elements written byte for byte (RawDataElement) and
    (0008,0005) set to `charset_term` (None: absent); a new series unless one is given."""
    ds = copy.deepcopy(_ct())
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = attributes.pop("SeriesInstanceUID", None) or generate_uid()
    del ds.SpecificCharacterSet
    if charset_term is not None:
        ds.SpecificCharacterSet = charset_term
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    for tag, (vr, value) in (raw or {}).items():
        ds._dict[Tag(tag)] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)
    assert all(value in path.read_bytes() for _vr, value in (raw or {}).values())
    return path


def fill_inspector(window, qtbot):
    """Show the Tags dock (tabbed behind the pipeline) and wait for its rows."""
    if window.inspector_dock.isVisible() and window.inspector.model.rows():
        return window.inspector
    with qtbot.waitSignal(window.inspector_filled, timeout=10000):
        window.inspector_dock.show()
        window.inspector_dock.raise_()
    return window.inspector


def choose_and_wait(window, qtbot, code: str, scope: str, name: str) -> None:
    """Apply a choice, then wait for rows built with it. (A fill requested just
    before may still be queued and arrive first: the runner drops stale results
    in the worker, not on delivery; the newest one follows.)"""
    window.inspector.choose(code, scope)
    qtbot.waitUntil(lambda: (lambda row: row.full_value == name and not row.suspect)(inspector_row(window, "(0010,0010)")), timeout=10000)


def inspector_row(window, tag: str):
    return next(row for row in window.inspector.model.rows() if row.tag == tag)


def shown_texts(window) -> tuple[str, str]:
    """(the browser's patient row, the top-left corner annotation)."""
    return window.browser.model.item(0, 0).text(), window.pane.corner_labels["top_left"].text()


def name_parts(name: str) -> list[str]:
    return [part for group in name.split("=") for part in group.split("^") if part]


@pytest.mark.parametrize("name", sorted(REFERENCE_NAMES))
def test_charset_files_in_browser_annotations_and_inspector(main_window, open_in, qtbot, name):
    path = get_charset_files(name)[0]
    open_in(main_window, [path])
    expected = REFERENCE_NAMES[name]
    patient_row, corner = shown_texts(main_window)
    for part in name_parts(expected):  # every component of every group is shown
        assert part in patient_row and part in corner, (part, patient_row, corner)
    fill_inspector(main_window, qtbot)
    row = inspector_row(main_window, "(0010,0010)")
    assert row.full_value == expected and not row.suspect
    assert not main_window.inspector.charset_bar.isVisible()


def gb18030_image(folder: Path) -> Path:
    return write_image(
        folder / "gb.dcm", {0x00100010: ("PN", "王^小明".encode("gb18030"))}, None, StationName="CT01", InstitutionName="Hospital"
    )


def test_guess_override_and_restart(main_window, open_in, qtbot, tmp_path):
    from viewer.ui.window.main_window import MainWindow

    path = gb18030_image(tmp_path)
    open_in(main_window, [path])
    inspector = fill_inspector(main_window, qtbot)
    row = inspector_row(main_window, "(0010,0010)")
    assert row.suspect and row.guess == "GB18030" and row.full_value == "王^小明"
    assert inspector.charset_bar.isVisible()
    assert "GB18030" in inspector.charset_label.text() and inspector.charset_combo.currentData() == "GB18030"
    index = inspector.model.index(inspector.model.rows().index(row), 5)
    assert "[guess" in index.data()

    choose_and_wait(main_window, qtbot, "GB18030", "series", "王^小明")
    row = inspector_row(main_window, "(0010,0010)")
    assert row.full_value == "王^小明" and not row.suspect and row.guess is None
    patient_row, corner = shown_texts(main_window)
    assert "王" in patient_row and "小明" in patient_row and "王" in corner and "小明" in corner
    assert "your choice for this series" in inspector.charset_label.text()

    # A restart: a new window reads the choice back from the (temporary) settings.
    main_window.close()
    window = MainWindow()
    qtbot.addWidget(window)
    window.resize(1200, 900)
    window.show()
    qtbot.waitExposed(window)
    try:
        open_in(window, [path])
        fill_inspector(window, qtbot)
        row = inspector_row(window, "(0010,0010)")
        assert row.full_value == "王^小明" and not row.suspect and row.guess is None
        patient_row, corner = shown_texts(window)
        assert "王" in patient_row and "小明" in corner
    finally:
        window.close()


@pytest.mark.parametrize("scope, label", [("stations", "CT01"), ("institutions", "Hospital")])
def test_station_and_institution_scopes(main_window, open_in, qtbot, tmp_path, scope, label):
    path = write_image(
        tmp_path / "kr.dcm",
        {0x00100010: ("PN", "김^민준".encode("euc_kr") + b" ")},
        "ISO_IR 100",
        StationName="CT01",
        InstitutionName="Hospital",
    )
    open_in(main_window, [path])
    fill_inspector(main_window, qtbot)
    assert inspector_row(main_window, "(0010,0010)").suspect
    choose_and_wait(main_window, qtbot, "euc_kr", scope, "김^민준")
    assert getattr(main_window.settings.charset_overrides, scope) == {label: "euc_kr"}
    row = inspector_row(main_window, "(0010,0010)")
    assert row.full_value == "김^민준" and not row.suspect
    assert "김" in shown_texts(main_window)[1]


MALFORMED = {
    0x00080020: ("DA", b"2024-13-45"),
    0x00080030: ("TM", b"25:61:99"),
    0x00101020: ("DS", b"1.2.3 "),
    0x00200013: ("IS", b"1A"),
}


def test_malformed_values_flagged_in_the_inspector(main_window, open_in, qtbot, tmp_path):
    path = write_image(tmp_path / "bad.dcm", MALFORMED)
    open_in(main_window, [path])
    inspector = fill_inspector(main_window, qtbot)
    model = inspector.model
    for tag in MALFORMED:
        text = f"({tag >> 16:04X},{tag & 0xFFFF:04X})"
        number = next(i for i, row in enumerate(model.rows()) if row.tag == text)
        assert model.rows()[number].warning, text
        assert model.index(number, 5).data().startswith("⚠ "), text
        assert "shown raw" in model.index(number, 5).data(Qt.ItemDataRole.ToolTipRole)
    assert inspector_row(main_window, "(0010,1020)").full_value == "1.2.3"


def visible_tags(inspector) -> list[str]:
    proxy = inspector.proxy
    return [proxy.index(i, 0).data() for i in range(proxy.rowCount())]


def test_filter_copy_and_sequences(main_window, open_in, qtbot):
    open_in(main_window, [ENHANCED_CT])
    inspector = fill_inspector(main_window, qtbot)
    ds = pydicom.dcmread(ENHANCED_CT, stop_before_pixels=True)

    for needle in ("0010,0010", "00100010", "PatientName", str(ds.PatientName)):
        inspector.filter_edit.setText(needle)
        assert "(0010,0010)" in visible_tags(inspector), needle
        assert len(visible_tags(inspector)) < len(inspector.model.rows())
    inspector.filter_edit.setText("")
    assert len(visible_tags(inspector)) == len(inspector.model.rows())

    # Sequences expand into items, items into elements.
    number = next(i for i, row in enumerate(inspector.model.rows()) if row.keyword == "PerFrameFunctionalGroupsSequence")
    sequence = inspector.model.index(number, 0)
    assert inspector.model.rowCount(sequence) == len(ds.PerFrameFunctionalGroupsSequence)
    assert inspector.model.rowCount(inspector.model.index(0, 0, sequence)) > 0

    # Copy a value, a row, everything.
    number = next(i for i, row in enumerate(inspector.model.rows()) if row.tag == "(0010,0010)")
    index = inspector.proxy.mapFromSource(inspector.model.index(number, 0))
    inspector.tree.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
    clipboard = QGuiApplication.clipboard()
    inspector.copy_value()
    assert clipboard.text() == str(ds.PatientName)
    inspector.copy_rows()
    assert clipboard.text().startswith("(0010,0010) PN PatientName = " + str(ds.PatientName))
    inspector.copy_all()
    everything = clipboard.text()
    assert "(0010,0010) PN PatientName = " + str(ds.PatientName) in everything
    assert "\n  Item 1" in everything and len(everything.splitlines()) > len(ds)


def test_inspector_follows_the_image(main_window, qtbot, tmp_path):
    series_uid = generate_uid()
    write_image(
        tmp_path / "a.dcm", SeriesInstanceUID=series_uid, InstanceNumber=1, ImagePositionPatient=[0, 0, 0], ImageComments="image 01"
    )
    write_image(
        tmp_path / "b.dcm", SeriesInstanceUID=series_uid, InstanceNumber=2, ImagePositionPatient=[0, 0, 5], ImageComments="image 02"
    )
    with qtbot.waitSignal(main_window.series_opened, timeout=20000):
        main_window.open_paths([tmp_path])
    qtbot.waitUntil(lambda: len(main_window.images) == 2, timeout=10000)
    main_window.go_to(0)
    inspector = fill_inspector(main_window, qtbot)
    first_title, first = inspector.title.text(), inspector_row(main_window, "(0020,4000)").full_value
    target = 1
    with qtbot.waitSignal(main_window.inspector_filled, timeout=10000):
        main_window.go_to(target)
    second_title, second = inspector.title.text(), inspector_row(main_window, "(0020,4000)").full_value
    assert {first, second} == {"image 01", "image 02"}
    assert first_title != second_title and {first_title, second_title} == {"a.dcm", "b.dcm"}


@pytest.mark.parametrize(
    ("keep", "ends_in"), [(20000, "(7FE0,0010)"), (5000, "(0043,1029)")], ids=["in the pixel data", "in a private value"]
)
def test_a_truncated_file_shows_what_could_be_read_under_a_warning(main_window, open_in, qtbot, tmp_path, keep, ends_in):
    """The pane says the image cannot be shown; the Tags dock lists the header dcmdump +E reads, under one warning line."""
    import shutil
    import subprocess

    from viewer.core.dicom.inspect import iter_rows

    path = tmp_path / "cut.dcm"
    path.write_bytes(Path(CT).read_bytes()[:keep])
    open_in(main_window, [path], expect_image=False)
    inspector = fill_inspector(main_window, qtbot)
    assert inspector.problem_label.isVisible()
    assert "the file is truncated: it ends inside " + ends_in in inspector.problem_label.text()
    damaged = inspector_row(main_window, ends_in)
    assert damaged.warning.startswith("truncated: the file holds")
    number = next(i for i, row in enumerate(inspector.model.rows()) if row.tag == ends_in)
    assert inspector.model.index(number, 5).data().startswith("⚠ ")
    assert "Damaged: truncated" in inspector.model.index(number, 5).data(Qt.ItemDataRole.ToolTipRole)
    if shutil.which("dcmdump") is None:
        pytest.skip("dcmtk's dcmdump is not installed")
    printed = subprocess.run(["dcmdump", "+E", str(path)], capture_output=True, text=True, timeout=60).stdout
    expected = [line.split(")")[0] + ")" for line in printed.splitlines() if line.startswith("(") and not line.startswith("(fffe")]
    shown = [row.tag.lower() for depth, row in iter_rows(inspector.model.rows()) if depth == 0]
    assert shown == expected
