"""A Sigstore bundle attached as an OCI referrer, found and verified through ``gate check``.

The bundle comes from a throw-away Sigstore instance made by the test
(``FakeSigstore``: its own Fulcio CA, Rekor and CT keys, and the
``trusted_root.json`` naming them), because a real public-good bundle for an
image whose manifest bytes we hold does not exist in the fixtures. The
registry is the real docker-registry 2.8, which has no referrers API: the
gate finds the bundle through the referrers tag schema, as cosign v3 leaves
it on such registries. The webhook decides the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.oci.digest import Digest
from gate.oci.manifest import OCI_INDEX, OCI_MANIFEST
from tests.integration.gate_cli import isolate_environment, run_gate, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import (
    build_image,
    harness_session,
    push_image,
    put_manifest,
    upload_blob,
)
from tests.unit.signatures.keyless.fake_sigstore import BUNDLE_V03, GITHUB, FakeSigstore
from tests.unit.webhook.reviews import admission_review, kubectl_pod
from webhook.app import create_app, state_of
from webhook.settings import Settings

pytestmark = pytest.mark.integration

EMPTY = b"{}"


def _attach(
    registry: RunningRegistry, repository: str, subject: Digest, size: int, bundle: bytes
) -> None:
    session = harness_session(registry, repository)
    upload_blob(registry, session, repository, EMPTY)
    upload_blob(registry, session, repository, bundle)
    empty = {
        "mediaType": "application/vnd.oci.empty.v1+json",
        "digest": str(Digest.of(EMPTY)),
        "size": 2,
    }
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": BUNDLE_V03,
            "config": empty,
            "layers": [
                {"mediaType": BUNDLE_V03, "digest": str(Digest.of(bundle)), "size": len(bundle)}
            ],
            "subject": {"mediaType": OCI_MANIFEST, "digest": str(subject), "size": size},
        }
    ).encode()
    digest = put_manifest(
        registry, session, repository, str(Digest.of(manifest)), manifest, media_type=OCI_MANIFEST
    )
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": str(digest),
                    "size": len(manifest),
                    "artifactType": BUNDLE_V03,
                }
            ],
        }
    ).encode()
    put_manifest(registry, session, repository, subject.tag_form, index, media_type=OCI_INDEX)


@pytest.fixture(scope="module")
def setup(
    registry: RunningRegistry, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """A policy trusting alice@example.com under the fake root; a signed and an unsigned image."""
    work = tmp_path_factory.mktemp("keyless-referrers")
    sigstore = FakeSigstore()
    root = sigstore.write_root(work / "trusted_root.json")
    alice = sigstore.issue()
    signed_image = build_image(content=b"keyless bundle referrer")
    digest = push_image(registry, "keyless/app", "signed", signed_image)
    bundle = json.dumps(sigstore.dsse_bundle(digest, alice)).encode()
    _attach(registry, "keyless/app", digest, len(signed_image.manifest), bundle)
    push_image(registry, "keyless/app", "unsigned", build_image(content=b"keyless unsigned"))
    policy = write_policy(
        work,
        f"""\
apiVersion: gate/v1
kind: Policy
metadata: {{name: keyless}}
spec:
  trust:
    ci:
      keyless: {{issuer: "{GITHUB}", subject: alice@example.com, trustedRoot: {root.name}}}
  rules:
    - name: all
      match: {{images: ["127.0.0.1:*/**"]}}
      signatures: {{anyOf: [ci]}}
""",
    )
    return policy, f"{registry.host}/keyless/app:signed", f"{registry.host}/keyless/app:unsigned"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def test_gate_check_finds_and_verifies_the_bundle_referrer(
    setup: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy, signed, unsigned = setup
    run = run_gate(capsys, "check", signed, "--policy", str(policy), "--format", "json")
    assert run.code == 0, run.stdout + run.stderr
    assert "alice@example.com" in run.check("signatures")["reason"]
    denied = run_gate(capsys, "check", unsigned, "--policy", str(policy), "--format", "json")
    assert denied.code == 1, denied.stdout + denied.stderr


def test_gate_verify_with_certificate_flags(
    setup: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    policy, signed, _ = setup
    flags = [
        "--certificate-oidc-issuer",
        GITHUB,
        "--trusted-root",
        str(policy.parent / "trusted_root.json"),
    ]
    ok = run_gate(capsys, "verify", signed, "--certificate-identity", "alice@example.com", *flags)
    assert ok.code == 0, ok.stdout + ok.stderr
    # Patterns match the whole subject: "alice" alone is not alice@example.com.
    partial = run_gate(capsys, "verify", signed, "--certificate-identity-regexp", "alice", *flags)
    assert partial.code == 1, partial.stdout + partial.stderr


def test_the_webhook_admits_the_keyless_signed_image(
    setup: tuple[Path, str, str], tmp_path: Path
) -> None:
    policy, signed, unsigned = setup
    app = create_app(Settings(policy=policy, db_url="sqlite://", policy_reload_interval=0))
    try:
        client = app.test_client()
        for image, allowed in ((signed, True), (unsigned, False)):
            review = admission_review(kubectl_pod("pod", image))
            answer = client.post("/validate", json=review).get_json()["response"]
            assert answer["allowed"] is allowed, answer
    finally:
        state_of(app).close()
