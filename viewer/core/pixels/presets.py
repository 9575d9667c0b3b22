"""Window presets by modality, in modality units (HU for CT).

Values are the usual ones of radiology teaching (e.g. Radiopaedia's
"Windowing (CT)"): width and level as a radiologist would type them.
"""

from __future__ import annotations

from viewer.core.pixels.pipeline import Window

#: name -> (center, width)
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

PRESETS_BY_MODALITY: dict[str, dict[str, tuple[float, float]]] = {
    "CT": CT_PRESETS,
}


def presets_for(modality: str) -> dict[str, Window]:
    """The named presets offered for images of `modality` (may be empty)."""
    table = PRESETS_BY_MODALITY.get(str(modality).upper(), {})
    return {name: Window(float(c), float(w), "LINEAR", name, "preset") for name, (c, w) in table.items()}


def all_presets() -> dict[str, Window]:
    """Every preset of every modality, for the command line's --preset."""
    merged: dict[str, Window] = {}
    for modality in PRESETS_BY_MODALITY:
        merged.update(presets_for(modality))
    return merged


def find_preset(name: str) -> Window | None:
    """A preset by name, ignoring case and spaces/hyphens/underscores."""
    wanted = "".join(ch for ch in name.lower() if ch.isalnum())
    for key, window in all_presets().items():
        if "".join(ch for ch in key.lower() if ch.isalnum()) == wanted:
            return window
    return None
