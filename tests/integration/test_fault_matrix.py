"""The fault matrix: every way a registry can fail ends in "could not decide", in time.

Each row breaks the registry in one way, with a real docker-registry behind
``tests.support.fault_proxy.FaultProxy`` (down, slow, black-holed, reset,
truncated) or with a stub answering what a real registry only does when
broken (401, 403, 404, 429, 500, wrong Content-Type, digest mismatch,
endless body). Expected: ``gate check`` exits 2 with one line naming the
cause, within the request deadline plus a small slack (a correctness bound:
the gate must never wait longer than it promised, not a benchmark); the
webhook answers ``allowed: false`` with the cause. A 429 whose Retry-After
fits in the deadline succeeds after the wait; one that does not fails at
once. ``onError: allow`` on the rule turns the registry-down row into an
allow with the cause shown; without it the same row denies.

Rows covered elsewhere (not repeated here):
- the dripping body at the deadline, plain and TLS:
  ``test_registry_client.py::test_dripping_body_hits_the_deadline`` (and ``..._over_tls_..``);
- a registry hanging past the admission deadline:
  ``test_webhook.py::test_hanging_registry_is_denied_at_the_deadline``;
- notary-server down: ``test_notary_check.py::test_notary_server_down_is_denied_as_undecided``,
  a broken or dripping notary: ``test_notary_bad_server.py``;
- PostgreSQL down for 30 s under load: ``test_store_outage.py`` (the restart with
  connections reset by the proxy is the last test here).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.store.model import StoredVerdict, VerdictQuery
from tests.integration.gate_cli import GateRun, isolate_environment, run_gate, write_policy
from tests.integration.registry_server import RunningRegistry, StubResponse, StubServer
from tests.support.fault_proxy import FaultProxy, Mode
from tests.support.images import build_image, push_image
from tests.unit.webhook.reviews import admission_review, kubectl_pod
from webhook.app import create_app, state_of
from webhook.settings import Settings

pytestmark = pytest.mark.integration

#: ``--registry-timeout``: each request may take three times this (the transport's deadline).
TIMEOUT = 1.0
REQUEST_DEADLINE = 3 * TIMEOUT
#: Scheduling and process noise on top of the deadline; far below any fault's own delay.
SLACK = 2.0

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: matrix}
spec:
  defaultAction: deny
  rules:
    - name: local
      match: {images: ["127.0.0.1:*/**"]}
      action: allow
"""

BREAK_GLASS = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: matrix}
spec:
  defaultAction: deny
  rules:
    - name: break-glass
      match: {images: ["127.0.0.1:*/**"]}
      onError: allow
      action: allow
"""

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:" + "a" * 64,
            "size": 2,
        },
        "layers": [],
    }
).encode()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


@pytest.fixture(scope="module")
def pushed(registry: RunningRegistry) -> str:
    """``matrix/app:1`` in the real registry: what the proxy rows ask for."""
    push_image(registry, "matrix/app", "1", build_image(content=b"fault matrix"))
    return "matrix/app:1"


@pytest.fixture
def proxy(registry: RunningRegistry) -> Iterator[FaultProxy]:
    """A fault proxy in front of the real registry."""
    host, port = registry.host.rsplit(":", 1)
    with FaultProxy(host, int(port)) as running:
        yield running


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _check(capsys: pytest.CaptureFixture[str], policy: Path, image: str) -> tuple[GateRun, float]:
    started = time.monotonic()
    run = run_gate(
        capsys,
        "check",
        image,
        "--policy",
        str(policy),
        "--format",
        "json",
        "--registry-timeout",
        str(TIMEOUT),
    )
    return run, time.monotonic() - started


def _assert_undecided(run: GateRun, elapsed: float, cause: str) -> None:
    """Exit 2, the cause on one line of stderr and in the report, within the deadline."""
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    lines = [line for line in run.stderr.splitlines() if cause.lower() in line.lower()]
    assert lines, (cause, run.stderr)
    image = run.image
    assert image["decision"] == "deny"
    assert cause.lower() in image["reason"].lower(), image["reason"]
    assert elapsed < REQUEST_DEADLINE + SLACK, f"{elapsed:.1f}s for {cause!r}"


# -- the registry behind the fault proxy ------------------------------------------------


@dataclass(frozen=True)
class ProxyRow:
    """One fault made by the proxy in front of the real registry, and the cause it must name."""

    mode: Mode
    cause: str
    delay: float = 0.0
    per_byte: float = 0.0
    after_bytes: int = 0


PROXY_ROWS = {
    # Slower than the whole request deadline: the deadline (or the read timeout) ends it.
    "slow beyond the deadline": ProxyRow(Mode.DELAY, "within", delay=30.0),
    "black-holed": ProxyRow(Mode.BLACKHOLE, "within"),
    "reset mid-response": ProxyRow(Mode.RESET, "registry 127.0.0.1", after_bytes=40),
    "refused (closed at once)": ProxyRow(Mode.REFUSE, "registry 127.0.0.1"),
}


@pytest.mark.parametrize("row", PROXY_ROWS.values(), ids=list(PROXY_ROWS))
def test_registry_fault_through_the_proxy_is_undecided_in_time(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    proxy: FaultProxy,
    pushed: str,
    row: ProxyRow,
) -> None:
    policy = write_policy(tmp_path, POLICY)
    healthy, _ = _check(capsys, policy, f"{proxy.host}/{pushed}")
    assert healthy.code == 0, healthy.stderr  # the proxy passes a healthy registry through
    proxy.set(row.mode, delay=row.delay, per_byte=row.per_byte, after_bytes=row.after_bytes)
    run, elapsed = _check(capsys, policy, f"{proxy.host}/{pushed}")
    _assert_undecided(run, elapsed, row.cause)


def test_answer_dripped_from_the_first_byte_is_cut_at_the_deadline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, proxy: FaultProxy, pushed: str
) -> None:
    policy = write_policy(tmp_path, POLICY)
    proxy.set(Mode.DELAY, per_byte=0.05)  # a byte every 50 ms, headers included
    run, elapsed = _check(capsys, policy, f"{proxy.host}/{pushed}")
    _assert_undecided(run, elapsed, "deadline")


def test_truncated_manifest_is_undecided(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, proxy: FaultProxy, pushed: str
) -> None:
    policy = write_policy(tmp_path, POLICY)
    # Measure the whole answer through the proxy, then cut it in the middle of the body.
    size = _answer_size(proxy, f"/v2/{pushed.replace(':', '/manifests/')}")
    proxy.set(Mode.TRUNCATE, after_bytes=size - 20)
    run, elapsed = _check(capsys, policy, f"{proxy.host}/{pushed}")
    _assert_undecided(run, elapsed, "registry 127.0.0.1")


def _answer_size(proxy: FaultProxy, path: str) -> int:
    """Bytes of the registry's whole answer (status line, headers, body) to a GET of ``path``."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {proxy.host}\r\nAccept: {OCI_MANIFEST}\r\n"
        "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(request.encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return len(received)


def test_registry_down_is_undecided(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    policy = write_policy(tmp_path, POLICY)
    run, elapsed = _check(capsys, policy, f"127.0.0.1:{_free_port()}/matrix/app:1")
    _assert_undecided(run, elapsed, "connection refused")


# -- a stub answering what only a broken registry answers -------------------------------


@dataclass(frozen=True)
class StubRow:
    """What the stub answers to a manifest GET, and the cause the gate must name."""

    answer: StubResponse
    cause: str
    by_digest: bool = False


_WRONG = "sha256:" + "0" * 64
STUB_ROWS = {
    "401": StubRow(StubResponse(401, {"WWW-Authenticate": 'Basic realm="x"'}), "401"),
    "403": StubRow(StubResponse(403), "403"),
    "404": StubRow(StubResponse(404), "manifest unknown"),
    "500": StubRow(StubResponse(500, body=b'{"errors":[{"code":"UNKNOWN"}]}'), "500"),
    "429 without Retry-After": StubRow(StubResponse(429), "no Retry-After"),
    "429 Retry-After beyond the deadline": StubRow(
        StubResponse(429, {"Retry-After": "30"}), "Retry-After 30 does not fit"
    ),
    "429 Retry-After as a date beyond the deadline": StubRow(
        StubResponse(429, {"Retry-After": "Fri, 31 Dec 2100 23:59:59 GMT"}), "does not fit"
    ),
    "wrong Content-Type": StubRow(
        StubResponse(200, {"Content-Type": "text/html"}, b"<html>login</html>"), "text/html"
    ),
    "digest mismatch (header)": StubRow(
        StubResponse(
            200, {"Content-Type": OCI_MANIFEST, "Docker-Content-Digest": _WRONG}, MANIFEST
        ),
        "registry claims",
    ),
    "digest mismatch (one byte changed)": StubRow(
        StubResponse(
            200, {"Content-Type": OCI_MANIFEST}, MANIFEST.replace(b'"layers"', b'"layerz"')
        ),
        "expected sha256:",
        by_digest=True,
    ),
    "endless body": StubRow(
        StubResponse(
            200, {"Content-Type": OCI_MANIFEST}, b" " * (5 * 1024 * 1024), send_length=False
        ),
        "exceeds the cap",
    ),
}


@pytest.mark.parametrize("row", STUB_ROWS.values(), ids=list(STUB_ROWS))
def test_broken_registry_answer_is_undecided_in_time(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, row: StubRow
) -> None:
    def answer(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        if path == "/v2/":
            return StubResponse(200, body=b"{}")
        return row.answer

    stub = StubServer(answer)
    try:
        policy = write_policy(tmp_path, POLICY)
        target = f"@{Digest.of(MANIFEST)}" if row.by_digest else ":1"
        run, elapsed = _check(capsys, policy, f"{stub.host}/matrix/app{target}")
    finally:
        stub.stop()
    _assert_undecided(run, elapsed, row.cause)


def _throttled_once(retry_after: str) -> Callable[[str, str, dict[str, str]], StubResponse]:
    """A stub handler: 429 with ``retry_after`` for the first manifest GET, then the manifest."""
    lock = threading.Lock()
    seen: list[float] = []

    def answer(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        if "/manifests/" not in path:
            return StubResponse(200, body=b"{}")
        with lock:
            seen.append(time.monotonic())
            first = len(seen) == 1
        if first:
            return StubResponse(429, {"Retry-After": retry_after})
        return StubResponse(200, {"Content-Type": OCI_MANIFEST}, MANIFEST)

    return answer


@pytest.mark.parametrize("retry_after", ["1", "0"])
def test_429_with_a_retry_after_that_fits_succeeds_after_the_wait(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, retry_after: str
) -> None:
    stub = StubServer(_throttled_once(retry_after))
    try:
        policy = write_policy(tmp_path, POLICY)
        run, elapsed = _check(capsys, policy, f"{stub.host}/matrix/app:1")
        manifest_gets = [s for s in stub.seen if "/manifests/" in s.path]
    finally:
        stub.stop()
    assert run.code == 0, run.stderr
    assert run.image["decision"] == "allow"
    assert len(manifest_gets) == 2
    assert elapsed >= float(retry_after)  # it did wait as asked
    assert elapsed < REQUEST_DEADLINE + SLACK


# -- the webhook: deny with the cause, unless the rule says onError: allow ---------------


def _admit(
    tmp_path: Path, policy_text: str, image: str
) -> tuple[dict[str, Any], float, StoredVerdict]:
    policy = write_policy(tmp_path, policy_text, name="hook-policy.yaml")
    settings = Settings(
        policy=policy,
        db_url=f"sqlite:///{tmp_path / 'gate.db'}",
        policy_reload_interval=0,
        admission_deadline=2.0,
    )
    app = create_app(settings)
    try:
        started = time.monotonic()
        answer = app.test_client().post("/validate", json=admission_review(kubectl_pod("p", image)))
        elapsed = time.monotonic() - started
        assert answer.status_code == 200
        state = state_of(app)
        assert state.recorder.flush(10)
        [recorded] = state.store.query(VerdictQuery(), limit=10).items
        response: dict[str, Any] = answer.get_json()["response"]
        return response, elapsed, recorded
    finally:
        state_of(app).close()


def test_webhook_denies_a_down_registry_naming_the_cause(tmp_path: Path) -> None:
    image = f"127.0.0.1:{_free_port()}/matrix/app:1"
    response, elapsed, recorded = _admit(tmp_path, POLICY, image)
    assert response["allowed"] is False
    assert recorded.decision == "deny"
    message = response["status"]["message"]
    assert image in message
    assert "connection refused" in message
    assert elapsed < 2.0 + SLACK


def test_webhook_on_error_allow_admits_a_down_registry_with_the_cause(tmp_path: Path) -> None:
    image = f"127.0.0.1:{_free_port()}/matrix/app:1"
    response, elapsed, recorded = _admit(tmp_path, BREAK_GLASS, image)
    assert response["allowed"] is True
    assert elapsed < 2.0 + SLACK
    assert recorded.decision == "allow"
    assert recorded.rule == "break-glass"
    assert "connection refused" in recorded.reason
    assert "says onError: allow" in recorded.reason
    assert not recorded.decided  # admitted by the rule, but honestly recorded as undecided


def test_cli_on_error_allow_admits_a_down_registry_with_the_cause(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = write_policy(tmp_path, BREAK_GLASS)
    run, elapsed = _check(capsys, policy, f"127.0.0.1:{_free_port()}/matrix/app:1")
    assert run.code == 0, run.stderr
    image = run.image
    assert image["decision"] == "allow"
    assert image["rule"] == "break-glass"
    assert "could not decide (resolve: " in image["reason"]
    assert "connection refused" in image["reason"]
    assert "rule 'break-glass' says onError: allow" in image["reason"]
    assert elapsed < REQUEST_DEADLINE + SLACK
