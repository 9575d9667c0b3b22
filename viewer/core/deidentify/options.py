"""What a user chooses when de-identifying: PS3.15 E.3's options on top of the Basic Profile (E.1).

Each option names its column of Table E.1-1 (:mod:`viewer.core.deidentify.profile_table`) and its code in
CID 7050 "De-identification Method" (PS3.16), which is written into De-identification Method Code Sequence
(0012,0064) of every de-identified instance (PS3.15 E.1.1 step 6).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

#: CID 7050 codes (coding scheme DCM, PS3.16 Annex D): code value, code meaning.
BASIC_PROFILE_CODE = ("113100", "Basic Application Confidentiality Profile")
CLEAN_PIXEL_DATA_CODE = ("113101", "Clean Pixel Data Option")
OPTION_CODES: dict[str, tuple[str, str]] = {
    "clean_graphics": ("113103", "Clean Graphics Option"),
    "clean_structured_content": ("113104", "Clean Structured Content Option"),
    "clean_descriptors": ("113105", "Clean Descriptors Option"),
    "retain_full_dates": ("113106", "Retain Longitudinal Temporal Information Full Dates Option"),
    "retain_modified_dates": ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    "retain_patient_characteristics": ("113108", "Retain Patient Characteristics Option"),
    "retain_device_identity": ("113109", "Retain Device Identity Option"),
    "retain_uids": ("113110", "Retain UIDs Option"),
    "retain_safe_private": ("113111", "Retain Safe Private Option"),
    "retain_institution_identity": ("113112", "Retain Institution Identity Option"),
}

#: Option (field of :class:`DeidentifyOptions`) -> its column in profile_table.PROFILE_ACTIONS.
OPTION_COLUMNS: dict[str, str] = {
    "retain_safe_private": "safe_private",
    "retain_uids": "uids",
    "retain_device_identity": "device",
    "retain_institution_identity": "institution",
    "retain_patient_characteristics": "patient_characteristics",
    "retain_full_dates": "full_dates",
    "retain_modified_dates": "modified_dates",
    "clean_descriptors": "descriptors",
    "clean_structured_content": "structured_content",
    "clean_graphics": "graphics",
}

#: What the dialog and ``--help`` call each option, in the order they are offered.
OPTION_LABELS: dict[str, str] = {
    "retain_modified_dates": "Retain longitudinal temporal information, dates shifted",
    "retain_full_dates": "Retain full dates and times",
    "retain_patient_characteristics": "Retain patient characteristics (sex, age, size, weight...)",
    "retain_device_identity": "Retain device identity",
    "retain_institution_identity": "Retain institution identity",
    "retain_uids": "Retain UIDs",
    "clean_descriptors": "Clean descriptors (keep descriptions, remove names and IDs from them)",
    "clean_structured_content": "Clean structured content (keep report text, remove names and IDs from it)",
    "clean_graphics": "Clean graphics (keep presentation-state and overlay annotations, remove names and IDs from them)",
    "retain_safe_private": "Retain safe private attributes (PS3.15 Table E.3.10-1)",
}


@dataclass(frozen=True)
class DeidentifyOptions:
    """The Basic Application Level Confidentiality Profile (PS3.15 E.1) and the options chosen on top of it.

    ``shift_days``: with ``retain_modified_dates``, every date moves by this many days (negative: earlier);
    None moves each patient's dates by their own amount (1 to 3 years back, the same for the patient's every
    instance in a run, and across runs with the same key). ``patient_id`` / ``patient_name``: the values
    written instead of the pseudonym made for each patient.
    """

    retain_modified_dates: bool = False
    retain_full_dates: bool = False
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_institution_identity: bool = False
    retain_uids: bool = False
    clean_descriptors: bool = False
    clean_structured_content: bool = False
    clean_graphics: bool = False
    retain_safe_private: bool = False
    shift_days: int | None = None
    patient_id: str | None = None
    patient_name: str | None = None

    def __post_init__(self) -> None:
        if self.retain_full_dates and self.retain_modified_dates:
            raise ValueError("keep the dates or shift them, not both")
        if self.shift_days is not None and not self.retain_modified_dates:
            object.__setattr__(self, "retain_modified_dates", True)

    @property
    def chosen(self) -> list[str]:
        """The options switched on, in OPTION_CODES order."""
        return [name for name in OPTION_CODES if getattr(self, name)]

    def method_codes(self, pixels_cleaned: bool = False) -> list[tuple[str, str]]:
        """CID 7050 codes for De-identification Method Code Sequence (0012,0064): the profile, then each option."""
        codes = [BASIC_PROFILE_CODE] + [OPTION_CODES[name] for name in self.chosen]
        if pixels_cleaned:
            codes.append(CLEAN_PIXEL_DATA_CODE)
        return codes

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}
