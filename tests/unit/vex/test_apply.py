"""``apply_vex``: which statements apply to which findings, which one decides, and why."""

from __future__ import annotations

from typing import Any

import pytest

from gate.oci.digest import Digest
from gate.oci.reference import ImageReference
from gate.sbom.component import Component, Sbom
from gate.scanners.finding import Finding, Severity
from gate.vex.apply import VexOutcome, apply_vex, sbom_ref_purls
from gate.vex.cyclonedx_vex import parse_cyclonedx_vex
from gate.vex.model import VexDocument, VexStatus
from gate.vex.openvex import parse_openvex

IMAGE = Digest.parse("sha256:" + "12" * 32)
OTHER = Digest.parse("sha256:" + "34" * 32)
PLATFORM = Digest.parse("sha256:" + "56" * 32)
REFERENCE = ImageReference.parse("docker.io/library/alpine:3.18")
OCI = f"pkg:oci/alpine@{str(IMAGE).replace(':', '%3A')}"

LIBSSL = "pkg:apk/alpine/libssl3@3.0.8-r3?arch=x86_64&distro=alpine-3.18.0"
LIBCRYPTO = "pkg:apk/alpine/libcrypto3@3.0.8-r3?arch=x86_64&distro=alpine-3.18.0"
OPENSSL = "pkg:apk/alpine/openssl@3.0.8-r3?arch=x86_64&distro=alpine-3.18.0"


def finding(
    package: str = "libssl3",
    purl: str | None = LIBSSL,
    *,
    vuln_id: str = "CVE-2023-0001",
    version: str = "3.0.8-r3",
    aliases: tuple[str, ...] = (),
) -> Finding:
    return Finding(
        id=vuln_id,
        package_name=package,
        package_version=version,
        severity=Severity.HIGH,
        aliases=aliases,
        purl=purl,
    )


def openvex(
    *statements: dict[str, Any], timestamp: str | None = "2024-01-01T00:00:00Z"
) -> VexDocument:
    doc: dict[str, Any] = {
        "@context": "https://openvex.dev/ns/v0.2.0",
        "statements": list(statements),
    }
    if timestamp is not None:
        doc["timestamp"] = timestamp
    return parse_openvex(doc, "vex.json")


def stmt(products: list[Any], status: str = "not_affected", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "vulnerability": {"name": "CVE-2023-0001"},
        "products": products,
        "status": status,
    }
    if status == "not_affected":
        base["justification"] = "vulnerable_code_not_present"
    base.update(fields)
    return base


def image_product(*subcomponents: str, product: str = OCI) -> dict[str, Any]:
    out: dict[str, Any] = {"@id": product}
    if subcomponents:
        out["subcomponents"] = [{"@id": s} for s in subcomponents]
    return out


def run(
    findings: list[Finding],
    *documents: VexDocument,
    digest: Digest = IMAGE,
    reference: ImageReference | None = REFERENCE,
    **kwargs: Any,
) -> VexOutcome:
    return apply_vex(findings, documents, image_digest=digest, image_reference=reference, **kwargs)


def suppressed_packages(outcome: VexOutcome) -> list[str]:
    return [s.finding.package_name for s in outcome.suppressed]


# --- product = the image --------------------------------------------------------------------


def test_an_image_level_statement_suppresses_the_cve_in_every_package_of_that_image() -> None:
    findings = [finding(), finding("openssl", OPENSSL), finding(vuln_id="CVE-2023-9999")]
    outcome = run(findings, openvex(stmt([image_product()])))
    assert suppressed_packages(outcome) == ["libssl3", "openssl"]
    assert [f.id for f in outcome.kept] == ["CVE-2023-9999"]


def test_an_image_level_statement_for_another_digest_suppresses_nothing() -> None:
    outcome = run([finding()], openvex(stmt([image_product()])), digest=OTHER)
    assert outcome.suppressed == ()
    assert outcome.kept == (finding(),)


def test_the_platform_digest_is_the_image_too() -> None:
    product = {"@id": f"pkg:oci/alpine@{PLATFORM}"}
    outcome = run([finding()], openvex(stmt([product])), digest=OTHER, platform_digest=PLATFORM)
    assert suppressed_packages(outcome) == ["libssl3"]


def test_a_bare_digest_hashes_or_a_pinned_reference_name_the_image() -> None:
    for product in (
        str(IMAGE),
        {"@id": "https://example.com/img", "hashes": {"sha-256": IMAGE.hex}},
        f"registry.example.com/other/name@{IMAGE}",
    ):
        outcome = run([finding()], openvex(stmt([product])))
        assert suppressed_packages(outcome) == ["libssl3"], product


# --- subcomponents ----------------------------------------------------------------------------


def test_subcomponents_limit_the_statement_to_those_packages() -> None:
    # go-vex would also match openssl here (no subcomponent passed); the gate must not.
    findings = [finding(), finding("libcrypto3", LIBCRYPTO), finding("openssl", OPENSSL)]
    doc = openvex(
        stmt([image_product("pkg:apk/alpine/libssl3@3.0.8-r3", "pkg:apk/alpine/libcrypto3")])
    )
    outcome = run(findings, doc)
    assert suppressed_packages(outcome) == ["libssl3", "libcrypto3"]
    assert [f.package_name for f in outcome.kept] == ["openssl"]


def test_subcomponent_purls_follow_the_community_matching_rule() -> None:
    bash = "pkg:deb/debian/bash@5.0-4?arch=amd64&distro=debian-10"
    cases = {
        "pkg:deb/debian/bash": True,  # no version: every version
        "pkg:deb/debian/bash@5.0-4": True,  # extra qualifiers of the finding are ignored
        "pkg:deb/debian/bash@5.0-4?arch=amd64": True,
        "pkg:deb/debian/bash?arch=arm64": False,  # a VEX qualifier must be present and equal
        "pkg:deb/debian/bash@5.0-5": False,
        "pkg:deb/ubuntu/bash@5.0-4": False,
        "pkg:rpm/debian/bash@5.0-4": False,
        "pkg:deb/debian/bash%2Dx@5.0-4": False,
    }
    for sub, expected in cases.items():
        outcome = run([finding("bash", bash, version="5.0-4")], openvex(stmt([image_product(sub)])))
        assert bool(outcome.suppressed) is expected, sub


def test_a_non_purl_subcomponent_must_equal_the_findings_purl_exactly() -> None:
    outcome = run([finding()], openvex(stmt([image_product(LIBSSL)])))
    assert suppressed_packages(outcome) == ["libssl3"]
    outcome = run([finding()], openvex(stmt([image_product("libssl3")])))
    assert outcome.suppressed == ()


def test_a_finding_without_purl_is_compared_by_name_and_version() -> None:
    doc = openvex(stmt([image_product("pkg:apk/alpine/libssl3@3.0.8-r3")]))
    assert suppressed_packages(run([finding(purl=None)], doc)) == ["libssl3"]
    assert run([finding(purl=None, version="3.0.9-r0")], doc).suppressed == ()
    assert run([finding("libcrypto3", purl=None)], doc).suppressed == ()


def test_a_finding_without_version_cannot_be_shown_to_match_a_versioned_purl() -> None:
    doc = openvex(stmt([image_product("pkg:apk/alpine/libssl3@3.0.8-r3")]))
    outcome = run([finding(purl=None, version="")], doc)
    assert outcome.suppressed == ()
    assert len(outcome.kept) == 1
    (note,) = outcome.notes
    assert note.startswith("vex.json: statements[0]: not_affected for CVE-2023-0001 could not be")


# --- product = a package ----------------------------------------------------------------------


def test_a_package_as_the_product_applies_to_that_package_directly() -> None:
    doc = openvex(stmt(["pkg:apk/alpine/libcrypto3@3.0.8-r3"], status="fixed"))
    outcome = run([finding(), finding("libcrypto3", LIBCRYPTO)], doc, reference=None)
    assert suppressed_packages(outcome) == ["libcrypto3"]


def test_a_package_product_with_subcomponents_is_not_taken_for_the_image() -> None:
    # Trivy applies this when the product is an ancestor in its dependency graph;
    # findings carry no graph, so nothing shows the product is in this image at all.
    doc = openvex(
        stmt(
            [
                {
                    "@id": "pkg:golang/github.com/testdata/testdata",
                    "subcomponents": [
                        {"@id": "pkg:golang/github.com/open-policy-agent/opa@v0.35.0"}
                    ],
                }
            ]
        )
    )
    opa = finding(
        "github.com/open-policy-agent/opa",
        "pkg:golang/github.com/open-policy-agent/opa@v0.35.0",
        version="v0.35.0",
    )
    assert run([opa], doc).suppressed == ()


def test_a_statement_without_products_never_applies() -> None:
    outcome = run([finding()], openvex(stmt([])))
    assert outcome.suppressed == ()
    assert outcome.notes == ("vex.json: statements[0] names no product: it is never applied",)


# --- vulnerability ids ------------------------------------------------------------------------


def test_ids_and_aliases_match_both_ways_ignoring_case() -> None:
    by_alias = openvex(
        stmt(
            [image_product()],
            vulnerability={"name": "GHSA-aaaa-bbbb-cccc", "aliases": ["cve-2023-0001"]},
        )
    )
    assert suppressed_packages(run([finding()], by_alias)) == ["libssl3"]
    findings_alias = openvex(stmt([image_product()], vulnerability="GHSA-AAAA-BBBB-CCCC"))
    outcome = run([finding(aliases=("GHSA-aaaa-bbbb-cccc",))], findings_alias)
    assert suppressed_packages(outcome) == ["libssl3"]


# --- which statement decides ------------------------------------------------------------------


def _two(first: dict[str, Any], second: dict[str, Any]) -> VexOutcome:
    return run([finding()], openvex(first, second))


def test_the_newest_statement_decides_whatever_its_place_in_the_document() -> None:
    older_affected = stmt([image_product()], "affected", timestamp="2024-01-01T00:00:00Z")
    newer_fixed = stmt([image_product()], "fixed", timestamp="2024-02-01T00:00:00Z")
    for order in ((older_affected, newer_fixed), (newer_fixed, older_affected)):
        outcome = _two(*order)
        assert [s.statement.status for s in outcome.suppressed] == [VexStatus.FIXED]


def test_a_newer_affected_statement_keeps_the_finding_and_annotates_it() -> None:
    outcome = _two(
        stmt([image_product()], timestamp="2024-01-01T00:00:00Z"),
        stmt(
            [image_product()],
            "affected",
            timestamp="2024-03-01T00:00:00Z",
            action_statement="upgrade",
        ),
    )
    assert outcome.suppressed == ()
    (annotation,) = outcome.annotations
    assert annotation.statement.status is VexStatus.AFFECTED
    assert "action: upgrade" in annotation.reason


def test_a_statement_time_beats_the_document_time_it_would_inherit() -> None:
    doc = openvex(
        stmt([image_product()], "under_investigation", timestamp="2024-06-01T00:00:00Z"),
        stmt([image_product()]),  # inherits 2024-01-01
    )
    outcome = run([finding()], doc)
    assert outcome.suppressed == ()
    assert outcome.annotations[0].statement.status is VexStatus.UNDER_INVESTIGATION


def test_undated_statements_are_older_than_dated_ones() -> None:
    doc = openvex(
        stmt([image_product()], "affected", timestamp="2024-01-01T00:00:00Z"),
        stmt([image_product()]),
        timestamp=None,
    )
    assert run([finding()], doc).suppressed == ()


def test_equally_new_statements_that_disagree_keep_the_finding() -> None:
    outcome = _two(stmt([image_product()]), stmt([image_product()], "affected"))
    assert outcome.suppressed == ()
    outcome = _two(stmt([image_product()]), stmt([image_product()], "fixed"))
    assert [s.statement.status for s in outcome.suppressed] == [VexStatus.FIXED]


def test_newest_wins_across_documents() -> None:
    old = openvex(stmt([image_product()]), timestamp="2023-01-01T00:00:00Z")
    new = openvex(stmt([image_product()], "affected"), timestamp="2024-01-01T00:00:00Z")
    assert run([finding()], old, new).suppressed == ()
    assert run([finding()], new, old).suppressed == ()


@pytest.mark.parametrize(
    ("status", "suppresses"),
    [("not_affected", True), ("fixed", True), ("affected", False), ("under_investigation", False)],
)
def test_only_not_affected_and_fixed_suppress(status: str, suppresses: bool) -> None:
    outcome = run([finding()], openvex(stmt([image_product()], status)))
    assert bool(outcome.suppressed) is suppresses
    assert len(outcome.kept) == (0 if suppresses else 1)


def test_the_reason_names_the_statement_its_status_and_its_justification() -> None:
    outcome = run(
        [finding()],
        openvex(stmt([image_product()], impact_statement="removed before packaging")),
    )
    assert outcome.suppressed[0].reason == (
        "VEX vex.json: statements[0] says CVE-2023-0001 is not_affected in libssl3 3.0.8-r3 "
        "(justification vulnerable_code_not_present; impact: removed before packaging), "
        "as of 2024-01-01T00:00:00+00:00"
    )


# --- image names without digest ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "reference", "expected"),
    [
        ("pkg:oci/alpine", "alpine:3.18", True),
        ("pkg:oci/alpine", "ghcr.io/someone/alpine:1", True),  # no repository_url: any registry
        ("pkg:oci/debian", "alpine:3.18", False),
        ("pkg:oci/alpine?repository_url=index.docker.io/library", "alpine:3.18", True),
        ("pkg:oci/alpine?repository_url=docker.io/library/alpine", "alpine:3.18", True),
        ("pkg:oci/alpine?repository_url=registry-1.docker.io/alpine", "alpine:3.18", True),
        ("pkg:oci/alpine?repository_url=ghcr.io/library", "alpine:3.18", False),
        ("pkg:oci/alpine?repository_url=index.docker.io/other", "alpine:3.18", False),
        ("pkg:oci/alpine?tag=3.18", "alpine:3.18", True),
        ("pkg:oci/alpine?tag=3.19", "alpine:3.18", False),
        ("docker.io/library/alpine:3.18", "alpine:3.18", True),
        ("docker.io/library/alpine:3.19", "alpine:3.18", False),
        ("index.docker.io/library/alpine", "alpine:3.18", True),  # no tag: any tag
        ("ghcr.io/org/alpine", "alpine:3.18", False),
        (f"pkg:oci/alpine@{OTHER}", "alpine:3.18", False),  # a digest decides, not the name
    ],
)
def test_a_product_without_digest_is_matched_by_image_name(
    product: str, reference: str, expected: bool
) -> None:
    outcome = run(
        [finding()],
        openvex(stmt([product])),
        reference=ImageReference.parse(reference),
    )
    assert bool(outcome.suppressed) is expected


def test_without_a_reference_only_digests_can_name_the_image() -> None:
    assert run([finding()], openvex(stmt(["pkg:oci/alpine"])), reference=None).suppressed == ()
    assert run([finding()], openvex(stmt([OCI])), reference=None).suppressed != ()


# --- CycloneDX references ---------------------------------------------------------------------


def cdx(*vulnerabilities: dict[str, Any], **top: Any) -> VexDocument:
    doc: dict[str, Any] = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "urn:uuid:11111111-1111-1111-1111-111111111111",
        "version": 1,
        "vulnerabilities": list(vulnerabilities),
    }
    doc.update(top)
    return parse_cyclonedx_vex(doc, "vex.cdx.json")


def cdx_vuln(ref: str, state: str = "not_affected", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "CVE-2023-0001",
        "analysis": {"state": state, "justification": "code_not_present", "detail": "gone"},
        "affects": [{"ref": ref}],
    }
    base.update(fields)
    return base


def test_a_bom_ref_resolved_through_the_images_sbom_can_name_the_image() -> None:
    doc = cdx(cdx_vuln("product-ABC"))
    assert run([finding()], doc).suppressed == ()
    outcome = run([finding()], doc, sbom_refs={"product-ABC": OCI})
    assert suppressed_packages(outcome) == ["libssl3"]
    assert "gone" in outcome.suppressed[0].reason


def test_a_bom_ref_resolved_to_a_package_names_that_package() -> None:
    doc = cdx(cdx_vuln("uuid-1"))
    outcome = run([finding(), finding("openssl", OPENSSL)], doc, sbom_refs={"uuid-1": OPENSSL})
    assert suppressed_packages(outcome) == ["openssl"]


def test_a_bom_link_resolves_only_through_its_full_link() -> None:
    link = "urn:cdx:22222222-2222-2222-2222-222222222222/1#uuid-1"
    doc = cdx(cdx_vuln(link))
    assert run([finding()], doc, sbom_refs={"uuid-1": LIBSSL}).suppressed == ()
    assert run([finding()], doc, sbom_refs={link: LIBSSL}).suppressed != ()


def test_a_bom_link_whose_fragment_is_a_purl_names_that_package() -> None:
    doc = cdx(
        cdx_vuln(
            "urn:cdx:22222222-2222-2222-2222-222222222222/1#"
            "pkg:apk/alpine/libssl3@3.0.8-r3?arch=x86_64"
        )
    )
    assert suppressed_packages(run([finding(), finding("openssl", OPENSSL)], doc)) == ["libssl3"]


def test_affected_versions_scope_a_cyclonedx_reference() -> None:
    def scoped(versions: list[dict[str, str]]) -> VexDocument:
        return cdx(cdx_vuln("x", affects=[{"ref": "pkg:apk/alpine/libssl3", "versions": versions}]))

    listed = scoped([{"version": "3.0.8-r3", "status": "affected"}])
    assert suppressed_packages(run([finding()], listed)) == ["libssl3"]
    newer = finding(version="3.1.0-r0", purl=LIBSSL.replace("3.0.8-r3", "3.1.0-r0"))
    assert run([newer], listed).suppressed == ()
    ranged = scoped([{"range": "vers:apk/>=3.0.0|<3.1.0", "status": "affected"}])
    outcome = run([finding()], ranged)
    assert outcome.suppressed == ()
    assert "could not be shown to apply to 1 finding" in outcome.notes[0]


def test_an_unsure_statement_that_keeps_the_finding_still_overrides_an_older_suppression() -> None:
    older = cdx(cdx_vuln("pkg:apk/alpine/libssl3"), metadata={"timestamp": "2023-01-01T00:00:00Z"})
    newer = cdx(
        cdx_vuln(
            "x",
            "exploitable",
            affects=[{"ref": "pkg:apk/alpine/libssl3", "versions": [{"range": "vers:apk/<4"}]}],
        ),
        metadata={"timestamp": "2024-01-01T00:00:00Z"},
    )
    outcome = run([finding()], older, newer)
    assert outcome.suppressed == ()
    assert outcome.annotations[0].statement.status is VexStatus.AFFECTED


def test_a_product_level_statement_with_versions_cannot_be_shown_to_name_the_image() -> None:
    doc = cdx(cdx_vuln("x", affects=[{"ref": "product-ABC", "versions": [{"version": "2.4"}]}]))
    assert run([finding()], doc, sbom_refs={"product-ABC": OCI}).suppressed == ()


def test_kept_findings_stay_in_input_order() -> None:
    findings = [finding(vuln_id=f"CVE-2023-{n:04d}") for n in range(5, 0, -1)]
    outcome = run(findings, openvex(stmt([image_product()], vulnerability="CVE-2023-0003")))
    assert [f.id for f in outcome.kept] == [
        "CVE-2023-0005",
        "CVE-2023-0004",
        "CVE-2023-0002",
        "CVE-2023-0001",
    ]


def test_sbom_ref_purls_drops_refs_that_name_different_purls() -> None:
    def sbom(*components: Component) -> Sbom:
        return Sbom(source="s", format="cyclonedx", spec_version="1.5", components=components)

    refs = sbom_ref_purls(
        [
            sbom(
                Component("a", purl="pkg:npm/a@1", bom_ref="r1"),
                Component("b", purl="pkg:npm/b@1", bom_ref="r2"),
                Component("c", bom_ref="r3"),
            ),
            sbom(Component("b", purl="pkg:npm/b@2", bom_ref="r2")),
        ]
    )
    assert refs == {"r1": "pkg:npm/a@1"}
