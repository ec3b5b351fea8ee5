"""Reports of a policy test run: the table, JSON and JUnit XML."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.policytest.render import (
    PolicyTestFormat,
    render,
    render_json,
    render_junit,
    render_text,
    summary,
)
from gate.policytest.run import PolicyTestRun, run_policy_tests
from tests.unit.policytest.support import DIGEST_A, make_policy, write_cases


@pytest.fixture
def run(tmp_path: Path) -> PolicyTestRun:
    """One file, three cases: two pass, one fails on its decision and rule."""
    make_policy(tmp_path)
    write_cases(
        tmp_path,
        f"""\
        - name: unsigned app is denied
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: deny, rule: apps, checks: {{signatures: fail}}}}
        - name: kube-system
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          namespace: kube-system
          expect: {{decision: allow}}
        - name: wrongly expected allow
          image: registry.acme.io/apps/web:1.0
          digest: {DIGEST_A}
          expect: {{decision: allow, rule: null}}
        """,
    )
    return run_policy_tests([tmp_path], clock=lambda: datetime(2030, 1, 1, tzinfo=UTC))


def test_text_table(run: PolicyTestRun, tmp_path: Path) -> None:
    lines = render_text(run).splitlines()
    assert (
        lines[0] == f"{tmp_path / 'policy.tests.yaml'}: policy 'test' ({tmp_path / 'policy.yaml'})"
    )
    assert lines[1].split() == ["CASE", "EXPECTED", "GOT", "RESULT"]
    assert lines[2].strip().startswith("unsigned app is denied  ")
    assert lines[2].split()[-1] == "PASS"
    assert "deny by apps" in lines[2]
    assert lines[3].split()[-1] == "PASS"
    assert "allow" in lines[3]  # rule not compared: the decision alone is shown
    failed = lines[4]
    assert failed.split()[-1] == "FAIL"
    assert "allow, no rule" in failed
    assert "deny by apps" in failed
    details = lines[5:13]
    assert details[0] == "      decision: expected allow, got deny"
    assert details[1] == "      rule: expected no rule (defaultAction), got 'apps'"
    assert details[2] == "      case at line 15, evaluated at 2026-06-01T12:00:00+00:00"
    assert details[3] == "      rule:   apps (mode enforce)"
    assert details[4].startswith("      reason: rule 'apps' denies: signatures: no signature")
    assert details[5].startswith("      [FAIL] signatures: no signature from release")
    assert lines[-1] == "policy tests: 3 cases, 2 passed, 1 failed"
    # The columns line up.
    header = lines[1]
    assert failed.index("FAIL") == header.index("RESULT")


def test_summary_wording(run: PolicyTestRun) -> None:
    assert summary(run) == "policy tests: 3 cases, 2 passed, 1 failed"
    assert summary(PolicyTestRun(())) == "policy tests: 0 cases, 0 passed, 0 failed"


def test_json_report(run: PolicyTestRun, tmp_path: Path) -> None:
    data = json.loads(render_json(run))
    assert (data["passed"], data["total"], data["passedCases"], data["failedCases"]) == (
        False,
        3,
        2,
        1,
    )
    (file,) = data["files"]
    assert file["file"] == str(tmp_path / "policy.tests.yaml")
    assert file["policy"] == "test"
    assert file["policyFile"] == str(tmp_path / "policy.yaml")
    assert file["policyDigest"].startswith("sha256:")
    first, second, third = file["cases"]
    assert first["expected"] == {
        "decision": "deny",
        "rule": "apps",
        "checks": {"signatures": "fail"},
    }
    assert first["passed"] is True
    assert first["line"] == 6
    assert first["now"] == "2026-06-01T12:00:00+00:00"
    assert first["got"]["decision"] == "deny"
    assert first["got"]["rule"] == "apps"
    assert first["got"]["checks"][0]["check"] == "signatures"
    assert second["expected"] == {"decision": "allow"}
    assert third["expected"] == {"decision": "allow", "rule": None}
    assert third["passed"] is False
    assert third["mismatches"] == [
        "decision: expected allow, got deny",
        "rule: expected no rule (defaultAction), got 'apps'",
    ]


def test_junit_report(run: PolicyTestRun, tmp_path: Path) -> None:
    root = ET.fromstring(render_junit(run))  # noqa: S314 - our own output
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "0")
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == str(tmp_path / "policy.tests.yaml")
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["policy"] == "test"
    assert props["policyFile"] == str(tmp_path / "policy.yaml")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [
        "unsigned app is denied",
        "kube-system",
        "wrongly expected allow",
    ]
    assert [c.get("line") for c in cases] == ["6", "10", "15"]
    assert [c.find("failure") is not None for c in cases] == [False, False, True]
    failure = cases[2].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "decision: expected allow, got deny; rule: expected no rule (defaultAction), got 'apps'"
    )
    assert failure.text is not None
    assert "[FAIL] signatures: no signature from release" in failure.text
    out = cases[0].find("system-out")
    assert out is not None
    assert out.text is not None
    assert out.text.startswith("deny by apps: rule 'apps' denies")


def test_render_dispatches_on_the_format(run: PolicyTestRun) -> None:
    assert render(run, PolicyTestFormat.TEXT) == render_text(run)
    assert render(run, PolicyTestFormat.JSON) == render_json(run)
    assert render(run, PolicyTestFormat.JUNIT) == render_junit(run)
