"""``spec.evidenceSources``: what loads, and every mistake reported at its line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.evidence_sources.spec import BasicCredentials, SourceKind
from gate.policy.loader import load_policy
from gate.policy.schema import schema_issues
from tests.unit.policy.support import error_lines, policy_text, write_policy

RULES = """\
rules:
  - name: all
    match: {images: ["**"]}
    vulnerabilities: {denySeverity: CRITICAL}
"""


def _write(tmp_path: Path, sources: str) -> Path:
    return write_policy(tmp_path, policy_text("evidenceSources:\n" + sources + RULES))


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    path = tmp_path / "harbor.json"
    path.write_text(json.dumps({"name": "robot$library+gate", "secret": "s3cret", "id": 1}))
    (tmp_path / "ca.pem").write_text("")
    return path


def test_sources_load_in_order(tmp_path: Path, credentials: Path) -> None:
    del credentials
    path = _write(
        tmp_path,
        "  - harbor: {url: 'https://harbor.example.com/', credentialsFile: harbor.json,"
        " caFile: ca.pem, timeout: 2.5}\n"
        "  - clair: {url: 'http://127.0.0.1:6060'}\n",
    )
    harbor, clair = load_policy(path).evidence_sources
    assert harbor.kind is SourceKind.HARBOR
    assert harbor.url == "https://harbor.example.com"
    assert harbor.credentials == BasicCredentials("robot$library+gate", "s3cret", "harbor.json")
    assert harbor.ca_file == tmp_path / "ca.pem"
    assert harbor.timeout == 2.5
    assert clair.kind is SourceKind.CLAIR
    assert (clair.url, clair.credentials, clair.ca_file, clair.timeout) == (
        "http://127.0.0.1:6060",
        None,
        None,
        None,
    )


def test_no_sources_by_default(tmp_path: Path) -> None:
    assert load_policy(write_policy(tmp_path, policy_text(RULES))).evidence_sources == ()


@pytest.mark.parametrize(
    ("sources", "expected"),
    [
        (
            "  - harbor: {url: 'http://harbor.example.com'}\n",
            'policy.yaml:7:21: evidenceSources[0].harbor.url: "http://harbor.example.com": plain '
            "http is only allowed to a loopback address; use https",
        ),
        (
            "  - clair: {url: 'ftp://clair'}\n",
            'policy.yaml:7:20: evidenceSources[0].clair.url: "ftp://clair" is not an http(s) URL',
        ),
        (
            "  - clair: {url: 'https://clair.example.com?x=1'}\n",
            'evidenceSources[0].clair.url: "https://clair.example.com?x=1": give the base URL '
            "only (no query or fragment)",
        ),
        (
            "  - clair: {url: 'https://c.example.com', credentialsFile: x.json}\n",
            'policy.yaml:7:45: evidenceSources[0].clair: unknown field "credentialsFile"',
        ),
        (
            "  - harbor: {url: 'https://h.example.com', tmeout: 3}\n",
            'evidenceSources[0].harbor: unknown field "tmeout" (did you mean "timeout"?)',
        ),
        (
            "  - quay: {url: 'https://q.example.com'}\n",
            'policy.yaml:7:7: evidenceSources[0]: unknown field "quay" (expected one of clair, '
            "harbor)",
        ),
        (
            "  - {}\n",
            "policy.yaml:7:7: evidenceSources[0]: give exactly one of harbor, clair",
        ),
        (
            "  - {clair: {url: 'https://c.example.com'}, harbor: {url: 'https://h.example.com'}}\n",
            "evidenceSources[0]: give exactly one of harbor, clair",
        ),
        (
            "  - harbor: {}\n",
            'policy.yaml:7:15: evidenceSources[0].harbor: missing required field "url"',
        ),
        (
            "  - harbor: {url: 5}\n",
            "evidenceSources[0].harbor.url: expected a string, got an integer",
        ),
        (
            "  - clair: {url: 'https://c.example.com', timeout: 0}\n",
            "evidenceSources[0].clair.timeout: must be a number of seconds above 0 and at most "
            "3600",
        ),
        (
            "  - clair: {url: 'https://c.example.com', timeout: 7200}\n",
            "evidenceSources[0].clair.timeout: must be at most 3600",
        ),
        (
            "  - clair: {url: 'https://c.example.com', caFile: missing.pem}\n",
            "evidenceSources[0].clair.caFile: CA file missing.pem not found (looked at ",
        ),
        (
            "  - clair: {url: 'https://c.example.com'}\n  - clair: {url: 'https://c.example.com/'}\n",
            "policy.yaml:8:20: evidenceSources[1].clair.url: clair https://c.example.com is "
            "listed twice (also evidenceSources[0])",
        ),
        ("  harbor: {url: 'https://h.example.com'}\n", "evidenceSources: expected a list"),
    ],
)
def test_mistakes_are_reported_at_their_field(tmp_path: Path, sources: str, expected: str) -> None:
    lines = error_lines(_write(tmp_path, sources))
    assert any(expected in line for line in lines), lines
    # One problem, one line: the schema and the semantic pass do not both report it.
    assert len(lines) == 1, lines


def test_missing_credentials_file_is_a_policy_error_at_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "  - harbor:\n      url: https://h.example.com\n      credentialsFile: nope.json\n",
    )
    [line] = error_lines(path)
    assert line.startswith(f"{path}:9:26: evidenceSources[0].harbor.credentialsFile: nope.json: ")
    assert "credentials file not found" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('{"username": "gate"}', '"password" is missing'),
        ("not json", "not JSON"),
        ('{"token": "x"}', 'expected a JSON object {"username": ..., "password": ...}'),
    ],
)
def test_bad_credentials_file_is_a_policy_error(
    tmp_path: Path, content: str, expected: str
) -> None:
    (tmp_path / "creds.json").write_text(content)
    path = _write(
        tmp_path, "  - harbor: {url: 'https://h.example.com', credentialsFile: creds.json}\n"
    )
    [line] = error_lines(path)
    assert "evidenceSources[0].harbor.credentialsFile: creds.json: " in line
    assert expected in line


def test_schema_accepts_the_documented_shape() -> None:
    document = {
        "apiVersion": "gate/v1",
        "kind": "Policy",
        "metadata": {"name": "p"},
        "spec": {
            "evidenceSources": [
                {"harbor": {"url": "https://h", "credentialsFile": "c.json", "timeout": 3}},
                {"clair": {"url": "https://c", "caFile": "ca.pem"}},
            ]
        },
    }
    assert schema_issues(document) == []
