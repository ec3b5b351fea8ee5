"""cosign's attestation layout: the ``sha256-<hex>.att`` manifest, one DSSE envelope per layer.

``cosign attest`` stores the attestations of image digest ``sha256:<hex>`` in
an OCI image manifest tagged ``sha256-<hex>.att`` next to the image (or in
``COSIGN_REPOSITORY``). Each layer of media type
``application/vnd.dsse.envelope.v1+json`` is one envelope; its descriptor's
annotations carry the (unsigned) ``predicateType`` and, for keyless
attestations, the certificate, chain and Rekor bundle, as on ``.sig`` layers.

A missing tag means "no attestations", not an error. A registry that fails
raises ``BackendError`` (the caller fails closed); anything wrong with one
layer makes that layer a candidate with a ``problem``, reported, never
silently dropped. Every blob is checked against its descriptor's digest and
size, and sizes are bounded before anything is fetched.
"""

from __future__ import annotations

from gate.attestations.candidate import DSSE_MEDIA_TYPE, Candidate
from gate.errors import BackendError, GateError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ManifestSource
from gate.signatures.cosign import (
    BUNDLE_ANNOTATION,
    CERTIFICATE_ANNOTATION,
    CHAIN_ANNOTATION,
    SIGNATURE_MANIFEST_MEDIA_TYPES,
    read_signature_layers,
)
from gate.signatures.dsse import MAX_ENVELOPE_SIZE, parse_envelope

#: The layer annotation cosign writes with the statement's predicate type (a hint only).
PREDICATE_TYPE_ANNOTATION = "predicateType"
#: More attestations than this on one digest is a mistake or an attack: the rest are reported.
MAX_ATTESTATION_LAYERS = 256
#: At most this many envelope bytes are fetched per ``.att`` manifest.
MAX_TOTAL_BYTES = 256 << 20


def attestation_tag(digest: Digest) -> str:
    """The tag cosign stores the attestations of ``digest`` under: ``sha256-<hex>.att``."""
    return f"{digest.tag_form}.att"


def cosign_candidates(
    source: ManifestSource, repository: ImageReference, digest: Digest
) -> tuple[list[Candidate], list[str]]:
    """The attestations in ``repository``'s ``.att`` manifest for ``digest``, and notes.

    Raises ``BackendError`` when the registry fails; returns no candidates
    when the tag does not exist.
    """
    tag = attestation_tag(digest)
    where = ImageReference(registry=repository.registry, repository=repository.repository)
    label = f"attestation manifest {tag}"
    short = f"{digest.algorithm}-{digest.hex[:12]}...att"
    try:
        fetched = source.fetch_manifest(where, tag)
    except BackendError:
        raise
    except GateError as exc:
        return [Candidate(label, problem=f"unusable: {exc}")], []
    if fetched is None:
        return [], []
    if fetched.media_type not in SIGNATURE_MANIFEST_MEDIA_TYPES:
        return [
            Candidate(label, problem=f"served as {fetched.media_type!r}, not an image manifest")
        ], []
    layers = read_signature_layers(fetched.data)
    if isinstance(layers, str):
        return [Candidate(label, problem=f"rejected: {layers}")], []
    notes: list[str] = []
    if len(layers) > MAX_ATTESTATION_LAYERS:
        notes.append(
            f"{label} has {len(layers)} layers; only the first {MAX_ATTESTATION_LAYERS} were read"
        )
        layers = layers[:MAX_ATTESTATION_LAYERS]
    candidates: list[Candidate] = []
    budget = MAX_TOTAL_BYTES
    fetched_blobs: dict[Digest, bytes | str] = {}
    for number, raw in enumerate(layers, 1):
        candidate, size = _layer(
            source,
            where,
            f"attestation layer {number} of {short}",
            raw,
            budget=budget,
            fetched=fetched_blobs,
        )
        budget -= size
        candidates.append(candidate)
    return candidates, notes


def _layer(
    source: ManifestSource,
    repository: ImageReference,
    label: str,
    raw: object,
    *,
    budget: int,
    fetched: dict[Digest, bytes | str],
) -> tuple[Candidate, int]:
    """One ``.att`` layer as a candidate, and the bytes fetched for it."""
    if not isinstance(raw, dict):
        return Candidate(label, problem="not a JSON object"), 0
    digest_text = raw.get("digest")
    try:
        digest = Digest.parse(digest_text) if isinstance(digest_text, str) else None
    except InputError:
        digest = None
    if digest is None or str(digest) != digest_text:
        return Candidate(label, problem=f"no valid digest ({digest_text!r})"), 0
    annotations = raw.get("annotations", {})
    if not isinstance(annotations, dict) or not all(
        isinstance(v, str) for v in annotations.values()
    ):
        return Candidate(label, problem="annotations are not a map of strings"), 0
    hint = annotations.get(PREDICATE_TYPE_ANNOTATION) or None
    media_type = raw.get("mediaType")
    if media_type != DSSE_MEDIA_TYPE:
        return Candidate(
            label,
            hint=hint,
            problem=f"layer media type {media_type!r} is not a DSSE envelope ({DSSE_MEDIA_TYPE})",
        ), 0
    size = raw.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return Candidate(label, hint=hint, problem=f"no valid size ({size!r})"), 0
    if size > MAX_ENVELOPE_SIZE:
        return Candidate(
            label,
            hint=hint,
            problem=f"envelope of {size} bytes exceeds the {MAX_ENVELOPE_SIZE}-byte limit "
            "(not fetched)",
        ), 0
    if size > budget:
        return Candidate(
            label,
            hint=hint,
            problem=f"not fetched: the attestations of this digest exceed {MAX_TOTAL_BYTES} bytes",
        ), 0
    data = fetched.get(digest)
    if data is None:
        data = fetch_checked_blob(source, repository, digest, size)
        fetched[digest] = data
    if isinstance(data, str):
        return Candidate(label, hint=hint, problem=data), size
    try:
        envelope = parse_envelope(data)
    except InputError as exc:
        return Candidate(label, hint=hint, problem=f"unreadable: {exc}"), size
    return Candidate(
        label,
        hint=hint,
        envelope=envelope,
        raw_envelope=data,
        certificate=annotations.get(CERTIFICATE_ANNOTATION),
        chain=annotations.get(CHAIN_ANNOTATION),
        rekor_bundle=annotations.get(BUNDLE_ANNOTATION),
    ), size


def fetch_checked_blob(
    source: ManifestSource, repository: ImageReference, digest: Digest, size: int
) -> bytes | str:
    """The blob ``digest`` of ``size`` bytes, or the sentence saying why it cannot be used.

    ``BackendError`` passes through (the registry failed: undecidable); any
    other error, or content that does not match the descriptor, makes the
    blob unusable.
    """
    try:
        data = source.fetch_blob(repository, digest, size)
    except BackendError:
        raise
    except GateError as exc:
        return f"blob could not be used: {exc}"
    if not digest.matches(data):
        return "blob does not hash to its digest (the registry served other content)"
    if len(data) != size:
        return f"blob is {len(data)} bytes, the descriptor says {size}"
    return data
