"""De-identified copies of many files in an output folder (``dicom-viewer anonymize``, File > De-identify...).

Each file is read, optionally blacked out (:mod:`~viewer.core.deidentify.burned_in`), de-identified and
written to ``OUTDIR/<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm`` under its new UIDs,
so no file or folder name carries anything from the original. Writes are atomic (a temporary name in the
same folder, then a rename); the sources are only read, and an output folder that is a source folder (or
inside one) is refused. A file that cannot be read or written gets a one-line reason and the run goes on.
Files are spread over the shared worker processes (:mod:`viewer.core.runtime.processes`) in chunks; every
worker replaces UIDs the same way because the replacement is a keyed hash (:mod:`~viewer.core.deidentify.key`).
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from viewer.core.deidentify.burned_in import Rectangle, black_out, burned_in_reason, reason_from
from viewer.core.deidentify.deidentifier import Deidentifier
from viewer.core.deidentify.encoded import EncodedDeidentifier, NotHere
from viewer.core.deidentify.key import DeidentificationKey
from viewer.core.deidentify.options import DeidentifyOptions
from viewer.core.dicom.io import Problem, ViewerError, read_dataset
from viewer.core.runtime.tasks import CancelToken, rare_garbage_collection

#: PS3.4 F.4: the Media Storage Directory SOP Class: a DICOMDIR indexes files, it is no instance to copy.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
CHUNK = 50
#: (options, salt, bytes path) -> (Deidentifier, EncodedDeidentifier or None): the current run's, per process.
_REWRITERS: dict = {}


@dataclass
class RunResult:
    """What a run did: files written, files refused (one line each), instances whose pixels need a look."""

    written: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    burned_in: list[tuple[Path, str]] = field(default_factory=list)
    blacked_out: int = 0
    cancelled: bool = False


def collect_files(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named and those under the folders named (recursively, hidden ones left out), each once, sorted."""
    seen: dict[Path, None] = {}
    for entry in inputs:
        path = Path(entry)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        seen.setdefault(Path(root) / name, None)
        else:
            seen.setdefault(path, None)
    return list(seen)


def check_output_folder(output: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]]) -> Path:
    """`output`, resolved, unless it is a source folder or inside one, the folder of a source file, or a folder
    holding sources (ViewerError): nothing written can land on a source."""
    out = Path(output).resolve()
    for entry in inputs:
        source = Path(entry).resolve()
        folder = source if source.is_dir() else source.parent
        if out == folder or (source.is_dir() and folder in out.parents):
            raise ViewerError(f"the output folder {out} is a source folder or inside one: choose a folder outside the sources")
        if out in source.parents:  # with --keep-uids a copy's name could be its source's own
            raise ViewerError(f"the sources are inside the output folder {out}: choose a folder outside the sources")
    if out.exists() and not out.is_dir():
        raise ViewerError(f"{out} exists and is not a folder")
    return out


class OutputFolder:
    """Writes the copies under one folder: each atomically (a temporary name of this process in the same folder,
    then a rename), each folder made once. Plain ``os`` calls: per file, the calls are most of the cost."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = os.fspath(root)
        self.made: set[str] = set()
        self.prefix = f".deid-{os.getpid()}-"
        self.count = itertools.count()

    def target(self, study, series, instance) -> str:
        """``ROOT/<Study Instance UID>/<Series Instance UID>/<SOP Instance UID>.dcm`` (the copy's new UIDs)."""
        return os.path.join(self.root, _name(study), _name(series), _name(instance) + ".dcm")

    def write(self, data: bytes, target: str) -> None:
        folder = os.path.dirname(target)
        if folder not in self.made:
            os.makedirs(folder, exist_ok=True)
            self.made.add(folder)
        temporary = os.path.join(folder, f"{self.prefix}{next(self.count)}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.close(fd)
            fd = -1
            os.replace(temporary, target)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


def deidentify_file(
    path: str,
    output: OutputFolder,
    deidentifier: Deidentifier,
    rectangles: list[Rectangle] | None = None,
    encoded: EncodedDeidentifier | None = None,
) -> tuple[str, str | None, bool]:
    """One file: (the copy written, why its pixels need a look or None, whether rectangles were blacked out).

    With `encoded` (made from the same `deidentifier`), the file is rewritten as bytes when it can be
    (:mod:`~viewer.core.deidentify.encoded`: the same result, several times faster); otherwise, and for a
    blackout, it is read into a pydicom Dataset.
    """
    if encoded is not None and not encoded.refused:
        done = _deidentify_encoded(path, output, encoded, rectangles)
        if done is not None:
            return done
    ds = read_dataset(path)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and str(meta.get("MediaStorageSOPClassUID", "")) == DICOMDIR_SOP_CLASS:
        raise ViewerError("a DICOMDIR (an index of the media, naming the patients): not copied", path)
    reason = burned_in_reason(ds)
    cleaned = False
    if rectangles and reason:
        try:
            cleaned = black_out(ds, rectangles)
        except Exception as exc:  # a decoder's failure on a malformed code stream may be anything
            raise ViewerError(f"its pixels cannot be decoded for the blackout ({exc})", path) from None
    copy = deidentifier(ds, pixels_cleaned=cleaned)
    import pydicom

    encoded_copy = io.BytesIO()
    pydicom.dcmwrite(encoded_copy, copy, enforce_file_format=bool(copy.get("SOPInstanceUID")))
    target = output.target(copy.get("StudyInstanceUID"), copy.get("SeriesInstanceUID"), copy.get("SOPInstanceUID"))
    output.write(encoded_copy.getvalue(), target)
    return target, (None if cleaned else reason), cleaned


def _deidentify_encoded(path: str, output: OutputFolder, encoded: EncodedDeidentifier, rectangles) -> tuple[str, str | None, bool] | None:
    """:func:`deidentify_file` on the bytes; None when the Dataset path must do it."""
    try:
        data = _read_bytes(path)
        copy, facts = encoded(data)
    except (OSError, NotHere):
        return None  # the Dataset path's reader words the reason, or does what the bytes path leaves
    if facts.get("MediaStorageSOPClassUID") == DICOMDIR_SOP_CLASS:
        raise ViewerError("a DICOMDIR (an index of the media, naming the patients): not copied", path)
    reason = reason_from(
        bool(facts.get("PixelData")), facts.get("BurnedInAnnotation", ""), facts.get("Modality", ""), facts.get("SOPClassUID", "")
    )
    if rectangles and reason:
        return None  # the blackout decodes the pixels: the Dataset path
    target = output.target(facts["new StudyInstanceUID"], facts["new SeriesInstanceUID"], facts["new SOPInstanceUID"])
    output.write(copy, target)
    return target, reason, False


def _read_bytes(path: str) -> bytes:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        size = os.fstat(fd).st_size
        parts = []
        while size > 0:
            part = os.read(fd, size)
            if not part:
                break
            parts.append(part)
            size -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)
    finally:
        os.close(fd)


_UID_NAME = re.compile(r"[0-9.]{1,64}")


def _name(uid) -> str:
    text = str(uid or "").strip()
    return text if _UID_NAME.fullmatch(text) else "unknown"


def deidentify_chunk(
    paths: list[str], output: str, options: dict, salt: bytes, rectangles: list[tuple[int, int, int, int]], on_bytes: bool = True
) -> tuple[list[tuple[str, str | None, str | None, bool]], dict[str, str]]:
    """In a worker process: files -> [(path, written copy or None, problem or burned-in reason, blacked out)], new UIDs.

    The de-identifier is kept between chunks of a run (:data:`_REWRITERS`): what the bytes path learns on the
    first files (which elements it copies as they are) serves the rest.
    """
    cache_key = (tuple(sorted(options.items())), salt, on_bytes)
    made = _REWRITERS.get(cache_key)
    if made is None:
        _REWRITERS.clear()  # another run's
        deidentifier = Deidentifier(DeidentifyOptions(**options), DeidentificationKey(salt))
        made = _REWRITERS[cache_key] = (deidentifier, EncodedDeidentifier(deidentifier) if on_bytes else None)
    deidentifier, encoded = made
    boxes = [Rectangle(*r) for r in rectangles]
    folder = OutputFolder(output)
    with rare_garbage_collection():  # element spans are many small tuples, all garbage by the next file
        results = _each_file(paths, folder, deidentifier, boxes, encoded)
    new_uids, deidentifier.key.uids = deidentifier.key.uids, {}  # each chunk answers with the UIDs it replaced
    return results, new_uids


def _each_file(paths, folder, deidentifier, boxes, encoded) -> list:
    results = []
    for name in paths:
        try:
            target, reason, cleaned = deidentify_file(name, folder, deidentifier, boxes, encoded)
            results.append((name, target, reason, cleaned))
        except ViewerError as exc:
            results.append((name, None, exc.reason, False))
        except Exception as exc:  # pydicom raises many kinds on values it cannot encode; one line per file
            results.append((name, None, f"cannot be de-identified ({exc.__class__.__name__}: {exc})", False))
    return results


def deidentify_files(
    inputs: Iterable[str | os.PathLike[str]],
    output: str | os.PathLike[str],
    options: DeidentifyOptions | None = None,
    key: DeidentificationKey | None = None,
    rectangles: list[Rectangle] | None = None,
    *,
    cancel: CancelToken | None = None,
    progress: Callable[[int, int], None] | None = None,
    parallel: bool | str = False,
    on_bytes: bool = True,
) -> RunResult:
    """De-identify every file of `inputs` (files and folders) into `output`; see the module docstring.

    `key` gathers the UIDs replaced (save it to map them the same way next time). `progress(done, total)`
    is called after each chunk; `cancel` stops between chunks (the files written so far stay). `parallel`
    spreads the chunks over worker processes: True, the shared pool (:mod:`viewer.core.runtime.processes`;
    it takes most of a second to start); "fork", a pool of forked workers for this run only (headless
    commands: a process with no threads). Off by default: see benchmarks/RESULTS.md.
    """
    options = options or DeidentifyOptions()
    key = key or DeidentificationKey()
    sources = list(inputs)
    out = check_output_folder(output, sources)
    files = collect_files(sources)
    out.mkdir(parents=True, exist_ok=True)
    result = RunResult()
    chunks = [[str(p) for p in files[i : i + CHUNK]] for i in range(0, len(files), CHUNK)]
    boxes = [(r.x, r.y, r.width, r.height) for r in rectangles or []]
    arguments = (str(out), options.to_dict(), key.salt, boxes, on_bytes)
    done = 0

    def take(answer) -> None:
        nonlocal done
        rows, uids = answer
        key.uids.update(uids)
        for name, target, note, cleaned in rows:
            if target is None:
                result.problems.append(Problem(note, name))
                continue
            result.written.append(Path(target))
            result.blacked_out += cleaned
            if note:
                result.burned_in.append((Path(name), note))
        done += len(rows)
        if progress is not None:
            progress(done, len(files))

    if parallel and len(chunks) > 1:
        from viewer.core.runtime import processes

        if parallel == "fork":
            forked = processes.fork_pool()
            if forked is not None:
                with forked:
                    _spread(forked, chunks, arguments, take, cancel, result, len(files), lambda: done)
                return result
        else:
            pool = processes.process_pool()
            if pool is not None:
                _spread(pool, chunks, arguments, take, cancel, result, len(files), lambda: done)
                return result
    for chunk in chunks:
        if cancel is not None and cancel.cancelled:
            result.cancelled = True
            break
        take(deidentify_chunk(chunk, *arguments))
    _REWRITERS.clear()  # the salt is the run's secret: not kept past it
    return result


def _spread(pool, chunks, arguments, take, cancel, result, total, done) -> None:
    """The chunks over the pool's workers, a few ahead of the answers; cancel stops handing them out."""
    from concurrent.futures import FIRST_COMPLETED, wait

    pending = set()
    queue = iter(chunks)
    limit = 2 * _workers()
    while True:
        while len(pending) < limit and not (cancel is not None and cancel.cancelled):
            chunk = next(queue, None)
            if chunk is None:
                break
            pending.add(pool.submit(deidentify_chunk, chunk, *arguments))
        if not pending:
            break
        finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
        for future in finished:
            take(future.result())
    if cancel is not None and cancel.cancelled and done() < total:
        result.cancelled = True


def _workers() -> int:
    from viewer.core.runtime.processes import worker_count

    return worker_count()
