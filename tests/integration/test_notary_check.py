"""``gate check`` with Docker Content Trust against a real notary-server and docker-registry.

Images are pushed with skopeo; tags are signed with the real ``notary``
client (``init``, a ``targets/releases`` delegation with its own key,
``addhash``, ``publish``); the gate reads the trust data over HTTPS from
notary-server (test CA) and the manifests from the registry.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.store.model import VerdictQuery
from tests.integration.gate_cli import GateRun, isolate_environment, run_gate, run_gate_process
from tests.integration.notary_server import RunningNotary
from tests.integration.registry_server import RunningRegistry
from tests.support.images import BuiltImage, build_image, push_image
from tests.support.notary_client import NotaryClient
from tests.unit.webhook.reviews import admission_review, kubectl_pod
from webhook.app import create_app, state_of
from webhook.settings import Settings

pytestmark = pytest.mark.integration

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {{name: dct}}
spec:
  trust:
    dct:
      notaryV1:
        server: {server}
        rootKeys: [{root}]
        caFile: ca.pem
{extra}
  rules:
    - name: signed
      match: {{images: ["127.0.0.1:*/**"]}}
      signatures: {{anyOf: [dct]}}
"""


@dataclass(frozen=True)
class Signed:
    """The signed repository: registry host, GUN and what was pushed and signed."""

    host: str
    gun: str
    work: Path
    digests: dict[str, Digest]

    def ref(self, tag: str) -> str:
        """``<host>/dct/app:<tag>``."""
        return f"{self.host}/dct/app:{tag}"


def _sign(
    client: NotaryClient, gun: str, tag: str, image: BuiltImage, roles: tuple[str, ...]
) -> None:
    client.add_hash(gun, tag, len(image.manifest), image.digest.hex, roles=roles)


@pytest.fixture(scope="module")
def signed(
    registry: RunningRegistry,
    notary: RunningNotary,
    tmp_path_factory: pytest.TempPathFactory,
) -> Signed:
    """``dct/app`` with tags signed in targets and targets/releases, one replaced after signing."""
    work = tmp_path_factory.mktemp("dct")
    gun = f"{registry.host}/dct/app"
    client = NotaryClient(work / "trust", notary, notary.ca_cert)
    client.init(gun)
    client.add_delegation(gun, "targets/releases", work / "delegation")
    images = {
        "signed": build_image(content=b"dct signed"),
        "toponly": build_image(content=b"dct signed in targets only"),
        "unsigned": build_image(content=b"dct unsigned"),
        "replaced": build_image(content=b"dct replaced, original"),
    }
    digests = {tag: push_image(registry, "dct/app", tag, image) for tag, image in images.items()}
    _sign(client, gun, "signed", images["signed"], ())
    _sign(client, gun, "signed", images["signed"], ("targets/releases",))
    _sign(client, gun, "toponly", images["toponly"], ())
    _sign(client, gun, "replaced", images["replaced"], ("targets/releases",))
    client.publish(gun)
    push_image(registry, "dct/app", "replaced", build_image(content=b"dct replaced, swapped"))
    (work / "root.crt").write_bytes(client.root_certificate(gun))
    (work / "ca.pem").write_bytes(notary.ca_cert.read_bytes())
    # Another publisher's root (a client with its own trust dir makes its own root key;
    # one client reuses its root key for every repository it initialises).
    other = f"{registry.host}/dct/other"
    stranger = NotaryClient(work / "other-trust", notary, notary.ca_cert)
    stranger.init(other)
    stranger.publish(other)
    (work / "other-root.crt").write_bytes(stranger.root_certificate(other))
    return Signed(registry.host, gun, work, digests)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _policy(signed: Signed, server: str, *, root: str = "root.crt", extra: str = "") -> Path:
    path = signed.work / f"policy-{abs(hash((server, root, extra)))}.yaml"
    path.write_text(POLICY.format(server=server, root=root, extra=extra), encoding="utf-8")
    return path


def _check(capsys: pytest.CaptureFixture[str], policy: Path, image: str) -> GateRun:
    return run_gate(capsys, "check", "--policy", str(policy), "--format", "json", image)


def test_signed_tag_is_allowed_with_the_vouched_digest(
    capsys: pytest.CaptureFixture[str], signed: Signed, notary: RunningNotary
) -> None:
    run = _check(capsys, _policy(signed, notary.url), signed.ref("signed"))
    assert run.code == 0, run.stdout + run.stderr
    assert run.image["decision"] == "allow"
    reason = run.check("signatures")["reason"]
    assert f"tag signed -> {signed.digests['signed']}" in reason
    assert "targets/releases" in reason
    assert "the deployed digest is the one the trust data vouches for" in reason
    assert run.image["digest"] == str(signed.digests["signed"])


def test_signed_digest_is_allowed(
    capsys: pytest.CaptureFixture[str], signed: Signed, notary: RunningNotary
) -> None:
    pinned = f"{signed.host}/dct/app@{signed.digests['signed']}"
    run = _check(capsys, _policy(signed, notary.url), pinned)
    assert run.code == 0, run.stdout + run.stderr


def test_unsigned_tag_is_denied(
    capsys: pytest.CaptureFixture[str], signed: Signed, notary: RunningNotary
) -> None:
    run = _check(capsys, _policy(signed, notary.url), signed.ref("unsigned"))
    assert run.code == 1, run.stdout + run.stderr
    assert '"unsigned"' in run.check("signatures")["reason"]


def test_tag_replaced_after_signing_is_denied(
    capsys: pytest.CaptureFixture[str], signed: Signed, notary: RunningNotary
) -> None:
    run = _check(capsys, _policy(signed, notary.url), signed.ref("replaced"))
    assert run.code == 1, run.stdout + run.stderr
    reason = run.check("signatures")["reason"]
    assert str(signed.digests["replaced"]) in reason
    assert "the image changed after signing" in reason


def test_wrong_pinned_root_is_denied(
    capsys: pytest.CaptureFixture[str], signed: Signed, notary: RunningNotary
) -> None:
    run = _check(capsys, _policy(signed, notary.url, root="other-root.crt"), signed.ref("signed"))
    assert run.code == 1, run.stdout + run.stderr
    assert "root" in run.check("signatures")["reason"]


def test_required_delegation_missing_is_denied(
    capsys: pytest.CaptureFixture[str], signed: Signed, notary: RunningNotary
) -> None:
    policy = _policy(signed, notary.url, extra="        delegations: [targets/releases]")
    assert _check(capsys, policy, signed.ref("signed")).code == 0
    run = _check(capsys, policy, signed.ref("toponly"))
    assert run.code == 1, run.stdout + run.stderr
    assert "targets/releases" in run.check("signatures")["reason"]


def test_notary_server_down_is_denied_as_undecided(
    capsys: pytest.CaptureFixture[str], signed: Signed
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = _check(capsys, _policy(signed, f"https://127.0.0.1:{port}"), signed.ref("signed"))
    assert run.code == 2, run.stdout + run.stderr
    assert run.image["decision"] == "deny"
    assert "could not verify dct: Notary server for" in run.check("signatures")["reason"]


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_hanging_notary_server_is_denied_within_the_deadline(
    signed: Signed, silent_server: int
) -> None:
    policy = _policy(signed, f"https://127.0.0.1:{silent_server}")
    # run_gate_process bounds the run (timeout); the registry timeout bounds each request.
    run = run_gate_process(
        "check", "--policy", str(policy), "--registry-timeout", "1", signed.ref("signed")
    )
    assert run.code == 2, run.stdout + run.stderr
    assert "Notary server for" in run.stdout + run.stderr


def test_the_webhook_admits_signed_tags_and_reuses_trust_data(
    signed: Signed, notary: RunningNotary, tmp_path: Path
) -> None:
    settings = Settings(
        policy=_policy(signed, notary.url, extra="        delegations: [targets/releases]"),
        db_url=f"sqlite:///{tmp_path / 'gate.db'}",
        policy_reload_interval=0,
    )
    app = create_app(settings)
    try:
        client = app.test_client()

        def admit(tag: str) -> dict[str, Any]:
            review = admission_review(kubectl_pod(f"pod-{tag}", signed.ref(tag)))
            answer: dict[str, Any] = client.post("/validate", json=review).get_json()["response"]
            return answer

        assert admit("signed")["allowed"] is True
        servers = state_of(app).checker._notary_servers  # counting requests is the point
        before = len(servers.requests_made)
        assert admit("signed")["allowed"] is True
        assert len(servers.requests_made) == before, "a verified tag -> digest is cached"
        denied = admit("toponly")
        assert denied["allowed"] is False
        assert "targets/releases" in denied["status"]["message"]
        assert admit("replaced")["allowed"] is False
        state = state_of(app)
        assert state.recorder.flush(10)
        page = state.store.query(VerdictQuery(digest=str(signed.digests["signed"])))
        assert page.items
        signatures = next(c for c in page.items[0].checks if c.check == "signatures")
        assert "the trust data vouches for" in signatures.reason
    finally:
        state_of(app).close()
