"""Notary v1 (Docker Content Trust) as a signature kind: is this tag or digest a signed target?

For each authority with a ``notaryV1`` block, the image's repository (GUN)
trust data is read from the Notary server and verified from the pinned root
down (``repository``), then the reference is looked up in it (``targets``):

- a tag: the target of that tag gives the manifest digest and size the
  signers vouched for; the digest the registry served must be that one (an
  image replaced after signing is refused), and it is the digest deployed;
- a digest only: some trusted target in the roles looked at has it.

Trust data is kept per (server, GUN, pinned roots). A later check asks the
server for ``timestamp.json`` only and reuses the verified snapshot and
targets while the timestamp still names the same snapshot and nothing has
expired. An unreachable server fails closed, unless the authority's
``offlineGrace`` covers the last successful contact and the cached trust
data has not expired.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from datetime import datetime

from gate.clock import Clock, system_clock
from gate.errors import BackendError, InputError
from gate.oci.source import ResolvedImage
from gate.policy.duration import format_duration
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.notary.authority import NotaryTrust
from gate.signatures.notary.metadata import NotaryError, NotaryMissingError
from gate.signatures.notary.repository import (
    TrustedRepository,
    load_trusted_repository,
    refresh_trusted_repository,
)
from gate.signatures.notary.server import NotaryServers
from gate.signatures.notary.targets import find_target
from gate.signatures.trust import TrustAuthority

KIND = "notaryV1"
_CACHE_SIZE = 256

_CacheKey = tuple[str, str, str, tuple[str, ...]]


@dataclass(frozen=True)
class _Cached:
    repository: TrustedRepository
    contacted: datetime  # the last time the server answered and the data verified


class NotaryVerifier:
    """A ``SignatureVerifier`` for ``notaryV1`` trust authorities."""

    def __init__(
        self,
        servers: NotaryServers,
        *,
        clock: Clock = system_clock,
        cache_trust_data: bool = True,
    ) -> None:
        self._servers = servers
        self._clock = clock
        self._cache_enabled = cache_trust_data
        self._cache: collections.OrderedDict[_CacheKey, _Cached] = collections.OrderedDict()
        self._lock = threading.Lock()

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """Whether the image's tag (or digest) is a signed target of its Notary repository."""
        notary = authority.notary
        if notary is None:
            return AuthorityResult(authority.name, error="no notaryV1 trust block")
        gun = notary.gun(image.reference)
        now = self._clock()
        try:
            repository, notes = self._trust_data(notary, gun, now)
        except NotaryMissingError as exc:
            # A repository never signed, or a role the trust data lists but the server lacks.
            return AuthorityResult(
                authority.name, rejections=(f"no usable Notary trust data for {gun}: {exc}",)
            )
        except NotaryError as exc:
            return AuthorityResult(
                authority.name, rejections=(f"Notary trust data refused: {exc}",)
            )
        except (BackendError, InputError) as exc:
            return AuthorityResult(authority.name, error=f"Notary server for {gun}: {exc}")
        tag = image.reference.tag
        try:
            if tag is not None:
                match = find_target(
                    repository, tag=tag, digest=None, required_roles=notary.delegations
                )
            else:
                match = find_target(
                    repository, tag=None, digest=image.digest, required_roles=notary.delegations
                )
        except NotaryError as exc:
            return AuthorityResult(authority.name, rejections=(str(exc),), notes=notes)
        roles = ", ".join(match.roles)
        target = match.target
        if target.digest != image.digest:
            return AuthorityResult(
                authority.name,
                rejections=(
                    f"notary {gun}: tag {tag} is signed ({roles}) for {target.digest}, but the "
                    f"registry serves {image.digest}: the image changed after signing",
                ),
                notes=notes,
            )
        if tag is not None and target.length != len(image.manifest):
            return AuthorityResult(
                authority.name,
                rejections=(
                    f"notary {gun}: tag {tag} is signed ({roles}) with manifest size "
                    f"{target.length}, but the registry's manifest is {len(image.manifest)} bytes",
                ),
                notes=notes,
            )
        what = f"tag {tag}" if tag is not None else f"target {target.name}"
        vouched = (
            f"notary {gun}: {what} -> {target.digest} signed by {roles}; the deployed digest "
            "is the one the trust data vouches for"
        )
        signature = VerifiedSignature(
            authority=authority.name,
            kind=KIND,
            signer=notary.signer_id,
            signer_label=f"Notary root {repository.root_key.label} of {gun}",
            digest=image.digest,
        )
        return AuthorityResult(authority.name, signatures=(signature,), notes=(*notes, vouched))

    def _trust_data(
        self, notary: NotaryTrust, gun: str, now: datetime
    ) -> tuple[TrustedRepository, tuple[str, ...]]:
        server = self._servers.get(notary.server, notary.ca_file)
        source = server.source(gun)
        key: _CacheKey = (
            notary.server,
            str(notary.ca_file or ""),
            gun,
            notary.root_fingerprints,
        )
        with self._lock:
            cached = self._cache.get(key)
        try:
            if cached is None or not self._cache_enabled:
                repository = load_trusted_repository(gun, source, notary.root_keys, now=now)
            else:
                repository = refresh_trusted_repository(
                    cached.repository, gun, source, notary.root_keys, now=now
                )
        except BackendError as exc:
            grace = notary.offline_grace
            if (
                cached is not None
                and grace is not None
                and now - cached.contacted <= grace
                and cached.repository.expires > now
            ):
                age = format_duration(now - cached.contacted)
                note = (
                    f"notary server {notary.server} unreachable ({exc}); used trust data "
                    f"verified {age} ago (offlineGrace {format_duration(grace)})"
                )
                return cached.repository, (note,)
            if cached is not None and grace is not None:
                raise BackendError(
                    f"{exc} (cached trust data is older than offlineGrace "
                    f"{format_duration(grace)} or expired)"
                ) from exc
            raise
        if self._cache_enabled:
            with self._lock:
                self._cache[key] = _Cached(repository, now)
                self._cache.move_to_end(key)
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return repository, ()

    def clear(self) -> None:
        """Forget every cached repository."""
        with self._lock:
            self._cache.clear()
