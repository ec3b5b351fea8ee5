"""Exceptions as data end to end: the API, ``gate exceptions`` and the admission webhook.

A signed image with a critical finding (a Trivy report stored through the
evidence API) is denied; ``gate exceptions add`` against the served app lets
it through and the verdict names the exception; ``gate exceptions revoke``
denies it again, on this replica at once and on a second replica (same
database) once its cache TTL has passed. The API's auth and 400s are here too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from gate.cli import main
from gate.oci.digest import Digest
from gate.store.model import VerdictQuery
from tests.integration.gate_cli import isolate_environment, make_key_pair, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from tests.unit.webhook.reviews import admission_review, kubectl_create
from webhook.app import create_app, state_of
from webhook.settings import Settings
from webhook.tokens import TokenSet

pytestmark = pytest.mark.integration

WRITER = "w" * 32
READER = "r" * 32
BOTH = "b" * 32
TOKENS = TokenSet.of(
    {"ci": (WRITER, ["write"]), "dash": (READER, ["read"]), "sec": (BOTH, ["read", "write"])}
)
POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: exceptions}
spec:
  defaultAction: deny
  exceptions: {maxDays: 30}
  trust:
    release: {cosign: {publicKeys: [keys/release.pub]}}
  rules:
    - name: scanned
      match: {images: ["127.0.0.1:*/exc/**"]}
      signatures: {anyOf: [release]}
      vulnerabilities: {denySeverity: CRITICAL, requireScan: true}
"""
CVE = "CVE-2024-0001"


@dataclass(frozen=True)
class Image:
    """The pushed, signed image."""

    reference: str
    digest: Digest
    keys: Path


@pytest.fixture(scope="module")
def image(registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory) -> Image:
    keys = tmp_path_factory.mktemp("exceptions") / "keys"
    key, _ = make_key_pair(keys, "release")
    digest = push_image(registry, "exc/app", "1", build_image(content=b"exceptions"))
    reference = f"{registry.host}/exc/app:1"
    with pytest.MonkeyPatch.context() as patch:
        isolate_environment(patch, tmp_path_factory.mktemp("home"))
        assert main(["sign", reference, "--key", str(key)]) == 0
    return Image(reference, digest, keys)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


@pytest.fixture
def apps(image: Image, tmp_path: Path) -> Iterator[tuple[Flask, Flask]]:
    """Two replicas on one SQLite database: the first serves the API, TTL 0.5 s each."""
    policy = write_policy(image.keys.parent, POLICY, name=f"policy-{tmp_path.name}.yaml")
    settings = Settings(
        policy=policy, db_url=f"sqlite:///{tmp_path / 'gate.db'}", policy_reload_interval=0
    )
    first = create_app(settings, tokens=TOKENS, exceptions_ttl=0.5)
    second = create_app(settings, tokens=TOKENS, exceptions_ttl=0.5)
    yield first, second
    state_of(first).close()
    state_of(second).close()


@pytest.fixture
def server(apps: tuple[Flask, Flask]) -> Iterator[str]:
    """The first replica served on 127.0.0.1 for the CLI."""
    httpd = make_server("127.0.0.1", 0, apps[0], threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def _trivy_report(reference: str) -> bytes:
    return json.dumps(
        {
            "SchemaVersion": 2,
            "CreatedAt": datetime.now(UTC).isoformat(),
            "ArtifactName": reference,
            "ArtifactType": "container_image",
            "Metadata": {},
            "Results": [
                {
                    "Target": "app",
                    "Class": "os-pkgs",
                    "Type": "alpine",
                    "Vulnerabilities": [
                        {
                            "VulnerabilityID": CVE,
                            "PkgName": "openssl",
                            "InstalledVersion": "3.0.0",
                            "FixedVersion": "3.0.1",
                            "Severity": "CRITICAL",
                        }
                    ],
                }
            ],
        }
    ).encode()


def _admit(client: FlaskClient, image: Image, namespace: str = "shop") -> dict[str, Any]:
    review = admission_review(
        kubectl_create("deployment", "app", image.reference), namespace=namespace
    )
    response = client.post("/validate", json=review)
    assert response.status_code == 200, response.get_data(as_text=True)
    result: dict[str, Any] = response.get_json()["response"]
    return result


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_denied_then_excepted_then_revoked(
    apps: tuple[Flask, Flask],
    server: str,
    image: Image,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = apps
    client, replica = first.test_client(), second.test_client()
    pushed = client.post(
        "/api/v1/evidence",
        query_string={"digest": str(image.digest), "kind": "scan", "name": "trivy.json"},
        data=_trivy_report(image.reference),
        headers=_auth(WRITER),
    )
    assert pushed.status_code == 201, pushed.get_data(as_text=True)
    denied = _admit(client, image)
    assert denied["allowed"] is False
    assert CVE in denied["status"]["message"]

    monkeypatch.setenv("GATE_TOKEN", BOTH)
    expires = (datetime.now(UTC) + timedelta(days=7)).date().isoformat()
    code, out, err = _cli(
        capsys, "exceptions", "add", "--server", server, "--finding", CVE,
        "--image", "127.0.0.1:*/exc/*", "--namespace", "shop", "--owner", "alice",
        "--ticket", "SEC-42", "--reason", "openssl not reachable", "--expires", expires,
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    assert created["createdBy"] == "sec"
    assert created["findingId"] == CVE

    allowed = _admit(client, image)
    assert allowed["allowed"] is True, allowed
    # Another namespace is out of the exception's scope.
    assert _admit(client, image, namespace="other")["allowed"] is False
    state = state_of(first)
    assert state.recorder.flush(10)
    (verdict, *_) = state.store.query(VerdictQuery(namespace="shop", decision="allow")).items
    (vulnerabilities,) = [c for c in verdict.checks if c.check == "vulnerabilities"]
    (used,) = vulnerabilities.details["exceptionsUsed"]
    assert used["id"] == created["id"]
    assert used["owner"] == "alice"
    assert used["ticket"] == "SEC-42"
    assert used["expires"] == created["expires"]
    assert created["id"] in vulnerabilities.reason
    assert _admit(replica, image)["allowed"] is True

    code, out, err = _cli(capsys, "exceptions", "list", "--server", server, "--active")
    assert code == 0, err
    assert created["id"] in out
    assert "SEC-42" in out
    code, out, err = _cli(capsys, "exceptions", "revoke", created["id"], "--server", server)
    assert code == 0, err
    assert json.loads(out)["revoked"] is True
    # The replica that served the revoke dropped its cache; the other waits out its TTL.
    assert _admit(client, image)["allowed"] is False
    time.sleep(0.6)
    assert _admit(replica, image)["allowed"] is False

    audit = client.get(f"/api/v1/exceptions/{created['id']}/audit", headers=_auth(READER))
    assert [(e["action"], e["actor"]) for e in audit.get_json()["items"]] == [
        ("create", "sec"),
        ("revoke", "sec"),
    ]
    revoked = client.get(f"/api/v1/exceptions/{created['id']}", headers=_auth(READER)).get_json()
    assert revoked["revoked"] is True
    assert revoked["revokedBy"] == "sec"


def test_expired_exception_is_reported_and_audited_once(
    apps: tuple[Flask, Flask], image: Image
) -> None:
    first, _ = apps
    client = first.test_client()
    client.post(
        "/api/v1/evidence",
        query_string={"digest": str(image.digest), "kind": "scan"},
        data=_trivy_report(image.reference),
        headers=_auth(WRITER),
    )
    store = state_of(first).store
    from gate.policy.exceptions import NewException  # noqa: PLC0415 - local to this test

    made = store.add_exception(  # type: ignore[attr-defined]  # SqlVerdictStore
        NewException(
            finding_id=CVE, purl=None, images=(), namespaces=(), owner="bob", ticket="SEC-7",
            reason="r", expires=datetime.now(UTC) - timedelta(hours=1),
        ),
        created=datetime.now(UTC) - timedelta(days=2),
        created_by="sec",
    )  # fmt: skip
    for _ in range(2):
        denied = _admit(client, image)
        assert denied["allowed"] is False
        assert f"stored exception {made.id}" in denied["status"]["message"]
    entries = store.exception_audit(made.id)  # type: ignore[attr-defined]  # SqlVerdictStore
    assert [e.action for e in entries] == ["create", "expired"]


def test_api_auth_and_bad_requests(apps: tuple[Flask, Flask]) -> None:
    client = apps[0].test_client()
    body = {
        "findingId": CVE,
        "owner": "alice",
        "ticket": "SEC-1",
        "reason": "r",
        "expires": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
    }
    assert client.post("/api/v1/exceptions", json=body).status_code == 401
    assert client.post("/api/v1/exceptions", json=body, headers=_auth("x" * 32)).status_code == 401
    forbidden = client.post("/api/v1/exceptions", json=body, headers=_auth(READER))
    assert forbidden.status_code == 403
    assert "write" in forbidden.get_json()["error"]
    assert client.get("/api/v1/exceptions", headers=_auth(WRITER)).status_code == 403
    assert client.get("/api/v1/exceptions").status_code == 401

    def refused(change: dict[str, Any]) -> str:
        response = client.post("/api/v1/exceptions", json={**body, **change}, headers=_auth(WRITER))
        assert response.status_code == 400, response.get_data(as_text=True)
        error: str = response.get_json()["error"]
        return error

    too_far = (datetime.now(UTC) + timedelta(days=31)).isoformat()
    assert refused({"expires": too_far}).startswith("expires: ")
    assert "30 days" in refused({"expires": too_far})
    assert refused({"owner": ""}).startswith("owner: required")
    assert refused({"findingId": None}).startswith("findingId: findingId or purl is required")
    assert refused({"expires": "soon"}).startswith("expires: not an RFC 3339 time")
    not_json = client.post(
        "/api/v1/exceptions",
        data=b"{",
        headers={**_auth(WRITER), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert not_json.get_json()["error"].startswith("body: ")

    made = client.post("/api/v1/exceptions", json=body, headers=_auth(WRITER))
    assert made.status_code == 201
    record = made.get_json()
    listed = client.get("/api/v1/exceptions?active=true&expiring=7d", headers=_auth(READER))
    assert [i["id"] for i in listed.get_json()["items"]] == [record["id"]]
    assert (
        client.get("/api/v1/exceptions?expiring=1d", headers=_auth(READER)).get_json()["items"]
        == []
    )
    assert client.get("/api/v1/exceptions?expiring=soon", headers=_auth(READER)).status_code == 400
    assert client.get("/api/v1/exceptions?active=yes", headers=_auth(READER)).status_code == 400
    assert client.get("/api/v1/exceptions?colour=red", headers=_auth(READER)).status_code == 400
    assert (
        client.delete(f"/api/v1/exceptions/{record['id']}", headers=_auth(READER)).status_code
        == 403
    )
    assert client.delete("/api/v1/exceptions/NOPE", headers=_auth(WRITER)).status_code == 404
    assert client.get("/api/v1/exceptions/NOPE", headers=_auth(READER)).status_code == 404
    all_audit = client.get("/api/v1/exceptions-audit", headers=_auth(READER)).get_json()["items"]
    assert [e["action"] for e in all_audit] == ["create"]
    assert "/exceptions" in json.dumps(client.get("/api/v1/openapi.json").get_json()["paths"])
