"""Write media: a folder ready to burn on a CD/DVD or copy to a USB stick (``dicom-viewer media``).

The folder holds the instances as DICOM files (PS3.10) and a DICOMDIR, following the
General Purpose CD-R Interchange profile, STD-GEN-CD (PS3.11 Annex D), which every
DICOM reader of media is expected to read:

- **file names** (PS3.10 8.2, PS3.12 / ISO 9660 level 1): at most 8 components of at most
  8 characters from A-Z, 0-9 and _, no extension. The layout is one folder per level,
  ``DICOM/P0000001/S0000001/SE000001/IM000001`` (patient, study, series, instance; ``SR``,
  ``KO``, ``PR``, ``DO``, ``WV`` for reports, key images, presentation states, documents and
  waveforms): a person browsing the disc finds a patient's studies together, no folder holds
  more than one series' files, and 5 components leave room under the limit of 8. (dcmmkdir
  keeps whatever names it is given; a flat folder of numbered files would hide the tree.)
- **transfer syntax**: STD-GEN-CD allows Explicit VR Little Endian only (PS3.11 D.3.1). A file
  already in it is copied byte for byte. Any other is written again in it: Implicit VR and
  Big Endian re-encoded, deflated files inflated, compressed pixel data decoded (pydicom's
  decoders, or the `transcode` callable given) with (0028,2110) *Lossy Image Compression*
  kept at 01 for what was lossy (PS3.3 C.7.6.1.1.5), the SOP Instance UID kept (the same instance
  in another transfer syntax, so key images and presentation states still find it). Video (MPEG,
  H.264, HEVC) is refused, with a one-line reason. See :mod:`viewer.core.media.reencode`.
- **the DICOMDIR**: :mod:`viewer.core.media.dicomdir_writer`.
- **de-identified copies**: a `prepare` callable (``Dataset -> Dataset``, e.g. the
  ``viewer.core.deidentify`` Deidentifier) is applied to each instance before it is written;
  the DICOMDIR's records are then read from the prepared files, never from the sources.

Nothing the user has is changed: sources are only read; the file-set is written into a
staging folder beside or inside the target and moved into place at the end (a cancelled or
failed run leaves the target as it was); a target that already holds a DICOMDIR or a DICOM
folder is refused unless ``replace`` (the window asks first); and a target inside a folder
that holds one of the sources is refused. Every source that cannot be written is one
problem line ("cannot be written: ..."), the others are written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from viewer.core.dicom.elements import (
    LONG_LENGTH_VRS,
    UNDEFINED_LENGTH,
    ElementWalk,
    Source,
    Unwalkable,
    read_file_meta,
    skip_sequence,
)
from viewer.core.dicom.header import RawHeader, read_raw_header
from viewer.core.dicom.io import Problem, ViewerError
from viewer.core.dicom.sop_classes import MEDIA_DIRECTORY_SOP_CLASS
from viewer.core.media.dicomdir_writer import DirectoryBuilder, FileEntry, encode_dicomdir, leaf_record_keys
from viewer.core.media.model import Instance
from viewer.core.media.reencode import PROFILE, Transcode, decompress, rewrite
from viewer.core.runtime.tasks import CancelToken, ProgressThrottle
from viewer.core.runtime.wording import count

#: What a 700 MB CD-R and a single-layer DVD-R hold (ECMA-130 mode 1, ECMA-349), less room for the file system.
CD_BYTES, DVD_BYTES = 700 * 1024 * 1024 - 4 * 1024 * 1024, 4_700_000_000 - 20 * 1024 * 1024
#: A DICOM dataset transformed before it is written (de-identification).
Prepare = Callable[[Dataset], Dataset]
#: on_progress(done, total)
ProgressListener = Callable[[int, int], None]

_FILE_PREFIX = {"SR DOCUMENT": "SR", "KEY OBJECT DOC": "KO", "PRESENTATION": "PR", "ENCAP DOC": "DO", "WAVEFORM": "WV"}
_ENCAPSULATED_DOCUMENT_ROOT = "1.2.840.10008.5.1.4.1.1.104."
_STAGING_PREFIX = ".dicom-viewer-media-"
_ELEMENT_HEAD, _LONG_LENGTH = struct.Struct("<HH2sH"), struct.Struct("<L")
_LONG_VRS = frozenset(LONG_LENGTH_VRS)
_REFERENCED_IMAGES = 0x00081140
_HEAD_BYTES = 16384  # a file's first read: its meta and group 0008, for most files
#: What every instance on media must have: its identity and its place in the tree (PS3.3 F.5).
_REQUIRED_UIDS = (
    (0x00080018, "SOP Instance UID (0008,0018)"),
    (0x00080016, "SOP Class UID (0008,0016)"),
    (0x0020000D, "Study Instance UID (0020,000D)"),
    (0x0020000E, "Series Instance UID (0020,000E)"),
)


@dataclass
class MediaResult:
    """What :func:`write_media` did."""

    target: Path
    written: int = 0
    copied: int = 0  # byte for byte
    rewritten: int = 0  # another transfer syntax, decompressed, or prepared
    problems: list[Problem] = field(default_factory=list)
    invented: list[str] = field(default_factory=list)
    patients: int = 0
    studies: int = 0
    series: int = 0
    size: int = 0  # bytes on the media, DICOMDIR included
    cancelled: bool = False

    def summary(self) -> str:
        """One line: what was written where, and what was not."""
        if self.cancelled:
            return f"cancelled: nothing written to {self.target}"
        line = (
            f"{count(self.written, 'instance')} ({count(self.patients, 'patient')}, {count(self.studies, 'study')}, "
            f"{count(self.series, 'series')}, {self.size / 1e6:,.1f} MB) written to {self.target} with a DICOMDIR ({PROFILE})"
        )
        if self.size > CD_BYTES:
            line += "; more than a CD holds" if self.size <= DVD_BYTES else "; more than a DVD holds: a USB stick or a BD"
        if self.rewritten:
            line += f"; {self.rewritten} re-encoded as Explicit VR Little Endian"
        if self.problems:
            line += f"; {count(len(self.problems), 'file')} not written"
        return line


@lru_cache(maxsize=256)
def _record_type(sop_class_uid: str, modality: str) -> str:
    """The Directory Record Type of an instance (PS3.3 F.4, F.5): pydicom's table of the four-level
    SOP Classes, encapsulated documents and RT plans, else IMAGE."""
    from pydicom import fileset

    if modality in ("RTINTENT", "RTSEGANN", "RTRAD"):
        return "RADIOTHERAPY"
    if modality == "PLAN":
        return "PLAN"
    if sop_class_uid.startswith(_ENCAPSULATED_DOCUMENT_ROOT):
        return "ENCAP DOC"
    if sop_class_uid in ("1.2.840.10008.5.1.4.1.1.481.5", "1.2.840.10008.5.1.4.1.1.481.8"):
        return "RT PLAN"
    table = getattr(fileset, "_FOUR_LEVEL_SOP_CLASSES", {})
    return table.get(sop_class_uid, "IMAGE")


class _Numbering:
    """Folder and file names, given in the order the instances come (PS3.10 8.2: up to 8 characters)."""

    def __init__(self) -> None:
        self.patients: dict[tuple, int] = {}
        self.studies: dict[str, tuple[int, int]] = {}
        self.series: dict[str, tuple[int, int, int]] = {}
        self.study_count: dict[int, int] = {}
        self.series_count: dict[tuple[int, int], int] = {}
        self.instance_count: dict[tuple[int, int, int], int] = {}

    def file_id(self, header: RawHeader, record_type: str, study_uid: str, series_uid: str) -> tuple[str, ...]:
        place = self.series.get(series_uid)
        if place is None:
            study = self.studies.get(study_uid)
            if study is None:
                key = DirectoryBuilder.patient_key(header)
                patient = self.patients.setdefault(key, len(self.patients) + 1)
                self.study_count[patient] = self.study_count.get(patient, 0) + 1
                study = self.studies[study_uid] = (patient, self.study_count[patient])
            self.series_count[study] = self.series_count.get(study, 0) + 1
            place = self.series[series_uid] = (*study, self.series_count[study])
        number = self.instance_count[place] = self.instance_count.get(place, 0) + 1
        if number > 999_999:
            raise ViewerError("cannot be written: more than 999,999 instances in one series")
        p, s, n = place
        return ("DICOM", f"P{p:07d}", f"S{s:07d}", f"SE{n:06d}", f"{_FILE_PREFIX.get(record_type, 'IM')}{number:06d}")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def existing_media(target: Path) -> list[str]:
    """The names of what in `target` a file-set would replace: its DICOMDIR and DICOM folder, in any case."""
    try:
        return sorted(entry.name for entry in target.iterdir() if entry.name.upper() in ("DICOMDIR", "DICOM"))
    except OSError:
        return []


def check_target(target: str | os.PathLike[str], sources: Iterable[str | os.PathLike[str]] = (), replace: bool = False) -> Path:
    """The target folder, or ViewerError (one line) saying why media cannot be written there: a file, a folder
    not writable, one that already holds media (unless `replace`), or a source's folder (never written into)."""
    target = Path(target).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise ViewerError("cannot write media here: it is a file, not a folder", target)
    where = target.resolve() if target.exists() else target
    files_folders: set[str] = set()
    for source in sources:
        source = Path(source).absolute()
        if source.is_dir():  # a folder given: nothing is written anywhere inside it (a later scan would find it)
            if _inside(where, source.resolve()):
                raise ViewerError(f"cannot write media here: it is inside {source}, one of the folders to write", target)
        else:
            files_folders.add(str(source.parent))
    for folder in files_folders:  # nor into the folder of a file given, nor below it
        if _inside(where, Path(folder).resolve()):
            raise ViewerError(f"cannot write media here: it is inside {folder}, which holds files to write", target)
    existing = existing_media(target) if target.is_dir() else []
    if existing and not replace:
        raise ViewerError(f"already holds {' and '.join(existing)}: choose an empty folder, or replace them", target)
    parent = target if target.is_dir() else next((p for p in target.parents if p.exists()), None)
    if parent is None or not os.access(parent, os.W_OK | os.X_OK):
        raise ViewerError("cannot write media here: the folder is not writable", target)
    return target


def write_media(
    sources: Iterable[str | os.PathLike[str] | Instance],
    target: str | os.PathLike[str],
    *,
    prepare: Prepare | None = None,
    transcode: Transcode = decompress,
    replace: bool = False,
    fileset_id: str | None = None,
    cancel: CancelToken | None = None,
    on_progress: ProgressListener | None = None,
) -> MediaResult:
    """Write the DICOM files `sources` as media in folder `target` (see the module's text).

    `sources` are paths, or instances of a catalog (whose scan header spares reading the file twice).

    Raises ViewerError when the target cannot be written at all (nothing is changed then);
    a source that cannot be written is a problem line of the result. Cancelled, the target
    is left as it was.
    """
    sources = [s if isinstance(s, Instance) else Path(s) for s in sources]
    paths = [s.path if isinstance(s, Instance) else s for s in sources]
    # the folders holding the files: the same rule as for a folder given, one check each
    target = check_target(target, sorted({os.path.dirname(os.path.abspath(p)) for p in paths if p is not None}), replace)
    cancel = cancel or CancelToken()
    result = MediaResult(target)
    if fileset_id is None:
        fileset_id = time.strftime("MEDIA_%Y%m%d")
    try:
        staging = _make_staging(target)
    except OSError as exc:
        raise ViewerError(f"cannot write media here ({exc.strerror or exc})", target) from None
    report = ProgressThrottle(on_progress)
    try:
        builder = DirectoryBuilder()
        _write_files(sources, staging, builder, result, prepare, transcode, cancel, report)
        if cancel.cancelled:
            result.cancelled = True
            return result
        if not result.written:
            raise ViewerError("nothing to write: " + (result.problems[0] if result.problems else "no DICOM files given"))
        dicomdir = encode_dicomdir(builder.patients, fileset_id)
        (staging / "DICOMDIR").write_bytes(dicomdir)
        result.size += len(dicomdir)
        result.invented = builder.invented
        result.patients = len(builder.patients)
        result.studies = sum(len(p.children) for p in builder.patients)
        result.series = sum(len(s.children) for p in builder.patients for s in p.children)
        _move_into_place(staging, target, replace)
        staging = None
    except OSError as exc:
        raise ViewerError(f"cannot write media here ({exc.strerror or exc})", target) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    report(result.written + len(result.problems), len(paths), final=True)
    return result


def _make_staging(target: Path) -> Path:
    """A folder on the target's file system whose contents become the target's by renames."""
    if target.is_dir():
        staging = target / f"{_STAGING_PREFIX}{secrets.token_hex(4)}"
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f"{_STAGING_PREFIX}{target.name}-{secrets.token_hex(4)}"
    staging.mkdir()
    return staging


def _move_into_place(staging: Path, target: Path, replace: bool) -> None:
    """The written DICOM folder and DICOMDIR become the target's: the whole staging folder renamed to a
    new target, or both moved in (the DICOMDIR last, so a reader never sees one naming missing files)."""
    if staging.parent != target:
        staging.rename(target)
        return
    old = staging / "replaced"
    if replace:
        old.mkdir()
        for name in existing_media(target):
            (target / name).rename(old / name)
    (staging / "DICOM").rename(target / "DICOM")
    (staging / "DICOMDIR").rename(target / "DICOMDIR")
    shutil.rmtree(staging)


def _header_of(source: Path | Instance) -> tuple[Path, RawHeader | None]:
    """A source's path and, for an instance a folder scan has just read, its header as the scan kept it
    (Explicit VR Little Endian files only: the elements are then the file's own bytes, and the file need
    not be walked again); None: the writer reads the file."""
    if not isinstance(source, Instance):
        return Path(source), None
    encoded = source.encoded_header()
    if encoded is None:
        return source.path, None
    blob, meta, preamble_warning = encoded
    return source.path, RawHeader(_split(blob), _split(meta), False, True, preamble_warning)


def _split(blob: bytes) -> dict[int, bytes]:
    """Elements encoded one after another in Explicit VR Little Endian (PS3.5 7.1.2), each with its bytes,
    by tag, those up to (0028,0008) *Number of Frames* (the last a record needs) only."""
    elements, at, end = {}, 0, len(blob)
    while at + 8 <= end:
        group, number, vr, short = _ELEMENT_HEAD.unpack_from(blob, at)
        if vr in _LONG_VRS:
            length, start = _LONG_LENGTH.unpack_from(blob, at + 8)[0], at + 12
        else:
            length, start = short, at + 8
        if group <= 0x0028:
            elements[group << 16 | number] = blob[at : start + length]
        at = start + length
    return elements


def _copy(source: str, destination: str, references: bool) -> tuple[bytes | None, int]:
    """One file's bytes copied in the kernel (copy_file_range: a shared-extent clone on file systems that
    make one, as cp does), never over an existing file; with `references`, the file's (0008,1140)
    *Referenced Image Sequence* as encoded, read from the same descriptor (None when it has none); and
    the file's size."""
    fd_in = os.open(source, os.O_RDONLY)
    try:
        found = referenced_images(Source.from_descriptor(fd_in, _HEAD_BYTES)) if references else None
        size = os.fstat(fd_in).st_size
        fd_out = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            offset = 0
            try:
                while offset < size:
                    done = os.copy_file_range(fd_in, fd_out, size - offset, offset, offset)
                    if done == 0:
                        break
                    offset += done
            except (OSError, AttributeError) as exc:  # no copy_file_range here (another system, another file system)
                if isinstance(exc, OSError) and exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                while chunk := os.pread(fd_in, 1 << 20, offset):
                    view = memoryview(chunk)
                    while view:
                        written = os.pwrite(fd_out, view, offset)
                        view, offset = view[written:], offset + written
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)
    return found, size


def _referenced_images_quick(data: bytes) -> bytes | None:
    """:func:`referenced_images` on the first bytes of a file, for the common case (a PS3.10 file whose
    group 0008 holds no sequence of undefined length before (0008,1140)): the sequence's bytes, b"" when
    there is none, None when the walker must decide."""
    if data[128:132] != b"DICM" or data[132:136] != b"\x02\x00\x00\x00":
        return None
    at = 144 + _LONG_LENGTH.unpack_from(data, 140)[0]  # after the meta group, its length said by (0002,0000)
    end = len(data)
    while at + 8 <= end:
        group, number, vr, short = _ELEMENT_HEAD.unpack_from(data, at)
        tag = group << 16 | number
        if tag > _REFERENCED_IMAGES:
            return b""
        if vr in _LONG_VRS:
            if at + 12 > end:
                return None
            length, start = _LONG_LENGTH.unpack_from(data, at + 8)[0], at + 12
        else:
            length, start = short, at + 8
        if length == UNDEFINED_LENGTH or start + length > end:
            return None
        if tag == _REFERENCED_IMAGES:
            return bytes(data[at : start + length])
        at = start + length
    return None


def referenced_images(source: Source) -> bytes | None:
    """(0008,1140) *Referenced Image Sequence* of an Explicit VR Little Endian file, as encoded (an IMAGE
    record's Type 1C key in STD-GEN, PS3.11 D.3.3.1); None when the file has none. Only group 0008 is
    walked."""
    quick = _referenced_images_quick(source.data)
    if quick is not None:
        return quick or None
    try:
        meta = read_file_meta(source)
        for element in ElementWalk(source, meta.end, True, False):
            if element.tag < _REFERENCED_IMAGES:
                continue
            if element.tag != _REFERENCED_IMAGES:
                return None
            if element.length == UNDEFINED_LENGTH:
                end = skip_sequence(source, element.value_offset, True, False)
            else:
                end = element.value_offset + element.length
            source.need(end)
            return bytes(source.data[element.offset : end])
    except (Unwalkable, struct.error, OSError):
        return None  # the record goes without it; the file is as it was
    return None


def _write_files(sources, staging: Path, builder: DirectoryBuilder, result: MediaResult, prepare, transcode, cancel, report) -> None:
    """Every source copied or written into `staging`, its records added to `builder`, in the order given.

    One thread: copies on threads were measured slower here (benchmarks/RESULTS.md), the threads fighting
    for the interpreter lock around every system call of a small file.
    """
    numbering = _Numbering()
    seen: dict[str, Path] = {}
    made_folders: set[str] = set()
    scratch = staging / "scratch.dcm"
    root = str(staging)
    for done, source in enumerate(sources):
        if cancel.cancelled:
            return
        report(done, len(sources))
        path, header = _header_of(source)
        if path is None or (isinstance(source, Instance) and source.problem):
            result.problems.append(Problem(f"cannot be written: {getattr(source, 'problem', '') or 'its file is missing'}", path))
            continue
        destination = None
        try:
            entry, copy_from = _one_file(path, header, root, scratch, numbering, seen, made_folders, prepare, transcode)
            destination = os.path.join(root, *entry.file_id)
            if copy_from is not None:
                entry.referenced_images, entry.size = _copy(str(copy_from), destination, entry.record_type == "IMAGE")
            elif entry.record_type == "IMAGE":
                with open(destination, "rb") as f:
                    entry.referenced_images = referenced_images(Source.from_file(f, _HEAD_BYTES))
            if entry.record_type != "IMAGE":
                _leaf_keys(entry, Path(destination), builder)
        except (OSError, ViewerError) as exc:
            if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):  # every further file would fail too
                raise
            if destination is not None:  # no file on the media without its record
                with contextlib.suppress(OSError):
                    os.unlink(destination)
            reason = f"cannot be written ({exc.strerror or exc})" if isinstance(exc, OSError) else str(exc.args[0])
            result.problems.append(Problem(reason, path))
            continue
        seen[entry.sop_instance_uid] = path
        builder.add(entry)
        result.written += 1
        result.size += entry.size
        if copy_from is None:
            result.rewritten += 1
        else:
            result.copied += 1


def _leaf_keys(entry: FileEntry, file: Path, builder: DirectoryBuilder) -> None:
    """The keys of a record other than IMAGE (an SR, a presentation state...), from the whole header."""
    from pydicom.fileset import DIRECTORY_RECORDERS

    from viewer.core.dicom.io import read_header

    recorder = DIRECTORY_RECORDERS.get(entry.record_type)
    if recorder is None:
        return
    ds = read_header(file)
    ordinal = builder.instances_in(entry.header.uid(0x0020000E)) + 1
    try:
        entry.leaf, invented = leaf_record_keys(ds, entry.record_type, recorder, ordinal)
    except (ValueError, KeyError, AttributeError) as exc:
        raise ViewerError(f"cannot be written: its {entry.record_type} record needs what the file lacks ({exc})") from None
    builder.invented.extend(f"{keyword} of {entry.sop_instance_uid}" for keyword in invented)


def _one_file(
    path: Path, header: RawHeader | None, root: str, scratch: Path, numbering: _Numbering, seen, made_folders, prepare, transcode
) -> tuple[FileEntry, Path | None]:
    """One source placed: its entry, and the file to copy to its place (None: written there already)."""
    if header is None:
        header = read_raw_header(path)  # ViewerError: not DICOM, unreadable
    if header.media_storage_sop_class() == MEDIA_DIRECTORY_SOP_CLASS:
        raise ViewerError("cannot be written: it is a DICOMDIR (the media's own is written anew)")
    syntax = header.meta.get(0x00020010) if header.meta else None
    syntax_uid = syntax[8:].decode("ascii", "replace").strip("\x00 ") if syntax else ""
    needs_rewrite = prepare is not None or syntax_uid != ExplicitVRLittleEndian or header.implicit or not header.little
    if not needs_rewrite:
        meta_instance = header.meta.get(0x00020003) if header.meta else None
        if meta_instance is None or meta_instance[8:].decode("ascii", "replace").strip("\x00 ") != header.uid(0x00080018):
            needs_rewrite = True  # a meta header that names another instance is written anew (PS3.10 7.1)
    if needs_rewrite:
        header = rewrite(path, scratch, header, syntax_uid, prepare, transcode)
    uids = [header.uid(tag) for tag, _ in _REQUIRED_UIDS]
    for uid, (_, name) in zip(uids, _REQUIRED_UIDS, strict=True):
        if not uid:
            raise ViewerError(f"cannot be written: it has no {name}")
    instance_uid, class_uid, study_uid, series_uid = uids
    if instance_uid in seen:
        raise ViewerError(f"not written twice: the same instance (SOP Instance UID) as {seen[instance_uid]}")
    modality = (header.value(0x00080060) or b"").decode("ascii", "replace").strip("\x00 ")
    record_type = _record_type(class_uid, modality)
    file_id = numbering.file_id(header, record_type, study_uid, series_uid)
    folder = os.path.join(root, *file_id[:-1])
    if folder not in made_folders:
        os.makedirs(folder, exist_ok=True)
        made_folders.add(folder)
    if needs_rewrite:
        os.replace(scratch, os.path.join(folder, file_id[-1]))
    entry = FileEntry(file_id, header, class_uid, instance_uid, ExplicitVRLittleEndian, record_type)
    if needs_rewrite:
        entry.size = os.stat(os.path.join(folder, file_id[-1])).st_size
    return entry, None if needs_rewrite else path
