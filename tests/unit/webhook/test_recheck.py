"""Re-checks: new evidence or the schedule re-evaluates running images, records and alerts."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gate.store.model import (
    EvidenceKind,
    NewEvidence,
    NewVerdict,
    VerdictQuery,
    VerdictSource,
    VerdictStore,
)
from gate.store.sql import SqlVerdictStore
from webhook.alerts import AlertSender, RecheckAlert
from webhook.app import create_app, state_of
from webhook.checker import StoreEvidence, TtlCache
from webhook.metrics import Metrics
from webhook.policy_holder import PolicyHolder
from webhook.recheck import USER_EVIDENCE, USER_SCHEDULE, FileLease, Rechecker, lease_for
from webhook.settings import Settings
from webhook.tokens import TokenSet

TOKEN = "ci-token-0123456789abcdef0123"
DIGEST = "sha256:" + "ab" * 32
OTHER = "sha256:" + "cd" * 32
REFERENCE = "registry.example/shop/cart:1.4"

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata:
  name: production
spec:
  mode: enforce
  defaultAction: deny
  rules:
    - name: apps
      match:
        images: ["registry.example/**"]
      vulnerabilities:
        denySeverity: CRITICAL
        requireScan: false
"""


def trivy(digest: str, severity: str | None) -> bytes:
    """A Trivy report of ``digest`` with one finding of ``severity`` (none when None)."""
    findings = []
    if severity is not None:
        findings.append(
            {
                "VulnerabilityID": "CVE-2026-1000",
                "PkgName": "openssl",
                "InstalledVersion": "3.0.0",
                "FixedVersion": "3.0.1",
                "Severity": severity,
            }
        )
    return json.dumps(
        {
            "SchemaVersion": 2,
            "CreatedAt": "2026-03-01T10:00:00Z",
            "ArtifactName": REFERENCE,
            "ArtifactType": "container_image",
            "Metadata": {"RepoDigests": [f"registry.example/shop/cart@{digest}"]},
            "Results": [{"Target": "cart", "Class": "os-pkgs", "Vulnerabilities": findings}],
        }
    ).encode()


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON body POSTed to it."""

    def __init__(self, status: int = 200) -> None:
        bodies: list[tuple[str, Any]] = []
        self.bodies = bodies
        answer = status

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append((self.path, json.loads(self.rfile.read(length))))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


def admission(time: datetime, decision: str = "allow", digest: str = DIGEST) -> NewVerdict:
    return NewVerdict(
        time=time,
        source=VerdictSource.ADMISSION,
        reference=REFERENCE,
        digest=digest,
        decision=decision,
        mode="enforce",
        policy_name="production",
        policy_digest="sha256:" + "0" * 64,
        rule="apps",
        reason="rule 'apps' allows",
        namespace="shop",
        workload_kind="Deployment",
        workload_name="cart",
    )


def rechecks(store: VerdictStore) -> list[Any]:
    return list(store.query(VerdictQuery(source=VerdictSource.RECHECK), limit=100).items)


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_a_new_critical_for_an_admitted_digest_is_rechecked_and_alerted_in_both_formats(
    tmp_path: Path, receiver: Receiver
) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    settings = Settings(
        policy=policy,
        db_url=f"sqlite:///{tmp_path / 'gate.db'}",
        recheck_interval=0,
        alert_webhook_url=receiver.url("/hook"),
        alert_slack_url=receiver.url("/slack"),
        spool_dir=None,
    )
    app = create_app(settings, tokens=TokenSet.of({"ci": (TOKEN, ["read", "write"])}))
    state = state_of(app)
    try:
        now = datetime.now(UTC)
        state.store.record([admission(now - timedelta(hours=2)), admission(now, digest=OTHER)])
        response = app.test_client().post(
            f"/api/v1/evidence?digest={DIGEST}&kind=scan&name=trivy.json",
            data=trivy(DIGEST, "CRITICAL"),
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 201, response.get_json()
        assert state.rechecker is not None
        assert state.alerts is not None
        assert state.rechecker.flush(20)
        assert state.alerts.flush(20)

        [verdict] = rechecks(state.store)  # the other digest was not re-checked
        assert verdict.digest == DIGEST
        assert verdict.decision == "deny"
        assert verdict.namespace == "shop"
        assert verdict.workload_name == "cart"
        assert verdict.user == USER_EVIDENCE
        assert "CVE-2026-1000" in verdict.reason
        assert sample(state.metrics, "gate_recheck_failures_total") == 1

        by_path = dict(receiver.bodies)
        assert set(by_path) == {"/hook", "/slack"}
        generic = by_path["/hook"]
        assert generic["image"] == REFERENCE
        assert generic["digest"] == DIGEST
        assert generic["namespace"] == "shop"
        assert generic["workloadName"] == "cart"
        assert generic["oldDecision"] == "allow"
        assert generic["newDecision"] == "deny"
        assert "CVE-2026-1000" in generic["reasons"]["new"]
        slack = by_path["/slack"]
        assert REFERENCE in slack["text"]
        assert "DENY" in slack["text"]
        assert slack["blocks"]
        assert sample(state.metrics, "gate_alerts_sent_total", receiver="webhook") == 1
        assert sample(state.metrics, "gate_alerts_sent_total", receiver="slack") == 1
    finally:
        state.close()


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _rechecker(
    tmp_path: Path,
    store: SqlVerdictStore,
    alerts: AlertSender,
    *,
    metrics: Metrics,
    clock: Clock,
    interval: float,
) -> Rechecker:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    holder = PolicyHolder(policy, metrics, interval=0, clock=clock)
    return Rechecker(
        holder,
        store,
        metrics,
        alerts,
        evidence=StoreEvidence(store, TtlCache(60.0, 64)),
        interval=interval,
        window=24 * 3600,
        clock=clock,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlVerdictStore]:
    made = SqlVerdictStore.from_url(f"sqlite:///{tmp_path / 'gate.db'}")
    try:
        yield made
    finally:
        made.close()


def _put_scan(store: SqlVerdictStore, severity: str | None, at: datetime) -> None:
    store.put_evidence(
        NewEvidence(
            DIGEST,
            EvidenceKind.SCAN,
            "trivy",
            "trivy.json",
            trivy(DIGEST, severity),
            received_at=at,
        )
    )


def test_the_schedule_rechecks_once_per_interval_and_alerts_once(
    tmp_path: Path, store: SqlVerdictStore, receiver: Receiver
) -> None:
    metrics = Metrics()
    alerts = AlertSender(metrics, webhook_url=receiver.url("/hook"))
    clock = Clock(datetime(2026, 3, 1, 12, tzinfo=UTC))
    rechecker = _rechecker(tmp_path, store, alerts, metrics=metrics, clock=clock, interval=3600)
    store.record([admission(clock.now - timedelta(hours=3))])
    _put_scan(store, "CRITICAL", clock.now - timedelta(hours=1))

    first = rechecker.run_schedule()
    assert [o.verdict.decision.value for o in first] == ["deny"]
    assert first[0].alerted
    # Another replica (or the same one) within the interval: the recorded run is seen.
    clock.now += timedelta(minutes=10)
    assert rechecker.run_schedule() == ()
    # The next interval re-checks again, but an image already denied is not alerted again.
    clock.now += timedelta(hours=1)
    second = rechecker.run_schedule()
    assert [o.alerted for o in second] == [False]
    assert alerts.flush(10)
    assert len(receiver.bodies) == 1
    assert sample(metrics, "gate_recheck_failures_total") == 1
    assert [v.user for v in rechecks(store)] == [USER_SCHEDULE, USER_SCHEDULE]
    # Outside the window an admission no longer makes the image "running".
    clock.now += timedelta(days=2)
    assert rechecker.run_schedule() == ()


def test_the_schedule_runs_in_the_background_at_a_short_interval(
    tmp_path: Path, store: SqlVerdictStore
) -> None:
    metrics = Metrics()
    now = datetime.now(UTC)
    rechecker = _rechecker(
        tmp_path, store, AlertSender(metrics), metrics=metrics, clock=Clock(now), interval=0.05
    )
    store.record([admission(now - timedelta(minutes=5))])
    _put_scan(store, None, now - timedelta(minutes=1))
    rechecker.start()
    try:
        deadline = time.monotonic() + 20
        while not rechecks(store) and time.monotonic() < deadline:
            time.sleep(0.05)
        [verdict] = rechecks(store)
        assert verdict.decision == "allow"
        assert sample(metrics, "gate_rechecks_total", decision="allow") >= 1
    finally:
        rechecker.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _alert() -> RecheckAlert:
    return RecheckAlert(
        image=REFERENCE,
        digest=DIGEST,
        namespace="shop",
        workload_kind="Deployment",
        workload_name="cart",
        old_decision="allow",
        new_decision="deny",
        old_reason="ok",
        new_reason="CVE-2026-1000",
        rule="apps",
        policy="production",
        trigger="schedule",
        time="2026-03-01T12:00:00+00:00",
    )


def test_a_receiver_that_is_down_is_logged_and_counted_without_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    url = f"http://127.0.0.1:{_closed_port()}/hook"
    alerts = AlertSender(
        metrics, webhook_url=url, slack_url=url, attempts=2, first_retry_delay=0.01, timeout=2
    )
    with caplog.at_level(logging.ERROR, logger="webhook.alerts"):
        alerts.send([_alert()])
        assert alerts.flush(20)
    assert sample(metrics, "gate_alert_failures_total", receiver="webhook") == 1
    assert sample(metrics, "gate_alert_failures_total", receiver="slack") == 1
    assert sample(metrics, "gate_alerts_sent_total", receiver="webhook") == 0
    assert "failed after 2 attempts" in caplog.text
    assert "/hook" not in caplog.text  # the URL's path (a Slack secret) is not logged
    # The sender still works afterwards.
    working = Receiver()
    try:
        alerts2 = AlertSender(metrics, webhook_url=working.url("/ok"))
        alerts2.send([_alert()])
        assert alerts2.flush(10)
        assert len(working.bodies) == 1
    finally:
        working.close()


def test_an_error_answer_is_retried_then_counted(caplog: pytest.LogCaptureFixture) -> None:
    failing = Receiver(status=500)
    metrics = Metrics()
    try:
        alerts = AlertSender(
            metrics, webhook_url=failing.url("/hook"), attempts=3, first_retry_delay=0.01
        )
        with caplog.at_level(logging.ERROR, logger="webhook.alerts"):
            alerts.send([_alert()])
            assert alerts.flush(20)
        assert len(failing.bodies) == 3
        assert sample(metrics, "gate_alert_failures_total", receiver="webhook") == 1
        assert "HTTP 500" in caplog.text
    finally:
        failing.close()


def test_a_sqlite_file_is_leased_by_one_worker_at_a_time(store: SqlVerdictStore) -> None:
    lease = lease_for(store)
    assert isinstance(lease, FileLease)
    other = lease_for(store)
    with lease.hold() as first:
        assert first
        with other.hold() as second:
            assert not second
    with other.hold() as again:
        assert again
