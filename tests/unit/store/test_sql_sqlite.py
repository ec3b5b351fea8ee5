"""The store contract on SQLite files, plus what only SQLite does (paths, WAL, memory)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from gate.errors import BackendError
from gate.store.model import VerdictQuery
from gate.store.sql import SqlVerdictStore
from tests.unit.store.contract import StoreContract, verdict


class TestSqliteStore(StoreContract):
    """Every store behaviour, on a fresh SQLite file per test."""

    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        """A database file that does not exist yet."""
        return f"sqlite:///{tmp_path / 'verdicts.db'}"


def test_relative_path_and_parent_directory_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with SqlVerdictStore.from_url("sqlite:///state/deep/verdicts.db") as store:
        store.record([verdict()])
    assert (tmp_path / "state" / "deep" / "verdicts.db").is_file()


def test_wal_mode_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    with SqlVerdictStore.from_url(f"sqlite:///{path}") as store:
        store.record([verdict()])
        # journal_mode=WAL is persistent in the file; another connection sees it.
        with sqlite3.connect(path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_in_memory_store_is_shared_between_threads() -> None:
    with SqlVerdictStore.from_url("sqlite://") as store:
        ids: list[str] = []
        thread = threading.Thread(target=lambda: ids.extend(store.record([verdict()])))
        thread.start()
        thread.join(timeout=30)
        assert [item.id for item in store.query(VerdictQuery()).items] == ids


def test_in_memory_store_serves_threads_at_once() -> None:
    # The dashboard asks for verdicts, statistics and exceptions together: on the
    # one shared connection, transactions once nested and failed with "cannot
    # start a transaction within a transaction".
    with SqlVerdictStore.from_url("sqlite://") as store:
        errors: list[BaseException] = []
        start = threading.Barrier(8)

        def work(n: int) -> None:
            start.wait()
            try:
                for _ in range(40):
                    if n % 2:
                        store.record([verdict()])
                    else:
                        store.query(VerdictQuery())
                        store.list_exceptions()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert len(store.query(VerdictQuery(), limit=500).items) == 160


def test_directory_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(BackendError, match="cannot create the directory"):
        SqlVerdictStore.from_url(f"sqlite:///{blocker}/sub/v.db")


def test_unreadable_database_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendError) as caught:
        SqlVerdictStore.from_url(f"sqlite:///{path}")
    assert "schema migration failed" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_writers_in_several_threads(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with SqlVerdictStore.from_url(url) as first, SqlVerdictStore.from_url(url) as second:
        errors: list[BaseException] = []

        def write(store: SqlVerdictStore) -> None:
            try:
                for _ in range(20):
                    store.record([verdict(), verdict()])
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(s,)) for s in (first, second) * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == []
        assert len(first.query(VerdictQuery(), limit=1000).items) == 160
