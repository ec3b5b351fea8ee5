"""Signing: cosign's exact layout, appending, duplicate detection, failures."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import BackendError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.cosign import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA_TYPE,
    CosignVerifier,
    signature_tag,
)
from gate.signatures.signer import sign_image, signature_config
from gate.signatures.simplesigning import build_payload, parse_payload
from tests.support.fixture_registry import MemoryRegistry
from tests.unit.signatures.helpers import REPO, authority, private_key, push_image


@pytest.fixture
def registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def image(registry: MemoryRegistry) -> ResolvedImage:
    return push_image(registry, "v1")


def _sig_manifest(registry: MemoryRegistry, image: ResolvedImage) -> bytes:
    fetched = registry.fetch_manifest(REPO, signature_tag(image.digest))
    assert fetched is not None
    return fetched.data


def test_writes_cosigns_layout(registry: MemoryRegistry, image: ResolvedImage) -> None:
    key = private_key("alice")
    digest = sign_image(registry, registry, image, key)
    manifest = _sig_manifest(registry, image)
    assert Digest.of(manifest) == digest
    payload = build_payload(image.digest, "registry.example/team/app")
    config = signature_config([Digest.of(payload)])
    assert config == (
        b'{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":'
        b'"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["'
        + str(Digest.of(payload)).encode()
        + b'"]},"config":{}}'
    )
    document = json.loads(manifest)
    signature = document["layers"][0]["annotations"][SIGNATURE_ANNOTATION]
    expected = (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'
        '"config":{"mediaType":"application/vnd.oci.image.config.v1+json",'
        f'"size":{len(config)},"digest":"{Digest.of(config)}"}},'
        f'"layers":[{{"mediaType":"{SIMPLESIGNING_MEDIA_TYPE}","size":{len(payload)},'
        f'"digest":"{Digest.of(payload)}","annotations":{{"{SIGNATURE_ANNOTATION}":"{signature}"}}}}]}}'
    )
    assert manifest.decode() == expected
    assert registry.fetch_blob(REPO, Digest.of(payload), 1 << 20) == payload
    assert registry.fetch_blob(REPO, Digest.of(config), 1 << 20) == config
    assert isinstance(private_key("alice"), ec.EllipticCurvePrivateKey)
    assert len(base64.b64decode(signature)) > 0


def test_docker_hub_reference_is_written_as_cosign_does(registry: MemoryRegistry) -> None:
    hub = ImageReference.parse("alpine")
    image = push_image(registry, "3.20", repository=hub)
    sign_image(registry, registry, image, private_key("alice"))
    fetched = registry.fetch_manifest(hub, signature_tag(image.digest))
    assert fetched is not None
    layer = json.loads(fetched.data)["layers"][0]
    payload = registry.fetch_blob(hub, Digest.parse(layer["digest"]), 1 << 20)
    assert parse_payload(payload).docker_reference == "index.docker.io/library/alpine"


def test_append_keeps_existing_signatures(registry: MemoryRegistry, image: ResolvedImage) -> None:
    sign_image(registry, registry, image, private_key("alice"))
    first = json.loads(_sig_manifest(registry, image))["layers"][0]
    sign_image(registry, registry, image, private_key("bob"))
    document = json.loads(_sig_manifest(registry, image))
    assert len(document["layers"]) == 2
    assert document["layers"][0] == first
    payload_digest = Digest.of(build_payload(image.digest, "registry.example/team/app"))
    config = signature_config([payload_digest, payload_digest])
    assert document["config"]["digest"] == str(Digest.of(config))
    verifier = CosignVerifier(registry)
    assert verifier.verify(image, authority("alice", private_key("alice"))).satisfied
    assert verifier.verify(image, authority("bob", private_key("bob"))).satisfied


def test_identical_signature_is_not_duplicated(
    registry: MemoryRegistry, image: ResolvedImage
) -> None:
    first = sign_image(registry, registry, image, private_key("alice"))
    pushes = registry.count("push_manifest")
    again = sign_image(registry, registry, image, private_key("alice"))
    assert again == first
    assert registry.count("push_manifest") == pushes
    assert len(json.loads(_sig_manifest(registry, image))["layers"]) == 1


def test_annotations_make_a_new_signature(registry: MemoryRegistry, image: ResolvedImage) -> None:
    sign_image(registry, registry, image, private_key("alice"))
    sign_image(registry, registry, image, private_key("alice"), annotations={"env": "prod"})
    layers = json.loads(_sig_manifest(registry, image))["layers"]
    assert len(layers) == 2
    payload = registry.fetch_blob(REPO, Digest.parse(layers[1]["digest"]), 1 << 20)
    assert parse_payload(payload).optional == {"env": "prod"}


def test_existing_unreadable_manifest_is_not_overwritten(
    registry: MemoryRegistry, image: ResolvedImage
) -> None:
    registry.put_manifest(REPO, b"garbage", tag=signature_tag(image.digest))
    with pytest.raises(BackendError, match="not overwritten"):
        sign_image(registry, registry, image, private_key("alice"))
    assert registry.count("push_manifest") == 0


def test_existing_manifest_with_bad_layer_is_not_overwritten(
    registry: MemoryRegistry, image: ResolvedImage
) -> None:
    registry.put_manifest(
        REPO, b'{"schemaVersion":2,"layers":[{"digest":"x"}]}', tag=signature_tag(image.digest)
    )
    with pytest.raises(BackendError, match="layer 1 of the existing signature manifest"):
        sign_image(registry, registry, image, private_key("alice"))


def test_unsupported_key_is_an_input_error(registry: MemoryRegistry, image: ResolvedImage) -> None:
    with pytest.raises(InputError, match="unsupported EC curve secp256k1"):
        sign_image(registry, registry, image, ec.generate_private_key(ec.SECP256K1()))


def test_registry_failure_while_pushing(registry: MemoryRegistry, image: ResolvedImage) -> None:
    class Broken(MemoryRegistry):
        def push_manifest(
            self, repository: ImageReference, reference: str, data: bytes, media_type: str
        ) -> Digest:
            return Digest.of(b"something else")

    with pytest.raises(BackendError, match="stored the manifest as"):
        sign_image(Broken(), registry, image, private_key("alice"))
