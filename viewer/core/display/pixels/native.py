"""Uncompressed single-frame pixel data read straight from its file offset.

For the commonest files on disk and CD -- one greyscale or palette frame,
native little-endian (PS3.5 8.1.1) -- the pixel values are simply the last
Rows x Columns x BitsAllocated/8 bytes of the file, behind a (7FE0,0010)
element header. Reading them with one ``readinto`` into an array (or straight
into a preallocated volume) skips pydicom's parse and decode entirely; the
result equals ``pydicom.pixels.pixel_array`` (same dtype, unused high bits
cleared or sign-extended as pydicom does, PS3.5 8.1.1). Anything else
returns None and goes through pydicom.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from viewer.core.display.pixels.decoders import number_of_frames

_NATIVE_LITTLE = {ImplicitVRLittleEndian, ExplicitVRLittleEndian}
_PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"
_O_BINARY = getattr(os, "O_BINARY", 0)
_HAS_PREADV = hasattr(os, "preadv")


@dataclass(frozen=True)
class NativeLayout:
    """Where and how one native frame is stored."""

    rows: int
    columns: int
    dtype: np.dtype
    bits_stored: int
    implicit: bool

    @property
    def nbytes(self) -> int:
        return self.rows * self.columns * self.dtype.itemsize


def native_layout(header: Dataset) -> NativeLayout | None:
    """The layout if `header` describes a frame this module can read, else None."""
    try:
        meta = getattr(header, "file_meta", None)
        syntax = str(meta.get("TransferSyntaxUID", "")).rstrip("\x00 ") if meta is not None else ""
        if syntax not in _NATIVE_LITTLE:
            return None
        if int(header.get("SamplesPerPixel", 1) or 1) != 1 or number_of_frames(header) != 1:
            return None
        photometric = str(header.get("PhotometricInterpretation", "")).strip().upper()
        if photometric not in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"):
            return None
        allocated = int(header.BitsAllocated)
        stored = int(header.get("BitsStored") or allocated)
        signed = int(header.get("PixelRepresentation", 0) or 0) == 1
        if allocated not in (8, 16, 32) or not 1 <= stored <= allocated:
            return None
        if int(header.Rows) <= 0 or int(header.Columns) <= 0:
            return None  # an empty frame: the decoder path says why (tests/robustness)
        dtype = np.dtype(f"<{'i' if signed else 'u'}{allocated // 8}")
        return NativeLayout(int(header.Rows), int(header.Columns), dtype, stored, syntax == ImplicitVRLittleEndian)
    except (AttributeError, TypeError, ValueError, KeyError):
        return None


def _check_element_header(head: bytes, layout: NativeLayout) -> bool:
    """The 8 or 12 bytes before the values must be (7FE0,0010) with this length."""
    n = layout.nbytes
    if layout.implicit:
        return head[-8:-4] == _PIXEL_DATA_TAG and struct.unpack("<L", head[-4:])[0] == n
    if head[0:4] == _PIXEL_DATA_TAG and head[4:6] in (b"OW", b"OB") and struct.unpack("<L", head[8:12])[0] == n:
        return True
    return False


def read_native_into(
    path: str | os.PathLike[str], layout: NativeLayout, out: np.ndarray, clean: bool = True, offset: int | None = None
) -> bool:
    """Read the frame of `path` into `out` (shape rows x columns); False if not where expected.

    `offset`, where the value of Pixel Data starts if known (the file's
    structure read already), saves asking the file's size; the element's
    header before it is checked all the same.

    `clean` False leaves the bits above Bits Stored as they are in the file:
    the caller then applies :func:`clear_unused_bits` itself (a volume does
    it once for a run of slices).

    Where the system has ``preadv``, the element header and the values come
    in one call, the values straight into `out` (no intermediate buffer, no
    file object): a volume reads a thousand slices this way.
    """
    view = memoryview(out.reshape(-1).view(np.uint8))
    header_len = 8 if layout.implicit else 12
    fd = os.open(path, os.O_RDONLY | _O_BINARY)
    try:
        start = os.fstat(fd).st_size - layout.nbytes if offset is None else offset
        if start < 132 + header_len:
            return False
        head = bytearray(header_len)
        if _HAS_PREADV:
            read = os.preadv(fd, [head, view], start - header_len) - header_len
        else:
            os.lseek(fd, start - header_len, os.SEEK_SET)
            with open(fd, "rb", buffering=0, closefd=False) as f:
                read = f.readinto(head) - header_len + f.readinto(view)
        if read != layout.nbytes or not _check_element_header(bytes(head), layout):
            # Something follows the pixel data (Data Set Trailing Padding, a
            # signature): find the element by walking the header instead.
            from viewer.core.dicom.structure import pixel_data_position

            position = pixel_data_position(path)
            if position is None or position[1] < layout.nbytes:
                return False
            os.lseek(fd, position[0], os.SEEK_SET)
            with open(fd, "rb", buffering=0, closefd=False) as f:
                if f.readinto(view) != layout.nbytes:
                    return False
    finally:
        os.close(fd)
    if clean:
        clear_unused_bits(out, layout)
    return True


def clear_unused_bits(arr: np.ndarray, layout: NativeLayout) -> None:
    """Values may carry garbage above Bits Stored (PS3.5 8.1.1): do as pydicom does.

    `arr` is any number of frames of this layout: on values without such
    bits it changes nothing, so a run of frames is cleaned in one pass.
    """
    shift = layout.dtype.itemsize * 8 - layout.bits_stored
    if not shift:
        return
    if layout.dtype.kind == "u":
        if int(arr.max()) >> layout.bits_stored:
            np.bitwise_and(arr, (1 << layout.bits_stored) - 1, out=arr)
    else:
        lo, hi = -(1 << (layout.bits_stored - 1)), (1 << (layout.bits_stored - 1)) - 1
        if int(arr.min()) < lo or int(arr.max()) > hi:
            np.left_shift(arr, shift, out=arr)
            np.right_shift(arr, shift, out=arr)


def read_native_frame(path: str | os.PathLike[str], header: Dataset) -> np.ndarray | None:
    """The stored values of a native single-frame file, or None when not applicable."""
    layout = native_layout(header)
    if layout is None:
        return None
    try:
        if layout.nbytes > os.path.getsize(path):
            # Rows x Columns claims more than the file holds: never allocate
            # from the claim (65535 x 65535 x 2 is 8 GB); the decoder path
            # refuses it with a reason (tests/robustness).
            return None
    except OSError:
        return None
    out = np.empty((layout.rows, layout.columns), dtype=layout.dtype)
    return out if read_native_into(path, layout, out) else None


def _layout_key(header: Dataset) -> tuple:
    """The raw bytes that decide a layout: slices of one series share them."""
    meta = getattr(header, "file_meta", None)
    values = []
    for ds, tag in (
        (meta, 0x00020010),
        (header, 0x00280002),
        (header, 0x00280004),
        (header, 0x00280008),
        (header, 0x00280010),
        (header, 0x00280011),
        (header, 0x00280100),
        (header, 0x00280101),
        (header, 0x00280103),
    ):
        if ds is None or tag not in ds:
            values.append(None)
            continue
        value = ds.get_item(tag).value
        values.append(value if isinstance(value, (bytes, str, int)) else str(value))
    return tuple(values)


def load_volume(paths: list[Path], headers: list[Dataset], cancel=lambda: False, threads: int = 4) -> np.ndarray:
    """Stored values of a series of single-frame files as one (slices, rows, columns) array.

    Slices are read straight into a preallocated volume by a few threads
    (``readinto`` releases the GIL, so reads and page faults overlap); a
    slice that does not fit the fast path (compressed, different size) goes
    through pydicom. Raises ViewerError for a slice that cannot be read.
    """
    from concurrent.futures import ThreadPoolExecutor

    from viewer.core.dicom.io import ViewerError, read_image_dataset
    from viewer.core.display.pixels.decoders import decode_frame

    layouts: dict[tuple, NativeLayout | None] = {}

    def layout_of(header: Dataset) -> NativeLayout | None:
        key = _layout_key(header)
        if key not in layouts:
            layouts[key] = native_layout(header)
        return layouts[key]

    first = layout_of(headers[0])
    if first is None:
        sample = decode_frame(read_image_dataset(paths[0]), 0, paths[0])
        shape, dtype = sample.shape, sample.dtype
    else:
        shape, dtype = (first.rows, first.columns), first.dtype
    volume = np.empty((len(paths), *shape), dtype=dtype)
    slices = [(i, path, layout_of(header)) for i, (path, header) in enumerate(zip(paths, headers))]

    def read(item) -> None:
        i, path, layout = item
        if cancel():
            return
        if (
            layout is not None
            and (layout.rows, layout.columns) == shape
            and layout.dtype == dtype
            and read_native_into(path, layout, volume[i])
        ):
            return
        arr = decode_frame(read_image_dataset(path), 0, path)
        if arr.shape != shape:
            raise ViewerError(f"slice size {arr.shape} differs from the series' {shape}", path)
        volume[i] = arr

    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="viewer-volume") as pool:
        for _ in pool.map(read, slices):
            pass
    return volume
