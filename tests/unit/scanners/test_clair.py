"""Clair adapters: v4 VulnerabilityReport and clair-scanner / klar / Clair v1 API documents.

Mapping, every empty shape, malformed input (one-line ``InputError`` naming
the file and the JSON path), severity fallbacks, aliases, fixed versions,
enrichments and the merging of duplicate findings.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.scanners import clair
from gate.scanners.clair import (
    clair_fixed_versions,
    cve_aliases,
    parse_clair_legacy_report,
    parse_clair_v4_report,
)
from gate.scanners.detect import FORMATS, detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.merge import merge_duplicate_findings

DIGEST = "sha256:" + "ab" * 32
CVSS_KEY = (
    "message/vnd.clair.map.vulnerability; enricher=clair.cvss"
    " schema=https://csrc.nist.gov/schema/nvd/feed/1.1/cvss-v3.x.json"
)
EPSS_KEY = "message/vnd.clair.map.vulnerability; enricher=clair.epss schema=https://x/epss"
KEV_KEY = "message/vnd.clair.map.vulnerability; enricher=clair.kev schema=https://x/kev"
DEBIAN = {
    "id": "",
    "did": "debian",
    "name": "Debian GNU/Linux",
    "version": "12 (bookworm)",
    "version_id": "12",
    "pretty_name": "Debian GNU/Linux 12 (bookworm)",
}


def vuln(**fields: Any) -> dict[str, Any]:
    """A v4 vulnerability object, with ``fields`` overriding or adding keys."""
    base: dict[str, Any] = {
        "id": "v1",
        "updater": "debian-bookworm-updater",
        "name": "CVE-2024-0001 openssl",
        "description": "A flaw.",
        "issued": "2024-02-01T10:00:00Z",
        "links": "https://security-tracker.debian.org/tracker/CVE-2024-0001 https://x.test/a",
        "severity": "high",
        "normalized_severity": "High",
        "package": {"id": "", "name": "openssl", "version": "", "kind": "binary"},
        "distribution": DEBIAN,
        "repository": {},
        "fixed_in_version": "3.0.11-1~deb12u2",
    }
    base.update(fields)
    return base


def v4(vulns: dict[str, Any] | None = None, pairs: Any = None, **top: Any) -> dict[str, Any]:
    """A v4 report: package ``p1`` (openssl 3.0.11-1~deb12u1) affected by every vulnerability."""
    vulns = {"v1": vuln()} if vulns is None else vulns
    doc: dict[str, Any] = {
        "manifest_hash": DIGEST,
        "packages": {
            "p1": {"id": "p1", "name": "openssl", "version": "3.0.11-1~deb12u1", "kind": "binary"},
            "p2": {"id": "p2", "name": "libssl3", "version": "3.0.11-1~deb12u1", "kind": "binary"},
        },
        "distributions": {"d1": DEBIAN},
        "repository": {},
        "environments": {},
        "vulnerabilities": vulns,
        "package_vulnerabilities": {"p1": list(vulns)} if pairs is None else pairs,
        "enrichments": {},
    }
    doc.update(top)
    return doc


def cvss_entry(score: float, severity: str | None = None, version: str = "3.1") -> dict[str, Any]:
    entry: dict[str, Any] = {
        "version": version,
        "vectorString": f"CVSS:{version}/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "baseScore": score,
    }
    if severity is not None:
        entry["baseSeverity"] = severity
    return entry


def load_v4(document: Any) -> ScanReport:
    return parse_clair_v4_report(document, "clair.json")


def v4_error(document: Any) -> str:
    with pytest.raises(InputError) as excinfo:
        load_v4(document)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("clair.json")
    return message


def only(report: ScanReport) -> Finding:
    (finding,) = report.findings
    return finding


# --- v4 mapping --------------------------------------------------------------------------------


def test_a_v4_pair_maps_onto_every_finding_field() -> None:
    doc = v4(enrichments={CVSS_KEY: [{"v1": [cvss_entry(9.8, "CRITICAL")]}]})
    report = load_v4(doc)
    assert report.format == "clair-v4"
    assert report.scanner == "clair"
    assert report.artifact_digests == frozenset({Digest.parse(DIGEST)})
    assert report.artifact_name is None
    assert only(report) == Finding(
        id="CVE-2024-0001",
        package_name="openssl",
        package_version="3.0.11-1~deb12u1",
        severity=Severity.HIGH,
        target="Debian GNU/Linux 12 (bookworm)",
        cvss=(CvssScore("nvd", "3.x", 9.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),),
        fixed_versions=("3.0.11-1~deb12u2",),
        fix_state=FixState.FIXED,
        severity_source="debian-bookworm-updater",
        raw_severity="high",
        title="CVE-2024-0001 openssl",
        primary_url="https://security-tracker.debian.org/tracker/CVE-2024-0001",
        published=datetime(2024, 2, 1, 10, tzinfo=UTC),
    )
    assert report.metadata["pairs"] == "1"


def test_detection_routes_a_v4_report_here() -> None:
    detected = detect_format(json.dumps(v4()).encode(), "clair.json")
    assert detected.format == "clair-v4"
    assert len(parse_clair_v4_report(detected.document, "clair.json").findings) == 1


@pytest.mark.parametrize(
    "pairs",
    [{}, {"p1": None}, {"p1": []}],
    ids=["empty-map", "null-list", "empty-list"],
)
def test_every_empty_v4_shape_is_a_report_without_findings(pairs: Any) -> None:
    report = load_v4(v4(pairs=pairs))
    assert report.findings == ()
    assert report.artifact_digests == frozenset({Digest.parse(DIGEST)})


@pytest.mark.parametrize("key", ["package_vulnerabilities", "vulnerabilities", "packages"])
def test_absent_or_null_maps_with_no_pairs_are_empty(key: str) -> None:
    doc = v4(pairs={})
    doc[key] = None
    assert load_v4(doc).findings == ()
    del doc[key]
    assert load_v4(doc).findings == ()


def test_one_advisory_on_two_packages_gives_two_findings() -> None:
    report = load_v4(v4(pairs={"p1": ["v1"], "p2": ["v1"]}))
    assert [(f.package_name, f.id) for f in report.findings] == [
        ("openssl", "CVE-2024-0001"),
        ("libssl3", "CVE-2024-0001"),
    ]


# --- v4 malformed ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "expected a Clair VulnerabilityReport object, got array"),
        (None, "expected a Clair VulnerabilityReport object, got null"),
        ({"package_vulnerabilities": {}}, "manifest_hash: required field is missing"),
        ({"manifest_hash": 7}, "manifest_hash: expected a string, got number"),
        ({"manifest_hash": "sha256:abc"}, "manifest_hash: not a valid digest: 'sha256:abc'"),
    ],
)
def test_malformed_v4_top_level(document: Any, expected: str) -> None:
    assert v4_error(document).endswith(expected)


def test_malformed_v4_maps_and_pairs() -> None:
    assert v4_error(v4(packages=[])).endswith("packages: expected an object, got array")
    assert v4_error(v4(pairs={"p1": "v1"})).endswith(
        "package_vulnerabilities.p1: expected an array of vulnerability ids, got string"
    )
    assert v4_error(v4(pairs={"p1": ["v1", 3]})).endswith(
        "package_vulnerabilities.p1[1]: expected a vulnerability id string, got number"
    )
    assert v4_error(v4(pairs={"ghost": ["v1"]})).endswith(
        "package_vulnerabilities.ghost: names package 'ghost', which is not listed"
    )
    assert v4_error(v4(pairs={"p1": ["v1", "v9"]})).endswith(
        "package_vulnerabilities.p1[1]: names vulnerability 'v9', which is not listed"
    )


def test_malformed_v4_packages_and_vulnerabilities() -> None:
    doc = v4()
    doc["packages"]["p1"] = {"id": "p1", "version": "1"}
    assert v4_error(doc).endswith("packages.p1.name: required field is missing")
    doc["packages"]["p1"] = {"id": "p1", "name": "openssl", "version": 3}
    assert v4_error(doc).endswith("packages.p1.version: expected a string, got number")
    doc["packages"]["p1"] = "openssl"
    assert v4_error(doc).endswith("packages.p1: expected a package object, got string")
    assert v4_error(v4({"v1": ["x"]})).endswith(
        "vulnerabilities.v1: expected a vulnerability object, got array"
    )
    assert v4_error(v4({"v1": vuln(links=["a"])})).endswith(
        "vulnerabilities.v1.links: expected a string, got array"
    )
    assert v4_error(v4({"v1": vuln(distribution="debian")})).endswith(
        "vulnerabilities.v1.distribution: expected an object, got string"
    )


def test_odd_ids_are_quoted_in_error_paths() -> None:
    doc = v4({"v/1\nx": vuln(name=5)})
    message = v4_error(doc)
    assert 'vulnerabilities["v/1\\nx"].name: expected a string, got number' in message


@pytest.mark.parametrize(
    ("enrichments", "expected"),
    [
        ([], "enrichments: expected an object, got array"),
        ({CVSS_KEY: {}}, "expected an array, got object"),
        ({CVSS_KEY: ["x"]}, "[0]: expected an object keyed by vulnerability id, got string"),
        ({CVSS_KEY: [{"v1": {}}]}, "[0].v1: expected an array, got object"),
        ({CVSS_KEY: [{"v1": [5]}]}, "[0].v1[0]: expected an object, got number"),
        ({CVSS_KEY: [{"v1": [cvss_entry(11)]}]}, "baseScore: CVSS score 11 is not within 0-10"),
        ({CVSS_KEY: [{"v1": [{"baseScore": "9"}]}]}, "baseScore: expected a number, got string"),
        ({CVSS_KEY: [{"v1": [{"baseScore": True}]}]}, "baseScore: expected a number, got boolean"),
        (
            {CVSS_KEY: [{"v1": [{"vectorString": 1}]}]},
            "vectorString: expected a string, got number",
        ),
        ({EPSS_KEY: [{"v1": [{"epss": 1.5}]}]}, "epss: EPSS probability 1.5 is not within 0-1"),
        ({EPSS_KEY: [{"v1": [{"epss": "0.5"}]}]}, "epss: expected a number, got string"),
        ({KEV_KEY: [{"v1": [{"cve": 5}]}]}, "cve: expected a string, got number"),
    ],
)
def test_malformed_enrichments(enrichments: Any, expected: str) -> None:
    message = v4_error(v4(enrichments=enrichments))
    assert message.endswith(expected), message
    if isinstance(enrichments, dict):
        assert "enrichments[" in message  # the key is quoted, spaces and all


# --- v4 severity, aliases, fixes, enrichments ----------------------------------------------------


def test_normalized_severity_wins_and_raw_word_is_kept() -> None:
    finding = only(load_v4(v4({"v1": vuln(severity="Important", normalized_severity="High")})))
    assert (finding.severity, finding.raw_severity) == (Severity.HIGH, "Important")


def test_unknown_normalized_falls_back_to_the_vendor_word() -> None:
    doc = v4({"v1": vuln(severity="Moderate", normalized_severity="Unknown")})
    finding = only(load_v4(doc))
    assert (finding.severity, finding.raw_severity) == (Severity.MEDIUM, "Moderate")
    assert finding.severity_source == "debian-bookworm-updater"


def test_then_to_the_highest_cvss_enrichment_rating() -> None:
    enrichments = {CVSS_KEY: [{"v1": [cvss_entry(5.3, "MEDIUM"), cvss_entry(9.8, "CRITICAL")]}]}
    doc = v4({"v1": vuln(severity="", normalized_severity="Unknown")}, enrichments=enrichments)
    finding = only(load_v4(doc))
    assert (finding.severity, finding.severity_source, finding.raw_severity) == (
        Severity.CRITICAL,
        "clair.cvss",
        "CRITICAL",
    )
    assert [c.score for c in finding.cvss] == [5.3, 9.8]
    assert finding.max_cvss == 9.8


def test_cvss_rating_without_base_severity_is_rated_from_its_score() -> None:
    enrichments = {CVSS_KEY: [{"v1": [cvss_entry(7.2, version="3.0")]}]}
    doc = v4({"v1": vuln(severity="", normalized_severity="")}, enrichments=enrichments)
    finding = only(load_v4(doc))
    assert (finding.severity, finding.raw_severity) == (Severity.HIGH, "7.2")
    assert finding.cvss[0].version == "3.x"


def test_no_severity_anywhere_is_unknown() -> None:
    finding = only(load_v4(v4({"v1": vuln(severity="", normalized_severity="Unknown")})))
    assert finding.severity is Severity.UNKNOWN
    assert finding.raw_severity == "Unknown"


def test_an_unrecognised_word_is_unknown_and_reported() -> None:
    report = load_v4(v4({"v1": vuln(severity="", normalized_severity="Severe")}))
    assert only(report).severity is Severity.UNKNOWN
    assert report.metadata["unrecognised_severities"] == "Severe"


@pytest.mark.parametrize(
    ("word", "severity"),
    [("Negligible", Severity.LOW), ("Defcon1", Severity.CRITICAL), ("Critical", Severity.CRITICAL)],
)
def test_clair_vocabulary(word: str, severity: Severity) -> None:
    assert only(load_v4(v4({"v1": vuln(normalized_severity=word)}))).severity is severity


def test_enricher_keys_are_matched_by_enricher_name_not_schema() -> None:
    key = "message/vnd.clair.map.vulnerability; enricher=clair.cvss schema=https://x/api/2.0"
    doc = v4(enrichments={key: [{"v1": [cvss_entry(4.0)]}], "other/thing; enricher=clair.rhcc": []})
    report = load_v4(doc)
    assert only(report).cvss[0].score == 4.0
    assert report.metadata["other_enrichments"] == "clair.rhcc"


def test_epss_and_kev_enrichments() -> None:
    enrichments = {
        EPSS_KEY: [{"v1": [{"cve": "CVE-2024-0001", "epss": 0.02}, {"epss": 0.4}]}],
        KEV_KEY: [{"v1": [{"cve": "CVE-2024-0001", "date_added": "2024-03-01"}]}],
    }
    finding = only(load_v4(v4(enrichments=enrichments)))
    assert (finding.epss, finding.kev) == (0.4, True)
    plain = only(load_v4(v4()))
    assert (plain.epss, plain.kev) == (None, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:0", ()),
        ("", ()),
        (None, ()),
        ("0:4.7.0-4.el8", ("0:4.7.0-4.el8",)),
        ("v3.6.0-62", ("v3.6.0-62",)),
        ("fixed=1.2.3&introduced=0", ("1.2.3",)),
        ("introduced=0&lastAffected=1.0", ()),
        ("weird=1", ("weird=1",)),
    ],
)
def test_fixed_versions(text: str | None, expected: tuple[str, ...]) -> None:
    assert clair_fixed_versions(text) == expected


def test_sentinel_0_0_means_no_fix() -> None:
    finding = only(load_v4(v4({"v1": vuln(fixed_in_version="0:0")})))
    assert (finding.fixed_versions, finding.fix_state) == ((), FixState.NOT_FIXED)


def test_go_zero_issued_time_is_unknown() -> None:
    finding = only(load_v4(v4({"v1": vuln(issued="0001-01-01T00:00:00Z")})))
    assert finding.published is None


def test_rhsa_aliases_from_links_and_the_parenthesised_fix_list() -> None:
    doc = v4(
        {
            "v1": vuln(
                name="RHSA-2021:4464: dnf security update (Moderate)",
                links="https://access.redhat.com/errata/RHSA-2021:4464"
                " https://access.redhat.com/security/cve/CVE-2021-3445",
                description="* libdnf: bypass (CVE-2021-3446)\n"
                "* x: y (CVE-2021-1111, cve_2021_2222) NOTE: an incomplete fix for CVE-2020-9999.",
            )
        }
    )
    finding = only(load_v4(doc))
    assert finding.id == "RHSA-2021:4464"
    assert finding.aliases == ("CVE-2021-3445", "CVE-2021-3446", "CVE-2021-1111", "CVE-2021-2222")
    assert finding.title == "RHSA-2021:4464: dnf security update (Moderate)"
    assert finding.primary_url == "https://access.redhat.com/errata/RHSA-2021:4464"


def test_pyup_name_gives_the_cve_or_its_own_id_as_alias() -> None:
    doc = v4(
        {
            "v1": vuln(name="pyup.io-40268 (CVE-2021-27923)", links=""),
            "v2": vuln(name="pyup.io-48152 (PVE-2021-41775)", links=""),
        }
    )
    report = load_v4(doc)
    assert [(f.id, f.aliases, f.primary_url) for f in report.findings] == [
        ("pyup.io-40268", ("CVE-2021-27923",), None),
        ("pyup.io-48152", ("PVE-2021-41775",), None),
    ]


def test_cve_aliases_excludes_the_id_and_plain_description_mentions() -> None:
    assert cve_aliases("CVE-2019-9192", "CVE-2019-9192 glibc", "x") == ()
    assert cve_aliases("X-1", description="a different issue than CVE-2018-20796") == ()
    assert cve_aliases("X-1", "CVE-2020-1111 cve-2020-1111") == ("CVE-2020-1111",)


def test_a_nameless_advisory_keeps_a_cve_or_clairs_id() -> None:
    report = load_v4(v4({"v1": vuln(name=""), "v2": vuln(name=None, links="")}))
    assert [f.id for f in report.findings] == ["CVE-2024-0001", "clair:v2"]
    assert report.findings[0].title is None


@pytest.mark.parametrize(
    ("fields", "target"),
    [
        ({}, "Debian GNU/Linux 12 (bookworm)"),
        ({"distribution": {"name": "Alpine Linux", "version": "3.19"}}, "Alpine Linux 3.19"),
        ({"distribution": {"did": ""}, "repository": {"name": "pypi"}}, "pypi"),
        ({"distribution": None, "repository": None}, None),
    ],
)
def test_target_is_the_distribution_else_the_repository(
    fields: dict[str, Any], target: str | None
) -> None:
    assert only(load_v4(v4({"v1": vuln(**fields)}))).target == target


def test_copies_of_an_advisory_on_one_package_are_merged() -> None:
    baseos = vuln(repository={"name": "cpe:/o:redhat:enterprise_linux:8::baseos"})
    appstream = vuln(
        repository={"name": "cpe:/a:redhat:enterprise_linux:8::appstream"},
        links="https://x.test/CVE-2024-0002",
        normalized_severity="Critical",
        fixed_in_version="3.0.12",
    )
    enrichments = {EPSS_KEY: [{"v2": [{"epss": 0.3}]}], KEV_KEY: [{"v1": [{}]}]}
    report = load_v4(v4({"v1": baseos, "v2": appstream, "v3": vuln()}, enrichments=enrichments))
    finding = only(report)
    assert report.metadata["duplicates_merged"] == "2"
    assert report.metadata["pairs"] == "3"
    assert finding.severity is Severity.CRITICAL
    assert finding.aliases == ("CVE-2024-0002",)
    assert finding.fixed_versions == ("3.0.11-1~deb12u2", "3.0.12")
    assert (finding.epss, finding.kev) == (0.3, True)


# --- merge_duplicate_findings -------------------------------------------------------------------


def test_merge_keeps_the_worst_and_unites_the_rest() -> None:
    first = Finding(
        "CVE-1",
        "p",
        "1",
        Severity.LOW,
        aliases=("GHSA-1",),
        fix_state=FixState.NOT_AFFECTED,
        raw_severity="low",
        published=datetime(2024, 2, 1, tzinfo=UTC),
    )
    second = Finding(
        "CVE-1",
        "p",
        "1",
        Severity.HIGH,
        aliases=("CVE-1", "GHSA-2"),
        fix_state=FixState.NOT_FIXED,
        raw_severity="high",
        epss=0.5,
        kev=True,
        published=datetime(2024, 1, 1, tzinfo=UTC),
        cvss=(CvssScore("nvd", "3.x", 8.0),),
    )
    other = Finding("CVE-2", "p", "1", Severity.LOW)
    merged, copies = merge_duplicate_findings([first, other, second, copy.copy(second)])
    assert copies == 2
    assert merged[1] == other
    assert merged[0] == Finding(
        "CVE-1",
        "p",
        "1",
        Severity.HIGH,
        aliases=("GHSA-1", "GHSA-2"),
        fix_state=FixState.NOT_FIXED,
        raw_severity="high",
        epss=0.5,
        kev=True,
        published=datetime(2024, 1, 1, tzinfo=UTC),
        cvss=(CvssScore("nvd", "3.x", 8.0),),
    )


def test_merge_keeps_findings_at_different_targets_apart() -> None:
    a = Finding("CVE-1", "p", "1", Severity.LOW, target="a")
    b = Finding("CVE-1", "p", "1", Severity.LOW, target="b")
    assert merge_duplicate_findings([a, b]) == ((a, b), 0)


# --- legacy: clair-scanner ----------------------------------------------------------------------


def scanner_vuln(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "featurename": "glibc",
        "featureversion": "2.27-3ubuntu1",
        "vulnerability": "CVE-2019-9192",
        "namespace": "ubuntu:18.04",
        "description": "a different issue than CVE-2018-20796.",
        "link": "http://people.ubuntu.com/~ubuntu-security/cve/CVE-2019-9192",
        "severity": "Negligible",
        "fixedby": "",
    }
    base.update(fields)
    return base


def load_legacy(document: Any) -> ScanReport:
    return parse_clair_legacy_report(document, "legacy.json")


def legacy_error(document: Any) -> str:
    with pytest.raises(InputError) as excinfo:
        load_legacy(document)
    message = str(excinfo.value)
    assert "\n" not in message
    assert message.startswith("legacy.json")
    return message


def test_clair_scanner_maps_onto_findings() -> None:
    doc = {
        "image": "registry.test/app:1",
        "unapproved": ["CVE-2019-9192"],
        "vulnerabilities": [
            scanner_vuln(),
            scanner_vuln(vulnerability="CVE-2019-5094", fixedby="2"),
        ],
    }
    report = load_legacy(doc)
    assert (report.format, report.scanner, report.artifact_name) == (
        "clair-scanner",
        "clair",
        "registry.test/app:1",
    )
    assert report.metadata["unapproved"] == "1"
    first, second = report.findings
    assert first == Finding(
        id="CVE-2019-9192",
        package_name="glibc",
        package_version="2.27-3ubuntu1",
        severity=Severity.LOW,
        target="ubuntu:18.04",
        fix_state=FixState.NOT_FIXED,
        raw_severity="Negligible",
        primary_url="http://people.ubuntu.com/~ubuntu-security/cve/CVE-2019-9192",
    )
    assert (second.fixed_versions, second.fix_state) == (("2",), FixState.FIXED)


@pytest.mark.parametrize(
    "doc",
    [
        {"image": "x", "unapproved": [], "vulnerabilities": []},
        {"image": "x", "unapproved": None, "vulnerabilities": None},
        {"image": "x"},
        {"unapproved": []},
    ],
)
def test_every_empty_clair_scanner_shape(doc: dict[str, Any]) -> None:
    assert load_legacy(doc).findings == ()


def test_detection_routes_clair_scanner_here() -> None:
    data = json.dumps({"image": "x", "unapproved": [], "vulnerabilities": [scanner_vuln()]})
    detected = detect_format(data.encode(), "legacy.json")
    assert detected.format == "clair-scanner"
    assert len(parse_clair_legacy_report(detected.document, "legacy.json").findings) == 1


def test_malformed_clair_scanner() -> None:
    assert legacy_error({"unapproved": [], "vulnerabilities": {}}).endswith(
        "vulnerabilities: expected an array, got object"
    )
    assert legacy_error({"unapproved": [], "vulnerabilities": [3]}).endswith(
        "vulnerabilities[0]: expected a vulnerability object, got number"
    )
    bad = scanner_vuln()
    del bad["vulnerability"]
    assert legacy_error({"unapproved": [], "vulnerabilities": [bad]}).endswith(
        "vulnerabilities[0].vulnerability: required field is missing"
    )
    assert legacy_error(
        {"unapproved": [], "vulnerabilities": [scanner_vuln(featurename="")]}
    ).endswith("vulnerabilities[0].featurename: must not be empty")
    assert legacy_error({"unapproved": [1], "vulnerabilities": []}).endswith(
        "unapproved[0]: expected a vulnerability id string, got number"
    )
    assert legacy_error({"unapproved": [], "vulnerabilities": [scanner_vuln(severity=3)]}).endswith(
        "vulnerabilities[0].severity: expected a string, got number"
    )


# --- legacy: klar --------------------------------------------------------------------------------


def klar_vuln(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Name": "RHSA-2019:0109",
        "NamespaceName": "centos:7",
        "Description": "Security Fix(es): * perl: overflow (CVE-2018-18311) more",
        "Link": "https://access.redhat.com/errata/RHSA-2019:0109",
        "Severity": "Defcon1",
        "FixedBy": "4:5.16.3-294.el7_6",
        "FeatureName": "perl-libs",
        "FeatureVersion": "4:5.16.3-293.el7",
    }
    base.update(fields)
    return base


def test_klar_maps_onto_findings() -> None:
    report = load_legacy({"LayerCount": 3, "Vulnerabilities": {"Defcon1": [klar_vuln()]}})
    assert (report.format, report.artifact_name, report.artifact_digests) == (
        "klar",
        None,
        frozenset(),
    )
    assert report.metadata["layer_count"] == "3"
    finding = only(report)
    assert (finding.id, finding.severity, finding.raw_severity) == (
        "RHSA-2019:0109",
        Severity.CRITICAL,
        "Defcon1",
    )
    assert finding.aliases == ("CVE-2018-18311",)
    assert finding.fixed_versions == ("4:5.16.3-294.el7_6",)
    assert finding.target == "centos:7"


def test_klar_takes_the_higher_of_group_and_item_severity() -> None:
    doc = {
        "LayerCount": 1,
        "Vulnerabilities": {
            "High": [klar_vuln(Severity="Low")],
            "Low": [klar_vuln(Severity="Medium", FeatureName="perl")],
            "Critical": [klar_vuln(FeatureName="perl-x", Severity=None)],
        },
    }
    severities = {f.package_name: (f.severity, f.raw_severity) for f in load_legacy(doc).findings}
    assert severities == {
        "perl-libs": (Severity.HIGH, "High"),
        "perl": (Severity.MEDIUM, "Medium"),
        "perl-x": (Severity.CRITICAL, "Critical"),
    }


@pytest.mark.parametrize(
    "doc",
    [
        {"LayerCount": 9, "Vulnerabilities": {}},
        {"LayerCount": 9, "Vulnerabilities": {"High": None}},
    ],
)
def test_every_empty_klar_shape(doc: dict[str, Any]) -> None:
    assert load_legacy(doc).findings == ()


def test_malformed_klar() -> None:
    assert legacy_error({"LayerCount": "9", "Vulnerabilities": {}}).endswith(
        "LayerCount: expected an integer, got string"
    )
    assert legacy_error({"LayerCount": 9, "Vulnerabilities": {"High": {}}}).endswith(
        "Vulnerabilities.High: expected an array, got object"
    )
    assert legacy_error(
        {"LayerCount": 9, "Vulnerabilities": {"High": [klar_vuln(FeatureName=1)]}}
    ).endswith("Vulnerabilities.High[0].FeatureName: expected a string, got number")


# --- legacy: Clair v1 API -------------------------------------------------------------------------


def v1_layer(features: Any) -> dict[str, Any]:
    return {"Layer": {"Name": "17675ec0", "NamespaceName": "debian:8", "Features": features}}


def test_clair_v1_layer_maps_onto_findings_with_nvd_metadata() -> None:
    vulnerability = {
        "Name": "CVE-1999-1572",
        "NamespaceName": "debian:8",
        "Link": "https://security-tracker.debian.org/tracker/CVE-1999-1572",
        "Severity": "Low",
        "Metadata": {"NVD": {"CVSSv2": {"Score": 2.1, "Vectors": "AV:L/AC:L/Au:N/C:P/I:N"}}},
    }
    doc = v1_layer([{"Name": "cpio", "Version": "2.11", "Vulnerabilities": [vulnerability]}])
    report = load_legacy(doc)
    assert (report.format, report.metadata["layer"]) == ("clair-v1", "17675ec0")
    finding = only(report)
    assert (finding.package_name, finding.package_version, finding.fix_state) == (
        "cpio",
        "2.11",
        FixState.NOT_FIXED,
    )
    assert finding.cvss == (CvssScore("nvd", "2.0", 2.1, "AV:L/AC:L/Au:N/C:P/I:N"),)


@pytest.mark.parametrize(
    "features",
    [None, [], [{"Name": "cpio", "Version": "2.11"}], [{"Name": "cpio", "Vulnerabilities": None}]],
)
def test_every_empty_clair_v1_shape(features: Any) -> None:
    assert load_legacy(v1_layer(features)).findings == ()


def test_malformed_clair_v1() -> None:
    assert legacy_error({"Layer": None}).endswith("Layer: expected a layer object, got null")
    assert legacy_error(v1_layer([{"Version": "1"}])).endswith(
        "Layer.Features[0].Name: required field is missing"
    )
    bad_score = {"Name": "CVE-1", "Metadata": {"NVD": {"CVSSv2": {"Score": "high"}}}}
    assert legacy_error(v1_layer([{"Name": "x", "Vulnerabilities": [bad_score]}])).endswith(
        "Layer.Features[0].Vulnerabilities[0].Metadata.NVD.CVSSv2.Score:"
        " expected a CVSS score from 0 to 10, got string"
    )


def test_an_unrecognised_legacy_document() -> None:
    assert legacy_error({"Foo": 1}).endswith(
        "not a clair-scanner, klar or Clair v1 API report"
        " (expected unapproved/vulnerabilities, LayerCount/Vulnerabilities or Layer)"
    )
    assert legacy_error([]).endswith("expected a Clair report object, got array")


def test_module_constants_name_the_formats_detect_uses() -> None:
    for name in (
        clair.FORMAT_V4,
        clair.FORMAT_CLAIR_SCANNER,
        clair.FORMAT_KLAR,
        clair.FORMAT_CLAIR_V1,
    ):
        assert name in FORMATS


@pytest.mark.parametrize(
    ("states", "kept"),
    [
        ((FixState.WONT_FIX, FixState.FIXED), FixState.FIXED),
        ((FixState.UNKNOWN, FixState.WONT_FIX), FixState.WONT_FIX),
        ((FixState.NOT_FIXED, FixState.NOT_AFFECTED), FixState.NOT_FIXED),
    ],
)
def test_merge_ranks_fix_states(states: tuple[FixState, FixState], kept: FixState) -> None:
    copies = [Finding("CVE-1", "p", "1", Severity.LOW, fix_state=s) for s in states]
    (merged,), _ = merge_duplicate_findings(copies)
    assert merged.fix_state is kept


def test_nameless_advisories_with_the_same_text_keep_their_own_ids() -> None:
    report = load_v4(v4({"v1": vuln(name="", links=""), "v2": vuln(name="", links="")}))
    assert [f.id for f in report.findings] == ["clair:v1", "clair:v2"]
