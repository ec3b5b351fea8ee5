"""The four report formats render the same verdict facts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from types import MappingProxyType

import pytest

from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome, Verdict
from gate.report import ReportFormat, render

DENIED = ImageVerdict(
    reference="registry.acme.io/prod/app:1.0@sha256:" + "a" * 64,
    digest="sha256:" + "a" * 64,
    decision=Decision.DENY,
    rule="prod",
    reason="denied by rule 'prod': vulnerabilities",
    checks=(
        CheckResult("signatures", Outcome.PASS, "signed by release"),
        CheckResult(
            "vulnerabilities",
            Outcome.FAIL,
            "1 finding breaks the limits",
            MappingProxyType(
                {
                    "violations": (
                        {
                            "id": "CVE-2021-44228",
                            "package": "log4j-core",
                            "version": "2.14.1",
                            "limit": "denyIds",
                        },
                    )
                }
            ),
        ),
        CheckResult("sbom", Outcome.SKIP, "rule has no sbom section"),
    ),
)
WARNED = ImageVerdict(
    reference="registry.acme.io/dev/tool:2",
    digest="sha256:" + "b" * 64,
    decision=Decision.WARN,
    rule=None,
    reason="no rule matches; defaultAction is warn",
)
UNDECIDED = ImageVerdict(
    reference="registry.acme.io/prod/gone:1",
    digest=None,
    decision=Decision.DENY,
    rule=None,
    reason="could not decide, denied: registry unreachable",
    checks=(CheckResult("resolve", Outcome.ERROR, "registry unreachable"),),
)
VERDICT = Verdict.of(
    "production",
    (DENIED, WARNED, UNDECIDED),
    "2026-11-22T10:00:00+00:00",
    ("registry.acme.io/prod/gone:1: registry unreachable",),
)


def test_run_decision_is_the_worst_image_decision() -> None:
    assert VERDICT.decision is Decision.DENY
    assert Verdict.of("p", (WARNED,), "t").decision is Decision.WARN
    assert Verdict.of("p", (), "t").decision is Decision.ALLOW


def test_json_report_has_decision_digest_rule_and_every_check() -> None:
    data = json.loads(render(VERDICT, ReportFormat.JSON))
    assert data["decision"] == "deny"
    assert data["policy"] == "production"
    first = data["images"][0]
    assert first["digest"] == "sha256:" + "a" * 64
    assert first["rule"] == "prod"
    assert [c["check"] for c in first["checks"]] == ["signatures", "vulnerabilities", "sbom"]
    assert first["checks"][1]["details"]["violations"][0]["id"] == "CVE-2021-44228"


def test_text_report_names_decisions_and_reasons() -> None:
    text = render(VERDICT, ReportFormat.TEXT)
    assert "DENY  registry.acme.io/prod/app" in text
    assert "[FAIL] vulnerabilities: 1 finding breaks the limits" in text
    assert "(no rule matched)" in text
    assert text.rstrip().endswith("policy production, UNDECIDED)")


def test_sarif_has_one_result_per_problem_and_per_violation() -> None:
    log = json.loads(render(VERDICT, ReportFormat.SARIF))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    results = run["results"]
    texts = [r["message"]["text"] for r in results]
    assert any("CVE-2021-44228 in log4j-core@2.14.1" in t for t in texts)
    assert all(r["ruleId"] in rule_ids for r in results)
    assert all(rule_ids[r["ruleIndex"]] == r["ruleId"] for r in results)
    levels = {r["ruleId"]: r["level"] for r in results}
    assert levels["gate/vulnerabilities"] == "error"
    assert levels["gate/policy"] == "warning"
    assert levels["gate/resolve"] == "error"
    assert not any(r["ruleId"] == "gate/signatures" for r in results)
    location = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert location == "prod/app:1.0"


def test_junit_maps_fail_error_skip() -> None:
    root = ET.fromstring(render(VERDICT, ReportFormat.JUNIT))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [i.reference for i in VERDICT.images]
    first = suites[0]
    assert first.get("failures") == "2"  # decision + vulnerabilities
    assert first.get("skipped") == "1"
    vuln = first.find("testcase[@name='vulnerabilities']")
    assert vuln is not None
    assert vuln.find("failure") is not None
    assert suites[1].get("failures") == "0"
    assert suites[2].get("errors") == "1"
    assert root.get("tests") == str(sum(int(s.get("tests", "0")) for s in suites))


@pytest.mark.parametrize("fmt", list(ReportFormat))
def test_every_format_renders_an_empty_run(fmt: ReportFormat) -> None:
    assert render(Verdict.of("p", (), "t"), fmt)


def test_undecided_run_is_marked_in_every_format() -> None:
    audit = ImageVerdict(
        reference="r/x:1",
        digest=None,
        decision=Decision.ALLOW,
        rule="r",
        reason="audit mode: would deny",
        checks=(CheckResult("signatures", Outcome.ERROR, "registry down"),),
        mode="audit",
    )
    verdict = Verdict.of("p", (audit,), "t", ("r/x:1: signatures: registry down",))
    assert verdict.decision is Decision.ALLOW
    assert not verdict.decided
    data = json.loads(render(verdict, ReportFormat.JSON))
    assert data["decided"] is False
    assert data["errors"] == ["r/x:1: signatures: registry down"]
    sarif = json.loads(render(verdict, ReportFormat.SARIF))
    assert sarif["runs"][0]["invocations"][0]["executionSuccessful"] is False
    text = render(verdict, ReportFormat.TEXT)
    assert "could not decide: r/x:1: signatures: registry down" in text
    assert "UNDECIDED" in text
    junit = ET.fromstring(render(verdict, ReportFormat.JUNIT))  # noqa: S314 - our own output
    assert junit.get("errors") == "1"
