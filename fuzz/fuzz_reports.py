"""Fuzz ``gate.scanners.load.load_scan_report``: every scanner report format, from real seeds.

Property: a ``ScanReport`` or a one-line ``GateError``. Run from the repository root:
``python fuzz/fuzz_reports.py -max_total_time=120`` (see fuzz/README.md).
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, run, seed_files

with atheris.instrument_imports(include=["gate"]):
    from gate.scanners.finding import ScanReport
    from gate.scanners.load import load_scan_report


def test_one_input(data: bytes) -> None:
    """One input: any bytes as a scanner report."""
    result = outcome(lambda: load_scan_report(data, "fuzz-report"))
    if isinstance(result, ScanReport) and not isinstance(result.findings, tuple):
        raise PropertyViolationError(f"findings are not a tuple: {result.findings!r}")


if __name__ == "__main__":
    seeds = [
        path
        for directory in ("trivy", "grype", "clair", "harbor", "sarif", "cyclonedx")
        for path in seed_files(directory, suffixes=(".json", ".xml"))
    ]
    run("reports", test_one_input, seeds)
