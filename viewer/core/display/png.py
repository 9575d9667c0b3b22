"""A minimal PNG writer (PNG spec, ISO/IEC 15948) for 8-bit grey and RGB.

Export must not need Qt or an imaging library; zlib and struct suffice.
"""

from __future__ import annotations

import os
import secrets
import struct
import zlib
from pathlib import Path

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes for uint8 ``(h, w)`` grey or ``(h, w, 3)`` RGB."""
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3) or (pixels.ndim == 3 and pixels.shape[2] != 3):
        raise ValueError("encode_png takes uint8 (h, w) or (h, w, 3) arrays")
    height, width = pixels.shape[:2]
    colour_type = 0 if pixels.ndim == 2 else 2
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    raw = np.zeros((height, rows.shape[1] + 1), dtype=np.uint8)  # filter byte 0 per row
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"".join([b"\x89PNG\r\n\x1a\n", _chunk(b"IHDR", header), _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)), _chunk(b"IEND", b"")])


def write_png(path: str | os.PathLike[str], pixels: np.ndarray) -> None:
    """Write a PNG atomically: a temporary file in the same folder, then a rename.

    The temporary file is created with mode 0666 and the kernel applies the
    umask, as for any file a program creates (mkstemp's 0600 would survive the
    rename and leave the export unreadable to the user's group).
    """
    path = Path(path)
    data = encode_png(pixels)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _create_beside(path: Path) -> tuple[int, str]:
    """A new, exclusively created ``.NAME.XXXX.part`` file in `path`'s folder: (descriptor, its path)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(4)}.part")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue
