"""``gate check`` and the webhook asking Harbor and Clair for scan reports by digest.

Images are pushed to a real registry; Harbor and Clair are the HTTP doubles
of ``tests/support/scan_servers.py``, serving real recorded reports. The
Harbor "Clair 5 vulns" report names no digest, so it is served as is; the
Clair report names its manifest by ``manifest_hash``, which is the one field
pointed at the pushed image (served unchanged, it is refused as a report
about another manifest, and that is tested too).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.oci.digest import Digest
from tests.integration.gate_cli import GateRun, isolate_environment, run_gate, write_policy
from tests.integration.registry_server import RunningRegistry, StubResponse, StubServer
from tests.support.images import build_image, push_image
from tests.support.realdata import real_fixtures
from tests.support.scan_servers import seen_requests, start_clair_double, start_harbor_double
from tests.unit.webhook.reviews import admission_review, kubectl_create
from webhook.app import create_app, state_of
from webhook.settings import Settings

pytestmark = pytest.mark.integration

CREDENTIALS = ("robot$sources+gate", "s3cret-token")
V11 = "application/vnd.security.vulnerability.report; version=1.1"
V10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"


@dataclass(frozen=True)
class Pushed:
    """The module's images in the registry: host and digest per repository."""

    host: str
    digests: dict[str, Digest]

    def ref(self, repository: str) -> str:
        """``host/<repository>:1.0``."""
        return f"{self.host}/{repository}:1.0"


@pytest.fixture(scope="module")
def pushed(registry: RunningRegistry) -> Pushed:
    """``sources/app``, ``sources/team/service``, ``sources/clean`` and ``sources/hook``."""
    digests = {
        name: push_image(registry, name, "1.0", build_image(content=name.encode()))
        for name in ("sources/app", "sources/team/service", "sources/clean", "sources/hook")
    }
    return Pushed(registry.host, digests)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _harbor_report(name: str = "harbor-clair-5-vulns.json") -> bytes:
    return real_fixtures("harbor", name).read_bytes()


def _clair_report(digest: Digest) -> bytes:
    """The recorded Clair v4 report with its ``manifest_hash`` pointed at ``digest``."""
    body = real_fixtures("clair", "v4", "rhel8-pyupio.vulnerability_report.json").read_bytes()
    recorded = json.loads(body)["manifest_hash"]
    return body.replace(recorded.encode(), str(digest).encode())


@pytest.fixture
def harbor_double() -> Iterator[Any]:
    """Starts Harbor doubles (credentials required by default); stops them after the test."""
    stops: list[Any] = []

    def start(
        reports: dict[Digest, bytes],
        *,
        unscanned: tuple[Digest, ...] = (),
        credentials: tuple[str, str] | None = CREDENTIALS,
    ) -> str:
        url, stop = start_harbor_double(
            {str(d): body for d, body in reports.items()},
            credentials,
            unscanned=[str(d) for d in unscanned],
        )
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def clair_double() -> Iterator[Any]:
    """Starts Clair doubles; stops them after the test."""
    stops: list[Any] = []

    def start(reports: dict[Digest, bytes]) -> str:
        url, stop = start_clair_double({str(d): body for d, body in reports.items()})
        stops.append(stop)
        return url

    yield start
    for stop in stops:
        stop()


def _policy(directory: Path, sources: str, *, require_scan: bool = True) -> Path:
    (directory / "harbor-robot.json").write_text(
        json.dumps({"id": 3, "name": CREDENTIALS[0], "secret": CREDENTIALS[1], "expires_at": -1})
    )
    body = f"""\
apiVersion: gate/v1
kind: Policy
metadata: {{name: sources}}
spec:
  evidenceSources:
{sources}
  rules:
    - name: scanned
      match: {{images: ["127.0.0.1:*/sources/**"]}}
      vulnerabilities: {{denySeverity: CRITICAL, requireScan: {str(require_scan).lower()}}}
"""
    return write_policy(directory, body)


def _harbor(url: str, extra: str = "credentialsFile: harbor-robot.json") -> str:
    return f"    - harbor: {{url: '{url}', {extra}}}"


def _clair(url: str, extra: str = "") -> str:
    return f"    - clair: {{url: '{url}'{', ' + extra if extra else ''}}}"


def _check(
    capsys: pytest.CaptureFixture[str], reference: str, policy: Path, *extra: str
) -> GateRun:
    return run_gate(capsys, "check", reference, "--policy", str(policy), "--format", "json", *extra)


def test_harbor_report_with_a_critical_denies_and_credentials_go_up_front(
    pushed: Pushed, harbor_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/app"]
    url = harbor_double({digest: _harbor_report()})
    run = _check(capsys, pushed.ref("sources/app"), _policy(tmp_path, _harbor(url)))
    assert run.code == 1, run.stderr
    violations = run.check("vulnerabilities")["details"]["violations"]
    assert {v["id"] for v in violations} == {"CVE-YYYY-004", "CVE-YYYY-005"}
    scan = run.check("scan")
    assert scan["outcome"] == "pass"
    assert f"harbor {url} (harbor)" in scan["reason"]
    # One request, authenticated from the start (Harbor sends no challenge).
    [request] = seen_requests(url)
    assert request.path == (
        f"/api/v2.0/projects/sources/repositories/app/artifacts/{digest}/additions/vulnerabilities"
    )
    assert request.headers["Authorization"].startswith("Basic ")
    assert V11 in request.headers["X-Accept-Vulnerabilities"]
    assert V10 in request.headers["X-Accept-Vulnerabilities"]


def test_nested_repository_is_encoded_twice(
    pushed: Pushed, harbor_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/team/service"]
    url = harbor_double({digest: _harbor_report("harbor-clair-null-vulns.json")})
    run = _check(capsys, pushed.ref("sources/team/service"), _policy(tmp_path, _harbor(url)))
    assert run.code == 0, run.stdout + run.stderr
    [request] = seen_requests(url)
    assert "/repositories/team%252Fservice/" in request.path


def test_clair_report_bound_to_the_digest_allows(
    pushed: Pushed, clair_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/clean"]
    url = clair_double({digest: _clair_report(digest)})
    run = _check(capsys, pushed.ref("sources/clean"), _policy(tmp_path, _clair(url)))
    assert run.code == 0, run.stdout + run.stderr
    assert f"clair {url} (clair-v4)" in run.check("scan")["reason"]
    [request] = seen_requests(url)
    assert request.path == f"/matcher/api/v1/vulnerability_report/{digest}"


def test_clair_report_about_another_manifest_is_undecided(
    pushed: Pushed, clair_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/clean"]
    recorded = real_fixtures("clair", "v4", "rhel8-pyupio.vulnerability_report.json")
    url = clair_double({digest: recorded.read_bytes()})
    run = _check(capsys, pushed.ref("sources/clean"), _policy(tmp_path, _clair(url)))
    assert run.code == 2
    assert f"clair {url}: asked about {digest}, answered with a report about sha256:5f8d" in (
        run.stderr
    )
    assert run.image["decision"] == "deny"


def test_the_first_source_with_a_report_wins(
    pushed: Pushed,
    harbor_double: Any,
    clair_double: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    digest = pushed.digests["sources/app"]
    # Harbor knows the artifact but has not scanned it: Clair, listed next, is asked.
    unscanned = harbor_double({}, unscanned=(digest,))
    clair = clair_double({digest: _clair_report(digest)})
    policy = _policy(tmp_path, _harbor(unscanned) + "\n" + _clair(clair))
    run = _check(capsys, pushed.ref("sources/app"), policy)
    assert run.code == 0, run.stdout + run.stderr
    assert f"clair {clair}" in run.check("scan")["reason"]
    assert len(seen_requests(unscanned)) == 1
    assert len(seen_requests(clair)) == 1

    # Harbor has a report: it wins and Clair is not asked at all.
    scanned = harbor_double({digest: _harbor_report()})
    quiet = clair_double({digest: _clair_report(digest)})
    (tmp_path / "second").mkdir()
    policy = _policy(tmp_path / "second", _harbor(scanned) + "\n" + _clair(quiet))
    run = _check(capsys, pushed.ref("sources/app"), policy)
    assert run.code == 1
    assert f"harbor {scanned}" in run.check("scan")["reason"]
    assert seen_requests(quiet) == []


def test_unscanned_artifact_denies_for_want_of_a_scan(
    pushed: Pushed, harbor_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/app"]
    url = harbor_double({}, unscanned=(digest,))
    run = _check(capsys, pushed.ref("sources/app"), _policy(tmp_path, _harbor(url)))
    assert run.code == 1
    scan = run.check("scan")
    assert (scan["outcome"], scan["reason"]) == ("fail", f"no scan report for {digest}")

    # Not required: no report is no finding, and the image passes.
    (tmp_path / "lenient").mkdir()
    lenient = _policy(tmp_path / "lenient", _harbor(url), require_scan=False)
    assert _check(capsys, pushed.ref("sources/app"), lenient).code == 0


def test_a_given_scan_means_no_source_is_asked(
    pushed: Pushed, harbor_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/app"]
    url = harbor_double({digest: _harbor_report()})
    document = json.loads(real_fixtures("trivy", "debian-stretch.json").read_bytes())
    document["ArtifactName"] = pushed.ref("sources/app")
    document["Metadata"]["RepoDigests"] = [f"{pushed.host}/sources/app@{digest}"]
    report = tmp_path / "trivy.json"
    report.write_text(json.dumps(document))
    run = _check(
        capsys, pushed.ref("sources/app"), _policy(tmp_path, _harbor(url)), "--scan", str(report)
    )
    assert run.code == 0, run.stdout + run.stderr
    assert seen_requests(url) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_source_that_is_down_makes_the_check_undecided(
    pushed: Pushed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    run = _check(capsys, pushed.ref("sources/app"), _policy(tmp_path, _clair(url, "timeout: 2")))
    assert run.code == 2
    assert f"clair {url}: GET /matcher/api/v1/vulnerability_report/" in run.stderr
    assert "connection refused" in run.stderr
    image = run.image
    assert image["decision"] == "deny"
    assert image["checks"][0]["check"] == "scan"
    assert image["checks"][0]["outcome"] == "error"


def test_refused_credentials_make_the_check_undecided(
    pushed: Pushed, harbor_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/app"]
    url = harbor_double({digest: _harbor_report()}, credentials=("robot$sources+gate", "other"))
    run = _check(capsys, pushed.ref("sources/app"), _policy(tmp_path, _harbor(url)))
    assert run.code == 2
    assert f"harbor {url}: GET /api/v2.0/projects/sources/" in run.stderr
    assert "answered 401 Unauthorized (the credentials in harbor-robot.json were not" in run.stderr
    assert CREDENTIALS[1] not in run.stderr + run.stdout


def test_harbor_report_about_another_digest_is_undecided(
    pushed: Pushed, harbor_double: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    digest = pushed.digests["sources/app"]
    url = harbor_double({digest: _harbor_report("harbor-trivy-v0.44.json")})
    run = _check(capsys, pushed.ref("sources/app"), _policy(tmp_path, _harbor(url)))
    assert run.code == 2
    assert f"asked about {digest}, answered with a report about sha256:711103cf" in run.stderr


def test_a_hanging_source_is_cut_at_the_deadline(
    pushed: Pushed, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = _harbor_report()

    def drip(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        return StubResponse(200, {"Content-Type": "application/json"}, body, drip=0.2)

    server = StubServer(drip)
    try:
        url = f"http://{server.host}"
        sources = _harbor(url, "credentialsFile: harbor-robot.json, timeout: 0.5")
        run = _check(capsys, pushed.ref("sources/app"), _policy(tmp_path, sources))
    finally:
        server.stop()
    assert run.code == 2
    assert f"harbor {url}: GET /api/v2.0/projects/sources/repositories/app/" in run.stderr
    assert "deadline" in run.stderr


def test_webhook_asks_a_source_once_within_the_cache_ttl(
    pushed: Pushed, harbor_double: Any, tmp_path: Path
) -> None:
    digest = pushed.digests["sources/hook"]
    url = harbor_double({digest: _harbor_report()})
    policy = _policy(tmp_path, _harbor(url))
    app = create_app(
        Settings(
            policy=policy,
            db_url=f"sqlite:///{tmp_path / 'gate.db'}",
            policy_reload_interval=0,
        )
    )
    try:
        client = app.test_client()
        deployment = kubectl_create("deployment", "hook", pushed.ref("sources/hook"))
        for _ in range(2):
            answer = client.post("/validate", json=admission_review(deployment))
            assert answer.status_code == 200
            response = answer.get_json()["response"]
            assert response["allowed"] is False
            assert "CVE-YYYY-004" in response["status"]["message"]
        # The second admission used the cached report: Harbor was asked once.
        assert len(seen_requests(url)) == 1
    finally:
        state_of(app).close()
