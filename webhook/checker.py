"""Deciding the images of one admission request within the deadline, with caches.

The same ``gate.check.Gate`` as ``gate check`` decides each image; what the
webhook adds is around it:

- a manifest cache keyed by (repository, digest): a digest fetched before
  needs no manifest GET; a tag is resolved with one HEAD, whose answer is
  reused for ``tag_cache_ttl`` (one second by default, 0 for a HEAD on every
  admission), so a moved tag is seen at most that late (plus the one-second
  reuse of fast-path decisions below);
- a verification cache keyed by (signature kind, repository, digest, trust
  authority and its trust material, policy digest; for Notary also the
  tag): a digest verified before needs no signature request until the TTL
  runs out (a digest that was not signed is
  kept only briefly, so a fresh signature is seen quickly; a registry error
  is never kept);
- an attestation cache keyed the same way (repository, digest, trust
  authority and its trust material, policy digest), for rules that read
  signed attestations; what was found is kept for the TTL, a digest with
  nothing that counts only briefly, a registry error never;
- scan reports and SBOMs pushed to the verdict store for the digest;
- answers of the policy's evidence sources (Harbor, Clair) per (source,
  repository, digest): a report for the cache TTL, "no report" only for
  ``UNSIGNED_TTL`` so that a scan finishing after the first admission is
  seen quickly; an error is never kept;
- a shared thread pool checking the images of one request concurrently, and
  a deadline after which an unfinished image is denied ("could not verify
  ... in time"): the answer never waits for a slow registry;
- a fast path for the common case: an image pinned by digest whose manifest
  and verification results are all cached (and whose rule reads no stored
  evidence) is decided in the request thread, because nothing in its check
  can wait on I/O; the hop through the pool would cost more than the check.
  Such a decision is reused for the same image, namespace and policy for
  ``DECISION_TTL`` (one second). Anything that may need the registry or the
  store still goes through the pool and the deadline.

With a shared cache (``GATE_REDIS_URL``, ``webhook.shared_cache``), the
verification results and manifests are also looked up in and written to
Redis, behind the caches above: a digest verified by one replica is not
verified again by another. Only the pool does that I/O; the fast path reads
this process's caches alone, which a shared hit fills.
"""

from __future__ import annotations

import collections
import hashlib
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Generic, TypeVar

from cryptography.hazmat.primitives import hashes

from gate.attestations.evidence import AttestationResult, AttestationVerifier
from gate.attestations.reader import AttestationReader
from gate.binding import Binding
from gate.check import CheckOptions, Gate, default_verifiers
from gate.clock import Clock, system_clock
from gate.errors import BackendError, GateError, InputError
from gate.evidence_sources.source import (
    ScanSource,
    SourceOptions,
    build_source,
)
from gate.evidence_sources.spec import EvidenceSourceSpec
from gate.exception_source import ExceptionSource
from gate.oci.client import Platform, RegistryClient
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.policy.model import Policy
from gate.policy.verdict import CheckResult, Decision, ImageVerdict, Outcome
from gate.sbom.component import Sbom
from gate.sbom.load import load_sbom
from gate.scanners.finding import ScanReport
from gate.scanners.load import load_scan_report
from gate.signatures.cosign import CosignVerifier
from gate.signatures.evidence import AuthorityResult, SignatureVerifier
from gate.signatures.notary.server import NotaryServers
from gate.signatures.notary.verifier import NotaryVerifier
from gate.signatures.trust import TrustAuthority
from gate.store.model import EvidenceKind, VerdictStore
from gate.vex.load import load_vex
from gate.vex.model import VexDocument
from webhook.metrics import Metrics
from webhook.policy_holder import PolicyHolder
from webhook.shared_cache import SharedCache, SharedTier
from webhook.workloads import ContainerImage

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

#: How long "this digest has no valid signature" is remembered.
UNSIGNED_TTL = 5.0

#: How long a fast-path decision (every input already cached) is reused for the
#: same image, namespace and policy. Under load one image is admitted many times
#: a second; re-running the policy for each answer would add nothing but latency.
#: A time-bound input (an exception's expiry, a cache entry's end) is therefore
#: seen at most this late.
DECISION_TTL = 1.0


class TtlCache(Generic[K, V]):
    """A thread-safe LRU map whose entries expire ``ttl`` seconds after they were put."""

    def __init__(
        self, ttl: float, max_size: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._max_size = max_size
        self._clock = clock
        self._entries: collections.OrderedDict[K, tuple[float, V]] = collections.OrderedDict()
        self._lock = threading.Lock()

    @property
    def ttl(self) -> float:
        """Seconds an entry lives (unless put with a shorter one)."""
        return self._ttl

    def get(self, key: K) -> V | None:
        """The live value for ``key``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: K, value: V, ttl: float | None = None) -> None:
        """Keep ``value`` for ``ttl`` seconds (default: the cache's TTL)."""
        lifetime = self._ttl if ttl is None else min(ttl, self._ttl)
        with self._lock:
            self._entries[key] = (self._clock() + lifetime, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._entries.clear()


_VerificationKey = tuple[str, str, str, str, tuple[str, ...], str]
#: (policy digest, image as written, namespace)
_DecisionKey = tuple[str, str, str | None]


@dataclass(frozen=True)
class _FastDecision:
    """A decision of the fast path and the cache hits it was made from."""

    verdict: ImageVerdict
    error: GateError | None
    hits: tuple[str, ...]


class _NotCached(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by the cache-only components: this image needs I/O, so the pool decides it."""


class _Hits:
    """Cache hits met by one cache-only attempt, counted only when the attempt succeeds.

    An attempt that stops at a miss is repeated in the pool, which counts its
    own hits and misses; counting the attempt's hits too would count them twice.
    """

    def __init__(self) -> None:
        self.names: list[str] = []


#: (path, mtime_ns, size) -> sha256 of the content, so a file is hashed once per change.
_file_hashes: dict[tuple[str, int, int], str] = {}
_file_hashes_lock = threading.Lock()


def _file_version(path: Path | None) -> str:
    """The sha256 of ``path``'s content (empty for None or a file that cannot be read).

    The content, not the modification time: replicas mount the same file at
    different times, and a shared result must name what was trusted. The
    hash is recomputed only when the file's ``mtime_ns`` or size changes.
    """
    if path is None:
        return ""
    try:
        stat = path.stat()
        version = (str(path), stat.st_mtime_ns, stat.st_size)
        with _file_hashes_lock:
            known = _file_hashes.get(version)
        if known is not None:
            return known
        digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""
    with _file_hashes_lock:
        if len(_file_hashes) > 256:
            _file_hashes.clear()
        _file_hashes[version] = digest
    return digest


def _trust_material(kind: str, authority: TrustAuthority, image: ResolvedImage) -> tuple[str, ...]:
    """What a cached result depends on besides the digest: the trust material itself.

    Key fingerprints (a key file replaced under an unchanged policy file must
    not reuse the old key's results); for Notary also the tag, because trust
    data vouches for a tag -> digest pair, not for the digest under any tag.
    """
    if kind == "keyless" and authority.keyless is not None:
        keyless = authority.keyless
        # A trusted root file replaced under the same path must not reuse old results.
        return (keyless.signer_id, keyless.root_label, _file_version(keyless.trusted_root))
    if kind == "notation" and authority.notation is not None:
        notation = authority.notation
        # The timestamp roots change which signatures verify, but not the signer id.
        tsa = ",".join(
            sorted(c.certificate.fingerprint(hashes.SHA256()).hex() for c in notation.tsa_roots)
        )
        return (notation.signer_id, notation.verification_level.value, f"tsa={tsa}")
    if kind == "notaryV1" and authority.notary is not None:
        notary = authority.notary
        return (
            *notary.root_fingerprints,
            notary.server,
            notary.gun(image.reference),
            *notary.delegations,
            f"tag={image.reference.tag or ''}",
        )
    return tuple(sorted(k.fingerprint for k in authority.cosign_keys))


class CachingVerifier:
    """A ``SignatureVerifier`` that remembers results per (digest, authority, policy).

    ``shared`` (the replicas' shared cache) is asked after a miss here and
    told every result this process verified, for as long as it keeps it.
    """

    def __init__(
        self,
        inner: SignatureVerifier,
        kind: str,
        cache: TtlCache[_VerificationKey, AuthorityResult],
        policy_digest: str,
        metrics: Metrics,
        *,
        cache_only: _Hits | None = None,
        shared: SharedTier[_VerificationKey, AuthorityResult] | None = None,
    ) -> None:
        self._inner = inner
        self._kind = kind
        self._cache = cache
        self._policy_digest = policy_digest
        self._metrics = metrics
        self._cache_only = cache_only
        self._shared = shared

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """The cached result for this digest and authority, or a fresh verification."""
        key: _VerificationKey = (
            self._kind,
            image.reference.name,
            str(image.digest),
            authority.name,
            _trust_material(self._kind, authority, image),
            self._policy_digest,
        )
        cached = self._cache.get(key)
        if self._cache_only is not None:
            if cached is None:
                raise _NotCached(key)
            self._cache_only.names.append("signature")
            return cached
        if cached is not None:
            self._metrics.cache_hit("signature").inc()
            return cached
        if self._shared is not None:
            found = self._shared.get(key)
            if found is not None:
                shared_result, left = found
                self._cache.put(key, shared_result, ttl=left)
                self._metrics.cache_hit("signature").inc()
                return shared_result
        self._metrics.cache_miss("signature").inc()
        result = self._inner.verify(image, authority)
        if result.error is not None:
            self._metrics.registry_errors.inc()
            return result
        ttl = self._cache.ttl if result.satisfied else min(UNSIGNED_TTL, self._cache.ttl)
        self._cache.put(key, result, ttl=ttl)
        if self._shared is not None:
            self._shared.put(key, result, ttl)
        return result


_AttestationKey = tuple[str, str, str, tuple[str, ...], str]


def _attestation_material(authority: TrustAuthority, image: ResolvedImage) -> tuple[str, ...]:
    """What a cached attestation result depends on: the keys and the keyless identity."""
    material = _trust_material("cosign", authority, image)
    if authority.keyless is not None:
        material += _trust_material("keyless", authority, image)
    return material


class CachingAttestations:
    """An ``AttestationVerifier`` that remembers results per (digest, authority, policy)."""

    def __init__(
        self,
        inner: AttestationVerifier,
        cache: TtlCache[_AttestationKey, AttestationResult],
        policy_digest: str,
        metrics: Metrics,
        *,
        cache_only: _Hits | None = None,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._policy_digest = policy_digest
        self._metrics = metrics
        self._cache_only = cache_only

    def read(self, image: ResolvedImage, authority: TrustAuthority) -> AttestationResult:
        """The cached result for this digest and authority, or a fresh read."""
        key: _AttestationKey = (
            image.reference.name,
            str(image.digest),
            authority.name,
            _attestation_material(authority, image),
            self._policy_digest,
        )
        cached = self._cache.get(key)
        if self._cache_only is not None:
            if cached is None:
                raise _NotCached(key)
            self._cache_only.names.append("attestation")
            return cached
        if cached is not None:
            self._metrics.cache_hit("attestation").inc()
            return cached
        self._metrics.cache_miss("attestation").inc()
        result = self._inner.read(image, authority)
        if result.error is not None:
            self._metrics.registry_errors.inc()
        elif result.attestations:
            self._cache.put(key, result)
        else:
            self._cache.put(key, result, ttl=UNSIGNED_TTL)
        return result


class CachedResolver:
    """Pins references to digests: a HEAD for a tag, a manifest GET only for a new digest.

    ``shared`` (the replicas' shared cache) holds manifests by digest too;
    tag answers are never shared.
    """

    def __init__(
        self,
        registry: RegistryClient,
        cache: TtlCache[tuple[str, str], ResolvedImage],
        metrics: Metrics,
        *,
        tags: TtlCache[tuple[str, str], Digest] | None = None,
        shared: SharedTier[tuple[str, str], ResolvedImage] | None = None,
    ) -> None:
        self._registry = registry
        self._cache = cache
        self._metrics = metrics
        self._tags = tags
        self._shared = shared

    def _keep(self, key: tuple[str, str], resolved: ResolvedImage) -> None:
        """Cache a manifest fetched from the registry, here and in the shared cache."""
        self._cache.put(key, resolved)
        if self._shared is not None:
            self._shared.put(key, resolved, self._cache.ttl)

    def __call__(self, reference: ImageReference, platform: Platform | None) -> ResolvedImage:
        """The resolved image for ``reference`` (``gate.check.ImageResolver``)."""
        try:
            return self._resolve(reference, platform)
        except BackendError:
            self._metrics.registry_errors.inc()
            raise

    def _resolve(self, reference: ImageReference, platform: Platform | None) -> ResolvedImage:
        if platform is not None:
            return self._registry.resolve(reference, platform)
        digest = reference.digest
        if digest is None:
            tag_key = (reference.name, reference.tag or "latest")
            digest = None if self._tags is None else self._tags.get(tag_key)
            if digest is None:
                digest = self._registry.head_digest(reference)
            if digest is None:
                # No Docker-Content-Digest: resolve the tag with a GET, then cache by digest.
                self._metrics.cache_miss("manifest").inc()
                resolved = self._registry.resolve(reference)
                self._keep((reference.name, str(resolved.digest)), resolved)
                if self._tags is not None:
                    self._tags.put(tag_key, resolved.digest)
                return resolved
            if self._tags is not None:
                self._tags.put(tag_key, digest)
        key = (reference.name, str(digest))
        pinned = reference.with_digest(digest)
        cached = self._cache.get(key)
        if cached is not None:
            self._metrics.cache_hit("manifest").inc()
            return replace(cached, reference=pinned)
        if self._shared is not None:
            found = self._shared.get(key)
            if found is not None:
                shared_image, left = found
                self._cache.put(key, shared_image, ttl=left)
                self._metrics.cache_hit("manifest").inc()
                return replace(shared_image, reference=pinned)
        self._metrics.cache_miss("manifest").inc()
        resolved = self._registry.resolve(pinned)
        self._keep(key, resolved)
        return resolved


class _CacheOnlyResolver:
    """``CachedResolver`` without I/O: a digest (given, or a tag's from the tag cache) whose
    manifest is cached. A tag whose HEAD answer has expired needs the registry again.
    """

    def __init__(
        self,
        cache: TtlCache[tuple[str, str], ResolvedImage],
        hits: _Hits,
        *,
        tags: TtlCache[tuple[str, str], Digest] | None = None,
    ) -> None:
        self._cache = cache
        self._hits = hits
        self._tags = tags

    def __call__(self, reference: ImageReference, platform: Platform | None) -> ResolvedImage:
        if platform is not None:
            raise _NotCached(str(reference))
        digest = reference.digest
        if digest is None and self._tags is not None:
            digest = self._tags.get((reference.name, reference.tag or "latest"))
            if digest is not None:
                reference = reference.with_digest(digest)
        if digest is None:
            raise _NotCached(str(reference))
        cached = self._cache.get((reference.name, str(digest)))
        if cached is None:
            raise _NotCached(str(reference))
        self._hits.names.append("manifest")
        return cached if cached.reference == reference else replace(cached, reference=reference)


def _no_stored_evidence(reference: ImageReference, digests: Sequence[Digest]) -> Binding:
    """The cache-only path's evidence provider: reading the store is I/O, so the pool does it."""
    raise _NotCached(str(reference))


class StoreEvidence:
    """Scan reports and SBOMs pushed to the verdict store, bound to the digest they were pushed for.

    The newest document of each kind for each digest is used, as ``gate
    check --scan/--sbom`` would use the files given to it. A document that
    itself names other digests is not bound (it describes another build).
    Parsed documents are kept by evidence id: a stored document never changes.
    """

    def __init__(self, store: VerdictStore, cache: TtlCache[str, ScanReport | Sbom]) -> None:
        self._store = store
        self._cache = cache
        self._vex_cache: TtlCache[str, VexDocument] = TtlCache(cache.ttl, 256)

    def __call__(self, reference: ImageReference, digests: Sequence[Digest]) -> Binding:
        """The stored evidence for ``digests`` (``gate.check.EvidenceProvider``)."""
        scans: list[ScanReport] = []
        sboms: list[Sbom] = []
        notes: list[str] = []
        vex: list[VexDocument] = []
        for digest in digests:
            vex.extend(self._stored_vex(digest, notes))
            for kind in (EvidenceKind.SCAN, EvidenceKind.SBOM):
                try:
                    stored = self._store.latest_evidence(str(digest), kind)
                except GateError as exc:
                    raise BackendError(
                        f"could not read stored {kind.value} evidence: {exc}"
                    ) from exc
                if stored is None:
                    continue
                source = f"{stored.name} (stored {kind.value} {stored.id})"
                document = self._cache.get(stored.id)
                if document is None:
                    try:
                        document = (
                            load_scan_report(stored.data, source)
                            if kind is EvidenceKind.SCAN
                            else load_sbom(stored.data, source)
                        )
                    except InputError as exc:
                        notes.append(f"{source}: not readable, not used: {exc}")
                        continue
                    self._cache.put(stored.id, document)
                if isinstance(document, ScanReport):
                    named = document.artifact_digests
                else:
                    named = document.subject_digests
                if named and digest not in named:
                    notes.append(
                        f"{source}: pushed for {digest} but describes "
                        f"{', '.join(sorted(map(str, named)))}; not bound"
                    )
                    continue
                notes.append(f"{source}: pushed for {digest}; bound to it")
                if isinstance(document, ScanReport):
                    scans.append(document)
                else:
                    sboms.append(document)
        return Binding(scans=tuple(scans), sboms=tuple(sboms), notes=tuple(notes), vex=tuple(vex))

    def _stored_vex(self, digest: Digest, notes: list[str]) -> list[VexDocument]:
        """Every VEX document pushed for ``digest`` (all of them count, newest statement wins)."""
        try:
            stored = self._store.evidence_for(str(digest), EvidenceKind.VEX)
        except GateError as exc:
            raise BackendError(f"could not read stored vex evidence: {exc}") from exc
        documents: list[VexDocument] = []
        for item in stored:
            source = f"{item.name} (stored vex {item.id})"
            cached = self._vex_cache.get(item.id)
            if cached is None:
                try:
                    cached = load_vex(item.data, source)
                except InputError as exc:
                    notes.append(f"{source}: not readable, not used: {exc}")
                    continue
                self._vex_cache.put(item.id, cached)
            documents.append(cached)
        return documents


@dataclass(frozen=True)
class _SourceAnswer:
    """One evidence source's answer as cached: a report, or None for "none held"."""

    report: ScanReport | None


class CachedScanSource:
    """A ``ScanSource`` whose answers are kept per (source, repository, digest).

    A report is kept for the cache TTL; "no report" only for ``UNSIGNED_TTL``
    (the artifact may be scanned any moment); an error is never kept.
    """

    def __init__(
        self,
        inner: ScanSource,
        cache: TtlCache[tuple[str, str, str], _SourceAnswer],
        metrics: Metrics,
    ) -> None:
        self._inner = inner
        self._cache = cache
        self._metrics = metrics

    @property
    def label(self) -> str:
        """The wrapped source's label."""
        return self._inner.label

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        """The cached answer for this digest, or a fresh one from the source."""
        key = (self._inner.label, image.name, str(digest))
        cached = self._cache.get(key)
        if cached is not None:
            self._metrics.cache_hit("evidence_source").inc()
            return cached.report
        self._metrics.cache_miss("evidence_source").inc()
        report = self._inner.fetch(image, digest)
        self._cache.put(key, _SourceAnswer(report), None if report is not None else UNSIGNED_TTL)
        return report

    def close(self) -> None:
        """Close the wrapped source."""
        self._inner.close()


@dataclass(frozen=True)
class ImageOutcome:
    """The verdict for one distinct image of a request, and whether it was really decided."""

    image: str
    containers: tuple[ContainerImage, ...]
    verdict: ImageVerdict
    decided: bool
    duration_ms: float


class AdmissionChecker:
    """Decides the images of admission requests with the current policy, within a deadline."""

    def __init__(
        self,
        holder: PolicyHolder,
        registry: RegistryClient,
        store: VerdictStore,
        metrics: Metrics,
        *,
        deadline: float,
        cache_ttl: float,
        cache_size: int,
        tag_cache_ttl: float = 0.0,
        threads: int,
        clock: Clock = system_clock,
        shared_cache: SharedCache | None = None,
        exceptions: ExceptionSource | None = None,
    ) -> None:
        self._holder = holder
        self._exceptions = exceptions  # stored exceptions, cached by their source
        # Owned: closed with the checker. Unused when nothing is cached (cache_ttl 0).
        self._shared = shared_cache if cache_ttl > 0 else None
        self._shared_owned = shared_cache
        self._registry = registry
        self._metrics = metrics
        self._deadline = deadline
        self._clock = clock
        self._signatures: TtlCache[_VerificationKey, AuthorityResult] = TtlCache(
            cache_ttl, cache_size
        )
        self._manifests: TtlCache[tuple[str, str], ResolvedImage] = TtlCache(cache_ttl, cache_size)
        self._tags: TtlCache[tuple[str, str], Digest] = TtlCache(
            min(tag_cache_ttl, cache_ttl), cache_size
        )
        self._documents: TtlCache[str, ScanReport | Sbom] = TtlCache(cache_ttl, 256)
        self._attestation_results: TtlCache[_AttestationKey, AttestationResult] = TtlCache(
            cache_ttl, cache_size
        )
        self._attestations = AttestationReader(
            registry,
            clock=clock,
            cache_size=cache_size,
            cache_ttl=cache_ttl,
            failure_ttl=UNSIGNED_TTL,
        )
        self._cosign = CosignVerifier(
            registry, cache_size=cache_size, cache_ttl=cache_ttl, failure_ttl=UNSIGNED_TTL
        )
        options = registry.options
        self._notary_servers = NotaryServers(
            cert_dirs=registry.cert_dirs,
            timeout=options.timeout,
            deadline=options.deadline,
            user_agent=options.user_agent,
        )
        self._notary = NotaryVerifier(
            self._notary_servers, clock=clock, cache_trust_data=cache_ttl > 0
        )
        self._inner: dict[str, SignatureVerifier] = {
            **default_verifiers(registry, clock),
            "cosign": self._cosign,
            "notaryV1": self._notary,
        }
        self._resolver = CachedResolver(
            registry,
            self._manifests,
            metrics,
            tags=self._tags,
            shared=None if self._shared is None else self._shared.manifests,
        )
        self._evidence = StoreEvidence(store, self._documents)
        self._source_answers: TtlCache[tuple[str, str, str], _SourceAnswer] = TtlCache(
            cache_ttl, cache_size
        )
        # One client per policy entry, kept across requests and policy reloads.
        self._sources: dict[EvidenceSourceSpec, ScanSource] = {}
        self._sources_lock = threading.Lock()
        self._decisions: TtlCache[_DecisionKey, _FastDecision] = TtlCache(
            min(DECISION_TTL, cache_ttl), cache_size
        )
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    @property
    def deadline(self) -> float:
        """Seconds an admission answer may take."""
        return self._deadline

    @property
    def shared_cache(self) -> SharedCache | None:
        """The cache shared with the other replicas (Redis), if one is configured."""
        return self._shared

    @property
    def stored_evidence(self) -> StoreEvidence:
        """The reader of evidence stored for a digest (re-checks and previews use it too)."""
        return self._evidence

    def cached_signature(
        self, image: ResolvedImage, authority: TrustAuthority
    ) -> AuthorityResult | None:
        """``authority``'s result for ``image`` from this process's verification cache, or None.

        Looked up under the policy in force (its digest is part of the key) and
        the authority's trust material, so a hit was verified against the same
        keys; every kind of the authority must be cached. No I/O.
        """
        policy_digest = str(self._holder.policy.digest)
        results: list[AuthorityResult] = []
        for kind in authority.kinds:
            key: _VerificationKey = (
                kind,
                image.reference.name,
                str(image.digest),
                authority.name,
                _trust_material(kind, authority, image),
                policy_digest,
            )
            found = self._signatures.get(key)
            if found is None:
                return None
            results.append(found)
        if not results:
            return None
        errors = [r.error for r in results if r.error]
        return AuthorityResult(
            authority=authority.name,
            signatures=tuple(s for r in results for s in r.signatures),
            rejections=tuple(x for r in results for x in r.rejections),
            notes=(*(x for r in results for x in r.notes), "signature result from the cache"),
            error="; ".join(errors) if errors else None,
        )

    def _executor(self) -> ThreadPoolExecutor:
        # Made on first use: a pool made before gunicorn forks has no threads in the worker.
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    max_workers=self._threads, thread_name_prefix="gate-check"
                )
            return self._pool

    def gate(self) -> Gate:
        """A ``Gate`` over the policy in force, the shared caches and the stored evidence."""
        policy = self._holder.policy
        return Gate(
            policy,
            self._registry,
            clock=self._clock,
            verifiers=self._verifiers(str(policy.digest), None),
            resolver=self._resolver,
            evidence=self._evidence,
            sources=self._sources_of(policy),
            attestations=self._attestation_reader(str(policy.digest), None),
            exceptions=self._exceptions,
        )

    def _sources_of(self, policy: Policy) -> tuple[ScanSource, ...]:
        """The policy's evidence sources, each behind the answer cache."""
        sources: list[ScanSource] = []
        with self._sources_lock:
            for spec in policy.evidence_sources:
                source = self._sources.get(spec)
                if source is None:
                    options = SourceOptions.from_registry(self._registry)
                    inner = build_source(spec, options, self._clock)
                    source = CachedScanSource(inner, self._source_answers, self._metrics)
                    self._sources[spec] = source
                sources.append(source)
        return tuple(sources)

    def _verifiers(self, policy_digest: str, hits: _Hits | None) -> dict[str, SignatureVerifier]:
        """Each signature kind behind the verification cache (cache-only when ``hits`` is set).

        Only the pool's verifiers ask the shared cache: the cache-only ones run
        in the request thread, which must not wait on Redis either.
        """
        shared = None if self._shared is None or hits is not None else self._shared.signatures
        return {
            kind: CachingVerifier(
                verifier,
                kind,
                self._signatures,
                policy_digest,
                self._metrics,
                cache_only=hits,
                shared=shared,
            )
            for kind, verifier in self._inner.items()
        }

    def _attestation_reader(self, policy_digest: str, hits: _Hits | None) -> CachingAttestations:
        """The attestation reader behind its cache (cache-only when ``hits`` is set)."""
        return CachingAttestations(
            self._attestations,
            self._attestation_results,
            policy_digest,
            self._metrics,
            cache_only=hits,
        )

    def _cache_only_gate(self, gate: Gate, hits: _Hits) -> Gate:
        """A ``Gate`` over ``gate``'s policy that raises ``_NotCached`` instead of doing I/O."""
        policy = gate.policy
        return Gate(
            policy,
            self._registry,
            clock=self._clock,
            verifiers=self._verifiers(str(policy.digest), hits),
            resolver=_CacheOnlyResolver(self._manifests, hits, tags=self._tags),
            evidence=_no_stored_evidence,
            # A rule that reads scans stops at the stored evidence above (I/O: the pool).
            sources=(),
            attestations=self._attestation_reader(str(policy.digest), hits),
        )

    def check(
        self,
        gate: Gate,
        images: Sequence[ContainerImage],
        namespace: str | None,
        started: float,
    ) -> tuple[ImageOutcome, ...]:
        """One outcome per distinct image, each decided or denied by ``started + deadline``.

        ``gate`` comes from ``self.gate()`` (so the caller knows which policy
        decided); ``started`` is the request's arrival on the ``time.monotonic``
        clock; a small margin is kept for writing the answer. Images that
        need no I/O are decided in the calling thread; the others in the pool.
        """
        now = self._clock()
        options = CheckOptions(namespace=namespace)
        by_image: dict[str, list[ContainerImage]] = {}
        for container in images:
            by_image.setdefault(container.image, []).append(container)
        margin = min(0.5, self._deadline * 0.05)
        ends = started + self._deadline - margin
        done: dict[str, ImageOutcome] = {}
        if time.monotonic() < ends:
            policy_digest = str(gate.policy.digest)
            hits = _Hits()
            cached_gate: Gate | None = None
            for text, containers in by_image.items():
                key: _DecisionKey = (policy_digest, text, namespace)
                fast = self._decisions.get(key)
                if fast is None:
                    if cached_gate is None:
                        cached_gate = self._cache_only_gate(gate, hits)
                    hits.names.clear()
                    try:
                        verdict, error = cached_gate.check_image(text, options, now)
                    except _NotCached:
                        continue
                    except Exception as exc:
                        # A bug must deny the image, as it does in the pool.
                        done[text] = self._internal_error(
                            gate, text, containers, namespace, exc=exc, started=started
                        )
                        continue
                    fast = _FastDecision(verdict, error, tuple(hits.names))
                    self._decisions.put(key, fast)
                for name in fast.hits:
                    self._metrics.cache_hit(name).inc()
                elapsed = (time.monotonic() - started) * 1000
                done[text] = self._outcome(text, containers, fast.verdict, fast.error, elapsed)
        if len(done) < len(by_image):
            pool = self._executor()
            futures: dict[str, Future[tuple[ImageVerdict, GateError | None, float]]] = {
                text: pool.submit(self._check_one, gate, text, options, now, started)
                for text in by_image
                if text not in done
            }
            wait(futures.values(), timeout=max(ends - time.monotonic(), 0.0))
            for text, future in futures.items():
                waiting = tuple(by_image[text])
                if not future.done():
                    future.cancel()
                    self._metrics.deadline_exceeded.inc()
                    reason = f"could not verify {text} in time (deadline {self._deadline:g}s)"
                    verdict = ImageVerdict(
                        reference=text,
                        digest=None,
                        decision=Decision.DENY,
                        rule=None,
                        reason=reason,
                        checks=(CheckResult("deadline", Outcome.ERROR, reason),),
                        mode=gate.policy.mode.value,
                        namespace=namespace,
                    )
                    elapsed = (time.monotonic() - started) * 1000
                    done[text] = ImageOutcome(text, waiting, verdict, False, elapsed)
                    continue
                failure = future.exception()
                if failure is not None:
                    done[text] = self._internal_error(
                        gate, text, waiting, namespace, exc=failure, started=started
                    )
                    continue
                verdict, error, elapsed = future.result()
                done[text] = self._outcome(text, waiting, verdict, error, elapsed)
        return tuple(done[text] for text in by_image)

    @staticmethod
    def _outcome(
        text: str,
        containers: Sequence[ContainerImage],
        verdict: ImageVerdict,
        error: GateError | None,
        elapsed: float,
    ) -> ImageOutcome:
        decided = error is None and not any(c.outcome is Outcome.ERROR for c in verdict.checks)
        return ImageOutcome(text, tuple(containers), verdict, decided, elapsed)

    @staticmethod
    def _internal_error(
        gate: Gate,
        text: str,
        containers: Sequence[ContainerImage],
        namespace: str | None,
        *,
        exc: BaseException,
        started: float,
    ) -> ImageOutcome:
        reason = f"could not decide, denied: internal error checking {text}: {exc}"
        verdict = ImageVerdict(
            reference=text,
            digest=None,
            decision=Decision.DENY,
            rule=None,
            reason=reason,
            checks=(CheckResult("internal", Outcome.ERROR, reason),),
            mode=gate.policy.mode.value,
            namespace=namespace,
        )
        elapsed = (time.monotonic() - started) * 1000
        return ImageOutcome(text, tuple(containers), verdict, False, elapsed)

    def _check_one(
        self, gate: Gate, text: str, options: CheckOptions, now: datetime, started: float
    ) -> tuple[ImageVerdict, GateError | None, float]:
        if time.monotonic() - started > self._deadline:
            # Queued behind other checks past the deadline: the answer is already sent.
            raise TimeoutError("deadline passed before the check started")
        verdict, error = gate.check_image(text, options, now)
        return verdict, error, (time.monotonic() - started) * 1000

    def close(self) -> None:
        """Stop the thread pool (running checks finish in the background); close connections."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
        self._notary_servers.close()
        with self._sources_lock:
            sources = list(self._sources.values())
            self._sources.clear()
        for source in sources:
            source.close()
        if self._shared_owned is not None:
            self._shared_owned.close()
