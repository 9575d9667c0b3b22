"""The fuzzer's bounded run, and every crash it found, as part of the suite.

A fixed seed and a fixed number of cases: the same mutated files every run,
about a minute on the project's two-core machine. The long run is a
documented command (tests/robustness/README.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz import Runner, campaign, load_seeds, walk
from make_crashes import CRASHES

CRASH_DIR = Path(__file__).parent / "crashes"

#: Same seed, same cases. ~5,000 cases take about a minute here.
SUITE_SEED = 20240601
SUITE_CASES = 5000


def _report(report) -> str:
    lines = [f"{report.cases} cases, {len(report.failures)} failing, {len(report.distinct())} distinct:"]
    for signature, failure in report.distinct().items():
        lines.append(f"- {signature}\n  {failure.describe()}")
        lines.append("  " + failure.failures[0][1].strip().replace("\n", "\n  ")[-2000:])
    return "\n".join(lines)


def test_bounded_fuzz_run():
    """Every mutated file ends in success or ViewerError, each within 5 s and a 2 GB address space."""
    report = campaign(SUITE_SEED, cases=SUITE_CASES, deadline=5.0, memory_limit=2 << 30)
    assert report.cases == SUITE_CASES
    assert not report.failures, _report(report)


@pytest.fixture(scope="module")
def runner():
    with Runner(deadline=10.0, memory_limit=2 << 30) as r:
        yield r


@pytest.mark.parametrize("name", sorted(CRASHES))
def test_crash_file_now_ends_in_success_or_viewer_error(runner, name):
    """Each minimal crash file, through every reader, in the capped worker process."""
    path = CRASH_DIR / name
    assert path.stat().st_size < 100_000
    outcome = runner.run(path.read_bytes(), dicomdir=name.endswith("DICOMDIR"))
    assert not outcome.failures, "\n".join(f"{call}:\n{text}" for call, text in outcome.failures)


def test_crash_files_match_their_recipes():
    """crashes/ is what make_crashes.py builds (so each file's history is its recipe)."""
    for name, (build, _fix) in CRASHES.items():
        assert (CRASH_DIR / name).read_bytes() == build(), f"{name}: run python -m tests.robustness.make_crashes"


def test_walker_finds_the_structure_it_mutates():
    """The mutator's walker sees meta, dataset, sequence delimiters and fragments of real files."""
    seeds = {s.name: s for s in load_seeds(("CT_small.dcm", "emri_small_jpeg_2k_lossless.dcm", "MR_small_bigendian.dcm"))}
    ct = walk(seeds["CT_small.dcm"].data)
    tags = [e.tag for e in ct.elements]
    assert 0x00020010 in tags and 0x7FE00010 in tags and 0xFFFEE000 in tags  # items of (0010,1002) are entered
    assert 0x00101000 < max(t for t in tags if t < 0x7FE00010)  # and left again
    emri = walk(seeds["emri_small_jpeg_2k_lossless.dcm"].data)
    assert sum(e.fragment for e in emri.elements) == 11  # Basic Offset Table + 10 frames
    big = walk(seeds["MR_small_bigendian.dcm"].data)
    assert not big.little and 0x00280010 in [e.tag for e in big.elements]
