"""8-bit LUT Data in both layouts, against dcmtk's rendering of the same generated files.

PS3.3 C.11.1.1.1 and C.11.2.1.1.1 store 8-bit entries "in a format equivalent
to 8 bits allocated": two per 16-bit word. Older files store one entry per
word. dcmtk's ``DiLookupTable`` tells them apart by the data's length, and so
does the viewer (viewer/core/display/pixels/lut_data.py). Each case is
rendered by ``dcmj2pnm`` (``+Wl 1`` for a VOI LUT, no VOI for a Modality LUT,
its own palette) or ``dcmp2pgm`` (a presentation state's Presentation LUT),
and compared within 1 grey level.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pstate_files import dcmp2pgm, dcmtk, make_state
from pydicom.data import get_testdata_file
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.core.display.pixels.lut_data import lut_table
from viewer.core.display.pixels.pipeline import IDENTITY_WINDOW, FullRange, file_voi_luts
from viewer.core.documents.presentation_render import render_file_with_state

CT = Path(get_testdata_file("CT_small.dcm", download=False))
ENTRIES = 4096  # more than 256: an 8-bit index would wrap


def lut_data(values: np.ndarray, layout: str) -> bytes:
    """8-bit entries as OW bytes (little endian): 'packed' two per word, 'word' one per word."""
    values = np.asarray(values, dtype=np.uint8)
    if layout == "packed":
        data = values.tobytes()
        return data + b"\0" * (len(data) % 2)
    return values.astype("<u2").tobytes()


def lut_item(first: int, values: np.ndarray, layout: str) -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [len(values), first, 8]
    item.add(DataElement(0x00283006, "OW", lut_data(values, layout)))
    return item


def ramp_image(path: Path, **attributes) -> Path:
    """CT_small's header over a 64 x 64 ramp of 12-bit stored values 0-4095, unsigned, no rescale."""
    ds = copy.deepcopy(pydicom.dcmread(CT))
    for keyword in ("RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.Rows = ds.Columns = 64
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.arange(64 * 64).astype("<u2").tobytes()  # 0-4095, one pixel each
    ds["PixelData"].VR = "OW"
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    ds.save_as(path, enforce_file_format=True)
    return path


def assert_within_one(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    difference = np.abs(ours.astype(int) - theirs.astype(int))
    assert difference.max() <= 1, f"{(difference > 1).sum()} pixels differ by more than 1 (up to {difference.max()})"


#: A curve no identity could pass for: a square over 4096 entries, 8 bits out.
SQUARE = np.rint((np.arange(ENTRIES) / (ENTRIES - 1)) ** 2 * 255)


@pytest.mark.parametrize("layout", ["packed", "word"])
def test_lut_table_reads_both_layouts(layout):
    table = lut_table([ENTRIES, 0, 8], lut_data(SQUARE, layout))
    assert np.array_equal(table.entries, SQUARE) and table.bits == 8
    odd = lut_table([5, 0, 8], lut_data(np.arange(5) * 50, layout))  # packed: 5 entries in 3 words
    assert odd.entries.tolist() == [0, 50, 100, 150, 200]


def test_lut_table_us_values_and_short_data():
    assert lut_table([4, 0, 8], [0x0201, 0x0403]).entries.tolist() == [1, 2, 3, 4]  # US, packed
    assert lut_table([2, 0, 8], [7, 9]).entries.tolist() == [7, 9]  # US, one per word
    assert lut_table([2, 0, 8], [0x4141, 0]).entries.tolist() == [0x41, 0]  # high byte = low byte: 8 bits (dcmtk)
    wide = lut_table([2, 0, 8], [0x1234, 0xFFFF])  # 16-bit values under an 8-bit descriptor
    assert wide.bits == 16 and wide.entries.tolist() == [0x1234, 0xFFFF]
    with pytest.raises(ValueError):
        lut_table([10, 0, 8], b"\0\0")


@pytest.mark.parametrize("layout", ["packed", "word"])
def test_voi_lut_8_bit_as_dcmj2pnm(layout, tmp_path, display, dcmtk_render):
    voi = lut_item(0, SQUARE, layout)
    path = ramp_image(tmp_path / "voi.dcm", VOILUTSequence=Sequence([voi]))
    fd = display(path)
    luts = file_voi_luts(fd.ctx)
    assert len(luts) == 1, "the 8-bit VOI LUT is offered"
    assert_within_one(fd.render(luts[0], False), dcmtk_render(path, ["+Wl", "1"]))


@pytest.mark.parametrize("layout", ["packed", "word"])
def test_modality_lut_8_bit_as_dcmj2pnm(layout, tmp_path, display, dcmtk_render):
    modality = lut_item(0, np.rint(np.sqrt(np.arange(ENTRIES) / (ENTRIES - 1)) * 255), layout)
    modality.ModalityLUTType = "US"
    path = ramp_image(tmp_path / "modality.dcm", ModalityLUTSequence=Sequence([modality]))
    assert_within_one(display(path).render(FullRange(), False), dcmtk_render(path, []))


@pytest.mark.skipif(not dcmtk("dcmp2pgm"), reason="dcmtk is not installed")
@pytest.mark.parametrize("layout", ["packed", "word"])
def test_presentation_lut_8_bit_as_dcmp2pgm(layout, tmp_path):
    image = ramp_image(tmp_path / "image.dcm")
    state = make_state(pydicom.dcmread(image, stop_before_pixels=True), window=(2048.0, 4096.0))
    del state.PresentationLUTShape  # (2050,0010) Presentation LUT Sequence instead (C.11.6)
    # An inverting table: read in the wrong layout it would be far from dcmp2pgm's. (A square root's
    # steep start, 16 levels per entry, puts one pixel of this ramp 2 levels from dcmp2pgm in either
    # layout: the rounding of the VOI output to an entry, not the reading of the data.)
    state.PresentationLUTSequence = Sequence([lut_item(0, 255 - np.arange(256), layout)])
    state_path = tmp_path / "pr.dcm"
    state.save_as(state_path, enforce_file_format=True)
    ours = render_file_with_state(image, state_path)
    assert_within_one(ours, dcmp2pgm(image, state_path, tmp_path / "dcmtk.pgm"))


@pytest.mark.parametrize("layout", ["packed", "word"])
def test_palette_colour_8_bit_as_dcmj2pnm(layout, tmp_path, display, dcmtk_render):
    ramp = np.arange(256)
    colours = {"Red": ramp, "Green": 255 - ramp, "Blue": (ramp * 3) % 256}
    attributes = {"PhotometricInterpretation": "PALETTE COLOR"}
    path = tmp_path / "palette.dcm"
    ramp_image(path, BitsStored=8, HighBit=7)
    ds = pydicom.dcmread(path)
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = (np.arange(64 * 64) % 256).astype(np.uint8).tobytes()
    ds.PhotometricInterpretation = attributes["PhotometricInterpretation"]
    for colour, values in colours.items():
        ds[f"{colour}PaletteColorLookupTableDescriptor"] = DataElement(
            {"Red": 0x00281101, "Green": 0x00281102, "Blue": 0x00281103}[colour], "US", [256, 0, 8]
        )
        ds[f"{colour}PaletteColorLookupTableData"] = DataElement(
            {"Red": 0x00281201, "Green": 0x00281202, "Blue": 0x00281203}[colour], "OW", lut_data(values, layout)
        )
    ds.save_as(path, enforce_file_format=True)
    assert_within_one(display(path).render(IDENTITY_WINDOW, False), dcmtk_render(path, []))
