"""Image reference parsing and normalisation, as docker and podman do it."""

from __future__ import annotations

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference, normalise_registry

HEX = "a" * 64
DIGEST = f"sha256:{HEX}"


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("alpine", "docker.io", "library/alpine", "latest", None),
        ("alpine:3.19", "docker.io", "library/alpine", "3.19", None),
        ("library/alpine", "docker.io", "library/alpine", "latest", None),
        ("docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("index.docker.io/alpine", "docker.io", "library/alpine", "latest", None),
        ("registry-1.docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", None),
        ("user/app", "docker.io", "user/app", "latest", None),
        ("ghcr.io/org/team/app:v1.2.3", "ghcr.io", "org/team/app", "v1.2.3", None),
        ("localhost/app", "localhost", "app", "latest", None),
        ("localhost:5000/app:1.0", "localhost:5000", "app", "1.0", None),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000", "a/b", "latest", None),
        ("[::1]:5000/app:1", "[::1]:5000", "app", "1", None),
        ("[fe80::1]/app", "[fe80::1]", "app", "latest", None),
        (f"app@{DIGEST}", "docker.io", "library/app", None, DIGEST),
        (f"quay.io/a/b:tag@{DIGEST}", "quay.io", "a/b", "tag", DIGEST),
        (f"localhost:5000/app:1.0@{DIGEST}", "localhost:5000", "app", "1.0", DIGEST),
        (
            "my-registry.example.com:443/a__b/c-d/e.f:T_1-x.y",
            "my-registry.example.com",
            "a__b/c-d/e.f",
            "T_1-x.y",
            None,
        ),
        ("localhost:5000", "docker.io", "library/localhost", "5000", None),
    ],
)
def test_valid_references(
    text: str, registry: str, repository: str, tag: str | None, digest: str | None
) -> None:
    reference = ImageReference.parse(text)
    assert reference.registry == registry
    assert reference.repository == repository
    assert reference.tag == tag
    assert reference.digest == (Digest.parse(digest) if digest else None)


@pytest.mark.parametrize(
    "text",
    [
        "",
        " alpine",
        "alpine ",
        "Alpine",
        "ghcr.io/Org/app",
        "app:",
        "app:-bad",
        "app:tä",
        "app:" + "x" * 129,
        "app@sha256:short",
        "app@sha256:" + "A" * 64,
        "app@md5:" + "a" * 32,
        "app@",
        "a//b",
        "app/",
        "-app",
        "app\n:1",
        "app:v1\n@" + DIGEST,
        "ghcr.io/app\n",
        "exa_mple.com/app",
        "::1/app",
        "ghcr.io/" + "a" * 250,
        "reg.example:0/app",
        "reg.example:65536/app",
        "[:::]/app",
        "[1::2::3]:5000/app",
        "REGISTRY-1.DOCKER.IO/Library/nginx",
        # A host only by its capitals: lowercased it would print as a Docker Hub name.
        "EVIL/x",
        "Registry/app:1",
    ],
)
def test_invalid_references(text: str) -> None:
    with pytest.raises(InputError, match="invalid image reference"):
        ImageReference.parse(text)


@pytest.mark.parametrize(
    ("text", "name"),
    [
        # Every spelling of one registry is one name, so a glob denying it holds.
        ("REGISTRY-1.DOCKER.IO/library/nginx", "docker.io/library/nginx"),
        ("registry-1.docker.io:443/library/nginx", "docker.io/library/nginx"),
        ("Index.Docker.IO/nginx", "docker.io/library/nginx"),
        ("DOCKER.IO:443/nginx", "docker.io/library/nginx"),
        ("docker.io:0443/bitnami/redis", "docker.io/bitnami/redis"),
        ("EVIL.example.com/x", "evil.example.com/x"),
        ("evil.example.com:443/x", "evil.example.com/x"),
        ("Evil.Example.Com:443/x", "evil.example.com/x"),
        ("evil.example.com:05000/x", "evil.example.com:5000/x"),
        ("LOCALHOST/app", "localhost/app"),
        ("LocalHost:5000/app", "localhost:5000/app"),
        ("localhost:443/app", "localhost/app"),
        # A one-label host keeps :443: "registry/app" would be a Docker Hub repository.
        ("Registry:443/app", "registry:443/app"),
        ("registry:0443/app", "registry:443/app"),
        # Another port is another registry: no folding into Docker Hub.
        ("registry-1.docker.io:5000/nginx", "registry-1.docker.io:5000/nginx"),
        ("evil.example.com:8443/x", "evil.example.com:8443/x"),
        # IPv6 literals keep their brackets and get one spelling too.
        ("[::1]:5000/app", "[::1]:5000/app"),
        ("[FE80::1]:443/app", "[fe80::1]/app"),
        ("[fe80:0:0::0001]/app", "[fe80::1]/app"),
    ],
)
def test_registry_spellings_are_normalised(text: str, name: str) -> None:
    assert ImageReference.parse(text).name == name
    assert ImageReference.parse(f"{text}:1").name == name


@pytest.mark.parametrize(
    ("host", "normalised"),
    [
        ("Quay.IO", "quay.io"),
        ("quay.io:443", "quay.io"),
        ("REGISTRY-1.docker.io:443", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("reg.example:5000", "reg.example:5000"),
        ("[::1]:443", "[::1]"),
        ("not a host:x", "not a host:x"),
    ],
)
def test_normalise_registry(host: str, normalised: str) -> None:
    assert normalise_registry(host) == normalised


def test_docker_hub_api_host_and_display_forms() -> None:
    reference = ImageReference.parse("alpine:3")
    assert reference.api_host == "registry-1.docker.io"
    assert reference.name == "docker.io/library/alpine"
    assert str(reference) == "docker.io/library/alpine:3"
    assert ImageReference.parse("localhost:5000/app").api_host == "localhost:5000"


def test_pinning_keeps_the_tag_for_display() -> None:
    pinned = ImageReference.parse("ghcr.io/a/b:1").with_digest(Digest.parse(DIGEST))
    assert str(pinned) == f"ghcr.io/a/b:1@{DIGEST}"
    assert pinned.pinned == f"ghcr.io/a/b@{DIGEST}"
    assert pinned.with_tag("2").digest is None
    with pytest.raises(ValueError, match="not pinned"):
        _ = ImageReference.parse("ghcr.io/a/b:1").pinned


def test_round_trip_through_str() -> None:
    for text in ("ghcr.io/a/b:1", f"localhost:5000/x@{DIGEST}", "[::1]:5000/app:1"):
        assert str(ImageReference.parse(str(ImageReference.parse(text)))) == text


def test_a_host_named_only_by_capitals_is_refused_found_by_fuzzing() -> None:
    # fuzz/fuzz_reference.py: "locCCC...5000/app:1" parsed as registry "loccc...5000",
    # printed "loccc...5000/app:1", and that printed form parsed as docker.io/loccc.../app.
    text = "loc" + "C" * 54 + "5000/app:1"
    with pytest.raises(InputError, match="is a host only because of its capital letters"):
        ImageReference.parse(text)
    assert ImageReference.parse(text.lower()).registry == "docker.io"


@pytest.mark.parametrize(
    "text",
    [
        # fuzz/fuzz_reference.py: ":443" was dropped, and "indeo/..." names Docker Hub.
        "IndeO:443/liybrlraa/pine@sha256:" + "a" * 64,
        "registry:443/app:1",
        "Quay.IO:443/app",
        "[::1]:443/app",
    ],
)
def test_the_printed_form_parses_back_to_the_same_reference(text: str) -> None:
    reference = ImageReference.parse(text)
    assert ImageReference.parse(str(reference)) == reference
