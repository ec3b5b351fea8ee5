"""Policy fields for signed attestations: loading, semantic errors, and evaluation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType

import pytest

from gate.attestations.evidence import AttestationResult, Rejection, VerifiedAttestation
from gate.policy.evaluate import evaluate
from gate.policy.model import Policy
from gate.policy.select import attestation_authorities, select_rule
from gate.policy.verdict import Decision, Outcome
from gate.sbom.component import Component
from gate.scanners.finding import Severity
from gate.signatures.intoto import (
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V1,
    STATEMENT_V1,
    Statement,
    Subject,
)
from tests.unit.policy.support import (
    DIGEST,
    NOW,
    error_lines,
    evidence,
    finding,
    load_spec,
    policy_text,
    report,
    sbom,
    write_keys,
    write_policy,
)

SPEC = """\
trust:
  release: {cosign: {publicKeys: [keys/release.pub]}}
  ci: {cosign: {publicKeys: [keys/alice.pub]}}
rules:
  - name: attested
    match: {images: ["registry.acme.io/prod/**"]}
    vulnerabilities:
      denySeverity: CRITICAL
      maxScanAge: 7d
      fromAttestation: [release]
    sbom:
      deniedLicenses: [AGPL-3.0-only]
      deniedPackages: ["pkg:npm/event-stream@3.3.6"]
      fromAttestation: [release, ci]
    attestations:
      - predicateType: https://slsa.dev/provenance/v1
        signedBy: [ci]
"""


@pytest.fixture
def policy(key_dir: Path) -> Policy:
    return load_spec(key_dir, SPEC)


def _statement(predicate_type: str) -> Statement:
    return Statement(
        statement_type=STATEMENT_V1,
        subjects=(Subject(MappingProxyType({"sha256": DIGEST.hex})),),
        predicate_type=predicate_type,
        predicate={},
    )


def _attested(
    authority: str, predicate_type: str, source: str, **kwargs: object
) -> VerifiedAttestation:
    return VerifiedAttestation(
        source=source,
        authority=authority,
        signer=f"SHA256:{authority}",
        signer_label=f"keys/{authority}.pub",
        digest=DIGEST,
        statement=_statement(predicate_type),
        **kwargs,  # type: ignore[arg-type]  # sbom/scan/scanner, as the tests need
    )


CLEAN = sbom(Component("left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0", ("MIT",)))
DIRTY = sbom(Component("event-stream", "3.3.6", "pkg:npm/event-stream@3.3.6", ("MIT",)))


def _results(*results: AttestationResult) -> MappingProxyType[str, AttestationResult]:
    return MappingProxyType({r.authority: r for r in results})


def _good(
    *, sbom_doc: object = CLEAN, scan_age: timedelta = timedelta(days=1)
) -> dict[str, AttestationResult]:
    release = AttestationResult(
        "release",
        attestations=(
            _attested("release", CYCLONEDX_BOM, "att 1", sbom=sbom_doc),
            _attested(
                "release",
                COSIGN_VULN_V1,
                "att 2",
                scan=report(created_at=NOW - scan_age, source="vuln att 2"),
                scanner="trivy",
            ),
        ),
        found=3,
    )
    ci = AttestationResult(
        "ci", attestations=(_attested("ci", SLSA_PROVENANCE_V1, "att 3"),), found=3
    )
    return {"release": release, "ci": ci}


def _checks(
    policy: Policy, attestations: dict[str, AttestationResult], **kwargs: object
) -> dict[str, tuple[Outcome, str]]:
    ev = replace(evidence(**kwargs), attestations=MappingProxyType(attestations))  # type: ignore[arg-type]
    verdict = evaluate(policy, ev, NOW)
    return {c.check: (c.outcome, c.reason) for c in verdict.checks}


def test_loaded_model_and_authorities(policy: Policy) -> None:
    rule = policy.rules[0]
    assert rule.sbom is not None
    assert [a.name for a in rule.sbom.from_attestation] == ["release", "ci"]
    assert rule.scan is not None
    assert [a.name for a in rule.scan.from_attestation] == ["release"]
    assert rule.attestations is not None
    assert rule.attestations[0].predicate_type == SLSA_PROVENANCE_V1
    assert [a.name for a in attestation_authorities(rule)] == ["ci", "release"]


def test_everything_attested_allows(policy: Policy) -> None:
    checks = _checks(policy, _good())
    assert checks["sbom"][0] is Outcome.PASS
    assert "[from 1 SBOM attestation signed by keys/release.pub (release)]" in checks["sbom"][1]
    assert checks["scan"][0] is Outcome.PASS
    assert checks["vulnerabilities"][0] is Outcome.PASS
    assert checks["attestations"] == (
        Outcome.PASS,
        "SLSA provenance v1 signed by keys/ci.pub (ci) in att 3",
    )


def test_files_do_not_count_and_the_reason_says_so(policy: Policy) -> None:
    none = {"release": AttestationResult("release"), "ci": AttestationResult("ci")}
    checks = _checks(policy, none, sboms=(CLEAN,), scans=(report(),))
    outcome, reason = checks["sbom"]
    assert outcome is Outcome.FAIL
    assert reason.startswith(f"no SBOM attestation signed by release or ci for {DIGEST}")
    assert "no attestations found" in reason
    assert (
        "1 SBOM document given or stored was not used: this rule counts only SBOMs from "
        "attestations signed by release or ci"
    ) in reason
    assert checks["scan"][0] is Outcome.FAIL
    assert "1 scan document given or stored was not used" in checks["scan"][1]
    assert checks["attestations"][0] is Outcome.FAIL
    assert checks["attestations"][1].startswith("no SLSA provenance v1 attestation signed by ci")


def test_rejections_are_the_reason(policy: Policy) -> None:
    rejected = AttestationResult(
        "release",
        rejections=(
            Rejection("att 1", "DSSE signature does not verify", CYCLONEDX_BOM),
            Rejection("att 9", "whatever", SLSA_PROVENANCE_V1),
        ),
        found=2,
    )
    results = {**_good(), "release": rejected}
    outcome, reason = _checks(policy, results)["sbom"]
    assert outcome is Outcome.FAIL
    assert ": att 1: DSSE signature does not verify" in reason
    assert "att 9" not in reason  # another predicate type


def test_denied_package_in_attested_sbom_denies(policy: Policy) -> None:
    checks = _checks(policy, _good(sbom_doc=DIRTY))
    outcome, reason = checks["sbom"]
    assert outcome is Outcome.FAIL
    assert "1 denied package: event-stream@3.3.6" in reason


def test_stale_attested_scan_denies_and_newest_per_scanner_counts(policy: Policy) -> None:
    stale = _good(scan_age=timedelta(days=9))
    assert _checks(policy, stale)["scan"][0] is Outcome.FAIL
    fresh = _good()
    release = fresh["release"]
    old = _attested(
        "release",
        COSIGN_VULN_V1,
        "att 0",
        scan=report(
            finding("CVE-2024-0001", Severity.CRITICAL),
            created_at=NOW - timedelta(days=30),
            source="old",
        ),
        scanner="trivy",
    )
    fresh["release"] = replace(release, attestations=(old, *release.attestations))
    checks = _checks(policy, fresh)
    assert checks["scan"][0] is Outcome.PASS
    assert "1 older attested scan(s) superseded" in checks["scan"][1]
    assert checks["vulnerabilities"][0] is Outcome.PASS


def test_read_errors_fail_closed(policy: Policy) -> None:
    broken = {
        "release": AttestationResult("release", error="registry down"),
        "ci": AttestationResult("ci", error="registry down"),
    }
    checks = _checks(policy, broken)
    for name in ("sbom", "scan", "attestations"):
        assert checks[name][0] is Outcome.ERROR, name
    assert "could not read the attestations of release or ci" in checks["sbom"][1]
    # Found in one authority's attestations: not hidden by the other's error.
    partly = {**_good(sbom_doc=DIRTY), "ci": AttestationResult("ci", error="registry down")}
    assert _checks(policy, partly)["sbom"][0] is Outcome.FAIL
    assert _checks(policy, partly)["attestations"][0] is Outcome.ERROR


def test_verdict_decision(policy: Policy) -> None:
    ev = replace(evidence(), attestations=MappingProxyType(_good()))
    verdict = evaluate(policy, ev, NOW)
    assert verdict.decision is Decision.ALLOW
    assert verdict.reason.endswith("vulnerabilities, scan, sbom, attestations passed")
    assert select_rule(policy, ev.reference, None, digest=DIGEST) is not None


ERRORS = [
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/release.pub]}}
        rules:
          - name: r
            match: {images: ["**"]}
            sbom: {fromAttestation: [relase]}
        """,
        ['policy.yaml:11:32: rules[0].sbom.fromAttestation[0]: unknown trust authority "relase"'],
        id="unknown-authority",
    ),
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/release.pub]}}
          tuf: {notaryV1: {server: "https://notary.example", rootKeys: [keys/release.pub]}}
        rules:
          - name: r
            match: {images: ["**"]}
            vulnerabilities: {fromAttestation: [tuf]}
        """,
        [
            "policy.yaml:12:43: rules[0].vulnerabilities.fromAttestation[0]: trust authority "
            '"tuf" has neither cosign keys nor a keyless identity, so it cannot verify '
            "attestations"
        ],
        id="notary-only",
    ),
    pytest.param(
        """\
        trust:
          release: {cosign: {publicKeys: [keys/release.pub]}}
        rules:
          - name: r
            match: {images: ["**"]}
            attestations:
              - {predicateType: slsa, signedBy: [release]}
              - {predicateType: "https://slsa.dev/provenance/v1", signedBy: [release]}
              - {predicateType: "https://slsa.dev/provenance/v1", signedBy: [nobody]}
        """,
        [
            'policy.yaml:12:27: rules[0].attestations[0].predicateType: predicateType "slsa" '
            "is not a URI (write the full type, e.g. https://slsa.dev/provenance/v1)",
            "policy.yaml:14:27: rules[0].attestations[2].predicateType: predicateType "
            '"https://slsa.dev/provenance/v1" is listed twice (also attestations[1])',
            "policy.yaml:14:72: rules[0].attestations[2].signedBy[0]: unknown trust authority "
            '"nobody"',
        ],
        id="attestations",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), ERRORS)
def test_semantic_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec: str, expected: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_keys(tmp_path, ("release",))
    write_policy(tmp_path, policy_text(spec))
    assert error_lines(Path("policy.yaml")) == expected


def test_schema_refuses_empty_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_keys(tmp_path, ("release",))
    spec = """\
    trust:
      release: {cosign: {publicKeys: [keys/release.pub]}}
    rules:
      - name: r
        match: {images: ["**"]}
        sbom: {fromAttestation: []}
        attestations: []
    """
    write_policy(tmp_path, policy_text(spec))
    lines = error_lines(Path("policy.yaml"))
    assert any("rules[0].sbom.fromAttestation" in line for line in lines)
    assert any("rules[0].attestations" in line for line in lines)
