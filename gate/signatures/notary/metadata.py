"""Strict parsing of Notary's TUF role files into frozen dataclasses, and the Notary errors.

Each file is ``{"signed": {...}, "signatures": [...]}``. Parsing checks the
structure only (types, required fields, ``_type``, key types, delegation
names); signatures, hashes and expiry are checked by ``repository``. Any
problem is a ``NotaryError`` whose one line names the role file and the field,
e.g. ``notary docker.io/acme/app: root.json: signed.roles.root.threshold:
expected an integer >= 1, got 0``. Unknown extra fields are tolerated (they
are covered by the signatures), as TUF requires.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Generic, TypeVar

from gate.errors import VerificationError
from gate.signatures.gojson import loads_strict
from gate.signatures.notary.canonical import CanonicalJSONError, encode_canonical


class NotaryError(VerificationError):
    """Notary trust data was checked and found wanting (bad signature, expired, wrong hash...).

    The message is one line naming the repository, the role file and the reason.
    """


class NotaryMissingError(NotaryError):
    """A metadata file the verification needs does not exist (the server answered 404)."""


#: Key types Notary writes; anything else in a key list is refused.
KEY_TYPES = frozenset({"ecdsa", "ecdsa-x509", "rsa", "rsa-x509", "ed25519"})
#: The four top-level roles a root must define.
TOP_LEVEL_ROLES = ("root", "targets", "snapshot", "timestamp")
#: Hash algorithms checked when present (sha256 is always required).
HASH_SIZES = {"sha256": 32, "sha512": 64}

_KEYID_RE = re.compile(r"[0-9a-f]{64}")
# Notary's delegation names: "targets/" + lowercase letters, digits, "-", "_" segments.
_DELEGATION_RE = re.compile(r"targets(?:/[-a-z0-9_]+)+")
_MAX_ROLE_NAME = 255
_HEX_RE = re.compile(r"[0-9a-f]*")
_TIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)


def role_file(role: str, version: int | None = None) -> str:
    """The file name of ``role``: ``targets/releases.json``, or ``2.root.json`` for a version."""
    return f"{role}.json" if version is None else f"{version}.{role}.json"


def is_delegation_name(name: str) -> bool:
    """True for a valid delegated role name (``targets/releases``, ``targets/a/b``)."""
    return len(name) <= _MAX_ROLE_NAME and _DELEGATION_RE.fullmatch(name) is not None


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp as Go writes it (nanoseconds, ``Z`` or an offset), in aware UTC.

    Raises ``ValueError`` for anything else.
    """
    match = _TIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    fraction = (match.group(7) or "").ljust(6, "0")[:6]
    zone = match.group(8)
    if zone == "Z":
        tz = UTC
    else:
        sign = -1 if zone[0] == "-" else 1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError(f"bad UTC offset in {text!r}")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        value = datetime(year, month, day, hour, minute, second, int(fraction), tzinfo=tz)
    except ValueError as exc:
        raise ValueError(f"not a valid time: {text!r} ({exc})") from None
    return value.astimezone(UTC)


@dataclass(frozen=True)
class Signature:
    """One entry of ``signatures``: which key, which method, the raw signature bytes."""

    keyid: str
    method: str
    sig: bytes


@dataclass(frozen=True)
class KeyEntry:
    """A public key as listed in a root or in ``delegations.keys`` (not yet loaded)."""

    keyid: str
    keytype: str
    public: str  # base64, exactly as in the metadata (the key ID covers this text)


@dataclass(frozen=True)
class RoleKeys:
    """A top-level role in root.json: the key IDs that may sign it and how many must."""

    keyids: tuple[str, ...]
    threshold: int


@dataclass(frozen=True)
class MetaFile:
    """What timestamp/snapshot say about another role file: its size bound and hashes."""

    length: int
    hashes: Mapping[str, bytes]  # algorithm -> raw digest; always has "sha256"
    version: int | None = None

    @property
    def sha256(self) -> str:
        """The expected sha256, hex."""
        return self.hashes["sha256"].hex()


@dataclass(frozen=True)
class TargetFile:
    """A target (for Docker: a tag) with the manifest size and digest it was signed for."""

    name: str
    length: int
    sha256: bytes
    hashes: Mapping[str, bytes]


@dataclass(frozen=True)
class DelegatedRole:
    """A delegation entry: the child role, its keys and threshold, and which names it may sign.

    ``paths`` are prefixes (``""`` matches every name); ``path_hash_prefixes``
    are prefixes of the hex sha256 of the name. A role with neither signs nothing.
    """

    name: str
    keyids: tuple[str, ...]
    threshold: int
    paths: tuple[str, ...] = ()
    path_hash_prefixes: tuple[str, ...] = ()

    def covers(self, target_name: str) -> bool:
        """True when this delegation allows the role to sign ``target_name``."""
        if any(target_name.startswith(prefix) for prefix in self.paths):
            return True
        if self.path_hash_prefixes:
            name_hash = hashlib.sha256(target_name.encode("utf-8")).hexdigest()
            return any(name_hash.startswith(prefix) for prefix in self.path_hash_prefixes)
        return False


@dataclass(frozen=True)
class Delegations:
    """``delegations`` of a targets file: the keys of the children and the children."""

    keys: Mapping[str, KeyEntry]
    roles: tuple[DelegatedRole, ...]


@dataclass(frozen=True)
class Root:
    """The signed part of root.json."""

    version: int
    expires: datetime
    keys: Mapping[str, KeyEntry]
    roles: Mapping[str, RoleKeys]
    consistent_snapshot: bool


@dataclass(frozen=True)
class Timestamp:
    """The signed part of timestamp.json: which snapshot is current."""

    version: int
    expires: datetime
    snapshot: MetaFile


@dataclass(frozen=True)
class Snapshot:
    """The signed part of snapshot.json: hashes and sizes of root, targets and delegations."""

    version: int
    expires: datetime
    meta: Mapping[str, MetaFile]


@dataclass(frozen=True)
class Targets:
    """The signed part of targets.json or of a delegation's file."""

    version: int
    expires: datetime
    targets: Mapping[str, TargetFile]
    delegations: Delegations


SignedT = TypeVar("SignedT", Root, Timestamp, Snapshot, Targets)


@dataclass(frozen=True)
class Metadata(Generic[SignedT]):
    """A parsed role file: the signed content, its signatures and the bytes they cover."""

    file: str  # "snapshot.json", "targets/releases.json", "2.root.json"
    signed: SignedT
    signatures: tuple[Signature, ...]
    canonical: bytes  # canonical JSON of "signed": what each signature signs


class _Fields:
    """Typed access to a JSON object that raises ``NotaryError`` naming file and field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def error(self, field: str, reason: str) -> NotaryError:
        prefix = f"{self.where}: {field}" if field else self.where
        return NotaryError(f"{prefix}: {reason}")

    def get(self, parent: Mapping[str, object], key: str, field: str) -> object:
        if key not in parent:
            raise self.error(field, f'missing required field "{key}"')
        return parent[key]

    def obj(self, parent: Mapping[str, object], key: str, field: str) -> dict[str, object]:
        value = self.get(parent, key, field)
        return self.as_object(value, f"{field}.{key}" if field else key)

    def as_object(self, value: object, field: str) -> dict[str, object]:
        if not isinstance(value, dict):
            raise self.error(field, f"expected an object, got {_describe(value)}")
        return value

    def string(self, parent: Mapping[str, object], key: str, field: str) -> str:
        value = self.get(parent, key, field)
        if not isinstance(value, str):
            raise self.error(_join(field, key), f"expected a string, got {_describe(value)}")
        return value

    def integer(self, parent: Mapping[str, object], key: str, field: str, *, minimum: int) -> int:
        value = self.get(parent, key, field)
        return self.as_integer(value, _join(field, key), minimum=minimum)

    def as_integer(self, value: object, field: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(field, f"expected an integer >= {minimum}, got {_describe(value)}")
        return value

    def strings(self, value: object, field: str) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(field, f"expected a list of strings, got {_describe(value)}")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{field}[{index}]", f"expected a string, got {_describe(item)}")
        return tuple(value)

    def time(self, parent: Mapping[str, object], key: str, field: str) -> datetime:
        text = self.string(parent, key, field)
        try:
            return parse_time(text)
        except ValueError as exc:
            raise self.error(_join(field, key), str(exc)) from None

    def base64(self, text: str, field: str) -> bytes:
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise self.error(field, "not valid base64") from None


def _join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _describe(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"string {text!r}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _where(file: str, gun: str | None) -> str:
    return f"notary {gun}: {file}" if gun is not None else file


def _envelope(
    data: bytes, where: str, expected_type: str
) -> tuple[_Fields, dict[str, object], tuple[Signature, ...], bytes]:
    fields = _Fields(where)
    try:
        document = loads_strict(data)
    except ValueError as exc:
        raise fields.error("", str(exc)) from None
    if not isinstance(document, dict):
        raise fields.error(
            "", f'expected an object with "signed" and "signatures", got {_describe(document)}'
        )
    signed = fields.obj(document, "signed", "")
    raw_signatures = fields.get(document, "signatures", "")
    if not isinstance(raw_signatures, list):
        raise fields.error("signatures", f"expected a list, got {_describe(raw_signatures)}")
    signatures: list[Signature] = []
    for index, raw in enumerate(raw_signatures):
        path = f"signatures[{index}]"
        entry = fields.as_object(raw, path)
        keyid = fields.string(entry, "keyid", path)
        method = fields.string(entry, "method", path)
        sig = fields.base64(fields.string(entry, "sig", path), f"{path}.sig")
        signatures.append(Signature(keyid=keyid, method=method, sig=sig))
    kind = fields.string(signed, "_type", "signed")
    if kind != expected_type:
        raise fields.error("signed._type", f"is {kind!r}, expected {expected_type!r}")
    try:
        canonical = encode_canonical(signed)
    except CanonicalJSONError as exc:
        raise fields.error("signed", f"has no canonical form Notary could sign ({exc})") from None
    return fields, signed, tuple(signatures), canonical


def _common(fields: _Fields, signed: Mapping[str, object]) -> tuple[int, datetime]:
    version = fields.integer(signed, "version", "signed", minimum=1)
    expires = fields.time(signed, "expires", "signed")
    return version, expires


def _keys(fields: _Fields, raw: dict[str, object], field: str) -> dict[str, KeyEntry]:
    keys: dict[str, KeyEntry] = {}
    for keyid, value in raw.items():
        path = f"{field}.{keyid}"
        if not _KEYID_RE.fullmatch(keyid):
            raise fields.error(path, "key ID is not 64 lowercase hex characters")
        entry = fields.as_object(value, path)
        keytype = fields.string(entry, "keytype", path)
        if keytype not in KEY_TYPES:
            raise fields.error(
                f"{path}.keytype",
                f"unknown key type {keytype!r} (known: {', '.join(sorted(KEY_TYPES))})",
            )
        keyval = fields.obj(entry, "keyval", path)
        public = fields.string(keyval, "public", f"{path}.keyval")
        if not public:
            raise fields.error(f"{path}.keyval.public", "is empty")
        if keyval.get("private") is not None:
            raise fields.error(f"{path}.keyval.private", "metadata must not carry a private key")
        keys[keyid] = KeyEntry(keyid=keyid, keytype=keytype, public=public)
    return keys


def _keyids(
    fields: _Fields, value: object, field: str, keys: Mapping[str, KeyEntry]
) -> tuple[str, ...]:
    keyids = fields.strings(value, field)
    if len(set(keyids)) != len(keyids):
        raise fields.error(field, "lists a key ID twice")
    for index, keyid in enumerate(keyids):
        if keyid not in keys:
            raise fields.error(f"{field}[{index}]", f"key {keyid} is not among the listed keys")
    return keyids


def _hashes(fields: _Fields, parent: Mapping[str, object], field: str) -> dict[str, bytes]:
    raw = fields.obj(parent, "hashes", field)
    path = f"{field}.hashes"
    if "sha256" not in raw:
        raise fields.error(path, 'missing required field "sha256"')
    hashes: dict[str, bytes] = {}
    for algorithm, size in HASH_SIZES.items():
        if algorithm not in raw:
            continue
        text = raw[algorithm]
        if not isinstance(text, str):
            raise fields.error(f"{path}.{algorithm}", f"expected a string, got {_describe(text)}")
        digest = fields.base64(text, f"{path}.{algorithm}")
        if len(digest) != size:
            raise fields.error(
                f"{path}.{algorithm}", f"decodes to {len(digest)} bytes, expected {size}"
            )
        hashes[algorithm] = digest
    return hashes


def _meta_file(fields: _Fields, value: object, field: str) -> MetaFile:
    entry = fields.as_object(value, field)
    length = fields.integer(entry, "length", field, minimum=0)
    hashes = _hashes(fields, entry, field)
    version = None
    if "version" in entry:
        version = fields.as_integer(entry["version"], f"{field}.version", minimum=1)
    return MetaFile(length=length, hashes=hashes, version=version)


def parse_root(data: bytes, *, file: str = "root.json", gun: str | None = None) -> Metadata[Root]:
    """Parse root.json (or ``file``, e.g. ``2.root.json``); errors name ``notary <gun>: <file>``."""
    fields, signed, signatures, canonical = _envelope(data, _where(file, gun), "Root")
    version, expires = _common(fields, signed)
    keys = _keys(fields, fields.obj(signed, "keys", "signed"), "signed.keys")
    raw_roles = fields.obj(signed, "roles", "signed")
    roles: dict[str, RoleKeys] = {}
    for name in TOP_LEVEL_ROLES:
        path = f"signed.roles.{name}"
        entry = fields.obj(raw_roles, name, "signed.roles")
        keyids = _keyids(fields, fields.get(entry, "keyids", path), f"{path}.keyids", keys)
        threshold = fields.integer(entry, "threshold", path, minimum=1)
        roles[name] = RoleKeys(keyids=keyids, threshold=threshold)
    consistent = signed.get("consistent_snapshot", False)
    if not isinstance(consistent, bool):
        raise fields.error(
            "signed.consistent_snapshot", f"expected true or false, got {_describe(consistent)}"
        )
    root = Root(
        version=version, expires=expires, keys=keys, roles=roles, consistent_snapshot=consistent
    )
    return Metadata(file=file, signed=root, signatures=signatures, canonical=canonical)


def parse_timestamp(data: bytes, *, gun: str | None = None) -> Metadata[Timestamp]:
    """Parse timestamp.json; ``meta.snapshot`` with a sha256 is required."""
    file = "timestamp.json"
    fields, signed, signatures, canonical = _envelope(data, _where(file, gun), "Timestamp")
    version, expires = _common(fields, signed)
    meta = fields.obj(signed, "meta", "signed")
    snapshot = _meta_file(
        fields, fields.get(meta, "snapshot", "signed.meta"), "signed.meta.snapshot"
    )
    timestamp = Timestamp(version=version, expires=expires, snapshot=snapshot)
    return Metadata(file=file, signed=timestamp, signatures=signatures, canonical=canonical)


def parse_snapshot(data: bytes, *, gun: str | None = None) -> Metadata[Snapshot]:
    """Parse snapshot.json; ``meta.root`` and ``meta.targets`` are required, as in Notary."""
    file = "snapshot.json"
    fields, signed, signatures, canonical = _envelope(data, _where(file, gun), "Snapshot")
    version, expires = _common(fields, signed)
    raw_meta = fields.obj(signed, "meta", "signed")
    for required in ("root", "targets"):
        fields.get(raw_meta, required, "signed.meta")
    meta: dict[str, MetaFile] = {}
    for name, value in raw_meta.items():
        if name not in ("root", "targets") and not is_delegation_name(name):
            raise fields.error(f"signed.meta.{name}", "is not a role Notary publishes")
        meta[name] = _meta_file(fields, value, f"signed.meta.{name}")
    snapshot = Snapshot(version=version, expires=expires, meta=meta)
    return Metadata(file=file, signed=snapshot, signatures=signatures, canonical=canonical)


def _delegations(fields: _Fields, signed: Mapping[str, object], role: str) -> Delegations:
    if "delegations" not in signed:
        return Delegations(keys={}, roles=())
    raw = fields.obj(signed, "delegations", "signed")
    keys = _keys(fields, fields.obj(raw, "keys", "signed.delegations"), "signed.delegations.keys")
    raw_roles = fields.get(raw, "roles", "signed.delegations")
    if not isinstance(raw_roles, list):
        raise fields.error(
            "signed.delegations.roles", f"expected a list, got {_describe(raw_roles)}"
        )
    roles: list[DelegatedRole] = []
    seen: set[str] = set()
    for index, value in enumerate(raw_roles):
        path = f"signed.delegations.roles[{index}]"
        entry = fields.as_object(value, path)
        name = fields.string(entry, "name", path)
        if not is_delegation_name(name) or name.rpartition("/")[0] != role:
            raise fields.error(
                f"{path}.name",
                f"{name!r} is not a delegation {role} may make (expected {role}/<name>, "
                "lowercase letters, digits, '-' and '_')",
            )
        if name in seen:
            raise fields.error(f"{path}.name", f"{name} is delegated twice")
        seen.add(name)
        keyids = _keyids(fields, fields.get(entry, "keyids", path), f"{path}.keyids", keys)
        threshold = fields.integer(entry, "threshold", path, minimum=1)
        paths: tuple[str, ...] = ()
        prefixes: tuple[str, ...] = ()
        if entry.get("paths") is not None:
            paths = fields.strings(entry["paths"], f"{path}.paths")
        if entry.get("path_hash_prefixes") is not None:
            prefixes = fields.strings(entry["path_hash_prefixes"], f"{path}.path_hash_prefixes")
            for prefix_index, prefix in enumerate(prefixes):
                if not _HEX_RE.fullmatch(prefix):
                    raise fields.error(
                        f"{path}.path_hash_prefixes[{prefix_index}]", "is not lowercase hex"
                    )
        if paths and prefixes:
            raise fields.error(path, "has both paths and path_hash_prefixes")
        roles.append(
            DelegatedRole(
                name=name,
                keyids=keyids,
                threshold=threshold,
                paths=paths,
                path_hash_prefixes=prefixes,
            )
        )
    return Delegations(keys=keys, roles=tuple(roles))


def parse_targets(
    data: bytes, *, role: str = "targets", gun: str | None = None
) -> Metadata[Targets]:
    """Parse targets.json or the file of delegated ``role`` (whose ``_type`` is also Targets).

    Delegations it makes must be direct children of ``role``.
    """
    file = role_file(role)
    fields, signed, signatures, canonical = _envelope(data, _where(file, gun), "Targets")
    version, expires = _common(fields, signed)
    raw_targets = fields.obj(signed, "targets", "signed")
    targets: dict[str, TargetFile] = {}
    for name, value in raw_targets.items():
        path = f"signed.targets.{name}"
        entry = fields.as_object(value, path)
        length = fields.integer(entry, "length", path, minimum=0)
        hashes = _hashes(fields, entry, path)
        targets[name] = TargetFile(name=name, length=length, sha256=hashes["sha256"], hashes=hashes)
    delegations = _delegations(fields, signed, role)
    parsed = Targets(version=version, expires=expires, targets=targets, delegations=delegations)
    return Metadata(file=file, signed=parsed, signatures=signatures, canonical=canonical)
