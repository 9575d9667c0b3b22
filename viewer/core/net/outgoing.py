"""One instance on its way out (C-STORE SCU, :mod:`~viewer.core.net.send`): what it is, and its bytes to send.

A C-STORE request carries the dataset without its File Meta Information
(PS3.7 9.3.1.1), in the accepted presentation context's transfer syntax. When
that syntax is the one the file is stored in, the bytes after the meta group
are sent as they are in the file: no decode, no re-encode (that is most of a
storescu's time per instance). Otherwise the file is read with pydicom and
re-encoded: Explicit/Implicit VR Little Endian from another uncompressed or
deflated syntax, or decompressed with the viewer's decoders
(:func:`~viewer.core.display.pixels.decoders.decode_frame`) when the stored
compression is lossless (PS3.5 8.2: a lossless syntax decompresses to the
very pixels that were compressed). Lossy compressed instances are not
decompressed for a node that refuses their syntax: a decompressed copy would
pass for an original (as dcmtk's storescu, whose default is
``--decompress-lossless``). A caller's `prepare` hook (patient reconciliation,
de-identification) gets a copy of the dataset, never the file.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydicom import uid as uids
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError

#: Uncompressed little-endian syntaxes: every node accepts one of them (PS3.5 10.1: Implicit VR LE is the default).
LITTLE_ENDIAN = (uids.ExplicitVRLittleEndian, uids.ImplicitVRLittleEndian)

#: Transfer syntaxes whose pixel data decompresses to exactly what was compressed (PS3.5 8.2, Annex A).
LOSSLESS = frozenset(
    {
        uids.ExplicitVRLittleEndian,
        uids.ImplicitVRLittleEndian,
        uids.ExplicitVRBigEndian,
        uids.DeflatedExplicitVRLittleEndian,
        uids.JPEGLossless,
        uids.JPEGLosslessSV1,
        uids.JPEGLSLossless,
        uids.JPEG2000Lossless,
        uids.RLELossless,
        uids.HTJ2KLossless,
        uids.HTJ2KLosslessRPCL,
    }
)
#: Syntaxes that may hold either (JPEG 2000 and HTJ2K "Image Compression", PS3.5 A.4.4, A.4.11): lossless only when
#: (0028,2110) *Lossy Image Compression* says "00" (PS3.3 C.7.6.1.1.5).
EITHER = frozenset({uids.JPEG2000, uids.HTJ2K})

#: Bytes of a file read to know what it is (its File Meta Information, and the start of its dataset).
_HEAD = 16 * 1024
_SOP_CLASS, _SOP_INSTANCE, _LOSSY = 0x00080016, 0x00080018, 0x00282110


@dataclass
class Outgoing:
    """A file to send: its SOP class and instance (from the dataset, else the meta group), its stored syntax.

    ``offset`` is where its dataset starts in the file (after the meta
    group; 0 for a file without one), or None when the file must be read by
    pydicom and re-encoded whatever the context (a meta group our walker
    cannot read). ``lossy`` is (0028,2110) *Lossy Image Compression* == "01",
    or None when the file does not say.
    """

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    offset: int | None
    lossy: bool | None = None

    @property
    def syntax_name(self) -> str:
        return uid_name(self.transfer_syntax)

    def decompresses_losslessly(self) -> bool:
        """Whether a node's uncompressed context may receive this instance decompressed."""
        syntax = self.transfer_syntax
        return syntax in LOSSLESS or (syntax in EITHER and self.lossy is False)


def uid_name(uid: str) -> str:
    """A UID's name ("JPEG 2000 Image Compression", "CT Image Storage"), else the UID."""
    return str(getattr(uids.UID(uid), "name", uid) or uid)


def survey(path: str | os.PathLike[str]) -> Outgoing:
    """What a file holds, from its first bytes; raises ViewerError (one line) when it cannot be sent."""
    from viewer.core.dicom.elements import Source, Unwalkable, read_file_meta
    from viewer.core.dicom.structure import top_level_values

    path = Path(path)
    try:
        with open(path, "rb") as f:
            source = Source.from_file(f, _HEAD)
            try:
                meta = read_file_meta(source)
            except Unwalkable:
                meta = None
            except Exception:  # a meta group cut short
                raise ViewerError("its File Meta Information is damaged or cut short", path) from None
    except OSError as exc:
        raise ViewerError(f"cannot be read ({exc.strerror or exc})", path) from None
    if meta is None or not meta.transfer_syntax:
        return _survey_with_pydicom(path, source.data[128:132] != b"DICM")
    syntax = meta.transfer_syntax
    values: dict[int, bytes] = {}
    if not uids.UID(syntax).is_deflated:
        try:
            # (0028,2110) only where it decides (JPEG 2000, HTJ2K): the walk then stops at (0008,0018), near the start.
            wanted = {_SOP_CLASS, _SOP_INSTANCE, _LOSSY} if syntax in EITHER else {_SOP_CLASS, _SOP_INSTANCE}
            values = top_level_values(source.data[meta.end :], syntax, wanted)
        except ValueError:
            values = {}  # the head ends inside a long element before the UIDs: the meta group's say

    def text(tag: int, meta_tag: int) -> str:
        raw = values.get(tag) or _meta_value(meta.elements.get(meta_tag, b""))
        return raw.decode("ascii", "replace").strip("\x00 ")

    sop_class, sop_instance = text(_SOP_CLASS, 0x00020002), text(_SOP_INSTANCE, 0x00020003)
    if not sop_class or not sop_instance:
        raise ViewerError("it has no SOP Class or SOP Instance UID: a PACS cannot store it", path)
    lossy = values.get(_LOSSY, b"").decode("ascii", "replace").strip("\x00 ")
    return Outgoing(path, sop_class, sop_instance, syntax, meta.end, {"01": True, "00": False}.get(lossy))


def _meta_value(element: bytes) -> bytes:
    """The value of an encoded meta element (Explicit VR LE with a 2-byte length: PS3.10 7.1)."""
    return element[8:] if len(element) >= 8 else b""


def _survey_with_pydicom(path: Path, bare: bool) -> Outgoing:
    """A file without a File Meta Information we can walk: a bare dataset (old ACR-NEMA style), or an odd meta group."""
    from viewer.core.dicom.io import read_header

    ds = read_header(path)  # ViewerError when pydicom cannot read it either
    sop_class, sop_instance = str(ds.get("SOPClassUID", "") or ""), str(ds.get("SOPInstanceUID", "") or "")
    if not sop_class or not sop_instance:
        raise ViewerError("it has no SOP Class or SOP Instance UID: a PACS cannot store it", path)
    meta = getattr(ds, "file_meta", None)
    syntax = str(meta.get("TransferSyntaxUID", "") or "") if meta is not None else ""
    if not syntax:
        implicit, little = getattr(ds, "original_encoding", (True, True))
        syntax = uids.ImplicitVRLittleEndian if implicit else (uids.ExplicitVRLittleEndian if little else uids.ExplicitVRBigEndian)
    lossy = {"01": True, "00": False}.get(str(ds.get("LossyImageCompression", "") or ""))
    return Outgoing(path, sop_class, sop_instance, str(syntax), 0 if bare else None, lossy)


#: Datasets larger than this are sent from the file in pieces as they are read, never held whole (a 2 GB multi-frame).
STREAM_ABOVE = 8 * 1024 * 1024


@dataclass
class StoredDataset:
    """The encoded dataset as it lies in the file: `size` bytes from `offset`, to be read as it is sent."""

    path: Path
    offset: int
    size: int


def stored_bytes(outgoing: Outgoing) -> bytes | StoredDataset:
    """The encoded dataset as stored in the file (after its meta group), for a context in its own syntax:
    read whole (one read), or, above :data:`STREAM_ABOVE`, where to read it from as it is sent."""
    try:
        with open(outgoing.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size - (outgoing.offset or 0)
            if size > STREAM_ABOVE:
                return StoredDataset(outgoing.path, outgoing.offset or 0, size)
            f.seek(outgoing.offset or 0)
            return f.read()
    except OSError as exc:
        raise ViewerError(f"cannot be read ({exc.strerror or exc})", outgoing.path) from None


def read_dataset(outgoing: Outgoing) -> Dataset:
    """The whole file as a pydicom dataset (a copy in memory: the file is never written); raises ViewerError."""
    import pydicom

    from viewer.core.dicom.io import read_header, read_image_dataset

    header = read_header(outgoing.path)  # the viewer's checks (truncation, absurd lengths) first
    if "Rows" not in header:  # a report, a PDF, a presentation state: no image to check
        try:
            return pydicom.dcmread(outgoing.path, force=True)
        except Exception as exc:  # pydicom raises many kinds on malformed data
            raise ViewerError(f"malformed DICOM data ({exc})", outgoing.path) from None
    return read_image_dataset(outgoing.path)


def decompress(ds: Dataset, path=None) -> None:
    """Replace encapsulated pixel data by its native encoding, frame after frame, with the viewer's decoders.

    Colour frames come out as RGB, interleaved (pydicom converts YBR; a JPEG
    2000 codestream's reversible colour transform is undone by the codec), so
    (0028,0004) *Photometric Interpretation* becomes RGB and (0028,0006)
    *Planar Configuration* 0 (PS3.3 C.7.6.3.1.3). Offset tables that only
    index compressed fragments go. Raises ViewerError when no decoder reads it.
    """
    import numpy as np

    from viewer.core.dicom.header import number_of_frames
    from viewer.core.display.pixels.decoders import decode_frame

    frames = number_of_frames(ds)
    decoded = [decode_frame(ds, index, path) for index in range(frames)]
    pixels = np.stack(decoded) if frames > 1 else decoded[0]
    allocated = int(ds.get("BitsAllocated") or 8)
    if allocated == 1:
        from pydicom.pixels import pack_bits

        data = pack_bits(pixels, pad=False)
    else:
        data = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<")).tobytes()
    if len(data) % 2:
        data += b"\x00"  # values have even length (PS3.5 7.1.1)
    if int(ds.get("SamplesPerPixel") or 1) == 3:
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    for keyword in ("ExtendedOffsetTable", "ExtendedOffsetTableLengths"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.PixelData = data
    ds["PixelData"].VR = "OW" if allocated > 8 else "OB"
    ds["PixelData"].is_undefined_length = False


#: VRs whose values are words of a fixed size that pydicom keeps as the file's bytes (PS3.5 6.2): swapped
#: from big to little endian by hand. Pixel Data is decoded instead (its word size is Bits Allocated's).
_WORD_SIZES = {"OW": 2, "OL": 4, "OF": 4, "OD": 8, "OV": 8}


def _words_to_little_endian(ds: Dataset) -> None:
    """Swap the bytes of every OW/OL/OF/OD/OV value but Pixel Data (LUT data, overlays, curves: PS3.5 7.3)."""
    import numpy as np

    for element in ds.iterall():
        size = _WORD_SIZES.get(element.VR)
        if size is None or element.tag == 0x7FE00010 or not isinstance(element.value, bytes) or len(element.value) % size:
            continue
        element.value = np.frombuffer(element.value, dtype=f">u{size}").astype(f"<u{size}").tobytes()


def encode(ds: Dataset, transfer_syntax: str) -> bytes:
    """A dataset (without File Meta) encoded in `transfer_syntax`; deflated syntaxes deflated here (PS3.5 A.5)."""
    from viewer.core.net.dimse import encode_identifier

    syntax = uids.UID(transfer_syntax)
    try:
        if syntax.is_deflated:
            data = encode_identifier(ds, uids.ExplicitVRLittleEndian)
            packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -zlib.MAX_WBITS)
            data = packer.compress(data) + packer.flush()
            return data + b"\x00" * (len(data) % 2)
        return encode_identifier(ds, syntax)
    except Exception as exc:  # pydicom raises many kinds on values it cannot write
        raise ViewerError(f"cannot be encoded in {uid_name(syntax)} ({exc})") from None


def payload(outgoing: Outgoing, target: str, prepare: Callable[[Dataset], Dataset] | None) -> tuple[bytes | StoredDataset, str, str, bool]:
    """(dataset bytes, SOP class, SOP instance, transcoded) for a context in `target`.

    The file's own bytes when `target` is its stored syntax and there is no
    `prepare`; else read, prepared, decompressed if `target` is uncompressed
    and the file is not, and encoded. The UIDs are the prepared dataset's
    (a de-identifier gives new ones). Raises ViewerError.
    """
    if prepare is None and target == outgoing.transfer_syntax and outgoing.offset is not None:
        return stored_bytes(outgoing), outgoing.sop_class_uid, outgoing.sop_instance_uid, False
    ds = read_dataset(outgoing)
    if prepare is not None:
        ds = prepare(ds)
    stored, wanted = uids.UID(outgoing.transfer_syntax), uids.UID(target)
    big_to_little = not stored.is_little_endian and wanted.is_little_endian
    if (stored.is_encapsulated or big_to_little) and not wanted.is_encapsulated and "PixelData" in ds:
        decompress(ds, outgoing.path)  # native little-endian pixels, whatever the stored encoding
    if big_to_little:
        _words_to_little_endian(ds)
    data = encode(ds, target)
    sop_class = str(ds.get("SOPClassUID", "") or outgoing.sop_class_uid)
    sop_instance = str(ds.get("SOPInstanceUID", "") or outgoing.sop_instance_uid)
    return data, sop_class, sop_instance, target != outgoing.transfer_syntax
