"""Apply VEX statements to the findings of one image: which findings do they suppress, and why.

A statement applies to a finding when all of these hold:

1. its vulnerability id or one of its aliases equals the finding's id or one
   of its aliases (case-insensitive);
2. one of its products is this image (a digest equal to the image's, a
   ``pkg:oci`` purl with that digest, or without a digest but with the
   image's repository name and, if given, its ``repository_url`` and
   ``tag``; an image reference with the same name and tag) **and**, when the
   statement lists subcomponents, one of them is the finding's package; or,
   for a statement without subcomponents, one of its products *is* the
   finding's package (a package purl as the product, as Trivy and grype
   accept);
3. a package is compared by purl with the community rule of section 10 of
   scanner-formats.md: type, namespace and name equal; the VEX version, if
   any, equal; every VEX qualifier present with the same value in the
   finding's purl (extra qualifiers of the finding are ignored). A finding
   without a purl is compared by name and version.

A product that is a package but not the finding's package (Trivy's "any
ancestor in the dependency graph") is **not** taken as the image: findings
carry no dependency graph, so the gate cannot show that the product is in
the image at all. Unlike go-vex, a statement that lists subcomponents never
applies to packages it does not list: an image-level ``not_affected`` for one
package must not silence the same CVE in every other package.

Of the statements that apply, the newest (statement time, else document
time; undated ones are the oldest) decides; when the newest ones disagree,
the one that keeps the finding wins. Only ``not_affected`` and ``fixed``
suppress. When it cannot be decided whether a statement applies (a
``vers:`` range, a finding without a version against a versioned purl), the
statement may keep a finding but never suppress one: unknown fails closed.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import DEFAULT_REGISTRY, ImageReference, normalise_registry
from gate.purl import PackageUrl, PurlError
from gate.sbom.component import Sbom
from gate.scanners.finding import Finding
from gate.vex.model import ProductRef, VexDocument, VexStatement

_NO_REFS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Suppression:
    """A finding removed by a VEX statement, and the sentence that says why."""

    finding: Finding
    statement: VexStatement
    reason: str


@dataclass(frozen=True)
class VexAnnotation:
    """A finding kept, whose deciding statement says ``affected`` or ``under_investigation``."""

    finding: Finding
    statement: VexStatement
    reason: str


@dataclass(frozen=True)
class VexOutcome:
    """What the VEX documents did to the findings of one image.

    ``kept`` are the findings still active (in input order), ``suppressed``
    those a ``not_affected``/``fixed`` statement removed. ``annotations``
    name the statement that decided a kept finding, when one did. ``notes``
    say what could not take effect (statements without products, statements
    that could not be shown to apply), for the report.
    """

    kept: tuple[Finding, ...]
    suppressed: tuple[Suppression, ...]
    annotations: tuple[VexAnnotation, ...] = ()
    notes: tuple[str, ...] = ()


class _Match(enum.IntEnum):
    """Does a statement apply? Ordered so that ``max`` is "any" and ``min`` is "all"."""

    NO = 0
    UNSURE = 1
    YES = 2


def apply_vex(
    findings: Sequence[Finding],
    documents: Sequence[VexDocument],
    *,
    image_digest: Digest,
    image_reference: ImageReference | None,
    sbom_refs: Mapping[str, str] = _NO_REFS,
    platform_digest: Digest | None = None,
) -> VexOutcome:
    """Split ``findings`` of the image ``image_digest`` into kept and VEX-suppressed ones.

    ``image_reference`` is what the user asked for (its name and tag let a
    digest-less ``pkg:oci/<name>`` product match); ``platform_digest`` the
    manifest picked from an index, which a statement may name instead.
    ``sbom_refs`` maps CycloneDX ``bom-ref``s of the image's SBOMs (plain, or
    as BOM-Links ``urn:cdx:<serial>/<version>#<bom-ref>``) to purls, so that a
    CycloneDX VEX ``affects[].ref`` that is not a purl can be resolved.
    """
    digests = {image_digest} if platform_digest is None else {image_digest, platform_digest}
    matcher = _Matcher(frozenset(digests), image_reference, sbom_refs)
    index = _index(documents)
    notes = [f"{doc.source}: {note}" for doc in documents for note in doc.notes]
    unsure: dict[int, tuple[VexStatement, int]] = {}  # statement number -> (statement, count)
    kept: list[Finding] = []
    suppressed: list[Suppression] = []
    annotations: list[VexAnnotation] = []
    for finding in findings:
        applicable: list[VexStatement] = []
        for number, statement in _candidates(index, finding):
            match = matcher.statement(statement, finding)
            if match is _Match.YES or (match is _Match.UNSURE and not statement.status.suppresses):
                applicable.append(statement)
            elif match is _Match.UNSURE:
                seen = unsure.get(number)
                unsure[number] = (statement, 1 if seen is None else seen[1] + 1)
        winner = _newest(applicable)
        if winner is None:
            kept.append(finding)
        elif winner.status.suppresses:
            suppressed.append(Suppression(finding, winner, _reason(finding, winner)))
        else:
            kept.append(finding)
            annotations.append(VexAnnotation(finding, winner, _reason(finding, winner)))
    for _, (statement, count) in sorted(unsure.items()):
        noun = "finding" if count == 1 else "findings"
        notes.append(
            f"{statement.where}: {statement.status} for {statement.vulnerability} could not be "
            f"shown to apply to {count} {noun} (a version range, or a version the finding lacks),"
            " so it suppressed nothing there"
        )
    return VexOutcome(
        kept=tuple(kept),
        suppressed=tuple(suppressed),
        annotations=tuple(annotations),
        notes=tuple(notes),
    )


def sbom_ref_purls(sboms: Iterable[Sbom]) -> dict[str, str]:
    """``bom-ref -> purl`` for every component of ``sboms`` that has both, for ``apply_vex``.

    A bom-ref that names different purls in different SBOMs is left out:
    which one a VEX statement means cannot be told, and guessing could
    suppress the wrong package.
    """
    refs: dict[str, str] = {}
    conflicting: set[str] = set()
    for sbom in sboms:
        for component in sbom.components:
            if not component.bom_ref or not component.purl:
                continue
            known = refs.setdefault(component.bom_ref, component.purl)
            if known != component.purl:
                conflicting.add(component.bom_ref)
    for ref in conflicting:
        del refs[ref]
    return refs


def _index(documents: Sequence[VexDocument]) -> dict[str, list[tuple[int, VexStatement]]]:
    """Statements by casefolded vulnerability id and alias, numbered in document order."""
    index: dict[str, list[tuple[int, VexStatement]]] = {}
    number = 0
    for document in documents:
        for statement in document.statements:
            for vuln_id in statement.ids:
                index.setdefault(vuln_id, []).append((number, statement))
            number += 1
    return index


def _candidates(
    index: dict[str, list[tuple[int, VexStatement]]], finding: Finding
) -> list[tuple[int, VexStatement]]:
    """The statements about any of the finding's ids, each once, in document order."""
    found: dict[int, VexStatement] = {}
    for vuln_id in (finding.id, *finding.aliases):
        for number, statement in index.get(vuln_id.casefold(), ()):
            found[number] = statement
    return sorted(found.items())


def _newest(statements: list[VexStatement]) -> VexStatement | None:
    """The deciding statement: the newest; among equally new ones, one that keeps the finding."""
    if not statements:
        return None
    newest = max(_time_key(s.timestamp) for s in statements)
    tied = [s for s in statements if _time_key(s.timestamp) == newest]
    keeping = [s for s in tied if not s.status.suppresses]
    return (keeping or tied)[-1]


def _time_key(timestamp: datetime | None) -> tuple[int, float]:
    return (0, 0.0) if timestamp is None else (1, timestamp.timestamp())


class _Matcher:
    """Compares statements' products and subcomponents with one image and its findings."""

    def __init__(
        self,
        digests: frozenset[Digest],
        reference: ImageReference | None,
        sbom_refs: Mapping[str, str],
    ) -> None:
        self.digests = digests
        self.reference = reference
        self.sbom_refs = sbom_refs
        self._purls: dict[str, PackageUrl | None] = {}

    def statement(self, statement: VexStatement, finding: Finding) -> _Match:
        """Whether ``statement`` is about ``finding`` in this image (ids are already equal)."""
        best = _Match.NO
        for product in statement.products:
            image = self.image(product)
            if image is not _Match.NO and statement.subcomponents:
                image = min(
                    image,
                    max(self.package(sub, finding) for sub in statement.subcomponents),
                )
            best = max(best, image)
            if not statement.subcomponents and not product.names_image:
                best = max(best, self.package(product, finding))
            if best is _Match.YES:
                break
        return best

    def image(self, product: ProductRef) -> _Match:
        """Whether ``product`` names this image."""
        purls = self.purls(product)
        digests = set(product.digests)
        for purl in purls:
            if purl.type == "oci" and purl.version:
                digest = _digest(purl.version)
                if digest is None:
                    return _Match.NO
                digests.add(digest)
        if digests:
            found = _Match.YES if digests & self.digests else _Match.NO
        else:
            found = _Match.NO
            for purl in purls:
                if purl.type == "oci" and self._oci_name_matches(purl):
                    found = _Match.YES
            if product.image is not None and self._image_matches(product.image):
                found = _Match.YES
        if found is _Match.YES and product.version_scoped:
            # Versions of an image product cannot be compared with the image.
            return _Match.UNSURE
        return found

    def package(self, ref: ProductRef, finding: Finding) -> _Match:
        """Whether ``ref`` (a subcomponent, or a product without subcomponents) is the package."""
        purls = [p for p in self.purls(ref) if p.type != "oci"]
        if not purls:
            # Not a purl: exact comparison with the finding's purl, as go-vex does.
            return _Match.YES if finding.purl is not None and ref.id == finding.purl else _Match.NO
        scanned = self.parse(finding.purl)
        best = _Match.NO
        for purl in purls:
            if scanned is not None:
                match = _Match.YES if purl.matches(scanned) else _Match.NO
            else:
                match = _by_name(purl, finding)
            best = max(best, match)
        if best is _Match.NO or not ref.version_scoped:
            return best
        versions = {finding.package_version}
        if scanned is not None and scanned.version:
            versions.add(scanned.version)
        if versions & set(ref.versions):
            return best
        return min(best, _Match.UNSURE) if ref.version_ranges else _Match.NO

    def purls(self, ref: ProductRef) -> list[PackageUrl]:
        """The ref's purls, plus the one the image's SBOM gives its CycloneDX bom-ref."""
        purls = list(ref.purls)
        if ref.bom_ref is not None:
            key = f"{ref.bom_link}#{ref.bom_ref}" if ref.bom_link else ref.bom_ref
            resolved = self.parse(self.sbom_refs.get(key))
            if resolved is not None and resolved not in purls:
                purls.append(resolved)
        return purls

    def parse(self, text: str | None) -> PackageUrl | None:
        """``text`` as a purl (cached: findings repeat the same purls); None if it is not one."""
        if text is None:
            return None
        if text not in self._purls:
            try:
                self._purls[text] = PackageUrl.parse(text)
            except PurlError:
                self._purls[text] = None
        return self._purls[text]

    def _oci_name_matches(self, purl: PackageUrl) -> bool:
        """A digest-less ``pkg:oci/<name>?repository_url=...&tag=...`` against the reference."""
        reference = self.reference
        if reference is None:
            return False
        repository = reference.repository
        if purl.name != repository.rpartition("/")[2]:
            return False
        qualifiers = dict(purl.qualifiers)
        url = qualifiers.get("repository_url")
        if url is not None and not _same_repository(url, reference):
            return False
        tag = qualifiers.get("tag")
        return tag is None or tag == reference.tag

    def _image_matches(self, image: ImageReference) -> bool:
        """An image reference without digest: same name, and same tag when it names one."""
        reference = self.reference
        if reference is None or image.name != reference.name:
            return False
        return image.tag is None or image.tag == reference.tag


def _same_repository(url: str, reference: ImageReference) -> bool:
    """``repository_url`` (``host/path``) names the reference's repository or its namespace.

    The purl spec puts the whole repository there (``docker.io/library/debian``);
    grype writes only the namespace (``index.docker.io/library``). Hosts are
    compared in their one normalised spelling (Docker Hub aliases fold).
    """
    text = url.strip()
    for scheme in ("https://", "http://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    host, _, path = text.partition("/")
    if normalise_registry(host) != reference.registry:
        return False
    path = path.strip("/")
    repository = reference.repository
    allowed = {repository, repository.rpartition("/")[0]}
    if reference.registry == DEFAULT_REGISTRY and repository.startswith("library/"):
        allowed.add(repository.removeprefix("library/"))
    allowed.discard("")
    return path in allowed


def _digest(text: str) -> Digest | None:
    try:
        return Digest.parse(text)
    except InputError:
        return None


def _by_name(purl: PackageUrl, finding: Finding) -> _Match:
    """A finding without a usable purl, compared by its package name and version."""
    version = finding.package_version or None
    if not purl.matches_name(finding.package_name, version):
        return _Match.NO
    if purl.version is not None and version is None:
        return _Match.UNSURE
    return _Match.YES


def _reason(finding: Finding, statement: VexStatement) -> str:
    """One sentence: which statement said what about this finding, and its justification."""
    status = str(statement.status)
    if statement.raw_status:
        status += f" ({statement.raw_status})"
    package = finding.package_name
    if finding.package_version:
        package += f" {finding.package_version}"
    text = f"VEX {statement.where} says {statement.vulnerability} is {status} in {package}"
    details = []
    if statement.justification:
        details.append(f"justification {statement.justification}")
    if statement.impact_statement:
        details.append(f"impact: {statement.impact_statement}")
    if statement.action_statement:
        details.append(f"action: {statement.action_statement}")
    if statement.status_notes and statement.status_notes not in (
        statement.impact_statement,
        statement.action_statement,
    ):
        details.append(f"notes: {statement.status_notes}")
    if details:
        text += " (" + "; ".join(details) + ")"
    if statement.timestamp is not None:
        text += f", as of {statement.timestamp.isoformat()}"
    return text
