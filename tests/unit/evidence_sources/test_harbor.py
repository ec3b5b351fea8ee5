"""The Harbor source: the path it builds, the headers it sends, and every answer it can get."""

from __future__ import annotations

import base64

import pytest

from gate.errors import BackendError
from gate.evidence_sources.harbor import (
    ACCEPT_VULNERABILITIES,
    HarborSource,
    basic_authorization,
    harbor_path,
)
from gate.evidence_sources.source import SourceOptions
from gate.evidence_sources.spec import BasicCredentials, EvidenceSourceSpec, SourceKind
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from tests.support.realdata import real_fixtures
from tests.unit.evidence_sources.support import FakeTransport, response

DIGEST = Digest.of(b"image manifest")
URL = "https://harbor.example.com"
CREDENTIALS = BasicCredentials("robot$library+gate", "s3cret", "robot.json")
SUFFIX = f"/artifacts/{DIGEST}/additions/vulnerabilities"


@pytest.mark.parametrize(
    ("reference", "path"),
    [
        ("harbor.example.com/library/alpine:3", "/projects/library/repositories/alpine"),
        ("alpine:3", "/projects/library/repositories/alpine"),
        (
            "harbor.example.com/apps/team/service:1",
            "/projects/apps/repositories/team%252Fservice",
        ),
        (
            "harbor.example.com/apps/a/b/c@" + str(DIGEST),
            "/projects/apps/repositories/a%252Fb%252Fc",
        ),
    ],
)
def test_project_is_the_first_component_and_the_rest_is_encoded_twice(
    reference: str, path: str
) -> None:
    assert harbor_path(ImageReference.parse(reference), DIGEST) == f"/api/v2.0{path}{SUFFIX}"


def test_a_repository_without_a_project_cannot_be_in_harbor() -> None:
    assert harbor_path(ImageReference.parse("127.0.0.1:5000/app:1"), DIGEST) is None


def test_basic_authorization_is_utf8() -> None:
    header = basic_authorization("robot$x", "pässword")
    assert header == "Basic " + base64.b64encode("robot$x:pässword".encode()).decode()


def _source(credentials: BasicCredentials | None = CREDENTIALS) -> HarborSource:
    return HarborSource(EvidenceSourceSpec(SourceKind.HARBOR, URL, credentials), SourceOptions())


IMAGE = ImageReference.parse("harbor.example.com/library/alpine:3.19")


def test_report_is_read_with_credentials_and_both_report_types_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = real_fixtures("harbor", "harbor-clair-5-vulns.json").read_bytes()
    fake = FakeTransport(lambda url: response(200, body)).install(monkeypatch)
    report = _source().fetch(IMAGE, DIGEST)
    assert report is not None
    assert report.source == f"harbor {URL}"
    assert len(report.findings) == 5
    [sent] = fake.sent
    assert sent.url == f"{URL}/api/v2.0/projects/library/repositories/alpine{SUFFIX}"
    assert sent.headers["Authorization"] == basic_authorization("robot$library+gate", "s3cret")
    assert sent.headers["X-Accept-Vulnerabilities"] == ACCEPT_VULNERABILITIES
    assert "application/vnd.security.vulnerability.report; version=1.1" in ACCEPT_VULNERABILITIES
    assert (
        "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
        in ACCEPT_VULNERABILITIES
    )


def test_anonymous_source_sends_no_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTransport(lambda url: response(200, b"{}")).install(monkeypatch)
    assert _source(None).fetch(IMAGE, DIGEST) is None
    assert "Authorization" not in fake.sent[0].headers


@pytest.mark.parametrize(
    "body",
    [b"{}", b"{}\n"],
    ids=["unscanned", "unscanned-newline"],
)
def test_unscanned_artifact_is_no_report(monkeypatch: pytest.MonkeyPatch, body: bytes) -> None:
    FakeTransport(lambda url: response(200, body)).install(monkeypatch)
    assert _source().fetch(IMAGE, DIGEST) is None


def test_unknown_artifact_is_no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"errors":[{"code":"NOT_FOUND","message":"artifact not found"}]}'
    FakeTransport(lambda url: response(404, body)).install(monkeypatch)
    assert _source().fetch(IMAGE, DIGEST) is None


def test_repository_without_project_asks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTransport(lambda url: response(500)).install(monkeypatch)
    assert _source().fetch(ImageReference.parse("127.0.0.1:5000/app:1"), DIGEST) is None
    assert fake.sent == []


@pytest.mark.parametrize(
    ("status", "credentials", "expected"),
    [
        (401, None, "answered 401 Unauthorized (no credentialsFile is set for this source)"),
        (401, CREDENTIALS, "answered 401 Unauthorized (the credentials in robot.json were not"),
        (403, CREDENTIALS, "answered 403 Forbidden (the account in robot.json may not read"),
        (500, CREDENTIALS, "answered 500 Error: "),
        (502, CREDENTIALS, "answered 502"),
        (302, CREDENTIALS, "answered 302"),
    ],
)
def test_refusals_and_server_errors_name_source_and_status(
    monkeypatch: pytest.MonkeyPatch,
    status: int,
    credentials: BasicCredentials | None,
    expected: str,
) -> None:
    body = b'{"errors":[{"code":"X","message":"no"}]}'
    FakeTransport(lambda url: response(status, body)).install(monkeypatch)
    with pytest.raises(BackendError, match=f"^harbor {URL}: GET /api/v2.0/projects/") as caught:
        _source(credentials).fetch(IMAGE, DIGEST)
    assert expected in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_404_that_is_not_harbors_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # A wrong base URL (a proxy's or web server's 404) must not pass as "not scanned".
    FakeTransport(lambda url: response(404, b"<html>Not Found</html>")).install(monkeypatch)
    with pytest.raises(BackendError, match="not Harbor's answer for an unknown artifact"):
        _source().fetch(IMAGE, DIGEST)


def test_garbage_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeTransport(lambda url: response(200, b'{"unexpected": true}')).install(monkeypatch)
    with pytest.raises(BackendError, match="answer is not a usable Harbor vulnerability report"):
        _source().fetch(IMAGE, DIGEST)
