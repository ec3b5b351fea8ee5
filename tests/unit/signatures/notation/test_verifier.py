"""``NotationVerifier`` on an in-memory registry: discovery, manifest checks, verdicts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import FetchedManifest, ResolvedImage
from gate.signatures.notation.authority import NotationTrust, VerificationLevel
from gate.signatures.notation.envelope import COSE_MEDIA_TYPE, JWS_MEDIA_TYPE, MAX_ENVELOPE_SIZE
from gate.signatures.notation.verifier import (
    EMPTY_CONFIG_MEDIA_TYPE,
    SIGNATURE_ARTIFACT_TYPE,
    NotationVerifier,
)
from gate.signatures.trust import TrustAuthority
from tests.support.fixture_registry import MemoryRegistry
from tests.unit.signatures.notation.signing import (
    IMAGE_MANIFEST,
    NOW,
    Spec,
    cose,
    jws,
    payload_for,
    pki,
    trust_for,
)

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REPOSITORY = ImageReference.parse("registry.example/team/app")
EMPTY = b"{}"


class ReferrerRegistry(MemoryRegistry):
    """A ``MemoryRegistry`` with the referrers API switched on or off."""

    def __init__(self, *, api: bool = False) -> None:
        super().__init__()
        self.api = api
        self.indexes: dict[Digest, bytes] = {}

    def fetch_referrers(
        self, repository: ImageReference, digest: Digest, artifact_type: str | None = None
    ) -> FetchedManifest | None:
        """The index for ``digest`` when the API is on; None (no API) otherwise."""
        self.calls.append(("referrers", repository.name, str(digest)))
        if not self.api:
            return None
        data = self.indexes.get(digest, json.dumps({"schemaVersion": 2, "manifests": []}).encode())
        return FetchedManifest(Digest.of(data), OCI_INDEX, data)


def _descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": str(Digest.of(data)), "size": len(data), **extra}


def signature_manifest(
    envelope: bytes,
    image: ResolvedImage,
    *,
    envelope_type: str = JWS_MEDIA_TYPE,
    artifact_type: str | None = SIGNATURE_ARTIFACT_TYPE,
    config_type: str = EMPTY_CONFIG_MEDIA_TYPE,
    subject: dict[str, Any] | None = None,
    layers: list[dict[str, Any]] | None = None,
) -> bytes:
    """A Notation signature manifest for ``image`` carrying ``envelope``."""
    document: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": _descriptor(config_type, EMPTY),
        "layers": layers if layers is not None else [_descriptor(envelope_type, envelope)],
        "subject": subject or _descriptor(image.media_type, image.manifest),
        "annotations": {"io.cncf.notary.x509chain.thumbprint#S256": "[]"},
    }
    if artifact_type is not None:
        document["artifactType"] = artifact_type
    return json.dumps(document).encode()


class Setup:
    """An image in ``ReferrerRegistry`` and helpers to attach signatures to it."""

    def __init__(self, *, api: bool = False) -> None:
        self.registry = ReferrerRegistry(api=api)
        self.registry.put_manifest(REPOSITORY, IMAGE_MANIFEST, tag="v1")
        self.image = self.registry.resolve(REPOSITORY.with_tag("v1"))
        self.signatures: list[bytes] = []

    def attach(self, envelope: bytes, **manifest: Any) -> Digest:
        """Store ``envelope`` and a signature manifest; list it in the referrers index."""
        self.registry.put_blob(REPOSITORY, envelope)
        data = signature_manifest(envelope, self.image, **manifest)
        digest = self.registry.put_manifest(REPOSITORY, data)
        self.signatures.append(data)
        # The listing always claims a Notation signature: whether the manifest is one is
        # what the verifier must check itself.
        entries = [
            _descriptor(OCI_MANIFEST, signature, artifactType=SIGNATURE_ARTIFACT_TYPE)
            for signature in self.signatures
        ]
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        self.registry.put_manifest(REPOSITORY, index.encode(), tag=self.image.digest.tag_form)
        self.registry.indexes[self.image.digest] = index.encode()
        return digest

    def verify(self, trust: NotationTrust) -> Any:
        """Run the verifier for an authority ``release`` holding ``trust``."""
        verifier = NotationVerifier(self.registry, clock=lambda: NOW)
        return verifier.verify(self.image, TrustAuthority("release", notation=trust))


@pytest.mark.parametrize("api", [False, True])
@pytest.mark.parametrize(("build", "media_type"), [(jws, JWS_MEDIA_TYPE), (cose, COSE_MEDIA_TYPE)])
def test_a_trusted_signature_counts(api: bool, build: Any, media_type: str) -> None:
    setup = Setup(api=api)
    p = pki()
    setup.attach(build(Spec(p.chain)), envelope_type=media_type)
    trust = trust_for(p.root)
    result = setup.verify(trust)
    assert result.satisfied, result
    [signature] = result.signatures
    assert signature.kind == "notation"
    assert signature.signer == trust.signer_id
    assert signature.signer_label == "CN=gate-test,O=Notary,L=Seattle,ST=WA,C=US"
    assert signature.digest == setup.image.digest
    assert any("revocation not checked" in note for note in result.notes)
    kinds = {call[0] for call in setup.registry.calls}
    assert "referrers" in kinds
    assert "blob" in kinds


def test_oci_1_0_signature_manifests_are_accepted() -> None:
    setup = Setup()
    p = pki()
    setup.attach(jws(Spec(p.chain)), artifact_type=None, config_type=SIGNATURE_ARTIFACT_TYPE)
    assert setup.verify(trust_for(p.root)).satisfied


def test_no_signature_is_a_rejection_not_a_pass() -> None:
    setup = Setup()
    result = setup.verify(trust_for(pki().root))
    assert not result.satisfied
    assert result.error is None
    assert result.rejections == (
        f"no Notation signature found for {setup.image.digest} in {REPOSITORY.name} "
        "(referrers tag-schema)",
    )


def test_transplanted_signature_is_rejected() -> None:
    setup = Setup()
    p = pki()
    other = Digest.of(b"another image")
    setup.attach(jws(Spec(p.chain, payload=payload_for(other))))
    result = setup.verify(trust_for(p.root))
    assert not result.satisfied
    [rejection] = result.rejections
    assert f"signature is for {other}, not for {setup.image.digest}" in rejection
    assert rejection.endswith("(integrity)")


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        (
            {"subject": {"mediaType": OCI_MANIFEST, "digest": str(Digest.of(b"x")), "size": 1}},
            "subject is",
        ),
        ({"config_type": SIGNATURE_ARTIFACT_TYPE}, "config media type"),
        ({"artifact_type": None}, "neither artifactType nor config"),
        ({"artifact_type": "application/vnd.example"}, "artifactType"),
        ({"envelope_type": "application/json"}, "envelope media type"),
        ({"layers": []}, "exactly one layer"),
        (
            {
                "layers": [
                    {"mediaType": JWS_MEDIA_TYPE, "digest": str(Digest.of(b"a")), "size": 1},
                    {"mediaType": JWS_MEDIA_TYPE, "digest": str(Digest.of(b"b")), "size": 1},
                ]
            },
            "exactly one layer",
        ),
    ],
)
def test_malformed_signature_manifests_are_rejected(manifest: dict[str, Any], message: str) -> None:
    setup = Setup()
    p = pki()
    setup.attach(jws(Spec(p.chain)), **manifest)
    result = setup.verify(trust_for(p.root))
    assert not result.satisfied
    assert result.error is None
    [rejection] = result.rejections
    assert message in rejection


def test_huge_envelope_is_rejected_without_fetching_it() -> None:
    setup = Setup()
    p = pki()
    huge = {
        "mediaType": JWS_MEDIA_TYPE,
        "digest": str(Digest.of(b"h")),
        "size": MAX_ENVELOPE_SIZE + 1,
    }
    setup.attach(jws(Spec(p.chain)), layers=[huge])
    result = setup.verify(trust_for(p.root))
    assert "exceeds" in result.rejections[0]
    assert setup.registry.count("blob") == 0


def test_envelope_not_matching_its_digest_is_rejected() -> None:
    setup = Setup()
    p = pki()
    envelope = jws(Spec(p.chain))
    setup.attach(envelope)
    setup.registry.put_blob(REPOSITORY, b"tampered", digest=Digest.of(envelope))
    result = setup.verify(trust_for(p.root))
    assert not result.satisfied
    assert "envelope blob unusable" in result.rejections[0]


def test_registry_failure_is_an_error() -> None:
    setup = Setup()
    p = pki()
    setup.attach(jws(Spec(p.chain)))
    setup.registry.fail_with = "connection refused"
    result = setup.verify(trust_for(p.root))
    assert not result.satisfied
    assert result.error is not None
    assert "connection refused" in result.error


def test_authority_without_notation_block_is_an_error() -> None:
    setup = Setup()
    result = NotationVerifier(setup.registry).verify(setup.image, TrustAuthority("keys"))
    assert result.error == "authority 'keys' has no notation trust block"


def test_one_good_signature_among_bad_ones_counts() -> None:
    setup = Setup()
    p = pki()
    setup.attach(jws(Spec(pki(1).chain)))  # another PKI: untrusted
    setup.attach(cose(Spec(p.chain)), envelope_type=COSE_MEDIA_TYPE)
    result = setup.verify(trust_for(p.root))
    assert result.satisfied
    assert len(result.signatures) == 1
    [rejection] = result.rejections
    assert "does not contain any trusted certificate" in rejection
    assert rejection.endswith("(authenticity)")


def test_audit_level_counts_an_untrusted_signer_with_a_note() -> None:
    setup = Setup()
    setup.attach(jws(Spec(pki(1).chain)))
    result = setup.verify(trust_for(pki().root, level=VerificationLevel.AUDIT))
    assert result.satisfied
    assert any("authenticity not enforced (audit)" in note for note in result.notes)


def test_expired_signature_is_rejected_at_strict_and_noted_at_permissive() -> None:
    setup = Setup()
    p = pki()
    setup.attach(jws(Spec(p.chain, expiry=NOW - timedelta(minutes=5))))
    strict = setup.verify(trust_for(p.root))
    assert not strict.satisfied
    assert "signature expired at" in strict.rejections[0]
    assert strict.rejections[0].endswith("(expiry)")
    permissive = setup.verify(trust_for(p.root, level=VerificationLevel.PERMISSIVE))
    assert permissive.satisfied
    assert any("expiry not enforced (permissive)" in note for note in permissive.notes)


def test_invalid_trusted_identities_are_an_error() -> None:
    setup = Setup()
    p = pki()
    setup.attach(jws(Spec(p.chain)))
    result = setup.verify(trust_for(p.root, identities=["x509.subject:C=US+O=Acme"]))
    assert result.error is not None
    assert "multi-valued RDNs" in result.error


def test_malformed_referrers_listing_is_an_error() -> None:
    setup = Setup()
    setup.registry.put_manifest(REPOSITORY, b'{"manifests": 3}', tag=setup.image.digest.tag_form)
    result = setup.verify(trust_for(pki().root))
    assert result.error is not None
    assert "manifests is not a list" in result.error
