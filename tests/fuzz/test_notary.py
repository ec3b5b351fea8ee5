"""Notary v1 trust data (``gate.signatures.notary``): role files and canonical JSON.

The role-file parsers turn any bytes into metadata or a one-line
``NotaryError``. The whole trust chain (pinned root key -> root ->
timestamp -> snapshot -> targets -> delegations) is loaded from connaisseur's
real repositories with one role file mutated: it either fails with a
``GateError`` or vouches for the same digest, and then only because the
mutated file's signed part (what the signatures cover) is unchanged.
Canonical JSON round-trips any value it can encode and refuses the rest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.oci.digest import Digest
from gate.signatures.notary.canonical import CanonicalJSONError, encode_canonical
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
from tests.fuzz.support import (
    Seed,
    examples,
    gate_outcome,
    json_values,
    mutated_bytes,
    mutated_json,
    real_corpus,
    serialised,
)
from tests.support.realdata import real_fixtures

A1 = Digest.parse("sha256:a154797b8300165956ee1f16d98f3a1426301c1168f0462c73ce9bc03361cabf")
NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: (repository directory, roles the lookup requires): both vouch for A1 under tag "sign".
REPOSITORIES = (
    ("never-expire-image", ()),
    ("never-expire-with-delegations-image", ("targets/del1",)),
)
ROLES = ("root", "timestamp", "snapshot", "targets", "targets/del1")


class MemorySource:
    """A ``MetadataSource`` over role files in memory (``role`` -> bytes)."""

    def __init__(self, files: Mapping[str, bytes]) -> None:
        self.files = dict(files)

    def __repr__(self) -> str:
        return f"MemorySource({sorted(self.files)})"

    def fetch(self, role: str, max_length: int, *, version: int | None = None) -> bytes:
        """The file of ``role``; versioned roots are not published here (404)."""
        name = role_file(role, version)
        data = self.files.get(role) if version is None else None
        if data is None:
            raise NotaryMissingError(f"{name}: not found (404)")
        if len(data) > max_length:
            raise NotaryError(f"{name}: larger than {max_length} bytes")
        return data


def _parse(role: str, data: bytes) -> Any:
    if role == "root":
        return parse_root(data)
    if role == "timestamp":
        return parse_timestamp(data)
    if role == "snapshot":
        return parse_snapshot(data)
    return parse_targets(data, role=role)


def _role_of(path: Path) -> str:
    """The role a real file holds, from its name (``targets/releases.json`` is a delegation)."""
    if path.parent.name == "targets":
        return f"targets/{path.stem}"
    stem = path.stem
    for role in ("root", "timestamp", "snapshot", "targets"):
        if stem.endswith(role):
            return role
    return "targets"


@pytest.fixture(scope="module")
def role_files() -> tuple[Seed, ...]:
    """Every real Notary role file (connaisseur's and Notary's own)."""
    return real_corpus("signatures", "notaryv1")


@settings(max_examples=examples(0.75))
@given(data=st.data())
def test_mutated_role_files_parse_or_fail_with_one_line(
    role_files: tuple[Seed, ...], data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from(role_files))
    role = data.draw(st.sampled_from((_role_of(seed.path), *ROLES)))
    if data.draw(st.booleans()):
        blob = data.draw(mutated_bytes(seed.data))
    else:
        blob = data.draw(serialised(data.draw(mutated_json(seed.document))))
    result = gate_outcome(lambda: _parse(role, blob))
    if isinstance(result, GateError):
        assert isinstance(result, NotaryError), f"{type(result).__name__}: {result}"


@settings(max_examples=examples(0.25))
@given(
    signed=st.dictionaries(
        st.sampled_from(
            ("_type", "version", "expires", "keys", "roles", "meta", "targets", "delegations")
        ),
        json_values,
        max_size=6,
    ),
    signatures=json_values,
    role=st.sampled_from(ROLES),
    kind=st.sampled_from(("Root", "Timestamp", "Snapshot", "Targets")),
)
def test_generated_role_files_fail_with_one_line(
    signed: dict[str, Any], signatures: Any, role: str, kind: str
) -> None:
    document = {"signed": {"_type": kind, **signed}, "signatures": signatures}
    result = gate_outcome(lambda: _parse(role, json.dumps(document).encode()))
    if isinstance(result, GateError):
        assert isinstance(result, NotaryError)


# -- the whole chain --------------------------------------------------------------------------


class Repository:
    """A real repository's files, its pinned root key and the lookup that vouches for A1."""

    def __init__(self, directory: Path, pin: bytes, roles: tuple[str, ...]) -> None:
        self.name = directory.name
        self.files = {
            str(path.relative_to(directory).with_suffix("")): path.read_bytes()
            for path in sorted(directory.rglob("*.json"))
        }
        self.pinned = [load_pinned_root(pin, "trustroot_never_expire.pub")]
        self.roles = roles

    def __repr__(self) -> str:
        return f"Repository({self.name!r})"

    def lookup(self, files: Mapping[str, bytes]) -> Digest | GateError:
        """The digest tag ``sign`` has with ``files`` (connaisseur's settings), or the error."""

        def run() -> Digest:
            trusted = load_trusted_repository(
                f"docker.io/library/{self.name}",
                MemorySource(files),
                self.pinned,
                now=NOW,
                strict_lengths=False,
                check_root_cn=False,
            )
            match = find_target(trusted, tag="sign", digest=None, required_roles=self.roles)
            return match.target.digest

        return gate_outcome(run)


@pytest.fixture(scope="module")
def repositories() -> tuple[Repository, ...]:
    """connaisseur's never-expiring repositories (one with delegations)."""
    base = real_fixtures("signatures", "notaryv1", "connaisseur")
    pin = (base / "keys" / "trustroot_never_expire.pub").read_bytes()
    return tuple(Repository(base / name, pin, roles) for name, roles in REPOSITORIES)


def test_the_real_repositories_vouch_for_their_digest(
    repositories: tuple[Repository, ...],
) -> None:
    for repository in repositories:
        assert repository.lookup(repository.files) == A1


def _signed_part(data: bytes) -> bytes | None:
    """The canonical form of a role file's ``signed`` object (what its signatures cover)."""
    try:
        return encode_canonical(json.loads(data)["signed"])
    except (ValueError, KeyError, TypeError):
        return None


@settings(max_examples=examples(0.5))
@given(data=st.data())
def test_a_mutated_role_file_only_vouches_with_its_signed_part_unchanged(
    repositories: tuple[Repository, ...], data: st.DataObject
) -> None:
    repository = data.draw(st.sampled_from(repositories))
    role = data.draw(st.sampled_from(sorted(repository.files)))
    original = repository.files[role]
    if data.draw(st.booleans()):
        mutated = data.draw(mutated_bytes(original))
    else:
        mutated = data.draw(serialised(data.draw(mutated_json(json.loads(original)))))
    result = repository.lookup({**repository.files, role: mutated})
    if isinstance(result, GateError):
        return
    assert result == A1
    assert _signed_part(mutated) == _signed_part(original), role


# -- canonical JSON ---------------------------------------------------------------------------


@settings(max_examples=examples(0.5))
@given(value=json_values)
def test_canonical_json_round_trips_or_refuses(value: Any) -> None:
    try:
        encoded = encode_canonical(value)
    except CanonicalJSONError as error:
        reason = str(error)
        assert reason, "a CanonicalJSONError without a reason"
        assert "\n" not in reason, repr(reason)
        return
    # Notary writes control characters unescaped: not strict JSON, but unambiguous.
    decoded = json.loads(encoded, strict=False)
    assert decoded == value
    assert encode_canonical(decoded) == encoded
