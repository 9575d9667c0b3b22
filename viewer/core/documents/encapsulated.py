"""Encapsulated documents: a PDF or a CDA document carried whole in a DICOM object (PS3.3 A.45, C.24.2).

The document is the value of (0042,0011) *Encapsulated Document*, with its
kind in (0042,0012) *MIME Type of Encapsulated Document*. An OB value has an
even length (PS3.5 7.1.1), so a document of odd length was stored with one
trailing pad byte; (0042,0015) *Encapsulated Document Length* (when present)
gives the length before padding. :func:`document_bytes` gives the document
back bit-exact, as dcmtk's ``dcm2pdf`` does.

PDF pages are drawn by PDFium through pypdfium2 (Apache-2.0 / BSD-3-Clause:
the wheel bundles PDFium, so nothing is needed from the system; PySide6's
QtPdf is not in the PySide6-Essentials wheel the viewer uses, and the core
must stay Qt-free anyway). A damaged PDF can make any parser spin or crash,
so the window and ``export`` draw pages in a worker process with a time
limit (:func:`render_page_with_time_limit`), as other decoders do; a damaged
document or DICOM file ends in one :class:`ViewerError` line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError, read_header, sop_class_name
from viewer.core.runtime.wording import count

#: SOP Classes of encapsulated documents (PS3.4 B.5, PS3.6 Annex A).
ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
ENCAPSULATED_CDA = "1.2.840.10008.5.1.4.1.1.104.2"
ENCAPSULATED_STL = "1.2.840.10008.5.1.4.1.1.104.3"
ENCAPSULATED_OBJ = "1.2.840.10008.5.1.4.1.1.104.4"
ENCAPSULATED_MTL = "1.2.840.10008.5.1.4.1.1.104.5"
DOCUMENT_SOP_CLASSES = frozenset({ENCAPSULATED_PDF, ENCAPSULATED_CDA, ENCAPSULATED_STL, ENCAPSULATED_OBJ, ENCAPSULATED_MTL})

#: File name suffix by MIME type (0042,0012), for "Save as" and the reader's temporary copy.
SUFFIXES = {"application/pdf": ".pdf", "text/xml": ".xml", "model/stl": ".stl", "model/obj": ".obj", "model/mtl": ".mtl"}

#: Page resolution of ``export`` (dots per inch; PDF user space is 72 units per inch).
EXPORT_DPI = 150.0
#: Seconds a worker may take to open a document and draw one page before it is stopped.
RENDER_TIME_LIMIT = 20.0
#: The largest page drawn, in pixels either way (a zoom or a huge page size must not exhaust memory).
MAX_PAGE_PIXELS = 12000


@dataclass(frozen=True)
class EncapsulatedDocument:
    """One encapsulated document: the bytes as the author wrote them and what the DICOM object says of them."""

    path: Path
    sop_class_uid: str
    mime_type: str  # (0042,0012), in lower case
    title: str  # (0042,0010) *Document Title*
    data: bytes

    @property
    def is_pdf(self) -> bool:
        return self.mime_type == "application/pdf" or (not self.mime_type and self.sop_class_uid == ENCAPSULATED_PDF)

    @property
    def is_cda(self) -> bool:
        return self.mime_type == "text/xml" or (not self.mime_type and self.sop_class_uid == ENCAPSULATED_CDA)

    @property
    def suffix(self) -> str:
        """File name suffix for the document's kind (".bin" for a MIME type the viewer does not know)."""
        if self.is_pdf:
            return ".pdf"
        if self.is_cda:
            return ".xml"
        return SUFFIXES.get(self.mime_type, ".bin")

    def text(self) -> str:
        """The document as text (a CDA's XML), decoded as its XML declaration says (UTF-8 by default)."""
        return xml_text(self.data)


def is_document_storage(header: Dataset) -> bool:
    """Whether (0008,0016) *SOP Class UID* (else (0002,0002)) names an encapsulated document storage class."""
    uid = header.get("SOPClassUID") or getattr(getattr(header, "file_meta", None), "MediaStorageSOPClassUID", None)
    return str(uid or "") in DOCUMENT_SOP_CLASSES


def _ends_with_end_marker(data: bytes, mime_type: str) -> bool:
    """Whether `data` ends with its format's own end: a PDF's ``%%EOF`` (ISO 32000-1 7.5.5) with an optional
    end-of-line, an XML document's closing ``>`` with optional white space."""
    if mime_type == "application/pdf":
        return data.rstrip(b"\r\n").endswith(b"%%EOF")
    if mime_type == "text/xml":
        # UTF-16 XML ends in ">\x00" (little endian) and has even length anyway: its zeros are never padding.
        return b"\x00" not in data[:4] and not data.startswith((b"\xff\xfe", b"\xfe\xff")) and data.rstrip(b" \t\r\n").endswith(b">")
    return False


def document_bytes(value: bytes, mime_type: str, declared_length: int | None = None) -> bytes:
    """The document stored in (0042,0011) *Encapsulated Document* `value`, its pad byte removed (PS3.3 C.24.2).

    A single trailing 0x00 is padding, and is removed, only when the value
    has the even length that padding gives, and either the format's own end
    marker precedes it (a PDF's ``%%EOF``, an 8-bit XML document's last ``>``:
    no document of those kinds ends in 0x00), or, for other kinds, (0042,0015)
    *Encapsulated Document Length* says the document is one byte shorter.
    When (0042,0015) says the document is the whole value, the whole value it
    is. Anything else is the document as stored: nothing is guessed away.
    """
    if len(value) % 2 or not value.endswith(b"\x00") or declared_length == len(value):
        return value
    body, mime_type = value[:-1], mime_type.lower()
    if mime_type in ("application/pdf", "text/xml"):
        return body if _ends_with_end_marker(body, mime_type) else value
    return body if declared_length == len(body) else value


def read_document(path: str | os.PathLike[str]) -> EncapsulatedDocument:
    """The encapsulated document of the DICOM file at `path`; raises :class:`ViewerError` with one line.

    Reads (0042,0011) *Encapsulated Document*, (0042,0012) *MIME Type of
    Encapsulated Document*, (0042,0010) *Document Title* and (0042,0015)
    *Encapsulated Document Length*.
    """
    path = Path(path)
    header = read_header(path)  # the document (0042,0011) precedes any pixel data: all of it is read
    try:
        value = header.get("EncapsulatedDocument")
        # MIME types compare without regard to case (RFC 2045 5.1): dcmtk's cda2dcm writes "text/XML".
        mime_type = str(header.get("MIMETypeOfEncapsulatedDocument") or "").strip().lower()
        title = str(header.get("DocumentTitle") or "")
        declared = header.get("EncapsulatedDocumentLength")
    except Exception as exc:  # a malformed value pydicom converts only when asked
        raise ViewerError(f"malformed encapsulated document attributes ({exc})", path) from None
    if value is None:
        if is_document_storage(header):
            raise ViewerError("has no Encapsulated Document (0042,0011): the document is missing", path)
        raise ViewerError(f"holds no document (it is {sop_class_name(header)})", path)
    if not isinstance(value, bytes):
        raise ViewerError("the Encapsulated Document (0042,0011) is not a byte string", path)
    uid = str(header.get("SOPClassUID") or "")
    declared_length = int(declared) if isinstance(declared, int) else None
    kind = mime_type or {ENCAPSULATED_PDF: "application/pdf", ENCAPSULATED_CDA: "text/xml"}.get(uid, "")
    return EncapsulatedDocument(path, uid, mime_type, title, document_bytes(value, kind, declared_length))


def xml_text(data: bytes) -> str:
    """`data` (an XML document) as text, in the encoding its declaration or byte order mark names (XML 1.0 4.3.3)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    head = data[:200].decode("ascii", errors="replace")
    encoding = "utf-8"
    if head.startswith("<?xml"):
        import re

        found = re.search(r"encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']", head)
        if found:
            encoding = found.group(1)
    try:
        return data.decode(encoding, errors="replace")
    except LookupError:  # an encoding Python does not know
        return data.decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- CDA documents

#: The namespace of HL7 CDA Release 2 elements.
HL7_V3 = "{urn:hl7-org:v3}"


@dataclass(frozen=True)
class CdaSection:
    """One section of a CDA body: its nesting depth (1 = top), (section/title) and its narrative block's lines."""

    level: int
    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class CdaOutline:
    """What a reader sees of a CDA document (HL7 CDA R2): title, patient, date, and the sections' narrative."""

    title: str
    patient: str
    effective_time: str
    sections: tuple[CdaSection, ...]


def _flat(element) -> str:
    return " ".join("".join(element.itertext()).split())


def _narrative(text) -> list[str]:
    """The lines of a section's narrative block (CDA R2 4.3.5): paragraphs, list items ("• "), table rows ("a | b")."""
    lines = [" ".join(text.text.split())] if text.text and text.text.strip() else []
    for child in text:
        tag = child.tag.removeprefix(HL7_V3)
        if tag == "list":
            lines += ["• " + _flat(item) for item in child if item.tag == HL7_V3 + "item"]
        elif tag == "table":
            lines += [" | ".join(_flat(cell) for cell in row) for row in child.iter(HL7_V3 + "tr")]
        elif tag != "br":
            lines.append(_flat(child))
        if child.tail and child.tail.strip():
            lines.append(" ".join(child.tail.split()))
    return [line for line in lines if line.strip("• |")]


def _sections(parent, level: int) -> list[CdaSection]:
    found = []
    for component in parent.findall(HL7_V3 + "component"):
        for section in component.findall(HL7_V3 + "section"):
            title, text = section.find(HL7_V3 + "title"), section.find(HL7_V3 + "text")
            found.append(CdaSection(level, _flat(title) if title is not None else "", tuple(_narrative(text)) if text is not None else ()))
            found += _sections(section, level + 1)
    return found


def cda_outline(data: bytes, path: Path | None = None) -> CdaOutline:
    """The readable parts of the CDA document `data`: (ClinicalDocument/title), the patient's name
    (recordTarget/patientRole/patient/name), (effectiveTime) and the structured body's sections, nested.

    Raises ViewerError for XML that does not parse. The parser (expat) fetches no external entity and
    refuses entity-expansion bombs; a non-XML body (nonXMLBody) gives no sections.
    """
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ViewerError(f"the CDA document is not well-formed XML ({exc})", path) from None
    title = root.find(HL7_V3 + "title")
    name = root.find(f"{HL7_V3}recordTarget/{HL7_V3}patientRole/{HL7_V3}patient/{HL7_V3}name")
    patient = ""
    if name is not None:
        given = " ".join(_flat(part) for part in name.findall(HL7_V3 + "given"))
        family = " ".join(_flat(part) for part in name.findall(HL7_V3 + "family"))
        patient = " ".join(part for part in (given, family) if part) or _flat(name)
    when = root.find(HL7_V3 + "effectiveTime")
    value = (when.get("value") or "") if when is not None else ""
    effective = f"{value[:4]}-{value[4:6]}-{value[6:8]}" if len(value) >= 8 and value[:8].isdigit() else value
    body = root.find(f"{HL7_V3}component/{HL7_V3}structuredBody")
    sections = tuple(_sections(body, 1)) if body is not None else ()
    return CdaOutline(_flat(title) if title is not None else "", patient, effective, sections)


# ----------------------------------------------------------------------------- PDF pages


@dataclass(frozen=True)
class RenderedPage:
    """One page drawn: RGB pixels ``(h, w, 3)`` uint8, its number (1-based) of `pages`, its size in points (1/72 inch)."""

    pixels: np.ndarray
    number: int
    pages: int
    width_pt: float
    height_pt: float


def _open_pdf(data: bytes, path: Path | None):
    """A pypdfium2 document for `data`; ViewerError with PDFium's reason when it cannot be opened."""
    import pypdfium2

    try:
        return pypdfium2.PdfDocument(data)
    except pypdfium2.PdfiumError as exc:
        reason = str(exc)
        if "password" in reason.lower():
            raise ViewerError("the PDF document is password-protected; open it in the system's PDF reader", path) from None
        detail = reason[reason.find("(") + 1 : reason.rfind(")")] if "(" in reason else reason
        raise ViewerError(f"the PDF document is damaged and cannot be shown ({detail})", path) from None


def render_page(data: bytes, number: int, dpi: float = EXPORT_DPI, path: Path | None = None) -> RenderedPage:
    """Page `number` (1-based) of the PDF `data` drawn at `dpi` on white, as RGB pixels.

    Form fields and annotations are drawn as a printed copy shows them.
    Raises ViewerError for a page out of range or a document PDFium cannot draw.
    """
    import pypdfium2

    pdf = _open_pdf(data, path)
    try:
        pages = len(pdf)
        if not 1 <= number <= pages:
            raise ViewerError(f"page {number} is out of range: the document has {count(pages, 'page')}", path)
        try:
            page = pdf[number - 1]
            width_pt, height_pt = page.get_size()
            scale = min(dpi / 72.0, MAX_PAGE_PIXELS / max(width_pt, height_pt, 1.0))
            bitmap = page.render(scale=scale, rev_byteorder=True, may_draw_forms=True, draw_annots=True)
            pixels = bitmap.to_numpy()
            pixels = np.ascontiguousarray(pixels[:, :, :3]) if pixels.ndim == 3 else np.repeat(pixels[:, :, None], 3, axis=2)
        except pypdfium2.PdfiumError as exc:
            raise ViewerError(f"page {number} of the PDF document cannot be drawn ({exc})", path) from None
        except (ValueError, OSError, MemoryError) as exc:  # a page size PDFium cannot make a bitmap of, and the like
            raise ViewerError(f"page {number} of the PDF document cannot be drawn ({exc.__class__.__name__}: {exc})", path) from None
        return RenderedPage(pixels, number, pages, float(width_pt), float(height_pt))
    finally:
        pdf.close()


def render_page_file(path: str, number: int, dpi: float = EXPORT_DPI) -> RenderedPage:
    """Worker-process entry point: page `number` of the PDF in the DICOM file at `path` (raises ViewerError)."""
    document = read_document(path)
    if not document.is_pdf:
        raise ViewerError(f"the document is not a PDF (it is {document.mime_type or 'of no stated type'}); it has no pages", path)
    return render_page(document.data, number, dpi, Path(path))


def _load_renderer() -> None:
    """In a worker: import PDFium's binding, so that the first page drawn there does not wait for it."""
    import importlib

    importlib.import_module("pypdfium2")


def warm_renderers() -> None:
    """Start the worker processes and load the PDF renderer in each, ahead of the first page a user asks for
    (starting the pool and importing pypdfium2 cost about 0.3-0.6 s on a first page otherwise). Returns at once."""
    from viewer.core.runtime.processes import process_pool, worker_count

    pool = process_pool()
    if pool is not None:
        for _ in range(worker_count()):
            pool.submit(_load_renderer)


def render_page_with_time_limit(
    path: str | os.PathLike[str], number: int, dpi: float = EXPORT_DPI, limit: float = RENDER_TIME_LIMIT
) -> RenderedPage:
    """:func:`render_page_file` in a worker process, stopped after `limit` seconds (here when there is no pool).

    As :func:`viewer.core.display.frames.frame_with_time_limit`: the worker is
    killed on time-out (a thread cannot be stopped), and a worker that
    crashed (PDFium aborting on a malformed file) becomes one line.
    """
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    from viewer.core.runtime.processes import discard_pool, kill_pool, process_pool

    pool = process_pool()
    if pool is None:
        return render_page_file(str(path), number, dpi)
    try:
        return pool.submit(render_page_file, str(path), number, dpi).result(timeout=limit)
    except FutureTimeout:
        kill_pool()
        raise ViewerError(f"page {number} took more than {limit:g} s to draw; stopped", path) from None
    except BrokenProcessPool:
        discard_pool()
        raise ViewerError(f"page {number}: the PDF renderer crashed", path) from None


def export_page(path: str | os.PathLike[str], number: int, output: str | os.PathLike[str], dpi: float = EXPORT_DPI) -> None:
    """``export PDF.dcm --frame N -o OUT.png``: page `number` (1-based, as frames are) written as a PNG."""
    from viewer.core.display.png import write_png
    from viewer.core.runtime.processes import shutdown_pool

    document = read_document(path)  # here first: a non-PDF is refused without starting a worker
    if not document.is_pdf:
        raise ViewerError(f"has no pages to export (the document is {document.mime_type or 'of no stated type'}); use extract", path)
    try:
        page = render_page_with_time_limit(path, number, dpi)
    finally:
        shutdown_pool()
    out = Path(output)
    if not out.parent.exists():
        raise ViewerError(f"cannot write {out}: the folder {out.parent} does not exist")
    try:
        write_png(out, page.pixels)
    except OSError as exc:
        raise ViewerError(f"cannot write {out}: {exc.strerror or exc}") from None


def extract(path: str | os.PathLike[str], output: str | os.PathLike[str]) -> EncapsulatedDocument:
    """``extract FILE -o OUT``: the document written to `output`, bit-exact (:func:`document_bytes`).

    Written beside the target and renamed into place, so a failure never leaves half a file;
    the DICOM file is only read.
    """
    document = read_document(path)
    out = Path(output)
    if not out.parent.exists():
        raise ViewerError(f"cannot write {out}: the folder {out.parent} does not exist")
    if out.exists() and out.resolve() == Path(path).resolve():
        raise ViewerError(f"will not write over the DICOM file itself ({out})")
    write_bytes_atomically(out, document.data)
    return document


def write_bytes_atomically(out: Path, data: bytes) -> None:
    """Write `data` to `out` through a new file in the same folder and a rename (ViewerError on failure).

    The new file is created with mode 0666 and the kernel applies the umask, as
    :func:`viewer.core.display.png.write_png` does (mkstemp's 0600 would survive the rename).
    """
    import secrets

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    temporary = ""
    try:
        while True:
            temporary = str(out.parent / f".{out.name}.{secrets.token_hex(4)}.part")
            try:
                handle = os.open(temporary, flags, 0o666)
                break
            except FileExistsError:  # another writer drew the same name: draw again
                continue
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        os.replace(temporary, out)
    except OSError as exc:
        if temporary and os.path.exists(temporary):
            os.unlink(temporary)
        raise ViewerError(f"cannot write {out}: {exc.strerror or exc}") from None
