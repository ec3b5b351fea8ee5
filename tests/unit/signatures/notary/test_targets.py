"""Choosing the target for a reference: Docker's lookup order, required roles, digests."""

from __future__ import annotations

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.signatures.notary.metadata import NotaryError
from gate.signatures.notary.repository import TrustedRepository, load_trusted_repository
from gate.signatures.notary.targets import TargetMatch, find_target
from tests.unit.signatures.notary import NOW, RepositorySimulator

A = b'{"manifest":"a"}'
B = b'{"manifest":"b"}'
DA, DB = Digest.of(A), Digest.of(B)


def _repository(targets: dict[str, bytes], **delegated: dict[str, bytes]) -> TrustedRepository:
    """A verified repository: ``targets`` at top level, ``releases={...}`` -> targets/releases."""
    repo = RepositorySimulator()
    for name, content in targets.items():
        repo.add_target(name, content)
    for role, role_targets in delegated.items():
        name = f"targets/{role}"
        repo.delegate(name)
        for tag, content in role_targets.items():
            repo.add_target(tag, content, role=name)
    repo.publish()
    return load_trusted_repository(repo.gun, repo, [repo.pin()], now=NOW)


@pytest.fixture(scope="module")
def plain() -> TrustedRepository:
    return _repository({"v1": A, "v2": B})


@pytest.fixture(scope="module")
def delegated() -> TrustedRepository:
    return _repository(
        {"v1": B, "only-top": A},
        releases={"v1": A, "v2": B},
        qa={"v1": A, "v2": A},
    )


def test_tag_in_top_level_targets(plain: TrustedRepository) -> None:
    match = find_target(plain, tag="v1", digest=None)
    assert match == TargetMatch(plain.roles["targets"]["v1"], ("targets",))
    assert match.target.digest == DA
    assert match.target.length == len(A)
    assert match.target.name == "v1"


def test_releases_first_then_targets(delegated: TrustedRepository) -> None:
    match = find_target(delegated, tag="v1", digest=None)
    assert match.roles == ("targets/releases",)
    assert match.target.digest == DA  # not targets' B: releases wins
    fallback = find_target(delegated, tag="only-top", digest=None)
    assert fallback.roles == ("targets",)


def test_other_delegations_only_when_required(delegated: TrustedRepository) -> None:
    with pytest.raises(
        NotaryError, match=r'no trust data for tag "v3" in targets/releases or targets$'
    ):
        find_target(delegated, tag="v3", digest=None)
    match = find_target(delegated, tag="v2", digest=None, required_roles=["targets/qa"])
    assert match.target.digest == DA
    assert match.roles == ("targets/qa",)


def test_missing_tag_names_the_roles_looked_at(plain: TrustedRepository) -> None:
    with pytest.raises(NotaryError, match=r'^notary .*: no trust data for tag "v9" in targets$'):
        find_target(plain, tag="v9", digest=None)


def test_every_required_role_must_hold_the_tag(delegated: TrustedRepository) -> None:
    both = ("targets/releases", "targets/qa")
    match = find_target(delegated, tag="v1", digest=None, required_roles=both)
    assert match.roles == both
    assert match.target.digest == DA
    with pytest.raises(NotaryError, match=r'no trust data for tag "only-top" in targets/releases'):
        find_target(delegated, tag="only-top", digest=None, required_roles=both)


def test_required_roles_must_agree(delegated: TrustedRepository) -> None:
    with pytest.raises(
        NotaryError,
        match=rf'required roles disagree on tag "v2": targets/releases says {DB} \(16 bytes\), '
        rf"targets/qa says {DA}",
    ):
        find_target(
            delegated, tag="v2", digest=None, required_roles=["targets/releases", "targets/qa"]
        )


def test_required_role_must_exist(plain: TrustedRepository) -> None:
    with pytest.raises(
        NotaryError,
        match=r"required role targets/releases is not in the repository's verified trust data "
        r"\(verified roles: targets\)",
    ):
        find_target(plain, tag="v1", digest=None, required_roles=["targets/releases"])


def test_required_roles_are_deduplicated(delegated: TrustedRepository) -> None:
    twice = ["targets/releases", "targets/releases"]
    assert find_target(delegated, tag="v1", digest=None, required_roles=twice).roles == (
        "targets/releases",
    )


def test_top_level_targets_can_be_required(delegated: TrustedRepository) -> None:
    match = find_target(delegated, tag="v1", digest=None, required_roles=["targets"])
    assert match.target.digest == DB


def test_tag_and_digest_must_agree(delegated: TrustedRepository) -> None:
    assert find_target(delegated, tag="v1", digest=DA).target.digest == DA
    with pytest.raises(
        NotaryError,
        match=rf'tag "v1" is signed for {DA} in targets/releases, not for the requested {DB}',
    ):
        find_target(delegated, tag="v1", digest=DB)


def test_digest_only(delegated: TrustedRepository, plain: TrustedRepository) -> None:
    match = find_target(delegated, tag=None, digest=DB)
    assert match.roles == ("targets/releases",)
    assert match.target.name == "v2"
    assert find_target(plain, tag=None, digest=DA).target.name == "v1"
    unknown = Digest.of(b"unsigned")
    with pytest.raises(NotaryError, match=rf"no trust data for digest {unknown} in targets"):
        find_target(plain, tag=None, digest=unknown)


def test_digest_only_with_required_roles(delegated: TrustedRepository) -> None:
    both = ("targets/releases", "targets/qa")
    match = find_target(delegated, tag=None, digest=DA, required_roles=both)
    assert match.roles == both
    with pytest.raises(NotaryError, match=rf"no trust data for digest {DB} in targets/qa"):
        find_target(delegated, tag=None, digest=DB, required_roles=both)


def test_digest_signed_under_several_tags_reports_the_first_name(
    delegated: TrustedRepository,
) -> None:
    match = find_target(delegated, tag=None, digest=DA, required_roles=["targets/qa"])
    assert match.target.name == "v1"


def test_a_tag_or_a_digest_is_needed(plain: TrustedRepository) -> None:
    with pytest.raises(InputError, match="a tag or a digest is needed"):
        find_target(plain, tag=None, digest=None)
