"""Fuzz ``gate.policy.loader.load_policy_text`` with the repository's policies as seeds.

Property: a ``Policy`` or a ``PolicyError`` (every problem one line). Key
files are looked up next to ``policies/``, as for the real files. Run:
``python fuzz/fuzz_policy.py -max_total_time=120`` (see fuzz/README.md).
"""

from __future__ import annotations

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import REPO, PropertyViolationError, outcome, run

with atheris.instrument_imports(include=["gate"]):
    from gate.errors import GateError, PolicyError
    from gate.policy.loader import load_policy_text

POLICIES = REPO / "policies"


def test_one_input(data: bytes) -> None:
    """One input: any bytes as a policy file."""
    result = outcome(lambda: load_policy_text(data, POLICIES / "fuzz.yaml"))
    if isinstance(result, GateError) and not isinstance(result, PolicyError):
        raise PropertyViolationError(f"not a PolicyError: {result!r}")


if __name__ == "__main__":
    seeds = [p for p in sorted(POLICIES.glob("*.yaml")) if not p.name.endswith(".tests.yaml")]
    run("policy", test_one_input, seeds)
