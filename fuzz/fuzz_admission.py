"""Fuzz ``POST /validate`` of the real webhook app, with a policy that requires a signature.

Each input is an AdmissionReview body. The app (in-memory SQLite store) may
reach only a registry served from memory on 127.0.0.1, which holds an
unsigned image; ``registry.fuzz`` in the input is replaced by that
registry's address, so the seeds reach it. Properties: the answer is a
400/413 with a reason or a well-formed AdmissionReview, never a 500 nor an
internal error; ``parse_review`` and ``container_images`` raise only their
typed errors; and no request that runs an image is ever allowed (no image
here has a valid signature). Run: ``python fuzz/fuzz_admission.py -max_total_time=120``.
"""

from __future__ import annotations

import atexit
import json
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, run

with atheris.instrument_imports(include=["gate", "webhook"]):
    from cryptography.hazmat.primitives.asymmetric import ec

    from gate.oci.reference import ImageReference
    from gate.signatures.keyfile import public_key_pem
    from webhook.admission import ReviewError, parse_review
    from webhook.app import create_app, state_of
    from webhook.settings import Settings
    from webhook.workloads import container_images

from tests.fuzz.http_registry import serve_registry
from tests.support.fixture_registry import MemoryRegistry

POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: fuzz-signed}
spec:
  defaultAction: deny
  trust:
    release: {cosign: {publicKeys: [release.pub]}}
  rules:
    - name: signed
      match: {images: ["**"]}
      signatures: {anyOf: [release]}
"""
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "size": 2,
            "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        },
        "layers": [],
    }
).encode()

_stack = ExitStack()
atexit.register(_stack.close)
_directory = Path(_stack.enter_context(tempfile.TemporaryDirectory(prefix="gate-fuzz-")))
(_directory / "release.pub").write_bytes(public_key_pem(ec.generate_private_key(ec.SECP256R1())))
(_directory / "policy.yaml").write_text(POLICY, encoding="utf-8")
_registry = MemoryRegistry()
_host = _stack.enter_context(serve_registry(_registry))
_digest = _registry.put_manifest(ImageReference.parse(f"{_host}/fuzz/app"), MANIFEST, tag="1")
_app = create_app(
    Settings(
        policy=_directory / "policy.yaml",
        db_url="sqlite://",
        policy_reload_interval=0,
        allowed_registries=(_host,),
        admission_deadline=10.0,
        check_threads=4,
    )
)
_stack.callback(lambda: state_of(_app).close())
_client = _app.test_client()


def _review(kind: str, group: str, obj: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "0b5d3c8e-1f0a-4c8e-9a53-3f1f4a3c7e11",
                "kind": {"group": group, "version": "v1", "kind": kind},
                "operation": "CREATE",
                "namespace": "team-a",
                "userInfo": {"username": "alice"},
                "object": obj,
                "dryRun": False,
            },
        }
    ).encode()


def _seeds() -> list[bytes]:
    image = "registry.fuzz/fuzz/app:1"
    pinned = f"registry.fuzz/fuzz/app@{_digest}"
    spec = {
        "initContainers": [{"name": "init", "image": pinned}],
        "containers": [{"name": "app", "image": image}, {"name": "side", "image": "alpine"}],
    }
    template = {"template": {"spec": spec}}
    return [
        _review("Pod", "", {"kind": "Pod", "metadata": {"name": "p"}, "spec": spec}),
        _review("Deployment", "apps", {"kind": "Deployment", "spec": template}),
        _review("CronJob", "batch", {"spec": {"jobTemplate": {"spec": template}}}),
        _review("ConfigMap", "", {"data": {"a": "b"}}),
    ]


def test_one_input(data: bytes) -> None:
    """One input: an AdmissionReview body (``registry.fuzz`` names the local registry)."""
    body = data.replace(b"registry.fuzz", _host.encode())
    response = _client.post("/validate", data=body, content_type="application/json")
    answer = response.get_json()
    if response.status_code in {400, 413}:
        if not isinstance(answer, dict) or not answer.get("error"):
            raise PropertyViolationError(f"error answer without a reason: {response.data[:200]!r}")
        return
    if response.status_code != 200 or not isinstance(answer, dict):
        raise PropertyViolationError(f"answered {response.status_code}: {response.data[:300]!r}")
    verdict = answer["response"]
    message = str(verdict.get("status", {}).get("message", ""))
    if "internal error" in message or verdict.get("status", {}).get("code") == 500:
        raise PropertyViolationError(f"internal error: {message}")
    try:
        request = parse_review(body)
    except ReviewError as error:
        if "\n" in error.reason:
            raise PropertyViolationError(f"ReviewError spans lines: {error.reason!r}") from None
        return
    images = outcome(lambda: container_images(request))
    if isinstance(images, tuple) and images and verdict["allowed"]:
        raise PropertyViolationError(f"allowed unsigned images {images}: {verdict}")


if __name__ == "__main__":
    run("admission", test_one_input, _seeds())
