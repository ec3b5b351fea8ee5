"""The whole Notary v1 trust chain of one repository (GUN), verified from a pinned root key.

Order, each step using only what the previous ones verified:

1. **root**: ``root.json`` (or, when the pin only holds the first root,
   ``1.root.json``) must list a root-role key equal to a pinned key, that key
   must have signed it, and a threshold of root-role keys with a valid
   certificate (CN == GUN unless ``check_root_cn`` is off, within its validity
   window) must have signed it. Newer roots ``<n+1>.root.json`` are then
   walked one version at a time, each signed by a threshold of the previous
   root's and of its own root keys, until the source has no next version
   (with a previous state, the walk starts from its root). The last root must
   not be expired.
2. **timestamp.json**: signed by the timestamp role, not expired.
3. **snapshot.json**: its bytes hash to what the timestamp says (and are no
   longer than the length it gives, with ``strict_lengths``); signed by the
   snapshot role; not expired. The root's bytes must match its ``meta.root``.
4. **targets.json**: hash/length from the snapshot, targets role, expiry.
5. **delegations**, breadth first from targets: each role the snapshot lists
   is fetched, checked against the snapshot, signed by a threshold of the keys
   its delegating role gives it, not expired; it only vouches for names its
   delegation paths (and those of every ancestor) allow. A delegation the
   snapshot does not list is not published and is skipped, as Notary does.

With the previous verified state, no version may go down (rollback). Bytes
are hashed exactly as received. The source is the only I/O; the clock is
injected (``now``).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.signatures.notary.metadata import (
    DelegatedRole,
    Delegations,
    KeyEntry,
    Metadata,
    MetaFile,
    NotaryError,
    NotaryMissingError,
    Root,
    Snapshot,
    Targets,
    Timestamp,
    parse_root,
    parse_snapshot,
    parse_targets,
    parse_timestamp,
    role_file,
)
from gate.signatures.notary.tuf_keys import (
    TufKey,
    load_tuf_key,
    root_certificate_problem,
    short_id,
)

DEFAULT_MAX_ROLE_BYTES = 4 * 1024 * 1024
#: Bounds on work a hostile server can cause.
MAX_ROOT_ROTATIONS = 1024
MAX_DELEGATIONS = 1024

_SignedT = TypeVar("_SignedT", Root, Timestamp, Snapshot, Targets)


class MetadataSource(Protocol):
    """Where the role files of one repository come from (a Notary server, a directory...)."""

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        """Exact bytes of `<role>.json` (or `<version>.<role>.json` when version is given),
        at most max_length bytes (raise NotaryError if longer). role is "root", "timestamp",
        "snapshot", "targets" or "targets/<name>". Raise NotaryMissingError when absent,
        NotaryError for other problems; a transport failure raises gate.errors.BackendError
        (the lead's HTTP source does that; just let it propagate)."""
        ...


@dataclass(frozen=True)
class PinnedRoot:
    """A pinned root key: the SubjectPublicKeyInfo DER of the root-role key (from a PEM public
    key or a PEM certificate; loader function below)."""

    spki_der: bytes
    label: str  # file name, for messages
    fingerprint: str  # "SHA256:<hex of sha256(spki_der)>"


def load_pinned_root(data: bytes, label: str) -> PinnedRoot:
    """Pin the root key in ``data``: a PEM public key or a PEM certificate (its key is pinned).

    Raises ``InputError`` naming ``label`` for anything else (a private key,
    several PEM blocks, garbage).
    """
    if b"PRIVATE KEY" in data:
        raise InputError("is a private key; pin the public key or the certificate", source=label)
    blocks = data.count(b"-----BEGIN ")
    if blocks != 1:
        found = "no PEM block" if blocks == 0 else f"{blocks} PEM blocks"
        raise InputError(f"expected one PEM public key or certificate, found {found}", source=label)
    key: object
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except UnsupportedAlgorithm as exc:
        raise InputError(f"unsupported key algorithm ({exc})", source=label) from None
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(f"not a PEM public key or certificate ({reason})", source=label) from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise InputError(f"unsupported key type {type(key).__name__}", source=label)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return PinnedRoot(
        spki_der=der, label=label, fingerprint="SHA256:" + hashlib.sha256(der).hexdigest()
    )


@dataclass(frozen=True)
class TrustedTarget:
    """A target the trust data vouches for: for Docker, a tag and its manifest digest and size."""

    name: str  # target name (the tag)
    digest: Digest  # gate.oci.digest.Digest("sha256", hex) from hashes.sha256 (base64 -> hex)
    length: int
    role: str  # "targets" or "targets/releases" ...


@dataclass(frozen=True)
class TrustedRepository:
    """Everything verified about one repository's trust data, and what a refresh needs.

    ``root``/``root_bytes`` are the last verified root (the next load starts
    from it), ``expiries`` the expiry of every verified role file.
    """

    gun: str
    root_key: PinnedRoot  # which pinned root matched
    versions: Mapping[str, int]  # role -> version of verified metadata
    expires: datetime  # earliest expiry of all verified metadata (aware UTC)
    timestamp_expires: datetime
    snapshot_sha256: str  # hex of the verified snapshot bytes (so a refresh can tell "unchanged")
    roles: Mapping[str, Mapping[str, TrustedTarget]]  # verified role -> target name -> target
    delegations: tuple[str, ...]  # delegation role names listed by snapshot/targets and verified
    root: Root
    root_bytes: bytes
    expiries: Mapping[str, datetime]  # role -> expiry of its verified metadata


class _Walk:
    """One verification run: the repository, the source, the clock and the options."""

    def __init__(
        self,
        gun: str,
        source: MetadataSource,
        *,
        now: datetime,
        previous: TrustedRepository | None,
        max_role_bytes: int,
        strict_lengths: bool,
        check_root_cn: bool,
    ) -> None:
        self.gun = gun
        self.source = source
        self.now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        self.previous = previous
        self.max_role_bytes = max_role_bytes
        self.strict_lengths = strict_lengths
        self.check_root_cn = check_root_cn
        self.prefix = f"notary {gun}"
        # (file, key ID) -> loaded key: a root's keys are needed by several checks.
        self._keys: dict[tuple[str, str], TufKey] = {}

    def where(self, file: str) -> str:
        return f"{self.prefix}: {file}"

    def error(self, file: str, reason: str) -> NotaryError:
        return NotaryError(f"{self.where(file)}: {reason}")

    # -- fetching -------------------------------------------------------------------------

    def fetch(self, role: str, max_length: int, version: int | None = None) -> bytes:
        data = self.source.fetch(role, max_length, version=version)
        if len(data) > max_length:
            raise self.error(
                role_file(role, version), f"{len(data)} bytes, more than the limit {max_length}"
            )
        return data

    def fetch_listed(self, role: str, meta: MetaFile, listed_in: str) -> bytes:
        """Fetch a role file whose hashes and length ``listed_in`` gives, and check them."""
        limit = self.max_role_bytes
        if self.strict_lengths:
            limit = min(limit, meta.length)
        try:
            data = self.fetch(role, limit)
        except NotaryMissingError as exc:
            raise NotaryMissingError(
                f"{self.where(role_file(role))}: listed in {listed_in} but not found ({exc})"
            ) from exc
        self.check_listed(data, role_file(role), meta, listed_in)
        return data

    def check_listed(self, data: bytes, file: str, meta: MetaFile, listed_in: str) -> None:
        if self.strict_lengths and len(data) > meta.length:
            raise self.error(
                file,
                f"{len(data)} bytes, more than the length {meta.length} recorded in {listed_in}",
            )
        for algorithm, expected in meta.hashes.items():
            actual = hashlib.new(algorithm, data).digest()
            if actual != expected:
                raise self.error(
                    file,
                    f"{algorithm} does not match {listed_in} (expected "
                    f"{expected.hex()[:16]}..., got {actual.hex()[:16]}...)",
                )

    # -- checks ---------------------------------------------------------------------------

    def check_expiry(self, file: str, expires: datetime) -> None:
        if self.now >= expires:
            raise self.error(file, f"expired at {_iso(expires)}")

    def check_version(self, role: str, file: str, version: int) -> None:
        if self.previous is None:
            return
        seen = self.previous.versions.get(role)
        if seen is not None and version < seen:
            raise self.error(
                file, f"version {version} is older than version {seen} seen before (rollback)"
            )

    def load_keys(self, metadata_file: str, entries: Mapping[str, KeyEntry]) -> dict[str, TufKey]:
        keys: dict[str, TufKey] = {}
        for keyid, entry in entries.items():
            key = self._keys.get((metadata_file, keyid))
            if key is None:
                key = load_tuf_key(entry, where=self.where(metadata_file))
                self._keys[metadata_file, keyid] = key
            keys[keyid] = key
        return keys

    def check_threshold(
        self,
        metadata: Metadata[_SignedT],
        keys: Mapping[str, TufKey],
        keyids: Sequence[str],
        threshold: int,
        who: str,
    ) -> set[str]:
        """Distinct keys of ``keyids`` with a valid signature; raise below ``threshold``.

        Keys are counted by their public key, so one key listed under two IDs
        (two certificates for the same key) counts once.
        """
        if not metadata.signatures:
            raise self.error(metadata.file, "has no signatures")
        allowed = set(keyids)
        valid_keys: set[bytes] = set()
        valid_ids: set[str] = set()
        problems: list[str] = []
        for signature in metadata.signatures:
            if signature.keyid not in allowed or signature.keyid not in keys:
                continue
            key = keys[signature.keyid]
            problem = key.signature_problem(signature, metadata.canonical)
            if problem is None:
                valid_keys.add(key.spki)
                valid_ids.add(signature.keyid)
            else:
                problems.append(f"{short_id(signature.keyid)}: {problem}")
        if len(valid_keys) < threshold:
            detail = "; ".join(problems) if problems else f"no signature by a {who} key"
            raise self.error(
                metadata.file,
                f"{len(valid_keys)} of {threshold} required {who} signatures valid ({detail})",
            )
        return valid_ids

    # -- root -----------------------------------------------------------------------------

    def trusted_root(
        self, pinned: Sequence[PinnedRoot]
    ) -> tuple[Metadata[Root], bytes, PinnedRoot]:
        previous = self.previous
        pins = {pin.spki_der for pin in pinned}
        if previous is not None and previous.root_key.spki_der in pins:
            current = parse_root(previous.root_bytes, gun=self.gun)
            data, pin = previous.root_bytes, previous.root_key
        else:
            current, data, pin = self.pinned_root_file(pinned)
        for _ in range(MAX_ROOT_ROTATIONS):
            next_version = current.signed.version + 1
            try:
                new_data = self.fetch("root", self.max_role_bytes, version=next_version)
            except NotaryMissingError:
                break
            current = self.rotate(current, new_data, next_version)
            data = new_data
        else:
            raise self.error("root.json", f"more than {MAX_ROOT_ROTATIONS} root rotations")
        self.check_final_root(current)
        return current, data, pin

    def pinned_root_file(
        self, pinned: Sequence[PinnedRoot]
    ) -> tuple[Metadata[Root], bytes, PinnedRoot]:
        """root.json if a pinned key holds its root role, else ``1.root.json`` to walk from."""
        data = self.fetch("root", self.max_role_bytes)
        root = parse_root(data, gun=self.gun)
        try:
            return root, data, self.check_pinned(root, pinned)
        except NotaryError as first:
            if root.signed.version == 1:
                raise
            try:
                first_data = self.fetch("root", self.max_role_bytes, version=1)
                first_root = parse_root(first_data, file="1.root.json", gun=self.gun)
                return first_root, first_data, self.check_pinned(first_root, pinned)
            except NotaryError:
                raise first from None

    def check_pinned(self, root: Metadata[Root], pinned: Sequence[PinnedRoot]) -> PinnedRoot:
        """The pin that holds ``root``'s root role and signed it; raise when there is none."""
        keys = self.load_keys(root.file, root.signed.keys)
        role = root.signed.roles["root"]
        matches = [
            (pin, keys[keyid])
            for keyid in role.keyids
            for pin in pinned
            if pin.spki_der == keys[keyid].spki
        ]
        if not matches:
            labels = ", ".join(f"{pin.label} ({pin.fingerprint})" for pin in pinned)
            raise self.error(
                root.file, f"no root-role key matches the pinned root key(s): {labels}"
            )
        problems = [self.root_key_problem(key) for _, key in matches]
        usable = [match for match, problem in zip(matches, problems, strict=True) if not problem]
        if not usable:
            raise self.error(root.file, str(problems[0]))
        signers = self.check_threshold(
            root, keys, [key.keyid for _, key in usable], 1, "pinned root"
        )
        return next(pin for pin, key in usable if key.keyid in signers)

    def root_key_problem(self, key: TufKey) -> str | None:
        return root_certificate_problem(
            key, gun=self.gun, now=self.now, check_cn=self.check_root_cn
        )

    def rotate(self, current: Metadata[Root], data: bytes, version: int) -> Metadata[Root]:
        """Verify root ``version`` against the trusted ``current`` one (threshold of both)."""
        new = parse_root(data, file=role_file("root", version), gun=self.gun)
        if new.signed.version != version:
            raise self.error(
                new.file, f"signed.version is {new.signed.version}, expected {version}"
            )
        old_keys = self.load_keys(current.file, current.signed.keys)
        old_role = current.signed.roles["root"]
        self.check_threshold(new, old_keys, old_role.keyids, old_role.threshold, "previous root")
        new_keys = self.load_keys(new.file, new.signed.keys)
        new_role = new.signed.roles["root"]
        self.check_threshold(new, new_keys, new_role.keyids, new_role.threshold, "root")
        return new

    def check_final_root(self, root: Metadata[Root]) -> None:
        """A threshold of root keys with usable certificates signed it, and it is not expired."""
        keys = self.load_keys(root.file, root.signed.keys)
        role = root.signed.roles["root"]
        usable: list[str] = []
        problems: list[str] = []
        for keyid in role.keyids:
            problem = self.root_key_problem(keys[keyid])
            if problem is None:
                usable.append(keyid)
            else:
                problems.append(problem)
        if len(usable) < role.threshold:
            raise self.error(
                root.file,
                f"{len(usable)} of {role.threshold} required root keys usable ("
                + "; ".join(problems)
                + ")",
            )
        self.check_threshold(root, keys, usable, role.threshold, "root")
        self.check_expiry(root.file, root.signed.expires)

    # -- the rest of the chain ------------------------------------------------------------

    def timestamp(self, data: bytes, root: Root, keys: Mapping[str, TufKey]) -> Timestamp:
        timestamp = parse_timestamp(data, gun=self.gun)
        role = root.roles["timestamp"]
        self.check_threshold(timestamp, keys, role.keyids, role.threshold, "timestamp")
        self.check_expiry(timestamp.file, timestamp.signed.expires)
        self.check_version("timestamp", timestamp.file, timestamp.signed.version)
        return timestamp.signed

    def listed_version(self, metadata: Metadata[_SignedT], meta: MetaFile, listed_in: str) -> None:
        if meta.version is not None and metadata.signed.version != meta.version:
            raise self.error(
                metadata.file,
                f"version {metadata.signed.version}, but {listed_in} lists version {meta.version}",
            )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _digest(target_sha256: bytes) -> Digest:
    return Digest("sha256", target_sha256.hex())


def load_trusted_repository(
    gun: str,
    source: MetadataSource,
    pinned: Sequence[PinnedRoot],
    *,
    now: datetime,
    previous: TrustedRepository | None = None,
    max_role_bytes: int = DEFAULT_MAX_ROLE_BYTES,
    strict_lengths: bool = True,
    check_root_cn: bool = True,
) -> TrustedRepository:
    """Verify the whole trust chain of ``gun`` from a pinned root key (see the module doc).

    ``strict_lengths`` treats every ``length`` in timestamp/snapshot as a hard
    upper bound, as Notary does when downloading; off, only hashes are
    compared (connaisseur's behaviour, needed for its stale fixtures).
    ``check_root_cn`` requires the root certificate's CN to be the GUN, as
    Notary's trust pinning does; off, a pinned key alone binds the repository
    (connaisseur's model, where one root certificate serves many repositories).
    With ``previous``, no role version may be lower than before (rollback) and
    the root is walked on from the previously trusted one.
    Raises ``NotaryError`` (``NotaryMissingError`` for absent files).
    """
    return _load(
        gun,
        source,
        pinned,
        now=now,
        previous=previous,
        max_role_bytes=max_role_bytes,
        strict_lengths=strict_lengths,
        check_root_cn=check_root_cn,
        timestamp_data=None,
    )


def _load(
    gun: str,
    source: MetadataSource,
    pinned: Sequence[PinnedRoot],
    *,
    now: datetime,
    previous: TrustedRepository | None,
    max_role_bytes: int,
    strict_lengths: bool,
    check_root_cn: bool,
    timestamp_data: bytes | None,
) -> TrustedRepository:
    if not pinned:
        raise NotaryError(f"notary {gun}: no pinned root key to verify the trust data with")
    if previous is not None and previous.gun != gun:
        previous = None
    walk = _Walk(
        gun,
        source,
        now=now,
        previous=previous,
        max_role_bytes=max_role_bytes,
        strict_lengths=strict_lengths,
        check_root_cn=check_root_cn,
    )
    root_metadata, root_bytes, pin = walk.trusted_root(pinned)
    root = root_metadata.signed
    walk.check_version("root", root_metadata.file, root.version)
    root_keys = walk.load_keys(root_metadata.file, root.keys)
    versions: dict[str, int] = {"root": root.version}
    expiries: dict[str, datetime] = {"root": root.expires}

    # timestamp
    if timestamp_data is None:
        timestamp_data = walk.fetch("timestamp", max_role_bytes)
    timestamp = walk.timestamp(timestamp_data, root, root_keys)
    versions["timestamp"] = timestamp.version
    expiries["timestamp"] = timestamp.expires

    # snapshot
    snapshot_data = walk.fetch_listed("snapshot", timestamp.snapshot, "timestamp.json")
    snapshot = parse_snapshot(snapshot_data, gun=gun)
    walk.listed_version(snapshot, timestamp.snapshot, "timestamp.json")
    role = root.roles["snapshot"]
    walk.check_threshold(snapshot, root_keys, role.keyids, role.threshold, "snapshot")
    walk.check_expiry(snapshot.file, snapshot.signed.expires)
    walk.check_version("snapshot", snapshot.file, snapshot.signed.version)
    versions["snapshot"] = snapshot.signed.version
    expiries["snapshot"] = snapshot.signed.expires
    listed = snapshot.signed.meta
    walk.check_listed(root_bytes, "root.json", listed["root"], "snapshot.json")
    walk.listed_version(root_metadata, listed["root"], "snapshot.json")

    # targets
    targets_data = walk.fetch_listed("targets", listed["targets"], "snapshot.json")
    targets = parse_targets(targets_data, gun=gun)
    walk.listed_version(targets, listed["targets"], "snapshot.json")
    role = root.roles["targets"]
    walk.check_threshold(targets, root_keys, role.keyids, role.threshold, "targets")
    walk.check_expiry(targets.file, targets.signed.expires)
    walk.check_version("targets", targets.file, targets.signed.version)
    versions["targets"] = targets.signed.version
    expiries["targets"] = targets.signed.expires
    roles: dict[str, dict[str, TrustedTarget]] = {
        "targets": {
            name: TrustedTarget(name, _digest(target.sha256), target.length, "targets")
            for name, target in targets.signed.targets.items()
        }
    }

    # delegations, breadth first
    delegations: list[str] = []
    queue: deque[tuple[str, Delegations, tuple[DelegatedRole, ...]]] = deque(
        ("targets", targets.signed.delegations, (entry,))
        for entry in targets.signed.delegations.roles
    )
    while queue:
        parent, parent_delegations, chain = queue.popleft()
        entry = chain[-1]
        meta = listed.get(entry.name)
        if meta is None:
            continue  # not published (Notary skips it): nothing of it is trusted
        if len(delegations) >= MAX_DELEGATIONS:
            raise walk.error("snapshot.json", f"more than {MAX_DELEGATIONS} delegations")
        data = walk.fetch_listed(entry.name, meta, "snapshot.json")
        delegated = parse_targets(data, role=entry.name, gun=gun)
        walk.listed_version(delegated, meta, "snapshot.json")
        keys = walk.load_keys(
            role_file(parent),
            {keyid: parent_delegations.keys[keyid] for keyid in entry.keyids},
        )
        walk.check_threshold(delegated, keys, entry.keyids, entry.threshold, entry.name)
        walk.check_expiry(delegated.file, delegated.signed.expires)
        walk.check_version(entry.name, delegated.file, delegated.signed.version)
        versions[entry.name] = delegated.signed.version
        expiries[entry.name] = delegated.signed.expires
        delegations.append(entry.name)
        roles[entry.name] = {
            name: TrustedTarget(name, _digest(target.sha256), target.length, entry.name)
            for name, target in delegated.signed.targets.items()
            # a role only vouches for names every delegation on its way down allows
            if all(step.covers(name) for step in chain)
        }
        queue.extend(
            (entry.name, delegated.signed.delegations, (*chain, child))
            for child in delegated.signed.delegations.roles
        )

    return TrustedRepository(
        gun=gun,
        root_key=pin,
        versions=versions,
        expires=min(expiries.values()),
        timestamp_expires=timestamp.expires,
        snapshot_sha256=hashlib.sha256(snapshot_data).hexdigest(),
        roles=roles,
        delegations=tuple(delegations),
        root=root,
        root_bytes=root_bytes,
        expiries=expiries,
    )


def refresh_trusted_repository(
    cached: TrustedRepository,
    gun: str,
    source: MetadataSource,
    pinned: Sequence[PinnedRoot],
    *,
    now: datetime,
    max_role_bytes: int = DEFAULT_MAX_ROLE_BYTES,
    strict_lengths: bool = True,
    check_root_cn: bool = True,
) -> TrustedRepository:
    """The cheap path: fetch only timestamp.json, verify it with the cached root's timestamp
    key; if its snapshot hash equals cached.snapshot_sha256 and nothing cached is expired at
    `now`, return cached with the new timestamp version/expiry; otherwise do the full
    load_trusted_repository(previous=cached)."""
    pins = {pin.spki_der for pin in pinned}
    if cached.gun != gun or cached.root_key.spki_der not in pins:
        return load_trusted_repository(
            gun,
            source,
            pinned,
            now=now,
            max_role_bytes=max_role_bytes,
            strict_lengths=strict_lengths,
            check_root_cn=check_root_cn,
        )
    walk = _Walk(
        gun,
        source,
        now=now,
        previous=cached,
        max_role_bytes=max_role_bytes,
        strict_lengths=strict_lengths,
        check_root_cn=check_root_cn,
    )
    data = walk.fetch("timestamp", max_role_bytes)
    try:
        root = parse_root(cached.root_bytes, gun=gun)
        keys = walk.load_keys(root.file, root.signed.keys)
        timestamp = walk.timestamp(data, root.signed, keys)
        unchanged = timestamp.snapshot.sha256 == cached.snapshot_sha256 and all(
            walk.now < expires for role, expires in cached.expiries.items() if role != "timestamp"
        )
        if unchanged:
            walk.check_final_root(root)
    except NotaryError:
        # e.g. a rotated timestamp key or a root certificate that expired: the full
        # walk decides, and reports the problem if it is real.
        unchanged = False
    if not unchanged:
        return _load(
            gun,
            source,
            pinned,
            previous=cached,
            timestamp_data=data,
            now=now,
            max_role_bytes=max_role_bytes,
            strict_lengths=strict_lengths,
            check_root_cn=check_root_cn,
        )
    expiries = {**cached.expiries, "timestamp": timestamp.expires}
    return replace(
        cached,
        versions={**cached.versions, "timestamp": timestamp.version},
        expires=min(expiries.values()),
        timestamp_expires=timestamp.expires,
        expiries=expiries,
    )


def verify_root(
    data: bytes,
    gun: str,
    pinned: Sequence[PinnedRoot],
    *,
    now: datetime,
    check_root_cn: bool = True,
) -> tuple[Root, PinnedRoot]:
    """Check one root.json on its own: pinned root key, certificate, threshold, expiry.

    The first step of ``load_trusted_repository`` without fetching anything
    (no rotation walk); for tools and tests that hold a root file.
    """
    if not pinned:
        raise NotaryError(f"notary {gun}: no pinned root key to verify the trust data with")
    walk = _Walk(
        gun,
        _NoSource(),
        now=now,
        previous=None,
        max_role_bytes=len(data),
        strict_lengths=True,
        check_root_cn=check_root_cn,
    )
    root = parse_root(data, gun=gun)
    pin = walk.check_pinned(root, pinned)
    walk.check_final_root(root)
    return root.signed, pin


class _NoSource:
    """A source with nothing in it (``verify_root`` fetches nothing)."""

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        raise NotaryMissingError(f"{role_file(role, version)}: not available")


def verify_role_file(
    data: bytes,
    role: str,
    keys: Mapping[str, KeyEntry],
    keyids: Sequence[str],
    threshold: int,
    *,
    gun: str,
    now: datetime,
) -> Root | Timestamp | Snapshot | Targets:
    """Check one role file on its own: structure, signature threshold, expiry.

    ``keys``/``keyids``/``threshold`` are what root (or, for a delegation, the
    delegating role) gives ``role``. There is no hash chain here, so a file is
    never *trusted* through this function; it names a file's own defect (an
    expired or badly signed file) for tools and tests.
    """
    walk = _Walk(
        gun,
        _NoSource(),
        now=now,
        previous=None,
        max_role_bytes=len(data),
        strict_lengths=True,
        check_root_cn=True,
    )
    if role == "root":
        return _verify_file(walk, parse_root(data, gun=gun), keys, keyids, threshold)
    if role == "timestamp":
        return _verify_file(walk, parse_timestamp(data, gun=gun), keys, keyids, threshold)
    if role == "snapshot":
        return _verify_file(walk, parse_snapshot(data, gun=gun), keys, keyids, threshold)
    metadata = parse_targets(data, role=role, gun=gun)
    return _verify_file(walk, metadata, keys, keyids, threshold)


def _verify_file(
    walk: _Walk,
    metadata: Metadata[_SignedT],
    keys: Mapping[str, KeyEntry],
    keyids: Sequence[str],
    threshold: int,
) -> _SignedT:
    role = metadata.file.removesuffix(".json")
    loaded = walk.load_keys(
        metadata.file, {keyid: keys[keyid] for keyid in keyids if keyid in keys}
    )
    walk.check_threshold(metadata, loaded, keyids, threshold, role)
    walk.check_expiry(metadata.file, metadata.signed.expires)
    return metadata.signed
