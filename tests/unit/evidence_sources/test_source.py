"""The shared pieces: reading and binding an answer, asking sources in order, one-run memo."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from gate.errors import BackendError
from gate.evidence_sources.source import (
    QUERIED_DIGEST_METADATA,
    SOURCE_METADATA,
    MemoScanSource,
    SourceHttp,
    SourceOptions,
    describe_report,
    error_code,
    is_empty_object,
    query_sources,
    read_report,
)
from gate.evidence_sources.spec import EvidenceSourceSpec, SourceKind
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.scanners.finding import ScanReport
from tests.support.realdata import real_fixtures
from tests.unit.evidence_sources.support import FakeTransport, response

DIGEST = Digest.of(b"image manifest")
OTHER = Digest.of(b"platform manifest")
IMAGE = ImageReference.parse("registry.example.com/library/app:1.0")
LABEL = "harbor https://harbor.example.com"


def _harbor_body(name: str = "harbor-clair-5-vulns.json") -> bytes:
    return real_fixtures("harbor", name).read_bytes()


def test_a_report_without_digests_is_bound_to_the_digest_asked_about() -> None:
    report = read_report(
        _harbor_body(),
        label=LABEL,
        expected_format="harbor",
        title="Harbor vulnerability report",
        digest=DIGEST,
    )
    assert report.source == LABEL
    assert report.artifact_digests == frozenset({DIGEST})
    assert report.metadata[SOURCE_METADATA] == LABEL
    assert report.metadata[QUERIED_DIGEST_METADATA] == str(DIGEST)
    assert len(report.findings) == 5


def test_a_report_naming_the_digest_asked_about_is_used() -> None:
    named = Digest.parse("sha256:711103cfce07dc03d61f51e819fad7d6fbbad20fc99caa039cc8da77e7a1c51b")
    report = read_report(
        _harbor_body("harbor-trivy-v0.44.json"),
        label=LABEL,
        expected_format="harbor",
        title="Harbor vulnerability report",
        digest=named,
    )
    assert report.artifact_digests == frozenset({named})


def test_a_report_about_another_digest_is_an_error() -> None:
    with pytest.raises(BackendError, match=rf"^{LABEL}: asked about {DIGEST}, answered with a "):
        read_report(
            _harbor_body("harbor-trivy-v0.44.json"),
            label=LABEL,
            expected_format="harbor",
            title="Harbor vulnerability report",
            digest=DIGEST,
        )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>gateway error</html>", "answer is not a usable Harbor vulnerability report: "),
        (b'{"vulnerabilities": 5, "scanner": {}, "generated_at": "x"}', "vulnerabilities: "),
        (b'{"a": 1}', "is not a recognised"),
        (b"", "the file is empty"),
    ],
)
def test_garbage_answers_are_backend_errors_naming_the_source(body: bytes, expected: str) -> None:
    with pytest.raises(BackendError, match=f"^{LABEL}: ") as caught:
        read_report(
            body,
            label=LABEL,
            expected_format="harbor",
            title="Harbor vulnerability report",
            digest=DIGEST,
        )
    assert expected in str(caught.value)


def test_an_answer_in_another_format_is_refused() -> None:
    clair = real_fixtures("clair", "v4", "rhel8-pyupio.vulnerability_report.json").read_bytes()
    with pytest.raises(BackendError, match="answered with a clair-v4 document, not a Harbor"):
        read_report(
            clair,
            label=LABEL,
            expected_format="harbor",
            title="Harbor vulnerability report",
            digest=DIGEST,
        )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"errors":[{"code":"NOT_FOUND","message":"artifact x not found"}]}\n', "NOT_FOUND"),
        (b'{"code":"not-found","message":"index report for manifest"}', "not-found"),
        (b"404 page not found\n", None),
        (b"[]", None),
        (b'{"errors": []}', None),
        (b'{"code": 404}', None),
    ],
)
def test_error_code(body: bytes, code: str | None) -> None:
    assert error_code(body) == code


@pytest.mark.parametrize(
    ("body", "empty"),
    [(b"{}", True), (b"{ }\n", True), (b"\n{}", True), (b"{}x", False), (b"[]", False)],
)
def test_is_empty_object(body: bytes, empty: bool) -> None:
    assert is_empty_object(body) is empty


def test_describe_report_names_scanner_harbor_and_date() -> None:
    report = read_report(
        _harbor_body(),
        label=LABEL,
        expected_format="harbor",
        title="Harbor vulnerability report",
        digest=DIGEST,
    )
    assert describe_report(report) == "5 findings (clair 2.x via Harbor, 2020-01-01T00:00:00+00:00)"
    assert describe_report(ScanReport("x", "clair-v4", ())) == "0 findings"


@dataclass
class _Source:
    """A scripted source: answers per digest, and the questions it was asked."""

    label: str
    answers: dict[Digest, ScanReport | BackendError | None] = field(default_factory=dict)
    asked: list[Digest] = field(default_factory=list)
    closed: bool = False

    def fetch(self, image: ImageReference, digest: Digest) -> ScanReport | None:
        self.asked.append(digest)
        answer = self.answers.get(digest)
        if isinstance(answer, BackendError):
            raise answer
        return answer

    def close(self) -> None:
        self.closed = True


def _report(source: str) -> ScanReport:
    return ScanReport(source=source, format="clair-v4", findings=(), scanner="clair")


def test_sources_are_asked_in_order_and_the_first_report_wins() -> None:
    first = _Source("harbor https://h", {DIGEST: None, OTHER: None})
    second = _Source("clair https://c", {OTHER: _report("clair https://c")})
    third = _Source("clair https://later", {DIGEST: _report("later")})
    result = query_sources([first, second, third], IMAGE, [DIGEST, OTHER])
    assert [r.source for r in result.scans] == ["clair https://c"]
    assert first.asked == [DIGEST, OTHER]
    assert second.asked == [DIGEST, OTHER]
    assert third.asked == []
    assert result.notes == (
        f"harbor https://h: no scan report for {DIGEST}",
        f"harbor https://h: no scan report for {OTHER}",
        f"clair https://c: no scan report for {DIGEST}",
        "scan report from clair https://c: 0 findings (clair)",
    )


def test_no_source_has_a_report() -> None:
    result = query_sources([_Source("clair https://c")], IMAGE, [DIGEST])
    assert result.scans == ()
    assert result.notes == (f"clair https://c: no scan report for {DIGEST}",)


def test_an_error_stops_the_search_even_when_a_later_source_has_a_report() -> None:
    down = _Source("harbor https://h", {DIGEST: BackendError("harbor https://h: refused")})
    later = _Source("clair https://c", {DIGEST: _report("c")})
    with pytest.raises(BackendError, match="refused"):
        query_sources([down, later], IMAGE, [DIGEST])
    assert later.asked == []


def test_memo_asks_once_per_repository_and_digest_but_never_keeps_errors() -> None:
    inner = _Source("clair https://c", {DIGEST: _report("c")})
    memo = MemoScanSource(inner)
    assert memo.label == "clair https://c"
    assert memo.fetch(IMAGE, DIGEST) is memo.fetch(IMAGE, DIGEST)
    assert memo.fetch(IMAGE, OTHER) is None
    assert memo.fetch(IMAGE, OTHER) is None
    assert inner.asked == [DIGEST, OTHER]
    inner.answers[DIGEST] = BackendError("down")
    other_repo = ImageReference.parse("registry.example.com/library/other:1")
    for _ in range(2):
        with pytest.raises(BackendError):
            memo.fetch(other_repo, DIGEST)
    assert inner.asked == [DIGEST, OTHER, DIGEST, DIGEST]
    memo.close()
    assert inner.closed


def test_transport_failures_name_the_source_url_request_and_cause(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = EvidenceSourceSpec(SourceKind.CLAIR, "https://gw.example.com/clair")
    path = f"/matcher/api/v1/vulnerability_report/{DIGEST}"
    failure = BackendError(f"clair gw.example.com: GET /clair{path}: connection refused")
    FakeTransport(lambda url: failure).install(monkeypatch)
    http = SourceHttp(spec, SourceOptions())
    with pytest.raises(BackendError) as caught:
        http.get(path, {})
    assert str(caught.value) == (
        f"clair https://gw.example.com/clair: GET {path}: connection refused"
    )


def test_requests_carry_the_size_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"code": "not-found"}).encode()
    fake = FakeTransport(lambda url: response(404, body)).install(monkeypatch)
    spec = EvidenceSourceSpec(SourceKind.CLAIR, "https://clair.example.com")
    SourceHttp(spec, SourceOptions(max_report_bytes=1234)).get("/x", {"Accept": "a"})
    assert fake.sent[0].url == "https://clair.example.com/x"
    assert fake.sent[0].max_body == 1234
