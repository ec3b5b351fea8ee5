"""Registry allowlist and the addresses the gate never connects to."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.allowlist import HostPolicy, RegistryNotAllowedError
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.reference import ImageReference


@pytest.mark.parametrize(
    ("entry", "host", "allowed"),
    [
        ("registry.acme.io", "registry.acme.io", True),
        ("registry.acme.io", "REGISTRY.acme.io:5000", True),  # no port: every port
        ("registry.acme.io:5000", "registry.acme.io:5000", True),
        ("registry.acme.io:5000", "registry.acme.io", False),
        ("registry.acme.io:5000", "registry.acme.io:5001", False),
        ("*.acme.io", "eu.registry.acme.io", True),
        ("*.acme.io", "acme.io", False),
        ("*.acme.io", "evilacme.io", False),
        ("*.acme.io", "acme.io.evil.net", False),
        ("*.acme.io:443", "x.acme.io", True),  # 443 is the default port, as in references
        ("docker.io", "registry-1.docker.io", True),  # references spell Docker Hub one way
        ("127.0.0.1:5000", "127.0.0.1:5000", True),
        ("127.0.0.1:5000", "127.0.0.2:5000", False),
    ],
)
def test_entries_match_anchored(entry: str, host: str, allowed: bool) -> None:
    policy = HostPolicy([entry])
    if allowed:
        policy.check_registry(host)
    else:
        with pytest.raises(RegistryNotAllowedError, match="not in the allowed registries"):
            policy.check_registry(host)


def test_without_an_allowlist_any_registry_may_be_asked() -> None:
    policy = HostPolicy()
    assert not policy.restricted
    policy.check_registry("anything.example.com")


@pytest.mark.parametrize("entry", ["", "*", "*.", "a/b", "reg*.io"])
def test_bad_entries_are_refused(entry: str) -> None:
    with pytest.raises(InputError, match="not a registry host"):
        HostPolicy([entry])


@pytest.mark.parametrize(
    "netloc",
    [
        "169.254.169.254",
        "169.254.169.254:80",
        "[fe80::1]:5000",
        "0.0.0.0:5000",
        "[::]",
        "[::ffff:169.254.169.254]",
        "224.0.0.1",
    ],
)
def test_link_local_and_unspecified_addresses_are_never_contacted(netloc: str) -> None:
    with pytest.raises(RegistryNotAllowedError, match="refusing to connect"):
        HostPolicy().check_connection(netloc)


def test_an_address_named_in_the_allowlist_may_be_contacted() -> None:
    HostPolicy(["169.254.10.10:5000"]).check_connection("169.254.10.10:5000")


def test_a_name_resolving_to_the_metadata_service_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def lookup(name: str, *_args: Any, **_kwargs: Any) -> list[tuple[Any, ...]]:
        assert name == "metadata.internal"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    policy = HostPolicy()
    with pytest.raises(RegistryNotAllowedError, match="resolves to a link-local"):
        policy.check_connection("metadata.internal:80")


def test_loopback_and_ordinary_addresses_pass() -> None:
    policy = HostPolicy()
    policy.check_connection("127.0.0.1:5000")
    policy.check_connection("[::1]:5000")
    policy.check_connection("10.0.0.1")


def _client(tmp_path: Path, allowed: tuple[str, ...] | None = None) -> RegistryClient:
    certs = tmp_path / "certs.d"
    certs.mkdir(exist_ok=True)
    return RegistryClient(
        RegistryOptions(cert_dir=certs, timeout=2.0, allowed_registries=allowed),
        environ={},
        home=tmp_path,
    )


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every socket connect attempted during the test (none is let through)."""
    attempts: list[object] = []

    def connect(_self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError("connection refused (test)")

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


def test_a_reference_to_the_metadata_service_makes_no_connection(
    tmp_path: Path, connections: list[object]
) -> None:
    client = _client(tmp_path)
    with pytest.raises(RegistryNotAllowedError, match=r"refusing to connect to 169\.254\.169\.254"):
        client.resolve(ImageReference.parse("169.254.169.254/latest/meta-data:x"))
    assert connections == []


def test_a_registry_outside_the_allowlist_makes_no_connection(
    tmp_path: Path, connections: list[object]
) -> None:
    client = _client(tmp_path, ("registry.acme.io", "*.corp.example"))
    with pytest.raises(RegistryNotAllowedError) as caught:
        client.resolve(ImageReference.parse("evil.example.net/app:1"))
    assert str(caught.value) == (
        "registry evil.example.net is not in the allowed registries; the gate does not contact it"
    )
    assert connections == []
