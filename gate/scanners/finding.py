"""The normalised vulnerability finding every scanner adapter produces."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from functools import cached_property
from types import MappingProxyType
from typing import Any

from gate.oci.digest import Digest


class Severity(enum.IntEnum):
    """One severity scale for every scanner: UNKNOWN < LOW < MEDIUM < HIGH < CRITICAL.

    Debian's "negligible" maps to LOW; Clair's "Defcon1" to CRITICAL.
    """

    UNKNOWN = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, word: str | None) -> Severity:
        """Map any scanner's severity word (any case) to the scale; unknown words -> UNKNOWN."""
        if not word:
            return cls.UNKNOWN
        return _SEVERITY_WORDS.get(word.strip().lower(), cls.UNKNOWN)

    @classmethod
    def from_cvss(cls, score: float | None) -> Severity:
        """The qualitative CVSS v3/v4 rating of a base score."""
        if score is None or score <= 0.0:
            return cls.UNKNOWN
        if score < 4.0:
            return cls.LOW
        if score < 7.0:
            return cls.MEDIUM
        if score < 9.0:
            return cls.HIGH
        return cls.CRITICAL


_SEVERITY_WORDS: Mapping[str, Severity] = {
    "unknown": Severity.UNKNOWN,
    "none": Severity.UNKNOWN,
    "negligible": Severity.LOW,
    "info": Severity.LOW,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "critical": Severity.CRITICAL,
    "defcon1": Severity.CRITICAL,
}


class FixState(enum.StrEnum):
    """Whether a fix exists for a finding, as the scanner reports it."""

    FIXED = "fixed"  # a fixed version is available
    NOT_FIXED = "not-fixed"  # affected, no fix yet
    WONT_FIX = "wont-fix"  # vendor will not fix (will_not_fix, end_of_life, fix_deferred)
    NOT_AFFECTED = "not-affected"  # scanner/VEX says the package is not affected
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CvssScore:
    """One CVSS rating from one source (nvd, redhat, ghsa, ...)."""

    source: str
    version: str  # "2.0", "3.x", "4.0"
    score: float | None
    vector: str | None = None


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one package at one place (target) of an artifact."""

    id: str
    package_name: str
    package_version: str
    severity: Severity
    aliases: tuple[str, ...] = ()
    package_type: str | None = None
    purl: str | None = None
    target: str | None = None
    cvss: tuple[CvssScore, ...] = ()
    fixed_versions: tuple[str, ...] = ()
    fix_state: FixState = FixState.UNKNOWN
    severity_source: str | None = None
    raw_severity: str | None = None
    title: str | None = None
    primary_url: str | None = None
    #: EPSS probability (0..1) when the report carries one (Grype ``epss``).
    epss: float | None = None
    #: Listed in CISA's Known Exploited Vulnerabilities catalog, per the report (Grype ``kev``).
    kev: bool = False
    #: When the fix became available (e.g. Grype ``fix.available[].date``), if the report says.
    fix_published: datetime | None = None
    #: When the vulnerability was published / first seen, if the report says.
    published: datetime | None = None

    @cached_property
    def ids(self) -> frozenset[str]:
        """The finding's id together with all of its aliases."""
        return frozenset((self.id, *self.aliases))

    @cached_property
    def folded_ids(self) -> frozenset[str]:
        """``ids`` case-folded, for matching against policy lists."""
        return frozenset(i.casefold() for i in self.ids)

    @cached_property
    def max_cvss(self) -> float | None:
        """The highest CVSS base score any source gives, or None."""
        scores = [c.score for c in self.cvss if c.score is not None]
        return max(scores) if scores else None

    @property
    def fixable(self) -> bool:
        """True when a fixed version is available."""
        return self.fix_state is FixState.FIXED

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity for de-duplication: target, package, version, vulnerability id."""
        return (self.target or "", self.purl or self.package_name, self.package_version, self.id)


#: The field names of ``Finding``.
FINDING_FIELDS = frozenset(f.name for f in fields(Finding))
#: Whether ``Finding`` is a plain frozen dataclass, whose instance state is just its ``__dict__``.
PLAIN_FINDING = "__slots__" not in Finding.__dict__ and not hasattr(Finding, "__post_init__")
_new_object = object.__new__
_set_attribute = object.__setattr__


def build_finding(values: dict[str, Any]) -> Finding:
    """A ``Finding`` from a dict naming exactly its fields, as ``Finding(**values)`` would be.

    Adapters build one finding per match of reports with thousands of them;
    ``__init__`` of a frozen dataclass costs one ``object.__setattr__`` per
    field, a fifth of an adapter's time. For a plain frozen dataclass, handing
    the instance the dict directly gives the same object (the adapter tests
    compare both); anything else takes the ordinary constructor.
    """
    if PLAIN_FINDING and values.keys() == FINDING_FIELDS:
        finding: Finding = _new_object(Finding)
        _set_attribute(finding, "__dict__", values)
        return finding
    return Finding(**values)


@dataclass(frozen=True)
class ScanReport:
    """The findings of one scanner report, with what the report says it scanned."""

    source: str  # file name or URL the report came from
    format: str  # "trivy", "grype", ...
    findings: tuple[Finding, ...]
    artifact_name: str | None = None
    artifact_digests: frozenset[Digest] = frozenset()
    created_at: datetime | None = None
    scanner: str | None = None
    scanner_version: str | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
