"""Memory of the catalog: bytes per file of 10,000 and 100,000 small files opened.

Each figure is measured in a fresh process (``python -c MEASURE TREE WAY``)
that first opens a tiny folder (so every module the opening needs is
imported and its caches are made), then collects garbage and notes its
resident set size (RSS, /proc/self/statm), then opens the tree and keeps
what it made, collects garbage again and notes RSS again: the growth divided
by the number of files is "RSS per file", what the user's machine gives the
catalog beyond the interpreter and its modules (freed memory that the
allocator keeps counts: it is not given back). A second process does the same
under ``tracemalloc``: the bytes still allocated at the end ("held per
file", what the catalog's objects hold) and the peak while opening.

Ways (the trees of ``_browser_data.py``: 16x16 CT files, 25 attributes each):

* ``viewer``: ``viewer.core.media.sources.open_paths([tree])`` (the scan
  with the catalog, what the window and ``dicom-viewer index`` hold);
* ``pydicom`` (the peer, 10,000 files only: 100,000 would take gigabytes):
  ``[pydicom.dcmread(f, stop_before_pixels=True) for f in files]``, the
  headers a plain pydicom browser would keep;
* ``paths`` (the floor): the list of the files' path strings alone.

Goal (issue #18): at most 1 kB per file for 100,000 files.

Run: ``.venv/bin/python benchmarks/bench_memory.py [--repeats N] [--skip-100k]``
(about a minute; the 100,000-file tree is made once, about 30 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from benchmarks import _browser_data as data

GOAL_BYTES_PER_FILE = 1024

MEASURE = r"""
import gc, json, os, sys, tempfile, time
tree, way, traced = sys.argv[1], sys.argv[2], sys.argv[3] == "1"

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def files_of(root):
    return [os.path.join(top, name) for top, _, names in os.walk(root) for name in sorted(names)]

def open_tree(root):
    if way == "viewer":
        from viewer.core.media.sources import open_paths
        result = open_paths([root])
        return result, sum(len(s.instances) for s in result.series)
    if way == "pydicom":
        import pydicom
        kept = [pydicom.dcmread(f, stop_before_pixels=True) for f in files_of(root)]
        return kept, len(kept)
    kept = files_of(root)
    return kept, len(kept)

# Warm-up: every module and cache the opening needs, on a copy of a few of the tree's files.
first = os.path.join(tree, sorted(os.listdir(tree))[0])
sample = files_of(first)[:20]
with tempfile.TemporaryDirectory() as warm:
    for i, path in enumerate(sample):
        with open(path, "rb") as src, open(os.path.join(warm, f"F{i}"), "wb") as dst:
            dst.write(src.read())
    open_tree(warm)
gc.collect()
if traced:
    import tracemalloc
    tracemalloc.start()
before = rss()
t0 = time.perf_counter()
kept, files = open_tree(tree)
seconds = time.perf_counter() - t0
gc.collect()
out = {"files": files, "rss": rss() - before, "seconds": seconds}
if traced:
    out["held"], out["peak"] = tracemalloc.get_traced_memory()
print(json.dumps(out))
"""


def measure(tree: str, way: str, traced: bool) -> dict:
    env = dict(os.environ, PYTHONPATH=str(data.REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", MEASURE, tree, way, "1" if traced else "0"], capture_output=True, text=True, env=env, cwd=str(data.REPO)
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{way} on {tree}: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(repeats: int = 3, big: bool = True) -> list[dict]:
    """One row per (tree, way): RSS per file (median of `repeats` processes), held and peak per file (one traced process)."""
    trees = [("10,000 small files", str(data.small_tree()), ("viewer", "pydicom", "paths"))]
    if big:
        trees.append(("100,000 small files", str(data.small100k_tree()), ("viewer", "paths")))
    rows = []
    for label, tree, ways in trees:
        for way in ways:
            runs = [measure(tree, way, False) for _ in range(repeats)]
            traced = measure(tree, way, True)
            files = runs[0]["files"]
            rows.append(
                {
                    "tree": label,
                    "way": way,
                    "files": files,
                    "rss_per_file": statistics.median(r["rss"] for r in runs) / files,
                    "rss_runs": [r["rss"] / files for r in runs],
                    "held_per_file": traced["held"] / files,
                    "peak_per_file": traced["peak"] / files,
                    "seconds": statistics.median(r["seconds"] for r in runs),
                }
            )
    return rows


WAYS = {
    "viewer": "viewer `open_paths([tree])` (scan + catalog, kept)",
    "pydicom": "peer: `[pydicom.dcmread(f, stop_before_pixels=True) ...]` kept",
    "paths": "floor: the files' path strings alone (`os.walk`)",
}


def markdown(rows: list[dict]) -> str:
    lines = [
        "| files | what is kept | RSS growth per file (median) | RSS runs (B/file) | held per file (tracemalloc) "
        "| peak while opening, per file | / pydicom (held) | goal (RSS <= 1 kB/file) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    peers = {r["tree"]: r for r in rows if r["way"] == "pydicom"}
    for r in rows:
        peer = peers.get(r["tree"])
        versus = f"{r['held_per_file'] / peer['held_per_file']:.3f}x" if peer and r["way"] != "pydicom" else "-"
        goal = ""
        if r["way"] == "viewer":
            goal = "met" if r["rss_per_file"] <= GOAL_BYTES_PER_FILE else "**missed**"
        lines.append(
            f"| {r['tree']} | {WAYS[r['way']]} | **{r['rss_per_file']:,.0f} B** | {', '.join(f'{v:,.0f}' for v in r['rss_runs'])} "
            f"| {r['held_per_file']:,.0f} B | {r['peak_per_file']:,.0f} B | {versus} | {goal} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="processes per RSS figure (default 3)")
    parser.add_argument("--skip-100k", action="store_true", help="only the 10,000-file tree")
    args = parser.parse_args(argv)
    print(markdown(run(args.repeats, not args.skip_100k)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
