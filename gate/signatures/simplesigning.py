"""The cosign "simple signing" payload: what a key-based cosign signature covers.

Shape (as cosign writes it, compact, fields in Go struct order)::

    {"critical":{"identity":{"docker-reference":"index.docker.io/x/y"},
                 "image":{"docker-manifest-digest":"sha256:<hex>"},
                 "type":"cosign container image signature"},
     "optional":null}

Building reproduces cosign's bytes exactly. Parsing is strict: cosign reads
payloads with Go's ``encoding/json``, which matches keys case-insensitively
and keeps the last of duplicate keys, so any payload on which another parser
could read a different digest (duplicates, case-colliding or non-ASCII keys)
is refused before a field is read, and unknown fields at the top level or in
``critical`` are refused as the containers signature format requires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gate.errors import InputError
from gate.json_types import json_type as _json_type
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures import gojson

COSIGN_SIGNATURE_TYPE = "cosign container image signature"
#: How go-containerregistry names Docker Hub in ``Repository.Name()``.
GO_CONTAINERREGISTRY_DOCKER_HUB = "index.docker.io"

_SOURCE = "simple signing payload"


@dataclass(frozen=True)
class SimpleSigningPayload:
    """The fields of a parsed payload; the caller compares ``image_digest`` with its image.

    ``docker_reference`` is the signer's claimed repository (cosign ignores it
    by default); ``optional`` the signer's annotations (signed, but only used
    when a policy asks for them), or None when the payload says ``null``.
    """

    image_digest: Digest
    docker_reference: str
    optional: dict[str, Any] | None


def docker_reference(reference: ImageReference) -> str:
    """The repository name as cosign writes it into ``critical.identity.docker-reference``.

    cosign uses go-containerregistry's ``Repository.Name()``, which spells
    Docker Hub ``index.docker.io`` (our references say ``docker.io``).
    """
    registry = reference.registry
    if registry == "docker.io":
        registry = GO_CONTAINERREGISTRY_DOCKER_HUB
    return f"{registry}/{reference.repository}"


def build_payload(
    digest: Digest, docker_reference: str, annotations: Mapping[str, str] | None = None
) -> bytes:
    """The payload bytes ``cosign sign`` would produce for ``digest``.

    No annotations gives ``"optional":null`` (cosign leaves the map nil);
    annotations become a JSON object with sorted keys, escaped like Go does.
    """
    optional = gojson.go_map(annotations) if annotations else None
    return gojson.marshal(
        {
            "critical": {
                "identity": {"docker-reference": docker_reference},
                "image": {"docker-manifest-digest": str(digest)},
                "type": COSIGN_SIGNATURE_TYPE,
            },
            "optional": optional,
        }
    )


def _struct_fields(obj: object, path: str, known: frozenset[str], source: str) -> dict[str, Any]:
    """The members of a JSON object decoded into a Go struct, keyed by lower-case name.

    Go matches struct fields case-insensitively, so two keys that differ only
    in case would be one field to Go (last wins) and two to a naive reader:
    refuse. Non-ASCII keys are refused too, because Go's folding also maps
    e.g. KELVIN SIGN to ``k``. Unknown fields are refused (fail closed).
    """
    if not isinstance(obj, dict):
        raise InputError(f"must be a JSON object, got {_json_type(obj)}", source=source, field=path)
    fields: dict[str, Any] = {}
    for key, value in obj.items():
        where = f"{path}.{key}" if path else key
        if not key.isascii():
            raise InputError("non-ASCII key refused", source=source, field=where)
        folded = key.lower()
        if folded in fields:
            raise InputError(
                "key repeated with different letter case (parsers would disagree)",
                source=source,
                field=where,
            )
        if folded not in known:
            raise InputError("unknown field refused", source=source, field=where)
        fields[folded] = value
    return fields


def _required_string(fields: dict[str, Any], name: str, path: str, source: str) -> str:
    where = f"{path}.{name}"
    if name not in fields:
        raise InputError("missing", source=source, field=where)
    value = fields[name]
    if not isinstance(value, str):
        raise InputError(f"must be a string, got {_json_type(value)}", source=source, field=where)
    return value


def parse_payload(data: bytes, *, source: str = _SOURCE) -> SimpleSigningPayload:
    """Parse and check a simple signing payload; ``InputError`` names the field and reason.

    Checks: strict JSON, no duplicate or case-colliding keys, no unknown
    fields, ``critical.type`` exactly ``cosign container image signature``,
    a valid ``docker-manifest-digest`` and a non-empty ``docker-reference``
    (cosign cannot parse a payload without one), ``optional`` an object or null.
    """
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise InputError(str(exc), source=source) from None
    top = _struct_fields(document, "", frozenset({"critical", "optional"}), source)
    if "critical" not in top:
        raise InputError("missing", source=source, field="critical")
    critical = _struct_fields(
        top["critical"], "critical", frozenset({"identity", "image", "type"}), source
    )
    kind = _required_string(critical, "type", "critical", source)
    if kind != COSIGN_SIGNATURE_TYPE:
        raise InputError(
            f"is {kind!r}, expected {COSIGN_SIGNATURE_TYPE!r}", source=source, field="critical.type"
        )
    if "image" not in critical:
        raise InputError("missing", source=source, field="critical.image")
    image = _struct_fields(
        critical["image"], "critical.image", frozenset({"docker-manifest-digest"}), source
    )
    digest_text = _required_string(image, "docker-manifest-digest", "critical.image", source)
    try:
        digest = Digest.parse(digest_text)
    except InputError as exc:
        raise InputError(
            exc.reason, source=source, field="critical.image.docker-manifest-digest"
        ) from None
    if "identity" not in critical:
        raise InputError("missing", source=source, field="critical.identity")
    identity = _struct_fields(
        critical["identity"], "critical.identity", frozenset({"docker-reference"}), source
    )
    reference = _required_string(identity, "docker-reference", "critical.identity", source)
    if not reference:
        raise InputError("is empty", source=source, field="critical.identity.docker-reference")
    optional = top.get("optional")
    if optional is not None and not isinstance(optional, dict):
        raise InputError(
            f"must be an object or null, got {_json_type(optional)}",
            source=source,
            field="optional",
        )
    return SimpleSigningPayload(image_digest=digest, docker_reference=reference, optional=optional)


def reference_matches(claimed: str, repository: ImageReference) -> bool:
    """True when the payload's ``docker-reference`` names ``repository``.

    Both sides are normalised (``index.docker.io`` is ``docker.io``, a tag or
    digest on the claimed reference is ignored), so only the repository counts.
    """
    try:
        parsed = ImageReference.parse(claimed)
    except InputError:
        return False
    return parsed.name == repository.name
