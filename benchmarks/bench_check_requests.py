"""Registry requests made by one ``gate check`` of a signed image.

Budget (issue 2): at most 4 registry requests after the token exchange.
Starts a real docker-registry with token auth (the test token server) on
127.0.0.1, pushes a tiny image with skopeo, signs it with ``gate sign``, then
checks it with a fresh client and lists every request it made.

Run: .venv/bin/python benchmarks/bench_check_requests.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gate.check import CheckOptions, Gate
from gate.oci.client import RegistryClient, RegistryOptions
from gate.oci.reference import ImageReference
from gate.policy.loader import load_policy_text
from gate.signatures.keyfile import generate_key_pair, load_private_key
from gate.signatures.signer import sign_image
from tests.integration.registry_server import start_registry
from tests.integration.token_server import TokenServer
from tests.support.images import build_image, push_image
from tests.support.tls import make_signing_certificate

BUDGET = 4
USER, PASSWORD = "bench", "bench-password"


def main() -> int:
    """Run the scenario and print the requests next to the budget."""
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        work = Path(tmp)
        server = TokenServer(
            signing=make_signing_certificate(work / "signing"), users={USER: PASSWORD}
        ).start()
        registry = start_registry(work / "registry", token_server=server)
        try:
            assert registry.authfile is not None
            push_image(registry, "bench/app", "1.0", build_image(content=b"bench"))
            private_pem, public_pem = generate_key_pair(b"pw")
            (work / "release.pub").write_bytes(public_pem)
            (work / "certs.d").mkdir()
            options = RegistryOptions(authfile=registry.authfile, cert_dir=work / "certs.d")
            reference = ImageReference.parse(f"{registry.host}/bench/app:1.0")
            with RegistryClient(options) as signer:
                image = signer.resolve(reference)
                sign_image(signer, signer, image, load_private_key(private_pem, b"pw", "key"))
            policy = load_policy_text(
                "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: bench}\nspec:\n"
                "  trust: {release: {cosign: {publicKeys: [release.pub]}}}\n"
                "  rules:\n    - name: all\n      match: {images: ['**']}\n"
                "      signatures: {anyOf: [release]}\n",
                work / "policy.yaml",
            )
            with RegistryClient(options) as client:
                verdict = Gate(policy, client).check([str(reference)], CheckOptions())
                records = client.requests_made
        finally:
            registry.stop()
            server.stop()
    print(f"decision: {verdict.decision.value}")
    print(f"{'#':>2}  {'kind':8} {'status':>6}  request")
    first_registry_after_token = 0
    for index, record in enumerate(records):
        if record.kind == "token":
            first_registry_after_token = index + 1
        print(f"{index + 1:>2}  {record.kind:8} {record.status:>6}  {record.method} {record.path}")
    after = [r for r in records[first_registry_after_token:] if r.kind == "registry"]
    status = "PASS" if len(after) <= BUDGET and verdict.decision.value == "allow" else "FAIL"
    print(f"registry requests after the token exchange: {len(after)}   budget: {BUDGET}   {status}")
    return 0 if status == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
