"""Replicas sharing their verification cache through a real Redis.

Two ``gate serve`` processes (started through the CLI, one gunicorn worker
each so that ``/metrics`` is the whole replica) on one real PostgreSQL and
one real ``redis-server``: the first admits a cosign-signed image, the second
admits the same digest without asking the registry for the signature or the
manifest (the registry's own access log, between two marker requests, shows
only the HEAD of the tag). With Redis stopped, both still decide correctly
(a signed image allowed, an unsigned one denied), and once Redis is back the
cache is shared again. The cache layer itself is checked against the same
Redis: time to live, planted values, a wrong password.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from gate.errors import BackendError
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.keyfile import generate_key_pair, load_private_key
from gate.signatures.signer import sign_image
from tests.integration.gate_cli import write_policy
from tests.integration.postgres_server import RunningPostgres
from tests.integration.redis_server import RunningRedis, start_redis
from tests.integration.registry_server import RunningRegistry
from tests.integration.served_gate import ServedGate
from tests.support.images import build_image, push_image
from webhook.metrics import Metrics
from webhook.shared_cache import SIGNATURES, RedisBackend, SharedCache, SignatureKey

pytestmark = pytest.mark.integration

PASSWORD = b"shared-cache-test"
POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: shared}
spec:
  trust:
    release: {cosign: {publicKeys: [release.pub]}}
  defaultAction: deny
  rules:
    - name: signed
      match: {images: ["127.0.0.1:*/shared/**"]}
      signatures: {anyOf: [release]}
"""


class Replica(ServedGate):
    """One ``gate serve`` process (one worker) on 127.0.0.1 sharing Redis and PostgreSQL."""

    def __init__(self, policy: Path, db_url: str, env: dict[str, str], home: Path) -> None:
        options = ("--workers", "1", "--threads", "4")
        super().__init__(policy, db_url, home, options=options, env=env)


class RegistryLog:
    """The requests the registry logged between two marker requests of the test."""

    def __init__(self, registry: RunningRegistry) -> None:
        self._registry = registry

    def mark(self) -> str:
        """Send a request only the test makes and wait (bounded) until it is logged."""
        marker = f"marker-{uuid.uuid4().hex[:12]}"
        requests.get(f"{self._registry.url}/v2/{marker}/tags/list", timeout=10)
        for _ in range(100):
            if marker in self._registry.log_path.read_text(errors="replace"):
                return marker
            time.sleep(0.05)
        pytest.fail(f"the registry never logged {marker}")

    def between(self, first: str, second: str) -> list[str]:
        """``METHOD path`` of every request logged after ``first`` and before ``second``."""
        text = self._registry.log_path.read_text(errors="replace")
        start = text.index(first)
        span = text[start : text.index(second, start)]
        found = re.findall(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (\S+) HTTP/', span)
        return [f"{method} {path}" for method, path in found if first not in path]


@dataclass
class Signed:
    """A pushed image and whether it carries a signature by the release key."""

    image: str
    digest: Digest


@pytest.fixture
def release_key(tmp_path: Path) -> bytes:
    """The private key whose public half the policy trusts (``release.pub``)."""
    private_pem, public_pem = generate_key_pair(PASSWORD)
    (tmp_path / "release.pub").write_bytes(public_pem)
    return private_pem


def _push(registry: RunningRegistry, name: str, private_pem: bytes | None) -> Signed:
    repository = f"shared/{name}-{uuid.uuid4().hex[:6]}"
    digest = push_image(registry, repository, "1", build_image(content=repository.encode()))
    image = f"{registry.host}/{repository}:1"
    if private_pem is not None:
        with RegistryClient(RegistryOptions()) as client:
            resolved = client.resolve(ImageReference.parse(image))
            sign_image(client, client, resolved, load_private_key(private_pem, PASSWORD, "key"))
    return Signed(image, digest)


@pytest.fixture
def fresh_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRedis]:
    """A Redis of this test's own (it is stopped and started again)."""
    running = start_redis(password="replica-redis-password-42")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def replicas(
    postgres_server: RunningPostgres,
    fresh_redis: RunningRedis,
    release_key: bytes,
    tmp_path: Path,
) -> Iterator[tuple[Replica, Replica]]:
    """Two servers on one fresh PostgreSQL database and one Redis, values signed (HMAC)."""
    db_url = postgres_server.create_database()
    policy = write_policy(tmp_path, POLICY)
    hmac_key = tmp_path / "hmac.key"
    hmac_key.write_text("0123456789abcdef" * 4 + "\n")
    env = {
        "GATE_REDIS_URL": fresh_redis.url(),
        "GATE_REDIS_HMAC_KEY_FILE": str(hmac_key),
        # A slow CI machine must not turn Redis calls into timeouts.
        "GATE_REDIS_TIMEOUT": "0.5",
    }
    first = Replica(policy, db_url, env, tmp_path / "home-1")
    second = Replica(policy, db_url, env, tmp_path / "home-2")
    try:
        first.wait_ready()
        second.wait_ready()
        yield first, second
    finally:
        errors = (first.stop(), second.stop())
        for err in errors:
            assert "replica-redis-password-42" not in err


def test_a_digest_verified_by_one_replica_is_not_verified_by_another(
    replicas: tuple[Replica, Replica],
    registry: RunningRegistry,
    release_key: bytes,
    fresh_redis: RunningRedis,
) -> None:
    first, second = replicas
    signed = _push(registry, "app", release_key)
    log = RegistryLog(registry)

    before_first = log.mark()
    assert first.admit(signed.image)["allowed"] is True
    after_first = log.mark()
    by_first = log.between(before_first, after_first)
    signature_tag = f"/manifests/{signed.digest.tag_form}.sig"
    assert any(signature_tag in request for request in by_first), by_first

    before_second = log.mark()
    assert second.admit(signed.image)["allowed"] is True
    after_second = log.mark()
    by_second = log.between(before_second, after_second)
    # Only the tag is resolved again (tag answers are per process); nothing else.
    assert by_second == [f"HEAD /v2/{signed.image.split('/', 1)[1].replace(':', '/manifests/')}"]

    assert second.metric("gate_shared_cache_hits_total", cache="signature") == 1
    assert second.metric("gate_shared_cache_hits_total", cache="manifest") == 1
    assert second.metric("gate_verification_cache_misses_total", cache="signature") == 0
    assert first.metric("gate_verification_cache_misses_total", cache="signature") == 1
    assert first.metric("gate_shared_cache_errors_total", operation="put") == 0

    # What Redis holds is signed JSON, never a pickle.
    client = fresh_redis.client()
    try:
        keys = sorted(k if isinstance(k, str) else k.decode() for k in client.keys("gate:*"))
        assert [k.split(":")[3] for k in keys] == ["manifest", "signature"]
        for key in keys:
            value = client.get(key)
            assert isinstance(value, bytes)
            envelope = json.loads(value)
            assert envelope["schema"] == "gate.shared-cache/v1"
            assert len(envelope["mac"]) == 64
            assert 0 < client.pttl(key) <= 300_000
    finally:
        client.close()


def test_with_redis_stopped_admissions_are_still_decided(
    replicas: tuple[Replica, Replica],
    registry: RunningRegistry,
    release_key: bytes,
    fresh_redis: RunningRedis,
) -> None:
    first, second = replicas
    signed = _push(registry, "during-outage", release_key)
    unsigned = _push(registry, "unsigned", None)
    fresh_redis.pause()
    try:
        for replica in (first, second):
            assert replica.admit(signed.image)["allowed"] is True
            denied = replica.admit(unsigned.image)
            assert denied["allowed"] is False
            assert "signature" in json.dumps(denied["status"]).lower()
            assert replica.metric("gate_shared_cache_errors_total", operation="get") >= 1
            ready = requests.get(f"{replica.url}/readyz", timeout=10)
            assert ready.status_code == 200  # Redis is an optimisation, not a dependency
            shared = ready.json()["sharedCache"]
            assert shared["server"] == f"redis://127.0.0.1:{fresh_redis.port}/0"
            assert "ConnectionError" in shared["lastError"]
            assert "replica-redis-password-42" not in ready.text
        # Each replica verified the signed image itself.
        assert second.metric("gate_verification_cache_misses_total", cache="signature") >= 1
    finally:
        fresh_redis.resume()

    # Back: after the short back-off, what one verifies the other reads again.
    time.sleep(1.5)
    again = _push(registry, "after-outage", release_key)
    assert first.admit(again.image)["allowed"] is True
    hits = second.metric("gate_shared_cache_hits_total", cache="signature")
    assert second.admit(again.image)["allowed"] is True
    assert second.metric("gate_shared_cache_hits_total", cache="signature") == hits + 1


# --- the cache layer against the real server ---------------------------------------

DIGEST = Digest.of(b"shared cache layer")
KEY: SignatureKey = ("cosign", "127.0.0.1:5000/x", str(DIGEST), "release", ("SHA256:a",), "p")
RESULT = AuthorityResult(
    "release", signatures=(VerifiedSignature("release", "cosign", "SHA256:a", "a.pub", DIGEST),)
)


def test_values_round_trip_with_their_time_to_live(redis_server: RunningRedis) -> None:
    metrics = Metrics()
    shared = SharedCache(RedisBackend(redis_server.url(3), timeout=1.0), metrics)
    client = redis_server.client(3)
    try:
        shared.put(SIGNATURES, KEY, RESULT, 30)
        found = shared.get(SIGNATURES, KEY)
        assert found is not None
        assert found[0] == RESULT
        redis_key = shared.redis_key(SIGNATURES, KEY)
        assert 0 < client.pttl(redis_key) <= 30_000
        client.set(redis_key, b"\x80\x05garbage")
        assert shared.get(SIGNATURES, KEY) is None
        sample = metrics.registry.get_sample_value(
            "gate_shared_cache_rejected_total", {"cache": "signature"}
        )
        assert sample == 1
    finally:
        client.flushdb()
        client.close()
        shared.close()


def test_a_wrong_password_is_an_error_that_does_not_show_it(redis_server: RunningRedis) -> None:
    wrong = redis_server.url().replace(redis_server.password or "", "not-the-password-77")
    backend = RedisBackend(wrong, timeout=1.0)
    try:
        with pytest.raises(BackendError) as raised:
            backend.get("gate:cache:v1:x", 10)
        assert "not-the-password-77" not in str(raised.value)
        assert f"redis://127.0.0.1:{redis_server.port}/0" in str(raised.value)
    finally:
        backend.close()
