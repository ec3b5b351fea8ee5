"""The loaded policy: frozen dataclasses, every glob compiled and every key parsed.

A ``Policy`` only exists once the YAML, the schema and the semantic pass all
agree, so evaluation never meets a half-valid rule. See ``docs/policy.md``
for the language these objects come from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path

from gate.evidence_sources.spec import EvidenceSourceSpec
from gate.oci.digest import Digest
from gate.policy.glob import ImageGlob, NamespaceGlob
from gate.policy.verdict import Decision
from gate.purl import PackageUrl
from gate.scanners.finding import Severity
from gate.signatures.trust import TrustAuthority
from gate.vex.model import VexDocument


class Mode(enum.StrEnum):
    """How a decision is applied: enforced, softened to a warning, or only recorded."""

    ENFORCE = "enforce"
    WARN = "warn"
    AUDIT = "audit"


class Combinator(enum.StrEnum):
    """How the trust authorities of a signature requirement combine."""

    ANY_OF = "anyOf"
    ALL_OF = "allOf"
    THRESHOLD = "threshold"


@dataclass(frozen=True)
class Match:
    """Which images a rule selects; an empty tuple means "not constrained by this"."""

    images: tuple[ImageGlob, ...] = ()
    namespaces: tuple[NamespaceGlob, ...] = ()


@dataclass(frozen=True)
class SignatureRequirement:
    """``anyOf`` / ``allOf`` / ``threshold`` over named trust authorities.

    ``count`` is the number of distinct signers needed for ``threshold``
    (for the other combinators it is derived: 1 for anyOf, all for allOf).
    """

    combinator: Combinator
    authorities: tuple[TrustAuthority, ...]
    count: int = 1

    @property
    def names(self) -> tuple[str, ...]:
        """The authority names, in policy order."""
        return tuple(a.name for a in self.authorities)


@dataclass(frozen=True)
class VulnerabilityException:
    """An accepted vulnerability: by id or alias, optionally for some images and until a day.

    ``expires`` is the last day (UTC) on which the exception applies.
    """

    id: str
    reason: str
    images: tuple[ImageGlob, ...] = ()
    expires: date | None = None


@dataclass(frozen=True)
class VulnerabilityPolicy:
    """The limits a rule puts on scan findings."""

    deny_severity: Severity | None = None
    fixable_only: bool = False
    max_cvss: float | None = None
    deny_ids: frozenset[str] = frozenset()  # case-folded
    exceptions: tuple[VulnerabilityException, ...] = ()
    #: With ``fixable_only``: findings without a fix still deny at this severity or above.
    unfixable_severity: Severity | None = None
    #: Days a fix must have been available before a fixable finding of that severity denies.
    grace_days: Mapping[Severity, int] = field(default_factory=dict)
    #: Deny findings known to be exploited (report flag or ``kev_ids``), whatever the severity.
    deny_kev: bool = False
    kev_ids: frozenset[str] = frozenset()  # case-folded CVE ids from the KEV catalog file
    kev_source: str | None = None
    #: Deny findings whose EPSS probability is at least this.
    min_epss: float | None = None
    epss_scores: Mapping[str, float] = field(default_factory=dict)  # case-folded CVE -> score
    epss_source: str | None = None

    @cached_property
    def flagged_ids(self) -> frozenset[str]:
        """Case-folded ids that break a limit by id alone: denyIds, KEV catalog, EPSS file."""
        flagged = set(self.deny_ids)
        if self.deny_kev:
            flagged |= self.kev_ids
        if self.min_epss is not None:
            flagged.update(k for k, v in self.epss_scores.items() if v >= self.min_epss)
        return frozenset(flagged)


@dataclass(frozen=True)
class ScanPolicy:
    """Whether a scan report must exist for the digest, and how old it may be."""

    require: bool = True
    max_age: timedelta | None = None
    max_age_text: str | None = None  # as written in the policy, for messages
    #: ``fromAttestation``: only scans attested by one of these authorities count.
    from_attestation: tuple[TrustAuthority, ...] = ()


@dataclass(frozen=True)
class SbomPolicy:
    """Whether an SBOM must exist, and which licenses and packages it must not contain."""

    require: bool = True
    denied_licenses: tuple[str, ...] = ()  # as written
    denied_packages: tuple[PackageUrl, ...] = ()
    #: ``fromAttestation``: only SBOMs attested by one of these authorities count.
    from_attestation: tuple[TrustAuthority, ...] = ()


@dataclass(frozen=True)
class AttestationRequirement:
    """One entry of a rule's ``attestations``: this predicate type, signed by one of these."""

    predicate_type: str
    signed_by: tuple[TrustAuthority, ...]


@dataclass(frozen=True)
class Rule:
    """One rule: a match, then either an ``action`` or checks.

    ``scan`` is present exactly when ``vulnerabilities`` is (the YAML keeps
    ``requireScan`` and ``maxScanAge`` in the vulnerabilities section; the
    verdict reports them as their own "scan" check).
    """

    name: str
    match: Match
    action: Decision | None = None
    mode: Mode | None = None
    signatures: SignatureRequirement | None = None
    vulnerabilities: VulnerabilityPolicy | None = None
    scan: ScanPolicy | None = None
    sbom: SbomPolicy | None = None
    #: Signed attestations the image must carry (the "attestations" check).
    attestations: tuple[AttestationRequirement, ...] | None = None
    #: ``onError``: the decision when this rule's checks could not be decided
    #: (registry, notary or store unreachable). Deny unless the policy says otherwise.
    on_error: Decision = Decision.DENY


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy file.

    ``source`` is the file it came from and ``digest`` the sha256 of its
    bytes, so a stored verdict can name exactly which policy decided it.
    """

    name: str
    mode: Mode
    default_action: Decision
    trust: Mapping[str, TrustAuthority]
    rules: tuple[Rule, ...]
    source: Path
    digest: Digest
    #: VEX documents listed in ``spec.vex``, read when the policy loads.
    vex: tuple[VexDocument, ...] = ()
    #: Servers asked for a scan report by digest when none was given or stored, in order.
    evidence_sources: tuple[EvidenceSourceSpec, ...] = ()
    #: ``spec.exceptions.maxDays``: the longest a stored exception may last (0: none allowed).
    exceptions_max_days: int = 90
