"""The element walker sees the elements pydicom's reader sees, and reads no more than it must.

The reference is pydicom's own element generator
(``pydicom.filereader.data_element_generator``) over the same real files, in
every encoding: explicit VR little endian with sequences of undefined length,
implicit VR with a private sequence, explicit VR big endian, and encapsulated
pixel data (whose fragments ``pydicom.encaps.generate_fragments`` lists).
Where the dataset starts comes from (0002,0000) *File Meta Information Group
Length* (PS3.10 7.1).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import generate_fragments
from pydicom.filereader import data_element_generator, read_file_meta_info
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from viewer.core.dicom.elements import (
    ITEM,
    PIXEL_DATA,
    SEQUENCE_DELIMITER,
    UNDEFINED_LENGTH,
    ElementWalk,
    EndOfData,
    ItemWalk,
    Source,
    read_file_meta,
    skip_sequence,
)
from viewer.core.dicom.io import read_header
from viewer.core.dicom.structure import pixel_data_position

UNDEFINED = "undefined"


def _dataset_start(path: Path) -> tuple[int, bool, bool]:
    """Where the dataset starts, and whether it is implicit VR and little endian, by pydicom's reading of the meta."""
    meta = read_file_meta_info(path)
    syntax = UID(meta.TransferSyntaxUID)
    return 132 + 12 + meta.FileMetaInformationGroupLength, syntax.is_implicit_VR, syntax.is_little_endian


def pydicom_rows(path: Path) -> list[tuple]:
    """(tag, value position, length or 'undefined') of each top-level element, as pydicom's reader yields them."""
    start, implicit, little = _dataset_start(path)
    rows = []
    with open(path, "rb") as f:
        f.seek(start)
        for element in data_element_generator(f, implicit, little):
            if isinstance(element, RawDataElement):
                length = UNDEFINED if element.length == UNDEFINED_LENGTH else element.length
                rows.append((int(element.tag), element.value_tell, length))
            else:  # a sequence pydicom has read: its length only as 'undefined or not'
                rows.append((int(element.tag), element.file_tell, UNDEFINED if element.is_undefined_length else "defined"))
    return rows


def walker_rows(path: Path, sequence_rows: set[int]) -> list[tuple]:
    start, implicit, little = _dataset_start(path)
    with open(path, "rb") as f:
        source = Source.from_file(f, 4096)  # small: the walk must read further as it goes
        rows = []
        for element in ElementWalk(source, start, little, implicit):
            length = UNDEFINED if element.length == UNDEFINED_LENGTH else element.length
            if element.tag in sequence_rows and length != UNDEFINED:
                length = "defined"
            rows.append((element.tag, element.value_offset, length))
    return rows


@pytest.mark.parametrize(
    "name",
    [
        "liver.dcm",  # explicit VR little endian, several sequences of undefined length
        "MR2_UNCI.dcm",  # a Source Image Sequence of undefined length
        "MR_small_implicit.dcm",  # implicit VR little endian
        "nested_priv_SQ.dcm",  # implicit VR, a private sequence of undefined length nesting another
        "MR_small_bigendian.dcm",  # explicit VR big endian
        "SC_rgb_rle.dcm",  # encapsulated pixel data (RLE)
        "JPEG2000.dcm",  # encapsulated pixel data (JPEG 2000)
    ],
)
def test_top_level_elements_are_those_pydicom_reads(sample, name):
    path = sample(name)
    expected = pydicom_rows(path)
    sequences = {tag for tag, _, length in expected if length == "defined"}
    assert walker_rows(path, sequences) == expected


def test_the_walk_sees_sequences_and_encapsulated_pixel_data(sample):
    """The table comparison above is not trivial: those files hold what it is about."""
    undefined = [
        row for name in ("liver.dcm", "nested_priv_SQ.dcm", "SC_rgb_rle.dcm") for row in pydicom_rows(sample(name)) if row[2] == UNDEFINED
    ]
    assert len(undefined) >= 4
    assert any(tag == PIXEL_DATA for tag, _, _ in undefined)


@pytest.mark.parametrize("name", ["SC_rgb_rle.dcm", "JPEG2000.dcm", "emri_small_jpeg_2k_lossless.dcm"])
def test_fragments_of_encapsulated_pixel_data(sample, name):
    """Item by item, the Basic Offset Table first (PS3.5 A.4), as pydicom's generate_fragments gives them."""
    path = sample(name)
    start, implicit, little = _dataset_start(path)
    with open(path, "rb") as f:
        source = Source.from_file(f, 4096)
        pixel_data = next(e for e in ElementWalk(source, start, little, implicit) if e.tag == PIXEL_DATA)
        items = ItemWalk(source, pixel_data.value_offset, little, implicit)
        fragments = [source.value(item) for item in items]
        assert items.delimited
        assert skip_sequence(source, pixel_data.value_offset, little, implicit) == items.pos == source.size
    assert fragments == list(generate_fragments(pydicom.dcmread(path).PixelData))


def test_the_file_meta_group(sample):
    path = sample("MR_small_implicit.dcm")
    meta = read_file_meta_info(path)
    with open(path, "rb") as f:
        source = Source.from_file(f, 4096)
        walk = ElementWalk(source, 132, True, False, group=0x0002)  # always explicit VR little endian (PS3.10 7.1)
        tags = [element.tag for element in walk]
        read = read_file_meta(source)
    assert tags == [int(tag) for tag in meta.keys()] == sorted(read.elements)
    assert walk.pos == read.end == _dataset_start(path)[0]
    assert read.transfer_syntax == meta.TransferSyntaxUID


def _with_large_private_value(tmp_path: Path, size: int) -> Path:
    """MR-like file: a private OB value of `size` bytes before native pixel data."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.add_new(0x00090010, "LO", "VENDOR")
    ds.add_new(0x00091001, "OB", bytes(size))
    ds.Rows = ds.Columns = 4
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 15, 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes(32)
    path = tmp_path / "large_private.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_large_value_is_stepped_over_unread(tmp_path):
    path = _with_large_private_value(tmp_path, 8 << 20)
    expected = pydicom_rows(path)
    with open(path, "rb") as f:
        source = Source.from_file(f, 65536)
        start = read_file_meta(source).end
        rows = [(e.tag, e.value_offset, e.length) for e in ElementWalk(source, start, True, False)]
        assert len(source.data) < 1 << 20  # the 8 MB value was never read
    assert rows == expected
    assert pixel_data_position(path) == next((at, length) for tag, at, length in expected if tag == PIXEL_DATA)


def test_a_claimed_length_beyond_the_data_allocates_nothing(tmp_path):
    """A 32-bit length claiming 4 GB in a small file: EndOfData, before anything is read for it."""
    head = struct.pack("<HH2sHL", 0x0009, 0x1001, b"OB", 0, 0xFFFFFFF0)
    source = Source.from_bytes(head + bytes(1000))
    (element,) = ElementWalk(source, 0, True, False)
    assert element.length == 0xFFFFFFF0
    with pytest.raises(EndOfData):
        source.value(element)
    path = tmp_path / "claim.bin"
    path.write_bytes(head + bytes(1000))
    with open(path, "rb") as f:
        source = Source.from_file(f, 512)
        with pytest.raises(EndOfData):
            source.need(element.value_offset + element.length)
        assert len(source.data) == 512


def test_nesting_deeper_than_the_interpreter_stack_is_skipped():
    """Undefined-length sequences and items nested 20,000 deep: skipped iteratively (no RecursionError)."""
    depth = 20_000
    sequence = struct.pack("<HH2sHL", 0x0040, 0xA730, b"SQ", 0, UNDEFINED_LENGTH)
    item = struct.pack("<HHL", 0xFFFE, 0xE000, UNDEFINED_LENGTH)
    item_end = struct.pack("<HHL", 0xFFFE, 0xE00D, 0)
    sequence_end = struct.pack("<HHL", 0xFFFE, 0xE0DD, 0)
    data = (sequence + item) * depth + (item_end + sequence_end) * depth
    source = Source.from_bytes(data)
    assert skip_sequence(source, len(sequence), True, False) == len(data)
    items = ItemWalk(source, len(sequence), True, False)
    assert [(i.tag, i.length) for i in items] == [(ITEM, UNDEFINED_LENGTH)]
    assert items.pos == len(data) and items.delimited
    assert SEQUENCE_DELIMITER == 0xFFFEE0DD


def test_read_header_opens_the_file_once(sample, opened_paths):
    """The checks before pydicom reads (deflate bomb, claimed lengths) and pydicom itself share one open file."""
    path = sample("CT_small.dcm")
    header = read_header(path)
    assert header.PatientName and "PixelData" not in header
    assert opened_paths.count(os.path.realpath(path)) == 1
