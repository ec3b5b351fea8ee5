"""Which scan reports and SBOMs given on the command line apply to which image.

A report that names manifest digests applies only to those digests: a scan of
another build never satisfies ``requireScan``. A report that names no digest
is bound by the command line: it applies when it names the same repository,
or when it names nothing and only one image is checked; the verdict says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport


@dataclass(frozen=True)
class Binding:
    """The reports that apply to one image, and a sentence for each decision taken."""

    scans: tuple[ScanReport, ...]
    sboms: tuple[Sbom, ...]
    notes: tuple[str, ...]


def _same_repository(name: str | None, reference: ImageReference) -> bool:
    if not name:
        return False
    try:
        named = ImageReference.parse(name)
    except InputError:
        return False
    return named.name == reference.name


def _applies(
    *,
    source: str,
    name: str | None,
    digests: frozenset[Digest],
    reference: ImageReference,
    image_digests: frozenset[Digest],
    single_image: bool,
    notes: list[str],
) -> bool:
    if digests:
        if digests & image_digests:
            return True
        notes.append(f"{source}: describes {', '.join(sorted(map(str, digests)))}, not this image")
        return False
    if _same_repository(name, reference):
        notes.append(f"{source}: names no digest; bound by repository name {name}")
        return True
    if single_image and not name:
        notes.append(f"{source}: names no image; bound to the only image checked")
        return True
    if single_image and name:
        notes.append(f"{source}: names {name} and no digest; not bound to {reference.name}")
    return False


def bind(
    reference: ImageReference,
    image_digests: Iterable[Digest],
    scans: Iterable[ScanReport],
    sboms: Iterable[Sbom],
    *,
    single_image: bool,
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
            reference=reference,
            image_digests=digests,
            single_image=single_image,
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
            reference=reference,
            image_digests=digests,
            single_image=single_image,
            notes=notes,
        )
    )
    return Binding(scans=bound_scans, sboms=bound_sboms, notes=tuple(notes))
