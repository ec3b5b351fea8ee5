"""The "signatures" check: do the verified signatures meet the rule's requirement?

Everything counts distinct trusted signers (key fingerprints), never
signature objects: three signatures by one key are one signer, and a valid
signature by a key of an authority the rule does not list never counts.
An authority whose verification failed to run (registry down) makes the
check ERROR - fail closed - unless the requirement is met without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from gate.policy.evidence import ImageEvidence
from gate.policy.model import Combinator, SignatureRequirement
from gate.policy.verdict import CheckResult, Outcome
from gate.signatures.evidence import VerifiedSignature

CHECK = "signatures"
_SHOWN_REJECTIONS = 3


@dataclass
class _AuthorityState:
    """What one listed authority contributes: its trusted signers, or why none."""

    name: str
    potential: int  # how many distinct signers it could add if its error went away
    signers: dict[str, VerifiedSignature] = field(default_factory=dict)
    rejections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


def check_signatures(
    requirement: SignatureRequirement | None, evidence: ImageEvidence
) -> CheckResult:
    """Evaluate ``requirement`` against ``evidence.signatures`` (keyed by authority name)."""
    if requirement is None:
        return CheckResult(CHECK, Outcome.SKIP, "rule has no signatures section")
    states = [
        _state(authority.name, len(authority.possible_signers), evidence)
        for authority in requirement.authorities
    ]
    if requirement.combinator is Combinator.ANY_OF:
        met, optimistic, reason = _any_of(states)
    elif requirement.combinator is Combinator.ALL_OF:
        met, optimistic, reason = _all_of(states)
    else:
        met, optimistic, reason = _threshold(states, requirement.count)
    if met:
        outcome = Outcome.PASS
        # What the verifiers want a reader to know, e.g. which digest Notary trust data vouched for.
        reason += "".join(f"; {note}" for state in states if state.signers for note in state.notes)
    elif optimistic:
        outcome = Outcome.ERROR
        errored = [s for s in states if s.error is not None]
        reason = (
            "could not verify "
            + "; ".join(f"{s.name}: {s.error}" for s in errored)
            + f"; the requirement is not met without {'it' if len(errored) == 1 else 'them'}"
        )
    else:
        outcome = Outcome.FAIL
        reason += _rejections_text(states)
    return CheckResult(CHECK, outcome, reason, _details(requirement, states))


def _state(name: str, key_count: int, evidence: ImageEvidence) -> _AuthorityState:
    state = _AuthorityState(name=name, potential=max(key_count, 1))
    result = evidence.signatures.get(name)
    if result is None:
        state.error = "not verified (no result for this authority was given to the policy engine)"
        return state
    state.rejections.extend(result.rejections)
    state.notes.extend(result.notes)
    if result.error is not None:
        state.error = result.error
        return state
    for signature in result.signatures:
        # Defence in depth: the verifier already checks both, but a signature
        # that covers another digest or belongs to another authority must
        # never count here.
        if signature.digest not in evidence.signable_digests:
            state.rejections.append(
                f"signature by {signature.signer} covers {signature.digest}, not {evidence.digest}"
            )
        elif signature.authority != name:
            state.rejections.append(
                f"signature by {signature.signer} was verified for authority "
                f"{signature.authority!r}, not {name!r}"
            )
        else:
            state.signers.setdefault(signature.signer, signature)
    return state


def _any_of(states: list[_AuthorityState]) -> tuple[bool, bool, str]:
    satisfied = [s for s in states if s.signers]
    if satisfied:
        return True, True, "signed by " + ", ".join(_describe_authority(s) for s in satisfied)
    optimistic = any(s.error is not None for s in states)
    names = [s.name for s in states]
    if len(names) == 1:
        return False, optimistic, f"no signature from {names[0]}"
    return False, optimistic, "no signature from any of " + ", ".join(names)


def _all_of(states: list[_AuthorityState]) -> tuple[bool, bool, str]:
    assignment = _distinct_assignment([set(s.signers) for s in states])
    if assignment is not None:
        parts = [_describe_signer(s.name, s.signers[assignment[i]]) for i, s in enumerate(states)]
        return True, True, "signed by " + " and ".join(parts)
    reachable = [s for s in states if s.error is None]
    # Authorities in error could each still bring a key of their own, so the
    # outcome is undecided when the reachable ones can be given distinct keys.
    optimistic = len(reachable) < len(states) and (
        _distinct_assignment([set(s.signers) for s in reachable]) is not None
    )
    missing = [s.name for s in reachable if not s.signers]
    if missing:
        return False, optimistic, "no signature from " + ", ".join(missing)
    shared = sorted({signer for s in reachable for signer in s.signers})
    names = " and ".join(s.name for s in reachable)
    return (
        False,
        optimistic,
        f"{names} were signed only by the same key(s) ({', '.join(shared)}); allOf needs a "
        "different key for each authority",
    )


def _threshold(states: list[_AuthorityState], count: int) -> tuple[bool, bool, str]:
    distinct: dict[str, tuple[str, VerifiedSignature]] = {}
    for state in states:
        for signer, signature in state.signers.items():
            distinct.setdefault(signer, (state.name, signature))
    if len(distinct) >= count:
        signers = ", ".join(_describe_signer(name, sig) for name, sig in distinct.values())
        return (
            True,
            True,
            f"{len(distinct)} distinct trusted signers (threshold {count}): {signers}",
        )
    potential = sum(s.potential for s in states if s.error is not None)
    optimistic = potential > 0 and len(distinct) + potential >= count
    if not distinct:
        names = ", ".join(s.name for s in states)
        return False, optimistic, f"no signature from {names}; threshold needs {count}"
    signers = ", ".join(_describe_signer(name, sig) for name, sig in distinct.values())
    noun = "signer" if len(distinct) == 1 else "signers"
    unsigned = [s.name for s in states if not s.signers]
    missing = f"; no signature from {', '.join(unsigned)}" if unsigned else ""
    return (
        False,
        optimistic,
        f"{len(distinct)} distinct trusted {noun} ({signers}), threshold needs {count}{missing}",
    )


def _distinct_assignment(candidates: list[set[str]]) -> dict[int, str] | None:
    """Give each authority a different signer of its own (bipartite matching), or None.

    Two authorities sharing one key cannot both be satisfied by one signature.
    Kuhn's augmenting paths; the sets are tiny (a few authorities and keys).
    """
    owner: dict[str, int] = {}

    def assign(index: int, visited: set[str]) -> bool:
        for signer in sorted(candidates[index]):
            if signer in visited:
                continue
            visited.add(signer)
            if signer not in owner or assign(owner[signer], visited):
                owner[signer] = index
                return True
        return False

    for index in range(len(candidates)):
        if not assign(index, set()):
            return None
    return {index: signer for signer, index in owner.items()}


def _key_text(signature: VerifiedSignature) -> str:
    if signature.kind == "cosign":
        return f"key {signature.signer_label} {signature.signer}"
    if signature.kind == "notaryV1":
        return signature.signer_label
    if signature.signer_label and signature.signer_label != signature.signer:
        return f"{signature.signer_label} {signature.signer}"
    return signature.signer


def _describe_signer(authority: str, signature: VerifiedSignature) -> str:
    return f"{authority} ({_key_text(signature)})"


def _describe_authority(state: _AuthorityState) -> str:
    keys = ", ".join(_key_text(signature) for signature in state.signers.values())
    return f"{state.name} ({keys})"


def _rejections_text(states: list[_AuthorityState]) -> str:
    rejections = [f"{s.name}: {r}" for s in states for r in s.rejections]
    if not rejections:
        return ""
    shown = rejections[:_SHOWN_REJECTIONS]
    more = len(rejections) - len(shown)
    return "; rejected: " + "; ".join(shown) + (f"; and {more} more" if more else "")


def _details(
    requirement: SignatureRequirement, states: list[_AuthorityState]
) -> MappingProxyType[str, Any]:
    authorities = {
        s.name: {
            "signers": sorted(s.signers),
            "signatures": [
                {"signer": sig.signer, "label": sig.signer_label, "kind": sig.kind}
                for sig in s.signers.values()
            ],
            "rejections": list(s.rejections),
            "notes": list(s.notes),
            "error": s.error,
        }
        for s in states
    }
    distinct = sorted({signer for s in states for signer in s.signers})
    return MappingProxyType(
        {
            "requirement": requirement.combinator.value,
            "count": requirement.count,
            "authorities": authorities,
            "distinctSigners": distinct,
        }
    )
