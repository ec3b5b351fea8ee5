"""A real Notary service for integration tests: ``notary-signer`` + ``notary-server`` (0.7).

``start_notary`` writes a config for each, starts the signer (gRPC over TLS)
and then the server (HTTPS, ``trust_service`` remote pointing at the signer)
on free ports of 127.0.0.1, waits (bounded) until the signer completes a TLS
handshake and the server answers ``/_notary_server/health``, and returns a
:class:`RunningNotary`. Both use the ``memory`` storage backend (the Debian
build has no sqlite), so every start is an empty service. Each process logs to
its own file; ``log_tail`` gives both for failure reports.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.support.tls import CertificatePair, TestCA

INSTALL_HINT = "notary-server/notary-signer are not installed: run scripts/install-system-deps.sh"
HEALTH_PATH = "/_notary_server/health"
_START_TIMEOUT = 15.0
_START_ATTEMPTS = 3
_STOP_TIMEOUT = 10.0
# The signer encrypts the keys it holds with the passphrase of its default
# alias, read from NOTARY_SIGNER_<ALIAS>. The memory backend of 0.7 ignores
# both, but setting them keeps the config valid for a database backend too.
_SIGNER_ALIAS = "gatetests"
_SIGNER_PASSPHRASE = "gate-integration-signer-passphrase"


class NotaryStartError(RuntimeError):
    """The Notary binaries are missing or the service did not come up; the message says why."""


class NotaryNotInstalledError(NotaryStartError):
    """``notary-server`` or ``notary-signer`` is not on the PATH (fixtures skip on this)."""


@dataclass
class RunningNotary:
    """A running notary-server + notary-signer pair and what a test needs to reach it."""

    url: str  # "https://127.0.0.1:<port>"
    ca_cert: Path  # PEM of the test CA that signed the server (and signer) certificates
    log_path: Path  # notary-server's log
    signer_log_path: Path = field(default=Path("/dev/null"))
    signer_address: str = ""  # "127.0.0.1:<port>" of the signer's gRPC endpoint
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>`` of the server."""
        return self.url.removeprefix("https://")

    def log_tail(self, lines: int = 60) -> str:
        """The last ``lines`` of the server log and of the signer log (for failure reports)."""
        return (
            f"--- notary-server ({self.log_path}) ---\n{_tail(self.log_path, lines)}\n"
            f"--- notary-signer ({self.signer_log_path}) ---\n{_tail(self.signer_log_path, lines)}"
        )

    def stop(self) -> None:
        """Terminate the server, then the signer, each waiting a bounded time; idempotent."""
        # Server first: it is the signer's only client.
        for process in reversed(self.processes):
            _terminate(process)


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_notary(work: Path, ca: TestCA) -> RunningNotary:
    """Start notary-signer and notary-server under ``work``; raise ``NotaryStartError`` if not.

    Both listen on 127.0.0.1 only, with certificates for 127.0.0.1 issued by
    ``ca``; the server trusts the signer through ``ca`` as well. Clients need
    ``ca.ca_cert`` (``RunningNotary.ca_cert``) to talk to the server.
    """
    server_binary = shutil.which("notary-server")
    signer_binary = shutil.which("notary-signer")
    if server_binary is None or signer_binary is None:
        raise NotaryNotInstalledError(INSTALL_HINT)
    work.mkdir(parents=True, exist_ok=True)
    # Unique stems: the CA's directory is shared by the whole session.
    stem = f"notary-{uuid.uuid4().hex[:8]}"
    signer_pair = ca.issue_server(f"{stem}-signer")
    server_pair = ca.issue_server(f"{stem}-server")
    env = dict(os.environ)
    env[f"NOTARY_SIGNER_{_SIGNER_ALIAS.upper()}"] = _SIGNER_PASSPHRASE
    failure = ""
    for attempt in range(_START_ATTEMPTS):
        running, failure = _start_once(
            work,
            ca=ca,
            attempt=attempt,
            signer_binary=signer_binary,
            server_binary=server_binary,
            signer_pair=signer_pair,
            server_pair=server_pair,
            env=env,
        )
        if running is not None:
            return running
        if "address already in use" not in failure:
            break
    raise NotaryStartError(f"notary did not start: {failure}")


def _start_once(
    work: Path,
    *,
    ca: TestCA,
    attempt: int,
    signer_binary: str,
    server_binary: str,
    signer_pair: CertificatePair,
    server_pair: CertificatePair,
    env: dict[str, str],
) -> tuple[RunningNotary | None, str]:
    """One try on fresh ports: the service, or ``None`` and why it did not come up."""
    signer_address = f"127.0.0.1:{_free_port()}"
    server_port = _free_port()
    signer_config = work / "signer.json"
    signer_config.write_text(json.dumps(_signer_config(signer_address, signer_pair), indent=2))
    server_config = work / "server.json"
    server_config.write_text(
        json.dumps(_server_config(server_port, server_pair, signer_address, ca), indent=2)
    )
    running = RunningNotary(
        url=f"https://127.0.0.1:{server_port}",
        ca_cert=ca.ca_cert,
        log_path=work / f"notary-server-{attempt}.log",
        signer_log_path=work / f"notary-signer-{attempt}.log",
        signer_address=signer_address,
    )
    deadline = time.monotonic() + _START_TIMEOUT
    running.processes.append(
        _spawn([signer_binary, "-config", str(signer_config)], running.signer_log_path, env)
    )
    # The server dials the signer lazily and backs off for seconds after a refused
    # connection, so it starts only once the signer is listening.
    failure = _wait_for_signer(running, deadline)
    if not failure:
        running.processes.append(
            _spawn([server_binary, "-config", str(server_config)], running.log_path, env)
        )
        failure = _wait_for_health(running, deadline)
    if not failure:
        return running, ""
    running.stop()
    return None, f"{failure}; logs:\n{running.log_tail(20)}"


def _spawn(argv: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )


def _signer_config(address: str, pair: CertificatePair) -> dict[str, Any]:
    return {
        "server": {
            "grpc_addr": address,
            "tls_cert_file": str(pair.cert),
            "tls_key_file": str(pair.key),
        },
        "logging": {"level": "info"},
        "storage": {"backend": "memory", "default_alias": _SIGNER_ALIAS},
    }


def _server_config(
    port: int, pair: CertificatePair, signer_address: str, ca: TestCA
) -> dict[str, Any]:
    signer_host, signer_port = signer_address.rsplit(":", 1)
    return {
        "server": {
            "http_addr": f"127.0.0.1:{port}",
            "tls_cert_file": str(pair.cert),
            "tls_key_file": str(pair.key),
        },
        "trust_service": {
            "type": "remote",
            "hostname": signer_host,
            "port": signer_port,
            "key_algorithm": "ecdsa",
            "tls_ca_file": str(ca.ca_cert),
        },
        "storage": {"backend": "memory"},
        "logging": {"level": "info"},
        # No "auth" section: anonymous pushes and pulls.
    }


def _exited(running: RunningNotary) -> str:
    # Started in this order; the server only once the signer is up.
    for name, process in zip(("notary-signer", "notary-server"), running.processes, strict=False):
        if process.poll() is not None:
            return f"{name} exited with {process.returncode}"
    return ""


def _wait_for_signer(running: RunningNotary, deadline: float) -> str:
    """Empty once the signer completes a TLS handshake trusting the test CA; else why not."""
    host, port = running.signer_address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(running.ca_cert))
    context.set_alpn_protocols(["h2"])  # what a gRPC client offers
    last = "no answer yet"
    while time.monotonic() < deadline:
        if exited := _exited(running):
            return exited
        try:
            with (
                socket.create_connection((host, int(port)), timeout=1) as sock,
                context.wrap_socket(sock, server_hostname=host),
            ):
                return ""
        except OSError as exc:  # ssl.SSLError is an OSError too
            last = str(exc)
            time.sleep(0.05)
    return f"notary-signer did not accept TLS within {_START_TIMEOUT:g}s ({last})"


def _wait_for_health(running: RunningNotary, deadline: float) -> str:
    """Empty once ``/_notary_server/health`` answers 200; else why it did not."""
    last = "no answer yet"
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment for 127.0.0.1
        while time.monotonic() < deadline:
            if exited := _exited(running):
                return exited
            try:
                answer = session.get(
                    f"{running.url}{HEALTH_PATH}", verify=str(running.ca_cert), timeout=1
                )
            except requests.RequestException as exc:
                last = str(exc)
                time.sleep(0.05)
                continue
            if answer.status_code == 200:
                return ""
            last = f"HTTP {answer.status_code}: {answer.text[:200]}"
            time.sleep(0.05)
    return f"{HEALTH_PATH} did not answer 200 within {_START_TIMEOUT:g}s ({last})"
