"""The SARIF 2.1.0 report, for code-scanning UIs (GitHub, GitLab, Azure DevOps).

One SARIF rule per kind of check; one result per check that did not pass,
and one per individual violation a check lists (e.g. each CVE that broke a
limit), located at the image's repository path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gate import __version__
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome, Verdict

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/gate-project/gate"

_RULES: dict[str, str] = {
    "signatures": "The image must be signed by the trust authorities the policy names.",
    "vulnerabilities": "Scan findings must stay within the policy's vulnerability limits.",
    "scan": "A recent enough scan report must exist for the image digest.",
    "sbom": "The SBOM must exist and contain no denied licenses or packages.",
    "policy": "The rule or default action of the policy decides the image.",
    "resolve": "The image reference must resolve to a digest in its registry.",
}


def _rule_id(check: str) -> str:
    return f"gate/{check}"


def _level(image: ImageVerdict, check: CheckResult) -> str:
    if check.outcome is Outcome.WARN:
        return "warning"
    if image.decision is Decision.DENY:
        return "error"
    if image.decision is Decision.WARN:
        return "warning"
    return "note"


def _location(image: ImageVerdict) -> dict[str, Any]:
    name = image.reference.split("@", 1)[0]
    path = name.split("/", 1)[1] if "/" in name else name
    return {
        "physicalLocation": {"artifactLocation": {"uri": path, "uriBaseId": "IMAGE"}},
        "logicalLocations": [{"name": image.reference, "kind": "image"}],
    }


def _violations(check: CheckResult) -> list[Mapping[str, Any]]:
    found = check.details.get("violations") if check.details else None
    if not isinstance(found, list | tuple):
        return []
    return [v for v in found if isinstance(v, Mapping)]


def _violation_text(violation: Mapping[str, Any]) -> str:
    if "message" in violation:
        return str(violation["message"])
    ident = violation.get("id", "finding")
    package = violation.get("package")
    version = violation.get("version")
    where = f" in {package}@{version}" if package and version else ""
    limit = violation.get("limit")
    why = f": {limit}" if limit else ""
    return f"{ident}{where}{why}"


def _results(image: ImageVerdict) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    properties = {"digest": image.digest, "decision": image.decision.value, "rule": image.rule}
    for check in image.checks:
        if check.outcome in (Outcome.PASS, Outcome.SKIP):
            continue
        base = {
            "ruleId": _rule_id(check.check),
            "level": _level(image, check),
            "locations": [_location(image)],
            "properties": {**properties, "outcome": check.outcome.value},
        }
        results.append({**base, "message": {"text": f"{image.reference}: {check.reason}"}})
        for violation in _violations(check):
            text = f"{image.reference}: {_violation_text(violation)}"
            results.append({**base, "message": {"text": text}})
    if not image.checks and image.decision is not Decision.ALLOW:
        results.append(
            {
                "ruleId": _rule_id("policy"),
                "level": "error" if image.decision is Decision.DENY else "warning",
                "message": {"text": f"{image.reference}: {image.reason}"},
                "locations": [_location(image)],
                "properties": properties,
            }
        )
    return results


def render_sarif(verdict: Verdict) -> str:
    """The SARIF log as indented JSON."""
    rules = [
        {
            "id": _rule_id(name),
            "name": name,
            "shortDescription": {"text": text},
            "fullDescription": {"text": text},
            "defaultConfiguration": {"level": "error"},
        }
        for name, text in _RULES.items()
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = [r for image in verdict.images for r in _results(image)]
    for result in results:
        result["ruleIndex"] = index.get(result["ruleId"], 0)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gate",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": rules,
                    }
                },
                "originalUriBaseIds": {"IMAGE": {"description": {"text": "image repository"}}},
                "invocations": [
                    {
                        "executionSuccessful": verdict.decided,
                        "toolExecutionNotifications": [
                            {"level": "error", "message": {"text": error}}
                            for error in verdict.errors
                        ],
                    }
                ],
                "results": results,
                "properties": {
                    "decision": verdict.decision.value,
                    "decided": verdict.decided,
                    "policy": verdict.policy,
                    "evaluatedAt": verdict.evaluated_at,
                },
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
