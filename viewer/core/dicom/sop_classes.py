"""Is this file an image? The one rule, from its SOP Class and image attributes.

A folder scan and a file named explicitly ask the same question of every
index header (:func:`classify`): an image to show; a DICOMDIR (PS3.10 8.6)
or an object that holds no image by design (a report, a plan: PS3.4 B.5),
passed over in a folder; or an image storage object cut short before its
(0028,0010) *Rows* and (0028,0011) *Columns*, a problem wherever it is met.
"""

from __future__ import annotations

import os
from typing import NamedTuple

from pydicom.dataset import Dataset
from pydicom.uid import UID, MediaStorageDirectoryStorage

from viewer.core.dicom.header import RawHeader
from viewer.core.dicom.io import sop_class_name

#: Media Storage Directory Storage: a DICOMDIR, never an image (PS3.10 8.6).
MEDIA_DIRECTORY_SOP_CLASS = MediaStorageDirectoryStorage

#: What a file holds, as :func:`classify` says it.
IMAGE, MEDIA_DIRECTORY, NOT_AN_IMAGE, CUT_SHORT = "image", "media directory", "not an image", "cut short"
#: What a folder scan passes over without a problem line: files holding no image by design.
PASSED_OVER = frozenset({MEDIA_DIRECTORY, NOT_AN_IMAGE})


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
        return Verdict(NOT_AN_IMAGE, f"has no image to show (it is {sop_class_name(header.dataset(path))})")
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
