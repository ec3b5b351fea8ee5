"""The stored-exceptions contract on SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.store.exceptions_contract import ExceptionsContract


class TestSqliteExceptions(ExceptionsContract):
    """Every exception behaviour, on a fresh SQLite file per test."""

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        """A database file that does not exist yet."""
        return f"sqlite:///{tmp_path / 'verdicts.db'}"
