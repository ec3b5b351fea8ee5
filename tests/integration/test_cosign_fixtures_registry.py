"""The real cosign signatures of CASES.md (COS-*) served by a real docker-registry.

The connaisseur test image dump keeps manifests and signature payloads but not
image layers or configs, so the registry gets stand-in blobs for those
(``seed_manifest``); every manifest is served byte-for-byte, so the digests
are the real ones. The verdicts come from ``gate check`` exit codes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.oci.digest import Digest
from tests.integration.gate_cli import GateRun, isolate_environment, run_gate, write_policy
from tests.integration.registry_server import RunningRegistry
from tests.support.images import seed_manifest
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.integration

REPOSITORY = "securesystemsengineering/testimage"
ALICE = "sha256:071bf7a986f1ca9cb2a1f0bc8392822a7777f90d58f2d2c6f271913e08de7c81"
ALICE_BOB_CHARLIE = "sha256:bfec161fecb0a887df7cb85e4da327c65986ccda7060cf3cd92171c6c90d7533"
KEYLESS = "sha256:31dc72a13a0c34b40eb95419d2b2fd67320c856baf3b72da518023ee8d370aee"
IMAGES = {
    "multi-cosigned-alice": ALICE,
    "multi-cosigned-alice-bob-charlie": ALICE_BOB_CHARLIE,
    "keyless": KEYLESS,
}


def _dump() -> Path:
    return real_fixtures("signatures", "cosign", "connaisseur-testimage")


def _blobs(dump: Path) -> dict[Digest, bytes]:
    directory = dump / "registry" / REPOSITORY / "blobs"
    return {Digest.parse(p.stem): p.read_bytes() for p in directory.glob("sha256:*.json")}


@pytest.fixture(scope="module")
def seeded(registry: RunningRegistry) -> RunningRegistry:
    """The registry serving the dump's images and their signatures, plus a transplant."""
    dump = _dump()
    manifests = dump / "registry" / REPOSITORY / "manifests"
    blobs = _blobs(dump)
    for tag, digest in IMAGES.items():
        stored = seed_manifest(
            registry, REPOSITORY, tag, (manifests / f"{tag}.json").read_bytes(), {}
        )
        assert str(stored) == digest
        signature_tag = digest.replace(":", "-") + ".sig"
        signature = (manifests / f"{signature_tag}.json").read_bytes()
        seed_manifest(registry, REPOSITORY, signature_tag, signature, blobs)
    # COS-07: alice's signature of the other image served under this image's tag.
    victim = (manifests / "multi-cosigned-alice-bob-charlie.json").read_bytes()
    seed_manifest(registry, "cos07/testimage", "victim", victim, {})
    stolen = (manifests / f"{ALICE.replace(':', '-')}.sig.json").read_bytes()
    seed_manifest(
        registry, "cos07/testimage", ALICE_BOB_CHARLIE.replace(":", "-") + ".sig", stolen, blobs
    )
    return registry


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


def _policy(directory: Path, signatures: str) -> Path:
    keys = _dump() / "keys"
    trust = "\n".join(
        f"    {name}: {{cosign: {{publicKeys: [{keys / name}.pub]}}}}"
        for name in ("alice", "bob", "charlie", "default")
    )
    body = f"""\
apiVersion: gate/v1
kind: Policy
metadata: {{name: cos-cases}}
spec:
  trust:
{trust}
  rules:
    - name: testimage
      match: {{images: ["127.0.0.1:*/**"]}}
      signatures: {signatures}
"""
    return write_policy(directory, body)


def _check(
    capsys: pytest.CaptureFixture[str], registry: RunningRegistry, image: str, policy: Path
) -> GateRun:
    return run_gate(
        capsys, "check", f"{registry.host}/{image}", "--policy", str(policy), "--format", "json"
    )


@pytest.mark.parametrize(
    ("case", "image", "signatures", "expected"),
    [
        ("COS-01", "multi-cosigned-alice", "{anyOf: [alice]}", 0),
        ("COS-02", "multi-cosigned-alice", "{anyOf: [bob]}", 1),
        (
            "COS-03",
            "multi-cosigned-alice-bob-charlie",
            "{threshold: {count: 2, of: [alice, bob]}}",
            0,
        ),
        # Three trusted keys, two of them signed: charlie's valid signature is not trusted.
        (
            "COS-04",
            "multi-cosigned-alice-bob-charlie",
            "{threshold: {count: 3, of: [alice, bob, default]}}",
            1,
        ),
        ("COS-05", "multi-cosigned-alice", "{allOf: [alice, bob]}", 1),
        ("COS-10", "keyless", "{anyOf: [alice, bob, charlie, default]}", 1),
    ],
)
def test_cos_case_verdicts(  # noqa: PLR0917 - pytest passes parameters positionally
    seeded: RunningRegistry,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
    image: str,
    signatures: str,
    expected: int,
) -> None:
    run = _check(capsys, seeded, f"{REPOSITORY}:{image}", _policy(tmp_path, signatures))
    assert run.code == expected, f"{case}: {run.stdout}{run.stderr}"
    assert run.image["digest"] == IMAGES[image]


def test_cos03_counts_charlie_out(
    seeded: RunningRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "{threshold: {count: 2, of: [alice, bob]}}")
    run = _check(capsys, seeded, f"{REPOSITORY}:multi-cosigned-alice-bob-charlie", policy)
    signers = run.check("signatures")["reason"]
    assert "alice" in signers
    assert "bob" in signers


def test_cos04_threshold_above_the_trusted_keys_is_a_policy_error(
    seeded: RunningRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = _policy(tmp_path, "{threshold: {count: 3, of: [alice, bob]}}")
    run = _check(capsys, seeded, f"{REPOSITORY}:multi-cosigned-alice-bob-charlie", policy)
    assert run.code == 2
    assert "can never be met" in run.stderr


def test_cos07_transplanted_signature_is_denied(
    seeded: RunningRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = _check(capsys, seeded, "cos07/testimage:victim", _policy(tmp_path, "{anyOf: [alice]}"))
    assert run.code == 1
    assert run.image["digest"] == ALICE_BOB_CHARLIE
    assert "copied from another image" in run.check("signatures")["reason"]


def _keyless_policy(directory: Path, issuer: str, subject: str) -> Path:
    body = f"""\
apiVersion: gate/v1
kind: Policy
metadata: {{name: cos-keyless}}
spec:
  trust:
    signer:
      keyless: {{issuer: "{issuer}", subject: "{subject}"}}
  rules:
    - name: testimage
      match: {{images: ["127.0.0.1:*/**"]}}
      signatures: {{anyOf: [signer]}}
"""
    return write_policy(directory, body)


@pytest.mark.parametrize(
    ("case", "issuer", "subject", "expected"),
    [
        ("COS-08", "https://github.com/login/oauth", "philipp.belitz@securesystems.de", 0),
        ("COS-09", "https://accounts.google.com", "bob@gmail.com", 1),
    ],
)
def test_keyless_legacy_signature_through_gate_check(  # noqa: PLR0917 - pytest parameters
    seeded: RunningRegistry,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    case: str,
    issuer: str,
    subject: str,
    expected: int,
) -> None:
    policy = _keyless_policy(tmp_path, issuer, subject)
    run = _check(capsys, seeded, f"{REPOSITORY}:keyless", policy)
    assert run.code == expected, f"{case}: {run.stdout}{run.stderr}"
    assert run.image["digest"] == KEYLESS
