"""``gate serve`` as its own process on 127.0.0.1, for tests that run replicas of it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import requests

from tests.unit.webhook.reviews import admission_review, kubectl_create


def free_port() -> int:
    """A loopback port nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServedGate:
    """One ``gate serve --policy POLICY --db URL [options]`` with its own HOME."""

    def __init__(
        self,
        policy: Path,
        db_url: str,
        home: Path,
        *,
        options: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        home.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "gate.cli", "serve", "--policy", str(policy)]
        command += ["--port", str(self.port), "--db", db_url, *options]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                **(env or {}),
                "HOME": str(home),
                "DOCKER_CONFIG": str(home),
                "GATE_STATE_DIR": str(home / "state"),
            },
        )

    def wait_ready(self) -> None:
        """Until ``/readyz`` answers 200 (bounded)."""
        for _ in range(300):
            if self.process.poll() is not None:
                _, err = self.process.communicate(timeout=10)
                pytest.fail(f"gate serve exited with {self.process.returncode}:\n{err}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        pytest.fail("gate serve did not become ready within 30 s")

    def admit(self, image: str) -> dict[str, object]:
        """The AdmissionReview response for a Deployment of ``image``."""
        name = f"app-{uuid.uuid4().hex[:8]}"
        review = admission_review(kubectl_create("deployment", name, image))
        answer = requests.post(f"{self.url}/validate", json=review, timeout=20)
        assert answer.status_code == 200, answer.text
        response: dict[str, object] = answer.json()["response"]
        return response

    def metric(self, name: str, **labels: str) -> float:
        """One sample of ``/metrics`` (0 when absent)."""
        text = requests.get(f"{self.url}/metrics", timeout=10).text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        pattern = re.escape(name + (f"{{{wanted}}}" if wanted else "")) + r" (\S+)"
        match = re.search(rf"^{pattern}$", text, re.MULTILINE)
        return float(match.group(1)) if match else 0.0

    def stop(self) -> str:
        """SIGTERM, wait, and return stderr."""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
        return err
