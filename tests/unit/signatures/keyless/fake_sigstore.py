"""A throw-away Sigstore instance for unit tests: Fulcio CA, Rekor and CT log keys, all generated.

It issues Fulcio-style leaf certificates (SAN, OIDC issuer extensions, code
signing EKU, an embedded precertificate SCT), writes Rekor entry bodies and
signed entry timestamps, single-entry inclusion proofs with signed
checkpoints, cosign ``.sig`` annotations and Sigstore bundles, and the
``trusted_root.json`` that trusts all of it. Encodings are written from the
specifications (RFC 6962 SCTs, Rekor entry types, signed notes), not taken
from the code under test, so the tests check the verifier against an
independent producer. Also: a registry that serves OCI referrers.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import FetchedManifest
from tests.support.fixture_registry import MemoryRegistry

ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
SCT_LIST = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
GITHUB = "https://token.actions.githubusercontent.com"
EPOCH = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_JSON = b"{}"
BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
BUNDLE_V01 = "application/vnd.dev.sigstore.bundle+json;version=0.1"
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def canonical(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def _der_octets(content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return b"\x04" + bytes([length]) + content
    size = (length.bit_length() + 7) // 8
    return b"\x04" + bytes([0x80 | size]) + length.to_bytes(size, "big") + content


def _der_utf8(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 0x80
    return b"\x0c" + bytes([len(data)]) + data


def _sct_extension(log_id: bytes, millis: int, signature: bytes) -> x509.UnrecognizedExtension:
    """RFC 6962 SignedCertificateTimestampList with one v1 SCT (ECDSA over SHA-256)."""
    sct = b"".join(
        (
            b"\x00",
            log_id,
            millis.to_bytes(8, "big"),
            b"\x00\x00",  # no extensions
            b"\x04\x03",  # sha256, ecdsa
            len(signature).to_bytes(2, "big"),
            signature,
        )
    )
    entry = len(sct).to_bytes(2, "big") + sct
    return x509.UnrecognizedExtension(SCT_LIST, _der_octets(len(entry).to_bytes(2, "big") + entry))


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "gate-test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_ca(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    *,
    not_before: datetime = datetime(2024, 1, 1, tzinfo=UTC),
    not_after: datetime = datetime(2034, 1, 1, tzinfo=UTC),
) -> x509.Certificate:
    """A CA certificate: self-signed root, or an intermediate under ``issuer``."""
    issuer_name = issuer[0].subject if issuer else _name(name)
    signer = issuer[1] if issuer else key
    authority_key = issuer[1].public_key() if issuer else key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=0 if issuer else None), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key), critical=False
        )
    )
    if issuer:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    return builder.sign(signer, hashes.SHA256())


@dataclass
class Issued:
    """A leaf certificate and its private key."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> str:
        return pem(self.certificate).decode()


@dataclass
class FakeSigstore:
    """Keys and CA certificates of one test instance; see the module docstring."""

    root_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    intermediate_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    rekor_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    origin: str = "rekor.gate.test - 1234"

    def __post_init__(self) -> None:
        self.root = make_ca("fake-fulcio-root", self.root_key)
        self.intermediate = make_ca(
            "fake-fulcio-intermediate", self.intermediate_key, (self.root, self.root_key)
        )

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(spki(self.rekor_key.public_key())).digest()

    @property
    def ct_log_id(self) -> bytes:
        return hashlib.sha256(spki(self.ct_key.public_key())).digest()

    @property
    def chain_pem(self) -> str:
        """What cosign writes into the chain annotation: intermediate, then root."""
        return (pem(self.intermediate) + pem(self.root)).decode()

    # -- the trusted root ------------------------------------------------------------

    def trusted_root(
        self,
        *,
        ca_valid: tuple[str, str | None] = ("2024-01-01T00:00:00Z", None),
        tlog_valid: tuple[str, str | None] = ("2024-01-01T00:00:00Z", None),
    ) -> dict[str, Any]:
        def period(bounds: tuple[str, str | None]) -> dict[str, str]:
            start, end = bounds
            return {"start": start, **({"end": end} if end else {})}

        def log(url: str, key: ec.EllipticCurvePrivateKey, valid: dict[str, str]) -> Any:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(spki(key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": valid,
                },
                "logId": {"keyId": b64(hashlib.sha256(spki(key.public_key())).digest())},
            }

        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log("https://rekor.gate.test", self.rekor_key, period(tlog_valid))],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "gate-test", "commonName": "fake-fulcio"},
                    "uri": "https://fulcio.gate.test",
                    "certChain": {
                        "certificates": [
                            {"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))}
                            for c in (self.intermediate, self.root)
                        ]
                    },
                    "validFor": period(ca_valid),
                }
            ],
            "ctlogs": [log("https://ct.gate.test", self.ct_key, {"start": "2024-01-01T00:00:00Z"})],
            "timestampAuthorities": [],
        }

    def write_root(self, path: Path, **kwargs: Any) -> Path:
        path.write_text(json.dumps(self.trusted_root(**kwargs)))
        return path

    # -- certificates ------------------------------------------------------------------

    def issue(
        self,
        subject: str = "alice@example.com",
        issuer: str = GITHUB,
        *,
        at: datetime = EPOCH,
        uri: bool = False,
        issuer_extensions: tuple[str, ...] = ("v1", "v2"),
        issuer_v1: str | None = None,
        extra_sans: tuple[str, ...] = (),
        sct: bool = True,
        ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
    ) -> Issued:
        """A 10-minute Fulcio-style leaf for ``subject``, issued by ``issuer`` (OIDC)."""
        key = ec.generate_private_key(ec.SECP256R1())
        ca_cert, ca_key = ca or (self.intermediate, self.intermediate_key)
        general: list[x509.GeneralName] = [
            x509.UniformResourceIdentifier(subject) if uri else x509.RFC822Name(subject)
        ]
        general.extend(x509.RFC822Name(extra) for extra in extra_sans)
        serial = x509.random_serial_number()

        def build(sct_extension: x509.UnrecognizedExtension | None) -> x509.Certificate:
            builder = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([]))
                .issuer_name(ca_cert.subject)
                .public_key(key.public_key())
                .serial_number(serial)
                .not_valid_before(at - timedelta(seconds=5))
                .not_valid_after(at + timedelta(minutes=10))
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
                        content_commitment=False,
                        key_encipherment=False,
                        data_encipherment=False,
                        key_agreement=False,
                        key_cert_sign=False,
                        crl_sign=False,
                        encipher_only=False,
                        decipher_only=False,
                    ),
                    critical=True,
                )
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
                )
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                    critical=False,
                )
                .add_extension(x509.SubjectAlternativeName(general), critical=True)
            )
            if "v1" in issuer_extensions:
                value = (issuer_v1 or issuer).encode()
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(ISSUER_V1, value), critical=False
                )
            if "v2" in issuer_extensions:
                builder = builder.add_extension(
                    x509.UnrecognizedExtension(ISSUER_V2, _der_utf8(issuer)), critical=False
                )
            if sct_extension is not None:
                builder = builder.add_extension(sct_extension, critical=False)
            return builder.sign(ca_key, hashes.SHA256())

        if not sct:
            return Issued(key, build(None))
        millis = int(at.timestamp() * 1000)
        draft = build(_sct_extension(self.ct_log_id, millis, b"\x00" * 8))
        tbs = draft.tbs_precertificate_bytes
        issuer_hash = hashlib.sha256(spki(ca_key.public_key())).digest()
        signed = b"".join(
            (
                b"\x00\x00",
                millis.to_bytes(8, "big"),
                b"\x00\x01",
                issuer_hash,
                len(tbs).to_bytes(3, "big"),
                tbs,
                b"\x00\x00",
            )
        )
        return Issued(key, build(_sct_extension(self.ct_log_id, millis, sign(self.ct_key, signed))))

    # -- Rekor -----------------------------------------------------------------------

    @staticmethod
    def hashedrekord(digest_hex: str, signature: bytes, signer_pem: bytes) -> bytes:
        return canonical(
            {
                "apiVersion": "0.0.1",
                "kind": "hashedrekord",
                "spec": {
                    "data": {"hash": {"algorithm": "sha256", "value": digest_hex}},
                    "signature": {
                        "content": b64(signature),
                        "publicKey": {"content": b64(signer_pem)},
                    },
                },
            }
        )

    @staticmethod
    def dsse_entry(payload: bytes, signature: bytes, signer_pem: bytes) -> bytes:
        return canonical(
            {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {"algorithm": "sha256", "value": "00" * 32},
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(payload).hexdigest(),
                    },
                    "signatures": [{"signature": b64(signature), "verifier": b64(signer_pem)}],
                },
            }
        )

    def set_for(self, body: bytes, integrated: int, log_index: int = 7) -> bytes:
        """The signed entry timestamp Rekor would return for this entry."""
        payload = canonical(
            {
                "body": b64(body),
                "integratedTime": integrated,
                "logID": self.log_id.hex(),
                "logIndex": log_index,
            }
        )
        return sign(self.rekor_key, payload)

    def cosign_bundle(self, body: bytes, integrated: int, log_index: int = 7) -> str:
        """The ``dev.sigstore.cosign/bundle`` annotation for ``body``."""
        return json.dumps(
            {
                "SignedEntryTimestamp": b64(self.set_for(body, integrated, log_index)),
                "Payload": {
                    "body": b64(body),
                    "integratedTime": integrated,
                    "logIndex": log_index,
                    "logID": self.log_id.hex(),
                },
            }
        )

    def checkpoint(self, root_hash: bytes, size: int) -> str:
        note = f"{self.origin}\n{size}\n{b64(root_hash)}\n"
        signature = sign(self.rekor_key, note.encode())
        name = self.origin.split(" ")[0]
        return f"{note}\n\u2014 {name} {b64(self.log_id[:4] + signature)}\n"

    def tlog_entry(
        self,
        body: bytes,
        kind: str,
        integrated: int,
        *,
        proof: bool = True,
        promise: bool = True,
    ) -> dict[str, Any]:
        """A bundle ``tlogEntries`` item: a one-entry tree, so the root is the leaf hash."""
        entry: dict[str, Any] = {
            "logIndex": "0",
            "logId": {"keyId": b64(self.log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(integrated),
            "canonicalizedBody": b64(body),
        }
        if promise:
            entry["inclusionPromise"] = {
                "signedEntryTimestamp": b64(self.set_for(body, integrated, 0))
            }
        if proof:
            leaf_hash = hashlib.sha256(b"\x00" + body).digest()
            entry["inclusionProof"] = {
                "logIndex": "0",
                "rootHash": b64(leaf_hash),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": self.checkpoint(leaf_hash, 1)},
            }
        return entry

    # -- bundles -----------------------------------------------------------------------

    def message_bundle(
        self,
        artifact: bytes,
        signer: Issued,
        *,
        integrated: datetime = EPOCH,
        media_type: str = BUNDLE_V03,
        proof: bool = True,
    ) -> dict[str, Any]:
        """A bundle with a signature over ``artifact`` (hashedrekord entry)."""
        digest = hashlib.sha256(artifact).digest()
        signature = sign(signer.key, artifact)
        body = self.hashedrekord(digest.hex(), signature, pem(signer.certificate))
        material: dict[str, Any] = {
            "tlogEntries": [
                self.tlog_entry(body, "hashedrekord", int(integrated.timestamp()), proof=proof)
            ]
        }
        der = signer.certificate.public_bytes(serialization.Encoding.DER)
        if media_type == BUNDLE_V03:
            material["certificate"] = {"rawBytes": b64(der)}
        else:
            material["x509CertificateChain"] = {"certificates": [{"rawBytes": b64(der)}]}
        return {
            "mediaType": media_type,
            "verificationMaterial": material,
            "messageSignature": {
                "messageDigest": {"algorithm": "SHA2_256", "digest": b64(digest)},
                "signature": b64(signature),
            },
        }

    def dsse_bundle(
        self,
        subject: Digest,
        signer: Issued,
        *,
        predicate_type: str = COSIGN_SIGN,
        integrated: datetime = EPOCH,
    ) -> dict[str, Any]:
        """A v0.3 bundle with an in-toto statement about ``subject`` (dsse entry)."""
        statement = canonical(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": "image", "digest": {subject.algorithm: subject.hex}}],
                "predicateType": predicate_type,
                "predicate": {},
            }
        )
        payload_type = "application/vnd.in-toto+json"
        pae = b"DSSEv1 %d %s %d %s" % (
            len(payload_type),
            payload_type.encode(),
            len(statement),
            statement,
        )
        signature = sign(signer.key, pae)
        body = self.dsse_entry(statement, signature, pem(signer.certificate))
        der = signer.certificate.public_bytes(serialization.Encoding.DER)
        return {
            "mediaType": BUNDLE_V03,
            "verificationMaterial": {
                "certificate": {"rawBytes": b64(der)},
                "tlogEntries": [self.tlog_entry(body, "dsse", int(integrated.timestamp()))],
            },
            "dsseEnvelope": {
                "payload": b64(statement),
                "payloadType": payload_type,
                "signatures": [{"sig": b64(signature), "keyid": ""}],
            },
        }


# -- a registry with OCI referrers -------------------------------------------------------


class ReferrerRegistry(MemoryRegistry):
    """``MemoryRegistry`` plus the OCI 1.1 referrers API (or its absence: ``api=False``)."""

    def __init__(self, *, api: bool = True) -> None:
        super().__init__()
        self.api = api
        self._referrers: dict[tuple[str, Digest], list[dict[str, Any]]] = {}

    def attach(
        self,
        repository: ImageReference,
        subject: Digest,
        blob: bytes,
        *,
        artifact_type: str = BUNDLE_V03,
        layer_media_type: str | None = None,
        annotations: dict[str, str] | None = None,
        manifest_subject: Digest | None = None,
    ) -> Digest:
        """Push ``blob`` as a one-layer referrer of ``subject`` (as cosign v3 does)."""
        layer = self.put_blob(repository, blob)
        empty = self.put_blob(repository, EMPTY_JSON)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": artifact_type,
            "config": {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": str(empty),
                "size": len(EMPTY_JSON),
            },
            "layers": [
                {
                    "mediaType": layer_media_type or artifact_type,
                    "digest": str(layer),
                    "size": len(blob),
                }
            ],
            "subject": {
                "mediaType": OCI_MANIFEST,
                "digest": str(manifest_subject or subject),
                "size": 10,
            },
            "annotations": annotations or {},
        }
        data = json.dumps(manifest).encode()
        digest = self.put_manifest(repository, data, media_type=OCI_MANIFEST)
        self._referrers.setdefault((repository.name, subject), []).append(
            {
                "mediaType": OCI_MANIFEST,
                "digest": str(digest),
                "size": len(data),
                "artifactType": artifact_type,
                "annotations": annotations or {},
            }
        )
        if not self.api:
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": self._referrers[(repository.name, subject)],
            }
            self.put_manifest(
                repository, json.dumps(index).encode(), tag=subject.tag_form, media_type=OCI_INDEX
            )
        return digest

    def fetch_referrers(
        self, repository: ImageReference, digest: Digest, artifact_type: str | None = None
    ) -> FetchedManifest | None:
        self.calls.append(("referrers", repository.name, str(digest)))
        if self.fail_with is not None:
            from gate.errors import BackendError  # noqa: PLC0415

            raise BackendError(self.fail_with)
        if not self.api:
            return None
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": self._referrers.get((repository.name, digest), []),
        }
        data = json.dumps(index).encode()
        return FetchedManifest(Digest.of(data), OCI_INDEX, data)
