"""The document window (viewer.ui.documents.document_view): pages with previous/next and zoom, "Save the document as…" bit-exact,
"Open in the system's PDF reader" on a private temporary copy, CDA as text, damaged documents in one line."""

from __future__ import annotations

import importlib
import stat
import sys
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QMainWindow

from viewer.ui.documents.document_view import TEMPORARY_COPIES, DocumentView, open_document

sys.path.insert(0, str(Path(__file__).parent.parent))
files = importlib.import_module("document_files")

pytestmark = files.needs_dcmtk


@pytest.fixture
def host(qtbot):
    window = QMainWindow()
    qtbot.addWidget(window)
    window.show()
    return window


def open_and_wait(qtbot, host, path) -> DocumentView:
    view = open_document(host, path)
    assert view is not None
    qtbot.waitUntil(lambda: view.page is not None or view.error is not None, timeout=30000)
    return view


def wait_for_page(qtbot, view: DocumentView, number: int) -> None:
    qtbot.waitUntil(lambda: view.page is not None and view.page.number == number and view.page_number == number, timeout=30000)


def shown_colour(view: DocumentView, x_pt: float, y_pt: float) -> tuple[int, int, int]:
    """The colour the page label shows at a point of the page (in PDF points from its top left)."""
    image = view.page_label.pixmap().toImage()
    scale = image.width() / view.page.width_pt
    colour = image.pixelColor(int(x_pt * scale), int(y_pt * scale))
    return colour.red(), colour.green(), colour.blue()


def close(qtbot, view: DocumentView) -> None:
    view.close()
    qtbot.waitUntil(lambda: view.closed)


def test_pages_previous_next_and_zoom(qtbot, host, tmp_path):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=3)
    view = open_and_wait(qtbot, host, dcm)
    left, top, right, bottom = files.BLOCK
    centre = ((left + right) / 2, (top + bottom) / 2)
    assert view.error is None and view.page.number == 1 and view.pages == 3
    assert view.page_indicator.text() == "Page 1 of 3"
    assert shown_colour(view, *centre) == files.block_colour(1)
    assert not view.previous_action.isEnabled() and view.next_action.isEnabled()
    view.next_action.trigger()
    wait_for_page(qtbot, view, 2)
    assert shown_colour(view, *centre) == files.block_colour(2)
    view.next_action.trigger()
    wait_for_page(qtbot, view, 3)
    assert shown_colour(view, *centre) == files.block_colour(3)
    assert not view.next_action.isEnabled() and view.page_indicator.text() == "Page 3 of 3"
    view.previous_action.trigger()
    wait_for_page(qtbot, view, 2)
    width = view.page_label.width()
    view.zoom_in_action.trigger()
    assert view.zoom_indicator.text() == "110%"
    qtbot.waitUntil(lambda: view.page_label.width() > width, timeout=30000)
    assert view.page_label.width() == pytest.approx(width * 1.1, abs=2)
    assert shown_colour(view, *centre) == files.block_colour(2)
    wheel = QWheelEvent(
        QPointF(10, 10),
        QPointF(10, 10),
        QPoint(),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.scroll.viewport(), wheel)  # Ctrl+wheel towards the user: zoom out
    assert view.zoom_indicator.text() == "100%"
    close(qtbot, view)


def test_save_as_writes_the_document_bit_exact(qtbot, host, tmp_path):
    dcm, original = files.encapsulated_pdf(tmp_path, pages=1, odd=True)
    view = open_and_wait(qtbot, host, dcm)
    target = tmp_path / "saved.pdf"
    asked = []
    view.ask_save_path = lambda suggested: asked.append(suggested) or str(target)
    assert view.save_as() == target
    assert asked == [str(tmp_path / "report.pdf")]
    assert target.read_bytes() == files.dcm2pdf(dcm, tmp_path / "dcmtk.pdf") == original
    view.ask_save_path = lambda suggested: None  # cancelled: nothing written
    assert view.save_as() is None
    view.ask_save_path = lambda suggested: str(dcm)
    before = dcm.read_bytes()
    assert view.save_as() is None and dcm.read_bytes() == before
    assert "will not write over" in view.statusBar().currentMessage()
    close(qtbot, view)


def test_open_in_the_system_reader_hands_over_a_private_copy(qtbot, host, tmp_path):
    dcm, original = files.encapsulated_pdf(tmp_path, pages=1, odd=False)
    view = open_and_wait(qtbot, host, dcm)
    handed = []
    view.open_url = lambda url: handed.append(url) or True
    assert view.open_externally()
    copy = Path(handed[0].toLocalFile())
    assert copy.read_bytes() == original and copy.suffix == ".pdf"
    assert stat.S_IMODE(copy.parent.stat().st_mode) == 0o700  # a private folder
    assert view.open_externally()
    assert Path(handed[1].toLocalFile()) != copy  # the first copy may still be open in the reader
    close(qtbot, view)
    TEMPORARY_COPIES.remove()  # what the app does at exit
    assert not copy.parent.exists()


def test_a_cda_document_is_shown_as_its_sections_and_as_xml(qtbot, host, tmp_path):
    dcm, original = files.encapsulated_cda(tmp_path)
    view = open_document(host, dcm)
    assert view.stack.currentWidget() is view.rendered
    shown = view.rendered.toPlainText()
    for text in ("Discharge summary — Müller", "Patient: Anna Müller", "Findings", "No acute abnormality.", "Aspirin 100 mg", "Plan"):
        assert text in shown
    view.xml_action.trigger()
    assert view.stack.currentWidget() is view.text and view.text.toPlainText() == original.decode("utf-8")
    view.xml_action.trigger()
    assert view.stack.currentWidget() is view.rendered
    assert not view.next_action.isEnabled() and view.save_action.isEnabled()
    assert view.open_external_action.text() == "Open in the system's viewer"
    close(qtbot, view)


def test_a_cda_that_does_not_parse_is_shown_as_text(qtbot, host, tmp_path):
    import pydicom

    dcm, _ = files.encapsulated_cda(tmp_path)
    ds = pydicom.dcmread(dcm)
    ds.EncapsulatedDocument = b"<ClinicalDocument><title>cut sh"
    ds.save_as(tmp_path / "cut.dcm")
    view = open_document(host, tmp_path / "cut.dcm")
    assert view.stack.currentWidget() is view.text and "<title>cut sh" in view.text.toPlainText()
    assert "not well-formed XML" in view.error and "\n" not in view.error
    close(qtbot, view)


def test_damaged_documents_are_one_line(qtbot, host, tmp_path):
    import pydicom

    dcm, _ = files.encapsulated_pdf(tmp_path, pages=1)
    ds = pydicom.dcmread(dcm)
    ds.EncapsulatedDocument = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\x00"
    ds.save_as(tmp_path / "damaged.dcm")
    view = open_and_wait(qtbot, host, tmp_path / "damaged.dcm")
    assert view.page is None and "damaged" in view.error and "\n" not in view.error
    assert view.stack.currentWidget() is view.message and view.message.text() == view.error
    close(qtbot, view)
    assert open_document(host, get_testdata_file("CT_small.dcm")) is None
    assert "holds no document" in host.statusBar().currentMessage()


def test_a_document_named_on_opening_gets_its_window(qtbot, main_window, tmp_path):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=2)
    with qtbot.waitSignal(main_window.series_opened, timeout=30000):
        main_window.open_paths([str(dcm)])  # opened once the scan has listed it (not read on the GUI thread first)
    views = main_window.findChildren(DocumentView)
    assert len(views) == 1 and views[0].document.path == dcm
    assert [series.kind for series in main_window.series] == ["PDF"]  # listed in the browser too
    qtbot.waitUntil(lambda: views[0].page is not None, timeout=30000)
    close(qtbot, views[0])


def test_a_document_in_a_folder_is_listed_and_a_click_opens_it(qtbot, main_window, open_in, tmp_path):
    folder = tmp_path / "disc"
    folder.mkdir()
    dcm, _ = files.encapsulated_pdf(folder, pages=2)
    (folder / "ct.dcm").write_bytes(Path(get_testdata_file("CT_small.dcm")).read_bytes())
    open_in(main_window, [str(folder)])
    pdf_series = next(series for series in main_window.series if series.kind == "PDF")
    assert not main_window.findChildren(DocumentView)  # listed, not opened by itself
    main_window.browser.object_activated.emit(pdf_series)  # what a click on its row in the strip sends
    views = main_window.findChildren(DocumentView)
    assert len(views) == 1 and views[0].document.path == dcm
    qtbot.waitUntil(lambda: views[0].page is not None, timeout=30000)
    close(qtbot, views[0])
