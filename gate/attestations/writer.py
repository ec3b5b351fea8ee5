"""Attesting an image the way ``cosign attest --key`` does (``gate attest``).

What is written:

* the in-toto v1 Statement: subject = the image's resolved digest, named by
  its repository; the predicate type and the checked predicate;
* a DSSE envelope over it (``payloadType`` ``application/vnd.in-toto+json``),
  signed over PAE with the cosign private key: ECDSA in ASN.1 DER with the
  curve's hash (deterministic, RFC 6979), RSA PKCS#1 v1.5 with SHA-256,
  or Ed25519, which is what cosign and the gate's verifier expect;
* the envelope as a blob and a layer of the ``sha256-<hex>.att`` manifest
  (media type ``application/vnd.dsse.envelope.v1+json``, annotations
  ``predicateType`` and an empty ``dev.cosignproject.cosign/signature``, as
  cosign writes them), appended to the layers already there.

Signing is deterministic, so attesting the same predicate with the same key
twice produces the same envelope: the second run finds that layer and
writes nothing. An existing ``.att`` object that cannot be read is never
overwritten (``BackendError``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from gate.attestations.candidate import DSSE_MEDIA_TYPE
from gate.attestations.layout import (
    MAX_ATTESTATION_LAYERS,
    PREDICATE_TYPE_ANNOTATION,
    attestation_tag,
)
from gate.attestations.predicate_file import Predicate
from gate.errors import BackendError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ArtifactSink, ManifestSource, ResolvedImage
from gate.signatures import gojson
from gate.signatures.cosign import (
    OCI_CONFIG_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
)
from gate.signatures.dsse import MAX_ENVELOPE_SIZE, Envelope, EnvelopeSignature, verify_envelope
from gate.signatures.intoto import PAYLOAD_TYPE, STATEMENT_V1
from gate.signatures.keyfile import SupportedPrivateKey, check_private_key
from gate.signatures.keys import CURVE_HASH, PublicKey, fingerprint_of
from gate.signatures.signer import (
    ExistingManifest,
    reserialise_descriptor,
    sign_payload,
    signature_config,
    signature_manifest,
)


@dataclass(frozen=True)
class AttestOutcome:
    """What ``attest_image`` did: the ``.att`` manifest digest, and whether it wrote anything."""

    manifest_digest: Digest
    envelope_digest: Digest
    tag: str
    written: bool
    layers: int


def build_statement(image: ResolvedImage, predicate: Predicate) -> bytes:
    """The in-toto v1 Statement about ``image.digest``, as compact JSON bytes."""
    statement = {
        "_type": STATEMENT_V1,
        "subject": [
            {
                "name": image.reference.name,
                "digest": {image.digest.algorithm: image.digest.hex},
            }
        ],
        "predicateType": predicate.predicate_type,
        "predicate": predicate.body,
    }
    return json.dumps(statement, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def sign_pae(private_key: SupportedPrivateKey, message: bytes) -> bytes:
    """The signature over ``message`` (a PAE): as ``sign_payload``, but deterministic ECDSA.

    RFC 6979 nonces make the same key and statement give the same envelope,
    which is what makes re-running ``gate attest`` a no-op.
    """
    key = check_private_key(private_key, "signing key")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algorithm = ec.ECDSA(CURVE_HASH[key.curve.name](), deterministic_signing=True)
        return key.sign(message, algorithm)
    return sign_payload(key, message)


def sign_statement(private_key: SupportedPrivateKey, statement: bytes) -> Envelope:
    """A DSSE envelope over ``statement``, checked against the public key before it is used."""
    key = check_private_key(private_key, "signing key")
    public = key.public_key()
    public_key = PublicKey(key=public, fingerprint=fingerprint_of(public), label="signing key")
    unsigned = Envelope(payload_type=PAYLOAD_TYPE, payload=statement, signatures=())
    signature = sign_pae(key, unsigned.pae())
    envelope = Envelope(
        payload_type=PAYLOAD_TYPE,
        payload=statement,
        signatures=(EnvelopeSignature(sig=signature, keyid=""),),
    )
    verify_envelope(envelope, [public_key])  # what the gate itself will check
    return envelope


def attestation_layer(envelope_json: bytes, predicate_type: str) -> dict[str, Any]:
    """The ``.att`` manifest descriptor of one envelope blob, annotated as cosign does."""
    return {
        "mediaType": DSSE_MEDIA_TYPE,
        "size": len(envelope_json),
        "digest": str(Digest.of(envelope_json)),
        "annotations": gojson.go_map(
            {SIGNATURE_ANNOTATION: "", PREDICATE_TYPE_ANNOTATION: predicate_type}
        ),
    }


def attest_image(
    sink: ArtifactSink,
    source: ManifestSource,
    image: ResolvedImage,
    private_key: SupportedPrivateKey,
    predicate: Predicate,
    *,
    attestation_repository: ImageReference | None = None,
) -> AttestOutcome:
    """Attest ``image.digest`` with ``predicate``, signed by ``private_key``; append to ``.att``.

    ``attestation_repository`` is where the ``.att`` manifest goes (cosign's
    ``COSIGN_REPOSITORY``), by default the image's repository. A statement
    too large for the verifier to accept is an ``InputError``; registry
    failures raise ``BackendError``.
    """
    envelope = sign_statement(private_key, build_statement(image, predicate))
    envelope_json = envelope.to_json()
    if len(envelope_json) > MAX_ENVELOPE_SIZE:
        raise InputError(
            f"the signed attestation would be {len(envelope_json)} bytes; verifiers refuse "
            f"envelopes over {MAX_ENVELOPE_SIZE} bytes (the predicate is base64-encoded inside)",
            source="predicate",
        )
    envelope_digest = Digest.of(envelope_json)
    base = attestation_repository or image.reference
    target = ImageReference(registry=base.registry, repository=base.repository)
    tag = attestation_tag(image.digest)
    where = f"{target.name}:{tag}"

    fetched = source.fetch_manifest(target, tag)
    existing = (
        ExistingManifest(fetched.data, where, noun="attestation manifest")
        if fetched is not None
        else None
    )
    if existing is not None and fetched is not None and envelope_digest in existing.diff_ids:
        return AttestOutcome(fetched.digest, envelope_digest, tag, False, len(existing.layers))
    layers = [reserialise_descriptor(raw) for raw in existing.layers] if existing else []
    diff_ids = list(existing.diff_ids) if existing else []
    if len(layers) + 1 > MAX_ATTESTATION_LAYERS:
        raise BackendError(
            f"{where}: already holds {len(layers)} attestations; verifiers read at most "
            f"{MAX_ATTESTATION_LAYERS}"
        )
    layers.append(attestation_layer(envelope_json, predicate.predicate_type))
    diff_ids.append(envelope_digest)
    config = signature_config(diff_ids)
    media_type = existing.media_type if existing else OCI_MANIFEST_MEDIA_TYPE
    try:
        manifest = signature_manifest(
            config,
            layers,
            media_type=media_type,
            config_media_type=existing.config_media_type if existing else OCI_CONFIG_MEDIA_TYPE,
            annotations=existing.annotations if existing else None,
        )
    except TypeError as exc:  # e.g. a float in an old layer's platform: Go would re-format it
        raise BackendError(f"{where}: existing layers cannot be re-serialised ({exc})") from None
    for blob in (envelope_json, config):
        pushed = sink.push_blob(target, blob)
        if pushed != Digest.of(blob):
            raise BackendError(
                f"{target.name}: registry stored blob as {pushed}, expected {Digest.of(blob)}"
            )
    expected = Digest.of(manifest)
    pushed = sink.push_manifest(target, tag, manifest, media_type)
    if pushed != expected:
        raise BackendError(
            f"{where}: registry stored the manifest as {pushed}, expected {expected}"
        )
    return AttestOutcome(expected, envelope_digest, tag, True, len(layers))
