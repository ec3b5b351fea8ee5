"""Harbor adapter: wrapped and bare reports, every empty shape, malformed input, CVSS, digests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.harbor import HARBOR_REPORT_MIME_TYPES, parse_harbor_report

MIME_V11, MIME_V10 = HARBOR_REPORT_MIME_TYPES
DIGEST = "sha256:" + "ab" * 32
CHILD = "sha256:" + "cd" * 32
WRAPPED_PATH = '["application/vnd.security.vulnerability.report; version=1.1"]'


def item(**fields: Any) -> dict[str, Any]:
    """A v1.1 vulnerability item as the Trivy adapter writes it."""
    base: dict[str, Any] = {
        "id": "CVE-2022-1304",
        "package": "e2fsprogs",
        "version": "1.46.2-2",
        "fix_version": "1.46.2-2+deb11u1",
        "severity": "High",
        "description": "An out-of-bounds read/write.",
        "links": ["https://avd.aquasec.com/nvd/cve-2022-1304"],
        "layer": {"digest": "sha256:" + "11" * 32, "diff_id": "sha256:" + "22" * 32},
        "preferred_cvss": {"score_v3": 7.8, "score_v2": None, "vector_v3": "", "vector_v2": ""},
        "cwe_ids": ["CWE-125"],
        "vendor_attributes": {
            "CVSS": {
                "nvd": {
                    "V2Score": 6.8,
                    "V2Vector": "AV:N/AC:M/Au:N/C:P/I:P/A:P",
                    "V3Score": 7.8,
                    "V3Vector": "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                },
                "redhat": {"V3Score": 5.8, "V3Vector": "CVSS:3.1/AV:L/AC:H"},
            }
        },
        "artifact_digests": [DIGEST],
    }
    base.update(fields)
    return base


def bare(*items: Any, **fields: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "generated_at": "2023-09-08T00:19:11.258693685Z",
        "artifact": {
            "repository": "library/alpine",
            "digest": DIGEST,
            "tag": "3.10",
            "mime_type": "application/vnd.oci.image.manifest.v1+json",
        },
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.44.0"},
        "severity": "Critical",
        "vulnerabilities": list(items),
    }
    doc.update(fields)
    return doc


def wrapped(report: Any, mime: str = MIME_V11) -> dict[str, Any]:
    return {mime: report}


def load(document: Any) -> ScanReport:
    return parse_harbor_report(document, "harbor.json")


def error_of(document: Any) -> str:
    with pytest.raises(InputError) as excinfo:
        load(document)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("harbor.json")
    return message


def only(report: ScanReport) -> Finding:
    (finding,) = report.findings
    return finding


# --- mapping -------------------------------------------------------------------------------------


def test_a_wrapped_v11_report_maps_onto_the_report_and_finding() -> None:
    report = load(wrapped(bare(item())))
    assert (report.format, report.scanner, report.scanner_version) == ("harbor", "trivy", "v0.44.0")
    assert report.created_at == datetime(2023, 9, 8, 0, 19, 11, 258693, tzinfo=UTC)
    assert report.artifact_digests == frozenset({Digest.parse(DIGEST)})
    # The repository lacks the registry host: never an image name to bind by.
    assert report.artifact_name is None
    assert dict(report.metadata) == {
        "mime_type": MIME_V11,
        "scanner_vendor": "Aqua Security",
        "artifact_repository": "library/alpine",
        "artifact_tag": "3.10",
        "artifact_mime_type": "application/vnd.oci.image.manifest.v1+json",
        "reported_severity": "Critical",
    }
    assert only(report) == Finding(
        id="CVE-2022-1304",
        package_name="e2fsprogs",
        package_version="1.46.2-2",
        severity=Severity.HIGH,
        cvss=(
            CvssScore("nvd", "3.x", 7.8, "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"),
            CvssScore("nvd", "2.0", 6.8, "AV:N/AC:M/Au:N/C:P/I:P/A:P"),
            CvssScore("redhat", "3.x", 5.8, "CVSS:3.1/AV:L/AC:H"),
        ),
        fixed_versions=("1.46.2-2+deb11u1",),
        fix_state=FixState.FIXED,
        raw_severity="High",
        primary_url="https://avd.aquasec.com/nvd/cve-2022-1304",
    )


def test_the_old_mime_type_and_the_bare_report_read_alike() -> None:
    old = load(wrapped(bare(item()), MIME_V10))
    plain = load(bare(item()))
    assert old.findings == plain.findings
    assert old.metadata["mime_type"] == MIME_V10
    assert "mime_type" not in plain.metadata


@pytest.mark.parametrize("mime", HARBOR_REPORT_MIME_TYPES)
def test_detection_routes_wrapped_reports_here(mime: str) -> None:
    detected = detect_format(json.dumps(wrapped(bare(item()), mime)).encode(), "harbor.json")
    assert detected.format == "harbor"
    assert len(parse_harbor_report(detected.document, "harbor.json").findings) == 1


@pytest.mark.parametrize(
    "report",
    [
        bare(),
        bare(vulnerabilities=None),
        {"generated_at": "2024-01-01T00:00:00Z", "scanner": {}},
        {"scanner": {"name": "Clair"}, "severity": "None", "vulnerabilities": None},
    ],
    ids=["empty-list", "null", "absent", "severity-none"],
)
@pytest.mark.parametrize("wrap", [False, True], ids=["bare", "wrapped"])
def test_every_empty_shape_is_a_report_without_findings(report: Any, wrap: bool) -> None:
    loaded = load(wrapped(report) if wrap else report)
    assert loaded.findings == ()


def test_an_empty_object_is_no_report_at_all() -> None:
    # What Harbor answers for an artifact it has not scanned: never "no findings".
    assert "has no vulnerability report for this artifact" in error_of({})


def test_severity_vocabulary_and_the_summary_is_recomputed_not_trusted() -> None:
    words = ["None", "Unknown", "Negligible", "Low", "Medium", "High", "Critical", "Severe", None]
    items = [item(id=f"CVE-2024-{i:04d}", severity=w) for i, w in enumerate(words)]
    report = load(bare(*items, severity="Critical"))
    assert [f.severity for f in report.findings] == [
        Severity.UNKNOWN,
        Severity.UNKNOWN,
        Severity.LOW,
        Severity.LOW,
        Severity.MEDIUM,
        Severity.HIGH,
        Severity.CRITICAL,
        Severity.UNKNOWN,
        Severity.UNKNOWN,
    ]
    assert report.metadata["unrecognised_severities"] == "Severe"
    summary = load(bare(item(severity="Low"), severity="Critical"))
    assert summary.metadata["reported_severity"] == "Critical"
    assert only(summary).severity is Severity.LOW


@pytest.mark.parametrize(
    ("fix", "versions", "state"),
    [
        ("", (), FixState.NOT_FIXED),
        (None, (), FixState.NOT_FIXED),
        ("2.6.9, 3.1.0", ("2.6.9", "3.1.0"), FixState.FIXED),
    ],
)
def test_fix_version(fix: str | None, versions: tuple[str, ...], state: FixState) -> None:
    finding = only(load(bare(item(fix_version=fix))))
    assert (finding.fixed_versions, finding.fix_state) == (versions, state)


def test_minimal_item_without_optional_fields() -> None:
    finding = only(load(bare({"id": "CVE-YYYY-002", "package": "package-2"})))
    assert (finding.package_version, finding.severity, finding.cvss, finding.primary_url) == (
        "",
        Severity.UNKNOWN,
        (),
        None,
    )


# --- CVSS ----------------------------------------------------------------------------------------


def test_preferred_cvss_adds_only_what_vendor_ratings_do_not_say() -> None:
    preferred = {"score_v3": 9.1, "score_v2": 5.0, "vector_v3": "CVSS:3.1/X", "vector_v2": None}
    finding = only(load(bare(item(vendor_attributes={}, preferred_cvss=preferred))))
    assert finding.cvss == (
        CvssScore("preferred", "3.x", 9.1, "CVSS:3.1/X"),
        CvssScore("preferred", "2.0", 5.0, None),
    )
    repeated = only(load(bare(item())))
    assert all(c.source != "preferred" for c in repeated.cvss)


def test_v10_spec_item_scores_may_be_numeric_strings() -> None:
    doc = bare(
        item(
            vendor_attributes=None,
            preferred_cvss=None,
            cve3_score="7.5",
            cvss3_vector="CVSS:3.0/AV:N",
            cve2_score=4,
        )
    )
    assert only(load(doc)).cvss == (
        CvssScore("harbor", "3.x", 7.5, "CVSS:3.0/AV:N"),
        CvssScore("harbor", "2.0", 4.0, None),
    )


def test_vendor_attributes_other_than_cvss_are_ignored_and_v4_is_read() -> None:
    attributes = {
        "fingerprint": "abc",
        "CVSS": {"ghsa": {"V40Score": 6.3, "V40Vector": "CVSS:4.0/x"}},
    }
    finding = only(load(bare(item(vendor_attributes=attributes, preferred_cvss=None))))
    assert finding.cvss == (CvssScore("ghsa", "4.0", 6.3, "CVSS:4.0/x"),)


# --- digests and dedupe --------------------------------------------------------------------------


def test_item_digests_bind_the_report_and_unreadable_ones_are_reported() -> None:
    doc = bare(
        item(artifact_digests=[CHILD, "sha256:1829318312389123819231839"]),
        artifact=None,
    )
    report = load(doc)
    assert report.artifact_digests == frozenset({Digest.parse(CHILD)})
    assert report.metadata["unparsed_artifact_digests"] == "sha256:1829318312389123819231839"


def test_a_report_without_digests_binds_nothing() -> None:
    report = load(bare(item(artifact_digests=None), artifact=None))
    assert (report.artifact_digests, report.artifact_name) == (frozenset(), None)


def test_duplicate_items_are_merged() -> None:
    doc = bare(item(), item(severity="Critical", fix_version="1.47.0"), item(id="CVE-2022-9999"))
    report = load(doc)
    assert report.metadata["duplicates_merged"] == "1"
    first, second = report.findings
    assert (first.severity, first.fixed_versions) == (
        Severity.CRITICAL,
        ("1.46.2-2+deb11u1", "1.47.0"),
    )
    assert second.id == "CVE-2022-9999"


def test_unparseable_generated_at_is_kept_in_metadata() -> None:
    report = load(bare(generated_at="yesterday"))
    assert report.created_at is None
    assert report.metadata["created_at_unparsed"] == "yesterday"


# --- malformed -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "expected a Harbor vulnerability report object, got array"),
        (None, "expected a Harbor vulnerability report object, got null"),
        (
            {MIME_V11: None},
            f"{WRAPPED_PATH}: expected a Harbor vulnerability report object, got null",
        ),
        (
            {MIME_V11: []},
            f"{WRAPPED_PATH}: expected a Harbor vulnerability report object, got array",
        ),
        ({"application/json": {}}, "expected one report keyed by"),
        ({MIME_V11: {}, MIME_V10: {}}, "expected one report keyed by"),
    ],
)
def test_malformed_wrappers(document: Any, expected: str) -> None:
    assert expected in error_of(document)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"id": None}, "vulnerabilities[0].id: required field is missing"),
        ({"id": ""}, "vulnerabilities[0].id: must not be empty"),
        ({"package": 5}, "vulnerabilities[0].package: expected a string, got number"),
        ({"version": 1.2}, "vulnerabilities[0].version: expected a string, got number"),
        ({"severity": 3}, "vulnerabilities[0].severity: expected a string, got number"),
        ({"links": "https://x"}, "vulnerabilities[0].links: expected an array, got string"),
        ({"links": [1]}, "vulnerabilities[0].links[0]: expected a string, got number"),
        ({"cwe_ids": [None]}, "vulnerabilities[0].cwe_ids[0]: expected a string, got null"),
        ({"layer": "sha256:x"}, "vulnerabilities[0].layer: expected an object, got string"),
        (
            {"artifact_digests": [7]},
            "vulnerabilities[0].artifact_digests[0]: expected a digest string, got number",
        ),
        (
            {"vendor_attributes": {"CVSS": {"nvd": 7.5}}},
            "vulnerabilities[0].vendor_attributes.CVSS.nvd: expected an object, got number",
        ),
        (
            {"vendor_attributes": {"CVSS": {"nvd": {"V3Score": "high"}}}},
            "vendor_attributes.CVSS.nvd.V3Score: expected a CVSS score, got 'high'",
        ),
        (
            {"vendor_attributes": {"CVSS": {"nvd": {"V3Score": 11}}}},
            "vendor_attributes.CVSS.nvd.V3Score: CVSS score 11 is not within 0-10",
        ),
        (
            {"preferred_cvss": {"score_v3": True}},
            "vulnerabilities[0].preferred_cvss.score_v3: expected a number, got boolean",
        ),
        (
            {"preferred_cvss": {"score_v3": 7.0, "vector_v3": 7}},
            "vulnerabilities[0].preferred_cvss.vector_v3: expected a string, got number",
        ),
    ],
)
def test_malformed_items(fields: dict[str, Any], expected: str) -> None:
    assert error_of(bare(item(**fields))).endswith(expected)
    message = error_of(wrapped(bare(item(**fields))))
    assert f"{WRAPPED_PATH}.vulnerabilities[0]." in message
    assert message.endswith(expected)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"vulnerabilities": {}}, "vulnerabilities: expected an array, got object"),
        (
            {"vulnerabilities": [None]},
            "vulnerabilities[0]: expected a vulnerability object, got null",
        ),
        ({"scanner": "Trivy"}, "scanner: expected an object, got string"),
        ({"generated_at": 5}, "generated_at: expected a string, got number"),
        (
            {"artifact": {"digest": "sha256:short"}},
            "artifact.digest: not a valid digest: 'sha256:short'",
        ),
        ({"artifact": {"digest": 5}}, "artifact.digest: expected a string, got number"),
        ({"severity": []}, "severity: expected a string, got array"),
    ],
)
def test_malformed_report_fields(fields: dict[str, Any], expected: str) -> None:
    assert error_of(bare(**fields)).endswith(expected)
