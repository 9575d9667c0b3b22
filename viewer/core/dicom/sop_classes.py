"""Is this file an image? The one rule, from its SOP Class and image attributes; and what kind of object it is.

A folder scan and a file named explicitly ask the same question of every
index header (:func:`classify`): an image to show; a DICOMDIR (PS3.10 8.6),
passed over in a folder; an object that holds no image by design (a report,
a presentation state, an ECG, a PDF, a plan: PS3.4 B.5), listed with its
kind; or an image storage object cut short before its (0028,0010) *Rows*
and (0028,0011) *Columns*, a problem wherever it is met.

:func:`object_kind` names what the browser and ``index`` list an object as
(:data:`OBJECT_KINDS`), from its SOP Class UID (PS3.4 Annex B, PS3.6 Annex A).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import NamedTuple

from pydicom.dataset import Dataset
from pydicom.uid import UID, MediaStorageDirectoryStorage

from viewer.core.dicom.header import RawHeader
from viewer.core.dicom.io import sop_class_name

#: Media Storage Directory Storage: a DICOMDIR, never an image (PS3.10 8.6).
MEDIA_DIRECTORY_SOP_CLASS = MediaStorageDirectoryStorage

#: What a file holds, as :func:`classify` says it.
IMAGE, MEDIA_DIRECTORY, NOT_AN_IMAGE, CUT_SHORT = "image", "media directory", "not an image", "cut short"
#: DICOM without an image and without a SOP Class to say what it is (a damaged meta header).
UNKNOWN_CLASS = "unknown class"
#: What a folder scan passes over without a problem line (a DICOMDIR is read as media, not listed).
PASSED_OVER = frozenset({MEDIA_DIRECTORY, UNKNOWN_CLASS})

#: The kinds of object a study lists (:func:`object_kind`).
IMAGE_SERIES, REPORT, KEY_IMAGES, PRESENTATION_STATE = "image series", "report", "key images", "presentation state"
VIDEO, ECG, PDF, OTHER = "video", "ECG", "PDF", "other"
OBJECT_KINDS = (IMAGE_SERIES, REPORT, KEY_IMAGES, PRESENTATION_STATE, VIDEO, ECG, PDF, OTHER)
#: Kinds shown in a viewport as images (the rest open in their own views).
SHOWN_AS_IMAGES = frozenset({IMAGE_SERIES, VIDEO})
#: Key Object Selection Document Storage (PS3.4 B.5): an SR whose content lists key images.
KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
#: The Structured Report storage classes share this root (PS3.6 Annex A: Basic Text SR ... 88.x).
_SR_ROOT = "1.2.840.10008.5.1.4.1.1.88."
#: Softcopy Presentation State storage classes (grayscale, colour, pseudo-colour, blending, XA/XRF, volumetric...).
_PRESENTATION_STATE_ROOT = "1.2.840.10008.5.1.4.1.1.11."
#: Video Endoscopic, Video Microscopic and Video Photographic Image Storage (PS3.3 A.32.5-A.32.7).
_VIDEO_CLASSES = frozenset({"1.2.840.10008.5.1.4.1.1.77.1.1.1", "1.2.840.10008.5.1.4.1.1.77.1.2.1", "1.2.840.10008.5.1.4.1.1.77.1.4.1"})
#: Encapsulated PDF Storage (PS3.3 A.45.1).
_ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"


@lru_cache(maxsize=256)
def object_kind(sop_class_uid: str, has_image: bool | None = None) -> str:
    """What an object of SOP Class `sop_class_uid` is to a reader (one of :data:`OBJECT_KINDS`).

    Key Object Selection before the other SR classes; the waveform classes named ECG
    (12-lead, General, Ambulatory, 32-bit: PS3.3 A.34); `has_image`: whether the file
    has (0028,0010) *Rows* (an RT Dose or a private class with pixels is an image
    series); None decides by the class name ("... Image Storage").
    """
    uid = str(sop_class_uid or "").strip()
    if uid == KEY_OBJECT_SELECTION:
        return KEY_IMAGES
    if uid.startswith(_SR_ROOT):
        return REPORT
    if uid.startswith(_PRESENTATION_STATE_ROOT):
        return PRESENTATION_STATE
    if uid in _VIDEO_CLASSES:
        return VIDEO
    if uid == _ENCAPSULATED_PDF:
        return PDF
    name = UID(uid).name if uid else ""
    if "ECG" in name and "Waveform" in name:
        return ECG
    if has_image is None:
        has_image = "Image Storage" in name or name == "RT Dose Storage"
    return IMAGE_SERIES if has_image else OTHER


class Verdict(NamedTuple):
    """What a file holds (:data:`IMAGE`, :data:`MEDIA_DIRECTORY`, :data:`NOT_AN_IMAGE`,
    :data:`CUT_SHORT`) and, for all but an image, the one line that says so."""

    kind: str
    reason: str = ""


def classify(header: RawHeader, path: str | os.PathLike[str]) -> Verdict:
    """What the file at `path`, whose index header is `header`, holds for the viewer.

    Read from the raw bytes: a damaged (0002,0002) VR made pydicom's
    conversion raise NotImplementedError here (tests/robustness).
    """
    if header.media_storage_sop_class() == MEDIA_DIRECTORY_SOP_CLASS:
        return Verdict(MEDIA_DIRECTORY, "a DICOMDIR (open it, or its folder, to read the media it lists)")
    if 0x00280010 not in header.elements or 0x00280011 not in header.elements:
        if is_image_storage(header):
            return Verdict(CUT_SHORT, "the file ends before its image attributes (truncated?)")
        reason = f"has no image to show (it is {sop_class_name(header.dataset(path))})"
        if not (header.uid(0x00080016) or header.media_storage_sop_class()):
            return Verdict(UNKNOWN_CLASS, reason)
        return Verdict(NOT_AN_IMAGE, reason)
    return Verdict(IMAGE)


def is_image_storage(header: Dataset | RawHeader) -> bool:
    """Whether the SOP Class ((0008,0016), else (0002,0002)) is an image storage class,
    so Rows and Columns are due."""
    if isinstance(header, RawHeader):
        uid = header.uid(0x00080016) or header.media_storage_sop_class()
    else:
        try:
            uid = header.get("SOPClassUID") or getattr(getattr(header, "file_meta", None), "MediaStorageSOPClassUID", None)
        except Exception:  # a damaged (0008,0005) or UID value (tests/robustness): not known to be an image
            return False
    return "Image Storage" in (UID(str(uid)).name if uid else "")
