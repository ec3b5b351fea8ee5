"""Rule selection: first match wins, namespaces, digests, required authorities."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.oci.reference import ImageReference
from gate.policy.model import Policy
from gate.policy.select import required_authorities, select_rule
from tests.unit.policy.support import DIGEST, load_spec

SPEC = """\
trust:
  release: {cosign: {publicKeys: [keys/release.pub]}}
  alice: {cosign: {publicKeys: [keys/alice.pub]}}
  bob: {cosign: {publicKeys: [keys/bob.pub]}}
rules:
  - name: system
    match: {namespaces: ["kube-system"]}
    action: allow
  - name: prod-ns
    match:
      images: ["registry.acme.io/prod/**"]
      namespaces: ["prod-*"]
    signatures: {allOf: [alice, bob]}
  - name: prod
    match: {images: ["registry.acme.io/prod/**"]}
    signatures: {anyOf: [release]}
  - name: pinned
    match: {images: ["ghcr.io/acme/tool@sha256:*"]}
    action: warn
  - name: hub
    match: {images: ["docker.io/library/*"]}
    vulnerabilities: {requireScan: false}
"""


@pytest.fixture(scope="module")
def policy(key_dir: Path) -> Policy:
    return load_spec(key_dir, SPEC)


@pytest.mark.parametrize(
    ("reference", "namespace", "rule"),
    [
        ("registry.acme.io/prod/app:1", None, "prod"),
        ("registry.acme.io/prod/app:1", "prod-eu", "prod-ns"),
        ("registry.acme.io/prod/app:1", "staging", "prod"),
        ("registry.acme.io/prod/app:1", "kube-system", "system"),  # first match wins
        ("quay.io/anything:1", "kube-system", "system"),
        ("registry.acme.io/dev/app:1", "dev", None),
        ("nginx:1.25", None, "hub"),
        ("docker.io/library/nginx", None, "hub"),
        ("docker.io/bitnami/nginx", None, None),
        (f"ghcr.io/acme/tool@{DIGEST}", None, "pinned"),
        ("ghcr.io/acme/tool:1", None, None),
    ],
)
def test_select_rule(
    policy: Policy, reference: str, namespace: str | None, rule: str | None
) -> None:
    selected = select_rule(policy, ImageReference.parse(reference), namespace)
    assert (selected.name if selected else None) == rule


def test_pinned_reference_selects_digest_globs(policy: Policy) -> None:
    reference = ImageReference.parse("ghcr.io/acme/tool:1").with_digest(DIGEST)
    selected = select_rule(policy, reference, None)
    assert selected is not None
    assert selected.name == "pinned"


def test_required_authorities(policy: Policy) -> None:
    by_name = {rule.name: rule for rule in policy.rules}
    assert [a.name for a in required_authorities(by_name["prod-ns"])] == ["alice", "bob"]
    assert required_authorities(by_name["prod"]) == (policy.trust["release"],)
    assert required_authorities(by_name["system"]) == ()
    assert required_authorities(by_name["hub"]) == ()


def test_tag_rules_see_the_tag_only_when_no_digest_was_written(key_dir: Path) -> None:
    policy = load_spec(
        key_dir,
        """\
        rules:
          - name: v1
            match: {images: ["registry.acme.io/prod/app:v1.0"]}
            action: allow
        """,
    )
    by_tag = ImageReference.parse("registry.acme.io/prod/app:v1.0")
    assert select_rule(policy, by_tag, None) is not None
    assert select_rule(policy, by_tag, None, digest=DIGEST) is not None
    with_digest = ImageReference.parse(f"registry.acme.io/prod/app:v1.0@{DIGEST}")
    assert select_rule(policy, with_digest, None) is None
    assert select_rule(policy, with_digest, None, digest=DIGEST) is None
