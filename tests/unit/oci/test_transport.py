"""Transport policy: loopback detection, plain-HTTP permission, certs.d loading, no_proxy."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from gate.errors import BackendError, InputError
from gate.oci.transport import (
    Transport,
    bypasses_proxy,
    is_loopback,
    load_tls_context,
    split_host_port,
)
from tests.support.tls import TestCA


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", ("localhost", None)),
        ("LOCALHOST:5000", ("localhost", 5000)),
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("[::1]:5000", ("::1", 5000)),
        ("[::1]", ("::1", None)),
        ("ghcr.io", ("ghcr.io", None)),
    ],
)
def test_split_host_port(host: str, expected: tuple[str, int | None]) -> None:
    assert split_host_port(host) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("localhost", True),
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("127.8.9.10", True),
        ("[::1]:5000", True),
        ("[::2]:5000", False),
        ("128.0.0.1", False),
        ("localhost.evil.example", False),
        ("ghcr.io", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def _transport(insecure: tuple[str, ...] = ()) -> Transport:
    return Transport(
        cert_dirs=(), insecure_registries=insecure, timeout=1.0, user_agent="t", proxies={}
    )


def test_plain_http_only_for_loopback_and_listed_hosts() -> None:
    transport = _transport(("reg.internal:5000", "Other.Internal"))
    assert transport.plain_http_allowed("127.0.0.1:5000")
    assert transport.plain_http_allowed("reg.internal:5000")
    assert not transport.plain_http_allowed("reg.internal:5001")
    assert transport.plain_http_allowed("other.internal:1234")  # no port listed: any port
    assert not transport.plain_http_allowed("ghcr.io")


def test_insecure_entries_are_spelled_like_references() -> None:
    transport = _transport(("Reg.Internal:443", "other.internal:05000", "[FD00::1]"))
    assert transport.plain_http_allowed("reg.internal")  # references drop ":443"
    assert transport.plain_http_allowed("reg.internal:443")
    assert not transport.plain_http_allowed("reg.internal:5000")  # a port was listed
    assert transport.plain_http_allowed("OTHER.internal:5000")
    assert transport.plain_http_allowed("[fd00::1]:5000")  # no port listed: any port
    assert not transport.plain_http_allowed("[fd00::2]")


def test_plain_http_realm_named_by_a_registry_not_allowed_plain_http_is_refused() -> None:
    transport = _transport()
    with pytest.raises(BackendError) as caught:
        transport.request_url("GET", "http://127.0.0.1:9/token", origin_host="ghcr.io")
    assert str(caught.value) == (
        "token server 127.0.0.1:9: refusing plain HTTP named by registry ghcr.io, "
        "which is not allowed plain HTTP itself"
    )
    assert transport.records == ()


def test_token_realm_over_plain_http_to_a_remote_host_is_refused() -> None:
    with pytest.raises(BackendError, match="refusing plain HTTP"):
        _transport().request_url("GET", "http://auth.example/token")
    with pytest.raises(BackendError, match="not an http"):
        _transport().request_url("GET", "ftp://auth.example/token")


def test_credentials_never_go_over_plain_http_to_a_remote_host() -> None:
    transport = _transport(("reg.internal",))
    with pytest.raises(BackendError, match="refusing to send credentials over plain HTTP"):
        transport.request_url(
            "GET", "http://reg.internal/v2/", headers={"Authorization": "Basic eDp5"}
        )
    assert transport.records == ()


def test_certs_d_loading(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    client_pair = ca.issue_client("client")
    host_dir = tmp_path / "certs.d" / "reg.example:5000"
    host_dir.mkdir(parents=True)
    (host_dir / "ca.crt").write_bytes(ca.ca_cert.read_bytes())
    (host_dir / "client.cert").write_bytes(client_pair.cert.read_bytes())
    (host_dir / "client.key").write_bytes(client_pair.key.read_bytes())
    (host_dir / "README").write_text("ignored")

    baseline = len(ssl.create_default_context().get_ca_certs())
    context = load_tls_context("reg.example:5000", [tmp_path / "certs.d", tmp_path / "absent"])
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    subjects = [str(c["subject"]) for c in context.get_ca_certs()]
    assert any("gate test CA" in subject for subject in subjects)
    assert len(context.get_ca_certs()) == baseline + 1
    other = load_tls_context("other.example", [tmp_path / "certs.d"])
    assert len(other.get_ca_certs()) == baseline


def test_certs_d_of_host_443_serves_the_host_without_port(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    host_dir = tmp_path / "certs.d" / "reg.example:443"
    host_dir.mkdir(parents=True)
    (host_dir / "ca.crt").write_bytes(ca.ca_cert.read_bytes())
    baseline = len(ssl.create_default_context().get_ca_certs())
    # "reg.example:443/app" is parsed as "reg.example/app"; docker's certs.d says ":443".
    context = load_tls_context("reg.example", [tmp_path / "certs.d"])
    assert len(context.get_ca_certs()) == baseline + 1
    assert len(load_tls_context("reg.example:5000", [tmp_path / "certs.d"]).get_ca_certs()) == (
        baseline
    )


def test_certs_d_broken_files_name_the_file(tmp_path: Path) -> None:
    host_dir = tmp_path / "reg.example"
    host_dir.mkdir()
    (host_dir / "bad.crt").write_text("not a certificate")
    with pytest.raises(InputError, match=r"bad\.crt: not a PEM CA certificate"):
        load_tls_context("reg.example", [tmp_path])
    (host_dir / "bad.crt").unlink()
    (host_dir / "client.cert").write_text("x")
    with pytest.raises(InputError, match=r"client\.cert: client certificate without its key"):
        load_tls_context("reg.example", [tmp_path])
    (host_dir / "client.cert").unlink()
    (host_dir / "orphan.key").write_text("x")
    with pytest.raises(InputError, match=r"orphan\.key: client key without its certificate"):
        load_tls_context("reg.example", [tmp_path])


@pytest.mark.parametrize(
    ("netloc", "no_proxy", "bypass"),
    [
        ("reg.example", "*", True),
        ("reg.example", "example", True),  # curl semantics: a suffix on a dot boundary
        ("reg.example", "xample", False),
        ("reg.example", ".example", True),
        ("reg.example", "reg.example", True),
        ("sub.reg.example", "reg.example", True),
        ("notreg.example", "reg.example", False),
        ("reg.example:5000", "reg.example:5000", True),
        ("reg.example:5001", "reg.example:5000", False),
        ("10.1.2.3:5000", "10.0.0.0/8", True),
        ("11.1.2.3", "10.0.0.0/8", False),
        ("reg.example", "", False),
    ],
)
def test_no_proxy_matching(netloc: str, no_proxy: str, bypass: bool) -> None:
    assert bypasses_proxy(netloc, no_proxy) is bypass
