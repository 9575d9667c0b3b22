"""Decoding one frame of pixel data through pydicom's decoder plugins.

pydicom picks among the plugins that are installed (pylibjpeg, Pillow, gdcm,
...); when none can decode a transfer syntax, the message names the packages
that would add one, as pydicom's own decoders do, instead of a traceback.
The plugins of a syntax are imported when a frame of it is first decoded
(:mod:`viewer.core.display.pixels.plugins`), so a native image loads none.
"""

from __future__ import annotations

import re

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder, pixel_array
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    UID,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    HTJ2KLosslessRPCL,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from viewer.core.dicom.header import number_of_frames
from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels import gdcm_guard, plugins, video
from viewer.core.display.pixels.video import VIDEO_PREFIXES

# gdcm kills the process on some damaged frames: see gdcm_guard. Its plugin is
# imported when a frame first needs it (see plugins), and guarded from then on.
plugins.when_loaded(gdcm_guard.PLUGIN, gdcm_guard.install)

#: Packages that add a decoder for each compressed transfer syntax, preferred first.
#: pydicom's plugin names map to these installable distributions.
DECODER_PACKAGES: dict[str, tuple[str, ...]] = {
    JPEGBaseline8Bit: ("pillow", "pylibjpeg-libjpeg", "python-gdcm"),  # JPEG Baseline
    JPEGExtended12Bit: ("pylibjpeg-libjpeg", "pillow"),  # JPEG Extended (12-bit: libjpeg only)
    JPEGLossless: ("pylibjpeg-libjpeg", "python-gdcm"),  # JPEG Lossless
    JPEGLosslessSV1: ("pylibjpeg-libjpeg", "python-gdcm"),  # JPEG Lossless SV1
    JPEGLSLossless: ("pyjpegls", "pylibjpeg-libjpeg", "python-gdcm"),  # JPEG-LS Lossless
    JPEGLSNearLossless: ("pyjpegls", "pylibjpeg-libjpeg", "python-gdcm"),  # JPEG-LS Near-Lossless
    JPEG2000Lossless: ("pylibjpeg-openjpeg", "python-gdcm", "pillow"),  # JPEG 2000 Lossless
    JPEG2000: ("pylibjpeg-openjpeg", "python-gdcm", "pillow"),  # JPEG 2000
    HTJ2KLossless: ("pylibjpeg-openjpeg",),  # HTJ2K Lossless
    HTJ2KLosslessRPCL: ("pylibjpeg-openjpeg",),  # HTJ2K Lossless RPCL
    HTJ2K: ("pylibjpeg-openjpeg",),  # HTJ2K
    RLELossless: ("pylibjpeg-rle",),  # RLE Lossless (pydicom also has its own)
}

#: pydicom plugin names to try first, fastest first (benchmarks/bench_decode.py;
#: for JPEG 2000 gdcm is faster on noisy images, OpenJPEG on smooth ones and it
#: handles sign mismatches, so OpenJPEG stays first);
#: pydicom's other installed plugins remain the fallback.
PREFERRED_PLUGINS: dict[str, tuple[str, ...]] = {
    JPEGBaseline8Bit: ("pillow", "pylibjpeg", "gdcm"),
    JPEGExtended12Bit: ("pylibjpeg", "pillow"),  # 12-bit needs pylibjpeg-libjpeg
    JPEGLossless: ("gdcm", "pylibjpeg"),
    JPEGLosslessSV1: ("gdcm", "pylibjpeg"),
    JPEGLSLossless: ("pyjpegls", "gdcm", "pylibjpeg"),
    JPEGLSNearLossless: ("pyjpegls", "gdcm", "pylibjpeg"),
    JPEG2000Lossless: ("pylibjpeg", "gdcm", "pillow"),
    JPEG2000: ("pylibjpeg", "gdcm", "pillow"),
    HTJ2KLossless: ("pylibjpeg",),
    HTJ2KLosslessRPCL: ("pylibjpeg",),
    HTJ2K: ("pylibjpeg",),
    RLELossless: ("pylibjpeg", "pydicom"),
}

# Video transfer syntaxes (PS3.5 8.2.5-8.2.8) have no pydicom decoder: PyAV decodes them (see video).


def transfer_syntax(ds: Dataset) -> UID:
    """The dataset's Transfer Syntax UID, implicit little endian if unstated."""
    meta = getattr(ds, "file_meta", None)
    uid = meta.get("TransferSyntaxUID") if meta is not None else None
    if uid is None:
        # No meta header: pydicom noted how it actually read the dataset.
        implicit, little = getattr(ds, "original_encoding", (True, True))
        if implicit:
            return ImplicitVRLittleEndian
        return ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    return UID(uid)


def needs_decoder(uid: UID) -> bool:
    """Whether `uid` needs a decoder plugin (encapsulated, not native).

    A syntax this pydicom does not know (JPEG XL, added to DICOM in 2024, or
    a private one) is assumed to: pydicom's ``is_compressed`` raises for it.
    """
    try:
        return uid.is_compressed
    except ValueError:
        return True


#: The most memory one decoded frame may take; more is refused before anything
#: is allocated (a header may claim 65535 x 65535 x 4 samples).
MAX_FRAME_BYTES = 1 << 30


def _check_decodable(ds, index: int, frames: int, uid: str, path) -> None:
    """ViewerError unless frame `index` exists, fits in memory and has an installed decoder."""
    if not 0 <= index < frames:
        raise ViewerError(f"frame {index + 1} does not exist (the image has {frames})", path)
    check_frame_size(ds, path)
    if video.is_video(uid):
        if not video.video_available():
            raise ViewerError(missing_decoder_message(uid), path)
        return
    if needs_decoder(uid):
        plugins.load_for(uid)  # the real plugins decide, and name what is missing
        try:
            decoder = get_decoder(uid)
        except NotImplementedError:
            raise ViewerError(missing_decoder_message(uid), path) from None
        if not decoder.is_available:
            raise ViewerError(missing_decoder_message(uid), path)


def check_frame_size(ds: Dataset, path=None) -> int:
    """Bytes one decoded frame needs; raises ViewerError when absurd or over the limit."""
    try:
        rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        samples = int(ds.get("SamplesPerPixel") or 1)
        allocated = int(ds.get("BitsAllocated") or 8)
    except (TypeError, ValueError):
        raise ViewerError("its image size attributes are not numbers", path) from None
    if rows <= 0 or columns <= 0:
        raise ViewerError(f"its image is {rows} x {columns} pixels: nothing to show", path)
    if samples not in (1, 3, 4) or allocated not in (1, 8, 16, 32, 64):
        raise ViewerError(f"{samples} samples of {allocated} bits per pixel is not a valid image", path)
    size = rows * columns * samples * max(1, allocated // 8)
    if size > MAX_FRAME_BYTES:
        raise ViewerError(
            f"one frame of {columns} x {rows} x {samples} would need {size / 2**30:.1f} GB; refused (limit {MAX_FRAME_BYTES / 2**30:.0f} GB)",
            path,
        )
    return size


def missing_decoder_message(uid: UID) -> str:
    """One line saying which package would decode this transfer syntax."""
    name = getattr(uid, "name", str(uid))
    if str(uid).startswith(VIDEO_PREFIXES):
        return video.missing_video_message(name)
    packages = DECODER_PACKAGES.get(str(uid))
    if not packages:
        # The UID too: this pydicom may not know the name (JPEG XL, 2024), and a UID is what one searches for.
        return f"no decoder for transfer syntax {name}" + (f" ({uid})" if name != str(uid) else "")
    return f"no decoder for {name} is installed: install {' or '.join(packages)}"


def decode_frame(ds: Dataset, index: int = 0, path=None) -> np.ndarray:
    """Decode frame `index` (0-based) of `ds` as pydicom does by default.

    Colour data in YBR_FULL/YBR_FULL_422 is converted to RGB (pydicom's
    ``as_rgb``); greyscale values are the stored values, sign-extended.
    Raises :class:`ViewerError` with a one-line reason on any failure.
    """
    if ds.get("file_meta") is None or "TransferSyntaxUID" not in ds.file_meta:
        ds.file_meta = getattr(ds, "file_meta", None) or _new_meta()
        ds.file_meta.TransferSyntaxUID = transfer_syntax(ds)
    uid = transfer_syntax(ds)
    frames = number_of_frames(ds)
    _check_decodable(ds, index, frames, uid, path)
    if video.is_video(uid):
        return video.decode_dataset_frame(ds, index, path)
    try:
        arr = decode_with_preference(ds, index, uid)
    except ViewerError:
        raise
    except BaseException as exc:  # see below
        # Some decoders signal corrupt frames with a Rust panic, which derives
        # from BaseException; never swallow a real interrupt though.
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise ViewerError(_decode_failure_reason(exc, uid), path) from None
    return arr


#: pydicom's plugin label for each decoder distribution.
_PLUGIN_LABELS = {
    "pillow": "pillow",
    "pylibjpeg-libjpeg": "pylibjpeg",
    "pylibjpeg-openjpeg": "pylibjpeg",
    "pylibjpeg-rle": "pylibjpeg",
    "pyjpegls": "pyjpegls",
    "python-gdcm": "gdcm",
}

#: The only distribution whose pydicom plugin decodes 12-bit JPEG Extended
#: (PS3.5 A.4.1, Process 4): Pillow's and gdcm's plugins refuse it.
TWELVE_BIT_JPEG_PACKAGES = ("pylibjpeg-libjpeg",)


def missing_packages(uid: UID, packages: tuple[str, ...] | None = None) -> list[str]:
    """Decoder packages for `uid` (or of `packages`) whose pydicom plugin is not available, preferred first.

    Asked of pydicom's decoder, not of the import system: a plugin counts as
    missing whenever pydicom cannot use it (not installed, too old, removed).
    """
    try:
        available = set(get_decoder(uid).available_plugins)
    except NotImplementedError:
        available = set()
    return [p for p in (DECODER_PACKAGES.get(str(uid), ()) if packages is None else packages) if _PLUGIN_LABELS.get(p, p) not in available]


#: Plugins never tried for a syntax while another plugin for it is installed.
#: gdcm aborts the whole process (an uncaught C++ exception: SIGABRT, no
#: Python exception to catch) on some damaged or inconsistent frames: a JPEG
#: 2000 code stream whose component count differs from the samples its
#: Photometric Interpretation implies (MONOCHROME data labelled YBR_FULL_422),
#: a JPEG Baseline stream with bytes missing. Found by tests/robustness
#: (crashes/j2k_photometric_mismatch.dcm, crashes/jpeg_baseline_bytes_missing.dcm).
#: For JPEG Lossless (.57, .70) gdcm is the only permissive decoder, so it
#: stays, behind the checks of :mod:`gdcm_guard`; so it does for JPEG
#: Extended (.51), whose 12-bit frames its pydicom plugin refuses in Python
#: with the reason users need ("does not support ... 12-bit"). The GUI
#: decodes compressed frames in a worker process anyway.
UNSAFE_FALLBACKS: dict[str, frozenset[str]] = {
    uid: frozenset({"gdcm"})
    for uid in (
        JPEGBaseline8Bit,
        JPEGLSLossless,
        JPEGLSNearLossless,
        JPEG2000Lossless,
        JPEG2000,
    )
}


def decode_with_preference(src, index: int, uid: UID) -> np.ndarray:
    """pydicom's ``pixel_array`` with our plugin order, then any plugin as a fallback."""
    if not needs_decoder(uid):
        return pixel_array(src, index=index)
    plugins.load_for(uid)
    available = set(get_decoder(uid).available_plugins)
    unsafe = UNSAFE_FALLBACKS.get(str(uid), frozenset())
    safe = available - unsafe
    for plugin in PREFERRED_PLUGINS.get(str(uid), ()):
        if plugin in (safe or available):
            try:
                return pixel_array(src, index=index, decoding_plugin=plugin)
            except Exception:  # try the next plugin; the last error is reported
                continue
    if not (available & unsafe) or not safe:
        return pixel_array(src, index=index)
    error: Exception | None = None
    for plugin in sorted(safe):  # pydicom's own fallback would try the unsafe plugin too
        try:
            return pixel_array(src, index=index, decoding_plugin=plugin)
        except Exception as exc:  # the last error is reported
            error = exc
    raise error


def decode_file_frame(path, header: Dataset, index: int) -> np.ndarray:
    """Decode frame `index` of the file at `path`, reading only that frame.

    pydicom's path-based decoding seeks to the frame (native) or its
    fragments (encapsulated), so the first frame of a 1000-frame file shows
    as fast as that of a 10-frame one. `header` (read without pixel data)
    gives the transfer syntax and frame count. Deflated files cannot be
    read frame by frame; the caller reads them whole.
    """
    uid = transfer_syntax(header)
    frames = number_of_frames(header)
    _check_decodable(header, index, frames, uid, path)
    if video.is_video(uid):
        return video.decode_video_frame(path, index)
    try:
        return decode_with_preference(str(path), index, uid)
    except ViewerError:
        raise
    except BaseException as exc:  # decoder panics derive from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise ViewerError(f"frame {index + 1}: {_decode_failure_reason(exc, uid)}", path) from None


#: How pydicom's plugins refuse a variant they cannot decode:
#: "Pillow does not support 'JPEG Extended' for samples with 12-bit precision".
_REFUSED_PRECISION = re.compile(r"does not support '(?P<syntax>[^']+)' for samples with (?P<bits>\d+)-bit precision")

#: pydicom's preamble when every plugin failed; each plugin's reason follows on its own line.
_ALL_PLUGINS_FAILED = "Unable to decode as exceptions were raised by all available plugins:"

#: The longest decoder message quoted (cut at a word, never inside one).
MAX_QUOTED = 200


def _decode_failure_reason(exc: BaseException, uid: UID) -> str:
    """One clean line: why the frame could not be decoded, and which package would decode it, if one would."""
    text = " ".join(str(exc).replace(_ALL_PLUGINS_FAILED, "").split())
    if "less than expected" in text:
        return "the pixel data is shorter than its size says (truncated or corrupt)"
    if "missing dependencies" in text or "no plugins" in text.lower():
        return text.split(":")[0]
    if refused := _REFUSED_PRECISION.search(text):
        variant = f"{refused['bits']}-bit {refused['syntax']}"
        twelve_bit_jpeg = str(uid) == JPEGExtended12Bit and int(refused["bits"]) > 8
        if others := missing_packages(uid, TWELVE_BIT_JPEG_PACKAGES if twelve_bit_jpeg else None):
            # An installed plugin refused this variant (Pillow and gdcm: 12-bit JPEG) and one that reads it is missing.
            packages = " or ".join(others)
            return f"{variant} needs the package {packages}, which {'is' if len(others) == 1 else 'are'} not installed"
    return f"the pixel data cannot be decoded ({_shortened(text)})"


def _shortened(text: str) -> str:
    """`text` cut to at most about MAX_QUOTED characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= MAX_QUOTED:
        return text
    return text[:MAX_QUOTED].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def _new_meta():
    from pydicom.dataset import FileMetaDataset

    return FileMetaDataset()
