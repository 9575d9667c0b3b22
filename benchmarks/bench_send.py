"""Sending on loopback: C-STORE of 500 CT instances to Orthanc, the viewer against dcmtk's storescu.

The instances are copies of pydicom's CT_small.dcm (128x128 16-bit, Explicit
VR Little Endian, about 39 kB), each with its own Study/Series/SOP Instance
UIDs. Every timed round sends a set of 500 instances Orthanc has not seen
(an instance it already holds costs it less), to one Orthanc started for the
run (tests/net/dicom_servers.py, "StorageCompression": false).

* ours: ``viewer.core.net.send.send(node, local, files)`` in this process,
  from the call to its return (reading each file's head, the association,
  500 C-STOREs, the release); every instance must come back STORED.
* baseline: ``/usr/bin/storescu -nh +sd +r -aec ORTHANC 127.0.0.1 PORT DIR``
  with ``TCP_NODELAY=1`` (see ../shared/REFERENCE-TOOLS.md), process start
  to exit.

One untimed round of each, then ``--repeats`` rounds alternating which goes
first; the figure is the median round's rate, and the ratio ours/storescu.
Orthanc's instance count is checked after every round. Missing Orthanc or
dcmtk: a note instead of figures.

Run: ``.venv/bin/python benchmarks/bench_send.py [--repeats 3] [--count 500]``.
"""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks._common import REPO

STORESCU = "/usr/bin/storescu"
ORTHANC = "/usr/sbin/Orthanc"
GOAL = "ours >= 0.9 x storescu"
DCMTK_ENV = {**os.environ, "TCP_NODELAY": "1"}


def make_set(folder: Path, count: int) -> list[Path]:
    """`count` copies of CT_small.dcm, one study and series of their own, new SOP Instance UIDs."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    original = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    folder.mkdir(parents=True, exist_ok=True)
    study, series = generate_uid(), generate_uid()
    files = []
    for i in range(count):
        ds = copy.deepcopy(original)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.InstanceNumber = i + 1
        path = folder / f"CT{i:04d}.dcm"
        ds.save_as(path)
        files.append(path)
    return files


def run(repeats: int, count: int, log=print) -> dict:
    missing = [p for p in (STORESCU, ORTHANC) if not os.access(p, os.X_OK)]
    if missing:
        return {"skipped": f"not installed: {', '.join(missing)} (apt-get install dcmtk orthanc)"}
    sys.path.insert(0, os.path.join(REPO, "tests", "net"))
    import dicom_servers

    from viewer.core.net.nodes import LocalAE
    from viewer.core.net.send import send

    work = Path(tempfile.mkdtemp(prefix="bench-send-"))
    local = LocalAE("BENCHSEND", dicom_servers.free_port())
    rounds = 2 * (repeats + 1)
    log(f"making {rounds} sets of {count} instances...")
    sets = iter([make_set(work / f"set{n}", count) for n in range(rounds)])
    server = dicom_servers.start_orthanc(work / "orthanc", local)
    expected = 0
    ours_times: list[float] = []
    dcmtk_times: list[float] = []

    def check() -> None:
        held = dicom_servers.orthanc_instance_count(server)
        if held != expected:
            raise RuntimeError(f"Orthanc holds {held} instances, {expected} expected")

    def ours() -> float:
        nonlocal expected
        files = next(sets)
        start = time.perf_counter()
        result = send(server.node(), local, files)
        seconds = time.perf_counter() - start
        if not result.all_stored:
            raise RuntimeError(f"send: {result.summary()}")
        expected += count
        check()
        return seconds

    def storescu() -> float:
        nonlocal expected
        folder = next(sets)[0].parent
        args = [STORESCU, "-nh", "+sd", "+r", "-aet", "BENCHSTORESCU", "-aec", server.ae_title, "127.0.0.1", str(server.port), str(folder)]
        start = time.perf_counter()
        done = subprocess.run(args, env=DCMTK_ENV, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"storescu failed: {done.stderr[-1500:]}")
        expected += count
        check()
        return seconds

    try:
        ours()
        storescu()
        for round_ in range(repeats):
            pair = [(ours_times, ours), (dcmtk_times, storescu)]
            for times, action in pair if round_ % 2 == 0 else reversed(pair):
                times.append(action())
            log(f"  round {round_ + 1}: ours {ours_times[-1]:.2f} s, storescu {dcmtk_times[-1]:.2f} s")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    ours_rate = count / statistics.median(ours_times)
    dcmtk_rate = count / statistics.median(dcmtk_times)
    return {
        "count": count,
        "ours": ours_times,
        "storescu": dcmtk_times,
        "ours_rate": ours_rate,
        "storescu_rate": dcmtk_rate,
        "ratio": ours_rate / dcmtk_rate,
    }


def markdown(results: dict, repeats: int) -> str:
    lines = [f"## Sending on loopback: C-STORE of {results.get('count', 500)} CT instances to Orthanc (images/s)", ""]
    if "skipped" in results:
        return "\n".join([*lines, f"Skipped: {results['skipped']}", ""])
    lines += [
        f"Goal (issue #17): {GOAL}. Median of {repeats} rounds alternating, after one untimed round each; "
        "each round sends 500 instances Orthanc does not hold yet (copies of pydicom's CT_small.dcm, 39 kB, Explicit VR LE).",
        "",
        "| what | rounds (s) | median rate (images/s) | ours / storescu |",
        "|---|---|---|---|",
        f"| viewer `send` (core.net.send, in process) | {', '.join(f'{t:.2f}' for t in results['ours'])} | "
        f"**{results['ours_rate']:.0f}** | **{results['ratio']:.2f}x** |",
        f"| dcmtk `storescu -nh +sd +r` (TCP_NODELAY=1, process start to exit) | "
        f"{', '.join(f'{t:.2f}' for t in results['storescu'])} | {results['storescu_rate']:.0f} | 1.00x |",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--count", type=int, default=500)
    args = parser.parse_args(argv)
    results = run(args.repeats, args.count)
    print(markdown(results, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
