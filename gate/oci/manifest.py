"""OCI and Docker manifests: media types, parsing into typed objects, platform choice.

Only the four current manifest kinds are accepted (OCI image manifest and
index, Docker schema 2 manifest and manifest list). Docker schema 1 is
rejected with a sentence saying so; anything else fails closed. Parsing is
pure: bytes in, frozen dataclasses out, ``InputError`` naming the field when
the JSON is not a manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.platform import Platform

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1_TYPES = frozenset(
    {
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    }
)

IMAGE_MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES | INDEX_TYPES
#: The ``Accept`` header value for manifest GETs, most specific first.
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST))


@dataclass(frozen=True)
class Descriptor:
    """A typed pointer to content: media type, digest and size (plus optional extras)."""

    media_type: str
    digest: Digest
    size: int
    platform: Platform | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageManifest:
    """An OCI image manifest or Docker schema 2 manifest: a config and ordered layers.

    cosign signature objects and OCI referrer artifacts are image manifests too.
    """

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class ImageIndex:
    """An OCI image index or Docker manifest list: one manifest per platform (or artifact)."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def platforms(self) -> tuple[Platform, ...]:
        """The platforms of the entries that name one (attestation entries excluded)."""
        return tuple(
            d.platform
            for d in self.manifests
            if d.platform is not None and d.platform.os != "unknown"
        )


def is_index(media_type: str) -> bool:
    """True for an OCI image index or a Docker manifest list."""
    return media_type in INDEX_TYPES


def normalise_media_type(content_type: str | None) -> str:
    """The bare media type of a ``Content-Type`` header (parameters dropped, lowercased)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def parse_manifest(data: bytes, media_type: str, *, source: str) -> ImageManifest | ImageIndex:
    """Parse manifest ``data`` served as ``media_type``; raise ``InputError`` naming ``source``.

    The ``mediaType`` field inside the JSON, when present, must agree with
    ``media_type``: a disagreement is a type-confusion attempt or a broken
    registry, and either way nothing downstream should guess.
    """
    document = load_manifest_json(data, media_type, source=source)
    if media_type in INDEX_TYPES:
        entries = _list(document, "manifests", source)
        return ImageIndex(
            media_type=media_type,
            manifests=tuple(
                _descriptor(entry, f"manifests[{i}]", source) for i, entry in enumerate(entries)
            ),
            subject=_optional_descriptor(document, "subject", source),
            artifact_type=_optional_str(document, "artifactType", source),
            annotations=_annotations(document, "annotations", source),
        )
    layers = _list(document, "layers", source)
    config = document.get("config")
    if config is None:
        raise InputError("missing", source=source, field="config")
    return ImageManifest(
        media_type=media_type,
        config=_descriptor(config, "config", source),
        layers=tuple(_descriptor(layer, f"layers[{i}]", source) for i, layer in enumerate(layers)),
        subject=_optional_descriptor(document, "subject", source),
        artifact_type=_optional_str(document, "artifactType", source),
        annotations=_annotations(document, "annotations", source),
    )


def load_manifest_json(data: bytes, media_type: str, *, source: str) -> dict[str, Any]:
    """Decode manifest JSON and check its kind; the shared first step of every parse.

    Raises ``InputError`` for schema 1, unknown media types, non-JSON,
    ``schemaVersion`` other than 2 and a ``mediaType`` field that contradicts
    ``media_type``.
    """
    if media_type in DOCKER_SCHEMA1_TYPES:
        raise _schema1_error(source)
    if media_type not in MANIFEST_TYPES:
        raise InputError(
            f"unsupported manifest media type {media_type or '(none)'!r}; expected one of "
            f"{', '.join(sorted(MANIFEST_TYPES))}",
            source=source,
        )
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"manifest is not JSON ({exc})", source=source) from exc
    if not isinstance(document, dict):
        raise InputError("manifest is not a JSON object", source=source)
    schema_version = document.get("schemaVersion")
    if schema_version == 1 and not isinstance(schema_version, bool):
        raise _schema1_error(source)
    if schema_version != 2 or isinstance(schema_version, bool):
        raise InputError(
            f"expected 2, got {schema_version!r}", source=source, field="schemaVersion"
        )
    declared = document.get("mediaType")
    if declared is not None and declared != media_type:
        raise InputError(
            f"{declared!r} contradicts the Content-Type {media_type!r}",
            source=source,
            field="mediaType",
        )
    return document


def select_platform(index: ImageIndex, wanted: Platform, *, source: str) -> Descriptor:
    """The index entry for ``wanted``; ``InputError`` listing what is available otherwise.

    Only image manifests are eligible (a nested index is not an image). When
    several entries match, the first in index order wins, as runtimes do.
    """
    for entry in index.manifests:
        if (
            entry.platform is not None
            and entry.media_type in IMAGE_MANIFEST_TYPES
            and wanted.matches(entry.platform)
        ):
            return entry
    available = ", ".join(str(p) for p in index.platforms) or "none"
    raise InputError(f"no manifest for platform {wanted} (available: {available})", source=source)


class Schema1ManifestError(InputError):
    """A Docker schema 1 manifest: deprecated, and not content-addressable as served."""


def _schema1_error(source: str) -> InputError:
    return Schema1ManifestError(
        "Docker schema 1 manifests are not supported (deprecated and unsigned by content); "
        "push the image again with a current client",
        source=source,
    )


def _descriptor(value: object, where: str, source: str) -> Descriptor:
    if not isinstance(value, dict):
        raise InputError("not a JSON object", source=source, field=where)
    media_type = value.get("mediaType")
    if not isinstance(media_type, str) or not media_type:
        raise InputError("missing or not a string", source=source, field=f"{where}.mediaType")
    digest_text = value.get("digest")
    if not isinstance(digest_text, str):
        raise InputError("missing or not a string", source=source, field=f"{where}.digest")
    try:
        digest = Digest.parse(digest_text)
    except InputError as exc:
        raise InputError(exc.reason, source=source, field=f"{where}.digest") from exc
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InputError(
            f"expected a non-negative integer, got {size!r}", source=source, field=f"{where}.size"
        )
    urls = value.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise InputError("expected a list of strings", source=source, field=f"{where}.urls")
    return Descriptor(
        media_type=media_type,
        digest=digest,
        size=size,
        platform=_platform(value.get("platform"), f"{where}.platform", source),
        artifact_type=_optional_str(value, "artifactType", source, where),
        annotations=_annotations(value, "annotations", source, where),
        urls=tuple(urls),
    )


def _platform(value: object, where: str, source: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError("not a JSON object", source=source, field=where)
    os_name = value.get("os")
    arch = value.get("architecture")
    variant = value.get("variant")
    if not isinstance(os_name, str) or not isinstance(arch, str):
        raise InputError("os and architecture must be strings", source=source, field=where)
    if variant is not None and not isinstance(variant, str):
        raise InputError("not a string", source=source, field=f"{where}.variant")
    return Platform.of(os_name, arch, variant or None)


def _optional_descriptor(document: Mapping[str, Any], key: str, source: str) -> Descriptor | None:
    value = document.get(key)
    return None if value is None else _descriptor(value, key, source)


def _optional_str(
    document: Mapping[str, Any], key: str, source: str, where: str | None = None
) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError("not a string", source=source, field=_join(where, key))
    return value


def _annotations(
    document: Mapping[str, Any], key: str, source: str, where: str | None = None
) -> dict[str, str]:
    value = document.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise InputError("expected an object of strings", source=source, field=_join(where, key))
    return dict(value)


def _list(document: Mapping[str, Any], key: str, source: str) -> Sequence[object]:
    value = document.get(key)
    if not isinstance(value, list):
        raise InputError("missing or not a list", source=source, field=key)
    return value


def _join(where: str | None, key: str) -> str:
    return f"{where}.{key}" if where else key
