"""``gate policy diff`` (``--db``) and ``POST /api/v1/policy/preview`` on a small history."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from gate.cli import main
from gate.store.model import EvidenceKind, NewEvidence, NewVerdict, VerdictSource
from gate.store.sql import SqlVerdictStore
from tests.unit.webhook.test_recheck import DIGEST, OTHER, POLICY, REFERENCE, trivy
from webhook.app import create_app, state_of
from webhook.settings import Settings
from webhook.tokens import TokenSet

READER = "reader-token-0123456789abcdef"
WRITER = "writer-token-0123456789abcdef"
STRICT = POLICY.replace("denySeverity: CRITICAL", "denySeverity: HIGH").replace(
    "name: production", "name: strict"
)


def seed(store: SqlVerdictStore) -> None:
    """Two admitted digests: one with a HIGH finding, one clean."""
    now = datetime.now(UTC)
    verdicts = [
        NewVerdict(
            time=now - timedelta(hours=1),
            source=VerdictSource.ADMISSION,
            reference=REFERENCE,
            digest=digest,
            decision="allow",
            mode="enforce",
            policy_name="production",
            policy_digest="sha256:" + "0" * 64,
            rule="apps",
            reason="rule 'apps' allows",
            namespace="shop",
            workload_kind="Deployment",
            workload_name=name,
        )
        for digest, name in ((DIGEST, "cart"), (OTHER, "checkout"))
    ]
    store.record(verdicts)
    for digest, severity in ((DIGEST, "HIGH"), (OTHER, None)):
        store.put_evidence(
            NewEvidence(
                digest,
                EvidenceKind.SCAN,
                "trivy",
                "trivy.json",
                trivy(digest, severity),
                received_at=now - timedelta(hours=2),
            )
        )


@pytest.fixture
def policies(tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(POLICY)
    new.write_text(STRICT)
    return old, new


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'gate.db'}"
    with SqlVerdictStore.from_url(url) as store:
        seed(store)
    return url


def test_the_cli_reports_the_change_and_exits_1(
    policies: tuple[Path, Path], db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = policies
    code = main(["policy", "diff", str(old), str(new), "--db", db_url, "--format", "json"])
    assert code == 1
    document = json.loads(capsys.readouterr().out)
    assert document["counts"]["changed"] == 1
    [change] = document["changes"]
    assert change["digest"] == DIGEST
    assert change["workloadName"] == "cart"
    assert change["old"]["decision"] == "allow"
    assert change["new"]["decision"] == "deny"
    assert "CVE-2026-1000" in change["new"]["reason"]
    assert change["signatures"] == "not needed"


def test_the_cli_exits_0_when_nothing_changes_and_2_on_a_bad_policy(
    policies: tuple[Path, Path], db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old, _new = policies
    assert main(["policy", "diff", str(old), str(old), "--db", db_url]) == 0
    assert "0 would change decision" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: gate/v1\nkind: Nope\n")
    assert main(["policy", "diff", str(old), str(bad), "--db", db_url]) == 2
    assert "bad.yaml" in capsys.readouterr().err
    assert main(["policy", "diff", str(old), str(old), "--db", db_url, "--since", "7"]) == 2


@pytest.fixture
def app(tmp_path: Path, policies: tuple[Path, Path], db_url: str) -> Iterator[Flask]:
    settings = Settings(policy=policies[0], db_url=db_url, recheck_interval=0, spool_dir=None)
    made = create_app(
        settings, tokens=TokenSet.of({"r": (READER, ["read"]), "w": (WRITER, ["write"])})
    )
    try:
        yield made
    finally:
        state_of(made).close()


def test_the_api_previews_against_the_running_policy(app: Flask) -> None:
    client = app.test_client()
    response = client.post(
        "/api/v1/policy/preview",
        json={"policy": STRICT, "since": "1d"},
        headers={"Authorization": f"Bearer {WRITER}"},
    )
    assert response.status_code == 200, response.get_json()
    document = response.get_json()
    assert document["old"]["policy"] == "production"
    assert document["new"]["policy"] == "strict"
    assert document["counts"]["images"] == 2
    assert [c["digest"] for c in document["changes"]] == [DIGEST]
    # The YAML itself as the body works too.
    raw = client.post(
        "/api/v1/policy/preview?since=1d",
        data=STRICT,
        content_type="application/yaml",
        headers={"Authorization": f"Bearer {WRITER}"},
    )
    assert raw.status_code == 200
    assert raw.get_json()["counts"]["changed"] == 1


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"policy": "kind: nope"}, 400, "preview-new.yaml"),
        ({"policy": STRICT, "since": "soon"}, 400, "since"),
        ({"policy": STRICT, "extra": 1}, 400, "body.extra"),
        ({}, 400, "body.policy"),
    ],
)
def test_a_bad_preview_request_is_400(
    app: Flask, body: dict[str, object], status: int, fragment: str
) -> None:
    response = app.test_client().post(
        "/api/v1/policy/preview", json=body, headers={"Authorization": f"Bearer {WRITER}"}
    )
    assert response.status_code == status
    assert fragment in response.get_json()["error"]


def test_the_preview_needs_the_write_scope(app: Flask) -> None:
    # A posted policy names key files the server opens: not for read-only tokens.
    response = app.test_client().post(
        "/api/v1/policy/preview",
        json={"policy": STRICT},
        headers={"Authorization": f"Bearer {READER}"},
    )
    assert response.status_code == 403


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """``app`` on a loopback port, for the CLI's ``--server``."""
    served = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=served.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{served.server_port}"
    finally:
        served.shutdown()
        thread.join(timeout=10)


def test_the_cli_asks_a_running_server(
    server: str, policies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = policies
    asked = ["policy", "diff", str(old), str(new), "--server", server, "--token", WRITER]
    assert main([*asked, "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["counts"] == {**document["counts"], "images": 2, "changed": 1}
    assert [change["digest"] for change in document["changes"]] == [DIGEST]
    assert main(asked) == 1
    text = capsys.readouterr().out
    assert "policy production -> strict" in text
    assert "1 would change decision" in text
    assert "allow -> deny" in text
    assert "Deployment/cart" in text
    unchanged = ["policy", "diff", str(old), str(old), "--server", server, "--token", WRITER]
    assert main(unchanged) == 0
    assert "0 would change decision" in capsys.readouterr().out


def test_the_server_refusing_the_cli_is_one_line_and_exit_2(
    server: str, policies: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = policies
    # A read-only token may not post a policy (it names files the server opens).
    assert main(["policy", "diff", str(old), str(new), "--server", server, "--token", READER]) == 2
    error = capsys.readouterr().err.strip()
    assert "403" in error
    assert "write" in error
    assert "\n" not in error
    # A broken policy is reported here, with its file, before the server is asked.
    bad = tmp_path / "broken.yaml"
    bad.write_text("apiVersion: gate/v1\nkind: Policy\nspec: [\n")
    assert main(["policy", "diff", str(old), str(bad), "--server", server, "--token", WRITER]) == 2
    assert "broken.yaml" in capsys.readouterr().err
