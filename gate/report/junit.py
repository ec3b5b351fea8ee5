"""The JUnit XML report: one test suite per image, one test case per check.

CI systems render JUnit natively. A check that made the image be denied is a
``<failure>``; one that could not be decided is an ``<error>``; a check that
failed under warn/audit mode passes with the warning in ``<system-out>``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome, Verdict


def _case(suite: ET.Element, image: ImageVerdict, check: CheckResult) -> tuple[int, int, int]:
    case = ET.SubElement(suite, "testcase", classname=image.reference, name=check.check)
    failures = errors = skipped = 0
    if check.outcome is Outcome.SKIP:
        ET.SubElement(case, "skipped", message=check.reason)
        skipped = 1
    elif check.outcome is Outcome.ERROR:
        ET.SubElement(
            case, "error", message=check.reason, type="could-not-decide"
        ).text = check.reason
        errors = 1
    elif check.outcome is Outcome.FAIL and image.decision is Decision.DENY:
        ET.SubElement(case, "failure", message=check.reason, type=check.check).text = check.reason
        failures = 1
    elif check.outcome in (Outcome.FAIL, Outcome.WARN):
        ET.SubElement(case, "system-out").text = f"warning: {check.reason}"
    return failures, errors, skipped


def render_junit(verdict: Verdict) -> str:
    """The JUnit XML document."""
    root = ET.Element("testsuites", name="gate")
    totals = [0, 0, 0, 0]
    for image in verdict.images:
        suite = ET.SubElement(root, "testsuite", name=image.reference)
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("digest", image.digest or ""),
            ("decision", image.decision.value),
            ("rule", image.rule or ""),
            ("mode", image.mode),
        ):
            ET.SubElement(props, "property", name=name, value=value)
        counts = [0, 0, 0, 0]
        decision_case = ET.SubElement(suite, "testcase", classname=image.reference, name="decision")
        counts[0] += 1
        if image.decision is Decision.DENY:
            ET.SubElement(
                decision_case, "failure", message=image.reason, type="deny"
            ).text = image.reason
            counts[1] += 1
        else:
            ET.SubElement(
                decision_case, "system-out"
            ).text = f"{image.decision.value}: {image.reason}"
        for check in image.checks:
            failures, errors, skipped = _case(suite, image, check)
            counts[0] += 1
            counts[1] += failures
            counts[2] += errors
            counts[3] += skipped
        for key, count in zip(("tests", "failures", "errors", "skipped"), counts, strict=True):
            suite.set(key, str(count))
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
    for key, total in zip(("tests", "failures", "errors", "skipped"), totals, strict=True):
        root.set(key, str(total))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
