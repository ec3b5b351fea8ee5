"""cosign-compatible private key files: ``ENCRYPTED SIGSTORE PRIVATE KEY`` PEM.

The PEM body is the JSON envelope of go-securesystemslib's ``encrypted``
package (what ``cosign generate-key-pair`` writes)::

    {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":"<b64>"},
     "cipher":{"name":"nacl/secretbox","nonce":"<b64>"},
     "ciphertext":"<b64>"}

The key is scrypt(password, salt, N, r, p, 32 bytes); the ciphertext is NaCl
secretbox (XSalsa20-Poly1305, 24-byte nonce) of the PKCS#8 DER private key.
New keys use the "standard" parameters current cosign writes (N=2^16); on
reading, only the three parameter sets go-securesystemslib knows are accepted
(N=2^15, 2^16, 2^17 with r=8, p=1), so a tampered file cannot make us burn
memory. Older cosign labelled the block ``ENCRYPTED COSIGN PRIVATE KEY``; both
labels are read. Where the password comes from (``$COSIGN_PASSWORD``, a
prompt) is the CLI's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from typing import Any

import nacl.exceptions
import nacl.secret
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate.errors import InputError
from gate.signatures import gojson

SIGSTORE_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY"
PUBLIC_PEM_TYPE = "PUBLIC KEY"

SupportedPrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

#: (N, r, p) sets go-securesystemslib accepts: legacy, standard, OWASP.
ACCEPTED_SCRYPT_PARAMS = frozenset({(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)})
DEFAULT_SCRYPT_PARAMS = (65536, 8, 1)
_SALT_SIZE = 32
_KEY_SIZE = 32
_NONCE_SIZE = 24
_SUPPORTED_CURVES = frozenset({"secp256r1", "secp384r1", "secp521r1"})
_MIN_RSA_BITS = 2048
_PEM_RE = re.compile(
    rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END ([A-Z0-9 ]+)-----", re.DOTALL
)


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    # hashlib's default memory cap (32 MiB) is below what N=2^16, r=8 needs (64 MiB).
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=_KEY_SIZE)


def pem_encode(pem_type: str, der: bytes) -> bytes:
    """A PEM block as Go's ``pem.EncodeToMemory`` writes it (64-column base64 lines)."""
    body = base64.b64encode(der)
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return (
        f"-----BEGIN {pem_type}-----\n".encode()
        + b"".join(line + b"\n" for line in lines)
        + f"-----END {pem_type}-----\n".encode()
    )


def public_key_pem(key: SupportedPrivateKey) -> bytes:
    """The ``PUBLIC KEY`` (SubjectPublicKeyInfo) PEM of ``key``, as cosign writes ``cosign.pub``."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem_encode(PUBLIC_PEM_TYPE, der)


def encrypt_private_key(
    key: SupportedPrivateKey,
    password: bytes,
    *,
    pem_type: str = SIGSTORE_PEM_TYPE,
    scrypt_params: tuple[int, int, int] = DEFAULT_SCRYPT_PARAMS,
) -> bytes:
    """``key`` as an encrypted cosign private key PEM, protected by ``password``."""
    if pem_type not in (SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE):
        raise ValueError(f"unknown cosign key PEM type {pem_type!r}")
    if scrypt_params not in ACCEPTED_SCRYPT_PARAMS:
        raise ValueError(f"scrypt parameters {scrypt_params} would not be readable by cosign")
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    n, r, p = scrypt_params
    salt = os.urandom(_SALT_SIZE)
    nonce = os.urandom(_NONCE_SIZE)
    box = nacl.secret.SecretBox(_scrypt(password, salt, n, r, p))
    # PyNaCl's ciphertext (MAC || data, without the nonce) is what Go's secretbox.Seal returns.
    ciphertext = box.encrypt(der, nonce).ciphertext
    envelope = gojson.marshal(
        {
            "kdf": {
                "name": "scrypt",
                "params": {"N": n, "r": r, "p": p},
                "salt": base64.b64encode(salt).decode(),
            },
            "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
            "ciphertext": base64.b64encode(ciphertext).decode(),
        }
    )
    return pem_encode(pem_type, envelope)


def generate_key_pair(password: bytes) -> tuple[bytes, bytes]:
    """A new ECDSA P-256 key pair like ``cosign generate-key-pair``: (private PEM, public PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    return encrypt_private_key(key, password), public_key_pem(key)


def _b64_field(value: object, field: str, source: str) -> bytes:
    if not isinstance(value, str):
        raise InputError("must be a base64 string", source=source, field=field)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("is not valid base64", source=source, field=field) from None


def _object(value: object, field: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InputError("must be a JSON object", source=source, field=field)
    return value


def _is_pkcs8(der: bytes) -> bool:
    """True when ``der`` is a PKCS#8 PrivateKeyInfo (SEQUENCE{INTEGER, SEQUENCE, ...}).

    ``cryptography`` also accepts SEC1 and PKCS#1 DER, cosign does not; a SEC1
    EC key is SEQUENCE{INTEGER, OCTET STRING, ...}, so the tag after the version
    tells them apart.
    """
    if len(der) < 2 or der[0] != 0x30:
        return False
    index = 2
    if der[1] & 0x80:
        index += der[1] & 0x7F
    if index + 2 > len(der) or der[index] != 0x02:
        return False
    version_length = der[index + 1]
    if version_length & 0x80:
        return False
    after_version = index + 2 + version_length
    return after_version < len(der) and der[after_version] == 0x30


def check_private_key(key: object, source: str) -> SupportedPrivateKey:
    """``key`` if it is a kind cosign signs with (EC P-256/384/521, RSA >= 2048, Ed25519)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name not in _SUPPORTED_CURVES:
            raise InputError(f"unsupported EC curve {key.curve.name}", source=source)
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise InputError(f"RSA key of {key.key_size} bits is too small", source=source)
        return key
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key
    raise InputError(f"unsupported private key type {type(key).__name__}", source=source)


def load_private_key(pem: bytes, password: bytes, source: str) -> SupportedPrivateKey:
    """Decrypt a cosign private key file; ``InputError`` (one line naming ``source``) if not.

    A wrong password and a tampered ciphertext are indistinguishable (the
    secretbox MAC fails either way), so both say so in one sentence.
    """
    match = _PEM_RE.search(pem)
    if match is None:
        raise InputError("not a PEM file (no BEGIN/END block found)", source=source)
    begin, body, end = match.group(1).decode(), match.group(2), match.group(3).decode()
    if begin != end:
        raise InputError(f"PEM block BEGIN {begin} ends with END {end}", source=source)
    if begin not in (SIGSTORE_PEM_TYPE, COSIGN_PEM_TYPE):
        raise InputError(
            f"PEM type {begin!r} is not a cosign key (expected {SIGSTORE_PEM_TYPE!r})",
            source=source,
        )
    try:
        envelope_bytes = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError("PEM body is not valid base64", source=source) from None
    try:
        envelope = gojson.loads_strict(envelope_bytes)
    except ValueError as exc:
        raise InputError(f"encrypted key envelope: {exc}", source=source) from None
    envelope = _object(envelope, "envelope", source)
    kdf = _object(envelope.get("kdf"), "kdf", source)
    cipher = _object(envelope.get("cipher"), "cipher", source)
    if kdf.get("name") != "scrypt":
        raise InputError(f"unknown KDF {kdf.get('name')!r}", source=source, field="kdf.name")
    if cipher.get("name") != "nacl/secretbox":
        raise InputError(
            f"unknown cipher {cipher.get('name')!r}", source=source, field="cipher.name"
        )
    params = _object(kdf.get("params"), "kdf.params", source)
    triple = (params.get("N"), params.get("r"), params.get("p"))
    if not all(type(v) is int for v in triple) or triple not in ACCEPTED_SCRYPT_PARAMS:
        raise InputError(
            f"unsupported scrypt parameters N={triple[0]} r={triple[1]} p={triple[2]}",
            source=source,
            field="kdf.params",
        )
    n, r, p = triple
    salt = _b64_field(kdf.get("salt"), "kdf.salt", source)
    nonce = _b64_field(cipher.get("nonce"), "cipher.nonce", source)
    if len(nonce) != _NONCE_SIZE:
        raise InputError(
            f"nonce is {len(nonce)} bytes, expected {_NONCE_SIZE}",
            source=source,
            field="cipher.nonce",
        )
    ciphertext = _b64_field(envelope.get("ciphertext"), "ciphertext", source)
    box = nacl.secret.SecretBox(_scrypt(password, salt, n, r, p))
    try:
        der = box.decrypt(ciphertext, nonce)
    except (nacl.exceptions.CryptoError, ValueError):
        raise InputError(
            "decryption failed: wrong password or corrupted key file", source=source
        ) from None
    if not _is_pkcs8(der):
        raise InputError("decrypted key is not PKCS#8 DER (cosign requires PKCS#8)", source=source)
    try:
        key = serialization.load_der_private_key(der, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise InputError(
            f"decrypted key is not a usable private key ({exc})", source=source
        ) from None
    return check_private_key(key, source)
