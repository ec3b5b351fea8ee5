"""Benchmark: ``load_scan_report`` on the 1.5 MB / 711-finding Trivy report vs ``json.loads``.

Budget (scanners brief): turning the report into findings may cost at most
2x a plain ``json.loads`` of the same bytes, i.e. everything after parsing
must cost no more than the parse itself. Prints both medians (perf_counter,
interleaved runs, results kept alive so only the work itself is timed) and
PASS/FAIL against the 2.0x baseline.

Run: ``.venv/bin/python benchmarks/bench_trivy_load.py [REPORT.json] [--runs N]``
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO_ROOT))

from gate.scanners.load import load_scan_report  # noqa: E402
from tests.support.realdata import real_fixtures_path  # noqa: E402

BUDGET = 2.0
DEFAULT_REPORT = ("trivy", "centos-7.trivy-v0.20-era.711-vulns.json")


def _time(func: object, data: bytes) -> float:
    gc.collect()
    start = time.perf_counter()
    result = func(data)  # type: ignore[operator]  # json.loads or the loader closure
    elapsed = time.perf_counter() - start
    del result
    return elapsed


def main() -> int:
    """Run the benchmark and print the figures; exit 1 when over budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=31)
    args = parser.parse_args()
    path: Path = args.report or real_fixtures_path().joinpath(*DEFAULT_REPORT)
    if not path.exists():
        print(f"report not found: {path} (pass a path or set GATE_REAL_FIXTURES)")
        return 2
    data = path.read_bytes()
    source = path.name

    def load(raw: bytes) -> object:
        return load_scan_report(raw, source)

    report = load_scan_report(data, source)
    for _ in range(3):  # warm-up: imports, caches, allocator
        _time(json.loads, data)
        _time(load, data)
    baseline: list[float] = []
    loader: list[float] = []
    for _ in range(args.runs):
        baseline.append(_time(json.loads, data))
        loader.append(_time(load, data))

    base = statistics.median(baseline)
    ours = statistics.median(loader)
    ratio = ours / base
    verdict = "PASS" if ratio <= BUDGET else "FAIL"
    size = f"{len(data) / 1e6:.2f} MB, {len(report.findings)} findings"
    print(f"report:            {path.name} ({size})")
    print(f"json.loads:        {base * 1e3:8.2f} ms  (median of {args.runs}, baseline)")
    print(f"load_scan_report:  {ours * 1e3:8.2f} ms  (median of {args.runs})")
    print(f"ratio:             {ratio:8.2f}x  budget {BUDGET:.1f}x  {verdict}")
    print(f"after-parse cost:  {(ours - base) * 1e3:8.2f} ms  (budget: <= json.loads)")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
