"""Waveforms (ECG and the other waveform classes): channels in real units, and the ECG paper.

A waveform object (PS3.3 C.10.9 *Waveform Module*) holds one or more
multiplex groups in (5400,0100) *Waveform Sequence*; each has channels
sampled together at (003A,001A) *Sampling Frequency*, interleaved in
(5400,1010) *Waveform Data* (C1S1, C2S1, ..., CnS1, C1S2, ...), each sample
(5400,1004) *Waveform Bits Allocated* bits read as (5400,1006) *Waveform
Sample Interpretation*. A channel's value in its units (C.10.9.1.4.3) is::

    stored x (003A,0210) Channel Sensitivity x (003A,0212) Channel Sensitivity Correction Factor
           + (003A,0213) Channel Baseline

in the units of (003A,0211) *Channel Sensitivity Units Sequence* (UCUM:
uV, mV, mmHg, ...). A channel is named by (003A,0203) *Channel Label* or
else by the meaning of its (003A,0208) *Channel Source Sequence* code
("Lead II").

:func:`render_png` draws a group on the standard ECG paper: 25 mm/s,
10 mm/mV, a 1 mm grid with a heavier line every 5 mm, one row per channel
with its label; channels not in volts are scaled to their row. Anything
malformed ends in a one-line :class:`~viewer.core.dicom.io.ViewerError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError

#: Waveform storage SOP classes (PS3.4 B.5, PS3.6 A.1) and the kind the browser lists them as.
WAVEFORM_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.9.1.1": "12-lead ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.2": "General ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.3": "Ambulatory ECG",
    "1.2.840.10008.5.1.4.1.1.9.1.4": "General 32-bit ECG",
    "1.2.840.10008.5.1.4.1.1.9.2.1": "Hemodynamic waveform",
    "1.2.840.10008.5.1.4.1.1.9.3.1": "Cardiac electrophysiology waveform",
    "1.2.840.10008.5.1.4.1.1.9.4.1": "Basic voice audio",
    "1.2.840.10008.5.1.4.1.1.9.4.2": "General audio waveform",
    "1.2.840.10008.5.1.4.1.1.9.5.1": "Arterial pulse waveform",
    "1.2.840.10008.5.1.4.1.1.9.6.1": "Respiratory waveform",
    "1.2.840.10008.5.1.4.1.1.9.6.2": "Multi-channel respiratory waveform",
    "1.2.840.10008.5.1.4.1.1.9.7.1": "Routine scalp EEG",
    "1.2.840.10008.5.1.4.1.1.9.7.2": "Electromyogram",
    "1.2.840.10008.5.1.4.1.1.9.7.3": "Electrooculogram",
    "1.2.840.10008.5.1.4.1.1.9.7.4": "Sleep EEG",
    "1.2.840.10008.5.1.4.1.1.9.8.1": "Body position waveform",
}
ECG_CLASSES = frozenset(uid for uid, kind in WAVEFORM_CLASSES.items() if kind.endswith("ECG"))

#: (Waveform Bits Allocated, Waveform Sample Interpretation) -> numpy type (PS3.3 C.10.9.1.5, little endian).
#: MB/AB (8-bit mu-law/A-law audio) are companded: read as their codes, not expanded.
SAMPLE_TYPES = {
    (8, "SB"): "i1",
    (8, "UB"): "u1",
    (8, "MB"): "u1",
    (8, "AB"): "u1",
    (16, "SS"): "<i2",
    (16, "US"): "<u2",
    (32, "SL"): "<i4",
    (32, "UL"): "<u4",
    (64, "SV"): "<i8",
    (64, "UV"): "<u8",
}

#: UCUM voltage units -> millivolts per unit (the ECG paper is drawn in mV).
MILLIVOLTS_PER_UNIT = {"uV": 1e-3, "mV": 1.0, "V": 1e3, "nV": 1e-6}

#: The standard ECG paper.
PAPER_SPEED_MM_PER_S = 25.0
GAIN_MM_PER_MV = 10.0


def waveform_kind(sop_class_uid) -> str | None:
    """What a waveform SOP class is called in the browser ("12-lead ECG"), None for another class."""
    return WAVEFORM_CLASSES.get(str(sop_class_uid or "").rstrip("\x00 "))


@dataclass(frozen=True)
class Channel:
    """One channel of a multiplex group, in its own units (see the module's docstring)."""

    label: str
    units: str  # UCUM code value, e.g. "uV"; "" when the file gives none
    units_meaning: str  # e.g. "microvolt"
    values: np.ndarray = field(repr=False)  # float64, one per sample

    def millivolts(self) -> np.ndarray | None:
        """The values in mV, or None when the channel is not a voltage."""
        factor = MILLIVOLTS_PER_UNIT.get(self.units)
        return None if factor is None else self.values * factor


@dataclass(frozen=True)
class MultiplexGroup:
    """Channels sampled together (an item of (5400,0100) *Waveform Sequence*)."""

    label: str  # (003A,0020) Multiplex Group Label, e.g. "RHYTHM"
    sampling_frequency: float  # Hz
    samples: int
    channels: tuple[Channel, ...]

    @property
    def duration(self) -> float:
        """Seconds covered by the group."""
        return self.samples / self.sampling_frequency


@dataclass(frozen=True)
class Waveform:
    """A waveform object: its kind and multiplex groups."""

    kind: str
    sop_class_uid: str
    groups: tuple[MultiplexGroup, ...]


# ----------------------------------------------------------------------------- reading


def read_waveform(source: Dataset | str | Path) -> Waveform:
    """The waveform of the dataset (or DICOM file) `source`; raises ViewerError with one line when damaged."""
    path = None
    if not isinstance(source, Dataset):
        from viewer.core.dicom.io import read_for_inspection

        path = Path(source)
        ds, problem = read_for_inspection(path)
        if problem is not None and "WaveformSequence" not in ds:
            raise problem
    else:
        ds = source
    uid = str(ds.get("SOPClassUID", "") or "")
    sequence = ds.get("WaveformSequence")
    if not sequence:
        raise ViewerError("it has no waveform ((5400,0100) Waveform Sequence is absent or empty)", path)
    groups = []
    for number, item in enumerate(sequence, start=1):
        try:
            groups.append(read_group(item, number))
        except ViewerError as error:
            raise ViewerError(error.reason, path) from None
        except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:  # values of the wrong type or size
            text = " ".join(str(exc).split())[:120]
            raise ViewerError(f"multiplex group {number}: its attributes are malformed ({exc.__class__.__name__}: {text})", path) from None
    name = waveform_kind(uid) or _class_name(uid)
    return Waveform(name, uid, tuple(groups))


def _class_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name if uid else ""
    return name.removesuffix(" Storage") or "Waveform"


def read_group(item: Dataset, number: int = 1) -> MultiplexGroup:
    """One multiplex group (PS3.3 C.10.9.1): its channels scaled to their units."""
    where = f"multiplex group {number}"
    missing = [
        keyword
        for keyword in ("NumberOfWaveformChannels", "NumberOfWaveformSamples", "SamplingFrequency", "WaveformBitsAllocated", "WaveformData")
        if item.get(keyword) in (None, "", b"")
    ]
    if missing:
        raise ViewerError(f"{where} lacks {', '.join(missing)}")
    channels, samples = int(item.NumberOfWaveformChannels), int(item.NumberOfWaveformSamples)
    frequency = float(item.SamplingFrequency)
    if channels <= 0 or samples <= 0:
        raise ViewerError(f"{where} has {channels} channels of {samples} samples: nothing to show")
    if not (math.isfinite(frequency) and frequency > 0):
        raise ViewerError(f"{where} has a sampling frequency of {frequency:g} Hz")
    bits = int(item.WaveformBitsAllocated)
    interpretation = str(item.get("WaveformSampleInterpretation", "") or "").strip().upper()
    dtype = SAMPLE_TYPES.get((bits, interpretation))
    if dtype is None:
        raise ViewerError(f"{where}: {bits}-bit samples interpreted as '{interpretation}' are not a waveform encoding")
    definitions = list(item.get("ChannelDefinitionSequence") or [])
    if definitions and len(definitions) != channels:
        raise ViewerError(f"{where} defines {len(definitions)} channels but holds {channels}")
    data = item.WaveformData
    if not isinstance(data, (bytes, bytearray)):
        raise ViewerError(f"{where}: its Waveform Data is not binary")
    expected = channels * samples * bits // 8
    if len(data) < expected:
        raise ViewerError(f"{where}: its waveform data holds {len(data)} bytes, {channels} channels of {samples} samples need {expected}")
    stored = np.frombuffer(bytes(data[:expected]), dtype=dtype).reshape(samples, channels)
    out = []
    for index in range(channels):
        definition = definitions[index] if definitions else Dataset()
        out.append(_channel(stored[:, index], definition, index))
    return MultiplexGroup(str(item.get("MultiplexGroupLabel", "") or ""), frequency, samples, tuple(out))


def _number(definition: Dataset, keyword: str, default: float) -> float:
    value = definition.get(keyword)
    if value in (None, ""):
        return default
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{keyword} is {value}")
    return number


def _channel(stored: np.ndarray, definition: Dataset, index: int) -> Channel:
    """A channel's values: stored x sensitivity x correction factor + baseline (PS3.3 C.10.9.1.4.3)."""
    sensitivity = _number(definition, "ChannelSensitivity", 1.0)
    correction = _number(definition, "ChannelSensitivityCorrectionFactor", 1.0)
    baseline = _number(definition, "ChannelBaseline", 0.0)
    values = stored.astype(np.float64) * sensitivity * correction + baseline
    units = (definition.get("ChannelSensitivityUnitsSequence") or [Dataset()])[0]
    source = (definition.get("ChannelSourceSequence") or [Dataset()])[0]
    label = str(definition.get("ChannelLabel", "") or "").strip() or str(source.get("CodeMeaning", "") or "").strip()
    return Channel(
        label or f"Channel {index + 1}",
        str(units.get("CodeValue", "") or "").strip(),
        str(units.get("CodeMeaning", "") or "").strip(),
        values,
    )


# ----------------------------------------------------------------------------- the ECG paper

#: Paper colours: the classic pink grid, black traces.
PAPER = (255, 255, 255)
MINOR_LINE = (250, 205, 205)
MAJOR_LINE = (235, 130, 130)
TRACE = (0, 0, 0)
TEXT = (40, 40, 40)

#: Rendering resolution (pixels per millimetre of paper) and layout (mm).
PIXELS_PER_MM = 4
ROW_MM = 30
LEFT_MM = 25  # room for the channel labels and the 1 mV calibration pulse
TOP_MM = 10  # the caption
MIN_WIDTH_MM = 110  # room for the caption under a short group (a median beat is 1.2 s, 30 mm)


@dataclass(frozen=True)
class PaperLayout:
    """Where things go on the paper, in pixels: see :func:`paper_layout`."""

    width: int
    height: int
    left: int  # x of time 0
    top: int  # y of the first row's top
    row: int  # row height
    px_per_second: float
    px_per_mv: float


def paper_layout(group: MultiplexGroup, pixels_per_mm: int = PIXELS_PER_MM, seconds: float | None = None) -> PaperLayout:
    """The paper for `group` (or its first `seconds`): 25 mm/s across, one ROW_MM row per channel, 10 mm/mV."""
    shown = min(group.duration, seconds) if seconds else group.duration
    width_mm = max(LEFT_MM + shown * PAPER_SPEED_MM_PER_S + 5, MIN_WIDTH_MM)
    height_mm = TOP_MM + ROW_MM * len(group.channels) + 5
    return PaperLayout(
        width=int(math.ceil(width_mm * pixels_per_mm)),
        height=int(math.ceil(height_mm * pixels_per_mm)),
        left=LEFT_MM * pixels_per_mm,
        top=TOP_MM * pixels_per_mm,
        row=ROW_MM * pixels_per_mm,
        px_per_second=PAPER_SPEED_MM_PER_S * pixels_per_mm,
        px_per_mv=GAIN_MM_PER_MV * pixels_per_mm,
    )


def trace_points(channel: Channel, group: MultiplexGroup, layout: PaperLayout, row: int) -> list[tuple[float, float]]:
    """(x, y) pixel positions of `channel`'s samples on row `row` of `layout`.

    Voltages at 10 mm/mV around the row's middle (positive up); other units
    scaled so that the channel's range fills 80% of the row.
    """
    middle = layout.top + row * layout.row + layout.row / 2
    mv = channel.millivolts()
    if mv is not None:
        heights = mv * layout.px_per_mv
    else:
        values = channel.values
        lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
        span = hi - lo or 1.0
        heights = (values - (lo + hi) / 2) / span * layout.row * 0.8
    shown = min(group.samples, int(math.ceil((layout.width - layout.left) / layout.px_per_second * group.sampling_frequency)))
    x = layout.left + np.arange(shown) / group.sampling_frequency * layout.px_per_second
    y = middle - heights[:shown]
    return list(zip(x.tolist(), y.tolist()))


def render_png(waveform: Waveform, out: str | Path, group_number: int = 1, pixels_per_mm: int = PIXELS_PER_MM) -> Path:
    """Draw multiplex group `group_number` (from 1) of `waveform` on ECG paper into the PNG `out` (PIL)."""
    from PIL import Image, ImageDraw

    if not 1 <= group_number <= len(waveform.groups):
        raise ViewerError(f"multiplex group {group_number} does not exist (the waveform has {len(waveform.groups)})")
    group = waveform.groups[group_number - 1]
    layout = paper_layout(group, pixels_per_mm)
    if layout.width * layout.height > 20000 * 20000:
        raise ViewerError(f"the waveform would need a {layout.width} x {layout.height} picture; refused")
    image = Image.new("RGB", (layout.width, layout.height), PAPER)
    draw = ImageDraw.Draw(image)
    grid_top, grid_bottom = layout.top, layout.top + layout.row * len(group.channels)
    for mm in range(0, int((layout.width - layout.left) / pixels_per_mm) + 1):
        x = layout.left + mm * pixels_per_mm
        draw.line([(x, grid_top), (x, grid_bottom)], fill=MAJOR_LINE if mm % 5 == 0 else MINOR_LINE)
    for mm in range(0, int((grid_bottom - grid_top) / pixels_per_mm) + 1):
        y = grid_top + mm * pixels_per_mm
        draw.line([(layout.left, y), (layout.width - 1, y)], fill=MAJOR_LINE if mm % 5 == 0 else MINOR_LINE)
    caption = f"{waveform.kind}  {group.label}  {group.sampling_frequency:g} Hz  {group.duration:g} s  25 mm/s  10 mm/mV"
    draw.text((pixels_per_mm * 2, pixels_per_mm * 3), caption.strip(), fill=TEXT)
    for row, channel in enumerate(group.channels):
        middle = layout.top + row * layout.row + layout.row // 2
        units = "" if channel.millivolts() is not None else f" ({channel.units or 'no units'}, scaled)"
        draw.text((pixels_per_mm, middle - layout.row // 3), channel.label + units, fill=TEXT)
        if channel.millivolts() is not None:  # the 1 mV calibration pulse, 5 mm wide
            x0, x1 = layout.left - 8 * pixels_per_mm, layout.left - 3 * pixels_per_mm
            top = middle - layout.px_per_mv
            draw.line(
                [(x0 - 2 * pixels_per_mm, middle), (x0, middle), (x0, top), (x1, top), (x1, middle), (x1 + 2 * pixels_per_mm, middle)],
                fill=TRACE,
            )
        points = trace_points(channel, group, layout, row)
        if len(points) > 1:
            draw.line(points, fill=TRACE, width=1)
    out = Path(out)
    if not out.parent.exists():
        raise ViewerError(f"cannot write {out}: the folder {out.parent} does not exist")
    try:
        image.save(out, format="PNG")
    except OSError as exc:
        raise ViewerError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def is_waveform(ds: Dataset) -> bool:
    """Whether `ds` is a waveform object: a waveform SOP class, or any dataset with a Waveform Sequence and no pixels."""
    return waveform_kind(ds.get("SOPClassUID")) is not None or ("WaveformSequence" in ds and "PixelData" not in ds)


def export_if_waveform(source: str | Path, out: str | Path, group_number: int = 1) -> bool:
    """``dicom-viewer export``: draw the file at `source` into the PNG `out` if it is a waveform; False if it is not one."""
    from viewer.core.dicom.io import read_header

    path = Path(source)
    header = read_header(path)
    if not is_waveform(header):
        return False
    try:
        waveform = read_waveform(header)
    except ViewerError as error:
        raise ViewerError(error.reason, path) from None
    render_png(waveform, out, group_number)
    return True
