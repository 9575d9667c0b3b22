"""Encapsulated documents for the tests, made by tools no one here wrote (nothing here calls the viewer).

PDFs are written by Pillow from pictures whose colours are known (a page's
size in points is its picture's size in pixels: Pillow writes 72 dpi), then
encapsulated by dcmtk's ``pdf2dcm``; CDA documents by dcmtk's ``cda2dcm``.
:func:`dcm2pdf` is dcmtk's own extraction, the reference for the bytes.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

#: The picture on page k (1-based): white, with one block of PAGE_COLOURS[k - 1] at BLOCK (left, top, right, bottom).
PAGE_SIZE = (300, 400)
BLOCK = (50, 100, 250, 300)
PAGE_COLOURS = ((200, 30, 30), (30, 160, 40), (40, 60, 210), (230, 200, 20))

needs_dcmtk = pytest.mark.skipif(not (shutil.which("pdf2dcm") and shutil.which("dcm2pdf")), reason="dcmtk's pdf2dcm/dcm2pdf needed")


def page_picture(number: int) -> Image.Image:
    """Page `number`'s picture, as a palette image: Pillow stores those losslessly (Flate), RGB ones as JPEG."""
    picture = Image.new("RGB", PAGE_SIZE, "white")
    draw = ImageDraw.Draw(picture)
    draw.rectangle(BLOCK, fill=PAGE_COLOURS[(number - 1) % len(PAGE_COLOURS)])
    draw.text((10, 10), f"page {number}", fill="black")
    return picture.convert("P", palette=Image.Palette.ADAPTIVE, colors=256)


def block_colour(number: int) -> tuple[int, int, int]:
    """The colour of page `number`'s block as the PDF stores it (read back from Pillow's palette picture)."""
    left, top, right, bottom = BLOCK
    return page_picture(number).convert("RGB").getpixel(((left + right) // 2, (top + bottom) // 2))


def pdf_bytes(pages: int, odd: bool) -> bytes:
    """A PDF of `pages` pages (Pillow) whose length is odd or even as asked (an end of line after %%EOF when needed)."""
    pictures = [page_picture(n + 1) for n in range(pages)]
    out = io.BytesIO()
    pictures[0].save(out, "PDF", save_all=True, append_images=pictures[1:], resolution=72.0)
    data = out.getvalue()
    return data if len(data) % 2 == int(odd) else data + b"\n"


def pdf2dcm(pdf: Path, dcm: Path, title: str | None = None) -> Path:
    command = ["pdf2dcm", str(pdf), str(dcm)]
    if title is not None:
        command[1:1] = ["--title", title]
    subprocess.run(command, check=True, capture_output=True)
    return dcm


def dcm2pdf(dcm: Path, pdf: Path) -> bytes:
    subprocess.run(["dcm2pdf", str(dcm), str(pdf)], check=True, capture_output=True)
    return pdf.read_bytes()


def encapsulated_pdf(folder: Path, pages: int = 3, odd: bool = True, name: str = "report") -> tuple[Path, bytes]:
    """(the DICOM file pdf2dcm made, the PDF it holds)."""
    data = pdf_bytes(pages, odd)
    pdf = folder / f"{name}.pdf"
    pdf.write_bytes(data)
    return pdf2dcm(pdf, folder / f"{name}.dcm", title=f"Report {name}"), data


CDA = """<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>Discharge summary — Müller</title>
  <effectiveTime value="20240315103000+0100"/>
  <recordTarget><patientRole><patient><name><given>Anna</given><family>Müller</family></name></patient></patientRole></recordTarget>
  <component><structuredBody>
    <component><section>
      <title>Findings</title><text>No acute abnormality.</text>
      <component><section>
        <title>Medication</title>
        <text><paragraph>On discharge:</paragraph><list><item>Aspirin 100 mg</item><item>Ramipril <content>5 mg</content></item></list>
          <table><tr><th>Test</th><th>Value</th></tr><tr><td>Creatinine</td><td>0.9 mg/dL</td></tr></table></text>
      </section></component>
    </section></component>
    <component><section><title>Plan</title><text>Follow-up in 6 weeks.</text></section></component>
  </structuredBody></component>
</ClinicalDocument>
"""


def encapsulated_cda(folder: Path, odd: bool = True) -> tuple[Path, bytes]:
    """(the DICOM file cda2dcm made, the XML it holds), the XML of odd or even length as asked."""
    data = CDA.encode("utf-8")
    if len(data) % 2 != int(odd):
        data = data.replace(b"</ClinicalDocument>", b"</ClinicalDocument> ")
    xml = folder / "cda.xml"
    xml.write_bytes(data)
    dcm = folder / "cda.dcm"
    subprocess.run(["cda2dcm", str(xml), str(dcm)], check=True, capture_output=True)
    return dcm, data
