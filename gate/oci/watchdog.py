"""A deadline for the status line and headers of a request, not only for each read.

urllib3's read timeout bounds each ``recv``: a server that sends one byte
of its status line or headers every half second never trips it, and the
request takes as long as the server likes. The body is read by the gate
itself against the whole-request deadline; this module covers the part
before it. Connections made through these pools tell the request's watch
(kept per thread) which socket they are about to read the answer from; when
the deadline passes first, the watch shuts that socket down, the blocked
read ends, and the transport reports the deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_local = threading.local()


class DeadlineWatch:
    """Shuts down the socket of the current request once ``fire`` is called."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self.fired = False

    def attach(self, sock: socket.socket) -> None:
        """The request is about to wait for its answer on ``sock``."""
        with self._lock:
            self._sock = sock
            if self.fired:
                self._cut()

    def fire(self) -> None:
        """The deadline has passed: end whatever read is waiting."""
        with self._lock:
            self.fired = True
            self._cut()

    def _cut(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)


@contextlib.contextmanager
def watched(seconds: float) -> Iterator[DeadlineWatch]:
    """Watch the requests this thread sends inside the block; cut them after ``seconds``."""
    watch = DeadlineWatch()
    timer = threading.Timer(max(seconds, 0.0), watch.fire)
    timer.daemon = True
    previous = getattr(_local, "watch", None)
    _local.watch = watch
    timer.start()
    try:
        yield watch
    finally:
        timer.cancel()
        _local.watch = previous


def _attach(sock: socket.socket | None) -> None:
    watch: DeadlineWatch | None = getattr(_local, "watch", None)
    if watch is not None and sock is not None:
        watch.attach(sock)


class _WatchedHTTPConnection(HTTPConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _attach(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def getresponse(self, *args: Any, **kwargs: Any) -> Any:
        _attach(self.sock)
        return super().getresponse(*args, **kwargs)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def watch_pools(manager: Any) -> None:
    """Make ``manager`` (a urllib3 PoolManager or ProxyManager) build watched pools."""
    manager.pool_classes_by_scheme = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """A requests adapter whose connections report to the current thread's watch."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """The usual pool manager, building watched pools."""
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        watch_pools(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The usual proxy manager, building watched pools."""
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        watch_pools(manager)
        return manager
