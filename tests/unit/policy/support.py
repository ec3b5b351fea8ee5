"""Builders shared by the policy tests: keys, policy files, evidence, findings."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from gate.errors import PolicyValidationError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.evidence import ImageEvidence
from gate.policy.loader import load_policy
from gate.policy.model import Policy
from gate.sbom.component import Component, Sbom
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.keys import PublicKey, load_public_key

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DIGEST = Digest.of(b"the image manifest")
OTHER_DIGEST = Digest.of(b"another image manifest")
KEY_NAMES = ("release", "alice", "bob", "charlie")

HEADER = """\
apiVersion: gate/v1
kind: Policy
metadata:
  name: test
spec:
"""


def public_pem(kind: str = "ec") -> bytes:
    """A fresh public key in PEM (EC P-256 by default, or Ed25519)."""
    if kind == "ed25519":
        private_ed = ed25519.Ed25519PrivateKey.generate()
        return private_ed.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    private = ec.generate_private_key(ec.SECP256R1())
    return private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_keys(directory: Path, names: tuple[str, ...] = KEY_NAMES) -> dict[str, PublicKey]:
    """Write ``keys/<name>.pub`` under ``directory``; return the parsed keys by name."""
    keys_dir = directory / "keys"
    keys_dir.mkdir(exist_ok=True)
    keys: dict[str, PublicKey] = {}
    for name in names:
        pem = public_pem()
        (keys_dir / f"{name}.pub").write_bytes(pem)
        keys[name] = load_public_key(pem, label=f"keys/{name}.pub")
    return keys


def policy_text(spec: str) -> str:
    """A full policy document around ``spec`` (written as if at column 0)."""
    return HEADER + textwrap.indent(textwrap.dedent(spec), "  ")


def write_policy(directory: Path, text: str, name: str = "policy.yaml") -> Path:
    """Write ``text`` as ``directory/name`` and return its path."""
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_spec(directory: Path, spec: str) -> Policy:
    """Load a policy whose spec is ``spec``; key files are looked up in ``directory``."""
    return load_policy(write_policy(directory, policy_text(spec)))


def error_lines(path: Path) -> list[str]:
    """The error lines of loading ``path`` (which must fail validation)."""
    try:
        load_policy(path)
    except PolicyValidationError as exc:
        return str(exc).splitlines()
    raise AssertionError(f"{path} loaded without errors")


def evidence(
    reference: str = "registry.acme.io/prod/app:1.0",
    *,
    namespace: str | None = None,
    signatures: tuple[AuthorityResult, ...] = (),
    scans: tuple[ScanReport, ...] = (),
    sboms: tuple[Sbom, ...] = (),
    digest: Digest = DIGEST,
) -> ImageEvidence:
    """Evidence for one image; signature results are keyed by their authority."""
    return ImageEvidence(
        reference=ImageReference.parse(reference),
        digest=digest,
        namespace=namespace,
        signatures={r.authority: r for r in signatures},
        scans=scans,
        sboms=sboms,
    )


def signature(authority: str, key: PublicKey, digest: Digest = DIGEST) -> VerifiedSignature:
    """A cosign signature by ``key`` that verified for ``authority``."""
    return VerifiedSignature(
        authority=authority,
        kind="cosign",
        signer=key.fingerprint,
        signer_label=key.label,
        digest=digest,
    )


def result(
    authority: str,
    *signatures: VerifiedSignature,
    rejections: tuple[str, ...] = (),
    error: str | None = None,
) -> AuthorityResult:
    """The verification result of one authority."""
    return AuthorityResult(
        authority=authority, signatures=signatures, rejections=rejections, error=error
    )


def finding(
    vuln_id: str,
    severity: Severity,
    *,
    package: str = "openssl",
    version: str = "3.0.1",
    aliases: tuple[str, ...] = (),
    cvss: float | None = None,
    fixed: tuple[str, ...] = (),
    fix_state: FixState | None = None,
    target: str = "image (debian 12)",
) -> Finding:
    """A finding; fixed versions make it fixable unless ``fix_state`` says otherwise."""
    if fix_state is None:
        fix_state = FixState.FIXED if fixed else FixState.NOT_FIXED
    return Finding(
        id=vuln_id,
        package_name=package,
        package_version=version,
        severity=severity,
        aliases=aliases,
        target=target,
        cvss=(CvssScore("nvd", "3.x", cvss),) if cvss is not None else (),
        fixed_versions=fixed,
        fix_state=fix_state,
    )


def report(
    *findings: Finding, created_at: datetime | None = NOW, source: str = "trivy.json"
) -> ScanReport:
    """A Trivy report holding ``findings``."""
    return ScanReport(source=source, format="trivy", findings=findings, created_at=created_at)


def sbom(*components: Component, source: str = "sbom.cdx.json") -> Sbom:
    """A CycloneDX SBOM holding ``components``."""
    return Sbom(source=source, format="cyclonedx", spec_version="1.5", components=components)
