"""Predicates -> evidence: CycloneDX, SPDX (and cosign's legacy wrapper), vuln/v1, SLSA."""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import Any

import pytest

from gate.attestations.predicates import interpret
from gate.oci.digest import Digest
from gate.signatures.intoto import (
    COSIGN_CUSTOM_V1,
    COSIGN_VULN_V1,
    CYCLONEDX_BOM,
    SLSA_PROVENANCE_V02,
    SLSA_PROVENANCE_V1,
    SPDX_DOCUMENT,
    STATEMENT_V1,
    Statement,
    Subject,
)
from tests.unit.attestations.support import SLSA_V1, cyclonedx, spdx, trivy, vuln

DIGEST = Digest.of(b"image")


def _statement(predicate_type: str, predicate: dict[str, Any]) -> Statement:
    return Statement(
        statement_type=STATEMENT_V1,
        subjects=(Subject(MappingProxyType({"sha256": DIGEST.hex})),),
        predicate_type=predicate_type,
        predicate=predicate,
    )


def test_cyclonedx_predicate_is_the_sbom() -> None:
    result = interpret(_statement(CYCLONEDX_BOM, cyclonedx(("a", "1", "MIT"))), "att")
    assert result.problem is None
    assert result.sbom is not None
    assert (result.sbom.format, result.sbom.source) == ("cyclonedx", "att")
    assert result.sbom.components[0].licenses == ("MIT",)


@pytest.mark.parametrize("as_text", [False, True], ids=["object", "text"])
def test_legacy_cosign_data_wrapper_is_unwrapped(as_text: bool) -> None:
    document = spdx(("a", "1", "Apache-2.0"))
    data: object = json.dumps(document) if as_text else document
    predicate = {"Data": data, "Timestamp": "2022-01-01T00:00:00Z"}
    result = interpret(_statement(SPDX_DOCUMENT, predicate), "att")
    assert result.problem is None
    assert result.sbom is not None
    assert result.sbom.format == "spdx"
    assert [c.name for c in result.sbom.components] == ["a"]


def test_sbom_of_the_wrong_family_is_a_problem() -> None:
    result = interpret(_statement(SPDX_DOCUMENT, cyclonedx(("a", "1", "MIT"))), "att")
    assert result.problem is not None
    assert "holds a cyclonedx document, not SPDX SBOM" in result.problem


def test_broken_cyclonedx_names_the_field() -> None:
    bom = cyclonedx(("a", "1", "MIT"))
    bom["components"][0]["name"] = 7
    result = interpret(_statement(CYCLONEDX_BOM, bom), "att")
    assert result.problem is not None
    assert result.problem.startswith("CycloneDX SBOM predicate unusable: components[0].name")


def test_vuln_predicate_with_trivy_result() -> None:
    result = interpret(_statement(COSIGN_VULN_V1, vuln(trivy("CVE-1"))), "att")
    assert result.problem is None
    assert result.scan is not None
    assert result.scan.format == "trivy"
    assert result.scan.metadata["scanTime"] == "metadata.scanFinishedOn"
    assert result.scanner == "https://github.com/aquasecurity/trivy"


def test_vuln_predicate_without_scan_time_uses_the_report_time() -> None:
    predicate = vuln(trivy("CVE-1", created="2026-01-02T03:04:05Z"), finished=None)
    result = interpret(_statement(COSIGN_VULN_V1, predicate), "att")
    assert result.scan is not None
    assert result.scan.created_at is not None
    assert result.scan.created_at.isoformat() == "2026-01-02T03:04:05+00:00"
    assert result.scan.metadata["scanTime"] == "report"


@pytest.mark.parametrize(
    ("predicate", "expected"),
    [
        (vuln(None), "scanner.result: is null"),
        (vuln({"what": "ever"}), "scanner.result: is not a scanner report"),
        (vuln(trivy(), finished="yesterday"), "metadata.scanFinishedOn: is not an RFC 3339"),
        ({"scanner": "trivy"}, "predicate.scanner: must be an object"),
    ],
)
def test_unusable_vuln_predicates(predicate: dict[str, Any], expected: str) -> None:
    result = interpret(_statement(COSIGN_VULN_V1, predicate), "att")
    assert result.problem is not None
    assert expected in result.problem


def test_vuln_predicate_with_sarif_result() -> None:
    sarif = {
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "Trivy", "rules": []}}, "results": []}],
    }
    result = interpret(_statement(COSIGN_VULN_V1, vuln(sarif)), "att")
    assert result.problem is None
    assert result.scan is not None
    assert result.scan.format == "sarif"


def test_slsa_provenance_shapes() -> None:
    assert interpret(_statement(SLSA_PROVENANCE_V1, SLSA_V1), "att").problem is None
    v02 = {"builder": {"id": "https://example.test/b"}, "buildType": "https://example.test/t"}
    assert interpret(_statement(SLSA_PROVENANCE_V02, v02), "att").problem is None
    broken = interpret(_statement(SLSA_PROVENANCE_V1, {"runDetails": {}}), "att")
    assert broken.problem == (
        "SLSA provenance v1 predicate unusable: buildDefinition: must be an object, got null"
    )
    assert interpret(_statement(SLSA_PROVENANCE_V02, SLSA_V1), "att").problem is not None


def test_opaque_and_unknown_types() -> None:
    known = interpret(_statement(COSIGN_CUSTOM_V1, {"Data": "x", "Timestamp": "t"}), "att")
    assert (known.problem, known.note, known.sbom, known.scan) == (None, None, None, None)
    unknown = interpret(_statement("https://example.test/x", {}), "att")
    assert unknown.problem is None
    assert unknown.note is not None
