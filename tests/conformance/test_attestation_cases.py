"""Real cosign attestations and predicates through the attestation reader (no cosign binary here).

- SIG-COS-01..03: the attestation cosign v3 attaches as an OCI referrer (a
  Sigstore bundle with a DSSE in-toto statement), served by a registry
  double with the referrers API: it counts for the right identity and image
  digest only (CASES.md section 1b).
- COS-11: policy-controller's keyless vuln attestation in the legacy ``.att``
  form (envelope layer plus certificate, chain and Rekor bundle annotations):
  an authentic log entry for another envelope, rejected (section 2).
- The unsigned predicate bodies of ``intoto/predicates/`` read as the
  evidence they are, and pass ``gate attest``'s checks for their type.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from gate.attestations.predicate_file import PredicateKind, read_predicate
from gate.attestations.predicates import interpret
from gate.attestations.reader import AttestationReader
from gate.clock import fixed_clock
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.intoto import (
    COSIGN_CUSTOM_V1,
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
    STATEMENT_V1,
    Statement,
    Subject,
)
from gate.signatures.keyless.authority import IdentityPattern, KeylessTrust
from gate.signatures.trust import TrustAuthority
from tests.support.realdata import real_fixtures
from tests.unit.attestations.support import att_layer, put_att
from tests.unit.signatures.keyless.fake_sigstore import ReferrerRegistry

REPO = ImageReference.parse("registry.example/cosign/attested")
GITHUB_OAUTH = "https://github.com/login/oauth"
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"
COSIGN_IMAGE = Digest.parse(
    "sha256:732112270d7e59418a8c080b134b24cabd67d250d0d0147a97ed95ba5c280aa4"
)
#: The conformance suite's fixed "now" (CASES.md: re-checked on 2026-11-22).
TODAY = datetime(2026, 11, 22, tzinfo=UTC)
DISTROLESS = Digest.parse("sha256:a1e82f6a5f6dfc735165d3442e7cc5a615f72abac3db19452481f5f3c90fbfa8")


def _image(digest: Digest) -> ResolvedImage:
    """An image pinned to ``digest`` (the reader only needs its repository and digest)."""
    return ResolvedImage(
        reference=REPO.with_digest(digest),
        digest=digest,
        media_type="application/vnd.oci.image.manifest.v1+json",
        manifest=b"",
    )


def _keyless(
    subject: str, issuer: str, root: Path | None, *, regexp: bool = False
) -> TrustAuthority:
    return TrustAuthority(
        "ci",
        keyless=KeylessTrust(
            IdentityPattern(subject, regexp=regexp), IdentityPattern(issuer), root
        ),
    )


@pytest.mark.parametrize(
    ("row", "image", "subject", "reason"),
    [
        ("SIG-COS-01", COSIGN_IMAGE, "cody@soyland.com", None),
        ("SIG-COS-02", Digest.of(b"another image"), "cody@soyland.com", "do not include"),
        ("SIG-COS-03", COSIGN_IMAGE, "wrong", "not by the trusted identity"),
    ],
)
def test_cosign_v3_attestation_referrer(
    row: str, image: Digest, subject: str, reason: str | None
) -> None:
    folder = real_fixtures("signatures", "sigstore", "cosign-oci-referrers")
    bundle = (folder / "oci-attestation.sigstore.json").read_bytes()
    registry = ReferrerRegistry()
    registry.attach(
        REPO,
        image,
        bundle,
        annotations={"dev.sigstore.bundle.predicateType": COSIGN_CUSTOM_V1},
    )
    authority = _keyless(
        subject, GITHUB_OAUTH, folder / "trusted_root_pgi.json", regexp=subject == "wrong"
    )
    result = AttestationReader(registry).read(_image(image), authority)
    assert result.error is None, row
    if reason is None:
        assert result.rejections == (), row
        (attested,) = result.attestations
        assert attested.predicate_type == COSIGN_CUSTOM_V1
        assert attested.signer_label == f"cody@soyland.com ({GITHUB_OAUTH})"
    else:
        assert result.attestations == (), row
        (rejection,) = result.rejections
        assert reason in rejection.reason, row


def test_cos_11_tampered_legacy_vuln_attestation_is_rejected() -> None:
    folder = real_fixtures("signatures", "cosign", "policy-controller-distroless-vuln-att")
    registry = ReferrerRegistry(api=False)
    image = _image(DISTROLESS)
    layer = att_layer(
        registry,
        (folder / "envelope.json").read_bytes(),
        hint=COSIGN_VULN_V1,
        repository=REPO,
        extra={
            "dev.sigstore.cosign/certificate": (folder / "cert.pem").read_text(),
            "dev.sigstore.cosign/chain": (folder / "chain.pem").read_text(),
            "dev.sigstore.cosign/bundle": (folder / "rekor_bundle.json").read_text(),
        },
    )
    put_att(registry, image, [layer], repository=REPO)
    identity = "https://github.com/distroless/static/.github/workflows/release.yaml@refs/heads/main"
    reader = AttestationReader(registry, clock=fixed_clock(TODAY))
    result = reader.read(image, _keyless(identity, GITHUB_ACTIONS, None))
    assert result.error is None
    assert result.attestations == ()
    (rejection,) = result.rejections
    assert rejection.predicate_type == COSIGN_VULN_V1
    assert "payload hash does not match the signed payload" in rejection.reason


def _statement(predicate_type: str, predicate: dict[str, Any]) -> Statement:
    return Statement(
        statement_type=STATEMENT_V1,
        subjects=(Subject(MappingProxyType({"sha256": COSIGN_IMAGE.hex})),),
        predicate_type=predicate_type,
        predicate=predicate,
    )


@pytest.mark.parametrize(
    ("name", "predicate_type", "kind"),
    [
        ("bom-go-mod.cyclonedx.json", CYCLONEDX_BOM, PredicateKind.CYCLONEDX),
        ("bom-go-mod.spdx.json", SPDX_DOCUMENT, PredicateKind.SPDX),
        ("slsa_predicate_v1_0.json", SLSA_PROVENANCE_V1, PredicateKind.SLSAPROVENANCE),
        ("slsa_predicate_v0_2.json", SLSA_PROVENANCE_V02, PredicateKind.SLSAPROVENANCE),
    ],
)
def test_real_predicates(name: str, predicate_type: str, kind: PredicateKind) -> None:
    path = real_fixtures("signatures", "intoto", "predicates", name)
    data = path.read_bytes()
    result = interpret(_statement(predicate_type, json.loads(data)), name)
    assert result.problem is None, result.problem
    if kind in (PredicateKind.CYCLONEDX, PredicateKind.SPDX):
        assert result.sbom is not None
        assert result.sbom.components == ()  # both documents list no packages
    assert read_predicate(data, name, kind).predicate_type == predicate_type


def test_real_vuln_predicate_without_result_is_no_scan() -> None:
    path = real_fixtures("signatures", "intoto", "predicates", "cosign-vuln-predicate.json")
    result = interpret(_statement(COSIGN_VULN_V1, json.loads(path.read_bytes())), path.name)
    assert result.scan is None
    assert result.problem is not None
    assert "scanner.result: is null" in result.problem


def test_real_vuln_predicate_with_a_sarif_result_reads() -> None:
    folder = real_fixtures("signatures", "cosign", "policy-controller-distroless-vuln-att")
    envelope = json.loads((folder / "envelope.json").read_bytes())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    result = interpret(_statement(COSIGN_VULN_V1, statement["predicate"]), "envelope.json")
    assert result.problem is None
    assert result.scan is not None
    assert result.scan.format == "sarif"
    assert result.scan.findings == ()
    assert result.scan.created_at is not None
    assert result.scan.created_at.isoformat() == "2022-07-29T02:28:48+00:00"
    assert result.scanner == "https://github.com/aquasecurity/trivy"
