"""``load_scan_report`` dispatch: what it ingests and what it says about the rest."""

from __future__ import annotations

import json

import pytest

from gate.errors import InputError
from gate.scanners.load import SCAN_ADAPTERS, load_scan_report

HARBOR_MIME = "application/vnd.security.vulnerability.report; version=1.1"


@pytest.mark.parametrize(
    ("document", "title"),
    [
        ({"matches": [], "descriptor": {"name": "grype"}}, "Grype JSON"),
        (
            {"manifest_hash": "sha256:1", "package_vulnerabilities": {}},
            "Clair v4 vulnerability report",
        ),
        ({"unapproved": [], "vulnerabilities": []}, "Clair v2 report from clair-scanner"),
        ({"LayerCount": 1, "Vulnerabilities": {}}, "Clair v2 report from klar"),
        ({"Layer": {"Features": []}}, "Clair v1 API layer report"),
        ({HARBOR_MIME: {}}, "Harbor scanner-adapter report"),
        ({"version": "2.1.0", "runs": []}, "SARIF"),
    ],
)
def test_recognised_but_not_yet_ingested_formats_say_so(document: object, title: str) -> None:
    with pytest.raises(InputError) as excinfo:
        load_scan_report(json.dumps(document).encode(), "out.json")
    assert str(excinfo.value) == (
        f"out.json: recognised as {title}, which this version of gate does not ingest yet"
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b'{"spdxVersion": "SPDX-2.3"}',
            "recognised as SPDX JSON, which is an SBOM, not a scanner report",
        ),
        (
            b"SPDXVersion: SPDX-2.3\n",
            "recognised as SPDX tag-value, which is an SBOM, not a scanner report",
        ),
        (
            b'{"@context": "https://openvex.dev/ns/v0.2.0", "statements": []}',
            "recognised as OpenVEX, which is a VEX document, not a scanner report",
        ),
    ],
)
def test_sboms_and_vex_passed_as_scans_say_what_they_are(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as excinfo:
        load_scan_report(data, "out.json")
    assert str(excinfo.value) == f"out.json: {message}"


def test_the_registry_names_the_ingested_formats() -> None:
    assert set(SCAN_ADAPTERS) == {"trivy", "trivy-legacy", "cyclonedx-json", "cyclonedx-xml"}


def test_the_source_name_is_carried_into_the_report() -> None:
    scan = load_scan_report(b"null", "https://ci.example/job/1/trivy.json")
    assert scan.source == "https://ci.example/job/1/trivy.json"
    assert scan.findings == ()
