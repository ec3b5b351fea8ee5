"""Reading trust data from a Notary server: ``GET /v2/<gun>/_trust/tuf/<role>.json``.

One ``NotaryServer`` per server URL and CA file; it hands out a
``MetadataSource`` per GUN for ``gate.signatures.notary.repository``. Every
request is bounded (timeouts, a total deadline and the caller's size cap);
a 404 is "this role has no trust data", anything else that is not a 200 is
a ``BackendError`` (the server, not the trust data, failed: fail closed).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from gate.errors import BackendError
from gate.oci.transport import BodyTooLargeError, RequestRecord, Transport
from gate.signatures.notary.metadata import NotaryError, NotaryMissingError

_USER_AGENT_SUFFIX = " (notary v1)"


class NotaryServer:
    """HTTPS access to one Notary server (plain HTTP only for loopback servers)."""

    def __init__(
        self,
        url: str,
        *,
        cert_dirs: Sequence[Path] = (),
        ca_file: Path | None = None,
        timeout: float = 10.0,
        deadline: float | None = None,
        user_agent: str = "gate",
    ) -> None:
        self.url = url.rstrip("/")
        self._transport = Transport(
            cert_dirs=cert_dirs,
            insecure_registries=(),
            timeout=timeout,
            deadline=deadline,
            user_agent=user_agent + _USER_AGENT_SUFFIX,
            ca_files=() if ca_file is None else (ca_file,),
        )

    @property
    def requests_made(self) -> tuple[RequestRecord, ...]:
        """Every exchange with the server so far (tests and benchmarks count them)."""
        return self._transport.records

    def source(self, gun: str) -> ServerSource:
        """The trust data of repository ``gun`` on this server."""
        return ServerSource(self, gun)

    def get(self, gun: str, role: str, max_length: int, version: int | None) -> bytes:
        """The bytes of ``role`` of ``gun`` (see ``ServerSource.fetch``)."""
        name = f"{role}.json" if version is None else f"{version}.{role}.json"
        path = f"/v2/{quote(gun, safe='/:')}/_trust/tuf/{quote(name, safe='/')}"
        where = f"notary server {self.url}: {gun}: {name}"
        try:
            response = self._transport.request_url(
                "GET",
                self.url + path,
                max_body=max_length,
                kind="notary",
                label=f"notary server {self.url}",
            )
        except BodyTooLargeError:
            raise NotaryError(f"{where}: larger than {max_length} bytes") from None
        if response.status == 404:
            raise NotaryMissingError(f"{where}: no such trust data (404)")
        if response.status != 200:
            detail = response.body[:200].decode("utf-8", "replace").strip()
            detail = " ".join(detail.split())
            raise BackendError(
                f"{where}: answered {response.status} {response.reason}"
                + (f": {detail}" if detail else "")
            )
        return response.body

    def close(self) -> None:
        """Release pooled connections."""
        self._transport.close()


class ServerSource:
    """A ``MetadataSource`` over one GUN of a ``NotaryServer``."""

    def __init__(self, server: NotaryServer, gun: str) -> None:
        self._server = server
        self._gun = gun

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        """Exact bytes of ``<role>.json`` (or ``<version>.<role>.json``), at most ``max_length``."""
        return self._server.get(self._gun, role, max_length, version)


class NotaryServers:
    """The ``NotaryServer`` of each (URL, CA file), made once and shared across checks."""

    def __init__(
        self,
        *,
        cert_dirs: Sequence[Path] = (),
        timeout: float = 10.0,
        deadline: float | None = None,
        user_agent: str = "gate",
    ) -> None:
        self._cert_dirs = tuple(cert_dirs)
        self._timeout = timeout
        self._deadline = deadline
        self._user_agent = user_agent
        self._servers: dict[tuple[str, Path | None], NotaryServer] = {}
        self._lock = threading.Lock()

    def get(self, url: str, ca_file: Path | None) -> NotaryServer:
        """The server for ``url`` trusted with ``ca_file`` (besides system and certs.d CAs)."""
        key = (url.rstrip("/"), ca_file)
        with self._lock:
            server = self._servers.get(key)
            if server is None:
                server = NotaryServer(
                    key[0],
                    cert_dirs=self._cert_dirs,
                    ca_file=ca_file,
                    timeout=self._timeout,
                    deadline=self._deadline,
                    user_agent=self._user_agent,
                )
                self._servers[key] = server
            return server

    @property
    def requests_made(self) -> tuple[RequestRecord, ...]:
        """Every exchange with every server so far."""
        with self._lock:
            servers = list(self._servers.values())
        return tuple(r for s in servers for r in s.requests_made)

    def close(self) -> None:
        """Release every server's connections."""
        with self._lock:
            servers = list(self._servers.values())
            self._servers.clear()
        for server in servers:
            server.close()
