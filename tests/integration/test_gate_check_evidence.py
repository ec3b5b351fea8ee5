"""``gate check`` with real Trivy reports and CycloneDX SBOMs bound to a pushed image.

The reports are real tool outputs from ../shared/fixtures/real; only the fields
that say which image they describe (RepoDigests, CreatedAt) are pointed at the
image this test pushed, so the binding by digest is exercised for real.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main
from gate.oci.digest import Digest
from tests.integration.gate_cli import (
    GateRun,
    isolate_environment,
    make_key_pair,
    run_gate,
    write_policy,
)
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.integration

REPOSITORY = "evidence/app"


@pytest.fixture(scope="module")
def signed_image(
    registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Digest, Path]:
    """A pushed, signed image: (reference, digest, key directory)."""
    keys = tmp_path_factory.mktemp("evidence") / "keys"
    key, _ = make_key_pair(keys, "release")
    digest = push_image(registry, REPOSITORY, "1.0", build_image(content=b"evidence"))
    reference = f"{registry.host}/{REPOSITORY}:1.0"
    with pytest.MonkeyPatch.context() as patch:
        isolate_environment(patch, tmp_path_factory.mktemp("home"))
        assert main(["sign", reference, "--key", str(key)]) == 0
    return reference, digest, keys


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _policy(keys: Path, vulnerabilities: str = "", sbom: str = "") -> Path:
    body = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: evidence}
spec:
  trust:
    release: {cosign: {publicKeys: [keys/release.pub]}}
  rules:
    - name: app
      match: {images: ["127.0.0.1:*/evidence/**"]}
      signatures: {anyOf: [release]}
"""
    if vulnerabilities:
        body += f"      vulnerabilities: {vulnerabilities}\n"
    if sbom:
        body += f"      sbom: {sbom}\n"
    return write_policy(keys.parent, body)


def _trivy_report(
    tmp_path: Path, reference: str, digest: Digest, *, created: datetime | None
) -> tuple[Path, dict[str, Any]]:
    document = json.loads(real_fixtures("trivy", "alpine-39.json").read_bytes())
    name = reference.rsplit(":", 1)[0]
    document["ArtifactName"] = reference
    document["Metadata"]["RepoDigests"] = [f"{name}@{digest}"]
    if created is None:
        document.pop("CreatedAt", None)
    else:
        document["CreatedAt"] = created.isoformat().replace("+00:00", "Z")
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(document))
    return path, document


def _critical_ids(document: dict[str, Any]) -> set[str]:
    return {
        v["VulnerabilityID"]
        for result in document["Results"]
        for v in result.get("Vulnerabilities") or []
        if v["Severity"] == "CRITICAL"
    }


def _check(
    capsys: pytest.CaptureFixture[str], reference: str, policy: Path, *extra: str
) -> GateRun:
    return run_gate(capsys, "check", reference, "--policy", str(policy), "--format", "json", *extra)


def test_critical_finding_denies_and_names_cve_and_packages(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference, digest, keys = signed_image
    report, document = _trivy_report(tmp_path, reference, digest, created=datetime.now(UTC))
    policy = _policy(keys, "{denySeverity: CRITICAL, requireScan: true, maxScanAge: 7d}")
    run = _check(capsys, reference, policy, "--scan", str(report))
    assert run.code == 1
    vulnerabilities = run.check("vulnerabilities")
    assert vulnerabilities["outcome"] == "fail"
    violations = vulnerabilities["details"]["violations"]
    assert {v["id"] for v in violations} == _critical_ids(document) == {"CVE-2019-14697"}
    assert {v["package"] for v in violations} == {"musl", "musl-utils"}
    assert run.check("scan")["outcome"] == "pass"


def test_exception_lets_the_image_through_and_is_reported(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference, digest, keys = signed_image
    report, _ = _trivy_report(tmp_path, reference, digest, created=datetime.now(UTC))
    policy = _policy(
        keys,
        "{denySeverity: CRITICAL, exceptions: [{id: CVE-2019-14697, expires: 2999-12-31, "
        'reason: "musl not used; SEC-1"}]}',
    )
    run = _check(capsys, reference, policy, "--scan", str(report))
    assert run.code == 0, run.stdout
    assert "SEC-1" in json.dumps(run.check("vulnerabilities"))


def test_expired_exception_stops_applying_and_says_so(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference, digest, keys = signed_image
    report, _ = _trivy_report(tmp_path, reference, digest, created=datetime.now(UTC))
    policy = _policy(
        keys,
        "{denySeverity: CRITICAL, exceptions: [{id: CVE-2019-14697, expires: 2020-01-31, "
        'reason: "old"}]}',
    )
    run = _check(capsys, reference, policy, "--scan", str(report))
    assert run.code == 1
    assert "expired on 2020-01-31" in run.check("vulnerabilities")["reason"]


def test_report_of_another_digest_does_not_satisfy_require_scan(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference, _, keys = signed_image
    other = Digest("sha256", "f" * 64)
    report, _ = _trivy_report(tmp_path, reference, other, created=datetime.now(UTC))
    policy = _policy(keys, "{denySeverity: CRITICAL, requireScan: true}")
    run = _check(capsys, reference, policy, "--scan", str(report))
    assert run.code == 1
    assert run.check("scan")["outcome"] == "fail"
    assert "no scan report" in run.check("scan")["reason"]
    # The verdict says why the given report did not count (JSON and text).
    why = f"trivy.json: describes {other}, not this image"
    assert any(why in note for note in run.json()["images"][0]["notes"])
    text = run_gate(capsys, "check", reference, "--policy", str(policy), "--scan", str(report))
    assert f"note:   {report}: describes {other}, not this image" in text.stdout


def test_old_or_undated_report_breaks_max_scan_age(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference, digest, keys = signed_image
    policy = _policy(keys, "{denySeverity: CRITICAL, fixableOnly: true, maxScanAge: 7d}")
    old, _ = _trivy_report(
        tmp_path, reference, digest, created=datetime.now(UTC) - timedelta(days=30)
    )
    run = _check(capsys, reference, policy, "--scan", str(old))
    assert run.code == 1
    assert run.check("scan")["outcome"] == "fail"
    undated, _ = _trivy_report(tmp_path, reference, digest, created=None)
    run = _check(capsys, reference, policy, "--scan", str(undated))
    assert run.code == 1
    assert run.check("scan")["outcome"] == "fail"


def _sbom(tmp_path: Path, reference: str, digest: Digest) -> Path:
    document = json.loads(real_fixtures("cyclonedx", "trivy-fluentd-1.7.json").read_bytes())
    name = reference.rsplit(":", 1)[0]
    component = document["metadata"]["component"]
    component["name"] = reference
    component["properties"] = [
        p for p in component.get("properties", []) if p["name"] != "aquasecurity:trivy:RepoDigest"
    ] + [{"name": "aquasecurity:trivy:RepoDigest", "value": f"{name}@{digest}"}]
    path = tmp_path / "bom.cdx.json"
    path.write_text(json.dumps(document))
    return path


def test_sbom_with_denied_license_denies(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    reference, digest, keys = signed_image
    bom = _sbom(tmp_path, reference, digest)
    denied = _policy(keys, sbom="{require: true, deniedLicenses: [GPL-3.0-only]}")
    run = _check(capsys, reference, denied, "--sbom", str(bom))
    assert run.code == 1
    assert run.check("sbom")["outcome"] == "fail"
    assert "GPL-3.0-only" in run.check("sbom")["reason"]
    allowed = _policy(keys, sbom="{require: true, deniedLicenses: [SSPL-1.0]}")
    assert _check(capsys, reference, allowed, "--sbom", str(bom)).code == 0


def test_missing_required_sbom_denies(
    signed_image: tuple[str, Digest, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    reference, _, keys = signed_image
    run = _check(capsys, reference, _policy(keys, sbom="{require: true}"))
    assert run.code == 1
    assert run.check("sbom")["outcome"] == "fail"
