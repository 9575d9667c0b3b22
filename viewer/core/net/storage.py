"""Receiving instances: atomic writes into the cache (for C-GET and the C-MOVE Storage SCP, storage_scp.py).

Whatever arrives over the network is written only inside the cache, under
names made from UIDs that were checked to be UIDs (digits and dots, at most
64 characters: PS3.5 9.1), never from anything else the peer sends. Each
file is written under a temporary name and renamed when complete, so a
cancelled or broken transfer leaves no half file. The encoded dataset is
written as received (no decode and re-encode).
"""

from __future__ import annotations

import os
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from pydicom import uid

from viewer.core.media.cache import STAGING, series_folder, valid_uid
from viewer.core.net.dimse import SUCCESS

#: C-STORE statuses (PS3.4 B.2.3), besides success (dimse.SUCCESS)
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
NOT_AUTHORISED = 0x0124  # "Refused: Not Authorized" (PS3.7 C.5.22)


#: Transfer syntaxes the viewer reads (README: "Decoders and licences"), received as they are: uncompressed first.
UNCOMPRESSED_SYNTAXES = (uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian)
TRANSFER_SYNTAXES = UNCOMPRESSED_SYNTAXES + (
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.RLELossless,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
    uid.DeflatedExplicitVRLittleEndian,
    uid.ExplicitVRBigEndian,
)


#: Bytes of the start of a dataset kept in memory to read its Study and Series UIDs from.
_HEAD = 64 * 1024


class IncomingInstance:
    """One instance being received, written to a temporary file as its fragments arrive.

    Made by :meth:`InstanceWriter.begin`; its ``write`` takes each fragment
    of the encoded dataset (bytes-like, used only during the call), and
    :meth:`InstanceWriter.finish` decides where the file goes. A write error
    is kept and reported by ``finish``; the data is then only consumed.
    """

    def __init__(self, sop_class_uid: str, sop_instance_uid, transfer_syntax: str):
        self.sop_class_uid = sop_class_uid
        self.sop_instance_uid = sop_instance_uid
        self.transfer_syntax = str(transfer_syntax)
        self.fd: int | None = None
        self.path: str | None = None
        self.head: list[bytes] = []
        self.head_size = 0
        self.header_size = 0  # preamble and File Meta Information: where the dataset starts in the file
        self.error: OSError | None = None

    def write(self, fragment) -> None:
        if self.head_size < _HEAD:
            kept = bytes(fragment[: _HEAD - self.head_size])
            self.head.append(kept)
            self.head_size += len(kept)
        if self.fd is None:
            return
        try:
            _write_fully(self.fd, fragment)
        except OSError as exc:
            self.error = exc
            self.discard()

    def discard(self) -> None:
        """Close and delete the temporary file."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None


@dataclass
class InstanceWriter:
    """Writes received instances into ``root/<study>/<series>/<sop>.dcm``.

    ``expected`` limits what is accepted: a set of (study UID, series UID or
    None for the whole study). Thread-safe; counts what it wrote and refused.

    An instance is written as it arrives (:meth:`begin`, ``write``,
    :meth:`finish`) into a temporary file under ``root/.incoming`` and
    renamed into its series folder once complete, so a cancelled or broken
    transfer leaves no half file where the viewer looks. The temporary file
    for the next instance can be made ahead (:meth:`prepare`), while the peer
    is still sending.
    """

    root: Path
    expected: set[tuple[str, str | None]] | None = None
    written: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    last_activity: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._lock = threading.Lock()
        self._folders: set[Path] = set()  # made already
        self._temporary: set[str] = set()  # files of ours not yet renamed into place
        self._receiving: set[IncomingInstance] = set()  # begun, not finished (closed by remove_partials)
        self._spare: tuple[int, str] | None = None

    def accepts(self, study_uid: str, series_uid: str) -> bool:
        if self.expected is None:
            return True
        return (study_uid, series_uid) in self.expected or (study_uid, None) in self.expected

    def store(self, sop_class_uid: str, sop_instance_uid, transfer_syntax: str, dataset: list) -> int:
        """Write one received instance given whole (its encoded dataset in pieces); returns the C-STORE status."""
        incoming = self.begin(sop_class_uid, sop_instance_uid, transfer_syntax)
        for piece in dataset:
            incoming.write(piece)
        return self.finish(incoming)

    def prepare(self) -> None:
        """Make the temporary file for the next instance now (creating a file can take longer than writing it)."""
        with self._lock:
            if self._spare is not None:
                return
        try:
            spare = self._make_temporary()
        except OSError:
            return  # begin() will try again and report it
        with self._lock:
            if self._spare is None:
                self._spare = spare
                return
        os.close(spare[0])
        self._forget(spare[1])

    def begin(self, sop_class_uid: str, sop_instance_uid, transfer_syntax: str) -> IncomingInstance:
        """Start receiving an instance: its File Meta Information header goes first.

        The encoded dataset follows as received (no decode, no re-encoding: for
        a 512x512 CT a third of the time that decoding it and pydicom's File
        Meta writer took).
        """
        self.last_activity = time.monotonic()
        incoming = IncomingInstance(sop_class_uid, sop_instance_uid, transfer_syntax)
        sop_uid = valid_uid(sop_instance_uid)
        if not sop_uid:
            return incoming  # refused by finish(); the data is only consumed
        try:
            with self._lock:
                spare, self._spare = self._spare, None
                self._receiving.add(incoming)
            incoming.fd, incoming.path = spare or self._make_temporary()
            header = b"\x00" * 128 + b"DICM" + file_meta_bytes(sop_class_uid, sop_uid, incoming.transfer_syntax)
            _write_fully(incoming.fd, header)
            incoming.header_size = len(header)
        except OSError as exc:
            incoming.error = exc
            incoming.discard()
        return incoming

    def finish(self, incoming: IncomingInstance) -> int:
        """Check the instance that arrived and move it into place; returns the C-STORE status.

        Only the UIDs it needs are read from the dataset. Statuses (PS3.4
        B.2.3): 0xC000 for an unreadable dataset or invalid UIDs, 0x0124 for
        an instance not asked for, 0xA700 when it could not be written.
        """
        self.last_activity = time.monotonic()
        try:
            return self._finish(incoming)
        finally:
            if incoming.path is not None:  # not renamed into place
                self._forget(incoming.path)
            incoming.discard()
            with self._lock:
                self._receiving.discard(incoming)

    def _finish(self, incoming: IncomingInstance) -> int:
        if incoming.fd is not None:
            os.close(incoming.fd)
            incoming.fd = None
        sop_uid = valid_uid(incoming.sop_instance_uid)
        try:
            study_uid, series_uid = study_and_series(incoming.head, incoming.transfer_syntax)
            if incoming.head_size >= _HEAD and not (study_uid and series_uid) and incoming.path and not incoming.error:
                with open(incoming.path, "rb") as f:  # UIDs beyond the head kept in memory: read the file
                    f.seek(incoming.header_size)
                    study_uid, series_uid = study_and_series([f.read()], incoming.transfer_syntax)
        except Exception:  # a dataset we cannot parse is refused, not a crash
            self.refuse("an instance whose dataset cannot be read")
            return CANNOT_UNDERSTAND
        if not (sop_uid and study_uid and series_uid):
            self.refuse(f"an instance with invalid UIDs ({incoming.sop_instance_uid!s:.70})")
            return CANNOT_UNDERSTAND
        if not self.accepts(study_uid, series_uid):
            self.refuse(f"{sop_uid}: not part of what was asked for")
            return NOT_AUTHORISED
        folder = series_folder(self.root, study_uid, series_uid)
        try:
            if incoming.error is not None:
                raise incoming.error
            if folder not in self._folders:
                folder.mkdir(parents=True, exist_ok=True)
                self._folders.add(folder)
            target = folder / f"{sop_uid}.dcm"
            os.replace(incoming.path, target)
        except OSError as exc:
            self._folders.discard(folder)
            self.refuse(f"{sop_uid}: cannot be written ({exc.strerror or exc})")
            return OUT_OF_RESOURCES
        self._forget(incoming.path)
        incoming.path = None
        with self._lock:
            self.written.append(target)
        return SUCCESS

    def _make_temporary(self) -> tuple[int, str]:
        staging = self.root / STAGING
        if staging not in self._folders:
            staging.mkdir(parents=True, exist_ok=True)
            self._folders.add(staging)
        fd, path = tempfile.mkstemp(prefix=".", suffix=".part", dir=staging)
        with self._lock:
            self._temporary.add(path)
        return fd, path

    def _forget(self, path: str) -> None:
        with self._lock:
            self._temporary.discard(path)

    def refuse(self, reason: str) -> None:
        with self._lock:
            self.refused.append(reason)

    def remove_partials(self) -> None:
        """Delete this writer's temporary files (an interrupted write, the spare), and the staging folder if empty."""
        with self._lock:
            spare, self._spare = self._spare, None
            leftovers, self._temporary = set(self._temporary), set()
            receiving, self._receiving = set(self._receiving), set()
        if spare is not None:
            os.close(spare[0])
        for incoming in receiving:  # a transfer broken off in the middle of an instance
            incoming.discard()
        for path in leftovers:
            try:
                os.unlink(path)
            except OSError:
                pass
        try:
            (self.root / STAGING).rmdir()
        except OSError:
            pass  # not empty (another retrieve is using it) or gone


_STUDY_UID, _SERIES_UID = 0x0020000D, 0x0020000E


def _write_fully(fd: int, data) -> None:
    """Write all of the bytes-like `data` (os.write may write less than it was given)."""
    view = memoryview(data).cast("B")
    while view:
        view = view[os.write(fd, view) :]


def _deflated(transfer_syntax: str) -> bool:
    """Whether the dataset is deflated: Deflated Explicit VR Little Endian and JPIP Referenced Deflate
    (PS3.5 A.5, A.6). pydicom's ``UID.is_deflated`` leaves out the JPIP one, which it names but has no constant for."""
    syntax = uid.UID(transfer_syntax)
    return syntax.is_deflated or syntax.keyword == "JPIPReferencedDeflate"


def study_and_series(dataset: list, transfer_syntax: str) -> tuple[str | None, str | None]:
    """(0020,000D) *Study* and (0020,000E) *Series Instance UID* of an encoded dataset, checked.

    `dataset` is the encoded dataset in pieces (as its P-DATA fragments
    came). Reads only up to (0020,000E) (elements come in tag order, PS3.5
    7.1), from the first piece when it holds them, else from the whole; a
    deflated dataset is inflated first.
    """
    transfer_syntax = str(transfer_syntax)
    if _deflated(transfer_syntax):
        import zlib

        inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        dataset = [b"".join(inflate.decompress(piece) for piece in dataset)]
    found = {}
    if dataset:
        try:
            found = _uids_in(dataset[0], transfer_syntax)
        except Exception:  # the first piece may end inside an element
            found = {}
    if len(found) < 2 and len(dataset) > 1:
        found = _uids_in(b"".join(dataset), transfer_syntax)
    return valid_uid(found.get(_STUDY_UID)), valid_uid(found.get(_SERIES_UID))


def _uids_in(data, transfer_syntax: str) -> dict:
    from viewer.core.dicom.structure import top_level_values

    values = top_level_values(data, transfer_syntax, {_STUDY_UID, _SERIES_UID})
    return {tag: value.decode("ascii", "replace") for tag, value in values.items()}


def _element(group_element: int, vr: bytes, value: bytes) -> bytes:
    """One Explicit VR Little Endian element (PS3.5 7.1.2); OB has a 4-byte length."""
    tag = struct.pack("<HH", group_element >> 16, group_element & 0xFFFF)
    if vr == b"OB":
        return tag + vr + b"\x00\x00" + struct.pack("<L", len(value)) + value
    return tag + vr + struct.pack("<H", len(value)) + value


def _uid(text: str) -> bytes:
    data = text.encode("ascii")
    return data + b"\x00" * (len(data) % 2)  # UI pads with NULL (PS3.5 6.2)


def file_meta_bytes(sop_class_uid: str, sop_instance_uid: str, transfer_syntax_uid: str) -> bytes:
    """The encoded File Meta Information (PS3.10 7.1) of a received instance.

    Group 0002 in Explicit VR Little Endian: (0002,0000) group length,
    (0002,0001) version 00\\01, (0002,0002)/(0002,0003) *Media Storage SOP
    Class/Instance UID* from the C-STORE request, (0002,0010) the context's
    *Transfer Syntax UID*, (0002,0012)/(0002,0013) this program's *Implementation
    Class UID* and *Implementation Version Name* (it writes the file). Encoded by hand: pydicom's writer takes longer than
    writing the 0.5 MB that follows it.
    """
    from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

    version = IMPLEMENTATION_VERSION_NAME.encode("ascii")
    version += b" " * (len(version) % 2)  # SH pads with a space
    body = b"".join(
        (
            _element(0x00020001, b"OB", b"\x00\x01"),
            _element(0x00020002, b"UI", _uid(sop_class_uid)),
            _element(0x00020003, b"UI", _uid(sop_instance_uid)),
            _element(0x00020010, b"UI", _uid(transfer_syntax_uid)),
            _element(0x00020012, b"UI", _uid(IMPLEMENTATION_CLASS_UID)),
            _element(0x00020013, b"SH", version),
        )
    )
    return _element(0x00020000, b"UL", struct.pack("<L", len(body))) + body
