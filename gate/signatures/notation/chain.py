"""Notation certificate chains, trust stores, trusted identities and authentic timestamps.

What an opened envelope (``envelope.open_envelope``) still has to prove:

- **integrity** of its chain (``validate_certificate_chain``): ordered leaf to
  root, each certificate issued by the next, ending in a self-signed root, CA
  and leaf rules of the Notation signature specification (basic constraints,
  key usage, no TLS/e-mail/timestamping EKU on the leaf, allowed key sizes,
  no SHA-1, MD5 or SHA-224 signatures). Validity is not checked here: when it
  matters depends on the signing time (below).
- **authenticity** (``find_trust_anchor``, ``match_identity``): one of the
  chain's certificates is, byte for byte, a certificate of the trust store
  (a root the envelope carries proves nothing by itself), and the leaf's
  subject contains every RDN of one trusted identity (``x509.subject:<DN>``,
  or ``*``).
- **authentic timestamp** (``check_signing_time``): under ``notary.x509``,
  with TSA roots configured, an RFC 3161 countersignature over the
  signature bytes (``verify_timestamp_token``) whose time range lies within
  every chain certificate's validity (an expired signing certificate is then
  fine); without one the chain must be valid now. Under
  ``notary.x509.signingAuthority`` the authentic signing time must lie
  within the chain's validity.
- **expiry** (``check_expiry``): now is before ``io.cncf.notary.expiry``.

``evaluate_trust`` runs them with the verification level of the trust
block: strict enforces all, permissive logs the timestamp and expiry
failures, audit logs everything but integrity. Revocation (OCSP/CRL) is not
checked; every outcome says so in its notes.

RFC 3161 tokens are CMS SignedData; they are read here with a small DER
reader (only definite lengths) because real tokens are not always strict DER
(certificate sets out of order) and ``rfc3161-client`` refuses those.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gate.errors import PolicyError
from gate.signatures.notation.authority import (
    NotationTrust,
    TrustedCertificate,
    VerificationLevel,
)
from gate.signatures.notation.envelope import (
    SCHEME_SIGNING_AUTHORITY,
    Check,
    NotationError,
    SignatureEnvelope,
    algorithm_for_key,
    load_certificate,
)


class VerifyTimestamp(Enum):
    """The trust policy's ``verifyTimestamp``: when a TSA countersignature is required."""

    ALWAYS = "always"
    AFTER_CERT_EXPIRY = "afterCertExpiry"


_ENFORCED: Final[dict[VerificationLevel, frozenset[Check]]] = {
    VerificationLevel.STRICT: frozenset(Check),
    VerificationLevel.PERMISSIVE: frozenset({Check.INTEGRITY, Check.AUTHENTICITY}),
    VerificationLevel.AUDIT: frozenset({Check.INTEGRITY}),
}


def enforced(level: VerificationLevel, check: Check) -> bool:
    """Whether ``level`` enforces ``check`` (otherwise a failure is only logged)."""
    return check in _ENFORCED[level]


# -- certificate requirements ----------------------------------------------------------------

_WEAK_HASHES: Final = (hashes.SHA1, hashes.MD5, hashes.SHA224)
# Extended key usages a code-signing leaf must not have (spec list plus notation's OCSPSigning).
_FORBIDDEN_LEAF_EKUS: Final = {
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def describe(certificate: x509.Certificate) -> str:
    """How messages name a certificate: its subject DN."""
    return certificate.subject.rfc4514_string() or "(empty subject)"


def _extension(
    certificate: x509.Certificate, kind: type[x509.ExtensionType]
) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return certificate.extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None
    except (ValueError, x509.DuplicateExtension) as exc:  # undecodable or repeated
        raise NotationError(
            f"certificate {describe(certificate)!r}: malformed extensions ({exc})"
        ) from None


def _check_signature_hash(certificate: x509.Certificate) -> None:
    try:
        algorithm = certificate.signature_hash_algorithm
    except UnsupportedAlgorithm:
        raise NotationError(
            f"certificate {describe(certificate)!r} uses an unsupported signature algorithm"
        ) from None
    if isinstance(algorithm, _WEAK_HASHES):
        raise NotationError(
            f"certificate {describe(certificate)!r} is signed with {algorithm.name}, which is "
            "not accepted"
        )


def _issued_by(child: x509.Certificate, parent: x509.Certificate) -> bool:
    """True when ``parent``'s subject is ``child``'s issuer and its key signed ``child``."""
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _key_usage(certificate: x509.Certificate, *, require_critical: bool) -> x509.KeyUsage:
    extension = _extension(certificate, x509.KeyUsage)
    if extension is None:
        raise NotationError(f"certificate {describe(certificate)!r} has no key usage extension")
    if require_critical and not extension.critical:
        raise NotationError(
            f"certificate {describe(certificate)!r}: key usage extension must be critical"
        )
    value = extension.value
    assert isinstance(value, x509.KeyUsage)  # noqa: S101 - get_extension_for_class guarantees it
    return value


def _check_leaf(certificate: x509.Certificate, *, timestamping: bool) -> None:
    """Notation's leaf requirements for a code-signing or a timestamping certificate."""
    name = describe(certificate)
    constraints = _extension(certificate, x509.BasicConstraints)
    if (
        constraints is not None
        and isinstance(constraints.value, x509.BasicConstraints)
        and constraints.value.ca
    ):
        raise NotationError(f"leaf certificate {name!r} is a CA certificate (cA=true)")
    usage = _key_usage(certificate, require_critical=not timestamping)
    if not usage.digital_signature:
        raise NotationError(f"leaf certificate {name!r}: key usage lacks digitalSignature")
    forbidden = [
        label
        for label, present in (
            ("keyEncipherment", usage.key_encipherment),
            ("dataEncipherment", usage.data_encipherment),
            ("keyAgreement", usage.key_agreement),
            ("keyCertSign", usage.key_cert_sign),
            ("cRLSign", usage.crl_sign),
            ("encipherOnly", usage.key_agreement and usage.encipher_only),
            ("decipherOnly", usage.key_agreement and usage.decipher_only),
        )
        if present
    ]
    if forbidden:
        raise NotationError(
            f"leaf certificate {name!r}: key usage must be digitalSignature only, has "
            f"{', '.join(forbidden)}"
        )
    eku = _extension(certificate, x509.ExtendedKeyUsage)
    if timestamping:
        if eku is None or not eku.critical:
            raise NotationError(
                f"TSA certificate {name!r}: extended key usage must be present and critical"
            )
        usages = list(eku.value) if isinstance(eku.value, x509.ExtendedKeyUsage) else []
        if usages != [ExtendedKeyUsageOID.TIME_STAMPING]:
            raise NotationError(
                f"TSA certificate {name!r}: extended key usage must be timeStamping only"
            )
    elif eku is not None and isinstance(eku.value, x509.ExtendedKeyUsage):
        bad = [label for oid, label in _FORBIDDEN_LEAF_EKUS.items() if oid in eku.value]
        if bad:
            raise NotationError(
                f"signing certificate {name!r}: extended key usage must not contain "
                f"{', '.join(bad)}"
            )
    try:
        algorithm_for_key(certificate)
    except NotationError as exc:
        raise NotationError(f"leaf certificate {name!r}: {exc.reason}") from None


def _check_ca(certificate: x509.Certificate, below: int, *, timestamping: bool) -> None:
    """CA requirements; ``below`` is the number of intermediate CAs under this one."""
    name = describe(certificate)
    constraints = _extension(certificate, x509.BasicConstraints)
    if (
        constraints is None
        or not isinstance(constraints.value, x509.BasicConstraints)
        or not constraints.value.ca
    ):
        raise NotationError(f"CA certificate {name!r}: basic constraints must say cA=true")
    if not constraints.critical:
        raise NotationError(f"CA certificate {name!r}: basic constraints must be critical")
    path_length = constraints.value.path_length
    if path_length is not None and path_length < below:
        raise NotationError(
            f"CA certificate {name!r}: path length constraint {path_length} is exceeded "
            f"({below} CA certificate(s) below it)"
        )
    if not _key_usage(certificate, require_critical=not timestamping).key_cert_sign:
        raise NotationError(f"CA certificate {name!r}: key usage lacks keyCertSign")


def _check_ordered_chain(chain: Sequence[x509.Certificate], *, timestamping: bool) -> None:
    for certificate in chain:
        _check_signature_hash(certificate)
    if len(chain) == 1:
        only = chain[0]
        if not _issued_by(only, only):
            raise NotationError(
                f"single certificate {describe(only)!r} is not self-signed (the chain must "
                "contain its root)"
            )
        _check_leaf(only, timestamping=timestamping)
        return
    last = len(chain) - 1
    for i, certificate in enumerate(chain):
        name = describe(certificate)
        if i == last:
            if not _issued_by(certificate, certificate):
                raise NotationError(
                    f"root certificate {name!r} is not self-signed (the chain must end in a root)"
                )
        else:
            if _issued_by(certificate, certificate):
                what = "leaf" if i == 0 else "intermediate"
                raise NotationError(f"{what} certificate {name!r} is self-signed")
            parent = chain[i + 1]
            if not _issued_by(certificate, parent):
                raise NotationError(
                    f"certificate {name!r} is not issued by the next one, "
                    f"{describe(parent)!r} (chain out of order or unrelated certificates)"
                )
        if i == 0:
            _check_leaf(certificate, timestamping=timestamping)
        else:
            _check_ca(certificate, i - 1, timestamping=timestamping)


def validate_certificate_chain(
    chain: Sequence[x509.Certificate], *, source: str | None = None
) -> None:
    """Check the envelope's chain against the Notation certificate requirements (integrity).

    Raises ``NotationError`` (integrity) naming the certificate at fault.
    """
    if not chain:
        raise NotationError("certificate chain is empty", source=source)
    try:
        _check_ordered_chain(chain, timestamping=False)
    except NotationError as exc:
        raise NotationError(exc.reason, source=source, field="certificate chain") from None


# -- authenticity ----------------------------------------------------------------------------


def find_trust_anchor(
    chain: Sequence[x509.Certificate],
    trust_store: Sequence[TrustedCertificate],
    *,
    source: str | None = None,
) -> TrustedCertificate:
    """The trust-store certificate found in ``chain`` (byte for byte); else authenticity fails."""
    if not trust_store:
        raise NotationError(
            "no trusted certificates are configured", check=Check.AUTHENTICITY, source=source
        )
    for anchor in trust_store:
        if any(anchor.certificate == certificate for certificate in chain):
            return anchor
    labels = ", ".join(anchor.label for anchor in trust_store)
    raise NotationError(
        f"certificate chain does not contain any trusted certificate (trust store: {labels})",
        check=Check.AUTHENTICITY,
        source=source,
    )


#: RFC 4514 short names for subject attributes, as Go's pkix.Name renders them.
_SHORT_NAMES: Final = {
    NameOID.COUNTRY_NAME: "C",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.LOCALITY_NAME: "L",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.COMMON_NAME: "CN",
    NameOID.SERIAL_NUMBER: "SERIALNUMBER",
    NameOID.STREET_ADDRESS: "STREET",
    NameOID.POSTAL_CODE: "POSTALCODE",
}
#: What Notation's trust-policy rules require every ``x509.subject`` identity to name.
MANDATORY_RDNS: Final = ("C", "ST", "O")
_ATTRIBUTE_TYPE_RE = re.compile(r"[A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)+")
IDENTITY_PREFIX: Final = "x509.subject:"


@dataclass(frozen=True)
class TrustedIdentity:
    """One ``trustedIdentities`` entry: ``*`` (any) or the RDNs a leaf subject must contain."""

    text: str
    attributes: Mapping[str, str] | None = field(default=None, hash=False)  # None means "*"

    @property
    def is_wildcard(self) -> bool:
        """True for ``*``: any leaf the trust store vouches for."""
        return self.attributes is None

    def matches(self, subject: Mapping[str, str]) -> bool:
        """True when every RDN of this identity has the same value in ``subject``."""
        if self.attributes is None:
            return True
        return all(subject.get(key) == value for key, value in self.attributes.items())


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for char in text:
        if escaped:
            current.append("\\" + char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if escaped:
        raise ValueError("ends with a lone backslash")
    parts.append("".join(current))
    return parts


_HEX_PAIR_RE = re.compile(r"\\([0-9A-Fa-f]{2})|\\(.)")


def _unescape(value: str) -> str:
    raw = bytearray()
    position = 0
    for match in _HEX_PAIR_RE.finditer(value):
        raw += value[position : match.start()].encode()
        if match.group(1) is not None:
            raw.append(int(match.group(1), 16))
        else:
            raw += match.group(2).encode()
        position = match.end()
    raw += value[position:].encode()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("escaped bytes are not UTF-8") from None


def parse_distinguished_name(
    text: str, *, mandatory: Sequence[str] = MANDATORY_RDNS
) -> dict[str, str]:
    """An RFC 4514 DN as attribute type -> value; ``ValueError`` for what Notation refuses.

    Types are upper-cased and ``S`` is read as ``ST``. Refused as Notation
    does: hex values (``=#``), multi-valued RDNs (``+``), a type given twice,
    and DNs without the ``mandatory`` types (Notation: ``C``, ``ST``, ``O``).
    """
    if "=#" in text:
        raise ValueError("hex-encoded values (=#) are not supported")
    attributes: dict[str, str] = {}
    for rdn in _split_unescaped(text, ","):
        if len(_split_unescaped(rdn, "+")) > 1:
            raise ValueError("multi-valued RDNs (+) are not supported")
        kind, equals, value = rdn.partition("=")
        kind = kind.strip()
        if not equals or not _ATTRIBUTE_TYPE_RE.fullmatch(kind):
            raise ValueError(f"{rdn.strip()!r} is not TYPE=value")
        kind = kind.upper()
        if kind == "S":
            kind = "ST"
        value = value.lstrip()
        while value.endswith(" ") and not value.endswith("\\ "):
            value = value[:-1]
        value = _unescape(value)
        if not value:
            raise ValueError(f"{kind} has an empty value")
        if kind in attributes:
            raise ValueError(f"{kind} appears twice")
        attributes[kind] = value
    missing = [kind for kind in mandatory if kind not in attributes]
    if missing:
        raise ValueError(
            f"must contain {', '.join(mandatory)} at least (lacks {', '.join(missing)})"
        )
    return attributes


def parse_trusted_identity(
    text: str, *, field: str = "trustedIdentities", notation_rules: bool = True
) -> TrustedIdentity:
    """Parse ``*`` or ``x509.subject:<DN>``; ``PolicyError`` naming ``field`` otherwise.

    ``notation_rules`` also requires ``C``, ``ST`` and ``O`` in the DN, as
    Notation's trust policy does; without it any non-empty DN is accepted.
    """
    entry = text.strip()
    if entry == "*":
        return TrustedIdentity("*")
    if not entry.startswith(IDENTITY_PREFIX):
        raise PolicyError(
            f"trusted identity {text!r} must be '*' or start with {IDENTITY_PREFIX!r}", field=field
        )
    try:
        attributes = parse_distinguished_name(
            entry[len(IDENTITY_PREFIX) :].strip(),
            mandatory=MANDATORY_RDNS if notation_rules else (),
        )
    except ValueError as exc:
        raise PolicyError(f"trusted identity {text!r}: {exc}", field=field) from None
    return TrustedIdentity(entry, attributes)


def parse_trusted_identities(
    entries: Sequence[str], *, field: str = "trustedIdentities", notation_rules: bool = True
) -> tuple[TrustedIdentity, ...]:
    """Parse a ``trustedIdentities`` list and refuse the combinations Notation refuses.

    ``*`` must be the only entry. With ``notation_rules`` (Notation's
    trust-policy validation) every DN must name ``C``, ``ST`` and ``O`` and
    no identity may be a subset of another (overlapping identities).
    """
    if not entries:
        raise PolicyError("at least one trusted identity (or '*') is required", field=field)
    identities = tuple(
        parse_trusted_identity(entry, field=f"{field}[{i}]", notation_rules=notation_rules)
        for i, entry in enumerate(entries)
    )
    if any(identity.is_wildcard for identity in identities) and len(identities) > 1:
        raise PolicyError("'*' must be the only trusted identity when it is used", field=field)
    for i, first in enumerate(identities if notation_rules else ()):
        for second in identities[i + 1 :]:
            a = first.attributes or {}
            b = second.attributes or {}
            if a.items() <= b.items() or b.items() <= a.items():
                raise PolicyError(
                    f"trusted identities {first.text!r} and {second.text!r} overlap", field=field
                )
    return identities


@functools.lru_cache(maxsize=256)
def _identities_of(entries: tuple[str, ...]) -> tuple[TrustedIdentity, ...]:
    # The gate's policy loader validates identities itself and does not apply Notation's
    # mandatory-RDN and overlap rules; what it accepted must not become an error here.
    return parse_trusted_identities(entries, notation_rules=False)


def subject_attributes(certificate: x509.Certificate) -> dict[str, str]:
    """The leaf subject as attribute -> value for identity matching; ``ValueError`` if ambiguous."""
    attributes: dict[str, str] = {}
    for rdn in certificate.subject.rdns:
        members = list(rdn)
        if len(members) != 1:
            raise ValueError("the subject has a multi-valued RDN")
        attribute = members[0]
        kind = _SHORT_NAMES.get(attribute.oid, attribute.oid.dotted_string)
        value = attribute.value
        text = value if isinstance(value, str) else value.hex()
        if kind in attributes:
            raise ValueError(f"the subject has {kind} twice")
        attributes[kind] = text
    return attributes


def match_identity(
    leaf: x509.Certificate,
    identities: Sequence[TrustedIdentity],
    *,
    source: str | None = None,
) -> TrustedIdentity:
    """The first trusted identity the leaf's subject satisfies; else authenticity fails."""
    if not identities:
        raise NotationError(
            "no trusted identities are configured", check=Check.AUTHENTICITY, source=source
        )
    if identities[0].is_wildcard:
        return identities[0]
    try:
        subject = subject_attributes(leaf)
    except ValueError as exc:
        raise NotationError(
            f"signing certificate subject {describe(leaf)!r} cannot be matched: {exc}",
            check=Check.AUTHENTICITY,
            source=source,
        ) from None
    for identity in identities:
        if identity.matches(subject):
            return identity
    wanted = "; ".join(identity.text for identity in identities)
    raise NotationError(
        f"signing certificate subject {describe(leaf)!r} matches no trusted identity ({wanted})",
        check=Check.AUTHENTICITY,
        source=source,
    )


# -- DER reading (RFC 3161 tokens) -------------------------------------------------------------


class _DerError(ValueError):
    """The token is not the DER this reader accepts."""


@dataclass(frozen=True)
class _Tlv:
    tag: int  # identifier octet (class, constructed bit, low tag number)
    value: bytes  # contents octets
    raw: bytes  # the whole encoding

    def children(self) -> list[_Tlv]:
        if not self.tag & 0x20:
            raise _DerError(f"element with tag 0x{self.tag:02x} is not constructed")
        items: list[_Tlv] = []
        offset = 0
        while offset < len(self.value):
            item, offset = _read_tlv(self.value, offset)
            items.append(item)
        return items


_SEQUENCE: Final = 0x30
_SET: Final = 0x31
_INTEGER: Final = 0x02
_OCTET_STRING: Final = 0x04
_OID: Final = 0x06
_BOOLEAN: Final = 0x01
_GENERALIZED_TIME: Final = 0x18


def _read_tlv(data: bytes, offset: int) -> tuple[_Tlv, int]:
    start = offset
    if offset + 2 > len(data):
        raise _DerError("truncated element")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise _DerError("high tag numbers are not supported")
    length = data[offset + 1]
    offset += 2
    if length == 0x80:
        raise _DerError("indefinite lengths are not DER")
    if length & 0x80:
        count = length & 0x7F
        if count > 4 or offset + count > len(data):
            raise _DerError("bad length")
        length = int.from_bytes(data[offset : offset + count], "big")
        offset += count
    end = offset + length
    if end > len(data):
        raise _DerError("element runs past the end of its parent")
    return _Tlv(tag, data[offset:end], data[start:end]), end


def _der(data: bytes) -> _Tlv:
    item, end = _read_tlv(data, 0)
    if end != len(data):
        raise _DerError(f"{len(data) - end} trailing byte(s)")
    return item


def _expect(item: _Tlv, tag: int, what: str) -> _Tlv:
    if item.tag != tag:
        raise _DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{item.tag:02x}")
    return item


def _oid(item: _Tlv, what: str) -> str:
    data = _expect(item, _OID, what).value
    if not data or data[-1] & 0x80:
        raise _DerError(f"{what}: malformed object identifier")
    arcs: list[int] = []
    value = 0
    for byte in data:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in (first, arcs[0] - 40 * first, *arcs[1:]))


def _integer(item: _Tlv, what: str) -> int:
    data = _expect(item, _INTEGER, what).value
    if not data:
        raise _DerError(f"{what}: empty integer")
    return int.from_bytes(data, "big", signed=True)


def _generalized_time(item: _Tlv, what: str) -> datetime:
    text = _expect(item, _GENERALIZED_TIME, what).value.decode("ascii", "replace")
    match = re.fullmatch(r"(\d{14})(?:\.(\d{1,6})\d*)?Z", text)
    if match is None:
        raise _DerError(f"{what}: {text!r} is not a UTC GeneralizedTime")
    try:
        parsed = datetime.strptime(match.group(1), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise _DerError(f"{what}: {text!r} is not a valid time") from None
    if match.group(2):
        parsed += timedelta(microseconds=int(match.group(2).ljust(6, "0")))
    return parsed


_OID_SIGNED_DATA: Final = "1.2.840.113549.1.7.2"
_OID_TST_INFO: Final = "1.2.840.113549.1.9.16.1.4"
_OID_CONTENT_TYPE: Final = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST: Final = "1.2.840.113549.1.9.4"
_OID_SIGNING_CERTIFICATE_V2: Final = "1.2.840.113549.1.9.16.2.47"
_DIGESTS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "2.16.840.1.101.3.4.2.1": hashes.SHA256,
    "2.16.840.1.101.3.4.2.2": hashes.SHA384,
    "2.16.840.1.101.3.4.2.3": hashes.SHA512,
}
_RSA_ENCRYPTION: Final = "1.2.840.113549.1.1.1"
_RSA_PSS: Final = "1.2.840.113549.1.1.10"
_MGF1: Final = "1.2.840.113549.1.1.8"
_RSA_WITH: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "1.2.840.113549.1.1.11": hashes.SHA256,
    "1.2.840.113549.1.1.12": hashes.SHA384,
    "1.2.840.113549.1.1.13": hashes.SHA512,
}
_ECDSA_WITH: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    "1.2.840.10045.4.3.2": hashes.SHA256,
    "1.2.840.10045.4.3.3": hashes.SHA384,
    "1.2.840.10045.4.3.4": hashes.SHA512,
}


def _digest_algorithm(item: _Tlv, what: str) -> type[hashes.HashAlgorithm]:
    parts = _expect(item, _SEQUENCE, what).children()
    if not parts:
        raise _DerError(f"{what}: empty algorithm identifier")
    oid = _oid(parts[0], what)
    algorithm = _DIGESTS.get(oid)
    if algorithm is None:
        raise _DerError(f"{what}: digest algorithm {oid} is not accepted (SHA-256/384/512)")
    return algorithm


def _hash(algorithm: type[hashes.HashAlgorithm], data: bytes) -> bytes:
    digest = hashes.Hash(algorithm())
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class AuthenticTimestamp:
    """A verified RFC 3161 timestamp: when the signature existed, give or take ``accuracy``."""

    time: datetime
    accuracy: timedelta
    tsa: str  # the TSA certificate's subject
    tsa_chain: tuple[x509.Certificate, ...] = field(default=(), compare=False, repr=False)

    @property
    def earliest(self) -> datetime:
        """The lower bound of the time range."""
        return self.time - self.accuracy

    @property
    def latest(self) -> datetime:
        """The upper bound of the time range."""
        return self.time + self.accuracy


@dataclass(frozen=True)
class _SignerInfo:
    sid: _Tlv
    digest: type[hashes.HashAlgorithm]
    signed_attributes: _Tlv
    signature_algorithm: _Tlv
    signature: bytes


def _parse_signed_data(token: bytes) -> tuple[bytes, list[x509.Certificate], _SignerInfo]:
    """(eContent, certificates, the one signer) of a TimeStampToken."""
    content_info = _expect(_der(token), _SEQUENCE, "ContentInfo").children()
    if len(content_info) != 2 or _oid(content_info[0], "contentType") != _OID_SIGNED_DATA:
        raise _DerError("not a CMS SignedData")
    wrapper = _expect(content_info[1], 0xA0, "content").children()
    if len(wrapper) != 1:
        raise _DerError("content: expected one SignedData")
    parts = _expect(wrapper[0], _SEQUENCE, "SignedData").children()
    if len(parts) < 4:
        raise _DerError("SignedData: too few fields")
    encapsulated = _expect(parts[2], _SEQUENCE, "encapContentInfo").children()
    if len(encapsulated) != 2 or _oid(encapsulated[0], "eContentType") != _OID_TST_INFO:
        raise _DerError("encapsulated content is not a TSTInfo")
    explicit = _expect(encapsulated[1], 0xA0, "eContent").children()
    if len(explicit) != 1:
        raise _DerError("eContent: expected one OCTET STRING")
    content = _expect(explicit[0], _OCTET_STRING, "eContent").value
    certificates: list[x509.Certificate] = []
    signer_infos: _Tlv | None = None
    for item in parts[3:]:
        if item.tag == 0xA0:
            for choice in item.children():
                if choice.tag != _SEQUENCE:
                    continue  # attribute certificates and others carry no chain material
                try:
                    certificates.append(load_certificate(choice.raw))
                except ValueError as exc:
                    raise _DerError(f"certificates: not a certificate ({exc})") from None
        elif item.tag == 0xA1:
            continue  # CRLs: revocation is not checked
        elif item.tag == _SET and signer_infos is None:
            signer_infos = item
        else:
            raise _DerError(f"SignedData: unexpected field with tag 0x{item.tag:02x}")
    if signer_infos is None:
        raise _DerError("SignedData has no signerInfos")
    signers = signer_infos.children()
    if len(signers) != 1:
        raise _DerError(f"expected exactly one SignerInfo, found {len(signers)}")
    fields = _expect(signers[0], _SEQUENCE, "SignerInfo").children()
    if len(fields) < 6:
        raise _DerError("SignerInfo: too few fields (signed attributes are required)")
    signed_attributes = _expect(fields[3], 0xA0, "signedAttrs")
    signature = _expect(fields[5], _OCTET_STRING, "signature").value
    info = _SignerInfo(
        sid=fields[1],
        digest=_digest_algorithm(fields[2], "SignerInfo.digestAlgorithm"),
        signed_attributes=signed_attributes,
        signature_algorithm=_expect(fields[4], _SEQUENCE, "signatureAlgorithm"),
        signature=signature,
    )
    return content, certificates, info


def _attributes(signed: _Tlv) -> dict[str, list[_Tlv]]:
    attributes: dict[str, list[_Tlv]] = {}
    for attribute in signed.children():
        parts = _expect(attribute, _SEQUENCE, "Attribute").children()
        if len(parts) != 2:
            raise _DerError("Attribute: expected type and values")
        oid = _oid(parts[0], "Attribute.type")
        if oid in attributes:
            raise _DerError(f"signed attribute {oid} appears twice")
        attributes[oid] = _expect(parts[1], _SET, "Attribute.values").children()
    return attributes


def _single(attributes: Mapping[str, list[_Tlv]], oid: str, name: str) -> _Tlv:
    values = attributes.get(oid)
    if values is None:
        raise _DerError(f"signed attribute {name} is missing")
    if len(values) != 1:
        raise _DerError(f"signed attribute {name} must have exactly one value")
    return values[0]


def _tbs_issuer(certificate: x509.Certificate) -> bytes:
    """The issuer Name exactly as encoded in the certificate."""
    fields = _expect(
        _der(certificate.tbs_certificate_bytes), _SEQUENCE, "TBSCertificate"
    ).children()
    index = 1 if fields and fields[0].tag == 0xA0 else 0
    return fields[index + 2].raw  # serialNumber, signature, issuer


def _signing_certificate(
    attributes: Mapping[str, list[_Tlv]], certificates: Sequence[x509.Certificate], sid: _Tlv
) -> x509.Certificate:
    """The TSA certificate named by the signing-certificate-v2 attribute (and the sid)."""
    value = _single(attributes, _OID_SIGNING_CERTIFICATE_V2, "signing-certificate-v2")
    ids = _expect(value, _SEQUENCE, "SigningCertificateV2").children()
    if not ids:
        raise _DerError("SigningCertificateV2 is empty")
    cert_ids = _expect(ids[0], _SEQUENCE, "SigningCertificateV2.certs").children()
    if not cert_ids:
        raise _DerError("SigningCertificateV2 lists no certificate")
    parts = _expect(cert_ids[0], _SEQUENCE, "ESSCertIDv2").children()
    algorithm: type[hashes.HashAlgorithm] = hashes.SHA256  # the DEFAULT of ESSCertIDv2
    if parts and parts[0].tag == _SEQUENCE:
        algorithm = _digest_algorithm(parts[0], "ESSCertIDv2.hashAlgorithm")
        parts = parts[1:]
    if not parts:
        raise _DerError("ESSCertIDv2 has no certHash")
    cert_hash = _expect(parts[0], _OCTET_STRING, "ESSCertIDv2.certHash").value
    matching = [
        c for c in certificates if _hash(algorithm, c.public_bytes(Encoding.DER)) == cert_hash
    ]
    if not matching:
        raise _DerError("the TSA certificate named by signing-certificate-v2 is not in the token")
    certificate = matching[0]
    if len(parts) > 1:
        issuer_serial = _expect(parts[1], _SEQUENCE, "ESSCertIDv2.issuerSerial").children()
        if (
            len(issuer_serial) != 2
            or _integer(issuer_serial[1], "serial") != certificate.serial_number
        ):
            raise _DerError("signing-certificate-v2 issuerSerial does not match the certificate")
    if sid.tag == _SEQUENCE:
        issuer_and_serial = sid.children()
        if (
            len(issuer_and_serial) != 2
            or issuer_and_serial[0].raw != _tbs_issuer(certificate)
            or _integer(issuer_and_serial[1], "sid.serialNumber") != certificate.serial_number
        ):
            raise _DerError("SignerInfo sid does not name the signing-certificate-v2 certificate")
    elif sid.tag == 0x80:
        extension = _extension(certificate, x509.SubjectKeyIdentifier)
        if (
            extension is None
            or not isinstance(extension.value, x509.SubjectKeyIdentifier)
            or (extension.value.digest != sid.value)
        ):
            raise _DerError("SignerInfo sid does not name the signing-certificate-v2 certificate")
    else:
        raise _DerError("SignerInfo sid is neither issuerAndSerialNumber nor subjectKeyIdentifier")
    return certificate


def _verify_cms_signature(certificate: x509.Certificate, info: _SignerInfo, signed: bytes) -> None:
    parts = info.signature_algorithm.children()
    if not parts:
        raise _DerError("empty signatureAlgorithm")
    oid = _oid(parts[0], "signatureAlgorithm")
    key = certificate.public_key()
    digest = info.digest
    try:
        if oid in _RSA_WITH or oid == _RSA_ENCRYPTION:
            if oid in _RSA_WITH and _RSA_WITH[oid] is not digest:
                raise _DerError("signatureAlgorithm hash differs from the digestAlgorithm")
            if not isinstance(key, rsa.RSAPublicKey):
                raise _DerError("RSA signature but the TSA key is not RSA")
            key.verify(info.signature, signed, padding.PKCS1v15(), digest())
        elif oid == _RSA_PSS:
            if not isinstance(key, rsa.RSAPublicKey):
                raise _DerError("RSA-PSS signature but the TSA key is not RSA")
            pss_hash, salt = _pss_parameters(parts[1:], digest)
            key.verify(
                info.signature,
                signed,
                padding.PSS(mgf=padding.MGF1(pss_hash()), salt_length=salt),
                pss_hash(),
            )
        elif oid in _ECDSA_WITH:
            if _ECDSA_WITH[oid] is not digest:
                raise _DerError("signatureAlgorithm hash differs from the digestAlgorithm")
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise _DerError("ECDSA signature but the TSA key is not EC")
            key.verify(info.signature, signed, ec.ECDSA(digest()))
        else:
            raise _DerError(f"signature algorithm {oid} is not supported")
    except UnsupportedAlgorithm as exc:
        raise _DerError(f"TSA signature algorithm not supported ({exc})") from None
    except InvalidSignature:
        raise _DerError("the TSA signature over the signed attributes does not verify") from None


def _pss_parameters(
    parameters: list[_Tlv], digest: type[hashes.HashAlgorithm]
) -> tuple[type[hashes.HashAlgorithm], int]:
    if len(parameters) != 1:
        raise _DerError("RSA-PSS parameters missing")
    pss_hash: type[hashes.HashAlgorithm] | None = None
    mgf_hash: type[hashes.HashAlgorithm] | None = None
    salt = 20
    for item in _expect(parameters[0], _SEQUENCE, "RSASSA-PSS-params").children():
        inner = item.children()
        if item.tag == 0xA0 and len(inner) == 1:
            pss_hash = _digest_algorithm(inner[0], "RSASSA-PSS hashAlgorithm")
        elif item.tag == 0xA1 and len(inner) == 1:
            mgf = _expect(inner[0], _SEQUENCE, "maskGenAlgorithm").children()
            if len(mgf) != 2 or _oid(mgf[0], "maskGenAlgorithm") != _MGF1:
                raise _DerError("RSA-PSS mask generation is not MGF1")
            mgf_hash = _digest_algorithm(mgf[1], "MGF1 hash")
        elif item.tag == 0xA2 and len(inner) == 1:
            salt = _integer(inner[0], "saltLength")
        elif item.tag == 0xA3 and len(inner) == 1:
            if _integer(inner[0], "trailerField") != 1:
                raise _DerError("RSA-PSS trailer field is not 1")
        else:
            raise _DerError("malformed RSASSA-PSS-params")
    # Defaults are SHA-1, which is not accepted.
    if pss_hash is None or mgf_hash is not pss_hash or pss_hash is not digest or salt < 0:
        raise _DerError("RSA-PSS parameters must use one SHA-2 hash matching the digest")
    return pss_hash, salt


@dataclass(frozen=True)
class _TstInfo:
    imprint_algorithm: type[hashes.HashAlgorithm]
    imprint: bytes
    time: datetime
    accuracy: timedelta


def _parse_tst_info(content: bytes) -> _TstInfo:
    parts = _expect(_der(content), _SEQUENCE, "TSTInfo").children()
    if len(parts) < 5:
        raise _DerError("TSTInfo: too few fields")
    if _integer(parts[0], "TSTInfo.version") != 1:
        raise _DerError("TSTInfo version is not 1")
    _oid(parts[1], "TSTInfo.policy")
    imprint = _expect(parts[2], _SEQUENCE, "messageImprint").children()
    if len(imprint) != 2:
        raise _DerError("messageImprint: expected algorithm and hash")
    algorithm = _digest_algorithm(imprint[0], "messageImprint.hashAlgorithm")
    hashed = _expect(imprint[1], _OCTET_STRING, "messageImprint.hashedMessage").value
    _integer(parts[3], "TSTInfo.serialNumber")
    gen_time = _generalized_time(parts[4], "TSTInfo.genTime")
    accuracy = timedelta(0)
    for item in parts[5:]:
        if item.tag == _SEQUENCE:
            accuracy = _accuracy(item)
        elif item.tag == 0xA1:
            for extension in item.children():
                fields = _expect(extension, _SEQUENCE, "TSTInfo extension").children()
                if len(fields) == 3 and fields[1].tag == _BOOLEAN and fields[1].value != b"\x00":
                    raise _DerError("TSTInfo has an unknown critical extension")
        elif item.tag not in (_BOOLEAN, _INTEGER, 0xA0):
            raise _DerError(f"TSTInfo: unexpected field with tag 0x{item.tag:02x}")
    if accuracy <= timedelta(0):
        # An absent accuracy is taken as one second (the RFC 3161 baseline profile's
        # assumption), which only narrows the range in which the signing chain must be valid.
        accuracy = timedelta(seconds=1)
    return _TstInfo(algorithm, hashed, gen_time, accuracy)


def _accuracy(item: _Tlv) -> timedelta:
    seconds = millis = micros = 0
    for part in item.children():
        if part.tag == _INTEGER:
            seconds = _integer(part, "accuracy.seconds")
        elif part.tag == 0x80:
            millis = int.from_bytes(part.value, "big")
        elif part.tag == 0x81:
            micros = int.from_bytes(part.value, "big")
        else:
            raise _DerError("malformed accuracy")
    if not 0 <= seconds <= 86400 or not 0 <= millis <= 999 or not 0 <= micros <= 999:
        raise _DerError("accuracy out of range (more than a day is not a useful timestamp)")
    return timedelta(seconds=seconds, milliseconds=millis, microseconds=micros)


def _tsa_chain(
    signer: x509.Certificate,
    bundled: Sequence[x509.Certificate],
    roots: Sequence[TrustedCertificate],
) -> tuple[x509.Certificate, ...]:
    """Leaf-to-root path from the TSA certificate to a configured TSA root."""
    path = [signer]
    current = signer
    anchors = [root.certificate for root in roots]
    for _ in range(10):
        if any(current == anchor for anchor in anchors):
            return tuple(path)
        parent = next((a for a in anchors if _issued_by(current, a)), None)
        if parent is not None:
            path.append(parent)
            return tuple(path)
        parent = next((c for c in bundled if c not in path and _issued_by(current, c)), None)
        if parent is None:
            break
        path.append(parent)
        current = parent
    labels = ", ".join(root.label for root in roots)
    raise NotationError(
        f"TSA certificate {describe(signer)!r} does not chain to a trusted TSA root ({labels})",
        check=Check.AUTHENTIC_TIMESTAMP,
    )


def verify_timestamp_token(
    token: bytes,
    signature: bytes,
    tsa_roots: Sequence[TrustedCertificate],
    *,
    source: str | None = None,
) -> AuthenticTimestamp:
    """Verify an RFC 3161 countersignature over ``signature``; failures are authentic-timestamp.

    Checked: CMS SignedData of a TSTInfo with exactly one signer, the
    content-type and message-digest attributes, the signing-certificate-v2
    attribute naming the TSA certificate, the signature over the signed
    attributes, the message imprint = hash of ``signature``, the TSA chain to
    one of ``tsa_roots`` valid at the timestamp's time, and the TSA
    certificate requirements (timeStamping-only critical EKU...).
    """
    where = "timestamp countersignature"
    if not tsa_roots:
        raise NotationError(
            "no TSA roots are configured", check=Check.AUTHENTIC_TIMESTAMP, source=source
        )
    try:
        content, certificates, info = _parse_signed_data(token)
        attributes = _attributes(info.signed_attributes)
        content_type = _single(attributes, _OID_CONTENT_TYPE, "content-type")
        if _oid(content_type, "content-type") != _OID_TST_INFO:
            raise _DerError("content-type attribute is not TSTInfo")
        message_digest = _single(attributes, _OID_MESSAGE_DIGEST, "message-digest")
        if _expect(message_digest, _OCTET_STRING, "message-digest").value != _hash(
            info.digest, content
        ):
            raise _DerError("message-digest attribute does not match the TSTInfo")
        signer = _signing_certificate(attributes, certificates, info.sid)
        # The signature covers the DER SET OF, not the [0] IMPLICIT tag it is sent under.
        signed = bytes([_SET]) + info.signed_attributes.raw[1:]
        _verify_cms_signature(signer, info, signed)
        tst = _parse_tst_info(content)
    except NotationError as exc:  # certificate problems found while reading the token
        raise NotationError(
            exc.reason, check=Check.AUTHENTIC_TIMESTAMP, source=source, field=where
        ) from None
    except (ValueError, OverflowError) as exc:  # _DerError, and what the parsers let through
        raise NotationError(
            f"invalid: {exc}", check=Check.AUTHENTIC_TIMESTAMP, source=source, field=where
        ) from None
    if _hash(tst.imprint_algorithm, signature) != tst.imprint:
        raise NotationError(
            "its message imprint is not the hash of this signature (countersignature of "
            "another signature)",
            check=Check.AUTHENTIC_TIMESTAMP,
            source=source,
            field=where,
        )
    try:
        chain = _tsa_chain(signer, certificates, tsa_roots)
        _check_ordered_chain(chain, timestamping=True)
    except NotationError as exc:
        raise NotationError(
            exc.reason, check=Check.AUTHENTIC_TIMESTAMP, source=source, field=where
        ) from None
    for certificate in chain:
        if not certificate.not_valid_before_utc <= tst.time <= certificate.not_valid_after_utc:
            raise NotationError(
                f"TSA certificate {describe(certificate)!r} was not valid at the timestamp's "
                f"time {tst.time:%Y-%m-%d %H:%M:%S} UTC",
                check=Check.AUTHENTIC_TIMESTAMP,
                source=source,
                field=where,
            )
    return AuthenticTimestamp(tst.time, tst.accuracy, describe(signer), chain)


# -- time ------------------------------------------------------------------------------------


def _when(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def check_signing_time(
    envelope: SignatureEnvelope,
    tsa_roots: Sequence[TrustedCertificate],
    *,
    now: datetime,
    verify_timestamp: VerifyTimestamp = VerifyTimestamp.ALWAYS,
) -> tuple[AuthenticTimestamp | None, tuple[str, ...]]:
    """Check the chain's validity at the signing time the trust policy accepts.

    Returns the verified timestamp (if one was required) and notes; raises
    ``NotationError`` (authentic timestamp) when the chain was not valid at
    that time or a required countersignature is missing or invalid.
    """
    chain = envelope.certificate_chain
    source = envelope.source
    notes: list[str] = []
    if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY:
        signed_at = envelope.signing_time
        for certificate in chain:
            if not certificate.not_valid_before_utc <= signed_at <= certificate.not_valid_after_utc:
                raise NotationError(
                    f"certificate {describe(certificate)!r} was not valid at the authentic "
                    f"signing time {_when(signed_at)}",
                    check=Check.AUTHENTIC_TIMESTAMP,
                    source=source,
                )
        if envelope.timestamp_token is not None:
            notes.append("timestamp countersignature ignored (signing authority scheme)")
        return None, tuple(notes)
    required = bool(tsa_roots)
    if required and verify_timestamp is VerifyTimestamp.AFTER_CERT_EXPIRY:
        required = any(now > certificate.not_valid_after_utc for certificate in chain)
    if not required:
        for certificate in chain:
            if now < certificate.not_valid_before_utc:
                raise NotationError(
                    f"certificate {describe(certificate)!r} is not valid yet (valid from "
                    f"{_when(certificate.not_valid_before_utc)})",
                    check=Check.AUTHENTIC_TIMESTAMP,
                    source=source,
                )
            if now > certificate.not_valid_after_utc:
                raise NotationError(
                    f"certificate {describe(certificate)!r} expired at "
                    f"{_when(certificate.not_valid_after_utc)} and no authentic timestamp "
                    "was required to show it was valid when signing",
                    check=Check.AUTHENTIC_TIMESTAMP,
                    source=source,
                )
        if envelope.timestamp_token is not None:
            notes.append("timestamp countersignature not verified (not required by the policy)")
        return None, tuple(notes)
    if envelope.timestamp_token is None:
        raise NotationError(
            "no timestamp countersignature was found, but TSA roots are configured",
            check=Check.AUTHENTIC_TIMESTAMP,
            source=source,
        )
    stamp = verify_timestamp_token(
        envelope.timestamp_token, envelope.signature, tsa_roots, source=source
    )
    for certificate in chain:
        if stamp.earliest < certificate.not_valid_before_utc:
            raise NotationError(
                f"timestamp {_when(stamp.time)} may be before certificate "
                f"{describe(certificate)!r} became valid "
                f"({_when(certificate.not_valid_before_utc)})",
                check=Check.AUTHENTIC_TIMESTAMP,
                source=source,
            )
        if stamp.latest > certificate.not_valid_after_utc:
            raise NotationError(
                f"timestamp {_when(stamp.time)} may be after certificate "
                f"{describe(certificate)!r} expired ({_when(certificate.not_valid_after_utc)})",
                check=Check.AUTHENTIC_TIMESTAMP,
                source=source,
            )
        if now > certificate.not_valid_after_utc:
            notes.append(
                f"certificate {describe(certificate)!r} expired at "
                f"{_when(certificate.not_valid_after_utc)}, but the authentic timestamp shows "
                "it was valid when signing"
            )
    notes.insert(0, f"authentic timestamp {_when(stamp.time)} from TSA {stamp.tsa!r}")
    return stamp, tuple(notes)


def check_expiry(envelope: SignatureEnvelope, *, now: datetime) -> None:
    """Raise ``NotationError`` (expiry) when ``now`` is at or after ``io.cncf.notary.expiry``."""
    if envelope.expiry is not None and now >= envelope.expiry:
        raise NotationError(
            f"signature expired at {_when(envelope.expiry)}",
            check=Check.EXPIRY,
            source=envelope.source,
        )


# -- everything, with the verification level ---------------------------------------------------


@dataclass(frozen=True)
class TrustOutcome:
    """What a signature proved: its anchor and identity (None when only logged), time, notes."""

    anchor: TrustedCertificate | None
    identity: TrustedIdentity | None
    timestamp: AuthenticTimestamp | None
    notes: tuple[str, ...]


REVOCATION_NOTE: Final = "revocation not checked: the gate does not query OCSP responders or CRLs"


def evaluate_trust(
    envelope: SignatureEnvelope,
    trust: NotationTrust,
    *,
    now: datetime,
    verify_timestamp: VerifyTimestamp = VerifyTimestamp.ALWAYS,
) -> TrustOutcome:
    """Run every check after the envelope's own integrity, with the trust block's level.

    Failures of enforced checks raise ``NotationError``; the others become
    notes (``authenticity not enforced (audit): ...``). An invalid
    ``trusted_identities`` list raises ``PolicyError``.
    """
    level = trust.verification_level
    source = envelope.source
    notes: list[str] = []

    def relaxed(error: NotationError) -> None:
        if enforced(level, error.check):
            raise error
        notes.append(f"{error.check.value} not enforced ({level.value}): {error.reason}")

    validate_certificate_chain(envelope.certificate_chain, source=source)
    identities = _identities_of(tuple(trust.trusted_identities))
    anchor: TrustedCertificate | None = None
    identity: TrustedIdentity | None = None
    try:
        # Each signing scheme has its own store (Notation's ca / signingAuthority stores).
        store = (
            trust.signing_authorities
            if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY
            else trust.trust_store
        )
        anchor = find_trust_anchor(envelope.certificate_chain, store, source=source)
        identity = match_identity(envelope.leaf, identities, source=source)
    except NotationError as exc:
        relaxed(exc)
    stamp: AuthenticTimestamp | None = None
    try:
        stamp, time_notes = check_signing_time(
            envelope, trust.tsa_roots, now=now, verify_timestamp=verify_timestamp
        )
        notes.extend(time_notes)
    except NotationError as exc:
        relaxed(exc)
    try:
        check_expiry(envelope, now=now)
    except NotationError as exc:
        relaxed(exc)
    notes.append(REVOCATION_NOTE)
    return TrustOutcome(anchor, identity, stamp, tuple(notes))
