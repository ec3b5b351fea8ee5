"""Referrers discovery: the tag schema against docker-registry 2.8, the API against a test double.

Docker distribution 2.8 has no referrers API (it answers 404), so the
fallback, an OCI index under the tag ``sha256-<hex>`` of the subject, is
exercised against the real registry. The API path runs against
``StubServer`` answering ``GET /v2/<name>/referrers/<digest>`` exactly as
the OCI distribution spec describes it (an OCI index, the ``artifactType``
filter applied and announced in ``OCI-Filters-Applied``), because no
registry serving the API can run here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from gate.errors import BackendError
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.oci.manifest import OCI_INDEX, OCI_MANIFEST
from gate.oci.reference import ImageReference
from gate.oci.referrers import list_referrers
from tests.integration.gate_cli import isolate_environment
from tests.integration.registry_server import RunningRegistry, StubResponse, StubServer
from tests.support.images import (
    build_image,
    harness_session,
    push_image,
    put_manifest,
    upload_blob,
)

pytestmark = pytest.mark.integration

SIGNATURE_TYPE = "application/vnd.cncf.notary.signature"
SBOM_TYPE = "application/spdx+json"
EMPTY_CONFIG = b"{}"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _artifact(subject: Digest, subject_size: int, artifact_type: str) -> bytes:
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": str(Digest.of(EMPTY_CONFIG)),
            "size": len(EMPTY_CONFIG),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.empty.v1+json",
                "digest": str(Digest.of(EMPTY_CONFIG)),
                "size": len(EMPTY_CONFIG),
            }
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": str(subject), "size": subject_size},
    }
    return json.dumps(document).encode()


def _index(entries: list[tuple[bytes, str]]) -> bytes:
    return json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": str(Digest.of(data)),
                    "size": len(data),
                    "artifactType": artifact_type,
                }
                for data, artifact_type in entries
            ],
        }
    ).encode()


def test_tag_schema_fallback_on_docker_distribution(registry: RunningRegistry) -> None:
    image = build_image(content=b"referred to")
    subject = push_image(registry, "refs/app", "1", image)
    session = harness_session(registry, "refs/app")
    upload_blob(registry, session, "refs/app", EMPTY_CONFIG)
    signature = _artifact(subject, len(image.manifest), SIGNATURE_TYPE)
    sbom = _artifact(subject, len(image.manifest), SBOM_TYPE)
    for data in (signature, sbom):
        put_manifest(
            registry, session, "refs/app", str(Digest.of(data)), data, media_type=OCI_MANIFEST
        )
    index = _index([(signature, SIGNATURE_TYPE), (sbom, SBOM_TYPE)])
    put_manifest(registry, session, "refs/app", subject.tag_form, index, media_type=OCI_INDEX)
    repository = ImageReference.parse(f"{registry.host}/refs/app")
    with RegistryClient(RegistryOptions()) as client:
        everything = list_referrers(client, repository, subject)
        signatures = list_referrers(client, repository, subject, SIGNATURE_TYPE)
        other = build_image(content=b"nobody refers to this")
        lonely = push_image(registry, "refs/app", "2", other)
        nothing = list_referrers(client, repository, lonely)
    assert everything.via == "tag-schema"
    assert [r.digest for r in everything.referrers] == [Digest.of(signature), Digest.of(sbom)]
    assert [r.digest for r in signatures.referrers] == [Digest.of(signature)]
    assert signatures.referrers[0].size == len(signature)
    assert nothing.referrers == ()


class ReferrersApi:
    """A registry double for ``/v2/<name>/referrers/<digest>`` and nothing else."""

    def __init__(self, index: dict[str, Any], *, apply_filter: bool = True) -> None:
        self.index = index
        self.apply_filter = apply_filter

    def __call__(self, method: str, path: str, headers: dict[str, str]) -> StubResponse:
        parts = urlsplit(path)
        if method != "GET" or "/referrers/" not in parts.path:
            return StubResponse(404, {"Content-Type": "application/json"}, b'{"errors":[]}')
        document = dict(self.index)
        response_headers = {"Content-Type": OCI_INDEX}
        wanted = parse_qs(parts.query).get("artifactType")
        if wanted and self.apply_filter:
            document["manifests"] = [
                m for m in document["manifests"] if m.get("artifactType") in wanted
            ]
            response_headers["OCI-Filters-Applied"] = "artifactType"
        return StubResponse(200, response_headers, json.dumps(document).encode())


def _api_index() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        _index(
            [
                (_artifact(Digest.of(b"x"), 1, SIGNATURE_TYPE), SIGNATURE_TYPE),
                (_artifact(Digest.of(b"x"), 1, SBOM_TYPE), SBOM_TYPE),
            ]
        )
    )
    return document


@pytest.mark.parametrize("server_filters", [True, False])
def test_referrers_api_is_used_and_filtered(server_filters: bool) -> None:
    subject = Digest.of(b"subject manifest")
    stub = StubServer(ReferrersApi(_api_index(), apply_filter=server_filters))
    try:
        repository = ImageReference.parse(f"{stub.host}/refs/app")
        with RegistryClient(RegistryOptions()) as client:
            listing = list_referrers(client, repository, subject, SIGNATURE_TYPE)
    finally:
        stub.stop()
    assert listing.via == "api"
    assert [r.artifact_type for r in listing.referrers] == [SIGNATURE_TYPE]
    asked = [s.path for s in stub.seen if "/referrers/" in s.path]
    assert asked == [
        f"/v2/refs/app/referrers/{subject}?artifactType={SIGNATURE_TYPE.replace('/', '%2F')}"
    ]


@pytest.mark.parametrize(
    ("index", "reason"),
    [
        ({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": "nope"}, "manifests"),
        (
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"digest": "sha256:12"}]},
            "manifests[0].digest",
        ),
        (
            {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [{"digest": str(Digest.of(b"a")), "mediaType": OCI_MANIFEST}],
            },
            "manifests[0].size",
        ),
    ],
)
def test_malformed_referrers_answers_fail_closed(index: dict[str, Any], reason: str) -> None:
    stub = StubServer(ReferrersApi(index))
    try:
        repository = ImageReference.parse(f"{stub.host}/refs/app")
        with RegistryClient(RegistryOptions()) as client, pytest.raises(BackendError) as caught:
            list_referrers(client, repository, Digest.of(b"s"))
    finally:
        stub.stop()
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
