"""Bad input never crashes the CLI: exit 2 and one line naming file, field and reason."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.gate_cli import GateRun, run_gate_process, write_policy
from tests.integration.registry_server import StubResponse, StubServer
from tests.support.realdata import real_fixtures

pytestmark = pytest.mark.integration

GOOD_POLICY = """\
apiVersion: gate/v1
kind: Policy
metadata: {name: p}
spec:
  rules:
    - name: everything
      match: {images: ["**"]}
      action: allow
"""


def _assert_one_line_error(run: GateRun, *needles: str) -> None:
    assert run.code == 2, run
    assert "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert lines, run
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No credentials or auth files from the machine."""
    return {"DOCKER_CONFIG": str(tmp_path / "docker"), "HOME": str(tmp_path)}


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ("spec: [unclosed\n", ["policy.yaml:"]),
        (
            "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: p}\n"
            "spec:\n  mode: strict\n  rules: []\n",
            ["policy.yaml:5:", "mode", "enforce"],
        ),
        (
            GOOD_POLICY.replace("action: allow", "action: allow\n      denySeverty: HIGH"),
            ["policy.yaml:9:", "denySeverty"],
        ),
        (
            GOOD_POLICY.replace("      action: allow\n", "      signatures: {anyOf: [relase]}\n"),
            ["policy.yaml:8:", 'unknown trust authority "relase"'],
        ),
        ("", ["policy.yaml"]),
    ],
    ids=["malformed-yaml", "schema-violation", "unknown-field", "unknown-authority", "empty"],
)
def test_bad_policy(tmp_path: Path, env: dict[str, str], body: str, needles: list[str]) -> None:
    policy = write_policy(tmp_path, body)
    run = run_gate_process("check", "127.0.0.1:9/x:1", "--policy", str(policy), env=env)
    _assert_one_line_error(run, *needles)
    validate = run_gate_process("policy", "validate", str(policy), env=env)
    _assert_one_line_error(validate, *needles)


def test_policy_validate_accepts_the_bundled_example(env: dict[str, str]) -> None:
    example = Path(__file__).resolve().parents[2] / "policies" / "example.yaml"
    run = run_gate_process("policy", "validate", str(example), env=env)
    assert run.code == 0, run.stderr
    assert "valid" in run.stdout


def test_missing_policy_file(tmp_path: Path, env: dict[str, str]) -> None:
    run = run_gate_process("check", "x:1", "--policy", str(tmp_path / "nope.yaml"), env=env)
    _assert_one_line_error(run, "nope.yaml")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"this is not json", "scan.json"),
        (b"", "scan.json"),
        (b'{"SchemaVersion": 2, "Results": "oops"}', "Results"),
        (b'{"hello": "world"}', "scan.json"),
    ],
    ids=["not-json", "empty", "wrong-type", "unknown-format"],
)
def test_bad_scan_report(tmp_path: Path, env: dict[str, str], content: bytes, needle: str) -> None:
    policy = write_policy(tmp_path, GOOD_POLICY)
    report = tmp_path / "scan.json"
    report.write_bytes(content)
    run = run_gate_process(
        "check", "127.0.0.1:9/x:1", "--policy", str(policy), "--scan", str(report), env=env
    )
    _assert_one_line_error(run, needle)


def test_a_document_of_another_kind_is_refused_by_name(tmp_path: Path, env: dict[str, str]) -> None:
    policy = write_policy(tmp_path, GOOD_POLICY)
    vex = real_fixtures("vex", "openvex", "go-vex-v0.0.1-legacy.json")
    run = run_gate_process(
        "check", "127.0.0.1:9/x:1", "--policy", str(policy), "--scan", str(vex), env=env
    )
    _assert_one_line_error(run, "go-vex-v0.0.1-legacy.json", "OpenVEX")


def test_bad_sbom(tmp_path: Path, env: dict[str, str]) -> None:
    policy = write_policy(tmp_path, GOOD_POLICY)
    bom = tmp_path / "bom.json"
    bom.write_bytes(b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "components": 7}')
    run = run_gate_process(
        "check", "127.0.0.1:9/x:1", "--policy", str(policy), "--sbom", str(bom), env=env
    )
    _assert_one_line_error(run, "bom.json")


def test_bad_image_reference(tmp_path: Path, env: dict[str, str]) -> None:
    policy = write_policy(tmp_path, GOOD_POLICY)
    run = run_gate_process("check", "Not A Reference", "--policy", str(policy), env=env)
    _assert_one_line_error(run, "invalid image reference")


def test_bad_arguments(env: dict[str, str]) -> None:
    _assert_one_line_error(run_gate_process("check", env=env), "gate: error")
    _assert_one_line_error(
        run_gate_process("check", "x", "--policy", "p", "--format", "html", env=env), "format"
    )


@pytest.fixture
def broken_registry() -> Iterator[StubServer]:
    """A 'registry' that answers 500 to manifests and garbage to everything else."""

    def handler(method: str, path: str, headers: dict[str, str]) -> StubResponse:
        if path == "/v2/":
            return StubResponse(200, {"Content-Type": "application/json"}, b"{}")
        if path.startswith("/v2/broken/"):
            return StubResponse(500, {"Content-Type": "text/plain"}, b"internal error")
        return StubResponse(
            200,
            {"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
            b"\x00\x01 definitely not a manifest",
        )

    server = StubServer(handler)
    yield server
    server.stop()


@pytest.mark.parametrize(
    ("repository", "needle"), [("broken", "500"), ("garbage", "")], ids=["500", "garbage"]
)
def test_registry_answering_nonsense_fails_closed(
    tmp_path: Path, env: dict[str, str], broken_registry: StubServer, repository: str, needle: str
) -> None:
    policy = write_policy(tmp_path, GOOD_POLICY)
    image = f"{broken_registry.host}/{repository}/app:1.0"
    run = run_gate_process("check", image, "--policy", str(policy), "--format", "json", env=env)
    _assert_one_line_error(run, broken_registry.host, needle)
    assert '"decision": "deny"' in run.stdout
