"""Notation (Notary Project v2) as a signature kind: signatures found through OCI referrers.

Discovery: the signatures of image digest ``D`` are OCI artifacts whose
``subject`` is ``D``, listed by the registry's referrers API, or by the
referrers tag schema (an index tagged ``sha256-<hex>``) on registries without
it (``gate.oci.referrers``), filtered to artifact type
``application/vnd.cncf.notary.signature``.

Each listed signature manifest is fetched by digest and must be a Notation
signature manifest: an OCI image manifest with either ``artifactType`` =
the Notation type and the empty config, or (OCI 1.0 registries) no
artifact type and a config of the Notation media type; ``subject`` = the
image; exactly one layer, a JWS or COSE envelope of bounded size. The
envelope is fetched (re-hashed by the source), opened (``envelope``),
checked against the image (digest, manifest size, media type) and then
against the authority's ``notation`` trust block (``chain``), with its
verification level. The thumbprint annotation is not used: it is unsigned.

At least one signature must pass everything enforced. Every signature that
does not count gets one sentence in ``rejections``; a registry failure is
``AuthorityResult.error`` (could not decide, fail closed); no signature at
all is a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

from gate.clock import Clock, system_clock
from gate.errors import BackendError, GateError, InputError, PolicyError
from gate.oci.digest import Digest
from gate.oci.manifest import OCI_MANIFEST
from gate.oci.reference import ImageReference
from gate.oci.referrers import Referrer, ReferrerSource, list_referrers
from gate.oci.source import ManifestSource, ResolvedImage
from gate.signatures import gojson
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.notation.authority import NotationTrust
from gate.signatures.notation.chain import VerifyTimestamp, describe, evaluate_trust
from gate.signatures.notation.envelope import (
    ENVELOPE_MEDIA_TYPES,
    MAX_ENVELOPE_SIZE,
    NotationError,
    check_target,
    open_envelope,
)
from gate.signatures.trust import TrustAuthority

KIND: Final = "notation"
SIGNATURE_ARTIFACT_TYPE: Final = "application/vnd.cncf.notary.signature"
EMPTY_CONFIG_MEDIA_TYPE: Final = "application/vnd.oci.empty.v1+json"
#: How many signature manifests are examined per image (the notation CLI's default).
MAX_SIGNATURES: Final = 100


class NotationSource(ManifestSource, ReferrerSource, Protocol):
    """What the verifier reads from a registry (``RegistryClient`` implements it)."""


@dataclass(frozen=True)
class _Found:
    """One signature manifest read as far as it can be without trust material."""

    label: str  # how sentences name it
    problem: str | None = None
    envelope_digest: Digest | None = None
    envelope_media_type: str = ""
    envelope_size: int = 0


class NotationVerifier:
    """A ``SignatureVerifier`` for authorities with a ``notation`` trust block.

    ``verify_timestamp`` is the trust policy's ``verifyTimestamp`` (the
    ``NotationTrust`` block does not carry it yet): ``always`` by default.
    """

    def __init__(
        self,
        source: NotationSource,
        *,
        clock: Clock = system_clock,
        verify_timestamp: VerifyTimestamp = VerifyTimestamp.ALWAYS,
    ) -> None:
        self._source = source
        self._clock = clock
        self._verify_timestamp = verify_timestamp

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        """The Notation signatures of ``image`` that count for ``authority``; why not the others."""
        name = authority.name
        trust = authority.notation
        if trust is None:
            return AuthorityResult(name, error=f"authority '{name}' has no notation trust block")
        now = self._clock()
        repository = ImageReference(
            registry=image.reference.registry, repository=image.reference.repository
        )
        try:
            listing = list_referrers(
                self._source, repository, image.digest, artifact_type=SIGNATURE_ARTIFACT_TYPE
            )
        except GateError as exc:
            return AuthorityResult(
                name, error=f"listing Notation signatures of {image.digest} failed: {exc}"
            )
        if not listing.referrers:
            return AuthorityResult(
                name,
                rejections=(
                    f"no Notation signature found for {image.digest} in {repository.name} "
                    f"(referrers {listing.via})",
                ),
            )
        notes: list[str] = []
        referrers = listing.referrers
        if len(referrers) > MAX_SIGNATURES:
            notes.append(
                f"{len(referrers)} signatures listed; only the first {MAX_SIGNATURES} were examined"
            )
            referrers = referrers[:MAX_SIGNATURES]
        signatures: list[VerifiedSignature] = []
        rejections: list[str] = []
        for referrer in referrers:
            try:
                outcome = self._check(image, repository, referrer, trust, now)
            except BackendError as exc:
                what = f"Notation signature {_short(referrer.digest)}"
                return AuthorityResult(name, error=f"{what} could not be fetched: {exc}")
            except PolicyError as exc:
                return AuthorityResult(name, error=f"notation trust block of '{name}': {exc}")
            if isinstance(outcome, str):
                rejections.append(outcome)
                continue
            label, signer, extra = outcome
            signatures.append(
                VerifiedSignature(
                    authority=name,
                    kind=KIND,
                    signer=trust.signer_id,
                    signer_label=signer,
                    digest=image.digest,
                )
            )
            notes.extend(f"{label}: {note}" for note in extra)
        return AuthorityResult(
            name, signatures=tuple(signatures), rejections=tuple(rejections), notes=tuple(notes)
        )

    def _check(
        self,
        image: ResolvedImage,
        repository: ImageReference,
        referrer: Referrer,
        trust: NotationTrust,
        now: datetime,
    ) -> tuple[str, str, tuple[str, ...]] | str:
        """(label, signer DN, notes) for a signature that counts, else the sentence why not."""
        found = self._manifest(image, repository, referrer)
        if found.problem is not None:
            return f"{found.label}: {found.problem}"
        assert found.envelope_digest is not None  # noqa: S101 - set whenever problem is None
        try:
            data = self._source.fetch_blob(repository, found.envelope_digest, MAX_ENVELOPE_SIZE)
        except BackendError:
            raise
        except GateError as exc:  # content does not match its digest, or exceeds the cap
            return f"{found.label}: envelope blob unusable: {exc}"
        if len(data) != found.envelope_size:
            return (
                f"{found.label}: envelope blob is {len(data)} bytes, the manifest says "
                f"{found.envelope_size}"
            )
        try:
            envelope = open_envelope(data, found.envelope_media_type, source=found.label)
            check_target(
                envelope,
                digest=image.digest,
                size=len(image.manifest),
                media_type=image.media_type,
            )
            outcome = evaluate_trust(
                envelope, trust, now=now, verify_timestamp=self._verify_timestamp
            )
        except NotationError as exc:
            return f"{exc} ({exc.check.value})"
        return found.label, describe(envelope.leaf), outcome.notes

    def _manifest(
        self, image: ResolvedImage, repository: ImageReference, referrer: Referrer
    ) -> _Found:
        label = f"Notation signature {_short(referrer.digest)}"
        if referrer.media_type != OCI_MANIFEST:
            return _Found(
                label, f"listed with media type {referrer.media_type!r}, not {OCI_MANIFEST}"
            )
        try:
            fetched = self._source.fetch_manifest(repository, str(referrer.digest))
        except BackendError:
            raise
        except GateError as exc:  # content does not match the listed digest, or not a manifest
            return _Found(label, f"signature manifest unusable: {exc}")
        if fetched is None:
            return _Found(label, "listed by the registry but not found")
        try:
            document = gojson.loads_strict(fetched.data)
        except ValueError as exc:
            return _Found(label, f"signature manifest is not usable JSON: {exc}")
        if not isinstance(document, dict):
            return _Found(label, "signature manifest is not a JSON object")
        problem = _manifest_problem(document, image)
        if problem is not None:
            return _Found(label, problem)
        layer = document["layers"][0]
        return _Found(
            label,
            envelope_digest=Digest.parse(layer["digest"]),
            envelope_media_type=layer["mediaType"],
            envelope_size=layer["size"],
        )


def _short(digest: Digest) -> str:
    return f"{digest.algorithm}:{digest.hex[:12]}.."


def _descriptor_problem(value: object, where: str) -> str | None:
    if not isinstance(value, dict):
        return f"{where} is missing or not an object"
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        return f"{where}.mediaType is missing"
    digest = value.get("digest")
    try:
        Digest.parse(digest if isinstance(digest, str) else "")
    except InputError:
        return f"{where}.digest is missing or invalid"
    size = value.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        return f"{where}.size is missing or invalid"
    return None


def _manifest_problem(document: Mapping[str, Any], image: ResolvedImage) -> str | None:
    """Why ``document`` is not a Notation signature manifest for ``image`` (None if it is)."""
    if document.get("schemaVersion") != 2:
        return "signature manifest schemaVersion is not 2"
    if document.get("mediaType") != OCI_MANIFEST:
        return f"signature manifest media type is not {OCI_MANIFEST}"
    config = document.get("config")
    problem = _descriptor_problem(config, "config")
    if problem is not None:
        return problem
    assert isinstance(config, dict)  # noqa: S101 - checked by _descriptor_problem
    artifact_type = document.get("artifactType")
    if artifact_type == SIGNATURE_ARTIFACT_TYPE:
        if config["mediaType"] != EMPTY_CONFIG_MEDIA_TYPE:
            return f"config media type {config['mediaType']!r} is not {EMPTY_CONFIG_MEDIA_TYPE}"
    elif artifact_type is None:
        if config["mediaType"] != SIGNATURE_ARTIFACT_TYPE:
            return f"neither artifactType nor config media type is {SIGNATURE_ARTIFACT_TYPE}"
    else:
        return f"artifactType {artifact_type!r} is not {SIGNATURE_ARTIFACT_TYPE}"
    subject = document.get("subject")
    problem = _descriptor_problem(subject, "subject")
    if problem is not None:
        return problem
    assert isinstance(subject, dict)  # noqa: S101 - checked by _descriptor_problem
    if subject["digest"] != str(image.digest):
        return f"subject is {subject['digest']}, not the image {image.digest}"
    if subject["size"] != len(image.manifest):
        return f"subject size {subject['size']} is not the image manifest's {len(image.manifest)}"
    layers = document.get("layers")
    if not isinstance(layers, list) or len(layers) != 1:
        return "a Notation signature manifest must have exactly one layer (the envelope)"
    problem = _descriptor_problem(layers[0], "layers[0]")
    if problem is not None:
        return problem
    layer = layers[0]
    if layer["mediaType"] not in ENVELOPE_MEDIA_TYPES:
        return (
            f"envelope media type {layer['mediaType']!r} is neither application/jose+json "
            "nor application/cose"
        )
    if layer["size"] > MAX_ENVELOPE_SIZE:
        return (
            f"envelope of {layer['size']} bytes exceeds the {MAX_ENVELOPE_SIZE}-byte limit "
            "(not fetched)"
        )
    return None
