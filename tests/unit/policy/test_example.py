"""The bundled example policy (policies/example.yaml) is valid and does what it says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gate.policy.evaluate import evaluate
from gate.policy.loader import load_policy
from gate.policy.model import Policy
from gate.policy.verdict import Decision
from gate.scanners.finding import Severity
from gate.signatures.keys import load_public_key
from tests.unit.policy.support import NOW, evidence, finding, public_pem, report, result, signature

EXAMPLE = Path(__file__).resolve().parents[3] / "policies" / "example.yaml"


@pytest.fixture
def example(tmp_path: Path) -> tuple[Policy, bytes]:
    """The example loaded next to a temporary keys/example.pub (the real one is the lead's)."""
    shutil.copy(EXAMPLE, tmp_path / "example.yaml")
    (tmp_path / "keys").mkdir()
    pem = public_pem()
    (tmp_path / "keys" / "example.pub").write_bytes(pem)
    return load_policy(tmp_path / "example.yaml"), pem


def test_example_names_the_schema_for_editors() -> None:
    first = EXAMPLE.read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=./policy.schema.json"


def test_example_loads(example: tuple[Policy, bytes]) -> None:
    policy, _ = example
    assert policy.name == "example"
    assert policy.default_action is Decision.DENY
    assert [rule.name for rule in policy.rules] == ["system", "demo"]
    demo = policy.rules[1]
    assert demo.signatures is not None
    assert demo.signatures.names == ("release",)
    assert demo.vulnerabilities is not None
    assert demo.vulnerabilities.deny_severity is Severity.CRITICAL
    assert demo.vulnerabilities.fixable_only is True
    assert demo.scan is not None
    assert demo.scan.require is False


def test_example_decisions(example: tuple[Policy, bytes]) -> None:
    policy, pem = example
    key = load_public_key(pem, label="keys/example.pub")
    signed = (result("release", signature("release", key)),)
    demo = "localhost:5000/demo/app:v1"
    assert evaluate(policy, evidence(demo, signatures=signed), NOW).decision is Decision.ALLOW
    unsigned = evaluate(policy, evidence(demo, signatures=(result("release"),)), NOW)
    assert unsigned.decision is Decision.DENY
    critical = report(finding("CVE-2024-1", Severity.CRITICAL, fixed=("2",)))
    vulnerable = evaluate(policy, evidence(demo, signatures=signed, scans=(critical,)), NOW)
    assert vulnerable.decision is Decision.DENY
    elsewhere = evaluate(policy, evidence("docker.io/library/nginx:1.25"), NOW)
    assert elsewhere.decision is Decision.DENY
    assert elsewhere.rule is None
    system = evaluate(policy, evidence("quay.io/x:1", namespace="kube-system"), NOW)
    assert system.decision is Decision.ALLOW
