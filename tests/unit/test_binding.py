"""Scan reports and SBOMs bind to an image by digest, else by name, never by accident."""

from __future__ import annotations

from gate.binding import bind
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.sbom.component import Sbom
from gate.scanners.finding import ScanReport

IMAGE = ImageReference.parse("registry.acme.io/prod/app:1.0")
DIGEST = Digest("sha256", "a" * 64)
OTHER = Digest("sha256", "b" * 64)


def _scan(name: str | None, *digests: Digest, source: str = "scan.json") -> ScanReport:
    return ScanReport(
        source=source,
        format="trivy",
        findings=(),
        artifact_name=name,
        artifact_digests=frozenset(digests),
    )


def test_report_with_matching_digest_applies() -> None:
    binding = bind(IMAGE, [DIGEST], [_scan("whatever", DIGEST)], [], single_image=False)
    assert len(binding.scans) == 1


def test_report_for_another_digest_never_applies() -> None:
    binding = bind(
        IMAGE, [DIGEST], [_scan("registry.acme.io/prod/app", OTHER)], [], single_image=True
    )
    assert binding.scans == ()
    assert "not this image" in binding.notes[0]


def test_platform_digest_also_binds() -> None:
    binding = bind(IMAGE, [DIGEST, OTHER], [_scan(None, OTHER)], [], single_image=False)
    assert len(binding.scans) == 1


def test_digestless_report_binds_by_repository_name() -> None:
    binding = bind(
        IMAGE, [DIGEST], [_scan("registry.acme.io/prod/app:0.9")], [], single_image=False
    )
    assert len(binding.scans) == 1
    assert "bound by repository name" in binding.notes[0]


def test_digestless_report_of_another_repository_does_not_bind() -> None:
    binding = bind(IMAGE, [DIGEST], [_scan("alpine:3.10")], [], single_image=True)
    assert binding.scans == ()


def test_anonymous_report_binds_only_to_a_single_image() -> None:
    assert len(bind(IMAGE, [DIGEST], [_scan(None)], [], single_image=True).scans) == 1
    assert bind(IMAGE, [DIGEST], [_scan(None)], [], single_image=False).scans == ()


def test_sboms_bind_by_subject() -> None:
    sbom = Sbom(
        source="bom.json",
        format="cyclonedx",
        spec_version="1.6",
        components=(),
        subject_name="registry.acme.io/prod/app",
        subject_digests=frozenset({DIGEST}),
    )
    assert bind(IMAGE, [DIGEST], [], [sbom], single_image=False).sboms == (sbom,)
    assert bind(IMAGE, [OTHER], [], [sbom], single_image=False).sboms == ()
