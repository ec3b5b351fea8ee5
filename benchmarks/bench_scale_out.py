"""Scale-out figures: what PostgreSQL and the Redis-shared cache cost and save per replica.

Three measurements, for ``docs/scaling.md``:

1. One replica (``gate serve``, gunicorn 2 workers x 4 threads as deployed: a replica
   in Kubernetes serves TLS)
   under ``wrk`` (16 connections, cached signed digest, as
   ``bench_webhook.py``) with its verdicts in SQLite, in PostgreSQL, and in
   PostgreSQL with ``GATE_REDIS_URL`` set: req/s, p50/p99 and the resident
   memory of the replica (gunicorn master and workers) after the run.
2. The first admission of a digest by a replica that has not seen it:
   verified by itself (no shared cache; the baseline) against found in Redis
   because another replica verified it. Distinct cosign-signed images,
   admitted by tag, with warm connections on both sides.
3. One shared-cache lookup (``GETRANGE`` of a signature result, decoded)
   against the real ``redis-server`` on loopback, and Redis's memory per
   cached entry.

Budget: a replica finding a digest in Redis must admit it in less than half
the time it takes to verify it itself, on loopback (where a registry request
costs a few milliseconds; a remote registry makes the saving larger). The
registry requests each side makes are counted from the registry's access log.

Needs ``wrk``, ``docker-registry``, ``skopeo``, PostgreSQL and ``redis-server``
(``scripts/install-system-deps.sh``). The machine is shared with whatever else
runs on it: figures vary between runs; print them with the date.
Run: .venv/bin/python benchmarks/bench_scale_out.py [--duration 15] [--images 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import requests
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_soak import _rss_mb
from benchmarks.bench_webhook import (
    _WRK_SCRIPT,
    WARM_UP_SECONDS,
    Load,
    _free_port,
    _start,
    _wait,
    _wrk,
)
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.signatures.evidence import AuthorityResult, VerifiedSignature
from gate.signatures.keyfile import generate_key_pair, load_private_key
from gate.signatures.signer import sign_image
from tests.integration.postgres_server import start_postgres
from tests.integration.redis_server import RunningRedis, start_redis
from tests.integration.registry_server import RunningRegistry, start_registry
from tests.support.images import build_image, push_image
from tests.unit.webhook.reviews import admission_review, kubectl_pod
from webhook.app import create_app, state_of
from webhook.metrics import Metrics
from webhook.serve import TLS_THREADS, TLS_WORKERS
from webhook.settings import Settings
from webhook.shared_cache import SIGNATURES, RedisBackend, SharedCache, SignatureKey

MAX_HIT_RATIO = 0.5
LOOKUPS = 2000

_SERVER = """\
import os, sys
from webhook.serve import serve
from webhook.settings import Settings

port, workers, threads = sys.argv[1:]
sys.exit(serve(Settings.from_env(os.environ), port=int(port),
               workers=int(workers) or None, threads=int(threads) or None))
"""


@dataclass(frozen=True)
class Replica:
    """One configuration of a replica and what wrk measured against it."""

    name: str
    load: Load
    rss_mb: float


def _policy(work: Path, public_pem: bytes) -> Path:
    (work / "release.pub").write_bytes(public_pem)
    policy = work / "policy.yaml"
    policy.write_text(
        "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: scale}\nspec:\n"
        "  trust: {release: {cosign: {publicKeys: [release.pub]}}}\n"
        "  rules:\n    - name: all\n      match: {images: ['**']}\n"
        "      signatures: {anyOf: [release]}\n",
        encoding="utf-8",
    )
    return policy


def _signed_images(registry: RunningRegistry, private_pem: bytes, count: int) -> list[str]:
    """``count`` distinct signed images, by tag."""
    images = []
    with RegistryClient(RegistryOptions()) as client:
        key = load_private_key(private_pem, b"pw", "key")
        for index in range(count):
            repository = f"scale/app{index}"
            push_image(registry, repository, "1", build_image(content=repository.encode()))
            image = f"{registry.host}/{repository}:1"
            sign_image(client, client, client.resolve(ImageReference.parse(image)), key)
            images.append(image)
    return images


def _replica_load(
    name: str, env: dict[str, str], review: bytes, script: Path, args: argparse.Namespace
) -> Replica:
    port = _free_port()
    server = _start(_SERVER, str(port), str(args.workers), str(args.threads), env=env)
    url = f"http://127.0.0.1:{port}/validate"
    try:
        _wait(url, review)
        _wrk(url, script, WARM_UP_SECONDS, args.connections)
        load = _wrk(url, script, args.duration, args.connections)
        rss = _rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return Replica(name, load, rss)


def _admit_ms(client: FlaskClient, review: bytes) -> float:
    started = time.perf_counter()
    answer = client.post("/validate", data=review, content_type="application/json")
    elapsed = (time.perf_counter() - started) * 1000
    assert answer.get_json()["response"]["allowed"], answer.get_json()
    return elapsed


class RequestLog:
    """Counts the registry's requests between two marker requests (its access log)."""

    def __init__(self, registry: RunningRegistry) -> None:
        self._registry = registry

    def mark(self) -> str:
        """Make a request only this benchmark makes; return it once it is logged."""
        marker = f"/v2/bench-marker-{time.monotonic_ns()}/tags/list"
        requests.get(f"{self._registry.url}{marker}", timeout=10)
        for _ in range(200):
            if marker in self._registry.log_path.read_text(errors="replace"):
                return marker
            time.sleep(0.05)
        raise SystemExit(f"the registry never logged {marker}")

    def count(self, first: str, second: str) -> int:
        """Registry requests logged between the two markers."""
        text = self._registry.log_path.read_text(errors="replace")
        start = text.index(first)
        span = text[start : text.index(second, start)]
        return len(re.findall(r'"(?:GET|HEAD) /v2/scale/', span))


@dataclass(frozen=True)
class FirstAdmissions:
    """Per image: ms when verified alone, ms when found in Redis; and what each cost."""

    verified: list[float]
    shared: list[float]
    verified_requests: int
    shared_requests: int
    bytes_per_entry: float


def _first_admissions(
    policy: Path, redis: RunningRedis, images: list[str], registry: RunningRegistry
) -> FirstAdmissions:
    """The first admission of each image by a replica, alone and after another shared it."""
    alone = Settings(policy=policy, db_url="sqlite://", policy_reload_interval=0.0)
    with_redis = replace(alone, redis_url=redis.url(5))
    apps = [create_app(with_redis), create_app(with_redis), create_app(alone)]
    writer, reader, solo = (app.test_client() for app in apps)
    raw = redis.client(5)
    try:
        raw.flushdb()
        before = int(raw.info("memory")["used_memory"])
        # Warm connections and code paths on every side with an image none of them measures.
        warm = json.dumps(admission_review(kubectl_pod("warm", images[0]))).encode()
        for client in (writer, reader, solo):
            _admit_ms(client, warm)
        reviews = [
            json.dumps(admission_review(kubectl_pod(f"p{index}", image))).encode()
            for index, image in enumerate(images[1:])
        ]
        for review in reviews:
            _admit_ms(writer, review)  # another replica verifies it and shares it
        log = RequestLog(registry)
        start = log.mark()
        shared = [_admit_ms(reader, review) for review in reviews]
        middle = log.mark()
        verified = [_admit_ms(solo, review) for review in reviews]
        end = log.mark()
        entries = len(raw.keys("gate:cache:v1:*"))
        used = int(raw.info("memory")["used_memory"]) - before
        per_entry = used / entries if entries else 0.0
        hits = state_of(apps[1]).metrics.registry.get_sample_value(
            "gate_shared_cache_hits_total", {"cache": "signature"}
        )
        assert hits == len(images), f"expected a shared hit per image, got {hits}"
    finally:
        raw.flushdb()
        raw.close()
        for app in apps:
            state_of(app).close()
    return FirstAdmissions(
        verified, shared, log.count(middle, end), log.count(start, middle), per_entry
    )


def _lookup_us(redis: RunningRedis) -> float:
    digest = Digest.of(b"lookup")
    key: SignatureKey = ("cosign", "r/x", str(digest), "release", ("SHA256:k",), "p")
    result = AuthorityResult(
        "release", signatures=(VerifiedSignature("release", "cosign", "SHA256:k", "k", digest),)
    )
    shared = SharedCache(RedisBackend(redis.url(6)), Metrics())
    try:
        shared.put(SIGNATURES, key, result, 60)
        timings = []
        for _ in range(LOOKUPS):
            started = time.perf_counter()
            found = shared.get(SIGNATURES, key)
            timings.append((time.perf_counter() - started) * 1e6)
            assert found is not None
    finally:
        shared.close()
    return statistics.median(timings)


def main() -> int:
    """Run the three measurements and print them with the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--workers", type=int, default=TLS_WORKERS, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=TLS_THREADS, help="threads per worker")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    replicas: list[Replica] = []
    with tempfile.TemporaryDirectory(prefix="gate-bench-scale-") as tmp:
        work = Path(tmp)
        registry = start_registry(work / "registry")
        postgres = start_postgres()
        redis = start_redis(work)
        try:
            private_pem, public_pem = generate_key_pair(b"pw")
            policy = _policy(work, public_pem)
            images = _signed_images(registry, private_pem, args.images + 2)
            with RegistryClient(RegistryOptions()) as client:
                pinned = client.resolve(ImageReference.parse(images[-1])).reference.pinned
            review = json.dumps(admission_review(kubectl_pod("bench", pinned))).encode()
            body = work / "review.json"
            body.write_bytes(review)
            script = work / "post.lua"
            script.write_text(_WRK_SCRIPT.format(body=body), encoding="utf-8")
            common = {**os.environ, "HOME": str(work / "home"), "GATE_POLICY": str(policy)}
            postgres_url = postgres.create_database()
            configurations = (
                ("SQLite store", {"GATE_DB_URL": f"sqlite:///{work / 'gate.db'}"}),
                ("PostgreSQL store", {"GATE_DB_URL": postgres_url}),
                (
                    "PostgreSQL + Redis",
                    {"GATE_DB_URL": postgres_url, "GATE_REDIS_URL": redis.url(4)},
                ),
            )
            for name, extra in configurations:
                env = {**common, **extra, "GATE_STATE_DIR": str(work / name.replace(" ", "-"))}
                replicas.append(_replica_load(name, env, review, script, args))
            first = _first_admissions(policy, redis, images[: args.images + 1], registry)
            lookup = _lookup_us(redis)
        finally:
            redis.stop()
            postgres.stop()
            registry.stop()
    print(
        f"one replica under wrk -t1 -c{args.connections} -d{args.duration}s, cached signed "
        "digest (verdicts recorded):"
    )
    print(f"{'':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MiB':>8}  errors")
    for replica in replicas:
        load = replica.load
        print(
            f"{replica.name:22} {load.rps:8.0f} {load.p50_ms:8.2f} {load.p99_ms:8.2f} "
            f"{replica.rss_mb:8.1f}  {load.errors}"
        )
    count = len(first.verified)
    alone, found = statistics.median(first.verified), statistics.median(first.shared)
    ratio = found / alone
    print(
        f"first admission of a digest ({count} signed images, by tag, warm connections):\n"
        f"  verified by the replica itself: median {alone:.1f} ms (max {max(first.verified):.1f}),"
        f" {first.verified_requests / count:.1f} registry requests each\n"
        f"  found in Redis (another replica verified it): median {found:.1f} ms "
        f"(max {max(first.shared):.1f}), {first.shared_requests / count:.1f} registry requests "
        f"each\n  {ratio:.0%} of a verification (budget < {MAX_HIT_RATIO:.0%})   "
        f"{'PASS' if ratio < MAX_HIT_RATIO else 'FAIL'}"
    )
    print(
        f"shared-cache lookup (GETRANGE + JSON decode, loopback): median {lookup:.0f} us over "
        f"{LOOKUPS}; Redis memory per shared entry (signature or manifest): "
        f"{first.bytes_per_entry:.0f} bytes"
    )
    return 0 if ratio < MAX_HIT_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
