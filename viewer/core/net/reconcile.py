"""Patient reconciliation before sending: the receiving hospital's Patient ID, Issuer, Name and Accession Number.

An outside disc carries the other hospital's identifiers; a PACS files the
study under its own. :func:`reconciler` gives the per-instance ``prepare``
hook of :func:`~viewer.core.net.send.send`: it changes only the attributes
given, on the copy being sent (the file is never written), the rest of the
dataset unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataset import Dataset

from viewer.core.dicom.io import ViewerError

#: (keyword, VR, maximum length in characters: PS3.5 Table 6.2-1) of each field a user may set.
_FIELDS = {
    "patient_id": ("PatientID", "LO", 64),  # (0010,0020)
    "issuer": ("IssuerOfPatientID", "LO", 64),  # (0010,0021)
    "patient_name": ("PatientName", "PN", 64),  # (0010,0010), per component group
    "accession": ("AccessionNumber", "SH", 16),  # (0008,0050)
}


@dataclass
class PatientFields:
    """New values; None leaves an attribute as it is, "" empties it."""

    patient_id: str | None = None
    issuer: str | None = None
    patient_name: str | None = None
    accession: str | None = None

    def changes(self) -> dict[str, str]:
        """{keyword: new value} of the fields given, checked against their VR (raises ViewerError)."""
        changes = {}
        for name, (keyword, vr, limit) in _FIELDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            value = str(value).strip()
            if "\\" in value or any(ord(ch) < 0x20 for ch in value):
                raise ViewerError(f"{keyword} cannot hold a backslash or control characters (PS3.5 6.2)")
            pieces = value.split("=") if vr == "PN" else [value]
            if vr == "PN" and (len(pieces) > 3 or any(piece.count("^") > 4 for piece in pieces)):
                raise ViewerError(f"{keyword} '{value}' has more than 5 components or 3 groups (PS3.5 6.2.1)")
            if any(len(piece) > limit for piece in pieces):
                raise ViewerError(f"{keyword} '{value}' is longer than {limit} characters ({vr}, PS3.5 6.2)")
            changes[keyword] = value
        return changes

    def __bool__(self) -> bool:
        return any(getattr(self, name) is not None for name in _FIELDS)


def scope_problem(fields: PatientFields, studies: int, patients: int) -> str:
    """Why `fields` cannot be written into instances of that many studies and patients ('' when they can).

    The new identifiers are one patient's: instances of several patients
    (by :func:`~viewer.core.media.model.patient_key`) would all become that
    patient. An Accession Number is one study's (PS3.3 C.7.2.1): several
    studies of the one patient may take a new Patient ID, not one accession.
    """
    if fields and patients > 1:
        return f"the instances belong to {patients} patients: reconcile one patient at a time"
    if fields.accession is not None and studies > 1:
        return f"an Accession Number is one study's, and the instances belong to {studies} studies: send them one study at a time"
    return ""


def reconciler(fields: PatientFields) -> Callable[[Dataset], Dataset]:
    """The ``prepare`` hook that writes `fields` into each dataset sent (values checked now: raises ViewerError)."""
    changes = fields.changes()

    def reconcile(ds: Dataset) -> Dataset:
        if any(not value.isascii() for value in changes.values()) and not _encodable(ds, changes):
            # Every text value is decoded with the old character set first, then written in UTF-8 (PS3.3 C.12.1.1.2).
            ds.decode()
            ds.SpecificCharacterSet = "ISO_IR 192"
        for keyword, value in changes.items():
            setattr(ds, keyword, value)
        return ds

    return reconcile


def _encodable(ds: Dataset, changes: dict[str, str]) -> bool:
    """Whether one of the dataset's declared character sets holds each new value whole.

    Asked of Python's codecs: pydicom's ``encode_string`` does not fail, it
    writes "?" for what it cannot encode. A value that would need ISO 2022
    code extensions across sets counts as not encodable (UTF-8 then holds it).
    """
    from pydicom.charset import convert_encodings

    declared = ds.get("SpecificCharacterSet")
    if not declared:
        return False  # the default repertoire is ASCII only
    try:
        encodings = convert_encodings([declared] if isinstance(declared, str) else list(declared))
    except (LookupError, ValueError):
        return False
    for value in changes.values():
        for encoding in encodings:
            try:
                value.encode(encoding)
                break
            except (UnicodeEncodeError, LookupError):
                continue
        else:
            return False
    return True
