"""``gate check --vex`` and the policy's ``vex`` list: statements about this image's digest
suppress findings, with the justification in the verdict; statements about other images,
``affected`` and ``under_investigation`` change nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gate.oci.digest import Digest
from tests.integration.gate_cli import GateRun, isolate_environment, run_gate, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {{name: vex}}
spec:
{vex}  rules:
    - name: all
      match: {{images: ["127.0.0.1:*/**"]}}
      vulnerabilities: {{denySeverity: HIGH}}
"""


def _report(name: str, digest: Digest) -> dict[str, Any]:
    return {
        "SchemaVersion": 2,
        "CreatedAt": datetime.now(UTC).isoformat(),
        "ArtifactName": name,
        "ArtifactType": "container_image",
        "Metadata": {"RepoDigests": [f"{name.rsplit(':', 1)[0]}@{digest}"]},
        "Results": [
            {
                "Target": "app",
                "Class": "lang-pkgs",
                "Type": "gobinary",
                "Vulnerabilities": [
                    {
                        "VulnerabilityID": "CVE-2026-1111",
                        "PkgName": "golang.org/x/net",
                        "PkgIdentifier": {"PURL": "pkg:golang/golang.org/x/net@v0.1.0"},
                        "InstalledVersion": "v0.1.0",
                        "FixedVersion": "v0.2.0",
                        "Severity": "CRITICAL",
                    }
                ],
            }
        ],
    }


def _openvex(product: str, status: str, **extra: str) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "vulnerability": {"name": "CVE-2026-1111"},
        "products": [
            {
                "@id": product,
                "subcomponents": [{"@id": "pkg:golang/golang.org/x/net@v0.1.0"}],
            }
        ],
        "status": status,
        **extra,
    }
    return {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://acme.example/vex/1",
        "author": "Acme security",
        "timestamp": "2026-11-20T10:00:00Z",
        "version": 1,
        "statements": [statement],
    }


@pytest.fixture
def image(
    registry: RunningRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, Digest, Path]:
    """An image and a Trivy report with one CRITICAL finding bound to its digest."""
    isolate_environment(monkeypatch, tmp_path / "home")
    digest = push_image(registry, "vex/app", "1", build_image(content=b"vex"))
    name = f"{registry.host}/vex/app:1"
    report = tmp_path / "trivy.json"
    report.write_text(json.dumps(_report(name, digest)))
    return name, digest, report


def _check(
    capsys: pytest.CaptureFixture[str], policy: Path, name: str, report: Path, *vex: Path
) -> GateRun:
    args = ["check", name, "--policy", str(policy), "--scan", str(report), "--format", "json"]
    for document in vex:
        args += ["--vex", str(document)]
    return run_gate(capsys, *args)


def test_not_affected_for_this_digest_suppresses_with_its_justification(
    image: tuple[str, Digest, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, digest, report = image
    policy = write_policy(tmp_path, POLICY.format(vex=""))
    assert _check(capsys, policy, name, report).code == 1
    vex = tmp_path / "vex.json"
    product = f"pkg:oci/app@{digest}"
    vex.write_text(
        json.dumps(
            _openvex(product, "not_affected", justification="vulnerable_code_not_in_execute_path")
        )
    )
    run = _check(capsys, policy, name, report, vex)
    assert run.code == 0, run.stdout + run.stderr
    check = run.check("vulnerabilities")
    assert (
        "1 suppressed by VEX (CVE-2026-1111: not_affected, vulnerable_code_not_in_execute_path"
        in check["reason"]
    )
    assert (
        check["details"]["vexSuppressed"][0]["justification"]
        == "vulnerable_code_not_in_execute_path"
    )


@pytest.mark.parametrize("status", ["affected", "under_investigation"])
def test_other_statuses_change_nothing(
    image: tuple[str, Digest, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], status: str
) -> None:
    name, digest, report = image
    extra = {"action_statement": "upgrade"} if status == "affected" else {}
    vex = tmp_path / "vex.json"
    vex.write_text(json.dumps(_openvex(f"pkg:oci/app@{digest}", status, **extra)))
    policy = write_policy(tmp_path, POLICY.format(vex=""))
    assert _check(capsys, policy, name, report, vex).code == 1


def test_a_statement_about_another_image_does_not_apply_and_the_policy_can_list_vex(
    image: tuple[str, Digest, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, digest, report = image
    other = tmp_path / "other.json"
    other.write_text(
        json.dumps(
            _openvex(
                f"pkg:oci/app@{Digest.of(b'another image')}",
                "not_affected",
                justification="component_not_present",
            )
        )
    )
    mine = tmp_path / "mine.json"
    mine.write_text(json.dumps(_openvex(f"pkg:oci/app@{digest}", "fixed")))
    assert (
        _check(capsys, write_policy(tmp_path, POLICY.format(vex="")), name, report, other).code == 1
    )
    listed = write_policy(tmp_path, POLICY.format(vex="  vex: [mine.json]\n"), name="listed.yaml")
    run = _check(capsys, listed, name, report)
    assert run.code == 0, run.stdout + run.stderr
    assert "suppressed by VEX (CVE-2026-1111: fixed" in run.check("vulnerabilities")["reason"]


def test_a_broken_vex_file_is_exit_2_with_one_line(
    image: tuple[str, Digest, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    name, _, report = image
    broken = tmp_path / "broken.json"
    broken.write_text('{"@context": "https://openvex.dev/ns/v0.2.0", "statements": [')
    run = _check(capsys, write_policy(tmp_path, POLICY.format(vex="")), name, report, broken)
    assert run.code == 2
    assert "broken.json" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
