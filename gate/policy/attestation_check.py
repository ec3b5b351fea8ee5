"""Checks that read signed attestations: ``fromAttestation`` and the "attestations" check.

``sbom.fromAttestation`` / ``vulnerabilities.fromAttestation`` narrow the
evidence before the usual checks run: only SBOMs (scan reports) carried by
attestations signed by one of the named authorities count, and files given
or stored for the digest do not (the reason says so). The "sbom", "scan" and
"vulnerabilities" checks then run unchanged on what is left, and their
result is explained in attestation terms (which attestations counted, which
were rejected and why). Of several attested scans by the same scanner only
the newest (by its signed scan time) counts: a weekly re-scan supersedes
last week's instead of failing ``maxScanAge`` forever.

A rule's ``attestations`` list is its own check: each predicate type must
be present, verified by one of its ``signedBy`` authorities.

Fail closed: when the attestations of a named authority could not be read
(registry down, unusable trust root), a check that found nothing to deny is
an ERROR, never a pass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from types import MappingProxyType
from typing import Any

from gate.attestations.evidence import AttestationResult, Rejection, VerifiedAttestation
from gate.attestations.predicates import SBOM_PREDICATE_TYPES, SCAN_PREDICATE_TYPES, title
from gate.policy.evidence import ImageEvidence
from gate.policy.model import AttestationRequirement
from gate.policy.verdict import CheckResult, Outcome
from gate.signatures.trust import TrustAuthority

ATTESTATIONS_CHECK = "attestations"
_SHOWN = 3


@dataclass(frozen=True)
class Attested:
    """What the attestations of some authorities give one check."""

    names: tuple[str, ...]
    items: tuple[VerifiedAttestation, ...]
    rejections: tuple[Rejection, ...]
    errors: tuple[str, ...]
    found: int
    superseded: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def listed(self) -> str:
        """``release`` or ``release or ci``: the authorities as a reason names them."""
        return " or ".join(self.names)

    def details(self) -> dict[str, Any]:
        """Machine-readable facts for a check's details."""
        return {
            "fromAttestation": list(self.names),
            "attestations": [
                {
                    "source": a.source,
                    "predicateType": a.predicate_type,
                    "authority": a.authority,
                    "signer": a.signer_label,
                }
                for a in self.items
            ],
            "rejected": [str(r) for r in self.rejections],
            "errors": list(self.errors),
            "superseded": list(self.superseded),
            "notes": list(self.notes),
        }


def collect(
    evidence: ImageEvidence,
    authorities: Iterable[TrustAuthority],
    predicate_types: Iterable[str],
) -> Attested:
    """The verified attestations of ``predicate_types`` by ``authorities``, and the rest.

    An attestation that verified for two of the authorities counts once. An
    authority for which the caller read nothing is an error (fail closed).
    """
    types = frozenset(predicate_types)
    names: list[str] = []
    items: dict[str, VerifiedAttestation] = {}
    rejections: dict[str, Rejection] = {}
    errors: list[str] = []
    notes: dict[str, None] = {}
    found = 0
    for authority in authorities:
        names.append(authority.name)
        result: AttestationResult | None = evidence.attestations.get(authority.name)
        if result is None:
            errors.append(f"attestations for authority '{authority.name}' were not read")
            continue
        if result.error is not None:
            errors.append(f"{authority.name}: {result.error}")
        found = max(found, result.found)
        notes.update(dict.fromkeys(result.notes))
        for attestation in result.of_types(types):
            items.setdefault(attestation.source, attestation)
        for rejection in result.rejections_for(types):
            rejections.setdefault(str(rejection), rejection)
    # What verified for one authority is no rejection worth showing because another refused it.
    shown = tuple(r for r in rejections.values() if r.source not in items)
    return Attested(
        tuple(names), tuple(items.values()), shown, tuple(errors), found, notes=tuple(notes)
    )


def attested_sboms(
    authorities: tuple[TrustAuthority, ...], evidence: ImageEvidence
) -> tuple[ImageEvidence, Attested]:
    """``evidence`` with only the SBOMs of attestations by ``authorities``, and what was found."""
    attested = collect(evidence, authorities, SBOM_PREDICATE_TYPES)
    sboms = tuple(a.sbom for a in attested.items if a.sbom is not None)
    return replace(evidence, sboms=sboms), attested


def attested_scans(
    authorities: tuple[TrustAuthority, ...], evidence: ImageEvidence
) -> tuple[ImageEvidence, Attested]:
    """``evidence`` with only the attested scans by ``authorities`` (newest per scanner)."""
    attested = collect(evidence, authorities, SCAN_PREDICATE_TYPES)
    newest: dict[str, VerifiedAttestation] = {}
    kept: list[VerifiedAttestation] = []
    superseded: list[str] = []
    for attestation in attested.items:
        scan = attestation.scan
        if scan is None:
            continue
        if scan.created_at is None:
            kept.append(attestation)  # undated: cannot be ordered, and fails any age limit
            continue
        scanner = attestation.scanner or scan.format
        previous = newest.get(scanner)
        if previous is None:
            newest[scanner] = attestation
            continue
        older, newer = sorted((previous, attestation), key=_scan_time)
        newest[scanner] = newer
        superseded.append(f"{older.source} (superseded by the newer scan in {newer.source})")
    kept.extend(newest.values())
    kept_ids = {id(a) for a in kept}
    scans = tuple(a.scan for a in attested.items if id(a) in kept_ids and a.scan is not None)
    return replace(evidence, scans=scans), replace(attested, superseded=tuple(superseded))


def _scan_time(attestation: VerifiedAttestation) -> float:
    created = attestation.scan.created_at if attestation.scan is not None else None
    if created is None:
        return 0.0
    aware = created if created.tzinfo is not None else created.replace(tzinfo=UTC)
    return aware.timestamp()


def explain(
    result: CheckResult,
    attested: Attested,
    *,
    noun: str,
    ignored: int,
    digest: str,
) -> CheckResult:
    """``result`` of a check run on attested evidence only, told in attestation terms.

    ``noun`` is what was looked for ("SBOM", "scan"); ``ignored`` how many
    such documents were given or stored as files and left out.
    """
    details: dict[str, Any] = {**result.details, **attested.details()}
    note = ""
    if ignored:
        note = (
            f"; {ignored} {noun} {'document' if ignored == 1 else 'documents'} given or stored "
            f"{'was' if ignored == 1 else 'were'} not used: this rule counts only {noun}s from "
            f"attestations signed by {attested.listed}"
        )
    if result.outcome is Outcome.SKIP and result.reason.startswith("rule has no"):
        return result
    errors = "; ".join(attested.errors)
    # A FAIL on what was read stands; anything else might change with what could not be read.
    if attested.errors and (not attested.items or result.outcome is not Outcome.FAIL):
        reason = (
            f"could not read the attestations of {attested.listed}: {errors}; "
            f"{noun}s from them cannot be ruled out"
        )
        return CheckResult(result.check, Outcome.ERROR, reason + note, MappingProxyType(details))
    if not attested.items:
        reason = f"no {noun} attestation signed by {attested.listed} for {digest}"
        reason += _why_none(attested)
        if result.outcome is Outcome.SKIP:
            reason += f" ({result.reason.split('; ', 1)[-1]})" if "; " in result.reason else ""
        return CheckResult(result.check, result.outcome, reason + note, MappingProxyType(details))
    signers = sorted({f"{a.signer_label} ({a.authority})" for a in attested.items})
    count = len(attested.items)
    reason = (
        f"{result.reason} [from {count} {noun} "
        f"{'attestation' if count == 1 else 'attestations'} signed by {', '.join(signers)}]"
    )
    if attested.superseded:
        reason += f"; {len(attested.superseded)} older attested scan(s) superseded"
    if attested.errors:
        reason += f"; attestations of some authorities could not be read: {errors}"
    return CheckResult(result.check, result.outcome, reason + note, MappingProxyType(details))


def _why_none(attested: Attested) -> str:
    if attested.rejections:
        shown = "; ".join(str(r) for r in attested.rejections[:_SHOWN])
        more = len(attested.rejections) - _SHOWN
        return f": {shown}" + (f"; and {more} more rejected" if more > 0 else "")
    if attested.found:
        return f" ({attested.found} attestation(s) of other types found)"
    return " (no attestations found: neither a .att tag nor attestation referrers)"


def check_attestations(
    requirements: tuple[AttestationRequirement, ...] | None, evidence: ImageEvidence
) -> CheckResult:
    """Each required predicate type must be attested, signed by one of its authorities.

    FAIL when one is missing although every authority was read; ERROR when
    one is missing and an authority could not be read (it might be there);
    PASS otherwise.
    """
    if requirements is None:
        return CheckResult(ATTESTATIONS_CHECK, Outcome.SKIP, "rule has no attestations section")
    missing: list[str] = []
    undecided: list[str] = []
    present: list[str] = []
    rows: list[Mapping[str, Any]] = []
    for requirement in requirements:
        attested = collect(evidence, requirement.signed_by, [requirement.predicate_type])
        name = title(requirement.predicate_type)
        row: dict[str, Any] = {"predicateType": requirement.predicate_type, **attested.details()}
        if attested.items:
            first = attested.items[0]
            present.append(
                f"{name} signed by {first.signer_label} ({first.authority}) in {first.source}"
            )
            row["outcome"] = Outcome.PASS.value
        elif attested.errors:
            undecided.append(
                f"{name}: could not read the attestations of {attested.listed}: "
                + "; ".join(attested.errors)
            )
            row["outcome"] = Outcome.ERROR.value
        else:
            missing.append(
                f"no {name} attestation signed by {attested.listed}{_why_none(attested)}"
            )
            row["outcome"] = Outcome.FAIL.value
        rows.append(row)
    details = MappingProxyType({"required": rows})
    if missing:
        return CheckResult(
            ATTESTATIONS_CHECK, Outcome.FAIL, "; ".join(missing + undecided), details
        )
    if undecided:
        return CheckResult(ATTESTATIONS_CHECK, Outcome.ERROR, "; ".join(undecided), details)
    return CheckResult(ATTESTATIONS_CHECK, Outcome.PASS, "; ".join(present), details)
