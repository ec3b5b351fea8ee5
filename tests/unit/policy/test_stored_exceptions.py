"""Stored exceptions applied by the vulnerabilities check: expiry, revoke, scope, reporting."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.errors import InputError
from gate.exception_source import StaticExceptions, admissible
from gate.policy.exception_match import expired_exception_ids
from gate.policy.exceptions import (
    ExceptionRecord,
    load_exceptions_file,
    parse_expires,
    parse_new_exception,
)
from gate.policy.model import VulnerabilityPolicy
from gate.policy.verdict import Decision, ImageVerdict, Outcome
from gate.policy.vulnerability_check import check_vulnerabilities
from gate.scanners.finding import Finding, Severity
from tests.unit.policy.support import NOW, evidence, finding, report

POLICY = VulnerabilityPolicy(deny_severity=Severity.CRITICAL)


def record(**fields: object) -> ExceptionRecord:
    """An exception for CVE-1 made a day before ``NOW``, lasting 30 days, with ``fields``."""
    base = ExceptionRecord(
        finding_id="CVE-1",
        purl=None,
        images=(),
        namespaces=(),
        owner="alice",
        ticket="SEC-1",
        reason="not reachable",
        expires=NOW + timedelta(days=29),
        id="EXC1",
        created=NOW - timedelta(days=1),
        created_by="ci",
    )
    return replace(base, **fields)  # type: ignore[arg-type]  # test helper takes any field


def critical(**changes: object) -> Finding:
    base = finding("CVE-1", Severity.CRITICAL, package="openssl", version="3.0.1")
    return replace(base, **changes)  # type: ignore[arg-type]  # test helper takes any field


def run(
    *records: ExceptionRecord,
    findings: tuple[Finding, ...] | None = None,
    now: datetime = NOW,
    reference: str = "registry.acme.io/prod/app:1.0",
    namespace: str | None = "prod",
) -> tuple[Outcome, dict[str, Any], str]:
    base = evidence(
        reference,
        namespace=namespace,
        scans=(report(*(findings if findings is not None else (critical(),))),),
    )
    image = replace(base, exceptions=tuple(r.compile() for r in records))
    result = check_vulnerabilities(POLICY, image, now)
    return result.outcome, dict(result.details), result.reason


def test_without_exception_the_critical_finding_fails() -> None:
    assert run()[0] is Outcome.FAIL


def test_active_exception_excuses_and_is_listed_with_owner_and_ticket() -> None:
    outcome, details, reason = run(record())
    assert outcome is Outcome.PASS
    assert details["exceptionsUsed"] == [
        {
            "id": "EXC1",
            "findingId": "CVE-1",
            "purl": None,
            "owner": "alice",
            "ticket": "SEC-1",
            "expires": (NOW + timedelta(days=29)).isoformat(),
        }
    ]
    (row,) = details["excepted"]
    assert row["exceptionId"] == "EXC1"
    assert row["source"] == "stored"
    assert "EXC1 (alice, SEC-1" in reason


def test_expiry_follows_the_injected_clock() -> None:
    exception = record(expires=NOW + timedelta(hours=1))
    assert run(exception, now=NOW)[0] is Outcome.PASS
    assert run(exception, now=NOW + timedelta(minutes=59))[0] is Outcome.PASS
    outcome, details, reason = run(exception, now=NOW + timedelta(hours=1))
    assert outcome is Outcome.FAIL
    (expired,) = details["expiredExceptions"]
    assert expired["exceptionId"] == "EXC1"
    assert "stored exception EXC1" in reason
    assert "expired" in reason
    assert details["exceptionsUsed"] == []


def test_a_date_means_the_end_of_that_day_utc() -> None:
    end = parse_expires("2026-06-01")
    assert end == datetime(2026, 6, 2, tzinfo=UTC)
    exception = record(expires=end)
    assert run(exception, now=datetime(2026, 6, 1, 23, 59, 59, tzinfo=UTC))[0] is Outcome.PASS
    assert run(exception, now=datetime(2026, 6, 2, tzinfo=UTC))[0] is Outcome.FAIL


def test_revoked_exception_neither_applies_nor_is_reported() -> None:
    outcome, details, _ = run(record(revoked=True, revoked_at=NOW, revoked_by="bob"))
    assert outcome is Outcome.FAIL
    assert details["expiredExceptions"] == []
    assert details["excepted"] == []


def test_finding_id_matches_an_alias_case_insensitively() -> None:
    aliased = critical(id="GHSA-xxxx-yyyy-zzzz", aliases=("CVE-1",))
    assert run(record(finding_id="cve-1"), findings=(aliased,))[0] is Outcome.PASS
    assert run(record(finding_id="CVE-2"), findings=(aliased,))[0] is Outcome.FAIL


@pytest.mark.parametrize(
    ("images", "reference", "applies"),
    [
        (("registry.acme.io/prod/*",), "registry.acme.io/prod/app:1.0", True),
        (("registry.acme.io/prod/*",), "registry.acme.io/prod/team/app:1.0", False),
        (("registry.acme.io/**",), "registry.acme.io/prod/team/app:1.0", True),
        (("registry.acme.io/dev/*",), "registry.acme.io/prod/app:1.0", False),
    ],
)
def test_image_globs_are_anchored(images: tuple[str, ...], reference: str, applies: bool) -> None:
    outcome = run(record(images=images), reference=reference)[0]
    assert (outcome is Outcome.PASS) is applies


def test_namespace_globs() -> None:
    assert run(record(namespaces=("prod*",)), namespace="prod-eu")[0] is Outcome.PASS
    assert run(record(namespaces=("prod*",)), namespace="dev")[0] is Outcome.FAIL
    # No namespace (gate check): an exception limited to namespaces does not apply.
    assert run(record(namespaces=("prod",)), namespace=None)[0] is Outcome.FAIL


def test_purl_without_version_covers_every_version_with_version_only_that() -> None:
    found = critical(purl="pkg:deb/debian/openssl@3.0.1?arch=amd64")
    any_version = record(finding_id=None, purl="pkg:deb/debian/openssl")
    assert run(any_version, findings=(found,))[0] is Outcome.PASS
    assert (
        run(record(finding_id=None, purl="pkg:deb/debian/openssl@3.0.1"), findings=(found,))[0]
        is Outcome.PASS
    )
    assert (
        run(record(finding_id=None, purl="pkg:deb/debian/openssl@3.0.2"), findings=(found,))[0]
        is Outcome.FAIL
    )
    # id and purl: that id in that package only.
    other = critical(purl="pkg:deb/debian/curl@8.0")
    both = record(purl="pkg:deb/debian/openssl")
    assert run(both, findings=(found,))[0] is Outcome.PASS
    assert run(both, findings=(other,))[0] is Outcome.FAIL
    # A finding without a purl is never covered by a purl exception.
    assert run(any_version, findings=(critical(purl=None),))[0] is Outcome.FAIL


def test_harmless_findings_do_not_use_an_exception() -> None:
    low = finding("CVE-1", Severity.LOW)
    outcome, details, _ = run(record(), findings=(low,))
    assert outcome is Outcome.PASS
    assert details["exceptionsUsed"] == []


def test_expired_ids_are_read_back_from_the_verdict() -> None:
    exception = record(expires=NOW - timedelta(days=1))
    base = evidence(scans=(report(critical()),), namespace="prod")
    result = check_vulnerabilities(POLICY, replace(base, exceptions=(exception.compile(),)), NOW)
    verdict = ImageVerdict("r", None, Decision.DENY, "rule", "why", checks=(result,))
    assert expired_exception_ids(verdict) == ("EXC1",)


def test_max_days_refuses_longer_exceptions() -> None:
    body = {
        "findingId": "CVE-1",
        "owner": "alice",
        "ticket": "SEC-1",
        "reason": "r",
        "expires": (NOW + timedelta(days=31)).isoformat(),
    }
    with pytest.raises(InputError, match=r"expires: .* more than 30 days away"):
        parse_new_exception(body, now=NOW, max_days=30)
    assert parse_new_exception(body, now=NOW, max_days=90).finding_id == "CVE-1"
    with pytest.raises(InputError, match="maxDays is 0"):
        parse_new_exception(body, now=NOW, max_days=0)
    # The lifetime is checked again when applied: a policy tightened later wins.
    long_lived = record(expires=NOW + timedelta(days=60))
    assert admissible([long_lived.compile()], 90)
    assert not admissible([long_lived.compile()], 30)
    assert not admissible([record().compile()], 0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"findingId": None, "purl": None}, "findingId: findingId or purl is required"),
        ({"expires": None}, "expires: required"),
        ({"expires": "2026-13-01"}, "expires: not a date"),
        ({"expires": "2026-06-10T00:00:00"}, "expires: time .* has no UTC offset"),
        ({"expires": (NOW - timedelta(seconds=1)).isoformat()}, "expires: .* not in the future"),
        ({"owner": " "}, "owner: required"),
        ({"ticket": None}, "ticket: required"),
        ({"reason": ""}, "reason: required"),
        ({"purl": "openssl"}, "purl: not a package URL"),
        ({"images": ["app"]}, "images: .*names no registry"),
        ({"namespaces": ["Prod"]}, "namespaces: .*can never match"),
        ({"colour": "red"}, "colour: unknown field"),
    ],
)
def test_bad_requests_name_the_field(change: dict[str, object], message: str) -> None:
    body: dict[str, object] = {
        "findingId": "CVE-1",
        "owner": "alice",
        "ticket": "SEC-1",
        "reason": "r",
        "expires": "2026-06-10",
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None or k == "expires"}
    if change.get("expires", "x") is None:
        body.pop("expires")
    with pytest.raises(InputError, match=message):
        parse_new_exception(body, now=NOW)


def test_exceptions_file_for_ci(tmp_path: Path) -> None:
    path = tmp_path / "exceptions.yaml"
    path.write_text(
        "- id: musl\n  findingId: CVE-1\n  owner: alice\n  ticket: SEC-1\n  reason: r\n"
        "  expires: 2026-06-10\n"
        "- purl: pkg:deb/debian/openssl\n  owner: bob\n  ticket: SEC-2\n  reason: r\n"
        "  expires: 2020-01-01\n"
    )
    records = load_exceptions_file(path, now=NOW)
    assert [r.id for r in records] == ["musl", "file-2"]
    source = StaticExceptions(records)
    assert len(source.current()) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("- findingId: CVE-1\n  owner: a\n  ticket: t\n  reason: r\n")
    with pytest.raises(InputError, match=r"bad.yaml: \[0\].expires: required"):
        load_exceptions_file(bad, now=NOW)
