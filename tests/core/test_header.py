"""The fast index-header reader gives what pydicom gives.

:func:`read_index_header` walks files with ``struct`` and keeps the
attributes in ``INDEX_KEYWORDS``; the reference is
``pydicom.dcmread(stop_before_pixels=True)`` on the same file, compared
attribute by attribute (VR, value type and value as text, so character sets
are decoded by both sides). The corpus is every file pydicom ships
(``get_testdata_files``, which includes the pydicom-data package) and its
character-set files; files pydicom cannot read are skipped.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_charset_files, get_testdata_files
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian

import viewer.core.dicom.header as header_module
from viewer.core.dicom.header import INDEX_KEYWORDS, read_index_header, read_raw_header
from viewer.core.dicom.io import ViewerError
from viewer.core.media.model import Instance

SAMPLES = sorted(set(get_testdata_files()) | set(get_charset_files()))


def sample_id(path: str) -> str:
    return f"{Path(path).parent.name}/{Path(path).name}"


def index_values(ds: Dataset) -> dict[str, tuple]:
    """keyword -> (VR, value type, value as text) for each INDEX_KEYWORDS attribute present."""
    values: dict[str, tuple] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom's warnings about odd values, on both sides alike
        for keyword in INDEX_KEYWORDS:
            if keyword not in ds:
                continue
            try:
                element = ds[keyword]
                values[keyword] = (element.VR, type(element.value).__name__, str(element.value))
            except Exception as exc:  # a value pydicom cannot convert: both sides must agree on that too
                values[keyword] = ("unconvertible", type(exc).__name__)
    return values


def pydicom_header(path) -> Dataset:
    """The reference reading, or a skip when pydicom itself cannot read the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception:
        pytest.skip("pydicom cannot read this file either")


@pytest.fixture
def no_fallback(monkeypatch):
    """Fail if read_index_header falls back to pydicom: the fast walker must handle the file."""

    def fallback(path):
        raise AssertionError(f"{path}: the fast walker gave up and fell back to pydicom")

    monkeypatch.setattr(header_module, "read_header", fallback)


def test_corpus_is_large():
    """The parametrised comparison below really covers pydicom's files and pydicom-data's."""
    assert len(SAMPLES) > 200
    assert any("data_store" in path for path in SAMPLES), "pydicom-data's files are missing"
    assert any("charset_files" in path for path in SAMPLES)


@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_same_values_as_pydicom(path):
    expected = index_values(pydicom_header(path))
    assert index_values(read_index_header(path)) == expected


# --------------------------------------------------------------------------- encodings the walker must handle itself


def _undefined_sequences_before_0028(ds: Dataset) -> list[str]:
    return [
        element.keyword or str(element.tag)
        for element in ds
        if element.tag.group < 0x0028 and element.VR in ("SQ", "UN") and element.is_undefined_length
    ]


@pytest.mark.parametrize(
    "name, implicit, little",
    [
        ("MR_small_implicit.dcm", True, True),
        ("MR_small_bigendian.dcm", False, False),
        ("MR2_UNCI.dcm", False, True),  # Source Image Sequence of undefined length
        ("liver.dcm", False, True),  # several undefined-length sequences before group 0028
        ("nested_priv_SQ.dcm", True, True),  # implicit VR, private sequence of undefined length
    ],
)
def test_fast_walker_reads_real_encodings(name, implicit, little, sample, no_fallback):
    path = sample(name)
    reference = pydicom_header(path)
    assert (reference.original_encoding[0], reference.original_encoding[1]) == (implicit, little)
    header = read_index_header(path)
    assert index_values(header) == index_values(reference)
    assert header.original_encoding[:2] == (implicit, little)


def _with_nested_undefined_sequences(ds: Dataset) -> Dataset:
    """`ds` plus undefined-length sequences (and items) before group 0028, nested two deep."""
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = "121311", "DCM", "Localizer"
    code.is_undefined_length_sequence_item = True
    first = Dataset()
    first.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    first.ReferencedSOPInstanceUID = "1.2.3.4.5.6.7"
    first.PurposeOfReferenceCodeSequence = Sequence([code])
    first["PurposeOfReferenceCodeSequence"].is_undefined_length = True
    first.is_undefined_length_sequence_item = True
    second = Dataset()  # an item of defined length next to one of undefined length
    second.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.4"
    second.ReferencedSOPInstanceUID = "1.2.3.4.5.6.8"
    ds.ReferencedImageSequence = Sequence([first, second])
    ds["ReferencedImageSequence"].is_undefined_length = True
    ds.AnatomicRegionSequence = Sequence([])  # empty, undefined length
    ds["AnatomicRegionSequence"].is_undefined_length = True
    return ds


@pytest.mark.parametrize(
    "source, syntax",
    [("MR_small_implicit.dcm", ImplicitVRLittleEndian), ("MR_small_bigendian.dcm", ExplicitVRBigEndian)],
)
def test_undefined_length_sequences_before_group_0028(source, syntax, tmp_path, sample, no_fallback):
    ds = _with_nested_undefined_sequences(pydicom.dcmread(sample(source)))
    path = tmp_path / "with-sequences.dcm"
    ds.save_as(path, enforce_file_format=True)
    reference = pydicom_header(path)
    assert reference.file_meta.TransferSyntaxUID == syntax
    # The file really holds what this test is about (pydicom's reading of it).
    assert _undefined_sequences_before_0028(reference) == ["ReferencedImageSequence", "AnatomicRegionSequence"]
    assert reference.ReferencedImageSequence[0].is_undefined_length_sequence_item
    assert reference.ReferencedImageSequence[0]["PurposeOfReferenceCodeSequence"].is_undefined_length
    assert index_values(read_index_header(path)) == index_values(reference)


def _end_of_group_0028(ds: Dataset) -> int:
    """File position right after the last element of groups up to 0028 (from pydicom's raw element)."""
    last = max(tag for tag in ds.keys() if tag.group <= 0x0028)
    raw = ds.get_item(last)  # still raw: nothing accessed its value yet
    return raw.value_tell + raw.length


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small_implicit.dcm", "MR_small_bigendian.dcm"])
def test_header_cut_right_after_group_0028(name, tmp_path, sample, no_fallback):
    original = sample(name)
    reference = pydicom_header(original)
    data = original.read_bytes()
    end = _end_of_group_0028(reference)
    assert end < len(data) - 8, "the file must go on after group 0028 for the cut to mean anything"
    cut = tmp_path / f"cut-{name}"
    cut.write_bytes(data[:end])
    expected = index_values(reference)
    assert {"Rows", "Columns", "BitsAllocated", "PatientName"} <= expected.keys()
    assert index_values(read_index_header(cut)) == expected


# --------------------------------------------------------------------------- what the catalog keeps


@pytest.mark.parametrize("path", SAMPLES, ids=sample_id)
def test_catalog_keeps_the_same_values_as_pydicom(path):
    """An instance keeps its header packed (the scan's raw elements, or a dataset
    pydicom read); the header it rebuilds reads as pydicom reads the file."""
    reference = pydicom_header(path)
    expected = index_values(reference)
    try:
        raw = read_raw_header(path)
    except ViewerError:
        pytest.skip("not a file the viewer reads")
    assert index_values(Instance(Path(path), raw).header) == expected
    assert index_values(Instance(Path(path), reference).header) == expected
    assert Instance(Path(path), raw).sop_instance_uid == str(reference.get("SOPInstanceUID", "")).strip("\x00 ")
