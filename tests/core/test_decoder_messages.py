"""When an installed decoder refuses a variant another package would read, the message is one sentence naming it.

The missing package is simulated through pydicom's decoder API (its plugin is
removed from pydicom's JPEG Extended decoder for the test), not by uninstalling it.
"""

from __future__ import annotations

import pydicom
import pytest
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import JPEGExtended12Bit

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.decoders import decode_file_frame, decode_frame


@pytest.fixture
def without_libjpeg(monkeypatch):
    """pydicom's JPEG Extended decoder as on a machine without pylibjpeg-libjpeg (Pillow and gdcm only)."""
    decoder = get_decoder(JPEGExtended12Bit)
    # A copy of the plugin table, put back as it was (order included) after the test.
    monkeypatch.setattr(decoder, "_available", dict(decoder._available))
    decoder.remove_plugin("pylibjpeg")
    assert "pylibjpeg" not in decoder.available_plugins and decoder.is_available
    return decoder


def test_twelve_bit_jpeg_without_libjpeg_names_the_package(without_libjpeg, sample):
    path = sample("JPGExtended.dcm")  # JPEG Extended, Bits Stored 12
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == JPEGExtended12Bit and ds.BitsStored == 12
    sentence = "12-bit JPEG Extended needs the package pylibjpeg-libjpeg, which is not installed"
    with pytest.raises(ViewerError) as caught:
        decode_frame(ds, 0, path)
    assert str(caught.value) == f"JPGExtended.dcm: {sentence}"
    with pytest.raises(ViewerError) as caught:
        decode_file_frame(path, pydicom.dcmread(path, stop_before_pixels=True), 0)
    assert str(caught.value) == f"JPGExtended.dcm: frame 1: {sentence}"


def test_twelve_bit_jpeg_decodes_with_libjpeg(sample):
    """The same file with the package present: no message, the frame (1024 x 256)."""
    path = sample("JPGExtended.dcm")
    assert decode_frame(pydicom.dcmread(path), 0, path).shape == (1024, 256)


def test_a_decoder_error_is_quoted_in_whole_words(sample):
    """JPEG-lossy.dcm (an invalid scan header, refused by every plugin): pydicom's reasons, cut only between words."""
    path = sample("JPEG-lossy.dcm")
    with pytest.raises(ViewerError) as caught:
        decode_frame(pydicom.dcmread(path), 0, path)
    message = str(caught.value)
    assert message.startswith("JPEG-lossy.dcm: the pixel data cannot be decoded (") and message.endswith(")")
    quoted = message[message.index("(") + 1 : -1]
    with pytest.raises(RuntimeError) as reference:
        pixel_array(str(path))  # pydicom's own message: every plugin's reason
    reasons = " ".join(str(reference.value).split("plugins:", 1)[1].split())
    shown = quoted.removesuffix("...")
    assert reasons.startswith(shown), (quoted, reasons)
    assert shown == reasons or not (shown[-1].isalnum() and reasons[len(shown)].isalnum()), "cut inside a word"
