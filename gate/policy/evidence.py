"""Everything the policy engine is given about one image, gathered beforehand.

The engine itself does no I/O: the caller resolves the digest, verifies the
signatures for the authorities the matched rule names, and loads the reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport
from gate.signatures.evidence import AuthorityResult


@dataclass(frozen=True)
class ImageEvidence:
    """Evidence for one image: its digest, signature results, scan reports and SBOMs.

    ``signatures`` is keyed by trust authority name. ``scans`` and ``sboms``
    are only those that apply to this digest. ``notes`` carry facts the
    report should show (e.g. "report does not name a digest").
    """

    reference: ImageReference
    digest: Digest
    namespace: str | None = None
    signatures: Mapping[str, AuthorityResult] = field(default_factory=lambda: MappingProxyType({}))
    scans: tuple[ScanReport, ...] = ()
    sboms: tuple[Sbom, ...] = ()
    notes: tuple[str, ...] = ()
