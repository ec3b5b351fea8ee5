"""Reports of a policy test run: a table for people, JSON, and JUnit XML for CI.

Every format shows, for a failed case, what was expected, what the policy
decided, and the rule and check reasons that decided it, so the author can
tell a wrong policy from a wrong test without re-running anything.
"""

from __future__ import annotations

import enum
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from gate.policy.verdict import Decision, ImageVerdict, Outcome
from gate.policytest.cases import Expectation
from gate.policytest.run import CaseResult, PolicyTestRun, SuiteResult
from gate.report.json_report import image_to_dict


class PolicyTestFormat(enum.StrEnum):
    """The ``gate policy test --format`` choices."""

    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"


_MARK = {
    Outcome.PASS: "ok  ",
    Outcome.FAIL: "FAIL",
    Outcome.WARN: "warn",
    Outcome.SKIP: "skip",
    Outcome.ERROR: "ERR ",
}


def expected_text(expect: Expectation) -> str:
    """``deny by demo``, ``deny, no rule`` or ``deny`` (rule not compared)."""
    if not expect.compare_rule:
        return expect.decision.value
    return _decision_text(expect.decision, expect.rule)


def got_text(verdict: ImageVerdict) -> str:
    """What the policy decided, in the words of ``expected_text``."""
    return _decision_text(verdict.decision, verdict.rule)


def _decision_text(decision: Decision, rule: str | None) -> str:
    return f"{decision.value} by {rule}" if rule is not None else f"{decision.value}, no rule"


def summary(run: PolicyTestRun) -> str:
    """``policy tests: 14 cases, 13 passed, 1 failed``."""
    return (
        f"policy tests: {run.total} case{'s' if run.total != 1 else ''}, "
        f"{run.passed} passed, {run.failed} failed"
    )


def render_text(run: PolicyTestRun) -> str:
    """One table per test file; each failure followed by the mismatches and the deciding reasons."""
    lines: list[str] = []
    for suite in run.suites:
        lines.extend(_suite_table(suite))
        lines.append("")
    lines.append(summary(run))
    return "\n".join(lines) + "\n"


def _suite_table(suite: SuiteResult) -> list[str]:
    policy = suite.suite.policy
    title = f" ({suite.suite.name})" if suite.suite.name else ""
    lines = [f"{suite.suite.source}{title}: policy '{policy.name}' ({suite.suite.policy_path})"]
    rows = [
        (r.case.name, expected_text(r.case.expect), got_text(r.verdict), _result(r))
        for r in suite.results
    ]
    header = ("CASE", "EXPECTED", "GOT", "RESULT")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(3)]
    lines.append("  " + _row(header, widths))
    for result, row in zip(suite.results, rows, strict=True):
        lines.append("  " + _row(row, widths))
        if not result.passed:
            lines.extend(f"      {line}" for line in failure_lines(result))
    return lines


def _row(cells: tuple[str, str, str, str], widths: list[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells[:3], widths, strict=True)]
    return "  ".join([*padded, cells[3]])


def _result(result: CaseResult) -> str:
    return "PASS" if result.passed else "FAIL"


def failure_lines(result: CaseResult) -> list[str]:
    """The mismatches, then the rule, reason and checks that decided, one line each."""
    verdict = result.verdict
    rule = verdict.rule if verdict.rule is not None else "(no rule matched)"
    lines = list(result.mismatches)
    lines.append(f"case at line {result.case.line}, evaluated at {result.now.isoformat()}")
    lines.append(f"rule:   {rule} (mode {verdict.mode})")
    lines.append(f"reason: {verdict.reason}")
    lines.extend(
        f"[{_MARK[check.outcome]}] {check.check}: {check.reason}" for check in verdict.checks
    )
    return lines


def _expectation_dict(expect: Expectation) -> dict[str, Any]:
    data: dict[str, Any] = {"decision": expect.decision.value}
    if expect.compare_rule:
        data["rule"] = expect.rule
    if expect.checks:
        data["checks"] = {name: outcome.value for name, outcome in expect.checks.items()}
    if expect.reason is not None:
        data["reason"] = expect.reason
    return data


def run_to_dict(run: PolicyTestRun) -> dict[str, Any]:
    """The run as JSON-ready data: totals, then each file with its cases and verdicts."""
    return {
        "passed": run.failed == 0,
        "total": run.total,
        "passedCases": run.passed,
        "failedCases": run.failed,
        "files": [
            {
                "file": str(suite.suite.source),
                "name": suite.suite.name,
                "policy": suite.suite.policy.name,
                "policyFile": str(suite.suite.policy_path),
                "policyDigest": str(suite.suite.policy.digest),
                "cases": [
                    {
                        "name": result.case.name,
                        "line": result.case.line,
                        "passed": result.passed,
                        "now": result.now.isoformat(),
                        "expected": _expectation_dict(result.case.expect),
                        "got": image_to_dict(result.verdict),
                        "mismatches": list(result.mismatches),
                    }
                    for result in suite.results
                ],
            }
            for suite in run.suites
        ],
    }


def render_json(run: PolicyTestRun) -> str:
    """The JSON report."""
    return json.dumps(run_to_dict(run), indent=2) + "\n"


def render_junit(run: PolicyTestRun) -> str:
    """JUnit XML: one test suite per test file, one test case per case, failures marked."""
    root = ET.Element(
        "testsuites",
        name="gate policy test",
        tests=str(run.total),
        failures=str(run.failed),
        errors="0",
        skipped="0",
    )
    for suite in run.suites:
        element = ET.SubElement(
            root,
            "testsuite",
            name=str(suite.suite.source),
            tests=str(len(suite.results)),
            failures=str(suite.failed),
            errors="0",
            skipped="0",
        )
        props = ET.SubElement(element, "properties")
        for name, value in (
            ("policy", suite.suite.policy.name),
            ("policyFile", str(suite.suite.policy_path)),
            ("policyDigest", str(suite.suite.policy.digest)),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        for result in suite.results:
            case = ET.SubElement(
                element,
                "testcase",
                classname=str(suite.suite.source),
                name=result.case.name,
                file=str(suite.suite.source),
                line=str(result.case.line),
            )
            if not result.passed:
                failure = ET.SubElement(
                    case, "failure", message="; ".join(result.mismatches), type="mismatch"
                )
                failure.text = "\n".join(failure_lines(result))
            else:
                ET.SubElement(
                    case, "system-out"
                ).text = f"{got_text(result.verdict)}: {result.verdict.reason}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


RENDERERS: dict[PolicyTestFormat, Callable[[PolicyTestRun], str]] = {
    PolicyTestFormat.TEXT: render_text,
    PolicyTestFormat.JSON: render_json,
    PolicyTestFormat.JUNIT: render_junit,
}


def render(run: PolicyTestRun, report_format: PolicyTestFormat) -> str:
    """Render ``run`` in ``report_format``."""
    return RENDERERS[report_format](run)
