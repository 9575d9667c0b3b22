"""Write media: 5,000 files to a burnable folder, ``dicom-viewer media`` against dcmtk's ``dcmmkdir``.

Data (made once into ``/tmp/dicom-viewer-bench/media-5000-v1``): 5,000 copies of pydicom's CT_small.dcm
(Explicit VR Little Endian, 39 kB each), 5 patients x 2 studies x 5 series x 100 instances, new UIDs and
positions; once as a plain folder (``sources/``, names like ``ct_01234.dcm``, what a user points at) and once
already laid out with PS3.10 names (``layout/DICOM/P1/ST1/SE1/IM0001``), which is what dcmmkdir needs: it
only writes a DICOMDIR over files that already have media names.

What each side does, timed from process start to exit, the files warm in the page cache for both:

* **ours**: ``python -m viewer media sources -o OUT``: scan the folder (headers), copy each file byte for
  byte under its PS3.10 name, build and write the DICOMDIR; a new OUT each round.
* **dcmtk**: ``cp -r layout OUT`` (the copy ours does, by coreutils) then
  ``dcmmkdir +r +id OUT -Pgp +D OUT/DICOMDIR DICOM`` (read every file, check it against the General
  Purpose CD-R profile, write the DICOMDIR); both times added, and shown apart.

Each round runs both, ours first in odd rounds and dcmtk first in even ones, each after an ``os.sync()`` (so
neither pays for the write-back of the other's files); the outputs are deleted only at the end of the run (on
ext4 mounted with ``discard``, creating 5,000 files right after 10,000 were deleted cost up to a second more of
system time, whichever tool came next: see bench_deidentify.py). The sources and the laid-out copy are read
once first, so both sides start warm.

The ratio is dcmtk's total over ours (above 1: ours is faster), of wall time and of CPU time (user + system of
each process and its threads, from getrusage), the latter less moved by other work on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks._common import REPO, machine_description, python_executable  # noqa: E402

DATA = Path(os.environ.get("DICOM_VIEWER_BENCH_DATA", "/tmp/dicom-viewer-bench")) / "media-5000-v1"
PATIENTS, STUDIES, SERIES, IMAGES = 5, 2, 5, 100


def make_data(count: int) -> Path:
    """The sources and the laid-out copy (once; a marker file says it is complete)."""
    folder = DATA if count == 5000 else DATA.with_name(f"media-{count}-v1")
    if (folder / "complete").exists():
        return folder
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    shutil.rmtree(folder, ignore_errors=True)
    (folder / "sources").mkdir(parents=True)
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    per_series = max(1, count // (PATIENTS * STUDIES * SERIES))
    n = 0
    for p in range(PATIENTS):
        for s in range(STUDIES):
            study_uid = generate_uid()
            for e in range(SERIES):
                series_uid = generate_uid()
                layout = folder / "layout" / "DICOM" / f"P{p + 1}" / f"ST{s + 1}" / f"SE{e + 1}"
                layout.mkdir(parents=True)
                for i in range(per_series):
                    ds = template
                    ds.PatientID, ds.PatientName = f"BENCH{p + 1}", f"Bench^Patient{p + 1}"
                    ds.StudyInstanceUID, ds.StudyID = study_uid, str(s + 1)
                    ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, e + 1
                    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
                    ds.InstanceNumber = i + 1
                    ds.ImagePositionPatient = [0, 0, float(i)]
                    n += 1
                    source = folder / "sources" / f"ct_{n:05d}.dcm"
                    ds.save_as(source, enforce_file_format=True)
                    os.link(source, layout / f"IM{i + 1:04d}")  # the same bytes, a media name
    (folder / "complete").write_text(str(n))
    return folder


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system of the process and its threads) of one command."""
    cpu = _children_cpu()
    start = time.perf_counter()
    run = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {run.stderr.strip()[:500]}")
    return elapsed, _children_cpu() - cpu


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--files", type=int, default=5000, help="5000 (the issue's figure), or fewer on a busy machine")
    args = parser.parse_args(argv)
    dcmmkdir = shutil.which("dcmmkdir")
    if dcmmkdir is None:
        print("dcmmkdir not installed (apt-get install dcmtk): skipped")
        return {}
    data = make_data(args.files)
    files = int((data / "complete").read_text())
    env = dict(os.environ, PYTHONPATH=REPO)
    ours, copy, mkdir = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-media-") as work:
        subprocess.run(
            ["cat", *map(str, (data / "sources").iterdir()), *map(str, (data / "layout").rglob("*"))],
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )  # warm

        def run_ours(out: str) -> None:
            os.sync()
            ours.append(timed([python_executable(), "-m", "viewer", "media", str(data / "sources"), "-o", f"{out}/ours"], env))

        def run_dcmtk(out: str) -> None:
            os.sync()
            copy.append(timed(["cp", "-r", str(data / "layout"), f"{out}/dcmtk"]))
            mkdir.append(timed([dcmmkdir, "+r", "+id", f"{out}/dcmtk", "-Pgp", "+D", f"{out}/dcmtk/DICOMDIR", "DICOM"]))

        for round_number in range(args.repeats):
            out = f"{work}/round{round_number}"
            os.mkdir(out)
            first, second = (run_ours, run_dcmtk) if round_number % 2 == 0 else (run_dcmtk, run_ours)
            first(out)
            second(out)
        print("deleting the outputs...")
    wall = statistics.median(t for t, _ in ours)
    peer = statistics.median(c[0] + m[0] for c, m in zip(copy, mkdir, strict=True))
    ours_cpu = statistics.median(c for _, c in ours)
    peer_cpu = statistics.median(c[1] + m[1] for c, m in zip(copy, mkdir, strict=True))
    result = {
        "files": files,
        "ours_s": wall,
        "dcmtk_copy_s": statistics.median(t for t, _ in copy),
        "dcmmkdir_s": statistics.median(t for t, _ in mkdir),
        "dcmtk_total_s": peer,
        "ratio": peer / wall,
        "ours_cpu_s": ours_cpu,
        "dcmtk_cpu_s": peer_cpu,
        "cpu_ratio": peer_cpu / ours_cpu,
        "rounds": args.repeats,
    }
    print(f"machine: {machine_description()}; load average {os.getloadavg()}")
    print(
        f"write media, {files} files: ours {wall:.2f} s (dicom-viewer media, whole process); dcmtk {peer:.2f} s "
        f"(cp -r {result['dcmtk_copy_s']:.2f} s + dcmmkdir {result['dcmmkdir_s']:.2f} s); "
        f"dcmtk/ours = {result['ratio']:.2f} (median of {args.repeats} rounds)"
    )
    print(f"CPU (user + system, threads included): ours {ours_cpu:.2f} s, dcmtk {peer_cpu:.2f} s; dcmtk/ours = {result['cpu_ratio']:.2f}")
    print(
        f"rounds (wall): ours {[round(t, 2) for t, _ in ours]}, cp {[round(t, 2) for t, _ in copy]}, dcmmkdir {[round(t, 2) for t, _ in mkdir]}"
    )
    return result


if __name__ == "__main__":
    main()
