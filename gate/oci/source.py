"""The one I/O interface between the registry and everything downstream.

Signature verifiers and signers talk to a registry only through these
protocols, so they can be exercised on fixture bytes and the same code serves
the CLI and the webhook. ``gate.oci.client.RegistryClient`` implements both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest exactly as the registry served it, with its verified digest."""

    digest: Digest  # sha256 of ``data``, recomputed locally
    media_type: str
    data: bytes


@dataclass(frozen=True)
class ResolvedImage:
    """An image reference pinned to the digest of the exact manifest bytes.

    ``digest`` is what every check verifies against and what is deployed; for
    a multi-arch index it is the index digest, and ``platform_digest`` the
    digest of the manifest chosen for ``--platform`` (if one was asked for).
    """

    reference: ImageReference  # as the user wrote it, normalised; carries the digest
    digest: Digest
    media_type: str
    manifest: bytes
    platform_digest: Digest | None = None


class ManifestSource(Protocol):
    """Reads manifests and blobs of one registry; every byte is re-hashed."""

    def fetch_manifest(self, repository: ImageReference, reference: str) -> FetchedManifest | None:
        """The manifest at tag or digest ``reference`` in ``repository``; None if absent (404).

        When ``reference`` is a digest the bytes are checked against it.
        """
        ...

    def fetch_blob(self, repository: ImageReference, digest: Digest, max_size: int) -> bytes:
        """The blob ``digest`` of ``repository``, checked against its digest and size cap."""
        ...


class ArtifactSink(Protocol):
    """Writes blobs and manifests to a registry (used by ``gate sign``)."""

    def push_blob(self, repository: ImageReference, data: bytes) -> Digest:
        """Upload ``data`` as a blob (skipped if present) and return its digest."""
        ...

    def push_manifest(
        self, repository: ImageReference, reference: str, data: bytes, media_type: str
    ) -> Digest:
        """PUT ``data`` as the manifest at tag or digest ``reference``; return its digest."""
        ...
