"""A real PostgreSQL for integration tests: the Debian package's server on 127.0.0.1.

``start_postgres`` runs ``initdb`` into a fresh data directory, starts
``postgres`` on a free port of 127.0.0.1 (no Unix socket, trust auth for
127.0.0.1 only), waits (bounded) until it accepts connections and returns a
:class:`RunningPostgres`. PostgreSQL refuses to run as root, so when the tests
run as root (CI does) the data directory is handed to the ``postgres`` system
user and both programs run as that user.

Fixtures (register them in ``tests/integration/conftest.py``):
``postgres_server`` (session): the running server; ``postgres_url``
(session): the URL of a database created for the session.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

INSTALL_HINT = "PostgreSQL server is not installed: run scripts/install-system-deps.sh"
_START_TIMEOUT = 30.0
_START_ATTEMPTS = 3
_SUPERUSER = "postgres"


class PostgresStartError(RuntimeError):
    """The server binaries are missing or the server did not come up; the message says why."""


@dataclass
class RunningPostgres:
    """A running PostgreSQL server and how to reach it."""

    host: str
    port: int
    datadir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{_SUPERUSER}@{self.host}:{self.port}/{database}"

    def conninfo(self, database: str = "postgres", *, timeout: int = 5) -> str:
        """The libpq connection string of ``database`` (for plain psycopg)."""
        return (
            f"host={self.host} port={self.port} user={_SUPERUSER} dbname={database} "
            f"connect_timeout={timeout}"
        )

    def create_database(self, name: str | None = None) -> str:
        """Create an empty database (a fresh random name by default); return its URL."""
        name = name or f"gate_{uuid.uuid4().hex[:12]}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, disconnecting whoever still uses it."""
        name = url.rsplit("/", 1)[1]
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.conninfo(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    def log_tail(self, lines: int = 80) -> str:
        """The last ``lines`` of the server log (for failure reports)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no postgres log)"
        return "\n".join(text.splitlines()[-lines:])

    def pause(self) -> None:
        """Fast shutdown (SIGINT), keeping the data directory for :meth:`resume`."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def resume(self) -> None:
        """Start the server again on the same data directory and port (after :meth:`pause`)."""
        uid, gid = _run_as()
        self.log_path = self.datadir.parent / f"postgres-resumed-{time.monotonic_ns()}.log"
        self.process = _launch(_bindir(), self.datadir, self.port, self.log_path, uid=uid, gid=gid)
        if not _wait_ready(self):
            raise PostgresStartError(f"postgres did not start again: {self.log_tail(20)}")

    def stop(self) -> None:
        """Fast shutdown (SIGINT), waiting a bounded time, then remove the data directory."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def _bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (Debian layout), else ``PATH``."""
    root = Path("/usr/lib/postgresql")
    versions = sorted(
        (p for p in root.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if versions:
        return versions[-1]
    found = shutil.which("postgres")
    if found is None:
        raise PostgresStartError(INSTALL_HINT)
    return Path(found).parent


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> tuple[int | None, int | None]:
    """(uid, gid) of the ``postgres`` user when running as root, else (None, None)."""
    if os.geteuid() != 0:
        return None, None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        raise PostgresStartError(
            "running as root but there is no 'postgres' system user to run the server as"
        ) from None
    return entry.pw_uid, entry.pw_gid


def start_postgres(base: Path | None = None) -> RunningPostgres:
    """Initialise and start a throw-away PostgreSQL; raise ``PostgresStartError`` if it cannot.

    The data directory is made under ``base`` (default: the system temp dir,
    which the ``postgres`` user can reach, unlike pytest's private tmp dirs).
    """
    bindir = _bindir()
    uid, gid = _run_as()
    top = Path(tempfile.mkdtemp(prefix="gate-pg-", dir=base))
    datadir = top / "data"
    datadir.mkdir()
    if uid is not None and gid is not None:
        os.chown(top, uid, gid)
        os.chown(datadir, uid, gid)
    log_path = top / "initdb.log"
    with log_path.open("wb") as log:
        initdb = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                _SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=uid,
            group=gid,
            timeout=120,
            check=False,
        )
    if initdb.returncode != 0:
        shutil.rmtree(top, ignore_errors=True)
        raise PostgresStartError(f"initdb failed ({initdb.returncode}): {log_path.read_text()}")
    # Only TCP from 127.0.0.1, trusted: nothing else may connect.
    (datadir / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")

    failure = ""
    for attempt in range(_START_ATTEMPTS):
        port = _free_port()
        log_path = top / f"postgres-{attempt}.log"
        process = _launch(bindir, datadir, port, log_path, uid=uid, gid=gid)
        running = RunningPostgres(
            host="127.0.0.1", port=port, datadir=datadir, log_path=log_path, process=process
        )
        if _wait_ready(running):
            return running
        failure = running.log_tail(20)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
    shutil.rmtree(top, ignore_errors=True)
    raise PostgresStartError(f"postgres did not start after {_START_ATTEMPTS} attempts: {failure}")


def _launch(
    bindir: Path, datadir: Path, port: int, log_path: Path, *, uid: int | None, gid: int | None
) -> subprocess.Popen[bytes]:
    """Start ``postgres`` on ``datadir`` listening on 127.0.0.1:``port`` only."""
    with log_path.open("wb") as log:
        if uid is not None:
            os.chown(log_path, uid, gid or 0)
        return subprocess.Popen(
            [
                str(bindir / "postgres"),
                "-D",
                str(datadir),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"port={port}",
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=uid,
            group=gid,
        )


def _wait_ready(running: RunningPostgres) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process is not None and running.process.poll() is not None:
            return False
        try:
            with psycopg.connect(running.conninfo(timeout=2)) as connection:
                connection.execute(b"SELECT 1")
            return True
        except psycopg.OperationalError:
            time.sleep(0.2)
    return False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[RunningPostgres]:
    """A PostgreSQL server on 127.0.0.1 for the whole session (trust auth, user postgres)."""
    try:
        running = start_postgres()
    except PostgresStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: RunningPostgres) -> str:
    """The SQLAlchemy URL of an empty database created for the session."""
    return postgres_server.create_database("gate_session")
