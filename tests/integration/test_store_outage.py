"""PostgreSQL down for 30 s under admission load: every verdict is recorded afterwards.

A real ``gate serve`` (two gunicorn workers sharing one disk spool) admits
a steady stream of Deployments while its PostgreSQL is shut down for 30
seconds and started again on the same port. Admission answers throughout
(recording never holds a decision up); what the store could not take waits
in the spool and is written once the database is back. The test then counts
the rows in PostgreSQL itself: one per admitted workload, none lost, none
twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.integration.gate_cli import write_policy
from tests.integration.postgres_server import PostgresStartError, RunningPostgres, start_postgres
from tests.integration.registry_server import RunningRegistry
from tests.integration.test_replicas_postgres import POLICY, TOKEN, Replica
from tests.support.images import build_image, push_image
from tests.unit.webhook.reviews import admission_review, kubectl_create

pytestmark = pytest.mark.integration

OUTAGE_SECONDS = 30.0


@pytest.fixture
def own_postgres() -> Iterator[RunningPostgres]:
    """A PostgreSQL of this test's own: it is shut down in the middle."""
    try:
        running = start_postgres()
    except PostgresStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()


class _Load:
    """Admits one Deployment after another (a distinct name each) until stopped."""

    def __init__(self, url: str, image: str) -> None:
        self.url = url
        self.image = image
        self.admitted: list[str] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        index = 0
        with requests.Session() as session:
            while not self.stop.is_set():
                name = f"app-{index:05d}"
                index += 1
                review = admission_review(kubectl_create("deployment", name, self.image))
                try:
                    answer = session.post(f"{self.url}/validate", json=review, timeout=15)
                except requests.RequestException as exc:
                    self.failures.append(f"{name}: {exc}")
                    continue
                if answer.status_code == 200 and answer.json()["response"]["allowed"]:
                    self.admitted.append(name)
                else:
                    self.failures.append(f"{name}: {answer.status_code} {answer.text[:200]}")
                time.sleep(0.02)


def _recorded_names(postgres: RunningPostgres, database: str) -> list[str]:
    with psycopg.connect(postgres.conninfo(database)) as connection:
        rows = connection.execute(b"SELECT workload_name FROM verdicts").fetchall()
    return [str(row[0]) for row in rows]


def test_no_verdict_is_lost_while_postgres_is_down(
    own_postgres: RunningPostgres, registry: RunningRegistry, tmp_path: Path
) -> None:
    db_url = own_postgres.create_database()
    database = db_url.rsplit("/", 1)[1]
    policy = write_policy(tmp_path, POLICY)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f'tokens:\n  - name: ops\n    token: "{TOKEN}"\n    scopes: [read]\n')
    push_image(registry, "replicas/app", "1", build_image(content=b"outage"))
    replica = Replica(policy, db_url, tokens, tmp_path / "home")
    load = _Load(replica.url, f"{registry.host}/replicas/app:1")
    try:
        replica.wait_ready()
        load.thread.start()
        time.sleep(3)
        own_postgres.pause()
        outage_started = len(load.admitted)
        time.sleep(OUTAGE_SECONDS)
        during_outage = len(load.admitted) - outage_started
        # On disk, not from /readyz: each worker counts only its own spooled verdicts,
        # and a new connection may reach the worker the load's connection does not use.
        spooled = sorted((tmp_path / "home" / "state" / "spool").rglob("*.jsonl*"))
        own_postgres.resume()
        time.sleep(3)
    finally:
        load.stop.set()
        load.thread.join(30)
    try:
        assert not load.failures, load.failures[:5]
        assert during_outage > 100, "admission must go on while the store is down"
        assert spooled, "verdicts must wait in the disk spool while the store is down"

        expected = sorted(load.admitted)
        recorded: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            recorded = sorted(_recorded_names(own_postgres, database))
            if len(recorded) >= len(expected):
                break
            time.sleep(0.5)
        assert recorded == expected
    finally:
        errors = replica.stop()
    assert "Traceback" not in errors, errors[-3000:]
