"""``load_scan_report`` dispatch: what it ingests and what it says about the rest."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest

from gate.errors import InputError
from gate.sbom.load import load_sbom
from gate.scanners.load import SCAN_ADAPTERS, load_scan_report


def test_a_recognised_document_of_another_kind_says_what_it_is() -> None:
    with pytest.raises(InputError) as excinfo:
        load_scan_report(
            json.dumps({"@context": "https://openvex.dev/ns/v0.2.0"}).encode(), "v.json"
        )
    assert "recognised as OpenVEX, which is a VEX document, not a scanner report" in str(
        excinfo.value
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
    assert set(SCAN_ADAPTERS) == {
        "trivy",
        "trivy-legacy",
        "cyclonedx-json",
        "cyclonedx-xml",
        "grype",
        "sarif",
        "clair-v4",
        "clair-scanner",
        "klar",
        "clair-v1",
        "harbor",
    }


def test_the_source_name_is_carried_into_the_report() -> None:
    scan = load_scan_report(b"null", "https://ci.example/job/1/trivy.json")
    assert scan.source == "https://ci.example/job/1/trivy.json"
    assert scan.findings == ()


_SEEDS = [
    b'{"SchemaVersion": 2, "CreatedAt": "2021-08-25T12:20:30Z", "Metadata": {"RepoDigests":'
    b' ["a@sha256:'
    + b"ab"
    * 32
    + b'"]}, "Results": [{"Target": "x", "Class": "os-pkgs", "Vulnerabilities":'
    b' [{"VulnerabilityID": "C", "PkgName": "p", "VendorIDs": ["G"], "CVSS": {"nvd":'
    b' {"V3Score": 7.5, "V3Vector": "v"}}, "FixedVersion": "1, 2", "Status": "fixed"}]}]}',
    b'[{"Target": "x", "Vulnerabilities": [{"VulnerabilityID": "C", "PkgName": "p"}]}]',
    b'{"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"timestamp":'
    b' "2021-01-01T00:00:00Z", "component": {"type": "container", "name": "c"}}, "components":'
    b' [{"type": "library", "name": "a", "bom-ref": "r", "licenses": [{"expression": "MIT"}]}],'
    b' "vulnerabilities": [{"id": "X", "ratings": [{"severity": "high", "score": 7, "method":'
    b' "CVSSv31"}], "affects": [{"ref": "r", "versions": [{"version": "1"}]}]}]}',
    b'<?xml version="1.0" encoding="UTF-8"?><bom xmlns="http://cyclonedx.org/schema/bom/1.4">'
    b'<components><component type="library"><name>a</name></component></components>'
    b"<vulnerabilities><vulnerability><id>X</id><ratings><rating><score>1</score></rating>"
    b"</ratings><affects><target><ref>r</ref></target></affects></vulnerability>"
    b"</vulnerabilities></bom>",
]


@pytest.mark.parametrize("seed", range(len(_SEEDS)))
def test_mutated_documents_give_one_line_input_errors_never_tracebacks(seed: int) -> None:
    """Byte-level mutations of small valid documents: success or InputError, nothing else."""
    load_scan_report(_SEEDS[seed], "fuzz")  # the unmutated document is valid
    rng = random.Random(seed)  # noqa: S311  # reproducible test data, not security
    alphabet = b'{}[]",:01.-e ntx<>/?=\xff'
    for _ in range(1500):
        data = bytearray(_SEEDS[seed])
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.4:
                data[position] = rng.choice(alphabet)
            elif choice < 0.7:
                data.insert(position, rng.choice(alphabet))
            else:
                del data[position]
        for load in (load_scan_report, load_sbom):
            message = _error_or_none(load, bytes(data))
            assert message is None or (message.startswith("fuzz: ") and "\n" not in message)


def _error_or_none(load: Callable[[bytes, str], object], data: bytes) -> str | None:
    try:
        load(data, "fuzz")
    except InputError as exc:
        return str(exc)
    return None
