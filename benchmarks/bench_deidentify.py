"""De-identify N CT files (copies of pydicom's CT_small.dcm, one series): whole processes, same files, same run.

Ours: ``python -m viewer anonymize IN -o OUT`` (Basic Profile). Peers: gdcm's ``gdcmanon -e`` (PS3.15 E.1
Basic Profile, attributes encrypted into Encrypted Attributes Sequence with a throw-away certificate), and
the pydicom-based ``dicognito`` and pydicom/deid's ``deid identifiers --action all``, each skipped with a
note when missing (install them with ``pip install deid dicognito``: benchmark peers only, not dependencies).
The floor: the same files copied with no de-identification at all, by Python's ``os`` calls as ours writes
(one read, a temporary name, a rename; a process importing nothing) and by ``cp -r``. Ours, gdcmanon and the
floor alternate round by round, each round after an ``os.sync()`` (so no tool pays for the write-back of the
previous one's files). The outputs are deleted only at the end of the run: on ext4 (here mounted with
``discard``) the same bare Python loop creating 5,000 files took 0.1 to 1.2 s of system time, most often
the high end right after 5,000 files were deleted, a cost of the previous round's clean-up, not of the
tool (the outputs take about 1 GB of the temporary folder per round of 5,000 files). Each round prints its
wall, user and system seconds; best and median kept. Reports files/s, ratios and the load average; asserts
nothing.

    .venv/bin/python benchmarks/bench_deidentify.py [--files 5000] [--repeats 3]
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = Path(os.environ.get("DICOM_VIEWER_BENCH_DATA", "/tmp/dicom-viewer-bench"))


def make_files(count: int) -> Path:
    """`count` copies of CT_small.dcm, each its own SOP Instance UID and Instance Number (made once)."""
    import pydicom
    from pydicom.data import get_testdata_file

    folder = DATA / f"deid-ct-{count}"
    if folder.is_dir() and len(list(folder.iterdir())) == count:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for index in range(count):
        uid = f"1.2.826.0.1.3680043.8.498.555.{index + 1}"
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.InstanceNumber = index + 1
        ds.save_as(folder / f"ct{index:05d}.dcm")
    return folder


#: The floor's copy: what ours does for each file with the de-identification left out (folder.OutputFolder.write).
COPY_FLOOR = """
import os, sys
src, out = sys.argv[1], os.path.join(sys.argv[2], "study", "series")
os.makedirs(out)
for number, name in enumerate(sorted(os.listdir(src))):
    fd = os.open(os.path.join(src, name), os.O_RDONLY)
    data = os.read(fd, os.fstat(fd).st_size)
    os.close(fd)
    temporary = os.path.join(out, f".copy-{number}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    os.write(fd, data)
    os.close(fd)
    os.replace(temporary, os.path.join(out, name))
"""


def peers(venv_bin: Path, work: Path) -> dict[str, list[str] | None]:
    """name -> command with {src} and {out}, or None when the tool is missing."""
    commands: dict[str, list[str] | None] = {
        "ours (python -m viewer anonymize)": [sys.executable, "-m", "viewer", "anonymize", "{src}", "-o", "{out}"],
        "ours, one process (--serial)": [sys.executable, "-m", "viewer", "anonymize", "{src}", "-o", "{out}", "--serial"],
    }
    gdcmanon, openssl = shutil.which("gdcmanon"), shutil.which("openssl")
    if gdcmanon and openssl:
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=bench", "-days", "1"]
            + ["-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem")],
            check=True,
            capture_output=True,
        )
        commands["gdcmanon -e"] = [gdcmanon, "-e", "-c", str(work / "cert.pem"), "--continue", "-i", "{src}", "-o", "{out}"]
    else:
        commands["gdcmanon -e"] = None
    python = venv_bin / "python"
    has = lambda module: subprocess.run([str(python), "-c", f"import {module}"], capture_output=True).returncode == 0  # noqa: E731
    commands["dicognito"] = [str(python), "-m", "dicognito", "--quiet", "-o", "{out}", "{src}"] if has("dicognito") else None
    deid = venv_bin / "deid"
    commands["deid (pydicom/deid)"] = (
        [str(deid), "-q", "-o", "{out}", "identifiers", "--input", "{src}", "--action", "all"] if deid.exists() else None
    )
    commands["floor: Python os copy, atomic (no de-identification)"] = [sys.executable, "-S", "-c", COPY_FLOOR, "{src}", "{out}"]
    commands["floor: cp -r"] = ["cp", "-r", "{src}/.", "{out}"]
    return commands


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds for ours and gdcmanon (best kept); the slow peers run once")
    parser.add_argument("--skip-slow", action="store_true", help="leave out the pydicom-based peers (minutes for 5,000 files)")
    args = parser.parse_args(argv)
    src = make_files(args.files)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    results: dict[str, float | None] = {}
    print(f"before: {load()}")
    best: dict[str, float | None] = {}
    rounds_of: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-deid-") as tmp:
        work = Path(tmp)
        commands = peers(Path(sys.executable).parent, work)
        if args.skip_slow:
            commands = {name: command for name, command in commands.items() if name.startswith(("ours", "gdcm", "floor"))}
        # The fast ones alternate round by round (a burst of other work on the shared machine then
        # hits each of them alike); the pydicom-based peers take minutes for 5,000 files: one round each.
        rounds = [[name for name in commands if name.startswith(("ours", "gdcm", "floor"))] for _ in range(args.repeats)]
        rounds.append([name for name in commands if not name.startswith(("ours", "gdcm", "floor"))])
        for number, names in enumerate(rounds):
            for index, name in enumerate(names):
                command = commands[name]
                if command is None:
                    best[name] = None
                    continue
                out = work / f"out-{number}-{index}"
                out.mkdir()
                argv_ = [a.replace("{src}", str(src)).replace("{out}", str(out)) for a in command]
                os.sync()
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                done = subprocess.run(argv_, env=env, capture_output=True, cwd=work)
                seconds = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = f"user {after.ru_utime - before.ru_utime:.2f} s, system {after.ru_stime - before.ru_stime:.2f} s"
                written = sum(1 for p in out.rglob("*") if p.is_file())
                if done.returncode != 0 or written < args.files:
                    print(f"{name}: exit {done.returncode}, {written} files written: {done.stderr.decode(errors='replace')[-300:]}")
                print(f"round {number + 1}: {name}: {seconds:.2f} s ({cpu})")
                best[name] = seconds if best.get(name) is None else min(best[name], seconds)
                rounds_of.setdefault(name, []).append(seconds)
        print(f"after: {load()}")
        for name, seconds in rounds_of.items():
            print(f"{name}: best {min(seconds):.2f} s, median {statistics.median(seconds):.2f} s over {len(seconds)} rounds")
        ours_rounds, gdcm_rounds = rounds_of.get("ours (python -m viewer anonymize)"), rounds_of.get("gdcmanon -e")
        if ours_rounds and gdcm_rounds:
            ratio = statistics.median(gdcm_rounds) / statistics.median(ours_rounds)
            print(f"gdcmanon / ours: best {min(gdcm_rounds) / min(ours_rounds):.2f}x, median {ratio:.2f}x")
        print("deleting the outputs...")  # here, after every round: see the module docstring
    for name, seconds in best.items():
        results[name] = None if seconds is None else args.files / seconds
        if seconds is None:
            print(f"{name}: skipped (not installed)")
    ours = results["ours (python -m viewer anonymize)"]
    print(f"\nDe-identify {args.files} CT files (CT_small.dcm copies), whole processes, {os.cpu_count()} cores:")
    print("| tool | files/s | ours / tool |\n|---|---:|---:|")
    for name, rate in results.items():
        if rate is None:
            print(f"| {name} | skipped | |")
        else:
            print(f"| {name} | {rate:.0f} | {ours / rate:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
