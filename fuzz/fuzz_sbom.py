"""Fuzz ``gate.sbom.load.load_sbom``: CycloneDX JSON/XML and SPDX JSON/tag-value, real seeds.

Property: an ``Sbom`` or a one-line ``GateError``. Run from the repository root:
``python fuzz/fuzz_sbom.py -max_total_time=120`` (see fuzz/README.md).
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, run, seed_files

with atheris.instrument_imports(include=["gate"]):
    from gate.sbom.component import Sbom
    from gate.sbom.load import load_sbom


def test_one_input(data: bytes) -> None:
    """One input: any bytes as an SBOM."""
    result = outcome(lambda: load_sbom(data, "fuzz-sbom"))
    if isinstance(result, Sbom) and not isinstance(result.components, tuple):
        raise PropertyViolationError(f"components are not a tuple: {result.components!r}")


if __name__ == "__main__":
    seeds = seed_files("cyclonedx", suffixes=(".json", ".xml")) + seed_files(
        "spdx", suffixes=(".json", ".spdx")
    )
    run("sbom", test_one_input, seeds)
