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


KEY = b"0123456789abcdef0123456789abcdef"


def rewritten(rewrite: EncodedDeidentifier, data: bytes):
    """The bytes path's copy of `data`, read back."""
    return pydicom.dcmread(io.BytesIO(rewrite(data)[0]))


def dataset_path(deidentifier: Deidentifier, data: bytes):
    """The Dataset path's copy of `data`, written and read back."""
    slow = io.BytesIO()
    pydicom.dcmwrite(slow, deidentifier(pydicom.dcmread(io.BytesIO(data))), enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(slow.getvalue()))


def both_ways(data: bytes, options: DeidentifyOptions):
    deidentifier = Deidentifier(options, DeidentificationKey(KEY))
    return rewritten(EncodedDeidentifier(deidentifier), data), dataset_path(deidentifier, data)


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
    deidentifier = Deidentifier(OPTIONS[options], DeidentificationKey(KEY))
    rewrite = EncodedDeidentifier(deidentifier)
    for name in FILES + FILES[::-1]:
        with open(get_testdata_file(name), "rb") as f:
            data = f.read()
        fast, slow = rewritten(rewrite, data), dataset_path(deidentifier, data)
        assert fast == slow and fast.file_meta == slow.file_meta, name


# ---------------------------------------------------------------- files laid out alike (encoded.Layout)


def ct_slice(number: int, **changes) -> bytes:
    """A CT slice of one made-up patient: every value of the same length whatever `number` (1-9), so that slices
    differ only in values; `changes` (keyword: value, or keyword: None to delete) alter it."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    ds = Dataset()
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = f"1.2.826.0.1.3680043.8.498.31{number}"
    ds.StudyDate, ds.ContentDate, ds.ContentTime = "2011081" + str(number), "2011081" + str(number), "10101" + str(number)
    ds.Modality, ds.Manufacturer = "CT", "ACME"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = f"DOE{number}^JOHN", f"PID{number}", f"1961032{number}"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = f"1.2.826.0.1.3680043.8.498.11{number}", "1.2.826.0.1.3680043.8.498.21"
    ds.InstanceNumber = str(number)
    ref = Dataset()
    ref.ReferencedSOPClassUID, ref.ReferencedSOPInstanceUID = CTImageStorage, f"1.2.826.0.1.3680043.8.498.41{number}"
    ds.ReferencedImageSequence = [ref]
    ds.private_block(0x0019, "GEMS_ACQU_01", create=True).add_new(0x23, "DS", f"{number}.5")
    ds.Rows = ds.Columns = 2
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 16, 16, 15, 1, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = bytes([number]) * 8
    for keyword, value in changes.items():
        if value is None:
            delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


@pytest.mark.parametrize("options", sorted(OPTIONS))
def test_slices_laid_out_alike_are_rewritten_with_their_own_values(options):
    """The second to ninth slices are rewritten by what the first taught (one layout learnt), each with its own
    patient, UIDs, dates and referenced UID: byte for byte what a rewriter meeting it first writes, and what
    the Dataset path writes."""
    deidentifier = Deidentifier(OPTIONS[options], DeidentificationKey(KEY))
    rewrite = EncodedDeidentifier(deidentifier)
    slices = [ct_slice(n) for n in range(1, 10)]
    assert len({len(s) for s in slices}) == 1
    for number, data in enumerate(slices, 1):
        copy = rewrite(data)
        assert copy == EncodedDeidentifier(deidentifier)(data), number
        fast, slow = pydicom.dcmread(io.BytesIO(copy[0])), dataset_path(deidentifier, data)
        assert fast == slow and fast.file_meta == slow.file_meta, number
        assert f"DOE{number}".encode() not in copy[0] and f"PID{number}".encode() not in copy[0]
    assert len(rewrite._layouts) == 1  # the slices did share one layout


def test_a_file_differing_only_in_a_tag_is_not_taken_for_the_layout_learnt():
    """Manufacturer (kept) in the first file, Institution Name (removed) in the second at the same place, of the
    same VR and length: the second is not rewritten as the first, and its institution does not leak."""
    deidentifier = Deidentifier(DeidentifyOptions(), DeidentificationKey(KEY))
    rewrite = EncodedDeidentifier(deidentifier)
    first = ct_slice(1)
    second = ct_slice(2, Manufacturer=None, InstitutionName="PHIX")
    assert len(first) == len(second)
    rewritten(rewrite, first)
    copy = rewrite(second)[0]
    assert b"PHIX" not in copy
    assert pydicom.dcmread(io.BytesIO(copy)) == dataset_path(deidentifier, second)
    assert len(rewrite._layouts) == 2


def test_a_safe_private_element_follows_its_own_creator():
    """With Retain Safe Private, (0019,xx23) of GEMS_ACQU_01 is kept (PS3.15 Table E.3.10-1); the same element
    under another creator of the same length is not, though the files are laid out alike."""
    deidentifier = Deidentifier(DeidentifyOptions(retain_safe_private=True), DeidentificationKey(KEY))
    rewrite = EncodedDeidentifier(deidentifier)
    first = ct_slice(1)
    other = ct_slice(2)
    other = other.replace(b"GEMS_ACQU_01", b"GEMS_ACQU_99")
    kept, dropped = rewritten(rewrite, first), rewritten(rewrite, other)
    assert kept[0x00191023].value == "1.5"
    assert 0x00191023 not in dropped and 0x00190010 not in dropped
    assert dropped == dataset_path(deidentifier, other)


def test_compressed_slices_of_other_lengths_share_the_layout_and_keep_their_pixels():
    """Encapsulated pixel data ending the file may have any length (PS3.5 A.4): its fragments are walked, the
    rest compared; each copy carries its own fragments byte for byte. One cut short is refused as before."""
    from pydicom.encaps import encapsulate
    from pydicom.uid import RLELossless

    deidentifier = Deidentifier(DeidentifyOptions(), DeidentificationKey(KEY))
    rewrite = EncodedDeidentifier(deidentifier)

    def compressed(number: int, fragment: bytes) -> bytes:
        ds = pydicom.dcmread(io.BytesIO(ct_slice(number)))
        ds.file_meta.TransferSyntaxUID = RLELossless
        ds.PixelData = encapsulate([fragment])
        ds["PixelData"].VR = "OB"
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        return out.getvalue()

    small, large = compressed(1, b"\1" * 100), compressed(2, b"\2" * 300)
    for data in (small, large):
        fast = rewritten(rewrite, data)
        assert fast.PixelData == pydicom.dcmread(io.BytesIO(data)).PixelData
        assert fast == dataset_path(deidentifier, data)
    assert len(rewrite._layouts) == 1
    with pytest.raises(NotHere):
        rewrite(large[:-20])
