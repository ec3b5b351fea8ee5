"""The impact preview and the re-check lease on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gate.store.sql import SqlVerdictStore
from tests.integration.postgres_server import RunningPostgres
from tests.unit.test_preview import (
    _policies,
    expected_changes,
    reported_changes,
    run_preview,
    seed,
)
from webhook.recheck import PostgresLease, lease_for

pytestmark = pytest.mark.integration


@pytest.fixture
def store(postgres_server: RunningPostgres) -> Iterator[SqlVerdictStore]:
    url = postgres_server.create_database()
    made = SqlVerdictStore.from_url(url)
    try:
        yield made
    finally:
        made.close()
        postgres_server.drop_database(url)


def test_the_preview_of_a_1000_verdict_history_is_exactly_the_direct_evaluation(
    tmp_path: Path, store: SqlVerdictStore
) -> None:
    old, new = _policies(tmp_path)
    seeded = seed(store, old)
    preview = run_preview(store, old, new)
    expected = expected_changes(seeded, old, new)
    assert len(expected) >= 20
    assert reported_changes(preview) == expected
    assert len(preview.evaluations) == len(seeded.latest)


def test_one_replica_at_a_time_holds_the_recheck_lease(store: SqlVerdictStore) -> None:
    lease = lease_for(store)
    assert isinstance(lease, PostgresLease)
    other = PostgresLease(store.engine)
    with lease.hold() as first:
        assert first
        with other.hold() as second:
            assert not second  # another session: refused at once, not waited for
    with other.hold() as again:
        assert again
