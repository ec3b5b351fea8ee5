"""Running the ``gate`` CLI in tests: in-process ``main()`` or a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gate.cli import main
from gate.signatures.keyfile import generate_key_pair

PASSWORD = "test-password"


@dataclass(frozen=True)
class GateRun:
    """Exit code and output of one ``gate`` invocation."""

    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """The JSON report on stdout."""
        return json.loads(self.stdout)

    @property
    def image(self) -> Any:
        """The first image of the JSON report."""
        return self.json()["images"][0]

    def check(self, name: str) -> Any:
        """The check called ``name`` of the first image."""
        return next(c for c in self.image["checks"] if c["check"] == name)


def isolate_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """No auth file, certs.d or password from the machine leaks into a test."""
    home.mkdir(parents=True, exist_ok=True)
    for name in ("REGISTRY_AUTH_FILE", "DOCKER_CONFIG", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(home / "docker"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(home / "run"))
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)


def run_gate(capsys: pytest.CaptureFixture[str], *args: str) -> GateRun:
    """``gate ARGS`` in-process; output captured."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return GateRun(code, out, err)


def run_gate_process(*args: str, env: dict[str, str] | None = None) -> GateRun:
    """``gate ARGS`` as a real process (exit code and stderr exactly as a CI step sees them)."""
    completed = subprocess.run(
        [sys.executable, "-m", "gate.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return GateRun(completed.returncode, completed.stdout, completed.stderr)


def make_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """``name.key`` (encrypted with PASSWORD) and ``name.pub`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = generate_key_pair(PASSWORD.encode())
    key, pub = directory / f"{name}.key", directory / f"{name}.pub"
    key.write_bytes(private_pem)
    pub.write_bytes(public_pem)
    return key, pub


def write_policy(directory: Path, body: str, name: str = "policy.yaml") -> Path:
    """A policy file in ``directory`` (key paths in ``body`` are relative to it)."""
    path = directory / name
    path.write_text(body, encoding="utf-8")
    return path
