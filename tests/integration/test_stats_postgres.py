"""The aggregates contract on a real PostgreSQL (a database of its own per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.postgres_server import RunningPostgres
from tests.unit.store.stats_contract import StatsContract

pytestmark = pytest.mark.integration


class TestPostgresStats(StatsContract):
    """Every aggregate, on a fresh PostgreSQL database per test."""

    @pytest.fixture
    def store_url(self, postgres_server: RunningPostgres) -> Iterator[str]:
        """A new empty database on the session's server, dropped afterwards."""
        url = postgres_server.create_database()
        yield url
        postgres_server.drop_database(url)
