"""Hostile inputs, each with a real or crafted file: executable preambles, absurd
lengths and sizes, deflate bombs, symbolic-link loops, read-only media and a
storage peer that sends '../' in a UID.

Files are copies of pydicom's test files (``tmp_path``), changed where the
case needs it; the originals are only read.
"""

from __future__ import annotations

import builtins
import io
import os
import shutil
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from viewer.core.dicom.header import read_index_header
from viewer.core.dicom.inspect import dataset_rows, dump_text, preamble_row
from viewer.core.dicom.io import ViewerError, executable_preamble, read_header, read_image_dataset
from viewer.core.display.frames import FrameSource
from viewer.core.display.pixels.decoders import MAX_FRAME_BYTES, decode_frame
from viewer.core.media.model import ImageRef, Instance
from viewer.core.media.scan import scan
from viewer.core.media.sources import open_paths

ROOT = Path(__file__).resolve().parents[2]


def _copy(name: str, folder: Path, as_name: str | None = None) -> Path:
    target = folder / (as_name or name)
    shutil.copyfile(get_testdata_file(name), target)
    return target


def _frame(path: Path):
    header = read_index_header(path)
    from viewer.core.display.pixels.decoders import number_of_frames

    return FrameSource(max_datasets=1).frame(ImageRef(Instance(path, header, number_of_frames(header)), 0))


def _meta(syntax: str = ExplicitVRLittleEndian) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    return meta


def _file_bytes(ds: Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


# ----------------------------------------------------------------------------- executable preamble


@pytest.fixture
def pe_file(tmp_path) -> Path:
    """CT_small.dcm with 'MZ' (a Windows PE header's start) in its preamble (CVE-2019-11687)."""
    folder = tmp_path / "media"
    folder.mkdir()
    path = _copy("CT_small.dcm", folder, "pe.dcm")
    data = bytearray(path.read_bytes())
    data[0:2] = b"MZ"
    data[60:64] = struct.pack("<L", 64)  # e_lfanew, as a real PE stub has
    path.write_bytes(bytes(data))
    return path


def test_pe_preamble_is_flagged_everywhere(pe_file):
    warning = executable_preamble(pe_file)
    assert warning and "Windows executable" in warning
    assert read_index_header(pe_file).preamble_warning == warning
    row = preamble_row(pe_file)
    assert row is not None and row.warning == warning and row.tag == "Preamble"
    # An ordinary file is not flagged.
    assert executable_preamble(get_testdata_file("CT_small.dcm")) is None
    assert preamble_row(get_testdata_file("CT_small.dcm")) is None
    # open_paths carries it to the browser.
    [instance] = [i for s in open_paths([pe_file]).series for i in s.instances]
    assert instance.warning == warning


def test_dump_command_prints_the_warning(pe_file):
    result = subprocess.run(
        [sys.executable, "-m", "viewer.app", "dump", str(pe_file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stdout.splitlines() if line.startswith("# WARNING")]
    assert len(warnings) == 1 and "Windows executable" in warnings[0]


def test_export_of_a_pe_file_writes_only_the_png(pe_file, tmp_path):
    """The export works, writes a PNG (which cannot carry the preamble), and nothing else anywhere near the source."""
    from viewer.cli import main

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    source_before = {p.name: p.read_bytes() for p in pe_file.parent.iterdir()}
    assert main(["export", str(pe_file), "-o", str(out_dir / "pe.png")]) == 0
    assert [p.name for p in out_dir.iterdir()] == ["pe.png"]
    png = (out_dir / "pe.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and not png.startswith(b"MZ")
    assert {p.name: p.read_bytes() for p in pe_file.parent.iterdir()} == source_before


# ----------------------------------------------------------------------------- absurd sizes


def _two_gb_claim(tmp_path: Path) -> Path:
    """A 1 kB file with a private UN element (32-bit length) claiming 2 GB."""
    ds = Dataset()
    ds.file_meta = _meta()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.PatientName = "Length^Claim"
    data = bytearray(_file_bytes(ds))
    # (0011,1010) UN claiming 0x80000000 bytes, then padding to 1 kB.
    data += struct.pack("<HH", 0x0011, 0x1010) + b"UN\x00\x00" + struct.pack("<L", 0x80000000)
    data += b"\x00" * (1024 - len(data))
    path = tmp_path / "claim.dcm"
    path.write_bytes(bytes(data))
    assert path.stat().st_size == 1024
    return path


def _outcome_and_peak(call):
    """(what `call()` returned, or the ViewerError it raised; peak bytes allocated).

    The peak, not the time, shows that a claimed length was refused before
    anything was read or allocated for it: time depends on the machine's load.
    """
    tracemalloc.start()
    try:
        try:
            outcome = call()
        except ViewerError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("reader", [read_header, read_image_dataset, lambda path: _frame(path)])
def test_two_gb_length_in_a_1kb_file_is_refused_quickly(tmp_path, reader):
    path = _two_gb_claim(tmp_path)
    error, peak = _outcome_and_peak(lambda: reader(path))
    assert isinstance(error, ViewerError), error
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MB allocated for a 1 kB file"
    message = str(error)
    assert "\n" not in message and "claim.dcm" in message
    assert "2,147,483,648" in message or "truncated" in message


def test_two_gb_length_does_not_grow_memory_while_indexing(tmp_path):
    """The indexing walker keeps what precedes the claim (as for any file cut short), allocating nothing for it."""
    path = _two_gb_claim(tmp_path)
    header, peak = _outcome_and_peak(lambda: read_index_header(path))
    assert not isinstance(header, ViewerError), header
    assert peak < 16 << 20
    assert str(header.PatientName) == "Length^Claim" and "Rows" not in header


def _absurd_image(tmp_path: Path, frames: int) -> Path:
    """MR_small.dcm declaring 65535 x 65535 pixels (x `frames`), its pixel data unchanged (tiny)."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    ds.Rows = ds.Columns = 65535
    if frames > 1:
        ds.NumberOfFrames = frames
    path = tmp_path / f"absurd{frames}.dcm"
    ds.save_as(path)
    return path


@pytest.mark.parametrize("frames", [1, 1000])
def test_absurd_rows_columns_frames_refused_before_allocation(tmp_path, frames):
    """65535 x 65535 x 16 bits is 8 GB a frame: refused by MAX_FRAME_BYTES, nothing allocated."""
    path = _absurd_image(tmp_path, frames)
    assert 65535 * 65535 * 2 > MAX_FRAME_BYTES
    error, peak = _outcome_and_peak(lambda: _frame(path))
    assert isinstance(error, ViewerError), error
    assert peak < 64 << 20
    assert "refused" in str(error) and "GB" in str(error)
    with pytest.raises(ViewerError, match="refused"):
        decode_frame(read_image_dataset(path), frames - 1, path)


def test_deflate_bomb_is_refused(tmp_path, monkeypatch):
    """A deflated dataset (PS3.5 A.5) whose stream inflates past MAX_INFLATED_BYTES."""
    import viewer.core.dicom.io as viewer_io

    monkeypatch.setattr(viewer_io, "MAX_INFLATED_BYTES", 1 << 20)  # 1 MB keeps the test fast
    from pydicom.filebase import DicomBytesIO
    from pydicom.filewriter import write_file_meta_info

    meta_only = DicomBytesIO()
    meta_only.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(meta_only, _meta("1.2.840.10008.1.2.1.99"), enforce_standard=True)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # An OB element of 4 MB of zeros, deflated: a few kB on disk.
    body = struct.pack("<HH", 0x0009, 0x1010) + b"OB\x00\x00" + struct.pack("<L", 4 << 20)
    bomb = compressor.compress(body) + compressor.compress(b"\x00" * (4 << 20)) + compressor.flush()
    path = tmp_path / "bomb.dcm"
    path.write_bytes(meta_only.getvalue() + bomb)
    assert path.stat().st_size < 20_000
    for reader in (read_header, read_image_dataset, read_index_header):
        with pytest.raises(ViewerError, match="expand beyond 1 MB"):
            reader(path)


# ----------------------------------------------------------------------------- folders


def test_symlink_loop_scan_ends(tmp_path):
    root = tmp_path / "root"
    (root / "a" / "b").mkdir(parents=True)
    _copy("MR_small.dcm", root / "a" / "b", "image.dcm")
    (root / "a" / "b" / "back").symlink_to(root, target_is_directory=True)  # b -> root -> a -> b ...
    (root / "self").symlink_to(root / "self")  # a link to itself
    (root / "loop1").symlink_to(root / "loop2")
    (root / "loop2").symlink_to(root / "loop1")
    progress = scan([root], lambda batch, progress: None, processes=False)
    # Each file once: following a loop would find the image again under every longer path.
    assert progress.done and progress.images_found == 1 and progress.files_seen == 1
    result = open_paths([root])
    assert sum(len(s.instances) for s in result.series) == 1


class _WriteRecorder:
    """Every attempt to open for writing or to change the file system, by path."""

    MODES = ("w", "a", "x", "+")

    def __init__(self, monkeypatch):
        self.calls: list[tuple[str, str]] = []
        real_open, real_os_open = builtins.open, os.open

        def recording_open(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes, os.PathLike)) and any(m in mode for m in self.MODES):
                self.calls.append(("open", os.fsdecode(file)))
            return real_open(file, mode, *args, **kwargs)

        def recording_os_open(path, flags, *args, **kwargs):
            if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND):
                self.calls.append(("os.open", os.fsdecode(path)))
            return real_os_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", recording_open)
        monkeypatch.setattr(io, "open", recording_open)
        monkeypatch.setattr(os, "open", recording_os_open)
        for name in (
            "remove",
            "unlink",
            "rename",
            "replace",
            "mkdir",
            "makedirs",
            "rmdir",
            "chmod",
            "utime",
            "truncate",
            "symlink",
            "link",
        ):
            real = getattr(os, name)

            def recording(*args, _name=name, _real=real, **kwargs):
                self.calls.append((f"os.{_name}", os.fsdecode(args[0]) if args and isinstance(args[0], (str, bytes, os.PathLike)) else ""))
                return _real(*args, **kwargs)

            monkeypatch.setattr(os, name, recording)

    def inside(self, folder: Path) -> list[tuple[str, str]]:
        return [(call, p) for call, p in self.calls if p and Path(p).resolve().is_relative_to(folder.resolve())]


def test_read_only_folder_is_never_written(tmp_path, monkeypatch):
    """Scan, open and render a read-only folder: no write attempt inside it, nothing changed.

    As root, permissions do not stop writes, so every write-mode open and file
    system change is recorded instead."""
    folder = tmp_path / "cd"
    (folder / "sub").mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "emri_small_jpeg_2k_lossless.dcm", "image_dfl.dcm"):
        _copy(name, folder)
    _copy("MR_small_RLE.dcm", folder / "sub")
    (folder / "notes.txt").write_text("not DICOM")
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}
    for p in [*folder.rglob("*"), folder]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        recorder = _WriteRecorder(monkeypatch)
        progress = scan([folder], lambda batch, progress: None, processes=False)
        result = open_paths([folder])
        rendered = 0
        for series in result.series:
            for instance in series.instances:
                frame = FrameSource().frame(ImageRef(instance, 0))
                frame.render(frame.default_voi())
                rendered += 1
        for path in before:
            dump_text(dataset_rows(read_header(path), str(path))) if path.suffix == ".dcm" else None
        monkeypatch.undo()
        assert progress.images_found == 6 and rendered == 6
        assert recorder.inside(folder) == []
    finally:
        for p in [folder, *folder.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*") if p.is_file()}
    assert after == before


# ----------------------------------------------------------------------------- storage SCP


def _store(writer, sop_uid: str, study_uid: str, series_uid: str) -> int:
    """One C-STORE as the Storage SCP hands it to the writer: the request's UIDs and the dataset
    encoded as it came off the network (tests/net/test_storage_scp.py sends such over a real association)."""
    from pynetdicom.dsutils import encode

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.SOPInstanceUID = sop_uid
    ds.file_meta = _meta()
    return writer.store(ds.SOPClassUID, sop_uid, ds.file_meta.TransferSyntaxUID, [encode(ds, False, True)])


@pytest.mark.parametrize("sop_uid", ["../../escape", "1.2.3/../../../escape", "..", "1.2.3\\..\\..\\x", "/tmp/abs", "1.2.3.4\x00../x"])
def test_storage_scp_refuses_path_like_sop_instance_uid(tmp_path, sop_uid):
    from viewer.core.net.storage import CANNOT_UNDERSTAND, InstanceWriter

    root = tmp_path / "cache"
    root.mkdir()
    writer = InstanceWriter(root)
    status = _store(writer, sop_uid, "1.2.3", "1.2.3.4")
    assert status == CANNOT_UNDERSTAND
    assert writer.written == [] and len(writer.refused) == 1
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("field", ["StudyInstanceUID", "SeriesInstanceUID"])
def test_storage_scp_refuses_path_like_study_or_series_uid(tmp_path, field):
    from viewer.core.net.storage import CANNOT_UNDERSTAND, InstanceWriter

    root = tmp_path / "cache"
    root.mkdir()
    uids = {"StudyInstanceUID": "1.2.3", "SeriesInstanceUID": "1.2.3.4", field: "../../escape"}
    writer = InstanceWriter(root)
    assert _store(writer, "1.2.3.4.5", uids["StudyInstanceUID"], uids["SeriesInstanceUID"]) == CANNOT_UNDERSTAND
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_storage_scp_writes_a_valid_instance_inside_its_root(tmp_path):
    """The same writer accepts a well-formed one, under root/<study>/<series>/<sop>.dcm."""
    from viewer.core.net.storage import SUCCESS, InstanceWriter

    root = tmp_path / "cache"
    writer = InstanceWriter(root)
    assert _store(writer, "1.2.3.4.5", "1.2.3", "1.2.3.4") == SUCCESS
    assert writer.written == [root / "1.2.3" / "1.2.3.4" / "1.2.3.4.5.dcm"]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == writer.written
