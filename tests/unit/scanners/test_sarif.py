"""SARIF adapter: Trivy, grype and other tools, skipped results, empty shapes, malformed input."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.sarif import UNKNOWN_PACKAGE, parse_sarif_report

DIGEST = "sha256:" + "ab" * 32


def log(*runs: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"version": "2.1.0", "$schema": "https://json.schemastore.org/sarif"}
    doc["runs"] = list(runs)
    doc.update(top)
    return doc


def run(tool: str, rules: list[Any], results: list[Any], **fields: Any) -> dict[str, Any]:
    driver = {"name": tool, "version": "1.0.0", "rules": rules}
    if tool == "grype":
        driver["informationUri"] = "https://github.com/anchore/grype"
    doc: dict[str, Any] = {"tool": {"driver": driver}, "results": results}
    doc.update(fields)
    return doc


def trivy_rule(vuln_id: str = "CVE-2019-1549", **props: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "tags": ["vulnerability", "security", "MEDIUM"],
        "precision": "very-high",
        "security-severity": "5.3",
    }
    properties.update(props)
    return {
        "id": vuln_id,
        "name": "OsPackageVulnerability",
        "shortDescription": {"text": "openssl: information disclosure in fork()"},
        "defaultConfiguration": {"level": "warning"},
        "helpUri": f"https://avd.aquasec.com/nvd/{vuln_id.lower()}",
        "help": {
            "text": f"Vulnerability {vuln_id}\nSeverity: MEDIUM\nPackage: libssl1.1\n"
            "Fixed Version: 1.1.1d-r0\nLink: [x](y)\nDescription: with a colon"
        },
        "properties": properties,
    }


def trivy_result(
    vuln_id: str = "CVE-2019-1549",
    package: str = "libcrypto1.1",
    version: str = "1.1.1c-r0",
    fixed: str = "1.1.1d-r0",
    severity: str = "MEDIUM",
    **fields: Any,
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": vuln_id,
        "ruleIndex": 0,
        "level": "warning",
        "message": {
            "text": f"Package: {package}\nInstalled Version: {version}\n"
            f"Vulnerability {vuln_id}\nSeverity: {severity}\nFixed Version: {fixed}\n"
            f"Link: [{vuln_id}](https://avd.aquasec.com/nvd/{vuln_id.lower()})"
        },
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": "library/alpine", "uriBaseId": "ROOTPATH"},
                    "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1},
                },
                "message": {"text": f"library/alpine: {package}@{version}"},
            }
        ],
    }
    result.update(fields)
    return result


def grype_rule(
    rule_id: str = "CVE-1999-0001-package-1", severity: str = "low", **props: Any
) -> dict[str, Any]:
    vuln_id = rule_id.rsplit("-package", 1)[0]
    properties: dict[str, Any] = {"security-severity": "8.2"}
    properties.update(props)
    return {
        "id": rule_id,
        "name": "DpkgMatcherExactDirectMatch",
        "shortDescription": {"text": f"{vuln_id} {severity} vulnerability for package-1 package"},
        "helpUri": "https://github.com/anchore/grype",
        "help": {
            "text": f"Vulnerability {vuln_id}\nSeverity: {severity}\nPackage: package-1\n"
            "Version: 1.1.1\nFix Version: 1.2.1,2.1.3\nType: rpm\nLocation: somefile-1.txt\n"
            f"Data Namespace: \nLink: {vuln_id}"
        },
        "properties": properties,
    }


def grype_result(
    rule_id: str = "CVE-1999-0001-package-1", text: str | None = None, **fields: Any
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "level": "note",
        "message": {
            "text": text
            or "A low vulnerability in rpm package: package-1, version 1.1.1 was found"
            " in image user-input at: somefile-1.txt"
        },
        "locations": [
            {"physicalLocation": {"artifactLocation": {"uri": "user-input/somefile-1.txt"}}}
        ],
    }
    result.update(fields)
    return result


def load(document: object) -> ScanReport:
    """Through the format sniffer, as the CLI will, then the adapter."""
    detected = detect_format(json.dumps(document).encode(), "scan.sarif")
    assert detected.format == "sarif"
    return parse_sarif_report(detected.document, "scan.sarif")


def error_of(document: object) -> str:
    with pytest.raises(InputError) as excinfo:
        parse_sarif_report(document, "scan.sarif")
    return str(excinfo.value)


# --- Trivy -----------------------------------------------------------------------------------


def test_a_trivy_result_maps_onto_the_finding() -> None:
    rule = trivy_rule(
        cvssv3_baseScore=5.3,
        cvssv3_vector="CVSS:3.1/AV:N",
        cvssv2_score=5,
        cvssv2_vector="AV:N",
    )
    properties = {
        "imageName": "alpine:3.10",
        "imageID": "sha256:" + "ee" * 32,
        "repoDigests": [f"alpine@{DIGEST}"],
        "repoTags": ["alpine:3.10"],
    }
    scan = load(log(run("Trivy", [rule], [trivy_result()], properties=properties)))
    (finding,) = scan.findings
    assert finding == Finding(
        id="CVE-2019-1549",
        package_name="libcrypto1.1",
        package_version="1.1.1c-r0",
        severity=Severity.MEDIUM,
        target="library/alpine",
        cvss=(
            CvssScore("", "3.x", 5.3, "CVSS:3.1/AV:N"),
            CvssScore("", "2.0", 5.0, "AV:N"),
        ),
        fixed_versions=("1.1.1d-r0",),
        fix_state=FixState.FIXED,
        severity_source="message",
        raw_severity="MEDIUM",
        title="openssl: information disclosure in fork()",
        primary_url="https://avd.aquasec.com/nvd/cve-2019-1549",
    )
    assert (scan.format, scan.scanner, scan.scanner_version) == ("sarif", "trivy", "1.0.0")
    assert scan.artifact_name == "alpine:3.10"
    # imageID is the config digest: metadata only.
    assert scan.artifact_digests == frozenset({Digest.parse(DIGEST)})
    assert scan.metadata["image_id"] == "sha256:" + "ee" * 32


def test_trivy_fixed_versions_are_split_and_an_empty_one_is_not_borrowed_from_the_rule() -> None:
    scan = load(
        log(
            run(
                "Trivy",
                [trivy_rule()],
                [
                    trivy_result(package="a", fixed="3.1.0, 2.6.9"),
                    trivy_result(package="b", fixed=""),
                ],
            )
        )
    )
    first, second = scan.findings
    assert (first.fixed_versions, first.fix_state) == (("3.1.0", "2.6.9"), FixState.FIXED)
    # The rule's help names another package's fix: the message's empty line wins.
    assert (second.fixed_versions, second.fix_state) == ((), FixState.UNKNOWN)


@pytest.mark.parametrize(
    ("name", "tag", "kind"),
    [
        ("Misconfiguration", "misconfiguration", "misconfiguration"),
        ("Secret", "secret", "secret"),
        ("License", "license", "license"),
    ],
)
def test_trivy_results_that_are_not_vulnerabilities_are_counted_not_returned(
    name: str, tag: str, kind: str
) -> None:
    rule = {"id": "AWS-0086", "name": name, "properties": {"tags": [tag, "security", "HIGH"]}}
    result = {
        "ruleId": "AWS-0086",
        "ruleIndex": 0,
        "level": "error",
        "message": {"text": "Artifact: main.tf\nType: terraform\nVulnerability AWS-0086"},
    }
    scan = load(log(run("Trivy", [rule], [result, result])))
    assert scan.findings == ()
    assert scan.metadata["skipped_results"] == f"{kind}=2"


# --- grype -----------------------------------------------------------------------------------


def test_a_grype_result_maps_onto_the_finding() -> None:
    scan = load(log(run("grype", [grype_rule()], [grype_result()])))
    (finding,) = scan.findings
    assert finding == Finding(
        id="CVE-1999-0001",
        package_name="package-1",
        package_version="1.1.1",
        # grype's word says low; its security-severity (the best CVSS score) says 8.2.
        severity=Severity.HIGH,
        package_type="rpm",
        target="user-input/somefile-1.txt",
        fixed_versions=("1.2.1", "2.1.3"),
        fix_state=FixState.FIXED,
        severity_source="security-severity",
        raw_severity="low",
        title="CVE-1999-0001 low vulnerability for package-1 package",
        # grype's own home page is not a link about the vulnerability.
        primary_url=None,
    )
    assert scan.artifact_name == "user-input"
    assert scan.scanner == "grype"


def test_grype_purls_apply_only_to_their_version() -> None:
    rule = grype_rule(purls=["pkg:rpm/package-1@1.1.1"])
    other = grype_result(
        text="A low vulnerability in rpm package: package-1, version 2.0 was found at: /x"
    )
    scan = load(log(run("grype", [rule], [grype_result(), other])))
    assert [(f.package_version, f.purl) for f in scan.findings] == [
        ("1.1.1", "pkg:rpm/package-1@1.1.1"),
        ("2.0", None),
    ]


def test_grype_rule_id_loses_the_package_name_only_when_it_is_there() -> None:
    rule = grype_rule("GHSA-aaaa-bbbb-cccc-package-1")
    del rule["help"]
    scan = load(log(run("grype", [rule], [grype_result("GHSA-aaaa-bbbb-cccc-package-1")])))
    assert scan.findings[0].id == "GHSA-aaaa-bbbb-cccc"


def test_the_older_grype_message_and_a_digest_in_the_image_name() -> None:
    text = "The path /usr/lib/libz.so reports zlib at version 1.2.11  which is a vulnerable (deb)"
    text += " package installed in the container"
    rule = grype_rule("CVE-2022-37434-zlib", severity="critical", **{"security-severity": "9.8"})
    del rule["help"]
    image = grype_result(
        "CVE-2022-37434-zlib",
        text="A critical vulnerability in deb package: zlib, version 1.2.11 was found"
        f" in image app@{DIGEST} at: /usr/lib/libz.so",
    )
    scan = load(log(run("grype", [rule], [grype_result("CVE-2022-37434-zlib", text=text), image])))
    first = scan.findings[0]
    assert (first.id, first.package_name, first.package_version, first.package_type) == (
        "CVE-2022-37434",
        "zlib",
        "1.2.11",
        "deb",
    )
    assert first.severity is Severity.CRITICAL
    assert scan.artifact_digests == frozenset({Digest.parse(DIGEST)})
    assert scan.artifact_name == f"app@{DIGEST}"


def test_grypes_placeholder_version_means_unknown() -> None:
    doc = log(run("grype", [], []))
    doc["runs"][0]["tool"]["driver"]["version"] = "0.0.0-dev"
    assert load(doc).scanner_version is None


# --- severity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "score", "level", "expected", "origin"),
    [
        ("low", "8.2", "note", Severity.HIGH, "security-severity"),
        ("critical", "8.5", "error", Severity.CRITICAL, "message"),
        ("MEDIUM", "0.0", "warning", Severity.MEDIUM, "message"),
        (None, "9.1", None, Severity.CRITICAL, "security-severity"),
        (None, None, "error", Severity.HIGH, "level"),
        (None, None, "note", Severity.LOW, "level"),
        (None, None, "none", Severity.UNKNOWN, None),
        (None, None, None, Severity.UNKNOWN, None),
    ],
)
def test_the_higher_of_word_and_score_rates_the_finding(
    word: str | None, score: str | None, level: str | None, expected: Severity, origin: str | None
) -> None:
    props: dict[str, Any] = {"package": "p", "version": "1"}
    if word:
        props["severity"] = word
    rule: dict[str, Any] = {"id": "CVE-2024-1", "properties": {}}
    if score is not None:
        rule["properties"]["security-severity"] = score
    result: dict[str, Any] = {"ruleId": "CVE-2024-1", "message": {"text": ""}, "properties": props}
    if word:
        result["message"]["text"] = f"Severity: {word}"
    if level:
        result["level"] = level
    (finding,) = load(log(run("scanner-x", [rule], [result]))).findings
    assert (finding.severity, finding.severity_source) == (expected, origin)


def test_an_unknown_severity_word_is_noted() -> None:
    result = {"ruleId": "CVE-2024-1", "message": {"text": "Package: p\nSeverity: Severe"}}
    scan = load(log(run("scanner-x", [], [result])))
    assert scan.findings[0].severity is Severity.UNKNOWN
    assert scan.metadata["unrecognised_severities"] == "Severe"


# --- other tools -----------------------------------------------------------------------------


def test_another_tool_with_package_properties() -> None:
    result = {
        "ruleId": "CVE-2024-1234",
        "level": "error",
        "message": {"text": "lodash is vulnerable"},
        "properties": {
            "packageName": "lodash",
            "installedVersion": "4.17.20",
            "fixedVersion": "4.17.21",
        },
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "package-lock.json"}}}],
    }
    (finding,) = load(log(run("scanner-x", [], [result]))).findings
    assert (finding.id, finding.package_name, finding.package_version) == (
        "CVE-2024-1234",
        "lodash",
        "4.17.20",
    )
    assert (finding.fixed_versions, finding.target) == (("4.17.21",), "package-lock.json")


def test_a_purl_property_names_the_package() -> None:
    result = {
        "ruleId": "GHSA-2222-3333-4444",
        "message": {"text": "vulnerable"},
        "properties": {"purl": "pkg:npm/%40babel/core@7.0.0"},
    }
    (finding,) = load(log(run("scanner-x", [], [result]))).findings
    assert (finding.package_name, finding.purl) == ("@babel/core", "pkg:npm/%40babel/core@7.0.0")


def test_a_vulnerability_without_a_package_is_kept_and_counted() -> None:
    result = {"ruleId": "CVE-2024-1", "level": "error", "message": {"text": "bad"}}
    tagged = {"ruleId": "VULN-7", "ruleIndex": 0, "message": {"text": "bad"}}
    rule = {"id": "VULN-7", "properties": {"tags": ["security", "vulnerability"]}}
    scan = load(log(run("scanner-x", [rule], [result, tagged])))
    assert [(f.id, f.package_name) for f in scan.findings] == [
        ("CVE-2024-1", UNKNOWN_PACKAGE),
        ("VULN-7", UNKNOWN_PACKAGE),
    ]
    assert scan.metadata["findings_without_package"] == "2"


def test_code_scanning_results_are_not_vulnerabilities() -> None:
    result = {"ruleId": "js/sql-injection", "level": "error", "message": {"text": "Query built"}}
    scan = load(log(run("CodeQL", [], [result])))
    assert scan.findings == ()
    assert scan.metadata["skipped_results"] == "not-a-vulnerability=1"


@pytest.mark.parametrize("kind", ["pass", "notApplicable", "informational"])
def test_results_that_report_no_problem_are_skipped(kind: str) -> None:
    scan = load(log(run("Trivy", [trivy_rule()], [trivy_result(kind=kind)])))
    assert scan.findings == ()
    assert scan.metadata["skipped_results"] == f"kind-{kind}=1"


def test_suppressed_results_are_counted_not_returned() -> None:
    accepted = trivy_result(suppressions=[{"kind": "external", "status": "accepted"}])
    implied = trivy_result(package="b", suppressions=[{"kind": "inSource"}])
    review = trivy_result(package="c", suppressions=[{"kind": "external", "status": "underReview"}])
    absent = trivy_result(package="d", baselineState="absent")
    scan = load(log(run("Trivy", [trivy_rule()], [accepted, implied, review, absent])))
    assert [f.package_name for f in scan.findings] == ["c"]
    assert scan.metadata["suppressed"] == "2"
    assert scan.metadata["skipped_results"] == "baseline-absent=1"


def test_a_rule_is_found_by_id_when_there_is_no_index() -> None:
    rules = [trivy_rule("CVE-1"), trivy_rule("CVE-2", **{"security-severity": "9.8"})]
    result = trivy_result("CVE-2")
    del result["ruleIndex"]
    (finding,) = load(log(run("Trivy", rules, [result]))).findings
    assert (finding.severity, finding.primary_url) == (
        Severity.CRITICAL,
        "https://avd.aquasec.com/nvd/cve-2",
    )


def test_the_same_result_twice_is_one_finding() -> None:
    scan = load(log(run("Trivy", [trivy_rule()], [trivy_result(), trivy_result()])))
    assert len(scan.findings) == 1
    assert scan.metadata["duplicates_merged"] == "1"


def test_several_runs() -> None:
    first = run("Trivy", [trivy_rule()], [trivy_result()], properties={"imageName": "a:1"})
    second = run("grype", [grype_rule()], [grype_result()])
    scan = load(log(first, second))
    assert len(scan.findings) == 2
    assert scan.scanner == "trivy, grype"
    assert scan.scanner_version == "1.0.0"
    assert scan.artifact_name is None
    assert scan.metadata["artifact_names"] == "a:1, user-input"


def test_the_invocation_time_is_the_creation_time() -> None:
    invocations = [{"executionSuccessful": True, "endTimeUtc": "2024-05-01T10:00:00Z"}]
    scan = load(log(run("Trivy", [], [], invocations=invocations)))
    assert scan.created_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


# --- every empty shape -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        None,
        {"version": "2.1.0"},
        {"version": "2.1.0", "runs": None},
        {"version": "2.1.0", "runs": []},
        {"version": "2.1.0", "runs": {}},
        log({"tool": {"driver": {"name": "Trivy"}}}),
        log(run("Trivy", [], None)),  # type: ignore[arg-type]  # results: null
        log(run("Trivy", [], [])),
        log(run("Trivy", [], {})),  # type: ignore[arg-type]  # results: {}
    ],
    ids=[
        "document-null",
        "runs-absent",
        "runs-null",
        "runs-empty",
        "runs-{}",
        "results-absent",
        "results-null",
        "results-empty",
        "results-{}",
    ],
)
def test_every_no_findings_shape_is_an_empty_report(document: object) -> None:
    scan = parse_sarif_report(document, "scan.sarif")
    assert scan.findings == ()
    assert scan.format == "sarif"


def test_runs_that_computed_no_results_are_noted() -> None:
    scan = parse_sarif_report(log({"tool": {"driver": {"name": "Trivy"}}}), "scan.sarif")
    assert scan.metadata["runs_without_results"] == "1"


# --- malformed input -------------------------------------------------------------------------


def _trivy_log() -> dict[str, Any]:
    return log(run("Trivy", [trivy_rule()], [trivy_result()]))


def _with(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    doc = _trivy_log()
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


R = ("runs", 0, "results", 0)
RULE = ("runs", 0, "tool", "driver", "rules", 0)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("version",), "2.0.0", "version: SARIF version '2.0.0' is not supported (only 2.1.0)"),
        (("version",), None, "version: SARIF version 'null' is not supported (only 2.1.0)"),
        (("runs",), "x", "runs: expected an array, got string"),
        (("runs", 0), [], "runs[0]: expected an object, got array"),
        (("runs", 0, "results"), "x", "runs[0].results: expected an array, got string"),
        (R, 1, "runs[0].results[0]: expected an object, got number"),
        (
            (*R, "ruleIndex"),
            3,
            "runs[0].results[0].ruleIndex: 3 is not the index of one of the 1 rules"
            " in runs[0].tool.driver.rules",
        ),
        (
            (*R, "ruleId"),
            "CVE-9",
            "runs[0].results[0].ruleId: 'CVE-9' names a different rule than ruleIndex 0"
            " ('CVE-2019-1549')",
        ),
        ((*R, "message"), "text", "runs[0].results[0].message: expected an object, got string"),
        (
            (*R, "message", "text"),
            5,
            "runs[0].results[0].message.text: expected a string, got number",
        ),
        ((*R, "locations"), {}, "runs[0].results[0].locations: expected an array, got object"),
        (
            (*R, "suppressions"),
            ["x"],
            "runs[0].results[0].suppressions[0]: expected an object, got string",
        ),
        (
            (*RULE, "properties", "security-severity"),
            "high",
            "runs[0].tool.driver.rules[0].properties.security-severity:"
            " expected a score from 0 to 10, got 'high'",
        ),
        (
            (*RULE, "properties", "security-severity"),
            "11",
            "runs[0].tool.driver.rules[0].properties.security-severity:"
            " score 11.0 is not within 0-10",
        ),
        (
            (*RULE, "properties", "security-severity"),
            [],
            "runs[0].tool.driver.rules[0].properties.security-severity:"
            " expected a score from 0 to 10, got array",
        ),
        (
            (*RULE, "properties", "cvssv3_baseScore"),
            "5.3",
            "runs[0].tool.driver.rules[0].properties.cvssv3_baseScore:"
            " expected a number, got string",
        ),
        (
            (*RULE, "properties", "tags"),
            ["vulnerability", 3],
            "runs[0].tool.driver.rules[0].properties.tags[1]: expected a string, got number",
        ),
        (
            ("runs", 0, "tool", "driver", "rules", 0),
            "r",
            "runs[0].tool.driver.rules[0]: expected an object, got string",
        ),
        (
            ("runs", 0, "properties"),
            {"repoDigests": [1]},
            "runs[0].properties.repoDigests[0]: expected a string, got number",
        ),
    ],
)
def test_malformed_fields_are_one_line_errors(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    assert error_of(_with(path, value)) == f"scan.sarif: {message}"


def test_a_result_without_a_rule_is_an_error() -> None:
    result = trivy_result()
    del result["ruleId"], result["ruleIndex"]
    assert error_of(log(run("Trivy", [], [result]))) == (
        "scan.sarif: runs[0].results[0].ruleId: the result names no rule (no ruleId or rule.id)"
    )


@pytest.mark.parametrize("document", [[], "sarif", 2.1])
def test_a_document_that_is_not_an_object_is_an_error(document: object) -> None:
    assert error_of(document).startswith("scan.sarif: expected a SARIF log object, got ")


@pytest.mark.parametrize(
    ("purl", "name"),
    [
        ("pkg:npm/%40babel/core@7.0.0", "@babel/core"),
        ("pkg:npm/lodash@4.17.20", "lodash"),
        (
            "pkg:maven/org.apache.commons/commons-compress@1.21",
            "org.apache.commons:commons-compress",
        ),
        (
            "pkg:golang/github.com/docker/distribution@v2.7.1%2Bincompatible",
            "github.com/docker/distribution",
        ),
        ("pkg:deb/debian/bash@5.0-4?arch=amd64", "bash"),
        ("pkg:pypi/django", "django"),
    ],
)
def test_a_package_named_only_by_a_purl(purl: str, name: str) -> None:
    result = {"ruleId": "CVE-2024-1", "message": {"text": "x"}, "properties": {"purl": purl}}
    (finding,) = load(log(run("scanner-x", [], [result]))).findings
    assert (finding.package_name, finding.purl) == (name, purl)
