"""The aggregates contract on SQLite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.store.stats_contract import StatsContract


class TestSqliteStats(StatsContract):
    """Every aggregate, on a fresh SQLite file per test."""

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        """A database file that does not exist yet."""
        return f"sqlite:///{tmp_path / 'verdicts.db'}"
