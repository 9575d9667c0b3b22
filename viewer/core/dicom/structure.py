"""Questions about an encoded dataset's structure, answered by walking its element headers.

Where a native (7FE0,0010) *Pixel Data* value lies (read straight into an
array, no pydicom); the first top-level element claiming more bytes than
the file holds (refused before pydicom would allocate for the claim); a few
top-level values of a dataset received over the network. Each walks with
:mod:`viewer.core.dicom.elements`, reading headers only: a large value is
stepped over, never read.
"""

from __future__ import annotations

import os
import struct

from viewer.core.dicom.elements import (
    PIXEL_DATA,
    UNDEFINED_LENGTH,
    ElementWalk,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    Source,
    Unwalkable,
    encoding_of,
    read_file_meta,
)

#: The transfer syntaxes of native (not encapsulated, not deflated) datasets (PS3.5 A.1-A.3).
NATIVE_SYNTAXES = (ImplicitVRLittleEndian, "1.2.840.10008.1.2.1", ExplicitVRBigEndian)


def _native_top_level(source: Source) -> ElementWalk | None:
    """The top level of the file's dataset, for a native transfer syntax; None otherwise."""
    meta = read_file_meta(source)
    if meta.transfer_syntax not in NATIVE_SYNTAXES:
        return None  # deflated or encapsulated: pydicom's reader checks those
    implicit, little = encoding_of(meta.transfer_syntax)
    return ElementWalk(source, meta.end, little, implicit)


def pixel_data_position(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(offset, length) of the value of a native (7FE0,0010) *Pixel Data*, or None.

    Walks the top level without decoding anything; None for encapsulated
    (undefined length) or deflated data, or anything the walker cannot read.
    """
    try:
        with open(path, "rb") as f:
            source = Source.from_file(f, 65536)
            for element in _native_top_level(source) or ():
                if element.tag >= PIXEL_DATA:
                    if element.tag > PIXEL_DATA or element.length == UNDEFINED_LENGTH:
                        return None
                    return element.value_offset, element.length
    except (Unwalkable, struct.error, OSError, ValueError, KeyError):
        return None
    return None


def first_oversized_element(file: str | os.PathLike[str] | Source) -> tuple[int, int, int] | None:
    """(tag, declared length, bytes left) of the first top-level element that claims
    more bytes than the file holds, or None.

    A length field is 32 bits: a 1 kB file may claim a 2 GB value. pydicom
    reads what is there, but the viewer must say the file is damaged, and
    must never size anything from such a claim. Walks element headers only.
    `file` is a path, or a :class:`Source` of a file already open.
    """
    if not isinstance(file, Source):
        try:
            with open(file, "rb") as f:
                return first_oversized_element(Source.from_file(f, 65536))
        except OSError:
            return None
    try:
        for element in _native_top_level(file) or ():
            if element.length == UNDEFINED_LENGTH:
                if element.tag == PIXEL_DATA:
                    return None
                continue  # the walk steps over the sequence
            if element.value_offset + element.length > file.size:
                return element.tag, element.length, max(0, file.size - element.value_offset)
    except (Unwalkable, struct.error, OSError, ValueError, KeyError):
        return None
    return None


def top_level_values(data, transfer_syntax: str, tags: set[int]) -> dict[int, bytes]:
    """Raw values of the wanted top-level `tags` of an encoded dataset.

    `data` (bytes-like) holds a dataset without File Meta Information (as a
    C-STORE carries it) in `transfer_syntax` (not deflated), or its start.
    Elements come in tag order (PS3.5 7.1), so the walk stops after the
    largest wanted tag, or where `data` ends. Raises ValueError when an
    element cannot be walked.
    """
    implicit, little = encoding_of(transfer_syntax)
    last = max(tags)
    found: dict[int, bytes] = {}
    source = Source.from_bytes(data)
    try:
        for element in ElementWalk(source, 0, little, implicit):
            if element.vr is None and not implicit:
                raise Unwalkable("not explicit VR")  # an item or delimiter where an element is due
            if element.tag > last:
                break
            if element.tag in tags and element.length != UNDEFINED_LENGTH:
                found[element.tag] = source.value(element)
                if len(found) == len(tags):
                    break
    except (Unwalkable, struct.error) as exc:
        raise ValueError(f"dataset cannot be walked: {exc}") from None
    return found
