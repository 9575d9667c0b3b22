"""Folder scans: what is indexed, what is skipped, what is reported; progress and cancel.

Folders are built in ``tmp_path`` from pydicom's sample files and things a
real disk holds next to them (notes, screenshots, cut-off copies, empty
files, DICOMDIRs, link loops, fifos). Every scan runs under a time limit:
a scan that opens a fifo blocks forever, and that must fail the test, not
hang the run.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file

from viewer.core.media.scan import ScanBatch, ScanProgress, iter_regular_files, scan
from viewer.core.media.sources import open_paths
from viewer.core.runtime.processes import shutdown_pool
from viewer.core.runtime.tasks import CancelToken

TIME_LIMIT = 15.0


@pytest.fixture(autouse=True)
def stop_pool():
    """No header-reading process outlives its test."""
    yield
    shutdown_pool()


def within_time_limit(function, *fifos: Path):
    """`function()`'s result; fails (and unblocks a reader stuck on `fifos`) if it takes too long."""
    outcome: dict = {}

    def run():
        try:
            outcome["result"] = function()
        except BaseException as exc:  # handed to the test below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(TIME_LIMIT)
    if worker.is_alive():
        for fifo in fifos:  # a reader blocked in open() of a fifo returns once a writer appears
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
        worker.join(5)
        pytest.fail(f"still running after {TIME_LIMIT} s (a fifo opened?)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def collect_scan(paths, processes, **kwargs) -> tuple[ScanProgress, list[tuple[ScanBatch, ScanProgress]]]:
    calls: list[tuple[ScanBatch, ScanProgress]] = []

    def on_batch(batch: ScanBatch, progress: ScanProgress) -> None:
        calls.append((batch, ScanProgress(**vars(progress))))  # a snapshot: the scan goes on counting

    progress = scan(paths, on_batch, processes=processes, **kwargs)
    return progress, calls


def _cut_in_patient_name(source: Path, target: Path) -> Path:
    """A copy ending in the middle of (0010,0010) *Patient's Name* (position from pydicom)."""
    raw = pydicom.dcmread(source, stop_before_pixels=True).get_item("PatientName")
    target.write_bytes(source.read_bytes()[: raw.value_tell + raw.length // 2])
    return target


@pytest.fixture
def mixed_folder(tmp_path, make_instance, sample):
    """A folder as found on real disks, and what a scan must make of it."""
    root = tmp_path / "disk"
    images = {
        make_instance(root / "ct1.dcm", "CT_small.dcm"),
        make_instance(root / "series" / "mr1.dcm", "MR_small.dcm"),
        make_instance(root / "series" / "deeper" / "IM000001", "MR_small_implicit.dcm"),
        make_instance(root / "series" / "deeper" / "IM000002", "MR_small_bigendian.dcm"),
    }
    others = []
    (root / "notes.txt").write_text("Patient called back on Tuesday.\n")
    others.append(root / "notes.txt")
    Image.new("L", (16, 16), 128).save(root / "screenshot.png")
    others.append(root / "screenshot.png")
    others.append(_cut_in_patient_name(sample("CT_small.dcm"), root / "cut.dcm"))
    (root / "empty.dcm").write_bytes(b"")
    others.append(root / "empty.dcm")
    others.append(Path(shutil.copy(sample("rtplan.dcm"), root / "plan.dcm")))  # DICOM, but no image
    media = root / "media"
    media.mkdir()
    others.append(Path(shutil.copy(sample("DICOMDIR"), media / "DICOMDIR")))  # its files are not there
    (root / "series" / "DICM").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00UI\xff\x7f" + b"1.2")
    others.append(root / "series" / "DICM")  # a meta header that claims more than the file holds
    os.symlink("..", root / "series" / "loop")  # back to disk/: entered once only
    os.symlink(root, root / "series" / "deeper" / "again")  # an absolute loop
    fifo = root / "series" / "pipe"
    os.mkfifo(fifo)
    os.symlink(fifo, root / "pipe-link")  # a link to the fifo is no more a file than the fifo
    return root, images, others, fifo


def summary(progress: ScanProgress, calls) -> dict:
    found = [(path, header.SOPInstanceUID) for batch, _ in calls for path, header in batch.images]
    return {
        "images": sorted(found),
        "problems": sorted(line for batch, _ in calls for line in batch.problems),
        "counts": (progress.files_seen, progress.images_found, progress.skipped, progress.problems),
    }


@pytest.mark.parametrize("processes", [False, True], ids=["in-thread", "worker-processes"])
def test_mixed_folder(mixed_folder, processes):
    root, images, others, fifo = mixed_folder
    progress, calls = within_time_limit(lambda: collect_scan([root], processes), fifo)
    result = summary(progress, calls)

    expected_uids = {path: pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID for path in images}
    assert result["images"] == sorted(expected_uids.items())
    files_seen, images_found, skipped, problems = result["counts"]
    assert files_seen == len(images) + len(others)  # each file once, loops or not, fifo never
    assert images_found == len(images)
    # An object without an image by design (the RT Plan) is listed with its header, not skipped (#16).
    assert [path.name for batch, _ in calls for path, _header in batch.objects] == ["plan.dcm"]
    assert progress.objects_found == 1
    assert skipped + problems + progress.objects_found == len(others)
    assert problems == len(result["problems"])
    for line in result["problems"]:
        assert "\n" not in line and "Traceback" not in line
        assert any(line.startswith(f"{path.name}: ") for path in others), line
    assert progress.done and not progress.cancelled
    assert calls[-1][1].done and not any(snapshot.done for _, snapshot in calls[:-1])
    # A CT file cut inside its header is a problem to report, not a file to skip.
    assert any(line.startswith("cut.dcm: ") and "truncated" in line for line in result["problems"])


def test_worker_processes_give_identical_results(mixed_folder):
    root, _, _, fifo = mixed_folder
    in_thread = summary(*within_time_limit(lambda: collect_scan([root], False), fifo))
    in_processes = summary(*within_time_limit(lambda: collect_scan([root], True), fifo))
    assert in_processes == in_thread
    headers = {}
    for processes in (False, True):
        _, calls = within_time_limit(lambda: collect_scan([root], processes), fifo)
        headers[processes] = {
            path: {element.keyword: str(element.value) for element in header} for batch, _ in calls for path, header in batch.images
        }
    assert headers[True] == headers[False]  # every indexed attribute survives the trip between processes


def test_fifo_named_directly_is_never_opened(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert list(within_time_limit(lambda: list(iter_regular_files([fifo])), fifo)) == []
    result = within_time_limit(lambda: open_paths([fifo]), fifo)
    assert result.series == []
    assert len(result.problems) == 1 and result.problems[0].startswith("pipe: "), result.problems
    assert "not a regular file" in result.problems[0]


def test_the_retrieve_caches_own_files_are_not_counted(tmp_path, make_instance):
    """A retrieved series folder holds its completion marker, the cache a folder of transfers in
    progress: opening them reports the images only, never 'other files skipped'."""
    series = tmp_path / "1.2.3" / "1.2.3.4"
    make_instance(series / "1.2.3.4.5.dcm")
    (series / ".complete").touch()
    (tmp_path / ".incoming").mkdir()
    (tmp_path / ".incoming" / ".abc.part").write_bytes(b"\0" * 300)
    (tmp_path / "notes.txt").write_text("the user's own file is still counted")
    assert sorted(p.name for p in iter_regular_files([tmp_path])) == ["1.2.3.4.5.dcm", "notes.txt"]
    progress, _ = within_time_limit(lambda: collect_scan([series], False))
    assert (progress.files_seen, progress.images_found, progress.skipped, progress.problems) == (1, 1, 0, 0)


def test_unreadable_folder_is_skipped(tmp_path, make_instance):
    if os.geteuid() == 0:
        pytest.skip("running as root: permissions do not stop root from listing a chmod 000 folder")
    make_instance(tmp_path / "ok" / "ct.dcm")
    locked = tmp_path / "locked"
    make_instance(locked / "hidden.dcm")
    locked.chmod(0)
    try:
        progress, calls = within_time_limit(lambda: collect_scan([tmp_path], False))
    finally:
        locked.chmod(0o755)
    assert progress.images_found == 1
    assert [path.name for batch, _ in calls for path, _ in batch.images] == ["ct.dcm"]


def test_open_paths_on_the_mixed_folder(mixed_folder):
    """The whole path from a folder to the catalog: nothing crashes, problems are lines."""
    root, images, others, fifo = mixed_folder
    result = within_time_limit(lambda: open_paths([root]), fifo)
    plan = root / "plan.dcm"  # no image by design: listed as an object of kind "other" (#16)
    assert {inst.path for series in result.series for inst in series.instances} == images | {plan}
    assert {series.kind for series in result.series if series.instances[0].path == plan} == {"other"}
    assert result.progress.files_seen == len(images) + len(others)
    assert all("\n" not in line for line in result.problems)


# --------------------------------------------------------------------------- progress and cancel

FILES_IN_TREE = 2000


@pytest.fixture(scope="module")
def many_files(tmp_path_factory):
    """About 2000 small DICOM images in 20 folders (copies of one real file's bytes)."""
    root = tmp_path_factory.mktemp("many")
    data = Path(get_testdata_file("MR_small.dcm")).read_bytes()
    for i in range(FILES_IN_TREE):
        folder = root / f"series{i // 100:02d}"
        folder.mkdir(exist_ok=True)
        (folder / f"im{i:04d}.dcm").write_bytes(data)
    return root


@pytest.mark.parametrize("processes", [False, True], ids=["in-thread", "worker-processes"])
def test_progress_is_throttled(many_files, processes):
    interval = 0.05
    times: list[float] = []
    snapshots: list[ScanProgress] = []
    found = 0

    def on_batch(batch, progress):
        nonlocal found
        times.append(time.monotonic())
        snapshots.append(ScanProgress(**vars(progress)))
        found += len(batch.images)

    start = time.monotonic()
    progress = within_time_limit(lambda: scan([many_files], on_batch, report_interval=interval, processes=processes))
    elapsed = time.monotonic() - start

    assert progress.files_seen == progress.images_found == found == FILES_IN_TREE
    assert snapshots[-1].done and not any(s.done for s in snapshots[:-1])
    assert len(times) - 1 <= elapsed / interval + 1, (len(times), elapsed)
    gaps = [later - earlier for earlier, later in zip(times[:-1], times[1:-1])]  # the final call may come at once
    assert all(gap >= interval * 0.9 for gap in gaps), min(gaps)
    counts = [s.files_seen for s in snapshots]
    assert counts == sorted(counts)  # progress only grows


@pytest.mark.parametrize("processes", [False, True], ids=["in-thread", "worker-processes"])
def test_cancel_from_the_first_batch(many_files, processes):
    token = CancelToken()
    snapshots: list[ScanProgress] = []

    def on_batch(batch, progress):
        snapshots.append(ScanProgress(**vars(progress)))
        token.cancel()

    progress = within_time_limit(lambda: scan([many_files], on_batch, cancel=token, report_interval=0.01, processes=processes))
    assert progress.cancelled and progress.done
    assert progress.files_seen < FILES_IN_TREE / 2, progress
    assert snapshots[-1].done and snapshots[-1].cancelled
    assert len(snapshots) <= 3  # the first report, perhaps one in flight, and the final one


def test_cancel_before_start_reads_nothing(many_files):
    token = CancelToken()
    token.cancel()
    calls = []
    progress = scan([many_files], lambda batch, p: calls.append(batch), cancel=token, processes=False)
    assert progress.cancelled and progress.files_seen == 0
    assert len(calls) == 1 and calls[0].images == []
