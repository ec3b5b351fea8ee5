"""CycloneDX ``vulnerabilities`` (Trivy/grype output) as scan findings."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.errors import InputError
from gate.scanners.finding import CvssScore, FixState, ScanReport, Severity
from gate.scanners.load import load_scan_report

SERIAL = "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79"


def bom(*vulnerabilities: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": SERIAL,
        "metadata": {
            "timestamp": "2024-01-04T15:25:30+00:00",
            "tools": [{"vendor": "aquasecurity", "name": "trivy", "version": "0.48.1"}],
            "component": {"bom-ref": "img", "type": "container", "name": "ubuntu:22.04"},
        },
        "components": [
            {
                "bom-ref": "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64",
                "type": "library",
                "name": "bash",
                "version": "5.1-6ubuntu1",
                "purl": "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64",
                "properties": [{"name": "aquasecurity:trivy:PkgType", "value": "ubuntu"}],
            },
            {
                "bom-ref": "c2",
                "type": "library",
                "name": "zlib",
                "version": "1.2.13",
                "purl": "pkg:apk/alpine/zlib@1.2.13",
            },
        ],
        "vulnerabilities": list(vulnerabilities),
    }
    doc.update(top)
    return doc


def vuln(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "CVE-2022-3715",
        "source": {"name": "ubuntu", "url": "https://ubuntu.com/security"},
        "affects": [{"ref": "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64"}],
    }
    base.update(fields)
    return base


def load(document: object) -> ScanReport:
    return load_scan_report(json.dumps(document).encode(), "cdx.json")


def error_of(document: object) -> str:
    with pytest.raises(InputError) as excinfo:
        load(document)
    return str(excinfo.value)


def test_one_finding_per_vulnerability_and_affected_ref() -> None:
    doc = bom(
        vuln(
            affects=[
                {"ref": "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64"},
                {"ref": "c2", "versions": [{"version": "1.2.13", "status": "affected"}]},
            ],
            references=[{"id": "GHSA-1234", "source": {"name": "ghsa"}}, {"id": "CVE-2022-3715"}],
            ratings=[{"source": {"name": "ubuntu"}, "severity": "low"}],
            advisories=[{"url": "https://avd.aquasec.com/nvd/cve-2022-3715"}],
        )
    )
    scan = load(doc)
    assert scan.format == "cyclonedx"
    assert (scan.scanner, scan.scanner_version) == ("trivy", "0.48.1")
    assert scan.artifact_name == "ubuntu:22.04"
    assert scan.created_at is not None
    first, second = scan.findings
    assert (first.package_name, first.package_version, first.package_type) == (
        "bash",
        "5.1-6ubuntu1",
        "ubuntu",
    )
    assert first.purl == "pkg:deb/ubuntu/bash@5.1-6ubuntu1?arch=amd64"
    assert (second.package_name, second.package_type) == ("zlib", "apk")
    assert first.aliases == ("GHSA-1234",)
    assert first.primary_url == "https://avd.aquasec.com/nvd/cve-2022-3715"
    assert first.target is None


def test_severity_prefers_the_vulnerability_source_then_nvd_then_the_highest() -> None:
    ratings = [
        {
            "source": {"name": "nvd"},
            "score": 7.8,
            "severity": "high",
            "method": "CVSSv31",
            "vector": "CVSS:3.1/AV:L",
        },
        {"source": {"name": "redhat"}, "score": 6.6, "severity": "medium", "method": "CVSSv31"},
        {"source": {"name": "ubuntu"}, "severity": "low"},
    ]
    (finding,) = load(bom(vuln(ratings=ratings))).findings
    assert (finding.severity, finding.severity_source, finding.raw_severity) == (
        Severity.LOW,
        "ubuntu",
        "low",
    )
    assert finding.cvss == (
        CvssScore("nvd", "3.x", 7.8, "CVSS:3.1/AV:L"),
        CvssScore("redhat", "3.x", 6.6, None),
    )

    (finding,) = load(bom(vuln(source={"name": "glad"}, ratings=ratings))).findings
    assert (finding.severity, finding.severity_source) == (Severity.HIGH, "nvd")

    (finding,) = load(
        bom(vuln(source={"name": "glad"}, ratings=[*ratings[1:2], {"severity": "critical"}]))
    ).findings
    assert (finding.severity, finding.severity_source) == (Severity.CRITICAL, None)


def test_without_any_label_the_highest_cvss_score_is_rated() -> None:
    ratings = [
        {"source": {"name": "NVD"}, "score": 10.0, "method": "CVSSv3", "vector": "CVSS:3.1/AV:N"}
    ]
    (finding,) = load(bom(vuln(ratings=ratings))).findings
    assert (finding.severity, finding.severity_source, finding.raw_severity) == (
        Severity.CRITICAL,
        "NVD",
        None,
    )


def test_epss_and_kev_ratings_are_never_read_as_cvss() -> None:
    ratings = [
        {"score": 8.2, "severity": "low", "method": "CVSSv31", "vector": "CVSS:3.1/AV:N"},
        {"source": {"name": "FIRST"}, "score": 0.03, "method": "other"},
        {"source": {"name": "CISA KEV Catalog"}, "score": 1, "method": "other"},
    ]
    (finding,) = load(bom(vuln(ratings=ratings))).findings
    assert finding.severity is Severity.LOW  # the source's label, not derived from 8.2
    assert [c.score for c in finding.cvss] == [8.2]


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("critical", Severity.CRITICAL),
        ("high", Severity.HIGH),
        ("medium", Severity.MEDIUM),
        ("low", Severity.LOW),
        ("info", Severity.LOW),
        ("none", Severity.UNKNOWN),
        ("unknown", Severity.UNKNOWN),
    ],
)
def test_cyclonedx_severity_words(word: str, expected: Severity) -> None:
    (finding,) = load(
        bom(vuln(ratings=[{"source": {"name": "ubuntu"}, "severity": word}]))
    ).findings
    assert finding.severity is expected
    assert "unrecognised_severities" not in load(bom(vuln(ratings=[{"severity": word}]))).metadata


def test_an_unknown_severity_word_is_noted() -> None:
    scan = load(bom(vuln(ratings=[{"severity": "severe"}])))
    assert scan.findings[0].severity is Severity.UNKNOWN
    assert scan.metadata["unrecognised_severities"] == "severe"


def test_trivy_recommendation_gives_the_fixed_versions() -> None:
    (finding,) = load(
        bom(vuln(recommendation="Upgrade activesupport to version 6.0.3.1, 5.2.4.3"))
    ).findings
    assert finding.fixed_versions == ("6.0.3.1", "5.2.4.3")
    assert finding.fix_state is FixState.FIXED
    (finding,) = load(bom(vuln(recommendation="Consider removing the package"))).findings
    assert finding.fixed_versions == ()
    assert finding.fix_state is FixState.UNKNOWN


def test_a_dangling_ref_keeps_the_ref_as_package_name() -> None:
    doc = bom(
        vuln(affects=[{"ref": "gerbwetbqt"}]),
        vuln(
            affects=[
                {
                    "ref": "pkg:deb/debian/tar@1.30%2Bdfsg-6",
                    "versions": [{"version": "1.30+dfsg-6", "status": "affected"}],
                }
            ]
        ),
    )
    scan = load(doc)
    assert [(f.package_name, f.package_version, f.purl) for f in scan.findings] == [
        ("gerbwetbqt", "", None),
        ("pkg:deb/debian/tar@1.30%2Bdfsg-6", "1.30+dfsg-6", "pkg:deb/debian/tar@1.30%2Bdfsg-6"),
    ]
    assert scan.metadata["dangling_refs"] == "2"


def test_a_bom_link_into_this_document_resolves_and_into_another_dangles() -> None:
    here = f"urn:cdx:{SERIAL.removeprefix('urn:uuid:')}/1#c2"
    elsewhere = "urn:cdx:00000000-0000-0000-0000-000000000000/1#c2"
    scan = load(bom(vuln(affects=[{"ref": here}, {"ref": elsewhere}])))
    assert [f.package_name for f in scan.findings] == ["zlib", elsewhere]


def test_a_vulnerability_without_affects_applies_to_the_subject() -> None:
    (finding,) = load(bom(vuln(affects=[]))).findings
    assert finding.package_name == "ubuntu:22.04"


def test_a_vulnerability_without_affects_and_without_subject_is_an_error() -> None:
    doc = bom(vuln(affects=None))
    del doc["metadata"]["component"]
    assert error_of(doc) == (
        "cdx.json: vulnerabilities[0].affects: the vulnerability names no affected component"
        " and the document has no metadata.component it could apply to"
    )


@pytest.mark.parametrize(
    "state", ["not_affected", "false_positive", "resolved", "resolved_with_pedigree"]
)
def test_findings_the_document_itself_marks_inactive_are_counted_not_returned(state: str) -> None:
    scan = load(
        bom(
            vuln(analysis={"state": state, "justification": "code_not_reachable"}), vuln(id="CVE-2")
        )
    )
    assert [f.id for f in scan.findings] == ["CVE-2"]
    assert scan.metadata["suppressed"] == "1"


@pytest.mark.parametrize("state", ["exploitable", "in_triage"])
def test_active_analysis_states_keep_the_finding(state: str) -> None:
    assert len(load(bom(vuln(analysis={"state": state}))).findings) == 1


def test_an_empty_vulnerabilities_section_is_a_clean_report() -> None:
    assert load(bom()).findings == ()
    assert load(bom(vulnerabilities=None)).findings == ()


def test_an_sbom_without_vulnerabilities_is_not_a_clean_scan() -> None:
    doc = bom()
    del doc["vulnerabilities"]
    assert error_of(doc) == (
        "cdx.json: vulnerabilities: this CycloneDX document has no vulnerabilities section:"
        " it is an SBOM, not a scanner report"
    )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (bom(vuln(id=None)), "cdx.json: vulnerabilities[0].id: required field is missing"),
        (bom(vuln(), vuln(id=5)), "cdx.json: vulnerabilities[1].id: expected a string, got number"),
        (
            bom(vuln(affects="x")),
            "cdx.json: vulnerabilities[0].affects: expected an array, got string",
        ),
        (
            bom(vuln(affects=[{"versions": []}])),
            "cdx.json: vulnerabilities[0].affects[0].ref: required field is missing",
        ),
        (
            bom(vuln(ratings=[{"score": "high"}])),
            "cdx.json: vulnerabilities[0].ratings[0].score: expected a number, got string",
        ),
        (
            bom(vuln(ratings=[{"severity": 3}])),
            "cdx.json: vulnerabilities[0].ratings[0].severity: expected a string, got number",
        ),
        (
            bom(vuln(ratings=[{"source": "nvd"}])),
            "cdx.json: vulnerabilities[0].ratings[0].source: expected an object, got string",
        ),
        (
            bom(vuln(ratings=[{"score": 12, "method": "CVSSv31"}])),
            "cdx.json: vulnerabilities[0].ratings[0].score: CVSS score 12.0 is not within 0-10",
        ),
        (
            bom(vuln(references=["GHSA-1"])),
            "cdx.json: vulnerabilities[0].references[0]: expected an object, got string",
        ),
        (
            bom(vuln(analysis="not_affected")),
            "cdx.json: vulnerabilities[0].analysis: expected an object, got string",
        ),
        (
            bom(vuln(recommendation=1)),
            "cdx.json: vulnerabilities[0].recommendation: expected a string, got number",
        ),
        (bom("CVE-1"), "cdx.json: vulnerabilities[0]: expected an object, got string"),
        (bom(vulnerabilities={}), "cdx.json: vulnerabilities: expected an array, got object"),
    ],
)
def test_malformed_vulnerabilities_are_one_exact_line(document: object, message: str) -> None:
    assert error_of(document) == message


XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <metadata><tools><tool><vendor>anchore</vendor><name>grype</name><version>0.41.0</version></tool></tools></metadata>
  <components>
    <component bom-ref="log4j" type="library"><name>log4j-core</name><version>2.13.2</version>
      <purl>pkg:maven/org.apache.logging.log4j/log4j-core@2.13.2</purl></component>
  </components>
  <vulnerabilities>
    <vulnerability>
      <id>CVE-2021-44228</id>
      <source><name>nvd:cpe</name></source>
      <ratings>
        <rating><severity>critical</severity></rating>
        <rating><score>10</score><method>CVSSv31</method><vector>CVSS:3.1/AV:N</vector></rating>
      </ratings>
      <affects><target><ref>log4j</ref></target></affects>
    </vulnerability>
  </vulnerabilities>
</bom>
"""


def test_cyclonedx_xml_vulnerabilities_are_read_too() -> None:
    scan = load_scan_report(XML, "bom.xml")
    (finding,) = scan.findings
    assert (finding.id, finding.package_name, finding.severity) == (
        "CVE-2021-44228",
        "log4j-core",
        Severity.CRITICAL,
    )
    assert finding.cvss == (CvssScore("", "3.x", 10.0, "CVSS:3.1/AV:N"),)
    assert scan.metadata["encoding"] == "xml"
    assert scan.scanner == "grype"


@pytest.mark.parametrize("text", [b"ten", b"nan", b"inf"])
def test_a_non_numeric_xml_score_is_an_error(text: bytes) -> None:
    data = XML.replace(b"<score>10</score>", b"<score>" + text + b"</score>")
    with pytest.raises(InputError) as excinfo:
        load_scan_report(data, "bom.xml")
    assert (
        str(excinfo.value)
        == "bom.xml: vulnerabilities[0].ratings[1].score: expected a number, got string"
    )
