"""Text burned into the pixels: which instances need a look before export, and blacking out rectangles.

The profile cleans attributes, not pixels: PS3.15 E.1.1 note 5 leaves burned-in identification to the
de-identifier, and the Clean Pixel Data Option (E.3.1, code 113101) is claimed only when it was removed.
An instance needs attention when Burned In Annotation (0028,0301) is YES, or when it is absent and the
kind of image commonly carries text in its pixels: ultrasound, secondary capture and other captured or
photographed images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from pydicom.dataset import Dataset

# numpy is imported by the blackout, which alone decodes pixels: the byte-level de-identification
# (encoded.py) only asks reason_from, and a headless run then starts without numpy.

#: Modalities whose images commonly carry burned-in text when Burned In Annotation says nothing (PS3.3 C.7.3.1.1.1):
#: ultrasound, secondary capture and other, external camera, endoscopy, general microscopy, document.
TEXT_PRONE_MODALITIES = frozenset({"US", "IVUS", "SC", "OT", "XC", "ES", "GM", "DOC"})
#: PS3.4 B.5: the Secondary Capture Image Storage SOP Classes (1.2.840.10008.5.1.4.1.1.7[.1-.4]).
SECONDARY_CAPTURE_PREFIX = "1.2.840.10008.5.1.4.1.1.7"


def burned_in_reason(ds: Dataset, *, header_only: bool = False) -> str | None:
    """Why this instance's pixels may show identifying text, in a few words; None when nothing suggests it.

    `header_only`: `ds` was read without its pixel data; Rows and Columns then say it is an image.
    """
    if header_only:
        is_image = "Rows" in ds and "Columns" in ds
    else:
        is_image = "PixelData" in ds or "FloatPixelData" in ds or "DoubleFloatPixelData" in ds
    return reason_from(
        is_image, str(ds.get("BurnedInAnnotation", "") or ""), str(ds.get("Modality", "") or ""), str(ds.get("SOPClassUID", ""))
    )


def reason_from(is_image: bool, burned_in_annotation: str, modality: str, sop_class: str) -> str | None:
    """:func:`burned_in_reason` from the values themselves (the encoded path reads them while it walks)."""
    if not is_image:
        return None
    burned = burned_in_annotation.strip().upper()
    if burned == "YES":
        return "Burned In Annotation is YES"
    if burned == "NO":
        return None
    modality = modality.strip().upper()
    if modality in TEXT_PRONE_MODALITIES:
        return f"{modality} image without Burned In Annotation"
    if sop_class.strip().startswith(SECONDARY_CAPTURE_PREFIX):
        return "secondary capture without Burned In Annotation"
    return None


@dataclass(frozen=True)
class Rectangle:
    """A rectangle in pixel coordinates: columns from `x`, rows from `y`, `width` by `height`."""

    x: int
    y: int
    width: int
    height: int

    def __post_init__(self) -> None:
        if min(self.x, self.y) < 0 or min(self.width, self.height) <= 0:
            raise ValueError(f"a rectangle needs x, y >= 0 and a positive size (got {self.x} {self.y} {self.width} {self.height})")


def black_out(ds: Dataset, rectangles: list[Rectangle]) -> bool:
    """Fill `rectangles` of every frame of `ds` with black, in place; True when any pixel was in one.

    Compressed pixel data is decoded first and the dataset becomes Explicit VR Little Endian (pydicom's
    ``decompress``: colour turns RGB); black is the lowest stored value, or the highest for MONOCHROME1
    (PS3.3 C.7.6.3.1.2), so that it shows black in every viewer.
    """
    import numpy as np

    if not rectangles or "PixelData" not in ds:
        return False
    if ds.file_meta.TransferSyntaxUID.is_compressed:
        ds.decompress(generate_instance_uid=False)
    ds.pixel_array_options(as_rgb=False)  # native YBR stays YBR: the values are written back as they were stored
    pixels = ds.pixel_array.copy()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames == 1:
        pixels = pixels[np.newaxis]
    if samples == 1:
        pixels = pixels[..., np.newaxis]
    rows, columns = pixels.shape[1:3]
    black = _black(ds, pixels)
    touched = False
    for r in rectangles:
        x0, y0 = min(r.x, columns), min(r.y, rows)
        x1, y1 = min(r.x + r.width, columns), min(r.y + r.height, rows)
        if x1 > x0 and y1 > y0:
            pixels[:, y0:y1, x0:x1, :] = black
            touched = True
    if touched:
        ds.PixelData = _stored_bytes(ds, pixels)
    return touched


def _black(ds: Dataset, pixels: np.ndarray):
    import numpy as np

    photometric = str(ds.get("PhotometricInterpretation", "")).strip()
    if photometric == "MONOCHROME1":
        bits = int(ds.get("BitsStored", 8 * pixels.itemsize))
        return (1 << (bits - 1)) - 1 if int(ds.get("PixelRepresentation", 0)) else (1 << bits) - 1
    if photometric.startswith("YBR"):
        return np.array([0, 128, 128], dtype=pixels.dtype)  # black in YCbCr (PS3.3 C.7.6.3.1.2)
    if int(ds.get("PixelRepresentation", 0)) and pixels.dtype.kind == "i":
        return -(1 << (int(ds.get("BitsStored", 8 * pixels.itemsize)) - 1))
    return 0


def _stored_bytes(ds: Dataset, pixels: np.ndarray) -> bytes:
    """The frames back as native Pixel Data: colour by pixel unless Planar Configuration says by plane."""
    import numpy as np

    if int(ds.get("SamplesPerPixel", 1) or 1) > 1 and int(ds.get("PlanarConfiguration", 0) or 0) == 1:
        pixels = np.ascontiguousarray(pixels.transpose(0, 3, 1, 2))
    allocated = int(ds.BitsAllocated)
    dtype = {8: "u1", 16: "u2", 32: "u4"}[allocated]
    if int(ds.get("PixelRepresentation", 0)):
        dtype = dtype.replace("u", "i")
    data = np.ascontiguousarray(pixels).astype("<" + dtype, copy=False).tobytes()
    return data + b"\0" if len(data) % 2 else data
