"""What a policy's ``notaryV1`` trust block says: which server, which root, which roles."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gate.oci.reference import ImageReference
from gate.signatures.notary.repository import PinnedRoot

DEFAULT_GUN = "{registry}/{repository}"
GUN_FIELDS = frozenset({"registry", "repository"})


def check_gun_template(template: str) -> None:
    """Raise ``ValueError`` unless ``template`` uses only ``{registry}`` and ``{repository}``."""
    try:
        fields = [
            name for _, name, spec, conv in string.Formatter().parse(template) if name is not None
        ]
    except ValueError as exc:
        raise ValueError(f"bad placeholder syntax: {exc}") from None
    for name in fields:
        if name not in GUN_FIELDS:
            raise ValueError(
                f'unknown placeholder "{{{name}}}" (only {{registry}} and {{repository}})'
            )


@dataclass(frozen=True)
class NotaryTrust:
    """A Notary v1 (Docker Content Trust) trust block of one authority.

    ``root_keys`` are pinned: the repository's root role key must be one of
    them. ``delegations`` must all have signed the reference (same digest);
    empty means docker's lookup (``targets/releases``, then ``targets``).
    ``offline_grace`` lets trust data fetched that recently stand in for an
    unreachable server (None: an unreachable server denies).
    """

    server: str
    root_keys: tuple[PinnedRoot, ...]
    delegations: tuple[str, ...] = ()
    ca_file: Path | None = None
    gun_template: str = DEFAULT_GUN
    offline_grace: timedelta | None = None

    def gun(self, reference: ImageReference) -> str:
        """The Notary repository name (GUN) of ``reference``, e.g. ``docker.io/library/alpine``."""
        return self.gun_template.format(
            registry=reference.registry, repository=reference.repository
        )

    @property
    def signer_id(self) -> str:
        """The one signer this repository root contributes to a threshold."""
        return "notaryV1:" + ",".join(self.root_fingerprints)

    @property
    def root_fingerprints(self) -> tuple[str, ...]:
        """The pinned root keys' fingerprints, sorted (part of every cache key)."""
        return tuple(sorted(k.fingerprint for k in self.root_keys))
