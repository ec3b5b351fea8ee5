"""CycloneDX documents with a ``vulnerabilities`` section (Trivy, grype) into findings.

One finding per vulnerability x ``affects[].ref``; the ref is resolved
through ``bom-ref`` to the component (package name, version, purl, type). A
ref that resolves to nothing (a dangling ref, or a BOM-Link into another
BOM) keeps the ref itself as the package name and is counted in
``metadata["dangling_refs"]``.

Severity: CycloneDX gives one rating per source and the labels disagree
(Trivy: redhat 8.6 "medium"). The rating chosen is the one from the
vulnerability's own data source (what Trivy's JSON calls ``SeveritySource``),
else NVD's, else the highest label; with no label at all the highest CVSS
score is rated. grype's EPSS/KEV ratings (``method: other``) are never read
as CVSS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote
from xml.etree.ElementTree import Element

from gate.sbom.component import Component
from gate.sbom.cyclonedx import CycloneDxDocument, cyclonedx_xml_to_json, read_cyclonedx
from gate.scanners._fields import (
    fail,
    join,
    opt_dict,
    opt_list,
    opt_number,
    opt_str,
    req_str,
    wrong_type,
)
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity

FORMAT = "cyclonedx"

#: Rating ``method`` -> CVSS version; OWASP, SSVC and ``other`` are not CVSS.
CVSS_METHODS: Mapping[str, str] = MappingProxyType(
    {"CVSSv2": "2.0", "CVSSv3": "3.x", "CVSSv31": "3.x", "CVSSv4": "4.0"}
)

#: ``analysis.state`` values by which the document's author says the finding is
#: not active (VEX embedded in the report). Like Trivy's suppressed findings
#: they are counted in ``metadata["suppressed"]``, not returned.
SUPPRESSING_STATES = frozenset(
    {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}
)

_RECOMMENDATION_PREFIX = "Upgrade "
_RECOMMENDATION_MIDDLE = " to version "


def has_vulnerabilities(document: object) -> bool:
    """Whether a parsed CycloneDX document (JSON value or XML root) carries a vulnerabilities list.

    Without one it is an SBOM only; with one it is also a scanner report (or VEX).
    """
    if isinstance(document, dict):
        return "vulnerabilities" in document
    if isinstance(document, Element):
        return any(
            isinstance(child.tag, str) and child.tag.rpartition("}")[2] == "vulnerabilities"
            for child in document
        )
    return False


def parse_cyclonedx_vulnerabilities(document: object, source: str) -> ScanReport:
    """Turn a parsed CycloneDX JSON document with ``vulnerabilities`` into a ``ScanReport``.

    A document without a ``vulnerabilities`` key is an SBOM, not a scan
    result: reading it as "no findings" would pass silently, so it is an error.
    """
    return _VulnerabilityReader(read_cyclonedx(document, source), source).report(document, "json")


def parse_cyclonedx_xml_vulnerabilities(root: Element, source: str) -> ScanReport:
    """Turn the root element of a CycloneDX XML document into a ``ScanReport``."""
    document = cyclonedx_xml_to_json(root)
    return _VulnerabilityReader(read_cyclonedx(document, source), source).report(document, "xml")


class _VulnerabilityReader:
    """Reads ``vulnerabilities[]`` of one checked document into findings and counts."""

    def __init__(self, doc: CycloneDxDocument, source: str) -> None:
        self.doc = doc
        self.source = source
        self.findings: list[Finding] = []
        self.suppressed = 0
        self.dangling = 0
        self.unknown_words: set[str] = set()

    def report(self, document: object, encoding: str) -> ScanReport:
        """Read every vulnerability of ``document`` and assemble the report."""
        source, doc = self.source, self.doc
        if type(document) is not dict:
            wrong_type(source, "", "a CycloneDX object", document)
        if "vulnerabilities" not in document:
            fail(
                source,
                "vulnerabilities",
                "this CycloneDX document has no vulnerabilities section: it is an SBOM, "
                "not a scanner report",
            )
        for index, vuln in enumerate(opt_list(document, "vulnerabilities", source, "")):
            path = f"vulnerabilities[{index}]"
            if type(vuln) is not dict:
                wrong_type(source, path, "an object", vuln)
            self._vulnerability(vuln, path)

        metadata = {"encoding": encoding, "spec_version": doc.spec_version, **doc.metadata}
        metadata["suppressed"] = str(self.suppressed)
        if self.dangling:
            metadata["dangling_refs"] = str(self.dangling)
        if self.unknown_words:
            metadata["unrecognised_severities"] = ",".join(sorted(self.unknown_words))
        return ScanReport(
            source=source,
            format=FORMAT,
            findings=tuple(self.findings),
            artifact_name=doc.subject.name if doc.subject else None,
            artifact_digests=doc.subject_digests,
            created_at=doc.created_at,
            scanner=doc.tool_name,
            scanner_version=doc.tool_version,
            metadata=MappingProxyType(metadata),
        )

    def _vulnerability(self, vuln: dict[str, Any], path: str) -> None:
        source, doc = self.source, self.doc
        vuln_id = req_str(vuln, "id", source, path)
        vuln_source = opt_dict(vuln, "source", source, path)
        source_name = opt_str(vuln_source, "name", source, join(path, "source"))

        aliases: list[str] = []
        for r_index, ref in enumerate(opt_list(vuln, "references", source, path)):
            rpath = f"{path}.references[{r_index}]"
            if type(ref) is not dict:
                wrong_type(source, rpath, "an object", ref)
            alias = req_str(ref, "id", source, rpath)
            if alias != vuln_id and alias not in aliases:
                aliases.append(alias)

        ratings = opt_list(vuln, "ratings", source, path)
        severity, severity_source, raw_severity, cvss = self._rate(ratings, source_name, path)
        fixed_versions = _recommended_versions(opt_str(vuln, "recommendation", source, path))
        template = Finding(
            id=vuln_id,
            package_name="",
            package_version="",
            severity=severity,
            aliases=tuple(aliases),
            cvss=cvss,
            fixed_versions=fixed_versions,
            fix_state=FixState.FIXED if fixed_versions else FixState.UNKNOWN,
            severity_source=severity_source,
            raw_severity=raw_severity,
            primary_url=_primary_url(vuln, vuln_source, source, path),
        )

        analysis = opt_dict(vuln, "analysis", source, path)
        state = opt_str(analysis, "state", source, join(path, "analysis"))
        affects = opt_list(vuln, "affects", source, path)
        if state in SUPPRESSING_STATES:
            self.suppressed += max(len(affects), 1)
            return
        if not affects:
            # No affects: the vulnerability is about the BOM's subject itself.
            if doc.subject is None:
                fail(
                    source,
                    join(path, "affects"),
                    "the vulnerability names no affected component and the document has "
                    "no metadata.component it could apply to",
                )
            self._emit(template, doc.subject, doc.subject.bom_ref or doc.subject.name, None)
            return
        for a_index, affect in enumerate(affects):
            apath = f"{path}.affects[{a_index}]"
            if type(affect) is not dict:
                wrong_type(source, apath, "an object", affect)
            ref = req_str(affect, "ref", source, apath)
            version = _affected_version(affect, source, apath)
            self._emit(template, _resolve(ref, doc), ref, version)

    def _emit(
        self, template: Finding, component: Component | None, ref: str, version: str | None
    ) -> None:
        if component is None:
            self.dangling += 1
            finding = replace(
                template,
                package_name=ref,
                package_version=version or "",
                purl=ref if ref.startswith("pkg:") else None,
            )
        else:
            finding = replace(
                template,
                package_name=component.name,
                package_version=component.version or version or "",
                purl=component.purl,
                package_type=self.doc.package_types.get(component.bom_ref or ""),
            )
        self.findings.append(finding)

    def _rate(
        self, ratings: list[Any], source_name: str | None, path: str
    ) -> tuple[Severity, str | None, str | None, tuple[CvssScore, ...]]:
        """(severity, its source, the raw label, CVSS scores) from ``ratings[]``."""
        source = self.source
        labelled: list[tuple[str | None, str, Severity]] = []
        cvss: list[CvssScore] = []
        for index, rating in enumerate(ratings):
            rpath = f"{path}.ratings[{index}]"
            if type(rating) is not dict:
                wrong_type(source, rpath, "an object", rating)
            rating_source = opt_str(
                opt_dict(rating, "source", source, rpath), "name", source, join(rpath, "source")
            )
            word = opt_str(rating, "severity", source, rpath)
            method = opt_str(rating, "method", source, rpath)
            score = opt_number(rating, "score", source, rpath)
            vector = opt_str(rating, "vector", source, rpath)
            if word:
                level = Severity.parse(word)
                if level is Severity.UNKNOWN and word.lower() not in ("unknown", "none"):
                    self.unknown_words.add(word)
                labelled.append((rating_source, word, level))
            version = CVSS_METHODS.get(method or "")
            if version is not None:
                if score is not None and not 0.0 <= score <= 10.0:
                    fail(source, join(rpath, "score"), f"CVSS score {score} is not within 0-10")
                cvss.append(CvssScore(rating_source or "", version, score, vector))

        chosen = _choose_label(labelled, source_name)
        if chosen is not None:
            return chosen[2], chosen[0], chosen[1], tuple(cvss)
        scored = [c for c in cvss if c.score is not None]
        if scored:
            best = max(scored, key=lambda c: c.score or 0.0)
            return Severity.from_cvss(best.score), best.source or None, None, tuple(cvss)
        return Severity.UNKNOWN, None, None, tuple(cvss)


def _resolve(ref: str, doc: CycloneDxDocument) -> Component | None:
    """The component a local ``bom-ref`` or a BOM-Link into this same document names."""
    component = doc.by_ref.get(ref)
    if component is not None or not ref.startswith("urn:cdx:"):
        return component
    # BOM-Link: urn:cdx:<serial-uuid>/<bom-version>#<percent-encoded bom-ref>
    target, _, fragment = ref[len("urn:cdx:") :].partition("#")
    serial = target.partition("/")[0]
    if fragment and doc.serial_number == f"urn:uuid:{serial}":
        return doc.by_ref.get(unquote(fragment))
    return None


def _affected_version(affect: dict[str, Any], source: str, apath: str) -> str | None:
    """The single exact affected version ``affects[].versions`` lists, if there is one."""
    exact = []
    for v_index, entry in enumerate(opt_list(affect, "versions", source, apath)):
        vpath = f"{apath}.versions[{v_index}]"
        if type(entry) is not dict:
            wrong_type(source, vpath, "an object", entry)
        version = opt_str(entry, "version", source, vpath)
        status = opt_str(entry, "status", source, vpath)
        if version and status in (None, "affected"):
            exact.append(version)
    return exact[0] if len(exact) == 1 else None


def _choose_label(
    labelled: list[tuple[str | None, str, Severity]], source_name: str | None
) -> tuple[str | None, str, Severity] | None:
    if not labelled:
        return None
    for preferred in (source_name, "nvd"):
        if preferred:
            for entry in labelled:
                if entry[0] is not None and entry[0].lower() == preferred.lower():
                    return entry
    return max(labelled, key=lambda entry: entry[2])


def _recommended_versions(recommendation: str | None) -> tuple[str, ...]:
    """Fixed versions from Trivy's prose ``"Upgrade <pkg> to version <v1>, <v2>"``.

    Anything not in exactly that form is left alone: guessing at free text
    could invent a fix that does not exist.
    """
    if not recommendation or not recommendation.startswith(_RECOMMENDATION_PREFIX):
        return ()
    _, middle, versions = recommendation.rpartition(_RECOMMENDATION_MIDDLE)
    if not middle:
        return ()
    return tuple(v for v in (p.strip() for p in versions.split(", ")) if v)


def _primary_url(
    vuln: dict[str, Any], vuln_source: dict[str, Any], source: str, path: str
) -> str | None:
    for index, advisory in enumerate(opt_list(vuln, "advisories", source, path)):
        apath = f"{path}.advisories[{index}]"
        if type(advisory) is not dict:
            wrong_type(source, apath, "an object", advisory)
        url = opt_str(advisory, "url", source, apath)
        if url:
            return url
    return opt_str(vuln_source, "url", source, join(path, "source"))
