"""The predicate file of ``gate attest``: checked for its ``--type`` before anything is signed.

Each type names cosign's ``--type`` value and the predicate type URI it
produces. The file must read as that kind of document with the same
adapters ``gate check`` uses, so what ``gate attest`` signs is what the gate
will later read:

- ``cyclonedx``: CycloneDX JSON (the predicate is the document);
- ``spdx`` / ``spdxjson``: SPDX 2.2/2.3 JSON;
- ``vuln``: a scanner report (Trivy, Grype, SARIF...) wrapped as cosign's
  vuln/v1 predicate, or a ready-made vuln/v1 predicate; the scan time comes
  from ``--scan-finished-on`` or the report, never from the clock;
- ``slsaprovenance``: SLSA provenance, v1 or v0.2 told apart by content;
  ``slsaprovenance1`` / ``slsaprovenance02`` insist on one version.

Anything else is an ``InputError`` naming the file, field and reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gate.attestations.predicates import check_provenance, read_vuln_predicate
from gate.errors import InputError
from gate.json_types import json_type
from gate.sbom.load import SBOM_ADAPTERS
from gate.scanners.detect import FORMATS, detect_format
from gate.scanners.load import SCAN_ADAPTERS
from gate.signatures import gojson
from gate.signatures.intoto import (
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
)


class PredicateKind(enum.StrEnum):
    """``gate attest --type``: cosign's names for the predicates the gate reads."""

    CYCLONEDX = "cyclonedx"
    SPDX = "spdx"
    SPDXJSON = "spdxjson"
    VULN = "vuln"
    SLSAPROVENANCE = "slsaprovenance"
    SLSAPROVENANCE1 = "slsaprovenance1"
    SLSAPROVENANCE02 = "slsaprovenance02"


#: Where a scanner lives, for the ``scanner.uri`` of a wrapped report.
_SCANNER_URIS = {
    "trivy": "https://github.com/aquasecurity/trivy",
    "grype": "https://github.com/anchore/grype",
    "clair": "https://github.com/quay/clair",
}


@dataclass(frozen=True)
class Predicate:
    """A checked predicate: its type URI and the JSON object that becomes ``predicate``."""

    predicate_type: str
    body: Mapping[str, Any]


def read_predicate(
    data: bytes,
    source: str,
    kind: PredicateKind,
    *,
    scan_finished_on: datetime | None = None,
) -> Predicate:
    """Check ``data`` (the file ``source``) as a predicate of ``kind``; ``InputError`` if it is not.

    ``scan_finished_on`` is only for ``vuln``: the scan time to record when
    the report does not carry one (or to override it).
    """
    if scan_finished_on is not None and kind is not PredicateKind.VULN:
        raise InputError("--scan-finished-on only applies to --type vuln", source=source)
    if kind is PredicateKind.CYCLONEDX:
        return Predicate(CYCLONEDX_BOM, _sbom_document(data, source, "cyclonedx-json"))
    if kind in (PredicateKind.SPDX, PredicateKind.SPDXJSON):
        return Predicate(SPDX_DOCUMENT, _sbom_document(data, source, "spdx-json"))
    if kind is PredicateKind.VULN:
        return Predicate(COSIGN_VULN_V1, _vuln(data, source, scan_finished_on))
    return _provenance_predicate(data, source, kind)


def _sbom_document(data: bytes, source: str, wanted: str) -> dict[str, Any]:
    detected = detect_format(data, source)
    if detected.format != wanted:
        hint = ""
        if detected.format in ("cyclonedx-xml", "spdx-tag-value"):
            hint = "; an attestation predicate must be JSON (e.g. syft -o " + (
                "cyclonedx-json)" if wanted == "cyclonedx-json" else "spdx-json)"
            )
        raise InputError(
            f"is {detected.info.title}, not {FORMATS[wanted].title}{hint}", source=source
        )
    SBOM_ADAPTERS[wanted](detected.document, source)  # refuses what the gate could not read
    document: dict[str, Any] = detected.document
    return document


def _looks_like_vuln_predicate(document: object) -> bool:
    return (
        isinstance(document, dict)
        and isinstance(document.get("scanner"), dict)
        and "result" in document["scanner"]
        and ("metadata" in document or "invocation" in document)
    )


def _vuln(data: bytes, source: str, finished: datetime | None) -> dict[str, Any]:
    try:
        document = gojson.loads_strict(data)
    except ValueError:
        document = None
    if _looks_like_vuln_predicate(document):
        predicate: dict[str, Any] = dict(document)
        if finished is not None:
            metadata = predicate.get("metadata")
            metadata = dict(metadata) if isinstance(metadata, dict) else {}
            metadata["scanFinishedOn"] = _rfc3339(finished)
            metadata.setdefault("scanStartedOn", metadata["scanFinishedOn"])
            predicate["metadata"] = metadata
        try:
            report, _ = read_vuln_predicate(predicate, source)
        except InputError as exc:
            raise InputError(exc.reason, source=source, field=exc.field) from None
        if report.created_at is None:
            raise InputError(
                "the vuln predicate says nothing about when the scan ran "
                "(metadata.scanFinishedOn); add it or pass --scan-finished-on",
                source=source,
            )
        return predicate
    detected = detect_format(data, source)
    adapter = SCAN_ADAPTERS.get(detected.format)
    if adapter is None:
        raise InputError(
            f"is {detected.info.title}, not a scanner report (--type vuln wraps a Trivy, "
            "Grype, SARIF, Clair or Harbor report)",
            source=source,
        )
    if detected.format == "cyclonedx-xml":
        raise InputError(
            "a vuln predicate carries the report as JSON; give the scanner's JSON output",
            source=source,
        )
    report = adapter(detected.document, source)
    scanned = finished or report.created_at
    if scanned is None:
        raise InputError(
            "the report does not say when the scan ran; pass --scan-finished-on "
            "(RFC 3339, e.g. 2026-01-31T12:00:00Z) so the attestation's scan age means something",
            source=source,
        )
    when = _rfc3339(scanned)
    scanner = report.scanner or report.format
    return {
        "invocation": {"parameters": None, "uri": "", "event_id": "", "builder.id": ""},
        "scanner": {
            "uri": _SCANNER_URIS.get(scanner, scanner),
            "version": report.scanner_version or "",
            "db": {"uri": "", "version": ""},
            "result": detected.document,
        },
        "metadata": {"scanStartedOn": when, "scanFinishedOn": when},
    }


def _rfc3339(instant: datetime) -> str:
    aware = instant if instant.tzinfo is not None else instant.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _provenance_predicate(data: bytes, source: str, kind: PredicateKind) -> Predicate:
    try:
        document = gojson.loads_strict(data)
    except ValueError as exc:
        raise InputError(str(exc), source=source) from None
    if not isinstance(document, dict):
        raise InputError(
            f"SLSA provenance must be a JSON object, got {json_type(document)}", source=source
        )
    if "_type" in document and "predicate" in document:
        raise InputError(
            "is a whole in-toto statement; give only its predicate (gate attest builds the "
            "statement for the image)",
            source=source,
        )
    if kind is PredicateKind.SLSAPROVENANCE1:
        predicate_type = SLSA_PROVENANCE_V1
    elif kind is PredicateKind.SLSAPROVENANCE02:
        predicate_type = SLSA_PROVENANCE_V02
    elif "buildDefinition" in document or "runDetails" in document:
        predicate_type = SLSA_PROVENANCE_V1
    elif "builder" in document or "buildType" in document:
        predicate_type = SLSA_PROVENANCE_V02
    else:
        raise InputError(
            "is neither SLSA provenance v1 (buildDefinition, runDetails) nor v0.2 "
            "(builder, buildType)",
            source=source,
        )
    try:
        check_provenance(predicate_type, document)
    except InputError as exc:
        version = "v1" if predicate_type == SLSA_PROVENANCE_V1 else "v0.2"
        raise InputError(
            f"not SLSA provenance {version}: {exc.reason}", source=source, field=exc.field
        ) from None
    return Predicate(predicate_type, document)
