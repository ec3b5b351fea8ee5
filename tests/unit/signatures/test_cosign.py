"""cosign key-based verification on generated keys and hand-made signature objects."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from gate.errors import BackendError, InputError, VerificationError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.cosign import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    MAX_PAYLOAD_SIZE,
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    CosignVerifier,
    _parse_payload,
    clear_parse_memo,
    signature_tag,
    verify_signature_manifest,
)
from gate.signatures.evidence import AuthorityResult, SignatureVerifier
from gate.signatures.signer import sign_image, sign_payload
from gate.signatures.simplesigning import build_payload, parse_payload
from gate.signatures.trust import TrustAuthority
from tests.support.fixture_registry import MemoryRegistry
from tests.unit.signatures.helpers import (
    OTHER_REPO,
    REPO,
    authority,
    private_key,
    push_image,
)

IMAGE_DIGEST = Digest.parse("sha256:" + "1" * 64)
OTHER_DIGEST = Digest.parse("sha256:" + "2" * 64)


def _layer(payload: bytes, signature: bytes | str | None, **extra: Any) -> dict[str, Any]:
    annotations: dict[str, str] = {}
    if signature is not None:
        annotations[SIGNATURE_ANNOTATION] = (
            signature if isinstance(signature, str) else base64.b64encode(signature).decode()
        )
    layer: dict[str, Any] = {
        "mediaType": SIMPLESIGNING_MEDIA_TYPE,
        "size": len(payload),
        "digest": str(Digest.of(payload)),
        "annotations": annotations,
    }
    layer.update(extra)
    return layer


def _manifest(*layers: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": 0,
                "digest": str(Digest.of(b"")),
            },
            "layers": list(layers),
        }
    ).encode()


class _Blobs:
    """An in-memory blob fetcher that records what it was asked for."""

    def __init__(self, *payloads: bytes) -> None:
        self.store = {Digest.of(p): p for p in payloads}
        self.asked: list[tuple[Digest, int]] = []

    def __call__(self, digest: Digest, max_size: int) -> bytes:
        self.asked.append((digest, max_size))
        return self.store[digest]


def _signed(
    key_name: str = "alice", digest: Digest = IMAGE_DIGEST, **kw: Any
) -> tuple[bytes, bytes]:
    payload = build_payload(digest, "registry.example/team/app", kw.get("annotations"))
    return payload, sign_payload(private_key(key_name), payload)


def _verify(manifest: bytes, blobs: _Blobs, who: TrustAuthority, **kw: Any) -> AuthorityResult:
    result = verify_signature_manifest(manifest, blobs, IMAGE_DIGEST, who, **kw)
    assert isinstance(result, AuthorityResult)
    return result


def test_signature_tag() -> None:
    assert signature_tag(IMAGE_DIGEST) == "sha256-" + "1" * 64 + ".sig"


def test_valid_signature_counts_with_fingerprint_and_label() -> None:
    payload, signature = _signed()
    alice = authority("alice", private_key("alice"))
    result = _verify(_manifest(_layer(payload, signature)), _Blobs(payload), alice)
    assert result.satisfied
    assert result.rejections == ()
    (verified,) = result.signatures
    assert verified.signer == alice.cosign_keys[0].fingerprint
    assert verified.signer_label == "alice-0.pub"
    assert verified.kind == "cosign"
    assert verified.digest == IMAGE_DIGEST


def test_wrong_key_is_rejected_with_a_sentence() -> None:
    payload, signature = _signed("alice")
    result = _verify(
        _manifest(_layer(payload, signature)), _Blobs(payload), authority("bob", private_key("bob"))
    )
    assert not result.satisfied
    assert result.error is None
    (rejection,) = result.rejections
    assert rejection.startswith(f"signature layer 1 ({Digest.of(payload).algorithm}:")
    assert "does not verify with any key authority 'bob' trusts" in rejection


def test_tampered_payload_does_not_verify() -> None:
    payload, signature = _signed()
    tampered = payload.replace(b"team/app", b"team/apq")
    result = _verify(
        _manifest(_layer(tampered, signature)),
        _Blobs(tampered),
        authority("a", private_key("alice")),
    )
    assert not result.satisfied
    assert "does not verify" in result.rejections[0]


def test_transplanted_signature_is_rejected() -> None:
    payload, signature = _signed(digest=OTHER_DIGEST)
    result = _verify(
        _manifest(_layer(payload, signature)), _Blobs(payload), authority("a", private_key("alice"))
    )
    assert not result.satisfied
    assert f"payload is for {OTHER_DIGEST}, not this image {IMAGE_DIGEST}" in result.rejections[0]
    assert "copied from another image" in result.rejections[0]


def test_signed_payload_of_the_wrong_type_is_rejected() -> None:
    payload = build_payload(IMAGE_DIGEST, "r.example/a").replace(
        b"cosign container image signature", b"atomic container signature"
    )
    signature = sign_payload(private_key("alice"), payload)
    result = _verify(
        _manifest(_layer(payload, signature)), _Blobs(payload), authority("a", private_key("alice"))
    )
    assert not result.satisfied
    assert "signed by a-0.pub, but" in result.rejections[0]
    assert "critical.type" in result.rejections[0]


def test_payload_with_duplicate_keys_is_rejected_even_if_signed() -> None:
    payload = build_payload(IMAGE_DIGEST, "r.example/a").replace(
        b'"optional":null', b'"optional":null,"optional":null'
    )
    signature = sign_payload(private_key("alice"), payload)
    result = _verify(
        _manifest(_layer(payload, signature)), _Blobs(payload), authority("a", private_key("alice"))
    )
    assert not result.satisfied
    assert "duplicate key" in result.rejections[0]


def test_blob_not_matching_its_digest_is_rejected() -> None:
    payload, signature = _signed()
    blobs = _Blobs()
    blobs.store[Digest.of(payload)] = payload.replace(b"app", b"apq")
    result = _verify(
        _manifest(_layer(payload, signature)), blobs, authority("a", private_key("alice"))
    )
    assert not result.satisfied
    assert "does not hash to its digest" in result.rejections[0]


def test_blob_of_a_different_size_is_rejected() -> None:
    payload, signature = _signed()
    layer = _layer(payload, signature, size=len(payload) + 1)
    result = _verify(_manifest(layer), _Blobs(payload), authority("a", private_key("alice")))
    assert "the descriptor says" in result.rejections[0]


def test_huge_blob_is_not_fetched() -> None:
    payload, signature = _signed()
    blobs = _Blobs(payload)
    layer = _layer(payload, signature, size=MAX_PAYLOAD_SIZE + 1)
    result = _verify(_manifest(layer), blobs, authority("a", private_key("alice")))
    assert not result.satisfied
    assert "exceeds the 1048576-byte limit" in result.rejections[0]
    assert blobs.asked == []


def test_blob_fetch_is_capped_at_the_declared_size() -> None:
    payload, signature = _signed()
    blobs = _Blobs(payload)
    _verify(_manifest(_layer(payload, signature)), blobs, authority("a", private_key("alice")))
    assert blobs.asked == [(Digest.of(payload), len(payload))]


def test_unknown_layer_media_type_is_rejected_not_ignored() -> None:
    payload, signature = _signed()
    odd = _layer(b"{}", signature, mediaType="application/vnd.example.other")
    result = _verify(
        _manifest(odd, _layer(payload, signature)),
        _Blobs(payload),
        authority("a", private_key("alice")),
    )
    assert result.satisfied
    assert len(result.signatures) == 1
    (rejection,) = result.rejections
    assert rejection.startswith("signature layer 1 ")
    assert "unknown layer media type 'application/vnd.example.other'" in rejection


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        (None, "has no dev.cosignproject.cosign/signature"),
        ("%%%", "not valid base64"),
        ("", "is empty"),
    ],
)
def test_bad_signature_annotation(signature: str | None, reason: str) -> None:
    payload, _ = _signed()
    result = _verify(
        _manifest(_layer(payload, signature)), _Blobs(payload), authority("a", private_key("alice"))
    )
    assert not result.satisfied
    assert reason in result.rejections[0]


def test_keyless_signature_does_not_count_for_key_authorities() -> None:
    payload, signature = _signed()
    layer = _layer(payload, signature)
    layer["annotations"][CERTIFICATE_ANNOTATION] = "-----BEGIN CERTIFICATE-----\n..."
    result = _verify(_manifest(layer), _Blobs(payload), authority("a", private_key("alice")))
    assert not result.satisfied
    assert "keyless" in result.rejections[0]


def test_bundle_on_a_key_signature_is_noted_not_verified() -> None:
    payload, signature = _signed()
    layer = _layer(payload, signature)
    layer["annotations"][BUNDLE_ANNOTATION] = '{"SignedEntryTimestamp":"x"}'
    result = _verify(_manifest(layer), _Blobs(payload), authority("a", private_key("alice")))
    assert result.satisfied
    assert any("NOT verified" in note for note in result.notes)


@pytest.mark.parametrize(
    ("manifest", "reason"),
    [
        (b"this is not json", "not valid JSON"),
        (b"[]", "not a JSON object"),
        (b'{"schemaVersion":2,"layers":[],"layers":[]}', "duplicate key"),
        (b'{"schemaVersion":1,"layers":[]}', "schemaVersion is not 2"),
        (b'{"schemaVersion":2,"layers":{}}', "no layers array"),
        (b'{"schemaVersion":2,"layers":[]}', "no cosign signatures found"),
        (
            b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","layers":[]}',
            "is not an image manifest",
        ),
        # Found by tests/fuzz/test_cosign.py: an unhashable mediaType raised TypeError.
        (
            b'{"schemaVersion":2,"mediaType":["application/vnd.oci.image.manifest.v1+json"],'
            b'"layers":[]}',
            "is not an image manifest",
        ),
        (b'{"schemaVersion":2,"mediaType":{},"layers":[]}', "is not an image manifest"),
        (b'{"schemaVersion":2,"layers":[1]}', "layer descriptor is not a JSON object"),
        (b'{"schemaVersion":2,"layers":[{"digest":"sha256:x"}]}', "no valid digest"),
    ],
)
def test_unusable_signature_manifest_is_a_rejection_never_a_pass(
    manifest: bytes, reason: str
) -> None:
    result = _verify(manifest, _Blobs(), authority("a", private_key("alice")))
    assert not result.satisfied
    assert result.error is None
    assert reason in result.rejections[0]


def test_too_many_layers_are_refused() -> None:
    payload, signature = _signed()
    manifest = _manifest(*[_layer(payload, signature)] * 1001)
    result = _verify(manifest, _Blobs(payload), authority("a", private_key("alice")))
    assert not result.satisfied
    assert "1001 layers exceed the limit of 1000" in result.rejections[0]


def test_registry_failure_on_a_blob_is_an_error() -> None:
    payload, signature = _signed()

    def failing(digest: Digest, max_size: int) -> bytes:
        raise BackendError("connection refused")

    result = verify_signature_manifest(
        _manifest(_layer(payload, signature)),
        failing,
        IMAGE_DIGEST,
        authority("a", private_key("alice")),
    )
    assert not result.satisfied
    assert result.error is not None
    assert "connection refused" in result.error


def test_other_blob_errors_reject_only_that_layer() -> None:
    payload, signature = _signed()

    def lying(digest: Digest, max_size: int) -> bytes:
        raise VerificationError("content hashes to something else")

    result = verify_signature_manifest(
        _manifest(_layer(payload, signature)),
        lying,
        IMAGE_DIGEST,
        authority("a", private_key("alice")),
    )
    assert result.error is None
    assert "payload blob could not be used: content hashes" in result.rejections[0]


def test_authority_without_keys_is_an_error() -> None:
    payload, signature = _signed()
    result = _verify(
        _manifest(_layer(payload, signature)), _Blobs(payload), TrustAuthority("empty")
    )
    assert not result.satisfied
    assert result.error == "authority 'empty' has no cosign public keys to verify with"


def test_strict_reference() -> None:
    payload, signature = _signed()
    manifest = _manifest(_layer(payload, signature))
    who = authority("a", private_key("alice"))
    ok = _verify(
        manifest,
        _Blobs(payload),
        who,
        strict_reference=ImageReference.parse("registry.example/team/app"),
    )
    assert ok.satisfied
    bad = _verify(
        manifest,
        _Blobs(payload),
        who,
        strict_reference=ImageReference.parse("registry.example/team/other"),
    )
    assert not bad.satisfied
    assert "strict reference check" in bad.rejections[0]


@pytest.mark.parametrize("kind", ["p256", "p384", "p521", "rsa", "ed25519"])
def test_key_types(kind: str) -> None:
    key = private_key("typed", kind)
    payload = build_payload(IMAGE_DIGEST, "r.example/a")
    signature = sign_payload(key, payload)
    manifest = _manifest(_layer(payload, signature))
    assert _verify(manifest, _Blobs(payload), authority("k", key)).satisfied
    assert not _verify(
        manifest, _Blobs(payload), authority("k", private_key("other", kind))
    ).satisfied


# -- CosignVerifier over a registry -------------------------------------------------


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def image(registry: MemoryRegistry) -> ResolvedImage:
    return push_image(registry, "v1")


def test_verifier_implements_the_protocol(registry: MemoryRegistry) -> None:
    verifier: SignatureVerifier = CosignVerifier(registry)
    assert verifier is not None


def test_no_signature_manifest_fails_closed(registry: MemoryRegistry, image: ResolvedImage) -> None:
    result = CosignVerifier(registry).verify(image, authority("a", private_key("alice")))
    assert not result.satisfied
    assert result.error is None
    assert result.rejections == (f"no cosign signatures found ({signature_tag(image.digest)})",)


def test_registry_unreachable_is_an_error(registry: MemoryRegistry, image: ResolvedImage) -> None:
    registry.fail_with = "registry.example: connection refused"
    result = CosignVerifier(registry).verify(image, authority("a", private_key("alice")))
    assert not result.satisfied
    assert result.error is not None
    assert "connection refused" in result.error


def test_fetches_once_per_digest_for_many_authorities(
    registry: MemoryRegistry, image: ResolvedImage
) -> None:
    for name in ("alice", "bob", "charlie"):
        sign_image(registry, registry, image, private_key(name))
    registry.calls.clear()
    verifier = CosignVerifier(registry)
    results = [
        verifier.verify(image, authority(name, private_key(name)))
        for name in ("alice", "bob", "charlie")
    ]
    assert all(r.satisfied for r in results)
    assert registry.count("manifest") == 1
    assert registry.count("blob") == 1  # three layers, one shared payload
    assert all(len(r.rejections) == 2 for r in results)


def test_cache_expires_and_can_be_cleared(registry: MemoryRegistry, image: ResolvedImage) -> None:
    who = authority("a", private_key("alice"))
    registry.calls.clear()
    verifier = CosignVerifier(registry, cache_ttl=-1)
    verifier.verify(image, who)
    verifier.verify(image, who)
    assert registry.count("manifest") == 2
    cached = CosignVerifier(registry)
    cached.verify(image, who)
    cached.clear_cache()
    cached.verify(image, who)
    assert registry.count("manifest") == 4


def test_failures_are_cached_only_briefly(registry: MemoryRegistry, image: ResolvedImage) -> None:
    who = authority("a", private_key("alice"))
    verifier = CosignVerifier(registry, failure_ttl=-1)
    assert not verifier.verify(image, who).satisfied  # not signed yet
    sign_image(registry, registry, image, private_key("alice"))
    assert verifier.verify(image, who).satisfied  # seen at once, not after cache_ttl
    registry.fail_with = "registry down"
    fresh = CosignVerifier(registry, failure_ttl=-1)
    assert fresh.verify(image, who).error is not None
    registry.fail_with = None
    assert fresh.verify(image, who).satisfied


def test_signature_repository(registry: MemoryRegistry, image: ResolvedImage) -> None:
    sign_image(registry, registry, image, private_key("alice"), signature_repository=OTHER_REPO)
    who = authority("a", private_key("alice"))
    assert not CosignVerifier(registry).verify(image, who).satisfied
    assert CosignVerifier(registry, signature_repository=OTHER_REPO).verify(image, who).satisfied


def test_docker_reference_mismatch_is_noted_or_strictly_rejected(registry: MemoryRegistry) -> None:
    image = push_image(registry, "v1")
    payload = build_payload(image.digest, "index.docker.io/someone/else")
    signature = sign_payload(private_key("alice"), payload)
    registry.put_blob(REPO, payload)
    registry.put_manifest(
        REPO, _manifest(_layer(payload, signature)), tag=signature_tag(image.digest)
    )
    who = authority("a", private_key("alice"))
    lenient = CosignVerifier(registry).verify(image, who)
    assert lenient.satisfied
    assert "names another repository than registry.example/team/app" in lenient.notes[0]
    strict = CosignVerifier(registry, strict_reference=True).verify(image, who)
    assert not strict.satisfied
    assert "strict reference check" in strict.rejections[0]


def test_signature_manifest_served_as_an_index_is_rejected(registry: MemoryRegistry) -> None:
    image = push_image(registry, "v1")
    registry.put_manifest(
        REPO,
        b'{"schemaVersion":2,"manifests":[]}',
        tag=signature_tag(image.digest),
        media_type="application/vnd.oci.image.index.v1+json",
    )
    result = CosignVerifier(registry).verify(image, authority("a", private_key("alice")))
    assert not result.satisfied
    assert "not an image manifest" in result.rejections[0]


def test_lying_registry_blob_is_rejected(registry: MemoryRegistry) -> None:
    image = push_image(registry, "v1")
    payload = build_payload(image.digest, "registry.example/team/app")
    signature = sign_payload(private_key("alice"), payload)
    registry.put_blob(REPO, payload.replace(b"app", b"apq"), digest=Digest.of(payload))
    registry.put_manifest(
        REPO, _manifest(_layer(payload, signature)), tag=signature_tag(image.digest)
    )
    result = CosignVerifier(registry).verify(image, authority("a", private_key("alice")))
    assert not result.satisfied
    assert result.error is None
    assert "payload blob could not be used" in result.rejections[0]


def test_missing_blob_is_an_error(registry: MemoryRegistry) -> None:
    image = push_image(registry, "v1")
    payload = build_payload(image.digest, "registry.example/team/app")
    signature = sign_payload(private_key("alice"), payload)
    registry.put_manifest(
        REPO, _manifest(_layer(payload, signature)), tag=signature_tag(image.digest)
    )
    result = CosignVerifier(registry).verify(image, authority("a", private_key("alice")))
    assert result.error is not None
    assert "blob unknown" in result.error


def test_same_key_twice_is_one_signer(registry: MemoryRegistry, image: ResolvedImage) -> None:
    sign_image(registry, registry, image, private_key("alice"))
    sign_image(registry, registry, image, private_key("alice"), annotations={"build": "42"})
    result = CosignVerifier(registry).verify(image, authority("a", private_key("alice")))
    assert len(result.signatures) == 2
    assert len(result.signers) == 1


def test_one_authority_with_several_keys(registry: MemoryRegistry, image: ResolvedImage) -> None:
    sign_image(registry, registry, image, private_key("alice"))
    sign_image(registry, registry, image, private_key("bob"))
    both = authority("team", private_key("alice"), private_key("bob"))
    result = CosignVerifier(registry).verify(image, both)
    assert len(result.signers) == 2
    assert result.rejections == ()


@pytest.mark.parametrize(
    "payload",
    [
        build_payload(IMAGE_DIGEST, "registry.example/team/app"),
        build_payload(IMAGE_DIGEST, "registry.example/team/app", {"k": "v"}),
        build_payload(IMAGE_DIGEST, 'odd"reference'),
        build_payload(IMAGE_DIGEST, "r\u00e9f"),
        build_payload(Digest.parse("sha512:" + "3" * 128), "r.example/a"),
        build_payload(IMAGE_DIGEST, "r.example/a").replace(b"{", b"{ ", 1),
    ],
)
def test_canonical_shortcut_decides_like_the_strict_parser(payload: bytes) -> None:
    clear_parse_memo()
    shortcut = _parse_payload(payload)
    try:
        strict: object = parse_payload(payload)
    except InputError as exc:
        strict = str(exc)
    assert shortcut == strict
    assert _parse_payload(payload) == strict  # memoised answer is the same


def test_memo_does_not_leak_between_manifests_and_blobs() -> None:
    payload, signature = _signed()
    manifest = _manifest(_layer(payload, signature))
    who = authority("a", private_key("alice"))
    assert _verify(manifest, _Blobs(payload), who).satisfied
    lying = _Blobs()
    lying.store[Digest.of(payload)] = payload + b" "
    assert not _verify(manifest, lying, who).satisfied  # same manifest, blob checked again
