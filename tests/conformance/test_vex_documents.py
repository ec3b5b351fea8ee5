"""Every real VEX document in ``shared/fixtures/real/vex/`` loads, and the cases of section 10 hold.

Statement counts and statuses are checked against the plainest walk of the
raw JSON with the state table of scanner-formats.md section 10 written out
here again; the cases pin what the gate decides where tools disagree
(newest statement wins, subcomponent scoping, CycloneDX states and refs).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gate.errors import InputError
from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.scanners.finding import Finding, Severity
from gate.scanners.load import load_scan_report
from gate.vex.apply import VexOutcome, apply_vex
from gate.vex.load import load_vex
from gate.vex.model import VexDocument, VexStatus
from tests.support.realdata import real_fixtures, real_fixtures_path

pytestmark = pytest.mark.conformance

#: Section 10: CycloneDX ``analysis.state`` -> OpenVEX status.
CDX_STATES = {
    "not_affected": "not_affected",
    "false_positive": "not_affected",
    "resolved": "fixed",
    "resolved_with_pedigree": "fixed",
    "exploitable": "affected",
    "in_triage": "under_investigation",
}

#: The digest the go-vex and grype example documents name (percent-encoded there).
EXAMPLE_DIGEST = Digest.parse(
    "sha256:124c7d2707904eea7431fffe91522a01e5a861a624ee31d03372cc1d138a3126"
)
OTHER_DIGEST = Digest.parse("sha256:" + "0f" * 32)


def _names() -> list[str]:
    root = real_fixtures_path() / "vex"
    if not root.is_dir():
        return ["<fixtures missing>"]
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.json"))


def _raw(name: str) -> Any:
    return json.loads(real_fixtures("vex", *name.split("/")).read_bytes())


def _load(name: str) -> VexDocument:
    return load_vex(real_fixtures("vex", *name.split("/")).read_bytes(), f"vex/{name}")


def _independent(raw: Any) -> list[tuple[str, str]] | None:
    """(vulnerability, status) per statement, or None for a document that is not VEX."""
    if "statements" in raw:
        out = []
        for statement in raw["statements"] or []:
            vulnerability = statement["vulnerability"]
            if isinstance(vulnerability, dict):
                vulnerability = vulnerability.get("name") or vulnerability["@id"]
            out.append((vulnerability, statement["status"]))
        return out
    vulnerabilities = raw.get("vulnerabilities")
    if not vulnerabilities or not any("analysis" in v for v in vulnerabilities):
        return None
    return [
        (v["id"], CDX_STATES[v["analysis"]["state"]])
        for v in vulnerabilities
        if (v.get("analysis") or {}).get("state")
    ]


@pytest.mark.parametrize("name", _names())
def test_every_vex_document_loads_with_the_independently_counted_statements(name: str) -> None:
    real_fixtures("vex")
    expected = _independent(_raw(name))
    if expected is None:
        # The SBOMs that CycloneDX VEX examples point into are refused by name.
        with pytest.raises(InputError) as caught:
            _load(name)
        assert "not a VEX document" in str(caught.value)
        return
    doc = _load(name)
    assert [(s.vulnerability, s.status.value) for s in doc.statements] == expected
    assert doc.format == ("openvex" if name.startswith("openvex/") else "cyclonedx")
    assert all(s.source == f"vex/{name}" for s in doc.statements)


# --- helpers for the cases --------------------------------------------------------------------


def _finding(vuln_id: str, name: str, version: str, purl: str | None) -> Finding:
    return Finding(
        id=vuln_id, package_name=name, package_version=version, severity=Severity.HIGH, purl=purl
    )


def _apply(
    findings: list[Finding],
    name: str,
    *,
    digest: Digest = OTHER_DIGEST,
    reference: str | None = None,
    sbom_refs: dict[str, str] | None = None,
) -> VexOutcome:
    return apply_vex(
        findings,
        [_load(name)],
        image_digest=digest,
        image_reference=ImageReference.parse(reference) if reference else None,
        sbom_refs=sbom_refs or {},
    )


def _suppressed(outcome: VexOutcome) -> list[tuple[str, str]]:
    return [(s.finding.id, s.finding.package_name) for s in outcome.suppressed]


def _kept(outcome: VexOutcome) -> list[tuple[str, str]]:
    return [(f.id, f.package_name) for f in outcome.kept]


# --- OpenVEX cases ----------------------------------------------------------------------------


def test_newest_statement_wins_on_trivy_openvex_multiple() -> None:
    # affected at 2023-01-15, then an undated not_affected inheriting 2023-01-16:
    # the spec (and Trivy) suppress; grype, taking the oldest, would not.
    spring = _finding(
        "CVE-2021-44228",
        "org.springframework.boot:spring-boot",
        "2.6.0",
        "pkg:maven/org.springframework.boot/spring-boot@2.6.0",
    )
    outcome = _apply([spring], "openvex/trivy-openvex-multiple.json")
    (suppression,) = outcome.suppressed
    assert suppression.statement.status is VexStatus.NOT_AFFECTED
    assert suppression.statement.location == "statements[1]"
    assert suppression.statement.timestamp is not None
    assert suppression.statement.timestamp.isoformat().startswith("2023-01-16T19:07:16")
    assert "vulnerable_code_not_in_execute_path" in suppression.reason


def test_version_less_subcomponent_in_a_named_image_on_trivy_openvex_oci() -> None:
    findings = [
        _finding(
            "CVE-2022-3715",
            "bash",
            "5.0-4",
            "pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10",
        ),
        _finding("CVE-2022-3715", "bash", "5.2.15-2", "pkg:deb/debian/bash@5.2.15-2?arch=arm64"),
        _finding("CVE-2022-3715", "bash-static", "5.0-4", "pkg:deb/debian/bash-static@5.0-4"),
        _finding("CVE-2022-0001", "bash", "5.0-4", "pkg:deb/debian/bash@5.0-4"),
    ]
    outcome = _apply(findings, "openvex/trivy-openvex-oci.json", reference="debian:10")
    assert _suppressed(outcome) == [("CVE-2022-3715", "bash"), ("CVE-2022-3715", "bash")]
    assert _kept(outcome) == [("CVE-2022-3715", "bash-static"), ("CVE-2022-0001", "bash")]
    other_image = _apply(findings, "openvex/trivy-openvex-oci.json", reference="nginx:1.25")
    assert other_image.suppressed == ()


def test_subcomponent_scoping_on_go_vex_v0_2_0() -> None:
    findings = [
        _finding(
            "CVE-2023-3446", "libssl3", "3.0.8-r3", "pkg:apk/alpine/libssl3@3.0.8-r3?arch=x86_64"
        ),
        _finding("CVE-2023-3446", "libcrypto3", "3.0.8-r3", "pkg:apk/alpine/libcrypto3@3.0.8-r3"),
        _finding("CVE-2023-3446", "openssl", "3.0.8-r3", "pkg:apk/alpine/openssl@3.0.8-r3"),
        _finding("CVE-2023-1255", "libssl3", "3.0.8-r3", "pkg:apk/alpine/libssl3@3.0.8-r3"),
        _finding("CVE-2023-1255", "libssl3", "3.0.9-r0", "pkg:apk/alpine/libssl3@3.0.9-r0"),
    ]
    name = "openvex/go-vex-v0.2.0-subcomponents.json"
    outcome = _apply(findings, name, digest=EXAMPLE_DIGEST)
    assert _suppressed(outcome) == [
        ("CVE-2023-3446", "libssl3"),
        ("CVE-2023-3446", "libcrypto3"),
        ("CVE-2023-1255", "libssl3"),
    ]
    # go-vex would also match openssl (no subcomponent given); the gate does not.
    assert _kept(outcome) == [("CVE-2023-3446", "openssl"), ("CVE-2023-1255", "libssl3")]
    assert [s.statement.status for s in outcome.suppressed] == [
        VexStatus.NOT_AFFECTED,
        VexStatus.NOT_AFFECTED,
        VexStatus.FIXED,
    ]
    assert _apply(findings, name, digest=OTHER_DIGEST).suppressed == ()


def test_image_level_statements_on_the_grype_documents() -> None:
    debian = [
        _finding("CVE-2014-fake-1", "libc6", "2.31-13", "pkg:deb/debian/libc6@2.31-13"),
        _finding("CVE-2014-fake-1", "bash", "5.1-2", "pkg:deb/debian/bash@5.1-2"),
        _finding("CVE-2014-fake-2", "bash", "5.1-2", "pkg:deb/debian/bash@5.1-2"),
    ]
    name = "openvex/grype-openvex-debian-repository-url.json"
    outcome = _apply(debian, name, digest=EXAMPLE_DIGEST, reference="debian:11")
    assert _suppressed(outcome) == [("CVE-2014-fake-1", "libc6"), ("CVE-2014-fake-1", "bash")]
    assert _apply(debian, name, reference="debian:11").suppressed == ()

    alpine = [_finding("CVE-2023-1255", "libcrypto3", "3.0.8-r3", None)]
    name = "openvex/grype-openvex-image-no-subcomponents.json"
    assert _suppressed(_apply(alpine, name, digest=EXAMPLE_DIGEST)) == [
        ("CVE-2023-1255", "libcrypto3")
    ]
    assert _apply(alpine, name).suppressed == ()


def test_a_package_as_the_product_on_grype_openvex_package_product() -> None:
    findings = [
        _finding("CVE-2023-1255", "libcrypto3", "3.0.8-r3", "pkg:apk/alpine/libcrypto3@3.0.8-r3"),
        _finding("CVE-2023-1255", "libssl3", "3.0.8-r3", "pkg:apk/alpine/libssl3@3.0.8-r3"),
        _finding("CVE-2023-1255", "libcrypto3", "3.0.9-r0", "pkg:apk/alpine/libcrypto3@3.0.9-r0"),
    ]
    outcome = _apply(findings, "openvex/grype-openvex-package-product.json")
    assert [(s.finding.package_name, s.finding.package_version) for s in outcome.suppressed] == [
        ("libcrypto3", "3.0.8-r3")
    ]


def test_every_status_and_both_forms_on_the_defectdojo_document() -> None:
    alpine = "?arch=x86_64&distro=alpine-3.10.9"
    findings = [
        _finding(
            "CVE-2024-10001",
            "apk-tools",
            "2.10.6-r0",
            f"pkg:apk/alpine/apk-tools@2.10.6-r0{alpine}",
        ),
        _finding(
            "CVE-2024-10002", "busybox", "1.30.1-r3", f"pkg:apk/alpine/busybox@1.30.1-r3{alpine}"
        ),
        _finding(
            "CVE-2024-10003",
            "alpine-baselayout",
            "3.1.2-r0",
            f"pkg:apk/alpine/alpine-baselayout@3.1.2-r0{alpine}",
        ),
        _finding("CVE-2024-10004", "musl", "1.1.22-r3", f"pkg:apk/alpine/musl@1.1.22-r3{alpine}"),
        # Reported under its GHSA alias; the statement's name is the CVE.
        _finding(
            "GHSA-jfh8-c2jp-5v3q", "zlib", "1.2.11-r1", f"pkg:apk/alpine/zlib@1.2.11-r1{alpine}"
        ),
        # 0.0.1 string product without qualifiers: the finding's qualifiers are extra.
        _finding(
            "CVE-2024-10006", "openssl", "1.1.1k-r0", f"pkg:apk/alpine/openssl@1.1.1k-r0{alpine}"
        ),
    ]
    outcome = _apply(findings, "openvex/defectdojo-openvex-mixed-forms.json")
    assert [s.finding.package_name for s in outcome.suppressed] == [
        "apk-tools",
        "alpine-baselayout",
        "zlib",
        "openssl",
    ]
    assert [(a.finding.package_name, a.statement.status.value) for a in outcome.annotations] == [
        ("busybox", "affected"),
        ("musl", "under_investigation"),
    ]
    zlib = outcome.suppressed[2]
    assert "inline_mitigations_already_exist" in zlib.reason
    assert "The affected code path is disabled at build time." in zlib.reason


def test_a_product_that_is_an_ancestor_package_does_not_apply_to_an_image() -> None:
    # Trivy removed CVE-2022-23628 from its repository scan with this document
    # (trivy/gomod-vex-applied.json): the product is the scanned Go module. In an
    # image the gate cannot show that module is there (findings carry no graph).
    report = load_scan_report(
        real_fixtures("trivy", "gomod-multi-target.json").read_bytes(), "gomod.json"
    )
    applied = load_scan_report(
        real_fixtures("trivy", "gomod-vex-applied.json").read_bytes(), "gomod-vex.json"
    )
    assert {f.id for f in report.findings} - {f.id for f in applied.findings} == {"CVE-2022-23628"}
    outcome = _apply(list(report.findings), "openvex/trivy-integration-openvex.json")
    assert outcome.suppressed == ()
    assert len(outcome.kept) == len(report.findings)
    nested = _finding(
        "CVE-2024-0001",
        "github.com/aquasecurity/go-transitive",
        "v4.0.0",
        "pkg:golang/github.com/aquasecurity/go-transitive@v4.0.0",
    )
    assert _apply([nested], "openvex/trivy-openvex-nested.json").suppressed == ()


# --- CycloneDX cases --------------------------------------------------------------------------

IMAGE_PURL = f"pkg:oci/app@{str(EXAMPLE_DIGEST).replace(':', '%3A')}"


@pytest.mark.parametrize(
    ("name", "product", "status", "suppresses"),
    [
        ("cyclonedx/cisa-case1-not_affected.json", "product-ABC", VexStatus.NOT_AFFECTED, True),
        ("cyclonedx/cisa-case1-fixed.json", "product-DEF", VexStatus.FIXED, True),
        ("cyclonedx/cisa-case1-affected.json", "product-DEF", VexStatus.AFFECTED, False),
        (
            "cyclonedx/cisa-case1-under_investigation.json",
            "product-GHI",
            VexStatus.UNDER_INVESTIGATION,
            False,
        ),
    ],
)
def test_cisa_case_1_states_map_and_apply_to_the_product_the_sbom_names(
    name: str, product: str, status: VexStatus, suppresses: bool
) -> None:
    log4j = [_finding("CVE-2021-44228", "log4j-core", "2.14.1", None)]
    (statement,) = _load(name).statements
    assert statement.status is status
    assert [p.bom_ref for p in statement.products] == [product]
    # The product is a bom-ref of the VEX document; nothing says it is this image...
    assert _apply(log4j, name, digest=EXAMPLE_DIGEST).suppressed == ()
    # ...until the image's SBOM gives that bom-ref the image's purl.
    outcome = _apply(log4j, name, digest=EXAMPLE_DIGEST, sbom_refs={product: IMAGE_PURL})
    assert bool(outcome.suppressed) is suppresses
    assert bool(outcome.annotations) is not suppresses


def test_cisa_case_3_suppresses_exactly_the_not_affected_and_resolved_vulnerabilities() -> None:
    name = "cyclonedx/cisa-case3-mixed.json"
    raw = _raw(name)["vulnerabilities"]
    findings = [_finding(v["id"], "tcp-ip-stack", "1.0", None) for v in raw]
    outcome = _apply(findings, name, digest=EXAMPLE_DIGEST, sbom_refs={"product-GHI": IMAGE_PURL})
    expected = {v["id"] for v in raw if v["analysis"]["state"] in ("not_affected", "resolved")}
    assert {s.finding.id for s in outcome.suppressed} == expected
    assert len(outcome.kept) == len(raw) - len(expected)


def test_purl_bom_links_on_trivy_cdx_vex() -> None:
    # The versions entry says "affected" while the analysis says not_affected:
    # the analysis is the statement; the version only scopes it.
    findings = [
        _finding(
            "CVE-2021-44228",
            "org.springframework.boot:spring-boot",
            "2.6.0",
            "pkg:maven/org.springframework.boot/spring-boot@2.6.0",
        ),
        _finding(
            "CVE-2022-27943",
            "libstdc++6",
            "12.3.0-1ubuntu1~22.04",
            "pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04?arch=amd64&distro=ubuntu-22.04",
        ),
        _finding(
            "CVE-2022-27943",
            "libstdc++6",
            "12.3.0-1ubuntu1~22.04.1",
            "pkg:deb/ubuntu/libstdc%2B%2B6@12.3.0-1ubuntu1~22.04.1?arch=amd64&distro=ubuntu-22.04",
        ),
    ]
    outcome = _apply(findings, "cyclonedx/trivy-cdx-vex-purl-bomlink.json")
    assert [(s.finding.package_name, s.finding.package_version) for s in outcome.suppressed] == [
        ("org.springframework.boot:spring-boot", "2.6.0"),
        ("libstdc++6", "12.3.0-1ubuntu1~22.04"),
    ]


def test_bom_examples_vex_needs_the_type_qualifier_of_its_purl() -> None:
    with_type = _finding(
        "CVE-2020-25649",
        "jackson-databind",
        "2.10.0",
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0?type=jar",
    )
    without_type = _finding(
        "SNYK-JAVA-COMFASTERXMLJACKSONCORE-1048302",
        "jackson-databind",
        "2.10.0",
        "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0",
    )
    outcome = _apply([with_type, without_type], "cyclonedx/bom-examples-vex.json")
    assert [s.finding.purl for s in outcome.suppressed] == [with_type.purl]
    assert "code_not_reachable" in outcome.suppressed[0].reason


def test_bom_links_into_other_boms_resolve_only_through_the_full_link() -> None:
    name = "cyclonedx/use-case6-bomlink-multi.json"
    serial = json.loads(real_fixtures("vex", "cyclonedx", "use-case6-bom-2.json").read_bytes())[
        "serialNumber"
    ].removeprefix("urn:uuid:")
    finding = [_finding("CVE-2020-25649", "jackson-databind", "2.10.0", None)]
    assert (
        _apply(finding, name, digest=EXAMPLE_DIGEST, sbom_refs={"acme-product-2": IMAGE_PURL})
    ).suppressed == ()
    link = f"urn:cdx:{serial}/1#acme-product-2"
    outcome = _apply(finding, name, digest=EXAMPLE_DIGEST, sbom_refs={link: IMAGE_PURL})
    assert len(outcome.suppressed) == 1


def test_a_statement_without_affects_or_subject_is_never_applied() -> None:
    finding = [_finding("CVE-2020-25649", "jackson-databind", "2.10.0", None)]
    outcome = _apply(finding, "cyclonedx/use-case7-no-affects.json", digest=EXAMPLE_DIGEST)
    assert outcome.suppressed == ()
    assert outcome.notes == (
        "vex/cyclonedx/use-case7-no-affects.json: vulnerabilities[0] (CVE-2020-25649) names no "
        "affected component and the document has no metadata.component: it is never applied",
    )


def test_exploitable_with_version_ranges_never_suppresses() -> None:
    finding = [_finding("CVE-2021-44228", "log4j-core", "2.14.1", None)]
    name = "cyclonedx/cisa-case4-version-ranges.json"
    outcome = _apply(finding, name, digest=EXAMPLE_DIGEST, sbom_refs={"product-ABC": IMAGE_PURL})
    assert outcome.suppressed == ()
    assert len(outcome.kept) == 1


def test_use_case_12_mixes_not_affected_and_exploitable_for_one_product() -> None:
    name = "cyclonedx/use-case12-mitigating-control.json"
    ids = ["CVE-2020-25649", "CVE-2020-35491", "CVE-2020-14195"]
    findings = [_finding(i, "jackson-databind", "2.10.0", None) for i in ids]
    outcome = _apply(findings, name, digest=EXAMPLE_DIGEST, sbom_refs={"acme-product": IMAGE_PURL})
    assert [s.finding.id for s in outcome.suppressed] == ["CVE-2020-25649", "CVE-2020-14195"]
    assert "protected_by_mitigating_control" in outcome.suppressed[1].reason
    assert [f.id for f in outcome.kept] == ["CVE-2020-35491"]


def test_documents_combine_and_the_newest_statement_across_them_wins() -> None:
    # cisa-case1-affected and -fixed are both dated 2022-03-03 for product-DEF:
    # equally new and disagreeing, so the finding is kept.
    finding = [_finding("CVE-2021-44228", "log4j-core", "2.14.1", None)]
    documents = [
        _load("cyclonedx/cisa-case1-affected.json"),
        _load("cyclonedx/cisa-case1-fixed.json"),
    ]
    outcome = apply_vex(
        finding,
        documents,
        image_digest=EXAMPLE_DIGEST,
        image_reference=None,
        sbom_refs={"product-DEF": IMAGE_PURL},
    )
    assert outcome.suppressed == ()
    assert outcome.annotations[0].statement.status is VexStatus.AFFECTED
