"""The Clair v4 source: the matcher path, every answer, and the report's date."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from gate.clock import fixed_clock
from gate.errors import BackendError
from gate.evidence_sources.clair import CREATED_AT_ASSUMED, ClairSource, clair_path
from gate.evidence_sources.source import SourceOptions, describe_report
from gate.evidence_sources.spec import EvidenceSourceSpec, SourceKind
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from tests.support.realdata import real_fixtures
from tests.unit.evidence_sources.support import FakeTransport, response

URL = "https://clair.example.com"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
IMAGE = ImageReference.parse("quay.example.com/team/app:1")


def _recorded() -> tuple[bytes, Digest]:
    body = real_fixtures("clair", "v4", "rhel8-pyupio.vulnerability_report.json").read_bytes()
    return body, Digest.parse(json.loads(body)["manifest_hash"])


def _source() -> ClairSource:
    spec = EvidenceSourceSpec(SourceKind.CLAIR, URL)
    return ClairSource(spec, SourceOptions(), clock=fixed_clock(NOW))


def test_path() -> None:
    digest = Digest.of(b"x")
    assert clair_path(digest) == f"/matcher/api/v1/vulnerability_report/{digest}"


def test_report_is_read_and_dated_when_it_was_matched(monkeypatch: pytest.MonkeyPatch) -> None:
    body, digest = _recorded()
    fake = FakeTransport(lambda url: response(200, body)).install(monkeypatch)
    report = _source().fetch(IMAGE, digest)
    assert report is not None
    assert fake.sent[0].url == f"{URL}/matcher/api/v1/vulnerability_report/{digest}"
    assert "Authorization" not in fake.sent[0].headers
    assert report.format == "clair-v4"
    assert report.source == f"clair {URL}"
    assert len(report.findings) == 3
    assert report.artifact_digests == frozenset({digest})
    # Clair matches when asked: the answer's time is the report's time, and it says so.
    assert report.created_at == NOW
    assert report.metadata["created_at_assumed"] == CREATED_AT_ASSUMED
    assert describe_report(report) == (
        f"3 findings (clair, {NOW.isoformat()}, {CREATED_AT_ASSUMED})"
    )


def test_never_indexed_is_no_report(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"code":"not-found","message":"index report for manifest not found"}'
    FakeTransport(lambda url: response(404, body)).install(monkeypatch)
    assert _source().fetch(IMAGE, Digest.of(b"x")) is None


def test_a_router_404_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # What Clair's mux answers for a wrong path: the URL is wrong, not the image unindexed.
    FakeTransport(lambda url: response(404, b"404 page not found\n")).install(monkeypatch)
    with pytest.raises(BackendError, match="not Clair's answer for an unindexed manifest"):
        _source().fetch(IMAGE, Digest.of(b"x"))


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_other_statuses_are_errors(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    body = b'{"code":"internal-error","message":"database down"}'
    FakeTransport(lambda url: response(status, body)).install(monkeypatch)
    with pytest.raises(BackendError, match=f"^clair {URL}: GET /matcher/") as caught:
        _source().fetch(IMAGE, Digest.of(b"x"))
    assert f"answered {status}" in str(caught.value)
    assert "database down" in str(caught.value)


def test_a_report_about_another_manifest_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    body, recorded = _recorded()
    FakeTransport(lambda url: response(200, body)).install(monkeypatch)
    asked = Digest.of(b"another manifest")
    with pytest.raises(BackendError, match=f"asked about {asked}, answered with a report about"):
        _source().fetch(IMAGE, asked)
    assert str(recorded) != str(asked)


def test_a_harbor_answer_is_not_a_clair_report(monkeypatch: pytest.MonkeyPatch) -> None:
    body = real_fixtures("harbor", "harbor-clair-5-vulns.json").read_bytes()
    FakeTransport(lambda url: response(200, body)).install(monkeypatch)
    with pytest.raises(BackendError, match="answered with a harbor document, not a Clair v4"):
        _source().fetch(IMAGE, Digest.of(b"x"))
