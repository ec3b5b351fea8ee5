"""Scan reports and SBOMs bind to an image by digest, else by exact name, never by accident."""

from __future__ import annotations

from types import MappingProxyType

from gate.binding import bind
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.sbom.component import Sbom
from gate.sbom.cyclonedx import UNPARSED_SUBJECT_DIGESTS
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


def _sbom(name: str | None, *digests: Digest, unparsed: str | None = None) -> Sbom:
    metadata = {UNPARSED_SUBJECT_DIGESTS: unparsed} if unparsed else {}
    return Sbom(
        source="bom.json",
        format="cyclonedx",
        spec_version="1.6",
        components=(),
        subject_name=name,
        subject_digests=frozenset(digests),
        metadata=MappingProxyType(metadata),
    )


def test_report_with_matching_digest_applies() -> None:
    assert len(bind(IMAGE, [DIGEST], [_scan("whatever", DIGEST)], []).scans) == 1


def test_report_for_another_digest_never_applies() -> None:
    binding = bind(IMAGE, [DIGEST], [_scan("registry.acme.io/prod/app:1.0", OTHER)], [])
    assert binding.scans == ()
    assert "not this image" in binding.notes[0]


def test_platform_digest_also_binds() -> None:
    assert len(bind(IMAGE, [DIGEST, OTHER], [_scan(None, OTHER)], []).scans) == 1


def test_digestless_report_binds_by_exact_name_and_tag() -> None:
    binding = bind(IMAGE, [DIGEST], [_scan("registry.acme.io/prod/app:1.0")], [])
    assert len(binding.scans) == 1
    assert "bound by its image name" in binding.notes[0]


def test_digestless_report_of_another_tag_or_repository_does_not_bind() -> None:
    assert bind(IMAGE, [DIGEST], [_scan("registry.acme.io/prod/app:0.9")], []).scans == ()
    assert bind(IMAGE, [DIGEST], [_scan("alpine:3.10")], []).scans == ()


def test_reference_by_digest_only_binds_by_digest() -> None:
    pinned = ImageReference.parse(f"registry.acme.io/prod/app@{DIGEST}")
    assert bind(pinned, [DIGEST], [_scan("registry.acme.io/prod/app:latest")], []).scans == ()


def test_anonymous_report_binds_to_nothing() -> None:
    binding = bind(IMAGE, [DIGEST], [_scan(None)], [])
    assert binding.scans == ()
    assert "names no image and no digest" in binding.notes[0]


def test_sboms_bind_by_subject() -> None:
    sbom = _sbom("registry.acme.io/prod/app", DIGEST)
    assert bind(IMAGE, [DIGEST], [], [sbom]).sboms == (sbom,)
    assert bind(IMAGE, [OTHER], [], [sbom]).sboms == ()


def test_sbom_naming_an_unreadable_digest_does_not_fall_back_to_the_name() -> None:
    sbom = _sbom("registry.acme.io/prod/app:1.0", unparsed="sha256:AAAA")
    binding = bind(IMAGE, [DIGEST], [], [sbom])
    assert binding.sboms == ()
    assert "not valid" in binding.notes[0]
