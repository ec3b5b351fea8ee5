"""Real cosign key-based signatures: CASES.md section 2 (COS-01..07, COS-10).

The registry dump is connaisseur's cosign test data (real cosign signatures
made with the keys alice/bob/charlie); it is served through the same
``ManifestSource`` interface as a real registry. COS-08/09/11 are keyless
cases and belong to the keyless verifier.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.cosign import CosignVerifier, signature_tag, verify_signature_manifest
from gate.signatures.evidence import AuthorityResult
from gate.signatures.keys import PublicKey, load_public_key
from gate.signatures.signer import signature_config
from gate.signatures.simplesigning import build_payload, docker_reference
from gate.signatures.trust import TrustAuthority
from tests.support.fixture_registry import MemoryRegistry, fixture_registry
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.conformance

REPO = ImageReference.parse("docker.io/securesystemsengineering/testimage")
ALICE_ONLY = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
ALICE_BOB_CHARLIE = "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533"
UNSIGNED = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
KEYLESS = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"


@pytest.fixture(scope="module")
def testimage() -> Path:
    return real_fixtures("signatures", "cosign", "connaisseur-testimage")


def _dump(testimage: Path) -> Path:
    return testimage / "registry" / "securesystemsengineering" / "testimage"


def _key(testimage: Path, name: str) -> PublicKey:
    return load_public_key((testimage / "keys" / f"{name}.pub").read_bytes(), label=f"{name}.pub")


def _authority(testimage: Path, name: str) -> TrustAuthority:
    return TrustAuthority(name, (_key(testimage, name),))


def _registry(testimage: Path, aliases: dict[str, str] | None = None) -> MemoryRegistry:
    return fixture_registry(_dump(testimage), REPO, aliases)


def _image(registry: MemoryRegistry, tag: str, digest: str) -> ResolvedImage:
    image = registry.resolve(REPO.with_tag(tag))
    assert str(image.digest) == digest  # the digest CASES.md names
    return image


def _distinct_signers(results: Iterable[AuthorityResult]) -> frozenset[str]:
    """Distinct trusted keys that signed, over several authorities (threshold counting)."""
    return frozenset().union(*(r.signers for r in results if r.error is None))


def test_cos_01_alice_signed(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry, "multi-cosigned-alice", ALICE_ONLY)
    result = CosignVerifier(registry).verify(image, _authority(testimage, "alice"))
    assert result.satisfied
    assert result.rejections == ()
    assert result.signers == {_key(testimage, "alice").fingerprint}
    assert result.signatures[0].signer_label == "alice.pub"


def test_cos_02_bob_did_not_sign(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry, "multi-cosigned-alice", ALICE_ONLY)
    result = CosignVerifier(registry).verify(image, _authority(testimage, "bob"))
    assert not result.satisfied
    assert result.error is None
    (rejection,) = result.rejections
    assert "authority 'bob'" in rejection


@pytest.mark.parametrize(("threshold", "valid"), [(2, True), (3, False)])
def test_cos_03_04_threshold_counts_distinct_trusted_keys(
    testimage: Path, threshold: int, valid: bool
) -> None:
    registry = _registry(testimage)
    image = _image(registry, "multi-cosigned-alice-bob-charlie", ALICE_BOB_CHARLIE)
    verifier = CosignVerifier(registry)
    results = [verifier.verify(image, _authority(testimage, name)) for name in ("alice", "bob")]
    signers = _distinct_signers(results)
    assert signers == {_key(testimage, "alice").fingerprint, _key(testimage, "bob").fingerprint}
    assert (len(signers) >= threshold) is valid
    # charlie's valid signature is reported as not counting, never silently dropped
    assert all(len(r.rejections) == 2 for r in results)
    # one authority holding both keys counts the same two signers
    both = TrustAuthority("alice-or-bob", (_key(testimage, "alice"), _key(testimage, "bob")))
    assert len(verifier.verify(image, both).signers) == 2


def test_cos_03_fetches_once_for_all_authorities(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry, "multi-cosigned-alice-bob-charlie", ALICE_BOB_CHARLIE)
    registry.calls.clear()
    verifier = CosignVerifier(registry)
    for name in ("alice", "bob", "charlie"):
        assert verifier.verify(image, _authority(testimage, name)).satisfied
    assert registry.count("manifest") == 1
    assert registry.count("blob") == 1


def test_cos_05_required_signer_missing(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry, "multi-cosigned-alice", ALICE_ONLY)
    verifier = CosignVerifier(registry)
    results = {n: verifier.verify(image, _authority(testimage, n)) for n in ("alice", "bob")}
    assert results["alice"].satisfied
    assert not results["bob"].satisfied  # required = [bob] -> invalid


def test_cos_06_unsigned_fails_closed(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry, "co-unsigned", UNSIGNED)
    for name in ("alice", "bob", "charlie", "default"):
        result = CosignVerifier(registry).verify(image, _authority(testimage, name))
        assert not result.satisfied
        assert result.error is None
        assert result.rejections == (
            f"no cosign signatures found ({signature_tag(Digest.parse(UNSIGNED))})",
        )


def test_cos_07_transplanted_signature(testimage: Path) -> None:
    victim_tag = signature_tag(Digest.parse(ALICE_BOB_CHARLIE))
    registry = _registry(testimage, {victim_tag: signature_tag(Digest.parse(ALICE_ONLY))})
    image = _image(registry, "multi-cosigned-alice-bob-charlie", ALICE_BOB_CHARLIE)
    result = CosignVerifier(registry).verify(image, _authority(testimage, "alice"))
    assert not result.satisfied
    (rejection,) = result.rejections
    assert f"payload is for {ALICE_ONLY}" in rejection
    assert "copied from another image" in rejection


def test_cos_10_keyless_signature_is_not_a_key_signature(testimage: Path) -> None:
    registry = _registry(testimage)
    image = _image(registry, "keyless", KEYLESS)
    verifier = CosignVerifier(registry)
    for name in ("alice", "bob", "charlie", "default"):
        result = verifier.verify(image, _authority(testimage, name))
        assert not result.satisfied
        (rejection,) = result.rejections
        assert "keyless" in rejection


def test_pure_core_on_the_fixture_bytes(testimage: Path) -> None:
    dump = _dump(testimage)
    manifest = (dump / "manifests" / f"{signature_tag(Digest.parse(ALICE_ONLY))}.json").read_bytes()

    def blobs(digest: Digest, max_size: int) -> bytes:
        return (dump / "blobs" / f"{digest}.json").read_bytes()

    alice = _authority(testimage, "alice")
    assert verify_signature_manifest(manifest, blobs, Digest.parse(ALICE_ONLY), alice).satisfied
    assert not verify_signature_manifest(
        manifest, blobs, Digest.parse(ALICE_BOB_CHARLIE), alice
    ).satisfied
    strict = verify_signature_manifest(
        manifest, blobs, Digest.parse(ALICE_ONLY), alice, strict_reference=REPO
    )
    assert strict.satisfied


@pytest.mark.parametrize("image_digest", [ALICE_ONLY, ALICE_BOB_CHARLIE, KEYLESS])
def test_payload_and_config_bytes_match_what_cosign_wrote(
    testimage: Path, image_digest: str
) -> None:
    dump = _dump(testimage)
    digest = Digest.parse(image_digest)
    sig = json.loads((dump / "manifests" / f"{signature_tag(digest)}.json").read_bytes())
    layer_digests = [Digest.parse(layer["digest"]) for layer in sig["layers"]]
    payload = (dump / "blobs" / f"{layer_digests[0]}.json").read_bytes()
    claimed = json.loads(payload)["critical"]["identity"]["docker-reference"]
    assert build_payload(digest, claimed) == payload
    if image_digest != KEYLESS:
        assert claimed == docker_reference(REPO)
    config = signature_config(layer_digests)
    assert str(Digest.of(config)) == sig["config"]["digest"]
    assert len(config) == sig["config"]["size"]
