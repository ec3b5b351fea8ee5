"""Merging copies of one finding that a report lists more than once.

Every adapter ends with ``merge_duplicate_findings``: scanners list one
vulnerability in one package at one place several times (the same match under
two namespaces, one advisory through two repositories, a re-serialised
report), and counting each copy would inflate every limit and every count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import TypeVar

from gate.scanners.finding import Finding, FixState

#: Which fix state a merged finding keeps: a copy saying "affected" outweighs one
#: saying "not affected", and a known fix outweighs "no fix yet".
_FIX_STATE_RANK: Mapping[FixState, int] = MappingProxyType(
    {
        FixState.FIXED: 4,
        FixState.NOT_FIXED: 3,
        FixState.WONT_FIX: 2,
        FixState.UNKNOWN: 1,
        FixState.NOT_AFFECTED: 0,
    }
)

_T = TypeVar("_T")
_O = TypeVar("_O", float, datetime)


def merge_duplicate_findings(findings: Iterable[Finding]) -> tuple[tuple[Finding, ...], int]:
    """Merge findings with the same ``Finding.key`` (target, package, version, id).

    Scanners list one vulnerability in one package at one place more than
    once (the same match under two namespaces, a re-serialised report). The
    merged finding keeps the first copy's order and place, and the union of
    what the copies say, resolved towards the stricter reading: the highest
    severity and EPSS, KEV if any copy says so, every alias, rating and fixed
    version, the earliest fix date, and the fix state ranked fixed >
    not fixed > won't fix > unknown > not affected. Returns the findings and
    how many copies were merged away.
    """
    by_key: dict[tuple[str, str, str, str], int] = {}
    merged: list[Finding] = []
    dropped = 0
    for finding in findings:
        key = finding.key
        at = by_key.get(key)
        if at is None:
            by_key[key] = len(merged)
            merged.append(finding)
            continue
        merged[at] = merge_findings(merged[at], finding)
        dropped += 1
    return tuple(merged), dropped


def merge_findings(first: Finding, other: Finding) -> Finding:
    """One finding out of two copies with the same key, resolved towards the stricter reading."""
    if first == other:
        return first
    severity, severity_source, raw_severity = (
        first.severity,
        first.severity_source,
        first.raw_severity,
    )
    if other.severity > severity:
        severity, severity_source, raw_severity = (
            other.severity,
            other.severity_source,
            other.raw_severity,
        )
    fix_state = first.fix_state
    if _FIX_STATE_RANK[other.fix_state] > _FIX_STATE_RANK[fix_state]:
        fix_state = other.fix_state
    return replace(
        first,
        severity=severity,
        severity_source=severity_source,
        raw_severity=raw_severity,
        aliases=_union(first.aliases, (a for a in other.aliases if a != first.id)),
        cvss=_union(first.cvss, other.cvss),
        fixed_versions=_union(first.fixed_versions, other.fixed_versions),
        fix_state=fix_state,
        package_type=first.package_type or other.package_type,
        purl=first.purl or other.purl,
        title=first.title or other.title,
        primary_url=first.primary_url or other.primary_url,
        epss=_extreme(first.epss, other.epss, max),
        kev=first.kev or other.kev,
        fix_published=_extreme(first.fix_published, other.fix_published, min),
        published=_extreme(first.published, other.published, min),
    )


def _union(first: tuple[_T, ...], more: Iterable[_T]) -> tuple[_T, ...]:
    items = list(first)
    for item in more:
        if item not in items:
            items.append(item)
    return tuple(items)


def _extreme(a: _O | None, b: _O | None, pick: Callable[[_O, _O], _O]) -> _O | None:
    if a is None:
        return b
    if b is None:
        return a
    return pick(a, b)
