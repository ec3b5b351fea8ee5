"""Attestations attached as OCI referrers: Sigstore bundles and bare DSSE envelopes.

cosign v3 (``--new-bundle-format``, its default) and other in-toto tools
attach an attestation as a manifest whose ``subject`` is the image: its
artifact type is a Sigstore bundle media type (one layer, the bundle, whose
``dsseEnvelope`` holds the statement) or a DSSE envelope / in-toto media
type (a layer holding the envelope). Bundles whose predicate hint is a
cosign v3 *signature* are left to the signature verifiers.

The listing and every manifest are untrusted: the referrer manifest must
name this image as its subject, sizes are bounded, blobs are checked against
their descriptors. Registry failures raise ``BackendError``.
"""

from __future__ import annotations

from typing import Protocol

from gate.attestations.candidate import DSSE_MEDIA_TYPE, Candidate, short_digest_label
from gate.attestations.layout import fetch_checked_blob
from gate.errors import BackendError, GateError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.referrers import Referrer, ReferrerSource, list_referrers, referrer_manifest
from gate.oci.source import ManifestSource
from gate.signatures.dsse import MAX_ENVELOPE_SIZE, parse_envelope
from gate.signatures.intoto import COSIGN_SIGN_V1, PAYLOAD_TYPE

#: Referrer artifact types (and layer media types) of Sigstore bundles: any version.
BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
#: The unsigned predicate-type hint cosign puts on bundle referrers.
BUNDLE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"
#: Artifact types of referrers that carry a bare DSSE envelope.
ENVELOPE_ARTIFACT_TYPES = frozenset({DSSE_MEDIA_TYPE, PAYLOAD_TYPE})
#: An attestation bundle (an SBOM inside) may be large; beyond this, refuse.
MAX_BUNDLE_SIZE = 16 << 20
#: At most this many attestation referrers are fetched per digest.
MAX_ATTESTATION_REFERRERS = 64
#: A referrer manifest has one layer; a few more are tolerated and read.
MAX_REFERRER_LAYERS = 8


class AttestationSource(ManifestSource, ReferrerSource, Protocol):
    """A registry that serves manifests, blobs and referrers (``RegistryClient`` does)."""


def _wanted(referrer: Referrer) -> bool:
    artifact_type = referrer.artifact_type or ""
    if artifact_type.startswith(BUNDLE_MEDIA_PREFIX):
        return referrer.annotations.get(BUNDLE_PREDICATE_ANNOTATION) != COSIGN_SIGN_V1
    return artifact_type in ENVELOPE_ARTIFACT_TYPES


def referrer_candidates(
    source: AttestationSource, repository: ImageReference, digest: Digest
) -> tuple[list[Candidate], list[str]]:
    """The attestations among the referrers of ``digest`` in ``repository``, and notes."""
    where = ImageReference(registry=repository.registry, repository=repository.repository)
    listing = list_referrers(source, where, digest)
    wanted = [r for r in listing.referrers if _wanted(r)]
    notes: list[str] = []
    if len(wanted) > MAX_ATTESTATION_REFERRERS:
        notes.append(
            f"{len(wanted)} attestation referrers ({listing.via}); only the first "
            f"{MAX_ATTESTATION_REFERRERS} were read"
        )
        wanted = wanted[:MAX_ATTESTATION_REFERRERS]
    candidates: list[Candidate] = []
    for referrer in wanted:
        candidates.extend(_referrer(source, where, digest, referrer))
    return candidates, notes


def _referrer(
    source: AttestationSource, repository: ImageReference, subject: Digest, referrer: Referrer
) -> list[Candidate]:
    is_bundle = (referrer.artifact_type or "").startswith(BUNDLE_MEDIA_PREFIX)
    kind = "Sigstore bundle referrer" if is_bundle else "DSSE referrer"
    label = short_digest_label(kind, referrer.digest)
    hint = referrer.annotations.get(BUNDLE_PREDICATE_ANNOTATION) or None
    try:
        fetched = source.fetch_manifest(repository, str(referrer.digest))
    except BackendError:
        raise
    except GateError as exc:
        return [Candidate(label, hint=hint, problem=f"manifest unusable: {exc}")]
    if fetched is None:
        return [Candidate(label, hint=hint, problem="listed, but its manifest is missing")]
    layers = _layers(fetched.data, subject)
    if isinstance(layers, str):
        return [Candidate(label, hint=hint, problem=layers)]
    candidates: list[Candidate] = []
    for number, (media_type, digest, size) in enumerate(layers, 1):
        where = label if len(layers) == 1 else f"{label} layer {number}"
        bundle = media_type.startswith(BUNDLE_MEDIA_PREFIX)
        limit = MAX_BUNDLE_SIZE if bundle else MAX_ENVELOPE_SIZE
        if size > limit:
            candidates.append(
                Candidate(where, hint=hint, problem=f"{size} bytes exceed the {limit}-byte limit")
            )
            continue
        data = fetch_checked_blob(source, repository, digest, size)
        if isinstance(data, str):
            candidates.append(Candidate(where, hint=hint, problem=data))
        elif bundle:
            candidates.append(Candidate(where, hint=hint, bundle=data))
        else:
            try:
                envelope = parse_envelope(data)
            except InputError as exc:
                candidates.append(Candidate(where, hint=hint, problem=f"unreadable: {exc}"))
                continue
            candidates.append(Candidate(where, hint=hint, envelope=envelope, raw_envelope=data))
    if not candidates:
        return [Candidate(label, hint=hint, problem="has no DSSE envelope or bundle layer")]
    return candidates


def _layers(manifest: bytes, subject: Digest) -> list[tuple[str, Digest, int]] | str:
    """The envelope and bundle layers of a referrer of ``subject``, or why it is not one."""
    document = referrer_manifest(manifest, subject)
    if isinstance(document, str):
        return document
    raw_layers = document.get("layers")
    if not isinstance(raw_layers, list) or not raw_layers:
        return "referrer manifest has no layers"
    if len(raw_layers) > MAX_REFERRER_LAYERS:
        return f"referrer manifest has {len(raw_layers)} layers (at most {MAX_REFERRER_LAYERS})"
    layers: list[tuple[str, Digest, int]] = []
    for index, layer in enumerate(raw_layers):
        if not isinstance(layer, dict):
            return f"layers[{index}] is not a JSON object"
        media_type = layer.get("mediaType")
        if not isinstance(media_type, str):
            return f"layers[{index}].mediaType is missing"
        if not (media_type.startswith(BUNDLE_MEDIA_PREFIX) or media_type == DSSE_MEDIA_TYPE):
            continue
        try:
            digest = Digest.parse(str(layer.get("digest")))
        except InputError:
            return f"layers[{index}] has no valid digest"
        size = layer.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return f"layers[{index}] has no valid size ({size!r})"
        layers.append((media_type, digest, size))
    return layers
