"""The identifier of a C-FIND (PS3.4 C.4.1.1.3): return keys per level, matching keys as typed, findscu's ``-k``.

Pure functions on pydicom Datasets, no network: the query panel, the
command line and :func:`~viewer.core.net.find.find` build their requests here.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError

#: Return keys asked for at each level (empty values = "send me this").
STUDY_KEYS = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "StudyDescription",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "StudyInstanceUID",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
    "SOPClassesInStudy",
)
SERIES_KEYS = (
    "Modality",
    "SeriesNumber",
    "SeriesDescription",
    "SeriesInstanceUID",
    "StudyInstanceUID",
    "NumberOfSeriesRelatedInstances",
    "SeriesDate",
    "SeriesTime",
)
PATIENT_KEYS = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex")


def query_dataset(level: str, filters: dict[str, str], charset: str) -> Dataset:
    """The identifier of a C-FIND (PS3.4 C.4.1.1.3): filters as given, the other return keys empty.

    A filter with an empty value is a return key (universal matching); see :func:`query_element`.
    """
    ds = Dataset()
    ds.QueryRetrieveLevel = level.upper()
    if charset:
        ds.SpecificCharacterSet = charset  # else servers answer in ASCII with '?' (PS3.4 C.4.1.1.3.2)
    keys = {"STUDY": STUDY_KEYS, "SERIES": SERIES_KEYS, "PATIENT": PATIENT_KEYS, "IMAGE": ("SOPInstanceUID", "InstanceNumber")}[
        level.upper()
    ]
    for keyword in keys:
        setattr(ds, keyword, "")
    for keyword, value in filters.items():
        element = query_element(keyword, value)
        ds[element.tag] = element
    return ds


#: VRs whose values are binary numbers: a matching value is converted, an empty one sent with length 0.
_BINARY_NUMBERS = {"US": int, "SS": int, "UL": int, "SL": int, "UV": int, "SV": int, "FL": float, "FD": float}


def query_element(keyword: str, value: str):
    """The identifier's element for `keyword` with matching value `value` ('' = return key).

    Its VR is the data dictionary's. Text is sent as typed, unchecked: a
    matching key may hold what no stored value may, wildcards ``*``/``?``
    (PS3.4 C.2.2.2.4) or a range ``20240101-20240131`` (C.2.2.2.5), and the
    peer judges it, as with dcmtk's findscu. One exception: wildcards do not
    apply to dates (C.2.2.2.4; Orthanc fails such a C-FIND with 0xC000), so a
    date typed as a year, month or day then ``*`` (``2020*``) is sent as the
    range it means (:func:`date_prefix_range`). Binary numbers are converted; a
    sequence is asked for empty (universal sequence matching, C.2.2.2.6).
    Raises ViewerError for a keyword not in the dictionary or a value its VR cannot hold.
    """
    from pydicom import config
    from pydicom.datadict import dictionary_VR, tag_for_keyword
    from pydicom.dataelem import DataElement
    from pydicom.sequence import Sequence

    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ViewerError(f"'{keyword}' is not a DICOM keyword")
    vr = dictionary_VR(tag).split(" or ")[0]  # "US or SS": either length works for an empty key
    if vr == "SQ" or vr in ("OB", "OD", "OF", "OL", "OV", "OW", "UN", "AT"):
        if value:
            raise ViewerError(f"{keyword} ({vr}) can only be asked for, without a value")
        return DataElement(tag, vr, Sequence() if vr == "SQ" else None)
    if vr in _BINARY_NUMBERS:
        try:
            number = [_BINARY_NUMBERS[vr](part) for part in value.split("\\")] if value else None
        except ValueError:
            raise ViewerError(f"{keyword}={value}: {keyword} holds numbers ({vr})") from None
        return DataElement(tag, vr, number[0] if number and len(number) == 1 else number)
    if vr == "DA":
        value = date_prefix_range(value) or value
    try:
        return DataElement(tag, vr, value, validation_mode=config.IGNORE)
    except ValueError:  # IS and DS are converted to numbers even unchecked
        raise ViewerError(f"{keyword}={value}: not a valid {vr} value") from None


def date_prefix_range(value: str) -> str | None:
    """The DA range (PS3.4 C.2.2.2.5) meant by ``YYYY*``, ``YYYYMM*`` or ``YYYYMMDD*``, else None.

    ``2020*`` -> ``20200101-20201231``, ``202402*`` -> ``20240201-20240229``.
    """
    import calendar
    import re

    prefix = re.fullmatch(r"(\d{4})(\d{2})?(\d{2})?\*", value)
    if prefix is None:
        return None
    year, month, day = prefix.groups()
    if day is not None:
        return f"{year}{month}{day}"
    if month is None:
        return f"{year}0101-{year}1231"
    if not 1 <= int(month) <= 12:
        return None
    return f"{year}{month}01-{year}{month}{calendar.monthrange(int(year), int(month))[1]:02d}"


def with_return_keys(match: Dataset, filters: dict[str, str]) -> Dataset:
    """`match` with every key of `filters` it lacks added empty (zero length: the peer has no value for it).

    A peer may leave out a key it does not support (PS3.4 C.4.1.1.3.2); the
    user who asked for it still sees it, empty, in every answer.
    """
    for keyword in filters:
        if keyword not in match:
            element = query_element(keyword, "")
            match[element.tag] = element
    return match


def parse_query_key(text: str) -> tuple[str, str]:
    """One key as dcmtk's findscu ``-k`` takes it: ``Keyword``, ``gggg,eeee`` or ``(gggg,eeee)``, then ``=VALUE`` or nothing.

    Returns (keyword, value); no value (or an empty one) makes a return key.
    Raises ViewerError, naming the key, for anything that is not a tag of the data dictionary.
    """
    import re

    from pydicom.datadict import keyword_for_tag, tag_for_keyword

    key, _, value = text.partition("=")
    key = key.strip()
    number = re.fullmatch(r"\(?\s*([0-9A-Fa-f]{4})\s*,\s*([0-9A-Fa-f]{4})\s*\)?", key)
    if number:
        tag = int(number.group(1) + number.group(2), 16)
        keyword = keyword_for_tag(tag)
        if not keyword:
            raise ViewerError(f"-k {text}: ({tag >> 16:04X},{tag & 0xFFFF:04X}) is not in the DICOM data dictionary")
        return keyword, value
    if tag_for_keyword(key) is None:
        raise ViewerError(f"-k {text}: '{key}' is neither a DICOM keyword (e.g. PatientName) nor a tag (e.g. 0010,0010)")
    return key, value
