"""Synthetic Notation material for unit tests: certificates, JWS/COSE envelopes, RFC 3161 tokens.

Everything is generated in the test (no files): EC P-256 keys (fast) unless a
test asks for RSA, certificates with exactly the extensions a test wants,
envelopes signed the way notation signs them, and timestamp tokens built as
CMS SignedData with a tiny DER writer, so tests can also build broken ones.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gate.oci.digest import Digest
from gate.signatures.notation.authority import (
    NotationTrust,
    TrustedCertificate,
    VerificationLevel,
)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
PAYLOAD_TYPE = "application/vnd.cncf.notary.payload.v1+json"
IMAGE_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
SUBJECT = "C=US,ST=WA,L=Seattle,O=Notary,CN=gate-test"


@functools.cache
def ec_key(n: int = 0, curve: str = "p256") -> ec.EllipticCurvePrivateKey:
    """A deterministic-per-session EC key (the ``n``-th of its curve), cached."""
    curves: dict[str, ec.EllipticCurve] = {
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
    }
    return ec.generate_private_key(curves[curve])


@functools.cache
def rsa_key(bits: int = 2048, n: int = 0) -> rsa.RSAPrivateKey:
    """An RSA key, cached (generation is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(dn: str) -> x509.Name:
    """An ``x509.Name`` from ``C=US,ST=WA,...`` (no escapes; test data only)."""
    oids = {
        "C": NameOID.COUNTRY_NAME,
        "ST": NameOID.STATE_OR_PROVINCE_NAME,
        "L": NameOID.LOCALITY_NAME,
        "O": NameOID.ORGANIZATION_NAME,
        "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
        "CN": NameOID.COMMON_NAME,
    }
    parts = [p.split("=", 1) for p in dn.split(",")]
    return x509.Name([x509.NameAttribute(oids[k.strip()], v) for k, v in parts])


@dataclass(frozen=True)
class Cert:
    """A certificate with its private key."""

    certificate: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        """DER encoding."""
        return self.certificate.public_bytes(Encoding.DER)

    def trusted(self, label: str = "test") -> TrustedCertificate:
        """This certificate as a trust-store entry."""
        return TrustedCertificate(self.certificate, label)


_UNSET: Any = object()


def make_cert(
    subject: str,
    key: PrivateKey,
    *,
    issuer: Cert | None = None,
    ca: bool | None = False,
    ca_critical: bool = True,
    path_length: int | None = None,
    key_usage: str | None = "sign",  # "sign", "ca", "encipher", None
    key_usage_critical: bool = True,
    ekus: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.CODE_SIGNING,),
    eku_critical: bool = False,
    not_before: datetime = NOW - timedelta(days=365),
    not_after: datetime = NOW + timedelta(days=365),
    signature_hash: hashes.SHA224 | hashes.SHA256 | hashes.SHA384 | None = None,
) -> Cert:
    """A certificate for ``subject`` signed by ``issuer`` (self-signed when None)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(issuer.certificate.subject if issuer else name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None),
            critical=ca_critical,
        )
    if key_usage is not None:
        usage = {
            "sign": {"digital_signature": True},
            "ca": {"key_cert_sign": True, "crl_sign": True},
            "encipher": {"digital_signature": True, "key_encipherment": True},
        }[key_usage]
        flags = dict.fromkeys(
            (
                "digital_signature",
                "content_commitment",
                "key_encipherment",
                "data_encipherment",
                "key_agreement",
                "key_cert_sign",
                "crl_sign",
                "encipher_only",
                "decipher_only",
            ),
            False,
        )
        flags.update(usage)
        builder = builder.add_extension(x509.KeyUsage(**flags), critical=key_usage_critical)
    if ekus:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(ekus)), critical=eku_critical)
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
    )
    signer = issuer.key if issuer else key
    certificate = builder.sign(signer, signature_hash or hashes.SHA256())
    return Cert(certificate, key)


@dataclass(frozen=True)
class Pki:
    """A root CA, an intermediate and a code-signing leaf (EC P-256)."""

    root: Cert
    intermediate: Cert
    leaf: Cert

    @property
    def chain(self) -> tuple[Cert, ...]:
        """Leaf, intermediate, root: the order an envelope carries them."""
        return (self.leaf, self.intermediate, self.root)


@functools.cache
def pki(n: int = 0, leaf_subject: str = SUBJECT) -> Pki:
    """A three-level PKI, cached per ``n``."""
    root = make_cert(f"C=US,ST=WA,O=Notary,CN=Root {n}", ec_key(10 + n), ca=True, key_usage="ca")
    intermediate = make_cert(
        f"C=US,ST=WA,O=Notary,CN=Intermediate {n}",
        ec_key(20 + n),
        issuer=root,
        ca=True,
        path_length=0,
        key_usage="ca",
    )
    leaf = make_cert(leaf_subject, ec_key(30 + n), issuer=intermediate)
    return Pki(root, intermediate, leaf)


def trust_for(
    *anchors: Cert,
    identities: Sequence[str] = ("*",),
    level: VerificationLevel = VerificationLevel.STRICT,
    tsa: Sequence[Cert] = (),
    signing_authorities: Sequence[Cert] = (),
) -> NotationTrust:
    """A ``NotationTrust`` trusting ``anchors`` as CAs (and ``signing_authorities`` as such)."""
    return NotationTrust(
        trust_store=tuple(a.trusted(f"ca:{i}") for i, a in enumerate(anchors)),
        trusted_identities=tuple(identities),
        verification_level=level,
        tsa_roots=tuple(t.trusted(f"tsa:{i}") for i, t in enumerate(tsa)),
        signing_authorities=tuple(
            a.trusted(f"signingAuthority:{i}") for i, a in enumerate(signing_authorities)
        ),
    )


IMAGE_MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
IMAGE_DIGEST = Digest.of(IMAGE_MANIFEST)


def payload_for(
    digest: Digest = IMAGE_DIGEST,
    size: int = len(IMAGE_MANIFEST),
    media_type: str = IMAGE_MEDIA_TYPE,
) -> bytes:
    """A Notation payload naming the artifact."""
    target = {"mediaType": media_type, "digest": str(digest), "size": size}
    return json.dumps({"targetArtifact": target}, separators=(",", ":")).encode()


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hash_for(key: PrivateKey) -> hashes.HashAlgorithm:
    if isinstance(key, rsa.RSAPrivateKey):
        return {2048: hashes.SHA256(), 3072: hashes.SHA384(), 4096: hashes.SHA512()}[key.key_size]
    return {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]


def alg_for(key: PrivateKey) -> str:
    """The Notation JWS algorithm name for ``key``."""
    prefix = "PS" if isinstance(key, rsa.RSAPrivateKey) else "ES"
    return prefix + {"sha256": "256", "sha384": "384", "sha512": "512"}[_hash_for(key).name]


def raw_sign(key: PrivateKey, data: bytes) -> bytes:
    """Sign as JWS/COSE do: RSA-PSS (salt = hash length) or ECDSA as fixed-size r||s."""
    digest = _hash_for(key)
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(
            data,
            padding.PSS(mgf=padding.MGF1(digest), salt_length=padding.PSS.DIGEST_LENGTH),
            digest,
        )
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    width = (key.curve.key_size + 7) // 8
    return r.to_bytes(width, "big") + s.to_bytes(width, "big")


@dataclass
class Spec:
    """What goes into a test envelope; change fields to make it wrong."""

    chain: Sequence[Cert]
    payload: bytes = field(default_factory=payload_for)
    alg: str | None = None  # default: the one the leaf key implies
    scheme: str = "notary.x509"
    signing_time: datetime | None = NOW - timedelta(hours=1)
    authentic_signing_time: datetime | None = None
    expiry: datetime | None = None
    crit: list[Any] | None = None  # default: what notation writes
    extra_protected: Mapping[Any, Any] = field(default_factory=dict)
    content_type: str = PAYLOAD_TYPE
    timestamp: bytes | None = None
    signer: PrivateKey | None = None  # default: the leaf's key

    def default_crit(self) -> list[Any]:
        """The ``crit`` list notation writes for these headers."""
        crit: list[Any] = ["io.cncf.notary.signingScheme"]
        if self.authentic_signing_time is not None:
            crit.append("io.cncf.notary.authenticSigningTime")
        if self.expiry is not None:
            crit.append("io.cncf.notary.expiry")
        return crit


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def jws(spec: Spec) -> bytes:
    """A flattened JWS envelope; ``spec.timestamp`` is put in as given."""
    key = spec.signer or spec.chain[0].key
    protected: dict[str, Any] = {
        "alg": spec.alg or alg_for(spec.chain[0].key),
        "crit": spec.crit if spec.crit is not None else spec.default_crit(),
        "cty": spec.content_type,
        "io.cncf.notary.signingScheme": spec.scheme,
    }
    if spec.signing_time is not None:
        protected["io.cncf.notary.signingTime"] = _rfc3339(spec.signing_time)
    if spec.authentic_signing_time is not None:
        protected["io.cncf.notary.authenticSigningTime"] = _rfc3339(spec.authentic_signing_time)
    if spec.expiry is not None:
        protected["io.cncf.notary.expiry"] = _rfc3339(spec.expiry)
    protected.update(spec.extra_protected)
    protected_b64 = b64url(json.dumps(protected).encode())
    payload_b64 = b64url(spec.payload)
    signature = raw_sign(key, f"{protected_b64}.{payload_b64}".encode())
    header: dict[str, Any] = {
        "x5c": [base64.b64encode(c.der).decode() for c in spec.chain],
        "io.cncf.notary.signingAgent": "gate-tests",
    }
    if spec.timestamp is not None:
        header["io.cncf.notary.timestampSignature"] = base64.b64encode(spec.timestamp).decode()
    envelope = {
        "payload": payload_b64,
        "protected": protected_b64,
        "header": header,
        "signature": b64url(signature),
    }
    return json.dumps(envelope).encode()


def jws_signature(data: bytes) -> bytes:
    """The raw signature bytes of a JWS envelope (what a timestamp countersigns)."""
    encoded = json.loads(data)["signature"]
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


_ALG_IDS = {"PS256": -37, "PS384": -38, "PS512": -39, "ES256": -7, "ES384": -35, "ES512": -36}


def cose_protected(spec: Spec) -> bytes:
    """The encoded protected header of a COSE envelope for ``spec``."""
    protected: dict[Any, Any] = {
        1: _ALG_IDS.get(spec.alg or alg_for(spec.chain[0].key), 0),
        2: spec.crit if spec.crit is not None else spec.default_crit(),
        3: spec.content_type,
        "io.cncf.notary.signingScheme": spec.scheme,
    }
    if spec.signing_time is not None:
        protected["io.cncf.notary.signingTime"] = cbor2.CBORTag(
            1, int(spec.signing_time.timestamp())
        )
    if spec.authentic_signing_time is not None:
        protected["io.cncf.notary.authenticSigningTime"] = cbor2.CBORTag(
            1, int(spec.authentic_signing_time.timestamp())
        )
    if spec.expiry is not None:
        protected["io.cncf.notary.expiry"] = cbor2.CBORTag(1, int(spec.expiry.timestamp()))
    protected.update(spec.extra_protected)
    return cbor2.dumps(protected)


def cose(spec: Spec, *, protected: bytes | None = None) -> bytes:
    """A tagged COSE_Sign1 envelope (x5chain in the unprotected header)."""
    key = spec.signer or spec.chain[0].key
    body = protected if protected is not None else cose_protected(spec)
    to_be_signed = cbor2.dumps(["Signature1", body, b"", spec.payload])
    signature = raw_sign(key, to_be_signed)
    unprotected: dict[Any, Any] = {
        33: [c.der for c in spec.chain],
        "io.cncf.notary.signingAgent": "gate-tests",
    }
    if spec.timestamp is not None:
        unprotected["io.cncf.notary.timestampSignature"] = spec.timestamp
    return cbor2.dumps(cbor2.CBORTag(18, [body, unprotected, spec.payload, signature]))


def with_timestamp(data: bytes, token: bytes) -> bytes:
    """A JWS or COSE envelope with ``token`` put in its unprotected header (signature unchanged)."""
    if data[:1] == b"{":
        document = json.loads(data)
        document["header"]["io.cncf.notary.timestampSignature"] = base64.b64encode(token).decode()
        return json.dumps(document).encode()
    parts = list(cbor2.loads(data).value)
    parts[1] = {**parts[1], "io.cncf.notary.timestampSignature": token}
    return cbor2.dumps(cbor2.CBORTag(18, parts))


def cose_signature(data: bytes) -> bytes:
    """The raw signature bytes of a COSE envelope."""
    signature = cbor2.loads(data).value[3]
    assert isinstance(signature, bytes)
    return signature


# -- a tiny DER writer and RFC 3161 tokens ---------------------------------------------------


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag: int, content: bytes) -> bytes:
    """One DER element."""
    return bytes([tag]) + _length(len(content)) + content


def seq(*items: bytes) -> bytes:
    """SEQUENCE."""
    return tlv(0x30, b"".join(items))


def der_set(*items: bytes) -> bytes:
    """SET (items in the order given)."""
    return tlv(0x31, b"".join(items))


def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER."""
    arcs = [int(a) for a in dotted.split(".")]
    out = bytearray()
    for value in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        chunk = [value & 0x7F]
        rest = value >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


def integer(n: int) -> bytes:
    """INTEGER."""
    return tlv(0x02, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big", signed=True))


def octets(data: bytes) -> bytes:
    """OCTET STRING."""
    return tlv(0x04, data)


SHA256 = "2.16.840.1.101.3.4.2.1"
_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
_SHA256_RSA = "1.2.840.113549.1.1.11"


@dataclass
class TokenSpec:
    """What goes into a test timestamp token; change fields to make it wrong."""

    tsa: Cert
    chain: Sequence[Cert] = ()  # further certificates put in the token
    gen_time: datetime = NOW - timedelta(hours=1)
    accuracy_seconds: int | None = 1
    imprint_hash: str = SHA256
    signing_certificate: bool = True
    content_type: str = "1.2.840.113549.1.9.16.1.4"
    corrupt_signature: bool = False


def _name_der(certificate: x509.Certificate) -> bytes:
    return certificate.issuer.public_bytes()


def timestamp_token(message: bytes, spec: TokenSpec) -> bytes:
    """A TimeStampToken (CMS SignedData over a TSTInfo) countersigning ``message``."""
    imprint = hashlib.new(
        {SHA256: "sha256", "2.16.840.1.101.3.4.2.3": "sha512"}[spec.imprint_hash], message
    ).digest()
    fields = [
        integer(1),
        oid("1.2.3.4.1"),
        seq(seq(oid(spec.imprint_hash)), octets(imprint)),
        integer(42),
        tlv(0x18, spec.gen_time.astimezone(UTC).strftime("%Y%m%d%H%M%SZ").encode()),
    ]
    if spec.accuracy_seconds is not None:
        fields.append(seq(integer(spec.accuracy_seconds)))
    tst_info = seq(*fields)
    tsa = spec.tsa
    attributes = [
        seq(oid("1.2.840.113549.1.9.3"), der_set(oid(spec.content_type))),
        seq(oid("1.2.840.113549.1.9.4"), der_set(octets(hashlib.sha256(tst_info).digest()))),
    ]
    if spec.signing_certificate:
        cert_id = seq(octets(hashlib.sha256(tsa.der).digest()))
        attributes.append(seq(oid("1.2.840.113549.1.9.16.2.47"), der_set(seq(seq(cert_id)))))
    signed_set = der_set(*attributes)
    key = tsa.key
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_set, padding.PKCS1v15(), hashes.SHA256())
        signature_algorithm = seq(oid(_SHA256_RSA), tlv(0x05, b""))
    else:
        signature = key.sign(signed_set, ec.ECDSA(hashes.SHA256()))
        signature_algorithm = seq(oid(_ECDSA_SHA256))
    if spec.corrupt_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    signer_info = seq(
        integer(1),
        seq(_name_der(tsa.certificate), integer(tsa.certificate.serial_number)),
        seq(oid(SHA256)),
        tlv(0xA0, _content(signed_set)),
        signature_algorithm,
        octets(signature),
    )
    certificates = tlv(0xA0, b"".join(c.der for c in (tsa, *spec.chain)))
    signed_data = seq(
        integer(3),
        der_set(seq(oid(SHA256))),
        seq(oid("1.2.840.113549.1.9.16.1.4"), tlv(0xA0, octets(tst_info))),
        certificates,
        der_set(signer_info),
    )
    return seq(oid("1.2.840.113549.1.7.2"), tlv(0xA0, signed_data))


def _content(element: bytes) -> bytes:
    """The contents octets of a DER element (its tag and length stripped)."""
    length = element[1]
    if length < 0x80:
        return element[2:]
    return element[2 + (length & 0x7F) :]


@functools.cache
def tsa_pki() -> tuple[Cert, Cert]:
    """(TSA root, TSA signing certificate with a critical timeStamping-only EKU)."""
    root = make_cert("C=US,ST=WA,O=TSA,CN=TSA Root", ec_key(40), ca=True, key_usage="ca")
    leaf = make_cert(
        "C=US,ST=WA,O=TSA,CN=TSA",
        ec_key(41),
        issuer=root,
        ekus=(ExtendedKeyUsageOID.TIME_STAMPING,),
        eku_critical=True,
        not_before=NOW - timedelta(days=3650),
        not_after=NOW + timedelta(days=3650),
    )
    return root, leaf
