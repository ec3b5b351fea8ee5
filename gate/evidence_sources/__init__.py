"""Servers the gate asks for scan reports by image digest: Harbor and Clair v4.

A policy's ``spec.evidenceSources`` names them; when a rule needs a scan and
none was given (``gate check --scan``) or stored for the digest, the gate asks
them in order and the first report found counts. See ``source.py`` for the
interface and the fail-closed rules, ``harbor.py`` and ``clair.py`` for the
two APIs.
"""

from gate.evidence_sources.source import (
    MemoScanSource,
    ScanSource,
    SourceOptions,
    SourceResult,
    build_sources,
    query_sources,
)
from gate.evidence_sources.spec import (
    BasicCredentials,
    EvidenceSourceSpec,
    SourceKind,
    load_credentials_file,
)

__all__ = [
    "BasicCredentials",
    "EvidenceSourceSpec",
    "MemoScanSource",
    "ScanSource",
    "SourceKind",
    "SourceOptions",
    "SourceResult",
    "build_sources",
    "load_credentials_file",
    "query_sources",
]
