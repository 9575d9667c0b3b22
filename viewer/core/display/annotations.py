"""Corner annotations and the "which stages are active" summary, as plain text.

Both are computed from the header and the display state here, without Qt,
so the pane, the tests and any export agree on what is shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydicom.dataset import Dataset

from viewer.core.display.pixels.pipeline import (
    VOI,
    FrameDisplay,
    FullRange,
    VOILut,
    Window,
    describe_voi,
    file_voi_luts,
    file_windows,
    modality_unit,
    presentation_inverts,
)

if TYPE_CHECKING:
    from viewer.core.dicom.charset import CharsetOverrides


def _group(components: str) -> str:
    parts = [p.strip() for p in components.split("^")]
    family, given = (parts + ["", ""])[:2]
    if family and given:
        return f"{family}, {given}"
    return family or given or " ".join(p for p in parts if p)


def format_person_name(value) -> str:
    """'Family, Given' from a PN value (PS3.5 6.2.1), with the other component groups.

    'Yamada^Tarou=山田^太郎=やまだ^たろう' reads 'Yamada, Tarou (山田, 太郎; やまだ, たろう)':
    alphabetic first, then ideographic and phonetic when present.
    """
    if not value:
        return ""
    text = str(value)
    groups = [_group(g) for g in text.split("=")]
    first = next((g for g in groups if g), "")
    others = [g for g in groups[1:] if g and g != first]
    if groups and not groups[0]:
        others = [g for g in groups if g and g != first]
    return f"{first} ({'; '.join(others)})" if others else first


def format_date(value) -> str:
    """YYYYMMDD (DA, PS3.5 6.2) as YYYY-MM-DD; anything else unchanged."""
    text = str(value or "").strip()
    if len(text) == 8 and text.isdigit():
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def format_time(value) -> str:
    """HHMMSS(.frac) (TM) as HH:MM:SS."""
    text = str(value or "").strip().split(".")[0]
    if len(text) >= 4 and text.isdigit():
        parts = [text[i : i + 2] for i in range(0, len(text), 2)]
        return ":".join(parts[:3])
    return text


def _get(ds: Dataset, keyword: str, overrides: CharsetOverrides | None = None) -> str:
    from viewer.core.media.model import text

    return text(ds, keyword, None, overrides)  # never raises: a malformed value must not break the overlay


def _integer(ds: Dataset, keyword: str) -> int | None:
    """A US/SS attribute as the number pydicom reads in the file's byte order (None if absent or malformed)."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a malformed value: the row says it is not given
            value = ds.get(keyword)
        return None if value is None or value == "" else int(value)
    except Exception:  # never breaks the dock
        return None


@dataclass(frozen=True)
class ViewFacts:
    """What the pane knows beyond the header: position and display settings."""

    image_number: int  # 1-based, in the series
    image_count: int
    frame_number: int  # 1-based, in the instance
    frame_count: int
    voi: VOI
    invert: bool = False
    zoom: float = 1.0
    frame_rate: float | None = None  # cine rate, for series of more than one image
    playing: bool = False
    dropped: int = 0
    key_image: bool = False  # a Key Object Selection flags this image and frame (PS3.3 A.35.4)


#: Windows narrower than this (PET SUV, parametric maps) keep decimals in the corner: as integers they would read "W 3 L 2".
NARROW_WINDOW = 10.0


def _whole(value: float) -> str:
    """A value rounded half away from zero, as the integer text a reader expects ('-600', '178')."""
    return str(int(math.copysign(math.floor(abs(value) + 0.5), value)) if math.isfinite(value) else value)


def window_text(voi: VOI) -> str:
    """The window for the corner text: 'W 350 L 178' (whole numbers; the Display pipeline dock keeps the exact ones).

    (0028,1050) *Window Center* and (0028,1051) *Window Width* (PS3.3
    C.11.2.1.2) are often fractional after an automatic window or a drag;
    radiologists read and set them as whole numbers. A window narrower than
    :data:`NARROW_WINDOW` keeps up to three significant digits. VOI LUTs and
    the full range read as :func:`describe_voi` says.
    """
    if not isinstance(voi, Window):
        return describe_voi(voi)
    if abs(voi.width) < NARROW_WINDOW:
        return f"W {voi.width:.3g} L {voi.center:.3g}"
    return f"W {_whole(voi.width)} L {_whole(voi.center)}"


@dataclass(frozen=True)
class HeaderText:
    """The lines of corner text an image's header gives: all but what the view adds (:class:`ViewFacts`).

    Read once per image and kept by the viewport while it shows the series: rebuilding
    the header and decoding its text (PS3.5 6.1) is most of the cost of the corner text.
    """

    patient: tuple[str, ...]  # name, ID, birth date and sex
    study: tuple[str, ...]  # institution, date and time, description
    series: tuple[str, ...]  # modality and series number, description
    slice: tuple[str, ...]  # location and thickness


def header_lines(ds: Dataset, frame_ctx: Dataset | None = None, overrides: CharsetOverrides | None = None) -> HeaderText:
    """The corner text of the header `ds` (see :func:`corner_annotations` for `frame_ctx` and `overrides`)."""
    patient = [format_person_name(_get(ds, "PatientName", overrides)), _get(ds, "PatientID", overrides)]
    birth = format_date(_get(ds, "PatientBirthDate", overrides))
    sex = _get(ds, "PatientSex", overrides)
    if birth or sex:
        patient.append(" ".join(p for p in (birth, sex) if p))
    study = [
        _get(ds, "InstitutionName", overrides),
        " ".join(p for p in (format_date(_get(ds, "StudyDate", overrides)), format_time(_get(ds, "StudyTime", overrides))) if p),
        _get(ds, "StudyDescription", overrides),
    ]
    series_line = " ".join(
        p
        for p in (
            _get(ds, "Modality", overrides),
            f"Se {_get(ds, 'SeriesNumber', overrides)}" if _get(ds, "SeriesNumber", overrides) else "",
        )
        if p
    )
    where = frame_ctx if frame_ctx is not None else ds
    location = _get(where, "SliceLocation", overrides) or _get(ds, "SliceLocation", overrides)
    if not location and frame_ctx is not None and frame_ctx is not ds:
        from viewer.core.media.model import slice_position

        position = slice_position(frame_ctx)
        location = f"{position:.2f}" if position is not None else ""
    thickness = _get(where, "SliceThickness", overrides) or _get(ds, "SliceThickness", overrides)
    slice_lines = []
    if location:
        try:
            slice_lines.append(f"Loc {float(location):.2f} mm")
        except ValueError:
            slice_lines.append(f"Loc {location}")
    if thickness:
        try:
            slice_lines.append(f"Thk {float(thickness):g} mm")
        except ValueError:
            slice_lines.append(f"Thk {thickness}")
    return HeaderText(tuple(patient), tuple(study), (series_line, _get(ds, "SeriesDescription", overrides)), tuple(slice_lines))


def corner_annotations(
    ds: Dataset, facts: ViewFacts, frame_ctx: Dataset | None = None, overrides: CharsetOverrides | None = None
) -> dict[str, list[str]]:
    """Text for the four corners: 'top_left', 'top_right', 'bottom_left', 'bottom_right'.

    `frame_ctx` is the shown frame's context (its per-frame position and
    thickness for enhanced multi-frame images); `overrides` the user's
    character-set choices.
    """
    return corner_text(header_lines(ds, frame_ctx, overrides), facts)


def corner_text(header: HeaderText, facts: ViewFacts) -> dict[str, list[str]]:
    """The four corners' text (as :func:`corner_annotations`) from the header's lines and the view's facts."""
    image_line = f"Im {facts.image_number}/{facts.image_count}"
    if facts.frame_count > 1:
        image_line += f"  Fr {facts.frame_number}/{facts.frame_count}"
    if facts.frame_rate:
        image_line += f"  {facts.frame_rate:.3g} fps"
        if facts.playing and facts.dropped:
            image_line += f" ({facts.dropped} dropped)"
    if facts.key_image:
        image_line += "  ★ Key image"
    series = [*header.series, image_line, *header.slice]
    from viewer.core.display.pixels.pipeline import IDENTITY_WINDOW

    # Colour shown as stored needs no window line; a user window on it does.
    display = [window_text(facts.voi)] if facts.voi != IDENTITY_WINDOW else []
    display.append(f"Zoom {facts.zoom * 100:.0f}%")
    if facts.invert:
        display.append("Inverted")
    return {
        "top_left": [line for line in header.patient if line],
        "top_right": [line for line in header.study if line],
        "bottom_left": [line for line in series if line],
        "bottom_right": display,
    }


def pipeline_stages(frame: FrameDisplay, voi: VOI, invert: bool, overrides: CharsetOverrides | None = None) -> list[tuple[str, str]]:
    """(stage, what it does now) for the image shown, in pipeline order.

    A wrong stage is the commonest display fault, so this says exactly which
    attributes drive each one (PS3.3 C.11). `overrides`: the user's character-set choices.
    """
    ctx = frame.ctx
    stages: list[tuple[str, str]] = []
    photometric = frame.photometric
    # (0028,0101) Bits Stored and (0028,0103) Pixel Representation (PS3.3 C.7.6.3.1), US in the file's byte order.
    bits_stored = _integer(ctx, "BitsStored")
    signed = _integer(ctx, "PixelRepresentation") == 1
    bits = f"{bits_stored if bits_stored is not None else '?'} bits stored, {'signed' if signed else 'unsigned'}"
    stages.append(("Stored values", f"{photometric}, {bits}"))
    if frame.is_color:
        if photometric == "PALETTE COLOR":
            kind = "segmented " if "SegmentedRedPaletteColorLookupTableData" in ctx else ""
            stages.append(("Colour", f"{kind}palette colour lookup tables"))
        elif photometric.startswith("YBR"):
            stages.append(("Colour", f"{photometric} converted to RGB"))
        else:
            planar = _integer(ctx, "PlanarConfiguration")
            stages.append(("Colour", f"{photometric}, planar configuration {planar or 0}"))
        stages.append(("Window", "none (8-bit colour)" if not isinstance(voi, Window) or voi.source == "auto" else describe_voi(voi)))
        stages.append(("Inversion", "inverted by the user" if invert else "none"))
        return stages
    unit = modality_unit(ctx)
    if ctx.get("ModalityLUTSequence"):
        item = ctx.ModalityLUTSequence[0]
        descriptor = list(item.LUTDescriptor)
        explanation = _get(item, "LUTExplanation", overrides)
        stages.append(("Modality LUT", f"Modality LUT Sequence, descriptor {descriptor}" + (f" ({explanation})" if explanation else "")))
    elif "RescaleSlope" in ctx or "RescaleIntercept" in ctx:
        stages.append(
            (
                "Modality LUT",
                f"rescale slope {_get(ctx, 'RescaleSlope', overrides) or '1'}, intercept {_get(ctx, 'RescaleIntercept', overrides) or '0'}"
                + (f" -> {unit}" if unit else ""),
            )
        )
    else:
        stages.append(("Modality LUT", "identity (no rescale in the file)"))
    if isinstance(voi, Window):
        stages.append(("VOI", _window_origin(voi)))
        stages.append(("VOI LUT Function", voi.function))
    elif isinstance(voi, VOILut):
        item = ctx.VOILUTSequence[voi.index]
        stages.append(
            (
                "VOI",
                f"VOI LUT Sequence item {voi.index + 1}, descriptor {list(item.LUTDescriptor)}"
                + (f" ({voi.explanation})" if voi.explanation else ""),
            )
        )
    elif isinstance(voi, FullRange):
        stages.append(("VOI", "none: the full modality range is shown"))
    windows, luts = file_windows(ctx), file_voi_luts(ctx)
    offered = []
    if windows:
        offered.append(f"{len(windows)} window{'s' if len(windows) > 1 else ''}")
    if luts:
        offered.append(f"{len(luts)} VOI LUT{'s' if len(luts) > 1 else ''}")
    stages.append(("File offers", ", ".join(offered) or "no VOI"))
    by_file = presentation_inverts(ctx)
    shape = _get(ctx, "PresentationLUTShape", overrides)
    reason = f"Presentation LUT Shape {shape}" if shape else photometric
    if by_file and invert:
        text = f"{reason} inverts, and the user inverted back"
    elif by_file:
        text = f"inverted ({reason})"
    elif invert:
        text = "inverted by the user"
    else:
        text = f"none ({reason})"
    stages.append(("Presentation", text))
    return stages


def _window_origin(voi: Window) -> str:
    """The VOI row for a window: where it comes from, then its center and width.

    An automatic window says how it was computed ("for the series, from
    Smallest/Largest Image Pixel Value", "... from the 0.5-99.5 percentile of
    image 6"; :mod:`viewer.core.display.pixels.auto_window`); the viewer's default for
    a CT with no window of its own says that it is one.
    """
    values = f"center {voi.center:g}, width {voi.width:g}"
    if voi.source == "default":
        name = voi.explanation.lower().replace(" ", "-") or "default"  # 'soft-tissue preset'
        return f"no window in the file: {name} preset, {values}"
    if voi.source == "auto":
        how = voi.explanation if voi.explanation.startswith("for the series") else "(min-max of the image)"
        return f"window automatic {how}: {values}"
    origin = {"file": "from the file", "preset": "preset", "user": "set by the user"}.get(voi.source, voi.source)
    label = f" '{voi.explanation}'" if voi.explanation and voi.source in ("file", "preset") else ""
    return f"window{label} {origin}: {values}"


#: What the orientation markers and the scale bar read that the catalog's compact header
#: (:data:`viewer.core.dicom.header.INDEX_KEYWORDS`, group 0028) does not keep.
OVERLAY_KEYWORDS = (
    "PatientOrientation",
    "ImagerPixelSpacing",
    "EstimatedRadiographicMagnificationFactor",
    "SequenceOfUltrasoundRegions",
    "AnatomicalOrientationType",
)


def overlay_context_is_complete(ctx: Dataset) -> bool:
    """Whether `ctx` gives the orientation markers and the scale bar all they read.

    A cross-sectional image with (0020,0037) *Image Orientation (Patient)*
    and (0028,0030) *Pixel Spacing* needs nothing more (the catalog keeps
    both). Otherwise the markers may come from (0020,0020) *Patient
    Orientation*, and projection radiographs (PS3.3 10.7.1.3) and ultrasound
    (PS3.3 C.8.5.5) take their spacing from attributes the catalog does not
    keep (:data:`OVERLAY_KEYWORDS`): then the whole header is needed, unless
    `ctx` holds one of them already (it is the whole header).
    """
    from viewer.core.display.calibration import is_projection

    if any(keyword in ctx for keyword in OVERLAY_KEYWORDS):
        return True
    modality = str(ctx.get("Modality", "") or "").strip().upper()
    if is_projection(ctx) or modality in ("US", "IVUS"):
        return False
    return "ImageOrientationPatient" in ctx and "PixelSpacing" in ctx
