"""KeylessVerifier: discovery (.sig tag, bundle referrers), per-authority results, failures."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from gate.clock import fixed_clock
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.cosign import signature_tag
from gate.signatures.keyless import verifier as verifier_module
from gate.signatures.keyless.authority import IdentityPattern, KeylessTrust
from gate.signatures.keyless.verifier import KeylessVerifier
from gate.signatures.simplesigning import build_payload
from gate.signatures.trust import TrustAuthority
from tests.unit.signatures.helpers import push_image
from tests.unit.signatures.keyless.fake_sigstore import (
    BUNDLE_V03,
    EPOCH,
    GITHUB,
    OCI_MANIFEST,
    FakeSigstore,
    Issued,
    ReferrerRegistry,
    b64,
    pem,
    sign,
)

REPO = ImageReference.parse("registry.example/team/app")
SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
BUNDLE_V03_ALT = "application/vnd.dev.sigstore.bundle+json;version=0.3"
SLSA = "https://slsa.dev/provenance/v1"


@pytest.fixture(scope="module")
def instance() -> FakeSigstore:
    return FakeSigstore()


@pytest.fixture(scope="module")
def root_path(instance: FakeSigstore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance.write_root(tmp_path_factory.mktemp("root") / "trusted_root.json")


@pytest.fixture(scope="module")
def alice(instance: FakeSigstore) -> Issued:
    return instance.issue()


def authority(
    root_path: Path, subject: str = "alice@example.com", *, require_tlog: bool = True
) -> TrustAuthority:
    return TrustAuthority(
        "release",
        keyless=KeylessTrust(
            IdentityPattern(subject),
            IdentityPattern(GITHUB),
            trusted_root=root_path,
            require_tlog=require_tlog,
        ),
    )


def legacy_layer(
    instance: FakeSigstore,
    registry: ReferrerRegistry,
    leaf: Issued,
    digest: Digest,
    *,
    logged: bool = True,
) -> dict[str, object]:
    """One keyless ``.sig`` layer over ``digest``, its payload stored in the registry."""
    payload = build_payload(digest, "registry.example/team/app")
    stored = registry.put_blob(REPO, payload)
    signature = sign(leaf.key, payload)
    annotations = {
        "dev.cosignproject.cosign/signature": b64(signature),
        "dev.sigstore.cosign/certificate": leaf.pem,
        "dev.sigstore.cosign/chain": instance.chain_pem,
    }
    if logged:
        body = instance.hashedrekord(stored.hex, signature, pem(leaf.certificate))
        annotations["dev.sigstore.cosign/bundle"] = instance.cosign_bundle(
            body, int(EPOCH.timestamp())
        )
    return {
        "mediaType": SIMPLESIGNING,
        "digest": str(stored),
        "size": len(payload),
        "annotations": annotations,
    }


def push_signatures(registry: ReferrerRegistry, digest: Digest, *layers: object) -> None:
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": str(Digest.of(b"{}")),
            "size": 2,
        },
        "layers": list(layers),
    }
    registry.put_manifest(REPO, json.dumps(manifest).encode(), tag=signature_tag(digest))


def image(registry: ReferrerRegistry, tag: str = "v1") -> ResolvedImage:
    return push_image(registry, tag, REPO)


# -- the legacy .sig form ----------------------------------------------------------------


def test_legacy_keyless_signature_counts_for_the_identity(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    push_signatures(registry, target.digest, legacy_layer(instance, registry, alice, target.digest))
    trust = authority(root_path)
    result = KeylessVerifier(registry).verify(target, trust)
    assert result.satisfied, result
    (signature,) = result.signatures
    assert signature.kind == "keyless"
    assert trust.keyless is not None
    assert signature.signer == trust.keyless.signer_id
    assert signature.signer_label == f"alice@example.com ({GITHUB})"
    assert signature.digest == target.digest
    assert result.rejections == ()


def test_other_identity_is_a_rejection_with_a_reason(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    push_signatures(registry, target.digest, legacy_layer(instance, registry, alice, target.digest))
    result = KeylessVerifier(registry).verify(target, authority(root_path, "bob@example.com"))
    assert not result.satisfied
    assert result.error is None
    (rejection,) = result.rejections
    assert "signed by alice@example.com" in rejection
    assert "not by the trusted identity bob@example.com" in rejection


def test_transplanted_legacy_signature(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    victim = image(registry, "victim")
    other = image(registry, "other")
    # A genuine signature of another image, served under this image's .sig tag.
    push_signatures(registry, victim.digest, legacy_layer(instance, registry, alice, other.digest))
    result = KeylessVerifier(registry).verify(victim, authority(root_path))
    assert not result.satisfied
    (rejection,) = result.rejections
    assert f"payload is for {other.digest}" in rejection
    assert "copied from another image" in rejection


def test_key_based_layers_are_reported_not_ignored(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    keyed = legacy_layer(instance, registry, alice, target.digest)
    annotations = keyed["annotations"]
    assert isinstance(annotations, dict)
    keyed["annotations"] = {
        "dev.cosignproject.cosign/signature": annotations["dev.cosignproject.cosign/signature"]
    }
    push_signatures(
        registry, target.digest, keyed, legacy_layer(instance, registry, alice, target.digest)
    )
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    assert result.satisfied
    (rejection,) = result.rejections
    assert "key-based cosign signature" in rejection


def test_two_signatures_by_one_identity_are_one_signer(
    instance: FakeSigstore, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    push_signatures(
        registry,
        target.digest,
        legacy_layer(instance, registry, instance.issue(), target.digest),
        legacy_layer(instance, registry, instance.issue(), target.digest),
    )
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    assert len(result.signatures) == 2
    assert len(result.signers) == 1  # thresholds count identities, not signature objects


def test_clock_decides_when_no_log_entry_is_required(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    layer = legacy_layer(instance, registry, alice, target.digest, logged=False)
    push_signatures(registry, target.digest, layer)
    lenient = authority(root_path, require_tlog=False)
    during = KeylessVerifier(registry, clock=fixed_clock(EPOCH + timedelta(minutes=2)))
    result = during.verify(target, lenient)
    assert result.satisfied
    assert any("no transparency-log entry" in note for note in result.notes)
    later = KeylessVerifier(registry, clock=fixed_clock(EPOCH + timedelta(days=1)))
    assert not later.verify(target, lenient).satisfied
    strict = KeylessVerifier(registry, clock=fixed_clock(EPOCH + timedelta(minutes=2)))
    (rejection,) = strict.verify(target, authority(root_path)).rejections
    assert "no transparency-log entry" in rejection


# -- Sigstore bundles as referrers ---------------------------------------------------------


@pytest.mark.parametrize("artifact_type", [BUNDLE_V03, BUNDLE_V03_ALT])
@pytest.mark.parametrize("api", [True, False])
def test_bundle_referrer_counts(
    instance: FakeSigstore, alice: Issued, root_path: Path, artifact_type: str, api: bool
) -> None:
    registry = ReferrerRegistry(api=api)
    target = image(registry)
    bundle = json.dumps(instance.dsse_bundle(target.digest, alice)).encode()
    registry.attach(REPO, target.digest, bundle, artifact_type=artifact_type)
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    assert result.satisfied, result
    assert result.signatures[0].signer_label == f"alice@example.com ({GITHUB})"


def test_message_signature_bundle_over_the_manifest(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    bundle = json.dumps(instance.message_bundle(target.manifest, alice)).encode()
    registry.attach(REPO, target.digest, bundle)
    assert KeylessVerifier(registry).verify(target, authority(root_path)).satisfied


def test_bundle_for_another_image_does_not_count(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    victim = image(registry, "victim")
    other = image(registry, "other")
    # The statement names the other image; attached to (and listed for) the victim.
    bundle = json.dumps(instance.dsse_bundle(other.digest, alice)).encode()
    registry.attach(REPO, victim.digest, bundle)
    result = KeylessVerifier(registry).verify(victim, authority(root_path))
    assert not result.satisfied
    (rejection,) = result.rejections
    assert f"do not include {victim.digest}" in rejection


def test_referrer_manifest_must_name_the_image_as_subject(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    victim = image(registry, "victim")
    other = image(registry, "other")
    bundle = json.dumps(instance.dsse_bundle(victim.digest, alice)).encode()
    registry.attach(REPO, victim.digest, bundle, manifest_subject=other.digest)
    (rejection,) = KeylessVerifier(registry).verify(victim, authority(root_path)).rejections
    assert "not this image" in rejection


def test_attestations_are_not_signatures(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    provenance = json.dumps(instance.dsse_bundle(target.digest, alice, predicate_type=SLSA))
    # Announced as an attestation: noted, not fetched.
    registry.attach(
        REPO,
        target.digest,
        provenance.encode(),
        annotations={"dev.sigstore.bundle.predicateType": SLSA},
    )
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    assert not result.satisfied
    assert result.rejections == (
        f"no keyless signatures found ({signature_tag(target.digest)}, Sigstore bundle referrers)",
    )
    assert any("an attestation (https://slsa.dev/provenance/v1)" in n for n in result.notes)
    # Not announced (the annotation is only a hint): the signed predicate type decides.
    registry.attach(REPO, target.digest, provenance.encode() + b" ")
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    (rejection,) = result.rejections
    assert "is an attestation (https://slsa.dev/provenance/v1), not a cosign signature" in rejection


def test_unknown_bundle_version_is_refused(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    bundle = instance.dsse_bundle(target.digest, alice)
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.4+json"
    registry.attach(
        REPO,
        target.digest,
        json.dumps(bundle).encode(),
        artifact_type="application/vnd.dev.sigstore.bundle.v0.4+json",
    )
    (rejection,) = KeylessVerifier(registry).verify(target, authority(root_path)).rejections
    assert "unknown or unsupported bundle media type" in rejection


def test_malformed_bundle_blob_is_a_rejection(root_path: Path) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    registry.attach(REPO, target.digest, b"\x00not json")
    (rejection,) = KeylessVerifier(registry).verify(target, authority(root_path)).rejections
    assert "not valid JSON" in rejection or "not UTF-8" in rejection


# -- failures and caching ----------------------------------------------------------------


def test_nothing_found_fails_closed(root_path: Path) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    assert not result.satisfied
    assert result.error is None
    assert result.rejections[0].startswith("no keyless signatures found")


def test_registry_failure_is_an_error(root_path: Path) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    registry.fail_with = "connection refused"
    result = KeylessVerifier(registry).verify(target, authority(root_path))
    assert not result.satisfied
    assert result.error is not None
    assert "connection refused" in result.error


def test_authority_without_keyless_block_or_with_a_bad_root(tmp_path: Path) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    result = KeylessVerifier(registry).verify(target, TrustAuthority("keys-only"))
    assert result.error == "authority 'keys-only' has no keyless identity"
    broken = tmp_path / "root.json"
    broken.write_text("{")
    result = KeylessVerifier(registry).verify(target, authority(broken))
    assert result.error is not None
    assert result.error.startswith(f"trusted root unusable: {broken}: ")


def test_unexpected_errors_reject_instead_of_escaping(
    instance: FakeSigstore, alice: Issued, root_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    registry.attach(
        REPO, target.digest, json.dumps(instance.dsse_bundle(target.digest, alice)).encode()
    )

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(verifier_module, "check_bundle", broken)
    (rejection,) = KeylessVerifier(registry).verify(target, authority(root_path)).rejections
    assert "could not be verified (ZeroDivisionError: boom)" in rejection


def test_fetches_once_for_all_authorities(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    push_signatures(registry, target.digest, legacy_layer(instance, registry, alice, target.digest))
    registry.attach(
        REPO, target.digest, json.dumps(instance.dsse_bundle(target.digest, alice)).encode()
    )
    registry.calls.clear()
    verifier = KeylessVerifier(registry)
    results = [
        verifier.verify(target, authority(root_path, subject))
        for subject in ("alice@example.com", "bob@example.com", "alice@example.com")
    ]
    assert [len(r.signatures) for r in results] == [2, 0, 2]
    assert registry.count("referrers") == 1
    assert registry.count("manifest") == 2  # the .sig tag and the referrer manifest
    assert registry.count("blob") == 2  # the payload and the bundle
    verifier.clear_cache()
    verifier.verify(target, authority(root_path))
    assert registry.count("referrers") == 2


def test_payload_blob_must_match_its_descriptor(
    instance: FakeSigstore, alice: Issued, root_path: Path
) -> None:
    registry = ReferrerRegistry()
    target = image(registry)
    layer = legacy_layer(instance, registry, alice, target.digest)
    layer["size"] = int(str(layer["size"])) + 1
    push_signatures(registry, target.digest, layer)
    (rejection,) = KeylessVerifier(registry).verify(target, authority(root_path)).rejections
    assert "payload blob does not match its descriptor" in rejection
