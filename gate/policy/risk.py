"""Risk-based limits on one finding: grace periods, known exploitation, exploit probability.

``graceDays`` holds back the severity and CVSS limits of a fixable finding
until its fix has been available for that many days, so a CVE fixed this
morning does not stop production before anyone could have patched. When the
report does not say when the fix appeared, the grace period is taken as
over (strict) and the verdict says so. ``kev: deny`` and ``minEpss`` deny a
finding whatever its severity; the exploit data comes from the report when
it carries it (Grype), else from the catalog and score files the policy names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gate.policy.model import VulnerabilityPolicy
from gate.scanners.finding import Finding, Severity

#: The limits that a grace period holds back (others, e.g. denyIds, KEV, never wait).
GRACED = frozenset({"severity", "cvss"})
#: ``Severity.name`` by severity: the enum property costs several times a dict lookup,
#: and a policy over many findings writes thousands of these notes.
_SEVERITY_NAMES = {severity: severity.name for severity in Severity}


@dataclass(frozen=True)
class GraceOutcome:
    """What the grace period did to a finding's limits."""

    limits: tuple[tuple[str, str], ...]
    in_grace: str | None = None  # why the finding waits, when it does
    assumed: str | None = None  # what was assumed for lack of a date, when anything was


def apply_grace(
    policy: VulnerabilityPolicy,
    finding: Finding,
    limits: tuple[tuple[str, str], ...],
    now: datetime,
) -> GraceOutcome:
    """Drop the severity/CVSS limits of ``finding`` while its fix is within the grace period."""
    if not policy.grace_days or not limits:
        return GraceOutcome(limits)
    days = policy.grace_days.get(finding.severity)
    if days is None or not finding.fixable or not any(kind in GRACED for kind, _ in limits):
        return GraceOutcome(limits)
    published = finding.fix_published
    if published is None:
        return GraceOutcome(limits, assumed=grace_assumed(finding, days))
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    waited = now - published
    if waited >= timedelta(days=days):
        return GraceOutcome(limits)
    kept = tuple((kind, text) for kind, text in limits if kind not in GRACED)
    return GraceOutcome(kept, in_grace=grace_waiting(finding, published, waited, days))


def grace_assumed(finding: Finding, days: int) -> str:
    """The note for a fixable finding whose report does not date its fix: the grace is over."""
    return (
        f"{finding.id}: the report does not say when its fix appeared; the "
        f"{days}-day grace period for {_SEVERITY_NAMES[finding.severity]} is taken as over "
        "(strict)"
    )


def grace_waiting(finding: Finding, published: datetime, waited: timedelta, days: int) -> str:
    """Why ``finding`` waits: its fix is ``waited`` old, short of the ``days``-day grace period.

    ``published`` is the fix date, time zone attached. The vulnerability check
    calls this (and ``grace_assumed``) from its own fast path too, so both
    paths say the same thing.
    """
    left = timedelta(days=days) - waited
    return (
        f"{finding.id} in {finding.package_name}@{finding.package_version}: fix available since "
        f"{published.date().isoformat()}, {left.days + (1 if left.seconds else 0)} of "
        f"{days} grace days left"
    )


def exploit_limits(policy: VulnerabilityPolicy, finding: Finding) -> tuple[tuple[str, str], ...]:
    """The KEV and EPSS limits ``finding`` breaks."""
    limits: list[tuple[str, str]] = []
    if policy.deny_kev:
        if finding.kev:
            limits.append(("kev", "known exploited (KEV, per the report)"))
        elif policy.kev_ids and not policy.kev_ids.isdisjoint(finding.folded_ids):
            limits.append(("kev", f"known exploited (KEV, in {policy.kev_source})"))
    if policy.min_epss is not None:
        score = finding.epss
        where = "report"
        if score is None and policy.epss_scores:
            scores = policy.epss_scores
            known = [scores[k] for k in finding.folded_ids if k in scores]
            score = max(known) if known else None
            where = str(policy.epss_source)
        if score is not None and score >= policy.min_epss:
            limits.append(("epss", f"EPSS {score:.3f} >= minEpss {policy.min_epss:g} ({where})"))
    return tuple(limits)
