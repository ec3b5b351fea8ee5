"""Smoke test of the Harbor and Clair API doubles in ``tests/support/scan_servers.py``.

They serve recorded real reports byte for byte and answer errors the way the
real servers do; these checks pin that behaviour for the client built on them.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
import requests

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners.clair import parse_clair_v4_report
from gate.scanners.detect import detect_format
from gate.scanners.harbor import parse_harbor_report
from tests.support.realdata import real_fixtures
from tests.support.scan_servers import seen_requests, start_clair_double, start_harbor_double

pytestmark = pytest.mark.integration

TIMEOUT = 5
V11 = "application/vnd.security.vulnerability.report; version=1.1"
CREDENTIALS = ("robot$gate", "s3cret-token")
TRIVY_DIGEST = "sha256:711103cfce07dc03d61f51e819fad7d6fbbad20fc99caa039cc8da77e7a1c51b"
UNSCANNED = "sha256:" + "0" * 64
UNKNOWN = "sha256:" + "f" * 64


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def harbor_path(digest: str, repository: str = "alpine", project: str = "library") -> str:
    return (
        f"/api/v2.0/projects/{project}/repositories/{repository}"
        f"/artifacts/{digest}/additions/vulnerabilities"
    )


@pytest.fixture
def harbor_report() -> bytes:
    return real_fixtures("harbor", "harbor-trivy-v0.44.json").read_bytes()


@pytest.fixture
def harbor(harbor_report: bytes) -> Iterator[str]:
    url, stop = start_harbor_double(
        {TRIVY_DIGEST: harbor_report}, CREDENTIALS, unscanned=[UNSCANNED]
    )
    try:
        yield url
    finally:
        stop()


def test_harbor_serves_the_recorded_report_byte_for_byte(harbor: str, harbor_report: bytes) -> None:
    answer = requests.get(
        harbor + harbor_path(TRIVY_DIGEST),
        headers={
            **basic(*CREDENTIALS),
            "X-Accept-Vulnerabilities": V11,
        },
        timeout=TIMEOUT,
    )
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content == harbor_report
    detected = detect_format(answer.content, "harbor-api")
    assert detected.format == "harbor"
    report = parse_harbor_report(detected.document, "harbor-api")
    assert len(report.findings) == 3
    assert Digest.parse(TRIVY_DIGEST) in report.artifact_digests
    (request,) = seen_requests(harbor)
    assert request.path == harbor_path(TRIVY_DIGEST)


@pytest.mark.parametrize(
    "headers",
    [{}, basic("robot$gate", "wrong"), {"Authorization": "Bearer " + CREDENTIALS[1]}],
    ids=["anonymous", "wrong-password", "bearer"],
)
def test_harbor_refuses_without_valid_basic_credentials_and_sends_no_challenge(
    harbor: str, headers: dict[str, str]
) -> None:
    answer = requests.get(harbor + harbor_path(TRIVY_DIGEST), headers=headers, timeout=TIMEOUT)
    assert answer.status_code == 401
    # Harbor's management API sends no WWW-Authenticate: clients authenticate up front.
    assert "WWW-Authenticate" not in answer.headers
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    assert answer.json() == {"errors": [{"code": "UNAUTHORIZED", "message": "unauthorized"}]}


def test_harbor_unknown_artifact_is_404_and_unscanned_one_is_an_empty_object(harbor: str) -> None:
    auth = basic(*CREDENTIALS)
    missing = requests.get(harbor + harbor_path(UNKNOWN), headers=auth, timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "NOT_FOUND"
    assert UNKNOWN in missing.json()["errors"][0]["message"]

    empty = requests.get(harbor + harbor_path(UNSCANNED), headers=auth, timeout=TIMEOUT)
    assert (empty.status_code, empty.content) == (200, b"{}")
    # "{}" is no report at all: reading it must fail, never pass as "no findings".
    with pytest.raises(InputError, match="no vulnerability report"):
        parse_harbor_report(json.loads(empty.content), "harbor-api")


def test_harbor_repository_with_a_slash_is_encoded_twice(harbor: str) -> None:
    path = harbor_path(TRIVY_DIGEST, repository="team%252Fservice", project="apps")
    answer = requests.get(harbor + path, headers=basic(*CREDENTIALS), timeout=TIMEOUT)
    assert answer.status_code == 200
    unknown = harbor_path(UNKNOWN, repository="team%252Fservice", project="apps")
    missing = requests.get(harbor + unknown, headers=basic(*CREDENTIALS), timeout=TIMEOUT)
    assert f"apps/team/service@{UNKNOWN}" in missing.json()["errors"][0]["message"]


def test_harbor_public_project_and_wrong_method(harbor_report: bytes) -> None:
    url, stop = start_harbor_double({TRIVY_DIGEST: harbor_report}, None)
    try:
        assert requests.get(url + harbor_path(TRIVY_DIGEST), timeout=TIMEOUT).status_code == 200
        posted = requests.post(url + harbor_path(TRIVY_DIGEST), timeout=TIMEOUT)
        assert posted.status_code == 405
        other = requests.get(url + "/api/v2.0/projects/library", timeout=TIMEOUT)
        assert other.status_code == 404
    finally:
        stop()


@pytest.fixture
def clair_report() -> bytes:
    return real_fixtures("clair", "v4", "rhel8-pyupio.vulnerability_report.json").read_bytes()


@pytest.fixture
def clair(clair_report: bytes) -> Iterator[tuple[str, str]]:
    digest = json.loads(clair_report)["manifest_hash"]
    url, stop = start_clair_double({digest: clair_report})
    try:
        yield url, digest
    finally:
        stop()


def test_clair_serves_the_recorded_report_byte_for_byte(
    clair: tuple[str, str], clair_report: bytes
) -> None:
    url, digest = clair
    answer = requests.get(f"{url}/matcher/api/v1/vulnerability_report/{digest}", timeout=TIMEOUT)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content == clair_report
    detected = detect_format(answer.content, "clair-api")
    assert detected.format == "clair-v4"
    report = parse_clair_v4_report(detected.document, "clair-api")
    assert report.artifact_digests == frozenset({Digest.parse(digest)})
    assert len(report.findings) == 3


def test_clair_not_indexed_malformed_and_wrong_method(clair: tuple[str, str]) -> None:
    url, digest = clair
    base = f"{url}/matcher/api/v1/vulnerability_report/"
    missing = requests.get(base + UNKNOWN, timeout=TIMEOUT)
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "not-found",
        "message": f'index report for manifest "{UNKNOWN}" not found',
    }
    malformed = requests.get(base + "latest", timeout=TIMEOUT)
    assert (malformed.status_code, malformed.json()["code"]) == (400, "bad-request")
    posted = requests.post(base + digest, timeout=TIMEOUT)
    assert (posted.status_code, posted.json()["code"]) == (405, "method-not-allowed")
    elsewhere = requests.get(f"{url}/indexer/api/v1/index_report/{digest}", timeout=TIMEOUT)
    assert elsewhere.status_code == 404
    assert elsewhere.text == "404 page not found\n"
