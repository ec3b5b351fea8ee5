"""Encrypted cosign private key files: round trip, failures, real cosign vectors."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gate.errors import InputError
from gate.signatures.keyfile import (
    COSIGN_PEM_TYPE,
    SIGSTORE_PEM_TYPE,
    SupportedPrivateKey,
    encrypt_private_key,
    generate_key_pair,
    load_private_key,
    pem_encode,
)
from gate.signatures.keys import load_public_key
from tests.unit.signatures.helpers import private_key

DATA = Path(__file__).parent / "data" / "cosign-keys"
LEGACY = (32768, 8, 1)  # fastest parameters cosign reads; keeps the suite quick


def _envelope(pem: bytes) -> dict[str, object]:
    lines = pem.decode().strip().splitlines()
    document = json.loads(base64.b64decode("".join(lines[1:-1])))
    assert isinstance(document, dict)
    return document


def _rewrap(pem: bytes, envelope: object, pem_type: str = SIGSTORE_PEM_TYPE) -> bytes:
    return pem_encode(pem_type, json.dumps(envelope).encode())


def _spki(key: SupportedPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_generate_then_load_round_trip() -> None:
    private_pem, public_pem = generate_key_pair(b"s3cret")
    assert private_pem.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    assert public_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    assert all(len(line) <= 64 for line in private_pem.splitlines())
    envelope = _envelope(private_pem)
    assert list(envelope) == ["kdf", "cipher", "ciphertext"]
    kdf = envelope["kdf"]
    assert isinstance(kdf, dict)
    assert kdf["name"] == "scrypt"
    assert kdf["params"] == {"N": 65536, "r": 8, "p": 1}
    assert len(base64.b64decode(kdf["salt"])) == 32
    cipher = envelope["cipher"]
    assert isinstance(cipher, dict)
    assert cipher["name"] == "nacl/secretbox"
    assert len(base64.b64decode(cipher["nonce"])) == 24
    key = load_private_key(private_pem, b"s3cret", "cosign.key")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert key.curve.name == "secp256r1"
    trusted = load_public_key(public_pem, label="cosign.pub")
    signature = key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    assert trusted.verify(signature, b"data")


def test_wrong_password_is_one_line_input_error() -> None:
    pem = encrypt_private_key(private_key("k"), b"right", scrypt_params=LEGACY)
    with pytest.raises(InputError) as caught:
        load_private_key(pem, b"wrong", "cosign.key")
    assert str(caught.value) == (
        "cosign.key: decryption failed: wrong password or corrupted key file"
    )


def test_tampered_ciphertext_fails_like_a_wrong_password() -> None:
    pem = encrypt_private_key(private_key("k"), b"pw", scrypt_params=LEGACY)
    envelope = _envelope(pem)
    ciphertext = bytearray(base64.b64decode(str(envelope["ciphertext"])))
    ciphertext[20] ^= 0x01
    envelope["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    with pytest.raises(InputError, match="wrong password or corrupted"):
        load_private_key(_rewrap(pem, envelope), b"pw", "cosign.key")


@pytest.mark.parametrize("kind", ["p384", "p521", "rsa", "ed25519"])
def test_other_key_types_round_trip(kind: str) -> None:
    key = private_key("roundtrip", kind)
    pem = encrypt_private_key(key, b"", scrypt_params=LEGACY)
    assert _spki(load_private_key(pem, b"", "k")) == _spki(key)


def test_old_cosign_label_is_read() -> None:
    key = private_key("k")
    pem = encrypt_private_key(key, b"pw", pem_type=COSIGN_PEM_TYPE, scrypt_params=LEGACY)
    assert pem.startswith(b"-----BEGIN ENCRYPTED COSIGN PRIVATE KEY-----")
    assert _spki(load_private_key(pem, b"pw", "k")) == _spki(key)


@pytest.mark.parametrize(
    ("name", "pem_type"),
    [
        ("cosign-labelled-ec-pkcs8.key", COSIGN_PEM_TYPE),
        ("sigstore-labelled-ec-pkcs8.key", SIGSTORE_PEM_TYPE),
    ],
)
def test_real_cosign_key_files_decrypt(name: str, pem_type: str) -> None:
    pem = (DATA / name).read_bytes()
    assert pem.startswith(f"-----BEGIN {pem_type}-----".encode())
    key = load_private_key(pem, b"hello", name)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    with pytest.raises(InputError, match="wrong password"):
        load_private_key(pem, b"hello!", name)


def test_real_cosign_sec1_key_is_refused_as_cosign_does() -> None:
    with pytest.raises(InputError, match="not PKCS#8"):
        load_private_key((DATA / "cosign-labelled-ec-sec1.key").read_bytes(), b"hello", "ec.key")


def _mutated(change: str) -> bytes:
    pem = encrypt_private_key(private_key("k"), b"pw", scrypt_params=LEGACY)
    envelope = _envelope(pem)
    kdf = envelope["kdf"]
    cipher = envelope["cipher"]
    assert isinstance(kdf, dict)
    assert isinstance(cipher, dict)
    if change == "params":
        kdf["params"] = {"N": 1 << 30, "r": 8, "p": 1}
    elif change == "bool-params":
        kdf["params"] = {"N": 32768, "r": 8, "p": True}
    elif change == "kdf":
        kdf["name"] = "pbkdf2"
    elif change == "cipher":
        cipher["name"] = "aes-gcm"
    elif change == "nonce":
        cipher["nonce"] = base64.b64encode(b"short").decode()
    elif change == "salt":
        kdf["salt"] = "%%%"
    elif change == "no-kdf":
        del envelope["kdf"]
    return _rewrap(pem, envelope)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("params", "unsupported scrypt parameters N=1073741824"),
        ("bool-params", "unsupported scrypt parameters"),
        ("kdf", "unknown KDF 'pbkdf2'"),
        ("cipher", "unknown cipher 'aes-gcm'"),
        ("nonce", "nonce is 5 bytes"),
        ("salt", "kdf.salt: is not valid base64"),
        ("no-kdf", "kdf: must be a JSON object"),
    ],
)
def test_malformed_envelopes_are_refused_before_decrypting(change: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as caught:
        load_private_key(_mutated(change), b"pw", "cosign.key")
    assert str(caught.value).startswith("cosign.key: ")


@pytest.mark.parametrize(
    ("pem", "reason"),
    [
        (b"garbage", "not a PEM file"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "is not a cosign key"),
        (
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n!!!\n"
            b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n",
            "not valid base64",
        ),
        (pem_encode(SIGSTORE_PEM_TYPE, b"not json"), "not valid JSON"),
        (pem_encode(SIGSTORE_PEM_TYPE, b"[1]"), "must be a JSON object"),
        (
            b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n"
            b"-----END ENCRYPTED COSIGN PRIVATE KEY-----\n",
            "ends with END",
        ),
    ],
)
def test_not_a_key_file(pem: bytes, reason: str) -> None:
    with pytest.raises(InputError, match=reason):
        load_private_key(pem, b"pw", "cosign.key")
