"""The de-identifier: a callable ``Dataset -> Dataset`` applying PS3.15 E.1's Basic Profile and the chosen options.

A :class:`Deidentifier` is made once per run (one :class:`~viewer.core.deidentify.key.DeidentificationKey`:
one UID map, one pseudonym and date shift per patient) and called on each dataset. It returns a new
dataset and never changes the one it is given: values that stay are shared as pydicom read them (raw
bytes, never decoded), so an element costs a dictionary look-up unless the profile changes it; Pixel Data
passes through untouched. Every sequence is walked to any depth (E.1.1: "whether contained in the main
dataset or embedded in an Item of a Sequence of Items").
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

from viewer.core.deidentify.key import DeidentificationKey
from viewer.core.deidentify.options import DeidentifyOptions
from viewer.core.deidentify.profile import SAFE_PRIVATE_KEYS, action_for_vr, action_table, repeating_group_removed
from viewer.core.deidentify.values import FREE_TEXT_VRS, MAX_LENGTH, TEXT_VRS, Scrubber, dummy, shift_value
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

if TYPE_CHECKING:
    from pydicom.dataelem import DataElement, RawDataElement
    from pydicom.dataset import Dataset, FileMetaDataset


def _load_pydicom() -> None:
    """The pydicom names of the Dataset path, imported on its first use: the byte-level path (encoded.py)
    builds a Deidentifier for its table and key but never a Dataset, and a headless run that takes only
    that path starts without importing pydicom and numpy (most of its start)."""
    global dictionary_VR, DataElement, RawDataElement, convert_raw_data_element, Dataset, FileMetaDataset
    global MultiValue, Sequence, BaseTag, ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pydicom.datadict import dictionary_VR
    from pydicom.dataelem import DataElement, RawDataElement, convert_raw_data_element
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.multival import MultiValue
    from pydicom.sequence import Sequence
    from pydicom.tag import BaseTag
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian


PATIENT_NAME = 0x00100010
PATIENT_ID = 0x00100020
SOP_INSTANCE_UID = 0x00080018
SPECIFIC_CHARACTER_SET = 0x00080005

#: The attributes whose values :class:`Scrubber` takes out of free text (Clean Descriptors, Clean Structured
#: Content): the patient's names and identifiers, addresses, the staff and the institution.
IDENTIFYING_KEYWORDS = (
    "PatientName",
    "PatientID",
    "OtherPatientIDs",
    "OtherPatientNames",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientBirthDate",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "MedicalRecordLocator",
    "AccessionNumber",
    "StudyID",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "OperatorsName",
    "RequestingPhysician",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "DeviceSerialNumber",
)

#: Sequence modes: how free text (LT, ST, UT, UC) the table does not name is treated inside a sequence whose
#: action is D (dummies: a Content Sequence's TEXT items lose their text) or C (cleaned of identifiers).
KEEP, DUMMY, CLEAN = 0, 1, 2


class Deidentifier:
    """Call it on a dataset to get its de-identified copy (PS3.15 E.1.1); one per run.

    ``deidentifier.key`` holds the replacement UIDs made so far (save it to map the same UIDs the same way in
    a later run). ``pixels_cleaned`` is set by the caller that blacked out burned-in text before calling.
    """

    def __init__(self, options: DeidentifyOptions | None = None, key: DeidentificationKey | None = None):
        self.options = options or DeidentifyOptions()
        self.key = key or DeidentificationKey()
        self.actions = action_table(self.options)
        self._by_vr: dict[str, str] = {}

    # ---------------------------------------------------------------- the whole dataset

    def __call__(self, ds: Dataset, *, pixels_cleaned: bool = False) -> Dataset:
        _load_pydicom()
        patient = _text(ds, PATIENT_ID) + "\0" + _text(ds, PATIENT_NAME)
        run = _Instance(self, ds, patient)
        out = self._dataset(ds, run, KEEP)
        self._mark(out, run, pixels_cleaned)
        out.file_meta = self._file_meta(ds, out)
        return out

    def _mark(self, out: Dataset, run: _Instance, pixels_cleaned: bool) -> None:
        """E.1.1 step 6 and E.3.6/E.3.7: say what was done, in the dataset itself."""
        options = self.options
        pseudonym = self.key.pseudonym(run.patient)
        # Patient ID is Z/D and Patient's Name Z: a dummy is allowed, and one per patient keeps the copies of
        # one patient together in any viewer (E.1.1 note 3: consistent for all instances protected).
        out.PatientID = options.patient_id if options.patient_id is not None else pseudonym
        out.PatientName = options.patient_name if options.patient_name is not None else pseudonym
        out.PatientIdentityRemoved = "YES"
        codes = options.method_codes(pixels_cleaned)
        out.DeidentificationMethod = [meaning for _value, meaning in codes]
        items = []
        for value, meaning in codes:
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
            items.append(item)
        out.DeidentificationMethodCodeSequence = Sequence(items)
        # PS3.3 C.12.1.1.7: whether dates and times were kept, shifted or removed.
        if options.retain_full_dates:
            out.LongitudinalTemporalInformationModified = "UNMODIFIED"
        elif options.retain_modified_dates:
            out.LongitudinalTemporalInformationModified = "MODIFIED"
        else:
            out.LongitudinalTemporalInformationModified = "REMOVED"
        if pixels_cleaned:
            out.BurnedInAnnotation = "NO"

    def _file_meta(self, ds: Dataset, out: Dataset) -> FileMetaDataset:
        """E.1.1 step 7: new File Meta Information describing this application (the old one may name the sender)."""
        meta = FileMetaDataset()
        old = getattr(ds, "file_meta", None)
        syntax = getattr(old, "TransferSyntaxUID", None) if old is not None else None
        if syntax is None:
            syntax = ImplicitVRLittleEndian if ds.original_encoding[0] else ExplicitVRLittleEndian
        meta.MediaStorageSOPClassUID = out.get("SOPClassUID", "")
        meta.MediaStorageSOPInstanceUID = out.get("SOPInstanceUID", "")
        meta.TransferSyntaxUID = syntax
        meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
        meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
        return meta

    # ---------------------------------------------------------------- one dataset or item

    def _dataset(self, src: Dataset, run: _Instance, mode: int) -> Dataset:
        out = Dataset(parent_encoding=src._parent_encoding)
        implicit, little = src.original_encoding
        out.set_original_encoding(implicit, little, src.original_character_set)
        actions = self.actions
        kept = out._dict
        private: list[tuple[int, RawDataElement | DataElement]] = []
        for tag, elem in src._dict.items():
            group = tag >> 16
            if group & 1:
                private.append((tag, elem))
                continue
            if not tag & 0xFFFF or repeating_group_removed(tag):
                continue  # group lengths (retired, PS3.5 7.2), curves and overlays
            action = actions.get(tag)
            vr = elem.VR or _dictionary_vr(tag)  # implicit VR: the dictionary's
            if action is None:
                action = self._by_vr.get(vr)
                if action is None:
                    action = self._by_vr[vr] = action_for_vr(vr, self.options)
                if action == "K" and mode and vr in FREE_TEXT_VRS:
                    action = "D" if mode == DUMMY else "C"
            if action == "X":
                continue
            if action == "K" and vr != "SQ":
                kept[tag] = elem
                continue
            self._apply(src, out, tag, elem, action, run, mode)
        if private and self.options.retain_safe_private:
            self._safe_private(src, out, private)
        return out

    def _apply(self, src: Dataset, out: Dataset, tag: int, raw, action: str, run: _Instance, mode: int) -> None:
        elem = convert_raw_data_element(raw, encoding=src._character_set, ds=src) if isinstance(raw, RawDataElement) else raw
        vr = elem.VR
        if vr == "SQ":
            if action == "Z":
                out._dict[tag] = DataElement(tag, "SQ", Sequence())
                return
            inner = {"D": DUMMY, "C": CLEAN}.get(action, mode)
            items = [self._dataset(item, run, inner) for item in elem.value]
            out._dict[tag] = DataElement(tag, "SQ", Sequence(items))
            return
        if action == "U" or (action == "D" and vr == "UI"):
            out._dict[tag] = DataElement(tag, vr, self._uids(elem.value))
            return
        if action == "Z":
            out._dict[tag] = DataElement(tag, vr, "" if vr in TEXT_VRS or vr in ("DA", "DT", "TM", "AS", "DS", "IS", "UI") else None)
            return
        if action == "D":
            out._dict[tag] = DataElement(tag, vr, dummy(vr))
            return
        if action == "C":
            out._dict[tag] = self._clean(elem, run)
            return
        out._dict[tag] = raw  # K, and any code the table may add one day: kept

    def _clean(self, elem: DataElement, run: _Instance) -> DataElement:
        """Action C: dates shifted (Modified Dates option), text rid of the patient's identifiers, the rest kept."""
        vr, value = elem.VR, elem.value
        if vr in ("DA", "DT", "TM"):
            if not self.options.retain_modified_dates:
                return DataElement(elem.tag, vr, "")  # C for a date only comes with shifting; never keep unshifted
            return DataElement(elem.tag, vr, shift_value(vr, value, run.shift_days))
        if vr in TEXT_VRS and value not in (None, ""):
            scrub = run.scrubber
            if isinstance(value, str):
                cleaned = scrub(value)
            elif not isinstance(value, (list, tuple, MultiValue)):  # one PersonName
                cleaned = scrub(str(value))
            else:
                cleaned = [scrub(str(v)) for v in value]
            limit = MAX_LENGTH.get(vr, 0)
            if limit and isinstance(cleaned, str):
                cleaned = cleaned[:limit]
            return DataElement(elem.tag, vr, cleaned)
        if vr == "UI":
            return DataElement(elem.tag, vr, self._uids(value))
        return elem

    def _uids(self, value):
        """Action U: each UID replaced by its consistent replacement (kept with the Retain UIDs option)."""
        if value in (None, ""):
            return value
        if isinstance(value, str):
            return self.key.uid(value)
        return [self.key.uid(str(v)) for v in value]

    def _safe_private(self, src: Dataset, out: Dataset, private: list) -> None:
        """Retain Safe Private (E.3.10): the private attributes of Table E.3.10-1, with their Private Creators."""
        creators: dict[tuple[int, int], str] = {}
        for tag, elem in private:
            if 0x10 <= tag & 0xFFFF <= 0xFF:
                creators[(tag >> 16, tag & 0xFF)] = _creator_name(elem)
        needed = set()
        for tag, raw in private:
            element = tag & 0xFFFF
            if element < 0x1000:
                continue
            group, block = tag >> 16, element >> 8
            creator = creators.get((group, block))
            if creator is None or (group, creator, element & 0xFF) not in SAFE_PRIVATE_KEYS:
                continue
            needed.add((group << 16) | block)
            vr = raw.VR if raw.VR else None
            if vr == "UI" and not self.options.retain_uids:
                elem = convert_raw_data_element(raw, encoding=src._character_set, ds=src) if isinstance(raw, RawDataElement) else raw
                out._dict[tag] = DataElement(tag, "UI", self._uids(elem.value))
            else:
                out._dict[tag] = raw
        for tag in needed:
            out._dict[BaseTag(tag)] = src._dict[tag]
        # Tag order is what writers expect (PS3.5 7.1); private tags were added after the others.
        out._dict = dict(sorted(out._dict.items()))


class _Instance:
    """What one call needs about the instance being de-identified: its patient, date shift and identifiers."""

    def __init__(self, deidentifier: Deidentifier, ds: Dataset, patient: str):
        self.deidentifier = deidentifier
        self.ds = ds
        self.patient = patient
        self._scrubber: Scrubber | None = None

    @property
    def shift_days(self) -> int:
        options = self.deidentifier.options
        return options.shift_days if options.shift_days is not None else self.deidentifier.key.shift_days(self.patient)

    @property
    def scrubber(self) -> Scrubber:
        if self._scrubber is None:
            self._scrubber = Scrubber(identifying_values(self.ds))
        return self._scrubber


def identifying_values(ds: Dataset) -> list[str]:
    """The text of :data:`IDENTIFYING_KEYWORDS` in `ds` and in its Other Patient IDs Sequence."""
    _load_pydicom()
    values: list[str] = []
    for keyword in IDENTIFYING_KEYWORDS:
        value = ds.get(keyword)
        if value in (None, ""):
            continue
        if isinstance(value, (list, tuple, MultiValue)):
            values.extend(str(v) for v in value)
        else:
            values.append(str(value))
    for item in ds.get("OtherPatientIDsSequence") or []:
        if item.get("PatientID"):
            values.append(str(item.PatientID))
    return values


def _text(ds: Dataset, tag: int) -> str:
    elem = ds._dict.get(tag)
    if elem is None:
        return ""
    value = elem.value
    # The bytes as stored where there are any (a raw element, a name read from a file), so that the patient's
    # pseudonym and date shift are the same whether or not pydicom decoded the value (encoded.py reads bytes).
    raw = value if isinstance(value, bytes) else getattr(value, "original_string", None)
    if isinstance(raw, bytes):
        return raw.decode("latin-1").strip(" \0")
    return str(value or "")


def _creator_name(elem) -> str:
    value = elem.value
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value or "").strip(" \0")


@lru_cache(maxsize=4096)
def _dictionary_vr(tag: int) -> str:
    _load_pydicom()
    try:
        return dictionary_VR(tag)
    except KeyError:
        return "UN"


#: The shape the Send helper's ``prepare`` hook takes.
Prepare = Callable[["Dataset"], "Dataset"]
