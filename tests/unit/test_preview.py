"""Impact preview: the changes it reports are exactly those of evaluating each image directly.

A history of 1,200 verdicts (over 300 distinct images in four namespaces, with
stored Trivy reports of varied severities, signed and unsigned digests, CI
and admission verdicts, some outside the window and some without a digest) is
recorded through the store API; the policy change tightens the vulnerability
limits, requires a scan in production and loosens a team's repository. The
preview must name exactly the images whose decision changes when each one is
evaluated under each policy from the evidence the test itself made.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.evaluate import evaluate
from gate.policy.evidence import ImageEvidence
from gate.policy.loader import load_policy, load_policy_text
from gate.policy.model import Policy
from gate.policy.verdict import ImageVerdict
from gate.preview import (
    SIGNATURES_RECORDED,
    PolicyPreview,
    parse_since,
    preview_policy_change,
    preview_to_dict,
    render_preview_text,
)
from gate.scanners.load import load_scan_report
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.keyfile import generate_key_pair
from gate.store.model import (
    CheckRecord,
    EvidenceKind,
    NewEvidence,
    NewVerdict,
    VerdictSource,
    VerdictStore,
)
from gate.store.sql import SqlVerdictStore
from webhook.checker import StoreEvidence, TtlCache

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=7)

OLD_POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata:
  name: {name}
spec:
  mode: enforce
  defaultAction: deny
  trust:
    release:
      cosign:
        publicKeys: [release.pub]
  rules:
    - name: system
      match:
        namespaces: [kube-system]
      action: allow
{rules}
"""

OLD_RULES = """\
    - name: legacy
      match:
        images: ["registry.example/legacy/**"]
      vulnerabilities:
        denySeverity: CRITICAL
        requireScan: false
    - name: apps
      match:
        images: ["registry.example/**"]
      signatures:
        anyOf: [release]
      vulnerabilities:
        denySeverity: CRITICAL
        requireScan: false
"""

NEW_RULES = """\
    - name: legacy
      match:
        images: ["registry.example/legacy/**"]
      mode: warn
      vulnerabilities:
        denySeverity: HIGH
        requireScan: false
    - name: prod
      match:
        namespaces: [prod]
        images: ["registry.example/**"]
      signatures:
        anyOf: [release]
      vulnerabilities:
        denySeverity: HIGH
        fixableOnly: true
        requireScan: true
    - name: apps
      match:
        images: ["registry.example/**"]
      signatures:
        anyOf: [release]
      vulnerabilities:
        denySeverity: CRITICAL
        fixableOnly: true
        requireScan: false
"""

NAMESPACES = ("prod", "staging", "dev", "kube-system")
TEAMS = ("payments", "search", "legacy", "web")


def trivy(digest: str, findings: list[tuple[str, str, str | None]], created: datetime) -> bytes:
    """A Trivy JSON report of ``digest`` with ``(id, severity, fixed version)`` findings."""
    vulnerabilities = [
        {
            "VulnerabilityID": vuln_id,
            "PkgName": f"pkg-{index}",
            "InstalledVersion": "1.0.0",
            "Severity": severity,
            **({"FixedVersion": fixed} if fixed else {}),
        }
        for index, (vuln_id, severity, fixed) in enumerate(findings)
    ]
    document = {
        "SchemaVersion": 2,
        "CreatedAt": created.isoformat().replace("+00:00", "Z"),
        "ArtifactName": "registry.example/app:1",
        "ArtifactType": "container_image",
        "Metadata": {"RepoDigests": [f"registry.example/app@{digest}"]},
        "Results": [
            {
                "Target": "app (debian 12)",
                "Class": "os-pkgs",
                "Type": "debian",
                "Vulnerabilities": vulnerabilities,
            }
        ],
    }
    return json.dumps(document).encode()


@dataclass(frozen=True)
class Truth:
    """What the test knows about one digest: who signed it and its newest scan."""

    signed: bool
    scan: bytes | None


@dataclass(frozen=True)
class Seeded:
    """The history as the test wrote it."""

    truth: dict[str, Truth]
    #: (digest, reference, namespace, workload kind, workload name) -> newest in window
    latest: dict[tuple[str, str, str | None, str | None, str | None], datetime]
    without_digest: int


def _policies(directory: Path) -> tuple[Policy, Policy]:
    _private, public = generate_key_pair(b"pw")
    (directory / "release.pub").write_bytes(public)
    old_path = directory / "old.yaml"
    old_path.write_text(OLD_POLICY.format(name="old", rules=OLD_RULES))
    new_path = directory / "new.yaml"
    new_path.write_text(OLD_POLICY.format(name="new", rules=NEW_RULES))
    return load_policy(old_path), load_policy(new_path)


def _signatures(policy: Policy, digest: Digest, signed: bool) -> dict[str, AuthorityResult]:
    authority = policy.trust["release"]
    if not signed:
        return {"release": AuthorityResult("release")}
    key = authority.cosign_keys[0]
    signature = VerifiedSignature("release", "cosign", key.fingerprint, "release.pub", digest)
    return {"release": AuthorityResult("release", signatures=(signature,))}


def _direct(policy: Policy, truth: Truth, reference: str, digest: str, ns: str | None) -> Any:
    """The verdict of ``policy`` from the test's own evidence: no store, no preview code."""
    parsed = Digest.parse(digest)
    scans = () if truth.scan is None else (load_scan_report(truth.scan, "truth.json"),)
    evidence = ImageEvidence(
        reference=ImageReference.parse(reference),
        digest=parsed,
        namespace=ns,
        signatures=_signatures(policy, parsed, truth.signed),
        scans=scans,
    )
    return evaluate(policy, evidence, NOW)


def _record(verdict: ImageVerdict, **fields: Any) -> NewVerdict:
    return NewVerdict(
        reference=verdict.reference,
        digest=verdict.digest,
        decision=verdict.decision.value,
        mode=verdict.mode,
        policy_name="old",
        policy_digest="sha256:" + "0" * 64,
        rule=verdict.rule,
        reason=verdict.reason,
        checks=tuple(
            CheckRecord(c.check, c.outcome.value, c.reason, c.details) for c in verdict.checks
        ),
        **fields,
    )


def seed(store: VerdictStore, old: Policy, *, verdicts: int = 1200, seed: int = 7) -> Seeded:
    """Record ``verdicts`` admission and CI verdicts (and scans) through the store API."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible history, not a secret
    severities = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
    truth: dict[str, Truth] = {}
    digests: list[tuple[str, str]] = []
    for index in range(320):
        digest = "sha256:" + f"{index:04x}".rjust(64, "e")
        team = TEAMS[index % len(TEAMS)]
        reference = f"registry.example/{team}/svc-{index % 40}:{1 + index % 3}.0"
        if index % 17 == 0:
            reference = f"other.example/{team}/tool:{index}"  # matched by no rule
        scan = None
        if rng.random() < 0.8:
            findings = [
                (
                    f"CVE-2025-{index:04d}{n}",
                    rng.choice(severities),
                    rng.choice((None, "1.0.1")),
                )
                for n in range(rng.randint(0, 3))
            ]
            created = NOW - timedelta(days=rng.randint(0, 20))
            scan = trivy(digest, findings, created)
            # An older, clean report too: the newest one must be the one read.
            store.put_evidence(
                NewEvidence(
                    digest,
                    EvidenceKind.SCAN,
                    "trivy",
                    "old.json",
                    trivy(digest, [], created - timedelta(days=1)),
                    received_at=created - timedelta(days=1),
                    created_at=created - timedelta(days=1),
                )
            )
            store.put_evidence(
                NewEvidence(
                    digest,
                    EvidenceKind.SCAN,
                    "trivy",
                    "trivy.json",
                    scan,
                    received_at=created,
                    created_at=created,
                )
            )
        truth[digest] = Truth(signed=rng.random() < 0.75, scan=scan)
        digests.append((digest, reference))
    latest: dict[tuple[str, str, str | None, str | None, str | None], datetime] = {}
    records: list[NewVerdict] = []
    without_digest = 0
    for number in range(verdicts):
        digest, reference = rng.choice(digests)
        namespace: str | None = rng.choice(NAMESPACES)
        source = VerdictSource.ADMISSION
        kind: str | None = rng.choice(("Deployment", "StatefulSet", "Pod"))
        name: str | None = f"{reference.split('/')[-1].split(':')[0]}-{number % 5}"
        if number % 10 == 0:  # CI verdicts: no namespace, no workload
            source, namespace, kind, name = VerdictSource.CI, None, None, None
        time = NOW - timedelta(minutes=rng.randint(0, 9 * 24 * 60))
        verdict = _direct(old, truth[digest], reference, digest, namespace)
        if number % 97 == 0:  # resolution failed: nothing to re-evaluate
            records.append(
                NewVerdict(
                    time=time,
                    source=source,
                    reference=reference,
                    digest=None,
                    decision="deny",
                    mode="enforce",
                    policy_name="old",
                    policy_digest="",
                    rule=None,
                    reason="could not decide",
                    namespace=namespace,
                    decided=False,
                )
            )
            if time >= SINCE:
                without_digest += 1
            continue
        records.append(
            _record(
                verdict,
                time=time,
                source=source,
                namespace=namespace,
                workload_kind=kind,
                workload_name=name,
            )
        )
        if time >= SINCE:
            key = (digest, reference, namespace, kind, name)
            latest[key] = max(latest.get(key, time), time)
    for start in range(0, len(records), 500):
        store.record(records[start : start + 500])
    return Seeded(truth=truth, latest=latest, without_digest=without_digest)


def stored_evidence(store: VerdictStore) -> StoreEvidence:
    """The webhook's reader of stored evidence (the same one admission uses)."""
    return StoreEvidence(store, TtlCache(300.0, 4096))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlVerdictStore]:
    made = SqlVerdictStore.from_url(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        yield made
    finally:
        made.close()


def expected_changes(seeded: Seeded, old: Policy, new: Policy) -> set[tuple[Any, ...]]:
    """Every image whose decision differs between the policies, evaluated directly."""
    changes = set()
    for digest, reference, namespace, kind, name in seeded.latest:
        truth = seeded.truth[digest]
        before = _direct(old, truth, reference, digest, namespace)
        after = _direct(new, truth, reference, digest, namespace)
        if before.decision is not after.decision:
            changes.add(
                (
                    digest,
                    reference,
                    namespace,
                    kind,
                    name,
                    before.decision.value,
                    before.rule,
                    before.reason,
                    after.decision.value,
                    after.rule,
                    after.reason,
                )
            )
    return changes


def reported_changes(preview: PolicyPreview) -> set[tuple[Any, ...]]:
    return {
        (
            e.image.digest,
            e.image.reference,
            e.image.namespace,
            e.image.workload_kind,
            e.image.workload_name,
            e.old.decision.value,
            e.old.rule,
            e.old.reason,
            e.new.decision.value,
            e.new.rule,
            e.new.reason,
        )
        for e in preview.changes
    }


def run_preview(store: VerdictStore, old: Policy, new: Policy) -> PolicyPreview:
    return preview_policy_change(
        store,
        old,
        new,
        since=SINCE,
        until=NOW + timedelta(seconds=1),
        evidence=stored_evidence(store),
        now=NOW,
    )


def test_the_preview_of_a_1000_verdict_history_is_exactly_the_direct_evaluation(
    tmp_path: Path, store: SqlVerdictStore
) -> None:
    old, new = _policies(tmp_path)
    seeded = seed(store, old)
    preview = run_preview(store, old, new)

    expected = expected_changes(seeded, old, new)
    assert len(expected) >= 20, "the policy change must change a fair number of images"
    assert reported_changes(preview) == expected
    assert len(preview.evaluations) == len(seeded.latest)
    assert len(preview.evaluations) > len(expected)  # unchanged images exist too
    assert preview.skipped == seeded.without_digest > 0
    # Every signed rule's result came from the recorded verdicts (there is no cache here).
    assert {e.signatures for e in preview.evaluations} <= {SIGNATURES_RECORDED, "not needed"}
    transitions = preview.transitions()
    assert sum(transitions.values()) == len(expected)
    assert set(transitions) >= {"allow -> deny", "deny -> allow"}


def test_the_same_policy_changes_nothing(tmp_path: Path, store: SqlVerdictStore) -> None:
    old, _new = _policies(tmp_path)
    seed(store, old, verdicts=300)
    preview = run_preview(store, old, old)
    assert preview.changes == ()
    assert preview.evaluations


def test_a_recorded_signer_no_longer_trusted_does_not_count(
    tmp_path: Path, store: SqlVerdictStore
) -> None:
    old, _new = _policies(tmp_path)
    seed(store, old, verdicts=200)
    # Same authority name, another key: nothing signed by the old key may pass.
    _private, other = generate_key_pair(b"pw")
    (tmp_path / "rotated").mkdir()
    (tmp_path / "rotated" / "release.pub").write_bytes(other)
    rotated = load_policy_text(
        OLD_POLICY.format(name="rotated", rules=OLD_RULES), tmp_path / "rotated" / "p.yaml"
    )
    preview = run_preview(store, old, rotated)
    signed_before = [
        e for e in preview.evaluations if e.old.rule == "apps" and e.old.decision.value == "allow"
    ]
    assert signed_before
    for evaluation in signed_before:
        assert evaluation.new.decision.value == "deny"
        assert "no signature from release" in evaluation.new.reason


def test_text_and_json_name_the_changes_and_the_signature_source(
    tmp_path: Path, store: SqlVerdictStore
) -> None:
    old, new = _policies(tmp_path)
    seed(store, old, verdicts=300)
    preview = run_preview(store, old, new)
    document = preview_to_dict(preview, all_images=True)
    assert document["counts"]["changed"] == len(preview.changes) > 0
    assert len(document["images"]) == len(preview.evaluations)
    change = document["changes"][0]
    assert set(change) >= {"reference", "digest", "namespace", "old", "new", "signatures"}
    assert change["old"]["decision"] != change["new"]["decision"]
    text = render_preview_text(preview)
    assert f"{len(preview.changes)} would change decision" in text
    assert "old: rule" in text
    assert "new: rule" in text
    assert "signature results used:" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7d", NOW - timedelta(days=7)),
        ("12h", NOW - timedelta(hours=12)),
        ("2026-02-20T00:00:00Z", datetime(2026, 2, 20, tzinfo=UTC)),
    ],
)
def test_since_is_a_duration_or_a_time(text: str, expected: datetime) -> None:
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["7", "7s", "yesterday", "2026-02-20T00:00:00"])
def test_a_bad_since_is_an_input_error(text: str) -> None:
    with pytest.raises(InputError, match="since"):
        parse_since(text, NOW)
