"""Benchmark: ``load_scan_report`` on the 1.5 MB / 711-finding Trivy report vs ``json.loads``.

Budget (scanners brief): turning the report into findings may cost at most
2x a plain ``json.loads`` of the same bytes, i.e. everything after parsing
must cost no more than the parse itself. Each run times ``json.loads`` and
then ``load_scan_report`` back to back, like ``timeit`` does: perf_counter
around the call *and* the release of what it returned, with a
``gc.collect()`` before each. Releasing is counted on both sides because
``load_scan_report`` cannot avoid releasing the document it parsed, so the
only fair baseline is a ``json.loads`` that releases its document too. The
verdict is the median over the runs of the per-run ratio, so that a burst of
load from other processes shifts both sides of a pair alike. The second line
of figures gives the stricter reading (``json.loads`` result kept alive, its
release not counted) and the adapter alone on an already parsed document.

Run: ``.venv/bin/python benchmarks/bench_trivy_load.py [REPORT.json] [--runs N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO_ROOT))

from gate.scanners.load import load_scan_report  # noqa: E402
from gate.scanners.trivy import parse_trivy_report  # noqa: E402
from tests.support.realdata import real_fixtures_path  # noqa: E402

BUDGET = 2.0
DEFAULT_REPORT = ("trivy", "centos-7.trivy-v0.20-era.711-vulns.json")


def _time(func: Callable[[], object]) -> float:
    """Seconds for ``func()`` including the release of its result (timeit style)."""
    gc.collect()
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _time_kept(func: Callable[[], object]) -> float:
    """Seconds for ``func()`` with its result released only after the clock stops."""
    gc.collect()
    start = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main() -> int:
    """Run the benchmark and print the figures; exit 1 when over budget."""
    parser = argparse.ArgumentParser(description="load_scan_report vs json.loads")
    parser.add_argument("report", nargs="?", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    path: Path = args.report or real_fixtures_path().joinpath(*DEFAULT_REPORT)
    if not path.exists():
        print(f"report not found: {path} (pass a path or set GATE_REAL_FIXTURES)")
        return 2
    data = path.read_bytes()
    source = path.name
    parsed = json.loads(data)
    report = load_scan_report(data, source)

    def plain() -> object:
        return json.loads(data)

    def loader() -> object:
        return load_scan_report(data, source)

    def adapter_only() -> object:
        return parse_trivy_report(parsed, source)

    for _ in range(3):  # warm-up: imports, caches, allocator
        _time(plain)
        _time(loader)
    baseline: list[float] = []
    loading: list[float] = []
    kept: list[float] = []
    adapting: list[float] = []
    for _ in range(args.runs):
        baseline.append(_time(plain))
        loading.append(_time(loader))
        kept.append(_time_kept(plain))
        adapting.append(_time_kept(adapter_only))

    median = statistics.median
    base, ours = median(baseline), median(loading)
    ratio = median(o / b for o, b in zip(loading, baseline, strict=True))
    strict = median(o / k for o, k in zip(loading, kept, strict=True))
    verdict = "PASS" if ratio <= BUDGET else "FAIL"
    size = f"{len(data) / 1e6:.2f} MB, {len(report.findings)} findings"
    print(f"report:            {path.name} ({size}), medians of {args.runs} runs")
    print(f"json.loads:        {base * 1e3:8.2f} ms  (baseline, incl. releasing the document)")
    print(f"load_scan_report:  {ours * 1e3:8.2f} ms  (incl. releasing the report)")
    print(f"ratio:             {ratio:8.2f}x  budget {BUDGET:.1f}x  {verdict}")
    print(
        f"stricter reading:  {strict:8.2f}x  against json.loads with its document kept"
        f" ({median(kept) * 1e3:.2f} ms); the adapter alone takes {median(adapting) * 1e3:.2f} ms"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
