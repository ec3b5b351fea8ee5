"""Grype JSON adapter: mapping, both schemas, every empty shape, quirks and malformed input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners import finding as finding_module
from gate.scanners import grype
from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.grype import parse_grype_report
from gate.scanners.merge import merge_duplicate_findings

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32


def vulnerability(**fields: Any) -> dict[str, Any]:
    """A minimal current-schema vulnerability, with ``fields`` overriding or adding keys."""
    base: dict[str, Any] = {
        "id": "CVE-2024-0001",
        "dataSource": "https://security-tracker.debian.org/tracker/CVE-2024-0001",
        "namespace": "debian:distro:debian:12",
        "severity": "High",
        "urls": [],
        "cvss": [],
        "fix": {"versions": ["1.2.4"], "state": "fixed"},
        "advisories": [],
    }
    base.update(fields)
    return base


def artifact(**fields: Any) -> dict[str, Any]:
    """A package; its purl follows ``name`` unless given."""
    name = fields.get("name", "openssl")
    base: dict[str, Any] = {
        "id": "a1b2c3",
        "name": name,
        "version": "1.2.3",
        "type": "deb",
        "locations": [{"path": "/var/lib/dpkg/status", "layerID": OTHER_DIGEST}],
        "purl": f"pkg:deb/debian/{name}@1.2.3?arch=amd64",
    }
    base.update(fields)
    return base


def match(vuln: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "vulnerability": vuln if vuln is not None else vulnerability(),
        "relatedVulnerabilities": [],
        "matchDetails": [{"type": "exact-direct-match", "matcher": "dpkg-matcher"}],
        "artifact": artifact(),
    }
    base.update(fields)
    return base


def report(*matches: object, **top: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "matches": list(matches),
        "source": {"type": "image", "target": {"userInput": "app:1", "manifestDigest": DIGEST}},
        "distro": {"name": "debian", "version": "12", "idLike": []},
        "descriptor": {"name": "grype", "version": "0.80.0", "timestamp": ""},
    }
    doc.update(top)
    return doc


def load(document: object) -> ScanReport:
    """Through the format sniffer, as the CLI will, then the adapter."""
    detected = detect_format(json.dumps(document).encode(), "scan.json")
    assert detected.format == "grype"
    return parse_grype_report(detected.document, "scan.json")


def error_of(document: object) -> str:
    with pytest.raises(InputError) as excinfo:
        parse_grype_report(document, "scan.json")
    return str(excinfo.value)


# --- mapping ---------------------------------------------------------------------------------


def test_a_match_maps_onto_every_finding_field() -> None:
    vuln = vulnerability(
        id="GHSA-aaaa-bbbb-cccc",
        namespace="github:language:python",
        cvss=[
            {
                "source": "ghsa",
                "type": "Primary",
                "version": "3.1",
                "vector": "CVSS:3.1/AV:N",
                "metrics": {"baseScore": 7.5, "exploitabilityScore": 3.9},
                "vendorMetadata": {},
            }
        ],
        epss=[{"cve": "CVE-2024-0001", "epss": 0.02, "percentile": 0.5, "date": "2025-01-01"}],
        knownExploited=[{"cve": "CVE-2024-0001", "knownRansomwareCampaignUse": "Unknown"}],
        fix={
            "versions": ["2.0.1", "1.9.9"],
            "state": "fixed",
            "available": [
                {"version": "2.0.1", "date": "2024-03-02", "kind": "first-observed"},
                {"version": "1.9.9", "date": "2024-02-20", "kind": "advisory"},
            ],
        },
        risk=12.5,
    )
    related = {
        "id": "CVE-2024-0001",
        "dataSource": "https://nvd.nist.gov/vuln/detail/CVE-2024-0001",
        "namespace": "nvd:cpe",
        "severity": "Critical",
        "cvss": [{"version": "2.0", "vector": "AV:N", "metrics": {"baseScore": 9}}],
        "epss": [{"cve": "CVE-2024-0001", "epss": 0.4, "percentile": 0.9, "date": "2025-01-01"}],
    }
    locations = [
        {"path": "/app/requirements.txt"},
        {
            "path": "/usr/lib/python3/site-packages/x/METADATA",
            "annotations": {"evidence": "primary"},
        },
    ]
    doc = report(
        match(
            vuln,
            relatedVulnerabilities=[related],
            artifact=artifact(name="x", version="1.0", type="python", locations=locations, purl=""),
        )
    )
    (finding,) = load(doc).findings
    assert finding == Finding(
        id="GHSA-aaaa-bbbb-cccc",
        package_name="x",
        package_version="1.0",
        # The match's own rating (GitHub's), not the related NVD record's higher one.
        severity=Severity.HIGH,
        aliases=("CVE-2024-0001",),
        package_type="python",
        purl=None,
        target="/usr/lib/python3/site-packages/x/METADATA",
        cvss=(
            CvssScore("ghsa", "3.x", 7.5, "CVSS:3.1/AV:N"),
            CvssScore("nvd:cpe", "2.0", 9.0, "AV:N"),
        ),
        fixed_versions=("2.0.1", "1.9.9"),
        fix_state=FixState.FIXED,
        severity_source="github:language:python",
        raw_severity="High",
        primary_url="https://security-tracker.debian.org/tracker/CVE-2024-0001",
        epss=0.4,
        kev=True,
        fix_published=datetime(2024, 2, 20, tzinfo=UTC),
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

    monkeypatch.setattr(grype, "build_finding", spy)
    (finding,) = load(report(match())).findings
    # The adapter names exactly Finding's fields, so the fast path was taken.
    assert named == [finding_module.FINDING_FIELDS]
    ordinary = Finding(**vars(finding))
    assert finding == ordinary
    assert hash(finding) == hash(ordinary)
    assert repr(finding) == repr(ordinary)
    with pytest.raises(AttributeError):
        finding.id = "changed"  # type: ignore[misc]  # proving the instance stays frozen


def test_the_ordinary_constructor_gives_the_same_findings(monkeypatch: pytest.MonkeyPatch) -> None:
    doc = report(match(), match(artifact=artifact(name="libssl")))
    fast = load(doc)
    monkeypatch.setattr(finding_module, "PLAIN_FINDING", False)
    assert load(doc).findings == fast.findings


def test_the_grype_0_7_schema() -> None:
    old = {
        "vulnerability": {
            "id": "CVE-2019-18276",
            "severity": "Negligible",
            "links": ["https://security-tracker.debian.org/tracker/CVE-2019-18276"],
            "cvssV2": {"baseScore": 7.2, "vector": "AV:L/AC:L/Au:N/C:C/I:C/A:C"},
            "cvssV3": {"baseScore": 7.8, "vector": "CVSS:3.1/AV:L"},
            "fixedInVersion": "5.0-5",
        },
        "matchDetails": {"matcher": "dpkg-matcher", "searchKey": {}, "matchedOn": {}},
        "artifact": {
            "name": "bash",
            "version": "5.0-4",
            "type": "deb",
            "locations": [{"path": "/var/lib/dpkg/status", "layerID": DIGEST}],
            "cpes": [{"Part": "a", "Vendor": "bash", "Product": "bash"}],
            "purl": "pkg:deb/debian/bash@5.0-4?arch=amd64",
        },
    }
    no_fix = json.loads(json.dumps(old))
    del no_fix["vulnerability"]["fixedInVersion"]
    no_fix["artifact"]["name"] = "libbash"
    no_fix["artifact"]["purl"] = "pkg:deb/debian/libbash@5.0-4?arch=amd64"
    scan = load(report(old, no_fix, descriptor={"name": "grype", "version": "0.7.0"}))
    fixed, unfixed = scan.findings
    assert (fixed.severity, fixed.raw_severity, fixed.severity_source) == (
        Severity.LOW,
        "Negligible",
        None,
    )
    assert fixed.cvss == (
        CvssScore("", "3.x", 7.8, "CVSS:3.1/AV:L"),
        CvssScore("", "2.0", 7.2, "AV:L/AC:L/Au:N/C:C/I:C/A:C"),
    )
    assert fixed.primary_url == "https://security-tracker.debian.org/tracker/CVE-2019-18276"
    assert (fixed.fix_state, fixed.fixed_versions) == (FixState.FIXED, ("5.0-5",))
    # No fix object and no fixedInVersion: the package is listed as vulnerable, unfixed.
    assert (unfixed.fix_state, unfixed.fixed_versions) == (FixState.NOT_FIXED, ())


# --- severity --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Negligible", Severity.LOW),
        ("Low", Severity.LOW),
        ("Medium", Severity.MEDIUM),
        ("High", Severity.HIGH),
        ("Critical", Severity.CRITICAL),
        ("critical", Severity.CRITICAL),
        ("Unknown", Severity.UNKNOWN),
        (None, Severity.UNKNOWN),
    ],
)
def test_severity_words_map_onto_the_scale(word: str | None, expected: Severity) -> None:
    vuln = vulnerability(severity=word)
    if word is None:
        del vuln["severity"]
    (finding,) = load(report(match(vuln))).findings
    assert finding.severity is expected
    assert finding.raw_severity == word


def test_an_unknown_severity_word_is_unknown_with_a_note_not_an_error() -> None:
    scan = load(report(match(vulnerability(severity="Severe"))))
    assert scan.findings[0].severity is Severity.UNKNOWN
    assert scan.metadata["unrecognised_severities"] == "Severe"


def test_a_missing_severity_takes_the_related_records_rating() -> None:
    """grype 0.96 wrote no severity for an NVD match whose GHSA record says High."""
    vuln = vulnerability(namespace="nvd:cpe")
    del vuln["severity"]
    related = [
        {"id": "GHSA-1", "namespace": "github:language:java", "severity": "High"},
        {"id": "CVE-X", "namespace": "other", "severity": "Low"},
    ]
    scan = load(report(match(vuln, relatedVulnerabilities=related)))
    (finding,) = scan.findings
    assert (finding.severity, finding.raw_severity, finding.severity_source) == (
        Severity.HIGH,
        "High",
        "github:language:java",
    )
    assert scan.metadata["severity_from_related_or_cvss"] == "1"


def test_an_unknown_severity_without_related_ratings_takes_the_highest_cvss_score() -> None:
    vuln = vulnerability(
        severity="Unknown",
        cvss=[
            {"source": "nvd", "version": "3.1", "vector": "v", "metrics": {"baseScore": 9.8}},
            {"source": "x", "version": "2.0", "vector": "w", "metrics": {"baseScore": 5.0}},
        ],
    )
    (finding,) = load(report(match(vuln))).findings
    assert (finding.severity, finding.raw_severity, finding.severity_source) == (
        Severity.CRITICAL,
        "Unknown",
        "nvd",
    )


def test_a_known_vendor_rating_beats_a_higher_related_rating() -> None:
    vuln = vulnerability(severity="Negligible")
    related = [{"id": "CVE-2024-0001", "namespace": "nvd:cpe", "severity": "High"}]
    scan = load(report(match(vuln, relatedVulnerabilities=related)))
    assert scan.findings[0].severity is Severity.LOW
    assert "severity_from_related_or_cvss" not in scan.metadata


# --- fix state -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fix", "state", "versions"),
    [
        ({"versions": ["1.2.4", "2.0.1"], "state": "fixed"}, FixState.FIXED, ("1.2.4", "2.0.1")),
        ({"versions": [], "state": "not-fixed"}, FixState.NOT_FIXED, ()),
        ({"versions": [], "state": "wont-fix"}, FixState.WONT_FIX, ()),
        ({"versions": [], "state": "unknown"}, FixState.UNKNOWN, ()),
        ({"versions": [], "state": ""}, FixState.UNKNOWN, ()),
        ({"versions": ["3.4.0"], "state": ""}, FixState.FIXED, ("3.4.0",)),
        ({}, FixState.UNKNOWN, ()),
        (None, FixState.UNKNOWN, ()),
    ],
)
def test_fix_state_and_versions(
    fix: dict[str, Any] | None, state: FixState, versions: tuple[str, ...]
) -> None:
    (finding,) = load(report(match(vulnerability(fix=fix)))).findings
    assert (finding.fix_state, finding.fixed_versions) == (state, versions)


def test_an_unknown_fix_state_is_unknown_with_a_note() -> None:
    scan = load(report(match(vulnerability(fix={"versions": [], "state": "pending"}))))
    assert scan.findings[0].fix_state is FixState.UNKNOWN
    assert scan.metadata["unrecognised_fix_states"] == "pending"


def test_fix_dates_that_are_empty_are_skipped() -> None:
    fix = {"versions": ["1"], "state": "fixed", "available": [{"version": "1", "date": ""}]}
    (finding,) = load(report(match(vulnerability(fix=fix)))).findings
    assert finding.fix_published is None


@pytest.mark.parametrize("date", ["yesterday", "2024-02-30", "0001-01-01", "2024-02-20T00:00:00Z"])
def test_a_malformed_fix_date_is_an_error(date: str) -> None:
    fix = {"versions": ["1"], "state": "fixed", "available": [{"version": "1", "date": date}]}
    assert error_of(report(match(vulnerability(fix=fix)))) == (
        "scan.json: matches[0].vulnerability.fix.available[0].date:"
        f" expected a date YYYY-MM-DD, got {date!r}"
    )


# --- report fields ---------------------------------------------------------------------------


def test_report_fields_come_from_the_document() -> None:
    doc = report(
        match(),
        descriptor={
            "name": "grype",
            "version": "0.96.0",
            "timestamp": "2024-02-22T19:46:26.372724916+01:00",
            "db": {"built": "2024-02-22T01:23:26Z", "schemaVersion": 5},
        },
        source={
            "type": "image",
            "target": {
                "userInput": f"ghcr.io/org/app:1@{DIGEST}",
                "imageID": "sha256:" + "ee" * 32,
                "manifestDigest": OTHER_DIGEST,
                "repoDigests": [f"ghcr.io/org/app@{DIGEST}"],
                "tags": ["ghcr.io/org/app:1"],
            },
        },
    )
    scan = load(doc)
    assert (scan.format, scan.source, scan.scanner, scan.scanner_version) == (
        "grype",
        "scan.json",
        "grype",
        "0.96.0",
    )
    assert scan.artifact_name == f"ghcr.io/org/app:1@{DIGEST}"
    # The image ID is the config digest: kept as metadata, never bound to.
    assert scan.artifact_digests == frozenset({Digest.parse(DIGEST), Digest.parse(OTHER_DIGEST)})
    assert scan.metadata["image_id"] == "sha256:" + "ee" * 32
    assert scan.created_at == datetime(
        2024, 2, 22, 19, 46, 26, 372724, tzinfo=timezone(timedelta(hours=1))
    )
    assert scan.metadata["db_built"] == "2024-02-22T01:23:26Z"
    assert scan.metadata["db_schema_version"] == "5"
    assert scan.metadata["distro"] == "debian 12"
    assert scan.metadata["source_type"] == "image"


def test_database_schema_6_status() -> None:
    descriptor = {
        "name": "grype",
        "version": "0.94.0",
        "db": {"status": {"schemaVersion": "v6.0.2", "built": "2025-06-19T04:12:38Z"}},
    }
    scan = load(report(descriptor=descriptor))
    assert scan.metadata["db_schema_version"] == "v6.0.2"
    assert scan.metadata["db_built"] == "2025-06-19T04:12:38Z"


def test_snapshot_placeholders_mean_unknown() -> None:
    descriptor = {"name": "grype", "version": "[not provided]", "timestamp": ""}
    scan = load(report(descriptor=descriptor))
    assert scan.scanner_version is None
    assert scan.created_at is None
    assert "created_at_unparsed" not in scan.metadata


def test_an_unparseable_timestamp_is_unknown_and_noted() -> None:
    scan = load(report(descriptor={"name": "grype", "timestamp": "2024-02-22T19:46:26"}))
    assert scan.created_at is None
    assert scan.metadata["created_at_unparsed"] == "2024-02-22T19:46:26"


@pytest.mark.parametrize(
    ("scanned", "name"),
    [
        ({"type": "directory", "target": "/some/path"}, "/some/path"),
        ({"type": "file", "target": "app.tar"}, "app.tar"),
        ({"type": "unknown", "target": "unknown"}, None),
        ({"type": "image", "target": None}, None),
        (None, None),
    ],
)
def test_sources_without_an_image(scanned: dict[str, Any] | None, name: str | None) -> None:
    scan = load(report(source=scanned))
    assert scan.artifact_name == name
    assert scan.artifact_digests == frozenset()


def test_unreadable_digests_are_noted_and_block_binding_by_name_when_nothing_else_is_left() -> None:
    target = {"userInput": "test-image:latest", "manifestDigest": "sha256:test", "repoDigests": []}
    scan = load(report(source={"type": "image", "target": target}))
    assert scan.artifact_digests == frozenset()
    assert scan.metadata["unparsed_subject_digests"] == "sha256:test"

    target = {"userInput": "x", "manifestDigest": DIGEST, "repoDigests": ["REDACTED"]}
    scan = load(report(source={"type": "image", "target": target}))
    assert scan.artifact_digests == frozenset({Digest.parse(DIGEST)})
    assert scan.metadata["unparsed_digests"] == "REDACTED"
    assert "unparsed_subject_digests" not in scan.metadata


def test_ignored_matches_are_counted_not_returned() -> None:
    ignored = {**match(), "appliedIgnoreRules": [{"vulnerability": "CVE-2024-0001"}]}
    scan = load(report(match(vulnerability(id="CVE-9")), ignoredMatches=[ignored, ignored]))
    assert [f.id for f in scan.findings] == ["CVE-9"]
    assert scan.metadata["suppressed"] == "2"


# --- duplicates ------------------------------------------------------------------------------


def test_the_same_match_twice_is_one_finding() -> None:
    scan = load(report(match(), match()))
    assert len(scan.findings) == 1
    assert scan.metadata["duplicates_merged"] == "1"


def test_the_same_vulnerability_at_two_locations_stays_two_findings() -> None:
    first = match(artifact=artifact(locations=[{"path": "/lib/libc.so.6"}]))
    second = match(artifact=artifact(locations=[{"path": "/usr/lib/libc.so.6"}]))
    scan = load(report(first, second))
    assert [f.target for f in scan.findings] == ["/lib/libc.so.6", "/usr/lib/libc.so.6"]
    assert "duplicates_merged" not in scan.metadata


def test_copies_merge_towards_the_stricter_reading() -> None:
    base = Finding(
        id="CVE-1",
        package_name="p",
        package_version="1",
        severity=Severity.LOW,
        aliases=("GHSA-1",),
        cvss=(CvssScore("a", "3.x", 3.0, "v"),),
        fix_state=FixState.NOT_FIXED,
        severity_source="debian",
        raw_severity="Low",
        epss=0.1,
        fix_published=datetime(2024, 3, 1, tzinfo=UTC),
        purl="pkg:deb/p@1",
    )
    other = Finding(
        id="CVE-1",
        package_name="p",
        package_version="1",
        severity=Severity.HIGH,
        aliases=("CVE-1", "GHSA-2"),
        cvss=(CvssScore("a", "3.x", 3.0, "v"), CvssScore("b", "3.x", 8.0, "w")),
        fixed_versions=("2",),
        fix_state=FixState.FIXED,
        severity_source="nvd",
        raw_severity="High",
        epss=0.3,
        kev=True,
        fix_published=datetime(2024, 2, 1, tzinfo=UTC),
        purl="pkg:deb/p@1",
    )
    unrelated = Finding(id="CVE-2", package_name="p", package_version="1", severity=Severity.LOW)
    (merged, kept), dropped = merge_duplicate_findings([base, unrelated, other])
    assert dropped == 1
    assert kept is unrelated
    assert merged == Finding(
        id="CVE-1",
        package_name="p",
        package_version="1",
        severity=Severity.HIGH,
        aliases=("GHSA-1", "GHSA-2"),
        purl="pkg:deb/p@1",
        cvss=(CvssScore("a", "3.x", 3.0, "v"), CvssScore("b", "3.x", 8.0, "w")),
        fixed_versions=("2",),
        fix_state=FixState.FIXED,
        severity_source="nvd",
        raw_severity="High",
        epss=0.3,
        kev=True,
        fix_published=datetime(2024, 2, 1, tzinfo=UTC),
    )


def test_not_affected_survives_a_merge_only_when_every_copy_says_so() -> None:
    quiet = Finding("C", "p", "1", Severity.LOW, fix_state=FixState.NOT_AFFECTED)
    loud = Finding("C", "p", "1", Severity.LOW, fix_state=FixState.UNKNOWN)
    assert merge_duplicate_findings([quiet, loud])[0][0].fix_state is FixState.UNKNOWN
    assert merge_duplicate_findings([quiet, quiet])[0][0].fix_state is FixState.NOT_AFFECTED


# --- every empty shape -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        None,
        {"descriptor": {"name": "grype"}},
        {"matches": None, "descriptor": {"name": "grype"}},
        {"matches": [], "descriptor": {"name": "grype"}},
        {"matches": {}, "descriptor": {"name": "grype"}},
        report(ignoredMatches=None),
    ],
    ids=["document-null", "matches-absent", "matches-null", "matches-empty", "matches-{}", "ign"],
)
def test_every_no_findings_shape_is_an_empty_report(document: object) -> None:
    scan = parse_grype_report(document, "scan.json")
    assert scan.findings == ()
    assert scan.scanner == "grype"
    assert scan.format == "grype"


# --- malformed input: one line naming the file, the JSON path and the reason -----------------


def _with(path: tuple[str | int, ...], value: object, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with the value at ``path`` replaced (or the key deleted when ``value`` is ...)."""
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


M = ("matches", 0)
V = (*M, "vulnerability")
A = (*M, "artifact")


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("matches",), "x", "matches: expected an array, got string"),
        (M, [1], "matches[0]: expected an object, got array"),
        (V, ..., "matches[0].vulnerability: required field is missing"),
        (A, "openssl", "matches[0].artifact: expected an object, got string"),
        ((*V, "id"), 7, "matches[0].vulnerability.id: expected a string, got number"),
        ((*V, "id"), "", "matches[0].vulnerability.id: must not be empty"),
        ((*A, "name"), ..., "matches[0].artifact.name: required field is missing"),
        ((*A, "version"), 1.0, "matches[0].artifact.version: expected a string, got number"),
        ((*A, "purl"), ["pkg:x"], "matches[0].artifact.purl: expected a string, got array"),
        ((*V, "severity"), 3, "matches[0].vulnerability.severity: expected a string, got number"),
        (
            (*V, "dataSource"),
            {},
            "matches[0].vulnerability.dataSource: expected a string, got object",
        ),
        ((*V, "cvss"), {}, "matches[0].vulnerability.cvss: expected an array, got object"),
        ((*V, "cvss"), ["x"], "matches[0].vulnerability.cvss[0]: expected an object, got string"),
        (
            (*V, "cvss"),
            [{"version": "3.1", "metrics": {"baseScore": "9.8"}}],
            "matches[0].vulnerability.cvss[0].metrics.baseScore: expected a number, got string",
        ),
        (
            (*V, "cvss"),
            [{"version": "3.1", "metrics": {"baseScore": 98}}],
            "matches[0].vulnerability.cvss[0].metrics.baseScore:"
            " CVSS score 98.0 is not within 0-10",
        ),
        (
            (*V, "cvssV2"),
            {"baseScore": True},
            "matches[0].vulnerability.cvssV2.baseScore: expected a number, got boolean",
        ),
        (
            (*V, "epss"),
            [{"epss": 3}],
            "matches[0].vulnerability.epss[0].epss: EPSS 3.0 is not a probability (0-1)",
        ),
        (
            (*V, "knownExploited"),
            ["CVE-1"],
            "matches[0].vulnerability.knownExploited[0]: expected an object, got string",
        ),
        ((*V, "fix"), [], "matches[0].vulnerability.fix: expected an object, got array"),
        (
            (*V, "fix", "versions"),
            ["1", 2],
            "matches[0].vulnerability.fix.versions[1]: expected a string, got number",
        ),
        (
            (*V, "fix", "state"),
            1,
            "matches[0].vulnerability.fix.state: expected a string, got number",
        ),
        (
            (*M, "relatedVulnerabilities"),
            [{"severity": "High"}],
            "matches[0].relatedVulnerabilities[0].id: required field is missing",
        ),
        (
            (*M, "relatedVulnerabilities"),
            "CVE-1",
            "matches[0].relatedVulnerabilities: expected an array, got string",
        ),
        (
            (*A, "locations"),
            ["/var/lib/dpkg/status"],
            "matches[0].artifact.locations[0]: expected an object, got string",
        ),
        (
            (*A, "locations"),
            [{"path": 1}],
            "matches[0].artifact.locations[0].path: expected a string, got number",
        ),
        ((*A, "locations"), {}, "matches[0].artifact.locations: expected an array, got object"),
        (
            ("source", "target", "repoDigests"),
            [1],
            "source.target.repoDigests[0]: expected a string, got number",
        ),
        (("source", "target"), 5, "source.target: expected an object or a string, got number"),
        (("descriptor", "version"), 1, "descriptor.version: expected a string, got number"),
        (("ignoredMatches",), [None], "ignoredMatches[0]: expected an object, got null"),
    ],
)
def test_malformed_fields_are_one_line_errors(
    path: tuple[str | int, ...], value: object, message: str
) -> None:
    assert error_of(_with(path, value, report(match()))) == f"scan.json: {message}"


@pytest.mark.parametrize("document", [[], "grype", 1])
def test_a_document_that_is_not_an_object_is_an_error(document: object) -> None:
    assert error_of(document).startswith("scan.json: expected a Grype report object, got ")


@pytest.mark.parametrize(("valid", "boolean"), [(1, True), (1.0, True), (0, False), (0.0, False)])
def test_a_boolean_score_is_refused_even_after_an_equal_number(valid: float, boolean: bool) -> None:
    """``true == 1``: the CVSS cache must not let a boolean through as a seen score."""
    first = vulnerability(cvss=[{"version": "3.1", "metrics": {"baseScore": valid}}])
    second = vulnerability(cvss=[{"version": "3.1", "metrics": {"baseScore": boolean}}])
    doc = report(match(first), match(second, artifact=artifact(name="libssl")))
    assert error_of(doc) == (
        "scan.json: matches[1].vulnerability.cvss[0].metrics.baseScore:"
        " expected a number, got boolean"
    )


def test_ratings_are_read_per_match_even_when_ids_repeat() -> None:
    one = vulnerability(cvss=[{"version": "3.1", "vector": "a", "metrics": {"baseScore": 7.5}}])
    two = vulnerability(cvss=[{"version": "3.1", "vector": "b", "metrics": {"baseScore": 9.8}}])
    scan = load(
        report(
            match(one),
            match(one, artifact=artifact(name="libssl")),
            match(two, artifact=artifact(name="libx")),
            match(vulnerability(), artifact=artifact(name="liby")),
        )
    )
    assert [f.cvss for f in scan.findings] == [
        (CvssScore("debian:distro:debian:12", "3.x", 7.5, "a"),),
        (CvssScore("debian:distro:debian:12", "3.x", 7.5, "a"),),
        (CvssScore("debian:distro:debian:12", "3.x", 9.8, "b"),),
        (),
    ]
