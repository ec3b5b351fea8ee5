"""``gate check`` and ``gate sign`` end to end against real docker-registry servers.

Images are built here and pushed with skopeo; signatures are written by
``gate sign``; every verdict is read from the CLI's exit code and JSON report.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gate.oci.digest import Digest
from tests.integration.gate_cli import (
    GateRun,
    isolate_environment,
    make_key_pair,
    run_gate,
    run_gate_process,
    write_policy,
)
from tests.integration.registry_server import RunningRegistry
from tests.support.images import (
    build_image,
    build_index,
    harness_session,
    push_image,
    push_index,
    put_manifest,
)

pytestmark = pytest.mark.integration

SIGNED_POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: ci}
spec:
  defaultAction: deny
  trust:
    release: {cosign: {publicKeys: [keys/release.pub]}}
  rules:
    - name: local
      match: {images: ["127.0.0.1:*/**"]}
      signatures: {anyOf: [release]}
"""


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with release.key/.pub and other.key/.pub."""
    directory = tmp_path_factory.mktemp("gate-check") / "keys"
    make_key_pair(directory, "release")
    make_key_pair(directory, "other")
    return directory


@pytest.fixture
def policy(keys: Path) -> Path:
    """The signatures-only policy trusting release.pub."""
    return write_policy(keys.parent, SIGNED_POLICY)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _push(registry: RunningRegistry, repository: str, tag: str, content: bytes) -> Digest:
    return push_image(registry, repository, tag, build_image(content=content))


def _sign(capsys: pytest.CaptureFixture[str], image: str, key: Path, *extra: str) -> GateRun:
    run = run_gate(capsys, "sign", image, "--key", str(key), *extra)
    assert run.code == 0, run.stderr
    return run


def _check(capsys: pytest.CaptureFixture[str], image: str, policy: Path, *extra: str) -> GateRun:
    return run_gate(capsys, "check", image, "--policy", str(policy), "--format", "json", *extra)


def test_signed_image_is_allowed_and_pinned(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = _push(registry, "e2e/signed", "1.0", b"signed")
    image = f"{registry.host}/e2e/signed:1.0"
    _sign(capsys, image, keys / "release.key")
    run = _check(capsys, image, policy)
    assert run.code == 0, run.stdout + run.stderr
    report = run.json()
    assert report["decision"] == "allow"
    assert run.image["digest"] == str(digest)
    assert run.image["rule"] == "local"
    assert run.check("signatures")["outcome"] == "pass"
    assert "release" in run.check("signatures")["reason"]


def test_unsigned_image_is_denied(
    registry: RunningRegistry, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push(registry, "e2e/unsigned", "1.0", b"unsigned")
    run = _check(capsys, f"{registry.host}/e2e/unsigned:1.0", policy)
    assert run.code == 1
    assert run.json()["decision"] == "deny"
    assert run.check("signatures")["outcome"] == "fail"
    assert "no cosign signatures found" in run.check("signatures")["reason"]


def test_image_signed_by_another_key_is_denied(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push(registry, "e2e/other-key", "1.0", b"other key")
    image = f"{registry.host}/e2e/other-key:1.0"
    _sign(capsys, image, keys / "other.key")
    run = _check(capsys, image, policy)
    assert run.code == 1
    assert run.check("signatures")["outcome"] == "fail"
    assert "not" in run.check("signatures")["reason"]


def test_second_signature_is_appended_and_either_key_counts(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    digest = _push(registry, "e2e/two-signers", "1.0", b"two signers")
    image = f"{registry.host}/e2e/two-signers:1.0"
    _sign(capsys, image, keys / "other.key")
    _sign(capsys, image, keys / "release.key")
    session = harness_session(registry, "e2e/two-signers")
    manifest = session.get(
        f"{registry.url}/v2/e2e/two-signers/manifests/{digest.tag_form}.sig",
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        timeout=10,
    ).json()
    assert len(manifest["layers"]) == 2
    assert _check(capsys, image, policy).code == 0


def test_signature_transplanted_from_another_image_is_denied(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = "e2e/transplant"
    signed = _push(registry, repository, "signed", b"the signed one")
    victim = _push(registry, repository, "victim", b"the other one")
    _sign(capsys, f"{registry.host}/{repository}:signed", keys / "release.key")
    session = harness_session(registry, repository)
    media_type = "application/vnd.oci.image.manifest.v1+json"
    signature = session.get(
        f"{registry.url}/v2/{repository}/manifests/{signed.tag_form}.sig",
        headers={"Accept": media_type},
        timeout=10,
    ).content
    put_manifest(
        registry, session, repository, f"{victim.tag_form}.sig", signature, media_type=media_type
    )
    run = _check(capsys, f"{registry.host}/{repository}:victim", policy)
    assert run.code == 1
    reason = run.check("signatures")["reason"]
    assert str(signed)[:19] in reason or "another image" in reason, reason


def test_tag_moved_after_signing_is_denied_but_the_signed_digest_is_allowed(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = "e2e/moving"
    first = _push(registry, repository, "1.0", b"first build")
    _sign(capsys, f"{registry.host}/{repository}:1.0", keys / "release.key")
    second = _push(registry, repository, "1.0", b"second build, never signed")
    moved = _check(capsys, f"{registry.host}/{repository}:1.0", policy)
    assert moved.code == 1
    assert moved.image["digest"] == str(second)
    pinned = _check(capsys, f"{registry.host}/{repository}@{first}", policy)
    assert pinned.code == 0
    assert pinned.image["digest"] == str(first)


def test_reference_with_tag_and_digest_verifies_the_digest(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = "e2e/tag-and-digest"
    signed = _push(registry, repository, "1.0", b"signed build")
    _sign(capsys, f"{registry.host}/{repository}:1.0", keys / "release.key")
    _push(registry, repository, "1.0", b"tag now points elsewhere")
    run = _check(capsys, f"{registry.host}/{repository}:1.0@{signed}", policy)
    assert run.code == 0
    assert run.image["digest"] == str(signed)


def test_multi_arch_index(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = "e2e/multiarch"
    amd64 = build_image(content=b"amd64 build", architecture="amd64")
    arm64 = build_image(content=b"arm64 build", architecture="arm64", variant="v8")
    index = build_index([amd64, arm64])
    index_digest = push_index(registry, repository, "1.0", index)
    image = f"{registry.host}/{repository}:1.0"

    unsigned = _check(capsys, image, policy)
    assert unsigned.code == 1
    assert unsigned.image["digest"] == str(index_digest)

    # A signature on one platform's manifest covers that platform only.
    _sign(capsys, f"{registry.host}/{repository}@{arm64.digest}", keys / "release.key")
    assert _check(capsys, image, policy, "--platform", "linux/arm64").code == 0
    assert _check(capsys, image, policy, "--platform", "linux/amd64").code == 1
    assert _check(capsys, image, policy).code == 1

    # A signature on the index covers the index and every platform in it.
    _sign(capsys, image, keys / "release.key")
    allowed = _check(capsys, image, policy)
    assert allowed.code == 0
    assert allowed.image["digest"] == str(index_digest)
    assert _check(capsys, image, policy, "--platform", "linux/amd64").code == 0

    missing = _check(capsys, image, policy, "--platform", "linux/s390x")
    assert missing.code == 2
    assert "linux/s390x" in missing.stderr


def test_private_registry_with_and_without_credentials(
    tls_registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tls_registry.authfile is not None
    assert tls_registry.cert_dir is not None
    _push(tls_registry, "e2e/private", "1.0", b"private")
    image = f"{tls_registry.host}/e2e/private:1.0"
    access = ("--authfile", str(tls_registry.authfile), "--cert-dir", str(tls_registry.cert_dir))
    _sign(capsys, image, keys / "release.key", *access)
    allowed = _check(capsys, image, policy, *access)
    assert allowed.code == 0, allowed.stderr

    no_credentials = _check(capsys, image, policy, "--cert-dir", str(tls_registry.cert_dir))
    assert no_credentials.code == 2
    assert no_credentials.json()["decision"] == "deny"
    line = no_credentials.stderr.strip().splitlines()[0]
    assert tls_registry.host in line
    assert "Traceback" not in no_credentials.stderr

    untrusted_tls = _check(capsys, image, policy, "--authfile", str(tls_registry.authfile))
    assert untrusted_tls.code == 2
    assert "certificate" in untrusted_tls.stderr.lower()


def test_token_auth_registry(
    token_registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert token_registry.authfile is not None
    _push(token_registry, "e2e/token", "1.0", b"token")
    image = f"{token_registry.host}/e2e/token:1.0"
    access = ("--authfile", str(token_registry.authfile))
    _sign(capsys, image, keys / "release.key", *access)
    assert _check(capsys, image, policy, *access).code == 0


def test_several_images_take_the_worst_decision(
    registry: RunningRegistry, keys: Path, policy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _push(registry, "e2e/many", "good", b"good")
    _push(registry, "e2e/many", "bad", b"bad")
    good, bad = f"{registry.host}/e2e/many:good", f"{registry.host}/e2e/many:bad"
    _sign(capsys, good, keys / "release.key")
    run = run_gate(capsys, "check", good, bad, "--policy", str(policy), "--format", "json")
    assert run.code == 1
    assert [i["decision"] for i in run.json()["images"]] == ["allow", "deny"]


def test_report_formats_and_output_file(
    registry: RunningRegistry,
    keys: Path,
    policy: Path,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    _push(registry, "e2e/formats", "1.0", b"formats")
    image = f"{registry.host}/e2e/formats:1.0"
    sarif = tmp_path / "gate.sarif"
    run = run_gate(
        capsys, "check", image, "--policy", str(policy), "--format", "sarif", "--output", str(sarif)
    )
    assert run.code == 1
    assert run.stdout == ""
    assert "decision: deny" in run.stderr
    log = json.loads(sarif.read_text())
    assert any(r["ruleId"] == "gate/signatures" for r in log["runs"][0]["results"])
    junit = run_gate(capsys, "check", image, "--policy", str(policy), "--format", "junit")
    assert "<failure" in junit.stdout
    text = run_gate(capsys, "check", image, "--policy", str(policy))
    assert text.stdout.startswith("DENY")


def test_unreachable_registry_fails_closed_with_one_line(
    keys: Path, policy: Path, tmp_path: Path
) -> None:
    run = run_gate_process(
        "check",
        "127.0.0.1:9/e2e/nothing:1.0",
        "--policy",
        str(policy),
        "--registry-timeout",
        "2",
        env={"DOCKER_CONFIG": str(tmp_path), "COSIGN_PASSWORD": "x"},
    )
    assert run.code == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1
    assert "127.0.0.1:9" in run.stderr
    assert run.stdout.startswith("DENY")


def test_tag_next_to_a_digest_is_not_trusted_for_matching(
    registry: RunningRegistry, keys: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repository = "e2e/tagrule"
    _push(registry, repository, "v1.0", b"reviewed release")
    other = _push(registry, repository, "dev", b"unreviewed build")
    policy = write_policy(
        keys.parent,
        """\
apiVersion: gate/v1
kind: Policy
metadata: {name: tags}
spec:
  defaultAction: deny
  rules:
    - name: reviewed-tag
      match: {images: ["127.0.0.1:*/e2e/tagrule:v1.0"]}
      action: allow
""",
        name="tags.yaml",
    )
    by_tag = _check(capsys, f"{registry.host}/{repository}:v1.0", policy)
    assert by_tag.code == 0
    assert by_tag.image["rule"] == "reviewed-tag"
    smuggled = _check(capsys, f"{registry.host}/{repository}:v1.0@{other}", policy)
    assert smuggled.code == 1
    assert smuggled.image["digest"] == str(other)
    assert smuggled.image["rule"] is None
