"""Benchmark: normalising the 3.8 MB Grype and 2.3 MB Clair v4 reports vs ``json.loads``.

Budget (issue 6): parsing plus turning a report into findings may cost at most
2x a plain ``json.loads`` of the same bytes. Both sides are timed like
``timeit`` does (perf_counter around the call and the release of what it
returned, ``gc.collect()`` before each), alternating, so that load from other
processes shifts both sides of a pair alike; the verdict is the median of the
per-run ratios. The adapter alone, on an already parsed document, is printed
as well. Both reports are measured in one run.

Run: ``.venv/bin/python benchmarks/bench_report_load.py [--runs N]``
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
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO_ROOT))

from gate.scanners.clair import parse_clair_v4_report  # noqa: E402
from gate.scanners.finding import ScanReport  # noqa: E402
from gate.scanners.grype import parse_grype_report  # noqa: E402
from tests.support.realdata import real_fixtures_path  # noqa: E402

BUDGET = 2.0
REPORTS: tuple[tuple[tuple[str, ...], Callable[[Any, str], ScanReport]], ...] = (
    (("grype", "defectdojo", "many_vulns-1509.json"), parse_grype_report),
    (("clair", "v4", "quay-v3.4.vulnerability_report.json"), parse_clair_v4_report),
)


def _time(func: Callable[[], object]) -> float:
    """Seconds for ``func()`` including the release of its result (timeit style)."""
    gc.collect()
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def _measure(path: Path, adapter: Callable[[Any, str], ScanReport], runs: int) -> bool:
    data = path.read_bytes()
    source = path.name
    parsed = json.loads(data)
    report = adapter(parsed, source)

    def plain() -> object:
        return json.loads(data)

    def loader() -> object:
        return adapter(json.loads(data), source)

    def adapter_only() -> object:
        return adapter(parsed, source)

    for _ in range(3):  # warm-up: imports, regex caches, allocator
        _time(plain)
        _time(loader)
    baseline: list[float] = []
    loading: list[float] = []
    adapting: list[float] = []
    for _ in range(runs):
        baseline.append(_time(plain))
        loading.append(_time(loader))
        adapting.append(_time(adapter_only))
    median = statistics.median
    ratio = median(o / b for o, b in zip(loading, baseline, strict=True))
    ok = ratio <= BUDGET
    print(f"{path.name} ({len(data) / 1e6:.2f} MB -> {len(report.findings)} findings), {runs} runs")
    print(f"  json.loads:           {median(baseline) * 1e3:8.2f} ms  (baseline)")
    print(f"  json.loads + adapter: {median(loading) * 1e3:8.2f} ms")
    print(
        f"  ratio:                {ratio:8.2f}x  budget {BUDGET:.1f}x  {'PASS' if ok else 'FAIL'}"
    )
    print(f"  adapter alone:        {median(adapting) * 1e3:8.2f} ms  (on the parsed document)")
    return ok


def main() -> int:
    """Run both reports and print the figures; exit 1 when one is over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    results = []
    for parts, adapter in REPORTS:
        path = real_fixtures_path().joinpath(*parts)
        if not path.exists():
            print(f"report not found: {path} (set GATE_REAL_FIXTURES)")
            return 2
        results.append(_measure(path, adapter, args.runs))
    return 0 if all(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
