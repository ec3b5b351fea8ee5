"""Registries for tests: in memory, or loaded from a registry dump directory.

Both implement the real ``ManifestSource`` (and ``MemoryRegistry`` also
``ArtifactSink``) and behave like the registry client where it matters: a
manifest asked for by digest and every blob are re-hashed and checked, a blob
larger than the caller's cap is refused, absent things are 404s. They also
record every fetch in ``calls`` so tests can assert what was fetched how often.

A registry dump directory (the layout of the connaisseur test data) holds
``manifests/<tag>.json`` (tagged manifests, including cosign's
``sha256-<hex>.sig`` tags), ``manifests/sha256:<hex>.json`` (manifests by
digest) and ``blobs/sha256:<hex>.json`` (blobs named by their digest; the
content is NOT trusted to match the name, exactly as with a real registry).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from gate.errors import BackendError, VerificationError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import FetchedManifest, ResolvedImage

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def media_type_of(data: bytes) -> str:
    """The ``mediaType`` a manifest declares (what a registry would send as Content-Type)."""
    try:
        document = json.loads(data)
    except ValueError:
        return OCI_MANIFEST
    media_type = document.get("mediaType") if isinstance(document, dict) else None
    return media_type if isinstance(media_type, str) else OCI_MANIFEST


class MemoryRegistry:
    """An in-memory registry of many repositories, keyed by ``registry/repository``."""

    def __init__(self) -> None:
        self._tags: dict[tuple[str, str], Digest] = {}
        self._manifests: dict[tuple[str, Digest], tuple[bytes, str]] = {}
        self._blobs: dict[tuple[str, Digest], bytes] = {}
        self.calls: list[tuple[str, str, str]] = []
        #: Make the next fetches fail like an unreachable registry (message of the error).
        self.fail_with: str | None = None

    # -- helpers for setting up tests ------------------------------------------------

    def put_manifest(
        self,
        repository: ImageReference,
        data: bytes,
        *,
        tag: str | None = None,
        media_type: str | None = None,
        digest: Digest | None = None,
    ) -> Digest:
        """Store ``data`` (under ``digest`` if given, to simulate a lying registry)."""
        stored = digest or Digest.of(data)
        self._manifests[(repository.name, stored)] = (data, media_type or media_type_of(data))
        if tag is not None:
            self._tags[(repository.name, tag)] = stored
        return stored

    def put_blob(
        self, repository: ImageReference, data: bytes, *, digest: Digest | None = None
    ) -> Digest:
        """Store a blob (under ``digest`` if given, to simulate a lying registry)."""
        stored = digest or Digest.of(data)
        self._blobs[(repository.name, stored)] = data
        return stored

    def tag_alias(self, repository: ImageReference, tag: str, target_tag: str) -> None:
        """Make ``tag`` point at whatever ``target_tag`` points at (e.g. a transplanted .sig)."""
        self._tags[(repository.name, tag)] = self._tags[(repository.name, target_tag)]

    def resolve(self, reference: ImageReference) -> ResolvedImage:
        """The image at ``reference``'s tag (or digest), pinned to its digest."""
        ref = str(reference.digest) if reference.digest else reference.tag or "latest"
        fetched = self.fetch_manifest(reference, ref)
        if fetched is None:
            raise BackendError(f"{reference}: manifest unknown")
        return ResolvedImage(
            reference=reference.with_digest(fetched.digest),
            digest=fetched.digest,
            media_type=fetched.media_type,
            manifest=fetched.data,
        )

    def count(self, kind: str) -> int:
        """How many fetches of ``kind`` ("manifest" or "blob") were made."""
        return sum(1 for call in self.calls if call[0] == kind)

    # -- ManifestSource --------------------------------------------------------------

    def fetch_manifest(self, repository: ImageReference, reference: str) -> FetchedManifest | None:
        """The manifest at tag or digest ``reference``; None when absent (404)."""
        self.calls.append(("manifest", repository.name, reference))
        if self.fail_with is not None:
            raise BackendError(self.fail_with)
        if reference.startswith("sha256:"):
            wanted: Digest | None = Digest.parse(reference)
        else:
            wanted = self._tags.get((repository.name, reference))
        if wanted is None or (repository.name, wanted) not in self._manifests:
            return None
        data, media_type = self._manifests[(repository.name, wanted)]
        actual = Digest.of(data)
        if reference.startswith("sha256:") and actual != wanted:
            raise VerificationError(f"{repository.name}@{reference}: content hashes to {actual}")
        return FetchedManifest(digest=actual, media_type=media_type, data=data)

    def fetch_blob(self, repository: ImageReference, digest: Digest, max_size: int) -> bytes:
        """The blob ``digest``, re-hashed and size-capped like the real client."""
        self.calls.append(("blob", repository.name, str(digest)))
        if self.fail_with is not None:
            raise BackendError(self.fail_with)
        data = self._blobs.get((repository.name, digest))
        if data is None:
            raise BackendError(f"{repository.name}@{digest}: blob unknown (404)")
        if len(data) > max_size:
            raise VerificationError(
                f"{repository.name}@{digest}: blob of {len(data)} bytes exceeds cap {max_size}"
            )
        digest.check(data, what=f"{repository.name}@{digest}")
        return data

    # -- ArtifactSink ----------------------------------------------------------------

    def push_blob(self, repository: ImageReference, data: bytes) -> Digest:
        """Store ``data`` as a blob and return its digest."""
        self.calls.append(("push_blob", repository.name, str(Digest.of(data))))
        if self.fail_with is not None:
            raise BackendError(self.fail_with)
        return self.put_blob(repository, data)

    def push_manifest(
        self, repository: ImageReference, reference: str, data: bytes, media_type: str
    ) -> Digest:
        """Store ``data`` as the manifest at tag ``reference``; return its digest."""
        self.calls.append(("push_manifest", repository.name, reference))
        if self.fail_with is not None:
            raise BackendError(self.fail_with)
        tag = None if reference.startswith("sha256:") else reference
        return self.put_manifest(repository, data, tag=tag, media_type=media_type)


def load_registry_dump(
    directory: Path, repository: ImageReference, registry: MemoryRegistry | None = None
) -> MemoryRegistry:
    """A ``MemoryRegistry`` serving the dump in ``directory`` as ``repository``.

    Blobs are stored under the digest their file name claims, so a corrupted
    dump shows up as a digest mismatch on fetch, never as silently wrong data.
    """
    registry = registry or MemoryRegistry()
    for path in sorted((directory / "manifests").glob("*.json")):
        data = path.read_bytes()
        name = path.name.removesuffix(".json")
        if name.startswith("sha256:"):
            registry.put_manifest(repository, data, digest=Digest.parse(name))
        else:
            registry.put_manifest(repository, data, tag=name)
    blob_dir = directory / "blobs"
    if blob_dir.is_dir():
        for path in sorted(blob_dir.glob("*.json")):
            digest = Digest.parse(path.name.removesuffix(".json"))
            registry.put_blob(repository, path.read_bytes(), digest=digest)
    return registry


def resolved_image(registry: MemoryRegistry, repository: ImageReference, tag: str) -> ResolvedImage:
    """The image tagged ``tag`` in ``repository``, resolved like the gate does."""
    return registry.resolve(repository.with_tag(tag))


def fixture_registry(
    directory: Path, repository: ImageReference, aliases: Mapping[str, str] | None = None
) -> MemoryRegistry:
    """The registry dump in ``directory`` as ``repository``, with optional tag ``aliases``."""
    registry = load_registry_dump(directory, repository)
    for tag, target in (aliases or {}).items():
        registry.tag_alias(repository, tag, target)
    return registry
