"""Files written again for a General Purpose CD-R (STD-GEN-CD, PS3.11 Annex D): in Explicit VR Little Endian.

The profile allows that transfer syntax alone. :func:`rewrite` reads a whole file, applies the writer's
`prepare` step (de-identification), and writes it again: Implicit VR and Big Endian re-encoded, deflated
files inflated, compressed pixel data decoded by `transcode` (by default :func:`decompress`, pydicom's own
decoder plugins; a higher layer may pass the viewer's), with a fresh File Meta Information (PS3.10 7.1).
Video is refused: uncompressed, it has no place on such media.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from viewer.core.dicom.header import RawHeader, read_raw_header
from viewer.core.dicom.io import ViewerError
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

#: The Media Storage Application Profile the written file-sets follow (PS3.11 Annex D).
PROFILE = "STD-GEN-CD"
#: Compressed pixel data to Explicit VR Little Endian, in place (raises when it cannot decode).
Transcode = Callable[[Dataset], None]
_VIDEO_SYNTAX_ROOTS = ("1.2.840.10008.1.2.4.10", "1.2.840.10008.1.2.4.11")  # MPEG2, MPEG-4/H.264, HEVC (PS3.5 A.4.5-A.4.8)
#: JPEG Baseline, JPEG Extended and JPEG-LS near-lossless: always lossy (PS3.5 A.4.1, A.4.3). JPEG 2000
#: may be either; what the file says of it is kept.
_ALWAYS_LOSSY = frozenset({"1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81"})


def _syntax_name(uid: str) -> str:
    name = UID(uid).name
    return name if name and name != uid else uid


def decompress(ds: Dataset) -> None:
    """Compressed pixel data decoded in place to Explicit VR Little Endian by pydicom's decoder plugins
    (``Dataset.decompress``: colour JPEG becomes RGB, PS3.3 C.7.6.3.1.2); what was lossy stays marked
    lossy. Raises what the decoders raise."""
    lossy = ds.file_meta.TransferSyntaxUID in _ALWAYS_LOSSY
    # The same instance in another transfer syntax (PS3.5 8.1): its SOP Instance UID stays, so key
    # images and presentation states on the same media still find it (pydicom would make a new one).
    ds.decompress(generate_instance_uid=False)
    if lossy and ds.get("LossyImageCompression") != "01":
        ds.LossyImageCompression = "01"  # PS3.3 C.7.6.1.1.5: once lossy, always said so


def _to_explicit_little(ds: Dataset, transcode: Transcode) -> None:
    """`ds` re-encoded as Explicit VR Little Endian (the transfer syntax of STD-GEN-CD)."""
    syntax = UID(ds.file_meta.get("TransferSyntaxUID") or ExplicitVRLittleEndian)
    if syntax.is_compressed:
        transcode(ds)
    pixels = ds.pixel_array if not syntax.is_little_endian and "PixelData" in ds else None
    # Every element converted from its raw bytes, so pydicom writes it in the new encoding with its
    # VR (from the dictionary when the file had Implicit VR) and in little endian (PS3.5 7.1, 7.3).
    for _ in ds.iterall():
        pass
    if pixels is not None:  # pydicom writes one byte order only: pixel values swapped through numpy
        ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
        ds["PixelData"].VR = "OW" if pixels.dtype.itemsize > 1 else "OB"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.set_original_encoding(False, True)


def _file_meta(ds: Dataset) -> None:
    """A File Meta Information header for a file written again (PS3.10 7.1)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.file_meta = meta


def rewrite(path: Path, scratch: Path, header: RawHeader, syntax_uid: str, prepare, transcode) -> RawHeader:
    """`path` read whole, prepared, re-encoded as Explicit VR Little Endian into `scratch`: its header."""
    from pydicom import dcmwrite

    from viewer.core.dicom.io import read_dataset

    if syntax_uid.startswith(_VIDEO_SYNTAX_ROOTS):
        raise ViewerError(f"cannot be written: {_syntax_name(syntax_uid)} video has no uncompressed form on {PROFILE} media")
    ds = read_dataset(path)
    if prepare is not None:
        try:
            ds = prepare(ds)
        except ViewerError:
            raise
        except Exception as exc:
            raise ViewerError(f"cannot be written: de-identification failed ({exc})") from None
    if "SOPInstanceUID" not in ds or "SOPClassUID" not in ds:
        raise ViewerError(
            "cannot be written: it has no "
            + ("SOP Instance UID (0008,0018)" if "SOPInstanceUID" not in ds else "SOP Class UID (0008,0016)")
        )
    if getattr(ds, "file_meta", None) is None or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = syntax_uid or ("1.2.840.10008.1.2" if header.implicit else ExplicitVRLittleEndian)
    try:
        with warnings.catch_warnings():  # pydicom's remarks on the source's values (a UID too long...): not ours to fix
            warnings.simplefilter("ignore", UserWarning)
            _to_explicit_little(ds, transcode)
    except Exception as exc:  # the decoders' own errors: one line
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
        first = "; ".join(lines[1:2] if len(lines) > 1 and lines[0].endswith(":") else lines[:1])
        raise ViewerError(f"cannot be written: its {_syntax_name(syntax_uid)} pixel data could not be decoded ({first})") from None
    _file_meta(ds)
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            dcmwrite(buffer, ds, enforce_file_format=True)
    except Exception as exc:
        raise ViewerError(f"cannot be written: pydicom could not encode it ({exc})") from None
    scratch.write_bytes(buffer.getvalue())
    return read_raw_header(scratch)
