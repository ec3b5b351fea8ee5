"""A ``MemoryRegistry`` served over the distribution API on 127.0.0.1, for the webhook fuzz test.

Only what the gate reads: ``/v2/``, manifests by tag or digest (GET and
HEAD, with ``Docker-Content-Digest``) and blobs. There is no referrers API
(404), so signatures are found through cosign's tag schema. The real
``RegistryClient`` talks to it over plain HTTP, as it does to any loopback
registry, so the whole client path runs, only faster than a real registry.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from gate.errors import GateError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from tests.support.fixture_registry import MemoryRegistry

_MANIFEST = re.compile(r"^/v2/(?P<name>.+)/manifests/(?P<ref>[^/]+)$")
_BLOB = re.compile(r"^/v2/(?P<name>.+)/blobs/(?P<ref>[^/]+)$")
_MAX_BLOB = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    server: _RegistryServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: hypothesis makes thousands of requests."""

    def do_GET(self) -> None:
        """Answer a GET."""
        self._answer(with_body=True)

    def do_HEAD(self) -> None:
        """Answer a HEAD."""
        self._answer(with_body=False)

    def _send(self, status: int, body: bytes, headers: dict[str, str], with_body: bool) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def _not_found(self, with_body: bool) -> None:
        body = b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not found"}]}'
        self._send(404, body, {"Content-Type": "application/json"}, with_body)

    def _answer(self, *, with_body: bool) -> None:
        path = self.path.split("?", 1)[0]
        registry = self.server.registry
        if path == "/v2/":
            self._send(200, b"{}", {"Content-Type": "application/json"}, with_body)
            return
        manifest, blob = _MANIFEST.match(path), _BLOB.match(path)
        match = manifest or blob
        if match is None:
            self._not_found(with_body)
            return
        try:
            repository = ImageReference.parse(f"{self.server.host}/{match['name']}")
            if manifest is not None:
                fetched = registry.fetch_manifest(repository, match["ref"])
                if fetched is None:
                    self._not_found(with_body)
                    return
                headers = {
                    "Content-Type": fetched.media_type,
                    "Docker-Content-Digest": str(fetched.digest),
                }
                self._send(200, fetched.data, headers, with_body)
                return
            data = registry.fetch_blob(repository, Digest.parse(match["ref"]), _MAX_BLOB)
        except GateError:
            self._not_found(with_body)
            return
        self._send(200, data, {"Content-Type": "application/octet-stream"}, with_body)


class _RegistryServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, registry: MemoryRegistry) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.registry = registry
        self.host = f"127.0.0.1:{self.server_address[1]}"


@contextmanager
def serve_registry(registry: MemoryRegistry) -> Iterator[str]:
    """Serve ``registry`` on 127.0.0.1 for the ``with`` block; yields its ``host:port``.

    Repositories are keyed by that ``host:port``: store images under
    ``ImageReference.parse(f"{host}/...")``.
    """
    server = _RegistryServer(registry)
    thread = threading.Thread(target=server.serve_forever, name="fuzz-registry", daemon=True)
    thread.start()
    try:
        yield server.host
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
