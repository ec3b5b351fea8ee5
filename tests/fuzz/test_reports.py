"""Scanner reports (``gate.scanners.load``): real reports mutated, and generated documents.

Every format the gate reads (Trivy, Grype, SARIF, Clair v4 and legacy, Harbor,
CycloneDX JSON and XML) starts from the real reports in the shared fixtures;
the property is that any bytes give a ``ScanReport`` or a one-line
``GateError``, never another exception.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gate.errors import GateError
from gate.scanners.finding import Finding, ScanReport
from gate.scanners.load import load_scan_report
from tests.fuzz.support import (
    Seed,
    document_mutations,
    examples,
    gate_outcome,
    json_values,
    real_corpus,
    scrambled_json,
    serialised,
)

SCAN_DIRECTORIES = ("trivy", "grype", "clair", "harbor", "sarif", "cyclonedx")

#: The members that make ``detect_format`` pick each format, so generated bodies reach the
#: adapters rather than stopping at "unrecognised".
MARKERS: dict[str, dict[str, Any]] = {
    "trivy": {"SchemaVersion": 2},
    "trivy-legacy": {},
    "grype": {"matches": [], "descriptor": {"name": "grype"}},
    "clair-v4": {"manifest_hash": "sha256:" + "1" * 64, "package_vulnerabilities": {}},
    "clair-scanner": {"unapproved": [], "vulnerabilities": []},
    "klar": {"LayerCount": 1, "Vulnerabilities": {}},
    "clair-v1": {"Layer": {"Features": []}},
    "harbor": {"generated_at": "2024-01-01T00:00:00Z", "scanner": {}, "vulnerabilities": []},
    "cyclonedx": {"bomFormat": "CycloneDX", "specVersion": "1.5"},
    "sarif": {"version": "2.1.0", "runs": []},
}
#: Member names the adapters read, drawn as keys of generated objects at every level.
KNOWN_KEYS = (
    "Results",
    "Target",
    "Class",
    "Type",
    "Vulnerabilities",
    "VulnerabilityID",
    "PkgName",
    "InstalledVersion",
    "FixedVersion",
    "Severity",
    "CVSS",
    "V3Score",
    "Status",
    "ArtifactName",
    "Metadata",
    "RepoDigests",
    "CreatedAt",
    "matches",
    "vulnerability",
    "artifact",
    "id",
    "severity",
    "fix",
    "versions",
    "state",
    "cvss",
    "metrics",
    "baseScore",
    "source",
    "target",
    "packages",
    "vulnerabilities",
    "package_vulnerabilities",
    "normalized_severity",
    "fixed_in_version",
    "runs",
    "results",
    "ruleId",
    "rules",
    "properties",
    "tool",
    "driver",
    "components",
    "affects",
    "ratings",
    "ref",
    "bom-ref",
    "purl",
    "name",
    "version",
)


def _generated_objects() -> st.SearchStrategy[Any]:
    keyed = st.recursive(
        json_values,
        lambda children: st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.sampled_from(KNOWN_KEYS), children, max_size=5),
        ),
        max_leaves=20,
    )
    return st.tuples(st.sampled_from(sorted(MARKERS)), keyed).map(_with_markers)


def _with_markers(pair: tuple[str, Any]) -> Any:
    name, body = pair
    if name == "trivy-legacy":
        return [body]
    if isinstance(body, dict):
        return {**body, **MARKERS[name]}
    return {**MARKERS[name], "vulnerabilities": body, "Results": body, "matches": body}


@pytest.fixture(scope="module")
def seeds() -> tuple[Seed, ...]:
    """Every real report of at most 64 KiB (JSON and XML)."""
    return tuple(
        seed
        for directory in SCAN_DIRECTORIES
        for seed in real_corpus(directory, suffixes=(".json", ".xml"))
    )


def _check(data: bytes) -> None:
    result = gate_outcome(lambda: load_scan_report(data, "fuzz-report.json"))
    if not isinstance(result, GateError):
        assert isinstance(result, ScanReport)
        assert all(isinstance(finding, Finding) for finding in result.findings)


@given(data=st.data())
def test_mutated_real_reports_load_or_fail_with_one_line(
    seeds: tuple[Seed, ...], data: st.DataObject
) -> None:
    _check(data.draw(document_mutations(seeds)))


@settings(max_examples=examples(0.25))
@given(data=st.data())
def test_reports_shaped_like_real_ones_load_or_fail_with_one_line(
    seeds: tuple[Seed, ...], data: st.DataObject
) -> None:
    seed = data.draw(st.sampled_from([s for s in seeds if s.document is not None]))
    _check(data.draw(serialised(data.draw(scrambled_json(seed.document)))))


@settings(max_examples=examples(0.25))
@given(document=_generated_objects(), data=st.data())
def test_generated_reports_load_or_fail_with_one_line(document: Any, data: st.DataObject) -> None:
    _check(data.draw(serialised(document)))


@settings(max_examples=examples(0.5))
@given(blob=st.binary(max_size=512))
def test_arbitrary_bytes_load_or_fail_with_one_line(blob: bytes) -> None:
    _check(blob)
