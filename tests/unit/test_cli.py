"""The CLI's own duties: key generation, password handling, argument errors, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from gate.cli import EXIT_ALLOW, EXIT_UNDECIDED, main
from gate.signatures.keyfile import load_private_key
from gate.signatures.keys import load_public_key


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_keys_generate_writes_a_cosign_key_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "s3cret")
    prefix = tmp_path / "release"
    code, _, err = _run(capsys, "keys", "generate", "--output-prefix", str(prefix))
    assert code == EXIT_ALLOW
    key = Path(f"{prefix}.key")
    pub = Path(f"{prefix}.pub")
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    assert key.stat().st_mode & 0o077 == 0
    private = load_private_key(key.read_bytes(), b"s3cret", str(key))
    public = load_public_key(pub.read_bytes(), label="release.pub")
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert public.verify(private.sign(b"payload", ec.ECDSA(hashes.SHA256())), b"payload")
    assert "Private key written" in err

    again, _, err = _run(capsys, "keys", "generate", "--output-prefix", str(prefix))
    assert again == EXIT_UNDECIDED
    assert "already exists" in err
    forced, _, _ = _run(capsys, "keys", "generate", "--output-prefix", str(prefix), "--force")
    assert forced == EXIT_ALLOW


def test_keys_generate_without_password_or_terminal_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("COSIGN_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = _run(capsys, "keys", "generate", "--output-prefix", str(tmp_path / "k"))
    assert code == EXIT_UNDECIDED
    assert err.strip() == "gate: no password: set COSIGN_PASSWORD (stdin is not a terminal)"


def test_sign_with_wrong_password_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "right")
    _run(capsys, "keys", "generate", "--output-prefix", str(tmp_path / "k"))
    monkeypatch.setenv("COSIGN_PASSWORD", "wrong")
    code, _, err = _run(capsys, "sign", "127.0.0.1:9/app:1", "--key", str(tmp_path / "k.key"))
    assert code == EXIT_UNDECIDED
    assert len(err.strip().splitlines()) == 1
    assert "k.key" in err
    assert "password" in err.lower()


@pytest.mark.parametrize(
    "argv",
    [
        ["sign", "127.0.0.1:9/app:1", "--key", "/nonexistent.key"],
        ["sign", "127.0.0.1:9/app:1", "--key", "k", "--annotation", "novalue"],
        ["check", "x:1", "--policy", "/nonexistent.yaml"],
        ["check", "x:1", "--policy", "p.yaml", "--platform", "not/a/real/platform/x"],
        ["nonsense"],
        [],
    ],
)
def test_errors_are_one_line_with_exit_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", "x")
    try:
        code, _, err = _run(capsys, *argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
        err = capsys.readouterr().err
    assert code == EXIT_UNDECIDED
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_report_written_to_a_directory_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text(
        "apiVersion: gate/v1\nkind: Policy\nmetadata: {name: p}\nspec:\n"
        "  rules:\n    - name: all\n      match: {images: ['**']}\n      action: allow\n"
    )
    code, _, err = _run(
        capsys, "check", "127.0.0.1:9/x:1", "--policy", str(policy), "--output", str(tmp_path)
    )
    assert code == EXIT_UNDECIDED
    assert "cannot write the report" in err
    assert "Traceback" not in err
