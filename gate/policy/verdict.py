"""Verdicts: the decision for each image, with the reason for every check.

Everything here is plain frozen data, so the CLI reports, the admission
response and the verdict store all render the same facts.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


class Decision(enum.StrEnum):
    """The outcome for an image or a whole run, ordered allow < warn < deny."""

    ALLOW = "allow"
    WARN = "warn"
    DENY = "deny"

    @property
    def rank(self) -> int:
        """Position in allow < warn < deny, for taking the worst of several."""
        return _RANK[self]

    @classmethod
    def worst(cls, decisions: list[Decision] | tuple[Decision, ...]) -> Decision:
        """The most severe of ``decisions`` (allow when empty)."""
        return max(decisions, key=lambda d: d.rank, default=cls.ALLOW)


_RANK = {Decision.ALLOW: 0, Decision.WARN: 1, Decision.DENY: 2}


class Outcome(enum.StrEnum):
    """What one check concluded."""

    PASS = "pass"  # requirement met
    FAIL = "fail"  # requirement not met: denies (or warns, by mode)
    WARN = "warn"  # met, but something deserves attention (e.g. an expired exception)
    SKIP = "skip"  # not applicable, with a reason (e.g. rule has no sbom section)
    ERROR = "error"  # could not be decided (backend down): fails closed


@dataclass(frozen=True)
class CheckResult:
    """One check of a rule (signatures, vulnerabilities, scan, sbom...) and why it ended so.

    ``details`` holds machine-readable facts for reports (finding ids,
    packages, signers); ``reason`` is the human sentence.
    """

    check: str
    outcome: Outcome
    reason: str
    details: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class ImageVerdict:
    """The decision for one image, the rule that decided it and every check."""

    reference: str
    digest: str | None
    decision: Decision
    rule: str | None
    reason: str
    checks: tuple[CheckResult, ...] = ()
    mode: str = "enforce"
    namespace: str | None = None
    #: Facts about the evidence the reader should see: which file or source bound to
    #: this digest and which did not (and why), where a report came from.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """The result of one ``gate check`` (or one admission request) over several images.

    ``errors`` lists, one line each, what could not be decided (an image that
    did not resolve, a check that errored). Such images are denied, but the
    run as a whole is *undecided* (exit 2 in the CLI), whatever the mode.
    """

    policy: str
    decision: Decision
    images: tuple[ImageVerdict, ...]
    evaluated_at: str  # RFC 3339, from the injected clock
    errors: tuple[str, ...] = ()

    @property
    def decided(self) -> bool:
        """False when anything could not be decided (fail closed)."""
        return not self.errors

    @classmethod
    def of(
        cls,
        policy: str,
        images: tuple[ImageVerdict, ...],
        evaluated_at: str,
        errors: tuple[str, ...] = (),
    ) -> Verdict:
        """Combine image verdicts: the run's decision is the worst image decision."""
        return cls(
            policy=policy,
            decision=Decision.worst(tuple(i.decision for i in images)),
            images=images,
            evaluated_at=evaluated_at,
            errors=errors,
        )
