"""A 2,000-item X-Ray Radiation Dose SR shown in the report view (issue #16: within 200 ms).

Report: about 2,000 content items written with pydicom (tests/core/sr_reports.py ``dose_report``:
a CT Acquisition container per irradiation event holding a protocol text, a target region code and
two doses in mGy and mGy.cm; an observer name in UTF-8), Explicit VR Little Endian, sequences of
undefined length as pydicom writes them.

Measured, each step from the file on disk (in the page cache):

1. **read_report**: ``viewer.core.documents.sr.read_report`` (the header by pydicom, the content
   tree walked, every value decoded: the document model);
2. **report_html**: the model as the view's HTML;
3. **shown**: a click's whole path in the window: read, HTML, ``QTextBrowser.setHtml`` of the
   first 150 items (more than a screen) and the view painted once (``grab``), offscreen; and
   **complete**: the same, then the event loop's next turn adding the other items, painted again;
4. **baseline, pydicom**: ``pydicom.dcmread`` of the file, and ``dcmread`` then every element of
   every nested item touched (``Dataset.walk``: what reading the whole tree with pydicom costs).

Run: ``.venv/bin/python benchmarks/bench_report.py [--steps 15]``. The machine is shared: p50 and
p95 are given; compare ratios to the baseline of the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "core"))
from benchmarks._common import Summary, ensure_offscreen, load_average, timed

GOAL_MS = 200.0
ITEMS = 2000


@dataclass(frozen=True)
class Row:
    what: str
    summary: Summary


def run(steps: int = 15, log=None) -> list[Row]:
    import pydicom
    from sr_reports import dose_report

    from viewer.core.documents.sr import read_report

    ensure_offscreen()
    from PySide6.QtWidgets import QApplication

    from viewer.ui.documents.report_view import ReportView, report_html

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        path = dose_report(Path(folder) / "dose.dcm", ITEMS)
        items = sum(1 for _ in read_report(path).items())
        if log:
            log(f"report: {items} content items, {path.stat().st_size:,} bytes")
        view = ReportView()
        view.resize(600, 900)
        view.show()
        app.processEvents()
        report = read_report(path)

        def shown() -> None:
            view.show_report(read_report(path))
            view.grab()  # painted once: what the user sees

        def complete() -> None:
            shown()
            while not view.complete:
                app.processEvents()
            view.grab()

        def pydicom_walk() -> None:
            pydicom.dcmread(path).walk(lambda ds, elem: None)

        rows = [
            Row(f"read_report ({items} items)", timed(lambda _k: read_report(path), steps, collect=True)),
            Row("report_html", timed(lambda _k: report_html(report), steps, collect=True)),
            Row("**shown**: read, HTML, setHtml, painted", timed(lambda _k: shown(), steps, collect=True)),
            Row("complete: every item in the document, painted", timed(lambda _k: complete(), steps, collect=True)),
            Row("baseline: pydicom dcmread", timed(lambda _k: pydicom.dcmread(path), steps, collect=True)),
            Row("baseline: pydicom dcmread + walk of every element", timed(lambda _k: pydicom_walk(), steps, collect=True)),
        ]
        view.close()
        view.deleteLater()
        app.processEvents()
    return rows


def markdown(rows: list[Row]) -> str:
    lines = [
        f"## Structured Report view, {ITEMS:,}-item dose report (ms)",
        "",
        f"Target (issue #16): a 2,000-item dose or CAD report shown within {GOAL_MS:.0f} ms.",
        "",
        f"Load average at the end of the run (1, 5, 15 min): {load_average()}.",
        "",
        "| step | n | p50 | p95 | max | p50 / walk baseline p50 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    # The ratios' base: pydicom reading the file and touching every element (what the whole tree costs plainly).
    walk = next((row.summary for row in rows if "walk" in row.what), None)
    for row in rows:
        s = row.summary
        ratio = f"{s.p50 / walk.p50:.2f}x" if walk else "-"
        lines.append(f"| {row.what} | {s.n} | {s.p50:.1f} | {s.p95:.1f} | {s.max:.1f} | {ratio} |")
    return "\n".join(lines) + "\n"


NOTES = """\
Report view: the content tree is walked over the file's bytes (viewer.core.documents.sr), not through
pydicom's datasets: pydicom converting 6,000 nested items element by element costs several times more
(the walk baseline).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=15, help="timed steps per row (default 15)")
    args = parser.parse_args(argv)
    print(markdown(run(args.steps, log=lambda text: print(text, file=sys.stderr))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
