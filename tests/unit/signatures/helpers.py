"""Keys, authorities and images for the signature unit tests (generated, never real)."""

from __future__ import annotations

import functools
import json

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.keyfile import SupportedPrivateKey, public_key_pem
from gate.signatures.keys import PublicKey, load_public_key
from gate.signatures.trust import TrustAuthority
from tests.support.fixture_registry import MemoryRegistry

REPO = ImageReference.parse("registry.example/team/app")
OTHER_REPO = ImageReference.parse("registry.example/team/signatures")


@functools.cache
def private_key(name: str, kind: str = "p256") -> SupportedPrivateKey:
    """A fresh key per (name, kind), generated once per test session (RSA is slow)."""
    del name  # part of the cache key only: distinct names give distinct keys
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind == "p521":
        return ec.generate_private_key(ec.SECP521R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=3072)
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(kind)


def public_key(key: SupportedPrivateKey, label: str) -> PublicKey:
    """The trusted-key form of ``key``, loaded from PEM as the policy loader would."""
    return load_public_key(public_key_pem(key), label=label)


def authority(name: str, *keys: SupportedPrivateKey) -> TrustAuthority:
    """An authority trusting the public halves of ``keys``."""
    return TrustAuthority(name, tuple(public_key(k, f"{name}-{i}.pub") for i, k in enumerate(keys)))


def push_image(
    registry: MemoryRegistry, tag: str, repository: ImageReference = REPO
) -> ResolvedImage:
    """Store a small distinct image manifest under ``tag`` and resolve it."""
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "size": 2,
                "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            },
            "layers": [],
            "annotations": {"test.tag": tag},
        }
    ).encode()
    registry.put_manifest(repository, manifest, tag=tag)
    return registry.resolve(repository.with_tag(tag))
