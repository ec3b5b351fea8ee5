"""Trusted public keys: loading, fingerprints, verification by configured key type."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gate.errors import InputError
from gate.signatures.keyfile import pem_encode, public_key_pem
from gate.signatures.keys import load_public_key
from gate.signatures.signer import sign_payload
from tests.unit.signatures.helpers import private_key


@pytest.mark.parametrize(
    ("kind", "algorithm"),
    [
        ("p256", "ecdsa-secp256r1"),
        ("p384", "ecdsa-secp384r1"),
        ("rsa", "rsa-3072"),
        ("ed25519", "ed25519"),
    ],
)
def test_load_and_verify(kind: str, algorithm: str) -> None:
    key = private_key("keys", kind)
    trusted = load_public_key(public_key_pem(key), label="k.pub")
    assert trusted.algorithm == algorithm
    assert trusted.fingerprint.startswith("SHA256:")
    assert "=" not in trusted.fingerprint
    signature = sign_payload(key, b"payload")
    assert trusted.verify(signature, b"payload")
    assert not trusted.verify(signature, b"payload!")
    assert not trusted.verify(b"\x30\x02garbage", b"payload")


def test_equality_is_by_fingerprint() -> None:
    pem = public_key_pem(private_key("eq"))
    assert load_public_key(pem, label="a") == load_public_key(pem, label="b")
    assert len({load_public_key(pem, label="a"), load_public_key(pem, label="b")}) == 1


def _spki_pem(der_hex: str) -> bytes:
    return pem_encode("PUBLIC KEY", bytes.fromhex(der_hex))


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (
            b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
            "is a private key",
        ),
        (b"not a key", "not a PEM public key"),
        # SubjectPublicKeyInfo with an algorithm OID OpenSSL does not know (used to escape as
        # cryptography.exceptions.UnsupportedAlgorithm, a traceback).
        (
            _spki_pem("301a300d06092b0601040182370a0305000309000102030405060708"),
            "unsupported public key algorithm",
        ),
    ],
)
def test_bad_public_keys_are_input_errors(pem: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as caught:
        load_public_key(pem, label="k.pub")
    assert str(caught.value).startswith("k.pub: ")


def test_weak_or_unsupported_keys_are_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (the point)
    with pytest.raises(InputError, match="1024 bits is too small"):
        load_public_key(public_key_pem(small), label="k.pub")
    k1 = ec.generate_private_key(ec.SECP256K1())
    with pytest.raises(InputError, match="unsupported EC curve secp256k1"):
        load_public_key(public_key_pem(k1), label="k.pub")


def test_fingerprint_is_sha256_of_spki() -> None:
    key = private_key("fp")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    expected = "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    assert load_public_key(public_key_pem(key), label="k").fingerprint == expected


@pytest.mark.parametrize(
    ("curve", "accepted"),
    [(ec.SECP384R1(), {"sha256", "sha384"}), (ec.SECP521R1(), {"sha256", "sha512"})],
)
def test_larger_curves_accept_the_curve_hash_and_cosigns_older_sha256(
    curve: ec.EllipticCurve, accepted: set[str]
) -> None:
    secret = ec.generate_private_key(curve)
    key = load_public_key(public_key_pem(secret), label="big.pub")
    for hash_type in (hashes.SHA256(), hashes.SHA384(), hashes.SHA512()):
        signature = secret.sign(b"payload", ec.ECDSA(hash_type))
        assert key.verify(signature, b"payload") is (hash_type.name in accepted), hash_type.name
    assert not key.verify(secret.sign(b"payload", ec.ECDSA(hashes.SHA256())), b"other")


def test_p256_accepts_only_sha256() -> None:
    secret = ec.generate_private_key(ec.SECP256R1())
    key = load_public_key(public_key_pem(secret), label="p256.pub")
    assert key.verify(secret.sign(b"x", ec.ECDSA(hashes.SHA256())), b"x")
    assert not key.verify(secret.sign(b"x", ec.ECDSA(hashes.SHA384())), b"x")
