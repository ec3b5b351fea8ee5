"""Two ``gate serve`` processes sharing one PostgreSQL see each other's verdicts.

This is how the webhook runs with several replicas: each admits requests on
its own, the verdict store is shared, and the API of either one answers for
all of them. Both servers are real processes started through the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.integration.gate_cli import write_policy
from tests.integration.postgres_server import RunningPostgres
from tests.integration.registry_server import RunningRegistry
from tests.integration.served_gate import ServedGate
from tests.support.images import build_image, push_image
from tests.unit.webhook.reviews import admission_review, kubectl_create

pytestmark = pytest.mark.integration

TOKEN = "replica-test-token-0123456789"
CI_TOKEN = "replica-ci-token-0123456789ab"
POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: replicas}
spec:
  defaultAction: deny
  rules:
    - name: local
      match: {images: ["127.0.0.1:*/replicas/**"]}
      action: allow
"""


class Replica(ServedGate):
    """One ``gate serve`` process on 127.0.0.1 (two workers) with the API tokens."""

    def __init__(self, policy: Path, db_url: str, tokens: Path, home: Path) -> None:
        options = ("--tokens", str(tokens), "--workers", "2", "--threads", "4")
        super().__init__(policy, db_url, home, options=options)

    def verdicts(self) -> list[dict[str, object]]:
        """Every verdict the API of this replica lists."""
        answer = requests.get(
            f"{self.url}/api/v1/verdicts",
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, object]] = answer.json()["items"]
        return items


@pytest.fixture
def replicas(postgres_server: RunningPostgres, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    """Two servers on one fresh PostgreSQL database."""
    db_url = postgres_server.create_database()
    policy = write_policy(tmp_path, POLICY)
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(
        f'tokens:\n  - name: ops\n    token: "{TOKEN}"\n    scopes: [read]\n'
        f'  - name: ci\n    token: "{CI_TOKEN}"\n    scopes: [read, write]\n'
    )
    first = Replica(policy, db_url, tokens, tmp_path / "home-1")
    second = Replica(policy, db_url, tokens, tmp_path / "home-2")
    try:
        first.wait_ready()
        second.wait_ready()
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_replicas_share_their_verdicts(
    replicas: tuple[Replica, Replica], registry: RunningRegistry
) -> None:
    first, second = replicas
    push_image(registry, "replicas/app", "1", build_image(content=b"replicas"))
    image = f"{registry.host}/replicas/app:1"
    for replica, name in ((first, "via-first"), (second, "via-second")):
        review = admission_review(kubectl_create("deployment", name, image))
        answer = requests.post(f"{replica.url}/validate", json=review, timeout=15)
        assert answer.status_code == 200
        assert answer.json()["response"]["allowed"] is True

    # Recording is asynchronous (a queue per process); wait for both to land.
    for _ in range(100):
        seen_by_first = {v["workloadName"] for v in first.verdicts()}
        seen_by_second = {v["workloadName"] for v in second.verdicts()}
        if seen_by_first == seen_by_second == {"via-first", "via-second"}:
            break
        time.sleep(0.1)
    assert seen_by_first == {"via-first", "via-second"}
    assert seen_by_second == {"via-first", "via-second"}


def _gate(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gate.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(home), "DOCKER_CONFIG": str(home), "GATE_TOKEN": CI_TOKEN},
        check=False,
    )


def test_ci_records_and_pushes_evidence_through_the_cli(
    replicas: tuple[Replica, Replica], registry: RunningRegistry, tmp_path: Path
) -> None:
    first, second = replicas
    digest = push_image(registry, "replicas/ci", "1", build_image(content=b"ci build"))
    image = f"{registry.host}/replicas/ci:1"
    policy = write_policy(tmp_path, POLICY, name="ci-policy.yaml")
    checked = _gate("check", image, "--policy", str(policy), "--record", first.url, home=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "recorded 1 verdict(s)" in checked.stderr

    listed = _gate("verdicts", "list", "--server", second.url, "--source", "ci", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert image in listed.stdout
    assert str(digest)[:19] in listed.stdout

    report = tmp_path / "trivy.json"
    name = image.rsplit(":", 1)[0]
    report.write_text(
        json.dumps(
            {
                "SchemaVersion": 2,
                "ArtifactName": image,
                "Metadata": {"RepoDigests": [f"{name}@{digest}"]},
                "Results": [],
            }
        )
    )
    pushed = _gate(
        "evidence", "push", image, "--scan", str(report), "--server", second.url, home=tmp_path
    )
    assert pushed.returncode == 0, pushed.stderr
    assert str(digest) in pushed.stdout

    no_token = subprocess.run(
        [sys.executable, "-m", "gate.cli", "verdicts", "list", "--server", second.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if k != "GATE_TOKEN"},
        check=False,
    )
    assert no_token.returncode == 2
    assert no_token.stderr.strip() == "gate: no API token: pass --token or set GATE_TOKEN"
