"""The verdict store on a real PostgreSQL: the shared contract, then several processes.

Each test gets a database of its own on the session's server, so filters and
counts see only what the test wrote.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from gate.errors import BackendError
from gate.store import schema
from gate.store.model import VerdictQuery
from gate.store.sql import SqlVerdictStore
from tests.integration.postgres_server import RunningPostgres
from tests.unit.store.contract import T0, StoreContract, verdict

pytestmark = pytest.mark.integration

_REPOSITORY = Path(__file__).resolve().parents[2]

# Run by a child interpreter: start a store on argv[1], record one verdict, print its id.
_CHILD = textwrap.dedent(
    """
    import sys
    from gate.store.model import VerdictQuery
    from gate.store.sql import SqlVerdictStore
    from tests.unit.store.contract import verdict
    with SqlVerdictStore.from_url(sys.argv[1]) as store:
        (verdict_id,) = store.record([verdict(reference=sys.argv[2])])
        page = store.query(VerdictQuery(), limit=1000)
        seen = [item.reference for item in page.items]
    print(verdict_id)
    print(",".join(sorted(seen)))
    """
)


def _children(url: str, references: list[str]) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD, url, reference],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=_REPOSITORY,
        )
        for reference in references
    ]


def _finish(child: subprocess.Popen[str]) -> list[str]:
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    return stdout.splitlines()


class TestPostgresStore(StoreContract):
    """Every store behaviour, on a fresh PostgreSQL database per test."""

    @pytest.fixture
    def store_url(self, postgres_server: RunningPostgres) -> Iterator[str]:
        """A new empty database on the session's server, dropped afterwards."""
        url = postgres_server.create_database()
        yield url
        postgres_server.drop_database(url)


@pytest.fixture
def fresh_url(postgres_server: RunningPostgres) -> Iterator[str]:
    """A new empty database on the session's server, dropped afterwards."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


def test_session_database_fixture(postgres_url: str) -> None:
    with SqlVerdictStore.from_url(postgres_url) as store:
        (verdict_id,) = store.record([verdict()])
        assert store.get(verdict_id) is not None


def test_processes_starting_together_migrate_once(
    fresh_url: str, postgres_server: RunningPostgres
) -> None:
    references = [f"proc.example/app:{n}" for n in range(4)]
    outputs = [_finish(child) for child in _children(fresh_url, references)]
    ids = [lines[0] for lines in outputs]
    with SqlVerdictStore.from_url(fresh_url) as store:
        stored = store.query(VerdictQuery(), limit=1000).items
    assert {item.id for item in stored} == set(ids)
    database = fresh_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.conninfo(database)) as connection:
        rows = connection.execute(b"SELECT version FROM schema_version ORDER BY 1").fetchall()
    assert rows == [(step[0],) for step in schema.MIGRATIONS]


def test_processes_see_each_others_records(fresh_url: str) -> None:
    with SqlVerdictStore.from_url(fresh_url) as store:
        (mine,) = store.record([verdict(reference="parent.example/app:1")])
        (first,) = [_finish(child) for child in _children(fresh_url, ["child.example/app:1"])]
        # the child saw the parent's verdict, the parent sees the child's
        assert first[1] == "child.example/app:1,parent.example/app:1"
        theirs = store.get(first[0])
        assert theirs is not None
        assert theirs.reference == "child.example/app:1"
        assert store.get(mine) is not None


def test_locked_table_is_backend_error_not_a_hang(
    fresh_url: str, postgres_server: RunningPostgres
) -> None:
    store = SqlVerdictStore.from_url(fresh_url, statement_timeout=1)
    database = fresh_url.rsplit("/", 1)[1]
    try:
        with psycopg.connect(postgres_server.conninfo(database)) as blocker:
            blocker.execute(b"LOCK TABLE verdicts IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(BackendError) as caught:
                store.record([verdict()])
            blocker.rollback()
        assert "record failed" in str(caught.value)
        store.record([verdict()])  # the pool recovered
    finally:
        store.close()


def test_killed_connections_are_replaced(fresh_url: str, postgres_server: RunningPostgres) -> None:
    with SqlVerdictStore.from_url(fresh_url) as store:
        store.record([verdict()])
        with psycopg.connect(postgres_server.conninfo(), autocommit=True) as admin:
            admin.execute(
                b"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                b"WHERE application_name = 'gate'"
            )
        assert len(store.query(VerdictQuery()).items) == 1


def test_concurrent_writers_and_readers(fresh_url: str) -> None:
    with SqlVerdictStore.from_url(fresh_url, pool_size=2) as store:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for k in range(10):
                    store.record([verdict(time=T0 + timedelta(seconds=n * 100 + k))])
                    store.query(VerdictQuery(), limit=5)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        assert len(store.query(VerdictQuery(), limit=1000).items) == 60


def test_times_come_back_in_utc_whatever_the_server_zone(
    fresh_url: str, postgres_server: RunningPostgres
) -> None:
    database = fresh_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_server.conninfo(database), autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE \"{database}\" SET timezone TO 'Asia/Kolkata'".encode())
    with SqlVerdictStore.from_url(fresh_url) as store:
        (verdict_id,) = store.record([verdict()])
        stored = store.get(verdict_id)
    assert stored is not None
    assert stored.time == T0
    assert stored.time.utcoffset() == timedelta(0)
    assert json.dumps(stored.time.isoformat()).endswith('+00:00"')
