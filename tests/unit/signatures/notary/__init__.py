"""Unit tests of the Notary v1 verifier, and the in-memory repository they sign themselves.

``RepositorySimulator`` builds a Notary repository (root with an x509 root
key whose CN is the GUN, targets, snapshot, timestamp, delegations), signs it
with keys generated here, and serves it through the ``MetadataSource``
interface, so root rotation, rollback and every tampering can be tested
without real trust data. Signing uses its own canonical JSON
(``json.dumps(sort_keys=True, ...)``, enough for the ASCII content here), not
the code under test.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from gate.signatures.notary.metadata import NotaryError, NotaryMissingError, role_file
from gate.signatures.notary.repository import PinnedRoot, load_pinned_root

GUN = "registry.example/acme/app"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
YEAR = timedelta(days=365)

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def canonical(value: object) -> bytes:
    """Canonical JSON for the (ASCII-only) documents the simulator signs."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class SigningKey:
    """A private key with the metadata entry (keytype, public, key ID) Notary would list."""

    private: PrivateKey
    keytype: str
    public: str
    method: str
    certificate: x509.Certificate | None = None

    @property
    def keyid(self) -> str:
        return hashlib.sha256(canonical(self.entry())).hexdigest()

    def entry(self) -> dict[str, Any]:
        return {"keytype": self.keytype, "keyval": {"private": None, "public": self.public}}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(self, message: bytes) -> bytes:
        key = self.private
        if isinstance(key, ec.EllipticCurvePrivateKey):
            r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        if isinstance(key, rsa.RSAPrivateKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return key.sign(message, pss, hashes.SHA256())
        return key.sign(message)

    def signature(self, message: bytes) -> dict[str, str]:
        return {
            "keyid": self.keyid,
            "method": self.method,
            "sig": base64.b64encode(self.sign(message)).decode(),
        }


def _spki_b64(private: PrivateKey) -> str:
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


def ecdsa_key() -> SigningKey:
    """A fresh P-256 ``ecdsa`` key (public: base64 DER SPKI)."""
    private = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(private, "ecdsa", _spki_b64(private), "ecdsa")


@cache
def rsa_private(index: int) -> rsa.RSAPrivateKey:
    """RSA key number ``index`` (2048 bits); generation is slow, so a few serve all tests."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def rsa_key(index: int = 0) -> SigningKey:
    """An ``rsa`` key (2048 bits, signs with RSASSA-PSS)."""
    private = rsa_private(index)
    return SigningKey(private, "rsa", _spki_b64(private), "rsapss")


def ed25519_key() -> SigningKey:
    """An ``ed25519`` key (public: the 32 raw bytes; Notary's method name ``eddsa``)."""
    private = ed25519.Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return SigningKey(private, "ed25519", base64.b64encode(raw).decode(), "eddsa")


def certificate_key(
    common_name: str = GUN,
    *,
    not_before: datetime = NOW - YEAR,
    not_after: datetime = NOW + 10 * YEAR,
    private: PrivateKey | None = None,
) -> SigningKey:
    """An ``ecdsa-x509`` (or ``rsa-x509`` for an RSA ``private``) key: a self-signed certificate."""
    private = private if private is not None else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(private, None if isinstance(private, ed25519.Ed25519PrivateKey) else hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    if isinstance(private, rsa.RSAPrivateKey):
        keytype, method = "rsa-x509", "rsapss"
    else:
        keytype, method = "ecdsa-x509", "ecdsa"
    return SigningKey(private, keytype, base64.b64encode(pem).decode(), method, certificate)


def pin_of(key: SigningKey, label: str = "root.pub") -> PinnedRoot:
    """The pinned root for ``key`` (from its public key PEM)."""
    return load_pinned_root(key.public_pem(), label)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def file_meta(data: bytes) -> dict[str, Any]:
    """What snapshot/timestamp record about a file: length, sha256 and sha512."""
    return {
        "hashes": {
            "sha256": _b64(hashlib.sha256(data).digest()),
            "sha512": _b64(hashlib.sha512(data).digest()),
        },
        "length": len(data),
    }


@dataclass
class Delegation:
    """A delegated role as its parent lists it, with the keys that sign it."""

    name: str
    keys: list[SigningKey]
    threshold: int = 1
    paths: list[str] | None = field(default_factory=lambda: [""])
    path_hash_prefixes: list[str] | None = None

    def entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "keyids": [key.keyid for key in self.keys],
            "threshold": self.threshold,
        }
        if self.paths is not None:
            entry["paths"] = self.paths
        if self.path_hash_prefixes is not None:
            entry["path_hash_prefixes"] = self.path_hash_prefixes
        return entry


Tamper = Callable[[dict[str, Any]], None]


class RepositorySimulator:
    """A Notary repository built and signed in memory, served as a ``MetadataSource``.

    Change the attributes (keys, thresholds, expiries, targets, delegations,
    ``tamper`` hooks applied to a role's ``signed`` dict before signing,
    ``signers`` overriding who signs a role), then ``publish()``; ``files``
    holds what is served, ``fetched`` what was asked for.
    """

    def __init__(self, gun: str = GUN, *, now: datetime = NOW) -> None:
        self.gun = gun
        self.now = now
        self.root_keys: list[SigningKey] = [certificate_key(gun)]
        self.keys: dict[str, list[SigningKey]] = {
            "targets": [ecdsa_key()],
            "snapshot": [ecdsa_key()],
            "timestamp": [ecdsa_key()],
        }
        self.thresholds = {"root": 1, "targets": 1, "snapshot": 1, "timestamp": 1}
        self.versions = {"root": 1, "targets": 0, "snapshot": 0, "timestamp": 0}
        self.expires: dict[str, datetime] = {}
        self.targets: dict[str, dict[str, dict[str, Any]]] = {"targets": {}}
        self.delegations: dict[str, list[Delegation]] = {}
        self.tamper: dict[str, Tamper] = {}
        self.signers: dict[str, list[SigningKey]] = {}
        self.files: dict[str, bytes] = {}
        self.fetched: list[str] = []
        self.publish_root()
        self.publish()

    # -- building -------------------------------------------------------------------------

    def add_target(self, name: str, content: bytes, role: str = "targets") -> None:
        """Sign ``name`` -> sha256/length of ``content`` into ``role`` (publish() to serve)."""
        self.targets.setdefault(role, {})[name] = {
            "hashes": {"sha256": _b64(hashlib.sha256(content).digest())},
            "length": len(content),
        }

    def delegate(
        self,
        name: str,
        *,
        parent: str = "targets",
        keys: list[SigningKey] | None = None,
        **options: Any,
    ) -> Delegation:
        """Add delegation ``name`` to ``parent`` (publish() to serve)."""
        delegation = Delegation(name, keys or [ecdsa_key()], **options)
        self.delegations.setdefault(parent, []).append(delegation)
        self.targets.setdefault(name, {})
        return delegation

    def sign(self, role: str, signed: dict[str, Any], keys: list[SigningKey]) -> bytes:
        if role in self.tamper:
            self.tamper[role](signed)
        message = canonical(signed)
        signatures = [key.signature(message) for key in self.signers.get(role, keys)]
        return json.dumps({"signed": signed, "signatures": signatures}).encode()

    def root_signed(self) -> dict[str, Any]:
        keys = {key.keyid: key.entry() for key in self.root_keys}
        roles: dict[str, Any] = {
            "root": {
                "keyids": [k.keyid for k in self.root_keys],
                "threshold": self.thresholds["root"],
            }
        }
        for role in ("targets", "snapshot", "timestamp"):
            keys.update({key.keyid: key.entry() for key in self.keys[role]})
            roles[role] = {
                "keyids": [key.keyid for key in self.keys[role]],
                "threshold": self.thresholds[role],
            }
        return {
            "_type": "Root",
            "consistent_snapshot": False,
            "expires": _iso(self.expires.get("root", self.now + 10 * YEAR)),
            "keys": keys,
            "roles": roles,
            "version": self.versions["root"],
        }

    def publish_root(self, signers: list[SigningKey] | None = None) -> None:
        """Sign and serve root.json and ``<version>.root.json`` for the current root."""
        data = self.sign("root", self.root_signed(), self.root_keys if signers is None else signers)
        self.files["root.json"] = data
        self.files[role_file("root", self.versions["root"])] = data

    def rotate_root(
        self, new_keys: list[SigningKey], *, signers: list[SigningKey] | None = None
    ) -> None:
        """Root version + 1 with ``new_keys``, signed by the old and the new root keys."""
        old = self.root_keys
        self.root_keys = new_keys
        self.versions["root"] += 1
        self.publish_root(signers if signers is not None else [*old, *new_keys])

    def _targets_signed(self, role: str) -> dict[str, Any]:
        delegations = self.delegations.get(role, [])
        return {
            "_type": "Targets",
            "delegations": {
                "keys": {key.keyid: key.entry() for d in delegations for key in d.keys},
                "roles": [d.entry() for d in delegations],
            },
            "expires": _iso(self.expires.get(role, self.now + YEAR)),
            "targets": self.targets.get(role, {}),
            "version": self.versions.setdefault(role, 0),
        }

    def publish(self, *, roles: tuple[str, ...] | None = None) -> None:
        """Re-sign targets, every delegation, snapshot and timestamp (versions + 1)."""
        meta: dict[str, Any] = {"root": file_meta(self.files["root.json"])}
        pending = [("targets", self.keys["targets"])]
        while pending:
            role, keys = pending.pop(0)
            if roles is None or role in roles:
                self.versions[role] = self.versions.get(role, 0) + 1
                self.files[role_file(role)] = self.sign(role, self._targets_signed(role), keys)
            meta[role] = file_meta(self.files[role_file(role)])
            pending.extend((d.name, d.keys) for d in self.delegations.get(role, []))
        self.versions["snapshot"] += 1
        snapshot = {
            "_type": "Snapshot",
            "expires": _iso(self.expires.get("snapshot", self.now + YEAR)),
            "meta": meta,
            "version": self.versions["snapshot"],
        }
        self.files["snapshot.json"] = self.sign("snapshot", snapshot, self.keys["snapshot"])
        self.publish_timestamp()

    def publish_timestamp(self) -> None:
        """Re-sign timestamp.json only (version + 1) for the current snapshot."""
        self.versions["timestamp"] += 1
        timestamp = {
            "_type": "Timestamp",
            "expires": _iso(self.expires.get("timestamp", self.now + timedelta(days=14))),
            "meta": {"snapshot": file_meta(self.files["snapshot.json"])},
            "version": self.versions["timestamp"],
        }
        self.files["timestamp.json"] = self.sign("timestamp", timestamp, self.keys["timestamp"])

    def document(self, file: str) -> dict[str, Any]:
        """A served file, parsed (a copy: edit it and ``put`` it back to tamper on the wire)."""
        return copy.deepcopy(json.loads(self.files[file]))

    def put(self, file: str, document: dict[str, Any]) -> None:
        self.files[file] = json.dumps(document).encode()

    def pin(self, index: int = 0) -> PinnedRoot:
        """The current root key ``index``, pinned from its certificate."""
        certificate = self.root_keys[index].certificate
        assert certificate is not None
        return load_pinned_root(certificate.public_bytes(serialization.Encoding.PEM), "root.crt")

    # -- MetadataSource -------------------------------------------------------------------

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        name = role_file(role, version)
        self.fetched.append(name)
        if name not in self.files:
            raise NotaryMissingError(f"{name}: not found (404)")
        data = self.files[name]
        if len(data) > max_length:
            raise NotaryError(f"{name}: larger than {max_length} bytes")
        return data
