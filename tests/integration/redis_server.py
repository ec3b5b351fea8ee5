"""A real Redis for integration tests: the Debian package's ``redis-server`` on 127.0.0.1.

``start_redis`` starts ``redis-server`` on a free port of 127.0.0.1 with
nothing persisted (``--save ''``, ``--appendonly no``), optionally with a
password, waits (bounded) until it answers ``PING`` and returns a
:class:`RunningRedis`. The system service the package installs is never
used. :meth:`RunningRedis.pause` and :meth:`RunningRedis.resume` stop and
start it again on the same port, for outage tests.

Fixture (registered in ``tests/integration/conftest.py``): ``redis_server``
(session). It fails, with the install hint, when ``redis-server`` is missing.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

INSTALL_HINT = "redis-server is not installed: run scripts/install-system-deps.sh"
_START_TIMEOUT = 20.0
_START_ATTEMPTS = 3


class RedisStartError(RuntimeError):
    """The server binary is missing or the server did not come up; the message says why."""


@dataclass
class RunningRedis:
    """A running ``redis-server`` and how to reach it."""

    host: str
    port: int
    workdir: Path
    log_path: Path
    password: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, database: int = 0) -> str:
        """The ``redis://`` URL of ``database`` (with the password, when there is one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{database}"

    def client(self, database: int = 0) -> redis.Redis:
        """A plain redis-py client of ``database`` (for planting and reading raw values)."""
        return redis.Redis.from_url(self.url(database), socket_timeout=5, socket_connect_timeout=5)

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` of the server log (for failure reports)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no redis log)"
        return "\n".join(text.splitlines()[-lines:])

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def pause(self) -> None:
        """Stop the server (its data is lost: nothing is persisted); :meth:`resume` restarts it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def resume(self) -> None:
        """Start the server again on the same port (after :meth:`pause`)."""
        self.log_path = self.workdir / f"redis-resumed-{time.monotonic_ns()}.log"
        self.process = _launch(self.port, self.workdir, self.log_path, self.password)
        if not _wait_ready(self):
            raise RedisStartError(f"redis-server did not start again: {self.log_tail(20)}")

    def stop(self) -> None:
        """Stop the server and remove its working directory."""
        self.pause()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RedisStartError(INSTALL_HINT)
    return found


def _launch(
    port: int, workdir: Path, log_path: Path, password: str | None
) -> subprocess.Popen[bytes]:
    """``redis-server`` on 127.0.0.1:``port``, persisting nothing, logging to ``log_path``."""
    command = [
        _binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--daemonize",
        "no",
        "--logfile",
        str(log_path),
    ]
    if password:
        command += ["--requirepass", password]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
    )


def _wait_ready(running: RunningRedis) -> bool:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if running.process is not None and running.process.poll() is not None:
            return False
        client = redis.Redis(
            host=running.host,
            port=running.port,
            password=running.password,
            socket_timeout=1,
            socket_connect_timeout=1,
        )
        try:
            if client.ping():
                return True
        except redis.RedisError:
            time.sleep(0.1)
        finally:
            client.close()
    return False


def start_redis(base: Path | None = None, *, password: str | None = None) -> RunningRedis:
    """Start a throw-away ``redis-server``; raise ``RedisStartError`` if it cannot."""
    _binary()
    workdir = Path(tempfile.mkdtemp(prefix="gate-redis-", dir=base))
    failure = ""
    for attempt in range(_START_ATTEMPTS):
        port = _free_port()
        log_path = workdir / f"redis-{attempt}.log"
        process = _launch(port, workdir, log_path, password)
        running = RunningRedis(
            host="127.0.0.1",
            port=port,
            workdir=workdir,
            log_path=log_path,
            password=password,
            process=process,
        )
        if _wait_ready(running):
            return running
        failure = running.log_tail(20)
        running.pause()
    shutil.rmtree(workdir, ignore_errors=True)
    raise RedisStartError(f"redis-server did not start after {_START_ATTEMPTS} attempts: {failure}")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RunningRedis]:
    """A ``redis-server`` on 127.0.0.1 for the whole session, with a password."""
    try:
        running = start_redis(password="redis-test-password-0123")
    except RedisStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()
