"""cosign keyless signatures in the legacy form: certificate, chain and Rekor SET as annotations.

Before Sigstore bundles, ``cosign sign`` (keyless) stored on each ``.sig``
layer, next to the signature, the Fulcio leaf certificate
(``dev.sigstore.cosign/certificate``), its chain (``.../chain``) and the Rekor
entry with its signed entry timestamp (SET, ``.../bundle``). Attestations
(``.att``) carry a DSSE envelope instead of a payload. There is no inclusion
proof, so sigstore-python cannot check this form; it is checked here with
``cryptography``:

1. the SET is signed by the trusted Rekor key named by ``logID``, a key that
   was valid at the entry's ``integratedTime``; that time is then the
   (authenticated) signing time;
2. the entry body binds exactly this signature, this certificate and this
   payload (``hashedrekord``; ``intoto``/``dsse`` for attestations), so an
   authentic entry for other content does not count (CVE-2022-36056);
3. the leaf chains to a Fulcio CA of the trusted root at that time (the
   chain annotation only offers untrusted intermediates), has the code
   signing profile and an SCT from a trusted CT log;
4. the signature verifies with the leaf's key; the identity is the leaf's
   SAN and the OIDC issuer extension (1.3.6.1.4.1.57264.1.8, or the older .1.1).

The entry-body checks, DSSE envelope reading and certificate identity here
are also used for Sigstore bundles (``bundle.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from gate.oci.digest import Digest
from gate.signatures import gojson
from gate.signatures.keyless.trusted_root import (
    KeylessVerificationError,
    SigstoreTrustRoot,
    VerifyingKey,
)
from gate.signatures.keys import PublicKey, fingerprint_of

#: Fulcio's OIDC issuer extensions: the original (raw UTF-8) and its DER-encoded successor.
ISSUER_V1_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
#: SAN otherName type Fulcio uses for usernames.
USERNAME_SAN_OID = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.7")

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPES = frozenset(
    {"https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1"}
)

_DIGEST_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


def _fail(reason: str) -> KeylessVerificationError:
    return KeylessVerificationError(reason)


# -- certificates and identities ---------------------------------------------------------


@dataclass(frozen=True)
class CertificateIdentity:
    """Who a Fulcio certificate was issued to: the SAN and the OIDC issuer."""

    subject: str
    issuer: str

    @property
    def label(self) -> str:
        """``<SAN> (<issuer>)``, what reports show."""
        return f"{self.subject} ({self.issuer})"


def _der_utf8_string(data: bytes) -> str | None:
    """The text of a DER ``UTF8String`` filling all of ``data``, or None."""
    if len(data) < 2 or data[0] != 0x0C:
        return None
    length = data[1]
    offset = 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or len(data) < 2 + count:
            return None
        length = int.from_bytes(data[2 : 2 + count], "big")
        offset = 2 + count
    if offset + length != len(data):
        return None
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _issuer(certificate: x509.Certificate) -> str:
    values: list[str] = []
    for oid, der in ((ISSUER_V2_OID, True), (ISSUER_V1_OID, False)):
        try:
            extension = certificate.extensions.get_extension_for_oid(oid).value
        except x509.ExtensionNotFound:
            continue
        raw = extension.value if isinstance(extension, x509.UnrecognizedExtension) else b""
        text: str | None
        if der:
            text = _der_utf8_string(raw)
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                text = None
        if not text:
            raise _fail(
                f"signing certificate OIDC issuer extension {oid.dotted_string} is malformed"
            )
        values.append(text)
    if not values:
        raise _fail("signing certificate has no OIDC issuer extension (not a Fulcio certificate)")
    if len(set(values)) != 1:
        raise _fail(
            "signing certificate carries two different OIDC issuers "
            f"({values[0]!r} and {values[1]!r})"
        )
    return values[0]


def certificate_identity(certificate: x509.Certificate) -> CertificateIdentity:
    """The SAN and OIDC issuer of a Fulcio leaf; exactly one SAN identity is accepted.

    SAN values considered: email, URI and Fulcio's username otherName. A
    certificate naming several identities is refused rather than letting any
    one of them match (Fulcio never issues such certificates).
    """
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise _fail("signing certificate has no subject alternative name (identity)") from None
    subjects: list[str] = [*san.get_values_for_type(x509.RFC822Name)]
    subjects.extend(san.get_values_for_type(x509.UniformResourceIdentifier))
    for other in san.get_values_for_type(x509.OtherName):
        if other.type_id == USERNAME_SAN_OID:
            text = _der_utf8_string(other.value)
            if text is None:
                raise _fail("signing certificate username SAN is malformed")
            subjects.append(text)
    if not subjects:
        raise _fail("signing certificate SAN names no email, URI or username identity")
    if len(subjects) > 1:
        raise _fail(f"signing certificate names {len(subjects)} identities; exactly one expected")
    return CertificateIdentity(subjects[0], _issuer(certificate))


def decoded_now(certificate: x509.Certificate) -> x509.Certificate:
    """``certificate`` with its extensions decoded now; ``ValueError`` if they do not decode.

    ``cryptography`` decodes extensions lazily, so a malformed one (a SAN URI
    that is not ASCII, a duplicate extension) would otherwise raise an untyped
    error in the middle of a check, long after the certificate was "loaded".
    """
    try:
        list(certificate.extensions)
    except (x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise ValueError(str(exc) or type(exc).__name__) from None
    return certificate


def load_pem_certificates(text: str | bytes, what: str) -> list[x509.Certificate]:
    """All certificates of a PEM text (``what`` names it in the error)."""
    data = text.encode() if isinstance(text, str) else text
    try:
        return [decoded_now(c) for c in x509.load_pem_x509_certificates(data)]
    except ValueError:
        raise _fail(f"{what} is not a PEM certificate (or its extensions do not decode)") from None


def load_leaf(text: str | bytes, what: str = "certificate annotation") -> x509.Certificate:
    """Exactly one PEM certificate."""
    certificates = load_pem_certificates(text, what)
    if len(certificates) != 1:
        raise _fail(f"{what} holds {len(certificates)} certificates, expected 1")
    return certificates[0]


# -- signatures --------------------------------------------------------------------------


def verify_raw(key: VerifyingKey, signature: bytes, data: bytes) -> bool:
    """True when ``signature`` over ``data`` verifies with ``key`` (cosign's algorithm choice)."""
    return PublicKey(key=key, fingerprint=fingerprint_of(key), label="signer").verify(
        signature, data
    )


def verify_prehashed(key: VerifyingKey, signature: bytes, digest: Digest) -> bool:
    """True when ``signature`` is over the artifact whose hash is ``digest`` (hashedrekord)."""
    hash_type = _DIGEST_HASHES.get(digest.algorithm)
    if hash_type is None:
        return False
    prehashed = Prehashed(hash_type())
    data = bytes.fromhex(digest.hex)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(prehashed))
            return True
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), prehashed)
            return True
    except (InvalidSignature, ValueError):
        return False
    # Ed25519 signs the message itself, which a digest cannot stand in for.
    return False


def signing_key(certificate: x509.Certificate) -> VerifyingKey:
    """The leaf's public key, if of a type signatures can be checked with."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    raise _fail(f"signing certificate key type {type(key).__name__} is not supported")


# -- DSSE --------------------------------------------------------------------------------


def _b64decode(text: object, what: str) -> bytes:
    if not isinstance(text, str):
        raise _fail(f"{what} is not a base64 string")
    try:
        raw = text.encode("ascii")
        # DSSE allows URL-safe and unpadded base64; decoding stays strict otherwise.
        altchars = b"-_" if b"-" in raw or b"_" in raw else None
        raw += b"=" * (-len(raw) % 4)
        return base64.b64decode(raw, altchars=altchars, validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _fail(f"{what} is not valid base64") from None


@dataclass(frozen=True)
class DsseEnvelope:
    """A DSSE envelope with exactly one signature (keyless signers produce one)."""

    payload_type: str
    payload: bytes
    signature: bytes

    def pae(self) -> bytes:
        """The bytes the signature covers: DSSE's pre-authentication encoding."""
        kind = self.payload_type.encode("utf-8")
        return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(self.payload), self.payload)


def parse_envelope(document: object, what: str = "DSSE envelope") -> DsseEnvelope:
    """Read ``{"payload","payloadType","signatures":[{"sig"}]}``; one signature only."""
    if not isinstance(document, dict):
        raise _fail(f"{what} is not a JSON object")
    payload_type = document.get("payloadType")
    if not isinstance(payload_type, str) or not payload_type:
        raise _fail(f"{what} has no payloadType")
    payload = _b64decode(document.get("payload"), f"{what} payload")
    signatures = document.get("signatures")
    if not isinstance(signatures, list) or not signatures:
        raise _fail(f"{what} has no signatures")
    if len(signatures) != 1:
        raise _fail(f"{what} has {len(signatures)} signatures; a keyless envelope has exactly one")
    entry = signatures[0]
    if not isinstance(entry, dict):
        raise _fail(f"{what} signature is not a JSON object")
    signature = _b64decode(entry.get("sig"), f"{what} signature")
    if not signature:
        raise _fail(f"{what} signature is empty")
    return DsseEnvelope(payload_type, payload, signature)


@dataclass(frozen=True)
class Statement:
    """The parts of a verified in-toto Statement the gate uses."""

    statement_type: str
    predicate_type: str
    subjects: tuple[dict[str, str], ...]  # each subject's digest map

    def covers(self, digest: Digest) -> bool:
        """True when one subject names ``digest`` (same algorithm, same value)."""
        return any(s.get(digest.algorithm) == digest.hex for s in self.subjects)


def parse_statement(envelope: DsseEnvelope) -> Statement:
    """The in-toto Statement in a verified envelope; other payloads are refused."""
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE:
        raise _fail(f"DSSE payload type {envelope.payload_type!r} is not {IN_TOTO_PAYLOAD_TYPE}")
    try:
        document = gojson.loads_strict(envelope.payload)
    except ValueError as exc:
        raise _fail(f"in-toto statement: {exc}") from None
    if not isinstance(document, dict):
        raise _fail("in-toto statement is not a JSON object")
    statement_type = document.get("_type")
    if statement_type not in STATEMENT_TYPES:
        raise _fail(f"payload _type {statement_type!r} is not an in-toto Statement")
    predicate_type = document.get("predicateType")
    if not isinstance(predicate_type, str) or not predicate_type:
        raise _fail("in-toto statement has no predicateType")
    raw_subjects = document.get("subject")
    if not isinstance(raw_subjects, list) or not raw_subjects:
        raise _fail("in-toto statement has no subject")
    subjects: list[dict[str, str]] = []
    for raw in raw_subjects:
        digests = raw.get("digest") if isinstance(raw, dict) else None
        if not isinstance(digests, dict):
            raise _fail("in-toto statement subject has no digest map")
        subjects.append({k: v for k, v in digests.items() if isinstance(v, str)})
    return Statement(str(statement_type), predicate_type, tuple(subjects))


# -- Rekor entries -----------------------------------------------------------------------


@dataclass(frozen=True)
class RekorEntry:
    """A Rekor v1 entry as far as its signed entry timestamp (SET) covers it."""

    body: bytes  # the canonicalized entry body
    integrated_time: int
    log_index: int
    log_id: bytes
    signed_entry_timestamp: bytes

    def set_payload(self) -> bytes:
        """The exact bytes Rekor signs for the SET: canonical JSON of the four fields."""
        document = {
            "body": base64.b64encode(self.body).decode("ascii"),
            "integratedTime": self.integrated_time,
            "logID": self.log_id.hex(),
            "logIndex": self.log_index,
        }
        # Only integers and ASCII strings: sorted compact JSON is RFC 8785 canonical JSON here.
        return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("ascii")


def _int_field(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(f"{what} is not a non-negative integer")
    return value


def parse_cosign_bundle(text: str | bytes) -> RekorEntry:
    """Read cosign's ``dev.sigstore.cosign/bundle`` annotation (SET and entry)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise _fail(f"Rekor bundle annotation: {exc}") from None
    if not isinstance(document, dict):
        raise _fail("Rekor bundle annotation is not a JSON object")
    payload = document.get("Payload")
    if not isinstance(payload, dict):
        raise _fail("Rekor bundle annotation has no Payload")
    signed = _b64decode(document.get("SignedEntryTimestamp"), "Rekor SignedEntryTimestamp")
    body = _b64decode(payload.get("body"), "Rekor entry body")
    log_id_text = payload.get("logID")
    try:
        log_id = bytes.fromhex(log_id_text) if isinstance(log_id_text, str) else b""
    except ValueError:
        log_id = b""
    if len(log_id) != 32:
        raise _fail("Rekor bundle logID is not a 32-byte hex log id")
    return RekorEntry(
        body=body,
        integrated_time=_int_field(payload.get("integratedTime"), "Rekor integratedTime"),
        log_index=_int_field(payload.get("logIndex"), "Rekor logIndex"),
        log_id=log_id,
        signed_entry_timestamp=signed,
    )


def verify_inclusion_promise(entry: RekorEntry, root: SigstoreTrustRoot) -> datetime:
    """Check the SET with the trusted log key and return the integrated time it proves.

    The key is the one the root lists under the entry's log id, and it must
    have been valid at the integrated time (closed interval).
    """
    integrated = datetime.fromtimestamp(entry.integrated_time, tz=UTC)
    log = root.tlog_key(entry.log_id, integrated)
    if not log.verify(entry.signed_entry_timestamp, entry.set_payload()):
        raise _fail(
            f"Rekor signed entry timestamp does not verify with the key of {log.name} "
            "(forged or altered log entry)"
        )
    return integrated


# -- entry bodies: what the log entry binds ----------------------------------------------


@dataclass(frozen=True)
class SignedContent:
    """What a signature object claims was logged: its signature, signer and content.

    ``digest`` is set for a signature over an artifact (hashedrekord),
    ``envelope`` for a DSSE envelope. ``signer`` is the leaf certificate, or
    the public key of a managed-key signature.
    """

    signature: bytes
    signer: x509.Certificate | VerifyingKey
    digest: Digest | None = None
    envelope: DsseEnvelope | None = None


def _get(document: object, path: str) -> Any:
    current = document
    for part in path.split("."):
        if not isinstance(current, dict) or part not in current:
            raise _fail(f"log entry body has no {path}")
        current = current[part]
    return current


def _same_signer(logged_b64: object, signer: x509.Certificate | VerifyingKey, what: str) -> None:
    pem = _b64decode(logged_b64, what)
    if isinstance(signer, x509.Certificate):
        try:
            logged = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise _fail(f"{what} is not the signing certificate") from None
        if logged != signer:
            raise _fail(f"{what} is another certificate than the signing certificate")
        return
    try:
        logged_key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        try:
            logged_key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            raise _fail(f"{what} is not a public key") from None
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    if logged_key.public_bytes(der, spki) != signer.public_bytes(der, spki):
        raise _fail(f"{what} is another key than the signing key")


def _hash_value(document: object, path: str) -> tuple[str, str]:
    algorithm = _get(document, f"{path}.algorithm")
    value = _get(document, f"{path}.value")
    if not isinstance(algorithm, str) or not isinstance(value, str):
        raise _fail(f"log entry body {path} is malformed")
    return algorithm.lower(), value.lower()


def _check_payload_hash(spec: object, path: str, payload: bytes) -> None:
    algorithm, value = _hash_value(spec, path)
    if algorithm != "sha256":
        raise _fail(f"log entry {path} uses {algorithm}, expected sha256")
    if value != hashlib.sha256(payload).hexdigest():
        raise _fail(
            "log entry payload hash does not match the signed payload "
            "(the logged entry is for other content)"
        )


def check_entry_body(body: bytes, content: SignedContent) -> str:
    """Check that the log entry body binds ``content``; return the entry's ``kind/version``.

    Supported: ``hashedrekord/0.0.1`` (artifact signatures), ``dsse/0.0.1``
    and ``intoto/0.0.1``/``0.0.2`` (envelopes). Anything else is refused:
    an entry whose binding cannot be checked does not count.
    """
    try:
        document = gojson.loads_strict(body)
    except ValueError as exc:
        raise _fail(f"log entry body: {exc}") from None
    kind = document.get("kind") if isinstance(document, dict) else None
    version = document.get("apiVersion") if isinstance(document, dict) else None
    spec = _get(document, "spec")
    kind_version = f"{kind}/{version}"
    envelope = content.envelope
    if kind_version == "hashedrekord/0.0.1":
        if content.digest is None:
            raise _fail("log entry is a hashedrekord, but the signature is over a DSSE envelope")
        algorithm, value = _hash_value(spec, "data.hash")
        if algorithm != content.digest.algorithm or value != content.digest.hex:
            raise _fail(
                f"log entry is for artifact {algorithm}:{value[:12]}.., not the signed content "
                f"{content.digest.algorithm}:{content.digest.hex[:12]}.."
            )
        logged = _b64decode(_get(spec, "signature.content"), "log entry signature")
        if logged != content.signature:
            raise _fail("log entry signature is not this signature")
        _same_signer(_get(spec, "signature.publicKey.content"), content.signer, "log entry key")
    elif kind_version == "dsse/0.0.1":
        if envelope is None:
            raise _fail("log entry is a DSSE entry, but the signature is not a DSSE envelope")
        _check_payload_hash(spec, "payloadHash", envelope.payload)
        logged_signatures = _get(spec, "signatures")
        if not isinstance(logged_signatures, list) or len(logged_signatures) != 1:
            raise _fail("log entry does not list exactly the one envelope signature")
        logged = _b64decode(_get(logged_signatures[0], "signature"), "log entry signature")
        if logged != envelope.signature:
            raise _fail("log entry signature is not the envelope's signature")
        _same_signer(_get(logged_signatures[0], "verifier"), content.signer, "log entry verifier")
    elif kind_version == "intoto/0.0.2":
        if envelope is None:
            raise _fail("log entry is an in-toto entry, but the signature is not a DSSE envelope")
        _check_payload_hash(spec, "content.payloadHash", envelope.payload)
        logged_envelope = _get(spec, "content.envelope")
        logged_type = _get(logged_envelope, "payloadType")
        if logged_type != envelope.payload_type:
            raise _fail("log entry payloadType is not the envelope's")
        if isinstance(logged_envelope, dict) and "payload" in logged_envelope:
            # Rekor stores the payload base64-encoded twice.
            inner = _b64decode(logged_envelope["payload"], "log entry payload")
            try:
                logged = _b64decode(inner.decode("ascii"), "log entry payload")
            except (UnicodeDecodeError, KeylessVerificationError):
                logged = b""
            if logged != envelope.payload:
                raise _fail("log entry payload is not the envelope's payload")
        logged_signatures = _get(logged_envelope, "signatures")
        if not isinstance(logged_signatures, list) or len(logged_signatures) != 1:
            raise _fail("log entry does not list exactly the one envelope signature")
        # Rekor stores the signature base64-encoded twice.
        inner = _b64decode(_get(logged_signatures[0], "sig"), "log entry signature")
        try:
            logged = _b64decode(inner.decode("ascii"), "log entry signature")
        except (UnicodeDecodeError, KeylessVerificationError):
            logged = b""
        if logged != envelope.signature:
            raise _fail("log entry signature is not the envelope's signature")
        _same_signer(_get(logged_signatures[0], "publicKey"), content.signer, "log entry key")
    elif kind_version == "intoto/0.0.1":
        if envelope is None:
            raise _fail("log entry is an in-toto entry, but the signature is not a DSSE envelope")
        _check_payload_hash(spec, "content.payloadHash", envelope.payload)
        _same_signer(_get(spec, "publicKey"), content.signer, "log entry key")
    else:
        raise _fail(f"log entry kind {kind_version} is not supported")
    return kind_version


# -- the legacy annotation form ----------------------------------------------------------


@dataclass(frozen=True)
class LegacyVerification:
    """A verified legacy keyless signature or attestation.

    ``integrated_time``/``log_index`` come from the verified SET (None when
    the transparency log was not required and absent); ``checked_at`` is the
    time the certificate was checked at. ``payload`` is the signed payload
    (simple signing JSON, or the statement of an envelope).
    """

    identity: CertificateIdentity
    payload: bytes
    checked_at: datetime
    integrated_time: datetime | None = None
    log_index: int | None = None
    statement: Statement | None = None


def _check_legacy(
    content: SignedContent,
    *,
    leaf: x509.Certificate,
    chain: str | None,
    bundle: str | None,
    root: SigstoreTrustRoot,
    now: datetime,
    require_tlog: bool,
) -> tuple[datetime, datetime | None, int | None]:
    untrusted = load_pem_certificates(chain, "chain annotation") if chain else []
    integrated: datetime | None = None
    log_index: int | None = None
    if bundle is not None:
        entry = parse_cosign_bundle(bundle)
        integrated = verify_inclusion_promise(entry, root)
        check_entry_body(entry.body, content)
        log_index = entry.log_index
        checked_at = integrated
    elif require_tlog:
        raise _fail("no transparency-log entry (dev.sigstore.cosign/bundle); one is required")
    else:
        # Without a log entry there is no authenticated signing time: like cosign with
        # --insecure-ignore-tlog, the short-lived certificate must be valid now.
        checked_at = now
    root.verify_signing_certificate(leaf, untrusted, [checked_at])
    return checked_at, integrated, log_index


def verify_legacy_signature(
    *,
    payload: bytes,
    signature: bytes,
    certificate: str | bytes,
    chain: str | None,
    bundle: str | None,
    root: SigstoreTrustRoot,
    now: datetime,
    require_tlog: bool = True,
) -> LegacyVerification:
    """Verify one ``.sig`` layer's keyless signature over ``payload`` (its raw bytes).

    The caller still checks what the payload says (image digest) and
    whether the identity is trusted. Raises ``KeylessVerificationError``.
    """
    leaf = load_leaf(certificate)
    key = signing_key(leaf)
    content = SignedContent(signature=signature, signer=leaf, digest=Digest.of(payload))
    checked_at, integrated, log_index = _check_legacy(
        content,
        leaf=leaf,
        chain=chain,
        bundle=bundle,
        root=root,
        now=now,
        require_tlog=require_tlog,
    )
    if not verify_raw(key, signature, payload):
        raise _fail("signature does not verify with the signing certificate's key")
    return LegacyVerification(
        identity=certificate_identity(leaf),
        payload=payload,
        checked_at=checked_at,
        integrated_time=integrated,
        log_index=log_index,
    )


def verify_legacy_attestation(
    *,
    envelope: bytes,
    certificate: str | bytes,
    chain: str | None,
    bundle: str | None,
    root: SigstoreTrustRoot,
    now: datetime,
    require_tlog: bool = True,
) -> LegacyVerification:
    """Verify one ``.att`` layer: a DSSE envelope signed keylessly, logged as intoto/dsse.

    Returns the verified statement; the caller checks its subject digest.
    """
    try:
        document = gojson.loads_strict(envelope)
    except ValueError as exc:
        raise _fail(f"DSSE envelope: {exc}") from None
    parsed = parse_envelope(document)
    leaf = load_leaf(certificate)
    key = signing_key(leaf)
    content = SignedContent(signature=parsed.signature, signer=leaf, envelope=parsed)
    checked_at, integrated, log_index = _check_legacy(
        content,
        leaf=leaf,
        chain=chain,
        bundle=bundle,
        root=root,
        now=now,
        require_tlog=require_tlog,
    )
    if not verify_raw(key, parsed.signature, parsed.pae()):
        raise _fail("DSSE signature does not verify with the signing certificate's key")
    return LegacyVerification(
        identity=certificate_identity(leaf),
        payload=parsed.payload,
        checked_at=checked_at,
        integrated_time=integrated,
        log_index=log_index,
        statement=parse_statement(parsed),
    )
