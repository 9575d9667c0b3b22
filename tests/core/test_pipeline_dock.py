"""The Display pipeline dock and header text state the file's facts, for every VR and byte order.

The dock (``annotations.pipeline_stages``) explains the picture, so each of
its rows is checked against the values pydicom's ``dcmread`` parses from the
same file (the reference reader), for files covering implicit VR, explicit
little and big endian, JPEG 2000, JPEG, RLE, signed and unsigned pixels,
Modality and VOI LUT Sequences, palette colour, YBR, MONOCHROME1 and an
enhanced multi-frame image. The dock's context is built the ways the viewer
builds it: from the frame store (a compact index header for single-frame
native files, the raw header for multi-frame ones) and from a frame decoded
by a worker process (``FrameSource.insert``, the raw header: where a signed
JPEG 2000 CT read '▯ bits stored, unsigned').

Header text (``element_text``) is checked the same way for every element of
those files and of two generated files holding every other VR (OF, OD, OL,
OV, SV, UV, UC, UR, ...), in explicit big endian and implicit little endian.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian, generate_uid

from viewer.core.dicom.charset import CharsetOverrides, element_text, header_text
from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.io import read_header, read_image_dataset
from viewer.core.display.annotations import ViewFacts, corner_annotations, pipeline_stages
from viewer.core.display.frames import FrameSource
from viewer.core.display.pixels.decoders import decode_frame, number_of_frames
from viewer.core.display.pixels.pipeline import VOILut, Window
from viewer.core.media.model import ImageRef, Instance

#: One file per case the dock must get right (all pydicom's or pydicom-data's).
DOCK_FILES = [
    "693_J2KR.dcm",  # signed CT, JPEG 2000 lossless: the reported fault
    "CT_small.dcm",  # explicit VR little endian, signed, rescale
    "MR_small_bigendian.dcm",  # explicit VR big endian, signed
    "MR_small_implicit.dcm",  # implicit VR little endian, signed
    "JPEG2000.dcm",
    "JPEG-LL.dcm",  # JPEG lossless, 16 bits
    "JPGExtended.dcm",  # JPEG extended, 12 bits
    "MR_small_RLE.dcm",
    "SC_rgb_rle.dcm",  # RLE colour
    "ExplVR_BigEnd.dcm",  # big endian colour
    "color-pl.dcm",  # RGB, planar configuration 1
    "SC_ybr_full_uncompressed.dcm",
    "SC_rgb_jpeg_dcmtk.dcm",  # YBR_FULL, JPEG baseline
    "US1_J2KR.dcm",  # YBR_RCT
    "OBXXXX1A.dcm",  # palette colour
    "gdcm-US-ALOKA-16.dcm",  # implicit VR palette, 16-bit (descriptors 'US or SS' by the dictionary)
    "emri_small.dcm",  # multi-frame, Presentation LUT Shape IDENTITY
    "emri_small_big_endian.dcm",
    "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "mlut_18.dcm",  # Modality LUT Sequence
    "vlut_04.dcm",  # VOI LUT Sequence
    "RG1_J2KR.dcm",  # MONOCHROME1, 15 bits
    "rtdose.dcm",  # implicit VR, 32 bits, multi-frame
    "eCT_Supplemental.dcm",  # enhanced CT: functional groups
    "explicit_VR-UN.dcm",  # attributes written as UN
]

#: Attributes the Pixel Value Transformation and Frame VOI LUT macros carry (PS3.3 C.7.6.16.2.9/10).
_FRAME_MACROS = {
    "PixelValueTransformationSequence": ("RescaleSlope", "RescaleIntercept", "RescaleType"),
    "FrameVOILUTSequence": ("WindowCenter", "WindowWidth", "WindowCenterWidthExplanation", "VOILUTFunction"),
}


def sample(name: str) -> Path:
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not among the installed pydicom test files")
    return Path(path)


def values(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (MultiValue, list, tuple)) else [value]


def reference(path: Path, frame: int = 0) -> dict:
    """The facts the dock must state, from pydicom's dcmread (functional groups read here, by hand)."""
    ds = pydicom.dcmread(path)
    facts = {keyword: ds.get(keyword) for macro in _FRAME_MACROS.values() for keyword in macro}
    groups = [ds.SharedFunctionalGroupsSequence[0]] if "SharedFunctionalGroupsSequence" in ds else []
    if "PerFrameFunctionalGroupsSequence" in ds:
        groups.append(ds.PerFrameFunctionalGroupsSequence[frame])
    for group in groups:  # per-frame last: it wins over shared (PS3.3 C.7.6.16)
        for sequence, keywords in _FRAME_MACROS.items():
            if sequence in group:
                for keyword in keywords:
                    if keyword in group[sequence].value[0]:
                        facts[keyword] = group[sequence].value[0].get(keyword)
    facts.update(
        photometric=str(ds.PhotometricInterpretation).strip(),
        bits_stored=int(ds.BitsStored),
        signed=int(ds.PixelRepresentation) == 1,
        planar=int(ds.get("PlanarConfiguration", 0) or 0),
        samples=int(ds.get("SamplesPerPixel", 1)),
        segmented="SegmentedRedPaletteColorLookupTableData" in ds,
        modality=str(ds.get("Modality", "")),
        modality_lut=ds.get("ModalityLUTSequence"),
        voi_luts=ds.get("VOILUTSequence"),
        shape=str(ds.get("PresentationLUTShape", "") or "").strip(),
    )
    return facts


def dock_displays(path: Path):
    """(how, FrameDisplay) for frame 1 of `path`, built the ways the viewer builds it."""
    header = read_index_header(path)
    instance = Instance(path, header, number_of_frames(header))
    ref = ImageRef(instance, 0)
    yield "frame store", FrameSource().frame(ref)
    ds = read_image_dataset(path)
    yield "worker", FrameSource().insert(ref, decode_frame(ds, 0, path))


def numbers_in(text: str) -> list[float]:
    return [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]


@pytest.mark.parametrize("name", DOCK_FILES)
def test_every_row_of_the_dock_states_pydicoms_values(name):
    path = sample(name)
    expected = reference(path)
    for how, frame in dock_displays(path):
        voi = frame.default_voi()
        rows = pipeline_stages(frame, voi, invert=False)
        stages = dict(rows)
        context = f"{name} ({how}): {rows}"

        sign = "signed" if expected["signed"] else "unsigned"
        assert stages["Stored values"] == f"{expected['photometric']}, {expected['bits_stored']} bits stored, {sign}", context

        if expected["samples"] == 3 or expected["photometric"] == "PALETTE COLOR":
            if expected["photometric"] == "PALETTE COLOR":
                kind = "segmented " if expected["segmented"] else ""
                assert stages["Colour"] == f"{kind}palette colour lookup tables", context
            elif expected["photometric"].startswith("YBR"):
                assert stages["Colour"] == f"{expected['photometric']} converted to RGB", context
            else:
                assert stages["Colour"] == f"RGB, planar configuration {expected['planar']}", context
            assert stages["Inversion"] == "none", context
            continue

        lut = expected["modality_lut"]
        if lut:
            descriptor = [int(v) for v in lut[0].LUTDescriptor]
            assert f"descriptor {descriptor}" in stages["Modality LUT"], context
            explanation = str(lut[0].get("LUTExplanation", "") or "")
            assert explanation in stages["Modality LUT"], context
        elif expected["RescaleSlope"] is not None or expected["RescaleIntercept"] is not None:
            slope, intercept = numbers_in(stages["Modality LUT"])[:2]
            assert slope == float(expected["RescaleSlope"] if expected["RescaleSlope"] is not None else 1), context
            assert intercept == float(expected["RescaleIntercept"] if expected["RescaleIntercept"] is not None else 0), context
            rescale_type = str(expected["RescaleType"] or "").strip()
            unit = rescale_type if rescale_type and rescale_type != "US" else ("HU" if expected["modality"] == "CT" else "")
            if unit:
                assert stages["Modality LUT"].endswith(f" -> {unit}"), context
            else:
                assert "->" not in stages["Modality LUT"], context
        else:
            assert stages["Modality LUT"] == "identity (no rescale in the file)", context

        centers, widths = values(expected["WindowCenter"]), values(expected["WindowWidth"])
        if isinstance(voi, Window) and voi.source == "file":
            center, width = numbers_in(stages["VOI"].split("center", 1)[1])[:2]
            assert (center, width) in [(float(c), float(w)) for c, w in zip(centers, widths)], context
            function = str(expected["VOILUTFunction"] or "LINEAR").strip()
            assert stages["VOI LUT Function"] == function, context
        elif isinstance(voi, VOILut):
            descriptor = [int(v) for v in expected["voi_luts"][voi.index].LUTDescriptor]
            assert f"descriptor {descriptor}" in stages["VOI"], context

        offered = []
        if centers:
            offered.append(f"{len(centers)} window{'s' if len(centers) > 1 else ''}")
        if expected["voi_luts"]:
            count = len(expected["voi_luts"])
            offered.append(f"{count} VOI LUT{'s' if count > 1 else ''}")
        assert stages["File offers"] == (", ".join(offered) or "no VOI"), context

        shape = expected["shape"]
        inverts = shape == "INVERSE" if shape in ("IDENTITY", "INVERSE") else expected["photometric"] == "MONOCHROME1"
        reason = f"Presentation LUT Shape {shape}" if shape else expected["photometric"]
        assert stages["Presentation"] == (f"inverted ({reason})" if inverts else f"none ({reason})"), context


def test_the_reported_file_reads_signed_16_bits_after_a_worker_decodes_it():
    """pydicom-data 693_J2KR: a signed CT whose dock read '\\x10 bits stored, unsigned'."""
    path = sample("693_J2KR.dcm")
    ds = read_image_dataset(path)
    header = read_index_header(path)
    frame = FrameSource().insert(ImageRef(Instance(path, header), 0), decode_frame(ds, 0, path))
    assert dict(pipeline_stages(frame, frame.default_voi(), False))["Stored values"] == "MONOCHROME2, 16 bits stored, signed"


def test_the_corner_annotations_state_pydicoms_values():
    """Every corner line that comes from the header, from the raw header as the pane gets it."""
    path = sample("MR_small_bigendian.dcm")
    ds = pydicom.dcmread(path)
    corners = corner_annotations(read_header(path), ViewFacts(1, 1, 1, 1, Window(600, 1600, source="file")))
    assert str(ds.PatientID) in corners["top_left"]
    assert f"{ds.Modality} Se {ds.SeriesNumber}" in corners["bottom_left"]
    assert f"Loc {float(ds.SliceLocation):.2f} mm" in corners["bottom_left"]
    assert f"Thk {float(ds.SliceThickness):g} mm" in corners["bottom_left"]


# ----------------------------------------------------------------------------- every element as text


def expected_parts(elem) -> list:
    """pydicom's value of `elem` as a list of its values (the reference)."""
    return values(elem.value)


def assert_text_states(elem, decoded, context: str) -> None:
    vr = str(elem.VR)
    text = decoded.text
    parts = expected_parts(elem)
    if elem.value is None or elem.value == "" or parts == []:
        assert text.strip("\\ ") == "", context
        return
    if vr in ("US", "SS", "UL", "SL", "SV", "UV"):
        assert [int(v) for v in text.split("\\")] == [int(v) for v in parts], context
    elif vr in ("FL", "FD"):
        shown = [float(v) for v in text.split("\\")]
        if vr == "FL":
            assert np.array_equal(np.float32(shown), np.float32(parts), equal_nan=True), context
        else:
            assert all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(shown, parts, strict=True)), context
    elif vr == "AT":
        assert text == "\\".join(f"({int(t) >> 16:04X},{int(t) & 0xFFFF:04X})" for t in parts), context
    elif vr in ("OB", "OW", "OF", "OD", "OL", "OV", "UN"):
        raw = elem.value if isinstance(elem.value, bytes) else None
        if raw is not None:
            assert bytes(int(b, 16) for b in text.split("\\")) == raw, context
    elif vr in ("LT", "ST", "UT", "UR"):
        assert text.rstrip(" ") == str(elem.value).rstrip(" "), context
    else:
        assert [v.strip() for v in text.split("\\")] == [str(v).strip() for v in parts], context


def check_every_element(raw: Dataset, parsed: Dataset, where: str) -> int:
    """element_text of each element of `raw` (as the viewer reads it) against `parsed` (pydicom's)."""
    checked = 0
    for elem in parsed:
        tag = int(elem.tag)
        if elem.VR == "SQ":
            items = raw[tag].value
            for i, (raw_item, item) in enumerate(zip(items, elem.value, strict=True)):
                checked += check_every_element(raw_item, item, f"{where} {elem.keyword}[{i}]")
            continue
        if tag in (0x7FE00010,) or (isinstance(elem.value, bytes) and len(elem.value) > 4096):
            continue  # bulk data: summarised elsewhere, never turned into text
        decoded = element_text(raw, tag, None, CharsetOverrides())
        assert decoded is not None, f"{where} {elem.tag}"
        assert_text_states(elem, decoded, f"{where} {elem.tag} {elem.VR} {elem.keyword}: {decoded.text!r} vs {elem.value!r}")
        checked += 1
    return checked


@pytest.mark.parametrize("name", DOCK_FILES)
def test_every_element_reads_as_pydicom_parses_it(name):
    path = sample(name)
    parsed = pydicom.dcmread(path, stop_before_pixels=True)
    assert check_every_element(read_header(path), parsed, name) > 10
    # The catalog's packed header (what the browser and the annotations read).
    compact = Instance(path, read_index_header(path)).header
    for tag in compact.keys():
        if tag in parsed and parsed[tag].VR != "SQ":
            assert_text_states(parsed[tag], element_text(compact, int(tag), None, CharsetOverrides()), f"{name} compact {tag}")


def every_vr_dataset() -> Dataset:
    """One attribute of each VR no sample file covers, with values where byte order matters."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = generate_uid()
    ds.RetrieveAETitle = ["STORE_SCP", "ARCHIVE"]  # AE, 1-n
    ds.FrameIncrementPointer = [0x00181063, 0x7FE00010]  # AT, 1-n
    ds.TimeRange = [0.1, -1e-20]  # FD, 2
    ds.RecommendedDisplayFrameRateInFloat = 0.1  # FL
    ds.ExtendedCodeMeaning = "long text\r\nsecond line"  # LT
    ds.VerticesOfThePolygonalOutline = np.array([1.5, -2.25], dtype="<f4").tobytes()  # OF
    ds.FilterLookupTableData = np.array([0.1], dtype="<f8").tobytes()  # OD
    ds.LongPrimitivePointIndexList = np.array([1, 70000], dtype="<u4").tobytes()  # OL
    ds.SelectorOVValue = np.array([1 << 40], dtype="<u8").tobytes()  # OV
    ds.ReferencePixelX0 = -70000  # SL
    ds.TagAngleSecondAxis = -5  # SS
    ds.SelectorSVValue = [-(1 << 40), 3]  # SV, 1-n
    ds.FileOffsetInContainer = 1 << 40  # UV
    ds.LongCodeValue = "Ünïcode code"  # UC
    ds.CodingSchemeURL = "http://example.com/scheme"  # UR
    ds.PrivateDataElementDescription = "unlimited text"  # UT
    ds.PixelRepresentation = 1
    ds.BitsStored = 12
    ds.SmallestImagePixelValue = -2000  # 'US or SS': SS because Pixel Representation is 1
    ds.LargestImagePixelValue = 2000
    ds.DimensionIndexValues = [1, 2, 4000000000]  # UL, 1-n
    ds.ModalityLUTSequence = Sequence([Dataset()])
    ds.ModalityLUTSequence[0].LUTDescriptor = [16, -8, 16]  # 'US or SS': the first mapped value is signed here
    ds.ModalityLUTSequence[0].LUTExplanation = "Hounsfield"
    ds.ModalityLUTSequence[0].ModalityLUTType = "HU"
    ds.ModalityLUTSequence[0].add_new(0x00283006, "US", list(range(16)))  # LUT Data, 'US or OW'
    return ds


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, ImplicitVRLittleEndian], ids=["explicit-big", "implicit-little"])
def test_every_other_vr_in_both_byte_orders_and_implicit_vr(tmp_path, syntax):
    ds = every_vr_dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path = tmp_path / "every_vr.dcm"
    ds.save_as(path, enforce_file_format=True)
    parsed = pydicom.dcmread(path)
    vrs = {str(e.VR) for e in parsed}
    every_other = {"AE", "AT", "FD", "FL", "LT", "OF", "OD", "OL", "OV", "SL", "SS", "SV", "UV", "UC", "UR", "UT", "UL"}
    assert every_other <= vrs or syntax == ImplicitVRLittleEndian  # implicit VR: pydicom takes them from the dictionary
    assert check_every_element(read_header(path), parsed, syntax.name) >= 25
    # The ambiguous 'US or SS' read as the Pixel Representation says (PS3.5 Annex A.1 c).
    assert header_text(read_header(path), "SmallestImagePixelValue") == "-2000"
    assert header_text(read_header(path), "RecommendedDisplayFrameRateInFloat") == "0.1"
    assert header_text(read_header(path), "DimensionIndexValues") == "1\\2\\4000000000"
