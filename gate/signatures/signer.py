"""Signing an image the way ``cosign sign --key`` does (``gate sign``).

What is written, byte for byte as cosign (go-containerregistry) writes it:

* the simple signing payload as a blob (the signature layer);
* an OCI config blob listing the layers' diff_ids (the payload digests: the
  layers are uncompressed), one zero-time history entry per layer;
* an OCI image manifest whose layers carry the base64 signature in the
  ``dev.cosignproject.cosign/signature`` annotation, tagged ``sha256-<hex>.sig``.

When a ``.sig`` manifest already exists the new signature is appended as a
further layer, unless an existing layer already holds a signature by the same
key over the same payload (cosign's duplicate detection), in which case
nothing is written. The existing config blob is not read back: the config is
rebuilt from the layer list, which is what cosign produces unless signatures
were made with ``--record-creation-timestamp``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding

from gate.errors import BackendError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ArtifactSink, ManifestSource, ResolvedImage
from gate.signatures import gojson
from gate.signatures.cosign import (
    MAX_SIGNATURE_LAYERS,
    OCI_CONFIG_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
    SIGNATURE_ANNOTATION,
    SIGNATURE_MANIFEST_MEDIA_TYPES,
    SIMPLESIGNING_MEDIA_TYPE,
    signature_tag,
)
from gate.signatures.keyfile import SupportedPrivateKey, check_private_key
from gate.signatures.keys import CURVE_HASH, PublicKey, fingerprint_of
from gate.signatures.simplesigning import build_payload, docker_reference

_ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, which cosign leaves in place
# go-containerregistry's optional Descriptor fields in struct order (after mediaType/size/digest).
_OPTIONAL_DESCRIPTOR_FIELDS = ("data", "urls", "annotations", "platform", "artifactType")


def sign_payload(private_key: SupportedPrivateKey, payload: bytes) -> bytes:
    """The raw signature over ``payload``, with the scheme ``PublicKey.verify`` expects.

    ECDSA: ASN.1 DER with the curve's hash (SHA-256 for P-256, as cosign);
    RSA: PKCS#1 v1.5 with SHA-256; Ed25519: pure Ed25519.
    """
    key = check_private_key(private_key, "signing key")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(payload, ec.ECDSA(CURVE_HASH[key.curve.name]()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(payload)
    return key.sign(payload, padding.PKCS1v15(), hashes.SHA256())


def signature_config(diff_ids: Sequence[Digest]) -> bytes:
    """The OCI config blob cosign writes for a signature image with these layer diff_ids."""
    return gojson.marshal(
        {
            "architecture": "",
            "created": _ZERO_TIME,
            "history": [{"created": _ZERO_TIME} for _ in diff_ids],
            "os": "",
            "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
            "config": {},
        }
    )


def signature_layer(payload: bytes, signature: bytes) -> dict[str, Any]:
    """The manifest descriptor of one signature layer (payload blob + signature annotation)."""
    return {
        "mediaType": SIMPLESIGNING_MEDIA_TYPE,
        "size": len(payload),
        "digest": str(Digest.of(payload)),
        "annotations": gojson.go_map({SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()}),
    }


def signature_manifest(
    config: bytes,
    layers: Sequence[Mapping[str, Any]],
    *,
    media_type: str = OCI_MANIFEST_MEDIA_TYPE,
    config_media_type: str = OCI_CONFIG_MEDIA_TYPE,
    annotations: Mapping[str, str] | None = None,
) -> bytes:
    """The signature image manifest, serialised as go-containerregistry does."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {
            "mediaType": config_media_type,
            "size": len(config),
            "digest": str(Digest.of(config)),
        },
        "layers": list(layers),
    }
    if annotations:
        manifest["annotations"] = gojson.go_map(annotations)
    return gojson.marshal(manifest)


def reserialise_descriptor(raw: Mapping[str, Any]) -> dict[str, Any]:
    """An existing layer descriptor as Go re-marshals it: struct order, unknown fields dropped.

    cosign appends to a ``.sig`` or ``.att`` manifest by re-marshalling it, so
    the old layers must come out byte for byte as Go would write them.
    """
    out: dict[str, Any] = {
        "mediaType": raw["mediaType"],
        "size": raw["size"],
        "digest": raw["digest"],
    }
    for name in _OPTIONAL_DESCRIPTOR_FIELDS:
        value = raw.get(name)
        if value:  # omitempty
            out[name] = gojson.go_map(value) if name == "annotations" else value
    return out


def _is_string_map(value: object) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _descriptor_digest(raw: object) -> Digest | None:
    """The digest of a well-formed descriptor (string mediaType, int size, digest), else None."""
    if not isinstance(raw, dict):
        return None
    digest_text = raw.get("digest")
    if not isinstance(raw.get("mediaType"), str) or type(raw.get("size")) is not int:
        return None
    if not isinstance(digest_text, str) or not _is_string_map(raw.get("annotations", {})):
        return None
    try:
        digest = Digest.parse(digest_text)
    except InputError:
        return None
    return digest if str(digest) == digest_text else None


class ExistingManifest:
    """The readable parts of a ``.sig`` (or ``.att``) manifest already in the registry.

    Anything unreadable raises ``BackendError``: such a manifest is never
    overwritten. ``noun`` names the object in those messages.
    """

    def __init__(self, data: bytes, where: str, *, noun: str = "signature manifest") -> None:
        try:
            document = gojson.loads_strict(data)
        except ValueError as exc:
            raise BackendError(
                f"{where}: existing {noun} unreadable ({exc}); not overwritten"
            ) from None
        if not isinstance(document, dict) or not isinstance(document.get("layers"), list):
            raise BackendError(f"{where}: existing {noun} has no layers array; not overwritten")
        media_type = document.get("mediaType", OCI_MANIFEST_MEDIA_TYPE)
        if media_type not in SIGNATURE_MANIFEST_MEDIA_TYPES:
            raise BackendError(
                f"{where}: existing object has media type {media_type!r}; not overwritten"
            )
        self.media_type: str = media_type
        config = document.get("config")
        config_type = config.get("mediaType") if isinstance(config, dict) else None
        self.config_media_type: str = (
            config_type if isinstance(config_type, str) else OCI_CONFIG_MEDIA_TYPE
        )
        annotations = document.get("annotations", {})
        if not _is_string_map(annotations):
            raise BackendError(
                f"{where}: existing {noun} has malformed annotations; not overwritten"
            )
        self.annotations: dict[str, str] | None = annotations or None
        self.layers: list[dict[str, Any]] = []
        self.diff_ids: list[Digest] = []
        for number, raw in enumerate(document["layers"], start=1):
            digest = _descriptor_digest(raw)
            if digest is None:
                raise BackendError(
                    f"{where}: layer {number} of the existing {noun} is malformed "
                    "(mediaType, size or digest); not overwritten"
                )
            self.layers.append(raw)
            self.diff_ids.append(digest)

    def holds(self, payload: bytes, public_key: PublicKey) -> bool:
        """True when a layer already has a signature by ``public_key`` over ``payload``."""
        payload_digest = str(Digest.of(payload))
        for raw in self.layers:
            if (
                raw.get("mediaType") != SIMPLESIGNING_MEDIA_TYPE
                or raw.get("digest") != payload_digest
            ):
                continue
            annotations = raw.get("annotations")
            encoded = (
                annotations.get(SIGNATURE_ANNOTATION) if isinstance(annotations, dict) else None
            )
            if not isinstance(encoded, str):
                continue
            try:
                signature = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            if public_key.verify(signature, payload):
                return True
        return False


def sign_image(
    sink: ArtifactSink,
    source: ManifestSource,
    image: ResolvedImage,
    private_key: SupportedPrivateKey,
    *,
    annotations: Mapping[str, str] | None = None,
    signature_repository: ImageReference | None = None,
) -> Digest:
    """Sign ``image.digest`` with ``private_key``, push the signature, return the manifest digest.

    ``annotations`` become the payload's ``optional`` map (cosign ``-a k=v``);
    ``signature_repository`` is where the ``.sig`` manifest goes (cosign's
    ``COSIGN_REPOSITORY``), by default the image's repository. Registry
    failures raise ``BackendError``; an existing ``.sig`` object we cannot
    read is never overwritten.
    """
    key = check_private_key(private_key, "signing key")
    public = key.public_key()
    public_key = PublicKey(key=public, fingerprint=fingerprint_of(public), label="signing key")
    payload = build_payload(image.digest, docker_reference(image.reference), annotations)
    signature = sign_payload(key, payload)
    base = signature_repository or image.reference
    target = ImageReference(registry=base.registry, repository=base.repository)
    tag = signature_tag(image.digest)
    where = f"{target.name}:{tag}"

    fetched = source.fetch_manifest(target, tag)
    existing = ExistingManifest(fetched.data, where) if fetched is not None else None
    if existing is not None and fetched is not None and existing.holds(payload, public_key):
        return fetched.digest
    layers = [reserialise_descriptor(raw) for raw in existing.layers] if existing else []
    diff_ids = list(existing.diff_ids) if existing else []
    if len(layers) + 1 > MAX_SIGNATURE_LAYERS:
        raise BackendError(f"{where}: already holds {len(layers)} signatures (cosign's limit)")
    layers.append(signature_layer(payload, signature))
    diff_ids.append(Digest.of(payload))
    config = signature_config(diff_ids)
    try:
        manifest = signature_manifest(
            config,
            layers,
            media_type=existing.media_type if existing else OCI_MANIFEST_MEDIA_TYPE,
            config_media_type=existing.config_media_type if existing else OCI_CONFIG_MEDIA_TYPE,
            annotations=existing.annotations if existing else None,
        )
    except TypeError as exc:  # e.g. a float in an old layer's platform: Go would re-format it
        raise BackendError(f"{where}: existing layers cannot be re-serialised ({exc})") from None

    for blob in (payload, config):
        pushed = sink.push_blob(target, blob)
        if pushed != Digest.of(blob):
            raise BackendError(
                f"{target.name}: registry stored blob as {pushed}, expected {Digest.of(blob)}"
            )
    media_type = existing.media_type if existing else OCI_MANIFEST_MEDIA_TYPE
    expected = Digest.of(manifest)
    pushed = sink.push_manifest(target, tag, manifest, media_type)
    if pushed != expected:
        raise BackendError(
            f"{where}: registry stored the manifest as {pushed}, expected {expected}"
        )
    return expected
