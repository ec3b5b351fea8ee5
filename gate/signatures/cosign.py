"""cosign key-based signatures: the ``sha256-<hex>.sig`` manifest, checked against trusted keys.

Discovery: the signatures of image digest ``sha256:<hex>`` live in an OCI
image manifest tagged ``sha256-<hex>.sig`` in the image's repository (or an
explicitly configured signature repository). Each layer of media type
``application/vnd.dev.cosign.simplesigning.v1+json`` is one signature: the
layer blob is the simple signing payload, the layer annotation
``dev.cosignproject.cosign/signature`` its base64 signature over the raw
payload bytes.

A signature counts for an authority only when it verifies with one of the
authority's keys, the payload is a well-formed cosign payload, and the
payload's digest is the resolved image digest (otherwise it was copied from
another image). Every layer that does not count is reported with a sentence;
nothing is ignored silently; registry failures become ``AuthorityResult.error``
(fail closed). Nothing here raises for a bad signature object.

``verify_signature_manifest`` is the pure core (bytes in, result out);
``CosignVerifier`` adds the registry I/O and fetches each signature manifest
and payload once per image digest, however many authorities are checked.
The JSON/base64 reading of a manifest and the parse of a verified payload are
memoised by content (bounded), so repeated checks of one signature cost little
more than the signature verification itself, which is never memoised across
calls.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from gate.errors import BackendError, GateError, InputError
from gate.oci.digest import Digest
from gate.oci.fetch_cache import FetchCache
from gate.oci.manifest import DOCKER_MANIFEST, OCI_MANIFEST
from gate.oci.reference import ImageReference
from gate.oci.source import ManifestSource, ResolvedImage
from gate.signatures import gojson
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.keys import PublicKey
from gate.signatures.simplesigning import (
    COSIGN_SIGNATURE_TYPE,
    SimpleSigningPayload,
    docker_reference,
    parse_payload,
    reference_matches,
)
from gate.signatures.trust import TrustAuthority

KIND = "cosign"
SIMPLESIGNING_MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
# One definition, in gate.oci.manifest; the names stay for the signer.
OCI_MANIFEST_MEDIA_TYPE = OCI_MANIFEST
DOCKER_MANIFEST_MEDIA_TYPE = DOCKER_MANIFEST
OCI_CONFIG_MEDIA_TYPE = "application/vnd.oci.image.config.v1+json"
#: cosign writes OCI media types, or Docker ones with ``COSIGN_DOCKER_MEDIA_TYPES=1``.
SIGNATURE_MANIFEST_MEDIA_TYPES = frozenset({OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE})

SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CERTIFICATE_ANNOTATION = "dev.sigstore.cosign/certificate"
CHAIN_ANNOTATION = "dev.sigstore.cosign/chain"
BUNDLE_ANNOTATION = "dev.sigstore.cosign/bundle"
RFC3161_TIMESTAMP_ANNOTATION = "dev.sigstore.cosign/rfc3161timestamp"

#: A simple signing payload is a few hundred bytes; annotations may add some.
MAX_PAYLOAD_SIZE = 1 << 20
#: cosign refuses signature manifests with more layers than this.
MAX_SIGNATURE_LAYERS = 1000

BlobFetcher = Callable[[Digest, int], bytes]


def signature_tag(digest: Digest) -> str:
    """The tag cosign stores the signatures of ``digest`` under: ``sha256-<hex>.sig``."""
    return f"{digest.tag_form}.sig"


class _Layer(NamedTuple):
    """One layer of a signature manifest, read as far as it can be without a key.

    A named tuple rather than a dataclass: it is built on every verification,
    and the hot path should cost little next to the signature check itself.
    """

    number: int
    digest: Digest | None
    problem: str | None = None  # why it can never count, whatever the key
    signature: bytes = b""
    payload: bytes = b""
    notes: tuple[str, ...] = ()
    size: int = 0  # declared payload size

    @property
    def label(self) -> str:
        """How sentences name this layer: ``signature layer 2 (sha256:0123456789ab..)``."""
        if self.digest is None:
            return f"signature layer {self.number}"
        return f"signature layer {self.number} ({self.digest.algorithm}:{self.digest.hex[:12]}..)"


@dataclass
class _SignatureSet:
    """Everything fetched for one image digest; shared by the checks of all authorities.

    ``verdicts`` memoises (layer, key) signature checks, so a key trusted by
    several authorities verifies each layer once.
    """

    tag: str
    layers: tuple[_Layer, ...] = ()
    problem: str | None = None  # the whole object is unusable: no signatures
    error: str | None = None  # could not decide (registry failure)
    verdicts: dict[tuple[int, str], bool] = field(default_factory=dict)

    def signer(self, index: int, keys: Iterable[PublicKey]) -> PublicKey | None:
        """The first of ``keys`` whose signature check of layer ``index`` passes."""
        layer = self.layers[index]
        for key in keys:
            memo = (index, key.fingerprint)
            verdict = self.verdicts.get(memo)
            if verdict is None:
                verdict = key.verify(layer.signature, layer.payload)
                self.verdicts[memo] = verdict
            if verdict:
                return key
        return None

    def payload(self, index: int) -> SimpleSigningPayload | str:
        """The parsed payload of layer ``index``, or the sentence saying why it is invalid."""
        return _parse_payload(self.layers[index].payload)


# The exact bytes cosign writes without annotations; the reference may hold only printable
# ASCII other than '"' and '\\', so the match is unambiguous (no escapes, no duplicate keys).
_CANONICAL_PAYLOAD_RE = re.compile(
    rb'\{"critical":\{"identity":\{"docker-reference":"([\x21\x23-\x5b\x5d-\x7e]+)"\},'
    rb'"image":\{"docker-manifest-digest":"sha256:([0-9a-f]{64})"\},'
    rb'"type":"' + re.escape(COSIGN_SIGNATURE_TYPE.encode()) + rb'"\},"optional":null\}'
)
_DIGEST_TEXT_RE = re.compile(r"(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})")


def _digest_or_none(text: object) -> Digest | None:
    """``text`` as a canonical digest, or None (faster than ``Digest.parse`` plus a check)."""
    if not isinstance(text, str) or _DIGEST_TEXT_RE.fullmatch(text) is None:
        return None
    algorithm, _, hex_digits = text.partition(":")
    return Digest(algorithm, hex_digits)


#: Payloads up to this size are memoised (cosign's are a few hundred bytes).
_MEMO_MAX_PAYLOAD = 4096


def _parse_payload(payload: bytes) -> SimpleSigningPayload | str:
    """The parsed payload, or the sentence saying why it is invalid; memoised by content.

    Only called for payloads whose signature verified, so the memo holds
    nothing an attacker chose.
    """
    if len(payload) <= _MEMO_MAX_PAYLOAD:
        return _parse_payload_memo(payload)
    return _parse_payload_uncached(payload)


def _parse_payload_uncached(payload: bytes) -> SimpleSigningPayload | str:
    """Parse a payload, with a shortcut for the exact bytes cosign writes.

    The shortcut accepts only the canonical compact form without annotations;
    a full match of that pattern leaves nothing for the strict parser to
    find, so it decides exactly as ``parse_payload`` would. Everything else
    goes through ``parse_payload``.
    """
    match = _CANONICAL_PAYLOAD_RE.fullmatch(payload)
    if match is not None:
        return SimpleSigningPayload(
            Digest("sha256", match.group(2).decode("ascii")), match.group(1).decode("ascii"), None
        )
    try:
        return parse_payload(payload)
    except InputError as exc:
        return str(exc)


_parse_payload_memo = functools.lru_cache(maxsize=256)(_parse_payload_uncached)


def _describe_layer(number: int, raw: object) -> _Layer:
    """What the manifest says about layer ``number`` (no payload yet; ``problem`` if unusable)."""
    if type(raw) is not dict:
        return _Layer(number, None, "layer descriptor is not a JSON object")
    digest_text = raw.get("digest")
    digest = _digest_or_none(digest_text)
    if digest is None:
        return _Layer(number, None, f"layer descriptor has no valid digest ({digest_text!r})")
    media_type = raw.get("mediaType")
    if media_type != SIMPLESIGNING_MEDIA_TYPE:
        return _Layer(
            number,
            digest,
            f"unknown layer media type {media_type!r}, not a cosign signature "
            f"({SIMPLESIGNING_MEDIA_TYPE})",
        )
    annotations = raw.get("annotations")
    if type(annotations) is not dict:
        return _Layer(number, digest, f"has no annotations (so no {SIGNATURE_ANNOTATION})")
    for key, value in annotations.items():
        if type(value) is not str:
            # Go decodes annotations as map[string]string: cosign would reject the manifest.
            return _Layer(number, digest, f"annotation {key!r} is not a string")
    if CERTIFICATE_ANNOTATION in annotations:
        return _Layer(
            number,
            digest,
            "carries a signing certificate (keyless signature); keyless signatures "
            "do not count for key authorities, only for keyless identities",
        )
    encoded = annotations.get(SIGNATURE_ANNOTATION)
    if encoded is None:
        return _Layer(number, digest, f"has no {SIGNATURE_ANNOTATION} annotation")
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return _Layer(number, digest, f"{SIGNATURE_ANNOTATION} annotation is not valid base64")
    if not signature:
        return _Layer(number, digest, f"{SIGNATURE_ANNOTATION} annotation is empty")
    size = raw.get("size")
    if type(size) is not int or size < 0:
        return _Layer(number, digest, f"layer descriptor has no valid size ({size!r})")
    if size > MAX_PAYLOAD_SIZE:
        return _Layer(
            number,
            digest,
            f"payload of {size} bytes exceeds the {MAX_PAYLOAD_SIZE}-byte limit (not fetched)",
        )
    notes: tuple[str, ...] = ()
    if BUNDLE_ANNOTATION in annotations or RFC3161_TIMESTAMP_ANNOTATION in annotations:
        notes = _unverified_material(annotations)
    return _Layer(number, digest, None, signature, b"", notes, size)


def _hash_matches(digest: Digest, data: bytes) -> bool:
    if digest.algorithm == "sha256":  # the common case, without hashlib.new's lookup
        return hashlib.sha256(data).hexdigest() == digest.hex
    return digest.matches(data)


def _unverified_material(annotations: dict[str, str]) -> tuple[str, ...]:
    """Notes for transparency-log material on a key signature, which we do not check yet."""
    notes: list[str] = []
    if BUNDLE_ANNOTATION in annotations:
        notes.append(
            f"carries a Rekor bundle ({BUNDLE_ANNOTATION}) that was NOT verified: "
            "transparency-log checks are not supported yet; the signature counted on the key alone"
        )
    if RFC3161_TIMESTAMP_ANNOTATION in annotations:
        notes.append(
            f"carries an RFC 3161 timestamp ({RFC3161_TIMESTAMP_ANNOTATION}) that was NOT verified"
        )
    return tuple(notes)


class _Described(NamedTuple):
    """A signature manifest read without its payloads: a reason it is unusable, or layers."""

    problem: str | None
    layers: tuple[_Layer, ...] = ()


_NO_LAYERS = "has no layers"


#: Manifests up to this size are memoised (a few hundred signatures); bigger ones are rare
#: and are parsed each time, so the memo cannot hold more than ~128 x 64 KiB.
_MEMO_MAX_MANIFEST = 64 * 1024


def _describe_manifest(manifest: bytes) -> _Described:
    """Parse a ``.sig`` manifest, once per distinct content when it is of ordinary size.

    The result is immutable and depends only on the bytes, so it is shared by
    every verification of the same manifest, from any thread: the JSON and
    base64 work is not redone for each authority or each admission request.
    """
    if len(manifest) <= _MEMO_MAX_MANIFEST:
        return _describe_manifest_memo(manifest)
    return _describe_manifest_uncached(manifest)


def read_signature_layers(manifest: bytes) -> list[object] | str:
    """The layer descriptors of a ``.sig`` manifest, or the sentence saying why it is unusable.

    Checks the manifest itself (strict JSON, image manifest media type,
    schemaVersion 2, at most ``MAX_SIGNATURE_LAYERS`` layers); the layers are
    returned unread. An empty list means the manifest has no layers. Shared
    with the keyless verifier, which reads the same ``.sig`` objects.
    """
    try:
        document = gojson.loads_strict(manifest)
    except ValueError as exc:
        return str(exc)
    if not isinstance(document, dict):
        return "not a JSON object"
    media_type = document.get("mediaType")
    # Checked as a string first: a list or an object is not hashable, so no set member.
    if media_type is not None and (
        not isinstance(media_type, str) or media_type not in SIGNATURE_MANIFEST_MEDIA_TYPES
    ):
        return f"media type {media_type!r} is not an image manifest"
    if document.get("schemaVersion") != 2:
        return "schemaVersion is not 2"
    layers = document.get("layers")
    if not isinstance(layers, list):
        return "no layers array"
    if len(layers) > MAX_SIGNATURE_LAYERS:
        return f"{len(layers)} layers exceed the limit of {MAX_SIGNATURE_LAYERS}"
    return layers


def _describe_manifest_uncached(manifest: bytes) -> _Described:
    layers = read_signature_layers(manifest)
    if isinstance(layers, str):
        return _Described(layers)
    if not layers:
        return _Described(_NO_LAYERS)
    return _Described(None, tuple(_describe_layer(n, raw) for n, raw in enumerate(layers, 1)))


_describe_manifest_memo = functools.lru_cache(maxsize=128)(_describe_manifest_uncached)


def _with_payload(layer: _Layer, blobs: BlobFetcher, fetched: dict[Digest, bytes | str]) -> _Layer:
    """``layer`` with its payload fetched and checked; ``BackendError`` passes through."""
    digest = layer.digest
    if layer.problem is not None or digest is None:
        return layer
    data = fetched.get(digest)
    if data is None:
        try:
            data = blobs(digest, layer.size)
        except BackendError:
            raise
        except GateError as exc:
            data = f"payload blob could not be used: {exc}"
        else:
            if not _hash_matches(digest, data):
                data = "payload blob does not hash to its digest (registry served other content)"
        fetched[digest] = data
    if isinstance(data, str):
        return layer._replace(problem=data)
    if len(data) != layer.size:
        return layer._replace(
            problem=f"payload blob is {len(data)} bytes, the descriptor says {layer.size}"
        )
    return layer._replace(payload=data)


def _read_signature_manifest(manifest: bytes, tag: str, blobs: BlobFetcher) -> _SignatureSet:
    """Parse the ``.sig`` manifest and fetch its payloads (each distinct digest once)."""
    described = _describe_manifest(manifest)
    if described.problem == _NO_LAYERS:
        return _SignatureSet(tag, problem=f"no cosign signatures found ({tag} has no layers)")
    if described.problem is not None:
        return _SignatureSet(tag, problem=f"signature manifest {tag} rejected: {described.problem}")
    fetched: dict[Digest, bytes | str] = {}
    read: list[_Layer] = []
    for layer in described.layers:
        try:
            read.append(_with_payload(layer, blobs, fetched))
        except BackendError as exc:
            return _SignatureSet(
                tag,
                error=f"signature manifest {tag}: payload of signature layer {layer.number} "
                f"could not be fetched: {exc}",
            )
    return _SignatureSet(tag, layers=tuple(read))


def clear_parse_memo() -> None:
    """Forget the memoised manifest and payload parses (benchmarks of the cold path, tests)."""
    _describe_manifest_memo.cache_clear()
    _parse_payload_memo.cache_clear()


def _distinct_keys(keys: Iterable[PublicKey]) -> tuple[PublicKey, ...]:
    seen: dict[str, PublicKey] = {}
    for key in keys:
        seen.setdefault(key.fingerprint, key)
    return tuple(seen.values())


def _evaluate(
    signatures: _SignatureSet,
    image_digest: Digest,
    authority: TrustAuthority,
    *,
    strict_reference: ImageReference | None,
    repository: ImageReference | None,
) -> AuthorityResult:
    """Which layers of ``signatures`` count for ``authority`` on ``image_digest``, and why not."""
    name = authority.name
    if signatures.error is not None:
        return AuthorityResult(name, error=signatures.error)
    keys = _distinct_keys(authority.cosign_keys)
    if not keys:
        return AuthorityResult(
            name, error=f"authority '{name}' has no cosign public keys to verify with"
        )
    if signatures.problem is not None:
        return AuthorityResult(name, rejections=(signatures.problem,))
    verified: list[VerifiedSignature] = []
    rejections: list[str] = []
    notes: list[str] = []
    for index, layer in enumerate(signatures.layers):
        if layer.problem is not None:
            rejections.append(f"{layer.label}: {layer.problem}")
            continue
        signer = signatures.signer(index, keys)
        if signer is None:
            rejections.append(
                f"{layer.label}: signature does not verify with any key authority '{name}' "
                "trusts (signed by another key, or altered)"
            )
            continue
        payload = signatures.payload(index)
        if isinstance(payload, str):
            rejections.append(f"{layer.label}: signed by {signer.label}, but {payload}")
            continue
        if payload.image_digest != image_digest:
            rejections.append(
                f"{layer.label}: payload is for {payload.image_digest}, not this image "
                f"{image_digest} (signature copied from another image)"
            )
            continue
        claimed = payload.docker_reference
        if strict_reference is not None and not reference_matches(claimed, strict_reference):
            rejections.append(
                f"{layer.label}: payload docker-reference {claimed!r} is not "
                f"{docker_reference(strict_reference)} (strict reference check)"
            )
            continue
        if repository is not None and not reference_matches(claimed, repository):
            notes.append(
                f"{layer.label}: payload docker-reference {claimed!r} names another repository "
                f"than {repository.name}; ignored, as cosign does"
            )
        notes.extend(f"{layer.label}: {note}" for note in layer.notes)
        verified.append(
            VerifiedSignature(
                authority=name,
                kind=KIND,
                signer=signer.fingerprint,
                signer_label=signer.label,
                digest=image_digest,
            )
        )
    return AuthorityResult(
        name, signatures=tuple(verified), rejections=tuple(rejections), notes=tuple(notes)
    )


def verify_signature_manifest(
    manifest: bytes,
    blobs: BlobFetcher,
    image_digest: Digest,
    authority: TrustAuthority,
    *,
    strict_reference: ImageReference | None = None,
    repository: ImageReference | None = None,
) -> AuthorityResult:
    """Check one ``.sig`` manifest (already fetched) against ``authority`` for ``image_digest``.

    ``blobs(digest, max_size)`` returns a payload blob; a ``BackendError`` from
    it makes the result an error, any other ``GateError`` rejects that layer.
    ``strict_reference`` (a repository) additionally requires each
    payload's docker-reference to name it; ``repository`` only adds a note
    when a payload names a different one. Never raises for a bad signature.
    """
    tag = signature_tag(image_digest)
    signatures = _read_signature_manifest(manifest, tag, blobs)
    return _evaluate(
        signatures,
        image_digest,
        authority,
        strict_reference=strict_reference,
        repository=repository,
    )


class CosignVerifier:
    """cosign key-based verification over the registry interface (a ``SignatureVerifier``).

    The signature manifest and payloads of an image digest are fetched once
    and reused for every authority checked against it; entries expire after
    ``cache_ttl`` seconds (so a long-running webhook sees new signatures), and
    after only ``failure_ttl`` seconds when no signature was found or the
    registry failed (so a signature pushed a moment ago, or a registry that
    recovers, is seen at once); at most ``cache_size`` digests are kept.
    ``signature_repository`` is where signatures live when not next to the
    image (cosign's ``COSIGN_REPOSITORY``); ``strict_reference`` requires the
    payload's docker-reference to name the image's repository (cosign ignores
    it; by default we only note a mismatch).
    """

    def __init__(
        self,
        source: ManifestSource,
        *,
        signature_repository: ImageReference | None = None,
        strict_reference: bool = False,
        cache_size: int = 256,
        cache_ttl: float = 60.0,
        failure_ttl: float = 5.0,
    ) -> None:
        self._source = source
        self._signature_repository = signature_repository
        self._strict_reference = strict_reference
        self._fetched: FetchCache[_SignatureSet] = FetchCache(
            size=cache_size, ttl=cache_ttl, failure_ttl=failure_ttl
        )

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """Check ``image.digest`` against ``authority``'s keys.

        Returns who signed, and one sentence for every signature that did not count.
        """
        repository = self._signature_repository or image.reference
        signatures = self._signatures(repository, image.digest)
        return _evaluate(
            signatures,
            image.digest,
            authority,
            strict_reference=image.reference if self._strict_reference else None,
            repository=image.reference,
        )

    def clear_cache(self) -> None:
        """Forget everything fetched (e.g. after a policy reload)."""
        self._fetched.clear()

    def _signatures(self, repository: ImageReference, digest: Digest) -> _SignatureSet:
        # Concurrent checks of one image wait for a single fetch.
        return self._fetched.get(
            (repository.name, digest),
            lambda: self._fetch(repository, digest),
            lambda found: found.error is not None or found.problem is not None,
        )

    def _fetch(self, repository: ImageReference, digest: Digest) -> _SignatureSet:
        tag = signature_tag(digest)
        where = ImageReference(registry=repository.registry, repository=repository.repository)
        try:
            fetched = self._source.fetch_manifest(where, tag)
        except GateError as exc:
            return _SignatureSet(tag, error=f"could not fetch cosign signatures {tag}: {exc}")
        if fetched is None:
            return _SignatureSet(tag, problem=f"no cosign signatures found ({tag})")
        if fetched.media_type not in SIGNATURE_MANIFEST_MEDIA_TYPES:
            return _SignatureSet(
                tag,
                problem=f"signature manifest {tag} rejected: served as {fetched.media_type!r}, "
                "not an image manifest",
            )

        def blobs(blob_digest: Digest, max_size: int) -> bytes:
            return self._source.fetch_blob(where, blob_digest, max_size)

        return _read_signature_manifest(fetched.data, tag, blobs)
