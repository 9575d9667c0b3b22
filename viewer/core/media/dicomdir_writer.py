"""Writing a DICOMDIR: the Basic Directory IOD (PS3.3 F.3) for a General Purpose CD-R file-set.

The media writer (:mod:`viewer.core.media.writer`) hands over one :class:`FileEntry` per
written file: its Referenced File ID and the file's own elements, already encoded in
Explicit VR Little Endian (the file's bytes, from :class:`~viewer.core.dicom.header.RawHeader`).
:class:`DirectoryBuilder` groups them PATIENT > STUDY > SERIES > leaf record (PS3.3 F.4)
and :func:`encode_dicomdir` writes the file:

- each record's keys are those PS3.3 F.5 requires of its type, copied byte for byte from
  the file that introduced the record, with that file's (0008,0005) *Specific Character
  Set* (F.5: Type 1C wherever a record holds text in another character set), so a name
  in Japanese or Greek is carried exactly as the file spells it, never re-encoded;
- a Type 1 key the files lack (a Study ID, a Series Number...) gets a made-up value, as
  ``dcmmkdir +I`` does, and the writer says so (:attr:`DirectoryBuilder.invented`);
- the records of the Directory Record Sequence are written depth first (a patient, its
  first study, that study's first series and its instances...), with defined lengths, so
  each record's offset (F.3.2.1: bytes from the first byte of the file's preamble to the
  record's Item tag) is known before a byte is written and the file is written once.

Leaf records other than IMAGE (SR DOCUMENT, KEY OBJECT DOC, PRESENTATION, ENCAP DOC,
WAVEFORM, RT...: F.5) take their keys from the whole header, read by pydicom: they are
few, and some keys are sequences (Concept Name Code Sequence).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.core.dicom.header import RawHeader, encode_element
from viewer.core.dicom.sop_classes import MEDIA_DIRECTORY_SOP_CLASS
from viewer.core.runtime.about import IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME

# Keys of the four levels (PS3.3 F.5.1, F.5.2, F.5.3, F.5.18), and a few Type 3 keys this viewer's reader
# (dicomdir.py) uses: a patient's birth date (who the patient is, model.patient_key), a series' description
# (the browser's label), the instance's position and orientation (slice order without opening the files) and
# its Number of Frames. dciodvfy notes those as "not present in standard DICOM IOD" (warnings, not errors).
_CHARSET = 0x00080005
PATIENT_KEYS = (0x00100010, 0x00100020, 0x00100021, 0x00100030)
STUDY_KEYS = (0x00080020, 0x00080030, 0x00080050, 0x00081030, 0x0020000D, 0x00200010)
SERIES_KEYS = (0x00080060, 0x0008103E, 0x0020000E, 0x00200011)
# IMAGE: STD-GEN's additional keys (PS3.11 D.3.3.1): (0008,0008) Image Type and (0008,1140) Referenced Image
# Sequence, Type 1C (when the image has them; the sequence is added from the file by the writer).
IMAGE_KEYS = (0x00080008, 0x00200013, 0x00200032, 0x00200037, 0x00280008)

_PATIENT_ID, _STUDY_DATE, _STUDY_TIME, _STUDY_ID = 0x00100020, 0x00080020, 0x00080030, 0x00200010
_MODALITY, _SERIES_NUMBER, _INSTANCE_NUMBER = 0x00080060, 0x00200011, 0x00200013
#: Type 2 keys: present, empty when the file has no value (F.5.1 Patient's Name, F.5.2 Accession Number, Study Description).
_TYPE2 = {0x00100010: b"PN", 0x00080050: b"SH", 0x00081030: b"LO"}
#: Dates a missing Study Date is taken from, in order, before the one dcmtk makes up (1900-01-01).
_OTHER_DATES = (0x00080021, 0x00080023, 0x00080022, 0x00080012)
_OTHER_TIMES = (0x00080031, 0x00080033, 0x00080032, 0x00080013)


@dataclass
class FileEntry:
    """One file of the file-set: where it is (components of its Referenced File ID, PS3.10 8.2),
    what it is (SOP Class, SOP Instance, transfer syntax) and its header.

    ``leaf`` is the record for levels below SERIES (IMAGE, or the F.5 record for another
    object, from :func:`leaf_record_keys`), its keys encoded in Explicit VR Little Endian.
    """

    file_id: tuple[str, ...]
    header: RawHeader
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax_uid: str
    record_type: str = "IMAGE"
    leaf: bytes | None = None
    size: int = 0  # the file's bytes
    referenced_images: bytes | None = None  # (0008,1140) as the file encodes it (STD-GEN: Type 1C in IMAGE records)


@dataclass(eq=False)
class Record:
    """One directory record before it is written: its type, its encoded keys (group 0008 on,
    in tag order) and the records of the level below."""

    type: str
    keys: bytes
    children: list[Record] = field(default_factory=list)
    file: FileEntry | None = None


def _element(tag: int, vr: bytes, value: bytes) -> bytes:
    if len(value) % 2:  # PS3.5 7.1: even lengths; UI pads with NUL, text with a space
        value += b"\x00" if vr == b"UI" else b" "
    encoded = encode_element(tag, vr, value, False, True)
    assert encoded is not None
    return encoded


def _present(header: RawHeader, tag: int) -> bool:
    value = header.value(tag)
    return value is not None and value.strip(b"\x00 ") != b""


def _keys(header: RawHeader, tags: tuple[int, ...], made_up: dict[int, bytes], extra: dict[int, bytes] | None = None) -> bytes:
    """The record keys `tags` as the file encodes them (Explicit VR Little Endian), with the file's
    Specific Character Set, the values of `made_up` instead of the file's, empty Type 2 keys, and `extra` as given."""
    elements: dict[int, bytes] = {}
    if _CHARSET in header.elements:
        elements[_CHARSET] = header.elements[_CHARSET]
    for tag in tags:
        encoded = header.elements.get(tag)
        if tag in made_up:  # absent, or (a Patient ID) another patient's
            encoded = _element(tag, made_up[tag][:2], made_up[tag][2:])
        elif encoded is None and tag in _TYPE2:
            encoded = _element(tag, _TYPE2[tag], b"")
        if encoded is not None:
            elements[tag] = encoded
    elements.update(extra or {})
    return b"".join(elements[tag] for tag in sorted(elements))


def _first(header: RawHeader, tags: tuple[int, ...], fallback: bytes) -> bytes:
    """The first of `tags` the file has a value for (a date cut to 8 characters, PS3.5 6.2 DA), else `fallback`."""
    for tag in tags:
        if _present(header, tag):
            value = header.value(tag).strip(b"\x00 ")
            return value[:8] if len(fallback) == 8 else value
    return fallback


class DirectoryBuilder:
    """The record tree of a file-set, grown file by file (PS3.3 F.4: PATIENT > STUDY > SERIES > leaf).

    Patients are told apart as the viewer's catalog tells them (``model.patient_key``): Patient ID
    and Issuer when an issuer is given, else Patient ID, name and birth date; studies by Study
    Instance UID (a study met again under another patient stays with its first), series by
    Series Instance UID. Higher records take their keys from the first file that introduces them.
    """

    def __init__(self) -> None:
        self.patients: list[Record] = []
        self._patient: dict[tuple, Record] = {}
        self._study: dict[str, Record] = {}
        self._series: dict[str, Record] = {}
        #: Type 1 keys made up because the files lack them, as "Study ID of study 1.2.3 ..." lines.
        self.invented: list[str] = []
        self._patient_ids: set[bytes] = set()

    @staticmethod
    def patient_key(header: RawHeader) -> tuple:
        patient_id = (header.value(_PATIENT_ID) or b"").strip(b"\x00 ")
        issuer = (header.value(0x00100021) or b"").strip(b"\x00 ")
        if patient_id and issuer:
            return (patient_id, issuer)
        name = (header.value(0x00100010) or b"").strip(b"\x00 ").upper()
        return (patient_id, name, (header.value(0x00100030) or b"").strip(b"\x00 "))

    def instances_in(self, series_uid: str) -> int:
        """How many records the series of `series_uid` holds so far."""
        series = self._series.get(series_uid)
        return len(series.children) if series is not None else 0

    def add(self, entry: FileEntry) -> None:
        header = entry.header
        study_uid, series_uid = header.uid(0x0020000D), header.uid(0x0020000E)
        study = self._study.get(study_uid)
        if study is None:
            key = self.patient_key(header)
            patient = self._patient.get(key)
            if patient is None:
                made_up = {}
                number = len(self.patients) + 1
                patient_id = (header.value(_PATIENT_ID) or b"").strip(b"\x00 ")
                if not patient_id:
                    made_up[_PATIENT_ID] = b"LO" + f"NOID{number}".encode()
                    self.invented.append(f"Patient ID of patient {number} (the files have none)")
                elif patient_id in self._patient_ids:
                    # PS3.11 D.3.3: one Patient ID per PATIENT record of a file-set; two patients sharing one
                    # (another name or birth date, no issuer) are told apart as dcmmkdir +Ipi does
                    made_up[_PATIENT_ID] = b"LO" + patient_id[:56] + f"_{number}".encode()
                    self.invented.append(f"Patient ID of patient {number} ({patient_id.decode('ascii', 'replace')} is another patient's)")
                self._patient_ids.add((made_up.get(_PATIENT_ID) or b"LO" + patient_id)[2:])
                patient = Record("PATIENT", _keys(header, PATIENT_KEYS, made_up))
                self.patients.append(patient)
                self._patient[key] = patient
            made_up = {}
            if not _present(header, _STUDY_DATE):
                made_up[_STUDY_DATE] = b"DA" + _first(header, _OTHER_DATES, b"19000101")
                self.invented.append(f"Study Date of study {study_uid}")
            if not _present(header, _STUDY_TIME):
                made_up[_STUDY_TIME] = b"TM" + _first(header, _OTHER_TIMES, b"000000")
                self.invented.append(f"Study Time of study {study_uid}")
            if not _present(header, _STUDY_ID):
                made_up[_STUDY_ID] = b"SH" + str(len(patient.children) + 1).encode()
                self.invented.append(f"Study ID of study {study_uid}")
            study = Record("STUDY", _keys(header, STUDY_KEYS, made_up))
            patient.children.append(study)
            self._study[study_uid] = study
        series = self._series.get(series_uid)
        if series is None:
            made_up = {}
            if not _present(header, _MODALITY):
                made_up[_MODALITY] = b"CSOT"  # "other" (PS3.3 C.7.3.1.1.1)
                self.invented.append(f"Modality of series {series_uid} (OT)")
            if not _present(header, _SERIES_NUMBER):
                made_up[_SERIES_NUMBER] = b"IS" + str(len(study.children) + 1).encode()
                self.invented.append(f"Series Number of series {series_uid}")
            series = Record("SERIES", _keys(header, SERIES_KEYS, made_up))
            study.children.append(series)
            self._series[series_uid] = series
        if entry.leaf is None:
            made_up = {}
            if not _present(header, _INSTANCE_NUMBER):
                made_up[_INSTANCE_NUMBER] = b"IS" + str(len(series.children) + 1).encode()
                self.invented.append(f"Instance Number of {entry.sop_instance_uid}")
            extra = {0x00081140: entry.referenced_images} if entry.referenced_images else None
            entry.leaf = _keys(header, IMAGE_KEYS, made_up, extra)
        series.children.append(Record(entry.record_type, entry.leaf, file=entry))


def leaf_record_keys(ds: Dataset, record_type: str, recorder: Callable[[Dataset], Dataset], ordinal: int) -> tuple[bytes, list[str]]:
    """The keys of a leaf record other than IMAGE (PS3.3 F.5), from the whole header `ds`, encoded in
    Explicit VR Little Endian; and the Type 1 keys made up (dates, times, the instance number: values
    that only order the record; a missing clinical key, such as an SR's Completion Flag, raises ValueError).

    `recorder` is pydicom's ``DIRECTORY_RECORDERS[record_type]``, which states each type's keys.
    """
    ds = Dataset(ds)  # a shallow copy: the made-up keys never reach the written file
    invented = []
    if record_type == "SR DOCUMENT" and ds.get("VerificationFlag") == "VERIFIED" and not ds.get("VerificationDateTime"):
        # F.5.24: Type 1C when verified, "the most recent" Verification DateTime of the Verifying Observer Sequence
        times = [str(item.get("VerificationDateTime") or "") for item in ds.get("VerifyingObserverSequence") or []]
        if any(times):
            ds.VerificationDateTime = max(times)
    try:
        record = recorder(ds)
    except ValueError:  # a Type 1 key missing: those that only order the record are made up, then tried again
        for keyword, fallback in (
            ("InstanceNumber", str(ordinal)),
            ("ContentDate", ds.get("StudyDate") or ds.get("InstanceCreationDate") or "19000101"),
            ("ContentTime", ds.get("StudyTime") or ds.get("InstanceCreationTime") or "000000"),
            ("PresentationCreationDate", ds.get("ContentDate") or ds.get("StudyDate") or "19000101"),
            ("PresentationCreationTime", ds.get("ContentTime") or ds.get("StudyTime") or "000000"),
        ):
            if keyword not in ds or ds[keyword].VM == 0:  # absent or empty (an Instance Number of 0 is a number)
                setattr(ds, keyword, fallback)
                invented.append(keyword)
        record = recorder(ds)
    invented = [keyword for keyword in invented if keyword in record]
    if "ContentSequence" in record:
        # F.5.24/F.5.27: only the Content Items with a HAS CONCEPT MOD relationship, not the document
        kept = [item for item in record.ContentSequence if item.get("RelationshipType") == "HAS CONCEPT MOD"]
        if kept:
            record.ContentSequence = kept
        else:
            del record.ContentSequence
    if "NumberOfFrames" in ds:  # a Type 3 key (an RT Dose's frames): what a reader lists without opening the file
        record.NumberOfFrames = ds.NumberOfFrames
    if "SpecificCharacterSet" in ds:
        record.SpecificCharacterSet = ds.SpecificCharacterSet
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    write_dataset(out, record)
    return out.getvalue(), invented


_IN_USE = b"\x04\x00\x10\x14US\x02\x00\xff\xff"  # (0004,1410) Record In-use Flag: FFFFH
#: Where a record item's two offsets are: after its Item header (8 bytes) and an element header (8),
#: then after (0004,1400) (12 bytes), (0004,1410) (10) and another element header (8).
_NEXT_AT, _LOWER_AT = 16, 38
_UL = struct.Struct("<L")


def _record_bytes(record: Record) -> bytearray:
    """One Directory Record item (PS3.3 F.3.2.2): its bookkeeping (offsets zero, set by the caller at
    :data:`_NEXT_AT` and :data:`_LOWER_AT`), then its keys."""
    parts = [b"\x04\x00\x00\x14UL\x04\x00\x00\x00\x00\x00", _IN_USE, b"\x04\x00\x20\x14UL\x04\x00\x00\x00\x00\x00"]
    parts.append(_element(0x00041430, b"CS", record.type.encode("ascii")))
    entry = record.file
    if entry is not None:
        parts += [
            _element(0x00041500, b"CS", "\\".join(entry.file_id).encode("ascii")),
            _element(0x00041510, b"UI", entry.sop_class_uid.encode("ascii")),
            _element(0x00041511, b"UI", entry.sop_instance_uid.encode("ascii")),
            _element(0x00041512, b"UI", entry.transfer_syntax_uid.encode("ascii")),
        ]
    parts.append(record.keys)
    body = b"".join(parts)
    return bytearray(b"\xfe\xff\x00\xe0" + _UL.pack(len(body)) + body)


def _file_meta() -> bytes:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MEDIA_DIRECTORY_SOP_CLASS
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    write_file_meta_info(out, meta, enforce_standard=True)
    return b"\x00" * 128 + b"DICM" + out.getvalue()


def encode_dicomdir(patients: list[Record], fileset_id: str = "") -> bytes:
    """The DICOMDIR file (PS3.10 8.6, PS3.3 F.3) of the record tree `patients`.

    Records are laid out depth first; a record's length does not depend on the offsets it holds
    (UL, 4 bytes), so a first pass finds every record's offset from the start of the file and a
    second writes them.
    """
    order: list[Record] = []

    def visit(record: Record) -> None:
        order.append(record)
        for child in record.children:
            visit(child)

    for patient in patients:
        visit(patient)
    head = _file_meta()
    fixed = b"".join(
        [
            _element(0x00041130, b"CS", fileset_id.encode("ascii")),
            _element(0x00041200, b"UL", b"\0\0\0\0"),
            _element(0x00041202, b"UL", b"\0\0\0\0"),
            _element(0x00041212, b"US", b"\0\0"),  # File-set Consistency Flag: no known inconsistencies
        ]
    )
    items = [_record_bytes(r) for r in order]
    start = len(head) + len(fixed) + 12  # the Directory Record Sequence's header: tag, VR, 2 reserved, length
    offsets: dict[int, int] = {}
    at = start
    for record, item in zip(order, items, strict=True):
        offsets[id(record)] = at
        at += len(item)
    position = {id(record): i for i, record in enumerate(order)}

    def link(siblings: list[Record]) -> None:
        for i, record in enumerate(siblings):
            item = items[position[id(record)]]
            if i + 1 < len(siblings):
                _UL.pack_into(item, _NEXT_AT, offsets[id(siblings[i + 1])])
            if record.children:
                _UL.pack_into(item, _LOWER_AT, offsets[id(record.children[0])])
                link(record.children)

    link(patients)
    items = b"".join(items)
    first = offsets[id(patients[0])] if patients else 0
    last = offsets[id(patients[-1])] if patients else 0
    fixed = b"".join(
        [
            _element(0x00041130, b"CS", fileset_id.encode("ascii")),
            _element(0x00041200, b"UL", struct.pack("<L", first)),
            _element(0x00041202, b"UL", struct.pack("<L", last)),
            _element(0x00041212, b"US", b"\0\0"),
        ]
    )
    sequence = b"\x04\x00\x20\x12SQ\x00\x00" + struct.pack("<L", len(items))
    out = io.BytesIO()
    out.write(head)
    out.write(fixed)
    out.write(sequence)
    out.write(items)
    return out.getvalue()
