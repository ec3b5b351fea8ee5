"""The real ``notary`` CLI (0.7), wrapped for tests that sign Docker Content Trust data.

Every call passes the server (``-s``), the trust directory (``-d``) and the
test CA (``--tlscacert``), runs with a timeout and stdin closed (so a missing
passphrase fails instead of prompting), and raises :class:`NotaryCommandError`
with the command's stderr and stdout when it fails (0.7 prints its fatal
errors, ``* fatal: ...``, on stdout). Key passphrases come from the
``NOTARY_*_PASSPHRASE`` environment variables the client sets itself.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from tests.integration.notary_server import RunningNotary

INSTALL_HINT = "the notary client is not installed: run scripts/install-system-deps.sh"
COMMAND_TIMEOUT = 60.0
HTTP_TIMEOUT = 10.0

# Test-only passphrases for the keys the client generates or imports.
PASSPHRASES = {
    "NOTARY_ROOT_PASSPHRASE": "gate-test-root-passphrase",
    "NOTARY_TARGETS_PASSPHRASE": "gate-test-targets-passphrase",
    "NOTARY_SNAPSHOT_PASSPHRASE": "gate-test-snapshot-passphrase",
    "NOTARY_DELEGATION_PASSPHRASE": "gate-test-delegation-passphrase",
}


class NotaryCommandError(RuntimeError):
    """A ``notary`` command failed or timed out; the message holds the command and its stderr."""


class NotaryClient:
    """One local trust directory talking to one Notary server through the ``notary`` CLI."""

    def __init__(self, trust_dir: Path, server: RunningNotary | str, ca_cert: Path) -> None:
        binary = shutil.which("notary")
        if binary is None:
            raise NotaryCommandError(INSTALL_HINT)
        self.binary = binary
        self.trust_dir = trust_dir
        self.url = server if isinstance(server, str) else server.url
        self.ca_cert = ca_cert
        trust_dir.mkdir(parents=True, exist_ok=True)

    def run(
        self, *args: str, timeout: float = COMMAND_TIMEOUT, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``notary <global flags> <args>``; raise ``NotaryCommandError`` unless it succeeds.

        ``input`` answers a prompt: ``key rotate <gun> root`` asks "yes/no" and,
        given no answer, aborts with exit status 0, doing nothing.
        """
        argv = [
            self.binary,
            "-s",
            self.url,
            "-d",
            str(self.trust_dir),
            "--tlscacert",
            str(self.ca_cert),
            *args,
        ]
        env = dict(os.environ)
        env.update(PASSPHRASES)
        try:
            result = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                input=input,
                stdin=None if input is not None else subprocess.DEVNULL,
                env=env,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise NotaryCommandError(
                f"notary {' '.join(args)} timed out after {timeout:g}s; stderr: {_text(exc.stderr)}"
            ) from exc
        if result.returncode != 0:
            raise NotaryCommandError(
                f"notary {' '.join(args)} failed with {result.returncode}; "
                f"stderr: {result.stderr.strip()}; stdout: {result.stdout.strip()}"
            )
        return result

    def init(self, gun: str) -> None:
        """``notary init``: root, targets, snapshot keys made here; the timestamp key on the server.

        Nothing is published until :meth:`publish`.
        """
        self.run("init", gun)

    def add_delegation(self, gun: str, role: str, key_dir: Path) -> Path:
        """Stage delegation ``role`` (all paths) with a new P-256 key; return its certificate.

        The key and a self-signed certificate are written to ``key_dir``; the
        private key is imported into this client's trust directory so that
        targets can be signed into ``role``.
        """
        key_dir.mkdir(parents=True, exist_ok=True)
        name = role.replace("/", "-")
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)])
        now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_path = key_dir / f"{name}.pem"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path = key_dir / f"{name}-key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        self.run("delegation", "add", gun, role, str(cert_path), "--all-paths")
        self.run("key", "import", str(key_path), "--role", role)
        return cert_path

    def add_hash(
        self, gun: str, tag: str, size: int, sha256_hex: str, roles: Sequence[str] = ()
    ) -> None:
        """Stage target ``tag`` (``size`` bytes, ``sha256_hex``) in ``targets`` or ``roles``."""
        args = ["addhash", gun, tag, str(size), "--sha256", sha256_hex]
        if roles:
            args += ["--roles", ",".join(roles)]
        self.run(*args)

    def publish(self, gun: str) -> None:
        """``notary publish``: sign the staged changes and push them to the server."""
        self.run("publish", gun)

    def root_certificate(self, gun: str) -> bytes:
        """The PEM certificate of ``gun``'s root key, read from the published ``root.json``.

        Notary root keys are ``ecdsa-x509``: the key value is a base64 PEM
        certificate whose CN is the GUN, the thing a consumer pins.
        """
        with requests.Session() as session:
            session.trust_env = False  # no proxy from the environment for 127.0.0.1
            answer = session.get(
                f"{self.url}/v2/{gun}/_trust/tuf/root.json",
                verify=str(self.ca_cert),
                timeout=HTTP_TIMEOUT,
            )
        if answer.status_code != 200:
            raise NotaryCommandError(
                f"GET root.json of {gun}: HTTP {answer.status_code}: {answer.text[:200]}"
            )
        signed = json.loads(answer.content)["signed"]
        keyids = signed["roles"]["root"]["keyids"]
        if len(keyids) != 1:
            raise NotaryCommandError(f"root.json of {gun} has {len(keyids)} root keys, expected 1")
        return base64.b64decode(signed["keys"][keyids[0]]["keyval"]["public"])


def _text(stream: str | bytes | None) -> str:
    if stream is None:
        return ""
    if isinstance(stream, bytes):
        return stream.decode(errors="replace").strip()
    return stream.strip()
