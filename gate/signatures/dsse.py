"""DSSE (Dead Simple Signing Envelope): the envelope, its PAE, and signature checks.

Envelope (JSON)::

    {"payloadType": "<type>", "payload": "<base64 body>",
     "signatures": [{"keyid": "<hint>", "sig": "<base64 signature>"}]}

A signature covers ``PAE(payloadType, body)``, never the body alone, so the
payload type is authenticated too. ``keyid`` is an unauthenticated hint: it
never chooses which key is trusted, so every trusted key is tried on every
signature (both are bounded). How a signature is encoded (ECDSA DER or raw
``r||s``, RSA PKCS#1 v1.5 or PSS) depends on the signer, not on the envelope:
each trusted key is configured with one scheme (``DsseKey``) and only that
scheme is tried for it.

Parsing is strict where parsers could disagree and lenient where the spec asks
for it: unknown fields are ignored (the DSSE parsing rules say so), but
duplicate keys, and keys that Go's case-insensitive decoder or protobuf JSON
(``payload_type``) would read as a known field, are refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from gate.errors import InputError, VerificationError
from gate.json_types import json_type as _json_type
from gate.signatures import gojson
from gate.signatures.keys import CURVE_HASH, PublicKey

#: Large SBOM attestations run to tens of megabytes once base64-encoded; beyond this, refuse.
MAX_ENVELOPE_SIZE = 32 << 20
#: Every trusted key is tried on every signature: bound the work an envelope can ask for.
MAX_SIGNATURES = 64

_SOURCE = "DSSE envelope"
_ENVELOPE_FIELDS = ("payload", "payloadType", "signatures")
_SIGNATURE_FIELDS = ("keyid", "sig")
_BASE64_STANDARD = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_BASE64_URLSAFE = re.compile(r"[A-Za-z0-9_-]*={0,2}")
_SURROGATE = re.compile("[\ud800-\udfff]")


class SignatureScheme(StrEnum):
    """How a signature over the PAE is computed and encoded; chosen per trusted key."""

    ECDSA_DER = "ecdsa-der"  # ASN.1 DER (cosign, Sigstore)
    ECDSA_RAW = "ecdsa-raw"  # fixed-width r||s (IEEE P1363; the DSSE spec test vector)
    RSA_PKCS1V15_SHA256 = "rsa-pkcs1v15-sha256"  # cosign with an RSA key
    RSA_PSS_SHA256 = "rsa-pss-sha256"  # in-toto, securesystemslib: salt of 32 bytes
    ED25519 = "ed25519"


_SCHEMES_FOR_KEY: dict[type, frozenset[SignatureScheme]] = {
    ec.EllipticCurvePublicKey: frozenset({SignatureScheme.ECDSA_DER, SignatureScheme.ECDSA_RAW}),
    rsa.RSAPublicKey: frozenset(
        {SignatureScheme.RSA_PKCS1V15_SHA256, SignatureScheme.RSA_PSS_SHA256}
    ),
    ed25519.Ed25519PublicKey: frozenset({SignatureScheme.ED25519}),
}


def default_scheme(key: PublicKey) -> SignatureScheme:
    """The scheme cosign and Sigstore use for ``key``: ECDSA DER, RSA PKCS#1 v1.5, Ed25519."""
    if isinstance(key.key, ec.EllipticCurvePublicKey):
        return SignatureScheme.ECDSA_DER
    if isinstance(key.key, rsa.RSAPublicKey):
        return SignatureScheme.RSA_PKCS1V15_SHA256
    return SignatureScheme.ED25519


@dataclass(frozen=True)
class DsseKey:
    """A trusted key with the one signature scheme its signer uses.

    Raises ``InputError`` (naming the key's label) when the scheme does not fit
    the key type, e.g. RSA-PSS for an EC key.
    """

    key: PublicKey
    scheme: SignatureScheme

    def __post_init__(self) -> None:
        allowed = next(
            (
                schemes
                for kind, schemes in _SCHEMES_FOR_KEY.items()
                if isinstance(self.key.key, kind)
            ),
            frozenset(),
        )
        if self.scheme not in allowed:
            raise InputError(
                f"signature scheme {self.scheme} does not fit a {self.key.algorithm} key",
                source=self.key.label,
            )

    @classmethod
    def default(cls, key: PublicKey) -> DsseKey:
        """``key`` with ``default_scheme(key)``."""
        return cls(key, default_scheme(key))

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when ``signature`` over ``message`` (the PAE) is valid under this key and scheme.

        DER ECDSA, PKCS#1 v1.5 and Ed25519 go through ``PublicKey.verify``, so
        they behave exactly as for cosign signatures. Raw ECDSA must be exactly
        twice the curve's byte length and uses the curve's hash only.
        """
        key = self.key.key
        if self.scheme is SignatureScheme.ECDSA_RAW:
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            width = (key.curve.key_size + 7) // 8
            if len(signature) != 2 * width:
                return False
            r = int.from_bytes(signature[:width], "big")
            s = int.from_bytes(signature[width:], "big")
            algorithm = ec.ECDSA(CURVE_HASH[key.curve.name]())
            try:
                key.verify(encode_dss_signature(r, s), message, algorithm)
            except (InvalidSignature, ValueError):
                return False
            return True
        if self.scheme is SignatureScheme.RSA_PSS_SHA256:
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            pss = padding.PSS(
                mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH
            )
            try:
                key.verify(signature, message, pss, hashes.SHA256())
            except (InvalidSignature, ValueError):
                return False
            return True
        return self.key.verify(signature, message)


@dataclass(frozen=True)
class EnvelopeSignature:
    """One entry of ``signatures``: the decoded signature and its keyid hint (``""`` when unset)."""

    sig: bytes
    keyid: str = ""


@dataclass(frozen=True)
class Envelope:
    """A parsed envelope: ``payload`` holds the decoded bytes that signatures cover (via PAE).

    Use these exact bytes after verification; never re-read the envelope.
    """

    payload_type: str
    payload: bytes
    signatures: tuple[EnvelopeSignature, ...]

    def pae(self) -> bytes:
        """The bytes every signature of this envelope is over."""
        return pae(self.payload_type, self.payload)

    def to_json(self) -> bytes:
        """Compact JSON with standard base64, in the field order cosign writes."""
        document = {
            "payloadType": self.payload_type,
            "payload": base64.b64encode(self.payload).decode(),
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures
            ],
        }
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: ``DSSEv1 <len> <type> <len> <body>``.

    Lengths are byte counts (the type as UTF-8) in decimal without leading
    zeros, separated by single spaces.
    """
    type_bytes = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(type_bytes), type_bytes, len(payload), payload)


def _fold(name: str) -> str:
    return name.casefold().replace("_", "")


def refuse_aliases(
    obj: Mapping[str, Any], known: Iterable[str], *, source: str, path: str = ""
) -> None:
    """Refuse keys that another decoder would take for one of the ``known`` field names.

    Go's ``encoding/json`` matches field names case-insensitively (with Unicode
    folding) and protobuf JSON also accepts the snake_case name, so
    ``PayloadType`` or ``payload_type`` next to (or instead of) ``payloadType``
    would make two verifiers read different values. Other unknown keys are
    left alone.
    """
    folded = {_fold(name): name for name in known}
    for key in obj:
        canonical = folded.get(_fold(key))
        if canonical is not None and key != canonical:
            raise InputError(
                f"key {key!r} would be read as {canonical!r} by other parsers; refused",
                source=source,
                field=f"{path}.{key}" if path else key,
            )


def decode_base64(value: object, *, source: str, field: str) -> bytes:
    """Standard or URL-safe base64 (padding optional, as protobuf JSON allows); else ``InputError``.

    One alphabet per value, no whitespace.
    """
    if not isinstance(value, str):
        raise InputError(
            f"must be a base64 string, got {_json_type(value)}", source=source, field=field
        )
    if _BASE64_STANDARD.fullmatch(value):
        altchars = None
    elif _BASE64_URLSAFE.fullmatch(value):
        altchars = b"-_"
    else:
        raise InputError("is not valid base64", source=source, field=field)
    body = value.rstrip("=")
    if len(body) % 4 == 1 or (len(body) != len(value) and len(value) % 4 != 0):
        raise InputError("is not valid base64 (bad length or padding)", source=source, field=field)
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), altchars=altchars, validate=True)
    except binascii.Error:
        raise InputError("is not valid base64", source=source, field=field) from None


def _string(obj: Mapping[str, Any], name: str, *, source: str, path: str) -> str:
    field = f"{path}.{name}" if path else name
    if name not in obj:
        raise InputError("missing", source=source, field=field)
    value = obj[name]
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {_json_type(value)}", source=source, field=field)
    if _SURROGATE.search(value):
        raise InputError("is not valid Unicode (lone surrogate)", source=source, field=field)
    return value


def envelope_from_json(document: object, *, source: str = _SOURCE, path: str = "") -> Envelope:
    """An ``Envelope`` from already-decoded JSON (e.g. a Sigstore bundle's ``dsseEnvelope``).

    ``path`` prefixes field names in errors. Refused with ``InputError``: a
    non-object, a missing or mistyped ``payload``/``payloadType``/``signatures``
    /``sig``, bad base64, a non-string ``keyid`` (``null`` counts as unset),
    more than ``MAX_SIGNATURES`` signatures, and alias keys (``refuse_aliases``).
    An empty ``signatures`` list parses; it can never verify.
    """
    where = path or None
    if not isinstance(document, dict):
        raise InputError(
            f"must be a JSON object, got {_json_type(document)}", source=source, field=where
        )
    refuse_aliases(document, _ENVELOPE_FIELDS, source=source, path=path)
    prefix = f"{path}." if path else ""
    payload_type = _string(document, "payloadType", source=source, path=path)
    if "payload" not in document:
        raise InputError("missing", source=source, field=f"{prefix}payload")
    payload = decode_base64(document["payload"], source=source, field=f"{prefix}payload")
    if "signatures" not in document:
        raise InputError("missing", source=source, field=f"{prefix}signatures")
    entries = document["signatures"]
    if not isinstance(entries, list):
        raise InputError(
            f"must be an array, got {_json_type(entries)}",
            source=source,
            field=f"{prefix}signatures",
        )
    if len(entries) > MAX_SIGNATURES:
        raise InputError(
            f"{len(entries)} signatures exceed the limit of {MAX_SIGNATURES}",
            source=source,
            field=f"{prefix}signatures",
        )
    signatures: list[EnvelopeSignature] = []
    for index, entry in enumerate(entries):
        entry_path = f"{prefix}signatures[{index}]"
        if not isinstance(entry, dict):
            raise InputError(
                f"must be a JSON object, got {_json_type(entry)}", source=source, field=entry_path
            )
        refuse_aliases(entry, _SIGNATURE_FIELDS, source=source, path=entry_path)
        if "sig" not in entry:
            raise InputError("missing", source=source, field=f"{entry_path}.sig")
        sig = decode_base64(entry["sig"], source=source, field=f"{entry_path}.sig")
        keyid = ""
        if entry.get("keyid") is not None:
            keyid = _string(entry, "keyid", source=source, path=entry_path)
        signatures.append(EnvelopeSignature(sig=sig, keyid=keyid))
    return Envelope(payload_type=payload_type, payload=payload, signatures=tuple(signatures))


def parse_envelope(
    data: bytes, *, source: str = _SOURCE, max_size: int = MAX_ENVELOPE_SIZE
) -> Envelope:
    """Parse envelope JSON bytes; ``InputError`` names ``source``, the field and the reason.

    Beyond ``envelope_from_json``: more than ``max_size`` bytes, invalid UTF-8,
    non-JSON and duplicate keys are refused.
    """
    if len(data) > max_size:
        raise InputError(f"{len(data)} bytes exceed the {max_size}-byte limit", source=source)
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise InputError(str(exc), source=source) from None
    return envelope_from_json(document, source=source)


def verify_envelope(
    envelope: Envelope,
    keys: Iterable[PublicKey | DsseKey],
    *,
    threshold: int = 1,
    source: str = _SOURCE,
) -> tuple[PublicKey, ...]:
    """The distinct trusted keys that signed ``envelope``; ``VerificationError`` if too few.

    A bare ``PublicKey`` is tried with ``default_scheme``; a ``DsseKey`` with
    its own scheme only. Every key is tried on every signature (``keyid`` is
    ignored: it is unauthenticated), and a key counts once however many
    signatures it made. Keys come back in the order their first signature
    appears. Fewer than ``threshold`` keys raise ``VerificationError``;
    ``threshold`` below 1 is a programming error (``ValueError``).
    """
    if threshold < 1:
        raise ValueError(f"threshold must be at least 1, got {threshold}")
    candidates = [k if isinstance(k, DsseKey) else DsseKey.default(k) for k in keys]
    if not envelope.signatures:
        raise VerificationError(f"{source}: carries no signatures")
    if not candidates:
        raise VerificationError(f"{source}: no trusted keys to verify it with")
    message = envelope.pae()
    signers: dict[str, PublicKey] = {}
    for signature in envelope.signatures:
        for candidate in candidates:
            if candidate.key.fingerprint in signers:
                continue
            if candidate.verify(signature.sig, message):
                signers[candidate.key.fingerprint] = candidate.key
                break
    if len(signers) < threshold:
        counted = len(envelope.signatures)
        raise VerificationError(
            f"{source}: {len(signers)} distinct trusted key(s) signed, {threshold} required "
            f"({counted} signature(s) checked against {len(candidates)} trusted key(s))"
        )
    return tuple(signers.values())
