"""``--scan FILE``: recognise a scanner report by its content and turn it into findings.

One registry dict maps each ingestible format to its adapter ("parsed
document -> ScanReport"); formats that are recognised but not ingested yet,
and SBOM/VEX documents passed in the wrong place, get an error that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from gate.scanners.clair import parse_clair_legacy_report, parse_clair_v4_report
from gate.scanners.cyclonedx_vulns import (
    parse_cyclonedx_vulnerabilities,
    parse_cyclonedx_xml_vulnerabilities,
)
from gate.scanners.detect import Kind, load_with
from gate.scanners.finding import ScanReport
from gate.scanners.grype import parse_grype_report
from gate.scanners.harbor import parse_harbor_report
from gate.scanners.sarif import parse_sarif_report
from gate.scanners.trivy import parse_trivy_report

#: An adapter: the parsed document and its source name -> the report.
ScanAdapter = Callable[[Any, str], ScanReport]

#: The formats ``load_scan_report`` ingests, keyed by ``detect_format`` names.
SCAN_ADAPTERS: Mapping[str, ScanAdapter] = MappingProxyType(
    {
        "trivy": parse_trivy_report,
        "trivy-legacy": parse_trivy_report,
        "cyclonedx-json": parse_cyclonedx_vulnerabilities,
        "cyclonedx-xml": parse_cyclonedx_xml_vulnerabilities,
        "grype": parse_grype_report,
        "sarif": parse_sarif_report,
        "clair-v4": parse_clair_v4_report,
        "clair-scanner": parse_clair_legacy_report,
        "klar": parse_clair_legacy_report,
        "clair-v1": parse_clair_legacy_report,
        "harbor": parse_harbor_report,
    }
)


def load_scan_report(data: bytes, source: str) -> ScanReport:
    """Parse the bytes of one scanner report into a ``ScanReport``.

    ``source`` is the file name or URL, used in the report and in every error.
    Raises ``InputError`` (one line: file, JSON path, reason) for anything that
    is not an ingestible, well-formed report.
    """
    return load_with(data, source, SCAN_ADAPTERS, kind=Kind.SCAN, noun="a scanner report")
