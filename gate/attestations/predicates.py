"""What a verified statement says, in the gate's own terms: an SBOM, a scan report, provenance.

Only statements whose signature verified and whose subject is the image get
here. The predicate is handed to the same adapters as files given on the
command line, so an attested SBOM is read exactly like ``--sbom``:

- CycloneDX (``https://cyclonedx.org/bom``) and SPDX (``https://spdx.dev/Document``):
  the predicate is the document; older cosign wrapped it as ``{"Data": ...}``
  (an object, or the document's text), which is unwrapped;
- cosign vuln (``https://cosign.sigstore.dev/attestation/vuln/v1``):
  ``scanner.result`` is a scanner report (Trivy, Grype, SARIF...) read by the
  scanner adapters; the scan time is ``metadata.scanFinishedOn`` (signed),
  else the report's own creation time;
- SLSA provenance v1 and v0.2: the fields that make it provenance must be
  there (builder and build type); it is kept as the verified statement.

A predicate of a type the gate reads that does not read is a ``problem``:
the attestation is rejected with that reason. A type the gate does not
interpret is kept as a verified statement (a policy may require it by URI).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from gate.errors import InputError
from gate.json_types import json_type
from gate.sbom.component import Sbom
from gate.sbom.load import SBOM_ADAPTERS, load_sbom
from gate.scanners._fields import parse_timestamp
from gate.scanners.detect import sniff_json
from gate.scanners.finding import ScanReport
from gate.scanners.load import SCAN_ADAPTERS
from gate.signatures.intoto import (
    COSIGN_CUSTOM_V1,
    COSIGN_SIGN_V1,
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
    Statement,
)

#: Predicate types whose predicate is an SBOM.
SBOM_PREDICATE_TYPES = frozenset({CYCLONEDX_BOM, SPDX_DOCUMENT})
#: Predicate types whose predicate holds a vulnerability scan.
SCAN_PREDICATE_TYPES = frozenset({COSIGN_VULN_V1})
#: SLSA provenance, both versions.
PROVENANCE_PREDICATE_TYPES = frozenset({SLSA_PROVENANCE_V1, SLSA_PROVENANCE_V02})
#: Types the gate knows and keeps without reading further.
OPAQUE_PREDICATE_TYPES = frozenset({COSIGN_CUSTOM_V1, COSIGN_SIGN_V1})

_SBOM_FAMILY = {CYCLONEDX_BOM: "cyclonedx", SPDX_DOCUMENT: "spdx"}
_TITLES = {
    CYCLONEDX_BOM: "CycloneDX SBOM",
    SPDX_DOCUMENT: "SPDX SBOM",
    COSIGN_VULN_V1: "cosign vuln",
    SLSA_PROVENANCE_V1: "SLSA provenance v1",
    SLSA_PROVENANCE_V02: "SLSA provenance v0.2",
}
#: cosign's legacy wrapper: ``{"Data": <document or its text>, "Timestamp": "..."}``.
_LEGACY_WRAPPER_KEYS = frozenset({"Data", "Timestamp"})


@dataclass(frozen=True)
class Interpreted:
    """The evidence one predicate yields; ``problem`` when its type is known but it is unusable."""

    sbom: Sbom | None = None
    scan: ScanReport | None = None
    scanner: str | None = None
    problem: str | None = None
    note: str | None = None


def title(predicate_type: str) -> str:
    """A short human name for a predicate type (its URI when the gate does not know it)."""
    return _TITLES.get(predicate_type, predicate_type)


def interpret(statement: Statement, source: str) -> Interpreted:
    """Turn a verified statement's predicate into evidence; ``source`` labels it in reports."""
    predicate_type = statement.predicate_type
    predicate = statement.predicate
    try:
        if predicate_type in SBOM_PREDICATE_TYPES:
            return Interpreted(sbom=_sbom(predicate_type, predicate, source))
        if predicate_type in SCAN_PREDICATE_TYPES:
            scan, scanner = read_vuln_predicate(predicate, source)
            return Interpreted(scan=scan, scanner=scanner)
        if predicate_type in PROVENANCE_PREDICATE_TYPES:
            check_provenance(predicate_type, predicate)
            return Interpreted()
    except InputError as exc:
        where = f"{exc.field}: " if exc.field else ""
        return Interpreted(
            problem=f"{title(predicate_type)} predicate unusable: {where}{exc.reason}"
        )
    except RecursionError:
        return Interpreted(problem=f"{title(predicate_type)} predicate is nested too deeply")
    if predicate_type in OPAQUE_PREDICATE_TYPES:
        return Interpreted()
    return Interpreted(
        note=f"predicate type {predicate_type} is not one the gate interprets; it counts only "
        "where a policy requires that type by name"
    )


def _unwrap(predicate: Mapping[str, Any]) -> object:
    """The document inside cosign's legacy ``{"Data": ...}`` wrapper, or the predicate itself."""
    if "Data" in predicate and set(predicate) <= _LEGACY_WRAPPER_KEYS:
        return predicate["Data"]
    return predicate


def _sbom(predicate_type: str, predicate: Mapping[str, Any], source: str) -> Sbom:
    family = _SBOM_FAMILY[predicate_type]
    document = _unwrap(predicate)
    if isinstance(document, str):
        # The legacy wrapper carried the document's text (any encoding the adapters read).
        sbom = load_sbom(document.encode("utf-8"), source)
    elif isinstance(document, dict):
        detected = sniff_json(document)
        adapter = SBOM_ADAPTERS.get(detected or "")
        if adapter is None:
            raise InputError(
                f"is not a {title(predicate_type)} document (bomFormat/spdxVersion missing)",
                field="predicate",
            )
        sbom = adapter(document, source)
    else:
        raise InputError(f"must be an object, got {json_type(document)}", field="predicate.Data")
    if sbom.format != family:
        raise InputError(
            f"holds a {sbom.format} document, not {title(predicate_type)}", field="predicate"
        )
    return sbom


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"must be an object, got {json_type(value)}", field=field)
    return value


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise InputError(f"must be a non-empty string, got {json_type(value)}", field=field)
    return value


def read_vuln_predicate(predicate: Mapping[str, Any], source: str) -> tuple[ScanReport, str | None]:
    """The scan report in a cosign vuln/v1 predicate, dated by its signed scan time.

    Also returns the scanner's name (``scanner.uri``) for grouping scans.
    ``InputError`` names the predicate field when it is unusable.
    """
    scanner = _object(predicate.get("scanner"), "predicate.scanner")
    result = scanner.get("result")
    if result is None:
        # An absent result is no evidence of "no vulnerabilities".
        raise InputError("is null: the attestation carries no scan", field="scanner.result")
    detected = sniff_json(result)
    adapter = SCAN_ADAPTERS.get(detected or "")
    if adapter is None:
        raise InputError(
            "is not a scanner report the gate reads (Trivy, Grype, SARIF, Clair, Harbor, "
            "CycloneDX with vulnerabilities)",
            field="scanner.result",
        )
    report = adapter(result, source)
    finished = _scan_time(predicate)
    uri = scanner.get("uri")
    version = scanner.get("version")
    named = uri if isinstance(uri, str) and uri else None
    changes: dict[str, Any] = {
        "created_at": finished or report.created_at,
        "metadata": MappingProxyType(
            {
                **report.metadata,
                "attested": "cosign vuln/v1",
                "scanTime": "metadata.scanFinishedOn" if finished else "report",
            }
        ),
    }
    if report.scanner is None and named is not None:
        changes["scanner"] = named
    if report.scanner_version is None and isinstance(version, str) and version:
        changes["scanner_version"] = version
    return replace(report, **changes), named or report.scanner or report.format


def _scan_time(predicate: Mapping[str, Any]) -> datetime | None:
    """``metadata.scanFinishedOn``, when present; a present but unreadable value is refused."""
    metadata = predicate.get("metadata")
    if metadata is None:
        return None
    metadata = _object(metadata, "predicate.metadata")
    value = metadata.get("scanFinishedOn")
    if value is None or value == "":
        return None
    text = _text(value, "metadata.scanFinishedOn")
    finished = parse_timestamp(text)
    if finished is None:
        raise InputError(
            f"is not an RFC 3339 time with an offset: {json.dumps(text)[:80]}",
            field="metadata.scanFinishedOn",
        )
    return finished


def check_provenance(predicate_type: str, predicate: Mapping[str, Any]) -> None:
    """Refuse (``InputError``) SLSA provenance without the fields that make it provenance."""
    if predicate_type == SLSA_PROVENANCE_V1:
        definition = _object(predicate.get("buildDefinition"), "buildDefinition")
        _text(definition.get("buildType"), "buildDefinition.buildType")
        details = _object(predicate.get("runDetails"), "runDetails")
        builder = _object(details.get("builder"), "runDetails.builder")
        _text(builder.get("id"), "runDetails.builder.id")
        return
    builder = _object(predicate.get("builder"), "builder")
    _text(builder.get("id"), "builder.id")
    _text(predicate.get("buildType"), "buildType")
