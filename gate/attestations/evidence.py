"""What reading attestations produces: per trust authority, what verified and what did not.

Results are plain frozen data, like ``gate.signatures.evidence``: the policy
engine reads them without I/O, and the webhook can cache them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from gate.oci.digest import Digest
from gate.oci.source import ResolvedImage
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport
from gate.signatures.intoto import Statement
from gate.signatures.trust import TrustAuthority


@dataclass(frozen=True)
class Rejection:
    """One attestation that was found and does not count for an authority, and why.

    ``predicate_type`` is the verified statement's type when the signature
    verified, else the unsigned hint the registry listed (cosign's
    ``predicateType`` annotation), else None: it only says which checks the
    rejection is worth mentioning in, never what counts.
    """

    source: str
    reason: str
    predicate_type: str | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


@dataclass(frozen=True)
class VerifiedAttestation:
    """A statement whose DSSE signature verified for ``authority`` and whose subject is the image.

    ``sbom`` / ``scan`` hold what a CycloneDX or SPDX predicate, or a cosign
    vuln predicate, says, already normalised; ``scanner`` names the scanner
    of a vuln predicate (its ``scanner.uri``), so newer scans can supersede
    older scans by the same scanner.
    """

    source: str
    authority: str
    signer: str  # stable id of the key (``SHA256:...``) or keyless identity
    signer_label: str  # key file name or certificate identity
    digest: Digest  # the image (or platform) digest the statement names
    statement: Statement
    sbom: Sbom | None = None
    scan: ScanReport | None = None
    scanner: str | None = None

    @property
    def predicate_type(self) -> str:
        """The statement's predicate type URI."""
        return self.statement.predicate_type


@dataclass(frozen=True)
class AttestationResult:
    """The attestations of one image digest, checked against one trust authority.

    ``found`` counts the attestation objects discovered (in the ``.att`` tag
    and among the referrers), whatever became of them; ``attestations`` the
    ones that count; ``rejections`` one entry for each that does not.
    ``error`` is set when no decision was possible (registry unreachable,
    unusable trust root): a rule that needs attestations fails closed.
    ``notes`` carry facts that changed nothing (e.g. a predicate type the
    gate does not interpret).
    """

    authority: str
    attestations: tuple[VerifiedAttestation, ...] = ()
    rejections: tuple[Rejection, ...] = ()
    error: str | None = None
    notes: tuple[str, ...] = ()
    found: int = 0

    def of_types(self, predicate_types: Iterable[str]) -> tuple[VerifiedAttestation, ...]:
        """The verified attestations whose predicate type is one of ``predicate_types``."""
        wanted = frozenset(predicate_types)
        return tuple(a for a in self.attestations if a.predicate_type in wanted)

    def rejections_for(self, predicate_types: Iterable[str]) -> tuple[Rejection, ...]:
        """Rejections that may concern ``predicate_types`` (those of unknown type included)."""
        wanted = frozenset(predicate_types)
        return tuple(
            r for r in self.rejections if r.predicate_type is None or r.predicate_type in wanted
        )


def merge_results(results: Sequence[AttestationResult]) -> AttestationResult:
    """One result out of several for the same authority (the index and the platform digest)."""
    errors = [r.error for r in results if r.error]
    return AttestationResult(
        authority=results[0].authority,
        attestations=tuple(a for r in results for a in r.attestations),
        rejections=tuple(x for r in results for x in r.rejections),
        error="; ".join(errors) if errors else None,
        notes=tuple(x for r in results for x in r.notes),
        found=sum(r.found for r in results),
    )


class AttestationVerifier(Protocol):
    """Reads and verifies the attestations of an image digest for one trust authority."""

    def read(self, image: ResolvedImage, authority: TrustAuthority) -> AttestationResult:
        """What counts for ``authority`` on ``image.digest`` and what does not; never raises."""
        ...
