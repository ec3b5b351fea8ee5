"""Trivy JSON adapter: mapping, every empty shape, malformed input, severity and fix state."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners import finding as finding_module
from gate.scanners import trivy
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.load import load_scan_report

DIGEST = "sha256:" + "ab" * 32


def vuln(**fields: Any) -> dict[str, Any]:
    """A minimal valid Trivy vulnerability, with ``fields`` overriding or adding keys."""
    base: dict[str, Any] = {
        "VulnerabilityID": "CVE-2024-0001",
        "PkgName": "openssl",
        "InstalledVersion": "1.1.1k-r0",
        "Severity": "HIGH",
    }
    base.update(fields)
    return base


def report(*results: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"SchemaVersion": 2, "ArtifactName": "img:1", "Results": list(results)}
    doc.update(top)
    return doc


def result(*vulns: object, **fields: Any) -> dict[str, Any]:
    res: dict[str, Any] = {
        "Target": "img:1 (alpine 3.19.1)",
        "Class": "os-pkgs",
        "Type": "alpine",
        "Vulnerabilities": list(vulns),
    }
    res.update(fields)
    return res


def load(document: object) -> ScanReport:
    return load_scan_report(json.dumps(document).encode(), "scan.json")


def error_of(document: object) -> str:
    with pytest.raises(InputError) as excinfo:
        load(document)
    return str(excinfo.value)


# --- mapping ---------------------------------------------------------------------------------


def test_a_vulnerability_maps_onto_every_finding_field() -> None:
    doc = report(
        result(
            vuln(
                VendorIDs=["GHSA-aaaa-bbbb-cccc"],
                PkgIdentifier={"PURL": "pkg:apk/alpine/openssl@1.1.1k-r0?arch=x86_64", "UID": "1"},
                FixedVersion="1.1.1l-r0, 3.0.1-r0",
                Status="fixed",
                SeveritySource="nvd",
                Title="openssl: bug",
                PrimaryURL="https://avd.aquasec.com/nvd/cve-2024-0001",
                CVSS={
                    "nvd": {
                        "V2Vector": "AV:N",
                        "V2Score": 5,
                        "V3Vector": "CVSS:3.1/AV:N",
                        "V3Score": 7.5,
                    },
                    "ghsa": {"V40Vector": "CVSS:4.0/AV:N", "V40Score": 6.3},
                },
            )
        )
    )
    (finding,) = load(doc).findings
    assert finding == Finding(
        id="CVE-2024-0001",
        package_name="openssl",
        package_version="1.1.1k-r0",
        severity=Severity.HIGH,
        aliases=("GHSA-aaaa-bbbb-cccc",),
        package_type="alpine",
        purl="pkg:apk/alpine/openssl@1.1.1k-r0?arch=x86_64",
        target="img:1 (alpine 3.19.1)",
        cvss=(
            CvssScore("nvd", "3.x", 7.5, "CVSS:3.1/AV:N"),
            CvssScore("nvd", "2.0", 5.0, "AV:N"),
            CvssScore("ghsa", "4.0", 6.3, "CVSS:4.0/AV:N"),
        ),
        fixed_versions=("1.1.1l-r0", "3.0.1-r0"),
        fix_state=FixState.FIXED,
        severity_source="nvd",
        raw_severity="HIGH",
        title="openssl: bug",
        primary_url="https://avd.aquasec.com/nvd/cve-2024-0001",
    )
    assert isinstance(finding.cvss[1].score, float)


def test_fast_built_findings_behave_exactly_like_constructed_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert finding_module.PLAIN_FINDING, "Finding is no longer a plain frozen dataclass"
    named: list[frozenset[str]] = []

    def spy(values: dict[str, Any]) -> Finding:
        named.append(frozenset(values))
        return finding_module.build_finding(values)

    monkeypatch.setattr(trivy, "build_finding", spy)
    (finding,) = load(report(result(vuln()))).findings
    # The adapter names exactly Finding's fields, so the fast path was taken.
    assert named == [finding_module.FINDING_FIELDS]
    ordinary = Finding(**vars(finding))
    assert finding == ordinary
    assert hash(finding) == hash(ordinary)
    assert repr(finding) == repr(ordinary)
    assert replace(finding, id="X").id == "X"
    with pytest.raises(AttributeError):
        finding.id = "changed"  # type: ignore[misc]  # proving the instance stays frozen


@pytest.mark.parametrize(("valid", "boolean"), [(1, True), (1.0, True), (0, False), (0.0, False)])
def test_a_boolean_score_is_refused_even_after_an_equal_number(valid: float, boolean: bool) -> None:
    """``true == 1``: the CVSS caches must not let a boolean through as a seen score."""
    first = vuln(CVSS={"nvd": {"V3Score": valid, "V3Vector": "v"}})
    second = vuln(PkgName="libssl", CVSS={"nvd": {"V3Score": boolean, "V3Vector": "v"}})
    assert error_of(report(result(first, second))) == (
        "scan.json: Results[0].Vulnerabilities[1].CVSS.nvd.V3Score: expected a number, got boolean"
    )


def test_cvss_is_read_per_finding_even_when_ids_repeat() -> None:
    scan = load(
        report(
            result(
                vuln(CVSS={"nvd": {"V3Score": 7.5, "V3Vector": "a"}}),
                vuln(PkgName="libssl", CVSS={"nvd": {"V3Score": 7.5, "V3Vector": "a"}}),
                vuln(PkgName="libx", CVSS={"nvd": {"V3Score": 9.8, "V3Vector": "b", "V3X": [1]}}),
                vuln(PkgName="liby"),
            )
        )
    )
    assert [f.cvss for f in scan.findings] == [
        (CvssScore("nvd", "3.x", 7.5, "a"),),
        (CvssScore("nvd", "3.x", 7.5, "a"),),
        (CvssScore("nvd", "3.x", 9.8, "b"),),
        (),
    ]


def test_the_ordinary_constructor_gives_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = report(result(vuln(VendorIDs=["GHSA-1"], CVSS={"nvd": {"V3Score": 5.5}})))
    fast = load(doc)
    monkeypatch.setattr(finding_module, "PLAIN_FINDING", False)
    assert load(doc).findings == fast.findings


def test_report_fields_come_from_the_document() -> None:
    doc = report(
        result(vuln()),
        CreatedAt="2021-08-25T12:20:30.000000005Z",
        Trivy={"Version": "0.50.1"},
        ArtifactType="container_image",
        Metadata={
            "ImageID": "sha256:" + "cd" * 32,
            "RepoDigests": [f"ghcr.io/org/img@{DIGEST}", ""],
        },
    )
    scan = load(doc)
    assert scan.format == "trivy"
    assert scan.source == "scan.json"
    assert scan.artifact_name == "img:1"
    assert scan.scanner == "trivy"
    assert scan.scanner_version == "0.50.1"
    assert scan.created_at == datetime(2021, 8, 25, 12, 20, 30, tzinfo=UTC)
    # The image ID is the config digest: kept as metadata, never as an artifact digest.
    assert scan.artifact_digests == frozenset({Digest.parse(DIGEST)})
    assert scan.metadata["image_id"] == "sha256:" + "cd" * 32
    assert scan.metadata["schema_version"] == "2"
    assert scan.metadata["suppressed"] == "0"


def test_created_at_keeps_its_utc_offset() -> None:
    scan = load(report(CreatedAt="2024-09-09T13:21:09.230231+06:00"))
    assert scan.created_at == datetime(
        2024, 9, 9, 13, 21, 9, 230231, tzinfo=timezone(timedelta(hours=6))
    )


@pytest.mark.parametrize("text", ["yesterday", "2021-08-25T12:20:30", "0001-01-01T00:00:00Z"])
def test_an_untrustworthy_created_at_is_unknown_and_noted(text: str) -> None:
    scan = load(report(CreatedAt=text))
    assert scan.created_at is None
    assert scan.metadata["created_at_unparsed"] == text


def test_only_vulnerability_classes_are_read() -> None:
    doc = report(
        result(vuln(VulnerabilityID="CVE-1")),
        result(
            vuln(VulnerabilityID="CVE-2"), Class="lang-pkgs", Type="npm", Target="package-lock.json"
        ),
        {"Target": "secret.env", "Class": "secret", "Secrets": [{"RuleID": "aws"}]},
        {"Target": "Dockerfile", "Class": "config", "Misconfigurations": [{}]},
        {"Target": "x", "Class": "license", "Licenses": []},
        {"Target": "y", "Class": "custom", "CustomResources": []},
    )
    scan = load(doc)
    assert [f.id for f in scan.findings] == ["CVE-1", "CVE-2"]
    assert scan.findings[1].package_type == "npm"
    assert scan.metadata["skipped_results"] == "config=1,custom=1,license=1,secret=1"


def test_an_unknown_class_that_lists_vulnerabilities_is_still_read() -> None:
    scan = load(report(result(vuln(), Class="binary-pkgs")))
    assert len(scan.findings) == 1


def test_findings_suppressed_by_trivy_are_counted_not_returned() -> None:
    suppressed = {"Type": "vulnerability", "Status": "not_affected", "Finding": vuln()}
    doc = report(
        result(vuln(VulnerabilityID="CVE-9"), ExperimentalModifiedFindings=[suppressed] * 2)
    )
    scan = load(doc)
    assert [f.id for f in scan.findings] == ["CVE-9"]
    assert scan.metadata["suppressed"] == "2"


def test_the_legacy_array_is_read() -> None:
    doc = [
        {"Target": "node-app/package-lock.json", "Type": "npm", "Vulnerabilities": [vuln()]},
        {"Target": "python-app/Pipfile.lock", "Type": "pip", "Vulnerabilities": None},
    ]
    scan = load(doc)
    assert scan.format == "trivy"
    assert scan.metadata["schema_version"] == "legacy"
    assert scan.artifact_name is None
    assert [(f.target, f.package_type) for f in scan.findings] == [
        ("node-app/package-lock.json", "npm")
    ]


# --- every empty shape -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        None,
        {"SchemaVersion": 2, "ArtifactName": "x"},
        {"SchemaVersion": 2, "Results": None},
        {"SchemaVersion": 2, "Results": []},
        report({"Target": "t", "Class": "os-pkgs", "Type": "alpine"}),
        report(result(Vulnerabilities=None)),
        report(result()),
        [{"Target": "t", "Vulnerabilities": None}],
        [{"Target": "t"}],
    ],
    ids=[
        "document-null",
        "results-absent",
        "results-null",
        "results-empty",
        "vulnerabilities-absent",
        "vulnerabilities-null",
        "vulnerabilities-empty",
        "legacy-vulnerabilities-null",
        "legacy-vulnerabilities-absent",
    ],
)
def test_every_no_findings_shape_is_an_empty_report(document: object) -> None:
    scan = load(document)
    assert scan.findings == ()
    assert scan.scanner == "trivy"


# --- severity and fix state ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("UNKNOWN", Severity.UNKNOWN),
        ("LOW", Severity.LOW),
        ("MEDIUM", Severity.MEDIUM),
        ("HIGH", Severity.HIGH),
        ("CRITICAL", Severity.CRITICAL),
        ("critical", Severity.CRITICAL),
        ("High", Severity.HIGH),
        ("NEGLIGIBLE", Severity.LOW),
        (None, Severity.UNKNOWN),
    ],
)
def test_severity_words_map_onto_the_scale(word: str | None, expected: Severity) -> None:
    fields = {"Severity": word} if word is not None else {}
    base = vuln(**fields)
    if word is None:
        del base["Severity"]
    (finding,) = load(report(result(base))).findings
    assert finding.severity is expected
    assert finding.raw_severity == word


def test_an_unknown_severity_word_is_unknown_with_a_note_not_an_error() -> None:
    scan = load(report(result(vuln(Severity="SEVERE"), vuln(Severity="BAD"))))
    assert {f.severity for f in scan.findings} == {Severity.UNKNOWN}
    assert scan.metadata["unrecognised_severities"] == "BAD,SEVERE"


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("fixed", FixState.FIXED),
        ("affected", FixState.NOT_FIXED),
        ("will_not_fix", FixState.WONT_FIX),
        ("fix_deferred", FixState.WONT_FIX),
        ("end_of_life", FixState.WONT_FIX),
        ("under_investigation", FixState.UNKNOWN),
        ("not_affected", FixState.NOT_AFFECTED),
        ("unknown", FixState.UNKNOWN),
    ],
)
def test_status_maps_onto_fix_state(status: str, expected: FixState) -> None:
    (finding,) = load(report(result(vuln(Status=status)))).findings
    assert finding.fix_state is expected


def test_an_unknown_status_is_unknown_with_a_note() -> None:
    scan = load(report(result(vuln(Status="pending_review"))))
    assert scan.findings[0].fix_state is FixState.UNKNOWN
    assert scan.metadata["unrecognised_statuses"] == "pending_review"


@pytest.mark.parametrize(
    ("fixed", "state", "versions"),
    [
        ("1.2.3", FixState.FIXED, ("1.2.3",)),
        ("2.6.9, 3.1.0, 3.2.7, 4.3.1", FixState.FIXED, ("2.6.9", "3.1.0", "3.2.7", "4.3.1")),
        (">=4.17.11", FixState.FIXED, (">=4.17.11",)),
        ("", FixState.NOT_FIXED, ()),
        (None, FixState.NOT_FIXED, ()),
    ],
)
def test_without_status_a_fixed_version_decides(
    fixed: str | None, state: FixState, versions: tuple[str, ...]
) -> None:
    fields = {} if fixed is None else {"FixedVersion": fixed}
    (finding,) = load(report(result(vuln(**fields)))).findings
    assert finding.fix_state is state
    assert finding.fixed_versions == versions


def test_status_wins_over_an_empty_fixed_version() -> None:
    (finding,) = load(report(result(vuln(Status="fixed")))).findings
    assert finding.fix_state is FixState.FIXED
    assert finding.fixed_versions == ()


# --- malformed input: one line naming the file, the JSON path and the reason -----------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            report(result(vuln(), vuln(VulnerabilityID=7))),
            "scan.json: Results[0].Vulnerabilities[1].VulnerabilityID:"
            " expected a string, got number",
        ),
        (
            report(result(vuln(PkgName=""))),
            "scan.json: Results[0].Vulnerabilities[0].PkgName: must not be empty",
        ),
        (
            report(result(vuln(PkgName=None))),
            "scan.json: Results[0].Vulnerabilities[0].PkgName: required field is missing",
        ),
        (
            report(result(vuln(InstalledVersion=None))),
            "scan.json: Results[0].Vulnerabilities[0].InstalledVersion:"
            " expected a string, got null",
        ),
        (
            report(result(vuln(Severity=3))),
            "scan.json: Results[0].Vulnerabilities[0].Severity: expected a string, got number",
        ),
        (
            report(result(vuln(FixedVersion=["1.0"]))),
            "scan.json: Results[0].Vulnerabilities[0].FixedVersion: expected a string, got array",
        ),
        (
            report(result(vuln(Status=True))),
            "scan.json: Results[0].Vulnerabilities[0].Status: expected a string, got boolean",
        ),
        (
            report(result(vuln(PkgIdentifier="pkg:npm/x@1"))),
            "scan.json: Results[0].Vulnerabilities[0].PkgIdentifier:"
            " expected an object, got string",
        ),
        (
            report(result(vuln(PkgIdentifier={"PURL": 1}))),
            "scan.json: Results[0].Vulnerabilities[0].PkgIdentifier.PURL:"
            " expected a string, got number",
        ),
        (
            report(result(vuln(VendorIDs="GHSA-x"))),
            "scan.json: Results[0].Vulnerabilities[0].VendorIDs:"
            " expected an array of strings, got string",
        ),
        (
            report(result(vuln(VendorIDs=[1]))),
            "scan.json: Results[0].Vulnerabilities[0].VendorIDs:"
            " expected an array of strings, got array",
        ),
        (
            report(result(vuln(CVSS=[]))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS: expected an object, got array",
        ),
        (
            report(result(vuln(CVSS={"nvd": 7.5}))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS.nvd: expected an object, got number",
        ),
        (
            report(result(vuln(CVSS={"nvd": {"V3Score": "7.5"}}))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS.nvd.V3Score:"
            " expected a number, got string",
        ),
        (
            report(result(vuln(CVSS={"nvd": {"V3Score": True}}))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS.nvd.V3Score:"
            " expected a number, got boolean",
        ),
        (
            report(result(vuln(CVSS={"nvd": {"V2Vector": ["AV:N"]}}))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS.nvd.V2Vector:"
            " expected a string, got array",
        ),
        (
            report(result(vuln(CVSS={"nvd": {"V3Score": 11}}))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS.nvd.V3Score:"
            " CVSS score 11 is not within 0-10",
        ),
        (
            report(result(vuln(CVSS={"nvd": {"V2Score": -1.5}}))),
            "scan.json: Results[0].Vulnerabilities[0].CVSS.nvd.V2Score:"
            " CVSS score -1.5 is not within 0-10",
        ),
        (
            report(result(vuln(CVSS={"n\nvd 2": 7.5}))),
            'scan.json: Results[0].Vulnerabilities[0].CVSS["n\\nvd 2"]:'
            " expected an object, got number",
        ),
        (
            report(result(vuln(Title={}))),
            "scan.json: Results[0].Vulnerabilities[0].Title: expected a string, got object",
        ),
        (
            report(result("CVE-1")),
            "scan.json: Results[0].Vulnerabilities[0]: expected an object, got string",
        ),
        (
            report(result(Vulnerabilities={})),
            "scan.json: Results[0].Vulnerabilities: expected an array, got object",
        ),
        (report(["x"]), "scan.json: Results[0]: expected an object, got array"),
        (
            {"SchemaVersion": 2, "Results": "none"},
            "scan.json: Results: expected an array, got string",
        ),
        (report(result(Class=1)), "scan.json: Results[0].Class: expected a string, got number"),
        (
            report(result(vuln(), Target=["t"])),
            "scan.json: Results[0].Target: expected a string, got array",
        ),
        (
            report(result(ExperimentalModifiedFindings=["x"])),
            "scan.json: Results[0].ExperimentalModifiedFindings[0]: expected an object, got string",
        ),
        (
            {"SchemaVersion": 1},
            "scan.json: SchemaVersion: Trivy SchemaVersion 1 is not supported (only 2)",
        ),
        (
            {"SchemaVersion": "2"},
            "scan.json: SchemaVersion: Trivy SchemaVersion '2' is not supported (only 2)",
        ),
        (report(CreatedAt=20210825), "scan.json: CreatedAt: expected a string, got number"),
        (report(Metadata=[]), "scan.json: Metadata: expected an object, got array"),
        (
            report(Metadata={"RepoDigests": ["img@sha256:short"]}),
            "scan.json: Metadata.RepoDigests[0]: not a valid digest: 'sha256:short'",
        ),
        (
            report(Metadata={"RepoDigests": [DIGEST]}),
            f"scan.json: Metadata.RepoDigests[0]: expected name@digest, got '{DIGEST}'",
        ),
    ],
)
def test_malformed_input_is_one_exact_line(document: object, message: str) -> None:
    assert error_of(document) == message


def _paths(value: object, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: object) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(document)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


FULL_REPORT = report(
    result(
        vuln(
            VendorIDs=["GHSA-1"],
            PkgIdentifier={"PURL": "pkg:apk/alpine/openssl@1"},
            FixedVersion="1, 2",
            Status="fixed",
            SeveritySource="nvd",
            Title="t",
            PrimaryURL="u",
            CVSS={"nvd": {"V3Score": 7.5, "V3Vector": "v", "V2Score": 5, "V40Score": 1.0}},
        ),
        ExperimentalModifiedFindings=[{"Status": "not_affected"}],
    ),
    {"Target": "s", "Class": "secret"},
    Trivy={"Version": "1"},
    CreatedAt="2024-01-01T00:00:00Z",
    Metadata={"ImageID": "sha256:x", "RepoDigests": [f"a@{DIGEST}"]},
)


@pytest.mark.parametrize("replacement", [None, 0, 1.5, True, "x", "", [], [1], {}, {"a": 1}])
def test_any_value_of_the_wrong_type_is_an_input_error_never_a_crash(replacement: object) -> None:
    """Every field of a full report, replaced by every JSON type: only InputError may escape."""
    for path in _paths(FULL_REPORT):
        message = _error_or_none(json.dumps(_set(FULL_REPORT, path, replacement)).encode())
        assert message is None or (message.startswith("scan.json: ") and "\n" not in message)


def _error_or_none(data: bytes) -> str | None:
    try:
        load_scan_report(data, "scan.json")
    except InputError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("missing", [{"VulnerabilityID": None}, {"VulnerabilityID": ""}])
def test_vulnerability_without_id_is_kept_under_a_placeholder(missing: dict[str, object]) -> None:
    loaded = load_scan_report(
        json.dumps(report(result(vuln(), vuln(Severity="CRITICAL", **missing)))).encode(),
        "scan.json",
    )
    assert [f.id for f in loaded.findings][1] == trivy.MISSING_ID
    assert loaded.findings[1].severity is Severity.CRITICAL
    assert loaded.metadata["findings_without_id"] == "1"
