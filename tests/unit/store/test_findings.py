"""Which finding ids a verdict failed for (``gate.store.findings``)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from gate.store.findings import (
    MAX_FINDINGS_PER_VERDICT,
    failed_finding_ids,
    failed_finding_ids_of_json,
)


def _violations(*ids: Any) -> dict[str, Any]:
    return {"violations": [{"id": finding} for finding in ids]}


def test_ids_of_failing_vulnerabilities_checks_in_order_without_repeats() -> None:
    checks = [
        ("signatures", "fail", _violations("NOT-A-FINDING")),
        ("vulnerabilities", "fail", _violations("CVE-2", "CVE-1", "CVE-2")),
        ("vulnerabilities", "fail", MappingProxyType(_violations("GHSA-x", "CVE-1"))),
    ]
    assert failed_finding_ids(checks) == ("CVE-2", "CVE-1", "GHSA-x")


def test_only_a_failure_counts() -> None:
    for outcome in ("pass", "warn", "skip", "error"):
        assert failed_finding_ids([("vulnerabilities", outcome, _violations("CVE-1"))]) == ()


def test_malformed_details_are_skipped() -> None:
    checks: list[tuple[object, object, Any]] = [
        ("vulnerabilities", "fail", None),
        ("vulnerabilities", "fail", ["CVE-1"]),
        ("vulnerabilities", "fail", {"violations": {"id": "CVE-1"}}),
        ("vulnerabilities", "fail", _violations(1, None, "", "x" * 201)),
        ("vulnerabilities", "fail", {"violations": ["CVE-1", None]}),
        (None, None, _violations("CVE-1")),
    ]
    assert failed_finding_ids(checks) == ()
    assert failed_finding_ids([("vulnerabilities", "fail", _violations("x" * 200))]) == ("x" * 200,)


def test_at_most_the_limit_per_verdict() -> None:
    ids = [f"CVE-{i}" for i in range(MAX_FINDINGS_PER_VERDICT + 50)]
    found = failed_finding_ids([("vulnerabilities", "fail", _violations(*ids))])
    assert found == tuple(ids[:MAX_FINDINGS_PER_VERDICT])


def test_stored_json_form() -> None:
    stored = [
        {"check": "vulnerabilities", "outcome": "fail", "reason": "", "details": _violations("A")},
        "not a check",
        {"check": "vulnerabilities"},
    ]
    assert failed_finding_ids_of_json(stored) == ("A",)
    assert failed_finding_ids_of_json({"check": "vulnerabilities"}) == ()
    assert failed_finding_ids_of_json(None) == ()
