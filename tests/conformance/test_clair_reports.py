"""Every real Clair report in ``shared/fixtures/real/clair/`` loads, with the right findings.

v4 VulnerabilityReports (clair-action testdata) and the Clair v2 era outputs
(clair-scanner, klar, the Clair v1 API example). Counts are checked against
the plainest walk of the raw JSON; spot checks pin the quirks of section 4 of
scanner-formats.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.scanners.clair import parse_clair_legacy_report, parse_clair_v4_report
from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from tests.support.realdata import real_fixtures, real_fixtures_path

pytestmark = pytest.mark.conformance

ADAPTERS: dict[str, Callable[[Any, str], ScanReport]] = {
    "clair-v4": parse_clair_v4_report,
    "clair-scanner": parse_clair_legacy_report,
    "klar": parse_clair_legacy_report,
    "clair-v1": parse_clair_legacy_report,
}


def _report_names() -> list[str]:
    root = real_fixtures_path() / "clair"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".md"
    )


def _expected_format(name: str) -> str:
    if name.startswith("v4/"):
        return "clair-v4"
    stem = Path(name).name
    if stem.startswith("clair-scanner"):
        return "clair-scanner"
    if stem.startswith("klar"):
        return "klar"
    return "clair-v1"


def _load(name: str) -> tuple[ScanReport, Any, str]:
    data = real_fixtures("clair", *name.split("/")).read_bytes()
    detected = detect_format(data, f"clair/{name}")
    report = ADAPTERS[detected.format](detected.document, f"clair/{name}")
    return report, json.loads(data), detected.format


def _independent_count(fmt: str, raw: Any) -> int:
    """Distinct (place, package, version, advisory) in the raw JSON, walked plainly."""
    if fmt == "clair-v4":
        packages, vulns = raw["packages"], raw["vulnerabilities"]
        return len(
            {
                (packages[p]["name"], packages[p]["version"], vulns[v]["name"])
                for p, ids in (raw["package_vulnerabilities"] or {}).items()
                for v in ids or []
            }
        )
    if fmt == "clair-scanner":
        return len(
            {
                (v["namespace"], v["featurename"], v["featureversion"], v["vulnerability"])
                for v in raw["vulnerabilities"] or []
            }
        )
    if fmt == "klar":
        return len(
            {
                (v["NamespaceName"], v["FeatureName"], v["FeatureVersion"], v["Name"])
                for group in (raw["Vulnerabilities"] or {}).values()
                for v in group or []
            }
        )
    return sum(len(f.get("Vulnerabilities") or []) for f in raw["Layer"].get("Features") or [])


@pytest.mark.parametrize("name", _report_names())
def test_every_clair_report_loads_with_the_independently_counted_findings(name: str) -> None:
    real_fixtures("clair")
    report, raw, fmt = _load(name)
    assert fmt == _expected_format(name), f"detected as {fmt}"
    assert report.format == fmt
    assert report.scanner == "clair"
    assert len(report.findings) == _independent_count(fmt, raw)
    assert all(f.id and f.package_name for f in report.findings)
    assert len({f.key for f in report.findings}) == len(report.findings)
    if fmt == "clair-v4":
        pairs = sum(len(ids or []) for ids in raw["package_vulnerabilities"].values())
        merged = int(report.metadata.get("duplicates_merged", "0"))
        assert int(report.metadata["pairs"]) == pairs == len(report.findings) + merged
        assert report.artifact_digests == frozenset({Digest.parse(raw["manifest_hash"])})


def _by(report: ScanReport, vuln_id: str, package: str) -> Finding:
    (finding,) = [f for f in report.findings if f.id == vuln_id and f.package_name == package]
    return finding


def _counts(report: ScanReport) -> dict[Severity, int]:
    return {s: sum(1 for f in report.findings if f.severity is s) for s in Severity}


def test_debian_severity_comes_from_the_cvss_enrichment_and_0_0_is_no_fix() -> None:
    report, raw, _ = _load("v4/debian-stretch.vulnerability_report.json")
    assert len(report.findings) == 212
    # Every advisory says normalized_severity "Unknown"; the 199 with an NVD
    # rating take its baseSeverity, the 13 without stay unknown.
    assert {f.severity_source for f in report.findings} == {"clair.cvss", "debian-stretch-updater"}
    assert _counts(report) == {
        Severity.UNKNOWN: 13,
        Severity.LOW: 14,
        Severity.MEDIUM: 76,
        Severity.HIGH: 79,
        Severity.CRITICAL: 30,
    }
    assert all(f.severity is Severity.UNKNOWN for f in report.findings if f.cvss == ())
    # fixed_in_version "0:0" everywhere: no fixed version, never a version to compare.
    assert all(f.fixed_versions == () for f in report.findings)
    assert {f.fix_state for f in report.findings} == {FixState.NOT_FIXED}
    # issued is the Go zero time: unknown.
    assert all(f.published is None for f in report.findings)
    assert {f.target for f in report.findings} == {"Debian GNU/Linux 9 (stretch)"}

    glibc = _by(report, "CVE-2019-9192", "libc6")
    assert glibc.package_version == "2.24-11+deb9u4"
    assert glibc.title == "CVE-2019-9192 glibc"
    assert glibc.primary_url == "https://cve.mitre.org/cgi-bin/cvename.cgi?name=CVE-2019-9192"
    assert (glibc.severity, glibc.raw_severity) == (Severity.HIGH, "HIGH")
    # Its description says "a different issue than CVE-2018-20796": not an alias.
    assert glibc.aliases == ()
    assert glibc.cvss == (
        CvssScore("nvd", "3.x", 7.5, "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"),
    )
    assert all("CVE-2018-20796" not in f.aliases for f in report.findings)
    assert raw["manifest_hash"] == str(next(iter(report.artifact_digests)))


def test_rhel_advisories_their_cve_aliases_and_merged_repository_copies() -> None:
    report, _, _ = _load("v4/quay-v3.4.vulnerability_report.json")
    assert len(report.findings) == 163
    # 138 pairs repeat an advisory for the same package through another
    # Red Hat repository (baseos and appstream): one finding each.
    assert report.metadata["pairs"] == "301"
    assert report.metadata["duplicates_merged"] == "138"

    dnf = _by(report, "RHSA-2021:4464", "dnf")
    assert dnf.package_version == "4.4.2-11.el8"
    assert (dnf.severity, dnf.raw_severity) == (Severity.MEDIUM, "Moderate")
    assert dnf.severity_source == "RHEL8-rhel-8-including-unpatched"
    assert dnf.aliases == ("CVE-2021-3445",)
    assert (dnf.fixed_versions, dnf.fix_state) == (("0:4.7.0-4.el8",), FixState.FIXED)
    assert dnf.published == datetime(2021, 11, 9, tzinfo=UTC)
    assert dnf.target == "Red Hat Enterprise Linux Server 8"
    assert dnf.title == "RHSA-2021:4464: dnf security and bug fix update (Moderate)"
    assert dnf.primary_url == "https://access.redhat.com/errata/RHSA-2021:4464"

    openssl = _by(report, "RHSA-2021:4424", "openssl-libs")
    assert openssl.aliases == ("CVE-2021-23840", "CVE-2021-23841")
    assert openssl.fixed_versions == ("1:1.1.1k-4.el8",)
    assert {c.score for c in openssl.cvss} == {7.5, 5.9}

    container = _by(report, "RHSA-2021:3917", "quay/quay-rhel8")
    assert container.target == "Red Hat Container Catalog"
    assert (container.severity, container.raw_severity) == (Severity.HIGH, "Important")
    assert container.fixed_versions == ("v3.6.0-62",)
    assert container.title is None
    assert len(container.aliases) == 33
    assert container.max_cvss == 10.0

    assert _counts(report) == {
        Severity.UNKNOWN: 9,
        Severity.LOW: 15,
        Severity.MEDIUM: 92,
        Severity.HIGH: 37,
        Severity.CRITICAL: 10,
    }


def test_pyup_advisories_keep_their_own_id_with_the_cve_as_alias() -> None:
    report, _, _ = _load("v4/quay-v3.4.vulnerability_report.json")
    pillow = _by(report, "pyup.io-40268", "pillow")
    assert pillow.aliases == ("CVE-2021-27923",)
    assert pillow.target == "pypi"
    # normalized "Unknown", raw "": the NVD rating decides.
    assert (pillow.severity, pillow.severity_source) == (Severity.HIGH, "clair.cvss")
    assert pillow.primary_url is None  # links is ""
    pyyaml = [f for f in report.findings if f.id == "pyup.io-39611"]
    # "an incomplete fix for CVE-2020-1747" in the description is not an alias.
    assert pyyaml
    assert all(f.aliases == ("CVE-2020-14343",) for f in pyyaml)
    pycryptodomex = _by(report, "pyup.io-48152", "pycryptodomex")
    assert pycryptodomex.aliases == ("PVE-2021-41775",)
    assert pycryptodomex.severity is Severity.UNKNOWN


def test_a_report_without_enrichments() -> None:
    report, _, _ = _load("v4/rhel8-pyupio.vulnerability_report.json")
    assert sorted((f.id, f.package_name, f.package_version) for f in report.findings) == [
        ("pyup.io-39642", "reportlab", "3.5.55"),
        ("pyup.io-40291", "pip", "19.3.1"),
        ("pyup.io-42559", "pip", "19.3.1"),
    ]
    assert {f.severity for f in report.findings} == {Severity.UNKNOWN}
    assert all(f.cvss == () and f.fix_state is FixState.NOT_FIXED for f in report.findings)
    assert "other_enrichments" not in report.metadata


def test_clair_scanner_reports() -> None:
    empty, _, _ = _load("legacy/clair-scanner_empty.json")
    assert empty.findings == ()
    assert empty.artifact_name == "empty:latest"
    many, _, _ = _load("legacy/clair-scanner_many.json")
    assert many.artifact_name == (
        "default-docker-3rdparty.bahnhub.tech.rz.db.de:443/ubuntu:bionic-20190912.1"
    )
    assert many.artifact_digests == frozenset()
    assert many.metadata["unapproved"] == "35"
    e2fsprogs = _by(many, "CVE-2019-5094", "e2fsprogs")
    assert e2fsprogs.fixed_versions == ("1.44.1-1ubuntu1.2",)
    assert e2fsprogs.fix_state is FixState.FIXED
    assert e2fsprogs.target == "ubuntu:18.04"
    regex = _by(many, "CVE-2019-9192", "glibc")
    assert (regex.severity, regex.raw_severity) == (Severity.LOW, "Negligible")
    assert regex.aliases == ()  # "a different issue than CVE-2018-20796"


def test_klar_defcon1_and_rhsa_ids_with_their_cves() -> None:
    empty, _, _ = _load("legacy/klar_empty.json")
    assert (empty.findings, empty.metadata["layer_count"]) == ((), "9")
    mixed, _, _ = _load("legacy/klar_mixed.json")
    perl = _by(mixed, "RHSA-2019:0109", "perl-libs")
    assert (perl.severity, perl.raw_severity) == (Severity.CRITICAL, "Defcon1")
    assert perl.aliases == ("CVE-2018-18311",)
    assert perl.package_version == "4:5.16.3-293.el7"
    assert perl.fixed_versions == ("4:5.16.3-294.el7_6",)
    systemd = _by(mixed, "RHSA-2019:0049", "systemd-libs")
    assert systemd.aliases == ("CVE-2018-15688", "CVE-2018-16864", "CVE-2018-16865")
    assert _by(mixed, "RHSA-2019:0109", "perl-macros").severity is Severity.UNKNOWN
    # klar names no image: the report binds to nothing by itself.
    assert (mixed.artifact_name, mixed.artifact_digests) == (None, frozenset())


def test_clair_v1_api_layer() -> None:
    report, _, _ = _load("legacy/clair-v1-api-layer-features-vulns.json")
    (finding,) = report.findings
    assert (finding.id, finding.package_name, finding.package_version) == (
        "CVE-2014-9471",
        "coreutils",
        "8.23-4",
    )
    assert (finding.severity, finding.fixed_versions, finding.target) == (
        Severity.LOW,
        ("9.23-5",),
        "debian:8",
    )
    assert report.metadata["layer"].startswith("17675ec0")
    assert report.artifact_digests == frozenset()


def test_fixture_listing_finds_the_files() -> None:
    real_fixtures("clair")
    names = _report_names()
    assert "v4/quay-v3.4.vulnerability_report.json" in names
    assert "legacy/klar_mixed.json" in names
