"""Evaluating whole policies: rule choice, actions, checks, modes, and the verdict sentence."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from gate.oci.digest import Digest
from gate.policy.evaluate import apply_mode, evaluate
from gate.policy.model import Mode, Policy
from gate.policy.verdict import Decision, Outcome
from gate.scanners.finding import Severity
from gate.signatures.keys import PublicKey
from tests.unit.policy.support import (
    DIGEST,
    NOW,
    evidence,
    finding,
    load_spec,
    report,
    result,
    signature,
)

SPEC = """\
mode: {mode}
defaultAction: {default}
trust:
  release: {{cosign: {{publicKeys: [keys/release.pub]}}}}
  alice: {{cosign: {{publicKeys: [keys/alice.pub]}}}}
  bob: {{cosign: {{publicKeys: [keys/bob.pub]}}}}
rules:
  - name: system
    match: {{namespaces: ["kube-system"]}}
    action: allow
  - name: quarantine
    match: {{images: ["registry.acme.io/quarantine/**"]}}
    action: deny
  - name: audited
    match: {{images: ["registry.acme.io/experiments/**"]}}
    mode: audit
    signatures: {{anyOf: [release]}}
  - name: prod
    match: {{images: ["registry.acme.io/prod/**"]}}
    signatures: {{anyOf: [release]}}
    vulnerabilities:
      denySeverity: HIGH
      fixableOnly: true
      requireScan: true
      maxScanAge: 7d
  - name: pair
    match: {{images: ["registry.acme.io/pair/**"]}}
    signatures:
      threshold: {{count: 2, of: [alice, bob]}}
"""


def _policy(directory: Path, mode: str = "enforce", default: str = "deny") -> Policy:
    return load_spec(directory, SPEC.format(mode=mode, default=default))


@pytest.fixture(scope="module")
def policy(key_dir: Path) -> Policy:
    return _policy(key_dir)


def test_default_action(policy: Policy) -> None:
    verdict = evaluate(policy, evidence("quay.io/other/app:1"), NOW)
    assert verdict.decision is Decision.DENY
    assert verdict.rule is None
    assert verdict.reason == "no rule matches quay.io/other/app:1; defaultAction is deny"
    assert verdict.checks == ()
    assert verdict.reference == "quay.io/other/app:1"
    assert verdict.digest == str(DIGEST)
    assert verdict.mode == "enforce"


@pytest.mark.parametrize("default", ["allow", "warn"])
def test_other_default_actions(key_dir: Path, default: str) -> None:
    verdict = evaluate(_policy(key_dir, default=default), evidence("quay.io/x:1"), NOW)
    assert verdict.decision is Decision(default)
    assert verdict.reason == f"no rule matches quay.io/x:1; defaultAction is {default}"


def test_action_rules(policy: Policy) -> None:
    allowed = evaluate(policy, evidence("quay.io/x:1", namespace="kube-system"), NOW)
    assert (allowed.decision, allowed.rule, allowed.reason) == (
        Decision.ALLOW,
        "system",
        "rule 'system' allows",
    )
    assert allowed.namespace == "kube-system"
    denied = evaluate(policy, evidence("registry.acme.io/quarantine/x:1"), NOW)
    assert (denied.decision, denied.reason) == (Decision.DENY, "rule 'quarantine' denies")


def test_namespace_rule_needs_a_namespace(policy: Policy) -> None:
    verdict = evaluate(policy, evidence("quay.io/x:1"), NOW)
    assert verdict.rule is None


def test_all_checks_pass(policy: Policy, keys: dict[str, PublicKey]) -> None:
    ev = evidence(
        signatures=(result("release", signature("release", keys["release"])),),
        scans=(report(finding("CVE-1", Severity.HIGH)),),  # not fixable: fixableOnly
    )
    verdict = evaluate(policy, ev, NOW)
    assert verdict.decision is Decision.ALLOW
    assert verdict.rule == "prod"
    assert verdict.reason == "rule 'prod' allows: signatures, vulnerabilities, scan passed"
    assert [(c.check, c.outcome) for c in verdict.checks] == [
        ("signatures", Outcome.PASS),
        ("vulnerabilities", Outcome.PASS),
        ("scan", Outcome.PASS),
        ("sbom", Outcome.SKIP),
    ]


def test_failing_checks_deny_and_are_named(policy: Policy, keys: dict[str, PublicKey]) -> None:
    ev = evidence(signatures=(result("release"),))
    verdict = evaluate(policy, ev, NOW)
    assert verdict.decision is Decision.DENY
    assert verdict.reason == (
        "rule 'prod' denies: signatures: no signature from release; scan: no scan report for "
        f"{DIGEST}"
    )


def test_error_denies(policy: Policy) -> None:
    ev = evidence(
        signatures=(result("release", error="registry unreachable"),),
        scans=(report(),),
    )
    verdict = evaluate(policy, ev, NOW)
    assert verdict.decision is Decision.DENY
    assert verdict.reason == (
        "rule 'prod' denies: signatures could not be decided: could not verify release: "
        "registry unreachable; the requirement is not met without it"
    )


def test_warn_outcome_warns(key_dir: Path, keys: dict[str, PublicKey]) -> None:
    spec = """\
    trust:
      release: {cosign: {publicKeys: [keys/release.pub]}}
    rules:
      - name: prod
        match: {images: ["registry.acme.io/prod/**"]}
        vulnerabilities:
          denySeverity: CRITICAL
          exceptions:
            - {id: CVE-1, expires: 2026-01-01, reason: "old ticket"}
    """
    policy = load_spec(key_dir, spec)
    verdict = evaluate(policy, evidence(scans=(report(finding("CVE-1", Severity.LOW)),)), NOW)
    assert verdict.decision is Decision.WARN
    assert verdict.reason == (
        "rule 'prod' warns: vulnerabilities: exception for CVE-1 expired on 2026-01-01; 1 finding "
        "in 1 scan report, none breaks the limits"
    )


def test_threshold_rule(policy: Policy, keys: dict[str, PublicKey]) -> None:
    ev = evidence(
        "registry.acme.io/pair/app:1",
        signatures=(
            result("alice", signature("alice", keys["alice"])),
            result("bob", signature("bob", keys["bob"])),
        ),
    )
    assert evaluate(policy, ev, NOW).decision is Decision.ALLOW


@pytest.mark.parametrize(
    ("mode", "decision", "reason"),
    [
        ("enforce", Decision.DENY, "rule 'prod' denies: signatures: no signature from release"),
        (
            "warn",
            Decision.WARN,
            "warn mode: would deny because rule 'prod' denies: signatures: no signature from "
            "release",
        ),
        (
            "audit",
            Decision.ALLOW,
            "audit mode: would deny because rule 'prod' denies: signatures: no signature from "
            "release",
        ),
    ],
)
def test_modes(key_dir: Path, mode: str, decision: Decision, reason: str) -> None:
    ev = evidence(signatures=(result("release"),), scans=(report(),))
    verdict = evaluate(_policy(key_dir, mode=mode), ev, NOW)
    assert verdict.decision is decision
    assert verdict.reason == reason
    assert verdict.mode == mode
    # The checks keep their true outcome whatever the mode.
    assert verdict.checks[0].outcome is Outcome.FAIL


def test_modes_soften_the_default_action(key_dir: Path) -> None:
    verdict = evaluate(_policy(key_dir, mode="warn"), evidence("quay.io/x:1"), NOW)
    assert verdict.decision is Decision.WARN
    assert verdict.reason == (
        "warn mode: would deny because no rule matches quay.io/x:1; defaultAction is deny"
    )


def test_rule_mode_overrides_policy_mode(policy: Policy) -> None:
    verdict = evaluate(policy, evidence("registry.acme.io/experiments/x:1"), NOW)
    assert verdict.decision is Decision.ALLOW
    assert verdict.mode == "audit"
    assert verdict.reason == (
        "audit mode: would deny because rule 'audited' denies: signatures could not be decided: "
        "could not verify release: not verified (no result for this authority was given to the "
        "policy engine); the requirement is not met without it"
    )


def test_stale_scan_denies(policy: Policy, keys: dict[str, PublicKey]) -> None:
    old = datetime(2026, 5, 1, tzinfo=NOW.tzinfo)
    ev = evidence(
        signatures=(result("release", signature("release", keys["release"])),),
        scans=(report(created_at=old),),
    )
    verdict = evaluate(policy, ev, NOW)
    assert verdict.decision is Decision.DENY
    assert verdict.reason == (
        "rule 'prod' denies: scan: scan report trivy.json is 31d 12h old (maxScanAge 7d)"
    )


def test_naive_now_is_utc(policy: Policy, keys: dict[str, PublicKey]) -> None:
    ev = evidence(
        signatures=(result("release", signature("release", keys["release"])),),
        scans=(report(),),
    )
    assert evaluate(policy, ev, NOW.replace(tzinfo=None)).decision is Decision.ALLOW


def test_rule_selection_sees_the_resolved_digest(key_dir: Path) -> None:
    spec = f"""\
    rules:
      - name: pinned
        match: {{images: ["ghcr.io/acme/tool@{DIGEST}"]}}
        action: allow
    """
    policy = load_spec(key_dir, spec)
    verdict = evaluate(policy, evidence("ghcr.io/acme/tool:1"), NOW)
    assert verdict.rule == "pinned"
    assert verdict.reference == "ghcr.io/acme/tool:1"


@pytest.mark.parametrize(
    ("mode", "decision", "expected"),
    [
        (Mode.ENFORCE, Decision.WARN, (Decision.WARN, "r")),
        (Mode.WARN, Decision.WARN, (Decision.WARN, "r")),
        (Mode.WARN, Decision.ALLOW, (Decision.ALLOW, "r")),
        (Mode.AUDIT, Decision.WARN, (Decision.ALLOW, "audit mode: would warn because r")),
        (Mode.AUDIT, Decision.ALLOW, (Decision.ALLOW, "r")),
    ],
)
def test_apply_mode(mode: Mode, decision: Decision, expected: tuple[Decision, str]) -> None:
    assert apply_mode(mode, decision, "r") == expected


def test_a_tag_next_to_a_digest_does_not_select_a_tag_rule(key_dir: Path) -> None:
    # Only the digest of "app:v1.0@sha256:<evil>" is fetched and verified: a rule
    # allowing the tag v1.0 must not allow whatever digest is written next to it.
    spec = """\
    rules:
      - name: released
        match: {images: ["registry.acme.io/prod/app:v1.0"]}
        action: allow
    """
    policy = load_spec(key_dir, spec)
    evil = Digest.of(b"evil")
    by_digest = evaluate(
        policy, evidence(f"registry.acme.io/prod/app:v1.0@{evil}", digest=evil), NOW
    )
    assert (by_digest.decision, by_digest.rule) == (Decision.DENY, None)
    by_tag = evaluate(policy, evidence("registry.acme.io/prod/app:v1.0", digest=evil), NOW)
    assert (by_tag.decision, by_tag.rule) == (Decision.ALLOW, "released")


def test_float_threshold_count_still_requires_signatures(key_dir: Path) -> None:
    # count: 1.0 used to build a rule without its signatures section, and the
    # image was allowed unsigned.
    spec = """\
    trust:
      alice: {cosign: {publicKeys: [keys/alice.pub]}}
    rules:
      - name: signed
        match: {images: ["registry.acme.io/prod/**"]}
        signatures: {threshold: {count: 1.0, of: [alice]}}
    """
    policy = load_spec(key_dir, spec)
    unsigned = evidence(signatures=(result("alice"),))
    verdict = evaluate(policy, unsigned, NOW)
    assert verdict.decision is Decision.DENY
    assert verdict.checks[0].check == "signatures"
    assert verdict.checks[0].outcome is Outcome.FAIL
