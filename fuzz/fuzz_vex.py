"""Fuzz ``gate.vex.load.load_vex``: OpenVEX and CycloneDX VEX, real seeds.

Property: a ``VexDocument`` or a one-line ``GateError``. Run from the repository root:
``python fuzz/fuzz_vex.py -max_total_time=60`` (see fuzz/README.md).
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import outcome, run, seed_files

with atheris.instrument_imports(include=["gate"]):
    from gate.vex.load import load_vex


def test_one_input(data: bytes) -> None:
    """One input: any bytes as a VEX document."""
    outcome(lambda: load_vex(data, "fuzz-vex"))


if __name__ == "__main__":
    run("vex", test_one_input, seed_files("vex"))
