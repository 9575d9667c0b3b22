"""Multiplanar reformats of a volume: axial, coronal and sagittal planes and slabs.

Each plane is a 2-D array of the volume's own voxels (no resampling, "1:1"),
in modality values, oriented by the radiological convention:

========  ==========================  ==================  ===========  ======================================
plane     seen from                   screen left/right   screen up    slices counted (``index`` 0, 1, ...)
========  ==========================  ==================  ===========  ======================================
axial     the feet                    patient's R / L     anterior     from the feet up (inferior -> superior)
coronal   the front                   patient's R / L     head         from the front back (anterior -> posterior)
sagittal  the patient's left          anterior / post.    head         from the patient's right to left
========  ==========================  ==================  ===========  ======================================

The slices are counted along the patient's axes as DICOM states them
(PS3.3 C.7.6.2.1.1: x towards the left, y towards posterior, z towards the
head), the order in which the viewer already lists the slices of an
axial or coronal acquisition (by position along the normal): slice N of an
axial series and axial reformat N are the same image.

A slab (:func:`reformat` with ``slab_mm``) combines round(slab_mm /
spacing) slices (at least 1; halves rounded up) centred on the slice: slices
``index - (n - 1) // 2`` to ``index + n // 2``, cut at the volume's ends, by
their maximum (MIP), minimum (MinIP) or mean. The pixel spacing of each
plane is returned with it, so a viewport can draw the grid with the right
aspect; the export writes the grid as it is.
"""

from __future__ import annotations

import math

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.auto_window import percentile_window
from viewer.core.display.pixels.pipeline import FrameDisplay, Window, modality_unit, pixel_padding_range
from viewer.core.display.stack_geometry import OBLIQUE_DEGREES
from viewer.core.display.volume import Volume
from viewer.core.runtime.wording import count as count_of

PLANES = ("axial", "coronal", "sagittal")
MODES = ("mip", "minip", "avg")

#: The array axis whose index selects each plane's slices (voxels are [z, y, x]).
PLANE_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}

#: Orientation markers at each edge of a plane's image: (left, right, top, bottom).
PLANE_EDGES = {
    "axial": ("R", "L", "A", "P"),
    "coronal": ("R", "L", "H", "F"),
    "sagittal": ("A", "P", "H", "F"),
}

_REDUCE = {"mip": np.max, "minip": np.min}


def _axis(plane: str) -> int:
    try:
        return PLANE_AXIS[plane]
    except KeyError:
        raise ViewerError(f"unknown plane '{plane}'; choose {', '.join(PLANES)}") from None


def slice_count(volume: Volume, plane: str) -> int:
    """How many slices of `plane` the volume holds."""
    return volume.voxels.shape[_axis(plane)]


def slab_slices(slab_mm: float, spacing: float) -> int:
    """Slices in a slab `slab_mm` thick at `spacing` mm: round(slab_mm / spacing), halves up, at least 1."""
    if not slab_mm or slab_mm <= 0:
        return 1
    return max(1, math.floor(slab_mm / spacing + 0.5))


def slab_range(volume: Volume, plane: str, index: int, slab_mm: float = 0.0) -> range:
    """The slices (indices along the plane's axis) a slab centred on `index` takes in."""
    axis = _axis(plane)
    count = volume.voxels.shape[axis]
    n = slab_slices(slab_mm, volume.spacing[axis])
    first = index - (n - 1) // 2
    return range(max(0, first), min(count, first + n))


def pixel_spacing(volume: Volume, plane: str) -> tuple[float, float]:
    """(between rows, between columns) of the plane's image in mm, as (0028,0030) *Pixel Spacing* orders them."""
    z, y, x = volume.spacing
    return {"axial": (y, x), "coronal": (z, x), "sagittal": (z, y)}[plane]


def reformat(volume: Volume, plane: str, index: int, slab_mm: float = 0.0, mode: str = "mip") -> tuple[np.ndarray, tuple[float, float]]:
    """The image of slice `index` (from 0) of `plane`, and its pixel spacing (rows, columns) in mm.

    Parameters
    ----------
    volume
        From :func:`~viewer.core.display.volume.build_volume`: modality values on the patient's axes.
    plane
        'axial', 'coronal' or 'sagittal', oriented as the module's table says.
    index
        The slice, counted as the module's table says (0 is the first).
    slab_mm, mode
        A slab `slab_mm` thick centred on the slice (:func:`slab_range`), combined by
        'mip' (maximum), 'minip' (minimum) or 'avg' (mean); 0 for the slice alone.

    Returns
    -------
    The image, a new C-contiguous array: the volume's dtype for a slice, a MIP or a
    MinIP; float32 for an average. Raises ViewerError for an unknown plane
    or mode, or a slice out of range.
    """
    axis = _axis(plane)
    if mode not in MODES:
        raise ViewerError(f"unknown slab mode '{mode}'; choose {', '.join(MODES)}")
    count = volume.voxels.shape[axis]
    if not 0 <= index < count:
        raise ViewerError(f"slice {index + 1} is out of range: the {plane} plane has {count_of(count, 'slice')}")
    slices = slab_range(volume, plane, index, slab_mm)
    taken = [slice(None)] * 3
    if len(slices) == 1:
        taken[axis] = index
        image = volume.voxels[tuple(taken)]
    else:
        taken[axis] = slice(slices.start, slices.stop)
        block = volume.voxels[tuple(taken)]
        if mode == "avg":
            image = np.mean(block, axis=axis, dtype=np.float32)
        else:
            image = _REDUCE[mode](block, axis=axis)
    if plane != "axial":
        image = image[::-1]  # z grows towards the head: the head goes up
    return np.array(image, order="C"), pixel_spacing(volume, plane)  # a copy: never a view the caller could write through


def voxel_at(volume: Volume, plane: str, index: int, row: int, column: int) -> tuple[int, int, int]:
    """The voxel ``(k, i, j)`` shown at (`row`, `column`) of slice `index` of `plane` (crosshair navigation)."""
    _axis(plane)
    last_z = volume.voxels.shape[0] - 1
    if plane == "axial":
        return index, row, column
    if plane == "coronal":
        return last_z - row, index, column
    return last_z - row, column, index


def crosshair(volume: Volume, voxel: tuple[int, int, int]) -> dict[str, tuple[int, int, int]]:
    """For each plane, (slice index, row, column) where `voxel` is shown: where every viewport goes on a click."""
    k, i, j = voxel
    last_z = volume.voxels.shape[0] - 1
    return {"axial": (k, i, j), "coronal": (i, last_z - k, j), "sagittal": (j, last_z - k, i)}


def plane_label(volume: Volume, plane: str) -> str:
    """'coronal', or 'coronal (oblique, 12°)' when the planes are the acquisition's own."""
    return f"{plane} (oblique, {volume.obliquity:.0f}°)" if volume.obliquity > OBLIQUE_DEGREES else plane


# --------------------------------------------------------------------------- display


def display_context(volume: Volume) -> Dataset:
    """Attributes for the display pipeline of a reformatted image (already in modality values).

    From the volume's middle image: (0028,0004) *Photometric Interpretation*,
    (2050,0020) *Presentation LUT Shape*, the VOI module ((0028,1050)
    *Window Center*, (0028,1051) *Window Width*, their explanation,
    (0028,1056) *VOI LUT Function*, (0028,3010) *VOI LUT Sequence*: all
    apply to modality values, PS3.3 C.11.2) and (0008,0060) *Modality*. The
    Modality LUT becomes the identity (slope 1, intercept 0), with
    (0028,1054) *Rescale Type* stating the unit the values are in
    (:func:`~viewer.core.display.pixels.pipeline.modality_unit`), so that the HU rule of
    presets holds as for the images themselves.
    """
    source = volume.context
    ctx = Dataset()
    for keyword in (
        "Modality",
        "PhotometricInterpretation",
        "PresentationLUTShape",
        "WindowCenter",
        "WindowWidth",
        "WindowCenterWidthExplanation",
        "VOILUTFunction",
        "VOILUTSequence",
    ):
        if keyword in source:
            setattr(ctx, keyword, source[keyword].value)
    ctx.SamplesPerPixel = 1
    ctx.PhotometricInterpretation = str(source.get("PhotometricInterpretation", "MONOCHROME2") or "MONOCHROME2").strip()
    unit = modality_unit(source)
    if unit:
        ctx.RescaleSlope, ctx.RescaleIntercept, ctx.RescaleType = 1, 0, unit
    padding = _padding_values(volume)
    if padding is not None:
        # (0028,0120) Pixel Padding Value is a stored value (PS3.3 C.7.5.1.1.2): here, the values'.
        ctx.PixelRepresentation, ctx.BitsStored = 1, 16
        ctx.PixelPaddingValue, ctx.PixelPaddingRangeLimit = padding
    if hasattr(source, "file_meta"):
        ctx.file_meta = source.file_meta
    return ctx


def _padding_values(volume: Volume) -> tuple[int, int] | None:
    """The padding range of the middle image in the volume's int16 values, if it has one."""
    source = volume.context
    stored = pixel_padding_range(source)
    if stored is None or volume.voxels.dtype != np.int16 or source.get("ModalityLUTSequence"):
        return None
    slope, intercept = 1.0, 0.0
    if "RescaleSlope" in source and "RescaleIntercept" in source:  # as pydicom's apply_modality_lut
        try:
            slope, intercept = float(source.RescaleSlope), float(source.RescaleIntercept)
        except (TypeError, ValueError):
            return None
    ends = sorted(round(v * slope + intercept) for v in stored)
    info = np.iinfo(np.int16)
    return (ends[0], ends[1]) if info.min <= ends[0] and ends[1] <= info.max else None


def reformat_display(volume: Volume, image: np.ndarray) -> FrameDisplay:
    """A reformatted image ready for the display pipeline (:class:`FrameDisplay`): window, invert, render."""
    return FrameDisplay(image, display_context(volume))


def automatic_window(volume: Volume) -> Window:
    """The window a reformat opens with when its images have none and are not in HU.

    As for the series in the stack view
    (:mod:`viewer.core.display.pixels.auto_window`): the range the files declare,
    else the 0.5-99.5 percentiles of the acquisition's middle slice.
    """
    if volume.declared_window is not None:
        return volume.declared_window
    middle = [slice(None)] * 3
    middle[volume.acquisition_axis] = volume.middle_slice
    image = np.ascontiguousarray(volume.voxels[tuple(middle)])
    return percentile_window(reformat_display(volume, image), volume.voxels.shape[volume.acquisition_axis] // 2 + 1)
