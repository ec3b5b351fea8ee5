"""Bad input to ``POST /validate``: a 400 or 413 with a reason, or a well-formed deny, never 500."""

from __future__ import annotations

import functools
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from gate.errors import InputError
from tests.unit.webhook.reviews import admission_review, kubectl_create
from webhook.app import create_app, state_of
from webhook.settings import Settings

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: strict}
spec:
  rules:
    - name: all
      match: {images: ["**"]}
      action: deny
"""


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    """An app over an in-memory store, with a 64 KiB body limit."""
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    settings = Settings(
        policy=policy, db_url="sqlite://", policy_reload_interval=0, max_body_bytes=64 * 1024
    )
    made = create_app(settings)
    yield made
    state_of(made).close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of ``app``."""
    return app.test_client()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "body is not JSON"),
        (b"", "body is not JSON"),
        (b'"a string"', "not a JSON object"),
        (json.dumps({"apiVersion": "v1", "kind": "AdmissionReview"}).encode(), "apiVersion"),
        (
            json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(),
            "request is missing",
        ),
        (
            json.dumps(
                {
                    "apiVersion": "admission.k8s.io/v1",
                    "kind": "AdmissionReview",
                    "request": {"uid": ""},
                }
            ).encode(),
            "request.uid",
        ),
    ],
)
def test_unusable_bodies_are_400_with_the_reason(
    client: FlaskClient, body: bytes, reason: str
) -> None:
    response = client.post("/validate", data=body, content_type="application/json")
    assert response.status_code == 400
    assert reason in response.get_json()["error"]


def _deny(client: FlaskClient, review: dict[str, Any]) -> str:
    response = client.post("/validate", json=review)
    assert response.status_code == 200
    answer = response.get_json()["response"]
    assert answer["uid"] == review["request"]["uid"]
    assert answer["allowed"] is False
    message: str = answer["status"]["message"]
    return message


def test_a_wrong_api_version_with_a_uid_is_a_well_formed_deny(client: FlaskClient) -> None:
    review = admission_review(kubectl_create("job", "j", "reg.example/app:1"))
    review["apiVersion"] = "admission.k8s.io/v1beta1"
    assert "apiVersion must be" in _deny(client, review)


def test_a_huge_body_is_413(client: FlaskClient) -> None:
    review = admission_review(kubectl_create("job", "j", "reg.example/app:1"))
    review["request"]["object"]["metadata"]["annotations"] = {"big": "x" * 100_000}
    response = client.post("/validate", json=review)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.get_json()["error"]


def test_illegal_image_references_are_denied_by_name(client: FlaskClient) -> None:
    review = admission_review(kubectl_create("job", "j", "reg.example/app:1"))
    spec = review["request"]["object"]["spec"]["template"]["spec"]
    spec["containers"][0]["image"] = "Registry.Example/UPPER/app::1"
    message = _deny(client, review)
    assert "invalid image reference" in message
    assert "Registry.Example/UPPER/app::1" in message


def test_a_container_without_image_is_denied(client: FlaskClient) -> None:
    review = admission_review(kubectl_create("job", "j", "reg.example/app:1"))
    del review["request"]["object"]["spec"]["template"]["spec"]["containers"][0]["image"]
    message = _deny(client, review)
    assert "spec.template.spec.containers[0]: has no image" in message


def test_an_object_that_is_not_an_object_is_denied(client: FlaskClient) -> None:
    review = admission_review(kubectl_create("job", "j", "reg.example/app:1"))
    review["request"]["object"] = ["not", "an", "object"]
    assert "request.object must be an object" in _deny(client, review)


def test_wrong_methods_and_paths_answer_json(client: FlaskClient) -> None:
    assert client.get("/validate").status_code == 405
    missing = client.get("/nothing-here")
    assert missing.status_code == 404
    assert "error" in missing.get_json()


def test_bad_requests_are_counted(client: FlaskClient) -> None:
    client.post("/validate", data=b"nope")
    text = client.get("/metrics").get_data(as_text=True)
    assert "gate_admission_bad_requests_total 1.0" in text


def test_declared_oversized_bodies_are_413_before_reading(app: Flask) -> None:
    environ = EnvironBuilder(path="/validate", method="POST", data=b"{}").get_environ()
    environ["CONTENT_LENGTH"] = str(10**9)
    response = Response.from_app(app.wsgi_app, environ)
    assert response.status_code == 413
    assert json.loads(response.get_data()) == {"error": "request body larger than 65536 bytes"}


def test_the_flask_route_answers_as_the_front_endpoint(app: Flask) -> None:
    review = admission_review(kubectl_create("job", "j", "reg.example/app:1"), uid="u-7")
    front = app.test_client().post("/validate", json=review)
    # The route behind the front endpoint, reached through Flask's own dispatch.
    app.wsgi_app = functools.partial(Flask.wsgi_app, app)  # type: ignore[method-assign]
    behind = app.test_client().post("/validate", json=review)
    assert front.status_code == behind.status_code == 200
    assert front.get_json() == behind.get_json()
    assert front.get_json()["response"]["allowed"] is False
    assert front.headers["Content-Type"] == behind.headers["Content-Type"] == "application/json"


def test_other_methods_and_paths_near_validate_go_to_flask(client: FlaskClient) -> None:
    assert client.put("/validate", data=b"{}").status_code == 405
    assert client.post("/validate/", data=b"{}").status_code in {404, 308}
    assert client.post("/validatex", data=b"{}").get_json()["error"]


def test_an_unexpected_failure_is_a_json_500(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(body: bytes) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("webhook.validate.parse_review", broken)
    response = client.post("/validate", data=b"{}")
    assert response.status_code == 500
    assert response.get_json() == {"error": "internal error: RuntimeError"}


def test_an_image_on_the_metadata_service_is_denied_without_a_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[object] = []

    def connect(_self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise ConnectionRefusedError("connection refused (test)")

    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    app = create_app(
        Settings.from_env(
            {
                "GATE_POLICY": str(policy),
                "GATE_DB_URL": "sqlite://",
                "GATE_POLICY_RELOAD_INTERVAL": "0",
                "GATE_SPOOL_DIR": "off",
                "GATE_ALLOWED_REGISTRIES": "registry.acme.io, *.corp.example",
            }
        )
    )
    monkeypatch.setattr(socket.socket, "connect", connect)
    try:
        client = app.test_client()
        for image, reason in (
            ("169.254.169.254/latest/meta-data:x", "not in the allowed registries"),
            ("evil.example.net/app:1", "registry evil.example.net is not in the allowed"),
        ):
            message = _deny(client, admission_review(kubectl_create("job", "j", image)))
            assert reason in message, message
    finally:
        state_of(app).close()
    assert attempts == []


def test_a_bad_allowlist_entry_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        Settings.from_env({"GATE_POLICY": "p.yaml", "GATE_ALLOWED_REGISTRIES": "ok.io,a/b"})
    assert str(caught.value) == (
        "GATE_ALLOWED_REGISTRIES: not a registry host, host:port or *.domain: 'a/b'"
    )
