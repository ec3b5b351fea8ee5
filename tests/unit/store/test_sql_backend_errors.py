"""URLs the store refuses, and databases that do not answer: typed errors, quickly."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from gate.errors import BackendError, InputError
from gate.store.model import VerdictQuery
from gate.store.sql import SqlVerdictStore
from tests.unit.store.contract import verdict


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) but never says anything."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def test_closed_port_is_backend_error_without_password() -> None:
    url = f"postgresql+psycopg://gate:s3cr3t-pw@127.0.0.1:{_closed_port()}/gate"
    with pytest.raises(BackendError) as caught:
        SqlVerdictStore.from_url(url, connect_timeout=2)
    message = str(caught.value)
    assert "s3cr3t-pw" not in message
    assert "\n" not in message
    assert "schema migration failed" in message
    assert "***" in message  # the URL is named, its password hidden


def test_silent_server_times_out(silent_server: int) -> None:
    url = f"postgresql+psycopg://gate@127.0.0.1:{silent_server}/gate"
    with pytest.raises(BackendError, match="schema migration failed"):
        SqlVerdictStore.from_url(url, connect_timeout=1)


def test_plain_postgresql_scheme_uses_psycopg() -> None:
    url = f"postgresql://gate@127.0.0.1:{_closed_port()}/gate"
    with pytest.raises(BackendError):  # not an InputError: the driver was found
        SqlVerdictStore.from_url(url, connect_timeout=1)


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "",
        "mysql://user:hunter2@localhost/db",
        "postgresql+asyncpg://user:hunter2@localhost/db",
        "postgresql+nosuchdriver://user:hunter2@localhost/db",
        "sqlite://user:hunter2@host/path.db",
    ],
)
def test_unusable_urls(url: str) -> None:
    with pytest.raises(InputError) as caught:
        SqlVerdictStore.from_url(url)
    assert "hunter2" not in str(caught.value)
    assert str(caught.value).startswith("database URL: ")


@pytest.mark.parametrize("pool_size", [0, -1, True])
def test_bad_pool_size(pool_size: int) -> None:
    with pytest.raises(InputError, match="pool_size"):
        SqlVerdictStore.from_url("sqlite://", pool_size=pool_size)


def test_schema_newer_than_this_gate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    SqlVerdictStore.from_url(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO schema_version (version, applied_at) VALUES (99, '2030-01-01')")
        )
    engine.dispose()
    with pytest.raises(BackendError, match="newer than this gate supports"):
        SqlVerdictStore.from_url(url)


def test_unreadable_row_is_backend_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with SqlVerdictStore.from_url(url) as store:
        (verdict_id,) = store.record([verdict()])
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("UPDATE verdicts SET checks = 'not json'"))
        engine.dispose()
        with pytest.raises(BackendError, match=f"verdict {verdict_id} is unreadable"):
            store.get(verdict_id)


def test_error_after_close_is_typed(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    store = SqlVerdictStore.from_url(f"sqlite:///{path}")
    store.close()
    path.unlink()
    path.mkdir()  # the database file is now a directory: cannot be opened
    with pytest.raises(BackendError, match="query failed"):
        store.query(VerdictQuery())
