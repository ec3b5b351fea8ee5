"""The Sigstore trusted root: which Fulcio CAs, Rekor logs, CT logs and TSAs keyless trust rests on.

A ``trusted_root.json`` (Sigstore's ``TrustedRoot`` message) lists, each with
a validity period, the certificate authorities that issue signing
certificates (Fulcio), the transparency logs whose signed entry timestamps and
checkpoints count (Rekor), the certificate transparency logs whose SCTs
count, and the timestamp authorities. Everything offline: the public-good
root is the copy sigstore-python ships as package data (never a TUF refresh),
any other root is a file named by the policy.

``SigstoreTrustRoot`` holds the parsed material and answers the questions
whose answer is "the trusted root vouches for it": does this leaf chain to a
Fulcio CA that was valid at that time, is this SCT signed by a trusted CT log,
which log key signed this entry, what time does this RFC 3161 timestamp
prove. Every validity period is a closed interval ``[start, end]``, as the
Sigstore specification says. The same root also feeds sigstore-python's
``Verifier`` (see ``sigstore_verifier``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.certificate_transparency import LogEntryType, SignedCertificateTimestamp
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
)
from cryptography.x509.verification import VerificationError as X509VerificationError
from pydantic import ValidationError
from rfc3161_client import TimeStampResponse, VerifierBuilder, decode_timestamp_response
from rfc3161_client import VerificationError as TimestampVerificationError
from sigstore.errors import Error as SigstoreError
from sigstore.models import TrustedRoot
from sigstore_models.common.v1 import PublicKeyDetails, TimeRange
from sigstore_models.trustroot import v1 as trustroot_v1

from gate.errors import InputError, VerificationError
from gate.signatures import gojson
from gate.signatures.keyless.authority import PUBLIC_GOOD

if TYPE_CHECKING:
    from sigstore.verify import Verifier

#: Where sigstore-python 4.x keeps its embedded copy of the public-good trusted root.
_EMBEDDED_ROOT = ("_store", "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev", "trusted_root.json")
#: A trusted root is a few kilobytes; anything this big is not one.
MAX_TRUSTED_ROOT_SIZE = 1 << 20
#: sigstore-python's cap on RFC 3161 timestamps per bundle (sigstore-go uses the same).
MAX_TIMESTAMPS = 32

VerifyingKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey

_EC_HASHES: dict[PublicKeyDetails, type[hashes.HashAlgorithm]] = {
    PublicKeyDetails.PKIX_ECDSA_P256_SHA_256: hashes.SHA256,
    PublicKeyDetails.PKIX_ECDSA_P384_SHA_384: hashes.SHA384,
    PublicKeyDetails.PKIX_ECDSA_P521_SHA_512: hashes.SHA512,
}
_RSA_PKCS1_SHA256 = frozenset(
    {
        PublicKeyDetails.PKCS1_RSA_PKCS1V5,
        PublicKeyDetails.PKIX_RSA_PKCS1V5,
        PublicKeyDetails.PKIX_RSA_PKCS1V15_2048_SHA256,
        PublicKeyDetails.PKIX_RSA_PKCS1V15_3072_SHA256,
        PublicKeyDetails.PKIX_RSA_PKCS1V15_4096_SHA256,
    }
)


class KeylessVerificationError(VerificationError):
    """A keyless signature, log entry or bundle was checked and does not verify (one line)."""


def utc_text(instant: datetime) -> str:
    """``2024-05-30T15:18:17Z``: how times appear in sentences."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class ValidityPeriod:
    """A closed time interval ``[start, end]``; no end means "still valid"."""

    start: datetime
    end: datetime | None = None

    def contains(self, instant: datetime) -> bool:
        """True when ``instant`` lies in the period, both bounds included."""
        return self.start <= instant and (self.end is None or instant <= self.end)

    def __str__(self) -> str:
        end = utc_text(self.end) if self.end is not None else "open"
        return f"{utc_text(self.start)}..{end}"


@dataclass(frozen=True)
class CertificateAuthority:
    """A Fulcio CA or a TSA of the root: its chain (issuing certificate first, root last)."""

    name: str
    certificates: tuple[x509.Certificate, ...]
    validity: ValidityPeriod


@dataclass(frozen=True)
class LogKey:
    """A Rekor or CT log key of the root, with the log id entries and SCTs name it by."""

    name: str
    log_id: bytes
    key: VerifyingKey | None  # None: a key type the gate cannot use (never verifies)
    details: PublicKeyDetails
    validity: ValidityPeriod

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` over ``data`` is valid for this key's declared algorithm."""
        key = self.key
        try:
            if isinstance(key, ec.EllipticCurvePublicKey) and self.details in _EC_HASHES:
                key.verify(signature, data, ec.ECDSA(_EC_HASHES[self.details]()))
                return True
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
                return True
            if isinstance(key, rsa.RSAPublicKey) and self.details in _RSA_PKCS1_SHA256:
                key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
                return True
        except (InvalidSignature, ValueError):
            return False
        return False


def _period(raw: TimeRange | None) -> ValidityPeriod:
    if raw is None:
        # A key without validFor has always been valid (the spec's reading of an absent range).
        return ValidityPeriod(datetime.min.replace(tzinfo=UTC))
    return ValidityPeriod(raw.start, raw.end)


def _log_key(raw: trustroot_v1.TransparencyLogInstance, where: str, source: str) -> LogKey:
    public = raw.public_key
    key: VerifyingKey | None = None
    if public.raw_bytes:
        try:
            loaded = serialization.load_der_public_key(public.raw_bytes)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise InputError(
                f"not a DER public key ({exc})", source=source, field=f"{where}.publicKey.rawBytes"
            ) from None
        if isinstance(loaded, VerifyingKey):
            key = loaded
    return LogKey(
        name=raw.base_url,
        log_id=raw.log_id.key_id,
        key=key,
        details=public.key_details,
        validity=_period(public.valid_for),
    )


def _authority(
    raw: trustroot_v1.CertificateAuthority, where: str, source: str
) -> CertificateAuthority:
    certificates: list[x509.Certificate] = []
    for index, entry in enumerate(raw.cert_chain.certificates):
        try:
            certificates.append(x509.load_der_x509_certificate(entry.raw_bytes))
        except ValueError as exc:
            raise InputError(
                f"not a DER certificate ({exc})",
                source=source,
                field=f"{where}.certChain.certificates[{index}]",
            ) from None
    if not certificates:
        raise InputError("empty certificate chain", source=source, field=f"{where}.certChain")
    name = raw.uri or raw.subject.common_name or where
    return CertificateAuthority(name, tuple(certificates), _period(raw.valid_for))


def _validation_message(exc: ValidationError) -> tuple[str, str]:
    """The first problem pydantic found, as (field path, reason)."""
    first = exc.errors()[0]
    parts: list[str] = []
    for item in first.get("loc", ()):
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(f".{item}" if parts else str(item))
    reason = str(first.get("msg", "invalid")).splitlines()[0]
    count = exc.error_count()
    if count > 1:
        reason += f" (and {count - 1} more problems)"
    return "".join(parts), reason


class SigstoreTrustRoot:
    """A loaded trusted root: parsed trust material plus the sigstore-python view of it.

    Immutable after construction; safe to share between threads and requests.
    """

    def __init__(self, label: str, document: bytes) -> None:
        self.label = label
        try:
            parsed = gojson.loads_strict(document)
        except ValueError as exc:
            raise InputError(str(exc), source=label) from None
        if not isinstance(parsed, dict):
            raise InputError("not a JSON object", source=label)
        try:
            inner = trustroot_v1.TrustedRoot.from_json(document)
        except ValidationError as exc:
            field, reason = _validation_message(exc)
            raise InputError(reason, source=label, field=field or None) from None
        try:
            TrustedRoot(inner)  # sigstore-python's own checks (media type)
        except SigstoreError as exc:
            raise InputError(str(exc), source=label, field="mediaType") from None
        self.fulcio = tuple(
            _authority(ca, f"certificateAuthorities[{i}]", label)
            for i, ca in enumerate(inner.certificate_authorities)
        )
        self.tlogs = tuple(_log_key(log, f"tlogs[{i}]", label) for i, log in enumerate(inner.tlogs))
        self.ctlogs = tuple(
            _log_key(log, f"ctlogs[{i}]", label) for i, log in enumerate(inner.ctlogs)
        )
        self.tsas = tuple(
            _authority(ca, f"timestampAuthorities[{i}]", label)
            for i, ca in enumerate(inner.timestamp_authorities)
        )
        if not self.tlogs:
            raise InputError("no transparency logs (tlogs): nothing can be verified", source=label)
        self._inner = inner
        self._verifier: Verifier | None = None
        self._lock = threading.Lock()

    # -- sigstore-python ---------------------------------------------------------------

    def sigstore_verifier(self) -> Verifier:
        """A sigstore-python ``Verifier`` for this root (built once).

        sigstore-python 4.5.1 treats a TSA's ``validFor.end`` as exclusive,
        where the specification (and the conformance suite) says the range
        is closed. Its view of the root therefore has every TSA end moved one
        microsecond later: for datetimes (microsecond resolution)
        ``t < end + 1us`` is exactly ``t <= end``. The gate's own checks
        (``verify_timestamp``) use the unmodified bounds.
        """
        with self._lock:
            if self._verifier is None:
                # Imported here: the verify module pulls in the Rekor client machinery.
                from sigstore.verify import Verifier  # noqa: PLC0415

                view = self._inner.model_copy(deep=True)
                for authority in view.timestamp_authorities:
                    end = authority.valid_for.end
                    if end is not None:
                        authority.valid_for.end = end + timedelta(microseconds=1)
                self._verifier = Verifier(trusted_root=TrustedRoot(view))
            return self._verifier

    # -- transparency logs -------------------------------------------------------------

    def tlog_key(self, log_id: bytes, at: datetime | None) -> LogKey:
        """The Rekor key the root names ``log_id``, valid at ``at`` (when a time is known).

        The log id of an entry is an unauthenticated pointer; it only selects
        which trusted key must then verify the signature.
        """
        for log in self.tlogs:
            if log.log_id != log_id:
                continue
            if at is not None and not log.validity.contains(at):
                raise KeylessVerificationError(
                    f"Rekor log {log.name} key (log id {log_id.hex()[:16]}..) was not valid at "
                    f"{utc_text(at)} (trusted for {log.validity})"
                )
            return log
        raise KeylessVerificationError(
            f"log id {log_id.hex()[:16]}.. is not a transparency log of trusted root {self.label}"
        )

    # -- signing certificates ----------------------------------------------------------

    def verify_signing_certificate(
        self,
        leaf: x509.Certificate,
        untrusted: Sequence[x509.Certificate],
        times: Iterable[datetime],
    ) -> None:
        """Check a Fulcio leaf: profile, chain to a trusted CA at every time, and an SCT.

        ``untrusted`` are intermediates offered by the signature (never trust
        anchors); ``times`` the verified signing times (at least one).
        """
        check_leaf_profile(leaf)
        chain: tuple[x509.Certificate, ...] = ()
        checked = False
        for instant in times:
            chain = self.fulcio_chain(leaf, untrusted, instant)
            checked = True
        if not checked:
            raise KeylessVerificationError("no verified signing time to check the certificate at")
        self.verify_sct(leaf, chain)

    def fulcio_chain(
        self, leaf: x509.Certificate, untrusted: Sequence[x509.Certificate], at: datetime
    ) -> tuple[x509.Certificate, ...]:
        """The verified chain (leaf first) from ``leaf`` to a Fulcio CA valid at ``at``.

        Each CA is tried on its own: its last certificate is the only trust
        anchor, its other certificates and ``untrusted`` may serve as
        intermediates, and the CA's ``validFor`` must contain ``at`` (a CA
        retired from the root no longer vouches for new certificates).
        """
        if not self.fulcio:
            raise KeylessVerificationError(
                f"trusted root {self.label} has no Fulcio certificate authorities"
            )
        in_period = [ca for ca in self.fulcio if ca.validity.contains(at)]
        if not in_period:
            raise KeylessVerificationError(
                f"no Fulcio CA of trusted root {self.label} was valid at {utc_text(at)}"
            )
        # Fulcio leaves carry the code-signing EKU, not the client-auth one cryptography's
        # client verifier expects; the EKU is checked by check_leaf_profile instead.
        ca_policy = ExtensionPolicy.webpki_defaults_ca().may_be_present(
            x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
        )
        ee_policy = ExtensionPolicy.webpki_defaults_ee().may_be_present(
            x509.ExtendedKeyUsage, Criticality.NON_CRITICAL, None
        )
        reasons: list[str] = []
        for ca in in_period:
            verifier = (
                PolicyBuilder()
                .store(Store([ca.certificates[-1]]))
                .time(at)
                .extension_policies(ca_policy=ca_policy, ee_policy=ee_policy)
                .build_client_verifier()
            )
            try:
                verified = verifier.verify(leaf, [*ca.certificates[:-1], *untrusted])
            except (X509VerificationError, x509.UnsupportedGeneralNameType, ValueError) as exc:
                reasons.append(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
                continue
            return tuple(verified.chain)
        detail = f" ({reasons[0]})" if reasons else ""
        raise KeylessVerificationError(
            f"signing certificate does not chain to a Fulcio CA of trusted root {self.label} "
            f"at {utc_text(at)}{detail}"
        )

    def verify_sct(self, leaf: x509.Certificate, chain: Sequence[x509.Certificate]) -> None:
        """At least one embedded SCT of ``leaf`` verifies with a CT log key of the root.

        ``chain`` is the verified chain, leaf first: the precertificate SCT
        covers the issuer's key hash, taken from the certificate after the leaf.
        """
        try:
            scts = leaf.extensions.get_extension_for_class(
                x509.PrecertificateSignedCertificateTimestamps
            ).value
        except x509.ExtensionNotFound:
            raise KeylessVerificationError(
                "signing certificate has no embedded SCT (certificate transparency proof)"
            ) from None
        if len(chain) < 2:
            raise KeylessVerificationError("cannot check the SCT without the issuing certificate")
        issuer = chain[1]
        if _is_precertificate_signer(issuer) and len(chain) > 2:
            issuer = chain[2]
        issuer_key_hash = hashlib.sha256(
            issuer.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).digest()
        tbs = leaf.tbs_precertificate_bytes
        problems: list[str] = []
        for sct in scts:
            if sct.entry_type != LogEntryType.PRE_CERTIFICATE:
                problems.append("not a precertificate SCT")
                continue
            log = next((c for c in self.ctlogs if c.log_id == sct.log_id), None)
            if log is None:
                problems.append(f"CT log {sct.log_id.hex()[:16]}.. is not in the trusted root")
                continue
            stamped = sct.timestamp.replace(tzinfo=UTC)
            if not log.validity.contains(stamped):
                problems.append(f"CT log key {log.name} was not valid at {utc_text(stamped)}")
                continue
            if log.verify(sct.signature, _sct_signed_data(sct, issuer_key_hash, tbs)):
                return
            problems.append(f"SCT signature does not verify with CT log key {log.name}")
        detail = problems[0] if problems else "no SCT"
        raise KeylessVerificationError(f"signing certificate SCT not verified: {detail}")

    # -- timestamp authorities ---------------------------------------------------------

    def verify_timestamp(self, response: TimeStampResponse, signature: bytes) -> datetime | None:
        """The time an RFC 3161 response proves for ``signature``, or None when no TSA vouches.

        The message imprint must be the hash of the signature bytes, the
        response must verify with one TSA chain of the root, and its genTime
        must lie in that TSA's ``validFor`` (both ends included).
        """
        for tsa in self.tsas:
            certificates = tsa.certificates
            builder = VerifierBuilder().tsa_certificate(certificates[0])
            builder = builder.add_root_certificate(certificates[-1])
            for intermediate in certificates[1:-1]:
                builder = builder.add_intermediate_certificate(intermediate)
            try:
                builder.build().verify_message(response, signature)
            except (TimestampVerificationError, ValueError):
                continue
            gen_time = response.tst_info.gen_time
            if gen_time.tzinfo is None:
                gen_time = gen_time.replace(tzinfo=UTC)
            if tsa.validity.contains(gen_time):
                return gen_time
        return None


def decode_timestamps(encoded: Sequence[bytes]) -> list[TimeStampResponse]:
    """Parse RFC 3161 responses: at most ``MAX_TIMESTAMPS``, no duplicates (DoS, double count)."""
    if len(encoded) > MAX_TIMESTAMPS:
        raise KeylessVerificationError(
            f"{len(encoded)} RFC 3161 timestamps exceed the limit of {MAX_TIMESTAMPS}"
        )
    if len(set(encoded)) != len(encoded):
        raise KeylessVerificationError("duplicate RFC 3161 timestamps")
    responses: list[TimeStampResponse] = []
    for index, data in enumerate(encoded):
        try:
            responses.append(decode_timestamp_response(data))
        except ValueError:
            raise KeylessVerificationError(
                f"RFC 3161 timestamp {index} is not a valid timestamp response"
            ) from None
    return responses


def check_leaf_profile(leaf: x509.Certificate) -> None:
    """A signing certificate must be an end entity with digitalSignature and codeSigning."""
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise KeylessVerificationError("signing certificate is a CA certificate")
    try:
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise KeylessVerificationError("signing certificate has no KeyUsage extension") from None
    if not usage.digital_signature:
        raise KeylessVerificationError("signing certificate KeyUsage lacks digitalSignature")
    try:
        extended = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise KeylessVerificationError(
            "signing certificate has no ExtendedKeyUsage (codeSigning required)"
        ) from None
    if ExtendedKeyUsageOID.CODE_SIGNING not in extended:
        raise KeylessVerificationError("signing certificate is not for code signing (EKU)")


def is_root_certificate(certificate: x509.Certificate) -> bool:
    """True for a self-signed CA certificate (a trust anchor, never welcome inside a signature)."""
    if certificate.issuer != certificate.subject:
        return False
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not constraints.ca:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _is_precertificate_signer(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in usage


def _sct_signed_data(sct: SignedCertificateTimestamp, issuer_key_hash: bytes, tbs: bytes) -> bytes:
    """The RFC 6962 ``digitally-signed`` input of a precertificate SCT."""
    milliseconds = int(sct.timestamp.replace(tzinfo=UTC).timestamp() * 1000)
    extensions = sct.extension_bytes
    return b"".join(
        (
            bytes((sct.version.value, 0)),  # version, signature_type = certificate_timestamp
            milliseconds.to_bytes(8, "big"),
            LogEntryType.PRE_CERTIFICATE.value.to_bytes(2, "big"),
            issuer_key_hash,
            len(tbs).to_bytes(3, "big"),
            tbs,
            len(extensions).to_bytes(2, "big"),
            extensions,
        )
    )


# -- loading ---------------------------------------------------------------------------

_cache: dict[tuple[str, int, int], SigstoreTrustRoot] = {}
_cache_lock = threading.Lock()


def embedded_public_good_root() -> bytes:
    """The public-good ``trusted_root.json`` that sigstore-python ships (offline, no TUF)."""
    resource = importlib.resources.files("sigstore").joinpath(*_EMBEDDED_ROOT)
    return resource.read_bytes()


@functools.cache
def _public_good_root() -> SigstoreTrustRoot:
    return SigstoreTrustRoot(PUBLIC_GOOD, embedded_public_good_root())


def load_trusted_root(path: Path | None) -> SigstoreTrustRoot:
    """The trusted root in ``path``, or the embedded public-good root for None; cached.

    A file is parsed again only when its modification time or size changes.
    Raises ``InputError`` (one line: file, field, reason) for a file that is
    missing, unreadable, too big or not a valid trusted root.
    """
    if path is None:
        return _public_good_root()
    label = str(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise InputError("trusted root file not found", source=label) from None
    except OSError as exc:
        raise InputError(f"cannot read trusted root: {exc.strerror or exc}", source=label) from None
    if stat.st_size > MAX_TRUSTED_ROOT_SIZE:
        raise InputError(f"trusted root is larger than {MAX_TRUSTED_ROOT_SIZE} bytes", source=label)
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    try:
        document = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read trusted root: {exc.strerror or exc}", source=label) from None
    root = SigstoreTrustRoot(label, document)
    with _cache_lock:
        # One entry per file: a changed file replaces its old parse.
        for stale in [k for k in _cache if k[0] == key[0]]:
            del _cache[stale]
        _cache[key] = root
    return root
