"""RegistryClient against real registries (docker-registry 2.8) and small stubs.

Images are pushed with skopeo, so what the client reads was written by an
independent implementation; digests are compared with ones computed here.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.errors import BackendError, InputError, VerificationError
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.oci.manifest import DOCKER_MANIFEST, OCI_MANIFEST
from gate.oci.platform import Platform
from gate.oci.reference import ImageReference
from gate.oci.transport import DeadlineExceededError, Transport
from tests.integration.conftest import READER, REFRESH_TOKEN, TOKEN_USER
from tests.integration.registry_server import (
    RunningRegistry,
    StubResponse,
    StubServer,
    start_registry,
    write_authfile,
)
from tests.integration.token_server import TokenServer
from tests.support.images import (
    build_image,
    build_index,
    push_image,
    push_index,
    seed_manifest,
)
from tests.support.realdata import real_fixtures
from tests.support.tls import TestCA

pytestmark = pytest.mark.integration


def make_client(
    tmp_path: Path,
    *,
    authfile: Path | None = None,
    cert_dir: Path | None = None,
    timeout: float = 10.0,
    deadline: float | None = None,
    max_manifest_bytes: int = 4 * 1024 * 1024,
) -> RegistryClient:
    """A client isolated from the machine: no default auth file, no system certs.d."""
    if cert_dir is None:
        cert_dir = tmp_path / "no-certs.d"
        cert_dir.mkdir(exist_ok=True)
    return RegistryClient(
        RegistryOptions(
            authfile=authfile,
            cert_dir=cert_dir,
            timeout=timeout,
            deadline=deadline,
            max_manifest_bytes=max_manifest_bytes,
        ),
        environ={},
        home=tmp_path,
    )


def ref(registry: RunningRegistry | StubServer, text: str) -> ImageReference:
    """``<host>/<text>`` parsed."""
    return ImageReference.parse(f"{registry.host}/{text}")


@pytest.fixture(scope="module")
def app_image(registry: RunningRegistry) -> Digest:
    """A single-platform image pushed as ``app:1.0``."""
    return push_image(registry, "app", "1.0", build_image(content=b"app 1.0\n"))


@pytest.fixture(scope="module")
def multi_arch(registry: RunningRegistry) -> tuple[Digest, Digest, Digest]:
    """An index (amd64, arm64/v8) pushed as ``multi:1``: (index, amd64, arm64) digests."""
    amd64 = build_image(content=b"amd64\n", architecture="amd64")
    arm64 = build_image(content=b"arm64\n", architecture="arm64", variant="v8")
    index = build_index([amd64, arm64])
    push_index(registry, "multi", "1", index)
    return index.digest, amd64.digest, arm64.digest


# -- resolving --------------------------------------------------------------------------


def test_resolve_tag_gives_the_locally_computed_digest(
    registry: RunningRegistry, app_image: Digest, tmp_path: Path
) -> None:
    client = make_client(tmp_path)
    resolved = client.resolve(ref(registry, "app:1.0"))
    assert resolved.digest == app_image
    assert Digest.of(resolved.manifest) == app_image
    assert resolved.media_type == OCI_MANIFEST
    assert resolved.reference.digest == app_image
    assert resolved.reference.tag == "1.0"
    assert resolved.platform_digest is None
    gets = [r for r in client.requests_made if r.kind == "registry"]
    assert [(r.method, r.path, r.status) for r in gets] == [("GET", "/v2/app/manifests/1.0", 200)]


def test_resolve_by_digest_with_and_without_tag(
    registry: RunningRegistry, app_image: Digest, tmp_path: Path
) -> None:
    client = make_client(tmp_path)
    by_digest = client.resolve(ref(registry, f"app@{app_image}"))
    both = client.resolve(ref(registry, f"app:ignored-tag@{app_image}"))
    assert by_digest.digest == both.digest == app_image
    paths = [r.path for r in client.requests_made]
    assert paths == [f"/v2/app/manifests/{app_image}"] * 2


def test_missing_manifest_is_none_or_manifest_unknown(
    registry: RunningRegistry, app_image: Digest, tmp_path: Path
) -> None:
    client = make_client(tmp_path)
    assert client.fetch_manifest(ref(registry, "app"), "no-such-tag") is None
    assert client.fetch_manifest(ref(registry, "nothing-here"), "1.0") is None
    with pytest.raises(InputError, match="manifest unknown"):
        client.resolve(ref(registry, "app:no-such-tag"))


def test_index_without_platform_is_the_index(
    registry: RunningRegistry, multi_arch: tuple[Digest, Digest, Digest], tmp_path: Path
) -> None:
    index_digest, _, _ = multi_arch
    resolved = make_client(tmp_path).resolve(ref(registry, "multi:1"))
    assert resolved.digest == index_digest
    assert resolved.media_type == "application/vnd.oci.image.index.v1+json"
    assert resolved.platform_digest is None


@pytest.mark.parametrize(
    ("platform", "expected"),
    [("linux/amd64", 1), ("linux/arm64", 2), ("linux/arm64/v8", 2), ("linux/aarch64", 2)],
)
def test_index_with_platform_picks_and_fetches_the_manifest(
    registry: RunningRegistry,
    multi_arch: tuple[Digest, Digest, Digest],
    tmp_path: Path,
    platform: str,
    expected: int,
) -> None:
    client = make_client(tmp_path)
    resolved = client.resolve(ref(registry, "multi:1"), Platform.parse(platform))
    assert resolved.digest == multi_arch[0]
    assert resolved.platform_digest == multi_arch[expected]
    assert [r.path for r in client.requests_made] == [
        "/v2/multi/manifests/1",
        f"/v2/multi/manifests/{multi_arch[expected]}",
    ]


def test_index_without_the_platform_lists_what_exists(
    registry: RunningRegistry, multi_arch: tuple[Digest, Digest, Digest], tmp_path: Path
) -> None:
    with pytest.raises(InputError) as caught:
        make_client(tmp_path).resolve(ref(registry, "multi:1"), Platform.parse("linux/s390x"))
    message = str(caught.value)
    assert "linux/s390x" in message
    assert "linux/amd64" in message
    assert "linux/arm64/v8" in message


# -- blobs and pushing ------------------------------------------------------------------


def test_fetch_blob_checks_digest_and_size_cap(registry: RunningRegistry, tmp_path: Path) -> None:
    image = build_image(content=b"blob test\n")
    push_image(registry, "blobs", "1", image)
    client = make_client(tmp_path)
    layer_digest = Digest.of(image.layer)
    assert client.fetch_blob(ref(registry, "blobs"), layer_digest, 1 << 20) == image.layer
    with pytest.raises(BackendError, match="exceeds the cap"):
        client.fetch_blob(ref(registry, "blobs"), layer_digest, len(image.layer) - 1)
    with pytest.raises(BackendError, match="blob unknown"):
        client.fetch_blob(ref(registry, "blobs"), Digest.of(b"absent"), 1 << 20)


def test_push_blob_and_manifest_round_trip(registry: RunningRegistry, tmp_path: Path) -> None:
    image = build_image(content=b"pushed by gate\n")
    client = make_client(tmp_path)
    repository = ref(registry, "pushed")
    for data in (image.config, image.layer):
        assert client.push_blob(repository, data) == Digest.of(data)
    digest = client.push_manifest(repository, "v1", image.manifest, OCI_MANIFEST)
    assert digest == image.digest
    assert client.resolve(ref(registry, "pushed:v1")).digest == image.digest
    assert client.fetch_blob(repository, Digest.of(image.layer), 1 << 20) == image.layer

    before = len(client.requests_made)
    assert client.push_blob(repository, image.layer) == Digest.of(image.layer)
    assert [r.method for r in client.requests_made[before:]] == ["HEAD"]


def test_push_manifest_by_digest_must_match(registry: RunningRegistry, tmp_path: Path) -> None:
    image = build_image(content=b"by digest\n")
    client = make_client(tmp_path)
    repository = ref(registry, "pushed-digest")
    for data in image.blobs.values():
        client.push_blob(repository, data)
    assert client.push_manifest(repository, str(image.digest), image.manifest, OCI_MANIFEST) == (
        image.digest
    )
    with pytest.raises(VerificationError):
        client.push_manifest(repository, str(Digest.of(b"x")), image.manifest, OCI_MANIFEST)


def test_fetch_referrers_is_none_without_the_api(
    registry: RunningRegistry, app_image: Digest, tmp_path: Path
) -> None:
    # distribution 2.8 predates the OCI 1.1 referrers API: 404, so callers fall back to tags
    assert make_client(tmp_path).fetch_referrers(ref(registry, "app"), app_image) is None


# -- integrity --------------------------------------------------------------------------


def test_corrupted_manifest_in_storage_fails_verification(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    image = build_image(content=b"to be corrupted\n")
    push_image(registry, "corrupt", "1", image)
    stored = registry.blob_data_path(image.digest.hex)
    stored.write_bytes(image.manifest + b" ")  # still valid JSON, different bytes
    client = make_client(tmp_path)
    with pytest.raises(VerificationError, match="hashes to"):
        client.resolve(ref(registry, f"corrupt@{image.digest}"))
    with pytest.raises(VerificationError, match="hashes to"):
        client.fetch_manifest(ref(registry, "corrupt"), str(image.digest))
    # by tag the registry still claims the old digest in Docker-Content-Digest
    with pytest.raises(VerificationError, match="registry claims"):
        client.resolve(ref(registry, "corrupt:1"))


def test_oversize_manifest_is_refused(
    registry: RunningRegistry, app_image: Digest, tmp_path: Path
) -> None:
    client = make_client(tmp_path, max_manifest_bytes=64)
    with pytest.raises(BackendError, match="exceeds the cap of 64"):
        client.resolve(ref(registry, "app:1.0"))


def test_seeded_cosign_fixture_is_served_byte_for_byte(
    registry: RunningRegistry, tmp_path: Path
) -> None:
    base = real_fixtures(
        "signatures/cosign/connaisseur-testimage/registry/securesystemsengineering/testimage"
    )
    sig_tag = "sha256-071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81.sig"
    manifest = (base / "manifests" / f"{sig_tag}.json").read_bytes()
    payload_digest = Digest.parse(json.loads(manifest)["layers"][0]["digest"])
    payload = (base / "blobs" / f"{payload_digest}.json").read_bytes()
    seeded = seed_manifest(registry, "testimage", sig_tag, manifest, {payload_digest: payload})
    assert seeded == Digest.of(manifest)

    client = make_client(tmp_path)
    fetched = client.fetch_manifest(ref(registry, "testimage"), sig_tag)
    assert fetched is not None
    assert fetched.data == manifest
    assert fetched.digest == seeded
    assert client.fetch_blob(ref(registry, "testimage"), payload_digest, 1 << 16) == payload


# -- TLS and Basic auth -----------------------------------------------------------------


def test_basic_auth_over_tls_with_credentials(
    tls_registry: RunningRegistry, tmp_path: Path
) -> None:
    image = build_image(content=b"private\n")
    push_image(tls_registry, "private/app", "1", image)
    client = make_client(tmp_path, authfile=tls_registry.authfile, cert_dir=tls_registry.cert_dir)
    assert client.resolve(ref(tls_registry, "private/app:1")).digest == image.digest
    assert client.resolve(ref(tls_registry, "private/app:1")).digest == image.digest
    statuses = [r.status for r in client.requests_made]
    # anonymous first, one retry with credentials, then credentials up front
    assert statuses == [401, 200, 200]
    assert all(r.kind == "registry" for r in client.requests_made)


def test_basic_auth_with_wrong_credentials(tls_registry: RunningRegistry, tmp_path: Path) -> None:
    authfile = write_authfile(tmp_path / "wrong.json", tls_registry.host, "alice", "not-it")
    client = make_client(tmp_path, authfile=authfile, cert_dir=tls_registry.cert_dir)
    with pytest.raises(BackendError) as caught:
        client.resolve(ref(tls_registry, "private/app:1"))
    message = str(caught.value)
    assert "authentication failed" in message
    assert str(authfile) in message
    assert "not-it" not in message


def test_basic_auth_without_credentials(tls_registry: RunningRegistry, tmp_path: Path) -> None:
    client = make_client(tmp_path, cert_dir=tls_registry.cert_dir)
    with pytest.raises(BackendError) as caught:
        client.resolve(ref(tls_registry, "private/app:1"))
    message = str(caught.value)
    assert f"registry {tls_registry.host}: GET /v2/private/app/manifests/1" in message
    assert "no credentials" in message
    assert "--authfile" in message


def test_tls_without_the_ca_fails_closed(tls_registry: RunningRegistry, tmp_path: Path) -> None:
    client = make_client(tmp_path, authfile=tls_registry.authfile)
    with pytest.raises(BackendError, match="TLS failed"):
        client.resolve(ref(tls_registry, "private/app:1"))


def test_default_authfile_lookup_finds_docker_config(
    tls_registry: RunningRegistry, tmp_path: Path
) -> None:
    push_image(tls_registry, "private/lookup", "1", build_image(content=b"lookup\n"))
    docker_config = tmp_path / "docker-config"
    docker_config.mkdir()
    assert tls_registry.username is not None
    assert tls_registry.password is not None
    write_authfile(
        docker_config / "config.json",
        f"https://{tls_registry.host}/v1/",
        tls_registry.username,
        tls_registry.password,
    )
    client = RegistryClient(
        RegistryOptions(cert_dir=tls_registry.cert_dir),
        environ={"DOCKER_CONFIG": str(docker_config)},
        home=tmp_path,
    )
    assert client.authfile == docker_config / "config.json"
    client.resolve(ref(tls_registry, "private/lookup:1"))


def test_mutual_tls_with_client_certificate_from_certs_d(tmp_path: Path, test_ca: TestCA) -> None:
    running = start_registry(tmp_path / "mtls", tls=test_ca, client_ca=test_ca)
    try:
        assert running.cert_dir is not None
        without = make_client(tmp_path, cert_dir=running.cert_dir)
        with pytest.raises(BackendError, match=r"TLS failed.*wants a client certificate"):
            without.resolve(ref(running, "app:1"))
        pair = test_ca.issue_client("gate-client")
        host_dir = running.cert_dir / running.host
        shutil.copyfile(pair.cert, host_dir / "client.cert")
        shutil.copyfile(pair.key, host_dir / "client.key")
        image = build_image(content=b"mutual TLS\n")
        push_image(running, "app", "1", image)
        with_cert = make_client(tmp_path, cert_dir=running.cert_dir)
        assert with_cert.resolve(ref(running, "app:1")).digest == image.digest
    finally:
        running.stop()


# -- token auth -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def token_image(token_registry: RunningRegistry) -> Digest:
    """An image in the token registry, pushed by skopeo through the token flow."""
    return push_image(token_registry, "team/app", "1", build_image(content=b"token\n"))


def test_token_auth_and_token_caching(
    token_registry: RunningRegistry,
    token_server: TokenServer,
    token_image: Digest,
    tmp_path: Path,
) -> None:
    client = make_client(tmp_path, authfile=token_registry.authfile)
    served_before = len(token_server.requests)
    assert client.resolve(ref(token_registry, "team/app:1")).digest == token_image
    assert client.resolve(ref(token_registry, "team/app:1")).digest == token_image
    assert client.fetch_manifest(ref(token_registry, "team/app"), str(token_image)) is not None
    kinds = [(r.kind, r.status) for r in client.requests_made]
    assert kinds == [
        ("registry", 401),
        ("token", 200),
        ("registry", 200),
        ("registry", 200),  # cached token: no new token request
        ("registry", 200),
    ]
    new_requests = token_server.requests[served_before:]
    assert len(new_requests) == 1
    assert new_requests[0].account == TOKEN_USER[0]
    assert new_requests[0].scopes == ("repository:team/app:pull",)


def test_signed_image_lookup_costs_three_registry_requests_after_the_token(
    token_registry: RunningRegistry, token_image: Digest, tmp_path: Path
) -> None:
    # what `gate check` does for a cosign-signed image: resolve, .sig manifest, payload
    payload = json.dumps({"critical": {"image": {"docker-manifest-digest": str(token_image)}}})
    signature = build_image(content=b"unused")
    sig_manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": json.loads(signature.manifest)["config"],
            "layers": [
                {
                    "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                    "digest": str(Digest.of(payload.encode())),
                    "size": len(payload),
                }
            ],
        }
    ).encode()
    pusher = make_client(tmp_path, authfile=token_registry.authfile)
    repository = ref(token_registry, "team/app")
    pusher.push_blob(repository, signature.config)
    pusher.push_blob(repository, payload.encode())
    pusher.push_manifest(repository, f"{token_image.tag_form}.sig", sig_manifest, OCI_MANIFEST)

    client = make_client(tmp_path, authfile=token_registry.authfile)
    resolved = client.resolve(ref(token_registry, "team/app:1"))
    fetched = client.fetch_manifest(repository, f"{resolved.digest.tag_form}.sig")
    assert fetched is not None
    payload_digest = Digest.parse(json.loads(fetched.data)["layers"][0]["digest"])
    assert client.fetch_blob(repository, payload_digest, 1 << 16) == payload.encode()
    kinds = [(r.kind, r.status) for r in client.requests_made]
    after_token = kinds[kinds.index(("token", 200)) + 1 :]
    assert after_token == [("registry", 200)] * 3
    assert len(kinds) == 5  # plus the first anonymous 401 and the token request


def test_token_auth_push_asks_for_push_scope(
    token_registry: RunningRegistry, token_server: TokenServer, tmp_path: Path
) -> None:
    image = build_image(content=b"token push\n")
    client = make_client(tmp_path, authfile=token_registry.authfile)
    repository = ref(token_registry, "team/pushed")
    for data in image.blobs.values():
        client.push_blob(repository, data)
    client.push_manifest(repository, "1", image.manifest, OCI_MANIFEST)
    assert client.resolve(ref(token_registry, "team/pushed:1")).digest == image.digest
    token_requests = [r for r in client.requests_made if r.kind == "token"]
    assert len(token_requests) == 1  # the pull,push token also serves the pull
    assert token_server.requests[-1].scopes == ("repository:team/pushed:pull,push",)


def test_token_auth_anonymous(
    token_registry: RunningRegistry, token_image: Digest, tmp_path: Path
) -> None:
    public = build_image(content=b"public\n")
    push_image(token_registry, "public/app", "1", public)
    client = make_client(tmp_path)
    assert client.resolve(ref(token_registry, "public/app:1")).digest == public.digest
    with pytest.raises(BackendError, match="no credentials"):
        client.resolve(ref(token_registry, "team/app:1"))


def test_token_auth_with_wrong_password(
    token_registry: RunningRegistry, token_image: Digest, tmp_path: Path
) -> None:
    authfile = write_authfile(tmp_path / "wrong.json", token_registry.host, "bob", "nope")
    with pytest.raises(BackendError, match="authentication failed"):
        make_client(tmp_path, authfile=authfile).resolve(ref(token_registry, "team/app:1"))


def test_token_without_push_access_is_access_denied(
    token_registry: RunningRegistry, token_image: Digest, tmp_path: Path
) -> None:
    authfile = write_authfile(tmp_path / "reader.json", token_registry.host, *READER)
    client = make_client(tmp_path, authfile=authfile)
    assert client.resolve(ref(token_registry, "team/app:1")).digest == token_image
    with pytest.raises(BackendError, match=r"access denied for .*team/app") as caught:
        client.push_blob(ref(token_registry, "team/app"), b"not allowed")
    # HEAD needs only pull, which the reader has; opening the upload needs push
    assert "POST /v2/team/app/blobs/uploads/: 401 Unauthorized" in str(caught.value)


def test_identity_token_uses_oauth2_refresh(
    token_registry: RunningRegistry,
    token_server: TokenServer,
    token_image: Digest,
    tmp_path: Path,
) -> None:
    authfile = tmp_path / "identity.json"
    authfile.write_text(
        json.dumps(
            {
                "auths": {
                    token_registry.host: {
                        "auth": base64.b64encode(b"<token>:").decode(),
                        "identitytoken": REFRESH_TOKEN,
                    }
                }
            }
        )
    )
    client = make_client(tmp_path, authfile=authfile)
    assert client.resolve(ref(token_registry, "team/app:1")).digest == token_image
    assert token_server.requests[-1].method == "POST"
    assert token_server.requests[-1].account == TOKEN_USER[0]


# -- misbehaving servers (stubs) ---------------------------------------------------------


@pytest.fixture
def stub_answer() -> list[StubResponse]:
    """Set ``stub_answer[0]`` to what the ``stub`` server should answer."""
    return [StubResponse(500)]


@pytest.fixture
def stub(stub_answer: list[StubResponse]) -> Iterator[StubServer]:
    """A stub registry answering every request with ``stub_answer[0]``."""
    server = StubServer(lambda method, path, headers: stub_answer[0])
    yield server
    server.stop()


def test_server_error_is_one_line_backend_error(stub: StubServer, tmp_path: Path) -> None:
    with pytest.raises(BackendError) as caught:
        make_client(tmp_path).resolve(ref(stub, "app:1.0"))
    assert str(caught.value) == (
        f"registry {stub.host}: GET /v2/app/manifests/1.0: 500 Internal Server Error"
    )


GARBAGE = {
    "not JSON": (OCI_MANIFEST, b"<html>not json</html>"),
    "unsupported manifest media type": ("text/html", b"<html>login page</html>"),
    "contradicts": (
        OCI_MANIFEST,
        b'{"schemaVersion": 2, "mediaType": "' + DOCKER_MANIFEST.encode() + b'"}',
    ),
    "not a JSON object": (OCI_MANIFEST, b"[1, 2]"),
}


@pytest.mark.parametrize("reason", sorted(GARBAGE))
def test_garbage_manifest_is_backend_error(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path, reason: str
) -> None:
    content_type, body = GARBAGE[reason]
    stub_answer[0] = StubResponse(200, {"Content-Type": content_type}, body)
    with pytest.raises(BackendError, match=reason) as caught:
        make_client(tmp_path).resolve(ref(stub, "app:1.0"))
    assert f"registry {stub.host}: GET /v2/app/manifests/1.0" in str(caught.value)


def test_schema1_manifest_is_rejected_clearly(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path
) -> None:
    stub_answer[0] = StubResponse(
        200,
        {"Content-Type": "application/vnd.docker.distribution.manifest.v1+prettyjws"},
        b'{"schemaVersion": 1, "name": "app", "tag": "1.0", "fsLayers": []}',
    )
    with pytest.raises(InputError, match="schema 1"):
        make_client(tmp_path).resolve(ref(stub, "app:1.0"))


def test_lying_docker_content_digest_is_verification_error(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path
) -> None:
    manifest = build_image().manifest
    stub_answer[0] = StubResponse(
        200,
        {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": str(Digest.of(b"other"))},
        manifest,
    )
    with pytest.raises(VerificationError, match="registry claims"):
        make_client(tmp_path).resolve(ref(stub, "app:1.0"))


def test_oversize_manifest_from_chunked_stream_is_refused(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path
) -> None:
    body = b'{"schemaVersion": 2, "pad": "' + b"x" * 5000 + b'"}'
    # no Content-Length to refuse up front: the cap is enforced on what arrives
    stub_answer[0] = StubResponse(
        200, {"Content-Type": OCI_MANIFEST, "Connection": "close"}, body, send_length=False
    )
    with pytest.raises(BackendError, match="exceeds the cap"):
        make_client(tmp_path, max_manifest_bytes=1000).resolve(ref(stub, "app:1.0"))


def test_connection_refused_is_backend_error(tmp_path: Path) -> None:
    stub = StubServer(lambda method, path, headers: StubResponse(200))
    host = stub.host
    stub.stop()  # nothing listens on that port any more
    with pytest.raises(BackendError, match="connection refused") as caught:
        make_client(tmp_path, timeout=2.0).resolve(ImageReference.parse(f"{host}/app:1.0"))
    assert f"registry {host}: GET /v2/app/manifests/1.0" in str(caught.value)


def test_slow_server_hits_the_timeout(tmp_path: Path) -> None:
    def slow(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        time.sleep(1.5)
        return StubResponse(500)

    stub = StubServer(slow)
    try:
        with pytest.raises(BackendError, match=r"no answer within 0\.3s"):
            make_client(tmp_path, timeout=0.3).resolve(ref(stub, "app:1.0"))
    finally:
        stub.stop()


def test_blob_redirect_to_another_host_drops_credentials(tmp_path: Path) -> None:
    blob = b"redirected blob"
    digest = Digest.of(blob)
    storage = StubServer(lambda method, path, headers: StubResponse(200, body=blob))
    storage_port = storage.host.rsplit(":", 1)[1]

    def registry_answer(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        if "Authorization" not in headers:
            return StubResponse(401, {"WWW-Authenticate": 'Basic realm="stub"'})
        # "localhost" is another host than "127.0.0.1" as far as credentials go
        return StubResponse(307, {"Location": f"http://localhost:{storage_port}/data/{digest}"})

    registry = StubServer(registry_answer)
    try:
        authfile = write_authfile(tmp_path / "auth.json", registry.host, "u", "secret")
        client = make_client(tmp_path, authfile=authfile)
        assert client.fetch_blob(ref(registry, "app"), digest, 1024) == blob
        assert "Authorization" in registry.seen[-1].headers
        assert storage.seen
        assert all("Authorization" not in seen.headers for seen in storage.seen)
    finally:
        registry.stop()
        storage.stop()


def test_plain_http_choice_is_remembered_per_host() -> None:
    stub = StubServer(lambda method, path, headers: StubResponse(200, body=b"{}"))
    transport = Transport(
        cert_dirs=(), insecure_registries=(), timeout=2.0, user_agent="t", proxies={}
    )
    try:
        assert transport.scheme_for(stub.host) is None
        assert transport.request("GET", stub.host, "/v2/").status == 200
        assert transport.scheme_for(stub.host) == "http"
        assert transport.request("GET", stub.host, "/v2/").status == 200
        assert [r.path for r in transport.records] == ["/v2/", "/v2/"]
    finally:
        transport.close()
        stub.stop()


def test_blob_with_wrong_content_is_verification_error(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path
) -> None:
    stub_answer[0] = StubResponse(200, body=b"not what was asked for")
    with pytest.raises(VerificationError, match="hashes to"):
        make_client(tmp_path).fetch_blob(ref(stub, "app"), Digest.of(b"expected"), 1024)


def test_unsupported_challenge_scheme(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path
) -> None:
    stub_answer[0] = StubResponse(401, {"WWW-Authenticate": 'Negotiate, NTLM realm="x"'})
    with pytest.raises(BackendError, match="unsupported authentication scheme"):
        make_client(tmp_path).resolve(ref(stub, "app:1.0"))


def test_registry_error_codes_are_quoted(
    stub: StubServer, stub_answer: list[StubResponse], tmp_path: Path
) -> None:
    body = json.dumps({"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]})
    stub_answer[0] = StubResponse(429, {"Content-Type": "application/json"}, body.encode())
    with pytest.raises(BackendError) as caught:
        make_client(tmp_path).resolve(ref(stub, "app:1.0"))
    assert str(caught.value) == (
        f"registry {stub.host}: GET /v2/app/manifests/1.0: 429 Too Many Requests "
        "(TOOMANYREQUESTS: slow down), no Retry-After given"
    )


# -- total deadline per request ----------------------------------------------------------


def _dripping(body: bytes, *, drip: float, send_length: bool = True) -> StubServer:
    """A stub that answers 200 at once, then sends ``body`` one byte every ``drip`` s."""
    headers = {"Content-Type": OCI_MANIFEST}
    if not send_length:
        headers["Connection"] = "close"
    answer = StubResponse(200, headers, body, send_length=send_length, drip=drip)
    return StubServer(lambda method, path, headers: answer)


# Each byte comes well within the per-read timeout; only a total deadline stops it.
DRIPPED = b'{"schemaVersion": 2, "pad": "' + b"x" * 200 + b'"}'
GENEROUS = 20.0  # seconds: far below the ~50 s the drip would take, far above the deadline


@pytest.mark.parametrize("send_length", [True, False], ids=["content-length", "until-close"])
def test_dripping_body_hits_the_deadline(tmp_path: Path, send_length: bool) -> None:
    stub = _dripping(DRIPPED, drip=0.25, send_length=send_length)
    client = make_client(tmp_path, timeout=2.0, deadline=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(DeadlineExceededError) as caught:
            client.resolve(ref(stub, "app:1.0"))
    finally:
        client.close()
        stub.stop()
    assert str(caught.value) == (
        f"registry {stub.host}: GET /v2/app/manifests/1.0: "
        "no complete answer within the 1s deadline"
    )
    assert isinstance(caught.value, BackendError)
    assert time.monotonic() - started < GENEROUS


def test_default_deadline_is_three_times_the_timeout(tmp_path: Path) -> None:
    stub = _dripping(DRIPPED, drip=0.25)
    client = make_client(tmp_path, timeout=0.5)
    try:
        with pytest.raises(DeadlineExceededError, match=r"within the 1\.5s deadline"):
            client.resolve(ref(stub, "app:1.0"))
    finally:
        client.close()
        stub.stop()


def test_dripping_body_over_tls_hits_the_deadline(tmp_path: Path, test_ca: TestCA) -> None:
    answer = StubResponse(200, {"Content-Type": OCI_MANIFEST}, DRIPPED, drip=0.25)
    stub = StubServer(lambda method, path, headers: answer, tls=test_ca.issue_server("drip"))
    cert_dir = tmp_path / "certs.d"
    (cert_dir / stub.host).mkdir(parents=True)
    shutil.copyfile(test_ca.ca_cert, cert_dir / stub.host / "ca.crt")
    client = make_client(tmp_path, cert_dir=cert_dir, timeout=2.0, deadline=1.0)
    try:
        with pytest.raises(DeadlineExceededError) as caught:
            client.resolve(ref(stub, "app:1.0"))
    finally:
        client.close()
        stub.stop()
    # One line, and no "over HTTPS and HTTP": a deadline is no reason to try plain HTTP.
    assert str(caught.value) == (
        f"registry {stub.host}: GET /v2/app/manifests/1.0: "
        "no complete answer within the 1s deadline"
    )


def test_body_within_the_deadline_is_read(tmp_path: Path) -> None:
    manifest = build_image().manifest
    answer = StubResponse(200, {"Content-Type": OCI_MANIFEST}, manifest)
    stub = StubServer(lambda method, path, headers: answer)
    client = make_client(tmp_path, timeout=2.0, deadline=5.0)
    try:
        assert client.resolve(ref(stub, "app:1.0")).digest == Digest.of(manifest)
    finally:
        client.close()
        stub.stop()


# -- redirects to plain HTTP -------------------------------------------------------------


REMOTE = "registry.test"  # resolved to 127.0.0.1 below, but not a loopback *name*


@pytest.fixture
def remote_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``registry.test`` resolve to 127.0.0.1, as a remote registry would to its IP."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        return real("127.0.0.1" if host == REMOTE else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _https_redirecting_to(
    tmp_path: Path, test_ca: TestCA, location: str
) -> tuple[StubServer, Path]:
    """An HTTPS stub for ``registry.test`` redirecting everything to ``location``."""
    pair = test_ca.issue_server("remote", hosts=(REMOTE,))
    stub = StubServer(
        lambda method, path, headers: StubResponse(307, {"Location": location}), tls=pair
    )
    port = stub.host.rsplit(":", 1)[1]
    cert_dir = tmp_path / "certs.d"
    (cert_dir / f"{REMOTE}:{port}").mkdir(parents=True)
    shutil.copyfile(test_ca.ca_cert, cert_dir / f"{REMOTE}:{port}" / "ca.crt")
    return stub, cert_dir


@pytest.mark.usefixtures("remote_name")
def test_https_registry_cannot_redirect_to_plain_http_loopback(
    tmp_path: Path, test_ca: TestCA
) -> None:
    local = StubServer(lambda method, path, headers: StubResponse(200, body=b"local secret"))
    stub, cert_dir = _https_redirecting_to(tmp_path, test_ca, f"http://{local.host}/admin")
    remote = f"{REMOTE}:{stub.host.rsplit(':', 1)[1]}"
    transport = Transport(
        cert_dirs=(cert_dir,), insecure_registries=(), timeout=2.0, user_agent="t", proxies={}
    )
    try:
        with pytest.raises(BackendError) as caught:
            transport.request("GET", remote, "/v2/app/blobs/x")
        assert str(caught.value) == (
            f"registry {remote}: GET /v2/app/blobs/x: refusing redirect to plain HTTP at "
            f"{local.host} from {remote}, which is not allowed plain HTTP"
        )
        assert local.seen == []
        # The same redirect from a registry that is itself allowed plain HTTP is followed.
        insecure = Transport(
            cert_dirs=(cert_dir,),
            insecure_registries=(remote,),
            timeout=2.0,
            user_agent="t",
            proxies={},
        )
        try:
            assert insecure.request("GET", remote, "/v2/app/blobs/x").body == b"local secret"
        finally:
            insecure.close()
    finally:
        transport.close()
        stub.stop()
        local.stop()


# -- token lifetimes -------------------------------------------------------------------


class _Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("expires_in", ["NaN", "Infinity", "-1", "1e999", "99999999999"])
def test_token_with_a_nonsense_lifetime_still_expires(tmp_path: Path, expires_in: str) -> None:
    manifest = build_image().manifest
    token_requests: list[str] = []
    hosts: list[str] = []

    def answer(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        if path.startswith("/token"):
            token_requests.append(path)
            # json.loads reads NaN and Infinity; 1e999 is infinity too
            body = f'{{"token": "t{len(token_requests)}", "expires_in": {expires_in}}}'
            return StubResponse(200, {"Content-Type": "application/json"}, body.encode())
        if headers.get("Authorization", "").startswith("Bearer t"):
            return StubResponse(200, {"Content-Type": OCI_MANIFEST}, manifest)
        challenge = f'Bearer realm="http://{hosts[0]}/token",service="stub"'
        return StubResponse(401, {"WWW-Authenticate": challenge})

    stub = StubServer(answer)
    hosts.append(stub.host)
    clock = _Clock()
    client = RegistryClient(
        RegistryOptions(cert_dir=tmp_path, timeout=2.0), environ={}, home=tmp_path, clock=clock
    )
    try:
        client.resolve(ref(stub, "app:1.0"))
        client.resolve(ref(stub, "app:1.0"))
        assert len(token_requests) == 1  # cached
        clock.now += 4 * 3600  # longer than any token is kept, whatever the server said
        client.resolve(ref(stub, "app:1.0"))
        assert len(token_requests) == 2
    finally:
        client.close()
        stub.stop()
