"""``gate attest`` then ``gate check`` (and the webhook) against a real docker-registry.

Images are built here and pushed with skopeo; attestations are written by
``gate attest`` into the cosign ``.att`` layout; every verdict is read from
the CLI's exit code and JSON report (or the AdmissionReview answer).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gate.oci.digest import Digest
from gate.store.sql import SqlVerdictStore
from tests.integration.gate_cli import (
    GateRun,
    isolate_environment,
    make_key_pair,
    run_gate,
    write_policy,
)
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, harness_session, push_image, put_manifest
from tests.unit.attestations.support import cyclonedx, iso, spdx, trivy
from tests.unit.webhook.reviews import admission_review, kubectl_create
from webhook.app import create_app, state_of
from webhook.settings import Settings

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: attested}
spec:
  defaultAction: deny
  trust:
    release: {cosign: {publicKeys: [keys/release.pub]}}
  rules:
    - name: sbom
      match: {images: ["127.0.0.1:*/att/sbom*"]}
      sbom:
        deniedLicenses: [AGPL-3.0-only]
        deniedPackages: ["pkg:npm/event-stream@3.3.6"]
        fromAttestation: [release]
    - name: scanned
      match: {images: ["127.0.0.1:*/att/vuln*"]}
      vulnerabilities: {denySeverity: CRITICAL, maxScanAge: 7d, fromAttestation: [release]}
    - name: provenance
      match: {images: ["127.0.0.1:*/att/slsa*"]}
      attestations:
        - predicateType: https://slsa.dev/provenance/v1
          signedBy: [release]
"""

CLEAN = [("left-pad", "1.3.0", "MIT")]
DIRTY = [("event-stream", "3.3.6", "MIT"), ("agpl-lib", "2.0.0", "AGPL-3.0-only")]
SLSA = {
    "buildDefinition": {"buildType": "https://example.test/build/v1", "externalParameters": {}},
    "runDetails": {"builder": {"id": "https://example.test/ci"}},
}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with release.key/.pub and other.key/.pub, and the policy next to it."""
    directory = tmp_path_factory.mktemp("gate-attest") / "keys"
    make_key_pair(directory, "release")
    make_key_pair(directory, "other")
    write_policy(directory.parent, POLICY)
    return directory


@pytest.fixture
def policy(keys: Path) -> Path:
    return keys.parent / "policy.yaml"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _file(directory: Path, name: str, document: object) -> Path:
    path = directory / name
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _push(registry: RunningRegistry, repository: str, tag: str = "1") -> tuple[str, Digest]:
    content = f"{repository}:{tag}".encode()
    digest = push_image(registry, repository, tag, build_image(content=content))
    return f"{registry.host}/{repository}:{tag}", digest


def _attest(
    capsys: pytest.CaptureFixture[str], image: str, key: Path, predicate: Path, kind: str
) -> GateRun:
    run = run_gate(
        capsys, "attest", image, "--key", str(key), "--predicate", str(predicate), "--type", kind
    )
    assert run.code == 0, run.stderr
    return run


def _check(capsys: pytest.CaptureFixture[str], image: str, policy: Path, *extra: str) -> GateRun:
    return run_gate(capsys, "check", image, "--policy", str(policy), "--format", "json", *extra)


def test_attested_sbom_allows_and_attest_is_idempotent(
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    image, digest = _push(registry, "att/sbom-clean")
    bom = _file(tmp_path, "bom.json", cyclonedx(*CLEAN))
    first = _attest(capsys, image, keys / "release.key", bom, "cyclonedx")
    assert f"Attested {registry.host}/att/sbom-clean@{digest}" in first.stdout
    assert "now holds 1 attestation(s)" in first.stdout
    again = _attest(capsys, image, keys / "release.key", bom, "cyclonedx")
    assert "Already attested" in again.stdout
    run = _check(capsys, image, policy)
    assert run.code == 0, run.stdout + run.stderr
    sbom = run.check("sbom")
    assert sbom["outcome"] == "pass"
    assert "from 1 SBOM attestation signed by keys/release.pub (release)" in sbom["reason"]
    assert sbom["details"]["attestations"][0]["predicateType"] == "https://cyclonedx.org/bom"


def test_untrusted_key_and_missing_attestation_deny(
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bom = _file(tmp_path, "bom.json", cyclonedx(*CLEAN))
    signed_by_other, _ = _push(registry, "att/sbom-other")
    _attest(capsys, signed_by_other, keys / "other.key", bom, "cyclonedx")
    run = _check(capsys, signed_by_other, policy)
    assert run.code == 1
    reason = run.check("sbom")["reason"]
    assert "no SBOM attestation signed by release" in reason
    assert "does not verify with any key authority 'release' trusts" in reason

    missing, digest = _push(registry, "att/sbom-missing")
    # An SBOM file that names this very digest (so it binds to the image)...
    named = cyclonedx(*CLEAN)
    named["metadata"] = {"component": {"type": "container", "name": "app", "version": str(digest)}}
    given = _file(tmp_path, "given.json", named)
    run = _check(capsys, missing, policy, "--sbom", str(given))
    assert run.code == 1
    reason = run.check("sbom")["reason"]
    assert "no attestations found" in reason
    # The SBOM file given on the command line does not stand in for an attestation.
    assert "1 SBOM document given or stored was not used" in reason


def test_attestation_copied_from_another_digest_denies(
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    attested, attested_digest = _push(registry, "att/sbom-copy", "a")
    victim, victim_digest = _push(registry, "att/sbom-copy", "b")
    bom = _file(tmp_path, "bom.json", cyclonedx(*CLEAN))
    _attest(capsys, attested, keys / "release.key", bom, "cyclonedx")
    # Serve the attested image's .att manifest under the victim's tag (same repository).
    session = harness_session(registry, "att/sbom-copy")
    source_tag = f"{attested_digest.tag_form}.att"
    response = session.get(
        f"{registry.url}/v2/att/sbom-copy/manifests/{source_tag}",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    )
    response.raise_for_status()
    put_manifest(
        registry,
        session,
        "att/sbom-copy",
        f"{victim_digest.tag_form}.att",
        response.content,
        media_type="application/vnd.oci.image.manifest.v1+json",
    )
    run = _check(capsys, victim, policy)
    assert run.code == 1
    reason = run.check("sbom")["reason"]
    assert f"the statement is about {attested_digest}, not this image {victim_digest}" in reason


@pytest.mark.parametrize("kind", ["cyclonedx", "spdx"])
def test_denied_license_and_package_in_attested_sbom_deny(  # noqa: PLR0917 - pytest fixtures
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    kind: str,
) -> None:
    image, _ = _push(registry, f"att/sbom-dirty-{kind}")
    document = cyclonedx(*DIRTY) if kind == "cyclonedx" else spdx(*DIRTY)
    _attest(capsys, image, keys / "release.key", _file(tmp_path, "sbom.json", document), kind)
    run = _check(capsys, image, policy)
    assert run.code == 1
    details = run.check("sbom")["details"]
    assert [row["name"] for row in details["deniedPackages"]] == ["event-stream"]
    assert [row["name"] for row in details["deniedLicenses"]] == ["agpl-lib"]


def test_vuln_attestation_age_and_findings(
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    stale, _ = _push(registry, "att/vuln-stale")
    old = _file(tmp_path, "old.json", trivy(created=iso(now - timedelta(days=10))))
    _attest(capsys, stale, keys / "release.key", old, "vuln")
    run = _check(capsys, stale, policy)
    assert run.code == 1
    assert run.check("scan")["outcome"] == "fail"
    assert "old (maxScanAge 7d)" in run.check("scan")["reason"]

    # A newer scan by the same scanner supersedes the stale one.
    fresh = _file(tmp_path, "fresh.json", trivy(created=iso(now - timedelta(hours=1))))
    _attest(capsys, stale, keys / "release.key", fresh, "vuln")
    run = _check(capsys, stale, policy)
    assert run.code == 0, run.stdout
    assert "1 older attested scan(s) superseded" in run.check("scan")["reason"]

    critical, _ = _push(registry, "att/vuln-critical")
    report = _file(
        tmp_path, "critical.json", trivy("CVE-2024-0001", created=iso(now - timedelta(hours=1)))
    )
    _attest(capsys, critical, keys / "release.key", report, "vuln")
    run = _check(capsys, critical, policy)
    assert run.code == 1
    assert "CVE-2024-0001" in run.check("vulnerabilities")["reason"]


def test_slsa_provenance_required(
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    absent, _ = _push(registry, "att/slsa-absent")
    run = _check(capsys, absent, policy)
    assert run.code == 1
    assert run.check("attestations")["outcome"] == "fail"
    assert run.check("attestations")["reason"].startswith(
        "no SLSA provenance v1 attestation signed by release"
    )

    present, _ = _push(registry, "att/slsa-present")
    _attest(
        capsys, present, keys / "release.key", _file(tmp_path, "slsa.json", SLSA), "slsaprovenance"
    )
    run = _check(capsys, present, policy)
    assert run.code == 0, run.stdout
    assert run.check("attestations")["outcome"] == "pass"


def test_webhook_reads_attestations_and_caches_them(
    registry: RunningRegistry, keys: Path, policy: Path, tmp_path: Path
) -> None:
    from gate.cli import main  # noqa: PLC0415

    image, _ = _push(registry, "att/sbom-hook")
    bom = _file(tmp_path, "bom.json", cyclonedx(*DIRTY))
    args = ["attest", image, "--key", str(keys / "release.key"), "--predicate", str(bom)]
    assert main([*args, "--type", "cyclonedx"]) == 0
    app = create_app(
        Settings(
            policy=policy, db_url=f"sqlite:///{tmp_path / 'gate.db'}", policy_reload_interval=0
        )
    )
    try:
        client = app.test_client()
        review = admission_review(kubectl_create("deployment", "hook", image))
        for _ in range(2):
            response = client.post("/validate", json=review)
            assert response.status_code == 200
            answer = response.get_json()["response"]
            assert answer["allowed"] is False
            assert "event-stream" in answer["status"]["message"]
        metrics = client.get("/metrics").get_data(as_text=True)
        assert 'gate_verification_cache_hits_total{cache="attestation"} 1.0' in metrics
        assert isinstance(state_of(app).store, SqlVerdictStore)
    finally:
        state_of(app).close()
