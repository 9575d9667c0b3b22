"""The tag inspector on a 5000-element enhanced multi-frame header.

The issue's target: "The inspector for a 5000-element enhanced multi-frame
header fills in under 200 ms and re-fills on slice change without stalling
the scroll".

Header: pydicom's eCT_Supplemental.dcm (a real enhanced CT, 2 frames), its
Per-frame Functional Groups Sequence item replicated to 720 items (--frames) (each
with its own Image Position and Frame Content), so the header holds over
5000 elements, as a long enhanced CT does. Two such files (two
instances of one series, written to a temporary folder; pixel data kept at
the original 2 frames so files stay small) let a slice change switch files.

Measured:

* fill: ``dataset_rows(header)`` (the worker-thread part) and
  ``TagTreeModel.set_rows`` (the GUI-thread part), each repeated;
* scroll: a MainWindow with the Tags dock shown, ``go_to`` alternating
  between the two files every 30 ms (a scroll), while a 5 ms QTimer pings the
  event loop: the longest ``go_to`` call and the longest gap between pings
  (the GUI thread's worst stall), and how many fills arrived.

Baseline in the same run: ``copy.deepcopy`` of the header (pure-Python work
on the same element tree). Figures are reported, never asserted.

Run: ``.venv/bin/python benchmarks/bench_inspector.py [--frames N]``.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Summary, ensure_offscreen, machine_description


def enhanced_header(frames: int):
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.dataset import Dataset

    ds = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm", download=False))
    template = ds.PerFrameFunctionalGroupsSequence[0]
    items = []
    for i in range(frames):
        item = copy.deepcopy(template)
        if "PlanePositionSequence" in item:
            item.PlanePositionSequence[0].ImagePositionPatient = [0.0, 0.0, float(i)]
        if "FrameContentSequence" in item:
            item.FrameContentSequence[0].InStackPositionNumber = i + 1
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = pydicom.Sequence(items)
    assert isinstance(ds, Dataset)
    return ds


def element_count(rows) -> int:
    from viewer.core.dicom.inspect import iter_rows

    return sum(1 for _depth, row in iter_rows(rows) if not row.tag.startswith("Item"))


def time_ns(fn, repeat: int) -> list[int]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - start)
    return out


def bench_fill(header, repeat: int) -> dict[str, Summary]:
    from viewer.core.dicom.charset import CharsetOverrides
    from viewer.core.dicom.inspect import dataset_rows
    from viewer.ui.documents.tag_inspector import TagTreeModel

    model = TagTreeModel()
    rows = dataset_rows(header, "bench.dcm", CharsetOverrides())
    # pydicom converts raw values on first access: time the first build on a fresh copy too.
    fresh = [copy.deepcopy(header) for _ in range(repeat)]
    first = time_ns(lambda: dataset_rows(fresh.pop(), "bench.dcm", CharsetOverrides()), repeat)
    again = time_ns(lambda: dataset_rows(header, "bench.dcm", CharsetOverrides()), repeat)
    set_rows = time_ns(lambda: model.set_rows(rows), repeat)
    both = time_ns(lambda: model.set_rows(dataset_rows(header, "bench.dcm", CharsetOverrides())), repeat)
    baseline = time_ns(lambda: copy.deepcopy(header), max(3, repeat // 2))
    return {
        "dataset_rows, first call on a copy": Summary.of_ns(first),
        "dataset_rows, again": Summary.of_ns(again),
        "TagTreeModel.set_rows (GUI thread)": Summary.of_ns(set_rows),
        "dataset_rows + set_rows": Summary.of_ns(both),
        "baseline: deepcopy of the header": Summary.of_ns(baseline),
    }


def bench_scroll(header, steps: int) -> dict[str, float]:
    from pydicom.uid import generate_uid
    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from viewer.ui.window.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as folder:
        series_uid = generate_uid()
        for name in ("a.dcm", "b.dcm"):
            ds = copy.deepcopy(header)
            ds.SeriesInstanceUID = series_uid
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
            ds.InstanceNumber = 1 if name == "a.dcm" else 2
            ds.save_as(Path(folder) / name)
        window = MainWindow()
        window.resize(1400, 900)
        window.show()
        fills = []
        window.inspector_filled.connect(lambda: fills.append(time.perf_counter()))
        opened = []
        window.series_opened.connect(lambda: opened.append(True))
        window.open_paths([folder])
        deadline = time.perf_counter() + 30
        while (not opened or len(window.images) < 2) and time.perf_counter() < deadline:
            app.processEvents()
        window.inspector_dock.show()
        window.inspector_dock.raise_()
        files = [i for i, ref in enumerate(window.images)]
        paths = [window.images[i].instance.path for i in files]
        targets = [files[0], next(i for i in files if paths[i] != paths[0])]
        deadline = time.perf_counter() + 10
        while not fills and time.perf_counter() < deadline:
            app.processEvents()

        gaps: list[float] = []
        clock = QElapsedTimer()
        clock.start()
        last = [clock.nsecsElapsed()]

        def ping():
            now = clock.nsecsElapsed()
            gaps.append((now - last[0]) / 1e6)
            last[0] = now

        pinger = QTimer()
        pinger.setInterval(5)
        pinger.timeout.connect(ping)
        pinger.start()
        go_to_ms: list[float] = []
        fills.clear()
        for step in range(steps):
            start = time.perf_counter()
            window.go_to(targets[step % 2])
            go_to_ms.append((time.perf_counter() - start) * 1000)
            until = time.perf_counter() + 0.030  # the next wheel event of a scroll
            while time.perf_counter() < until:
                app.processEvents()
        settle = time.perf_counter() + 2
        while time.perf_counter() < settle and (not fills or time.perf_counter() - fills[-1] < 0.3):
            app.processEvents()
        pinger.stop()
        window.close()
        app.processEvents()
    gaps = gaps[1:]
    return {
        "slice changes": steps,
        "inspector fills delivered": len(fills),
        "go_to p50 ms": float(sorted(go_to_ms)[len(go_to_ms) // 2]),
        "go_to max ms": max(go_to_ms),
        "event-loop gap p95 ms (5 ms ping)": float(sorted(gaps)[int(len(gaps) * 0.95)]) if gaps else float("nan"),
        "event-loop gap max ms": max(gaps) if gaps else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=720, help="per-frame items (default 720: over 5000 elements)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--steps", type=int, default=40, help="slice changes while scrolling")
    args = parser.parse_args(argv)
    ensure_offscreen()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841 - models need one
    from viewer.core.dicom.charset import CharsetOverrides
    from viewer.core.dicom.inspect import dataset_rows

    header = enhanced_header(args.frames)
    count = element_count(dataset_rows(header, "bench.dcm", CharsetOverrides()))
    fill = bench_fill(header, args.repeat)
    scroll = bench_scroll(header, args.steps)

    print(f"# Tag inspector: enhanced CT header, {args.frames} per-frame items, {count} elements\n")
    print("Target: fill under 200 ms; no stall of the scroll while it re-fills.\n")
    print("| step | n | p50 ms | p95 ms | max ms |")
    print("|---|---:|---:|---:|---:|")
    for label, s in fill.items():
        print(f"| {label} | {s.n} | {s.p50:.1f} | {s.p95:.1f} | {s.max:.1f} |")
    print("\n| scrolling between two such files (go_to every 30 ms) | value |")
    print("|---|---:|")
    for label, value in scroll.items():
        print(f"| {label} | {value:.1f} |" if isinstance(value, float) else f"| {label} | {value} |")
    print("\n" + ", ".join(f"{k}: {v}" for k, v in machine_description().items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
