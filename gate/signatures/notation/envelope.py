"""Notation signature envelopes: JWS (``application/jose+json``) and COSE (``application/cose``).

A Notation signature is one envelope blob. Both formats carry the same
things: protected (signed) headers, the payload (a descriptor of the signed
artifact), the signature, and unprotected headers with the certificate
chain (leaf first), an optional RFC 3161 timestamp countersignature and a
signing-agent string.

``parse_envelope`` reads an envelope into a ``SignatureEnvelope`` and
enforces the Notation envelope rules that do not need a key: the algorithm
is one of PS256/384/512 and ES256/384/512, the content type is the Notation
payload type, the signing scheme is ``notary.x509`` or
``notary.x509.signingAuthority`` with the signing-time header that goes with
it, ``crit`` lists the headers the spec requires and nothing this verifier
does not understand (an unknown critical header makes the signature
invalid), and the expiry lies after the signing time. ``verify_integrity``
then checks that the algorithm is the one the leaf key implies and that the
signature verifies with it. ``open_envelope`` does both; nothing in an
envelope may be trusted before it has returned.

Every failure is a ``NotationError`` naming the envelope, the field and the
reason, tagged with the Notation validation it belongs to (here always
integrity, which no verification level relaxes).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from gate.errors import InputError, VerificationError
from gate.oci.digest import Digest
from gate.signatures import gojson

JWS_MEDIA_TYPE: Final = "application/jose+json"
COSE_MEDIA_TYPE: Final = "application/cose"
ENVELOPE_MEDIA_TYPES: Final = frozenset({JWS_MEDIA_TYPE, COSE_MEDIA_TYPE})
PAYLOAD_CONTENT_TYPE: Final = "application/vnd.cncf.notary.payload.v1+json"

SCHEME_X509: Final = "notary.x509"
SCHEME_SIGNING_AUTHORITY: Final = "notary.x509.signingAuthority"
SIGNING_SCHEMES: Final = frozenset({SCHEME_X509, SCHEME_SIGNING_AUTHORITY})

HEADER_SIGNING_SCHEME: Final = "io.cncf.notary.signingScheme"
HEADER_SIGNING_TIME: Final = "io.cncf.notary.signingTime"
HEADER_AUTHENTIC_SIGNING_TIME: Final = "io.cncf.notary.authenticSigningTime"
HEADER_EXPIRY: Final = "io.cncf.notary.expiry"
HEADER_VERIFICATION_PLUGIN: Final = "io.cncf.notary.verificationPlugin"
HEADER_VERIFICATION_PLUGIN_MIN_VERSION: Final = "io.cncf.notary.verificationPluginMinVersion"
HEADER_TIMESTAMP_SIGNATURE: Final = "io.cncf.notary.timestampSignature"
HEADER_SIGNING_AGENT: Final = "io.cncf.notary.signingAgent"

#: Envelopes are a few kilobytes (a chain, maybe a timestamp token); refuse anything larger.
MAX_ENVELOPE_SIZE: Final = 1 << 20
#: Longest certificate chain an envelope may carry (leaf, intermediates, root).
MAX_CHAIN_LENGTH: Final = 10

#: The critical headers this verifier understands and processes.
_UNDERSTOOD_CRITICAL: Final = frozenset(
    {HEADER_SIGNING_SCHEME, HEADER_EXPIRY, HEADER_AUTHENTIC_SIGNING_TIME}
)
_PLUGIN_HEADERS: Final = frozenset(
    {HEADER_VERIFICATION_PLUGIN, HEADER_VERIFICATION_PLUGIN_MIN_VERSION}
)
# JWS header names registered by RFC 7515/7518 may not be listed in "crit".
_JWS_REGISTERED: Final = frozenset(
    {"alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit"}
)
_JWS_MEMBERS: Final = frozenset({"payload", "protected", "header", "signature"})

_COSE_SIGN1_TAG: Final = 18
_COSE_ALG: Final = 1
_COSE_CRIT: Final = 2
_COSE_CONTENT_TYPE: Final = 3
_COSE_X5CHAIN: Final = 33


class Check(Enum):
    """The Notation validations (trust-policy spec): each level enforces some, logs the rest."""

    INTEGRITY = "integrity"
    AUTHENTICITY = "authenticity"
    AUTHENTIC_TIMESTAMP = "authenticTimestamp"
    EXPIRY = "expiry"
    REVOCATION = "revocation"


class NotationError(VerificationError):
    """A Notation signature failed one check and does not count; one line saying where and why.

    ``check`` is the Notation validation the failure belongs to, so the
    caller can apply the verification level (only integrity failures are
    never relaxed).
    """

    def __init__(
        self,
        reason: str,
        *,
        check: Check = Check.INTEGRITY,
        source: str | None = None,
        field: str | None = None,
    ) -> None:
        self.reason = reason
        self.check = check
        self.source = source
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        """One line: ``envelope sha256:ab..: protected.crit: reason``."""
        parts = [p for p in (self.source, self.field) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.reason}" if prefix else self.reason


@dataclass(frozen=True)
class SignatureAlgorithm:
    """A Notation signature algorithm: its JWS and COSE names, key type and hash."""

    name: str
    cose: int
    key_type: str  # "rsa" or "ec"
    key_size: int  # RSA modulus bits or EC curve bits
    hash_name: str

    def new_hash(self) -> hashes.HashAlgorithm:
        """A fresh hash object of this algorithm's hash."""
        return _HASHES[self.hash_name]()

    def __str__(self) -> str:
        return self.name


_HASHES: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

PS256: Final = SignatureAlgorithm("PS256", -37, "rsa", 2048, "sha256")
PS384: Final = SignatureAlgorithm("PS384", -38, "rsa", 3072, "sha384")
PS512: Final = SignatureAlgorithm("PS512", -39, "rsa", 4096, "sha512")
ES256: Final = SignatureAlgorithm("ES256", -7, "ec", 256, "sha256")
ES384: Final = SignatureAlgorithm("ES384", -35, "ec", 384, "sha384")
ES512: Final = SignatureAlgorithm("ES512", -36, "ec", 521, "sha512")
ALGORITHMS: Final = (PS256, PS384, PS512, ES256, ES384, ES512)
_BY_JWS_NAME: Final = {a.name: a for a in ALGORITHMS}
_BY_COSE_ID: Final = {a.cose: a for a in ALGORITHMS}
_EC_CURVE_BITS: Final = {"secp256r1": 256, "secp384r1": 384, "secp521r1": 521}


def algorithm_for_key(certificate: x509.Certificate) -> SignatureAlgorithm:
    """The one algorithm Notation allows for the certificate's key (RSA 2048 -> PS256 ...).

    Raises ``NotationError`` for key types and sizes Notation does not allow
    (RSA other than 2048/3072/4096 bits, EC other than P-256/384/521).
    """
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        for algorithm in (PS256, PS384, PS512):
            if algorithm.key_size == key.key_size:
                return algorithm
        raise NotationError(f"RSA key of {key.key_size} bits is not allowed (2048, 3072, 4096)")
    if isinstance(key, ec.EllipticCurvePublicKey):
        bits = _EC_CURVE_BITS.get(key.curve.name)
        for algorithm in (ES256, ES384, ES512):
            if algorithm.key_size == bits:
                return algorithm
        raise NotationError(f"EC curve {key.curve.name} is not allowed (P-256, P-384, P-521)")
    raise NotationError(f"{type(key).__name__} keys are not allowed (RSA or EC only)")


def load_certificate(der: bytes) -> x509.Certificate:
    """A DER certificate with every field the checks read decoded now; ``ValueError`` if not.

    ``cryptography`` decodes names, extensions and keys lazily, so a broken
    field would otherwise surface as an untyped error in the middle of a check.
    """
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.subject.rfc4514_string()
        certificate.issuer.rfc4514_string()
        certificate.public_key()
        list(certificate.extensions)
        _ = certificate.not_valid_before_utc, certificate.not_valid_after_utc
        _ = certificate.signature_hash_algorithm, certificate.tbs_certificate_bytes
    except (
        ValueError,
        TypeError,
        UnsupportedAlgorithm,
        x509.DuplicateExtension,
        x509.InvalidVersion,
        x509.UnsupportedGeneralNameType,
    ) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return certificate


@dataclass(frozen=True)
class TargetArtifact:
    """The payload's ``targetArtifact``: the descriptor of what was signed."""

    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    artifact_type: str | None = None


@dataclass(frozen=True)
class SignatureEnvelope:
    """A parsed Notation envelope; trustworthy only after ``verify_integrity`` passed.

    ``signing_time`` is the signer's ``io.cncf.notary.signingTime`` under
    ``notary.x509`` (unauthenticated, informational) or the
    ``io.cncf.notary.authenticSigningTime`` under
    ``notary.x509.signingAuthority``. ``signed_bytes`` is exactly what the
    signature covers (JWS signing input, COSE ``Sig_structure``).
    ``timestamp_token`` is the RFC 3161 countersignature (DER), if any.
    """

    source: str
    media_type: str
    algorithm: SignatureAlgorithm
    signing_scheme: str
    signing_time: datetime
    expiry: datetime | None
    payload: bytes
    target: TargetArtifact
    certificate_chain: tuple[x509.Certificate, ...]
    signature: bytes
    signed_bytes: bytes
    timestamp_token: bytes | None = None
    signing_agent: str | None = None

    @property
    def leaf(self) -> x509.Certificate:
        """The signing certificate (first of the chain)."""
        return self.certificate_chain[0]

    @property
    def authentic_signing_time(self) -> datetime | None:
        """The signing time the signing authority vouches for, under that scheme only."""
        return self.signing_time if self.signing_scheme == SCHEME_SIGNING_AUTHORITY else None


@dataclass
class _Headers:
    """Protected headers of either format, normalised for the shared checks."""

    algorithm: SignatureAlgorithm
    critical: tuple[str | int, ...]
    content_type: str
    scheme: str
    signing_time: datetime | None
    authentic_signing_time: datetime | None
    expiry: datetime | None
    names: frozenset[str | int]  # every protected header name present


def parse_envelope(
    data: bytes, media_type: str, *, source: str = "signature envelope"
) -> SignatureEnvelope:
    """Parse a JWS or COSE envelope and check its headers; ``NotationError`` when malformed.

    The signature is NOT verified here; use ``open_envelope`` (or call
    ``verify_integrity``) before trusting anything in the result.
    """
    if len(data) > MAX_ENVELOPE_SIZE:
        raise NotationError(
            f"envelope of {len(data)} bytes exceeds the {MAX_ENVELOPE_SIZE}-byte limit",
            source=source,
        )
    if not data:
        raise NotationError("envelope is empty", source=source)
    if media_type == JWS_MEDIA_TYPE:
        return _parse_jws(data, source)
    if media_type == COSE_MEDIA_TYPE:
        return _parse_cose(data, source)
    raise NotationError(
        f"unknown envelope media type {media_type!r} (expected {JWS_MEDIA_TYPE} or "
        f"{COSE_MEDIA_TYPE})",
        source=source,
    )


def verify_integrity(envelope: SignatureEnvelope) -> None:
    """Check that the signature over the envelope verifies with the leaf certificate's key.

    The algorithm is never taken from the envelope alone: it must be the one
    the leaf key implies (algorithm substitution is refused).
    """
    source = envelope.source
    try:
        expected = algorithm_for_key(envelope.leaf)
    except NotationError as exc:
        raise NotationError(exc.reason, source=source, field="signing certificate") from None
    if expected != envelope.algorithm:
        raise NotationError(
            f"algorithm {envelope.algorithm} does not match the signing key, which requires "
            f"{expected}",
            source=source,
            field="alg",
        )
    key = envelope.leaf.public_key()
    algorithm = envelope.algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey):
            # golang-jwt (JWS) verifies PS* with any salt length; go-cose requires the hash length.
            salt = (
                padding.PSS.AUTO
                if envelope.media_type == JWS_MEDIA_TYPE
                else padding.PSS.DIGEST_LENGTH
            )
            pss = padding.PSS(mgf=padding.MGF1(algorithm.new_hash()), salt_length=salt)
            key.verify(envelope.signature, envelope.signed_bytes, pss, algorithm.new_hash())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            der = _raw_ecdsa_to_der(envelope.signature, algorithm.key_size, source)
            key.verify(der, envelope.signed_bytes, ec.ECDSA(algorithm.new_hash()))
        else:  # algorithm_for_key accepted only RSA and EC keys
            raise NotationError("unsupported key type", source=source)
    except InvalidSignature:
        raise NotationError(
            "signature does not verify with the signing certificate's key (envelope tampered "
            "with or signed by another key)",
            source=source,
            field="signature",
        ) from None


def open_envelope(
    data: bytes, media_type: str, *, source: str = "signature envelope"
) -> SignatureEnvelope:
    """Parse an envelope and verify its signature; the result's contents are then authentic."""
    envelope = parse_envelope(data, media_type, source=source)
    verify_integrity(envelope)
    return envelope


def check_target(
    envelope: SignatureEnvelope, *, digest: Digest, size: int, media_type: str
) -> None:
    """Check that the signed payload names exactly this artifact (digest, size and media type).

    A valid signature of another artifact copied next to this one (a
    transplant) fails here.
    """
    target = envelope.target
    if target.digest != digest:
        raise NotationError(
            f"signature is for {target.digest}, not for {digest} (signature of another artifact)",
            source=envelope.source,
            field="payload.targetArtifact.digest",
        )
    if target.size != size:
        raise NotationError(
            f"signed size {target.size} differs from the artifact's {size} bytes",
            source=envelope.source,
            field="payload.targetArtifact.size",
        )
    if target.media_type != media_type:
        raise NotationError(
            f"signed media type {target.media_type!r} differs from the artifact's {media_type!r}",
            source=envelope.source,
            field="payload.targetArtifact.mediaType",
        )


# -- JWS -------------------------------------------------------------------------------------

_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


def _b64url(text: object, source: str, field: str) -> bytes:
    """Unpadded base64url (RFC 7515), strictly: no padding, no foreign characters."""
    if not isinstance(text, str):
        raise NotationError("not a string", source=source, field=field)
    if not _B64URL_RE.fullmatch(text) or len(text) % 4 == 1:
        raise NotationError("not unpadded base64url", source=source, field=field)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64std(text: object, source: str, field: str) -> bytes:
    """Standard padded base64, as Go's ``encoding/json`` writes ``[]byte``."""
    if not isinstance(text, str):
        raise NotationError("not a string", source=source, field=field)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NotationError("not valid base64", source=source, field=field) from None


def _json_object(data: bytes, source: str, field: str) -> dict[str, Any]:
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise NotationError(str(exc), source=source, field=field) from None
    if not isinstance(document, dict):
        raise NotationError("not a JSON object", source=source, field=field)
    _reject_folded_duplicates(document, source, field)
    return document


def _reject_folded_duplicates(document: Mapping[str, Any], source: str, field: str) -> None:
    # Go's encoding/json matches struct fields case-insensitively and keeps the last match:
    # keys that differ only in case would be read differently by notation and by us.
    seen: dict[str, str] = {}
    for key in document:
        folded = key.casefold()
        if folded in seen:
            raise NotationError(
                f"keys {seen[folded]!r} and {key!r} differ only in case (ambiguous)",
                source=source,
                field=field,
            )
        seen[folded] = key


def _rfc3339(value: object, source: str, field: str) -> datetime:
    if not isinstance(value, str):
        raise NotationError("not an RFC 3339 time string", source=source, field=field)
    match = _RFC3339_RE.fullmatch(value)
    if match is None:
        raise NotationError(f"{value!r} is not an RFC 3339 time", source=source, field=field)
    text = value.upper().replace("Z", "+00:00")
    fraction = match.group(7)
    if fraction is not None and len(fraction) > 7:
        # datetime keeps microseconds; Go keeps nanoseconds. Truncation is harmless here.
        text = text.replace(fraction, fraction[:7])
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        raise NotationError(f"{value!r} is not a valid time", source=source, field=field) from None


def _parse_jws(data: bytes, source: str) -> SignatureEnvelope:
    document = _json_object(data, source, "envelope")
    unknown = sorted(set(document) - _JWS_MEMBERS)
    if "signatures" in document:
        raise NotationError(
            "general JWS JSON serialisation (signatures) is not allowed; Notation uses the "
            "flattened form",
            source=source,
            field="signatures",
        )
    if unknown:
        raise NotationError(
            f"unexpected member(s) {', '.join(unknown)} in a flattened JWS",
            source=source,
            field="envelope",
        )
    for member in sorted(_JWS_MEMBERS):
        if member not in document:
            raise NotationError("missing", source=source, field=member)
    protected_text = document["protected"]
    payload_text = document["payload"]
    protected_raw = _b64url(protected_text, source, "protected")
    payload = _b64url(payload_text, source, "payload")
    signature = _b64url(document["signature"], source, "signature")
    if not signature:
        raise NotationError("empty", source=source, field="signature")
    protected = _json_object(protected_raw, source, "protected")
    unprotected = document["header"]
    if not isinstance(unprotected, dict):
        raise NotationError("not a JSON object", source=source, field="header")
    shared = sorted(set(protected) & set(unprotected))
    if shared:
        raise NotationError(
            f"{', '.join(shared)} appear(s) in both the protected and the unprotected header",
            source=source,
            field="header",
        )
    headers = _jws_headers(protected, source)
    raw_chain = unprotected.get("x5c")
    if not isinstance(raw_chain, list) or not raw_chain:
        raise NotationError("certificate chain missing or empty", source=source, field="header.x5c")
    chain_der = [_b64std(item, source, f"header.x5c[{i}]") for i, item in enumerate(raw_chain)]
    token: bytes | None = None
    if HEADER_TIMESTAMP_SIGNATURE in unprotected:
        token = _b64std(
            unprotected[HEADER_TIMESTAMP_SIGNATURE], source, f"header.{HEADER_TIMESTAMP_SIGNATURE}"
        )
    agent = unprotected.get(HEADER_SIGNING_AGENT)
    signed_bytes = f"{protected_text}.{payload_text}".encode("ascii")
    return _assemble(
        source=source,
        media_type=JWS_MEDIA_TYPE,
        headers=headers,
        payload=payload,
        chain_der=chain_der,
        chain_field="header.x5c",
        signature=signature,
        signed_bytes=signed_bytes,
        token=token,
        agent=agent if isinstance(agent, str) else None,
    )


def _jws_headers(protected: dict[str, Any], source: str) -> _Headers:
    alg = protected.get("alg")
    if not isinstance(alg, str):
        raise NotationError("missing or not a string", source=source, field="protected.alg")
    algorithm = _BY_JWS_NAME.get(alg)
    if algorithm is None:
        raise NotationError(
            f"algorithm {alg!r} is not allowed (PS256/384/512, ES256/384/512)",
            source=source,
            field="protected.alg",
        )
    crit = protected.get("crit")
    if not isinstance(crit, list) or not all(isinstance(c, str) for c in crit):
        raise NotationError(
            "missing or not a list of header names", source=source, field="protected.crit"
        )
    registered = sorted(set(crit) & _JWS_REGISTERED)
    if registered:
        raise NotationError(
            f"registered header(s) {', '.join(registered)} must not be listed as critical",
            source=source,
            field="protected.crit",
        )
    cty = protected.get("cty")
    scheme = protected.get(HEADER_SIGNING_SCHEME)
    times: dict[str, datetime | None] = {}
    for name in (HEADER_SIGNING_TIME, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY):
        value = protected.get(name)
        times[name] = None if value is None else _rfc3339(value, source, f"protected.{name}")
    return _Headers(
        algorithm=algorithm,
        critical=tuple(crit),
        content_type=cty if isinstance(cty, str) else _not_string(source, "protected.cty", cty),
        scheme=(
            scheme
            if isinstance(scheme, str)
            else _not_string(source, f"protected.{HEADER_SIGNING_SCHEME}", scheme)
        ),
        signing_time=times[HEADER_SIGNING_TIME],
        authentic_signing_time=times[HEADER_AUTHENTIC_SIGNING_TIME],
        expiry=times[HEADER_EXPIRY],
        names=frozenset(protected),
    )


def _not_string(source: str, field: str, value: object) -> str:
    reason = "missing" if value is None else "not a string"
    raise NotationError(reason, source=source, field=field)


# -- COSE ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EpochTime:
    """A CBOR tag 1 (epoch) time, kept apart so tag 0 (string) times can be refused."""

    value: object


@dataclass(frozen=True)
class _StringTime:
    """A CBOR tag 0 (RFC 3339 string) time: Notation requires tag 1."""

    value: object


# cbor2 calls a semantic decoder with the tagged item (already decoded) and an immutability flag.
def _decode_tag1(value: Any, immutable: bool) -> _EpochTime:
    return _EpochTime(value)


def _decode_tag0(value: Any, immutable: bool) -> _StringTime:
    return _StringTime(value)


def _cbor(data: bytes, source: str, field: str, *, times: bool = False) -> Any:
    """One CBOR item filling all of ``data``: definite lengths, no duplicate map keys."""
    stream = io.BytesIO(data)
    decoders: dict[int, Any] = {0: _decode_tag0, 1: _decode_tag1} if times else {}
    try:
        decoder = cbor2.CBORDecoder(
            stream,
            semantic_decoders=decoders or None,
            max_depth=16,
            allow_indefinite=False,
            allow_duplicate_keys=False,
        )
        value = decoder.decode()
    except (cbor2.CBORError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise NotationError(f"not valid CBOR ({exc})", source=source, field=field) from None
    if stream.tell() != len(data):
        raise NotationError(
            f"{len(data) - stream.tell()} trailing byte(s) after the CBOR item",
            source=source,
            field=field,
        )
    return value


def _cose_time(value: object, source: str, field: str) -> datetime:
    if isinstance(value, _StringTime):
        raise NotationError(
            "time is a CBOR tag 0 string; Notation requires a tag 1 epoch time",
            source=source,
            field=field,
        )
    if not isinstance(value, _EpochTime):
        raise NotationError("not a CBOR tag 1 (epoch) time", source=source, field=field)
    seconds = value.value
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise NotationError("epoch time is not a number", source=source, field=field)
    if isinstance(seconds, float) and not math.isfinite(seconds):
        raise NotationError("epoch time is not finite", source=source, field=field)
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise NotationError(
            f"epoch time {seconds} is out of range", source=source, field=field
        ) from None


def _parse_cose(data: bytes, source: str) -> SignatureEnvelope:
    message = _cbor(data, source, "envelope")
    if not isinstance(message, cbor2.CBORTag) or message.tag != _COSE_SIGN1_TAG:
        raise NotationError(
            "not a tagged COSE_Sign1 message (CBOR tag 18)", source=source, field="envelope"
        )
    body = message.value
    if not isinstance(body, list | tuple) or len(body) != 4:
        raise NotationError(
            "COSE_Sign1 is not an array of 4 items", source=source, field="envelope"
        )
    protected_raw, unprotected, payload, signature = body
    if not isinstance(protected_raw, bytes) or not protected_raw:
        raise NotationError("missing or not a byte string", source=source, field="protected")
    if not isinstance(unprotected, Mapping):
        raise NotationError("not a map", source=source, field="unprotected")
    if payload is None:
        raise NotationError("detached payloads are not allowed", source=source, field="payload")
    if not isinstance(payload, bytes):
        raise NotationError("not a byte string", source=source, field="payload")
    if not isinstance(signature, bytes) or not signature:
        raise NotationError("missing or empty", source=source, field="signature")
    protected = _cbor(protected_raw, source, "protected", times=True)
    if not isinstance(protected, Mapping):
        raise NotationError("not a map", source=source, field="protected")
    shared = sorted(str(k) for k in set(protected) & set(unprotected))
    if shared:
        raise NotationError(
            f"label(s) {', '.join(shared)} appear in both the protected and the unprotected header",
            source=source,
            field="unprotected",
        )
    headers = _cose_headers(protected, source)
    raw_chain = unprotected.get(_COSE_X5CHAIN, protected.get(_COSE_X5CHAIN))
    if isinstance(raw_chain, bytes):
        raw_chain = [raw_chain]  # RFC 9360: a single certificate may be a bare byte string
    if not isinstance(raw_chain, list | tuple) or not raw_chain:
        raise NotationError(
            "certificate chain (x5chain, label 33) missing or empty",
            source=source,
            field="unprotected.33",
        )
    chain_der: list[bytes] = []
    for i, item in enumerate(raw_chain):
        if not isinstance(item, bytes):
            raise NotationError("not a byte string", source=source, field=f"unprotected.33[{i}]")
        chain_der.append(item)
    token = unprotected.get(HEADER_TIMESTAMP_SIGNATURE)
    if token is not None and not isinstance(token, bytes):
        raise NotationError(
            "not a byte string", source=source, field=f"unprotected.{HEADER_TIMESTAMP_SIGNATURE}"
        )
    agent = unprotected.get(HEADER_SIGNING_AGENT)
    signed_bytes = cbor2.dumps(["Signature1", protected_raw, b"", payload])
    return _assemble(
        source=source,
        media_type=COSE_MEDIA_TYPE,
        headers=headers,
        payload=payload,
        chain_der=chain_der,
        chain_field="unprotected.33",
        signature=signature,
        signed_bytes=signed_bytes,
        token=token,
        agent=agent if isinstance(agent, str) else None,
    )


def _cose_headers(protected: Mapping[Any, Any], source: str) -> _Headers:
    alg = protected.get(_COSE_ALG)
    if isinstance(alg, bool) or not isinstance(alg, int):
        raise NotationError("missing or not an integer", source=source, field="protected.1 (alg)")
    algorithm = _BY_COSE_ID.get(alg)
    if algorithm is None:
        raise NotationError(
            f"algorithm {alg} is not allowed (PS256/384/512 = -37/-38/-39, "
            "ES256/384/512 = -7/-35/-36)",
            source=source,
            field="protected.1 (alg)",
        )
    crit = protected.get(_COSE_CRIT)
    if not isinstance(crit, list | tuple) or not all(
        isinstance(c, str | int) and not isinstance(c, bool) for c in crit
    ):
        raise NotationError(
            "missing or not a list of labels", source=source, field="protected.2 (crit)"
        )
    cty = protected.get(_COSE_CONTENT_TYPE)
    scheme = protected.get(HEADER_SIGNING_SCHEME)
    times: dict[str, datetime | None] = {}
    for name in (HEADER_SIGNING_TIME, HEADER_AUTHENTIC_SIGNING_TIME, HEADER_EXPIRY):
        value = protected.get(name)
        times[name] = None if value is None else _cose_time(value, source, f"protected.{name}")
    names: set[str | int] = set()
    for label in protected:
        if isinstance(label, str | int) and not isinstance(label, bool):
            names.add(label)
        else:
            raise NotationError(
                f"header label {label!r} is neither an integer nor a text string",
                source=source,
                field="protected",
            )
    return _Headers(
        algorithm=algorithm,
        critical=tuple(crit),
        content_type=(
            cty if isinstance(cty, str) else _not_string(source, "protected.3 (content type)", cty)
        ),
        scheme=(
            scheme
            if isinstance(scheme, str)
            else _not_string(source, f"protected.{HEADER_SIGNING_SCHEME}", scheme)
        ),
        signing_time=times[HEADER_SIGNING_TIME],
        authentic_signing_time=times[HEADER_AUTHENTIC_SIGNING_TIME],
        expiry=times[HEADER_EXPIRY],
        names=frozenset(names),
    )


# -- shared ----------------------------------------------------------------------------------


def _assemble(
    *,
    source: str,
    media_type: str,
    headers: _Headers,
    payload: bytes,
    chain_der: list[bytes],
    chain_field: str,
    signature: bytes,
    signed_bytes: bytes,
    token: bytes | None,
    agent: str | None,
) -> SignatureEnvelope:
    signing_time = _check_headers(headers, source)
    if len(chain_der) > MAX_CHAIN_LENGTH:
        raise NotationError(
            f"{len(chain_der)} certificates exceed the limit of {MAX_CHAIN_LENGTH}",
            source=source,
            field=chain_field,
        )
    chain: list[x509.Certificate] = []
    for i, der in enumerate(chain_der):
        try:
            chain.append(load_certificate(der))
        except ValueError as exc:
            raise NotationError(
                f"not a usable DER X.509 certificate ({exc})",
                source=source,
                field=f"{chain_field}[{i}]",
            ) from None
    if token is not None and not token:
        raise NotationError("empty timestamp countersignature", source=source, field="header")
    return SignatureEnvelope(
        source=source,
        media_type=media_type,
        algorithm=headers.algorithm,
        signing_scheme=headers.scheme,
        signing_time=signing_time,
        expiry=headers.expiry,
        payload=payload,
        target=_parse_payload(payload, source),
        certificate_chain=tuple(chain),
        signature=signature,
        signed_bytes=signed_bytes,
        timestamp_token=token,
        signing_agent=agent,
    )


def _check_headers(headers: _Headers, source: str) -> datetime:
    """The Notation rules on protected headers shared by JWS and COSE; returns the signing time."""
    if headers.content_type != PAYLOAD_CONTENT_TYPE:
        raise NotationError(
            f"payload content type {headers.content_type!r} is not {PAYLOAD_CONTENT_TYPE}",
            source=source,
            field="protected.cty",
        )
    scheme = headers.scheme
    if scheme not in SIGNING_SCHEMES:
        raise NotationError(
            f"unsupported signing scheme {scheme!r} ({SCHEME_X509} or {SCHEME_SIGNING_AUTHORITY})",
            source=source,
            field=f"protected.{HEADER_SIGNING_SCHEME}",
        )
    crit = headers.critical
    if not crit:
        raise NotationError("empty", source=source, field="protected.crit")
    if len(set(crit)) != len(crit):
        raise NotationError("lists a header twice", source=source, field="protected.crit")
    for name in crit:
        if name not in headers.names:
            raise NotationError(
                f"header {name!r} is marked critical but not present",
                source=source,
                field="protected.crit",
            )
        if name in _PLUGIN_HEADERS:
            raise NotationError(
                f"signature requires a verification plugin ({name}); plugins are not supported",
                source=source,
                field="protected.crit",
            )
        if name not in _UNDERSTOOD_CRITICAL:
            raise NotationError(
                f"unknown critical header {name!r}: the signature must be treated as invalid",
                source=source,
                field="protected.crit",
            )
    for name in sorted(_PLUGIN_HEADERS):
        if name in headers.names:
            raise NotationError(
                "signature requires a verification plugin; plugins are not supported",
                source=source,
                field=f"protected.{name}",
            )
    required = {HEADER_SIGNING_SCHEME}
    if headers.expiry is not None:
        required.add(HEADER_EXPIRY)
    if scheme == SCHEME_X509:
        if headers.authentic_signing_time is not None:
            raise NotationError(
                f"not allowed with signing scheme {SCHEME_X509}",
                source=source,
                field=f"protected.{HEADER_AUTHENTIC_SIGNING_TIME}",
            )
        if headers.signing_time is None:
            raise NotationError(
                f"required with signing scheme {SCHEME_X509}",
                source=source,
                field=f"protected.{HEADER_SIGNING_TIME}",
            )
        signing_time = headers.signing_time
    else:
        if headers.signing_time is not None:
            raise NotationError(
                f"not allowed with signing scheme {SCHEME_SIGNING_AUTHORITY}",
                source=source,
                field=f"protected.{HEADER_SIGNING_TIME}",
            )
        if headers.authentic_signing_time is None:
            raise NotationError(
                f"required with signing scheme {SCHEME_SIGNING_AUTHORITY}",
                source=source,
                field=f"protected.{HEADER_AUTHENTIC_SIGNING_TIME}",
            )
        required.add(HEADER_AUTHENTIC_SIGNING_TIME)
        signing_time = headers.authentic_signing_time
    missing = sorted(required - set(crit), key=str)
    if missing:
        raise NotationError(
            f"required critical header(s) {', '.join(missing)} not listed",
            source=source,
            field="protected.crit",
        )
    if headers.expiry is not None and headers.expiry <= signing_time:
        raise NotationError(
            "expiry is not after the signing time",
            source=source,
            field=f"protected.{HEADER_EXPIRY}",
        )
    return signing_time


def _parse_payload(payload: bytes, source: str) -> TargetArtifact:
    document = _json_object(payload, source, "payload")
    target = document.get("targetArtifact")
    if not isinstance(target, dict):
        raise NotationError(
            "missing or not a JSON object", source=source, field="payload.targetArtifact"
        )
    where = "payload.targetArtifact"
    _reject_folded_duplicates(target, source, where)
    media_type = target.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise NotationError("missing or not a string", source=source, field=f"{where}.mediaType")
    digest_text = target.get("digest")
    if not isinstance(digest_text, str):
        raise NotationError("missing or not a string", source=source, field=f"{where}.digest")
    try:
        digest = Digest.parse(digest_text)
    except InputError as exc:
        raise NotationError(exc.reason, source=source, field=f"{where}.digest") from None
    size = target.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise NotationError(
            "missing or not a non-negative integer", source=source, field=f"{where}.size"
        )
    annotations = target.get("annotations", {})
    if not isinstance(annotations, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in annotations.items()
    ):
        raise NotationError("not a map of strings", source=source, field=f"{where}.annotations")
    artifact_type = target.get("artifactType")
    if artifact_type is not None and not isinstance(artifact_type, str):
        raise NotationError("not a string", source=source, field=f"{where}.artifactType")
    return TargetArtifact(media_type, digest, size, dict(annotations), artifact_type)


def _raw_ecdsa_to_der(signature: bytes, curve_bits: int, source: str) -> bytes:
    """JWS and COSE carry ECDSA signatures as fixed-size r||s; ``cryptography`` wants DER."""
    width = (curve_bits + 7) // 8
    if len(signature) != 2 * width:
        raise NotationError(
            f"ECDSA signature is {len(signature)} bytes, expected {2 * width} (r||s)",
            source=source,
            field="signature",
        )
    r = int.from_bytes(signature[:width], "big")
    s = int.from_bytes(signature[width:], "big")
    return encode_dss_signature(r, s)
