"""Public keys a policy trusts: loading PEM, a stable fingerprint, and verification.

The verification algorithm is chosen by the configured key's type, never by
anything inside a signature object (cosign signatures carry no algorithm).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from gate.errors import InputError

SupportedPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

#: The hash that goes with each supported curve (signing uses it; see PublicKey.verify).
CURVE_HASH: dict[str, type[hashes.HashAlgorithm]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
_MIN_RSA_BITS = 2048


@dataclass(frozen=True, eq=False)
class PublicKey:
    """A trusted public key with its fingerprint (``SHA256:`` of the DER SubjectPublicKeyInfo)."""

    key: SupportedPublicKey
    fingerprint: str
    label: str
    _ecdsa: tuple[ec.ECDSA, ...] = field(init=False, repr=False, compare=False, default=())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PublicKey) and other.fingerprint == self.fingerprint

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    @property
    def algorithm(self) -> str:
        """A short name for reports: ``ecdsa-p256``, ``rsa-3072``, ``ed25519``."""
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return f"ecdsa-{self.key.curve.name}"
        if isinstance(self.key, rsa.RSAPublicKey):
            return f"rsa-{self.key.key_size}"
        return "ed25519"

    def __post_init__(self) -> None:
        # Built once per key: the signature check is the hot path of every verification.
        algorithms: tuple[ec.ECDSA, ...] = ()
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            curve_hash = CURVE_HASH[self.key.curve.name]
            algorithms = (ec.ECDSA(curve_hash()),)
            if curve_hash is not hashes.SHA256:
                algorithms += (ec.ECDSA(hashes.SHA256()),)
        object.__setattr__(self, "_ecdsa", algorithms)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` over ``data`` is valid for this key.

        ECDSA: ASN.1 DER with the hash that goes with the curve (SHA-256 for
        P-256); for P-384/P-521 SHA-256 is accepted too, because cosign before
        v2.4 signed with SHA-256 whatever the curve. RSA: PKCS#1 v1.5 with
        SHA-256 (cosign's choice). Ed25519: pure Ed25519.
        """
        key = self.key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                for algorithm in self._ecdsa:
                    try:
                        key.verify(signature, data, algorithm)
                    except InvalidSignature:
                        continue
                    return True
                return False
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
                return True
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            return True
        except (InvalidSignature, ValueError):
            return False


def fingerprint_of(key: SupportedPublicKey) -> str:
    """``SHA256:<base64>`` of the DER SubjectPublicKeyInfo, as ssh-keygen/cosign users know it."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"


def load_public_key(pem: bytes, *, label: str) -> PublicKey:
    """Parse a PEM public key; EC P-256/P-384/P-521, RSA >= 2048 bits and Ed25519 are accepted.

    Raises ``InputError`` naming ``label`` when the bytes are not such a key
    (a private key, a certificate or garbage).
    """
    if b"PRIVATE KEY" in pem:
        raise InputError("is a private key; give the public key", source=label)
    try:
        key = serialization.load_pem_public_key(pem)
    except UnsupportedAlgorithm as exc:
        # An SPKI whose algorithm OID OpenSSL does not know: bad input, not a crash.
        raise InputError(f"unsupported public key algorithm ({exc})", source=label) from exc
    except (ValueError, TypeError) as exc:
        raise InputError(f"not a PEM public key ({exc})", source=label) from exc
    if isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in CURVE_HASH:
            raise InputError(f"unsupported EC curve {key.curve.name}", source=label)
    elif isinstance(key, rsa.RSAPublicKey):
        if key.key_size < _MIN_RSA_BITS:
            raise InputError(f"RSA key of {key.key_size} bits is too small", source=label)
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise InputError(f"unsupported key type {type(key).__name__}", source=label)
    return PublicKey(key=key, fingerprint=fingerprint_of(key), label=label)
