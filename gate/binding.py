"""Which scan reports and SBOMs given on the command line apply to which image.

A report that names manifest digests applies only to those digests: a scan of
another build never satisfies ``requireScan``. A report that names no digest
applies when it names the same repository and tag as the reference being
checked (a weaker binding, which the verdict states). A report that
names nothing at all (Trivy's legacy ``null``, an anonymous SBOM), or that
names a digest nobody can read, applies to no image: what it describes
cannot be told, so it must not stand in for a scan of this image.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.sbom.component import Sbom
from gate.sbom.cyclonedx import UNPARSED_SUBJECT_DIGESTS
from gate.scanners.finding import ScanReport
from gate.vex.model import VexDocument


@dataclass(frozen=True)
class Binding:
    """The reports that apply to one image, and a sentence for each decision taken."""

    scans: tuple[ScanReport, ...]
    sboms: tuple[Sbom, ...]
    notes: tuple[str, ...]
    #: VEX documents stored for the digest (their statements scope themselves).
    vex: tuple[VexDocument, ...] = ()


def _same_image(name: str | None, reference: ImageReference) -> bool:
    """True when ``name`` is the same repository and tag as the checked ``reference``.

    A report of ``app:1.0`` must not stand in for ``app:2.0``; a reference
    given by digest only binds by digest.
    """
    if not name or reference.tag is None:
        return False
    try:
        named = ImageReference.parse(name)
    except InputError:
        return False
    return named.name == reference.name and named.tag == reference.tag


def _applies(
    *,
    source: str,
    name: str | None,
    digests: frozenset[Digest],
    unreadable_digest: str | None,
    reference: ImageReference,
    image_digests: frozenset[Digest],
    notes: list[str],
) -> bool:
    if digests:
        if digests & image_digests:
            return True
        notes.append(f"{source}: describes {', '.join(sorted(map(str, digests)))}, not this image")
        return False
    if unreadable_digest:
        notes.append(f"{source}: names digest {unreadable_digest!r}, which is not valid; not bound")
        return False
    if _same_image(name, reference):
        notes.append(f"{source}: names no digest; bound by its image name {name}")
        return True
    if name:
        notes.append(f"{source}: names {name} and no digest; not bound to {reference}")
    else:
        notes.append(f"{source}: names no image and no digest; not bound to any image")
    return False


def bind(
    reference: ImageReference,
    image_digests: Iterable[Digest],
    scans: Iterable[ScanReport],
    sboms: Iterable[Sbom],
) -> Binding:
    """Select the scans and SBOMs that describe ``reference`` at one of ``image_digests``."""
    digests = frozenset(image_digests)
    notes: list[str] = []
    bound_scans = tuple(
        s
        for s in scans
        if _applies(
            source=s.source,
            name=s.artifact_name,
            digests=s.artifact_digests,
            # A report that names a digest nobody can read describes some other build.
            unreadable_digest=s.metadata.get(UNPARSED_SUBJECT_DIGESTS),
            reference=reference,
            image_digests=digests,
            notes=notes,
        )
    )
    bound_sboms = tuple(
        s
        for s in sboms
        if _applies(
            source=s.source,
            name=s.subject_name,
            digests=s.subject_digests,
            unreadable_digest=s.metadata.get(UNPARSED_SUBJECT_DIGESTS),
            reference=reference,
            image_digests=digests,
            notes=notes,
        )
    )
    return Binding(scans=bound_scans, sboms=bound_sboms, notes=tuple(notes))
