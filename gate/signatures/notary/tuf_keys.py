"""TUF keys as Notary lists them, turned into verifiers.

A key in root.json or ``delegations.keys`` is ``{"keytype", "keyval":
{"public", "private": null}}``; its ID is the sha256 of that object's canonical
JSON, and an ID that does not match the key is refused (a signature naming
one key must not be checked with another). ``public`` is base64 of:

- ``ecdsa``: a DER SubjectPublicKeyInfo of a P-256 key;
- ``rsa``: a DER SubjectPublicKeyInfo of an RSA key (>= 2048 bits);
- ``ed25519``: the 32 raw key bytes;
- ``ecdsa-x509`` / ``rsa-x509``: a PEM certificate holding such a key.

The verification algorithm follows the *key's* type; a signature's ``method``
must agree with it: ``ecdsa`` is raw ``r||s`` over SHA-256, ``rsapss`` is
RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, ``ed25519`` (Notary
writes ``eddsa``) is pure Ed25519.

Root-role certificates bind the root key to the repository: their common name
must be the GUN and ``now`` must fall in their validity window (as Notary does,
with one day of leeway on ``notBefore`` for clock skew). Delegation
certificates are not checked for validity, as in Notary's verification: its
own compatibility fixture NV1-F02 is signed with a delegation certificate
that expired in 2017 and is valid.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import NameOID

from gate.signatures.notary.canonical import encode_canonical
from gate.signatures.notary.metadata import KeyEntry, NotaryError, Signature

TufPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

#: Signature methods each key type accepts.
METHODS: dict[str, frozenset[str]] = {
    "ecdsa": frozenset({"ecdsa"}),
    "ecdsa-x509": frozenset({"ecdsa"}),
    "rsa": frozenset({"rsapss"}),
    "rsa-x509": frozenset({"rsapss"}),
    "ed25519": frozenset({"ed25519", "eddsa"}),
}
_MIN_RSA_BITS = 2048
_P256_SIGNATURE_SIZE = 64
_ED25519_KEY_SIZE = 32
_NOT_BEFORE_LEEWAY = timedelta(days=1)
_PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def tuf_key_id(keytype: str, public: str) -> str:
    """The key ID Notary gives a key: sha256 hex of its canonical JSON with ``private`` null."""
    document = {"keytype": keytype, "keyval": {"private": None, "public": public}}
    return hashlib.sha256(encode_canonical(document)).hexdigest()


def spki_der(key: TufPublicKey) -> bytes:
    """The DER SubjectPublicKeyInfo of ``key`` (what pinned roots are compared by)."""
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def short_id(keyid: str) -> str:
    """A key ID shortened for messages: ``52e8085cd75b``."""
    return keyid[:12]


@dataclass(frozen=True, eq=False)
class TufKey:
    """A loaded metadata key: its ID and type, the public key, and the certificate if any."""

    keyid: str
    keytype: str
    public_key: TufPublicKey
    spki: bytes
    certificate: x509.Certificate | None = None

    def signature_problem(self, signature: Signature, message: bytes) -> str | None:
        """Why ``signature`` over ``message`` does not count for this key; None when valid."""
        if signature.method not in METHODS[self.keytype]:
            expected = " or ".join(sorted(METHODS[self.keytype]))
            return f"method {signature.method!r} does not fit a {self.keytype} key ({expected})"
        key = self.public_key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey):
                if len(signature.sig) != _P256_SIGNATURE_SIZE:
                    return f"ecdsa signature is {len(signature.sig)} bytes, expected 64 (r||s)"
                r = int.from_bytes(signature.sig[:32], "big")
                s = int.from_bytes(signature.sig[32:], "big")
                key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
            elif isinstance(key, rsa.RSAPublicKey):
                key.verify(signature.sig, message, _PSS, hashes.SHA256())
            else:
                key.verify(signature.sig, message)
        except (InvalidSignature, ValueError):
            return "signature does not verify"
        return None


def _where(where: str, keyid: str) -> str:
    return f"{where}: keys.{keyid}"


def load_tuf_key(entry: KeyEntry, *, where: str) -> TufKey:
    """Load a metadata key; raise ``NotaryError`` naming ``where`` when it is unusable.

    Refused: a key ID that is not the hash of the key, undecodable base64, a
    key or certificate that is not of the stated type, EC curves other than
    P-256, RSA below 2048 bits.
    """
    place = _where(where, entry.keyid)
    computed = tuf_key_id(entry.keytype, entry.public)
    if computed != entry.keyid:
        raise NotaryError(
            f"{place}: key ID does not match the key (its content hashes to {computed})"
        )
    try:
        raw = base64.b64decode(entry.public, validate=True)
    except (binascii.Error, ValueError):
        raise NotaryError(f"{place}: keyval.public is not valid base64") from None
    certificate: x509.Certificate | None = None
    key: object
    try:
        if entry.keytype in ("ecdsa-x509", "rsa-x509"):
            certificate = x509.load_pem_x509_certificate(raw)
            key = certificate.public_key()
        elif entry.keytype == "ed25519":
            if len(raw) != _ED25519_KEY_SIZE:
                raise NotaryError(
                    f"{place}: ed25519 key is {len(raw)} bytes, expected {_ED25519_KEY_SIZE}"
                )
            key = ed25519.Ed25519PublicKey.from_public_bytes(raw)
        else:
            key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        what = "PEM certificate" if entry.keytype.endswith("-x509") else "DER public key"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotaryError(f"{place}: not a {what} ({reason})") from None
    if entry.keytype.startswith("ecdsa"):
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise NotaryError(f"{place}: {entry.keytype} key is not an EC key")
        if not isinstance(key.curve, ec.SECP256R1):
            raise NotaryError(f"{place}: EC curve {key.curve.name} is not supported (P-256 only)")
    elif entry.keytype.startswith("rsa"):
        if not isinstance(key, rsa.RSAPublicKey):
            raise NotaryError(f"{place}: {entry.keytype} key is not an RSA key")
        if key.key_size < _MIN_RSA_BITS:
            raise NotaryError(f"{place}: RSA key of {key.key_size} bits is too small")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise NotaryError(f"{place}: unsupported key algorithm")
    return TufKey(
        keyid=entry.keyid,
        keytype=entry.keytype,
        public_key=key,
        spki=spki_der(key),
        certificate=certificate,
    )


def common_name(certificate: x509.Certificate) -> str:
    """The subject common name of ``certificate`` ("" when it has none or several)."""
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        return ""
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def root_certificate_problem(key: TufKey, *, gun: str, now: datetime, check_cn: bool) -> str | None:
    """Why root-role ``key`` cannot vouch for repository ``gun`` at ``now``; None if it can.

    A certificate must be within its validity window and (``check_cn``) name
    the GUN as its common name. A bare key has neither, so it can only count
    when ``check_cn`` is off (a pinned key binds the repository by itself).
    """
    certificate = key.certificate
    if certificate is None:
        if check_cn:
            return (
                f"root key {short_id(key.keyid)} is a bare {key.keytype} key without a "
                "certificate naming the GUN"
            )
        return None
    name = common_name(certificate)
    label = f"root certificate {name!r} ({short_id(key.keyid)})"
    not_after = certificate.not_valid_after_utc
    not_before = certificate.not_valid_before_utc
    if now > not_after:
        return f"{label} expired at {not_after.isoformat()}"
    if now + _NOT_BEFORE_LEEWAY < not_before:
        return f"{label} is not valid before {not_before.isoformat()}"
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        algorithm = None
    if isinstance(algorithm, hashes.SHA1):
        return f"{label} is signed with SHA-1"
    if check_cn and name != gun:
        return f"root certificate CN {name!r} does not match the GUN {gun!r}"
    return None
