"""Applying stored exceptions (``gate.policy.exceptions``) to the findings of one image.

Pure: the caller hands the compiled exceptions in through ``ImageEvidence``
and one instant. A finding that breaks the rule's limits and is covered by
an active exception in scope is taken out before the limits are counted and
listed with the exception that covered it; an expired (not revoked)
exception that would have covered one is listed as expired and covers
nothing. Revoked exceptions are never applied nor reported.

Scope: every image glob and namespace glob given must allow the image (a
glob list is "any of"; an exception with namespace globs never applies
where there is no namespace, as in ``gate check``). Package: a finding
matches a purl by its own purl only (a finding without a parseable purl is
not covered by a purl exception: an exception must not apply by guess).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from gate.policy.evidence import ImageEvidence
from gate.policy.exceptions import CompiledException
from gate.policy.verdict import ImageVerdict
from gate.purl import PackageUrl, PurlError
from gate.scanners.finding import Finding, FixState, ScanReport

__all__ = [
    "StoredExceptionOutcome",
    "apply_stored_exceptions",
    "expired_exception_ids",
    "in_scope",
]

#: The check whose details carry the exceptions (``vulnerability_check.VULNERABILITIES_CHECK``).
_CHECK = "vulnerabilities"
_SHOWN = 3


@dataclass(frozen=True)
class StoredExceptionOutcome:
    """The findings left to judge, the findings taken out and by which exception, the expired."""

    reports: tuple[ScanReport, ...]
    used: tuple[tuple[Finding, CompiledException], ...] = ()
    expired: tuple[CompiledException, ...] = ()

    def extend_details(self, details: Mapping[str, Any]) -> MappingProxyType[str, Any]:
        """``details`` of the vulnerabilities check with these exceptions added.

        Excepted findings join ``excepted`` and expired exceptions
        ``expiredExceptions`` (the rows policy exceptions use, with the
        stored exception's id, owner and ticket); ``exceptionsUsed`` lists
        each stored exception that covered a finding once.
        """
        merged = dict(details)
        excepted = list(merged.get("excepted", ()))
        for finding, exception in self.used:
            record = exception.record
            excepted.append(
                {
                    "id": finding.id,
                    "package": finding.package_name,
                    "version": finding.package_version,
                    "exception": record.finding_id or record.purl,
                    "reason": record.reason,
                    "expires": record.expires.isoformat(),
                    "exceptionId": record.id,
                    "owner": record.owner,
                    "ticket": record.ticket,
                    "source": "stored",
                }
            )
        merged["excepted"] = excepted
        expired = list(merged.get("expiredExceptions", ()))
        for exception in self.expired:
            record = exception.record
            expired.append(
                {
                    "id": record.finding_id or record.purl,
                    "expires": record.expires.isoformat(),
                    "reason": record.reason,
                    "exceptionId": record.id,
                    "owner": record.owner,
                    "ticket": record.ticket,
                    "source": "stored",
                }
            )
        merged["expiredExceptions"] = expired
        used: dict[str, dict[str, Any]] = {}
        for _, exception in self.used:
            used.setdefault(exception.record.id, exception.summary)
        merged["exceptionsUsed"] = list(used.values())
        return MappingProxyType(merged)

    def tail(self) -> str:
        """The sentence the check's reason ends with; empty when nothing applied or expired."""
        text = ""
        if self.used:
            ids: dict[str, CompiledException] = {}
            for _, exception in self.used:
                ids.setdefault(exception.record.id, exception)
            shown = [
                f"{e.record.id} ({e.record.owner}, {e.record.ticket}, until "
                f"{e.record.expires.isoformat()})"
                for e in list(ids.values())[:_SHOWN]
            ]
            more = len(ids) - _SHOWN
            noun = "finding" if len(self.used) == 1 else "findings"
            text += f"; {len(self.used)} {noun} under stored exceptions: {', '.join(shown)}"
            text += f" and {more} more" if more > 0 else ""
        for exception in self.expired:
            record = exception.record
            text += (
                f"; stored exception {record.id} for {record.finding_id or record.purl} "
                f"({record.owner}, {record.ticket}) expired at {record.expires.isoformat()}, "
                "not applied"
            )
        return text


def in_scope(exception: CompiledException, evidence: ImageEvidence) -> bool:
    """Whether the exception's image and namespace globs allow this image."""
    if exception.images and not any(
        glob.matches_reference(evidence.reference, evidence.digest) for glob in exception.images
    ):
        return False
    if exception.namespaces:
        namespace = evidence.namespace
        if namespace is None or not any(g.matches(namespace) for g in exception.namespaces):
            return False
    return True


def apply_stored_exceptions(
    reports: tuple[ScanReport, ...],
    evidence: ImageEvidence,
    now: datetime,
    *,
    breaks: Callable[[Finding], bool],
) -> StoredExceptionOutcome:
    """``reports`` without the findings that ``breaks`` limits and an active exception covers.

    ``evidence.exceptions`` are the compiled exceptions (active and
    recently expired; revoked ones are ignored here too). Only findings
    for which ``breaks`` is true are looked at: an exception is "used" when
    it kept a finding from counting, not merely when it named one.
    """
    candidates = [e for e in evidence.exceptions if not e.record.revoked and in_scope(e, evidence)]
    if not candidates:
        return StoredExceptionOutcome(reports)
    purls: dict[str, PackageUrl | None] = {}
    used: list[tuple[Finding, CompiledException]] = []
    expired: dict[str, CompiledException] = {}
    taken: set[int] = set()
    for report in reports:
        for finding in report.findings:
            if finding.fix_state is FixState.NOT_AFFECTED:
                continue
            matching = [e for e in candidates if _covers(e, finding, purls)]
            if not matching or not breaks(finding):
                continue
            active = [e for e in matching if e.record.active(now)]
            if active:
                used.append((finding, active[0]))
                taken.add(id(finding))
            else:
                for exception in matching:
                    expired.setdefault(exception.record.id, exception)
    if taken:
        reports = tuple(
            replace(r, findings=tuple(f for f in r.findings if id(f) not in taken)) for r in reports
        )
    return StoredExceptionOutcome(reports, tuple(used), tuple(expired.values()))


def _covers(
    exception: CompiledException, finding: Finding, purls: dict[str, PackageUrl | None]
) -> bool:
    if exception.finding_id is not None and exception.finding_id not in finding.folded_ids:
        return False
    if exception.purl is not None:
        text = finding.purl
        if not text:
            return False
        if text not in purls:
            try:
                purls[text] = PackageUrl.parse(text)
            except PurlError:
                purls[text] = None
        parsed = purls[text]
        if parsed is None or not exception.purl.matches(parsed):
            return False
    return True


def expired_exception_ids(verdict: ImageVerdict) -> tuple[str, ...]:
    """The ids of the stored exceptions a verdict reports as expired (for the audit log)."""
    ids: list[str] = []
    for check in verdict.checks:
        if check.check != _CHECK:
            continue
        for row in check.details.get("expiredExceptions", ()) or ():
            if isinstance(row, Mapping) and row.get("source") == "stored":
                ident = row.get("exceptionId")
                if isinstance(ident, str) and ident not in ids:
                    ids.append(ident)
    return tuple(ids)
