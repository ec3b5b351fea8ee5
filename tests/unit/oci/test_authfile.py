"""Auth file lookup order, key matching and malformed files."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.authfile import (
    AuthFile,
    default_authfile_candidates,
    find_authfile,
    normalise_auth_key,
)
from gate.oci.client import RegistryClient, RegistryOptions


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _parse(auths: dict[str, Any], **extra: Any) -> AuthFile:
    return AuthFile.parse(json.dumps({"auths": auths, **extra}).encode(), source="auth.json")


def test_lookup_order(tmp_path: Path) -> None:
    env = {
        "REGISTRY_AUTH_FILE": str(tmp_path / "explicit-env.json"),
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
    }
    assert default_authfile_candidates(env, tmp_path) == [
        tmp_path / "explicit-env.json",
        tmp_path / "run" / "containers" / "auth.json",
        tmp_path / "docker" / "config.json",
        tmp_path / ".docker" / "config.json",
    ]
    assert find_authfile(None, env, tmp_path) is None
    home_file = _write(tmp_path / ".docker" / "config.json", {"auths": {}})
    assert find_authfile(None, env, tmp_path) == home_file
    docker_file = _write(tmp_path / "docker" / "config.json", {"auths": {}})
    assert find_authfile(None, env, tmp_path) == docker_file
    podman_file = _write(tmp_path / "run" / "containers" / "auth.json", {"auths": {}})
    assert find_authfile(None, env, tmp_path) == podman_file
    env_file = _write(tmp_path / "explicit-env.json", {"auths": {}})
    assert find_authfile(None, env, tmp_path) == env_file
    flag_file = _write(tmp_path / "flag.json", {"auths": {}})
    assert find_authfile(flag_file, env, tmp_path) == flag_file


def test_explicit_authfile_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="auth file not found"):
        find_authfile(tmp_path / "missing.json", {}, tmp_path)


@pytest.mark.parametrize(
    ("key", "normalised"),
    [
        ("ghcr.io", "ghcr.io"),
        ("localhost:5000", "localhost:5000"),
        ("https://index.docker.io/v1/", "docker.io"),
        ("https://registry-1.docker.io", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("http://reg.example:8080/v2/", "reg.example:8080"),
        ("Quay.IO/ns/repo", "quay.io/ns/repo"),
        ("reg.example:443", "reg.example"),
        ("https://REGISTRY-1.DOCKER.IO:443/v2/", "docker.io"),
        ("Reg.Example:0443/ns", "reg.example/ns"),
        ("reg.example/ns/", "reg.example/ns"),
        ("", None),
        ("/path", None),
    ],
)
def test_key_normalisation(key: str, normalised: str | None) -> None:
    assert normalise_auth_key(key) == normalised


def test_docker_hub_entry_matches_docker_io() -> None:
    auth_file = _parse({"https://index.docker.io/v1/": {"auth": _auth("hub", "pw")}})
    creds = auth_file.lookup("docker.io", "library/alpine")
    assert creds is not None
    assert (creds.username, creds.password) == ("hub", "pw")


def test_repository_scoped_keys_longest_match_wins() -> None:
    auth_file = _parse(
        {
            "reg.example": {"auth": _auth("host", "1")},
            "reg.example/team": {"auth": _auth("team", "2")},
            "reg.example/team/app": {"auth": _auth("app", "3")},
        }
    )

    def user(repository: str) -> str | None:
        creds = auth_file.lookup("reg.example", repository)
        return None if creds is None else creds.username

    assert user("team/app") == "app"
    assert user("team/app/sub") == "app"
    assert user("team/other") == "team"
    assert user("teammate/app") == "host"  # whole components only
    assert user("else") == "host"
    assert auth_file.lookup("other.example", "team/app") is None
    assert auth_file.lookup("reg.example:5000", "team/app") is None


def test_password_with_colon_and_separate_fields() -> None:
    auth_file = _parse(
        {
            "a.example": {"auth": _auth("u", "p:a:ss")},
            "b.example": {"username": "v", "password": "w"},
        }
    )
    a = auth_file.lookup("a.example", "x")
    b = auth_file.lookup("b.example", "x")
    assert a is not None
    assert a.password == "p:a:ss"
    assert b is not None
    assert (b.username, b.password) == ("v", "w")


def test_identity_token_and_secret_free_repr() -> None:
    auth_file = _parse({"a.example": {"auth": _auth("<token>", ""), "identitytoken": "refresh"}})
    creds = auth_file.lookup("a.example", "x")
    assert creds is not None
    assert creds.identity_token == "refresh"
    assert "refresh" not in repr(creds)
    assert 'auths["a.example"]' in creds.origin


def test_empty_entries_and_helpers() -> None:
    auth_file = _parse({"a.example": {}}, credHelpers={"b.example": "ecr-login"})
    assert auth_file.lookup("a.example", "x") is None
    assert auth_file.has_helper_for("b.example")
    assert not auth_file.has_helper_for("a.example")
    assert _parse({}, credsStore="desktop").has_helper_for("anything.example")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"{not json", r"^auth\.json: not JSON"),
        (b"[]", r"^auth\.json: not a JSON object"),
        (b'{"auths": []}', r"^auth\.json: auths: expected an object"),
        (b'{"auths": {"a.example": "x"}}', r'auths\["a\.example"\]: expected an object'),
        (
            b'{"auths": {"a.example": {"auth": 5}}}',
            r'auths\["a\.example"\]\.auth: expected a string',
        ),
        (b'{"auths": {"a.example": {"auth": "%%%"}}}', r'auths\["a\.example"\]\.auth: not base64'),
        (
            b'{"auths": {"a.example": {"auth": "' + base64.b64encode(b"nocolon") + b'"}}}',
            r"auth: decodes to no 'user:password' pair",
        ),
        (b'{"auths": {"a.example": {"username": "u"}}}', "username and password must both be set"),
        (b'{"auths": {"": {}}}', r'auths\[""\]: not a registry host'),
        (b'{"credHelpers": []}', "credHelpers: expected an object"),
    ],
)
def test_malformed_auth_files(document: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        AuthFile.parse(document, source="auth.json")


def test_client_reports_malformed_authfile_at_construction(tmp_path: Path) -> None:
    bad = tmp_path / "auth.json"
    bad.write_text('{"auths": {"r.example": {"auth": "!!"}}}')
    with pytest.raises(InputError, match=rf'^{bad}: auths\["r.example"\].auth'):
        RegistryClient(RegistryOptions(authfile=bad), environ={}, home=tmp_path)
