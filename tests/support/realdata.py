"""Where the real-world fixtures live: ``../shared/fixtures/real`` or ``$GATE_REAL_FIXTURES``.

Conformance tests call ``real_fixtures()``; when the directory is absent the
test is skipped with a message saying where it looked, never failed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_VAR = "GATE_REAL_FIXTURES"


def real_fixtures_path() -> Path:
    """The configured location, whether or not it exists."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override)
    return _REPO_ROOT.parent / "shared" / "fixtures" / "real"


def real_fixtures(*parts: str) -> Path:
    """``real_fixtures_path() / parts``, or skip the test when it is missing."""
    path = real_fixtures_path().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real fixtures not found at {path} (set {ENV_VAR} to their location)")
    return path
