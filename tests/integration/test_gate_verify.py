"""``gate verify``: cosign-like flags instead of a policy file, against a real docker-registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.gate_cli import isolate_environment, make_key_pair, run_gate
from tests.integration.registry_server import RunningRegistry
from tests.support.images import build_image, push_image

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_environment(monkeypatch, tmp_path / "home")


@pytest.fixture
def signed(
    registry: RunningRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[str, Path]:
    """An image signed with ``release.key``; the image and the keys directory."""
    keys = tmp_path / "keys"
    key, _ = make_key_pair(keys, "release")
    make_key_pair(keys, "other")
    push_image(registry, "verify/app", "1", build_image(content=b"gate verify"))
    image = f"{registry.host}/verify/app:1"
    assert run_gate(capsys, "sign", image, "--key", str(key)).code == 0
    return image, keys


def test_verify_with_the_signing_key_allows(
    signed: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image, keys = signed
    run = run_gate(capsys, "verify", image, "--key", str(keys / "release.pub"), "--format", "json")
    assert run.code == 0, run.stdout + run.stderr
    assert run.json()["policy"] == "gate-verify"
    assert run.check("signatures")["outcome"] == "pass"


def test_verify_with_another_key_denies(
    signed: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    image, keys = signed
    run = run_gate(capsys, "verify", image, "--key", str(keys / "other.pub"))
    assert run.code == 1, run.stdout + run.stderr


def test_verify_relative_key_paths_are_from_the_working_directory(
    signed: tuple[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    image, keys = signed
    monkeypatch.chdir(keys)
    run = run_gate(capsys, "verify", image, "--key", "release.pub")
    assert run.code == 0, run.stdout + run.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((), "say whom to trust"),
        (("--key", "missing.pub"), "--key #1: key file"),
        (("--certificate-identity", "a@example.com"), 'missing "issuer"'),
        (
            ("--certificate-identity-regexp", "(", "--certificate-oidc-issuer", "x"),
            "--certificate-identity-regexp: not a regular expression",
        ),
        (("--notation-identity", "*"), "go with --notation-cert"),
        (("--notary-server", "https://n.example"), "--notary-root: must not be empty"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(
    signed: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    flags: tuple[str, ...],
    message: str,
) -> None:
    image, _ = signed
    run = run_gate(capsys, "verify", image, *flags)
    assert run.code == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
