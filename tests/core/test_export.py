"""viewer.core.export: pictures, PNG series, MP4 clips and DICOM copies, checked against dcmtk, PyAV and the bytes.

Expected pixels come from dcmtk's ``dcmj2pnm`` (overlays off) with the window
named explicitly; expected windows from the standard's rules computed here
(the file's window, or the 0.5-99.5 percentiles of the series' middle image);
the MP4 is decoded back with PyAV's FFmpeg, not the viewer's decoder.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.core.dicom.io import ViewerError
from viewer.core.display.pixels.pipeline import Window
from viewer.core.export.dicom_copy import copy_dicom, copy_names
from viewer.core.export.render import ExportOptions, Renderer, render_image, series_voi
from viewer.core.export.sequence import export_pictures, picture_names
from viewer.core.export.still import encode_jpeg, format_of, write_picture
from viewer.core.export.video import export_mp4, h264_encoder, series_frame_rate
from viewer.core.media.model import ImageRef, Instance
from viewer.core.media.sources import open_paths
from viewer.core.runtime.tasks import Cancelled, CancelToken

CT = get_testdata_file("693_UNCI.dcm", download=False)
MR_MULTIFRAME = get_testdata_file("emri_small.dcm", download=False)
RGB = get_testdata_file("US1_UNCI.dcm", download=False)

needs_dcmtk = pytest.mark.skipif(shutil.which("dcmj2pnm") is None, reason="dcmtk's dcmj2pnm is not installed")


def dcmtk(tmp_path: Path, path, *args) -> np.ndarray:
    """dcmtk's rendering (dcmj2pnm, overlays off): the reference."""
    out = tmp_path / f"dcmtk-{len(list(tmp_path.glob('dcmtk-*')))}.png"
    subprocess.run(["dcmj2pnm", "-O", "+on", *args, str(path), str(out)], check=True, capture_output=True, timeout=60)
    return np.asarray(Image.open(out))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


def file_images(path) -> list[ImageRef]:
    from viewer.core.dicom.io import read_header
    from viewer.core.display.pixels.decoders import number_of_frames

    header = read_header(path)
    instance = Instance(Path(path), header, number_of_frames(header))
    return [ImageRef(instance, i) for i in range(instance.frames)]


def series_images(folder) -> list[ImageRef]:
    (series,) = open_paths([folder]).catalog.all_series()
    return series.images


def percentile_window(frame: np.ndarray) -> tuple[float, float]:
    """The automatic window of a series without one: the 0.5-99.5 percentiles of its middle image (center, width)."""
    lo, hi = np.percentile(frame.astype(float), [0.5, 99.5])
    return (lo + hi) / 2, hi - lo


def ct_series(tmp_path: Path, centers=(0, 40, 400)) -> Path:
    """Three slices of a real CT, each file with its own window, 5 mm apart (generated from 693_UNCI.dcm)."""
    folder = tmp_path / "ct"
    folder.mkdir()
    for number, center in enumerate(centers, start=1):
        ds = pydicom.dcmread(CT)
        ds.InstanceNumber = number
        ds.SOPInstanceUID = pydicom.uid.generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.ImagePositionPatient = [0, 0, 5.0 * number]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.WindowCenter, ds.WindowWidth = center, 300
        ds.save_as(folder / f"slice{number}.dcm")
    return folder


def cine(tmp_path: Path, rows: int, columns: int, frames: int, frame_time: float | None) -> Path:
    """A grey multi-frame cine with smooth moving content, `frame_time` ms per frame (generated)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    y, x = np.mgrid[0:rows, 0:columns]
    data = np.stack([(np.sin(x / 7.0 + i / 2) * np.cos(y / 9.0) * 1500 + 2000).astype(np.uint16) for i in range(frames)])
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"  # Multi-frame Grayscale Word Secondary Capture
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.PatientName, ds.PatientID = "XA", "Cine^Test", "C1"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.WindowCenter, ds.WindowWidth = 2000, 3000
    if frame_time is not None:
        ds.FrameTime = frame_time
        ds.FrameIncrementPointer = pydicom.tag.Tag("FrameTime")
    ds.PixelData = data.tobytes()
    path = tmp_path / f"cine{rows}x{columns}.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


# ---------------------------------------------------------------------- one picture


@needs_dcmtk
def test_a_picture_is_dcmtk_rendering_at_one_to_one(tmp_path):
    images = file_images(CT)
    options = ExportOptions(window=(-600, 1500), overlays=False)
    renderer = Renderer()
    pixels = render_image(renderer, images, 0, series_voi(renderer, images, 0, options), options)
    out = write_picture(tmp_path / "ct.png", pixels)
    assert np.abs(np.asarray(Image.open(out)).astype(int) - dcmtk(tmp_path, CT, "+Ww", "-600", "1500").astype(int)).max() <= 1


def test_jpeg_decodes_close_to_the_png(tmp_path):
    images = file_images(CT)
    renderer = Renderer()
    options = ExportOptions(preset="brain")
    pixels = render_image(renderer, images, 0, series_voi(renderer, images, 0, options), options)
    png = write_picture(tmp_path / "ct.png", pixels)
    jpeg = write_picture(tmp_path / "ct.jpg", pixels, quality=90)
    assert jpeg.read_bytes()[:2] == b"\xff\xd8"  # SOI (ISO/IEC 10918-1 B.2.1)
    decoded = np.asarray(Image.open(jpeg))
    assert decoded.shape == pixels.shape
    assert psnr(decoded, np.asarray(Image.open(png))) > 38
    rgb = render_image(renderer, file_images(RGB), 0, Window(128.0, 256.0), ExportOptions(overlays=False))
    assert psnr(np.asarray(Image.open(write_picture(tmp_path / "us.jpeg", rgb))), pydicom.dcmread(RGB).pixel_array) > 35
    assert psnr(np.asarray(Image.open(__import__("io").BytesIO(encode_jpeg(rgb, 30)))), rgb) < psnr(
        np.asarray(Image.open(tmp_path / "us.jpeg")), rgb
    )  # the quality option is honoured


def test_picture_format_and_overwriting(tmp_path):
    assert format_of("a.PNG") == "png" and format_of("a.jpg") == "jpeg" and format_of("x", "jpg") == "jpeg"
    with pytest.raises(ViewerError, match="cannot tell the format"):
        format_of("a.tif")
    pixels = np.zeros((4, 4), np.uint8)
    path = write_picture(tmp_path / "a.png", pixels)
    before = path.read_bytes()
    with pytest.raises(ViewerError, match="exists already: not overwritten"):
        write_picture(path, pixels + 9)
    assert path.read_bytes() == before
    write_picture(path, pixels + 9, overwrite=True)
    assert np.asarray(Image.open(path)).max() == 9
    with pytest.raises(ViewerError, match="does not exist"):
        write_picture(tmp_path / "missing" / "a.png", pixels)
    if Path("/sys").is_dir():  # unwritable even for root
        with pytest.raises(ViewerError, match="cannot write /sys/a.png"):
            write_picture("/sys/a.png", pixels)
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary file left behind


# ---------------------------------------------------------------------- a series as pictures


@needs_dcmtk
def test_a_cine_as_pictures_one_per_frame_in_order_one_window(tmp_path):
    images = file_images(MR_MULTIFRAME)
    frames = pydicom.dcmread(MR_MULTIFRAME).pixel_array
    center, width = percentile_window(frames[len(frames) // 2])  # no window in the file: the series' automatic one
    progress = []
    written = export_pictures(Renderer(), images, tmp_path / "mr", ExportOptions(), progress=lambda n, t: progress.append((n, t)))
    assert [p.name for p in sorted((tmp_path / "mr").iterdir())] == picture_names(10) == [p.name for p in written.files]
    assert written.files[0].name == "IMG0001.png" and written.files[-1].name == "IMG0010.png"
    assert progress[-1] == (10, 10)
    for number, path in enumerate(written.files, start=1):
        reference = dcmtk(tmp_path, MR_MULTIFRAME, "+F", str(number), "+Ww", f"{center:.6f}", f"{width:.6f}")
        assert np.abs(np.asarray(Image.open(path)).astype(int) - reference.astype(int)).max() <= 1, path.name


@needs_dcmtk
def test_a_series_of_files_with_their_own_windows_is_written_with_one(tmp_path):
    folder = ct_series(tmp_path, centers=(0, 40, 400))
    images = series_images(folder)
    assert [ref.instance.path.name for ref in images] == ["slice1.dcm", "slice2.dcm", "slice3.dcm"]  # slice order
    written = export_pictures(Renderer(), images, tmp_path / "out", ExportOptions(overlays=False))
    assert [p.name for p in written.files] == ["IMG0001.png", "IMG0002.png", "IMG0003.png"]
    # The middle image's window (40/300) for all three, not each file's own.
    for path, ref in zip(written.files, images):
        reference = dcmtk(tmp_path, ref.instance.path, "+Ww", "40", "300")
        assert np.abs(np.asarray(Image.open(path)).astype(int) - reference.astype(int)).max() <= 1


def test_pictures_never_replace_and_never_go_into_the_source_folder(tmp_path):
    folder = ct_series(tmp_path)
    images = series_images(folder)
    with pytest.raises(ViewerError, match="the folder the images are read from"):
        export_pictures(Renderer(), images, folder, ExportOptions())
    out = tmp_path / "out"
    out.mkdir()
    (out / "IMG0002.png").write_bytes(b"mine")
    with pytest.raises(ViewerError, match="holds 1 picture of these names already"):
        export_pictures(Renderer(), images, out, ExportOptions())
    assert sorted(p.name for p in out.iterdir()) == ["IMG0002.png"] and (out / "IMG0002.png").read_bytes() == b"mine"
    with pytest.raises(ViewerError, match="does not exist"):
        export_pictures(Renderer(), images, tmp_path / "no" / "such", ExportOptions())


def test_a_cancelled_series_export_leaves_nothing(tmp_path):
    images = file_images(MR_MULTIFRAME)
    cancel = CancelToken()

    def progress(done, total):
        if done == 3:
            cancel.cancel()

    with pytest.raises(Cancelled):
        export_pictures(Renderer(), images, tmp_path / "mr", ExportOptions(), cancel=cancel, progress=progress)
    assert list(tmp_path.iterdir()) == []  # the pictures written and the folder made are gone


# ---------------------------------------------------------------------- MP4


def test_the_h264_encoder_is_in_pyav():
    assert h264_encoder() == "libx264"


def decode_mp4(path: Path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="gray") for frame in container.decode(stream)]
        return stream, frames, stream.codec_context.name, stream.codec_context.pix_fmt, stream.average_rate


@needs_dcmtk
def test_a_cine_as_mp4_at_its_frame_time_padded_to_even_sizes(tmp_path):
    path = cine(tmp_path, 63, 77, 12, frame_time=40.0)  # 25 fps, odd sizes
    images = file_images(path)
    renderer = Renderer()
    fps, said = series_frame_rate(renderer, images)
    assert (fps, said) == (25.0, "Frame Time")
    clip = export_mp4(renderer, images, tmp_path / "cine.mp4", ExportOptions(), fps)
    assert clip.size == (64, 78) and clip.rate == Fraction(25) and "padded" in clip.notes[0]
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.width, stream.height) == (78, 64)
        decoded = [frame.to_ndarray(format="gray") for frame in container.decode(stream)]
        duration = float(stream.duration * stream.time_base)
    assert len(decoded) == 12
    assert duration == pytest.approx(12 / 25, abs=1e-3)
    for number, frame in enumerate(decoded, start=1):
        reference = dcmtk(tmp_path, path, "+F", str(number), "+Ww", "2000", "3000")
        assert psnr(frame[:63, :77], reference) > 35, number
        assert frame[63:, :].max() <= 20 and frame[:, 77:].max() <= 20  # the padding is black (studio-range rounding)


def test_a_long_cine_at_a_fractional_rate_keeps_every_frame_and_its_time(tmp_path):
    """150 frames of 33 ms (30.3 fps): libx264 reorders frames; every one arrives, 4.95 s in all."""
    path = cine(tmp_path, 48, 64, 150, frame_time=33.0)
    images = file_images(path)
    renderer = Renderer()
    fps, _ = series_frame_rate(renderer, images)
    clip = export_mp4(renderer, images, tmp_path / "long.mp4", ExportOptions(), fps)
    assert clip.rate == Fraction(1000, 33)
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        assert sum(1 for _ in container.decode(stream)) == 150
        assert float(stream.duration * stream.time_base) == pytest.approx(4.95, abs=1e-3)
        assert stream.average_rate == Fraction(1000, 33)


def test_a_series_without_timing_plays_at_the_rate_given(tmp_path):
    folder = ct_series(tmp_path)
    images = series_images(folder)
    renderer = Renderer()
    assert series_frame_rate(renderer, images, 4.0) == (4.0, "default")
    clip = export_mp4(renderer, images, tmp_path / "ct.mp4", ExportOptions(), 4.0)
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert len(frames) == 3 and float(stream.duration * stream.time_base) == pytest.approx(3 / 4, abs=1e-3)
        assert stream.average_rate == 4


def test_mp4_bad_input_is_one_line(tmp_path):
    images = file_images(MR_MULTIFRAME)
    with pytest.raises(ViewerError, match="frame rate 0 is out of range"):
        export_mp4(Renderer(), images, tmp_path / "a.mp4", ExportOptions(), 0)
    (tmp_path / "a.mp4").write_bytes(b"mine")
    with pytest.raises(ViewerError, match="exists already"):
        export_mp4(Renderer(), images, tmp_path / "a.mp4", ExportOptions(), 10)
    assert (tmp_path / "a.mp4").read_bytes() == b"mine" and len(list(tmp_path.iterdir())) == 1
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        export_mp4(Renderer(), images, tmp_path / "b.mp4", ExportOptions(), 10, cancel=cancel, progress=lambda n, t: cancel.cancel())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]  # no partial clip, no temporary file


# ---------------------------------------------------------------------- DICOM copies


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_dicom_copy_is_byte_identical_and_leaves_the_sources_untouched(tmp_path):
    folder = ct_series(tmp_path)
    sources = sorted(folder.iterdir())
    before = {p: (digest(p), p.stat().st_mtime_ns) for p in sources}
    copies = copy_dicom(sources, tmp_path / "copy")
    assert [c.name for c in copies] == [s.name for s in sources]
    for source, copy in zip(sources, copies):
        assert copy.read_bytes() == source.read_bytes()
        assert copy.stat().st_mtime_ns == source.stat().st_mtime_ns  # as the original
    assert {p: (digest(p), p.stat().st_mtime_ns) for p in sources} == before
    media = copy_dicom(sources, tmp_path / "media", naming="media")
    assert [c.name for c in media] == ["IM000001", "IM000002", "IM000003"]
    assert [c.read_bytes() for c in media] == [s.read_bytes() for s in sources]


def test_a_dicom_copy_never_replaces_a_file(tmp_path):
    folder = ct_series(tmp_path)
    sources = sorted(folder.iterdir())
    out = tmp_path / "copy"
    out.mkdir()
    (out / "slice2.dcm").write_bytes(b"mine")
    with pytest.raises(ViewerError, match=re.escape("holds 1 file of these names already (slice2.dcm...): nothing copied")):
        copy_dicom(sources, out)
    assert sorted(p.name for p in out.iterdir()) == ["slice2.dcm"] and (out / "slice2.dcm").read_bytes() == b"mine"
    with pytest.raises(ViewerError, match="the folder the files come from"):
        copy_dicom(sources, folder)
    # Two chosen files of one name (from two folders) both arrive.
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(sources[0], other / "slice1.dcm")
    assert copy_names([sources[0], other / "slice1.dcm"]) == ["slice1.dcm", "slice1-2.dcm"]
    if Path("/sys").is_dir():
        with pytest.raises(ViewerError, match="cannot make the folder /sys/copy"):
            copy_dicom(sources, "/sys/copy")


def test_a_cancelled_copy_takes_its_copies_back(tmp_path):
    sources = sorted(ct_series(tmp_path).iterdir())
    cancel = CancelToken()
    with pytest.raises(Cancelled):
        copy_dicom(sources, tmp_path / "copy", cancel=cancel, progress=lambda n, t: cancel.cancel() if n == 2 else None)
    assert not (tmp_path / "copy").exists()
    assert os.listdir(tmp_path) == ["ct"]


def test_a_video_object_as_mp4_keeps_its_frames_in_order(tmp_path):
    """An H.264 Video Endoscopic Image (PS3.5 8.2.7), decoded in the video worker and encoded again: frame k shows k."""
    from tests.video_clips import frame_number_shown, write_clip
    from viewer.core.runtime.processes import shutdown_pool

    path = tmp_path / "clip.dcm"
    write_clip(path, frames=40, fps=30)
    images = file_images(path)
    renderer = Renderer()
    try:
        fps, said = series_frame_rate(renderer, images)
        clip = export_mp4(renderer, images, tmp_path / "clip.mp4", ExportOptions(), fps)
    finally:
        shutdown_pool()
    assert said == "Frame Time" and clip.rate == 30 and clip.size == (128, 160)
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        shown = [frame_number_shown(frame.to_ndarray(format="rgb24")) for frame in container.decode(stream)]
        assert float(stream.duration * stream.time_base) == pytest.approx(40 / 30, abs=1e-3)
    assert shown == list(range(40))
