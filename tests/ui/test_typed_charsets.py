"""Character sets typed as a user spells them, in the Tags dock's override box and the node dialog.

The names come from pydicom's reference list for its charset files
(tests/test_charset.py FILE_PATIENT_NAMES), written into a copy of
pydicom's CT_small with Python's codec and no (0008,0005), as devices that
ignore the standard write them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import generate_uid
from PySide6.QtCore import Qt

from viewer.core.net.nodes import LocalAE, Node

CT = get_testdata_file("CT_small.dcm", download=False)
PATIENT_NAME = 0x00100010

#: (what the user types, the canonical choice, the name, the codec the device wrote it in).
TYPED = [
    ("SJIS", "shift_jis", "山田^太郎", "shift_jis"),
    ("Shift_JIS", "shift_jis", "山田^太郎", "shift_jis"),
    ("eucjp", "euc_jp", "やまだ^たろう", "euc_jp"),
    ("EUC-KR", "euc_kr", "김희중", "euc_kr"),
    ("utf8", "ISO_IR 192", "Wang^XiaoDong=王^小東", "utf-8"),
    ("gb18030", "GB18030", "Wang^XiaoDong=王^小东", "gb18030"),
    ("cp1252", "cp1252", "Buc^Jérôme", "cp1252"),
]


@pytest.fixture(autouse=True)
def no_overrides():
    """Each test starts and ends with no character-set choices in the settings (a window reads them from there)."""
    from viewer.ui.window.settings_store import settings

    def reset():
        settings().remove("charset_overrides")

    reset()
    yield
    reset()


def undeclared_name(path: Path, text: str, codec: str) -> Path:
    """CT_small with (0010,0010) written in `codec` and no Specific Character Set."""
    ds = copy.deepcopy(pydicom.dcmread(CT))
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    del ds.SpecificCharacterSet
    raw = text.encode(codec)
    ds._dict[Tag(PATIENT_NAME)] = RawDataElement(Tag(PATIENT_NAME), "PN", len(raw), raw, 0, False, True)
    ds.save_as(path)
    assert raw in path.read_bytes()
    return path


def name_row(inspector):
    return next(row for row in inspector.model.rows() if row.tag == "(0010,0010)")


def show_tags(window, qtbot):
    with qtbot.waitSignal(window.inspector_filled, timeout=10000):
        window.inspector_dock.show()
        window.inspector_dock.raise_()
    return window.inspector


@pytest.mark.parametrize(("typed", "canonical", "text", "codec"), TYPED, ids=[t for t, *_ in TYPED])
def test_the_override_box_takes_a_typed_spelling(main_window, open_in, qtbot, tmp_path, typed, canonical, text, codec):
    path = undeclared_name(tmp_path / "name.dcm", text, codec)
    open_in(main_window, [path])
    inspector = show_tags(main_window, qtbot)
    assert inspector.charset_bar.isVisible()  # bytes above 0x7F with nothing declared
    box = inspector.charset_combo
    box.lineEdit().clear()
    qtbot.keyClicks(box.lineEdit(), typed)
    inspector.scope_combo.setCurrentIndex(0)  # this file
    with qtbot.waitSignal(main_window.inspector_filled, timeout=10000):
        qtbot.mouseClick(inspector.apply_button, Qt.MouseButton.LeftButton)
    assert main_window.settings.charset_overrides.files == {str(path): canonical}
    row = name_row(inspector)
    assert row.full_value == text and not row.suspect and row.guess is None


def test_the_override_box_says_what_it_does_not_know(main_window, open_in, qtbot, tmp_path):
    path = undeclared_name(tmp_path / "name.dcm", "山田^太郎", "shift_jis")
    open_in(main_window, [path])
    inspector = show_tags(main_window, qtbot)
    box = inspector.charset_combo
    box.lineEdit().clear()
    qtbot.keyClicks(box.lineEdit(), "KLINGON")
    qtbot.mouseClick(inspector.apply_button, Qt.MouseButton.LeftButton)
    assert "unknown character set 'KLINGON'" in inspector.charset_label.text() and "ISO_IR 192" in inspector.charset_label.text()
    assert main_window.settings.charset_overrides.files == {}


SENDABLE = [
    ("UTF-8", "ISO_IR 192"),
    ("utf8", "ISO_IR 192"),
    ("gb18030", "GB18030"),
    ("latin1", "ISO_IR 100"),
    ("Latin-1", "ISO_IR 100"),
    ("iso-ir-100", "ISO_IR 100"),
    ("ISO_IR 100", "ISO_IR 100"),
]
ASSUMED = SENDABLE + [
    ("Shift_JIS", "shift_jis"),
    ("SJIS", "shift_jis"),
    ("EUC-KR", "euc_kr"),
    ("eucjp", "euc_jp"),
    ("cp1252", "cp1252"),
    ("ISO 2022 IR 87", "\\ISO 2022 IR 87"),
]


def node_dialog(qtbot, node: Node | None = None):
    from viewer.ui.browsing.query_panel import NodeDialog

    dialog = NodeDialog(node, LocalAE())
    qtbot.addWidget(dialog)
    if node is None:
        qtbot.keyClicks(dialog.ae_title, "PACS")
        qtbot.keyClicks(dialog.host, "127.0.0.1")
    return dialog


def type_charset(qtbot, box, text: str) -> None:
    box.lineEdit().clear()
    qtbot.keyClicks(box.lineEdit(), text)


@pytest.mark.parametrize(("typed", "canonical"), ASSUMED, ids=[t for t, _ in ASSUMED])
def test_the_node_dialog_takes_a_typed_spelling(qtbot, typed, canonical):
    dialog = node_dialog(qtbot)
    type_charset(qtbot, dialog.assume, typed)
    sendable = dict(SENDABLE).get(typed)
    if sendable:
        type_charset(qtbot, dialog.charset, typed)
    node, _local = dialog.values()
    assert node.assume_charset == canonical
    assert node.charset == (sendable or "ISO_IR 192")
    again = node_dialog(qtbot, node)  # editing the saved node shows the same choice
    assert again.values()[0] == node


def test_the_node_dialog_refuses_what_a_query_cannot_declare(qtbot):
    dialog = node_dialog(qtbot)
    for typed, expected in (("Shift_JIS", "not a character set a query can declare"), ("KLINGON", "unknown character set 'KLINGON'")):
        type_charset(qtbot, dialog.charset, typed)
        dialog._accept()
        assert expected in dialog.warning.text() and dialog.result_node is None
