"""Keyless attestations: cosign's legacy ``.att`` annotations and Sigstore bundles as referrers."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from gate.attestations.reader import AttestationReader
from gate.oci.source import ResolvedImage
from gate.signatures.intoto import COSIGN_CUSTOM_V1, COSIGN_SIGN_V1, CYCLONEDX_BOM
from gate.signatures.keyless.authority import IdentityPattern, KeylessTrust
from gate.signatures.trust import TrustAuthority
from tests.unit.attestations.support import att_layer, cyclonedx, put_att, statement
from tests.unit.signatures.helpers import REPO, authority, private_key, push_image
from tests.unit.signatures.keyless.fake_sigstore import (
    EPOCH,
    GITHUB,
    FakeSigstore,
    Issued,
    ReferrerRegistry,
    b64,
    canonical,
    pem,
    sign,
)

BOM = cyclonedx(("left-pad", "1.3.0", "MIT"))
PREDICATE_HINT = "dev.sigstore.bundle.predicateType"


@pytest.fixture(scope="module")
def instance() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture(scope="module")
def root_path(instance: FakeSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance.write_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


@pytest.fixture(scope="module")
def alice(instance: FakeSigstore) -> Issued:
    return instance.issue()


def keyless(root_path: Path, subject: str = "alice@example.com") -> TrustAuthority:
    return TrustAuthority(
        "ci",
        keyless=KeylessTrust(
            IdentityPattern(subject), IdentityPattern(GITHUB), trusted_root=root_path
        ),
    )


def _legacy_layer(
    instance: FakeSigstore, registry: ReferrerRegistry, leaf: Issued, image: ResolvedImage
) -> dict[str, object]:
    """A keyless ``.att`` layer as cosign <= v2 writes it: envelope + cert, chain, Rekor SET."""
    payload = statement(image.digest, CYCLONEDX_BOM, BOM)
    payload_type = "application/vnd.in-toto+json"
    pae = b"DSSEv1 %d %s %d %s" % (len(payload_type), payload_type.encode(), len(payload), payload)
    envelope = json.dumps(
        {
            "payloadType": payload_type,
            "payload": b64(payload),
            "signatures": [{"keyid": "", "sig": b64(sign(leaf.key, pae))}],
        }
    ).encode()
    body = canonical(
        {
            "apiVersion": "0.0.1",
            "kind": "intoto",
            "spec": {
                "content": {
                    "hash": {"algorithm": "sha256", "value": "00" * 32},
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                },
                "publicKey": base64.b64encode(pem(leaf.certificate)).decode(),
            },
        }
    )
    return att_layer(
        registry,
        envelope,
        extra={
            "dev.sigstore.cosign/certificate": leaf.pem,
            "dev.sigstore.cosign/chain": instance.chain_pem,
            "dev.sigstore.cosign/bundle": instance.cosign_bundle(body, int(EPOCH.timestamp())),
        },
    )


def test_legacy_keyless_attestation_counts_for_its_identity(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    put_att(registry, image, [_legacy_layer(instance, registry, alice, image)])
    reader = AttestationReader(registry)
    result = reader.read(image, keyless(root_path))
    assert result.rejections == ()
    (attested,) = result.attestations
    assert attested.signer_label == f"alice@example.com ({GITHUB})"
    assert attested.sbom is not None

    other = reader.read(image, keyless(root_path, "mallory@example.com"))
    assert other.attestations == ()
    assert "not by the trusted identity mallory@example.com" in other.rejections[0].reason

    by_key = reader.read(image, authority("release", private_key("release")))
    assert "signed with a certificate (keyless)" in by_key.rejections[0].reason


def test_bundle_attestation_referrer_counts(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    bundle = instance.dsse_bundle(image.digest, alice, predicate_type=COSIGN_CUSTOM_V1)
    registry.attach(
        REPO,
        image.digest,
        json.dumps(bundle).encode(),
        annotations={PREDICATE_HINT: COSIGN_CUSTOM_V1},
    )
    result = AttestationReader(registry).read(image, keyless(root_path))
    assert result.rejections == ()
    (attested,) = result.attestations
    assert attested.predicate_type == COSIGN_CUSTOM_V1
    assert attested.source.startswith("Sigstore bundle referrer (sha256:")

    by_key = AttestationReader(registry).read(image, authority("release", private_key("release")))
    assert "counts only for keyless identities" in by_key.rejections[0].reason


def test_signature_bundles_are_not_attestations(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    bundle = instance.dsse_bundle(image.digest, alice, predicate_type=COSIGN_SIGN_V1)
    registry.attach(
        REPO,
        image.digest,
        json.dumps(bundle).encode(),
        annotations={PREDICATE_HINT: COSIGN_SIGN_V1},
    )
    result = AttestationReader(registry).read(image, keyless(root_path))
    assert (result.found, result.attestations, result.rejections) == (0, (), ())


def test_bundle_about_another_image_is_rejected(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    victim = push_image(registry, "victim")
    other = push_image(registry, "other")
    bundle = instance.dsse_bundle(other.digest, alice, predicate_type=COSIGN_CUSTOM_V1)
    registry.attach(REPO, victim.digest, json.dumps(bundle).encode())
    (rejection,) = AttestationReader(registry).read(victim, keyless(root_path)).rejections
    assert f"do not include {victim.digest}" in rejection.reason

    registry = ReferrerRegistry()
    victim = push_image(registry, "victim")
    other = push_image(registry, "other")
    bundle = instance.dsse_bundle(victim.digest, alice, predicate_type=COSIGN_CUSTOM_V1)
    registry.attach(REPO, victim.digest, json.dumps(bundle).encode(), manifest_subject=other.digest)
    (rejection,) = AttestationReader(registry).read(victim, keyless(root_path)).rejections
    assert "not this image" in rejection.reason


def test_unusable_trusted_root_is_an_error(tmp_path: Path) -> None:
    registry = ReferrerRegistry()
    image = push_image(registry, "v1")
    result = AttestationReader(registry).read(image, keyless(tmp_path / "missing.json"))
    assert result.error is not None
    assert "trusted root unusable" in result.error
