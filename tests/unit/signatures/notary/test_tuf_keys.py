"""Metadata keys: loading each key type, key IDs, signature methods, root certificates."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gate.signatures.notary.metadata import KeyEntry, NotaryError, Signature
from gate.signatures.notary.tuf_keys import (
    TufKey,
    common_name,
    load_tuf_key,
    root_certificate_problem,
    tuf_key_id,
)
from tests.unit.signatures.notary import (
    GUN,
    NOW,
    SigningKey,
    certificate_key,
    ecdsa_key,
    ed25519_key,
    rsa_key,
    rsa_private,
)

MESSAGE = b'{"_type":"Targets","version":1}'


def _entry(key: SigningKey) -> KeyEntry:
    return KeyEntry(keyid=key.keyid, keytype=key.keytype, public=key.public)


def _load(key: SigningKey) -> TufKey:
    return load_tuf_key(_entry(key), where="root.json")


def _signature(key: SigningKey, message: bytes = MESSAGE, method: str | None = None) -> Signature:
    return Signature(keyid=key.keyid, method=method or key.method, sig=key.sign(message))


@pytest.mark.parametrize(
    "make",
    [
        ecdsa_key,
        rsa_key,
        ed25519_key,
        certificate_key,
        lambda: certificate_key(private=rsa_private(0)),
    ],
    ids=["ecdsa", "rsa", "ed25519", "ecdsa-x509", "rsa-x509"],
)
def test_each_key_type_verifies_its_signatures(make: Callable[[], SigningKey]) -> None:
    key = make()
    loaded = _load(key)
    assert loaded.keyid == tuf_key_id(key.keytype, key.public)
    assert loaded.spki == key.private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert (loaded.certificate is not None) == key.keytype.endswith("-x509")
    assert loaded.signature_problem(_signature(key), MESSAGE) is None
    assert loaded.signature_problem(_signature(key), MESSAGE + b" ") == "signature does not verify"


def test_ed25519_accepts_both_method_names() -> None:
    key = ed25519_key()
    loaded = _load(key)
    assert loaded.signature_problem(_signature(key, method="eddsa"), MESSAGE) is None
    assert loaded.signature_problem(_signature(key, method="ed25519"), MESSAGE) is None


@pytest.mark.parametrize(
    ("make", "method"),
    [
        (ecdsa_key, "rsapss"),
        (ecdsa_key, "ECDSA"),
        (rsa_key, "ecdsa"),
        (rsa_key, "rsapkcs1v15"),
        (ed25519_key, "ecdsa"),
        (certificate_key, "eddsa"),
    ],
)
def test_method_must_fit_the_key_type(make: Callable[[], SigningKey], method: str) -> None:
    key = make()
    problem = _load(key).signature_problem(_signature(key, method=method), MESSAGE)
    assert problem is not None
    assert problem.startswith(f"method '{method}' does not fit a {key.keytype} key")


def test_ecdsa_signature_is_raw_r_and_s() -> None:
    key = ecdsa_key()
    assert isinstance(key.private, ec.EllipticCurvePrivateKey)
    der = key.private.sign(MESSAGE, ec.ECDSA(hashes.SHA256()))
    problem = _load(key).signature_problem(Signature(key.keyid, "ecdsa", der), MESSAGE)
    assert problem is not None
    assert problem.startswith("ecdsa signature is ")
    assert problem.endswith("bytes, expected 64 (r||s)")
    zeros = Signature(key.keyid, "ecdsa", bytes(64))
    assert _load(key).signature_problem(zeros, MESSAGE) == "signature does not verify"


def test_rsa_pss_salt_is_32_bytes() -> None:
    key = rsa_key()
    assert isinstance(key.private, rsa.RSAPrivateKey)
    other_salt = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
    signature = Signature(
        key.keyid, "rsapss", key.private.sign(MESSAGE, other_salt, hashes.SHA256())
    )
    assert _load(key).signature_problem(signature, MESSAGE) == "signature does not verify"
    pkcs1 = key.private.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert _load(key).signature_problem(Signature(key.keyid, "rsapss", pkcs1), MESSAGE) is not None


def test_key_id_must_match_the_key() -> None:
    key, other = ecdsa_key(), ecdsa_key()
    entry = KeyEntry(keyid=other.keyid, keytype=key.keytype, public=key.public)
    with pytest.raises(
        NotaryError,
        match=rf"^root.json: keys.{other.keyid}: key ID does not "
        rf"match the key \(its content hashes to {key.keyid}\)",
    ):
        load_tuf_key(entry, where="root.json")


def _bad(keytype: str, public: bytes | str) -> KeyEntry:
    text = public if isinstance(public, str) else base64.b64encode(public).decode()
    return KeyEntry(keyid=tuf_key_id(keytype, text), keytype=keytype, public=text)


def _der(private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (_bad("ecdsa", "not base64!"), "keyval.public is not valid base64"),
        (_bad("ecdsa", b"garbage"), "not a DER public key"),
        (_bad("ecdsa-x509", b"garbage"), "not a PEM certificate"),
        (_bad("ed25519", b"short"), "ed25519 key is 5 bytes, expected 32"),
        (_bad("ecdsa", _der(rsa_private(0))), "ecdsa key is not an EC key"),
        (_bad("rsa", _der(ec.generate_private_key(ec.SECP256R1()))), "rsa key is not an RSA key"),
        (
            _bad("ecdsa", _der(ec.generate_private_key(ec.SECP384R1()))),
            "EC curve secp384r1 is not supported",
        ),
        (
            _bad("rsa-x509", base64.b64decode(certificate_key().public)),
            "rsa-x509 key is not an RSA key",
        ),
    ],
)
def test_unusable_keys(entry: KeyEntry, reason: str) -> None:
    with pytest.raises(NotaryError, match=rf"^targets.json: keys.{entry.keyid}: {reason}"):
        load_tuf_key(entry, where="targets.json")


def test_small_rsa_keys_are_refused() -> None:
    # deliberately weak: the point is that it is refused
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    with pytest.raises(NotaryError, match="RSA key of 1024 bits is too small"):
        load_tuf_key(_bad("rsa", _der(small)), where="targets.json")


# -- root certificates -----------------------------------------------------------------------


def _problem(key: SigningKey, *, gun: str = GUN, check_cn: bool = True) -> str | None:
    return root_certificate_problem(_load(key), gun=gun, now=NOW, check_cn=check_cn)


def test_root_certificate_valid() -> None:
    key = certificate_key(GUN)
    assert key.certificate is not None
    assert common_name(key.certificate) == GUN
    assert _problem(key) is None


def test_root_certificate_names_another_gun() -> None:
    problem = _problem(certificate_key("docker.io/other/app"))
    assert problem == "root certificate CN 'docker.io/other/app' does not match the GUN " + repr(
        GUN
    )
    assert _problem(certificate_key("docker.io/other/app"), check_cn=False) is None


def test_root_certificate_window() -> None:
    expired = certificate_key(GUN, not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(1))
    problem = _problem(expired, check_cn=False)
    assert problem is not None
    assert "expired at 2026-11-21T12:00:00+00:00" in problem
    early = certificate_key(GUN, not_before=NOW + timedelta(days=1, seconds=1))
    problem = _problem(early, check_cn=False)
    assert problem is not None
    assert "is not valid before 2026-11-23T12:00:01+00:00" in problem
    skewed = certificate_key(GUN, not_before=NOW + timedelta(days=1))  # within the leeway
    assert _problem(skewed) is None


def test_bare_root_key() -> None:
    problem = _problem(ecdsa_key())
    assert problem is not None
    assert "bare ecdsa key without a certificate naming the GUN" in problem
    assert _problem(ecdsa_key(), check_cn=False) is None
