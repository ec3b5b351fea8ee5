"""Every test ``docs/threat-model.md`` names exists, so the page cannot claim coverage it lost."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_REFERENCE = re.compile(r"`((?:tests|fuzz)/[\w/.-]*?)(?:::(\w+))?`")
_FOLLOW_ON = re.compile(r"`::(\w+)`")


def _references() -> list[tuple[str, str | None]]:
    text = (ROOT / "docs" / "threat-model.md").read_text(encoding="utf-8")
    found: list[tuple[str, str | None]] = []
    for line in text.splitlines():
        last_file: str | None = None
        for match in re.finditer(r"`[^`]+`", line):
            token = match.group(0)
            full = _REFERENCE.fullmatch(token)
            if full is not None:
                last_file = full.group(1)
                found.append((last_file, full.group(2)))
                continue
            follow = _FOLLOW_ON.fullmatch(token)
            if follow is not None and last_file is not None:
                found.append((last_file, follow.group(1)))
    return found


def test_every_named_test_exists() -> None:
    references = _references()
    assert len(references) > 30
    missing = []
    for path, name in references:
        target = ROOT / path
        if not target.exists():
            missing.append(path)
            continue
        if name is not None and f"def {name}(" not in target.read_text(encoding="utf-8"):
            missing.append(f"{path}::{name}")
    assert not missing, missing
