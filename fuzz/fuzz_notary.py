"""Fuzz Notary v1 trust data: role-file parsers and the whole chain, from connaisseur's repos.

An input is one byte choosing a repository and a role, and that role's file.
Properties: parsing gives metadata or a one-line ``NotaryError``; loading the
repository with the file replaced gives a ``GateError`` or the digest the
real data vouches for, and then only if the file's signed part is unchanged.
Run: ``python fuzz/fuzz_notary.py -max_total_time=120``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import atheris  # type: ignore[import-untyped]  # ships no type information
from harness import PropertyViolationError, outcome, real_fixtures, run

with atheris.instrument_imports(include=["gate"]):
    from gate.errors import GateError
    from gate.oci.digest import Digest
    from gate.signatures.notary.canonical import encode_canonical
    from gate.signatures.notary.metadata import (
        NotaryError,
        NotaryMissingError,
        parse_root,
        parse_snapshot,
        parse_targets,
        parse_timestamp,
        role_file,
    )
    from gate.signatures.notary.repository import load_pinned_root, load_trusted_repository
    from gate.signatures.notary.targets import find_target

A1 = Digest.parse("sha256:a154797b8300165956ee1f16d98f3a1426301c1168f0462c73ce9bc03361cabf")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BASE = real_fixtures() / "signatures" / "notaryv1" / "connaisseur"
if not BASE.exists():
    sys.exit(f"real fixtures not found at {BASE} (set GATE_REAL_FIXTURES)")
PINNED = [load_pinned_root((BASE / "keys" / "trustroot_never_expire.pub").read_bytes(), "pin")]
REPOSITORIES = {
    "never-expire-image": (),
    "never-expire-with-delegations-image": ("targets/del1",),
}


def _files(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory).with_suffix("")): p.read_bytes()
        for p in sorted(directory.rglob("*.json"))
    }


FILES = {name: _files(BASE / name) for name in REPOSITORIES}
SLOTS = [(name, role) for name in REPOSITORIES for role in sorted(FILES[name])]


class _Source:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        data = self.files.get(role) if version is None else None
        if data is None:
            raise NotaryMissingError(f"{role_file(role, version)}: not found (404)")
        if len(data) > max_length:
            raise NotaryError(f"{role}: larger than {max_length} bytes")
        return data


def _parse(role: str, data: bytes) -> object:
    if role == "root":
        return parse_root(data)
    if role == "timestamp":
        return parse_timestamp(data)
    if role == "snapshot":
        return parse_snapshot(data)
    return parse_targets(data, role=role)


def _signed_part(data: bytes) -> bytes | None:
    try:
        return encode_canonical(json.loads(data)["signed"])
    except (ValueError, KeyError, TypeError):
        return None


def test_one_input(data: bytes) -> None:
    """One input: a slot number (first byte: repository and role) and that role's file."""
    if not data:
        return
    name, role = SLOTS[data[0] % len(SLOTS)]
    content = data[1:]
    parsed = outcome(lambda: _parse(role, content))
    if isinstance(parsed, GateError) and not isinstance(parsed, NotaryError):
        raise PropertyViolationError(f"not a NotaryError: {parsed!r}")
    files = {**FILES[name], role: content}

    def lookup() -> Digest:
        trusted = load_trusted_repository(
            f"docker.io/library/{name}",
            _Source(files),
            PINNED,
            now=NOW,
            strict_lengths=False,
            check_root_cn=False,
        )
        match = find_target(trusted, tag="sign", digest=None, required_roles=REPOSITORIES[name])
        return match.target.digest

    result = outcome(lookup)
    if isinstance(result, GateError):
        return
    if result != A1:
        raise PropertyViolationError(f"vouches for {result}, the real data for {A1}")
    if _signed_part(content) != _signed_part(FILES[name][role]):
        raise PropertyViolationError(f"{role} verified with its signed part changed")


if __name__ == "__main__":
    run("notary", test_one_input, [bytes([i]) + FILES[n][r] for i, (n, r) in enumerate(SLOTS)])
