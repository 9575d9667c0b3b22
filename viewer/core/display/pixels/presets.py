"""Window presets, in the unit of the modality values they apply to (HU for CT).

Values are the usual ones of radiology teaching (e.g. Radiopaedia's
"Windowing (CT)"): width and level as a radiologist would type them.
A preset in Hounsfield units means nothing on a radiograph, an MR or a CT
whose Modality LUT gives something else: it is offered, and applied, only
where the Modality LUT's output is HU (:func:`~viewer.core.display.pixels.pipeline.modality_unit`).
"""

from __future__ import annotations

import os

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.pipeline import Window, modality_unit

#: name -> (center, width), in Hounsfield units. Edited in place by the
#: Settings dialog (the user's own presets replace these).
CT_PRESETS: dict[str, tuple[float, float]] = {
    "Brain": (40, 80),
    "Subdural": (75, 215),
    "Stroke": (40, 40),
    "Temporal bone": (600, 2800),
    "Lung": (-600, 1500),
    "Mediastinum": (50, 350),
    "Abdomen": (40, 400),
    "Liver": (30, 150),
    "Bone": (400, 1800),
}

#: Unit of the modality values -> the presets in that unit.
PRESETS_BY_UNIT: dict[str, dict[str, tuple[float, float]]] = {
    "HU": CT_PRESETS,
}

#: How a unit is named in messages.
UNIT_NAMES = {"HU": "Hounsfield units"}


def _windows(table: dict[str, tuple[float, float]]) -> dict[str, Window]:
    return {name: Window(float(c), float(w), "LINEAR", name, "preset") for name, (c, w) in table.items()}


def presets_for(ctx: Dataset) -> dict[str, Window]:
    """The named presets offered for an image: those in the unit of its modality values.

    `ctx` is the image's (frame's) attributes; the unit is the Modality
    LUT's output (:func:`~viewer.core.display.pixels.pipeline.modality_unit`): HU
    presets for a CT in HU, none for CR, DX, MR, US or a CT whose (0028,1054)
    *Rescale Type* or (0028,3004) *Modality LUT Type* is something else.
    """
    return _windows(PRESETS_BY_UNIT.get(modality_unit(ctx).upper(), {}))


def all_presets() -> dict[str, Window]:
    """Every preset of every unit, for the command line's --preset."""
    merged: dict[str, Window] = {}
    for table in PRESETS_BY_UNIT.values():
        merged.update(_windows(table))
    return merged


def _normalised(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _lookup(name: str) -> tuple[str, Window] | None:
    wanted = _normalised(name)
    for unit, table in PRESETS_BY_UNIT.items():
        for key, window in _windows(table).items():
            if _normalised(key) == wanted:
                return unit, window
    return None


def find_preset(name: str) -> Window | None:
    """A preset by name, ignoring case and spaces/hyphens/underscores (whatever its unit)."""
    found = _lookup(name)
    return found[1] if found else None


def preset_for(name: str, ctx: Dataset, path: str | os.PathLike[str] | None = None) -> Window:
    """The preset `name` for the image `ctx`, checked to be in the unit of its values.

    Raises ViewerError (one line, naming `path`) for an unknown name, or for
    a preset whose unit is not that of the image's modality values: a lung
    window in HU on a radiograph's raw detector values would be all black.
    """
    found = _lookup(name)
    if found is None:
        raise ViewerError(f"unknown preset '{name}'; known: {', '.join(all_presets())}")
    unit, window = found
    image_unit = modality_unit(ctx)
    if image_unit.upper() != unit:
        modality = str(ctx.get("Modality", "") or "").strip()
        what = f"this {modality} image's" if modality else "this image's"
        said = f" (they are {image_unit})" if image_unit else ""
        raise ViewerError(f"the '{name}' preset is in {UNIT_NAMES.get(unit, unit)}; {what} values are not{said}", path)
    return window
