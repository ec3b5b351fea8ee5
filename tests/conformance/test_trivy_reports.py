"""Every real Trivy report in ``shared/fixtures/real/trivy/`` loads, with the right findings.

Counts are checked against the simplest independent walk of the raw JSON;
spot checks pin concrete values of the quirks listed in scanner-formats.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.load import load_scan_report
from gate.scanners.trivy import MISSING_ID
from tests.support.realdata import real_fixtures, real_fixtures_path

pytestmark = pytest.mark.conformance

VULN_CLASSES = (None, "os-pkgs", "lang-pkgs")

#: Old Trivy wrote a vulnerability with an empty id (Go ``omitempty`` drops the
#: key) for a composer package. The finding is kept under a placeholder id, so
#: severity limits still see it, and the report counts it.
WITHOUT_ID = {"defectdojo/legacy_trivy_mix.json": 1}


def _report_names() -> list[str]:
    root = real_fixtures_path() / "trivy"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".md"
    )


def _load(name: str) -> tuple[ScanReport, Any]:
    data = real_fixtures("trivy", *name.split("/")).read_bytes()
    return load_scan_report(data, f"trivy/{name}"), json.loads(data)


def _independent_count(raw: Any) -> tuple[int, int]:
    """(active vulnerabilities, suppressed ones), walking the raw JSON as plainly as possible."""
    if raw is None:
        return 0, 0
    results = raw if isinstance(raw, list) else raw.get("Results") or []
    active = suppressed = 0
    for result in results:
        if result.get("Class") in VULN_CLASSES:
            active += len(result.get("Vulnerabilities") or [])
            suppressed += len(result.get("ExperimentalModifiedFindings") or [])
    return active, suppressed


@pytest.mark.parametrize("name", _report_names())
def test_every_trivy_report_loads_with_the_independently_counted_findings(name: str) -> None:
    real_fixtures("trivy")
    report, raw = _load(name)
    if name in WITHOUT_ID:
        assert report.metadata["findings_without_id"] == str(WITHOUT_ID[name])
        assert sum(f.id == MISSING_ID for f in report.findings) == WITHOUT_ID[name]
    active, suppressed = _independent_count(raw)
    assert len(report.findings) == active
    assert report.metadata["suppressed"] == str(suppressed)
    assert report.format == "trivy"
    assert report.scanner == "trivy"
    assert all(f.id and f.package_name for f in report.findings)


def _by(report: ScanReport, vuln_id: str, package: str) -> Finding:
    (finding,) = [f for f in report.findings if f.id == vuln_id and f.package_name == package]
    return finding


def test_alpine_values_and_the_nanosecond_timestamp() -> None:
    report, _ = _load("alpine-39.json")
    musl = _by(report, "CVE-2019-14697", "musl")
    assert musl.severity is Severity.CRITICAL
    assert musl.raw_severity == "CRITICAL"
    assert musl.severity_source == "nvd"
    assert musl.fixed_versions == ("1.1.20-r5",)
    assert musl.fix_state is FixState.FIXED
    assert musl.purl == "pkg:apk/alpine/musl@1.1.20-r4?arch=x86_64&distro=3.9.4"
    assert musl.target == "testdata/fixtures/images/alpine-39.tar.gz (alpine 3.9.4)"
    assert musl.package_type == "alpine"
    # "2021-08-25T12:20:30.000000005Z": nanoseconds truncated, timezone kept.
    assert report.created_at == datetime(2021, 8, 25, 12, 20, 30, tzinfo=UTC)
    # Metadata.ImageID is the config digest: never an artifact digest.
    assert report.artifact_digests == frozenset()
    assert report.metadata["image_id"].startswith("sha256:055936d3")


def test_purl_with_percent_encoded_plus_is_kept_as_written() -> None:
    report, _ = _load("gomod-multi-target.json")
    findings = [f for f in report.findings if f.id == "GMS-2022-20"]
    assert [f.target for f in findings] == ["go.mod", "submod/go.mod", "submod2/go.mod"]
    assert {f.purl for f in findings} == {
        "pkg:golang/github.com/docker/distribution@v2.7.1%2Bincompatible"
    }
    assert {f.package_version for f in findings} == {"v2.7.1+incompatible"}
    assert findings[0].severity is Severity.UNKNOWN


def test_rpm_epoch_is_in_the_version_and_a_purl_qualifier() -> None:
    report, _ = _load("centos-7.json")
    openssl = _by(report, "CVE-2019-1559", "openssl-libs")
    assert openssl.package_version == "1:1.0.2k-16.el7"
    assert openssl.purl is not None
    assert openssl.purl.endswith("&epoch=1")
    assert "@1.0.2k-16.el7?" in openssl.purl
    assert openssl.fixed_versions == ("1:1.0.2k-19.el7",)


def test_cvss_v4_vendor_ids_and_multi_branch_fixed_versions() -> None:
    report, _ = _load("defectdojo/cvssv4_severity_source.json")
    tomcat = _by(report, "CVE-2025-66614", "org.apache.tomcat:tomcat-catalina")
    assert tomcat.aliases == ("GHSA-fpj8-gq4v-p354",)
    assert tomcat.severity is Severity.MEDIUM
    assert tomcat.severity_source == "ghsa"
    assert tomcat.fixed_versions == ("11.0.14", "10.1.49", "9.0.112")
    assert set(tomcat.cvss) == {
        CvssScore(
            "ghsa", "4.0", 6.3, "CVSS:4.0/AV:N/AC:L/AT:P/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N"
        ),
        CvssScore("redhat", "3.x", 5.3, "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:H/I:N/A:N"),
    }
    assert report.scanner_version == "0.69.1"
    assert report.created_at == datetime(2026, 2, 24, 7, 7, 53, 487381, tzinfo=UTC)


def test_every_status_value() -> None:
    report, _ = _load("defectdojo/all_statuses.json")
    states = {f.id: f.fix_state for f in report.findings}
    assert states == {
        "CVE-2011-3374": FixState.UNKNOWN,
        "CVE-2019-18276": FixState.NOT_AFFECTED,
        "TEMP-0841856-B18BAF": FixState.NOT_FIXED,
        "CVE-2018-1000876": FixState.FIXED,
        "CVE-2018-12697": FixState.UNKNOWN,
        "CVE-2018-12698": FixState.WONT_FIX,
        "CVE-2018-12699": FixState.WONT_FIX,
        "CVE-2018-12934": FixState.WONT_FIX,
    }
    # RepoDigests is [""]: no digest, and no error.
    assert report.artifact_digests == frozenset()


def test_end_of_life_and_will_not_fix_without_fixed_version() -> None:
    debian, _ = _load("debian-stretch.json")
    assert _by(debian, "CVE-2019-18276", "bash").fix_state is FixState.WONT_FIX
    ubi, _ = _load("ubi-7-comprehensive.json")
    bash = _by(ubi, "CVE-2019-18276", "bash")
    assert (bash.fix_state, bash.fixed_versions, bash.severity_source) == (
        FixState.WONT_FIX,
        (),
        "redhat",
    )
    setuptools = _by(ubi, "CVE-2022-40897", "setuptools")
    assert (setuptools.target, setuptools.package_type) == ("Python", "python-pkg")


def test_vendor_severity_source_is_kept() -> None:
    report, _ = _load("ubuntu-1804.json")
    bash = _by(report, "CVE-2019-18276", "bash")
    assert (bash.severity, bash.severity_source, bash.fix_state) == (
        Severity.LOW,
        "ubuntu",
        FixState.NOT_FIXED,
    )


def test_suppressed_findings_are_counted_not_active() -> None:
    report, _ = _load("npm-with-suppressed.json")
    (finding,) = report.findings
    assert finding.id == "CVE-2017-20165"
    assert finding.fixed_versions == ("3.1.0", "2.6.9")
    assert report.metadata["suppressed"] == "1"
    assert all(f.id != "CVE-2017-16137" for f in report.findings)


def test_repo_digest_of_a_registry_image() -> None:
    report, _ = _load("trivy-action/alpine-3.10.json")
    assert report.artifact_name == "alpine:3.10"
    assert report.artifact_digests == frozenset(
        {Digest("sha256", "451eee8bedcb2f029756dc3e9d73bab0e7943c1ac55cff3a4861c52a0fdd3e98")}
    )
    assert report.scanner_version == "0.72.0"


def test_secrets_and_misconfigurations_are_skipped() -> None:
    report, _ = _load("defectdojo/misconfigurations_and_secrets.json")
    assert [f.id for f in report.findings] == ["CVE-2021-33503", "CVE-2021-28363"]
    assert report.metadata["skipped_results"] == "config=1,secret=2"
    secrets, _ = _load("secrets.json")
    assert secrets.findings == ()


def test_the_large_2021_report_without_purls_or_status() -> None:
    report, _ = _load("centos-7.trivy-v0.20-era.711-vulns.json")
    assert len(report.findings) == 711
    assert all(f.purl is None for f in report.findings)
    fixed = [f for f in report.findings if f.fix_state is FixState.FIXED]
    assert len(fixed) == 100
    assert all(f.fixed_versions for f in fixed)
    assert {f.fix_state for f in report.findings} == {FixState.FIXED, FixState.NOT_FIXED}
    counts = {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}
    assert counts == {
        Severity.UNKNOWN: 0,
        Severity.LOW: 406,
        Severity.MEDIUM: 279,
        Severity.HIGH: 26,
        Severity.CRITICAL: 0,
    }
    first = report.findings[0]
    assert (first.id, first.package_name) == ("CVE-2015-5186", "audit-libs")
    assert CvssScore("redhat", "2.0", 4.3, "AV:N/AC:M/Au:N/C:N/I:P/A:N") in first.cvss
    assert report.created_at is None
    assert report.scanner_version is None


def test_the_legacy_formats() -> None:
    none, _ = _load("defectdojo/legacy_no_vuln.json")
    assert none.findings == ()
    assert none.metadata["schema_version"] == "legacy"
    many, _ = _load("defectdojo/legacy_many_vulns.json")
    assert len(many.findings) == 93
    assert many.artifact_name is None


def test_fixture_listing_finds_the_files() -> None:
    real_fixtures("trivy")
    names = _report_names()
    assert "centos-7.trivy-v0.20-era.711-vulns.json" in names
    assert "defectdojo/legacy_no_vuln.json" in names
    assert all(not Path(n).is_absolute() for n in names)
