"""Window presets, in the unit of the modality values they apply to (HU for CT).

Values are the usual ones of radiology teaching (e.g. Radiopaedia's
"Windowing (CT)"): width and level as a radiologist would type them.
A preset in Hounsfield units means nothing on a radiograph, an MR or a CT
whose Modality LUT gives something else: it is offered, and applied, only
where the Modality LUT's output is HU (:func:`~viewer.core.display.pixels.pipeline.modality_unit`).

The presets in force are a :class:`PresetTable` passed to each lookup: the
window's comes from the user's settings, the command line uses
:data:`BUILT_IN_PRESETS`. A table is never edited; the Settings dialog makes
a new one (:meth:`PresetTable.with_unit`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.pipeline import Window, modality_unit

#: How a unit is named in messages.
UNIT_NAMES = {"HU": "Hounsfield units"}


@dataclass(frozen=True)
class PresetTable:
    """Named windows, ``unit -> {name: (center, width)}``, in the unit of the values they apply to."""

    by_unit: Mapping[str, Mapping[str, tuple[float, float]]]

    def __post_init__(self) -> None:
        frozen = {unit: MappingProxyType(dict(table)) for unit, table in self.by_unit.items()}
        object.__setattr__(self, "by_unit", MappingProxyType(frozen))

    @property
    def ct(self) -> Mapping[str, tuple[float, float]]:
        """The presets in Hounsfield units (what the Settings dialog edits)."""
        return self.by_unit.get("HU", MappingProxyType({}))

    def with_unit(self, unit: str, table: Mapping[str, tuple[float, float]]) -> PresetTable:
        """This table with the presets of `unit` replaced by `table`."""
        return PresetTable({**self.by_unit, unit: table})


#: The presets a fresh installation offers, and what the command line's --preset knows.
BUILT_IN_PRESETS = PresetTable(
    {
        "HU": {
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
    }
)


def _windows(table: Mapping[str, tuple[float, float]]) -> dict[str, Window]:
    return {name: Window(float(c), float(w), "LINEAR", name, "preset") for name, (c, w) in table.items()}


def presets_for(ctx: Dataset, table: PresetTable = BUILT_IN_PRESETS) -> dict[str, Window]:
    """The named presets of `table` offered for an image: those in the unit of its modality values.

    `ctx` is the image's (frame's) attributes; the unit is the Modality
    LUT's output (:func:`~viewer.core.display.pixels.pipeline.modality_unit`): HU
    presets for a CT in HU, none for CR, DX, MR, US or a CT whose (0028,1054)
    *Rescale Type* or (0028,3004) *Modality LUT Type* is something else.
    """
    return _windows(table.by_unit.get(modality_unit(ctx).upper(), {}))


def all_presets(table: PresetTable = BUILT_IN_PRESETS) -> dict[str, Window]:
    """Every preset of every unit of `table`, for the command line's --preset."""
    merged: dict[str, Window] = {}
    for presets in table.by_unit.values():
        merged.update(_windows(presets))
    return merged


def _normalised(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _lookup(name: str, table: PresetTable) -> tuple[str, Window] | None:
    wanted = _normalised(name)
    for unit, presets in table.by_unit.items():
        for key, window in _windows(presets).items():
            if _normalised(key) == wanted:
                return unit, window
    return None


def find_preset(name: str, table: PresetTable = BUILT_IN_PRESETS) -> Window | None:
    """A preset of `table` by name, ignoring case and spaces/hyphens/underscores (whatever its unit)."""
    found = _lookup(name, table)
    return found[1] if found else None


def preset_for(name: str, ctx: Dataset, path: str | os.PathLike[str] | None = None, table: PresetTable = BUILT_IN_PRESETS) -> Window:
    """The preset `name` of `table` for the image `ctx`, checked to be in the unit of its values.

    Raises ViewerError (one line, naming `path`) for an unknown name, or for
    a preset whose unit is not that of the image's modality values: a lung
    window in HU on a radiograph's raw detector values would be all black.
    """
    found = _lookup(name, table)
    if found is None:
        raise ViewerError(f"unknown preset '{name}'; known: {', '.join(all_presets(table))}")
    unit, window = found
    image_unit = modality_unit(ctx)
    if image_unit.upper() != unit:
        modality = str(ctx.get("Modality", "") or "").strip()
        what = f"this {modality} image's" if modality else "this image's"
        said = f" (they are {image_unit})" if image_unit else ""
        raise ViewerError(f"the '{name}' preset is in {UNIT_NAMES.get(unit, unit)}; {what} values are not{said}", path)
    return window
