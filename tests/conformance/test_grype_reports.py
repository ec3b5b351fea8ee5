"""Every real Grype report in ``shared/fixtures/real/grype/`` loads, with the right findings.

Each file goes through the format sniffer and then the Grype adapter. Counts
are checked against the simplest independent walk of the raw JSON (one
finding per distinct vulnerability id x package x version x locations);
spot checks pin concrete values of the quirks listed in scanner-formats.md.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.grype import parse_grype_report
from tests.support.realdata import real_fixtures, real_fixtures_path

pytestmark = pytest.mark.conformance


def _report_names() -> list[str]:
    root = real_fixtures_path() / "grype"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _load(name: str) -> tuple[ScanReport, Any]:
    data = real_fixtures("grype", *name.split("/")).read_bytes()
    detected = detect_format(data, f"grype/{name}")
    assert detected.format == "grype"
    return parse_grype_report(detected.document, f"grype/{name}"), json.loads(data)


def _independent_count(raw: dict[str, Any]) -> int:
    """Distinct (id, package, version, purl, locations) among the raw matches."""
    seen = set()
    for m in raw.get("matches") or []:
        vuln, pkg = m["vulnerability"], m["artifact"]
        locations = json.dumps(pkg.get("locations"), sort_keys=True)
        seen.add((vuln["id"], pkg["name"], pkg.get("version"), pkg.get("purl"), locations))
    return len(seen)


@pytest.mark.parametrize("name", _report_names())
def test_every_grype_report_loads_with_the_independently_counted_findings(name: str) -> None:
    real_fixtures("grype")
    report, raw = _load(name)
    assert len(report.findings) == _independent_count(raw)
    duplicates = len(raw.get("matches") or []) - len(report.findings)
    assert report.metadata.get("duplicates_merged", "0") == str(duplicates)
    assert report.metadata["suppressed"] == str(len(raw.get("ignoredMatches") or []))
    assert (report.format, report.scanner) == ("grype", "grype")
    assert all(f.id and f.package_name for f in report.findings)
    raw_ids = {m["vulnerability"]["id"] for m in raw.get("matches") or []}
    assert {f.id for f in report.findings} == raw_ids


def _by(report: ScanReport, vuln_id: str, package: str) -> Finding:
    (finding,) = [f for f in report.findings if f.id == vuln_id and f.package_name == package]
    return finding


def test_negligible_wont_fix_and_related_records() -> None:
    report, _ = _load("defectdojo/check_all_fields.json")
    krb = _by(report, "CVE-2004-0971", "libgssapi-krb5-2")
    assert (krb.severity, krb.raw_severity, krb.severity_source) == (
        Severity.LOW,
        "Negligible",
        "debian:10",
    )
    assert krb.fix_state is FixState.NOT_FIXED
    # The related NVD record has the same id: no alias, but its CVSS rating counts.
    assert krb.aliases == ()
    assert krb.cvss == (CvssScore("nvd", "2.0", 2.1, "AV:L/AC:L/Au:N/C:N/I:P/A:N"),)
    assert krb.target == "/var/lib/dpkg/status"
    django = _by(report, "GHSA-v6rh-hp5x-86rv", "Django")
    assert django.aliases == ("CVE-2021-44420",)
    assert (django.fix_state, django.fixed_versions) == (FixState.FIXED, ("3.2.10",))
    # The report lists this match twice, byte for byte: one finding.
    assert report.metadata["duplicates_merged"] == "1"
    states = Counter(f.fix_state for f in report.findings)
    assert states[FixState.WONT_FIX] >= 1
    assert report.artifact_digests == frozenset(
        {Digest.parse("sha256:9d8825ab20ac86b40eb71495bece1608a302fb180384740697a28c2b0a5a0fc6")}
    )
    assert report.created_at is None  # grype 0.28 wrote no timestamp
    assert report.scanner_version == "0.28.0"


def test_a_match_without_severity_is_rated_by_its_related_record() -> None:
    report, raw = _load("defectdojo/issue_9618.json")
    compress = _by(report, "CVE-2024-26308", "commons-compress")
    assert (compress.severity, compress.raw_severity, compress.severity_source) == (
        Severity.HIGH,
        "High",
        "github:language:java",
    )
    assert compress.aliases == ("GHSA-4265-ccf5-phj5",)
    assert report.metadata["severity_from_related_or_cvss"] == "1"
    raw_words = Counter(m["vulnerability"].get("severity") for m in raw["matches"])
    ours = Counter(f.severity for f in report.findings)
    assert ours[Severity.CRITICAL] == raw_words["Critical"]
    assert ours[Severity.HIGH] == raw_words["High"] + 1
    assert report.created_at == datetime(
        2024, 2, 22, 19, 46, 26, 372724, tzinfo=timezone(timedelta(hours=1))
    )
    assert report.artifact_digests == frozenset(
        {
            Digest.parse("sha256:11557074a2e35fcbb2f367ffe1c6bb90968a56c3a08a48bf9370f8445ae2cc36"),
            Digest.parse("sha256:97e6d5aeed19f627205b218f45b284cd01ff658dd181416ab1d3e21aeb28d68e"),
        }
    )
    assert report.artifact_name == "quay.io/cloudservices/xjoin-kafka-connect-strimzi:latest"
    assert {f.fix_state for f in report.findings} == {
        FixState.FIXED,
        FixState.NOT_FIXED,
        FixState.WONT_FIX,
    }


def test_the_large_grype_0_7_report() -> None:
    report, raw = _load("defectdojo/many_vulns-1509.json")
    assert len(report.findings) == 1509
    words = Counter(m["vulnerability"].get("severity") for m in raw["matches"])
    ours = Counter(f.severity for f in report.findings)
    assert ours == {
        Severity.LOW: words["Negligible"] + words["Low"],
        Severity.MEDIUM: words["Medium"],
        Severity.HIGH: words["High"],
        Severity.UNKNOWN: words["Unknown"],
    }
    with_fix = sum(1 for m in raw["matches"] if m["vulnerability"].get("fixedInVersion"))
    assert sum(f.fix_state is FixState.FIXED for f in report.findings) == with_fix
    assert sum(f.fix_state is FixState.NOT_FIXED for f in report.findings) == 1509 - with_fix
    with_v2 = sum(1 for m in raw["matches"] if "cvssV2" in m["vulnerability"])
    assert sum(any(c.version == "2.0" for c in f.cvss) for f in report.findings) == with_v2
    bash = _by(report, "CVE-2019-18276", "bash")
    assert bash.purl == "pkg:deb/debian/bash@5.0-4?arch=amd64"
    assert bash.primary_url == "https://security-tracker.debian.org/tracker/CVE-2019-18276"
    assert report.artifact_name == "python:3.6"
    assert report.artifact_digests == frozenset(
        {Digest.parse("sha256:56e428bb95594df86c86d62aa7b6ca5827ecf23a2a1e933288cba950d394fdbf")}
    )


def test_epss_and_an_empty_fix_state() -> None:
    report, raw = _load("defectdojo/many_vulns_with_epss_values.json")
    busybox = _by(report, "CVE-2022-28391", "busybox")
    assert busybox.epss == 0.0719
    assert (busybox.fix_state, busybox.fixed_versions) == (FixState.UNKNOWN, ())
    assert busybox.package_type == "binary"
    assert busybox.target == "/bin/["
    assert CvssScore(
        "nvd@nist.gov", "3.x", 8.8, "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"
    ) in (busybox.cvss)
    assert all(f.epss is not None for f in report.findings)
    raw_states = Counter(m["vulnerability"]["fix"]["state"] for m in raw["matches"])
    assert sum(f.fix_state is FixState.UNKNOWN for f in report.findings) == raw_states[""]
    assert report.metadata["db_schema_version"] == "v6.0.2"


def test_kev_epss_and_snapshot_placeholders() -> None:
    report, _ = _load("presenter-image.json")
    first = _by(report, "CVE-1999-0001", "package-1")
    second = _by(report, "CVE-1999-0002", "package-2")
    assert (first.epss, first.kev, first.purl) == (0.03, False, None)
    assert (second.epss, second.kev, second.severity) == (0.08, True, Severity.CRITICAL)
    assert first.fixed_versions == ("1.2.1", "2.1.3", "3.4.0")
    assert second.fix_state is FixState.UNKNOWN  # fix.state ""
    assert (report.scanner_version, report.created_at) == (None, None)
    assert report.artifact_name == "user-input"


def test_the_same_cve_at_two_paths_is_two_findings_and_a_fake_digest_binds_nothing() -> None:
    report, _ = _load("defectdojo/same_cve_different_paths.json")
    assert sorted(f.target or "" for f in report.findings) == [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
    ]
    assert report.artifact_digests == frozenset()
    assert report.metadata["unparsed_subject_digests"] == "sha256:test"


def test_one_cve_through_three_namespaces() -> None:
    report, _ = _load("chainguard-ruby.json")
    assert sorted((f.id, f.package_name, f.package_type) for f in report.findings) == [
        ("CVE-2023-28755", "ruby-3.0", "apk"),
        ("CVE-2023-28755", "uri", "gem"),
        ("GHSA-hv5j-3h9f-99c2", "uri", "gem"),
    ]
    ghsa = _by(report, "GHSA-hv5j-3h9f-99c2", "uri")
    assert ghsa.aliases == ("CVE-2023-28755",)
    assert report.created_at == datetime(
        2023, 5, 17, 21, 0, 56, 783213, tzinfo=timezone(timedelta(hours=-4))
    )


def test_a_digest_in_the_user_input_and_wont_fix() -> None:
    report, _ = _load("keycloak-21.0.2.json")
    assert report.artifact_digests == frozenset(
        {
            Digest.parse("sha256:347a0d748d05a050dc64b92de2246d2240db6eb38afbc17c3c08d0acb0db1b50"),
            Digest.parse("sha256:d1630d3eb8285a978301bcefc5b223e564ae300750af2fc9ea3f413c5376a47e"),
        }
    )
    assert {f.fix_state for f in report.findings} == {FixState.WONT_FIX}
    assert {f.severity for f in report.findings} == {Severity.LOW}


def test_redacted_and_directory_sources() -> None:
    redacted, _ = _load("defectdojo/fix_not_available.json")
    assert redacted.metadata["unparsed_digests"] == "REDACTED"
    assert len(redacted.artifact_digests) == 1
    assert redacted.findings[0].fix_state is FixState.UNKNOWN
    assert redacted.created_at == datetime(2024, 4, 10, 11, 5, 22, 636338, tzinfo=UTC)
    directory, _ = _load("defectdojo/many_vulns4.json")
    assert (directory.artifact_name, directory.artifact_digests) == ('"."', frozenset())
    static_eval = _by(directory, "GHSA-8v27-2fg9-7h62", "static-eval")
    assert static_eval.aliases == ("CVE-2021-23334",)


@pytest.mark.parametrize("name", ["presenter-empty.json", "defectdojo/no_vuln.json"])
def test_reports_without_matches(name: str) -> None:
    report, _ = _load(name)
    assert report.findings == ()
