"""Builders shared by the policy test tests: a small policy with keys, and test files."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gate.signatures.keys import PublicKey
from tests.unit.policy.support import policy_text, write_keys, write_policy

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64

#: Two rules and a default: enough to tell every kind of mismatch apart.
POLICY_SPEC = """\
defaultAction: deny
trust:
  release: {cosign: {publicKeys: [keys/release.pub]}}
  pair: {cosign: {publicKeys: [keys/alice.pub, keys/bob.pub]}}
rules:
  - name: system
    match: {namespaces: [kube-system]}
    action: allow
  - name: apps
    match: {images: ["registry.acme.io/apps/**"]}
    signatures: {anyOf: [release]}
    vulnerabilities:
      denySeverity: CRITICAL
      fixableOnly: true
      requireScan: false
      maxScanAge: 7d
      exceptions:
        - {id: CVE-2024-9999, expires: 2026-12-31, reason: "accepted; ticket T-1"}
    sbom:
      require: false
      deniedLicenses: [AGPL-3.0-only]
  - name: pair
    match: {images: ["registry.acme.io/pair/**"]}
    signatures: {threshold: {count: 2, of: [pair]}}
"""

HEADER = """\
apiVersion: gate/v1
kind: PolicyTest
policy: policy.yaml
now: 2026-06-01T12:00:00Z
cases:
"""


def make_policy(directory: Path) -> tuple[Path, dict[str, PublicKey]]:
    """``directory/policy.yaml`` (``POLICY_SPEC``) with its keys; the keys by name."""
    keys = write_keys(directory, ("release", "alice", "bob"))
    return write_policy(directory, policy_text(POLICY_SPEC)), keys


def cases_text(cases: str, header: str = HEADER) -> str:
    """A whole test file: ``header`` then ``cases`` (written at column 0) under ``cases:``."""
    return header + textwrap.indent(textwrap.dedent(cases), "  ")


def write_cases(directory: Path, cases: str, name: str = "policy.tests.yaml") -> Path:
    """Write a test file of ``cases`` into ``directory``."""
    path = directory / name
    path.write_text(cases_text(cases), encoding="utf-8")
    return path
