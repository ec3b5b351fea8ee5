"""Every real SARIF log in ``shared/fixtures/real/sarif/`` loads, with the right findings.

Each file goes through the format sniffer and then the SARIF adapter. Counts
are checked against the simplest independent walk of the raw JSON: results
whose rule is not tagged as a misconfiguration, secret or license, one per
distinct rule x message x location; spot checks pin concrete values.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.sarif import parse_sarif_report
from tests.support.realdata import real_fixtures, real_fixtures_path

pytestmark = pytest.mark.conformance

NOT_VULNERABILITIES = {"misconfiguration", "secret", "license"}


def _report_names() -> list[str]:
    root = real_fixtures_path() / "sarif"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def _load(name: str) -> tuple[ScanReport, Any]:
    data = real_fixtures("sarif", *name.split("/")).read_bytes()
    detected = detect_format(data, f"sarif/{name}")
    assert detected.format == "sarif"
    return parse_sarif_report(detected.document, f"sarif/{name}"), json.loads(data)


def _independent_count(raw: dict[str, Any]) -> tuple[int, int]:
    """(distinct vulnerability results, results of other kinds) in the raw log."""
    seen = set()
    others = 0
    for run in raw.get("runs") or []:
        tags = {
            rule["id"]: (rule.get("properties") or {}).get("tags") or []
            for rule in run["tool"]["driver"].get("rules") or []
        }
        for result in run.get("results") or []:
            rule_tags = tags.get(result["ruleId"], [])
            if rule_tags and rule_tags[0] in NOT_VULNERABILITIES:
                others += 1
                continue
            uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            seen.add((result["ruleId"], result["message"]["text"], uri))
    return len(seen), others


@pytest.mark.parametrize("name", _report_names())
def test_every_sarif_log_loads_with_the_independently_counted_findings(name: str) -> None:
    real_fixtures("sarif")
    report, raw = _load(name)
    vulnerabilities, others = _independent_count(raw)
    assert len(report.findings) == vulnerabilities
    skipped = report.metadata.get("skipped_results", "")
    assert sum(int(part.partition("=")[2]) for part in skipped.split(",") if part) == others
    assert report.format == "sarif"
    assert report.scanner == raw["runs"][0]["tool"]["driver"]["name"].lower()
    assert all(f.id and f.package_name for f in report.findings)


def _by(report: ScanReport, vuln_id: str, package: str) -> Finding:
    (finding,) = [f for f in report.findings if f.id == vuln_id and f.package_name == package]
    return finding


def test_trivy_vulnerabilities() -> None:
    report, _ = _load("trivy-alpine-310.sarif.json")
    assert sorted((f.id, f.package_name) for f in report.findings) == [
        ("CVE-2019-1549", "libcrypto1.1"),
        ("CVE-2019-1549", "libssl1.1"),
        ("CVE-2019-1551", "libcrypto1.1"),
        ("CVE-2019-1551", "libssl1.1"),
    ]
    libssl = _by(report, "CVE-2019-1551", "libssl1.1")
    assert libssl.package_version == "1.1.1c-r0"
    assert (libssl.fixed_versions, libssl.fix_state) == (("1.1.1d-r2",), FixState.FIXED)
    assert (libssl.severity, libssl.raw_severity) == (Severity.MEDIUM, "MEDIUM")
    assert CvssScore("", "3.x", 5.3, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N") in libssl.cvss
    assert libssl.target == "testdata/fixtures/images/alpine-310.tar.gz"
    assert libssl.primary_url == "https://avd.aquasec.com/nvd/cve-2019-1551"
    assert report.artifact_name == "testdata/fixtures/images/alpine-310.tar.gz"
    # repoDigests is null in this golden: nothing to bind by digest.
    assert report.artifact_digests == frozenset()
    assert report.metadata["image_id"].startswith("sha256:96176967")
    assert report.scanner_version == "dev"


def test_trivy_misconfigurations_are_not_vulnerabilities() -> None:
    report, _ = _load("trivy-action-config.sarif.json")
    assert report.findings == ()
    assert report.metadata["skipped_results"] == "misconfiguration=8"


@pytest.mark.parametrize(
    ("name", "target", "image"),
    [
        ("grype-image.sarif.json", "user-input/somefile-1.txt", "user-input"),
        ("grype-directory.sarif.json", "/some/path/somefile-1.txt", None),
    ],
)
def test_grype_vulnerabilities(name: str, target: str, image: str | None) -> None:
    report, _ = _load(name)
    first = _by(report, "CVE-1999-0001", "package-1")
    assert (first.package_version, first.package_type, first.target) == ("1.1.1", "rpm", target)
    assert (first.fixed_versions, first.fix_state) == (("1.2.1", "2.1.3", "3.4.0"), FixState.FIXED)
    # grype rates it low, its best CVSS score is 8.2: the higher rating stands.
    assert (first.severity, first.raw_severity, first.severity_source) == (
        Severity.HIGH,
        "low",
        "security-severity",
    )
    second = _by(report, "CVE-1999-0002", "package-2")
    assert (second.severity, second.purl, second.fix_state) == (
        Severity.CRITICAL,
        "pkg:deb/package-2@2.2.2",
        FixState.UNKNOWN,
    )
    assert report.artifact_name == image
    assert report.scanner_version is None  # grype's "0.0.0-dev" placeholder
