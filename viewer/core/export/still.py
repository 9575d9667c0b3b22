"""Still pictures: PNG (lossless, :mod:`viewer.core.display.png`) or JPEG (Pillow), written atomically.

The format is the one asked for, else the output's extension says it
(.png; .jpg or .jpeg). JPEG is lossy: for reading an image again, PNG; for a
slide or a mail, JPEG at :data:`DEFAULT_JPEG_QUALITY` is a fraction of the size.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from viewer.core.dicom.io import ViewerError
from viewer.core.display.png import encode_png
from viewer.core.export import DEFAULT_JPEG_QUALITY
from viewer.core.export.files import write_bytes

FORMATS = ("png", "jpeg")
EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg"}


def format_of(path: str | os.PathLike[str], asked: str | None = None) -> str:
    """'png' or 'jpeg': `asked` ('jpg' accepted), else from `path`'s extension (one-line ViewerError otherwise)."""
    if asked:
        name = asked.lower().lstrip(".")
        name = "jpeg" if name == "jpg" else name
        if name not in FORMATS:
            raise ViewerError(f"unknown picture format '{asked}': choose png or jpeg")
        return name
    found = EXTENSIONS.get(Path(path).suffix.lower())
    if found is None:
        raise ViewerError(f"cannot tell the format of {Path(path).name}: name it .png or .jpg, or give --format png|jpeg")
    return found


def encode_jpeg(pixels: np.ndarray, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    """Baseline JPEG (ISO/IEC 10918-1) of uint8 grey ``(h, w)`` or RGB ``(h, w, 3)``; 4:4:4 chroma, so coloured text stays sharp."""
    from PIL import Image

    if not 1 <= quality <= 100:
        raise ViewerError(f"JPEG quality {quality} is out of range: 1 to 100")
    if pixels.dtype != np.uint8 or pixels.ndim not in (2, 3):
        raise ValueError("encode_jpeg takes uint8 (h, w) or (h, w, 3) arrays")
    image = Image.fromarray(np.ascontiguousarray(pixels), "L" if pixels.ndim == 2 else "RGB")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality, subsampling=0, optimize=True)
    return buffer.getvalue()


def encode_picture(pixels: np.ndarray, fmt: str, quality: int = DEFAULT_JPEG_QUALITY) -> bytes:
    return encode_png(pixels) if fmt == "png" else encode_jpeg(pixels, quality)


def write_picture(
    path: str | os.PathLike[str], pixels: np.ndarray, fmt: str | None = None, quality: int = DEFAULT_JPEG_QUALITY, overwrite: bool = False
) -> Path:
    """`pixels` as PNG or JPEG at `path`, atomically; an existing file only with `overwrite` (ViewerError, one line)."""
    return write_bytes(path, encode_picture(pixels, format_of(path, fmt), quality), overwrite)
