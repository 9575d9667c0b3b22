"""A series as one volume of modality values on the patient's axes.

:func:`build_volume` takes the images of a series (single-frame files, or
the frames of enhanced multi-frame files), checks that they form a volume
(:func:`~viewer.core.display.stack_geometry.stack_geometry`: parallel, evenly
spaced, one size, one frame of reference; a one-line :class:`NotAVolume`
otherwise) and reads their pixels into one array of modality values
(PS3.3 C.11.1: (0028,1053) *Rescale Slope* and (0028,1052) *Rescale
Intercept*, or the (0028,3000) *Modality LUT Sequence*, per image).

The array's axes are the patient's (PS3.3 C.7.6.2.1.1, LPS): index
``voxels[z, y, x]`` grows towards the head along z, towards posterior along
y and towards the patient's left along x, whichever way the series was
acquired, so that an axial reformat of a sagittal acquisition is the
patient's axial plane. Turning the acquisition's axes into these is a
transpose and flips, never a resampling, so every voxel is a stored value
of the series. Two cases are resampled or labelled instead:

* **Gantry tilt** (a sheared stack: each slice offset in its own plane from
  the one before) is *corrected*: each slice is moved back by its offset,
  with linear interpolation for the fraction of a pixel, onto an orthogonal
  grid grown to hold every slice (the uncovered border takes the volume's
  smallest value). Refusing would deny reformats for most head CTs, which
  are routinely acquired tilted; showing the stack as if it were orthogonal
  would distort them. ``Volume.notes`` says it was done and by how much.
* **Oblique acquisitions** keep their own axes: each is taken as the patient
  axis nearest to it (:func:`~viewer.core.display.stack_geometry.patient_axes`),
  so the planes are the acquisition's, the nearest to axial, coronal and
  sagittal; ``Volume.obliquity`` and ``Volume.notes`` say how far they are
  from the patient's (no resampling, hence no blurring, and no distortion:
  the grid stays orthogonal).

Memory: one array of int16 when every image's rescale is integral and the
values fit (exact: CT in HU), else float32; slices are read straight into
it by a few threads, without a second copy of the volume (one ``preadv`` per
file, into memory faulted in while the headers were read), each run of
neighbouring slices cleaned of bits above Bits Stored and rescaled in one
numpy pass per step.
"""

from __future__ import annotations

import math
import mmap
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import DeflatedExplicitVRLittleEndian

from viewer.core.dicom.header import number_of_frames, read_index_header
from viewer.core.dicom.io import ViewerError, read_header, read_image_dataset
from viewer.core.dicom.series_headers import read_series_headers
from viewer.core.display.frames import is_compressed
from viewer.core.display.pixels.auto_window import pixel_value_range_window
from viewer.core.display.pixels.decoders import decode_file_frame, decode_frame, transfer_syntax
from viewer.core.display.pixels.lut_data import modality_values
from viewer.core.display.pixels.native import clear_unused_bits, native_layout, read_native_frame, read_native_into
from viewer.core.display.pixels.pipeline import Window, frame_context
from viewer.core.display.stack_geometry import (
    OBLIQUE_DEGREES,
    SHIFT_ROUNDING,
    NotAVolume,
    PatientAxes,
    StackGeometry,
    patient_axes,
    raw_value,
    stack_geometry,
)
from viewer.core.runtime.tasks import Cancelled

__all__ = ["NotAVolume", "Volume", "VolumeImage", "build_volume", "images_of_file", "stored_values", "volume_from_files"]

_INT16 = np.iinfo(np.int16)


@dataclass(frozen=True, eq=False)
class VolumeImage:
    """One image of a stack: frame `frame` (from 0) of the file at `path`.

    `header` is the file's header without pixel data; `context` the frame's
    own attributes (:func:`~viewer.core.display.pixels.pipeline.frame_context`),
    None for a single-frame file, whose header says it all.
    """

    path: Path | None
    header: Dataset
    frame: int = 0
    context: Dataset | None = None

    @property
    def attributes(self) -> Dataset:
        return self.header if self.context is None else self.context


@dataclass(eq=False)
class Volume:
    """Modality values on the patient's axes, and where each voxel lies.

    ``voxels[k, i, j]`` (z towards the head, y towards posterior, x towards
    the patient's left) lies at
    ``origin + k * spacing[0] * directions[0] + i * spacing[1] * directions[1] + j * spacing[2] * directions[2]``
    (mm, patient coordinates): ``directions`` are the unit vectors of the
    three axes, exactly the patient's (1 0 0 ...) unless the acquisition was
    oblique, and ``spacing`` the distance between voxel centres along each,
    in the same order as the array's axes (slice, row, column).
    """

    voxels: np.ndarray
    origin: np.ndarray
    directions: np.ndarray
    spacing: tuple[float, float, float]
    #: Attributes of the middle image of the acquisition: what the display pipeline reads
    #: (Photometric Interpretation, windows, the unit of the values).
    context: Dataset
    frame_of_reference: str = ""
    #: The array axis the acquired slices were stacked along (0, 1 or 2), and the index
    #: along it of the acquisition's middle image (the one ``context`` describes).
    acquisition_axis: int = 0
    middle_slice: int = 0
    #: The series' automatic window from the pixel value ranges its files declare, if they do.
    declared_window: Window | None = None
    #: Degrees between the acquisition's axes and the patient's (0 for a true axial, coronal or sagittal acquisition).
    obliquity: float = 0.0
    #: The gantry tilt corrected by resampling, in degrees (0: none).
    tilt_degrees: float = 0.0
    notes: list[str] = field(default_factory=list)

    def position(self, index: Sequence[float]) -> np.ndarray:
        """Patient coordinates (mm) of voxel index ``(k, i, j)`` (fractions allowed)."""
        steps = np.asarray(index, dtype=np.float64) * np.asarray(self.spacing)
        return self.origin + steps @ self.directions

    def index_of(self, point: Sequence[float]) -> np.ndarray:
        """The (fractional) voxel index ``(k, i, j)`` of a point in patient coordinates (mm)."""
        offset = np.asarray(point, dtype=np.float64) - self.origin
        return np.linalg.solve(self.directions.T, offset) / np.asarray(self.spacing)


def images_of_file(path: str | os.PathLike[str], header: Dataset | None = None) -> list[VolumeImage]:
    """The images a file contributes to a stack: itself, or each of its frames.

    Frames of an enhanced multi-frame image are placed by their *Plane
    Position (Patient)* and *Plane Orientation (Patient)* functional groups
    (PS3.3 C.7.6.16.2.3); a multi-frame image without them has no position
    per frame and is refused (:class:`NotAVolume`).
    """
    path = path if isinstance(path, Path) else Path(path)
    header = read_index_header(path) if header is None else header
    frames = number_of_frames(header)
    if frames == 1:
        return [VolumeImage(path, header)]
    full = read_header(path)  # the functional groups: the index header keeps only the indexing attributes
    if not full.get("PerFrameFunctionalGroupsSequence") and not full.get("SharedFunctionalGroupsSequence"):
        raise NotAVolume("a multi-frame image without a position per frame (no Plane Position functional group)", path)
    return [VolumeImage(path, full, index, frame_context(full, index)) for index in range(frames)]


def stored_values(image: VolumeImage) -> np.ndarray:
    """The stored values of one image (PS3.5 8): read straight from the file when native, else decoded.

    Raises :class:`~viewer.core.dicom.io.ViewerError` with a one-line reason.
    """
    if image.path is None:
        raise ViewerError("the image has no file to read")
    if number_of_frames(image.header) == 1:
        values = read_native_frame(image.path, image.header)
        return values if values is not None else decode_frame(read_image_dataset(image.path), 0, image.path)
    if str(transfer_syntax(image.header)) == DeflatedExplicitVRLittleEndian:  # cannot be read frame by frame
        return decode_frame(read_image_dataset(image.path), image.frame, image.path)
    return decode_file_frame(image.path, image.header, image.frame)


def volume_from_files(
    paths: Sequence[str | os.PathLike[str]],
    cancel: Callable[[], bool] = lambda: False,
    load: Callable[[VolumeImage], np.ndarray] | None = None,
    threads: int = 4,
) -> Volume:
    """The volume of the images in `paths` (one series), headers read here (see :func:`build_volume`):
    what the MPR workspace and ``export --plane`` build.

    Each header is read by comparison with a sibling's where the files are
    laid out alike (:func:`~viewer.core.dicom.series_headers.read_series_headers`).
    `load`, if given, gives the stored values of a compressed series (the
    window passes its decoded frames); uncompressed ones are read straight
    from their files into the volume.
    """
    paths = list(paths)
    memory = _Memory(paths[0], len(paths)) if paths else None
    try:
        offsets: dict[int, int] = {}
        headers = read_series_headers(paths, offsets.__setitem__)
        images, image_offsets = [], {}
        for index, (path, header) in enumerate(zip(paths, headers)):
            for image in images_of_file(path, header):
                images.append(image)
                if image.context is None and index in offsets:
                    image_offsets[id(image)] = offsets[index]
        compressed = bool(images) and is_compressed(images[0].header)
        return _build(images, load if compressed else None, cancel, threads, memory, image_offsets)
    finally:
        if memory is not None:
            memory.take(None, None)  # never left running


class _Memory:
    """The volume's memory, touched by a thread while the calling one reads the headers.

    A fresh array's pages are faulted in (and zeroed by the kernel) on first
    write: about a third of reading a 512 MB volume. The headers' read holds
    the GIL but leaves the second core idle; writing one value per page releases the
    GIL, so the two overlap. The size is guessed from the first file (a
    native 16-bit frame times the number of files, the common CT and MR
    series); :meth:`take` hands the array over only if the volume has that
    size and is int16, else it is dropped. Touching stops, where it got to,
    as soon as the memory is taken: the rest is faulted in by the read.
    """

    _CHUNK = 8 << 20  # values touched per call: the thread checks between chunks whether to stop
    _PAGE = mmap.PAGESIZE // 2  # int16 values per memory page

    def __init__(self, first: str | os.PathLike[str], files: int):
        self._array: np.ndarray | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._touch, args=(first, files), name="viewer-mpr-memory", daemon=True)
        self._thread.start()

    def _touch(self, first: str | os.PathLike[str], files: int) -> None:
        try:
            layout = native_layout(read_index_header(first))
            if layout is None or layout.dtype.itemsize != 2:
                return
            array = np.empty(files * layout.rows * layout.columns, np.int16)
        except (ViewerError, OSError, MemoryError, ValueError):
            return  # the headers' read reports what is wrong with the file
        self._array = array
        for start in range(0, array.size, self._CHUNK):
            if self._stop.is_set():
                return
            # One value per page: the kernel zeroes the page as it maps it, and writing the rest
            # too would only pass over the memory a second time (measured: 512 MB in 0.06 s against 0.085 s).
            array[start : start + self._CHUNK : self._PAGE] = 0

    def take(self, shape: tuple[int, ...] | None, dtype: np.dtype | None) -> np.ndarray | None:
        """The memory as an array of `shape` and `dtype` if it fits them, else None (and it is dropped)."""
        self._stop.set()
        self._thread.join()
        array, self._array = self._array, None
        if array is None or shape is None or dtype != np.int16 or array.size != math.prod(shape):
            return None
        return array.reshape(shape)


class _Overflow(Exception):
    """A slice's modality values do not fit int16: the volume is built again in float32."""


def _rescale(ctx: Dataset) -> tuple[float, float] | None:
    """(slope, intercept) of the Modality LUT stage, None when a Modality LUT Sequence replaces them.

    As pydicom's ``apply_modality_lut``: rescale only when both (0028,1053)
    *Rescale Slope* and (0028,1052) *Rescale Intercept* are present.
    """
    if ctx.get("ModalityLUTSequence"):
        return None
    if "RescaleSlope" not in ctx or "RescaleIntercept" not in ctx:
        return 1.0, 0.0
    try:
        slope, intercept = float(ctx.RescaleSlope), float(ctx.RescaleIntercept)
    except (TypeError, ValueError):
        raise NotAVolume("an image has an unreadable (0028,1053) Rescale Slope or (0028,1052) Rescale Intercept") from None
    if not (math.isfinite(slope) and math.isfinite(intercept)):
        raise NotAVolume("an image has an unreadable (0028,1053) Rescale Slope or (0028,1052) Rescale Intercept")
    return slope, intercept


def _stored_range(ctx: Dataset) -> tuple[int, int]:
    """Every stored value (0028,0101) *Bits Stored* and (0028,0103) *Pixel Representation* allow."""
    try:
        bits = int(ctx.get("BitsStored") or ctx.get("BitsAllocated") or 16)
        signed = int(ctx.get("PixelRepresentation") or 0) == 1
    except (TypeError, ValueError):
        bits, signed = 32, True
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def _fits_int16(slope: float, intercept: float, lo: int, hi: int) -> bool:
    ends = (lo * slope + intercept, hi * slope + intercept)
    return _INT16.min <= min(ends) and max(ends) <= _INT16.max


@dataclass(frozen=True)
class _SliceRule:
    """How one image's stored values become the volume's values."""

    rescale: tuple[float, float] | None
    checked: bool  # every possible stored value fits: no per-slice check needed


#: (0028,3000) Modality LUT Sequence, (0028,1052) Rescale Intercept, (0028,1053) Rescale Slope,
#: (0028,0100) Bits Allocated, (0028,0101) Bits Stored, (0028,0103) Pixel Representation.
_RULE_TAGS = (0x00283000, 0x00281052, 0x00281053, 0x00280100, 0x00280101, 0x00280103)


def _rules(contexts: Sequence[Dataset]) -> tuple[np.dtype, list[_SliceRule]]:
    """int16 when every rescale is integral (exact), else float32."""
    keys = [tuple(raw_value(ctx, tag) for tag in _RULE_TAGS) for ctx in contexts]
    first = {key: ctx for key, ctx in reversed(list(zip(keys, contexts)))}  # each distinct encoding, read once
    rescales = {key: _rescale(ctx) for key, ctx in first.items()}
    integral = all(r is not None and r[0].is_integer() and r[1].is_integer() for r in rescales.values())
    dtype = np.dtype(np.int16 if integral else np.float32)
    rules = {
        key: _SliceRule(r, integral and r is not None and _fits_int16(r[0], r[1], *_stored_range(first[key])))
        for key, r in rescales.items()
    }
    return dtype, [rules[key] for key in keys]


def _modality(stored: np.ndarray, ctx: Dataset, rule: _SliceRule) -> np.ndarray:
    """Modality values of one slice in float64 (PS3.3 C.11.1, as pydicom's ``apply_modality_lut``)."""
    if rule.rescale is None:
        return np.asarray(modality_values(stored, ctx), dtype=np.float64)
    slope, intercept = rule.rescale
    return stored.astype(np.float64) * slope + intercept


def _into(stored: np.ndarray, dest: np.ndarray, ctx: Dataset, rule: _SliceRule) -> None:
    """Write the modality values of `stored` into `dest` (int16 exactly, or float32)."""
    if dest.dtype == np.float32:
        dest[...] = stored if rule.rescale == (1.0, 0.0) else _modality(stored, ctx, rule)
        return
    slope, intercept = int(rule.rescale[0]), int(rule.rescale[1])
    if not rule.checked:
        lo, hi = int(stored.min()), int(stored.max())
        if not _fits_int16(slope, intercept, lo, hi):
            raise _Overflow
    if slope == 1 and stored.dtype == np.int16 and _INT16.min <= intercept <= _INT16.max:
        if stored is not dest:
            dest[...] = stored
        if intercept:
            # Modular int16 arithmetic: exact, since the result is known to fit.
            np.add(dest, np.int16(intercept), out=dest)
    elif slope == 1 and intercept == 0:
        dest[...] = stored
    else:
        dest[...] = stored.astype(np.int64) * slope + intercept


def _shifted(values: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, int, int]:
    """`values` moved by `shift` (rows, columns) pixels: the moved image and where it starts.

    The whole part of the shift is a placement; the fraction is linear
    interpolation between neighbours (edges repeated), one axis after the
    other. The result has one more row (column) when the fraction is not 0.
    """
    starts = []
    for axis in (0, 1):
        whole = math.floor(shift[axis] + SHIFT_ROUNDING)
        fraction = float(shift[axis] - whole)
        starts.append(int(whole))
        if fraction > SHIFT_ROUNDING:
            first = np.take(values, [0], axis=axis)
            last = np.take(values, [-1], axis=axis)
            padded = np.concatenate([first, values, last], axis=axis)
            n = padded.shape[axis]
            # Output t samples the input at t - fraction: between t - 1 (weight f) and t (weight 1 - f).
            values = (1 - fraction) * np.take(padded, range(1, n), axis=axis) + fraction * np.take(padded, range(0, n - 1), axis=axis)
    return values, starts[0], starts[1]


#: What decides how a native frame is stored (PS3.5 8.1.1): (0002,0010) Transfer Syntax UID (in the file meta),
#: (0028,0002) Samples per Pixel, (0028,0004) Photometric Interpretation, (0028,0008) Number of Frames,
#: (0028,0010) Rows, (0028,0011) Columns, (0028,0100) Bits Allocated, (0028,0101) Bits Stored, (0028,0103) Pixel Representation.
_LAYOUT_TAGS = (0x00280002, 0x00280004, 0x00280008, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280103)


def _native_layouts(images: Sequence[VolumeImage]) -> list:
    """Each single-frame image's native layout (None: not readable straight from its file), worked out once per distinct encoding."""
    known: dict[tuple, object] = {}
    layouts = []
    for image in images:
        if image.path is None or image.context is not None:
            layouts.append(None)
            continue
        meta = getattr(image.header, "file_meta", None)
        key = (raw_value(meta, 0x00020010) if meta is not None else None, *(raw_value(image.header, tag) for tag in _LAYOUT_TAGS))
        if key not in known:
            known[key] = native_layout(image.header)
        layouts.append(known[key])
    return layouts


def _acquisition_view(voxels: np.ndarray, axes: PatientAxes) -> np.ndarray:
    """The patient-ordered array seen in the acquisition's (slice, row, column) order: a view, no copy."""
    flipped = voxels[tuple(slice(None, None, -1) if flip else slice(None) for flip in axes.flip)]
    return np.transpose(flipped, np.argsort(axes.order))


def build_volume(
    images: Sequence[VolumeImage],
    load: Callable[[VolumeImage], np.ndarray] | None = None,
    cancel: Callable[[], bool] = lambda: False,
    threads: int = 4,
) -> Volume:
    """The volume of a series' images, on the patient's axes (see the module's description).

    `images` in any order (they are sorted along their normal); `load`
    gives an image's stored values (default :func:`stored_values`; the
    window passes its own frame source). Raises :class:`NotAVolume` when
    the images are not a volume, :class:`~viewer.core.dicom.io.ViewerError`
    when one cannot be read, :class:`~viewer.core.runtime.tasks.Cancelled`
    when `cancel` turns true. The values are those of the Modality LUT
    stage (PS3.3 C.11.1), int16 where that is exact, else float32.
    """
    return _build(images, load, cancel, threads, None, {})


def _build(images, load, cancel, threads: int, memory: _Memory | None, offsets: dict[int, int]) -> Volume:
    """`offsets`: where Pixel Data's value starts in the file of an image (by ``id``), where the header's read found it."""
    geometry = stack_geometry([image.attributes for image in images])
    axes = patient_axes(geometry)
    ordered = [images[i] for i in geometry.order]
    dtype, rules = _rules([image.attributes for image in ordered])
    try:
        voxels = _read(ordered, rules, geometry, axes, dtype, load, cancel, threads, memory, offsets)
    except _Overflow:
        voxels = _read(ordered, rules, geometry, axes, np.dtype(np.float32), load, cancel, threads, None, offsets)
    return _volume(voxels, ordered, geometry, axes)


def _allocate(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    try:
        return np.empty(shape, dtype=dtype)
    except MemoryError:
        needed = math.prod(shape) * dtype.itemsize / 1e9
        raise NotAVolume(f"the volume needs {needed:.1f} GB of memory, more than is free") from None


#: Images per task of the read: their cleaning and rescale are one numpy pass each over the run (8 MB of CT,
#: mostly still in cache), not three small passes per slice that each hand the GIL over (measured: 8 to 32 alike).
_RUN = 16


def _read(
    ordered, rules, geometry: StackGeometry, axes: PatientAxes, dtype, load, cancel, threads, memory=None, offsets=None
) -> np.ndarray:
    shape = tuple(geometry.shape[a] for a in axes.order)
    voxels = memory.take(shape, dtype) if memory is not None else None
    if voxels is None:
        voxels = _allocate(shape, dtype)
    acquisition = _acquisition_view(voxels, axes)
    sheared = geometry.tilt_degrees > 0
    layouts = _native_layouts(ordered) if load is None and not sheared else [None] * len(ordered)
    minima = [math.inf] * len(ordered)
    placed: list[tuple[int, int, int, int]] = [(0, 0, 0, 0)] * len(ordered)

    def straight(k: int) -> bool:
        """Read image k's stored values straight into the volume, not yet cleaned nor rescaled; False if it cannot be."""
        layout, dest = layouts[k], acquisition[k]
        if layout is None or not dest.flags.c_contiguous or layout.dtype != dest.dtype or (layout.rows, layout.columns) != dest.shape:
            return False
        return read_native_into(ordered[k].path, layout, dest, clean=False, offset=offsets.get(id(ordered[k])) if offsets else None)

    def read(k: int) -> None:
        image, rule, dest = ordered[k], rules[k], acquisition[k]
        ctx = image.attributes
        stored = (load or stored_values)(image)
        if stored.shape != (geometry.rows, geometry.columns):
            raise ViewerError(
                f"the image is {stored.shape[1]}x{stored.shape[0]}, not {geometry.columns}x{geometry.rows} as it says", image.path
            )
        if not sheared:
            _into(stored, dest, ctx, rule)
            return
        values = _modality(stored, ctx, rule)
        minima[k] = float(values.min())
        moved, row, column = _shifted(values, geometry.shifts[k])
        if dest.dtype == np.int16:
            moved = np.rint(moved)
            if moved.min() < _INT16.min or moved.max() > _INT16.max:
                raise _Overflow
        dest[row : row + moved.shape[0], column : column + moved.shape[1]] = moved
        placed[k] = (row, row + moved.shape[0], column, column + moved.shape[1])

    def read_run(run: range) -> None:
        """A few neighbouring images: those read straight are cleaned and rescaled together, one pass per step for the run."""
        done: list[int] = []
        for k in run:
            if cancel():
                return
            if straight(k):
                done.append(k)
            else:
                read(k)
        start = 0
        for end in range(1, len(done) + 1):
            if (
                end == len(done)
                or done[end] != done[end - 1] + 1
                or (layouts[done[end]], rules[done[end]]) != (layouts[done[start]], rules[done[start]])
            ):
                first, last = done[start], done[end - 1]
                block = acquisition[first : last + 1]
                clear_unused_bits(block, layouts[first])
                _into(block, block, ordered[first].attributes, rules[first])
                start = end

    runs = [range(k, min(k + _RUN, len(ordered))) for k in range(0, len(ordered), _RUN)]
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="viewer-mpr-volume") as pool:
        for _ in pool.map(read_run, runs):
            pass
    if cancel():
        raise Cancelled()
    if sheared:
        # Where no slice reaches after its move: the smallest value (air, background).
        fill = min(minima)
        for k, (r0, r1, c0, c1) in enumerate(placed):
            dest = acquisition[k]
            dest[:r0], dest[r1:], dest[:, :c0], dest[:, c1:] = fill, fill, fill, fill
    return voxels


def _volume(voxels: np.ndarray, ordered: list[VolumeImage], geometry: StackGeometry, axes: PatientAxes) -> Volume:
    acquisition_vectors = (geometry.normal, geometry.column_direction, geometry.row_direction)
    acquisition_spacing = (geometry.spacing[2], geometry.spacing[1], geometry.spacing[0])
    shape = geometry.shape
    origin = geometry.origin.copy()
    for q, axis in enumerate(axes.order):
        if axes.flip[q]:  # voxel 0 along this axis is the acquisition's last
            origin += (shape[axis] - 1) * acquisition_spacing[axis] * acquisition_vectors[axis]
    contexts = [image.attributes for image in ordered]
    axis = axes.order.index(0)
    middle = len(ordered) // 2
    try:
        declared = pixel_value_range_window(contexts)
    except (TypeError, ValueError, AttributeError):
        declared = None
    notes = []
    if geometry.tilt_degrees:
        notes.append(f"gantry tilt {geometry.tilt_degrees:.1f}° corrected: slices moved onto an orthogonal grid")
    if axes.obliquity > OBLIQUE_DEGREES:
        notes.append(
            f"oblique acquisition ({axes.obliquity:.0f}° from the patient's axes): planes are the acquisition's own, "
            "the nearest to axial, coronal and sagittal"
        )
    return Volume(
        voxels=voxels,
        origin=origin,
        directions=axes.directions,
        spacing=tuple(float(acquisition_spacing[a]) for a in axes.order),
        context=ordered[middle].attributes,
        frame_of_reference=geometry.frame_of_reference,
        acquisition_axis=axis,
        middle_slice=len(ordered) - 1 - middle if axes.flip[axis] else middle,
        declared_window=declared,
        obliquity=axes.obliquity,
        tilt_degrees=geometry.tilt_degrees,
        notes=notes,
    )
