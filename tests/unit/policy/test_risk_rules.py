"""Risk-based vulnerability rules: grace periods, KEV, EPSS, unfixable severity; and their files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from gate.errors import InputError
from gate.policy.loader import load_policy
from gate.policy.model import VulnerabilityPolicy
from gate.policy.risk_data import load_epss_scores, load_kev_catalog
from gate.policy.verdict import CheckResult, Outcome
from gate.policy.vulnerability_check import check_vulnerabilities
from gate.scanners.finding import Finding, Severity
from tests.unit.policy.support import (
    NOW,
    error_lines,
    evidence,
    finding,
    policy_text,
    report,
    write_policy,
)

CRIT = finding("CVE-2026-1000", Severity.CRITICAL, cvss=9.8, fixed=("3.0.2",))
HIGH_UNFIXED = finding("CVE-2026-2000", Severity.HIGH, package="zlib", version="1.2")
CRIT_UNFIXED = finding("CVE-2026-3000", Severity.CRITICAL, package="curl", version="8.0")
LOW = finding("CVE-2021-44228", Severity.LOW, package="log4j-core", version="2.14.1")


def _check(policy: VulnerabilityPolicy, *findings: Finding) -> CheckResult:
    return check_vulnerabilities(policy, evidence("a.io/app:1", scans=(report(*findings),)), NOW)


def _graced(days: int) -> VulnerabilityPolicy:
    return VulnerabilityPolicy(
        deny_severity=Severity.HIGH, grace_days=MappingProxyType({Severity.CRITICAL: days})
    )


def test_a_fix_younger_than_the_grace_period_does_not_deny_yet() -> None:
    fresh = replace(CRIT, fix_published=NOW - timedelta(days=2))
    result = _check(_graced(7), fresh)
    assert result.outcome is Outcome.PASS, result.reason
    assert "1 within their grace period" in result.reason
    assert "5 of 7 grace days left" in result.reason
    assert result.details["inGracePeriod"]


def test_a_fix_older_than_the_grace_period_denies() -> None:
    old = replace(CRIT, fix_published=NOW - timedelta(days=8))
    assert _check(_graced(7), old).outcome is Outcome.FAIL


def test_a_missing_fix_date_is_strict_and_said() -> None:
    result = _check(_graced(7), CRIT)
    assert result.outcome is Outcome.FAIL
    assert "does not say when its fix appeared" in result.reason
    assert "taken as over (strict)" in result.reason


def test_grace_never_holds_back_kev_or_deny_ids() -> None:
    policy = replace(_graced(7), deny_kev=True)
    fresh_kev = replace(CRIT, fix_published=NOW - timedelta(days=1), kev=True)
    result = _check(policy, fresh_kev)
    assert result.outcome is Outcome.FAIL
    assert "known exploited (KEV, per the report)" in result.reason


def test_kev_from_the_catalog_denies_whatever_the_severity() -> None:
    policy = VulnerabilityPolicy(
        deny_kev=True, kev_ids=frozenset({"cve-2021-44228"}), kev_source="kev.json"
    )
    result = _check(policy, LOW, HIGH_UNFIXED)
    assert [v["id"] for v in result.details["violations"]] == ["CVE-2021-44228"]
    assert "KEV, in kev.json" in result.reason


def test_epss_from_the_report_then_from_the_file() -> None:
    policy = VulnerabilityPolicy(
        min_epss=0.5,
        epss_scores=MappingProxyType({"cve-2026-2000": 0.7, "cve-2021-44228": 0.1}),
        epss_source="epss.csv",
    )
    reported = replace(LOW, epss=0.93)
    result = _check(policy, reported, HIGH_UNFIXED)
    ids = [v["id"] for v in result.details["violations"]]
    assert ids == ["CVE-2026-2000", "CVE-2021-44228"]
    rows = {v["id"]: v["limits"] for v in result.details["violations"]}
    assert rows["CVE-2021-44228"] == ["EPSS 0.930 >= minEpss 0.5 (report)"]
    assert rows["CVE-2026-2000"] == ["EPSS 0.700 >= minEpss 0.5 (epss.csv)"]


def test_unfixable_severity_with_fixable_only() -> None:
    policy = VulnerabilityPolicy(
        deny_severity=Severity.HIGH, fixable_only=True, unfixable_severity=Severity.CRITICAL
    )
    result = _check(policy, HIGH_UNFIXED, CRIT_UNFIXED)
    assert [v["id"] for v in result.details["violations"]] == ["CVE-2026-3000"]
    assert "no fix and severity CRITICAL >= unfixableSeverity CRITICAL" in result.reason


# -- policy fields and files ---------------------------------------------------------------


def _vulns(tmp_path: Path, block: str) -> Path:
    text = policy_text(
        f"rules:\n  - name: all\n    match: {{images: ['**']}}\n    vulnerabilities: {block}\n"
    )
    return write_policy(tmp_path, text)


def test_risk_fields_load(tmp_path: Path) -> None:
    (tmp_path / "kev.json").write_text(
        json.dumps({"vulnerabilities": [{"cveID": "CVE-2021-44228"}, {"cveID": "CVE-2023-4863"}]})
    )
    (tmp_path / "epss.csv").write_text(
        "#model_version:v2025.03.14,score_date:2026-11-21T12:55:00Z\n"
        "cve,epss,percentile\nCVE-2021-44228,0.94358,0.99957\n"
    )
    block = (
        "{denySeverity: HIGH, fixableOnly: true, unfixableSeverity: critical, "
        "graceDays: {CRITICAL: 7, high: 30}, kev: deny, kevCatalog: kev.json, "
        "minEpss: 0.5, epssFile: epss.csv}"
    )
    policy = load_policy(_vulns(tmp_path, block))
    vulns = policy.rules[0].vulnerabilities
    assert vulns is not None
    assert vulns.grace_days == {Severity.CRITICAL: 7, Severity.HIGH: 30}
    assert vulns.unfixable_severity is Severity.CRITICAL
    assert vulns.kev_ids == {"cve-2021-44228", "cve-2023-4863"}
    assert vulns.epss_scores == {"cve-2021-44228": 0.94358}


@pytest.mark.parametrize(
    ("block", "files", "expected"),
    [
        ("{graceDays: {URGENT: 3}}", {}, "graceDays"),
        ("{graceDays: {HIGH: -1}}", {}, "graceDays"),
        ("{kevCatalog: kev.json}", {"kev.json": '{"vulnerabilities": []}'}, "needs kev: deny"),
        (
            "{kev: deny, kevCatalog: kev.json}",
            {"kev.json": '{"nope": 1}'},
            "vulnerabilities: missing",
        ),
        (
            "{kev: deny, kevCatalog: kev.json}",
            {"kev.json": '{"vulnerabilities": [{"cveID": "44228"}]}'},
            "vulnerabilities[0].cveID: not a CVE id",
        ),
        ("{minEpss: 1.5}", {}, "minEpss"),
        (
            "{minEpss: 0.5, epssFile: e.csv}",
            {"e.csv": "cve,epss\nCVE-2021-1234,abc\n"},
            "not a number",
        ),
        ("{epssFile: e.csv}", {"e.csv": "cve,epss\n"}, "EPSS scores need minEpss"),
        ("{unfixableSeverity: HIGH}", {}, "only means something with fixableOnly"),
        ("{kev: maybe}", {}, "kev"),
    ],
)
def test_risk_mistakes_name_the_field(
    tmp_path: Path, block: str, files: dict[str, str], expected: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    lines = error_lines(_vulns(tmp_path, block))
    assert any(expected in line for line in lines), lines


def test_kev_csv_and_missing_files(tmp_path: Path) -> None:
    csv_file = tmp_path / "kev.csv"
    csv_file.write_text("cveID,vendorProject\nCVE-2023-4863,Google\n")
    assert load_kev_catalog(csv_file) == {"cve-2023-4863"}
    with pytest.raises(InputError, match="cannot read"):
        load_kev_catalog(tmp_path / "missing.json")
    with pytest.raises(InputError, match="not an EPSS CSV"):
        load_epss_scores(csv_file)
