"""Encapsulated PDF and CDA (viewer.core.documents.encapsulated): the document bit-exact as dcmtk's dcm2pdf gives it,
pages drawn with the colours the PDF's author put there, damaged input in one line."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from viewer.core.dicom.io import ViewerError
from viewer.core.documents.encapsulated import (
    document_bytes,
    read_document,
    render_page,
    render_page_with_time_limit,
)
from viewer.core.runtime.processes import shutdown_pool

sys.path.insert(0, str(Path(__file__).parent.parent))
files = importlib.import_module("document_files")

pytestmark = files.needs_dcmtk


@pytest.fixture(autouse=True, scope="module")
def stop_workers():
    yield
    shutdown_pool()


@pytest.mark.parametrize("odd", [True, False], ids=["odd-length", "even-length"])
def test_the_document_is_what_dcm2pdf_extracts(tmp_path, odd):
    dcm, original = files.encapsulated_pdf(tmp_path, pages=3, odd=odd)
    stored = pydicom.dcmread(dcm).EncapsulatedDocument
    assert len(stored) % 2 == 0
    if odd:  # the case the pad rule is for: pdf2dcm stored one byte more
        assert len(stored) == len(original) + 1 and stored.endswith(b"\x00")
    expected = files.dcm2pdf(dcm, tmp_path / "dcmtk.pdf")
    assert expected == original
    document = read_document(dcm)
    assert document.data == expected
    assert document.is_pdf and not document.is_cda and document.suffix == ".pdf"
    assert document.title == "Report report"


@pytest.mark.parametrize("odd", [True, False], ids=["odd-length", "even-length"])
def test_a_cda_document_is_its_xml_as_written(tmp_path, odd):
    dcm, original = files.encapsulated_cda(tmp_path, odd=odd)
    document = read_document(dcm)
    assert document.data == original
    assert document.is_cda and document.suffix == ".xml"
    assert document.mime_type == "text/xml"  # cda2dcm writes "text/XML": MIME types ignore case
    assert "Discharge summary — Müller" in document.text()


def test_a_cda_document_reads_as_its_sections(tmp_path):
    from viewer.core.documents.encapsulated import CdaSection, cda_outline

    dcm, _ = files.encapsulated_cda(tmp_path)
    outline = cda_outline(read_document(dcm).data)
    assert (outline.title, outline.patient, outline.effective_time) == ("Discharge summary — Müller", "Anna Müller", "2024-03-15")
    assert outline.sections == (
        CdaSection(1, "Findings", ("No acute abnormality.",)),
        CdaSection(2, "Medication", ("On discharge:", "• Aspirin 100 mg", "• Ramipril 5 mg", "Test | Value", "Creatinine | 0.9 mg/dL")),
        CdaSection(1, "Plan", ("Follow-up in 6 weeks.",)),
    )
    with pytest.raises(ViewerError, match="not well-formed XML"):
        cda_outline(b"<ClinicalDocument><title>cut")
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY %c "%s">' % (ord("b") + k, (b"&%c;" % (ord("a") + k)) * 10) for k in range(9))
        + b"]><l>&j;</l>"
    )
    with pytest.raises(ViewerError):  # expat refuses the entity expansion (a billion laughs)
        cda_outline(bomb)


def test_only_a_pad_after_the_end_marker_is_removed():
    pdf = b"%PDF-1.4\n..\n%%EOF"  # 17 bytes: stored with one pad byte
    assert document_bytes(pdf + b"\x00", "application/pdf") == pdf
    assert document_bytes(pdf + b"\r\n\x00", "application/pdf") == pdf + b"\r\n"
    assert document_bytes(b"%PDF-1.4 no end mark\x00" + b"\x00", "application/pdf") == b"%PDF-1.4 no end mark\x00\x00"
    assert document_bytes(pdf + b"\x00\x00\x00", "application/pdf") == pdf + b"\x00\x00\x00"  # the last zero does not follow the marker
    assert document_bytes(pdf + b"X", "application/pdf") == pdf + b"X"
    assert document_bytes(b"<a/>\n\x00", "TEXT/XML") == b"<a/>\n"
    utf16 = '<?xml version="1.0" encoding="UTF-16"?><a/>'.encode("utf-16")  # ends in b">\x00": no pad at all
    assert document_bytes(utf16, "text/xml") == utf16
    assert document_bytes(pdf + b"\x00", "application/pdf", declared_length=len(pdf) + 1) == pdf + b"\x00"  # (0042,0015) says: all of it
    stl = b"solid x\nendsolid x\x00"  # no end marker known: Encapsulated Document Length (0042,0015) decides
    assert document_bytes(stl + b"\x00", "model/stl", declared_length=len(stl)) == stl
    assert document_bytes(stl + b"\x00", "model/stl", declared_length=None) == stl + b"\x00"


def test_pages_are_drawn_with_the_authors_colours(tmp_path):
    dcm, original = files.encapsulated_pdf(tmp_path, pages=3)
    import pypdfium2

    assert len(pypdfium2.PdfDocument(read_document(dcm).data)) == 3
    left, top, right, bottom = files.BLOCK
    for number in (1, 2, 3):
        page = render_page_with_time_limit(dcm, number, dpi=72.0)  # Pillow wrote 72 dpi: one pixel a point
        assert (page.number, page.pages) == (number, 3)
        assert (page.width_pt, page.height_pt) == files.PAGE_SIZE
        assert page.pixels.shape == (files.PAGE_SIZE[1], files.PAGE_SIZE[0], 3) and page.pixels.dtype == np.uint8
        inside = page.pixels[top + 5 : bottom - 5, left + 5 : right - 5].reshape(-1, 3)
        assert (inside == files.block_colour(number)).all()
        assert (page.pixels[-20:, :] == 255).all()  # the white margin below the block
    doubled = render_page(read_document(dcm).data, 2, dpi=144.0)
    assert doubled.pixels.shape == (2 * files.PAGE_SIZE[1], 2 * files.PAGE_SIZE[0], 3)


def test_a_page_out_of_range_is_one_line(tmp_path):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=2)
    with pytest.raises(ViewerError, match="page 3 is out of range: the document has 2 pages"):
        render_page_with_time_limit(dcm, 3)


def _with_document(tmp_path: Path, data: bytes, name: str = "damaged.dcm") -> Path:
    good, _ = files.encapsulated_pdf(tmp_path, pages=1, name="good")
    ds = pydicom.dcmread(good)
    ds.EncapsulatedDocument = data + b"\x00" * (len(data) % 2)
    ds.EncapsulatedDocumentLength = len(data)
    ds.save_as(tmp_path / name)
    return tmp_path / name


def test_a_damaged_pdf_is_one_line_never_a_crash(tmp_path):
    garbage = _with_document(tmp_path, b"%PDF-1.4\n" + bytes(range(256)) * 20)
    with pytest.raises(ViewerError, match="damaged") as caught:
        render_page_with_time_limit(garbage, 1)
    assert "\n" not in str(caught.value)
    # Cut in half: PDFium may rebuild what it can; either a page or one line, and the next page still works.
    _, original = files.encapsulated_pdf(tmp_path, pages=2, name="whole")
    cut = _with_document(tmp_path, original[: len(original) // 2], "cut.dcm")
    try:
        render_page_with_time_limit(cut, 1)
    except ViewerError as exc:
        assert "\n" not in str(exc)
    whole = tmp_path / "whole.dcm"
    assert render_page_with_time_limit(whole, 2).pages == 2


def test_a_truncated_or_foreign_file_is_one_line(tmp_path):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=2)
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(dcm.read_bytes()[: dcm.stat().st_size // 2])
    with pytest.raises(ViewerError, match=r"\(0042,0011\) claims"):
        read_document(truncated)
    with pytest.raises(ViewerError, match="holds no document \\(it is a CT Image Storage object\\)"):
        read_document(get_testdata_file("CT_small.dcm"))
    ds = pydicom.dcmread(dcm)
    del ds.EncapsulatedDocument
    ds.save_as(tmp_path / "empty.dcm")
    with pytest.raises(ViewerError, match="has no Encapsulated Document"):
        read_document(tmp_path / "empty.dcm")
    text = tmp_path / "notes.txt"
    text.write_text("not DICOM")
    with pytest.raises(ViewerError, match="not a DICOM file"):
        read_document(text)


def test_a_page_past_its_time_limit_is_stopped(tmp_path):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=1)
    shutdown_pool()  # a new pool: no worker can answer at once, so a limit of 0 s always runs out
    try:
        with pytest.raises(ViewerError, match="took more than 0 s to draw; stopped"):
            render_page_with_time_limit(dcm, 1, limit=0.0)
    finally:
        shutdown_pool()
    assert render_page_with_time_limit(dcm, 1).pages == 1  # a new pool serves the next page
