"""Manifest parsing: supported kinds, schema 1 refusal, malformed fields, platform choice."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageIndex,
    ImageManifest,
    Schema1ManifestError,
    normalise_media_type,
    parse_manifest,
    select_platform,
)
from gate.oci.platform import Platform

D1 = str(Digest.of(b"one"))
D2 = str(Digest.of(b"two"))
D3 = str(Digest.of(b"three"))


def _bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def _manifest(**extra: Any) -> dict[str, Any]:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": D1,
            "size": 3,
        },
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": D2,
                "size": 3,
                "annotations": {"dev.cosignproject.cosign/signature": "MEUC"},
            }
        ],
        **extra,
    }


def _index(entries: list[tuple[str, dict[str, str] | None]]) -> bytes:
    manifests = []
    for digest, platform in entries:
        entry: dict[str, Any] = {"mediaType": OCI_MANIFEST, "digest": digest, "size": 10}
        if platform is not None:
            entry["platform"] = platform
        manifests.append(entry)
    return _bytes({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})


def test_parse_image_manifest() -> None:
    parsed = parse_manifest(_bytes(_manifest()), OCI_MANIFEST, source="m")
    assert isinstance(parsed, ImageManifest)
    assert parsed.config.digest == Digest.parse(D1)
    assert parsed.layers[0].annotations == {"dev.cosignproject.cosign/signature": "MEUC"}
    assert parsed.subject is None


def test_parse_referrer_style_manifest_with_subject() -> None:
    document = _manifest(
        artifactType="application/vnd.dev.sigstore.bundle.v0.3+json",
        subject={"mediaType": OCI_MANIFEST, "digest": D3, "size": 100},
    )
    parsed = parse_manifest(_bytes(document), OCI_MANIFEST, source="m")
    assert isinstance(parsed, ImageManifest)
    assert parsed.artifact_type == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert parsed.subject is not None
    assert parsed.subject.digest == Digest.parse(D3)


def test_docker_manifest_without_media_type_field_uses_content_type() -> None:
    document = _manifest()
    del document["mediaType"]
    parsed = parse_manifest(_bytes(document), DOCKER_MANIFEST, source="m")
    assert parsed.media_type == DOCKER_MANIFEST


def test_parse_index_and_platforms() -> None:
    data = _index(
        [
            (D1, {"os": "linux", "architecture": "amd64"}),
            (D2, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
            (D3, {"os": "unknown", "architecture": "unknown"}),
        ]
    )
    parsed = parse_manifest(data, OCI_INDEX, source="i")
    assert isinstance(parsed, ImageIndex)
    assert [str(p) for p in parsed.platforms] == ["linux/amd64", "linux/arm64/v8"]
    entry = select_platform(parsed, Platform.parse("linux/arm64"), source="i")
    assert entry.digest == Digest.parse(D2)


def test_select_platform_lists_available_when_missing() -> None:
    parsed = parse_manifest(
        _index([(D1, {"os": "linux", "architecture": "amd64"})]), OCI_INDEX, source="img"
    )
    assert isinstance(parsed, ImageIndex)
    with pytest.raises(
        InputError,
        match=r"no manifest for platform linux/s390x \(available: "
        r"linux/amd64\)",
    ):
        select_platform(parsed, Platform.parse("linux/s390x"), source="img")


def test_select_platform_skips_nested_indexes() -> None:
    document = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_LIST,
        "manifests": [
            {
                "mediaType": OCI_INDEX,
                "digest": D1,
                "size": 1,
                "platform": {"os": "linux", "architecture": "amd64"},
            }
        ],
    }
    parsed = parse_manifest(_bytes(document), DOCKER_MANIFEST_LIST, source="i")
    assert isinstance(parsed, ImageIndex)
    with pytest.raises(InputError, match="no manifest for platform"):
        select_platform(parsed, Platform.parse("linux/amd64"), source="i")


@pytest.mark.parametrize(
    "media_type",
    [
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
    ],
)
def test_schema1_media_types_are_refused(media_type: str) -> None:
    with pytest.raises(Schema1ManifestError, match="schema 1"):
        parse_manifest(b'{"schemaVersion": 1}', media_type, source="m")


def test_schema1_body_is_refused_whatever_the_content_type() -> None:
    with pytest.raises(Schema1ManifestError, match="schema 1"):
        parse_manifest(b'{"schemaVersion": 1, "fsLayers": []}', DOCKER_MANIFEST, source="m")


@pytest.mark.parametrize(
    ("data", "media_type", "message"),
    [
        (b"not json", OCI_MANIFEST, "not JSON"),
        (b"[]", OCI_MANIFEST, "not a JSON object"),
        (b'{"schemaVersion": 3}', OCI_MANIFEST, "schemaVersion: expected 2"),
        (b'{"schemaVersion": true}', OCI_MANIFEST, "schemaVersion: expected 2"),
        (_bytes(_manifest()), "application/json", "unsupported manifest media type"),
        (_bytes(_manifest()), "", r"unsupported manifest media type '\(none\)'"),
        (_bytes(_manifest()), OCI_INDEX, "mediaType:.*contradicts"),
        (_bytes(_manifest(config=None)), OCI_MANIFEST, "config: missing"),
        (_bytes(_manifest(layers={})), OCI_MANIFEST, "layers: missing or not a list"),
        (
            _bytes(_manifest(layers=[{"mediaType": "x", "digest": "sha256:zz", "size": 1}])),
            OCI_MANIFEST,
            r"layers\[0\].digest: not a valid digest",
        ),
        (
            _bytes(_manifest(layers=[{"mediaType": "x", "digest": D1, "size": -1}])),
            OCI_MANIFEST,
            r"layers\[0\].size",
        ),
        (
            _bytes(_manifest(layers=[{"mediaType": "x", "digest": D1, "size": True}])),
            OCI_MANIFEST,
            r"layers\[0\].size",
        ),
        (
            _bytes(_manifest(annotations={"a": 1})),
            OCI_MANIFEST,
            "annotations: expected an object of strings",
        ),
    ],
)
def test_malformed_manifests(data: bytes, media_type: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        parse_manifest(data, media_type, source="fixture.json")
    assert str(caught.value).startswith("fixture.json")


def test_normalise_media_type() -> None:
    assert normalise_media_type(f"{OCI_MANIFEST}; charset=utf-8") == OCI_MANIFEST
    assert normalise_media_type(" Application/JSON ") == "application/json"
    assert normalise_media_type(None) == ""
