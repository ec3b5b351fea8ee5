"""Credentials files (both accepted forms, every refusal) and source URLs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.errors import InputError
from gate.evidence_sources.spec import (
    BasicCredentials,
    EvidenceSourceSpec,
    SourceKind,
    load_credentials_file,
    source_url_problem,
)


def _file(tmp_path: Path, content: object | bytes) -> Path:
    path = tmp_path / "credentials.json"
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    path.write_bytes(data)
    return path


def test_plain_credentials_load(tmp_path: Path) -> None:
    path = _file(tmp_path, {"username": "gate", "password": "s3cret: with colon"})
    credentials = load_credentials_file(path, "harbor.json")
    assert credentials == BasicCredentials("gate", "s3cret: with colon", "harbor.json")
    # The password never shows in a repr (logs, tracebacks).
    assert "s3cret" not in repr(credentials)


def test_harbor_robot_account_export_loads(tmp_path: Path) -> None:
    exported = {
        "id": 7,
        "name": "robot$library+gate",
        "secret": "AbCdEf0123",
        "creation_time": "2024-03-01T10:00:00.000Z",
        "expires_at": -1,
    }
    credentials = load_credentials_file(_file(tmp_path, exported), "robot.json")
    assert (credentials.username, credentials.password) == ("robot$library+gate", "AbCdEf0123")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "robot.json: not JSON (Expecting property name"),
        (b"\xff\xfe\x00", "robot.json: not JSON"),
        (["gate", "pw"], 'expected a JSON object {"username": ..., "password": ...}'),
        ({"user": "gate", "pass": "pw"}, 'or a Harbor robot account file {"name": ..., "secret"'),
        ({"username": "gate"}, '"password" is missing'),
        ({"name": "robot$x"}, '"secret" is missing'),
        ({"username": "gate", "password": 5}, '"password" is not a string'),
        ({"username": "", "password": "pw"}, '"username" is empty'),
        ({"username": "gate", "password": "a\nb"}, "contains line breaks"),
        ({"username": "a:b", "password": "pw"}, '"username" contains ":"'),
        (
            {"username": "gate", "password": "pw", "name": "robot$x", "secret": "s"},
            "not both",
        ),
    ],
)
def test_bad_credentials_files_are_refused(
    tmp_path: Path, content: object | bytes, expected: str
) -> None:
    with pytest.raises(InputError, match=r"^robot\.json: ") as caught:
        load_credentials_file(_file(tmp_path, content), "robot.json")
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_credentials_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"creds.json: credentials file not found \(looked at"):
        load_credentials_file(tmp_path / "creds.json", "creds.json")
    with pytest.raises(InputError, match="credentials file is not a file"):
        load_credentials_file(tmp_path, "dir")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://harbor.example.com", None),
        ("https://harbor.example.com/", None),
        ("https://gateway.example.com/clair", None),
        ("http://127.0.0.1:6060", None),
        ("http://localhost:8080/", None),
        ("http://[::1]:8080", None),
        ("http://harbor.example.com", "plain http is only allowed to a loopback address"),
        ("ftp://harbor.example.com", "is not an http(s) URL"),
        ("harbor.example.com", "is not an http(s) URL"),
        ("https://h.example.com/?x=1", "no query or fragment"),
        ("https://h.example.com/#top", "no query or fragment"),
        ("https://user:pw@h.example.com", "no credentials in the URL"),
    ],
)
def test_source_urls(url: str, problem: str | None) -> None:
    found = source_url_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert problem in found


def test_label_names_kind_and_url() -> None:
    spec = EvidenceSourceSpec(SourceKind.CLAIR, "https://clair.example.com")
    assert spec.label == "clair https://clair.example.com"
