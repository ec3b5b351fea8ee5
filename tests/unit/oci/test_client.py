"""RegistryClient checks that need no network: options, arguments, auth file loading."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from gate.errors import InputError, VerificationError
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.oci.manifest import OCI_MANIFEST
from gate.oci.reference import ImageReference
from gate.oci.transport import proxies_from_environment

# Nothing listens here; every test below must fail before any request is sent.
REPOSITORY = ImageReference.parse("127.0.0.1:9/app")


@pytest.fixture
def client(tmp_path: Path) -> RegistryClient:
    """A client with no auth file and no certs.d."""
    empty = tmp_path / "certs.d"
    empty.mkdir()
    return RegistryClient(RegistryOptions(cert_dir=empty), environ={}, home=tmp_path)


@pytest.mark.parametrize("timeout", [0, -1.0, math.nan, math.inf, -math.inf])
def test_registry_timeout_must_be_a_positive_finite_number(tmp_path: Path, timeout: float) -> None:
    with pytest.raises(InputError) as caught:
        RegistryClient(RegistryOptions(timeout=timeout), environ={}, home=tmp_path)
    assert str(caught.value) == "--registry-timeout must be a positive number of seconds"


def test_registry_timeout_and_deadline_bounds(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--registry-timeout must be at most 3600 seconds"):
        RegistryClient(RegistryOptions(timeout=1e300), environ={}, home=tmp_path)
    for deadline in (0.0, -1.0, math.nan, math.inf, 1e300):
        with pytest.raises(InputError, match="registry deadline must be a positive number"):
            RegistryClient(
                RegistryOptions(timeout=1.0, deadline=deadline), environ={}, home=tmp_path
            )
    RegistryClient(RegistryOptions(timeout=0.5, deadline=2), environ={}, home=tmp_path).close()


def test_client_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="certificate directory not found"):
        RegistryClient(RegistryOptions(cert_dir=tmp_path / "nope"), environ={}, home=tmp_path)
    client = RegistryClient(environ={}, home=tmp_path)
    assert client.authfile is None
    assert client.requests_made == ()


@pytest.mark.parametrize("tag", ["../../etc", "a/b", "", "-x", "t" * 129, "tä"])
def test_invalid_tags_are_refused_before_any_request(client: RegistryClient, tag: str) -> None:
    with pytest.raises(InputError, match="invalid tag"):
        client.fetch_manifest(REPOSITORY, tag)
    with pytest.raises(InputError, match="invalid tag"):
        client.push_manifest(REPOSITORY, tag, b"{}", OCI_MANIFEST)
    assert client.requests_made == ()


def test_invalid_digest_reference(client: RegistryClient) -> None:
    with pytest.raises(InputError, match="not a valid digest"):
        client.fetch_manifest(REPOSITORY, "sha256:nothex")


def test_push_manifest_checks_media_type_and_digest_first(client: RegistryClient) -> None:
    with pytest.raises(InputError, match="media type"):
        client.push_manifest(REPOSITORY, "v1", b"{}", "application/json")
    with pytest.raises(VerificationError, match="hashes to"):
        client.push_manifest(REPOSITORY, str(Digest.of(b"other")), b"{}", OCI_MANIFEST)
    assert client.requests_made == ()


def test_proxies_come_from_the_given_environment() -> None:
    assert proxies_from_environment(
        {"HTTPS_PROXY": "http://proxy:3128", "no_proxy": ".internal", "HOME": "/root"}
    ) == {"https": "http://proxy:3128", "no": ".internal"}
    assert proxies_from_environment({}) == {}
