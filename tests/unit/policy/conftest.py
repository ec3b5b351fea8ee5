"""Fixtures for the policy tests: one set of trusted keys per test module."""

from __future__ import annotations

from pathlib import Path

import pytest

from gate.signatures.keys import PublicKey, load_public_key
from tests.unit.policy.support import write_keys


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``keys/{release,alice,bob,charlie}.pub``."""
    directory = tmp_path_factory.mktemp("policy")
    write_keys(directory)
    return directory


@pytest.fixture(scope="module")
def keys(key_dir: Path) -> dict[str, PublicKey]:
    """The public keys in ``key_dir``, by name."""
    return {
        path.stem: load_public_key(path.read_bytes(), label=f"keys/{path.name}")
        for path in sorted((key_dir / "keys").glob("*.pub"))
    }
