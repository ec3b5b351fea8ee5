"""Keyless signatures of an image: discovery in the registry, then verification per authority.

Two places hold keyless signatures of image digest ``sha256:<hex>``:

1. the cosign ``.sig`` tag ``sha256-<hex>.sig`` (the legacy form): each
   layer with a ``dev.sigstore.cosign/certificate`` annotation is one keyless
   signature over its simple signing payload (``legacy.py``);
2. Sigstore bundles attached as OCI referrers (cosign v3
   ``--new-bundle-format``): a manifest whose ``subject`` is the image, whose
   artifact type is a bundle media type and whose single layer is the bundle.
   A cosign v3 signature is a DSSE in-toto statement with predicate type
   ``https://sigstore.dev/cosign/sign/v1`` and the image digest as subject;
   a message-signature bundle must be over the image manifest itself
   (``bundle.py``).

Everything found is fetched once per image digest and reused for every
authority (the cryptographic result too, for the same trusted root); what
depends on the authority - the identity - is matched last. Every signature
object that does not count is reported with a sentence; attestations of
other predicate types are noted and not counted; registry failures become
``AuthorityResult.error`` (fail closed). Nothing raises for a bad signature.
"""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from gate.clock import Clock, system_clock
from gate.errors import BackendError, GateError
from gate.oci.digest import Digest
from gate.oci.fetch_cache import FetchCache
from gate.oci.reference import ImageReference
from gate.oci.referrers import Referrer, ReferrerSource, list_referrers, referrer_manifest
from gate.oci.source import ManifestSource, ResolvedImage
from gate.signatures.cosign import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    MAX_PAYLOAD_SIZE,
    RFC3161_TIMESTAMP_ANNOTATION,
    SIGNATURE_ANNOTATION,
    SIGNATURE_MANIFEST_MEDIA_TYPES,
    SIMPLESIGNING_MEDIA_TYPE,
    read_signature_layers,
    signature_tag,
)
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.keyless.authority import KeylessTrust
from gate.signatures.keyless.bundle import check_bundle
from gate.signatures.keyless.legacy import CertificateIdentity, verify_legacy_signature
from gate.signatures.keyless.trusted_root import (
    KeylessVerificationError,
    SigstoreTrustRoot,
    load_trusted_root,
)
from gate.signatures.simplesigning import parse_payload, reference_matches
from gate.signatures.trust import TrustAuthority

KIND = "keyless"
#: Referrer artifact types of Sigstore bundles: any version is a candidate (unknown ones refused).
BUNDLE_ARTIFACT_PREFIX = "application/vnd.dev.sigstore.bundle"
#: What a cosign v3 image signature states (its predicate is empty).
COSIGN_SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
#: The unsigned hint cosign puts on bundle referrers; used to skip attestations unfetched.
PREDICATE_TYPE_ANNOTATION = "dev.sigstore.bundle.predicateType"
OCI_EMPTY_MEDIA_TYPE = "application/vnd.oci.empty.v1+json"
#: A signature bundle is a few kilobytes.
MAX_BUNDLE_BLOB = 4 << 20
#: At most this many bundle referrers are fetched per image (more is an attack or a mistake).
MAX_BUNDLE_REFERRERS = 64


class KeylessSource(ManifestSource, ReferrerSource, Protocol):
    """A registry that serves manifests, blobs and referrers (``RegistryClient`` does)."""


@dataclass(frozen=True)
class _Candidate:
    """One signature object found for an image, fetched; ``problem`` if it can never count."""

    label: str
    problem: str | None = None
    notes: tuple[str, ...] = ()
    # legacy .sig layer
    payload: bytes = b""
    signature: bytes = b""
    certificate: str = ""
    chain: str | None = None
    rekor_bundle: str | None = None
    # Sigstore bundle referrer
    bundle: bytes | None = None


@dataclass(frozen=True)
class _Outcome:
    """The authority-independent result of verifying one candidate: who signed, or why not."""

    identity: CertificateIdentity | None = None
    rejection: str | None = None
    notes: tuple[str, ...] = ()


@dataclass
class _Found:
    """Everything discovered for one image digest, shared by all authorities."""

    candidates: tuple[_Candidate, ...] = ()
    notes: tuple[str, ...] = ()
    error: str | None = None
    # (candidate, trusted root, require_tlog) -> result; roots compare by identity.
    outcomes: dict[tuple[int, SigstoreTrustRoot, bool], _Outcome] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _decode_signature(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True) or None
    except (binascii.Error, ValueError):
        return None


def _layer_label(number: int, digest: Digest | None) -> str:
    if digest is None:
        return f"keyless signature layer {number}"
    return f"keyless signature layer {number} ({digest.algorithm}:{digest.hex[:12]}..)"


class KeylessVerifier:
    """Keyless Sigstore verification over the registry interface (a ``SignatureVerifier``).

    ``clock`` gives the one "now" of each verification (used only where a
    signature has no signing time of its own: ``requireTlog: false``).
    ``signature_repository`` is where ``.sig`` tags live when not next to the
    image (cosign's ``COSIGN_REPOSITORY``); referrers are always looked up
    in the image's repository. Discoveries are cached like the cosign
    verifier's: ``cache_ttl`` seconds, ``failure_ttl`` after nothing was
    found or the registry failed, at most ``cache_size`` digests.
    """

    def __init__(
        self,
        source: KeylessSource,
        *,
        clock: Clock = system_clock,
        signature_repository: ImageReference | None = None,
        cache_size: int = 256,
        cache_ttl: float = 60.0,
        failure_ttl: float = 5.0,
    ) -> None:
        self._source = source
        self._clock = clock
        self._signature_repository = signature_repository
        self._fetched: FetchCache[_Found] = FetchCache(
            size=cache_size, ttl=cache_ttl, failure_ttl=failure_ttl
        )

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """Check ``image.digest`` against ``authority``'s keyless identity.

        Returns who signed, and one sentence for every signature that did not count.
        """
        name = authority.name
        trust = authority.keyless
        if trust is None:
            return AuthorityResult(name, error=f"authority '{name}' has no keyless identity")
        try:
            root = load_trusted_root(trust.trusted_root)
        except GateError as exc:
            return AuthorityResult(name, error=f"trusted root unusable: {exc}")
        found = self._discover(image)
        if found.error is not None:
            return AuthorityResult(name, error=found.error, notes=found.notes)
        if not found.candidates:
            tag = signature_tag(image.digest)
            return AuthorityResult(
                name,
                rejections=(f"no keyless signatures found ({tag}, Sigstore bundle referrers)",),
                notes=found.notes,
            )
        now = self._clock()
        verified: list[VerifiedSignature] = []
        rejections: list[str] = []
        notes: list[str] = list(found.notes)
        for index, candidate in enumerate(found.candidates):
            if candidate.problem is not None:
                rejections.append(f"{candidate.label}: {candidate.problem}")
                continue
            outcome = self._outcome(
                found, index=index, image=image, root=root, trust=trust, now=now
            )
            notes.extend(
                f"{candidate.label}: {note}" for note in (*candidate.notes, *outcome.notes)
            )
            if outcome.rejection is not None or outcome.identity is None:
                rejections.append(f"{candidate.label}: {outcome.rejection or 'not verified'}")
                continue
            identity = outcome.identity
            if not trust.matches(identity.subject, identity.issuer):
                rejections.append(
                    f"{candidate.label}: signed by {identity.label}, not by the trusted identity "
                    f"{trust.subject} ({trust.issuer}) of authority '{name}'"
                )
                continue
            verified.append(
                VerifiedSignature(
                    authority=name,
                    kind=KIND,
                    signer=trust.signer_id,
                    signer_label=identity.label,
                    digest=image.digest,
                )
            )
        return AuthorityResult(
            name, signatures=tuple(verified), rejections=tuple(rejections), notes=tuple(notes)
        )

    def clear_cache(self) -> None:
        """Forget everything fetched and verified (e.g. after a policy reload)."""
        self._fetched.clear()

    # -- verification --------------------------------------------------------------------

    def _outcome(
        self,
        found: _Found,
        *,
        index: int,
        image: ResolvedImage,
        root: SigstoreTrustRoot,
        trust: KeylessTrust,
        now: datetime,
    ) -> _Outcome:
        # Without a required log entry the result may depend on "now": not memoised then.
        memo = (index, root, trust.require_tlog)
        if trust.require_tlog:
            with found.lock:
                cached = found.outcomes.get(memo)
            if cached is not None:
                return cached
        outcome = _verify_candidate(found.candidates[index], image, root, trust.require_tlog, now)
        if trust.require_tlog:
            with found.lock:
                found.outcomes[memo] = outcome
        return outcome

    # -- discovery -----------------------------------------------------------------------

    def _discover(self, image: ResolvedImage) -> _Found:
        return self._fetched.get(
            (image.reference.name, image.digest),
            lambda: self._fetch(image),
            lambda found: found.error is not None or not found.candidates,
        )

    def _fetch(self, image: ResolvedImage) -> _Found:
        repository = ImageReference(
            registry=image.reference.registry, repository=image.reference.repository
        )
        signatures = self._signature_repository or repository
        try:
            legacy = self._legacy_candidates(signatures, image.digest)
            bundles, notes = self._bundle_candidates(repository, image.digest)
        except BackendError as exc:
            return _Found(error=f"could not fetch keyless signatures of {image.digest}: {exc}")
        return _Found(candidates=(*legacy, *bundles), notes=tuple(notes))

    def _legacy_candidates(self, repository: ImageReference, digest: Digest) -> list[_Candidate]:
        tag = signature_tag(digest)
        try:
            fetched = self._source.fetch_manifest(repository, tag)
        except BackendError:
            raise
        except GateError as exc:
            return [_Candidate(f"signature manifest {tag}", problem=f"unusable: {exc}")]
        if fetched is None:
            return []
        if fetched.media_type not in SIGNATURE_MANIFEST_MEDIA_TYPES:
            return [
                _Candidate(
                    f"signature manifest {tag}",
                    problem=f"served as {fetched.media_type!r}, not an image manifest",
                )
            ]
        layers = read_signature_layers(fetched.data)
        if isinstance(layers, str):
            return [_Candidate(f"signature manifest {tag}", problem=f"rejected: {layers}")]
        candidates: list[_Candidate] = []
        payloads: dict[Digest, bytes | str] = {}
        for number, raw in enumerate(layers, 1):
            candidates.append(self._legacy_layer(repository, number, raw, payloads))
        return candidates

    def _legacy_layer(
        self,
        repository: ImageReference,
        number: int,
        raw: object,
        payloads: dict[Digest, bytes | str],
    ) -> _Candidate:
        """One ``.sig`` layer as a keyless candidate (with a ``problem`` if it cannot be one)."""
        if not isinstance(raw, dict):
            return _Candidate(
                _layer_label(number, None), problem="layer descriptor is not an object"
            )
        try:
            digest: Digest | None = Digest.parse(str(raw.get("digest")))
        except GateError:
            digest = None
        label = _layer_label(number, digest)
        annotations = raw.get("annotations")
        if not isinstance(annotations, dict) or CERTIFICATE_ANNOTATION not in annotations:
            # Counted by the cosign verifier for key authorities; reported here, never ignored.
            return _Candidate(
                label.replace("keyless signature", "signature"),
                problem="has no signing certificate: a key-based cosign signature, not keyless",
            )
        if not all(isinstance(v, str) for v in annotations.values()):
            return _Candidate(label, problem="has an annotation that is not a string")
        if digest is None:
            return _Candidate(label, problem="layer descriptor has no valid digest")
        if raw.get("mediaType") != SIMPLESIGNING_MEDIA_TYPE:
            return _Candidate(
                label,
                problem=f"layer media type {raw.get('mediaType')!r} is not a cosign signature",
            )
        signature = _decode_signature(annotations.get(SIGNATURE_ANNOTATION, ""))
        if signature is None:
            return _Candidate(label, problem=f"{SIGNATURE_ANNOTATION} is missing or not base64")
        size = raw.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_PAYLOAD_SIZE:
            return _Candidate(label, problem=f"payload size {size!r} is invalid or too large")
        payload = payloads.get(digest)
        if payload is None:
            try:
                payload = self._source.fetch_blob(repository, digest, size)
            except BackendError:
                raise
            except GateError as exc:
                payload = f"payload blob could not be used: {exc}"
            else:
                if not digest.matches(payload) or len(payload) != size:
                    payload = "payload blob does not match its descriptor (digest or size)"
            payloads[digest] = payload
        if isinstance(payload, str):
            return _Candidate(label, problem=payload)
        notes: tuple[str, ...] = ()
        if RFC3161_TIMESTAMP_ANNOTATION in annotations:
            notes = (
                f"carries an RFC 3161 timestamp ({RFC3161_TIMESTAMP_ANNOTATION}) that was not "
                "used; the signing time comes from the Rekor entry",
            )
        return _Candidate(
            label,
            notes=notes,
            payload=payload,
            signature=signature,
            certificate=annotations[CERTIFICATE_ANNOTATION],
            chain=annotations.get(CHAIN_ANNOTATION),
            rekor_bundle=annotations.get(BUNDLE_ANNOTATION),
        )

    def _bundle_candidates(
        self, repository: ImageReference, digest: Digest
    ) -> tuple[list[_Candidate], list[str]]:
        listing = list_referrers(self._source, repository, digest)
        referrers = [
            r
            for r in listing.referrers
            if (r.artifact_type or "").startswith(BUNDLE_ARTIFACT_PREFIX)
        ]
        notes: list[str] = []
        candidates: list[_Candidate] = []
        for referrer in referrers:
            label = (
                f"Sigstore bundle referrer {referrer.digest.algorithm}:{referrer.digest.hex[:12]}.."
            )
            hint = referrer.annotations.get(PREDICATE_TYPE_ANNOTATION)
            if hint is not None and hint != COSIGN_SIGN_PREDICATE:
                notes.append(
                    f"{label}: an attestation ({hint}), not a signature; not counted as one"
                )
                continue
            if len(candidates) >= MAX_BUNDLE_REFERRERS:
                notes.append(f"more than {MAX_BUNDLE_REFERRERS} bundle referrers; the rest ignored")
                break
            candidates.append(self._bundle_referrer(repository, digest, referrer, label))
        return candidates, notes

    def _bundle_referrer(
        self, repository: ImageReference, subject: Digest, referrer: Referrer, label: str
    ) -> _Candidate:
        try:
            fetched = self._source.fetch_manifest(repository, str(referrer.digest))
        except BackendError:
            raise
        except GateError as exc:
            return _Candidate(label, problem=f"manifest unusable: {exc}")
        if fetched is None:
            return _Candidate(label, problem="listed as a referrer, but its manifest is missing")
        layer = _bundle_layer(fetched.data, subject)
        if isinstance(layer, str):
            return _Candidate(label, problem=layer)
        layer_digest, size = layer
        try:
            data = self._source.fetch_blob(repository, layer_digest, size)
        except BackendError:
            raise
        except GateError as exc:
            return _Candidate(label, problem=f"bundle blob could not be used: {exc}")
        if not layer_digest.matches(data) or len(data) != size:
            return _Candidate(label, problem="bundle blob does not match its descriptor")
        return _Candidate(label, bundle=data)


def _bundle_layer(manifest: bytes, subject: Digest) -> tuple[Digest, int] | str:
    """The bundle layer of a referrer manifest, or why it is not a bundle for ``subject``."""
    document = referrer_manifest(manifest, subject)
    if isinstance(document, str):
        return document
    artifact_type = document.get("artifactType")
    if not isinstance(artifact_type, str) or not artifact_type.startswith(BUNDLE_ARTIFACT_PREFIX):
        return f"referrer artifactType {artifact_type!r} is not a Sigstore bundle"
    config = document.get("config")
    config_type = config.get("mediaType") if isinstance(config, dict) else None
    if config_type != OCI_EMPTY_MEDIA_TYPE:
        return f"bundle referrer config {config_type!r} is not the empty descriptor"
    layers = document.get("layers")
    if not isinstance(layers, list) or len(layers) != 1 or not isinstance(layers[0], dict):
        return "a bundle referrer must have exactly one layer"
    layer = layers[0]
    media_type = layer.get("mediaType")
    if not isinstance(media_type, str) or not media_type.startswith(BUNDLE_ARTIFACT_PREFIX):
        return f"bundle layer media type {media_type!r} is not a Sigstore bundle"
    try:
        digest = Digest.parse(str(layer.get("digest")))
    except GateError:
        return "bundle layer has no valid digest"
    size = layer.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_BUNDLE_BLOB:
        return f"bundle layer size {size!r} is invalid or exceeds {MAX_BUNDLE_BLOB} bytes"
    return digest, size


def _verify_candidate(
    candidate: _Candidate,
    image: ResolvedImage,
    root: SigstoreTrustRoot,
    require_tlog: bool,
    now: datetime,
) -> _Outcome:
    """Verify one candidate for ``image`` under ``root``; never raises for bad input."""
    try:
        if candidate.bundle is not None:
            return _verify_bundle_candidate(candidate.bundle, image, root, require_tlog, now)
        return _verify_legacy_candidate(candidate, image, root, require_tlog, now)
    except GateError as exc:
        return _Outcome(rejection=str(exc))
    except Exception as exc:
        # Fail closed and say so: a bug or an input no check anticipated rejects the
        # signature instead of escaping as a traceback.
        return _Outcome(rejection=f"could not be verified ({type(exc).__name__}: {exc})")


def _verify_legacy_candidate(
    candidate: _Candidate,
    image: ResolvedImage,
    root: SigstoreTrustRoot,
    require_tlog: bool,
    now: datetime,
) -> _Outcome:
    result = verify_legacy_signature(
        payload=candidate.payload,
        signature=candidate.signature,
        certificate=candidate.certificate,
        chain=candidate.chain,
        bundle=candidate.rekor_bundle,
        root=root,
        now=now,
        require_tlog=require_tlog,
    )
    payload = parse_payload(candidate.payload)
    if payload.image_digest != image.digest:
        raise KeylessVerificationError(
            f"payload is for {payload.image_digest}, not this image {image.digest} "
            "(signature copied from another image)"
        )
    notes: list[str] = []
    if not reference_matches(payload.docker_reference, image.reference):
        notes.append(
            f"payload docker-reference {payload.docker_reference!r} names another repository "
            f"than {image.reference.name}; ignored, as cosign does"
        )
    if result.integrated_time is None:
        notes.append("no transparency-log entry; certificate checked at the current time")
    return _Outcome(identity=result.identity, notes=tuple(notes))


def _verify_bundle_candidate(
    data: bytes, image: ResolvedImage, root: SigstoreTrustRoot, require_tlog: bool, now: datetime
) -> _Outcome:
    result = check_bundle(data, image.digest, root, now=now, require_tlog=require_tlog)
    predicate = result.predicate_type
    if result.statement is not None and predicate != COSIGN_SIGN_PREDICATE:
        raise KeylessVerificationError(
            f"signed statement is an attestation ({predicate}), not a cosign signature "
            f"({COSIGN_SIGN_PREDICATE})"
        )
    if result.identity is None:
        raise KeylessVerificationError("bundle is signed with a key, not a keyless certificate")
    return _Outcome(identity=result.identity)
