"""``webhook.serve.serve``: the app under real gunicorn over TLS, in its own process."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.integration.gate_cli import write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.support.tls import TestCA
from tests.unit.webhook.reviews import admission_review, kubectl_create

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: served}
spec:
  trust:
    release: {cosign: {publicKeys: [release.pub]}}
  rules:
    - name: local
      match: {images: ["127.0.0.1:*/**"]}
      signatures: {anyOf: [release]}
"""

_SERVE = """\
import sys
from pathlib import Path
from webhook.serve import serve
from webhook.settings import Settings

policy, db, port, cert, key = sys.argv[1:]
settings = Settings(policy=Path(policy), db_url=f"sqlite:///{db}", policy_reload_interval=1)
# One worker: metrics are per worker, and the test reads the admission's count back.
sys.exit(
    serve(settings, port=int(port), tls_cert=Path(cert), tls_key=Path(key), workers=1, threads=4)
)
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(url: str, ca: Path, process: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            _, err = process.communicate(timeout=10)
            pytest.fail(f"gate serve exited with {process.returncode}:\n{err}")
        try:
            if requests.get(f"{url}/readyz", verify=str(ca), timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    pytest.fail("gate serve did not become ready within 30 s")


def _handshake(port: int, ca: Path, version: ssl.TLSVersion) -> str | None:
    """The version a TLS connection speaking only ``version`` agreed on."""
    context = ssl.create_default_context(cafile=str(ca))
    if version < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer it at all
    context.minimum_version = version
    context.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


def test_gunicorn_serves_admission_reviews_over_tls(
    registry: RunningRegistry, test_ca: TestCA, tmp_path: Path
) -> None:
    from gate.signatures.keyfile import generate_key_pair  # noqa: PLC0415

    (tmp_path / "release.pub").write_bytes(generate_key_pair(b"unused")[1])
    policy = write_policy(tmp_path, POLICY)
    image = f"{registry.host}/served/unsigned:1"
    push_image(registry, "served/unsigned", "1", build_image(content=b"served unsigned"))
    server_cert = test_ca.issue_server("webhook")
    port = _free_port()
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SERVE,
            str(policy),
            str(tmp_path / "gate.db"),
            str(port),
            str(server_cert.cert),
            str(server_cert.key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        _wait_ready(url, test_ca.ca_cert, process)
        review = admission_review(kubectl_create("deployment", "web", image))
        response = requests.post(
            f"{url}/validate", json=review, verify=str(test_ca.ca_cert), timeout=15
        )
        assert response.status_code == 200
        answer = response.json()["response"]
        assert answer["uid"] == review["request"]["uid"]
        assert answer["allowed"] is False
        assert "no cosign signatures found" in answer["status"]["message"]
        metrics = requests.get(f"{url}/metrics", verify=str(test_ca.ca_cert), timeout=5).text
        assert 'gate_admission_requests_total{decision="deny"} 1.0' in metrics
        assert _handshake(port, test_ca.ca_cert, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
        assert _handshake(port, test_ca.ca_cert, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            _handshake(port, test_ca.ca_cert, ssl.TLSVersion.TLSv1_1)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "Booting worker" in err


def test_serve_refuses_a_bad_policy_before_starting(tmp_path: Path) -> None:
    policy = write_policy(tmp_path, "apiVersion: gate/v1\nkind: Policy\n")
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _SERVE,
            str(policy),
            str(tmp_path / "gate.db"),
            str(_free_port()),
            str(tmp_path / "no-cert.pem"),
            str(tmp_path / "no-key.pem"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.startswith(f"gate: {policy}")
    assert "Traceback" not in completed.stderr


_SERVE_DEFAULTS = """\
import sys
from pathlib import Path
from webhook.serve import serve
from webhook.settings import Settings

policy, db, port, cert, key = sys.argv[1:]
settings = Settings(policy=Path(policy), db_url=f"sqlite:///{db}", policy_reload_interval=1)
sys.exit(serve(settings, port=int(port), tls_cert=Path(cert), tls_key=Path(key)))
"""


def test_default_workers_each_decide_and_record_every_admission(
    registry: RunningRegistry, test_ca: TestCA, tmp_path: Path
) -> None:
    from gate.signatures.keyfile import generate_key_pair  # noqa: PLC0415
    from gate.store.model import VerdictQuery  # noqa: PLC0415
    from gate.store.sql import SqlVerdictStore  # noqa: PLC0415
    from webhook.serve import TLS_WORKERS  # noqa: PLC0415

    (tmp_path / "release.pub").write_bytes(generate_key_pair(b"unused")[1])
    policy = write_policy(tmp_path, POLICY)
    image = f"{registry.host}/served/workers:1"
    push_image(registry, "served/workers", "1", build_image(content=b"served by workers"))
    server_cert = test_ca.issue_server("webhook")
    port = _free_port()
    database = tmp_path / "gate.db"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _SERVE_DEFAULTS,
            str(policy),
            str(database),
            str(port),
            str(server_cert.cert),
            str(server_cert.key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HOME": str(tmp_path / "home")},
    )
    url = f"https://127.0.0.1:{port}"
    admissions = 12
    try:
        _wait_ready(url, test_ca.ca_cert, process)
        for index in range(admissions):
            # A new connection each time: any worker may answer.
            review = admission_review(kubectl_create("deployment", f"web-{index}", image))
            response = requests.post(
                f"{url}/validate", json=review, verify=str(test_ca.ca_cert), timeout=15
            )
            answer = response.json()["response"]
            assert answer["uid"] == review["request"]["uid"]
            assert answer["allowed"] is False
            assert "no cosign signatures found" in answer["status"]["message"]
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            _, err = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert err.count("Booting worker") >= TLS_WORKERS
    # Every worker's queue was written to the one SQLite file when it stopped.
    store = SqlVerdictStore.from_url(f"sqlite:///{database}")
    try:
        page = store.query(VerdictQuery(), limit=100)
    finally:
        store.close()
    assert sorted(v.workload_name or "" for v in page.items) == sorted(
        f"web-{index}" for index in range(admissions)
    )
