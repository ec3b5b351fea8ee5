"""Secrets never reach output or logs: registry passwords, API tokens, database passwords.

Each test runs with every logger at DEBUG and searches everything the gate
printed or logged for the secret, in clear and in the encodings it travels in
(the Basic credentials' base64).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from gate.errors import BackendError
from gate.store.sql import SqlVerdictStore
from tests.integration.conftest import TOKEN_USER
from tests.integration.gate_cli import run_gate, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image
from webhook.app import create_app, state_of
from webhook.settings import Settings

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: secrets}
spec:
  rules:
    - name: all
      match: {images: ["**"]}
      action: allow
"""


def _forms(user: str, secret: str) -> list[str]:
    return [secret, base64.b64encode(f"{user}:{secret}".encode()).decode()]


def _authfile(path: Path, host: str, user: str, password: str) -> Path:
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}), encoding="utf-8")
    return path


@pytest.mark.parametrize("right_password", [True, False])
def test_registry_credentials_stay_out_of_output_and_logs(
    token_registry: RunningRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    right_password: bool,
) -> None:
    user, password = TOKEN_USER
    secret = password if right_password else "Wr0ng-But-Secret-Passw0rd"
    push_image(token_registry, "secrets/app", "1", build_image(content=b"secrets"))
    authfile = _authfile(tmp_path / "auth.json", token_registry.host, user, secret)
    policy = write_policy(tmp_path, POLICY)
    caplog.set_level(logging.DEBUG)
    run = run_gate(
        capsys,
        "check",
        f"{token_registry.host}/secrets/app:1",
        "--policy",
        str(policy),
        "--authfile",
        str(authfile),
        "--format",
        "json",
    )
    assert run.code == (0 if right_password else 2), run.stderr
    seen = "\n".join((run.stdout, run.stderr, caplog.text))
    for form in _forms(user, secret):
        assert form not in seen


def test_api_tokens_stay_out_of_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    token = "api-token-that-must-not-leak-0123456789"
    wrong = "a-wrong-token-that-must-not-leak-either"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    tokens = tmp_path / "tokens.yaml"
    tokens.write_text(f'tokens:\n  - name: ops\n    token: "{token}"\n    scopes: [read]\n')
    caplog.set_level(logging.DEBUG)
    app = create_app(
        Settings(policy=policy, db_url="sqlite://", tokens_file=tokens, policy_reload_interval=0)
    )
    try:
        client = app.test_client()
        for used, status in ((token, 200), (wrong, 401)):
            answer = client.get("/api/v1/verdicts", headers={"Authorization": f"Bearer {used}"})
            assert answer.status_code == status
            assert used not in answer.get_data(as_text=True)
    finally:
        state_of(app).close()
    assert token not in caplog.text
    assert wrong not in caplog.text


def test_a_database_password_stays_out_of_errors(caplog: pytest.LogCaptureFixture) -> None:
    secret = "Db-Passw0rd-Secret"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendError) as caught:
        SqlVerdictStore.from_url(
            f"postgresql+psycopg://gate:{secret}@127.0.0.1:9/gate", connect_timeout=2
        )
    assert "127.0.0.1" in str(caught.value)
    assert secret not in str(caught.value)
    assert secret not in caplog.text
