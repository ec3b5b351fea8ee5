"""Everything the policy engine is given about one image, gathered beforehand.

The engine itself does no I/O: the caller resolves the digest, verifies the
signatures for the authorities the matched rule names, and loads the reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gate.attestations.evidence import AttestationResult
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.policy.exceptions import CompiledException
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport
from gate.signatures.evidence import AuthorityResult
from gate.vex.model import VexDocument


@dataclass(frozen=True)
class ImageEvidence:
    """Evidence for one image: its digest, signature results, scan reports and SBOMs.

    ``digest`` is what the reference resolved to (an index digest for a
    multi-arch image); ``platform_digest`` the manifest picked from that index
    for ``--platform``, whose own signature also covers it.
    ``signatures`` is keyed by trust authority name. ``scans`` and ``sboms``
    are only those that apply to this digest. ``notes`` carry facts the
    report should show (e.g. "report does not name a digest").
    """

    reference: ImageReference
    digest: Digest
    namespace: str | None = None
    platform_digest: Digest | None = None
    signatures: Mapping[str, AuthorityResult] = field(default_factory=lambda: MappingProxyType({}))
    scans: tuple[ScanReport, ...] = ()
    sboms: tuple[Sbom, ...] = ()
    notes: tuple[str, ...] = ()
    #: VEX documents (from --vex, the policy's ``vex`` list, or stored evidence).
    vex: tuple[VexDocument, ...] = ()
    #: Attestations read per trust authority (only those the rule's checks name).
    attestations: Mapping[str, AttestationResult] = field(
        default_factory=lambda: MappingProxyType({})
    )
    #: Stored exceptions (``gate.policy.exceptions``): active and recently expired ones.
    exceptions: tuple[CompiledException, ...] = ()

    @property
    def signable_digests(self) -> frozenset[Digest]:
        """The digests a signature may cover to count for this image."""
        if self.platform_digest is None:
            return frozenset({self.digest})
        return frozenset({self.digest, self.platform_digest})
