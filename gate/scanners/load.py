"""``--scan FILE``: recognise a scanner report by its content and turn it into findings.

One registry dict maps each ingestible format to its adapter ("parsed
document -> ScanReport"); formats that are recognised but not ingested yet,
and SBOM/VEX documents passed in the wrong place, get an error that says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from gate.errors import InputError
from gate.scanners.cyclonedx_vulns import (
    parse_cyclonedx_vulnerabilities,
    parse_cyclonedx_xml_vulnerabilities,
)
from gate.scanners.detect import Kind, detect_format
from gate.scanners.finding import ScanReport
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
    }
)


def load_scan_report(data: bytes, source: str) -> ScanReport:
    """Parse the bytes of one scanner report into a ``ScanReport``.

    ``source`` is the file name or URL, used in the report and in every error.
    Raises ``InputError`` (one line: file, JSON path, reason) for anything that
    is not an ingestible, well-formed report.
    """
    detected = detect_format(data, source)
    adapter = SCAN_ADAPTERS.get(detected.format)
    if adapter is None:
        info = detected.info
        if info.kind is Kind.SCAN:
            reason = f"recognised as {info.title}, which this version of gate does not ingest yet"
        else:
            reason = f"recognised as {info.title}, which is {info.kind.value}, not a scanner report"
        raise InputError(reason, source=source)
    try:
        return adapter(detected.document, source)
    except RecursionError:
        raise InputError("document is nested too deeply to be a report", source=source) from None
