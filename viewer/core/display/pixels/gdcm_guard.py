"""pydicom's gdcm decoding plugin behind a check of the code stream it is handed.

gdcm aborts the whole process (an uncaught C++ exception: SIGABRT, no Python
exception to catch) when a frame is not what the transfer syntax says: RLE
or native bytes under a JPEG Lossless syntax, a JPEG 2000 code stream whose
component count differs from the samples its Photometric Interpretation
implies. Found by tests/robustness (crashes/jpeg_lossless_not_jpeg.dcm,
crashes/j2k_photometric_mismatch.dcm). The checks here refuse such frames
with a ValueError, which pydicom reports like any decoder's failure; frames
that pass go to pydicom's own gdcm plugin unchanged.

It takes the place of the plugin labelled 'gdcm', under the same label and
at the same place in pydicom's plugin order (so pydicom's default choice of
plugin, and our preferences, are unchanged). pydicom's gdcm plugin (and gdcm)
is imported only when a frame first needs it (viewer.core.display.pixels.plugins),
which then calls :func:`install`.
"""

from __future__ import annotations

import struct

import pydicom.uid

from viewer.core.display.pixels import plugins

PLUGIN = "pydicom.pixels.decoders.gdcm"


def _gdcm():
    """pydicom's gdcm plugin module (imported by now: see :func:`install`)."""
    return plugins.load(PLUGIN)


_JPEG_FAMILY = tuple(
    getattr(pydicom.uid, name)
    for name in ("JPEGBaseline8Bit", "JPEGExtended12Bit", "JPEGLossless", "JPEGLosslessSV1", "JPEGLSLossless", "JPEGLSNearLossless")
)
_J2K = (pydicom.uid.JPEG2000Lossless, pydicom.uid.JPEG2000)
_JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


def _samples_of(photometric: str) -> int:
    """Samples per pixel a Photometric Interpretation implies (PS3.3 C.7.6.3.1.2)."""
    if photometric in ("MONOCHROME1", "MONOCHROME2", "PALETTE COLOR"):
        return 1
    return 4 if photometric in ("ARGB", "CMYK") else 3


def _j2k_components(src: bytes) -> int | None:
    """Csiz of the SIZ marker segment (ISO/IEC 15444-1 A.5.1), None if not found."""
    at = src.find(b"\xff\x4f\xff\x51", 0, 4096)
    if at < 0 or len(src) < at + 42:
        return None
    return struct.unpack_from(">H", src, at + 40)[0]


def _decode_frame(src: bytes, runner) -> bytes:
    syntax = str(runner.transfer_syntax)
    if syntax in _JPEG_FAMILY and not bytes(src[:2]) == b"\xff\xd8":
        raise ValueError("the frame does not start with a JPEG SOI marker; not given to gdcm")
    if syntax in _J2K:
        if not (bytes(src[:4]) == b"\xff\x4f\xff\x51" or bytes(src[:12]) == _JP2_SIGNATURE):
            raise ValueError("the frame is not a JPEG 2000 code stream; not given to gdcm")
        components = _j2k_components(bytes(src))
        if components is not None and components != _samples_of(str(runner.photometric_interpretation)):
            raise ValueError(
                f"the JPEG 2000 code stream has {components} components but the "
                f"photometric interpretation is {runner.photometric_interpretation}"
            )
    return _gdcm()._decode_frame(src, runner)


def install() -> None:
    """Put this plugin in place of pydicom's 'gdcm' for every syntax gdcm decodes."""
    from pydicom.pixels import get_decoder

    plugin = _gdcm()
    for uid in plugin.DECODER_DEPENDENCIES:
        registered = getattr(get_decoder(uid), "_available", None)
        # In place: remove_plugin/add_plugin would move gdcm to the end of
        # pydicom's order and so change which plugin decodes by default.
        if isinstance(registered, dict) and registered.get("gdcm") is plugin._decode_frame:
            registered["gdcm"] = _decode_frame
