"""``gate evidence show FILE``: what the gate reads out of a report, SBOM or VEX document.

The same detection and adapters as ``gate check`` (nothing is interpreted
differently for display), with the libraries' schema validation switched on,
since this is where a person looks at one document.
"""

from __future__ import annotations

from typing import Any

from gate.errors import InputError
from gate.sbom.component import Sbom
from gate.sbom.load import SBOM_ADAPTERS
from gate.sbom.validation import schema_validation
from gate.scanners.cyclonedx_vulns import has_vulnerabilities
from gate.scanners.detect import Kind, detect_format
from gate.scanners.finding import Finding, ScanReport
from gate.scanners.load import SCAN_ADAPTERS
from gate.vex.load import load_vex
from gate.vex.model import VexDocument


def _finding(finding: Finding) -> dict[str, Any]:
    return {
        "id": finding.id,
        "aliases": list(finding.aliases),
        "package": finding.package_name,
        "version": finding.package_version,
        "purl": finding.purl,
        "severity": finding.severity.name,
        "cvss": finding.max_cvss,
        "fixedVersions": list(finding.fixed_versions),
        "fixState": finding.fix_state.value,
        "target": finding.target,
        "epss": finding.epss,
        "kev": finding.kev,
    }


def show_evidence(data: bytes, source: str) -> dict[str, Any]:
    """The normalised content of one document, as ``gate evidence show --format json`` prints it."""
    with schema_validation():
        detected = detect_format(data, source)
        view: dict[str, Any] = {
            "format": detected.format,
            "title": detected.info.title,
            "kind": detected.info.kind.name.lower(),
            "findings": [],
            "components": [],
        }
        scan_adapter = SCAN_ADAPTERS.get(detected.format)
        sbom_adapter = SBOM_ADAPTERS.get(detected.format)
        if detected.info.kind is Kind.VEX:
            vex = load_vex(data, source)
            view["statements"] = _statements(vex)
            return view
        if scan_adapter is None and sbom_adapter is None:
            raise InputError(
                f"recognised as {detected.info.title}, which this version of gate does not "
                "ingest yet",
                source=source,
            )
        report: ScanReport | None = None
        if sbom_adapter is not None and not has_vulnerabilities(detected.document):
            scan_adapter = None  # a CycloneDX SBOM: nothing to read as findings
        if scan_adapter is not None:
            report = scan_adapter(detected.document, source)
            view["findings"] = [_finding(f) for f in report.findings]
            view["artifact"] = {
                "name": report.artifact_name,
                "digests": sorted(str(d) for d in report.artifact_digests),
                "createdAt": report.created_at.isoformat() if report.created_at else None,
                "scanner": report.scanner,
                "scannerVersion": report.scanner_version,
            }
        if sbom_adapter is not None:
            sbom: Sbom = sbom_adapter(detected.document, source)
            view["components"] = [
                {
                    "name": c.name,
                    "version": c.version,
                    "purl": c.purl,
                    "licenses": list(c.licenses),
                }
                for c in sbom.components
            ]
            view["subject"] = {
                "name": sbom.subject_name,
                "digests": sorted(str(d) for d in sbom.subject_digests),
            }
            if "validation" in sbom.metadata:
                view["validation"] = sbom.metadata["validation"]
                view["validationDetail"] = sbom.metadata.get("validation_detail")
        return view


def _statements(vex: VexDocument) -> list[dict[str, Any]]:
    return [
        {
            "vulnerability": s.vulnerability,
            "status": s.status.value,
            "justification": s.justification,
            "products": [p.id for p in s.products],
            "subcomponents": [p.id for p in s.subcomponents],
            "timestamp": s.timestamp.isoformat() if s.timestamp else None,
        }
        for s in vex.statements
    ]


def render_text(view: dict[str, Any]) -> str:
    """A short human listing of ``view`` (one line per finding, component or statement)."""
    lines = [f"{view['title']} ({view['format']})"]
    artifact = view.get("artifact") or view.get("subject")
    if artifact and (artifact.get("name") or artifact.get("digests")):
        lines.append(f"describes: {artifact.get('name') or '-'} {' '.join(artifact['digests'])}")
    if "validation" in view:
        lines.append(f"schema: {view['validation']} ({view.get('validationDetail')})")
    findings = view["findings"]
    if findings or view["kind"] == "scan":
        lines.append(f"{len(findings)} finding(s)")
        for f in findings:
            fixed = ", ".join(f["fixedVersions"]) or "no fix"
            lines.append(
                f"  {f['severity']:<8} {f['id']:<22} {f['package']}@{f['version']} ({fixed})"
            )
    components = view["components"]
    if components:
        lines.append(f"{len(components)} component(s)")
        for c in components:
            licenses = ", ".join(c["licenses"]) or "no license"
            lines.append(f"  {c['name']}@{c['version'] or '-'} {c['purl'] or ''} [{licenses}]")
    if "statements" in view:
        lines.append(f"{len(view['statements'])} statement(s)")
        for s in view["statements"]:
            lines.append(f"  {s['vulnerability']}: {s['status']} {s['justification'] or ''}")
    return "\n".join(lines) + "\n"
