"""A TCP proxy on 127.0.0.1 that injects faults in front of a real server.

Put it between the gate and a real docker-registry, notary-server or
PostgreSQL, then switch what it does at run time with :meth:`FaultProxy.set`:
pass bytes through, delay them (once per connection or per byte), cut the
answer after N bytes (a clean close or a reset), refuse (close at once), or
black-hole (accept and never answer). The fault in force when a connection
is accepted applies to that connection for its life; :meth:`reset_all`
resets the connections already open (a server restarting under its
clients). Faults act on the server's answer, the client's bytes always pass.

Threads only, a bounded number of connections (more are closed at once), and
:meth:`close` ends every socket and joins every thread it started.
"""

from __future__ import annotations

import contextlib
import enum
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

_CHUNK = 16 * 1024
_POLL = 0.05


class Mode(enum.Enum):
    """What the proxy does to the connections it accepts."""

    PASS = "pass"
    DELAY = "delay"
    TRUNCATE = "truncate"
    RESET = "reset"
    REFUSE = "refuse"
    BLACKHOLE = "blackhole"


@dataclass(frozen=True)
class Fault:
    """One setting: the mode and its numbers.

    ``delay``: seconds before the first byte of the answer (DELAY);
    ``per_byte``: seconds between bytes of the answer (DELAY);
    ``after_bytes``: bytes of the answer passed before the cut (TRUNCATE, RESET).
    """

    mode: Mode = Mode.PASS
    delay: float = 0.0
    per_byte: float = 0.0
    after_bytes: int = 0


def _reset(sock: socket.socket) -> None:
    """Close ``sock`` with an RST instead of a FIN (SO_LINGER on, timeout 0)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class _Connection:
    """One client connection and its upstream, pumped by one thread."""

    def __init__(self, client: socket.socket, fault: Fault, upstream: tuple[str, int]) -> None:
        self.client = client
        self.fault = fault
        self.upstream_address = upstream
        self.upstream: socket.socket | None = None
        self.stopped = threading.Event()
        self.reset_requested = threading.Event()

    def run(self) -> None:
        try:
            self._run()
        except OSError:
            pass
        finally:
            if self.reset_requested.is_set():
                _reset(self.client)
                if self.upstream is not None:
                    _reset(self.upstream)
            else:
                _close(self.client)
                if self.upstream is not None:
                    _close(self.upstream)

    def _wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless stopped; True when the connection should go on."""
        return not self.stopped.wait(seconds) and not self.reset_requested.is_set()

    def _run(self) -> None:
        mode = self.fault.mode
        if mode is Mode.REFUSE:
            return
        if mode is Mode.BLACKHOLE:
            # Read and drop whatever the client sends; never answer.
            while not self.stopped.is_set() and not self.reset_requested.is_set():
                ready, _, _ = select.select([self.client], [], [], _POLL)
                if ready and not self.client.recv(_CHUNK):
                    return
            return
        self.upstream = socket.create_connection(self.upstream_address, timeout=5)
        self.upstream.settimeout(None)
        answered = 0
        first = True
        while not self.stopped.is_set():
            if self.reset_requested.is_set():
                return
            ready, _, _ = select.select([self.client, self.upstream], [], [], _POLL)
            if self.client in ready:
                data = self.client.recv(_CHUNK)
                if not data:
                    return
                self.upstream.sendall(data)
            if self.upstream in ready:
                data = self.upstream.recv(_CHUNK)
                if not data:
                    return
                if mode is Mode.DELAY:
                    if first and not self._wait(self.fault.delay):
                        return
                    first = False
                    if self.fault.per_byte > 0:
                        for index in range(len(data)):
                            self.client.sendall(data[index : index + 1])
                            if not self._wait(self.fault.per_byte):
                                return
                        continue
                if mode in (Mode.TRUNCATE, Mode.RESET):
                    room = self.fault.after_bytes - answered
                    if len(data) >= room:
                        self.client.sendall(data[:room])
                        if mode is Mode.RESET:
                            self.reset_requested.set()
                        return
                    answered += len(data)
                self.client.sendall(data)


class FaultProxy:
    """Listens on 127.0.0.1 (a free port) and forwards to ``upstream_host:upstream_port``."""

    def __init__(
        self, upstream_host: str, upstream_port: int, *, max_connections: int = 64
    ) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._max = max_connections
        self._fault = Fault()
        self._lock = threading.Lock()
        self._connections: dict[_Connection, threading.Thread] = {}
        self._closed = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.settimeout(_POLL)
        self.port: int = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._acceptor.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: where clients connect."""
        return f"127.0.0.1:{self.port}"

    @property
    def fault(self) -> Fault:
        """The fault new connections get."""
        with self._lock:
            return self._fault

    def set(
        self, mode: Mode, *, delay: float = 0.0, per_byte: float = 0.0, after_bytes: int = 0
    ) -> None:
        """Apply ``mode`` (see ``Fault`` for the numbers) to connections accepted from now on."""
        fault = Fault(mode, delay=delay, per_byte=per_byte, after_bytes=after_bytes)
        with self._lock:
            self._fault = fault

    @contextlib.contextmanager
    def fault_in(
        self, mode: Mode, *, delay: float = 0.0, per_byte: float = 0.0, after_bytes: int = 0
    ) -> Iterator[FaultProxy]:
        """``set(mode, ...)`` for the block, then pass-through again."""
        self.set(mode, delay=delay, per_byte=per_byte, after_bytes=after_bytes)
        try:
            yield self
        finally:
            self.set(Mode.PASS)

    def reset_all(self) -> int:
        """Reset (RST) every open connection, as a restarting server would; how many."""
        with self._lock:
            live = list(self._connections)
        for connection in live:
            connection.reset_requested.set()
        return len(live)

    @property
    def open_connections(self) -> int:
        """Connections currently being served."""
        with self._lock:
            return len(self._connections)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                fault = self._fault
                full = len(self._connections) >= self._max
            if full:
                _close(client)
                continue
            client.setblocking(True)
            connection = _Connection(client, fault, self._upstream)
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            with self._lock:
                self._connections[connection] = thread
            thread.start()

    def _serve(self, connection: _Connection) -> None:
        try:
            connection.run()
        finally:
            with self._lock:
                self._connections.pop(connection, None)

    def close(self) -> None:
        """Stop accepting, end every connection and join every thread."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            live = dict(self._connections)
        for connection in live:
            connection.stopped.set()
        deadline = time.monotonic() + 5
        for thread in live.values():
            thread.join(timeout=max(deadline - time.monotonic(), 0.1))

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
