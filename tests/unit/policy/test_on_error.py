"""``onError``: what a rule's images get when their checks could not be decided."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.errors import PolicyError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.evaluate import evaluate
from gate.policy.evidence import ImageEvidence
from gate.policy.loader import load_policy_text
from gate.policy.select import rule_before_resolution
from gate.policy.verdict import Decision
from gate.signatures.evidence import AuthorityResult
from gate.signatures.keyfile import generate_key_pair

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def _policy(on_error: str) -> str:
    line = f"      onError: {on_error}\n" if on_error else ""
    return (
        "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n"
        "  defaultAction: deny\n"
        "  rules:\n"
        "    - name: by-digest\n"
        '      match: {images: ["reg.example/pinned@sha256:*"]}\n'
        "      action: deny\n"
        "    - name: break-glass\n"
        '      match: {images: ["reg.example/**"]}\n'
        f"{line}"
        "      action: allow\n"
    )


def test_on_error_defaults_to_deny_and_is_loaded() -> None:
    assert load_policy_text(_policy("")).rules[1].on_error is Decision.DENY
    assert load_policy_text(_policy("allow")).rules[1].on_error is Decision.ALLOW
    assert load_policy_text(_policy("warn")).rules[1].on_error is Decision.WARN


def test_on_error_must_be_a_decision() -> None:
    with pytest.raises(PolicyError, match="onError"):
        load_policy_text(_policy("maybe"))


def test_rule_before_resolution_fails_closed_behind_a_digest_glob() -> None:
    policy = load_policy_text(_policy("allow"))
    plain = ImageReference.parse("reg.example/app:1")
    pinned = ImageReference.parse("reg.example/pinned:1")
    rule = rule_before_resolution(policy, plain, None)
    # The digest glob of "by-digest" cannot match reg.example/app at all, but the
    # helper is conservative: any earlier digest glob means "not certain".
    assert rule is None
    assert rule_before_resolution(policy, pinned, None) is None


def test_errors_only_are_covered_by_on_error(tmp_path: Path) -> None:
    text = (
        "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n"
        "  defaultAction: deny\n"
        "  trust:\n    release: {cosign: {publicKeys: [release.pub]}}\n"
        "  rules:\n"
        "    - name: break-glass\n"
        '      match: {images: ["reg.example/**"]}\n'
        "      onError: allow\n"
        "      signatures: {anyOf: [release]}\n"
    )
    (tmp_path / "release.pub").write_bytes(generate_key_pair(b"pw")[1])
    policy = load_policy_text(text, tmp_path / "policy.yaml")
    reference = ImageReference.parse("reg.example/app:1")
    digest = Digest.of(b"image")

    def verdict(result: AuthorityResult) -> tuple[Decision, str]:
        evidence = ImageEvidence(reference=reference, digest=digest, signatures={"release": result})
        v = evaluate(policy, evidence, NOW)
        return v.decision, v.reason

    errored = verdict(AuthorityResult("release", error="notary-server down"))
    assert errored[0] is Decision.ALLOW
    assert "could not decide (signatures: " in errored[1]
    assert "notary-server down" in errored[1]
    assert errored[1].endswith("rule 'break-glass' says onError: allow")
    failed = verdict(AuthorityResult("release"))
    assert failed[0] is Decision.DENY  # no signature is a failure, not an error
