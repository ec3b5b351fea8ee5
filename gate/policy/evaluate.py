"""Evaluating a policy for one image: pure, no I/O, one injected instant.

Order: select the first matching rule (or fall back to ``defaultAction``);
a rule with ``action`` decides at once; otherwise the checks run
(signatures, vulnerabilities, scan, sbom, and attestations when the rule
has that section), FAIL or ERROR anywhere denies, WARN warns, anything
else allows; when the only trouble is checks that could not run (ERROR,
no FAIL), the rule's ``onError`` decides instead of the deny. Finally the
mode (the rule's, else the policy's) is applied:
``warn`` turns a deny into a warning, ``audit`` allows everything and
records what would have happened.
"""

from __future__ import annotations

from datetime import UTC, datetime

from gate.policy.attestation_check import (
    attested_sboms,
    attested_scans,
    check_attestations,
    explain,
)
from gate.policy.evidence import ImageEvidence
from gate.policy.model import Mode, Policy, Rule
from gate.policy.sbom_check import check_sbom
from gate.policy.select import required_authorities, select_rule
from gate.policy.signature_check import check_signatures
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome
from gate.policy.vulnerability_check import check_scan, check_vulnerabilities

# select_rule and required_authorities live in gate.policy.select; they are
# re-exported so the three calls of the evaluation API come from one module.
__all__ = [
    "apply_mode",
    "decide",
    "evaluate",
    "on_error_reason",
    "required_authorities",
    "run_checks",
    "select_rule",
]

_VERBS = {Decision.ALLOW: "allows", Decision.WARN: "warns", Decision.DENY: "denies"}


def run_checks(rule: Rule, evidence: ImageEvidence, now: datetime) -> tuple[CheckResult, ...]:
    """Every check of ``rule`` on ``evidence``, in report order; absent sections are SKIP.

    With ``fromAttestation`` the vulnerability, scan and sbom checks see only
    attested documents (``gate.policy.attestation_check``); the
    "attestations" check is only reported for a rule that has such a section.
    """
    digest = str(evidence.digest)
    scan_evidence = sbom_evidence = evidence
    attested_scan = attested_sbom = None
    if rule.scan is not None and rule.scan.from_attestation:
        scan_evidence, attested_scan = attested_scans(rule.scan.from_attestation, evidence)
    if rule.sbom is not None and rule.sbom.from_attestation:
        sbom_evidence, attested_sbom = attested_sboms(rule.sbom.from_attestation, evidence)
    vulnerabilities = check_vulnerabilities(rule.vulnerabilities, scan_evidence, now)
    scan = check_scan(rule.scan, scan_evidence, now)
    sbom = check_sbom(rule.sbom, sbom_evidence)
    if attested_scan is not None:
        ignored = len(evidence.scans)
        vulnerabilities = explain(
            vulnerabilities, attested_scan, noun="scan", ignored=ignored, digest=digest
        )
        scan = explain(scan, attested_scan, noun="scan", ignored=ignored, digest=digest)
    if attested_sbom is not None:
        sbom = explain(sbom, attested_sbom, noun="SBOM", ignored=len(evidence.sboms), digest=digest)
    checks: tuple[CheckResult, ...] = (
        check_signatures(rule.signatures, evidence),
        vulnerabilities,
        scan,
        sbom,
    )
    if rule.attestations is not None:
        checks += (check_attestations(rule.attestations, evidence),)
    return checks


def decide(checks: tuple[CheckResult, ...]) -> Decision:
    """FAIL or ERROR anywhere -> deny; WARN -> warn; otherwise allow."""
    outcomes = {check.outcome for check in checks}
    if outcomes & {Outcome.FAIL, Outcome.ERROR}:
        return Decision.DENY
    if Outcome.WARN in outcomes:
        return Decision.WARN
    return Decision.ALLOW


def evaluate(policy: Policy, evidence: ImageEvidence, now: datetime) -> ImageVerdict:
    """The verdict of ``policy`` for the image described by ``evidence`` at instant ``now``.

    ``evidence.signatures`` must hold a result for every authority that
    ``required_authorities(select_rule(...))`` named; a missing one fails
    closed. Rule selection sees ``evidence.reference`` resolved to
    ``evidence.digest``: a reference by tag is matched by its tag and that
    digest, a reference with its own digest by that digest only (a tag next
    to it is not verified, so it is ignored).
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    reference = evidence.reference
    rule = select_rule(policy, reference, evidence.namespace, digest=evidence.digest)
    checks: tuple[CheckResult, ...] = ()
    if rule is None:
        decision = policy.default_action
        reason = f"no rule matches {reference}; defaultAction is {decision}"
        mode = policy.mode
    elif rule.action is not None:
        decision = rule.action
        reason = f"rule '{rule.name}' {_VERBS[decision]}"
        mode = rule.mode or policy.mode
    else:
        checks = run_checks(rule, evidence, now)
        decision = decide(checks)
        reason = _checks_reason(rule, decision, checks)
        errors = [c for c in checks if c.outcome is Outcome.ERROR]
        failed = any(c.outcome is Outcome.FAIL for c in checks)
        if errors and not failed and rule.on_error is not Decision.DENY:
            # Only what could not run is covered: a check that ran and failed still denies.
            cause = "; ".join(f"{c.check}: {c.reason}" for c in errors)
            decision, reason = rule.on_error, on_error_reason(rule, cause)
        mode = rule.mode or policy.mode
    decision, reason = apply_mode(mode, decision, reason)
    return ImageVerdict(
        reference=str(reference),
        digest=str(evidence.digest),
        decision=decision,
        rule=rule.name if rule is not None else None,
        reason=reason,
        checks=checks,
        mode=mode.value,
        namespace=evidence.namespace,
        notes=evidence.notes if rule is not None and rule.action is None else (),
    )


def on_error_reason(rule: Rule, cause: str) -> str:
    """The reason of a verdict that ``rule``'s ``onError`` decided instead of a deny."""
    return f"could not decide ({cause}); rule '{rule.name}' says onError: {rule.on_error.value}"


def apply_mode(mode: Mode, decision: Decision, reason: str) -> tuple[Decision, str]:
    """Soften ``decision`` by ``mode``: warn turns deny into warn; audit allows everything."""
    if mode is Mode.WARN and decision is Decision.DENY:
        return Decision.WARN, f"warn mode: would deny because {reason}"
    if mode is Mode.AUDIT and decision is not Decision.ALLOW:
        return Decision.ALLOW, f"audit mode: would {decision.value} because {reason}"
    return decision, reason


def _checks_reason(rule: Rule, decision: Decision, checks: tuple[CheckResult, ...]) -> str:
    head = f"rule '{rule.name}' {_VERBS[decision]}"
    if decision is Decision.DENY:
        bad = [c for c in checks if c.outcome in (Outcome.FAIL, Outcome.ERROR)]
        return head + ": " + "; ".join(_check_text(c) for c in bad)
    if decision is Decision.WARN:
        warned = [c for c in checks if c.outcome is Outcome.WARN]
        return head + ": " + "; ".join(_check_text(c) for c in warned)
    passed = [c.check for c in checks if c.outcome is Outcome.PASS]
    skipped = [c.check for c in checks if c.outcome is Outcome.SKIP]
    if not passed:
        return head + ": no check applied (" + ", ".join(skipped) + " skipped)"
    return head + ": " + ", ".join(passed) + " passed"


def _check_text(check: CheckResult) -> str:
    if check.outcome is Outcome.ERROR:
        return f"{check.check} could not be decided: {check.reason}"
    return f"{check.check}: {check.reason}"
