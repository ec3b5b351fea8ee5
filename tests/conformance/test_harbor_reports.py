"""Every real Harbor report in ``shared/fixtures/real/harbor/`` loads, with the right findings.

Wrapped by MIME type (the ``additions/vulnerabilities`` answer, v1.0 and v1.1)
and bare (harborapi). Counts are checked against the plainest walk of the raw
JSON; spot checks pin the quirks of section 5 of scanner-formats.md.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.scanners.detect import detect_format
from gate.scanners.finding import CvssScore, Finding, FixState, ScanReport, Severity
from gate.scanners.harbor import HARBOR_REPORT_MIME_TYPES, parse_harbor_report
from tests.support.realdata import real_fixtures, real_fixtures_path

pytestmark = pytest.mark.conformance

TRIVY_DIGEST = Digest("sha256", "711103cfce07dc03d61f51e819fad7d6fbbad20fc99caa039cc8da77e7a1c51b")


def _report_names() -> list[str]:
    root = real_fixtures_path() / "harbor"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix != ".md"
    )


def _load(name: str) -> tuple[ScanReport, Any]:
    data = real_fixtures("harbor", *name.split("/")).read_bytes()
    detected = detect_format(data, f"harbor/{name}")
    assert detected.format == "harbor"
    return parse_harbor_report(detected.document, f"harbor/{name}"), json.loads(data)


def _independent_count(raw: Any) -> int:
    """Distinct (id, package, version) of the report's items, walked as plainly as possible."""
    if len(raw) == 1 and next(iter(raw)) in HARBOR_REPORT_MIME_TYPES:
        raw = next(iter(raw.values()))
    return len({(v["id"], v["package"], v["version"]) for v in raw.get("vulnerabilities") or []})


@pytest.mark.parametrize("name", _report_names())
def test_every_harbor_report_loads_with_the_independently_counted_findings(name: str) -> None:
    real_fixtures("harbor")
    report, raw = _load(name)
    assert len(report.findings) == _independent_count(raw)
    assert report.format == "harbor"
    assert all(f.id and f.package_name for f in report.findings)
    assert all(f.purl is None and f.package_type is None for f in report.findings)


def _by(report: ScanReport, vuln_id: str) -> Finding:
    (finding,) = [f for f in report.findings if f.id == vuln_id]
    return finding


def test_trivy_report_through_the_harbor_api() -> None:
    report, _ = _load("harbor-trivy-v0.44.json")
    assert report.metadata["mime_type"] == HARBOR_REPORT_MIME_TYPES[0]
    assert (report.scanner, report.scanner_version) == ("trivy", "v0.44.0")
    assert report.metadata["scanner_vendor"] == "Aqua Security"
    # "2023-09-08T00:19:11.258693685Z": nanoseconds truncated.
    assert report.created_at == datetime(2023, 9, 8, 0, 19, 11, 258693, tzinfo=UTC)
    # No artifact object: the digests Harbor core put on every item bind the report.
    assert report.artifact_digests == frozenset({TRIVY_DIGEST})
    # The summary says Critical, the items stop at High: the summary is not used.
    assert report.metadata["reported_severity"] == "Critical"
    assert max(f.severity for f in report.findings) is Severity.HIGH

    e2fs = _by(report, "CVE-2022-1304")
    assert (e2fs.package_name, e2fs.package_version) == ("e2fsprogs", "1.46.2-2")
    assert (e2fs.severity, e2fs.raw_severity) == (Severity.HIGH, "High")
    assert (e2fs.fixed_versions, e2fs.fix_state) == ((), FixState.NOT_FIXED)
    assert e2fs.primary_url == "https://avd.aquasec.com/nvd/cve-2022-1304"
    # preferred_cvss (7.8, vector "") repeats the nvd V3 rating: not added twice.
    assert e2fs.cvss == (
        CvssScore("nvd", "3.x", 7.8, "CVSS:3.1/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H"),
        CvssScore("nvd", "2.0", 6.8, "AV:N/AC:M/Au:N/C:P/I:P/A:P"),
        CvssScore("redhat", "3.x", 5.8, "CVSS:3.1/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:L/A:H"),
    )
    libc = _by(report, "CVE-2019-1010024")
    assert CvssScore("nvd", "2.0", 5.0, "AV:N/AC:L/Au:N/C:P/I:N/A:N") in libc.cvss
    assert libc.severity is Severity.LOW


def test_clair_report_in_the_old_mime_type_with_negligible_and_missing_links() -> None:
    report, _ = _load("harbor-clair-5-vulns.json")
    assert report.metadata["mime_type"] == HARBOR_REPORT_MIME_TYPES[1]
    assert (report.scanner, report.scanner_version) == ("clair", "2.x")
    first = _by(report, "CVE-YYYY-001")
    assert (first.severity, first.raw_severity) == (Severity.LOW, "Negligible")
    assert (first.fixed_versions, first.fix_state) == (("unexploitable-version-1",), FixState.FIXED)
    second = _by(report, "CVE-YYYY-002")
    assert (second.primary_url, second.fix_state) == (None, FixState.NOT_FIXED)
    assert [f.severity for f in report.findings].count(Severity.CRITICAL) == 2
    # Sample data names no artifact: nothing to bind by.
    assert report.artifact_digests == frozenset()


def test_null_vulnerabilities_is_an_empty_report() -> None:
    report, _ = _load("harbor-clair-null-vulns.json")
    assert report.findings == ()
    assert report.metadata["reported_severity"] == "None"


def test_bare_report_with_null_artifact_and_an_unreadable_item_digest() -> None:
    report, _ = _load("harbor-unwrapped-report.json")
    assert "mime_type" not in report.metadata
    assert report.created_at == datetime(2023, 11, 16, 0, 14, 12, 726598, tzinfo=UTC)
    assert report.artifact_digests == frozenset(
        {Digest("sha256", "3db2f7b39ef243df9640a3844c95e5cd403447a0dcf8cb4f1cbb5e034971b29b")}
    )
    # The sanitised "sha256:1829318312389123819231839" binds nothing, and says so.
    assert report.metadata["unparsed_artifact_digests"] == "sha256:1829318312389123819231839"
    libs = _by(report, "CVE-1999-123")
    assert (libs.severity, libs.max_cvss) == (Severity.MEDIUM, 9.8)


def test_fixture_listing_finds_the_files() -> None:
    real_fixtures("harbor")
    assert "harbor-trivy-v0.44.json" in _report_names()
