"""The de-identifier on encoded bytes gives what the Dataset path gives (viewer/core/deidentify/encoded.py).

Each file is de-identified both ways with one key; the two copies, read back by pydicom, hold the same
elements and values at every depth and the same File Meta Information. Files the bytes path leaves to
the Dataset path (big endian) say so."""

from __future__ import annotations

import io

import pydicom
import pytest
from pydicom.data import get_testdata_file

from tests.core.deid_corpus import leak_instance
from viewer.core.deidentify.deidentifier import Deidentifier
from viewer.core.deidentify.encoded import EncodedDeidentifier, NotHere
from viewer.core.deidentify.key import DeidentificationKey
from viewer.core.deidentify.options import DeidentifyOptions

#: Explicit and implicit VR, JPEG 2000, RLE, deep sequences (RT plan, SR), a waveform, compressed ultrasound.
FILES = [
    "CT_small.dcm",
    "MR_small_implicit.dcm",
    "US1_J2KR.dcm",
    "rtplan.dcm",
    "rtdose.dcm",
    "test-SR.dcm",
    "JPEG2000.dcm",
    "SC_rgb_rle.dcm",
    "waveform_ecg.dcm",
]
OPTIONS = {
    "basic": DeidentifyOptions(),
    "shifted+private": DeidentifyOptions(retain_modified_dates=True, retain_safe_private=True, retain_device_identity=False),
    "kept": DeidentifyOptions(retain_full_dates=True, retain_uids=True, retain_institution_identity=True),
}


def both_ways(data: bytes, options: DeidentifyOptions):
    deidentifier = Deidentifier(options, DeidentificationKey(b"0123456789abcdef0123456789abcdef"))
    fast, _facts = EncodedDeidentifier(deidentifier)(data)
    slow = io.BytesIO()
    pydicom.dcmwrite(slow, deidentifier(pydicom.dcmread(io.BytesIO(data))), enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(fast)), pydicom.dcmread(io.BytesIO(slow.getvalue()))


@pytest.mark.parametrize("options", sorted(OPTIONS))
@pytest.mark.parametrize("name", FILES)
def test_bytes_path_equals_dataset_path(name, options):
    with open(get_testdata_file(name), "rb") as f:
        data = f.read()
    fast, slow = both_ways(data, OPTIONS[options])
    assert fast.file_meta == slow.file_meta
    assert fast == slow
    assert fast.PatientIdentityRemoved == "YES"


@pytest.mark.parametrize("options", sorted(OPTIONS))
def test_bytes_path_equals_dataset_path_on_the_leak_corpus(options):
    out = io.BytesIO()
    leak_instance(0).save_as(out, enforce_file_format=True)
    fast, slow = both_ways(out.getvalue(), OPTIONS[options])
    assert fast == slow and fast.file_meta == slow.file_meta


def test_what_the_bytes_path_leaves_to_the_dataset_path():
    deidentifier = Deidentifier(DeidentifyOptions(), DeidentificationKey())
    with open(get_testdata_file("MR_small_bigendian.dcm"), "rb") as f:
        with pytest.raises(NotHere, match="big endian"):
            EncodedDeidentifier(deidentifier)(f.read())
    with pytest.raises(NotHere, match="text"):
        EncodedDeidentifier(Deidentifier(DeidentifyOptions(clean_descriptors=True)))(b"")
    with pytest.raises(NotHere, match="preamble"):
        EncodedDeidentifier(deidentifier)(b"not DICOM at all")


@pytest.mark.parametrize("options", sorted(OPTIONS))
def test_one_rewriter_over_many_files_stays_equal(options):
    """The bytes path learns which elements it copies as they are (runs); files of other kinds must not
    suffer from what it learnt on the ones before, nor the first copy of a series from the second."""
    deidentifier = Deidentifier(OPTIONS[options], DeidentificationKey(b"0123456789abcdef0123456789abcdef"))
    rewrite = EncodedDeidentifier(deidentifier)
    for name in FILES + FILES[::-1]:
        with open(get_testdata_file(name), "rb") as f:
            data = f.read()
        fast = pydicom.dcmread(io.BytesIO(rewrite(data)[0]))
        slow = io.BytesIO()
        pydicom.dcmwrite(slow, deidentifier(pydicom.dcmread(io.BytesIO(data))), enforce_file_format=True)
        slow = pydicom.dcmread(io.BytesIO(slow.getvalue()))
        assert fast == slow and fast.file_meta == slow.file_meta, name
