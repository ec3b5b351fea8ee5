"""``Gate`` asks the policy's evidence sources only when a rule needs a scan and has none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from gate.binding import Binding
from gate.check import CheckOptions, EvidenceProvider, Gate, _needs_scan
from gate.clock import fixed_clock
from gate.errors import BackendError
from gate.oci.client import Platform, RegistryClient
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.policy.loader import load_policy_text
from gate.policy.model import Match, Policy, Rule, ScanPolicy, VulnerabilityPolicy
from gate.policy.verdict import Decision, Outcome
from gate.scanners.finding import Finding, ScanReport, Severity
from gate.signatures.trust import TrustAuthority

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIGEST = Digest.of(b"the manifest")
REFERENCE = "registry.example.com/apps/web:1.0"

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: sources}
spec:
  evidenceSources:
    - clair: {url: "https://clair.example.com"}
  rules:
    - name: open
      match: {images: ["registry.example.com/apps/open*"]}
      action: allow
    - name: sbom-only
      match: {images: ["registry.example.com/apps/sbom*"]}
      sbom: {require: false}
    - name: scanned
      match: {images: ["registry.example.com/**"]}
      vulnerabilities: {denySeverity: CRITICAL, requireScan: true}
"""


@dataclass
class _Source:
    """A source with one scripted answer, counting the questions."""

    label: str = "clair https://clair.example.com"
    answer: ScanReport | BackendError | None = None
    asked: list[tuple[str, Digest]] = field(default_factory=list)

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        self.asked.append((image.name, digest))
        if isinstance(self.answer, BackendError):
            raise self.answer
        return self.answer

    def close(self) -> None:
        return None


def _resolve(reference: ImageReference, platform: Platform | None) -> ResolvedImage:
    return ResolvedImage(reference.with_digest(DIGEST), DIGEST, "application/json", b"{}")


def _report(severity: Severity, source: str = "clair https://clair.example.com") -> ScanReport:
    finding = Finding("CVE-2024-1", "openssl", "3.0.1", severity)
    return ScanReport(
        source=source,
        format="clair-v4",
        findings=(finding,),
        artifact_digests=frozenset({DIGEST}),
        created_at=NOW,
        scanner="clair",
    )


def _gate(
    source: _Source,
    *,
    scans: tuple[ScanReport, ...] = (),
    evidence: EvidenceProvider | None = None,
) -> Gate:
    policy: Policy = load_policy_text(POLICY, Path("policy.yaml"))
    return Gate(
        policy,
        RegistryClient(environ={}, home=Path("/nonexistent-home")),
        scans=scans,
        clock=fixed_clock(NOW),
        verifiers={},
        resolver=_resolve,
        sources=[source],
        evidence=evidence,
    )


def test_a_report_from_a_source_is_checked_like_a_given_one() -> None:
    source = _Source(answer=_report(Severity.CRITICAL))
    verdict = _gate(source).check([REFERENCE], CheckOptions())
    [image] = verdict.images
    assert image.decision is Decision.DENY
    checks = {c.check: c for c in image.checks}
    assert checks["vulnerabilities"].outcome is Outcome.FAIL
    assert checks["scan"].outcome is Outcome.PASS
    assert "clair https://clair.example.com (clair-v4)" in checks["scan"].reason
    assert source.asked == [("registry.example.com/apps/web", DIGEST)]
    assert verdict.decided


def test_no_report_leaves_require_scan_to_decide() -> None:
    source = _Source(answer=None)
    [image] = _gate(source).check([REFERENCE], CheckOptions()).images
    checks = {c.check: c for c in image.checks}
    assert checks["scan"].outcome is Outcome.FAIL
    assert checks["scan"].reason == f"no scan report for {DIGEST}"
    assert len(source.asked) == 1


def test_a_failing_source_denies_undecided_and_names_the_source() -> None:
    error = BackendError("clair https://clair.example.com: GET /matcher/...: connection refused")
    verdict = _gate(_Source(answer=error)).check([REFERENCE], CheckOptions())
    [image] = verdict.images
    assert image.decision is Decision.DENY
    [check] = image.checks
    assert (check.check, check.outcome) == ("scan", Outcome.ERROR)
    assert "clair https://clair.example.com" in image.reason
    assert "connection refused" in image.reason
    assert not verdict.decided
    assert verdict.errors == (str(error),)


def test_a_given_report_bound_to_the_digest_means_no_source_is_asked() -> None:
    source = _Source(answer=_report(Severity.CRITICAL))
    given = _report(Severity.LOW, source="trivy.json")
    [image] = _gate(source, scans=(given,)).check([REFERENCE], CheckOptions()).images
    assert image.decision is Decision.ALLOW
    assert source.asked == []


def test_a_stored_report_means_no_source_is_asked() -> None:
    source = _Source(answer=_report(Severity.CRITICAL))

    def stored(reference: ImageReference, digests: Sequence[Digest]) -> Binding:
        return Binding(scans=(_report(Severity.LOW, source="stored"),), sboms=(), notes=())

    [image] = _gate(source, evidence=stored).check([REFERENCE], CheckOptions()).images
    assert image.decision is Decision.ALLOW
    assert source.asked == []


@pytest.mark.parametrize(
    "reference",
    ["registry.example.com/apps/open:1", "registry.example.com/apps/sbom:1", "other.example/x:1"],
    ids=["action-rule", "sbom-only-rule", "no-rule"],
)
def test_rules_that_read_no_scan_ask_no_source(reference: str) -> None:
    source = _Source(answer=BackendError("must not be asked"))
    verdict = _gate(source).check([reference], CheckOptions())
    assert source.asked == []
    assert verdict.decided


def test_a_report_for_another_tag_bound_by_name_still_counts_and_no_source_is_asked() -> None:
    source = _Source(answer=_report(Severity.CRITICAL))
    by_name = ScanReport("trivy.json", "trivy", (), artifact_name=REFERENCE, created_at=NOW)
    [image] = _gate(source, scans=(by_name,)).check([REFERENCE], CheckOptions()).images
    assert image.decision is Decision.ALLOW
    assert source.asked == []


def test_a_rule_that_only_counts_attested_scans_asks_no_source() -> None:
    plain = Rule("r", Match(), vulnerabilities=VulnerabilityPolicy(), scan=ScanPolicy())
    attested = Rule(
        "r",
        Match(),
        vulnerabilities=VulnerabilityPolicy(),
        scan=ScanPolicy(from_attestation=(TrustAuthority("release"),)),
    )
    assert _needs_scan(plain)
    assert not _needs_scan(attested)
