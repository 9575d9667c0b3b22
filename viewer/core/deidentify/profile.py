"""The action for each attribute, from PS3.15 Table E.1-1 and the options chosen (E.1.1, E.3).

Action codes (PS3.15 E.1.1): D replace with a dummy value, Z zero length (or a dummy), X remove, K keep (a
sequence is still cleaned inside), C clean, U replace the UID consistently. A combination says which to use
depending on the attribute's Type in its IOD; the profile here does not know the IOD, so it keeps every
such attribute present, with as little in it as the combination allows, so that no Type 1 or 2 attribute
goes missing: X/Z, Z/D and X/Z/D become Z (empty), X/D becomes D (a dummy), and X/Z/U* (a sequence of
references) becomes U: kept, with every UID inside replaced, so that references stay valid.

"A requirement for an Option, when implemented, overrides any requirement for the underlying Profile"
(E.1.1): when two chosen options name the same attribute, keeping (K) wins over cleaning (C).

Attributes the table does not name are kept, except by their VR (E.1.1 note 4 allows it): person names
(PN) are emptied, and dates and times (DA, DT, TM) are treated as the table treats dates: removed, kept
with the Full Dates option, shifted with the Modified Dates option.
"""

from __future__ import annotations

from functools import lru_cache

from viewer.core.deidentify.options import OPTION_COLUMNS, DeidentifyOptions
from viewer.core.deidentify.profile_table import PROFILE_ACTIONS, SAFE_PRIVATE

#: A combination -> the one action taken (see the module docstring).
COMBINATIONS = {"X/Z": "Z", "Z/D": "Z", "X/Z/D": "Z", "X/D": "D", "X/Z/U*": "U"}
DATE_VRS = frozenset({"DA", "DT", "TM"})
#: The Modified Dates Option's C for attributes that are not DA, DT or TM: Timezone Offset From UTC (SH) stays
#: true when dates move by whole days (kept); Frame Origin Timestamp and Certified Timestamp (OB, PS3.3 C.7.6.36
#: and C.12.1) are binary times this profile does not move (removed).
CLEANED_WITH_DATES = {0x00080201: "K", 0x00340007: "X", 0x04000310: "X"}


def table_action(tag: int, options: DeidentifyOptions) -> str | None:
    """The action Table E.1-1 gives `tag` under `options` (a combination left as the table writes it), or None."""
    row = PROFILE_ACTIONS.get(tag)
    if row is None:
        return None
    basic, columns = row
    if columns:
        chosen = {}
        for pair in columns.split():
            column, action = pair.split("=")
            chosen[column] = action
        overrides = [chosen[OPTION_COLUMNS[name]] for name in options.chosen if OPTION_COLUMNS[name] in chosen]
        if overrides:
            return "K" if "K" in overrides else overrides[0]
    return basic


@lru_cache(maxsize=32)
def action_table(options: DeidentifyOptions) -> dict[int, str]:
    """Every tag Table E.1-1 names -> the single action taken under `options` (combinations resolved).
    Cached per options (a run makes one de-identifier per chunk of files): callers must not change it."""
    actions = {}
    for tag in PROFILE_ACTIONS:
        action = table_action(tag, options)
        actions[tag] = COMBINATIONS.get(action, action)
        if actions[tag] == "C" and options.retain_modified_dates and tag in CLEANED_WITH_DATES:
            actions[tag] = CLEANED_WITH_DATES[tag]
    return actions


def action_for_vr(vr: str, options: DeidentifyOptions) -> str:
    """The action for an attribute the table does not name, by its VR (the module docstring)."""
    if vr == "PN":
        return "Z"
    if vr in DATE_VRS:
        if options.retain_full_dates:
            return "K"
        return "C" if options.retain_modified_dates else "X"
    return "K"


def repeating_group_removed(tag: int) -> bool:
    """Curve Data (50xx,xxxx) and overlays (60xx): Table E.1-1 removes Curve Data, Overlay Data (60xx,3000) and
    Overlay Comments (60xx,4000); an overlay without its data is not valid (PS3.3 C.9.2), so the whole group goes."""
    group = tag >> 16
    return (0x5000 <= group <= 0x501E or 0x6000 <= group <= 0x601E) and not group & 1


#: (group, private creator, element byte) of Table E.3.10-1's safe private attributes.
SAFE_PRIVATE_KEYS = frozenset((group, creator, element) for group, creator, element, _vr, _meaning in SAFE_PRIVATE)
