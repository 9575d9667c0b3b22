"""``dicom-viewer extract FILE -o OUT`` writes the document dcm2pdf writes; ``export PDF.dcm --frame N`` writes page N;
anything else ends in one line and exit 2."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.app import main

sys.path.insert(0, str(Path(__file__).parent))
files = importlib.import_module("document_files")

pytestmark = files.needs_dcmtk


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("dicom-viewer: "), err
    return err


@pytest.mark.parametrize("odd", [True, False], ids=["odd-length", "even-length"])
def test_extract_writes_what_dcm2pdf_writes(tmp_path, odd):
    dcm, original = files.encapsulated_pdf(tmp_path, pages=2, odd=odd)
    out = tmp_path / "out.pdf"
    assert main(["extract", str(dcm), "-o", str(out)]) == 0
    assert out.read_bytes() == files.dcm2pdf(dcm, tmp_path / "dcmtk.pdf") == original


def test_extract_a_cda_document(tmp_path):
    dcm, original = files.encapsulated_cda(tmp_path, odd=True)
    out = tmp_path / "out.xml"
    assert main(["extract", str(dcm), "-o", str(out)]) == 0
    assert out.read_bytes() == original


def test_extract_refuses_in_one_line(tmp_path, capsys):
    assert main(["extract", get_testdata_file("CT_small.dcm"), "-o", str(tmp_path / "x.pdf")]) == 2
    assert "holds no document" in one_line_error(capsys)
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=1)
    assert main(["extract", str(dcm), "-o", str(tmp_path / "missing" / "x.pdf")]) == 2
    assert "does not exist" in one_line_error(capsys)
    before = dcm.read_bytes()
    assert main(["extract", str(dcm), "-o", str(dcm)]) == 2
    assert "will not write over" in one_line_error(capsys)
    assert dcm.read_bytes() == before
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(before[: len(before) // 2])
    assert main(["extract", str(cut), "-o", str(tmp_path / "cut.pdf")]) == 2
    assert "claims" in one_line_error(capsys)
    assert not (tmp_path / "cut.pdf").exists()


def test_export_writes_page_n(tmp_path):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=3)
    left, top, right, bottom = files.BLOCK
    for number in (1, 3):
        out = tmp_path / f"page{number}.png"
        assert main(["export", str(dcm), "--frame", str(number), "-o", str(out)]) == 0
        pixels = np.asarray(Image.open(out).convert("RGB"))
        scale = 150 / 72  # export draws pages at 150 dpi; the PDF's page is 300 x 400 points
        height, width = files.PAGE_SIZE[1] * scale, files.PAGE_SIZE[0] * scale  # 833.3 x 625: PDFium rounds up
        assert abs(pixels.shape[0] - height) < 1 and abs(pixels.shape[1] - width) < 1 and pixels.shape[2] == 3
        centre = pixels[round((top + bottom) / 2 * scale), round((left + right) / 2 * scale)]
        assert tuple(centre) == files.block_colour(number)
    assert main(["export", str(dcm), "-o", str(tmp_path / "first.png")]) == 0  # --frame defaults to 1
    assert Image.open(tmp_path / "first.png").size == Image.open(tmp_path / "page1.png").size


def test_export_refuses_in_one_line(tmp_path, capsys):
    dcm, _ = files.encapsulated_pdf(tmp_path, pages=2)
    assert main(["export", str(dcm), "--frame", "3", "-o", str(tmp_path / "x.png")]) == 2
    assert "page 3 is out of range: the document has 2 pages" in one_line_error(capsys)
    assert main(["export", str(dcm), "--window", "40", "400", "-o", str(tmp_path / "x.png")]) == 2
    assert "a PDF page is drawn as printed" in one_line_error(capsys)
    cda, _ = files.encapsulated_cda(tmp_path)
    assert main(["export", str(cda), "-o", str(tmp_path / "x.png")]) == 2
    assert "use extract" in one_line_error(capsys)
    ds = pydicom.dcmread(dcm)
    ds.EncapsulatedDocument = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\x00"
    ds.save_as(tmp_path / "damaged.dcm")
    assert main(["export", str(tmp_path / "damaged.dcm"), "-o", str(tmp_path / "x.png")]) == 2
    assert "damaged" in one_line_error(capsys)
    assert not (tmp_path / "x.png").exists()
