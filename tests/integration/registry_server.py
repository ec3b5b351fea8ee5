"""Real registries for integration tests: ``docker-registry serve`` (distribution 2.8).

``start_registry`` writes a config, starts the binary on a free port of
127.0.0.1, waits (bounded) until ``/v2/`` answers and returns a
:class:`RunningRegistry`; its log goes to a file that failing tests print.
Three flavours: anonymous plain HTTP, htpasswd Basic auth over TLS signed by a
test CA, and token auth against :mod:`tests.integration.token_server`.

``StubServer`` is a tiny ``http.server`` for the answers a real registry
never gives (500s, garbage, redirects to another host, bodies dripped one
byte at a time), over plain HTTP or TLS.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bcrypt
import requests

from tests.integration.token_server import TokenServer
from tests.support.tls import CertificatePair, TestCA

INSTALL_HINT = "docker-registry is not installed: run scripts/install-system-deps.sh"
_START_TIMEOUT = 20.0
_START_ATTEMPTS = 3


class RegistryStartError(RuntimeError):
    """The registry binary is missing or did not come up; the message says why."""


@dataclass
class RunningRegistry:
    """A running ``docker-registry`` and everything a test needs to talk to it."""

    host: str  # "127.0.0.1:<port>"
    url: str  # "http://..." or "https://..."
    storage: Path  # filesystem storage root
    username: str | None
    password: str | None
    ca_cert: Path | None  # test CA (PEM) for TLS registries
    cert_dir: Path | None  # certs.d-style dir: <cert_dir>/<host>/ca.crt
    authfile: Path | None  # docker config.json with the credentials
    log_path: Path = field(default=Path("/dev/null"))
    token_server: TokenServer | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def verify(self) -> str | bool:
        """The ``verify`` argument for a plain ``requests`` call to this registry."""
        return str(self.ca_cert) if self.ca_cert is not None else True

    def blob_data_path(self, digest_hex: str) -> Path:
        """Where filesystem storage keeps the bytes of blob ``sha256:<digest_hex>``."""
        return (
            self.storage / "docker/registry/v2/blobs/sha256" / digest_hex[:2] / digest_hex / "data"
        )

    def log_tail(self, lines: int = 80) -> str:
        """The last ``lines`` of the registry log (for failure reports)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no registry log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the registry (and its token server), waiting a bounded time."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.token_server is not None:
            self.token_server.stop()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_authfile(path: Path, host: str, username: str, password: str) -> Path:
    """A docker ``config.json`` holding ``username:password`` for ``host``."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}, indent=2))
    return path


def start_registry(
    workdir: Path,
    *,
    tls: TestCA | None = None,
    users: dict[str, str] | None = None,
    token_server: TokenServer | None = None,
    client_ca: TestCA | None = None,
) -> RunningRegistry:
    """Start ``docker-registry`` in ``workdir``; raise ``RegistryStartError`` if it cannot.

    ``users`` turns on htpasswd Basic auth (bcrypt); ``token_server`` turns on
    token auth (the server must be started); ``tls`` serves HTTPS with a
    certificate for 127.0.0.1 issued by that CA; ``client_ca`` (with ``tls``)
    requires client certificates issued by it. The first user becomes the
    registry's ``username``/``password`` and goes into ``authfile``.
    """
    binary = shutil.which("docker-registry")
    if binary is None:
        raise RegistryStartError(INSTALL_HINT)
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    failure = ""
    for attempt in range(_START_ATTEMPTS):
        port = _free_port()
        host = f"127.0.0.1:{port}"
        config = _config(
            workdir,
            storage,
            host,
            tls=tls,
            users=users,
            token_server=token_server,
            client_ca=client_ca,
        )
        config_path = workdir / "config.yml"
        config_path.write_text(json.dumps(config, indent=2))  # JSON is valid YAML
        log_path = workdir / f"registry-{attempt}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [binary, "serve", str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        registry = _describe(
            workdir,
            storage,
            host,
            tls=tls,
            users=users,
            token_server=token_server,
            process=process,
            log_path=log_path,
        )
        failure = _wait_until_up(registry)
        if not failure:
            return registry
        registry.token_server = None  # keep the token server for the next attempt
        registry.stop()
        if "address already in use" not in registry.log_tail():
            break
    raise RegistryStartError(f"docker-registry did not start: {failure}")


def _config(
    workdir: Path,
    storage: Path,
    host: str,
    *,
    tls: TestCA | None,
    users: dict[str, str] | None,
    token_server: TokenServer | None,
    client_ca: TestCA | None,
) -> dict[str, Any]:
    http: dict[str, Any] = {"addr": host, "secret": "gate-integration-tests"}
    if tls is not None:
        pair = tls.issue_server("registry")
        http["tls"] = {"certificate": str(pair.cert), "key": str(pair.key)}
        if client_ca is not None:
            http["tls"]["clientcas"] = [str(client_ca.ca_cert)]
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "info", "accesslog": {"disabled": False}},
        "storage": {
            "filesystem": {"rootdirectory": str(storage)},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": http,
    }
    if users:
        htpasswd = workdir / "htpasswd"
        htpasswd.write_text(
            "".join(
                f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()}\n"
                for user, password in users.items()
            )
        )
        config["auth"] = {"htpasswd": {"realm": "gate-test", "path": str(htpasswd)}}
    elif token_server is not None:
        config["auth"] = {
            "token": {
                "realm": token_server.realm,
                "service": token_server.service,
                "issuer": token_server.issuer,
                "rootcertbundle": str(token_server.signing.cert_path),
            }
        }
    return config


def _describe(
    workdir: Path,
    storage: Path,
    host: str,
    *,
    tls: TestCA | None,
    users: dict[str, str] | None,
    token_server: TokenServer | None,
    process: subprocess.Popen[bytes],
    log_path: Path,
) -> RunningRegistry:
    username = password = None
    if users:
        username, password = next(iter(users.items()))
    elif token_server is not None and token_server.users:
        username, password = next(iter(token_server.users.items()))
    cert_dir: Path | None = None
    if tls is not None:
        cert_dir = workdir / "certs.d"
        (cert_dir / host).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tls.ca_cert, cert_dir / host / "ca.crt")
    authfile = None
    if username is not None and password is not None:
        authfile = write_authfile(workdir / "auth.json", host, username, password)
    return RunningRegistry(
        host=host,
        url=f"{'https' if tls else 'http'}://{host}",
        storage=storage,
        username=username,
        password=password,
        ca_cert=tls.ca_cert if tls else None,
        cert_dir=cert_dir,
        authfile=authfile,
        log_path=log_path,
        token_server=token_server,
        process=process,
    )


def _wait_until_up(registry: RunningRegistry) -> str:
    """Empty once ``/v2/`` answers at all (200 or 401); else why it did not."""
    deadline = time.monotonic() + _START_TIMEOUT
    last = "no answer yet"
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment for 127.0.0.1
        return _poll(registry, session, deadline, last)


def _poll(registry: RunningRegistry, session: requests.Session, deadline: float, last: str) -> str:
    while time.monotonic() < deadline:
        assert registry.process is not None
        if registry.process.poll() is not None:
            return f"exited with {registry.process.returncode}; log:\n{registry.log_tail()}"
        try:
            session.get(f"{registry.url}/v2/", verify=registry.verify, timeout=1)
        except requests.exceptions.SSLError:
            return ""  # it speaks TLS; it wants a client certificate this probe lacks
        except requests.RequestException as exc:
            last = str(exc)
            time.sleep(0.1)
            continue
        return ""
    return f"/v2/ did not answer within {_START_TIMEOUT:g}s ({last}); log:\n{registry.log_tail()}"


@dataclass(frozen=True)
class StubResponse:
    """What the stub answers: status, headers and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does
    drip: float = 0.0  # > 0: send the body one byte at a time, this many seconds apart


StubHandler = Callable[[str, str, dict[str, str]], StubResponse]


@dataclass
class SeenRequest:
    """A request the stub received (method, path, headers)."""

    method: str
    path: str
    headers: dict[str, str]


class StubServer:
    """An HTTP server on 127.0.0.1 answering every request through ``handler``.

    With ``tls`` it serves HTTPS with that certificate and key.
    """

    def __init__(self, handler: StubHandler, *, tls: CertificatePair | None = None) -> None:
        self.seen: list[SeenRequest] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                headers = dict(self.headers.items())
                stub.seen.append(SeenRequest(self.command, self.path, headers))
                answer = handler(self.command, self.path, headers)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.send_length and "Content-Length" not in answer.headers:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command == "HEAD":
                    return
                if answer.drip <= 0:
                    self.wfile.write(answer.body)
                    return
                for index in range(len(answer.body)):
                    try:
                        self.wfile.write(answer.body[index : index + 1])
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up: that is the point of dripping
                    time.sleep(answer.drip)

            do_GET = do_HEAD = do_PUT = do_POST = _serve  # noqa: N815 - http.server names

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls.cert), str(tls.key))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return f"127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        """Shut the server down."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
