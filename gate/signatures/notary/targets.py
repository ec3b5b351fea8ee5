"""Which verified target an image reference resolves to, with Docker's lookup rules.

Docker (``docker pull`` with content trust) looks a tag up in
``targets/releases`` first and then in the top-level ``targets``. A policy may
instead require named roles (``targets/releases``, ``targets/del1`` +
``targets/del2``...): then every one of them must exist, hold the reference,
and all must agree on one digest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.signatures.notary.metadata import NotaryError
from gate.signatures.notary.repository import TrustedRepository, TrustedTarget

#: Docker's lookup order when no roles are required.
DEFAULT_ROLES = ("targets/releases", "targets")


@dataclass(frozen=True)
class TargetMatch:
    """The target a reference resolved to, and the roles that vouched for it (all agreeing)."""

    target: TrustedTarget  # the vouched-for digest and size
    roles: tuple[str, ...]  # the roles that vouched (all agreeing)


def _by_digest(targets: Mapping[str, TrustedTarget], digest: Digest) -> TrustedTarget | None:
    # Sorted, so that a digest signed under several tags always reports the same one.
    for name in sorted(targets):
        if targets[name].digest == digest:
            return targets[name]
    return None


def _lookup(
    targets: Mapping[str, TrustedTarget], tag: str | None, digest: Digest | None
) -> TrustedTarget | None:
    # With a tag the tag decides (its digest is compared afterwards); else the digest.
    if tag is not None:
        return targets.get(tag)
    if digest is not None:
        return _by_digest(targets, digest)
    return None


def find_target(
    repo: TrustedRepository,
    *,
    tag: str | None,
    digest: Digest | None,
    required_roles: Sequence[str] = (),
) -> TargetMatch:
    """Docker CLI semantics: with no required roles, the tag is looked up in
    `targets/releases` first, then top-level `targets`. With required roles (e.g.
    ["targets/releases"] or ["targets/del1","targets/del2"]), EVERY one must exist and
    contain the reference, and all must agree on one digest (NV1-07/08/09). tag+digest:
    both must agree (NV1-10/11). digest only: some target in the (required or default)
    roles has that digest (NV1-06). Raise NotaryError with a clear reason otherwise
    (e.g. 'no trust data for tag "v2" in targets/releases or targets')."""
    if tag is None and digest is None:
        raise InputError("a tag or a digest is needed to look up Notary trust data")
    prefix = f"notary {repo.gun}"
    wanted = f'tag "{tag}"' if tag is not None else f"digest {digest}"
    required = tuple(dict.fromkeys(required_roles))
    if required:
        missing = [role for role in required if role not in repo.roles]
        if missing:
            verified = ", ".join(sorted(repo.roles))
            raise NotaryError(
                f"{prefix}: required role {', '.join(missing)} is not in the repository's "
                f"verified trust data (verified roles: {verified})"
            )
        found: list[TrustedTarget] = []
        for role in required:
            target = _lookup(repo.roles[role], tag, digest)
            if target is None:
                raise NotaryError(f"{prefix}: no trust data for {wanted} in {role}")
            found.append(target)
        if tag is not None:
            claims = {(target.digest, target.length) for target in found}
            if len(claims) > 1:
                said = ", ".join(f"{t.role} says {t.digest} ({t.length} bytes)" for t in found)
                raise NotaryError(f'{prefix}: required roles disagree on tag "{tag}": {said}')
        match = TargetMatch(target=found[0], roles=required)
    else:
        roles = [role for role in DEFAULT_ROLES if role in repo.roles]
        for role in roles:
            target = _lookup(repo.roles[role], tag, digest)
            if target is not None:
                match = TargetMatch(target=target, roles=(role,))
                break
        else:
            where = " or ".join(roles)
            raise NotaryError(f"{prefix}: no trust data for {wanted} in {where}")
    if tag is not None and digest is not None and match.target.digest != digest:
        raise NotaryError(
            f'{prefix}: tag "{tag}" is signed for {match.target.digest} in '
            f"{', '.join(match.roles)}, not for the requested {digest}"
        )
    return match
