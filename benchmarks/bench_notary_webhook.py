"""Admissions per second for a Notary-signed tag: warm trust data vs. the cache disabled.

Budget (issue 4): with trust data cached, the webhook must admit a Pod whose
image tag is signed with Docker Content Trust at least 20x faster than the
same webhook with its caches disabled (every admission re-reads the trust
data from notary-server and verifies it, as a widely used Python admission
controller does; its published figure on this kind of machine, about 17
requests/s at p50 55 ms, is printed for comparison).

Both servers are ``gate serve`` (gunicorn, the default workers and threads)
over the same policy; the cold one runs with ``cache_ttl=0``. Each gets the
same one-container Pod review under wrk (16 connections) after a warm-up.
Real parts: docker-registry, notary-server + notary-signer (TLS, test CA),
the notary client signing the tag through a ``targets/releases`` delegation.

Run: .venv/bin/python benchmarks/bench_notary_webhook.py [--duration 10]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_webhook import (
    WARM_UP_SECONDS,
    Load,
    _free_port,
    _start,
    _wait,
    _wrk,
)
from tests.integration.notary_server import start_notary
from tests.integration.registry_server import start_registry
from tests.support.images import build_image, push_image
from tests.support.notary_client import NotaryClient
from tests.support.tls import TestCA
from tests.unit.webhook.reviews import admission_review, kubectl_pod

MIN_SPEEDUP = 20.0
PEER = "widely used Python admission controller (published): ~17 req/s, p50 ~55 ms"

_SERVER = """\
import sys
from pathlib import Path
from webhook.serve import serve
from webhook.settings import Settings

policy, db, port, ttl = sys.argv[1:]
sys.exit(serve(Settings(policy=Path(policy), db_url=f"sqlite:///{db}", cache_ttl=float(ttl)),
               port=int(port)))
"""

_WRK_SCRIPT = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}", "rb"):read()
"""

_POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {{name: bench-dct}}
spec:
  trust:
    dct:
      notaryV1: {{server: "{server}", rootKeys: [root.crt], caFile: ca.pem}}
  rules:
    - name: all
      match: {{images: ['**']}}
      signatures: {{anyOf: [dct]}}
"""


def main() -> int:
    """Sign a tag with the real notary client, run both servers under wrk, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gate-bench-notary-") as tmp:
        work = Path(tmp)
        registry = start_registry(work / "registry")
        notary = start_notary(work / "notary", TestCA(work / "ca"))
        processes = []
        try:
            image = build_image(content=b"notary benchmark")
            push_image(registry, "bench/dct", "1.0", image)
            gun = f"{registry.host}/bench/dct"
            client = NotaryClient(work / "trust", notary, notary.ca_cert)
            client.init(gun)
            client.add_delegation(gun, "targets/releases", work / "delegation")
            client.add_hash(gun, "1.0", len(image.manifest), image.digest.hex)
            client.add_hash(
                gun, "1.0", len(image.manifest), image.digest.hex, roles=["targets/releases"]
            )
            client.publish(gun)
            (work / "root.crt").write_bytes(client.root_certificate(gun))
            (work / "ca.pem").write_bytes(notary.ca_cert.read_bytes())
            policy = work / "policy.yaml"
            policy.write_text(_POLICY.format(server=notary.url), encoding="utf-8")
            review = json.dumps(admission_review(kubectl_pod("bench", f"{gun}:1.0"))).encode()
            body = work / "review.json"
            body.write_bytes(review)
            script = work / "post.lua"
            script.write_text(_WRK_SCRIPT.format(body=body), encoding="utf-8")
            env = {**os.environ, "HOME": str(work / "home")}
            results: dict[str, Load] = {}
            for name, ttl in (("cache disabled (cache_ttl=0)", "0"), ("warm trust data", "300")):
                port = _free_port()
                db = work / f"gate-{ttl}.db"
                processes.append(_start(_SERVER, str(policy), str(db), str(port), ttl, env=env))
                url = f"http://127.0.0.1:{port}/validate"
                _wait(url, review)
                _wrk(url, script, WARM_UP_SECONDS, args.connections)
                results[name] = _wrk(url, script, args.duration, args.connections)
                processes[-1].terminate()
                processes[-1].wait(timeout=30)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
            notary.stop()
            registry.stop()
    cold = results["cache disabled (cache_ttl=0)"]
    warm = results["warm trust data"]
    speedup = warm.rps / cold.rps
    ok = speedup >= MIN_SPEEDUP
    print(
        f"wrk -t1: {args.connections} connections, {args.duration} s, one-container Pod review, "
        "image by tag signed via targets/releases; gate serve defaults"
    )
    print(f"{'':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}  errors")
    for name, load in results.items():
        print(f"{name:34} {load.rps:9.1f} {load.p50_ms:8.2f} {load.p99_ms:8.2f}  {load.errors}")
    print(f"(b) {PEER}")
    print(
        f"warm / cache disabled: {speedup:.1f}x (budget >= {MIN_SPEEDUP:g}x); "
        f"warm / published peer (17 req/s): {warm.rps / 17:.0f}x   {'PASS' if ok else 'FAIL'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
