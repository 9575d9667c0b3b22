"""Opening DICOM files safely, and the project's one error type.

Everything that cannot be read or decoded ends in a :class:`ViewerError`
whose text is one line a user can act on ("not a DICOM file", "the file ends
before its pixel data", "no decoder for JPEG-LS Lossless: install pyjpegls").
The GUI shows that line in the pane, the CLI prints it and exits with 2.
Files are only ever opened for reading.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from viewer.core.dicom.elements import Source
from viewer.core.dicom.structure import first_oversized_element

if TYPE_CHECKING:
    from pydicom.dataset import Dataset, FileDataset

# pydicom is imported in the readers that use it: ViewerError and Problem, which every command imports,
# come without it (importing pydicom and numpy is most of a headless command's start).
#: PS3.5 A.5: Deflated Explicit VR Little Endian.
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"

#: Elements that carry image pixels (PS3.3 C.7.6.3, C.7.6.24).
PIXEL_DATA_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


class ViewerError(Exception):
    """Anything the viewer cannot read, decode or do, with a one-line reason.

    ``str(error)`` is the whole message shown to the user, prefixed with the
    file's name where there is one.
    """

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None):
        self.reason = " ".join(str(message).split())  # one line, always
        self.path = None if path is None else Path(path)
        text = f"{self.path.name}: {self.reason}" if self.path else self.reason
        super().__init__(text)


class Problem(str):
    """One line of the Problems list -- ``"name: reason"``, as ``str(ViewerError)``
    reads -- that also keeps the file's path and the reason apart.

    The window shows the line; ``dicom-viewer index --json`` lists ``path``
    and ``reason`` separately. ``path`` is None for a problem with no file.
    """

    path: Path | None
    reason: str

    def __new__(cls, reason: str, path: str | os.PathLike[str] | None = None) -> Problem:
        reason = " ".join(str(reason).split())  # one line, always
        where = None if path is None else Path(path)
        line = super().__new__(cls, f"{where.name}: {reason}" if where is not None else reason)
        line.path, line.reason = where, reason
        return line

    @classmethod
    def from_error(cls, error: ViewerError) -> Problem:
        return cls(error.reason, error.path)

    def __reduce__(self):
        # Scans in worker processes send problems back by pickling.
        return type(self), (self.reason, self.path)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise ViewerError("no such file", path)
    if path.is_dir():
        raise ViewerError("is a folder, not a file", path)
    if not os.access(path, os.R_OK):
        raise ViewerError("permission denied", path)


#: Refuse to inflate a deflated dataset beyond this (a "deflate bomb" is a
#: few kB that expand to gigabytes). Generous for real files, which
#: compress a few times at most.
MAX_INFLATED_BYTES = 1 << 30

_EXECUTABLE_MAGIC = (
    (b"MZ", "a Windows executable (PE)"),
    (b"\x7fELF", "a Linux executable (ELF)"),
    (b"\xfe\xed\xfa\xce", "a macOS executable (Mach-O)"),
    (b"\xfe\xed\xfa\xcf", "a macOS executable (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a macOS executable (Mach-O universal)"),
)


#: First bytes of the programs a preamble may be: nearly every preamble is zeros.
_MAGIC_FIRST_BYTES = frozenset(magic[0] for magic, _ in _EXECUTABLE_MAGIC)


def path_is_folder(path: str | os.PathLike[str]) -> bool:
    """Whether `path` is a folder (True) or a file (False) the user may open; ViewerError (one line) when it
    does not exist or cannot be read (a folder that cannot be listed included)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise ViewerError("no such file or folder", path) from None
    except OSError as exc:
        raise ViewerError(f"cannot be read ({exc.strerror or exc})", path) from None
    if not stat.S_ISDIR(mode):
        return False
    try:
        os.scandir(path).close()
    except OSError as exc:
        raise ViewerError(f"the folder cannot be read ({exc.strerror or exc})", path) from None
    return True


def preamble_warning(head: bytes) -> str | None:
    """What program the 128-byte preamble at the start of `head` (a file's first
    bytes) is, if it is one (CVE-2019-11687); None otherwise.

    A DICOM file's preamble (PS3.10 7.1) may hold anything, so a file can be
    both a valid image and a program that runs when double-clicked under
    another name. The viewer never runs it; it says so.
    """
    if len(head) < 132 or head[0] not in _MAGIC_FIRST_BYTES or head[128:132] != b"DICM":
        return None
    for magic, what in _EXECUTABLE_MAGIC:
        if head.startswith(magic):
            return f"its preamble is {what}: do not run or rename this file"
    return None


def executable_preamble(path: str | os.PathLike[str]) -> str | None:
    """:func:`preamble_warning` for the file at `path` (None if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return preamble_warning(f.read(132))
    except OSError:
        return None


#: The start of a file read for the checks before pydicom reads it.
_HEAD = 1 << 16


def _check_inflated_size(f, head: bytes, path: Path) -> None:
    """Refuse a deflated dataset (PS3.5 A.5) that would inflate beyond MAX_INFLATED_BYTES.

    `f` is the file open, `head` its first bytes; the stream is inflated
    from `f` in chunks, counting, never kept.
    """
    # A plain search, not the meta walker: a meta group it refuses must not let a bomb through.
    if head[128:132] != b"DICM" or DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN.encode("ascii") not in head[132:2048]:
        return
    # The meta group is never deflated: find where it ends (group length, PS3.10 7.1).
    if head[132:136] != b"\x02\x00\x00\x00" or len(head) < 144:
        return
    group_length = struct.unpack_from("<L", head, 140)[0]
    f.seek(144 + group_length)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while chunk := f.read(1 << 16):
            out = inflater.decompress(chunk, MAX_INFLATED_BYTES - total + 1)
            total += len(out)
            while inflater.unconsumed_tail and total <= MAX_INFLATED_BYTES:
                out = inflater.decompress(inflater.unconsumed_tail, MAX_INFLATED_BYTES - total + 1)
                total += len(out)
            if total > MAX_INFLATED_BYTES:
                raise ViewerError(f"its deflated data would expand beyond {MAX_INFLATED_BYTES >> 20} MB; refused", path)
    except zlib.error as exc:
        # A damaged deflate stream raised zlib.error out of every reader
        # (tests/robustness/crashes/deflate_corrupt_stream.dcm).
        raise ViewerError(f"its deflated data is damaged ({exc})", path) from None


def _read(path: Path, *, stop_before_pixels: bool) -> FileDataset:
    """dcmread with pydicom's warnings captured, so truncation can be told apart.

    The file is opened once: its first bytes serve the checks made before
    pydicom reads (a deflate bomb, a length claiming more than the file
    holds), then pydicom reads the same open file from its start.
    """
    import pydicom
    from pydicom.errors import InvalidDicomError

    _check_path(path)
    try:
        with open(path, "rb") as f, warnings.catch_warnings(record=True) as caught:
            source = Source.from_file(f, _HEAD)
            _check_inflated_size(f, source.data, path)
            # Before pydicom reads: it would ask f.read() for the claimed length, and
            # a 1 kB file claiming 2 GB then allocates 2 GB (tests/robustness/test_cases.py).
            _check_claimed_lengths(source, path)
            warnings.simplefilter("always")
            f.seek(0)
            try:
                ds = pydicom.dcmread(f, stop_before_pixels=stop_before_pixels)
            except InvalidDicomError:
                # Old files (ACR-NEMA style, or written without the PS3.10
                # preamble) start straight with a group 0008 element.
                if not _starts_like_bare_dataset(source.data):
                    raise
                f.seek(0)
                ds = pydicom.dcmread(f, stop_before_pixels=stop_before_pixels, force=True)
    except ViewerError:
        raise
    except InvalidDicomError:
        raise ViewerError("not a DICOM file", path) from None
    except PermissionError:
        raise ViewerError("permission denied", path) from None
    except (EOFError, OSError) as exc:
        raise ViewerError(f"cannot be read ({exc.__class__.__name__}: {exc})", path) from None
    except Exception as exc:  # pydicom raises many kinds on malformed data
        raise ViewerError(f"malformed DICOM data ({exc})", path) from None
    ds.read_warnings = [str(w.message) for w in caught]  # type: ignore[attr-defined]
    _unknown_vrs_as_un(ds)
    _unknown_vrs_as_un(getattr(ds, "file_meta", None))
    if not stop_before_pixels:
        for message in ds.read_warnings:  # type: ignore[attr-defined]
            if "End of file reached" in message:
                raise ViewerError("the file is truncated (it ends in the middle of an element)", path)
    return ds


def _check_claimed_lengths(source: Source, path: Path) -> None:
    """Refuse a file with a top-level element claiming more bytes than the file holds."""
    oversized = first_oversized_element(source)
    if oversized is not None:
        tag, length, left = oversized
        if tag == 0x7FE00010:
            raise ViewerError("the pixel data is shorter than its size says (truncated or corrupt)", path)
        raise ViewerError(
            f"element ({tag >> 16:04X},{tag & 0xFFFF:04X}) claims {length:,} bytes but only {left:,} follow (damaged or truncated file)",
            path,
        )


def _unknown_vrs_as_un(ds: Dataset | None) -> None:
    """Top-level raw elements with a VR code no part of PS3.5 6.2 knows become UN.

    pydicom keeps such a code (b'U\x80' from a damaged byte) and raises
    NotImplementedError when the value is first read, which may be anywhere:
    the scan's SOP Class test, the catalog, the pixel pipeline. As UN the
    value stays raw bytes, which every reader handles (tests/robustness).
    """
    if ds is None:
        return
    from pydicom.dataelem import RawDataElement
    from pydicom.valuerep import VR

    known = {str(v) for v in VR}
    for tag, elem in list(ds._dict.items()):
        if isinstance(elem, RawDataElement) and elem.VR is not None and elem.VR not in known:
            ds._dict[tag] = elem._replace(VR="UN")


def _starts_like_bare_dataset(head: bytes) -> bool:
    """A dataset with no preamble starts with a (0008,xxxx) tag, either byte order."""
    return len(head) >= 8 and head[:2] in (b"\x08\x00", b"\x00\x08")


def read_dataset(path: str | os.PathLike[str]) -> FileDataset:
    """Read a whole file, whatever it holds (image, report, document); raises :class:`ViewerError`."""
    return _read(Path(path), stop_before_pixels=False)


def read_header(path: str | os.PathLike[str]) -> FileDataset:
    """Read everything but the pixel data; raises :class:`ViewerError`."""
    return _read(Path(path), stop_before_pixels=True)


def read_image_dataset(path: str | os.PathLike[str]) -> FileDataset:
    """Read a whole file that must hold an image; raises :class:`ViewerError`.

    A file with Rows and Columns but no pixel data has been cut short; one
    with neither is not an image (a report, a plan, a structure set).
    """
    path = Path(path)
    ds = _read(path, stop_before_pixels=False)
    if not any(keyword in ds for keyword in PIXEL_DATA_KEYWORDS):
        if "Rows" in ds and "Columns" in ds:
            raise ViewerError("the file ends before its pixel data (truncated?)", path)
        raise ViewerError(f"has no image to show (it is {sop_class_name(ds)})", path)
    return ds


def read_for_inspection(path: str | os.PathLike[str]) -> tuple[FileDataset, ViewerError | None]:
    """Every attribute that can be read, Pixel Data and what follows it included, bulk values left unread;
    and, for a file cut short, the one-line reason.

    For the tag inspector and ``dump``: pydicom defers values over 1 kB, so
    they are listed and summarised, never loaded. A truncated file gives
    every element before the cut, the element it ends in marked damaged
    (:mod:`viewer.core.dicom.truncation`), and a :class:`ViewerError` saying
    where it ends, to show after them. Raises ViewerError for input
    ``read_header`` refuses for any other reason.
    """
    from viewer.core.dicom.truncation import find_truncation, read_readable

    path = Path(path)
    _check_path(path)
    try:
        with open(path, "rb") as f:
            _check_inflated_size(f, f.read(_HEAD), path)
    except PermissionError:
        raise ViewerError("permission denied", path) from None
    except OSError as exc:
        raise ViewerError(f"cannot be read ({exc.__class__.__name__}: {exc})", path) from None
    truncation = find_truncation(path)
    if truncation is not None:
        problem = ViewerError(truncation.reason(), path)
        try:
            partial = read_readable(path, truncation)
        except Exception:  # nothing readable: the reason alone
            raise problem from None
        partial.read_warnings = []  # type: ignore[attr-defined]
        _unknown_vrs_as_un(partial)
        _unknown_vrs_as_un(getattr(partial, "file_meta", None))
        return partial, problem
    import pydicom

    header = read_header(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # read_header has already read this far
            full = pydicom.dcmread(path, defer_size=1024, force=True)
        full.read_warnings = getattr(header, "read_warnings", [])  # type: ignore[attr-defined]
        return full, None
    except Exception:  # show what read_header could read
        return header, None


def sop_class_name(ds: Dataset) -> str:
    """A readable name for the SOP Class, e.g. 'an RT Plan Storage object'."""
    try:
        uid = ds.get("SOPClassUID") or getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", None)
    except Exception:  # a damaged UID or (0008,0005) value (tests/robustness): said as unknown
        uid = None
    if uid is None:
        return "a DICOM object of unknown class"
    name = getattr(uid, "name", str(uid))
    first_word = name.split()[0] if name.split() else ""
    if first_word[:2].isupper() or first_word[1:2] == "-":
        # An initialism is read letter by letter: 'an RT Plan', 'an MR Image',
        # 'an X-Ray', but 'a CT Image', 'a US Image'.
        article = "an" if first_word[:1] in "AEFHILMNORSX" else "a"
    else:
        article = "an" if name[:1].upper() in "AEIOU" else "a"
    return f"{article} {name} object"


def is_dicom_file(path: str | os.PathLike[str]) -> bool:
    """True if the file has the 'DICM' prefix at offset 128 (PS3.10 7.1)."""
    try:
        with open(path, "rb") as f:
            f.seek(128)
            return f.read(4) == b"DICM"
    except OSError:
        return False
