"""The replicas' shared cache: what is written, what is refused, and failing without harm.

The cache layer runs here over an in-memory backend (the real Redis runs in
``tests/integration/test_shared_cache_redis.py``); the Redis client itself
is exercised against a port nothing listens on and a listener that never
answers, so a dead or hung server is seen to cost one bounded call.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gate.errors import BackendError, InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.oci.source import ResolvedImage
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.trust import TrustAuthority
from webhook.checker import CachingVerifier, TtlCache
from webhook.metrics import Metrics
from webhook.settings import Settings
from webhook.shared_cache import (
    MANIFESTS,
    MAX_VALUE_BYTES,
    SCHEMA,
    SIGNATURES,
    CacheBackend,
    ManifestKey,
    RedisBackend,
    SharedCache,
    SignatureKey,
    check_redis_url,
    load_hmac_key,
    redacted_url,
)

MANIFEST = b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}'
DIGEST = Digest.of(MANIFEST)
OTHER = Digest.of(b"another image")
REPOSITORY = "registry.example/team/app"
KEY: SignatureKey = (
    "cosign",
    REPOSITORY,
    str(DIGEST),
    "release",
    ("SHA256:abc",),
    "sha256:" + "1" * 64,
)
HMAC_KEY = b"k" * 32
PASSWORD = "s3cret-redis-password"


class MemoryBackend:
    """A ``CacheBackend`` in a dict, with the clock of the cache under test; can be broken."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.ttls: dict[str, float] = {}
        self.calls = 0
        self.failing = False

    @property
    def label(self) -> str:
        return "memory://"

    def get(self, key: str, max_bytes: int) -> bytes | None:
        self.calls += 1
        if self.failing:
            raise BackendError("memory backend down")
        value = self.values.get(key)
        return None if value is None else value[:max_bytes]

    def set(self, key: str, value: bytes, ttl: float) -> None:
        self.calls += 1
        if self.failing:
            raise BackendError("memory backend down")
        self.values[key] = value
        self.ttls[key] = ttl

    def close(self) -> None:
        pass


class Clocks:
    """A wall clock and a monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 100.0

    def advance(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


def _cache(
    backend: CacheBackend, clocks: Clocks, *, hmac_key: bytes | None = None
) -> tuple[SharedCache, Metrics]:
    metrics = Metrics()
    shared = SharedCache(
        backend,
        metrics,
        hmac_key=hmac_key,
        wall_clock=lambda: clocks.wall,
        monotonic=lambda: clocks.mono,
    )
    return shared, metrics


def _count(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(f"gate_shared_cache_{name}_total", labels)
    return value or 0.0


def _verified(digest: Digest = DIGEST, authority: str = "release") -> AuthorityResult:
    return AuthorityResult(
        authority=authority,
        signatures=(VerifiedSignature(authority, "cosign", "SHA256:abc", "release.pub", digest),),
        rejections=("a signature by another key",),
        notes=("no Rekor bundle",),
    )


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


# --- round trips ---------------------------------------------------------------


def test_a_verified_result_round_trips_with_its_time_left(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    shared.put(SIGNATURES, KEY, _verified(), 300)
    clocks.advance(100)
    found = shared.get(SIGNATURES, KEY)
    assert found is not None
    result, left = found
    assert result == _verified()
    assert left == pytest.approx(200, abs=0.01)
    assert _count(metrics, "hits", cache="signature") == 1
    (ttl,) = backend.ttls.values()
    assert ttl == 300  # Redis expires it too


def test_the_stored_value_is_json_with_a_schema_and_no_pickle(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, _ = _cache(backend, clocks)
    shared.put(SIGNATURES, KEY, _verified(), 300)
    ((redis_key, data),) = backend.values.items()
    assert redis_key.startswith("gate:cache:v1:signature:")
    envelope = json.loads(data)
    assert envelope["schema"] == SCHEMA
    assert envelope["body"]["key"] == redis_key
    assert envelope["body"]["value"]["signatures"][0]["digest"] == str(DIGEST)
    assert "mac" not in envelope


def test_a_manifest_round_trips_and_is_hashed_again(clocks: Clocks) -> None:
    shared, _ = _cache(MemoryBackend(), clocks)
    image = ResolvedImage(
        reference=ImageReference.parse(f"{REPOSITORY}:1.0@{DIGEST}"),
        digest=DIGEST,
        media_type="application/vnd.oci.image.manifest.v1+json",
        manifest=MANIFEST,
    )
    key: ManifestKey = (REPOSITORY, str(DIGEST))
    shared.put(MANIFESTS, key, image, 60)
    found = shared.get(MANIFESTS, key)
    assert found is not None
    assert found[0].manifest == MANIFEST
    assert found[0].digest == DIGEST
    assert found[0].media_type == image.media_type
    assert found[0].reference.name == REPOSITORY


def test_every_part_of_the_key_names_another_slot(clocks: Clocks) -> None:
    """Kind, repository, digest, authority, trust material and policy all change the answer."""
    shared, _ = _cache(MemoryBackend(), clocks)
    variants: list[SignatureKey] = [
        ("notation", *KEY[1:]),
        (KEY[0], "registry.example/other", *KEY[2:]),
        (*KEY[:2], str(OTHER), *KEY[3:]),
        (*KEY[:3], "other-authority", *KEY[4:]),
        (*KEY[:4], ("SHA256:def",), KEY[5]),
        (*KEY[:5], "sha256:" + "2" * 64),
    ]
    keys = {shared.redis_key(SIGNATURES, k) for k in [KEY, *variants]}
    assert len(keys) == 1 + len(variants)


def test_nothing_is_written_for_no_time(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, _ = _cache(backend, clocks)
    shared.put(SIGNATURES, KEY, _verified(), 0)
    assert backend.values == {}


def test_an_expired_value_is_a_miss_not_a_rejection(clocks: Clocks) -> None:
    shared, metrics = _cache(MemoryBackend(), clocks)
    shared.put(SIGNATURES, KEY, _verified(), 5)
    clocks.advance(6)  # the server would have dropped it; a lagging one must not serve it
    assert shared.get(SIGNATURES, KEY) is None
    assert _count(metrics, "misses", cache="signature") == 1
    assert _count(metrics, "rejected", cache="signature") == 0


def test_time_left_is_never_more_than_written(clocks: Clocks) -> None:
    """A value claiming to live for ever is kept no longer than the TTL it was written with."""
    backend = MemoryBackend()
    shared, _ = _cache(backend, clocks)
    shared.put(SIGNATURES, KEY, _verified(), 30)
    found = shared.get(SIGNATURES, KEY)
    assert found is not None
    assert found[1] <= 30


# --- values that must not be used ----------------------------------------------


def _planted(backend: MemoryBackend, shared: SharedCache, value: bytes) -> None:
    backend.values[shared.redis_key(SIGNATURES, KEY)] = value


def _envelope(shared: SharedCache, clocks: Clocks, value: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "body": {
            "cache": "signature",
            "key": shared.redis_key(SIGNATURES, KEY),
            "expiresAt": clocks.wall + 100,
            "value": value,
        },
    }


def _signature_value(**changes: Any) -> dict[str, Any]:
    signature = {
        "authority": "release",
        "kind": "cosign",
        "signer": "SHA256:abc",
        "signerLabel": "release.pub",
        "digest": str(DIGEST),
    }
    value: dict[str, Any] = {
        "authority": "release",
        "signatures": [signature],
        "rejections": [],
        "notes": [],
    }
    for name, changed in changes.items():
        if name.startswith("sig_"):
            signature[name[4:]] = changed
        else:
            value[name] = changed
    return value


BAD_VALUES: dict[str, Any] = {
    "not json": b"\x80\x04pickle?",
    "json but a list": b"[1, 2]",
    "another schema": {"schema": "gate.shared-cache/v0"},
    "no body": {"schema": SCHEMA},
    "deeply nested": b"[" * 100_000 + b"]" * 100_000,
    "another digest signed": _signature_value(sig_digest=str(OTHER)),
    "another authority": _signature_value(authority="other"),
    "a signature of another authority": _signature_value(sig_authority="other"),
    "an error": {**_signature_value(), "error": "registry down"},
    "signer not a string": _signature_value(sig_signer=7),
    "signatures not a list": _signature_value(signatures="all of them"),
    "notes not strings": _signature_value(notes=[1]),
    "bad digest text": _signature_value(sig_digest="sha256:XYZ"),
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_value_is_a_counted_miss(name: str, clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    bad = BAD_VALUES[name]
    if isinstance(bad, bytes):
        data = bad
    elif "schema" in bad:
        data = json.dumps(bad).encode()
    else:
        data = json.dumps(_envelope(shared, clocks, bad)).encode()
    _planted(backend, shared, data)
    assert shared.get(SIGNATURES, KEY) is None
    assert _count(metrics, "rejected", cache="signature") == 1
    assert _count(metrics, "misses", cache="signature") == 1
    assert _count(metrics, "hits", cache="signature") == 0


def test_a_value_copied_from_another_slot_is_refused(clocks: Clocks) -> None:
    """The value names the key it was written for: a result for digest A is not one for B."""
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    other_key: SignatureKey = (*KEY[:2], str(OTHER), *KEY[3:])
    shared.put(SIGNATURES, other_key, _verified(OTHER), 300)
    backend.values[shared.redis_key(SIGNATURES, KEY)] = backend.values[
        shared.redis_key(SIGNATURES, other_key)
    ]
    assert shared.get(SIGNATURES, KEY) is None
    assert _count(metrics, "rejected", cache="signature") == 1


def test_a_manifest_that_does_not_hash_to_its_digest_is_refused(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    key: ManifestKey = (REPOSITORY, str(DIGEST))
    redis_key = shared.redis_key(MANIFESTS, key)
    planted = {
        "schema": SCHEMA,
        "body": {
            "cache": "manifest",
            "key": redis_key,
            "expiresAt": clocks.wall + 100,
            "value": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "manifest": base64.b64encode(b'{"evil": true}').decode(),
            },
        },
    }
    backend.values[redis_key] = json.dumps(planted).encode()
    assert shared.get(MANIFESTS, key) is None
    backend.values[redis_key] = backend.values[redis_key].replace(b'"manifest":"', b'"manifest":"!')
    assert shared.get(MANIFESTS, key) is None
    assert _count(metrics, "rejected", cache="manifest") == 2


def test_an_oversized_value_is_refused_and_never_written(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    _planted(backend, shared, b" " * (MAX_VALUE_BYTES + 10))
    assert shared.get(SIGNATURES, KEY) is None
    assert _count(metrics, "rejected", cache="signature") == 1
    huge = ResolvedImage(
        reference=ImageReference.parse(f"{REPOSITORY}@{DIGEST}"),
        digest=DIGEST,
        media_type="x",
        manifest=b"x" * MAX_VALUE_BYTES,
    )
    shared.put(MANIFESTS, (REPOSITORY, str(DIGEST)), huge, 60)
    assert shared.redis_key(MANIFESTS, (REPOSITORY, str(DIGEST))) not in backend.values


def test_a_result_with_an_error_is_never_written(clocks: Clocks) -> None:
    shared, _ = _cache(MemoryBackend(), clocks)
    with pytest.raises(ValueError, match="error"):
        shared.put(SIGNATURES, KEY, AuthorityResult("release", error="registry down"), 60)


# --- HMAC ------------------------------------------------------------------------


def test_with_a_key_values_are_signed_and_read_back(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, _ = _cache(backend, clocks, hmac_key=HMAC_KEY)
    shared.put(SIGNATURES, KEY, _verified(), 300)
    (data,) = backend.values.values()
    assert len(json.loads(data)["mac"]) == 64
    found = shared.get(SIGNATURES, KEY)
    assert found is not None
    assert found[0] == _verified()


def test_with_a_key_an_unsigned_or_altered_value_is_refused(clocks: Clocks) -> None:
    """Whoever can write to Redis but lacks the key cannot plant a "verified" result."""
    backend = MemoryBackend()
    unsigned, _ = _cache(backend, clocks)
    signed, metrics = _cache(backend, clocks, hmac_key=HMAC_KEY)
    other, _ = _cache(backend, clocks, hmac_key=b"o" * 32)
    unsigned.put(SIGNATURES, KEY, _verified(), 300)
    assert signed.get(SIGNATURES, KEY) is None
    other.put(SIGNATURES, KEY, _verified(), 300)
    assert signed.get(SIGNATURES, KEY) is None
    signed.put(SIGNATURES, KEY, _verified(), 300)
    redis_key = signed.redis_key(SIGNATURES, KEY)
    envelope = json.loads(backend.values[redis_key])
    envelope["body"]["value"]["signatures"][0]["signer"] = "SHA256:attacker"
    backend.values[redis_key] = json.dumps(envelope).encode()
    assert signed.get(SIGNATURES, KEY) is None
    envelope["body"]["expiresAt"] += 1_000_000
    assert _count(metrics, "rejected", cache="signature") == 3


def test_a_short_hmac_key_is_refused(tmp_path: Path, clocks: Clocks) -> None:
    with pytest.raises(InputError, match="at least 32 bytes"):
        _cache(MemoryBackend(), clocks, hmac_key=b"short")
    key_file = tmp_path / "hmac.key"
    key_file.write_text("too-short\n")
    with pytest.raises(InputError, match=r"hmac\.key is 9 bytes"):
        load_hmac_key(str(key_file))
    key_file.write_text("a" * 64 + "\n")
    assert load_hmac_key(str(key_file)) == b"a" * 64
    with pytest.raises(InputError, match="cannot read"):
        load_hmac_key(str(tmp_path / "absent"))


# --- a backend that fails ---------------------------------------------------------


def test_a_failing_backend_is_a_miss_then_left_alone_for_a_while(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    backend.failing = True
    assert shared.get(SIGNATURES, KEY) is None
    assert _count(metrics, "errors", operation="get") == 1
    assert shared.last_error == "memory backend down"
    calls = backend.calls
    shared.put(SIGNATURES, KEY, _verified(), 300)
    assert shared.get(SIGNATURES, KEY) is None
    assert backend.calls == calls  # not asked again within RETRY_AFTER
    assert _count(metrics, "bypassed", operation="put") == 1
    assert _count(metrics, "bypassed", operation="get") == 1
    backend.failing = False
    clocks.advance(1.5)
    assert shared.last_error == "memory backend down"  # until it answers again
    shared.put(SIGNATURES, KEY, _verified(), 300)
    assert shared.last_error is None
    assert shared.get(SIGNATURES, KEY) is not None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_redis_unreachable_is_a_backend_error_without_the_password() -> None:
    port = _free_port()  # nothing listens there
    backend = RedisBackend(f"redis://:{PASSWORD}@127.0.0.1:{port}/0", timeout=0.1)
    try:
        with pytest.raises(BackendError) as raised:
            backend.get("k", 10)
        assert f"redis://127.0.0.1:{port}/0" in str(raised.value)
        assert PASSWORD not in str(raised.value)
        with pytest.raises(BackendError):
            backend.set("k", b"v", 1)
    finally:
        backend.close()


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP listener on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for connection in accepted:
            connection.close()


def test_a_redis_that_never_answers_costs_one_timeout(
    silent_server: tuple[int, list[socket.socket]],
) -> None:
    """The read times out (no retries), the miss is counted, and the next lookups skip Redis."""
    port, accepted = silent_server
    metrics = Metrics()
    shared = SharedCache(RedisBackend(f"redis://127.0.0.1:{port}/0", timeout=0.05), metrics)
    try:
        assert shared.get(SIGNATURES, KEY) is None
        assert _count(metrics, "errors", operation="get") == 1
        assert "Timeout" in (shared.last_error or "")
        for _ in range(20):
            assert shared.get(SIGNATURES, KEY) is None
            shared.put(SIGNATURES, KEY, _verified(), 60)
        assert _count(metrics, "errors", operation="get") == 1
        assert _count(metrics, "bypassed", operation="get") == 20
        assert len(accepted) <= 1  # one connection, no retries
    finally:
        shared.close()


# --- URLs and settings ------------------------------------------------------------


def test_urls_are_shown_without_credentials() -> None:
    assert redacted_url(f"redis://gate:{PASSWORD}@redis.gate:6380/2") == "redis://redis.gate:6380/2"
    assert redacted_url(f"rediss://:{PASSWORD}@[::1]/0") == "rediss://[::1]/0"
    assert redacted_url("unix:///run/redis.sock") == "unix:///run/redis.sock"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"http://:{PASSWORD}@redis:6379/0", "must be a redis://"),
        (f"redis://:{PASSWORD}@redis:99999/0", "not a usable Redis URL"),
        (f"redis://:{PASSWORD}@/0", "names no host"),
        (f"redis://:{PASSWORD}@redis:6379/cache", "must be a number"),
        ("unix://", "socket path"),
    ],
)
def test_a_bad_redis_url_is_refused_without_echoing_it(url: str, reason: str) -> None:
    with pytest.raises(InputError, match=reason) as raised:
        check_redis_url(url, source="GATE_REDIS_URL")
    assert PASSWORD not in str(raised.value)
    assert "GATE_REDIS_URL" in str(raised.value)
    with pytest.raises(InputError) as from_env:
        Settings.from_env({"GATE_POLICY": "p.yaml", "GATE_REDIS_URL": url})
    assert PASSWORD not in str(from_env.value)


def test_settings_read_the_redis_variables_and_never_show_the_url(tmp_path: Path) -> None:
    key_file = tmp_path / "hmac.key"
    key_file.write_text("b" * 40)
    settings = Settings.from_env(
        {
            "GATE_POLICY": "p.yaml",
            "GATE_REDIS_URL": f"redis://:{PASSWORD}@redis.gate-system.svc:6379/0",
            "GATE_REDIS_TIMEOUT": "0.05",
            "GATE_REDIS_HMAC_KEY_FILE": str(key_file),
        }
    )
    assert settings.redis_url == f"redis://:{PASSWORD}@redis.gate-system.svc:6379/0"
    assert settings.redis_timeout == 0.05
    assert settings.redis_hmac_key == b"b" * 40
    assert PASSWORD not in repr(settings)
    assert "b" * 40 not in repr(settings)
    plain = Settings.from_env({"GATE_POLICY": "p.yaml"})
    assert plain.redis_url is None
    assert plain.redis_hmac_key is None


@pytest.mark.parametrize(
    ("environ", "variable", "reason"),
    [
        ({"GATE_REDIS_URL": "redis://r/0", "GATE_REDIS_TIMEOUT": "0"}, "TIMEOUT", "above 0"),
        ({"GATE_REDIS_URL": "redis://r/0", "GATE_REDIS_TIMEOUT": "5"}, "TIMEOUT", "at most 1"),
        ({"GATE_REDIS_TIMEOUT": "soon"}, "TIMEOUT", "not a number"),
    ],
)
def test_bad_redis_settings_name_the_variable(
    environ: dict[str, str], variable: str, reason: str
) -> None:
    with pytest.raises(InputError, match=reason) as raised:
        Settings.from_env({"GATE_POLICY": "p.yaml", **environ})
    assert f"GATE_REDIS_{variable}" in str(raised.value)


def test_an_hmac_key_without_redis_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "hmac.key"
    key_file.write_text("c" * 40)
    with pytest.raises(InputError, match="without GATE_REDIS_URL"):
        Settings.from_env({"GATE_POLICY": "p.yaml", "GATE_REDIS_HMAC_KEY_FILE": str(key_file)})


# --- the checker's verifier over the shared cache ------------------------------------


class CountingVerifier:
    """A ``SignatureVerifier`` that answers a fixed result and counts its calls."""

    def __init__(self, result: AuthorityResult) -> None:
        self.result = result
        self.calls = 0

    def verify(self, image: ResolvedImage, authority: TrustAuthority) -> AuthorityResult:
        self.calls += 1
        return self.result


def _replica(shared: SharedCache, inner: CountingVerifier, metrics: Metrics) -> CachingVerifier:
    """One replica's verifier: its own L1 cache, the shared L2."""
    return CachingVerifier(
        inner,
        "cosign",
        TtlCache(300.0, 100),
        KEY[5],
        metrics,
        shared=shared.signatures,
    )


IMAGE = ResolvedImage(
    reference=ImageReference.parse(f"{REPOSITORY}@{DIGEST}"),
    digest=DIGEST,
    media_type="application/vnd.oci.image.manifest.v1+json",
    manifest=MANIFEST,
)
AUTHORITY = TrustAuthority(name="release")


def test_a_result_verified_by_one_replica_is_not_verified_by_another(clocks: Clocks) -> None:
    backend = MemoryBackend()
    first_shared, first_metrics = _cache(backend, clocks)
    second_shared, second_metrics = _cache(backend, clocks)
    first_inner, second_inner = CountingVerifier(_verified()), CountingVerifier(_verified())
    first = _replica(first_shared, first_inner, first_metrics)
    second = _replica(second_shared, second_inner, second_metrics)
    assert first.verify(IMAGE, AUTHORITY) == _verified()
    assert second.verify(IMAGE, AUTHORITY) == _verified()
    assert second.verify(IMAGE, AUTHORITY) == _verified()  # now from its own cache
    assert (first_inner.calls, second_inner.calls) == (1, 0)
    assert _count(second_metrics, "hits", cache="signature") == 1
    hits = second_metrics.registry.get_sample_value(
        "gate_verification_cache_hits_total", {"cache": "signature"}
    )
    assert hits == 2


def test_errors_are_not_shared_and_unsigned_only_briefly(clocks: Clocks) -> None:
    backend = MemoryBackend()
    shared, metrics = _cache(backend, clocks)
    failing = CountingVerifier(AuthorityResult("release", error="registry down"))
    _replica(shared, failing, metrics).verify(IMAGE, AUTHORITY)
    assert backend.values == {}
    unsigned = CountingVerifier(AuthorityResult("release", rejections=("wrong key",)))
    _replica(shared, unsigned, metrics).verify(IMAGE, AUTHORITY)
    (ttl,) = backend.ttls.values()
    assert ttl == 5.0  # UNSIGNED_TTL: a fresh signature is seen quickly


def test_a_replica_verifies_when_the_shared_cache_is_down(clocks: Clocks) -> None:
    backend = MemoryBackend()
    backend.failing = True
    shared, metrics = _cache(backend, clocks)
    inner = CountingVerifier(_verified())
    assert _replica(shared, inner, metrics).verify(IMAGE, AUTHORITY) == _verified()
    assert inner.calls == 1
    assert _count(metrics, "errors", operation="get") == 1
