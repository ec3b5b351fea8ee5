"""The stored-exceptions contract on a real PostgreSQL (a database of its own per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.postgres_server import RunningPostgres
from tests.unit.store.exceptions_contract import ExceptionsContract

pytestmark = pytest.mark.integration


class TestPostgresExceptions(ExceptionsContract):
    """Every exception behaviour, on a fresh PostgreSQL database per test."""

    @pytest.fixture
    def store_url(self, postgres_server: RunningPostgres) -> Iterator[str]:
        """A new empty database on the session's server, dropped afterwards."""
        url = postgres_server.create_database()
        yield url
        postgres_server.drop_database(url)
